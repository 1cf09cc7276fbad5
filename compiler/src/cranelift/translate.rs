//! Translation of zvm IR functions into Cranelift IR functions.
//!
//! Nothing here depends on how the result is emitted: the functions take a [`TargetIsa`] (for the
//! calling convention and frontend configuration) and return plain `cranelift_codegen::ir::Function`s, which
//! the JIT (`jit.rs`) defines in a `JITModule` and an object emitter could equally define in an
//! `ObjectModule`. Calls between functions of a module are `call`s to user external names
//! `(namespace 0, index = IR function index)`; the entry trampoline is `(0, number of functions)`, and the
//! `call_indirect` dispatchers ([`Dispatchers`]) follow it: dispatcher `k` is `(0, number of functions + 1 +
//! k)`.
//! Runtime helpers are never referenced by symbol: their addresses are loaded from the helper table the
//! context points to and called with `call_indirect`, so the code needs no relocations to the runtime.
//!
//! # Calling convention of translated functions
//! Every IR function becomes `fn(vmctx: i64, gas: i64, depth_left: i64, params...) -> (status: i32, gas:
//! i64, results...)` in Cranelift's `tail` calling convention, which (like wasmtime's calls between wasm
//! functions) returns up to eight integers in registers where the platform's C convention returns two
//! (`enable_multi_ret_implicit_sret` covers the rest). A `w256` parameter or result is four `i64` limbs,
//! least significant first.
//! - `gas` is the gas left: passed in and handed back in registers, so a call costs no store and reload
//!   of the counter on either side.
//! - `depth_left` is how many further nested calls are allowed: a call traps `call_stack_exhausted` when it
//!   is 0 and passes it on less one. The context's `call_depth` is the depth a run starts at (the
//!   trampoline derives `depth_left` from it and `max_call_depth`); compiled code sets it only around a
//!   call into another instance, which counts on from it.
//! - `status` is [`abi::STATUS_OK`] when the function returned normally. Any other status means execution
//!   stopped (halt, out of gas, trap): the function that stopped wrote the gas left to the context, and
//!   the returned gas and results are meaningless zeros. Callers check the status after every call and
//!   return it unchanged, so a stop deep in a call chain unwinds through every native frame by plain
//!   returns.
//!
//! The trampoline `fn(vmctx, func: i32, values: i64) -> i32` ([`super::EntryFn`], the platform's C
//! convention) calls function `func` with the context's gas and parameters loaded from `values`, stores
//! the gas and results back and returns the status.
//!
//! # Tables and `call_indirect`
//! Table operations are helper calls (the tables live in the runtime's frame). `call_indirect TY T i`
//! finds its callee inline through the table views the runtime publishes in `ctx.tables` (bounds and
//! null checks, and a reference of this instance decoded to a function index), or through the
//! `call_indirect_target` helper for a reference of another instance. A function of this module is then
//! called through the module's function table ([`FUNC_TABLE`], read-only data in the code image): one
//! entry per function, its code address and its signature class (functions with equal signatures share
//! one), which the call site compares with `TY`'s before checking the depth and calling the address, as
//! wasmtime calls through its `VMFuncRef`s. A reference of another instance ([`abi::FOREIGN_FUNC`]) goes
//! to the dispatcher of `TY`'s signature, one per distinct signature some `call_indirect` uses,
//! `fn(vmctx, gas, depth_left, func: i32, params...) -> (status, gas, results...)`, which calls it through
//! the `call_foreign` helper. The call graph stays explicit for the native stack bound
//! ([`super::StackBound::from_frames`]): a `call_indirect` may call every function of its signature.

use super::native::Dispatch;
use super::word::{self, Limbs, Shift};
use super::CompileError;
use crate::abi::{self, ctx_offsets as ctx, helper_offsets as helper};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64, Imm64};
use cranelift_codegen::ir::types::{F32, F64, I32, I64};
use cranelift_codegen::ir::{
    self, AbiParam, AliasRegionData, BlockArg, Endianness, ExtFuncData, ExternalName, FuncRef, GlobalValue,
    GlobalValueData, InstBuilder, InstructionData, MemFlagsData, Opcode, SigRef, StackSlot, StackSlotData,
    StackSlotKind, UserExternalName, UserFuncName, Value, ValueDef,
};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Switch, Variable};
use std::collections::{HashMap, HashSet};
use zvm_ir::semantics::{CANONICAL_NAN_F32, CANONICAL_NAN_F64};
use zvm_ir::STACK_LIMIT;
use zvm_ir::{
    BinOp, Block, BlockCall, ConvOp, DataSrc, FBinOp, FUnOp, FuncId, HaltKind, HostFn, Inst, MemAccess, Module, Op,
    TernOp, TrapCode, Type, UnOp, U256,
};

/// Most IR blocks of a function that keeps context fields in registers (see [`CachedCtx`]).
const MAX_CACHED_BLOCKS: usize = 4096;

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

/// The calling convention between translated functions and dispatchers (see the module docs).
const INTERNAL_CALL_CONV: CallConv = CallConv::Tail;

/// Leading parameters of a translated function, before the IR parameters: `vmctx`, `gas`, `depth_left`.
const LEADING_PARAMS: usize = 3;
/// Leading results of a translated function, before the IR results: `status`, `gas`.
const LEADING_RESULTS: usize = 2;

/// The Cranelift signature of a translated IR function (see the module docs).
pub fn function_signature(sig: &zvm_ir::Signature) -> ir::Signature {
    let mut s = ir::Signature::new(INTERNAL_CALL_CONV);
    s.params.extend([AbiParam::new(I64); LEADING_PARAMS]);
    s.params.extend(sig.params.iter().flat_map(|&t| lanes(t).iter().map(|&l| AbiParam::new(l))));
    s.returns.extend([AbiParam::new(I32), AbiParam::new(I64)]);
    s.returns.extend(sig.results.iter().flat_map(|&t| lanes(t).iter().map(|&l| AbiParam::new(l))));
    s
}

/// The signature of the native entry point ([`super::EntryFn`]):
/// `extern "C" fn(ctx: *mut VmCtx, func: u32, values: *mut u64) -> u32`.
pub fn entry_signature(call_conv: CallConv) -> ir::Signature {
    let mut s = ir::Signature::new(call_conv);
    s.params.push(AbiParam::new(I64));
    s.params.push(AbiParam::new(I32));
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

/// Whether `isa` rounds floats to integral values (`ceil`, `floor`, `trunc`, `nearest`) with one
/// instruction. x86_64 needs SSE4.1 for that, which the baseline CPU objects are emitted for lacks; there
/// Cranelift would call a libcall (an undefined symbol, which objects must not have), so the translation
/// rounds with integer conversions instead.
fn has_native_rounding(isa: &dyn TargetIsa) -> bool {
    match isa.name() {
        "aarch64" => true,
        "x64" => isa.isa_flags().iter().any(|f| f.name == "has_sse41" && f.as_bool() == Some(true)),
        _ => false,
    }
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

/// The `call_indirect` dispatchers of a module (see the module docs): one per distinct signature that some
/// `call_indirect` of the module uses, numbered in the order of the first type index of each signature.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dispatchers {
    /// Per dispatcher: the first type index with its signature.
    types: Vec<u32>,
    /// Per dispatcher: the functions with its signature, in index order.
    targets: Vec<Vec<u32>>,
    /// Per type of the module: the dispatcher of its signature, if there is one.
    of_type: Vec<Option<u32>>,
}

impl Dispatchers {
    /// The dispatchers `module` needs.
    pub fn of(module: &Module) -> Dispatchers {
        // Types with equal signatures share one dispatcher: `call_indirect` compares signatures.
        let mut first: HashMap<(&[Type], &[Type]), u32> = HashMap::new();
        let canonical: Vec<u32> = module
            .types
            .iter()
            .enumerate()
            .map(|(t, s)| *first.entry((&s.params[..], &s.results[..])).or_insert(t as u32))
            .collect();
        let mut used = vec![false; module.types.len()];
        for f in &module.functions {
            for i in &f.insts {
                if let Op::CallIndirect { ty, .. } = i.op {
                    if let Some(&c) = canonical.get(ty as usize) {
                        used[c as usize] = true;
                    }
                }
            }
        }
        let mut types = Vec::new();
        let mut number = vec![None; module.types.len()];
        for (t, _) in used.iter().enumerate().filter(|(_, &u)| u) {
            number[t] = Some(types.len() as u32);
            types.push(t as u32);
        }
        let mut targets = vec![Vec::new(); types.len()];
        for (f, func) in module.functions.iter().enumerate() {
            let key = (&func.sig.params[..], &func.sig.results[..]);
            if let Some(k) = first.get(&key).and_then(|&c| number[c as usize]) {
                targets[k as usize].push(f as u32);
            }
        }
        let of_type = canonical.iter().map(|&c| number[c as usize]).collect();
        Dispatchers { types, targets, of_type }
    }

    /// How many dispatchers there are.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether the module has no `call_indirect`.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// The dispatcher a `call_indirect` of type `ty` calls.
    pub fn of_type(&self, ty: u32) -> Option<u32> {
        self.of_type.get(ty as usize).copied().flatten()
    }

    /// A type index of dispatcher `k`'s signature.
    pub fn type_of(&self, k: usize) -> u32 {
        self.types[k]
    }

    /// The functions dispatcher `k` can call: those with its signature.
    pub fn targets(&self, k: usize) -> &[u32] {
        &self.targets[k]
    }

    /// The Cranelift function index (and external name index) of dispatcher `k` in a module of
    /// `functions` functions: after the functions and the trampoline.
    pub fn func_index(functions: usize, k: usize) -> u32 {
        (functions + 1 + k) as u32
    }

    /// The signature class of function `f` in the [function table](FUNC_TABLE): the dispatcher of its
    /// signature, or [`NO_CLASS`] if no `call_indirect` of the module uses its signature.
    pub fn class_of(&self, f: u32) -> u64 {
        self.targets.iter().position(|t| t.binary_search(&f).is_ok()).map_or(NO_CLASS, |k| k as u64)
    }
}

/// Which float block parameters of `func` (by IR value) receive only values whose NaNs are read as the
/// canonical NaN: results of canonicalising float operations, non-NaN constants and other such parameters.
/// Such a parameter is passed its arguments before canonicalisation and canonicalised itself where its
/// bits can be seen, so a float carried around a loop (a running sum) is not canonicalised at every
/// iteration. The entry block's parameters are the function's, which arrive as they are.
fn nan_blind_params(func: &zvm_ir::Function) -> Vec<bool> {
    let canonicalising = |v: zvm_ir::Value| match func.values.get(v.index()).map(|d| d.def) {
        Some(zvm_ir::ValueDef::Result(inst, _)) => match &func.inst(inst).op {
            Op::FUnary { op, .. } => !matches!(op, FUnOp::Abs | FUnOp::Neg),
            Op::FBinary { op, .. } => {
                matches!(op, FBinOp::Add | FBinOp::Sub | FBinOp::Mul | FBinOp::Div | FBinOp::Min | FBinOp::Max)
            }
            Op::Convert { op, .. } => matches!(op, ConvOp::FPromote | ConvOp::FDemote),
            Op::Fconst { ty, bits } => match ty {
                Type::F32 => !f32::from_bits(*bits as u32).is_nan(),
                _ => !f64::from_bits(*bits).is_nan(),
            },
            _ => false,
        },
        _ => false,
    };
    let mut blind = vec![false; func.values.len()];
    for data in func.blocks.iter().skip(1) {
        for &p in &data.params {
            blind[p.index()] = func.value_type(p).is_float();
        }
    }
    loop {
        let mut changed = false;
        for inst in &func.insts {
            let edges: Vec<&BlockCall> = match &inst.op {
                Op::Jump { dest } => vec![dest],
                Op::Brif { then_dest, else_dest, .. } => vec![then_dest, else_dest],
                _ => continue,
            };
            for dest in edges {
                let Some(target) = func.blocks.get(dest.block.index()) else { continue };
                for (&p, &a) in target.params.iter().zip(&dest.args) {
                    let ok = blind.get(a.index()).copied().unwrap_or(false) || canonicalising(a);
                    if blind[p.index()] && !ok {
                        blind[p.index()] = false;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            return blind;
        }
    }
}

/// The signature of a dispatcher for the IR signature `sig`: `(vmctx, gas, depth_left, func: i32,
/// params...) -> (status, gas, results...)`.
pub fn dispatcher_signature(sig: &zvm_ir::Signature) -> ir::Signature {
    let mut s = function_signature(sig);
    s.params.insert(LEADING_PARAMS, AbiParam::new(I32));
    s
}

/// Translates function `index` of `module` for `isa` (`dispatchers` are those of `module`).
pub fn translate_function(
    module: &Module,
    dispatchers: &Dispatchers,
    index: usize,
    isa: &dyn TargetIsa,
    fctx: &mut FunctionBuilderContext,
) -> Result<ir::Function, CompileError> {
    check_isa(isa)?;
    let func = module.functions.get(index).ok_or_else(|| CompileError::InvalidIr(format!("no function {index}")))?;
    let call_conv = isa.default_call_conv();
    let sig = function_signature(&func.sig);
    let mut clif = ir::Function::with_name_signature(UserFuncName::user(0, index as u32), sig);
    {
        let b = FunctionBuilder::new(&mut clif, fctx);
        let mut t = Translator::new(b, module, dispatchers, func, call_conv, has_native_rounding(isa));
        let result = t.translate();
        if let Err(e) = result {
            return Err(e.context(&func.name));
        }
        t.b.seal_all_blocks();
        t.b.finalize(isa.frontend_config());
    }
    Ok(clif)
}

/// Builds the native entry point for `module` (an [`super::EntryFn`]): dispatches on `func` to every
/// function [`Dispatch::of`] calls invocable, loading its parameters from `values`, and on a normal return
/// stores its non-`w256` results there (unless `values` is null). Any other `func` returns the
/// `host_error` trap status.
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
        // A plain run passes no `values`.
        return Err(CompileError::InvalidIr("the entry function must not take parameters".into()));
    }
    let dispatch = Dispatch::of(module);
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
        let (vmctx, func, values) = (b.block_params(block)[0], b.block_params(block)[1], b.block_params(block)[2]);
        let flags = MemFlagsData::trusted();
        let gas = b.ins().load(I64, flags, vmctx, ctx::GAS_LEFT);
        let depth = b.ins().load(I64, flags, vmctx, ctx::CALL_DEPTH);
        let max = b.ins().load(I64, flags, vmctx, ctx::MAX_CALL_DEPTH);
        // `max - depth`, or 0 for a run that starts at or past the limit.
        let below = b.ins().isub(max, depth);
        let past = b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, depth, max);
        let zero = b.ins().iconst(I64, 0);
        let depth_left = b.ins().select(past, zero, below);

        let bad = b.create_block();
        b.set_cold_block(bad);
        let stop = b.create_block();
        b.append_block_param(stop, I32);
        let done = b.create_block();

        let cases: Vec<(u32, ir::Block)> = (0..module.functions.len() as u32)
            .filter(|&f| dispatch.is_invocable(f))
            .map(|f| (f, b.create_block()))
            .collect();
        // The entry first: a plain run costs one compare, however many functions the module has.
        let entry_case = cases.iter().find(|c| c.0 == module.entry.0).expect("the entry is invocable").1;
        let others = b.create_block();
        let is_entry = b.ins().icmp_imm_u(IntCC::Equal, func, i64::from(module.entry.0));
        b.ins().brif(is_entry, entry_case, &[], others, &[]);
        b.switch_to_block(others);
        let mut sw = Switch::new();
        for &(f, blk) in &cases {
            if f != module.entry.0 {
                sw.set_entry(u128::from(f), blk);
            }
        }
        sw.emit(&mut b, func, bad);

        for &(f, blk) in &cases {
            b.switch_to_block(blk);
            let callee = &module.functions[f as usize];
            let mut args = vec![vmctx, gas, depth_left];
            for (i, &t) in callee.sig.params.iter().enumerate() {
                args.push(load_slot(&mut b, lanes(t)[0], values, i));
            }
            let fref = import_callee(&mut b, module, FuncId(f));
            let call = b.ins().call(fref, &args);
            let rets = b.inst_results(call).to_vec();
            let stored: Vec<(usize, Value)> = {
                let mut out = Vec::new();
                let mut lane = LEADING_RESULTS;
                for (i, &t) in callee.sig.results.iter().enumerate() {
                    if t != Type::W256 {
                        out.push((i, rets[lane]));
                    }
                    lane += lanes(t).len();
                }
                out
            };
            let returned = b.create_block();
            b.ins().brif(rets[0], stop, &[BlockArg::Value(rets[0])], returned, &[]);
            b.switch_to_block(returned);
            b.ins().store(flags, rets[1], vmctx, ctx::GAS_LEFT);
            if stored.is_empty() {
                b.ins().jump(done, &[]);
                continue;
            }
            let store = b.create_block();
            b.ins().brif(values, store, &[], done, &[]);
            b.switch_to_block(store);
            for (i, v) in stored {
                store_slot(&mut b, v, values, i);
            }
            b.ins().jump(done, &[]);
        }

        b.switch_to_block(bad);
        let s = b.ins().iconst(I32, i64::from(trap_status(TrapCode::HostError)));
        b.ins().return_(&[s]);
        b.switch_to_block(stop);
        let s = b.block_params(stop)[0];
        b.ins().return_(&[s]);
        b.switch_to_block(done);
        let s = b.ins().iconst(I32, i64::from(abi::STATUS_OK));
        b.ins().return_(&[s]);
        b.seal_all_blocks();
        b.finalize(isa.frontend_config());
    }
    Ok(clif)
}

/// The function table of a module with `call_indirect`: a read-only data object (user external name
/// `(namespace 1, index FUNC_TABLE)`, the module's only data) of one 16-byte entry per function: its
/// code address, then its signature class ([`Dispatchers::class_of`]) as a `u64`.
pub const FUNC_TABLE: u32 = 0;
/// Bytes of one [`FUNC_TABLE`] entry.
pub const FUNC_TABLE_ENTRY: u32 = 16;
/// The class of a function whose signature no `call_indirect` of the module uses.
pub const NO_CLASS: u64 = u64::MAX;

/// Builds dispatcher `k` of `module` (see the module docs): a reference to another instance's function
/// ([`abi::FOREIGN_FUNC`], WebAssembly signatures only: no `w256`) is called through the `call_foreign`
/// helper, which checks its signature, after the depth check; any other `func` (none that a
/// `call_indirect` site sends here is a function of the module) stops with the `indirect_call_type` trap.
pub fn dispatcher(
    module: &Module,
    dispatchers: &Dispatchers,
    k: usize,
    isa: &dyn TargetIsa,
    fctx: &mut FunctionBuilderContext,
) -> Result<ir::Function, CompileError> {
    check_isa(isa)?;
    if k >= dispatchers.len() {
        return Err(CompileError::InvalidIr(format!("no dispatcher {k}")));
    }
    let ty = dispatchers.type_of(k);
    let sig = module
        .types
        .get(ty as usize)
        .ok_or_else(|| CompileError::InvalidIr(format!("dispatcher {k}: no type {ty}")))?;
    let mut clif = ir::Function::with_name_signature(
        UserFuncName::user(0, Dispatchers::func_index(module.functions.len(), k)),
        dispatcher_signature(sig),
    );
    {
        let mut b = FunctionBuilder::new(&mut clif, fctx);
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        let params = b.block_params(block).to_vec();
        dispatch_foreign(&mut b, ty, DispatcherCall { sig, params: &params }, isa.default_call_conv());
        b.seal_all_blocks();
        b.finalize(isa.frontend_config());
    }
    Ok(clif)
}

/// The signature and parameters of a dispatcher function being built.
#[derive(Clone, Copy)]
struct DispatcherCall<'a> {
    sig: &'a zvm_ir::Signature,
    /// `vmctx, gas, depth_left, func, params...`
    params: &'a [Value],
}

impl DispatcherCall<'_> {
    fn vmctx(&self) -> Value {
        self.params[0]
    }
    fn gas(&self) -> Value {
        self.params[1]
    }
    fn depth_left(&self) -> Value {
        self.params[2]
    }
    fn func(&self) -> Value {
        self.params[LEADING_PARAMS]
    }
    fn args(&self) -> &[Value] {
        &self.params[LEADING_PARAMS + 1..]
    }

    /// Continues in a new block if another nested call is allowed, else stops with the
    /// `call_stack_exhausted` trap; returns the `depth_left` to pass on.
    fn enter(&self, b: &mut FunctionBuilder<'_>) -> Value {
        let go = b.create_block();
        let deep = b.create_block();
        b.set_cold_block(deep);
        b.ins().brif(self.depth_left(), go, &[], deep, &[]);
        b.switch_to_block(deep);
        self.trap(b, TrapCode::CallStackExhausted);
        b.switch_to_block(go);
        b.ins().iadd_imm_s(self.depth_left(), -1)
    }

    /// Ends the block by stopping with the trap `code`, leaving the gas in the context.
    fn trap(&self, b: &mut FunctionBuilder<'_>, code: TrapCode) {
        b.ins().store(MemFlagsData::trusted(), self.gas(), self.vmctx(), ctx::GAS_LEFT);
        let mut rets = vec![b.ins().iconst(I32, i64::from(trap_status(code))), b.ins().iconst(I64, 0)];
        rets.extend(zero_values(b, &self.sig.results));
        b.ins().return_(&rets);
    }
}

/// The body of the dispatcher of type `ty` (see [`dispatcher`]).
fn dispatch_foreign(b: &mut FunctionBuilder<'_>, ty: u32, call: DispatcherCall<'_>, call_conv: CallConv) {
    let sig = call.sig;
    let bad = b.create_block();
    if sig.params.contains(&Type::W256) || sig.results.contains(&Type::W256) {
        b.ins().jump(bad, &[]);
    } else {
        let foreign = b.create_block();
        let is_foreign = b.ins().icmp_imm_u(IntCC::Equal, call.func(), i64::from(abi::FOREIGN_FUNC));
        b.ins().brif(is_foreign, foreign, &[], bad, &[]);
        b.switch_to_block(foreign);
        let deeper = call.enter(b);
        // The other instance counts its depth on from the context's and charges the context's gas.
        let (flags, vmctx) = (MemFlagsData::trusted(), call.vmctx());
        let start = b.ins().load(I64, flags, vmctx, ctx::CALL_DEPTH);
        let max = b.ins().load(I64, flags, vmctx, ctx::MAX_CALL_DEPTH);
        let depth = b.ins().isub(max, deeper);
        b.ins().store(flags, depth, vmctx, ctx::CALL_DEPTH);
        b.ins().store(flags, call.gas(), vmctx, ctx::GAS_LEFT);
        let mut rets = call_foreign(b, vmctx, ty, sig, call.args(), call_conv);
        b.ins().store(flags, start, vmctx, ctx::CALL_DEPTH);
        let gas = b.ins().load(I64, flags, vmctx, ctx::GAS_LEFT);
        rets.insert(1, gas);
        b.ins().return_(&rets);
    }
    b.switch_to_block(bad);
    call.trap(b, TrapCode::IndirectCallTypeMismatch);
}

/// Calls the `call_foreign` helper as type `ty` (signature `sig`, no `w256`) with `params` through a stack
/// slot of 8-byte values; returns the status and the results loaded back from the slot (meaningless unless
/// the status is OK).
fn call_foreign(
    b: &mut FunctionBuilder<'_>,
    vmctx: Value,
    ty: u32,
    sig: &zvm_ir::Signature,
    params: &[Value],
    call_conv: CallConv,
) -> Vec<Value> {
    let slots = sig.params.len().max(sig.results.len()).max(1) as u32;
    let slot = b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, slots * 8, 3));
    let values = b.ins().stack_addr(I64, slot, 0);
    for (i, &v) in params.iter().enumerate() {
        store_slot(b, v, values, i);
    }
    let mut hsig = ir::Signature::new(call_conv);
    hsig.params.extend([AbiParam::new(I64), AbiParam::new(I32), AbiParam::new(I64)]);
    hsig.returns.push(AbiParam::new(I32));
    let hsig = b.import_signature(hsig);
    let flags = MemFlagsData::trusted();
    let table = b.ins().load(I64, flags, vmctx, ctx::HELPERS);
    let f = b.ins().load(I64, flags, table, helper::CALL_FOREIGN);
    let tyc = b.ins().iconst(I32, i64::from(ty));
    let call = b.ins().call_indirect(hsig, f, &[vmctx, tyc, values]);
    let status = b.inst_results(call)[0];
    let mut rets = vec![status];
    for (i, &t) in sig.results.iter().enumerate() {
        rets.push(load_slot(b, lanes(t)[0], values, i));
    }
    rets
}

/// Stores `v` in 8-byte slot `i` of `values` (an `i32`/`f32` zero-extended from its low 4 bytes). The
/// slots (the trampoline's `values`, a dispatcher's stack slot) are only touched by this code and its
/// caller, 8-aligned and in bounds.
fn store_slot(b: &mut FunctionBuilder<'_>, v: Value, values: Value, i: usize) {
    let x = match b.func.dfg.value_type(v) {
        F32 => {
            let bits = b.ins().bitcast(I32, MemFlagsData::new(), v);
            b.ins().uextend(I64, bits)
        }
        I32 => b.ins().uextend(I64, v),
        _ => v,
    };
    b.ins().store(MemFlagsData::trusted(), x, values, (i * 8) as i32);
}

/// Loads a value of type `ty` from 8-byte slot `i` of `values` (see [`store_slot`]).
fn load_slot(b: &mut FunctionBuilder<'_>, ty: ir::Type, values: Value, i: usize) -> Value {
    b.ins().load(ty, MemFlagsData::trusted(), values, (i * 8) as i32)
}

/// Zeros of the Cranelift types of `types` (the results returned with a stopping status).
fn zero_values(b: &mut FunctionBuilder<'_>, types: &[Type]) -> Vec<Value> {
    let mut out = Vec::new();
    for &t in types {
        for &l in lanes(t) {
            out.push(match l {
                F32 => b.ins().f32const(Ieee32::with_bits(0)),
                F64 => b.ins().f64const(Ieee64::with_bits(0)),
                _ => b.ins().iconst(l, 0),
            });
        }
    }
    out
}

/// Imports dispatcher `k` (see [`Dispatchers::func_index`]).
fn import_dispatcher(b: &mut FunctionBuilder<'_>, module: &Module, dispatchers: &Dispatchers, k: usize) -> FuncRef {
    let sig = dispatcher_signature(&module.types[dispatchers.type_of(k) as usize]);
    let sigref = b.import_signature(sig);
    let index = Dispatchers::func_index(module.functions.len(), k);
    let name = b.func.declare_imported_user_function(UserExternalName { namespace: 0, index });
    b.import_function(ExtFuncData {
        name: ExternalName::user(name),
        signature: sigref,
        colocated: true,
        patchable: false,
    })
}

fn import_callee(b: &mut FunctionBuilder<'_>, module: &Module, f: FuncId) -> FuncRef {
    let sig = function_signature(&module.function(f).sig);
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
    MemGrow,
    MemFill,
    MemInit,
    DataDrop,
    TableGet,
    TableSet,
    TableSize,
    TableGrow,
    TableFill,
    TableCopy,
    TableInit,
    ElemDrop,
    CallIndirectTarget,
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
    /// Guarded linear memory, accessed without a check: the access itself may fault (`heap_oob`), so it
    /// is neither removed when unused nor moved.
    heap_guarded: MemFlagsData,
    /// The operand stack buffer (index masked into bounds).
    stack: MemFlagsData,
    /// The scratch area in the native frame.
    scratch: MemFlagsData,
    /// The module's globals (8-aligned slots, inside the table `ctx.globals` points to).
    globals: MemFlagsData,
}

struct Translator<'m, 'b> {
    b: FunctionBuilder<'b>,
    module: &'m Module,
    dispatchers: &'m Dispatchers,
    func: &'m zvm_ir::Function,
    /// The calling convention of helpers (the platform's C convention).
    call_conv: CallConv,
    vmctx: Value,
    /// How many further nested calls are allowed (the `depth_left` parameter).
    depth_left: Value,
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
    /// Dispatchers imported so far, by number.
    dispatcher_refs: HashMap<u32, FuncRef>,
    /// Signatures of functions called through the function table, by dispatcher number.
    indirect_sigs: HashMap<u32, SigRef>,
    /// The module's function table, once referenced.
    func_table: Option<GlobalValue>,
    flags: Flags,
    /// Context fields kept in registers between calls (`None` in functions too large for it).
    cached: Option<CachedCtx>,
    /// Canonicalised float results and their values before canonicalisation (see [`Self::nan_blind`]).
    uncanonical: HashMap<Value, Value>,
    /// Float block parameters that only ever receive arithmetic results, non-NaN constants or such
    /// parameters (by IR value): they are passed before canonicalisation (see [`nan_blind_params`]).
    blind_params: Vec<bool>,
    /// `ceil`/`floor`/`trunc`/`nearest` are single instructions (see [`has_native_rounding`]).
    native_rounding: bool,
}

/// The context fields a function keeps in SSA variables (so in registers, across blocks and loops) instead
/// of re-reading them from the context at each use: the gas counter, charged at every block, and the memory
/// base and size, read at every access. Only calls change them behind the code's back (a helper that
/// charges gas or grows memory, a callee doing either). The gas counter comes in as a parameter, goes to a
/// callee as an argument and comes back as a result (see the module docs); around a helper call it is
/// written back to the context and read again ([`Translator::write_back_gas`],
/// [`Translator::reload_cached`]), and the memory base and size are read again after every call. A trap or
/// out-of-gas exit carries the counter to its shared exit block as a block argument, which stores it; a
/// status a helper or a callee returns comes with the context's counter already right.
///
/// Functions of more than [`MAX_CACHED_BLOCKS`] blocks read and write the context directly instead: a
/// variable live across tens of thousands of blocks (EVM code made of `JUMPDEST`s, all targets of one
/// dynamic jump) makes Cranelift's optimiser take minutes.
#[derive(Clone, Copy)]
struct CachedCtx {
    gas: Variable,
    mem_base: Variable,
    mem_len: Variable,
    /// Whether the function reads memory base or size at all (else they are never loaded: Cranelift
    /// keeps loads nothing uses).
    uses_memory: bool,
}

impl<'m, 'b> Translator<'m, 'b> {
    fn new(
        b: FunctionBuilder<'b>,
        module: &'m Module,
        dispatchers: &'m Dispatchers,
        func: &'m zvm_ir::Function,
        call_conv: CallConv,
        native_rounding: bool,
    ) -> Self {
        let mut region = |id: u32, name: &'static str| {
            Some(b.func.dfg.alias_regions.insert(AliasRegionData { user_id: id, description: name.into() }))
        };
        let (r_ctx, r_heap, r_stack) = (region(1, "vmctx"), region(2, "memory"), region(3, "operand stack"));
        let r_globals = region(4, "globals");
        let flags = Flags {
            ctx: MemFlagsData::trusted().with_alias_region(r_ctx),
            fixed: MemFlagsData::trusted().with_readonly().with_can_move(),
            heap: MemFlagsData::new().with_notrap().with_endianness(Endianness::Little).with_alias_region(r_heap),
            heap_guarded: MemFlagsData::new()
                .with_trap_code(Some(ir::TrapCode::HEAP_OUT_OF_BOUNDS))
                .with_endianness(Endianness::Little)
                .with_alias_region(r_heap),
            stack: MemFlagsData::trusted().with_alias_region(r_stack),
            scratch: MemFlagsData::trusted(),
            globals: MemFlagsData::trusted().with_alias_region(r_globals),
        };
        let placeholder = Value::from_u32(0);
        let mut b = b;
        let uses_memory = func
            .insts
            .iter()
            .any(|i| matches!(i.op, Op::Load { .. } | Op::Store { .. } | Op::MemSize | Op::MemExpand { .. }));
        let cached = (func.blocks.len() <= MAX_CACHED_BLOCKS).then(|| CachedCtx {
            gas: b.declare_var(I64),
            mem_base: b.declare_var(I64),
            mem_len: b.declare_var(I64),
            uses_memory,
        });
        Self {
            b,
            module,
            dispatchers,
            func,
            call_conv,
            vmctx: placeholder,
            depth_left: placeholder,
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
            dispatcher_refs: HashMap::new(),
            indirect_sigs: HashMap::new(),
            func_table: None,
            flags,
            cached,
            uncanonical: HashMap::new(),
            blind_params: if module.canonical_nans { nan_blind_params(func) } else { Vec::new() },
            native_rounding,
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
        self.depth_left = params[2];
        self.set_gas(params[1]);
        self.reload_memory();
        let first = self.blocks[0].expect("entry block is reachable");
        let expected: usize =
            self.func.block(Block(0)).params.iter().map(|&p| lanes(self.func.value_type(p)).len()).sum();
        if expected != params.len() - LEADING_PARAMS {
            return Err(CompileError::InvalidIr("entry block parameters do not match the signature".into()));
        }
        let args: Vec<BlockArg> = params[LEADING_PARAMS..].iter().map(|&v| BlockArg::Value(v)).collect();
        self.b.ins().jump(first, &args);

        for &blk in &order {
            let cl = self.blocks[blk.index()].expect("created above");
            self.b.switch_to_block(cl);
            for &p in &self.func.block(blk).params {
                if self.blind_params.get(p.index()).copied().unwrap_or(false) {
                    if let Some(Val::One(raw)) = self.values[p.index()] {
                        let canonical = self.canonicalize(raw);
                        self.values[p.index()] = Some(Val::One(canonical));
                    }
                }
            }
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

    /// Zero values for the gas and the function's results, for returns that carry a stopping status.
    fn zero_results(&mut self) -> Vec<Value> {
        let mut out = vec![self.b.ins().iconst(I64, 0)];
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
            if let Some(&gas) = self.b.block_params(blk).first() {
                self.b.ins().store(self.flags.ctx, gas, self.vmctx, ctx::GAS_LEFT);
            }
            let s = self.b.ins().iconst(I32, i64::from(status));
            let mut rets = vec![s];
            rets.extend(self.zero_results());
            self.b.ins().return_(&rets);
        }
        if let Some(blk) = self.dyn_exit {
            self.b.switch_to_block(blk);
            // The status comes from a helper or a callee, which left the context's gas counter right.
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
        if self.cached.is_some() {
            self.b.append_block_param(blk, I64);
        }
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
        let gas = self.exit_gas();
        let cont = self.b.create_block();
        self.b.ins().brif(cond, exit, &gas, cont, &[]);
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
        let gas = self.exit_gas();
        self.b.ins().jump(exit, &gas);
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

    fn block_args(&self, dest: &BlockCall) -> Result<Vec<BlockArg>, CompileError> {
        let params = self.func.blocks.get(dest.block.index()).map_or(&[][..], |b| &b.params[..]);
        let mut out = Vec::new();
        for (i, &a) in dest.args.iter().enumerate() {
            let blind = params.get(i).is_some_and(|p| self.blind_params.get(p.index()).copied().unwrap_or(false));
            match self.val(a)? {
                Val::One(x) if blind => out.push(BlockArg::Value(self.nan_blind(x))),
                v => out.extend(v.lanes().into_iter().map(BlockArg::Value)),
            }
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
        if let Some(c) = self.cached {
            match offset {
                ctx::GAS_LEFT => return self.b.use_var(c.gas),
                ctx::MEM_BASE => return self.b.use_var(c.mem_base),
                ctx::MEM_LEN => return self.b.use_var(c.mem_len),
                _ => {}
            }
        }
        let fixed = matches!(
            offset,
            ctx::STACK_BASE | ctx::STACK_CAP | ctx::MAX_CALL_DEPTH | ctx::GLOBALS | ctx::HELPERS | ctx::INSTANCE_TAG
        );
        let flags = if fixed { self.flags.fixed } else { self.flags.ctx };
        self.b.ins().load(I64, flags, self.vmctx, offset)
    }

    /// Writes a context field other than the gas counter (which [`Self::set_gas`] sets).
    fn ctx_store(&mut self, offset: i32, v: Value) {
        self.b.ins().store(self.flags.ctx, v, self.vmctx, offset);
    }

    /// Writes the cached gas counter back to the context, for a helper call (which reads and charges it).
    fn write_back_gas(&mut self) {
        if let Some(c) = self.cached {
            let gas = self.b.use_var(c.gas);
            self.b.ins().store(self.flags.ctx, gas, self.vmctx, ctx::GAS_LEFT);
        }
    }

    /// The block arguments an exit block takes: the cached gas counter, which it stores.
    fn exit_gas(&mut self) -> Vec<BlockArg> {
        self.cached.map(|c| BlockArg::Value(self.b.use_var(c.gas))).into_iter().collect()
    }

    /// Reads the cached context fields again after a helper call (which may have charged gas or grown
    /// memory).
    fn reload_cached(&mut self) {
        if let Some(c) = self.cached {
            let gas = self.b.ins().load(I64, self.flags.ctx, self.vmctx, ctx::GAS_LEFT);
            self.b.def_var(c.gas, gas);
        }
        self.reload_memory();
    }

    /// Reads the cached memory base and size, at the function's entry and after a call (which may have
    /// grown memory).
    fn reload_memory(&mut self) {
        let Some(c) = self.cached.filter(|c| c.uses_memory) else { return };
        for (var, offset) in [(c.mem_base, ctx::MEM_BASE), (c.mem_len, ctx::MEM_LEN)] {
            let v = self.b.ins().load(I64, self.flags.ctx, self.vmctx, offset);
            self.b.def_var(var, v);
        }
    }

    /// The gas left, to pass to a callee or return to the caller.
    fn gas(&mut self) -> Value {
        self.ctx_load(ctx::GAS_LEFT)
    }

    /// Sets the gas left: at the entry (a parameter), after a charge, and after a call that returned
    /// normally (a result).
    fn set_gas(&mut self, gas: Value) {
        match self.cached {
            Some(c) => self.b.def_var(c.gas, gas),
            None => {
                self.b.ins().store(self.flags.ctx, gas, self.vmctx, ctx::GAS_LEFT);
            }
        }
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
            HelperSig::MemGrow => (vec![p, p], vec![AbiParam::new(I64)]),
            HelperSig::MemFill => (vec![p, p, u, p], status),
            HelperSig::MemInit => (vec![p, u, p, p, p], status),
            HelperSig::DataDrop => (vec![p, u], vec![]),
            HelperSig::TableGet | HelperSig::TableSet => (vec![p, u, p, p], status),
            HelperSig::TableSize => (vec![p, u, p], status),
            HelperSig::TableGrow | HelperSig::TableFill => (vec![p, u, p, p, p], status),
            HelperSig::TableCopy | HelperSig::TableInit => (vec![p, u, u, p, p, p], status),
            HelperSig::ElemDrop => (vec![p, u], vec![]),
            HelperSig::CallIndirectTarget => (vec![p, u, u, p, p], status),
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
        // A helper that is not given the context cannot touch it.
        let touches_ctx = args.first() == Some(&self.vmctx);
        if touches_ctx {
            self.write_back_gas();
        }
        let call = self.b.ins().call_indirect(sig, f, args);
        let results = self.b.inst_results(call).to_vec();
        if touches_ctx {
            self.reload_cached();
        }
        results
    }

    /// Calls a helper that returns a status and stops unless it is OK.
    fn call_helper_checked(&mut self, offset: i32, which: HelperSig, args: &[Value]) {
        let status = self.call_helper(offset, which, args)[0];
        self.exit_unless_ok(status);
    }

    /// Calls a helper whose last parameter is where it writes its value, stops unless it returns OK, and
    /// loads the value (of type `ty`).
    fn call_helper_out(&mut self, offset: i32, which: HelperSig, args: &[Value], ty: ir::Type) -> Value {
        let out = self.scratch_addr(OUT_WORD);
        let mut args = args.to_vec();
        args.push(out);
        self.call_helper_checked(offset, which, &args);
        self.b.ins().load(ty, self.flags.scratch, out, 0)
    }

    /// A `u32` immediate (table, segment and type indices) as an `i32`.
    fn u32_const(&mut self, x: u32) -> Value {
        self.b.ins().iconst(I32, i64::from(x))
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
                let args = self.block_args(dest)?;
                self.b.ins().jump(target, &args);
            }
            Op::Brif { cond, then_dest, else_dest } => {
                let c = self.cond(*cond)?;
                let t = self.target(then_dest.block)?;
                let e = self.target(else_dest.block)?;
                let targs = self.block_args(then_dest)?;
                let eargs = self.block_args(else_dest)?;
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
                let gas = self.gas();
                let mut rets = vec![self.b.ins().iconst(I32, i64::from(abi::STATUS_OK)), gas];
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
            Op::TableGet { table, arg } => {
                let index = self.i64_arg(*arg)?;
                let t = self.u32_const(*table);
                let v = self.call_helper_out(helper::TABLE_GET, HelperSig::TableGet, &[self.vmctx, t, index], I64);
                self.define(inst, 0, Val::One(v))?;
            }
            Op::TableSet { table, args } => {
                let (index, value) = (self.i64_arg(args[0])?, self.i64_arg(args[1])?);
                let t = self.u32_const(*table);
                self.call_helper_checked(helper::TABLE_SET, HelperSig::TableSet, &[self.vmctx, t, index, value]);
            }
            Op::TableSize { table } => {
                // Reading the size has no effect: skip it if nothing uses the value (as the interpreter does).
                let result = self.func.inst(inst).results[0];
                if self.used[result.index()] {
                    let t = self.u32_const(*table);
                    let v = self.call_helper_out(helper::TABLE_SIZE, HelperSig::TableSize, &[self.vmctx, t], I64);
                    self.define(inst, 0, Val::One(v))?;
                }
            }
            Op::TableGrow { table, args } => {
                let (value, delta) = (self.i64_arg(args[0])?, self.i64_arg(args[1])?);
                let t = self.u32_const(*table);
                let v =
                    self.call_helper_out(helper::TABLE_GROW, HelperSig::TableGrow, &[self.vmctx, t, value, delta], I64);
                self.define(inst, 0, Val::One(v))?;
            }
            Op::TableFill { table, args } => {
                let a = [self.i64_arg(args[0])?, self.i64_arg(args[1])?, self.i64_arg(args[2])?];
                let t = self.u32_const(*table);
                self.call_helper_checked(helper::TABLE_FILL, HelperSig::TableFill, &[self.vmctx, t, a[0], a[1], a[2]]);
            }
            Op::TableCopy { dst, src, args } => {
                let a = [self.i64_arg(args[0])?, self.i64_arg(args[1])?, self.i64_arg(args[2])?];
                let (d, s) = (self.u32_const(*dst), self.u32_const(*src));
                self.call_helper_checked(
                    helper::TABLE_COPY,
                    HelperSig::TableCopy,
                    &[self.vmctx, d, s, a[0], a[1], a[2]],
                );
            }
            Op::TableInit { table, seg, args } => {
                let a = [self.i64_arg(args[0])?, self.i64_arg(args[1])?, self.i64_arg(args[2])?];
                let (t, seg) = (self.u32_const(*table), self.u32_const(*seg));
                self.call_helper_checked(
                    helper::TABLE_INIT,
                    HelperSig::TableInit,
                    &[self.vmctx, t, seg, a[0], a[1], a[2]],
                );
            }
            Op::ElemDrop { seg } => {
                let seg = self.u32_const(*seg);
                self.call_helper(helper::ELEM_DROP, HelperSig::ElemDrop, &[self.vmctx, seg]);
            }
            Op::CallIndirect { ty, table, args } => self.call_indirect(inst, *ty, *table, args)?,
            Op::RefFunc { func } => {
                // `semantics::func_ref(ctx.instance_tag, func)`.
                let tag = self.ctx_load(ctx::INSTANCE_TAG);
                let high = self.b.ins().ishl_imm_u(tag, 32);
                let v = self.b.ins().bor_imm_u(high, i64::from(*func) + 1);
                self.define(inst, 0, Val::One(v))?;
            }

            Op::FUnary { op, arg } => {
                let v = self.float_unary(*op, *arg)?;
                self.define(inst, 0, Val::One(v))?;
            }
            Op::FBinary { op, args } => {
                let v = self.float_binary(*op, args[0], args[1])?;
                self.define(inst, 0, Val::One(v))?;
            }

            Op::MemGrow { arg } => {
                let pages = self.i64_arg(*arg)?;
                // Memory may move: the helper call reads the cached `mem_base`/`mem_len` again.
                let old = self.call_helper(helper::MEM_GROW, HelperSig::MemGrow, &[self.vmctx, pages])[0];
                self.define(inst, 0, Val::One(old))?;
            }
            Op::MemFill { args } => {
                let dst = self.i64_arg(args[0])?;
                let byte = self.scalar(args[1])?;
                let len = self.i64_arg(args[2])?;
                self.call_helper_checked(helper::MEM_FILL, HelperSig::MemFill, &[self.vmctx, dst, byte, len]);
            }
            Op::MemInit { seg, args } => {
                let a = [self.i64_arg(args[0])?, self.i64_arg(args[1])?, self.i64_arg(args[2])?];
                let seg = self.b.ins().iconst(I32, i64::from(*seg));
                self.call_helper_checked(helper::MEM_INIT, HelperSig::MemInit, &[self.vmctx, seg, a[0], a[1], a[2]]);
            }
            Op::DataDrop { seg } => {
                let seg = self.b.ins().iconst(I32, i64::from(*seg));
                self.call_helper(helper::DATA_DROP, HelperSig::DataDrop, &[self.vmctx, seg]);
            }

            Op::GlobalGet { index } => {
                let (p, ty) = self.global(*index)?;
                let v = self.b.ins().load(ty, self.flags.globals, p, 0);
                self.define(inst, 0, Val::One(v))?;
            }
            Op::GlobalSet { index, value } => {
                let (p, ty) = self.global(*index)?;
                let v = self.scalar(*value)?;
                if self.b.func.dfg.value_type(v) != ty {
                    return Err(CompileError::InvalidIr(format!("global.set {index} of a {}", self.ty(*value))));
                }
                self.b.ins().store(self.flags.globals, v, p, 0);
            }
        }
        Ok(())
    }

    /// The address and Cranelift type of global `index`: slot `index` of `ctx.globals`, of which an
    /// `i32`/`f32` occupies the low 4 bytes (little-endian targets only).
    fn global(&mut self, index: u32) -> Result<(Value, ir::Type), CompileError> {
        let ty = match self.module.globals.get(index as usize) {
            Some(&t) if t != Type::W256 => lanes(t)[0],
            Some(_) => return Err(CompileError::InvalidIr(format!("global {index} is a w256"))),
            None => return Err(CompileError::InvalidIr(format!("global {index} does not exist"))),
        };
        let table = self.ctx_load(ctx::GLOBALS);
        Ok((self.b.ins().iadd_imm_s(table, i64::from(index) * 8), ty))
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
                let small = |k: Option<U256>| k.is_some_and(|k| k <= U256::from(u64::MAX));
                if small(c_const) {
                    return word::mul_u64(&mut self.b, a, c[0]);
                }
                if small(a_const) {
                    return word::mul_u64(&mut self.b, c, a[0]);
                }
                return self.word_mul(a, c, known);
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
            BinOp::DivU | BinOp::DivS | BinOp::RemU | BinOp::RemS => self.word_division(op, a, c),
            BinOp::Exp | BinOp::SignExtend | BinOp::Byte | BinOp::Rotl | BinOp::Rotr => {
                self.word_binary_helper(op, a, c)
            }
        }
    }

    /// `a * c` with a fast path for an operand that fits in 64 bits (a counter, an index, a scale), checked
    /// at run time for each operand that is not a constant: four multiplies instead of ten.
    fn word_mul(&mut self, a: Limbs, c: Limbs, known: (Option<U256>, Option<U256>)) -> Limbs {
        // (the operand checked, the other one)
        let checks: Vec<(Limbs, Limbs)> =
            [(c, a, known.1), (a, c, known.0)].into_iter().filter(|x| x.2.is_none()).map(|x| (x.0, x.1)).collect();
        if checks.is_empty() {
            return word::mul(&mut self.b, a, c);
        }
        let b = &mut self.b;
        let done = b.create_block();
        for _ in 0..4 {
            b.append_block_param(done, I64);
        }
        for (small, other) in checks {
            let (fast, next) = (b.create_block(), b.create_block());
            let high = word::high_bits(b, small);
            b.ins().brif(high, next, &[], fast, &[]);
            b.switch_to_block(fast);
            let r = word::mul_u64(b, other, small[0]);
            b.ins().jump(done, &r.map(BlockArg::Value));
            b.switch_to_block(next);
        }
        let r = word::mul(b, a, c);
        b.ins().jump(done, &r.map(BlockArg::Value));
        b.switch_to_block(done);
        let p = b.block_params(done);
        [p[0], p[1], p[2], p[3]]
    }

    /// `w256` DIV, MOD, SDIV and SMOD. When both operands fit in 64 bits (as signed values for the signed
    /// operations, with the dividend other than -2^63, whose quotient by -1 does not) and the divisor is not
    /// zero, one machine division gives the result; anything else goes to the helper. Contracts divide small
    /// numbers nearly always (fixed-point arithmetic, array indexes): in snailtracer the helper's 256-bit
    /// division and the call around it were a fifth of the run.
    fn word_division(&mut self, op: BinOp, a: Limbs, c: Limbs) -> Limbs {
        let signed = matches!(op, BinOp::DivS | BinOp::RemS);
        let b = &mut self.b;
        // As the machine result widens back: signed words that are their low limb sign-extended, unsigned
        // ones with no high bits.
        let widen = if signed { word::from_i64_signed } else { word::from_low };
        let fits = |b: &mut FunctionBuilder<'_>, w: Limbs| {
            let widened = widen(b, w[0]);
            word::eq(b, w, widened)
        };
        let a_fits = fits(b, a);
        let c_fits = fits(b, c);
        let c_nonzero = b.ins().icmp_imm_u(IntCC::NotEqual, c[0], 0);
        let mut fast = b.ins().band(a_fits, c_fits);
        fast = b.ins().band(fast, c_nonzero);
        if signed {
            let not_min = b.ins().icmp_imm_s(IntCC::NotEqual, a[0], i64::MIN);
            fast = b.ins().band(fast, not_min);
        }
        let (fast_block, slow_block, done) = (b.create_block(), b.create_block(), b.create_block());
        for _ in 0..4 {
            b.append_block_param(done, I64);
        }
        b.set_cold_block(slow_block);
        b.ins().brif(fast, fast_block, &[], slow_block, &[]);

        b.switch_to_block(fast_block);
        let r = match op {
            BinOp::DivU => b.ins().udiv(a[0], c[0]),
            BinOp::RemU => b.ins().urem(a[0], c[0]),
            BinOp::DivS => b.ins().sdiv(a[0], c[0]),
            _ => b.ins().srem(a[0], c[0]),
        };
        let result = widen(b, r);
        b.ins().jump(done, &result.map(BlockArg::Value));

        b.switch_to_block(slow_block);
        let limbs = self.word_binary_helper(op, a, c);
        self.b.ins().jump(done, &limbs.map(BlockArg::Value));

        self.b.switch_to_block(done);
        [0, 1, 2, 3].map(|i| self.b.block_params(done)[i])
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

    /// `ADDMOD`/`MULMOD`: by a constant power of two (code doing 64-bit arithmetic in 256-bit words reduces
    /// by 2^64), the wrapping sum or product masked, since the bits a 256-bit result drops lie above the
    /// modulus; anything else through the helper.
    fn ternary(&mut self, op: TernOp, args: [zvm_ir::Value; 3]) -> Result<Val, CompileError> {
        let w = [self.word(args[0])?, self.word(args[1])?, self.word(args[2])?];
        if let Some(n) = self.consts[args[2].index()].filter(|n| n.is_power_of_two()) {
            let b = &mut self.b;
            let r = match op {
                TernOp::AddMod => word::add(b, w[0], w[1]),
                TernOp::MulMod => word::mul(b, w[0], w[1]),
            };
            let mask = word::konst(b, n - U256::from(1u8));
            return Ok(Val::Word(word::bitwise(b, r, mask, |b, x, m| b.ins().band(x, m))));
        }
        let p = [self.spill(0, w[0]), self.spill(1, w[1]), self.spill(2, w[2])];
        let out = self.scratch_addr(3);
        let code = self.b.ins().iconst(I32, i64::from(abi::ternop_code(op)));
        self.call_helper(helper::WORD_TERNARY, HelperSig::WordTernary, &[code, p[0], p[1], p[2], out]);
        Ok(Val::Word(self.unspill(3)))
    }

    fn convert(&mut self, op: ConvOp, to: Type, arg: zvm_ir::Value) -> Result<Val, CompileError> {
        let from = self.ty(arg);
        let v = self.val(arg)?;
        if let Val::One(x) = v {
            if let Some(r) = self.float_convert(op, from, to, x) {
                return Ok(Val::One(r?));
            }
        }
        let b = &mut self.b;
        let bad = || unsupported(format!("{op:?} from {from} to {to}"));
        Ok(match (op, from, to, v) {
            (ConvOp::SatU64, Type::W256, _, Val::Word(w)) => Val::One(word::saturate_u64(b, w)),
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

    // ---- floats --------------------------------------------------------------------------------------

    /// A float operand.
    fn float(&self, v: zvm_ir::Value) -> Result<Value, CompileError> {
        if !self.ty(v).is_float() {
            return Err(CompileError::InvalidIr(format!("{v}: expected a float, found {}", self.ty(v))));
        }
        self.scalar(v)
    }

    /// The integer type of a float's bits, and its sign bit.
    fn bits_type(fty: ir::Type) -> (ir::Type, u64) {
        if fty == F32 {
            (I32, 1 << 31)
        } else {
            (I64, 1 << 63)
        }
    }

    fn float_const(&mut self, fty: ir::Type, x: f64) -> Value {
        if fty == F32 {
            self.b.ins().f32const(Ieee32::with_bits((x as f32).to_bits()))
        } else {
            self.b.ins().f64const(Ieee64::with_bits(x.to_bits()))
        }
    }

    /// `x` unless it is a NaN, else the canonical NaN of its type (what every arithmetic result is).
    fn canonicalize(&mut self, x: Value) -> Value {
        if !self.module.canonical_nans {
            return x;
        }
        let fty = self.b.func.dfg.value_type(x);
        let nan = if fty == F32 {
            self.b.ins().f32const(Ieee32::with_bits(CANONICAL_NAN_F32))
        } else {
            self.b.ins().f64const(Ieee64::with_bits(CANONICAL_NAN_F64))
        };
        let is_nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
        let canonical = self.b.ins().select(is_nan, nan, x);
        self.uncanonical.insert(canonical, x);
        canonical
    }

    /// `x` as the operand of an operation that does not look at a NaN's bits: arithmetic (whose NaN results
    /// are canonicalised again), comparisons, conversions to integers. A canonicalised result is then used
    /// as it was before canonicalisation, and Cranelift drops the canonicalisations nothing else uses: a
    /// NaN is canonicalised only where its bits can be seen (stored, reinterpreted, passed to a block, a
    /// call or the caller, or given to `abs`, `neg` or `copysign`), never between two arithmetic operations.
    fn nan_blind(&self, x: Value) -> Value {
        self.uncanonical.get(&x).copied().unwrap_or(x)
    }

    /// Applies `f` to the bits of `x` (sign manipulations are done on integers, so NaN payloads are kept
    /// whatever the hardware's float instructions do to them).
    fn on_bits(&mut self, x: Value, f: impl FnOnce(&mut Self, Value, ir::Type, u64) -> Value) -> Value {
        let fty = self.b.func.dfg.value_type(x);
        let (ity, sign) = Self::bits_type(fty);
        let bits = self.b.ins().bitcast(ity, MemFlagsData::new(), x);
        let r = f(self, bits, ity, sign);
        self.b.ins().bitcast(fty, MemFlagsData::new(), r)
    }

    fn fabs(&mut self, x: Value) -> Value {
        self.on_bits(x, |t, bits, ity, sign| {
            let mask = t.int_const(ity, !sign);
            t.b.ins().band(bits, mask)
        })
    }

    /// `x` with the sign of `y`.
    fn fcopysign(&mut self, x: Value, y: Value) -> Value {
        let fty = self.b.func.dfg.value_type(y);
        let (ity, _) = Self::bits_type(fty);
        let ybits = self.b.ins().bitcast(ity, MemFlagsData::new(), y);
        self.on_bits(x, |t, bits, ity, sign| {
            let magnitude = t.int_const(ity, !sign);
            let sign = t.int_const(ity, sign);
            let m = t.b.ins().band(bits, magnitude);
            let s = t.b.ins().band(ybits, sign);
            t.b.ins().bor(m, s)
        })
    }

    /// Rounds `x` to an integral value (`op` is ceil, floor, trunc or nearest). NaN results are left for
    /// the caller to canonicalize.
    fn round(&mut self, op: FUnOp, x: Value) -> Value {
        if self.native_rounding {
            let b = &mut self.b;
            return match op {
                FUnOp::Ceil => b.ins().ceil(x),
                FUnOp::Floor => b.ins().floor(x),
                FUnOp::Trunc => b.ins().trunc(x),
                _ => b.ins().nearest(x),
            };
        }
        // Without rounding instructions: a magnitude of at least 2^mantissa bits (23 for f32, 52 for f64) is
        // already integral, as are infinities (NaNs fail the comparison and stay NaNs); below it the value
        // fits an integer exactly. Rounding never changes the sign (a zero result keeps the operand's), so
        // the result takes the operand's sign at the end.
        let fty = self.b.func.dfg.value_type(x);
        let big = self.float_const(fty, if fty == F32 { 8_388_608.0 } else { 4_503_599_627_370_496.0 });
        let abs = self.fabs(x);
        let small = self.b.ins().fcmp(FloatCC::LessThan, abs, big);
        let r = if op == FUnOp::Nearest {
            // In [2^m, 2^(m+1)) floats are the integers: the addition rounds to nearest, ties to even.
            let t = self.b.ins().fadd(abs, big);
            self.b.ins().fsub(t, big)
        } else {
            let i = self.b.ins().fcvt_to_sint_sat(I64, x);
            let t = self.b.ins().fcvt_from_sint(fty, i);
            let one = self.float_const(fty, 1.0);
            match op {
                FUnOp::Floor => {
                    let above = self.b.ins().fcmp(FloatCC::GreaterThan, t, x);
                    let down = self.b.ins().fsub(t, one);
                    self.b.ins().select(above, down, t)
                }
                FUnOp::Ceil => {
                    let below = self.b.ins().fcmp(FloatCC::LessThan, t, x);
                    let up = self.b.ins().fadd(t, one);
                    self.b.ins().select(below, up, t)
                }
                _ => t,
            }
        };
        let r = self.fcopysign(r, x);
        self.b.ins().select(small, r, x)
    }

    fn float_unary(&mut self, op: FUnOp, arg: zvm_ir::Value) -> Result<Value, CompileError> {
        let x = self.float(arg)?;
        let blind = self.nan_blind(x);
        Ok(match op {
            FUnOp::Abs => self.fabs(x),
            FUnOp::Neg => self.on_bits(x, |t, bits, ity, sign| {
                let s = t.int_const(ity, sign);
                t.b.ins().bxor(bits, s)
            }),
            FUnOp::Sqrt => {
                let r = self.b.ins().sqrt(blind);
                self.canonicalize(r)
            }
            FUnOp::Ceil | FUnOp::Floor | FUnOp::Trunc | FUnOp::Nearest => {
                let r = self.round(op, blind);
                self.canonicalize(r)
            }
        })
    }

    fn float_binary(&mut self, op: FBinOp, x: zvm_ir::Value, y: zvm_ir::Value) -> Result<Value, CompileError> {
        let (a, c) = (self.float(x)?, self.float(y)?);
        if self.ty(x) != self.ty(y) {
            return Err(CompileError::InvalidIr(format!("{op:?} of a {} and a {}", self.ty(x), self.ty(y))));
        }
        // Copysign sees the bits; everything else is blind to them.
        let (bits_a, bits_c) = (a, c);
        let (a, c) = (self.nan_blind(a), self.nan_blind(c));
        let cmp = |t: &mut Self, cc: FloatCC| {
            let f = t.b.ins().fcmp(cc, a, c);
            t.b.ins().uextend(I32, f)
        };
        let b = &mut self.b;
        let r = match op {
            FBinOp::Add => b.ins().fadd(a, c),
            FBinOp::Sub => b.ins().fsub(a, c),
            FBinOp::Mul => b.ins().fmul(a, c),
            FBinOp::Div => b.ins().fdiv(a, c),
            // WebAssembly's min/max (-0 below +0, NaN if either is); the NaN is canonicalized below.
            FBinOp::Min => b.ins().fmin(a, c),
            FBinOp::Max => b.ins().fmax(a, c),
            FBinOp::Copysign => return Ok(self.fcopysign(bits_a, bits_c)),
            // Ordered comparisons (false with a NaN), except `ne`, which is true with a NaN.
            FBinOp::Eq => return Ok(cmp(self, FloatCC::Equal)),
            FBinOp::Ne => return Ok(cmp(self, FloatCC::NotEqual)),
            FBinOp::Lt => return Ok(cmp(self, FloatCC::LessThan)),
            FBinOp::Gt => return Ok(cmp(self, FloatCC::GreaterThan)),
            FBinOp::Le => return Ok(cmp(self, FloatCC::LessThanOrEqual)),
            FBinOp::Ge => return Ok(cmp(self, FloatCC::GreaterThanOrEqual)),
        };
        Ok(self.canonicalize(r))
    }

    /// `ftos`/`ftou` (trapping) and their saturating forms, to `to` (`i32`/`i64`).
    fn float_to_int(&mut self, op: ConvOp, to: Type, x: Value) -> Value {
        let ity = if to == Type::I32 { I32 } else { I64 };
        let signed = matches!(op, ConvOp::FToS | ConvOp::FToSSat);
        if matches!(op, ConvOp::FToS | ConvOp::FToU) {
            // Explicit checks, never a hardware trap: NaN, then whether the value truncated toward zero is
            // in [-2^(n-1), 2^(n-1)) (signed) or [0, 2^n) (unsigned), compared on the untruncated value.
            let is_nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
            self.exit_if(is_nan, trap_status(TrapCode::BadConversion));
            let fty = self.b.func.dfg.value_type(x);
            let n = ity.bits() as i32;
            let (low_cc, low) = if !signed {
                // Truncates to 0 down to -1 (exclusive).
                (FloatCC::LessThanOrEqual, -1.0)
            } else if fty == F64 && n == 32 {
                // -2^31 - 1 is exact in f64: everything above it truncates to at least -2^31.
                (FloatCC::LessThanOrEqual, -(2f64.powi(n - 1)) - 1.0)
            } else {
                // No float between -2^(n-1) - 1 and -2^(n-1) (f32; f64 for 64 bits).
                (FloatCC::LessThan, -(2f64.powi(n - 1)))
            };
            let high = if signed { 2f64.powi(n - 1) } else { 2f64.powi(n) };
            let low = self.float_const(fty, low);
            let high = self.float_const(fty, high);
            let under = self.b.ins().fcmp(low_cc, x, low);
            let over = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, high);
            let out = self.b.ins().bor(under, over);
            self.exit_if(out, trap_status(TrapCode::IntegerOverflow));
        }
        // In range (or saturating): the saturating conversion never traps and truncates toward zero.
        if signed {
            self.b.ins().fcvt_to_sint_sat(ity, x)
        } else {
            self.b.ins().fcvt_to_uint_sat(ity, x)
        }
    }

    /// The float conversions (`ftos` .. `bitcast`); `None` for the integer ones.
    fn float_convert(&mut self, op: ConvOp, from: Type, to: Type, x: Value) -> Option<Result<Value, CompileError>> {
        let bad = || Some(unsupported(format!("{op:?} from {from} to {to}")));
        let int = |t: Type| matches!(t, Type::I32 | Type::I64);
        let x = if op == ConvOp::Bitcast { x } else { self.nan_blind(x) };
        Some(Ok(match op {
            ConvOp::FToS | ConvOp::FToU | ConvOp::FToSSat | ConvOp::FToUSat => {
                if !from.is_float() || !int(to) {
                    return bad();
                }
                self.float_to_int(op, to, x)
            }
            ConvOp::SToF | ConvOp::UToF => {
                if !int(from) || !to.is_float() {
                    return bad();
                }
                // Rounds to nearest, ties to even (a single correctly rounded conversion on both
                // architectures, also from u64 on x86_64).
                let fty = lanes(to)[0];
                if op == ConvOp::SToF {
                    self.b.ins().fcvt_from_sint(fty, x)
                } else {
                    self.b.ins().fcvt_from_uint(fty, x)
                }
            }
            ConvOp::FPromote => {
                if (from, to) != (Type::F32, Type::F64) {
                    return bad();
                }
                let r = self.b.ins().fpromote(F64, x);
                self.canonicalize(r)
            }
            ConvOp::FDemote => {
                if (from, to) != (Type::F64, Type::F32) {
                    return bad();
                }
                let r = self.b.ins().fdemote(F32, x);
                self.canonicalize(r)
            }
            ConvOp::Bitcast => {
                if from == Type::W256
                    || to == Type::W256
                    || from.bytes() != to.bytes()
                    || from.is_float() == to.is_float()
                {
                    return bad();
                }
                self.b.ins().bitcast(lanes(to)[0], MemFlagsData::new(), x)
            }
            ConvOp::Zext | ConvOp::Sext | ConvOp::Trunc | ConvOp::SatU64 => return None,
        }))
    }

    // ---- memory --------------------------------------------------------------------------------------

    /// The native address of the first byte of `[addr + offset, addr + offset + width)` and the flags to
    /// access it with. `known` is the address if it is a compile-time constant.
    ///
    /// In a guarded memory ([`zvm_ir::MemoryPlan::guarded`]) a 32-bit address is not checked: the range
    /// lies inside the memory's reservation, and an access past the memory's size faults there, which the
    /// runtime turns into `heap_oob` (the gas counter, in a register, is lost with the code's state: a
    /// trap consumes all gas). Otherwise the range is checked against the current memory size, stopping
    /// with `heap_oob` outside it.
    fn heap_addr(&mut self, addr: Value, known: Option<u64>, offset: u32, width: u32) -> (Value, MemFlagsData) {
        let guarded =
            self.module.memory.guarded && (self.is_u32(addr) || known.is_some_and(|a| a <= u64::from(u32::MAX)));
        if guarded {
            return (self.heap_pointer(addr, offset), self.flags.heap_guarded);
        }
        let extent = u64::from(offset) + u64::from(width);
        let len = self.ctx_load(ctx::MEM_LEN);
        let bad = match known.and_then(|a| a.checked_add(extent)) {
            Some(end) => self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, len, end as i64),
            // A zero-extended 32-bit address plus at most 2^32 + 32 cannot wrap: one compare.
            None if self.is_u32(addr) => {
                let end = self.b.ins().iadd_imm_s(addr, extent as i64);
                self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, len)
            }
            None => {
                let k = self.b.ins().iconst(I64, extent as i64);
                let (end, overflow) = self.b.ins().uadd_overflow(addr, k);
                let past = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, len);
                self.b.ins().bor(overflow, past)
            }
        };
        self.exit_if(bad, trap_status(TrapCode::MemoryOutOfBounds));
        (self.heap_pointer(addr, offset), self.flags.heap)
    }

    /// `mem_base + addr + offset`.
    fn heap_pointer(&mut self, addr: Value, offset: u32) -> Value {
        let base = self.ctx_load(ctx::MEM_BASE);
        let p = self.b.ins().iadd(base, addr);
        if offset == 0 {
            p
        } else {
            self.b.ins().iadd_imm_s(p, i64::from(offset))
        }
    }

    /// Whether the `i64` value `v` is an `i32` zero-extended (WebAssembly addresses are).
    fn is_u32(&self, v: Value) -> bool {
        let dfg = &self.b.func.dfg;
        match dfg.value_def(v) {
            ValueDef::Result(inst, _) => match dfg.insts[inst] {
                InstructionData::Unary { opcode: Opcode::Uextend, arg } => dfg.value_type(arg) == I32,
                _ => false,
            },
            _ => false,
        }
    }

    /// The value of an `i64` operand if it is a compile-time constant.
    fn known_u64(&self, v: zvm_ir::Value) -> Option<u64> {
        self.consts.get(v.index()).copied().flatten().and_then(|c| u64::try_from(c).ok())
    }

    /// A load; with `used` false only its bounds check (the trap is observable, the value is not), which in
    /// a guarded memory is the load itself.
    fn load(&mut self, ty: Type, access: MemAccess, addr: zvm_ir::Value, used: bool) -> Result<Val, CompileError> {
        let width = u32::from(access.width);
        if !matches!(width, 1 | 2 | 4 | 8 | 32) || width > ty.bytes() || (width == 32 && ty != Type::W256) {
            return unsupported(format!("load of {width} bytes into {ty}"));
        }
        let known = self.known_u64(addr);
        let addr = self.i64_arg(addr)?;
        let (p, heap) = self.heap_addr(addr, known, access.offset, width);
        if !used && heap.notrap() {
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
        if matches!(ty, Type::F32 | Type::F64) && !access.big_endian && width == ty.bytes() {
            // Straight into a float register.
            let fty = if ty == Type::F32 { F32 } else { F64 };
            return Ok(Val::One(self.b.ins().load(fty, heap, p, 0)));
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
        let (p, heap) = self.heap_addr(addr, known, access.offset, width);
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
            // Straight from a float register (bit-exact: NaN payloads are kept).
            Val::One(x) if matches!(ty, Type::F32 | Type::F64) && !access.big_endian && width == ty.bytes() => {
                self.b.ins().store(heap, x, p, 0);
                return Ok(());
            }
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
        let offset = word::saturate_u64(&mut self.b, off);
        let len = word::saturate_u64(&mut self.b, len);
        self.call_helper_checked(helper::MEM_EXPAND, HelperSig::MemExpand, &[self.vmctx, offset, len]);
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

    /// `stack.check min, growth`: one unsigned compare on the way through, `len - min > STACK_LIMIT - min -
    /// growth` (below `min`, the difference wraps past any bound); a cold block tells which trap it is.
    fn stack_check(&mut self, min: u32, growth: u32) {
        let len = self.ctx_load(ctx::STACK_LEN);
        let (min, growth) = (u64::from(min), u64::from(growth));
        let bad = match (STACK_LIMIT as u64).checked_sub(min + growth) {
            Some(room) => {
                let above = self.b.ins().iadd_imm_s(len, -(min as i64));
                self.b.ins().icmp_imm_u(IntCC::UnsignedGreaterThan, above, room as i64)
            }
            None => self.b.ins().iconst(I32, 1),
        };
        let (fail, cont) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(fail);
        self.b.ins().brif(bad, fail, &[], cont, &[]);
        self.b.switch_to_block(fail);
        let under = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, len, min as i64);
        self.exit_if(under, trap_status(TrapCode::StackUnderflow));
        self.exit_with(trap_status(TrapCode::StackOverflow));
        self.b.switch_to_block(cont);
    }

    /// Charges `amount` (an `i64`, unsigned): out of gas, with the counter untouched, if less is left.
    fn charge(&mut self, amount: Value) {
        let g = self.ctx_load(ctx::GAS_LEFT);
        let left = if self.cached.is_some() {
            // A compare the branch uses directly, then the subtraction (a borrow flag would be
            // materialised in a register first).
            let short = self.b.ins().icmp(IntCC::UnsignedLessThan, g, amount);
            self.exit_if(short, abi::STATUS_OUT_OF_GAS);
            self.b.ins().isub(g, amount)
        } else {
            // In huge functions, one instruction with the borrow: a compare and a subtraction, pure
            // operations, make Cranelift's optimiser take minutes over tens of thousands of blocks.
            let (left, short) = self.b.ins().usub_overflow(g, amount);
            self.exit_if(short, abi::STATUS_OUT_OF_GAS);
            left
        };
        self.set_gas(left);
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
                let f = import_callee(&mut self.b, self.module, callee);
                self.callees.insert(callee, f);
                f
            }
        };
        let deeper = self.enter_call();
        let gas = self.gas();
        let mut cargs = vec![self.vmctx, gas, deeper];
        for &a in args {
            cargs.extend(self.val(a)?.lanes());
        }
        let call = self.b.ins().call(fref, &cargs);
        let rets = self.b.inst_results(call).to_vec();
        self.returned(inst, &target.sig.results, &rets)
    }

    /// The depth limit of a call into this module: stops with `call_stack_exhausted` unless another
    /// nested call is allowed; returns the `depth_left` to pass to the callee.
    fn enter_call(&mut self) -> Value {
        let exhausted = self.b.ins().icmp_imm_u(IntCC::Equal, self.depth_left, 0);
        self.exit_if(exhausted, trap_status(TrapCode::CallStackExhausted));
        self.b.ins().iadd_imm_s(self.depth_left, -1)
    }

    /// After a call to a function or a dispatcher that returned `rets`: stops unless the status is OK, takes
    /// the gas left, reads the memory again and defines `inst`'s results (of types `results`).
    fn returned(&mut self, inst: Inst, results: &[Type], rets: &[Value]) -> Result<(), CompileError> {
        self.exit_unless_ok(rets[0]);
        self.set_gas(rets[1]);
        self.reload_memory();
        let mut i = LEADING_RESULTS;
        for (n, &t) in results.iter().enumerate() {
            let k = lanes(t).len();
            let v = Self::val_from_lanes(t, &rets[i..i + k]);
            self.define(inst, n, v)?;
            i += k;
        }
        Ok(())
    }

    /// Ends the block by finding the function `call_indirect TY TABLE index` calls (an `i32`) and jumping
    /// to `own(func)` for a function of this module, else to `other(func)` (the dispatcher's way). Inline
    /// when the runtime exposes the tables (`ctx.tables`): the bounds check (`undefined_element`), the null
    /// check (`uninitialized_element`) and the decoding of a reference of this instance (tag 0 or
    /// `ctx.instance_tag`, low 32 bits the function plus one). Anything else (no table views, a reference
    /// of another instance) asks the `call_indirect_target` helper, which may answer
    /// [`abi::FOREIGN_FUNC`]. `own` is only ever given an index below the module's function count.
    fn indirect_callee(&mut self, ty: u32, table: u32, index: Value, own: ir::Block, other: ir::Block) {
        let funcs = self.module.functions.len() as i64;
        let views = self.ctx_load(ctx::TABLES);
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        let has_views = self.b.create_block();
        self.b.ins().brif(views, has_views, &[], slow, &[]);

        self.b.switch_to_block(has_views);
        let view = self.b.ins().iadd_imm_s(views, i64::from(table) * abi::table_view_offsets::SIZE);
        let len = self.b.ins().load(I64, self.flags.ctx, view, abi::table_view_offsets::LEN);
        let outside = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, index, len);
        self.exit_if(outside, trap_status(TrapCode::UndefinedElement));
        let base = self.b.ins().load(I64, self.flags.ctx, view, abi::table_view_offsets::BASE);
        let offset = self.b.ins().ishl_imm_u(index, 3);
        let at = self.b.ins().iadd(base, offset);
        let r = self.b.ins().load(I64, self.flags.ctx, at, 0);
        let null = self.b.ins().icmp_imm_u(IntCC::Equal, r, 0);
        self.exit_if(null, trap_status(TrapCode::UninitializedElement));
        let tag = self.b.ins().ushr_imm_u(r, 32);
        // Loaded where it is used rather than hoisted out of a loop, where it would take a register that
        // a value live across the call needs more.
        let instance = self.b.ins().load(I64, self.flags.ctx, self.vmctx, ctx::INSTANCE_TAG);
        // The likelier way is each branch's else, laid out next, so that a reference of this instance falls
        // through to the call. Untagged references are rare: tables hold this module's functions tagged
        // (with tag 0 in an unlinked instance, whose tag is 0).
        let (decode, untagged) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(untagged);
        let not_mine = self.b.ins().icmp(IntCC::NotEqual, tag, instance);
        self.b.ins().brif(not_mine, untagged, &[], decode, &[]);

        // The function is the low 32 bits minus one: one unsigned compare rejects both no function (low
        // bits 0, which wrap) and one past the module's (which no reference of this instance holds).
        self.b.switch_to_block(decode);
        let low = self.b.ins().ireduce(I32, r);
        let f = self.b.ins().iadd_imm_s(low, -1);
        let past = self.b.ins().icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, f, funcs);
        self.b.ins().brif(past, slow, &[], own, &[BlockArg::Value(f)]);

        self.b.switch_to_block(untagged);
        self.b.ins().brif(tag, slow, &[], decode, &[]);

        self.b.switch_to_block(slow);
        let (tyc, t) = (self.u32_const(ty), self.u32_const(table));
        let f = self.call_helper_out(
            helper::CALL_INDIRECT_TARGET,
            HelperSig::CallIndirectTarget,
            &[self.vmctx, tyc, t, index],
            I32,
        );
        // The helper call's continuation is as cold as the helper's block: laid out with it, away from the
        // fall-through to `own`.
        if let Some(after) = self.b.current_block() {
            self.b.set_cold_block(after);
        }
        let past = self.b.ins().icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, f, funcs);
        self.b.ins().brif(past, other, &[BlockArg::Value(f)], own, &[BlockArg::Value(f)]);
    }

    /// `call_indirect TY TABLE index(args...)`: the callee ([`Self::indirect_callee`]); a function of this
    /// module is called through the [function table](FUNC_TABLE) after its signature class and the
    /// depth limit are checked (in that order, as the interpreter does), anything else through the
    /// dispatcher of `TY`'s signature.
    fn call_indirect(&mut self, inst: Inst, ty: u32, table: u32, args: &[zvm_ir::Value]) -> Result<(), CompileError> {
        let module = self.module;
        let sig = module.types.get(ty as usize).ok_or_else(|| CompileError::InvalidIr(format!("no type {ty}")))?;
        let k = self
            .dispatchers
            .of_type(ty)
            .ok_or_else(|| CompileError::InvalidIr(format!("no dispatcher for type {ty}")))?;
        let (&index, rest) =
            args.split_first().ok_or_else(|| CompileError::InvalidIr("call_indirect needs the table index".into()))?;
        let index = self.i64_arg(index)?;
        let mut cargs = Vec::new();
        for &a in rest {
            cargs.extend(self.val(a)?.lanes());
        }

        let (own, other, join) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(other);
        for block in [own, other] {
            self.b.append_block_param(block, I32);
        }
        self.b.append_block_param(join, I32);
        self.b.append_block_param(join, I64);
        for &t in &sig.results {
            for &l in lanes(t) {
                self.b.append_block_param(join, l);
            }
        }
        self.indirect_callee(ty, table, index, own, other);

        self.b.switch_to_block(own);
        let func = self.b.block_params(own)[0];
        let table = self.func_table();
        let f = self.b.ins().uextend(I64, func);
        let offset = self.b.ins().imul_imm_s(f, i64::from(FUNC_TABLE_ENTRY));
        let entry = self.b.ins().iadd(table, offset);
        let class = self.b.ins().load(I64, self.flags.fixed, entry, 8);
        let mismatch = self.b.ins().icmp_imm_u(IntCC::NotEqual, class, i64::from(k));
        self.exit_if(mismatch, trap_status(TrapCode::IndirectCallTypeMismatch));
        let deeper = self.enter_call();
        let code = self.b.ins().load(I64, self.flags.fixed, entry, 0);
        let sigref = match self.indirect_sigs.get(&k) {
            Some(&s) => s,
            None => {
                let s = self.b.import_signature(function_signature(sig));
                self.indirect_sigs.insert(k, s);
                s
            }
        };
        let gas = self.gas();
        let call = self.b.ins().call_indirect(sigref, code, &[&[self.vmctx, gas, deeper], &cargs[..]].concat());
        let rets: Vec<BlockArg> = self.b.inst_results(call).iter().map(|&v| BlockArg::Value(v)).collect();
        self.b.ins().jump(join, &rets);

        self.b.switch_to_block(other);
        let func = self.b.block_params(other)[0];
        let fref = match self.dispatcher_refs.get(&k) {
            Some(&f) => f,
            None => {
                let f = import_dispatcher(&mut self.b, module, self.dispatchers, k as usize);
                self.dispatcher_refs.insert(k, f);
                f
            }
        };
        let gas = self.gas();
        let call = self.b.ins().call(fref, &[&[self.vmctx, gas, self.depth_left, func], &cargs[..]].concat());
        let rets: Vec<BlockArg> = self.b.inst_results(call).iter().map(|&v| BlockArg::Value(v)).collect();
        self.b.ins().jump(join, &rets);

        self.b.switch_to_block(join);
        let rets = self.b.block_params(join).to_vec();
        self.returned(inst, &sig.results, &rets)
    }

    /// The address of the module's [function table](FUNC_TABLE).
    fn func_table(&mut self) -> Value {
        let gv = match self.func_table {
            Some(gv) => gv,
            None => {
                let name =
                    self.b.func.declare_imported_user_function(UserExternalName { namespace: 1, index: FUNC_TABLE });
                let gv = self.b.create_global_value(GlobalValueData::Symbol {
                    name: ExternalName::user(name),
                    offset: Imm64::new(0),
                    colocated: true,
                    tls: false,
                });
                self.func_table = Some(gv);
                gv
            }
        };
        self.b.ins().symbol_value(I64, gv)
    }
}
