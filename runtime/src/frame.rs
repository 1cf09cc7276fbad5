//! The state of one execution frame, shared by both tiers.
//!
//! A [`Frame`] owns the linear memory, the operand stack, the gas counter and the output, and implements
//! every operation that is not simple enough to inline: memory expansion, copies, hashing, data buffers, host
//! calls and halting. The interpreter calls these methods directly; native code reaches them through the
//! helper table (`crate::compiled::helpers`). One implementation means the two tiers cannot disagree on any
//! of them.
//!
//! The frame starts with a [`VmCtx`] (`repr(C)`, first field), which is what native code sees: the gas
//! counter and the memory and stack pointers live there and are kept in sync by every method here.

use crate::host::{Address, Host};
use crate::limits::{Limits, STACK_LIMIT};
use crate::memory::LinearMemory;
use crate::result::{ExecResult, Log, Status};
use crate::schedule::{calls, HostCosts};
use crate::vm::{CallInputs, CreateInputs, FrameOutcome, Vm};
use ruint::aliases::U256;
use std::collections::HashMap;
use std::ops::Range;
use zvm_compiler::abi::{self, Helpers, TableView, VmCtx, Word};
use zvm_ir::{
    semantics, DataSrc, EnvField, HaltKind, HashAlg, HostFn, MemoryPlan, Module, Signature, TrapCode, WASM_PAGE,
};

/// The message a frame executes: who calls which account with what.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub caller: Address,
    pub address: Address,
    pub value: U256,
    pub input: Vec<u8>,
    pub gas_limit: u64,
    /// Read-only context: state-changing host calls trap `static_violation`.
    pub is_static: bool,
}

/// Why a frame stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Halt(HaltKind),
    OutOfGas,
    Trap(TrapCode),
}

impl Exit {
    /// The status code native code uses for this exit.
    pub fn to_status(self) -> u32 {
        match self {
            Exit::Halt(HaltKind::Return) => abi::STATUS_RETURN,
            Exit::Halt(HaltKind::Revert) => abi::STATUS_REVERT,
            Exit::OutOfGas => abi::STATUS_OUT_OF_GAS,
            Exit::Trap(code) => abi::STATUS_TRAP_BASE + code.code(),
        }
    }

    /// The exit for a stopping status; `None` for [`abi::STATUS_OK`] or an unknown code.
    pub fn from_status(status: u32) -> Option<Exit> {
        match status {
            abi::STATUS_RETURN => Some(Exit::Halt(HaltKind::Return)),
            abi::STATUS_REVERT => Some(Exit::Halt(HaltKind::Revert)),
            abi::STATUS_OUT_OF_GAS => Some(Exit::OutOfGas),
            s if s > abi::STATUS_TRAP_BASE => TrapCode::from_code(s - abi::STATUS_TRAP_BASE).map(Exit::Trap),
            _ => None,
        }
    }
}

/// Refunds are capped at `gas_used / MAX_REFUND_QUOTIENT` (EIP-3529).
pub const MAX_REFUND_QUOTIENT: u64 = 5;
/// Bytes of room a frame's memory takes when it first grows (see `Frame::mem_expand`).
const MIN_MEMORY_CAPACITY: usize = 4096;

/// Result of a frame operation: `Err` stops execution.
pub type FrameResult<T> = Result<T, Exit>;

/// Gas cost of EVM-style memory of `words` 32-byte words: `3*words + words^2/512`.
pub fn memory_cost(words: u64) -> u64 {
    semantics::memory_cost(words)
}

/// The part of a module's execution state that can outlive one frame: linear memory, globals and which
/// data segments were dropped. A contract call starts from a fresh one ([`Instance::new`]); a WebAssembly
/// module instantiated by a script or an embedder keeps one across invocations
/// (`crate::executor::Contract::invoke`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Instance {
    /// Linear memory.
    pub memory: LinearMemory,
    /// One slot per module global (`i32`/`f32` in the low 32 bits).
    pub globals: Vec<u64>,
    /// `dropped[i]`: data segment `i` was dropped (reads as empty).
    pub dropped: Vec<bool>,
    /// Tables of references (`i64`: 0 null, `f + 1` function `f`).
    pub tables: Vec<Vec<u64>>,
    /// `dropped_elems[i]`: element segment `i` was dropped (reads as empty).
    pub dropped_elems: Vec<bool>,
}

impl Instance {
    /// The state `module` starts in: `memory.min_pages` zeroed pages, zero globals, tables of `min` null
    /// elements, every segment present. Traps `memory_limit` if the initial memory or tables are larger
    /// than `limits` allow.
    pub fn new(module: &Module, limits: &Limits) -> Result<Instance, TrapCode> {
        let memory = Self::fresh_memory(&module.memory, limits)?;
        Self::check_table_elements(module.tables.iter().map(|t| t.min), limits)?;
        Ok(Instance {
            memory,
            globals: vec![0; module.globals.len()],
            dropped: vec![false; module.data.len()],
            tables: module.tables.iter().map(|t| vec![0; t.min as usize]).collect(),
            dropped_elems: vec![false; module.elems.len()],
        })
    }
}

/// Runs calls of function references that belong to other module instances: cross-module linking of
/// WebAssembly instances in one store (`crate::wasm::Store`).
///
/// The running instance's state is handed over for the duration of the call and handed back after it:
/// the other instance may share its memory, tables or globals, or call back into it, and execution is
/// single-threaded, so exactly one frame holds any piece of instance state at any time.
pub trait Linker {
    /// Performs `call` on behalf of the instance whose state is `state`.
    fn call(&self, call: ForeignCall<'_>, state: Instance) -> (Instance, FrameResult<()>);
}

/// A call of a function of another instance.
pub struct ForeignCall<'c> {
    /// Tag of the calling instance.
    pub caller: u32,
    /// The callee (a reference tagged with its instance's tag, see `zvm_ir::Op::RefFunc`).
    pub target: u64,
    /// The signature the caller expects; traps `indirect_call_type` unless the callee has it.
    pub sig: &'c Signature,
    /// Parameters in, results out (`max(params, results)` slots).
    pub values: &'c mut [u64],
    /// Gas left, before and after the call.
    pub gas_left: &'c mut u64,
    /// The call depth the callee runs at (the caller's call already counted).
    pub call_depth: u64,
    pub vm: &'c Vm,
    pub host: &'c mut dyn Host,
    pub msg: &'c Message,
}

/// How an invocation is linked to other instances: the linker, the tag of the instance invoked, and the
/// call depth the invocation starts at.
#[derive(Clone, Copy)]
pub struct Linkage<'a> {
    pub linker: &'a dyn Linker,
    pub tag: u32,
    pub call_depth: u64,
}

impl Instance {
    /// The zeroed initial memory of `plan` (a guarded reservation if the plan is guarded); traps
    /// `memory_limit` if it is larger than `limits` allow, or if the system gives no address space for
    /// the reservation.
    pub fn fresh_memory(plan: &MemoryPlan, limits: &Limits) -> Result<LinearMemory, TrapCode> {
        let bytes = plan.min_pages.checked_mul(WASM_PAGE).filter(|&b| b <= limits.max_memory);
        let bytes = usize::try_from(bytes.ok_or(TrapCode::MemoryLimit)?).map_err(|_| TrapCode::MemoryLimit)?;
        if plan.guarded {
            LinearMemory::reserved(bytes).map_err(|_| TrapCode::MemoryLimit)
        } else {
            Ok(vec![0; bytes].into())
        }
    }

    /// Traps `memory_limit` if new tables of `sizes` elements hold more than `limits` allow.
    pub fn check_table_elements(sizes: impl Iterator<Item = u64>, limits: &Limits) -> Result<(), TrapCode> {
        match sizes.fold(0, u64::saturating_add) > limits.max_table_elements {
            true => Err(TrapCode::MemoryLimit),
            false => Ok(()),
        }
    }
}

/// Per function and per type of a module, a number that is equal exactly when the signatures are equal, so
/// that `call_indirect`'s structural signature check is one integer compare. Computed once per program.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignatureIds {
    funcs: Vec<u32>,
    types: Vec<u32>,
}

impl SignatureIds {
    pub fn of(module: &Module) -> SignatureIds {
        let mut ids: HashMap<&Signature, u32> = HashMap::new();
        let mut id = |sig| {
            let next = ids.len() as u32;
            *ids.entry(sig).or_insert(next)
        };
        let types = module.types.iter().map(&mut id).collect();
        let funcs = module.functions.iter().map(|f| id(&f.sig)).collect();
        SignatureIds { funcs, types }
    }

    /// Whether function `func` has signature type `ty` (false if either does not exist).
    fn is_type(&self, func: u32, ty: u32) -> bool {
        matches!((self.funcs.get(func as usize), self.types.get(ty as usize)), (Some(f), Some(t)) if f == t)
    }
}

/// One execution frame. `repr(C)` with the native context first, so that a `*mut VmCtx` handed to native
/// code can be turned back into the frame by the helpers.
#[repr(C)]
pub struct Frame<'a> {
    /// The part of the frame native code reads and writes directly.
    pub ctx: VmCtx,
    memory: LinearMemory,
    globals: Vec<u64>,
    /// The module whose instance is attached (data and element segments, memory and table limits,
    /// signatures for `call_indirect`).
    module: Option<&'a Module>,
    /// The attached module's signature ids (`call_indirect`).
    signatures: Option<&'a SignatureIds>,
    /// Which data segments were dropped.
    dropped: Vec<bool>,
    tables: Vec<Vec<u64>>,
    /// What `ctx.tables` points to: a view of each of `tables` (see [`Frame::sync_tables`]).
    table_views: Vec<TableView>,
    dropped_elems: Vec<bool>,
    /// Calls into other instances (none outside a linking store).
    linker: Option<&'a dyn Linker>,
    /// The reference the last `call_indirect_target` found to belong to another instance.
    foreign: u64,
    stack: Box<[Word]>,
    /// The message being executed.
    pub msg: &'a Message,
    /// The code being executed (for `data.* code`).
    pub code: &'a [u8],
    /// The host: state and environment.
    pub host: &'a mut dyn Host,
    /// The machine that runs the calls and creates this frame makes.
    pub vm: &'a Vm,
    /// Resource limits (the machine's).
    pub limits: &'a Limits,
    /// Message-call depth of this frame (the transaction's frame is 0).
    pub depth: u32,
    /// The gas schedule of host operations for the code's format.
    pub costs: &'a dyn HostCosts,
    /// Output of `halt`.
    pub output: Vec<u8>,
    /// Logs emitted so far.
    pub logs: Vec<Log>,
    /// Output of the last call made by this frame.
    pub return_data: Vec<u8>,
    /// Change of the refund counter on success (before the cap), from storage writes and successful
    /// calls; negative when this frame undid refunds of earlier frames.
    pub refund: i64,
}

impl Drop for Frame<'_> {
    fn drop(&mut self) {
        self.vm.return_stack(std::mem::take(&mut self.stack));
    }
}

impl<'a> Frame<'a> {
    /// A fresh frame with empty memory and stack and `msg.gas_limit` gas, at call depth 0 (see
    /// [`Frame::at_depth`]). Calls and creates it makes run on `vm`, within `vm`'s limits.
    pub fn new(
        msg: &'a Message,
        code: &'a [u8],
        host: &'a mut dyn Host,
        vm: &'a Vm,
        costs: &'a dyn HostCosts,
        helpers: &'static Helpers,
    ) -> Self {
        let limits = &vm.limits;
        let mut stack = vm.take_stack();
        let ctx = VmCtx {
            gas_left: msg.gas_limit,
            mem_base: std::ptr::NonNull::dangling().as_ptr(),
            mem_len: 0,
            stack_base: stack.as_mut_ptr(),
            stack_len: 0,
            stack_cap: STACK_LIMIT as u64,
            call_depth: 0,
            max_call_depth: limits.max_call_depth,
            globals: std::ptr::NonNull::dangling().as_ptr(),
            helpers,
            instance_tag: 0,
            tables: std::ptr::null(),
        };
        Self {
            ctx,
            memory: LinearMemory::default(),
            globals: Vec::new(),
            module: None,
            signatures: None,
            dropped: Vec::new(),
            tables: Vec::new(),
            table_views: Vec::new(),
            dropped_elems: Vec::new(),
            linker: None,
            foreign: 0,
            stack,
            msg,
            code,
            host,
            vm,
            limits,
            depth: 0,
            costs,
            output: Vec::new(),
            logs: Vec::new(),
            return_data: Vec::new(),
            refund: 0,
        }
    }

    /// The frame at message-call depth `depth`.
    pub fn at_depth(mut self, depth: u32) -> Self {
        self.depth = depth;
        self
    }

    /// Runs the frame on `instance` of `module`: its memory, globals and dropped segments, and the module's
    /// data segments, memory maximum and signatures (`signatures`, computed once per program for
    /// `call_indirect`). [`Frame::detach`] gives the instance back.
    pub fn attach(&mut self, module: &'a Module, signatures: &'a SignatureIds, instance: Instance) {
        self.memory = instance.memory;
        self.globals = instance.globals;
        self.dropped = instance.dropped;
        self.tables = instance.tables;
        self.dropped_elems = instance.dropped_elems;
        self.module = Some(module);
        self.signatures = Some(signatures);
        self.sync_memory();
        self.sync_tables();
        self.ctx.globals = self.globals.as_mut_ptr();
    }

    /// Links the frame's instance to others (see [`Linker`]).
    pub fn link(&mut self, linkage: Linkage<'a>) {
        self.linker = Some(linkage.linker);
        self.ctx.instance_tag = u64::from(linkage.tag);
        self.ctx.call_depth = linkage.call_depth;
    }

    /// Takes the instance state back out of the frame (leaving it empty).
    pub fn detach(&mut self) -> Instance {
        let instance = Instance {
            memory: std::mem::take(&mut self.memory),
            globals: std::mem::take(&mut self.globals),
            dropped: std::mem::take(&mut self.dropped),
            tables: std::mem::take(&mut self.tables),
            dropped_elems: std::mem::take(&mut self.dropped_elems),
        };
        self.sync_memory();
        self.sync_tables();
        self.ctx.globals = self.globals.as_mut_ptr();
        instance
    }

    /// Points `ctx.tables` at views of the current tables (after they were replaced or resized). Null
    /// unless the frame holds exactly the attached module's tables, so native code, which indexes the
    /// views by the module's table indices, never reads past them.
    fn sync_tables(&mut self) {
        self.table_views.clear();
        self.table_views.extend(self.tables.iter().map(|t| TableView { base: t.as_ptr(), len: t.len() as u64 }));
        let complete = self.module.is_some_and(|m| m.tables.len() == self.tables.len()) && !self.tables.is_empty();
        self.ctx.tables = if complete { self.table_views.as_ptr() } else { std::ptr::null() };
    }

    /// The module's globals (`global.get`/`global.set`; native code reaches them through `ctx.globals`).
    pub fn globals_mut(&mut self) -> &mut [u64] {
        &mut self.globals
    }

    /// Recovers the frame from the context pointer native code was given.
    ///
    /// # Safety
    /// `ctx` must be the `ctx` field of a live `Frame` that nothing else borrows for `'b`.
    pub unsafe fn from_ctx<'b>(ctx: *mut VmCtx) -> &'b mut Frame<'a> {
        // SAFETY: `Frame` is `repr(C)` with `ctx` first, so the pointers coincide; the caller guarantees
        // the frame is live and unaliased.
        unsafe { &mut *ctx.cast::<Frame<'a>>() }
    }

    // ---- gas -------------------------------------------------------------------------------------------

    /// Gas left.
    pub fn gas_left(&self) -> u64 {
        self.ctx.gas_left
    }

    /// Charges `amount` gas, or stops with out-of-gas if less is left.
    pub fn charge(&mut self, amount: u64) -> FrameResult<()> {
        match self.ctx.gas_left.checked_sub(amount) {
            Some(left) => {
                self.ctx.gas_left = left;
                Ok(())
            }
            None => Err(Exit::OutOfGas),
        }
    }

    // ---- memory ----------------------------------------------------------------------------------------

    /// The linear memory.
    pub fn memory(&self) -> &[u8] {
        &self.memory
    }

    /// The linear memory, writable.
    pub fn memory_mut(&mut self) -> &mut [u8] {
        &mut self.memory
    }

    /// The base of the memory's guarded reservation, for compiled code that accesses it without bounds
    /// checks (`None`: the memory is a vector). A `host_error` trap if the attached module's memory plan is
    /// guarded and the memory is not: its compiled code must not run on it.
    pub fn guarded_memory(&self) -> FrameResult<Option<*const u8>> {
        match (self.memory.is_reserved(), self.module.is_some_and(|m| m.memory.guarded)) {
            (true, _) => Ok(Some(self.memory.as_ptr())),
            (false, false) => Ok(None),
            (false, true) => Err(Exit::Trap(TrapCode::HostError)),
        }
    }

    fn sync_memory(&mut self) {
        self.ctx.mem_base = self.memory.as_mut_ptr();
        self.ctx.mem_len = self.memory.len() as u64;
    }

    /// `mem.expand offset, len`: see [`zvm_ir::Op::MemExpand`].
    pub fn mem_expand(&mut self, offset: U256, len: U256) -> FrameResult<()> {
        let saturated = |w: U256| u64::try_from(w).unwrap_or(u64::MAX);
        self.mem_expand_u64(saturated(offset), saturated(len))
    }

    /// [`Frame::mem_expand`] with `offset` and `len` saturated to 64 bits. Any end past 2^64 costs more gas
    /// than can exist; so does an end of `u64::MAX` (which a saturated length from offset 0 gives), and it
    /// is out of gas outright so that saturation can never turn into a different outcome.
    pub fn mem_expand_u64(&mut self, offset: u64, len: u64) -> FrameResult<()> {
        if len == 0 {
            return Ok(());
        }
        let end = offset.checked_add(len).filter(|&end| end != u64::MAX).ok_or(Exit::OutOfGas)?;
        let current = self.memory.len() as u64;
        if end <= current {
            return Ok(());
        }
        let new_words = end.div_ceil(32);
        let cost = memory_cost(new_words) - memory_cost(current / 32);
        self.charge(cost)?;
        let new_len = new_words * 32;
        if new_len > self.limits.max_memory {
            return Err(Exit::Trap(TrapCode::MemoryLimit));
        }
        // The first growth takes room for a few KiB at once: growing by doubling from a few words cost a
        // string of reallocations and copies in a typical call.
        if self.memory.capacity() < new_len as usize {
            self.memory.reserve((new_len as usize).max(MIN_MEMORY_CAPACITY) - self.memory.len());
        }
        if !self.memory.grow_to(new_len as usize) {
            return Err(Exit::Trap(TrapCode::MemoryLimit));
        }
        // The new length from the register, not read back from the vector that was just written: that
        // load (merged with the pointer's) waited on the store and was half the cost of a growth.
        self.ctx.mem_base = self.memory.as_mut_ptr();
        self.ctx.mem_len = new_len;
        Ok(())
    }

    /// The memory range `[offset, offset+len)` as indices, or a `heap_oob` trap. Empty ranges always succeed.
    pub fn mem_range(&self, offset: u64, len: u64) -> FrameResult<Range<usize>> {
        if len == 0 {
            return Ok(0..0);
        }
        range_within(offset, len, self.memory.len(), TrapCode::MemoryOutOfBounds)
    }

    /// `mem.grow pages`: see [`zvm_ir::Op::MemGrow`]. Returns the old size in pages, or `u64::MAX` when the
    /// new size would pass the module's maximum or the memory limit.
    pub fn mem_grow(&mut self, pages: u64) -> u64 {
        let old = self.memory.len() as u64 / WASM_PAGE;
        let Some(new) = old.checked_add(pages) else { return u64::MAX };
        let bytes = new.checked_mul(WASM_PAGE).filter(|&b| b <= self.limits.max_memory);
        let max_pages = self.module.and_then(|m| m.memory.max_pages);
        let within_max = max_pages.is_none_or(|max| new <= max);
        match bytes.and_then(|b| usize::try_from(b).ok()) {
            Some(bytes) if within_max && self.memory.grow_to(bytes) => {
                self.sync_memory();
                old
            }
            _ => u64::MAX,
        }
    }

    /// `[offset, offset+len)` as indices if it is inside memory, else a `heap_oob` trap, also when `len` is
    /// zero (WebAssembly's bulk memory rule).
    fn mem_range_strict(&self, offset: u64, len: u64) -> FrameResult<Range<usize>> {
        range_within(offset, len, self.memory.len(), TrapCode::MemoryOutOfBounds)
    }

    /// `mem.fill dst, byte, len`.
    pub fn mem_fill(&mut self, dst: u64, byte: u8, len: u64) -> FrameResult<()> {
        let range = self.mem_range_strict(dst, len)?;
        self.memory[range].fill(byte);
        Ok(())
    }

    /// `mem.init seg dst, src, len`: copies from data segment `seg` (empty once dropped).
    pub fn mem_init(&mut self, seg: u32, dst: u64, src: u64, len: u64) -> FrameResult<()> {
        let seg = seg as usize;
        let segments: &[Vec<u8>] = self.module.map_or(&[], |m| &m.data);
        let data: &[u8] = match segments.get(seg) {
            Some(d) if !self.dropped.get(seg).copied().unwrap_or(true) => d,
            Some(_) => &[],
            None => return Err(Exit::Trap(TrapCode::HostError)),
        };
        let src = range_within(src, len, data.len(), TrapCode::MemoryOutOfBounds)?;
        let range = self.mem_range_strict(dst, len)?;
        self.memory[range].copy_from_slice(&data[src]);
        Ok(())
    }

    /// `data.drop seg`.
    pub fn data_drop(&mut self, seg: u32) {
        if let Some(d) = self.dropped.get_mut(seg as usize) {
            *d = true;
        }
    }

    // ---- tables ----------------------------------------------------------------------------------------

    fn table(&self, t: u32) -> FrameResult<&Vec<u64>> {
        self.tables.get(t as usize).ok_or(Exit::Trap(TrapCode::HostError))
    }

    /// `[start, start+len)` as indices into a table of `size` elements, or `table_oob` (also for `len` 0).
    fn table_range(start: u64, len: u64, size: usize) -> FrameResult<Range<usize>> {
        range_within(start, len, size, TrapCode::TableOutOfBounds)
    }

    /// `table.get t index`.
    pub fn table_get(&self, t: u32, index: u64) -> FrameResult<u64> {
        let table = self.table(t)?;
        usize::try_from(index).ok().and_then(|i| table.get(i)).copied().ok_or(Exit::Trap(TrapCode::TableOutOfBounds))
    }

    /// `table.set t index, value`.
    pub fn table_set(&mut self, t: u32, index: u64, value: u64) -> FrameResult<()> {
        let table = self.tables.get_mut(t as usize).ok_or(Exit::Trap(TrapCode::HostError))?;
        let slot = usize::try_from(index).ok().and_then(|i| table.get_mut(i));
        *slot.ok_or(Exit::Trap(TrapCode::TableOutOfBounds))? = value;
        Ok(())
    }

    /// `table.size t`.
    pub fn table_size(&self, t: u32) -> FrameResult<u64> {
        Ok(self.table(t)?.len() as u64)
    }

    /// `table.grow t value, delta`: the old size, or `u64::MAX` past the table's maximum or the limit of
    /// table elements.
    pub fn table_grow(&mut self, t: u32, value: u64, delta: u64) -> FrameResult<u64> {
        let max = self.module.and_then(|m| m.tables.get(t as usize)).and_then(|p| p.max).unwrap_or(u64::from(u32::MAX));
        let total: u64 = self.tables.iter().map(|t| t.len() as u64).sum();
        let limit = self.limits.max_table_elements;
        let table = self.tables.get_mut(t as usize).ok_or(Exit::Trap(TrapCode::HostError))?;
        let old = table.len() as u64;
        match old.checked_add(delta) {
            Some(new) if new <= max && total + delta <= limit => {
                table.resize(new as usize, value);
                self.sync_tables();
                Ok(old)
            }
            _ => Ok(u64::MAX),
        }
    }

    /// `table.fill t dst, value, len`.
    pub fn table_fill(&mut self, t: u32, dst: u64, value: u64, len: u64) -> FrameResult<()> {
        let table = self.tables.get_mut(t as usize).ok_or(Exit::Trap(TrapCode::HostError))?;
        let range = Self::table_range(dst, len, table.len())?;
        table[range].fill(value);
        Ok(())
    }

    /// `table.copy dst_table src_table d, s, n`.
    pub fn table_copy(&mut self, dst_table: u32, src_table: u32, d: u64, s: u64, n: u64) -> FrameResult<()> {
        let src = Self::table_range(s, n, self.table(src_table)?.len())?;
        let dst = Self::table_range(d, n, self.table(dst_table)?.len())?;
        if dst_table == src_table {
            self.tables[dst_table as usize].copy_within(src, dst.start);
        } else {
            let items = self.tables[src_table as usize][src].to_vec();
            self.tables[dst_table as usize][dst].copy_from_slice(&items);
        }
        Ok(())
    }

    /// `table.init t seg d, s, n`: copies from element segment `seg` (empty once dropped).
    pub fn table_init(&mut self, t: u32, seg: u32, d: u64, s: u64, n: u64) -> FrameResult<()> {
        let segments: &[Vec<u64>] = self.module.map_or(&[], |m| &m.elems);
        let elems: &[u64] = match segments.get(seg as usize) {
            Some(e) if !self.dropped_elems.get(seg as usize).copied().unwrap_or(true) => e,
            Some(_) => &[],
            None => return Err(Exit::Trap(TrapCode::HostError)),
        };
        let src = Self::table_range(s, n, elems.len())?;
        let table = self.tables.get_mut(t as usize).ok_or(Exit::Trap(TrapCode::HostError))?;
        let dst = Self::table_range(d, n, table.len())?;
        // Segments hold this module's functions untagged (tag 0) and imported references tagged.
        let tag = self.ctx.instance_tag;
        for (slot, &r) in table[dst].iter_mut().zip(&elems[src]) {
            *slot = match semantics::func_ref_parts(r) {
                Some((0, func)) => semantics::func_ref(tag, func),
                _ => r,
            };
        }
        Ok(())
    }

    /// `elem.drop seg`.
    pub fn elem_drop(&mut self, seg: u32) {
        if let Some(d) = self.dropped_elems.get_mut(seg as usize) {
            *d = true;
        }
    }

    /// The function `call_indirect ty, t` with table index `index` calls, checked: `undefined_element` past
    /// the table's end, `uninitialized_element` for null, `indirect_call_type` for a reference that is not
    /// a function of the module or a function whose signature is not type `ty`. A reference to a function
    /// of another instance gives [`abi::FOREIGN_FUNC`]: the caller then calls it with
    /// [`Frame::call_foreign`], which checks its signature.
    pub fn call_indirect_target(&mut self, ty: u32, t: u32, index: u64) -> FrameResult<u32> {
        let table = self.table(t)?;
        let r = usize::try_from(index)
            .ok()
            .and_then(|i| table.get(i))
            .copied()
            .ok_or(Exit::Trap(TrapCode::UndefinedElement))?;
        if r == 0 {
            return Err(Exit::Trap(TrapCode::UninitializedElement));
        }
        let mismatch = Exit::Trap(TrapCode::IndirectCallTypeMismatch);
        let (tag, func) = semantics::func_ref_parts(r).ok_or(mismatch)?;
        if tag != 0 && tag != self.ctx.instance_tag {
            if self.linker.is_none() {
                return Err(mismatch);
            }
            self.foreign = r;
            return Ok(abi::FOREIGN_FUNC);
        }
        match self.signatures {
            Some(ids) if ids.is_type(func, ty) => Ok(func),
            _ => Err(mismatch),
        }
    }

    /// Slots a call of type `ty` needs: `max(params, results)`; `None` for an unknown type.
    pub fn call_slots(&self, ty: u32) -> Option<usize> {
        let sig = self.module?.types.get(ty as usize)?;
        Some(sig.params.len().max(sig.results.len()))
    }

    /// Calls the reference of another instance that the last [`Frame::call_indirect_target`] found, as
    /// type `ty`, with `values` (parameters in, results out; [`Frame::call_slots`] long). The instance
    /// state leaves the frame for the call and comes back after it (see [`Linker`]).
    pub fn call_foreign(&mut self, ty: u32, values: &mut [u64]) -> FrameResult<()> {
        let mismatch = Exit::Trap(TrapCode::IndirectCallTypeMismatch);
        let (Some(linker), Some(module), Some(signatures)) = (self.linker, self.module, self.signatures) else {
            return Err(mismatch);
        };
        let sig = module.types.get(ty as usize).ok_or(mismatch)?;
        let state = self.detach();
        let mut gas_left = self.ctx.gas_left;
        let call = ForeignCall {
            caller: self.ctx.instance_tag as u32,
            target: self.foreign,
            sig,
            values,
            gas_left: &mut gas_left,
            call_depth: self.ctx.call_depth,
            vm: self.vm,
            host: &mut *self.host,
            msg: self.msg,
        };
        let (state, result) = linker.call(call, state);
        self.attach(module, signatures, state);
        self.ctx.gas_left = gas_left;
        result
    }

    /// `mem.copy dst, src, len`.
    pub fn mem_copy(&mut self, dst: u64, src: u64, len: u64) -> FrameResult<()> {
        let s = self.mem_range(src, len)?;
        let d = self.mem_range(dst, len)?;
        self.memory.copy_within(s, d.start);
        Ok(())
    }

    /// `hash.ALG offset, len`.
    pub fn hash(&self, alg: HashAlg, offset: u64, len: u64) -> FrameResult<U256> {
        let data = &self.memory[self.mem_range(offset, len)?];
        let digest = match alg {
            HashAlg::Keccak256 => crate::crypto::keccak256(data),
            HashAlg::Sha256 => crate::crypto::sha256(data),
            HashAlg::Ripemd160 => crate::crypto::ripemd160_word(data),
            HashAlg::Blake2b256 => crate::crypto::blake2b256(data),
        };
        Ok(U256::from_be_bytes(digest))
    }

    // ---- read-only data --------------------------------------------------------------------------------

    /// A read-only buffer.
    pub fn data(&self, src: DataSrc) -> &[u8] {
        match src {
            DataSrc::Input => &self.msg.input,
            DataSrc::Code => self.code,
            DataSrc::ReturnData => &self.return_data,
        }
    }

    /// `data.load SRC offset`: 32 bytes big-endian, zero past the end.
    pub fn data_load(&self, src: DataSrc, offset: U256) -> U256 {
        let mut word = [0u8; 32];
        copy_padded(&mut word, self.data(src), offset);
        U256::from_be_bytes(word)
    }

    /// `data.copy SRC dst, offset, len`.
    pub fn data_copy(&mut self, src: DataSrc, dst: u64, offset: U256, len: u64) -> FrameResult<()> {
        let range = self.mem_range(dst, len)?;
        let data: &[u8] = match src {
            DataSrc::Input => &self.msg.input,
            DataSrc::Code => self.code,
            DataSrc::ReturnData => {
                let end = offset.checked_add(U256::from(len));
                if end.is_none_or(|end| end > U256::from(self.return_data.len())) {
                    return Err(Exit::Trap(TrapCode::ReturnDataOutOfBounds));
                }
                &self.return_data
            }
        };
        copy_padded(&mut self.memory[range], data, offset);
        Ok(())
    }

    // ---- operand stack ---------------------------------------------------------------------------------

    /// `stack.check min, growth`.
    pub fn stack_check(&self, min: u32, growth: u32) -> FrameResult<()> {
        let len = self.ctx.stack_len;
        if len < u64::from(min) {
            Err(Exit::Trap(TrapCode::StackUnderflow))
        } else if len + u64::from(growth) > self.ctx.stack_cap {
            Err(Exit::Trap(TrapCode::StackOverflow))
        } else {
            Ok(())
        }
    }

    fn stack_index(&self, depth: u32) -> usize {
        // Masked into the buffer, so that even IR that skipped its `stack.check` cannot leave it.
        (self.ctx.stack_len.wrapping_sub(1).wrapping_sub(u64::from(depth)) & (self.ctx.stack_cap - 1)) as usize
    }

    /// `stack.get depth`.
    pub fn stack_get(&self, depth: u32) -> U256 {
        U256::from_limbs(self.stack[self.stack_index(depth)])
    }

    /// `stack.set depth, value`.
    pub fn stack_set(&mut self, depth: u32, value: U256) {
        let i = self.stack_index(depth);
        self.stack[i] = *value.as_limbs();
    }

    /// `stack.adjust delta`.
    pub fn stack_adjust(&mut self, delta: i32) {
        self.ctx.stack_len = self.ctx.stack_len.wrapping_add_signed(i64::from(delta));
    }

    // ---- host ------------------------------------------------------------------------------------------

    fn require_non_static(&self) -> FrameResult<()> {
        if self.msg.is_static {
            Err(Exit::Trap(TrapCode::StaticViolation))
        } else {
            Ok(())
        }
    }

    /// `hostcall FUNC args...` (`i64` arguments passed zero-extended), charging the host's dynamic gas.
    pub fn host_call(&mut self, func: HostFn, args: &[U256]) -> FrameResult<Option<U256>> {
        let arg = |i: usize| args.get(i).copied().unwrap_or(U256::ZERO);
        let address = self.msg.address;
        if func.is_state_changing() {
            self.require_non_static()?;
        }
        Ok(match func {
            HostFn::SLoad => {
                let read = self.host.sload(address, arg(0));
                self.charge(self.costs.sload(read.cold))?;
                Some(read.value)
            }
            HostFn::SStore => {
                if self.ctx.gas_left <= self.costs.sstore_min_gas() {
                    return Err(Exit::OutOfGas);
                }
                let value = arg(1);
                let outcome = self.host.sstore(address, arg(0), value);
                self.charge(self.costs.sstore(&outcome, value))?;
                self.refund += self.costs.sstore_refund(&outcome, value);
                None
            }
            HostFn::TLoad => Some(self.host.tload(address, arg(0))),
            HostFn::TStore => {
                self.host.tstore(address, arg(0), arg(1));
                None
            }
            HostFn::Balance => {
                let read = self.host.balance(Address::from_word(arg(0)));
                self.charge(self.costs.account_access(read.cold))?;
                Some(read.value)
            }
            HostFn::BlockHash => Some(self.host.block_hash(arg(0))),
            HostFn::ExtCodeSize => {
                let read = self.host.code(Address::from_word(arg(0)));
                let (len, cold) = (read.value.len(), read.cold);
                self.charge(self.costs.account_access(cold))?;
                Some(U256::from(len))
            }
            HostFn::ExtCodeHash => {
                let read = self.host.code_hash(Address::from_word(arg(0)));
                self.charge(self.costs.account_access(read.cold))?;
                Some(read.value)
            }
            HostFn::ExtCodeCopy => {
                let (dst, len) = (low_u64(arg(1)), low_u64(arg(3)));
                let range = self.mem_range(dst, len)?;
                let read = self.host.code(Address::from_word(arg(0)));
                let cold = read.cold;
                copy_padded(&mut self.memory[range], read.value, arg(2));
                self.charge(self.costs.account_access(cold))?;
                None
            }
            HostFn::Log(n) => {
                let range = self.mem_range(low_u64(arg(0)), low_u64(arg(1)))?;
                let topics = args[2..2 + usize::from(n)].to_vec();
                self.logs.push(Log { address, topics, data: self.memory[range].to_vec() });
                None
            }
            HostFn::Env(field) => Some(self.env(field)),
            HostFn::BlobHash => {
                let hashes = &self.host.tx().blob_hashes;
                Some(usize::try_from(arg(0)).ok().and_then(|i| hashes.get(i)).copied().unwrap_or(U256::ZERO))
            }
            HostFn::Call | HostFn::CallCode | HostFn::DelegateCall | HostFn::StaticCall => {
                Some(self.message_call(func, args)?)
            }
            HostFn::Create | HostFn::Create2 => Some(self.create(func, args)?),
            HostFn::SelfDestruct => {
                self.selfdestruct(Address::from_word(arg(0)))?;
                None
            }
            HostFn::Keccak256Pair => {
                let mut buf = [0u8; 64];
                buf[..32].copy_from_slice(&arg(0).to_be_bytes::<32>());
                buf[32..].copy_from_slice(&arg(1).to_be_bytes::<32>());
                Some(U256::from_be_bytes(crate::crypto::keccak256(&buf)))
            }
        })
    }

    /// The call family: pays the access, value and new-account costs, forwards all but 1/64 of the gas
    /// left (EIP-150) at most, runs the call on the machine, and takes back what the callee did not use.
    fn message_call(&mut self, func: HostFn, args: &[U256]) -> FrameResult<U256> {
        let with_value = matches!(func, HostFn::Call | HostFn::CallCode);
        let (requested, target) = (args[0], Address::from_word(args[1]));
        let value = if with_value { args[2] } else { U256::ZERO };
        let ranges = &args[if with_value { 3 } else { 2 }..];
        let (in_off, in_len, out_off, out_len) =
            (low_u64(ranges[0]), low_u64(ranges[1]), low_u64(ranges[2]), low_u64(ranges[3]));
        if func == HostFn::Call && !value.is_zero() {
            self.require_non_static()?;
        }
        let cold = self.host.warm_account(target);
        let mut cost = self.costs.account_access(cold);
        if !value.is_zero() {
            cost += calls::CALL_VALUE;
            if func == HostFn::Call && self.host.is_empty(target) {
                cost += calls::NEW_ACCOUNT;
            }
        }
        self.charge(cost)?;
        let left = self.ctx.gas_left;
        let mut gas_limit = u64::try_from(requested).unwrap_or(u64::MAX).min(left - left / 64);
        self.charge(gas_limit)?;
        if !value.is_zero() {
            gas_limit += calls::CALL_STIPEND;
        }
        let input = self.memory[self.mem_range(in_off, in_len)?].to_vec();
        let me = self.msg.address;
        let (caller, address, apparent_value, transfer) = match func {
            HostFn::Call => (me, target, value, Some(value)),
            HostFn::CallCode => (me, me, value, Some(value)),
            HostFn::DelegateCall => (self.msg.caller, me, self.msg.value, None),
            _ => (me, target, U256::ZERO, Some(U256::ZERO)),
        };
        let is_static = self.msg.is_static || func == HostFn::StaticCall;
        let inputs = CallInputs {
            caller,
            address,
            code_address: target,
            value: apparent_value,
            transfer,
            input,
            gas_limit,
            is_static,
        };
        let outcome = self.vm.call(&mut *self.host, inputs, self.depth + 1);
        let success = outcome.status.is_success();
        self.take_back(&outcome);
        if success || outcome.status == Status::Revert {
            let n = out_len.min(outcome.output.len() as u64);
            let range = self.mem_range(out_off, n)?;
            self.memory[range].copy_from_slice(&outcome.output[..n as usize]);
        }
        self.return_data = outcome.output;
        Ok(U256::from(u8::from(success)))
    }

    /// Adds back the gas a callee did not use and, if it succeeded, its refunds and logs.
    fn take_back(&mut self, outcome: &FrameOutcome) {
        self.ctx.gas_left += outcome.gas_left;
        if outcome.status.is_success() {
            self.refund += outcome.refund;
            self.logs.extend_from_slice(&outcome.logs);
        }
    }

    /// `create` / `create2`: pays the init-code (and, for `create2`, hashing) cost, forwards all but 1/64 of
    /// the gas left, and runs the creation on the machine.
    fn create(&mut self, func: HostFn, args: &[U256]) -> FrameResult<U256> {
        let (value, offset, len) = (args[0], low_u64(args[1]), low_u64(args[2]));
        let salt = (func == HostFn::Create2).then(|| args[3]);
        if len > zvm_compiler::frontend::evm::MAX_INITCODE_SIZE as u64 {
            return Err(Exit::OutOfGas);
        }
        let words = len.div_ceil(32);
        let per_word = calls::INITCODE_WORD + if salt.is_some() { calls::KECCAK_WORD } else { 0 };
        self.charge(words * per_word)?;
        let left = self.ctx.gas_left;
        let gas_limit = left - left / 64;
        self.charge(gas_limit)?;
        let init_code = self.memory[self.mem_range(offset, len)?].to_vec();
        let inputs = CreateInputs { caller: self.msg.address, value, init_code, gas_limit, salt };
        let (outcome, address) = self.vm.create(&mut *self.host, inputs, self.depth + 1);
        self.take_back(&outcome);
        self.return_data = if outcome.status == Status::Revert { outcome.output } else { Vec::new() };
        Ok(address.map_or(U256::ZERO, Address::to_word))
    }

    /// `selfdestruct beneficiary` (EIP-6780), with its EIP-2929 and new-account costs.
    fn selfdestruct(&mut self, beneficiary: Address) -> FrameResult<()> {
        let cold = self.host.warm_account(beneficiary);
        let mut cost = if cold { calls::SELFDESTRUCT_COLD } else { 0 };
        let me = self.msg.address;
        if !self.host.balance(me).value.is_zero() && self.host.is_empty(beneficiary) {
            cost += calls::NEW_ACCOUNT;
        }
        self.charge(cost)?;
        self.host.selfdestruct(me, beneficiary);
        Ok(())
    }

    fn env(&mut self, field: EnvField) -> U256 {
        let block = self.host.block();
        match field {
            EnvField::Address => self.msg.address.to_word(),
            EnvField::Caller => self.msg.caller.to_word(),
            EnvField::Origin => self.host.tx().origin.to_word(),
            EnvField::CallValue => self.msg.value,
            EnvField::GasPrice => self.host.tx().gas_price,
            EnvField::Coinbase => block.coinbase.to_word(),
            EnvField::Timestamp => U256::from(block.timestamp),
            EnvField::Number => U256::from(block.number),
            EnvField::PrevRandao => block.prev_randao,
            EnvField::GasLimit => U256::from(block.gas_limit),
            EnvField::ChainId => U256::from(block.chain_id),
            EnvField::BaseFee => block.base_fee,
            EnvField::BlobBaseFee => block.blob_base_fee,
            EnvField::SelfBalance => {
                let address = self.msg.address;
                self.host.balance(address).value
            }
        }
    }

    /// `halt KIND offset, len`: records the output and returns the exit.
    pub fn halt(&mut self, kind: HaltKind, offset: u64, len: u64) -> Exit {
        match self.mem_range(offset, len) {
            Ok(range) => {
                self.output = self.memory[range].to_vec();
                Exit::Halt(kind)
            }
            Err(exit) => exit,
        }
    }

    /// What the frame leaves to its caller, given how it stopped. `None` means the entry function
    /// returned normally, which is a success with empty output. Failures other than a revert keep no gas.
    pub fn outcome(mut self, exit: Option<Exit>) -> FrameOutcome {
        let gas_left = self.ctx.gas_left;
        let output = std::mem::take(&mut self.output);
        let (status, gas_left, refund, output, logs) = match exit {
            None | Some(Exit::Halt(HaltKind::Return)) => {
                (Status::Success, gas_left, self.refund, output, std::mem::take(&mut self.logs))
            }
            Some(Exit::Halt(HaltKind::Revert)) => (Status::Revert, gas_left, 0, output, Vec::new()),
            Some(Exit::OutOfGas) => (Status::OutOfGas, 0, 0, Vec::new(), Vec::new()),
            Some(Exit::Trap(code)) => (Status::Trap(code), 0, 0, Vec::new(), Vec::new()),
        };
        FrameOutcome { status, gas_left, refund, output, logs }
    }

    /// Turns the frame into the result of a whole execution, with the refund applied and capped.
    pub fn finish(self, exit: Option<Exit>) -> ExecResult {
        let limit = self.msg.gas_limit;
        self.outcome(exit).into_result(limit)
    }
}

/// `[start, start+len)` as indices into a sequence of `size` items, or a trap with `code` if it passes the
/// end (also when `len` is 0).
fn range_within(start: u64, len: u64, size: usize, code: TrapCode) -> FrameResult<Range<usize>> {
    match start.checked_add(len) {
        Some(end) if end <= size as u64 => Ok(start as usize..end as usize),
        _ => Err(Exit::Trap(code)),
    }
}

/// The low 64 bits of a word (arguments that were `i64` in the IR).
fn low_u64(w: U256) -> u64 {
    w.as_limbs()[0]
}

/// Fills `dst` from `src` starting at `offset`, with zeros past the end of `src`.
fn copy_padded(dst: &mut [u8], src: &[u8], offset: U256) {
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(src.len());
    let n = (src.len() - start).min(dst.len());
    dst[..n].copy_from_slice(&src[start..start + n]);
    dst[n..].fill(0);
}
