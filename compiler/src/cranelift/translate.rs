//! Translation of zvm IR functions into Cranelift IR functions.
//!
//! Nothing here depends on how the result is emitted: the functions take a [`TargetIsa`] (for the
//! calling convention and frontend configuration) and return plain `cranelift_codegen::ir::Function`s, which
//! the JIT (`jit.rs`) defines in a `JITModule` and an object emitter could equally define in an
//! `ObjectModule`. Calls between functions of a module are `call`s to user external names
//! `(namespace 0, index = IR function index)`; the entry trampoline is `(0, number of functions)`.
//! Runtime helpers are never referenced by symbol: their addresses are loaded from the helper table the
//! context points to and called with `call_indirect`, so the code needs no relocations to the runtime.
//!
//! # Calling convention of translated functions
//! Every IR function becomes `fn(vmctx: i64, params...) -> (status: i32, results...)` in the ISA's default
//! calling convention (with `enable_multi_ret_implicit_sret` for results that do not fit in registers). A
//! `w256` parameter or result is four `i64` limbs, least significant first. `status` is
//! [`abi::STATUS_OK`] when the function returned normally; any other status means execution stopped (halt,
//! out of gas, trap) and the results are meaningless zeros. Callers check the status after every call and
//! return it unchanged, so a stop deep in a call chain unwinds through every native frame by plain returns.
//! The trampoline `fn(vmctx) -> i32` calls the entry function and returns its status.

use super::word::{self, Limbs, Shift};
use super::CompileError;
use crate::abi::{self, ctx_offsets as ctx, helper_offsets as helper};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::types::{F32, F64, I32, I64};
use cranelift_codegen::ir::{
    self, AbiParam, AliasRegionData, BlockArg, Endianness, ExtFuncData, ExternalName, FuncRef, InstBuilder,
    MemFlagsData, SigRef, StackSlot, StackSlotData, StackSlotKind, UserExternalName, UserFuncName, Value,
};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Switch};
use std::collections::{HashMap, HashSet};
use zvm_ir::{
    BinOp, Block, ConvOp, DataSrc, FuncId, HaltKind, HostFn, Inst, MemAccess, Module, Op, TernOp, TrapCode, Type, UnOp,
    U256,
};

/// Words in the per-function scratch area used to pass words to helpers by pointer.
const SCRATCH_WORDS: u32 = 8;
/// Scratch word that receives a helper's result word.
const OUT_WORD: u32 = SCRATCH_WORDS - 1;

/// The status for a trap.
pub const fn trap_status(code: TrapCode) -> u32 {
    abi::STATUS_TRAP_BASE + code.code()
}

/// Cranelift types of one IR value: four `i64` limbs for a `w256`.
pub fn lanes(ty: Type) -> &'static [ir::Type] {
    match ty {
        Type::I32 => &[I32],
        Type::I64 => &[I64],
        Type::F32 => &[F32],
        Type::F64 => &[F64],
        Type::W256 => &[I64, I64, I64, I64],
    }
}

/// The Cranelift signature of a translated IR function (see the module docs).
pub fn function_signature(sig: &zvm_ir::Signature, call_conv: CallConv) -> ir::Signature {
    let mut s = ir::Signature::new(call_conv);
    s.params.push(AbiParam::new(I64));
    s.params.extend(sig.params.iter().flat_map(|&t| lanes(t).iter().map(|&l| AbiParam::new(l))));
    s.returns.push(AbiParam::new(I32));
    s.returns.extend(sig.results.iter().flat_map(|&t| lanes(t).iter().map(|&l| AbiParam::new(l))));
    s
}

/// The signature of the native entry point: `extern "C" fn(*mut VmCtx) -> u32`.
pub fn entry_signature(call_conv: CallConv) -> ir::Signature {
    let mut s = ir::Signature::new(call_conv);
    s.params.push(AbiParam::new(I64));
    s.returns.push(AbiParam::new(I32));
    s
}

fn check_isa(isa: &dyn TargetIsa) -> Result<(), CompileError> {
    if isa.pointer_type() != I64 {
        return Err(CompileError::Unsupported(format!("{}: only 64-bit targets are supported", isa.triple())));
    }
    Ok(())
}

fn unsupported<T>(what: impl Into<String>) -> Result<T, CompileError> {
    Err(CompileError::Unsupported(what.into()))
}

/// The constant result of a conversion of a constant (narrow constants as zero-extended bit patterns).
fn fold_convert(op: ConvOp, from: Type, to: Type, c: U256) -> Option<U256> {
    let mask = |t: Type| match t {
        Type::I32 => Some(U256::from(u32::MAX)),
        Type::I64 => Some(U256::from(u64::MAX)),
        Type::W256 => Some(U256::MAX),
        _ => None,
    };
    match op {
        ConvOp::Zext => Some(c),
        ConvOp::Trunc => mask(to).map(|m| c & m),
        ConvOp::SatU64 => Some(c.min(U256::from(u64::MAX))),
        ConvOp::FToS
        | ConvOp::FToU
        | ConvOp::FToSSat
        | ConvOp::FToUSat
        | ConvOp::SToF
        | ConvOp::UToF
        | ConvOp::FPromote
        | ConvOp::FDemote
        | ConvOp::Bitcast => None,
        ConvOp::Sext => {
            let bits = match from {
                Type::I32 => 32,
                Type::I64 => 64,
                _ => return None,
            };
            let negative = c.bit(bits - 1);
            let ext = if negative { mask(to)? & !mask(from)? } else { U256::ZERO };
            Some(c | ext)
        }
    }
}

/// Translates function `index` of `module` for `isa`.
pub fn translate_function(
    module: &Module,
    index: usize,
    isa: &dyn TargetIsa,
    fctx: &mut FunctionBuilderContext,
) -> Result<ir::Function, CompileError> {
    check_isa(isa)?;
    let func = module.functions.get(index).ok_or_else(|| CompileError::InvalidIr(format!("no function {index}")))?;
    let call_conv = isa.default_call_conv();
    let sig = function_signature(&func.sig, call_conv);
    let mut clif = ir::Function::with_name_signature(UserFuncName::user(0, index as u32), sig);
    {
        let b = FunctionBuilder::new(&mut clif, fctx);
        let mut t = Translator::new(b, module, func, call_conv);
        let result = t.translate();
        if let Err(e) = result {
            return Err(e.context(&func.name));
        }
        t.b.seal_all_blocks();
        t.b.finalize(isa.frontend_config());
    }
    Ok(clif)
}

/// Builds the native entry point for `module`: calls the entry function and returns its status.
pub fn entry_trampoline(
    module: &Module,
    isa: &dyn TargetIsa,
    fctx: &mut FunctionBuilderContext,
) -> Result<ir::Function, CompileError> {
    check_isa(isa)?;
    let entry = module
        .functions
        .get(module.entry.index())
        .ok_or_else(|| CompileError::InvalidIr(format!("entry function {} does not exist", module.entry)))?;
    if !entry.sig.params.is_empty() {
        return Err(CompileError::InvalidIr("the entry function must not take parameters".into()));
    }
    let call_conv = isa.default_call_conv();
    let mut clif = ir::Function::with_name_signature(
        UserFuncName::user(0, module.functions.len() as u32),
        entry_signature(call_conv),
    );
    {
        let mut b = FunctionBuilder::new(&mut clif, fctx);
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        let vmctx = b.block_params(block)[0];
        let fref = import_callee(&mut b, module, module.entry, call_conv);
        let call = b.ins().call(fref, &[vmctx]);
        let status = b.inst_results(call)[0];
        b.ins().return_(&[status]);
        b.seal_all_blocks();
        b.finalize(isa.frontend_config());
    }
    Ok(clif)
}

fn import_callee(b: &mut FunctionBuilder<'_>, module: &Module, f: FuncId, call_conv: CallConv) -> FuncRef {
    let sig = function_signature(&module.function(f).sig, call_conv);
    let sigref = b.import_signature(sig);
    let name = b.func.declare_imported_user_function(UserExternalName { namespace: 0, index: f.0 });
    b.import_function(ExtFuncData {
        name: ExternalName::user(name),
        signature: sigref,
        colocated: true,
        patchable: false,
    })
}

/// A translated IR value.
#[derive(Clone, Copy, Debug)]
enum Val {
    /// `i32`, `i64`, `f32`, `f64`.
    One(Value),
    /// `w256`.
    Word(Limbs),
}

impl Val {
    fn lanes(self) -> Vec<Value> {
        match self {
            Val::One(v) => vec![v],
            Val::Word(w) => w.to_vec(),
        }
    }
}

/// Signatures of the runtime helpers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum HelperSig {
    MemExpand,
    MemCopy,
    Hash,
    DataSize,
    DataLoad,
    DataCopy,
    HostCall,
    Halt,
    WordBinary,
    WordTernary,
}

/// Memory flags of the different kinds of accesses; each kind has its own alias region, because they are
/// disjoint: the context, linear memory and the operand stack buffer.
#[derive(Clone, Copy)]
struct Flags {
    /// Mutable context fields (gas, memory pointer/size, stack length, call depth).
    ctx: MemFlagsData,
    /// Context fields and table entries that never change while code runs (helpers, stack base/cap,
    /// call depth limit).
    fixed: MemFlagsData,
    /// Linear memory (bounds-checked by the code before the access).
    heap: MemFlagsData,
    /// The operand stack buffer (index masked into bounds).
    stack: MemFlagsData,
    /// The scratch area in the native frame.
    scratch: MemFlagsData,
}

struct Translator<'m, 'b> {
    b: FunctionBuilder<'b>,
    module: &'m Module,
    func: &'m zvm_ir::Function,
    call_conv: CallConv,
    vmctx: Value,
    values: Vec<Option<Val>>,
    /// Values known at compile time (`w256`, or integers as zero-extended bit patterns).
    consts: Vec<Option<U256>>,
    /// Values some instruction uses (loads of unused values are skipped; their checks are kept).
    used: Vec<bool>,
    blocks: Vec<Option<ir::Block>>,
    /// Blocks that return a constant status, created on demand and filled at the end.
    status_blocks: HashMap<u32, ir::Block>,
    /// Block that returns its `i32` parameter as the status.
    dyn_exit: Option<ir::Block>,
    scratch: Option<StackSlot>,
    sigs: HashMap<HelperSig, SigRef>,
    callees: HashMap<FuncId, FuncRef>,
    flags: Flags,
}

impl<'m, 'b> Translator<'m, 'b> {
    fn new(b: FunctionBuilder<'b>, module: &'m Module, func: &'m zvm_ir::Function, call_conv: CallConv) -> Self {
        let mut region = |id: u32, name: &'static str| {
            Some(b.func.dfg.alias_regions.insert(AliasRegionData { user_id: id, description: name.into() }))
        };
        let (r_ctx, r_heap, r_stack) = (region(1, "vmctx"), region(2, "memory"), region(3, "operand stack"));
        let flags = Flags {
            ctx: MemFlagsData::trusted().with_alias_region(r_ctx),
            fixed: MemFlagsData::trusted().with_readonly().with_can_move(),
            heap: MemFlagsData::new().with_notrap().with_endianness(Endianness::Little).with_alias_region(r_heap),
            stack: MemFlagsData::trusted().with_alias_region(r_stack),
            scratch: MemFlagsData::trusted(),
        };
        let placeholder = Value::from_u32(0);
        Self {
            b,
            module,
            func,
            call_conv,
            vmctx: placeholder,
            values: vec![None; func.values.len()],
            consts: vec![None; func.values.len()],
            used: {
                let mut used = vec![false; func.values.len()];
                for v in func.insts.iter().flat_map(|i| i.op.operands()) {
                    if let Some(u) = used.get_mut(v.index()) {
                        *u = true;
                    }
                }
                used
            },
            blocks: vec![None; func.blocks.len()],
            status_blocks: HashMap::new(),
            dyn_exit: None,
            scratch: None,
            sigs: HashMap::new(),
            callees: HashMap::new(),
            flags,
        }
    }

    // ---- driver --------------------------------------------------------------------------------------

    /// Reachable blocks in reverse postorder (so every block comes after its dominators).
    fn reverse_postorder(&self) -> Result<Vec<Block>, CompileError> {
        let n = self.func.blocks.len();
        if n == 0 {
            return Err(CompileError::InvalidIr("function has no blocks".into()));
        }
        let succs = |b: Block| -> Result<Vec<Block>, CompileError> {
            let term =
                self.func.terminator(b).ok_or_else(|| CompileError::InvalidIr(format!("{b} has no terminator")))?;
            let s = self.func.inst(term).op.successors();
            if let Some(bad) = s.iter().find(|s| s.index() >= n) {
                return Err(CompileError::InvalidIr(format!("{b} branches to missing {bad}")));
            }
            Ok(s)
        };
        let mut visited = vec![false; n];
        let mut post = Vec::new();
        // Iterative DFS: (block, successors, next successor index).
        let mut stack = vec![(Block(0), succs(Block(0))?, 0usize)];
        visited[0] = true;
        while let Some((blk, ss, i)) = stack.last_mut() {
            if *i < ss.len() {
                let s = ss[*i];
                *i += 1;
                if !visited[s.index()] {
                    visited[s.index()] = true;
                    let next = succs(s)?;
                    stack.push((s, next, 0));
                }
            } else {
                post.push(*blk);
                stack.pop();
            }
        }
        post.reverse();
        Ok(post)
    }

    fn translate(&mut self) -> Result<(), CompileError> {
        let order = self.reverse_postorder()?;

        // Native entry block: (vmctx, params...), jumping to the IR entry block (which may be a loop header).
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        for &blk in &order {
            let cl = self.b.create_block();
            for &p in &self.func.block(blk).params {
                let ty = self.func.value_type(p);
                let ls: Vec<Value> = lanes(ty).iter().map(|&l| self.b.append_block_param(cl, l)).collect();
                self.values[p.index()] = Some(Self::val_from_lanes(ty, &ls));
            }
            self.blocks[blk.index()] = Some(cl);
        }
        self.b.switch_to_block(entry);
        let params = self.b.block_params(entry).to_vec();
        self.vmctx = params[0];
        let first = self.blocks[0].expect("entry block is reachable");
        let expected: usize =
            self.func.block(Block(0)).params.iter().map(|&p| lanes(self.func.value_type(p)).len()).sum();
        if expected != params.len() - 1 {
            return Err(CompileError::InvalidIr("entry block parameters do not match the signature".into()));
        }
        let args: Vec<BlockArg> = params[1..].iter().map(|&v| BlockArg::Value(v)).collect();
        self.b.ins().jump(first, &args);

        for &blk in &order {
            let cl = self.blocks[blk.index()].expect("created above");
            self.b.switch_to_block(cl);
            for &inst in &self.func.block(blk).insts {
                self.translate_inst(inst).map_err(|e| e.context(&format!("{blk}, {inst}")))?;
            }
        }
        self.fill_exit_blocks();
        Ok(())
    }

    fn val_from_lanes(ty: Type, ls: &[Value]) -> Val {
        if ty == Type::W256 {
            Val::Word([ls[0], ls[1], ls[2], ls[3]])
        } else {
            Val::One(ls[0])
        }
    }

    /// Zero values for the function's results, for returns that carry a stopping status.
    fn zero_results(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        for &t in &self.func.sig.results {
            for &l in lanes(t) {
                out.push(match l {
                    F32 => self.b.ins().f32const(Ieee32::with_bits(0)),
                    F64 => self.b.ins().f64const(Ieee64::with_bits(0)),
                    _ => self.b.ins().iconst(l, 0),
                });
            }
        }
        out
    }

    fn fill_exit_blocks(&mut self) {
        let mut statuses: Vec<(u32, ir::Block)> = self.status_blocks.iter().map(|(&s, &b)| (s, b)).collect();
        statuses.sort_unstable();
        for (status, blk) in statuses {
            self.b.switch_to_block(blk);
            let s = self.b.ins().iconst(I32, i64::from(status));
            let mut rets = vec![s];
            rets.extend(self.zero_results());
            self.b.ins().return_(&rets);
        }
        if let Some(blk) = self.dyn_exit {
            self.b.switch_to_block(blk);
            let s = self.b.block_params(blk)[0];
            let mut rets = vec![s];
            rets.extend(self.zero_results());
            self.b.ins().return_(&rets);
        }
    }

    // ---- exits ---------------------------------------------------------------------------------------

    fn status_block(&mut self, status: u32) -> ir::Block {
        if let Some(&b) = self.status_blocks.get(&status) {
            return b;
        }
        let blk = self.b.create_block();
        self.b.set_cold_block(blk);
        self.status_blocks.insert(status, blk);
        blk
    }

    fn dyn_exit_block(&mut self) -> ir::Block {
        if let Some(b) = self.dyn_exit {
            return b;
        }
        let blk = self.b.create_block();
        self.b.append_block_param(blk, I32);
        self.b.set_cold_block(blk);
        self.dyn_exit = Some(blk);
        blk
    }

    /// Stops with `status` if `cond` is non-zero; continues in a new block otherwise.
    fn exit_if(&mut self, cond: Value, status: u32) {
        let exit = self.status_block(status);
        let cont = self.b.create_block();
        self.b.ins().brif(cond, exit, &[], cont, &[]);
        self.b.switch_to_block(cont);
    }

    /// Stops with `status` (an `i32`) unless it is [`abi::STATUS_OK`].
    fn exit_unless_ok(&mut self, status: Value) {
        let exit = self.dyn_exit_block();
        let cont = self.b.create_block();
        self.b.ins().brif(status, exit, &[BlockArg::Value(status)], cont, &[]);
        self.b.switch_to_block(cont);
    }

    /// Ends the block by stopping with `status`.
    fn exit_with(&mut self, status: u32) {
        let exit = self.status_block(status);
        self.b.ins().jump(exit, &[]);
    }

    // ---- values --------------------------------------------------------------------------------------

    fn val(&self, v: zvm_ir::Value) -> Result<Val, CompileError> {
        self.values
            .get(v.index())
            .copied()
            .flatten()
            .ok_or_else(|| CompileError::InvalidIr(format!("{v} is used before it is defined")))
    }

    fn word(&self, v: zvm_ir::Value) -> Result<Limbs, CompileError> {
        match self.val(v)? {
            Val::Word(w) => Ok(w),
            Val::One(_) => Err(CompileError::InvalidIr(format!("{v} is not a w256"))),
        }
    }

    fn scalar(&self, v: zvm_ir::Value) -> Result<Value, CompileError> {
        match self.val(v)? {
            Val::One(x) => Ok(x),
            Val::Word(_) => Err(CompileError::InvalidIr(format!("{v} is a w256 where a narrow value is expected"))),
        }
    }

    /// An `i64` operand (memory addresses, lengths, gas).
    fn i64_arg(&mut self, v: zvm_ir::Value) -> Result<Value, CompileError> {
        match self.ty(v) {
            Type::I64 => self.scalar(v),
            Type::I32 => {
                let x = self.scalar(v)?;
                Ok(self.b.ins().uextend(I64, x))
            }
            t => Err(CompileError::InvalidIr(format!("{v}: expected i64, found {t}"))),
        }
    }

    /// A branch/select condition: any non-zero value is true.
    fn cond(&mut self, v: zvm_ir::Value) -> Result<Value, CompileError> {
        match self.val(v)? {
            Val::One(x) => {
                if self.ty(v).is_float() {
                    return Err(CompileError::InvalidIr(format!("{v}: a float is not a condition")));
                }
                Ok(x)
            }
            Val::Word(w) => Ok(word::or_reduce(&mut self.b, w)),
        }
    }

    fn ty(&self, v: zvm_ir::Value) -> Type {
        self.func.value_type(v)
    }

    fn define(&mut self, inst: Inst, n: usize, val: Val) -> Result<(), CompileError> {
        let r = *self
            .func
            .inst(inst)
            .results
            .get(n)
            .ok_or_else(|| CompileError::InvalidIr(format!("{inst} has no result {n}")))?;
        self.values[r.index()] = Some(val);
        Ok(())
    }

    fn block_args(&self, args: &[zvm_ir::Value]) -> Result<Vec<BlockArg>, CompileError> {
        let mut out = Vec::new();
        for &a in args {
            out.extend(self.val(a)?.lanes().into_iter().map(BlockArg::Value));
        }
        Ok(out)
    }

    fn target(&self, b: Block) -> Result<ir::Block, CompileError> {
        self.blocks
            .get(b.index())
            .copied()
            .flatten()
            .ok_or_else(|| CompileError::InvalidIr(format!("branch to missing {b}")))
    }

    fn int_const(&mut self, ty: ir::Type, x: u64) -> Value {
        let x = if ty == I32 { x & 0xffff_ffff } else { x };
        self.b.ins().iconst(ty, x as i64)
    }

    // ---- context and helpers -------------------------------------------------------------------------

    fn ctx_load(&mut self, offset: i32) -> Value {
        let fixed = matches!(offset, ctx::STACK_BASE | ctx::STACK_CAP | ctx::MAX_CALL_DEPTH | ctx::HELPERS);
        let flags = if fixed { self.flags.fixed } else { self.flags.ctx };
        self.b.ins().load(I64, flags, self.vmctx, offset)
    }

    fn ctx_store(&mut self, offset: i32, v: Value) {
        self.b.ins().store(self.flags.ctx, v, self.vmctx, offset);
    }

    fn helper_sig(&mut self, which: HelperSig) -> SigRef {
        if let Some(&s) = self.sigs.get(&which) {
            return s;
        }
        let p = AbiParam::new(I64);
        let u = AbiParam::new(I32).uext();
        let status = vec![AbiParam::new(I32)];
        let (params, returns) = match which {
            HelperSig::MemExpand => (vec![p, p, p], status),
            HelperSig::MemCopy => (vec![p, p, p, p], status),
            HelperSig::Hash => (vec![p, u, p, p, p], status),
            HelperSig::DataSize => (vec![p, u], vec![AbiParam::new(I64)]),
            HelperSig::DataLoad => (vec![p, u, p, p], status),
            HelperSig::DataCopy => (vec![p, u, p, p, p], status),
            HelperSig::HostCall => (vec![p, u, p, u, p], status),
            HelperSig::Halt => (vec![p, u, p, p], status),
            HelperSig::WordBinary => (vec![u, p, p, p], vec![]),
            HelperSig::WordTernary => (vec![u, p, p, p, p], vec![]),
        };
        let mut sig = ir::Signature::new(self.call_conv);
        sig.params = params;
        sig.returns = returns;
        let s = self.b.import_signature(sig);
        self.sigs.insert(which, s);
        s
    }

    /// Calls a helper through the table in the context; returns its results.
    fn call_helper(&mut self, offset: i32, which: HelperSig, args: &[Value]) -> Vec<Value> {
        let sig = self.helper_sig(which);
        let table = self.ctx_load(ctx::HELPERS);
        let f = self.b.ins().load(I64, self.flags.fixed, table, offset);
        let call = self.b.ins().call_indirect(sig, f, args);
        self.b.inst_results(call).to_vec()
    }

    /// Calls a helper that returns a status and stops unless it is OK.
    fn call_helper_checked(&mut self, offset: i32, which: HelperSig, args: &[Value]) {
        let status = self.call_helper(offset, which, args)[0];
        self.exit_unless_ok(status);
    }

    fn scratch_slot(&mut self) -> StackSlot {
        if let Some(s) = self.scratch {
            return s;
        }
        let s = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, SCRATCH_WORDS * 32, 4));
        self.scratch = Some(s);
        s
    }

    fn scratch_addr(&mut self, word: u32) -> Value {
        let s = self.scratch_slot();
        self.b.ins().stack_addr(I64, s, (word * 32) as i32)
    }

    /// Stores a word in scratch word `index`; returns its address.
    fn spill(&mut self, index: u32, w: Limbs) -> Value {
        let p = self.scratch_addr(index);
        for (i, &l) in w.iter().enumerate() {
            self.b.ins().store(self.flags.scratch, l, p, (i * 8) as i32);
        }
        p
    }

    fn unspill(&mut self, index: u32) -> Limbs {
        let p = self.scratch_addr(index);
        [0, 1, 2, 3].map(|i| self.b.ins().load(I64, self.flags.scratch, p, i * 8))
    }

    fn word_binary_helper(&mut self, op: BinOp, a: Limbs, c: Limbs) -> Limbs {
        let pa = self.spill(0, a);
        let pc = self.spill(1, c);
        let out = self.scratch_addr(2);
        let code = self.b.ins().iconst(I32, i64::from(abi::binop_code(op)));
        self.call_helper(helper::WORD_BINARY, HelperSig::WordBinary, &[code, pa, pc, out]);
        self.unspill(2)
    }

    /// The word an operand becomes when passed to a helper (`i64`/`i32` zero-extended).
    fn as_word(&mut self, v: zvm_ir::Value) -> Result<Limbs, CompileError> {
        match (self.ty(v), self.val(v)?) {
            (_, Val::Word(w)) => Ok(w),
            (Type::I64, Val::One(x)) => Ok(word::from_low(&mut self.b, x)),
            (Type::I32, Val::One(x)) => {
                let x = self.b.ins().uextend(I64, x);
                Ok(word::from_low(&mut self.b, x))
            }
            (t, _) => Err(CompileError::InvalidIr(format!("{v}: a {t} cannot be passed as a word"))),
        }
    }

    // ---- instructions --------------------------------------------------------------------------------

    fn translate_inst(&mut self, inst: Inst) -> Result<(), CompileError> {
        let op = &self.func.inst(inst).op;
        match op {
            Op::Iconst { ty, imm } => {
                let (v, k) = match ty {
                    Type::I32 => (self.int_const(I32, *imm as u64), U256::from(*imm as u32)),
                    Type::I64 => (self.b.ins().iconst(I64, *imm), U256::from(*imm as u64)),
                    t => return unsupported(format!("iconst of type {t}")),
                };
                self.consts[self.func.inst(inst).results[0].index()] = Some(k);
                self.define(inst, 0, Val::One(v))?;
            }
            Op::Fconst { ty, bits } => {
                let v = match ty {
                    Type::F32 => self.b.ins().f32const(Ieee32::with_bits(*bits as u32)),
                    Type::F64 => self.b.ins().f64const(Ieee64::with_bits(*bits)),
                    t => return unsupported(format!("fconst of type {t}")),
                };
                self.define(inst, 0, Val::One(v))?;
            }
            Op::Wconst { imm } => {
                let w = word::konst(&mut self.b, *imm);
                self.consts[self.func.inst(inst).results[0].index()] = Some(*imm);
                self.define(inst, 0, Val::Word(w))?;
            }
            Op::Unary { op, arg } => {
                let v = self.unary(*op, *arg)?;
                self.define(inst, 0, v)?;
            }
            Op::Binary { op, args } => {
                let v = self.binary(*op, args[0], args[1])?;
                self.define(inst, 0, v)?;
            }
            Op::Ternary { op, args } => {
                let v = self.ternary(*op, *args)?;
                self.define(inst, 0, v)?;
            }
            Op::Convert { op, to, arg } => {
                let v = self.convert(*op, *to, *arg)?;
                let known = self.consts[arg.index()].and_then(|c| fold_convert(*op, self.ty(*arg), *to, c));
                self.consts[self.func.inst(inst).results[0].index()] = known;
                self.define(inst, 0, v)?;
            }
            Op::Select { cond, args } => {
                let c = self.cond(*cond)?;
                let v = match (self.val(args[0])?, self.val(args[1])?) {
                    (Val::One(x), Val::One(y)) => Val::One(self.b.ins().select(c, x, y)),
                    (Val::Word(x), Val::Word(y)) => Val::Word([0, 1, 2, 3].map(|i| self.b.ins().select(c, x[i], y[i]))),
                    _ => return Err(CompileError::InvalidIr("select of mismatched types".into())),
                };
                self.define(inst, 0, v)?;
            }

            Op::Load { ty, access, addr } => {
                let result = self.func.inst(inst).results[0];
                let v = self.load(*ty, *access, *addr, self.used[result.index()])?;
                self.define(inst, 0, v)?;
            }
            Op::Store { access, addr, value } => self.store(*access, *addr, *value)?,
            Op::MemSize => {
                let v = self.ctx_load(ctx::MEM_LEN);
                self.define(inst, 0, Val::One(v))?;
            }
            Op::MemExpand { args } => self.mem_expand(args[0], args[1])?,
            Op::MemCopy { args } => {
                let a = [self.i64_arg(args[0])?, self.i64_arg(args[1])?, self.i64_arg(args[2])?];
                self.call_helper_checked(helper::MEM_COPY, HelperSig::MemCopy, &[self.vmctx, a[0], a[1], a[2]]);
            }
            Op::Hash { alg, args } => {
                let (off, len) = (self.i64_arg(args[0])?, self.i64_arg(args[1])?);
                let alg = self.b.ins().iconst(I32, i64::from(abi::hash_alg_code(*alg)));
                let out = self.scratch_addr(OUT_WORD);
                self.call_helper_checked(helper::HASH, HelperSig::Hash, &[self.vmctx, alg, off, len, out]);
                let w = self.unspill(OUT_WORD);
                self.define(inst, 0, Val::Word(w))?;
            }

            Op::DataSize { src } => {
                let src = self.data_src(*src);
                let v = self.call_helper(helper::DATA_SIZE, HelperSig::DataSize, &[self.vmctx, src])[0];
                self.define(inst, 0, Val::One(v))?;
            }
            Op::DataLoad { src, arg } => {
                let offset = self.word(*arg)?;
                let src = self.data_src(*src);
                let p = self.spill(0, offset);
                let out = self.scratch_addr(OUT_WORD);
                self.call_helper_checked(helper::DATA_LOAD, HelperSig::DataLoad, &[self.vmctx, src, p, out]);
                let w = self.unspill(OUT_WORD);
                self.define(inst, 0, Val::Word(w))?;
            }
            Op::DataCopy { src, args } => {
                let dst = self.i64_arg(args[0])?;
                let offset = self.word(args[1])?;
                let len = self.i64_arg(args[2])?;
                let src = self.data_src(*src);
                let p = self.spill(0, offset);
                self.call_helper_checked(helper::DATA_COPY, HelperSig::DataCopy, &[self.vmctx, src, dst, p, len]);
            }

            Op::StackCheck { min, growth } => self.stack_check(*min, *growth),
            Op::StackGet { depth } => {
                // Reading the stack has no effect: skip it if nothing uses the value.
                let result = self.func.inst(inst).results[0];
                if self.used[result.index()] {
                    let p = self.stack_item(*depth);
                    let w = [0, 1, 2, 3].map(|i| self.b.ins().load(I64, self.flags.stack, p, i * 8));
                    self.define(inst, 0, Val::Word(w))?;
                }
            }
            Op::StackSet { depth, value } => {
                let w = self.word(*value)?;
                let p = self.stack_item(*depth);
                for (i, &l) in w.iter().enumerate() {
                    self.b.ins().store(self.flags.stack, l, p, (i * 8) as i32);
                }
            }
            Op::StackAdjust { delta } => {
                if *delta != 0 {
                    let len = self.ctx_load(ctx::STACK_LEN);
                    let len = self.b.ins().iadd_imm_s(len, i64::from(*delta));
                    self.ctx_store(ctx::STACK_LEN, len);
                }
            }

            Op::GasCost { amount } | Op::GasBlock { amount } => {
                if *amount != 0 {
                    let amount = self.b.ins().iconst(I64, *amount as i64);
                    self.charge(amount);
                }
            }
            Op::GasCharge { arg } => {
                let amount = self.i64_arg(*arg)?;
                self.charge(amount);
            }
            Op::GasLeft => {
                let g = self.ctx_load(ctx::GAS_LEFT);
                self.define(inst, 0, Val::One(g))?;
            }

            Op::HostCall { func, args } => self.host_call(inst, *func, args)?,
            Op::Call { func, args } => self.call(inst, *func, args)?,

            Op::Jump { dest } => {
                let target = self.target(dest.block)?;
                let args = self.block_args(&dest.args)?;
                self.b.ins().jump(target, &args);
            }
            Op::Brif { cond, then_dest, else_dest } => {
                let c = self.cond(*cond)?;
                let t = self.target(then_dest.block)?;
                let e = self.target(else_dest.block)?;
                let targs = self.block_args(&then_dest.args)?;
                let eargs = self.block_args(&else_dest.args)?;
                if t == e {
                    // Both edges to one block: give the else edge its own block.
                    let mid = self.b.create_block();
                    self.b.ins().brif(c, t, &targs, mid, &[]);
                    self.b.switch_to_block(mid);
                    self.b.ins().jump(e, &eargs);
                } else {
                    self.b.ins().brif(c, t, &targs, e, &eargs);
                }
            }
            Op::Switch { index, cases, default } => {
                let idx = self.i64_arg(*index)?;
                let mut sw = Switch::new();
                let mut seen = HashSet::new();
                for &(value, blk) in cases {
                    // The first case with a value wins.
                    if seen.insert(value) {
                        let t = self.target(blk)?;
                        sw.set_entry(u128::from(value), t);
                    }
                }
                let d = self.target(*default)?;
                sw.emit(&mut self.b, idx, d);
            }
            Op::Return { args } => {
                let mut rets = vec![self.b.ins().iconst(I32, i64::from(abi::STATUS_OK))];
                for &a in args {
                    rets.extend(self.val(a)?.lanes());
                }
                self.b.ins().return_(&rets);
            }
            Op::Halt { kind, args } => {
                let (off, len) = (self.i64_arg(args[0])?, self.i64_arg(args[1])?);
                let kind = self.b.ins().iconst(
                    I32,
                    match kind {
                        HaltKind::Return => 0,
                        HaltKind::Revert => 1,
                    },
                );
                let status = self.call_helper(helper::HALT, HelperSig::Halt, &[self.vmctx, kind, off, len])[0];
                // The helper always stops; never let a (buggy) OK status look like a normal return.
                let host_error = self.b.ins().iconst(I32, i64::from(trap_status(TrapCode::HostError)));
                let status = self.b.ins().select(status, status, host_error);
                let exit = self.dyn_exit_block();
                self.b.ins().jump(exit, &[BlockArg::Value(status)]);
            }
            Op::Trap { code } => self.exit_with(trap_status(*code)),
            Op::FUnary { .. }
            | Op::FBinary { .. }
            | Op::MemGrow { .. }
            | Op::MemFill { .. }
            | Op::MemInit { .. }
            | Op::DataDrop { .. }
            | Op::GlobalGet { .. }
            | Op::GlobalSet { .. } => return unsupported(format!("{op:?}")),
        }
        Ok(())
    }

    fn data_src(&mut self, src: DataSrc) -> Value {
        self.b.ins().iconst(I32, i64::from(abi::data_src_code(src)))
    }

    // ---- arithmetic ----------------------------------------------------------------------------------

    fn unary(&mut self, op: UnOp, arg: zvm_ir::Value) -> Result<Val, CompileError> {
        let b = &mut self.b;
        Ok(match self.values[arg.index()] {
            Some(Val::Word(a)) => Val::Word(match op {
                UnOp::Not => word::not(b, a),
                UnOp::Eqz => {
                    let z = word::is_zero(b, a);
                    word::from_flag(b, z)
                }
                UnOp::Clz => word::clz(b, a),
                UnOp::Ctz => word::ctz(b, a),
                UnOp::Popcnt => word::popcnt(b, a),
            }),
            Some(Val::One(a)) => {
                if self.func.value_type(arg).is_float() {
                    return unsupported("float arithmetic");
                }
                Val::One(match op {
                    UnOp::Not => b.ins().bnot(a),
                    UnOp::Eqz => {
                        let z = b.ins().icmp_imm_u(IntCC::Equal, a, 0);
                        b.ins().uextend(I32, z)
                    }
                    UnOp::Clz => b.ins().clz(a),
                    UnOp::Ctz => b.ins().ctz(a),
                    UnOp::Popcnt => b.ins().popcnt(a),
                })
            }
            None => return Err(CompileError::InvalidIr(format!("{arg} is used before it is defined"))),
        })
    }

    fn binary(&mut self, op: BinOp, x: zvm_ir::Value, y: zvm_ir::Value) -> Result<Val, CompileError> {
        match self.ty(x) {
            Type::W256 => {
                let (a, c) = (self.word(x)?, self.word(y)?);
                let known = (self.consts[x.index()], self.consts[y.index()]);
                Ok(Val::Word(self.word_binary(op, a, c, known)))
            }
            Type::I32 | Type::I64 => {
                let ty = if self.ty(x) == Type::I32 { I32 } else { I64 };
                let (a, c) = (self.scalar(x)?, self.scalar(y)?);
                Ok(Val::One(self.int_binary(op, ty, a, c)))
            }
            t => unsupported(format!("{op:?} on {t}")),
        }
    }

    /// A `w256` binary operation; `known` holds the operands that are compile-time constants.
    fn word_binary(&mut self, op: BinOp, a: Limbs, c: Limbs, known: (Option<U256>, Option<U256>)) -> Limbs {
        let (a_const, c_const) = known;
        // Peepholes for constant operands that turn a helper call into a few instructions.
        let pow2 = |k: Option<U256>| k.filter(|k| k.is_power_of_two()).map(|k| k.trailing_zeros());
        match op {
            BinOp::Mul => {
                if let Some(k) = pow2(c_const) {
                    return word::shift_const(&mut self.b, a, U256::from(k), Shift::Left);
                }
            }
            BinOp::DivU => {
                if let Some(k) = pow2(c_const) {
                    return word::shift_const(&mut self.b, a, U256::from(k), Shift::RightLogical);
                }
                if c_const == Some(U256::ZERO) {
                    return word::konst(&mut self.b, U256::ZERO);
                }
            }
            BinOp::RemU => {
                if let Some(k) = pow2(c_const) {
                    let mask = word::konst(&mut self.b, (U256::from(1u8) << k) - U256::from(1u8));
                    return word::bitwise(&mut self.b, a, mask, |b, x, y| b.ins().band(x, y));
                }
                if c_const == Some(U256::ZERO) {
                    return word::konst(&mut self.b, U256::ZERO);
                }
            }
            BinOp::SignExtend => {
                if let Some(i) = a_const {
                    return word::signextend_const(&mut self.b, i, c);
                }
            }
            BinOp::Byte => {
                if let Some(i) = a_const {
                    return word::byte_const(&mut self.b, i, c);
                }
            }
            _ => {}
        }
        let b = &mut self.b;
        let flag = |b: &mut FunctionBuilder<'_>, f: Value| word::from_flag(b, f);
        match op {
            BinOp::Add => word::add(b, a, c),
            BinOp::Sub => word::sub(b, a, c),
            BinOp::Mul => word::mul(b, a, c),
            BinOp::And => word::bitwise(b, a, c, |b, x, y| b.ins().band(x, y)),
            BinOp::Or => word::bitwise(b, a, c, |b, x, y| b.ins().bor(x, y)),
            BinOp::Xor => word::bitwise(b, a, c, |b, x, y| b.ins().bxor(x, y)),
            BinOp::Shl | BinOp::ShrU | BinOp::ShrS => {
                let kind = match op {
                    BinOp::Shl => Shift::Left,
                    BinOp::ShrU => Shift::RightLogical,
                    _ => Shift::RightArithmetic,
                };
                match c_const {
                    Some(n) => word::shift_const(b, a, n, kind),
                    None => word::shift(b, a, c, kind),
                }
            }
            BinOp::Eq => {
                let f = word::eq(b, a, c);
                flag(b, f)
            }
            BinOp::Ne => {
                let f = word::eq(b, a, c);
                let f = b.ins().bxor_imm_u(f, 1);
                flag(b, f)
            }
            BinOp::LtU | BinOp::LtS | BinOp::GtU | BinOp::GtS | BinOp::LeU | BinOp::LeS | BinOp::GeU | BinOp::GeS => {
                let signed = matches!(op, BinOp::LtS | BinOp::GtS | BinOp::LeS | BinOp::GeS);
                // Gt/Le swap the operands; Le/Ge negate.
                let swap = matches!(op, BinOp::GtU | BinOp::GtS | BinOp::LeU | BinOp::LeS);
                let negate = matches!(op, BinOp::LeU | BinOp::LeS | BinOp::GeU | BinOp::GeS);
                let f = if swap { word::lt(b, c, a, signed) } else { word::lt(b, a, c, signed) };
                let f = if negate { b.ins().bxor_imm_u(f, 1) } else { f };
                flag(b, f)
            }
            BinOp::DivU
            | BinOp::DivS
            | BinOp::RemU
            | BinOp::RemS
            | BinOp::Exp
            | BinOp::SignExtend
            | BinOp::Byte
            | BinOp::Rotl
            | BinOp::Rotr => self.word_binary_helper(op, a, c),
        }
    }

    fn int_binary(&mut self, op: BinOp, ty: ir::Type, a: Value, c: Value) -> Value {
        let bits = ty.bits();
        let min = 1u64 << (bits - 1);
        let all = if bits == 32 { 0xffff_ffffu64 } else { u64::MAX };
        let cmp = |t: &mut Self, cc: IntCC| {
            let f = t.b.ins().icmp(cc, a, c);
            t.b.ins().uextend(I32, f)
        };
        match op {
            BinOp::Add => self.b.ins().iadd(a, c),
            BinOp::Sub => self.b.ins().isub(a, c),
            BinOp::Mul => self.b.ins().imul(a, c),
            BinOp::And => self.b.ins().band(a, c),
            BinOp::Or => self.b.ins().bor(a, c),
            BinOp::Xor => self.b.ins().bxor(a, c),
            BinOp::Shl => self.b.ins().ishl(a, c),
            BinOp::ShrU => self.b.ins().ushr(a, c),
            BinOp::ShrS => self.b.ins().sshr(a, c),
            BinOp::Rotl => self.b.ins().rotl(a, c),
            BinOp::Rotr => self.b.ins().rotr(a, c),
            BinOp::DivU | BinOp::RemU | BinOp::DivS | BinOp::RemS => {
                let z = self.b.ins().icmp_imm_u(IntCC::Equal, c, 0);
                self.exit_if(z, trap_status(TrapCode::IntegerDivByZero));
                let minus_one = self.int_const(ty, all);
                match op {
                    BinOp::DivU => self.b.ins().udiv(a, c),
                    BinOp::RemU => self.b.ins().urem(a, c),
                    BinOp::DivS => {
                        let m = self.int_const(ty, min);
                        let a_min = self.b.ins().icmp(IntCC::Equal, a, m);
                        let c_neg1 = self.b.ins().icmp(IntCC::Equal, c, minus_one);
                        let ov = self.b.ins().band(a_min, c_neg1);
                        self.exit_if(ov, trap_status(TrapCode::IntegerOverflow));
                        self.b.ins().sdiv(a, c)
                    }
                    _ => {
                        // x % -1 = 0 (and MIN % -1 must not overflow): divide by 1 instead.
                        let one = self.int_const(ty, 1);
                        let c_neg1 = self.b.ins().icmp(IntCC::Equal, c, minus_one);
                        let d = self.b.ins().select(c_neg1, one, c);
                        self.b.ins().srem(a, d)
                    }
                }
            }
            BinOp::Eq => cmp(self, IntCC::Equal),
            BinOp::Ne => cmp(self, IntCC::NotEqual),
            BinOp::LtU => cmp(self, IntCC::UnsignedLessThan),
            BinOp::LtS => cmp(self, IntCC::SignedLessThan),
            BinOp::GtU => cmp(self, IntCC::UnsignedGreaterThan),
            BinOp::GtS => cmp(self, IntCC::SignedGreaterThan),
            BinOp::LeU => cmp(self, IntCC::UnsignedLessThanOrEqual),
            BinOp::LeS => cmp(self, IntCC::SignedLessThanOrEqual),
            BinOp::GeU => cmp(self, IntCC::UnsignedGreaterThanOrEqual),
            BinOp::GeS => cmp(self, IntCC::SignedGreaterThanOrEqual),
            BinOp::Exp | BinOp::SignExtend | BinOp::Byte => {
                // Word-only operations (rejected by the verifier on narrow types); defined like the reference:
                // on the zero-extended operands, keeping the low bits.
                let (a64, c64) =
                    if ty == I32 { (self.b.ins().uextend(I64, a), self.b.ins().uextend(I64, c)) } else { (a, c) };
                let wa = word::from_low(&mut self.b, a64);
                let wc = word::from_low(&mut self.b, c64);
                let r = self.word_binary_helper(op, wa, wc)[0];
                if ty == I32 {
                    self.b.ins().ireduce(I32, r)
                } else {
                    r
                }
            }
        }
    }

    fn ternary(&mut self, op: TernOp, args: [zvm_ir::Value; 3]) -> Result<Val, CompileError> {
        let w = [self.word(args[0])?, self.word(args[1])?, self.word(args[2])?];
        let p = [self.spill(0, w[0]), self.spill(1, w[1]), self.spill(2, w[2])];
        let out = self.scratch_addr(3);
        let code = self.b.ins().iconst(I32, i64::from(abi::ternop_code(op)));
        self.call_helper(helper::WORD_TERNARY, HelperSig::WordTernary, &[code, p[0], p[1], p[2], out]);
        Ok(Val::Word(self.unspill(3)))
    }

    fn convert(&mut self, op: ConvOp, to: Type, arg: zvm_ir::Value) -> Result<Val, CompileError> {
        let from = self.ty(arg);
        let v = self.val(arg)?;
        let b = &mut self.b;
        let bad = || unsupported(format!("{op:?} from {from} to {to}"));
        Ok(match (op, from, to, v) {
            (ConvOp::SatU64, Type::W256, _, Val::Word(w)) => {
                let high = b.ins().bor(w[1], w[2]);
                let high = b.ins().bor(high, w[3]);
                let max = b.ins().iconst(I64, -1);
                Val::One(b.ins().select(high, max, w[0]))
            }
            (ConvOp::SatU64, Type::I64, _, v) => v,
            (ConvOp::SatU64, Type::I32, _, Val::One(x)) => Val::One(b.ins().uextend(I64, x)),
            (_, f, t, v) if f == t => v,
            (ConvOp::Zext, Type::I32, Type::I64, Val::One(x)) => Val::One(b.ins().uextend(I64, x)),
            (ConvOp::Zext, Type::I32, Type::W256, Val::One(x)) => {
                let x = b.ins().uextend(I64, x);
                Val::Word(word::from_low(b, x))
            }
            (ConvOp::Zext, Type::I64, Type::W256, Val::One(x)) => Val::Word(word::from_low(b, x)),
            (ConvOp::Sext, Type::I32, Type::I64, Val::One(x)) => Val::One(b.ins().sextend(I64, x)),
            (ConvOp::Sext, Type::I32, Type::W256, Val::One(x)) => {
                let x = b.ins().sextend(I64, x);
                Val::Word(word::from_i64_signed(b, x))
            }
            (ConvOp::Sext, Type::I64, Type::W256, Val::One(x)) => Val::Word(word::from_i64_signed(b, x)),
            (ConvOp::Trunc, Type::I64, Type::I32, Val::One(x)) => Val::One(b.ins().ireduce(I32, x)),
            (ConvOp::Trunc, Type::W256, Type::I64, Val::Word(w)) => Val::One(w[0]),
            (ConvOp::Trunc, Type::W256, Type::I32, Val::Word(w)) => Val::One(b.ins().ireduce(I32, w[0])),
            _ => return bad(),
        })
    }

    // ---- memory --------------------------------------------------------------------------------------

    /// Bounds-checks `[addr + offset, addr + offset + width)` against the current memory size (stopping with
    /// `heap_oob` outside it) and returns the native address of its first byte. `known` is the address if
    /// it is a compile-time constant, which folds the end of the range.
    fn heap_addr(&mut self, addr: Value, known: Option<u64>, offset: u32, width: u32) -> Value {
        let extent = u64::from(offset) + u64::from(width);
        let len = self.ctx_load(ctx::MEM_LEN);
        let bad = match known.and_then(|a| a.checked_add(extent)) {
            Some(end) => self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, len, end as i64),
            None => {
                let k = self.b.ins().iconst(I64, extent as i64);
                let (end, overflow) = self.b.ins().uadd_overflow(addr, k);
                let past = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, len);
                self.b.ins().bor(overflow, past)
            }
        };
        self.exit_if(bad, trap_status(TrapCode::MemoryOutOfBounds));
        let base = self.ctx_load(ctx::MEM_BASE);
        let p = self.b.ins().iadd(base, addr);
        if offset == 0 {
            p
        } else {
            self.b.ins().iadd_imm_s(p, i64::from(offset))
        }
    }

    /// The value of an `i64` operand if it is a compile-time constant.
    fn known_u64(&self, v: zvm_ir::Value) -> Option<u64> {
        self.consts.get(v.index()).copied().flatten().and_then(|c| u64::try_from(c).ok())
    }

    /// A load; with `used` false only its bounds check (the trap is observable, the value is not).
    fn load(&mut self, ty: Type, access: MemAccess, addr: zvm_ir::Value, used: bool) -> Result<Val, CompileError> {
        let width = u32::from(access.width);
        if !matches!(width, 1 | 2 | 4 | 8 | 32) || width > ty.bytes() || (width == 32 && ty != Type::W256) {
            return unsupported(format!("load of {width} bytes into {ty}"));
        }
        let known = self.known_u64(addr);
        let addr = self.i64_arg(addr)?;
        let p = self.heap_addr(addr, known, access.offset, width);
        let heap = self.flags.heap;
        if !used {
            // Any value of the right shape: nothing reads it.
            return Ok(match ty {
                Type::W256 => Val::Word([p; 4]),
                Type::I64 => Val::One(p),
                Type::I32 => Val::One(self.b.ins().ireduce(I32, p)),
                Type::F32 => Val::One(self.b.ins().f32const(Ieee32::with_bits(0))),
                Type::F64 => Val::One(self.b.ins().f64const(Ieee64::with_bits(0))),
            });
        }
        if width == 32 {
            let w = [0, 1, 2, 3].map(|i| {
                if access.big_endian {
                    let x = self.b.ins().load(I64, heap, p, (3 - i) * 8);
                    self.b.ins().bswap(x)
                } else {
                    self.b.ins().load(I64, heap, p, i * 8)
                }
            });
            return Ok(Val::Word(w));
        }
        let int_ty = ir::Type::int(width as u16 * 8).expect("valid width");
        let mut x = self.b.ins().load(int_ty, heap, p, 0);
        if access.big_endian && width > 1 {
            x = self.b.ins().bswap(x);
        }
        Ok(match ty {
            Type::F32 | Type::F64 => {
                let fty = if ty == Type::F32 { F32 } else { F64 };
                Val::One(self.b.ins().bitcast(fty, MemFlagsData::new(), x))
            }
            Type::I32 | Type::I64 | Type::W256 => {
                let target = if ty == Type::I32 { I32 } else { I64 };
                let x = match (int_ty == target, access.signed) {
                    (true, _) => x,
                    (false, true) => self.b.ins().sextend(target, x),
                    (false, false) => self.b.ins().uextend(target, x),
                };
                if ty == Type::W256 {
                    if access.signed {
                        Val::Word(word::from_i64_signed(&mut self.b, x))
                    } else {
                        Val::Word(word::from_low(&mut self.b, x))
                    }
                } else {
                    Val::One(x)
                }
            }
        })
    }

    fn store(&mut self, access: MemAccess, addr: zvm_ir::Value, value: zvm_ir::Value) -> Result<(), CompileError> {
        let width = u32::from(access.width);
        let ty = self.ty(value);
        if !matches!(width, 1 | 2 | 4 | 8 | 32) || width > ty.bytes() || (width == 32 && ty != Type::W256) {
            return unsupported(format!("store of {width} bytes of a {ty}"));
        }
        let v = self.val(value)?;
        let known = self.known_u64(addr);
        let addr = self.i64_arg(addr)?;
        let p = self.heap_addr(addr, known, access.offset, width);
        let heap = self.flags.heap;
        let low = match v {
            Val::Word(w) if width == 32 => {
                for (i, &l) in w.iter().enumerate() {
                    if access.big_endian {
                        let x = self.b.ins().bswap(l);
                        self.b.ins().store(heap, x, p, ((3 - i) * 8) as i32);
                    } else {
                        self.b.ins().store(heap, l, p, (i * 8) as i32);
                    }
                }
                return Ok(());
            }
            Val::Word(w) => w[0],
            Val::One(x) => match ty {
                Type::F32 => self.b.ins().bitcast(I32, MemFlagsData::new(), x),
                Type::F64 => self.b.ins().bitcast(I64, MemFlagsData::new(), x),
                _ => x,
            },
        };
        let int_ty = ir::Type::int(width as u16 * 8).expect("valid width");
        let mut x = if self.b.func.dfg.value_type(low) == int_ty { low } else { self.b.ins().ireduce(int_ty, low) };
        if access.big_endian && width > 1 {
            x = self.b.ins().bswap(x);
        }
        self.b.ins().store(heap, x, p, 0);
        Ok(())
    }

    fn mem_expand(&mut self, offset: zvm_ir::Value, len: zvm_ir::Value) -> Result<(), CompileError> {
        let (known_off, known_len) = (self.consts[offset.index()], self.consts[len.index()]);
        let (off, len) = (self.word(offset)?, self.word(len)?);
        // Inline fast path: nothing to do if the length is zero or the range already fits in memory (the
        // helper checks the same before doing anything).
        let skip = match (known_off, known_len) {
            (_, Some(l)) if l.is_zero() => return Ok(()),
            (Some(o), Some(l)) => match o.checked_add(l).and_then(|e| u64::try_from(e).ok()) {
                Some(end) => {
                    let size = self.ctx_load(ctx::MEM_LEN);
                    Some(self.b.ins().icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, size, end as i64))
                }
                // Past 2^64: always the helper (which runs out of gas).
                None => None,
            },
            _ => {
                let len_zero = word::is_zero(&mut self.b, len);
                let h1 = self.b.ins().bor(off[1], off[2]);
                let h2 = self.b.ins().bor(off[3], len[1]);
                let h3 = self.b.ins().bor(len[2], len[3]);
                let high = self.b.ins().bor(h1, h2);
                let high = self.b.ins().bor(high, h3);
                let high_zero = self.b.ins().icmp_imm_u(IntCC::Equal, high, 0);
                let (end, overflow) = self.b.ins().uadd_overflow(off[0], len[0]);
                let size = self.ctx_load(ctx::MEM_LEN);
                let inside = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, end, size);
                let no_overflow = self.b.ins().bxor_imm_u(overflow, 1);
                let fits = self.b.ins().band(high_zero, inside);
                let fits = self.b.ins().band(fits, no_overflow);
                Some(self.b.ins().bor(len_zero, fits))
            }
        };
        let cont = self.b.create_block();
        if let Some(skip) = skip {
            let slow = self.b.create_block();
            self.b.set_cold_block(slow);
            self.b.ins().brif(skip, cont, &[], slow, &[]);
            self.b.switch_to_block(slow);
        }
        let po = self.spill(0, off);
        let pl = self.spill(1, len);
        self.call_helper_checked(helper::MEM_EXPAND, HelperSig::MemExpand, &[self.vmctx, po, pl]);
        self.b.ins().jump(cont, &[]);
        self.b.switch_to_block(cont);
        Ok(())
    }

    // ---- operand stack, gas --------------------------------------------------------------------------

    /// Address of the stack item `depth` below the top, masked into the buffer.
    fn stack_item(&mut self, depth: u32) -> Value {
        let len = self.ctx_load(ctx::STACK_LEN);
        let cap = self.ctx_load(ctx::STACK_CAP);
        let base = self.ctx_load(ctx::STACK_BASE);
        let i = self.b.ins().iadd_imm_s(len, -1 - i64::from(depth));
        let mask = self.b.ins().iadd_imm_s(cap, -1);
        let i = self.b.ins().band(i, mask);
        let off = self.b.ins().ishl_imm_u(i, 5);
        self.b.ins().iadd(base, off)
    }

    fn stack_check(&mut self, min: u32, growth: u32) {
        let len = self.ctx_load(ctx::STACK_LEN);
        if min > 0 {
            let under = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, len, i64::from(min));
            self.exit_if(under, trap_status(TrapCode::StackUnderflow));
        }
        let cap = self.ctx_load(ctx::STACK_CAP);
        let g = self.b.ins().iconst(I64, i64::from(growth));
        let (after, overflow) = self.b.ins().uadd_overflow(len, g);
        let past = self.b.ins().icmp(IntCC::UnsignedGreaterThan, after, cap);
        let over = self.b.ins().bor(overflow, past);
        self.exit_if(over, trap_status(TrapCode::StackOverflow));
    }

    /// Charges `amount` (an `i64`, unsigned): out of gas, with the counter untouched, if less is left.
    fn charge(&mut self, amount: Value) {
        let g = self.ctx_load(ctx::GAS_LEFT);
        let (left, borrow) = self.b.ins().usub_overflow(g, amount);
        self.exit_if(borrow, abi::STATUS_OUT_OF_GAS);
        self.ctx_store(ctx::GAS_LEFT, left);
    }

    // ---- host and calls ------------------------------------------------------------------------------

    fn host_call(&mut self, inst: Inst, func: HostFn, args: &[zvm_ir::Value]) -> Result<(), CompileError> {
        let (params, results) = func.signature();
        if params.len() != args.len() || args.len() > OUT_WORD as usize {
            return Err(CompileError::InvalidIr(format!("{} takes {} arguments", func.name(), params.len())));
        }
        for (i, &a) in args.iter().enumerate() {
            let w = self.as_word(a)?;
            self.spill(i as u32, w);
        }
        let code = self.b.ins().iconst(I32, i64::from(abi::host_fn_code(func)));
        let argp = self.scratch_addr(0);
        let nargs = self.b.ins().iconst(I32, args.len() as i64);
        let out = self.scratch_addr(OUT_WORD);
        self.call_helper_checked(helper::HOST_CALL, HelperSig::HostCall, &[self.vmctx, code, argp, nargs, out]);
        if !results.is_empty() {
            let w = self.unspill(OUT_WORD);
            self.define(inst, 0, Val::Word(w))?;
        }
        Ok(())
    }

    fn call(&mut self, inst: Inst, callee: FuncId, args: &[zvm_ir::Value]) -> Result<(), CompileError> {
        let target = self
            .module
            .functions
            .get(callee.index())
            .ok_or_else(|| CompileError::InvalidIr(format!("call to missing function {callee}")))?;
        let fref = match self.callees.get(&callee) {
            Some(&f) => f,
            None => {
                let f = import_callee(&mut self.b, self.module, callee, self.call_conv);
                self.callees.insert(callee, f);
                f
            }
        };
        let mut cargs = vec![self.vmctx];
        for &a in args {
            cargs.extend(self.val(a)?.lanes());
        }
        // Depth limit: trap before entering the callee.
        let depth = self.ctx_load(ctx::CALL_DEPTH);
        let max = self.ctx_load(ctx::MAX_CALL_DEPTH);
        let exhausted = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, depth, max);
        self.exit_if(exhausted, trap_status(TrapCode::CallStackExhausted));
        let deeper = self.b.ins().iadd_imm_s(depth, 1);
        self.ctx_store(ctx::CALL_DEPTH, deeper);
        let call = self.b.ins().call(fref, &cargs);
        let rets = self.b.inst_results(call).to_vec();
        self.ctx_store(ctx::CALL_DEPTH, depth);
        self.exit_unless_ok(rets[0]);
        let mut i = 1;
        for (n, &t) in target.sig.results.iter().enumerate() {
            let k = lanes(t).len();
            let v = Self::val_from_lanes(t, &rets[i..i + k]);
            self.define(inst, n, v)?;
            i += k;
        }
        Ok(())
    }
}
