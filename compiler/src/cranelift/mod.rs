//! The Cranelift backend: zvm IR to native code.
//!
//! # Layout
//! - [`translate`]: IR function -> `cranelift_codegen::ir::Function`, given only a [`TargetIsa`]. This is
//!   the ISA-independent part; the same functions can be defined in a JIT module (here) or, later, in an
//!   object module for x86_64 or aarch64.
//! - [`word`]: inline 256-bit arithmetic on four `i64` limbs.
//! - `jit`: compiles a whole module for the host with `cranelift-jit` into a [`CompiledModule`].
//! - [`object`]: compiles a whole module for x86_64 or aarch64 into a relocatable ELF object
//!   ([`emit_object`]), which the `zvm-cache` crate loads.
//! - [`native`]: [`NativeCode`], what the runtime needs to run native code whichever way it was produced.
//!
//! # Native code contract
//! The entry point is one trampoline per module, `unsafe extern "C" fn(ctx: *mut VmCtx, func: u32, values:
//! *mut u64) -> u32` ([`EntryFn`], [`CompiledModule::entry`]): it runs function `func` (any function without
//! `w256` parameters, see [`native::Dispatch`]; a plain run passes the module's entry and no `values`),
//! with parameters and results in `values`, and returns [`crate::abi::STATUS_OK`] when the function
//! returned normally, else the status that stopped execution. Compiled code only touches the context,
//! linear memory inside `[mem_base, mem_base + mem_len)`, the module's globals (`ctx.globals`, one 8-byte
//! slot each), the operand stack buffer (indices masked by `stack_cap - 1`), `values` and its own native
//! stack frame; everything else goes through the helper table. Every trap is an explicit branch that
//! returns a status, with one exception: an access to a guarded memory ([`zvm_ir::MemoryPlan::guarded`])
//! at a 32-bit address is not checked, and past `mem_len` it faults inside the memory's reservation, where
//! the runtime's signal handler turns the fault into `heap_oob` (the code stops without returning).
//!
//! # Values
//! `i32`/`i64` are Cranelift `i32`/`i64`; a `w256` is four `i64` limbs, least significant first (block
//! parameters and function parameters/results become four parameters each). Inline on words: add, sub
//! (128-bit add/adc chains), mul (schoolbook, 10 limb products), and/or/xor/not, eqz, eq/ne, all unsigned
//! and signed comparisons, select, shifts (constant counts folded, dynamic counts branch-free),
//! clz/ctz/popcnt and every conversion. Through the `word_binary`/`word_ternary` helpers: div, rem, sdiv,
//! smod, exp, signextend, byte, addmod, mulmod (and the rotations the verifier rejects on words).
//! `i32`/`i64` division traps are explicit branches before the division.
//!
//! # Floats
//! `f32`/`f64` are Cranelift floats, with WebAssembly semantics bit for bit (`zvm_ir::semantics`): every
//! arithmetic result (add, sub, mul, div, sqrt, min, max, the roundings, promote, demote) that is a NaN
//! is the canonical NaN (an `fcmp uno` and a select). The canonicalisation is made only where a value's
//! bits can be seen: an operation that does not look at NaN bits (arithmetic, comparisons, conversions
//! to integers) takes its operand before canonicalisation, and so do loop parameters that only carry
//! such results; Cranelift drops the canonicalisations nothing uses. With
//! `zvm_ir::Module::canonical_nans` off there is none at all. Abs, neg and copysign work on the bits as
//! integers, so NaN payloads survive; float loads and stores move the bits unchanged; comparisons are
//! ordered except `ne`. Where the ISA has no rounding
//! instruction (x86_64 without SSE4.1, the baseline objects are emitted for) ceil, floor, trunc and
//! nearest are computed with integer conversions, never with a libcall. The trapping float-to-int
//! conversions check NaN (`bad_conversion`) and the range of the truncated value (`int_overflow`) with
//! explicit branches, then convert with the saturating instructions, which never trap.
//!
//! # Context, memory, gas
//! The gas counter and the memory base and size live in SSA variables (registers) inside a function: the
//! counter is written back to the context before every call, helper call, return and exit, and all three
//! are read again after every call (only calls change them behind the code's back); functions of more
//! than a few thousand blocks use the context directly (see `translate::CachedCtx`). A charge is one
//! subtraction with borrow and a branch. The stack length is read from and written to the context at each
//! use (Cranelift's alias analysis removes the redundant loads between helper calls, which clobber them).
//! Loads and stores of an unguarded memory check `addr + offset + width <= mem_len` without overflow,
//! folded when the address is a constant; `mem.expand` checks inline whether the range already fits and
//! calls the helper only to grow. Unused `stack.get`s are dropped, unused loads keep only their bounds
//! check (in a guarded memory, the load itself). `mem.grow`, `mem.fill`,
//! `mem.init` and `data.drop` are helper calls; memory base and size being re-read after every call, a
//! memory that moved while growing is seen at once. Globals are 8-byte slots of the table `ctx.globals`
//! points to (`i32`/`f32` in the low 4 bytes: little-endian targets only), loaded and stored inline.
//!
//! # Tables
//! Table operations are helper calls (the tables are the runtime's), except the read `call_indirect`
//! makes: the runtime shows the tables through `ctx.tables` (a base and a length per table), so the code
//! bounds-checks the index, loads the reference, checks it is not null and that it belongs to this
//! instance, and calls the dispatcher of its signature, which checks the signature (the callee must be
//! one of its cases) and the call depth like a direct call, then calls the callee directly. A reference of
//! another instance, or no table views, goes through the `call_indirect_target` helper (see
//! [`translate`]).
//!
//! # Calls and native stack
//! See [`translate`] for the calling convention (`(vmctx, params...) -> (status, results...)`; callers
//! return any non-OK status at once). The IR-level depth limit is checked at every call against
//! `ctx.max_call_depth` (trap `call_stack_exhausted` when `call_depth >= max_call_depth`). The native stack
//! a run needs is bounded by [`CompiledModule::native_stack_bytes`]: the runtime runs code whose bound is
//! large (recursive modules) on a dedicated thread with a stack of that size. Functions are compiled with
//! inline stack probes, so even a wrong bound ends at the guard page (an abort), never in other memory.

mod define;
mod jit;
pub mod native;
pub mod object;
pub mod translate;
pub mod word;

#[cfg(test)]
mod tests;

pub use jit::{compile, CompiledModule};
pub use native::{Dispatch, EntryFn, NativeCode, StackBound};
pub use object::{emit_object, Target};

use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use thiserror::Error;

/// How hard Cranelift optimizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OptLevel {
    /// No optimization: fastest compile.
    None,
    /// Optimize for speed (e-graph rewrites, alias analysis, ...).
    #[default]
    Speed,
}

/// Options of the compiled tier.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JitOptions {
    /// Optimization level.
    pub opt_level: OptLevel,
    /// Run Cranelift's IR verifier on every function (catches backend bugs; costs compile time).
    pub verify: bool,
}

impl Default for JitOptions {
    fn default() -> Self {
        Self { opt_level: OptLevel::Speed, verify: cfg!(debug_assertions) }
    }
}

/// Why a module could not be compiled.
#[derive(Debug, Error)]
pub enum CompileError {
    /// The IR uses something the backend does not implement (e.g. float arithmetic).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The IR is malformed in a way the verifier should have caught.
    #[error("invalid IR: {0}")]
    InvalidIr(String),
    /// Cranelift could not be set up for the target.
    #[error("target: {0}")]
    Target(String),
    /// Cranelift failed to compile a function, or to link the module.
    #[error("code generation: {0}")]
    Codegen(String),
}

impl CompileError {
    /// Prefixes the message with where it happened.
    pub fn context(self, at: &str) -> Self {
        match self {
            CompileError::Unsupported(m) => CompileError::Unsupported(format!("{at}: {m}")),
            CompileError::InvalidIr(m) => CompileError::InvalidIr(format!("{at}: {m}")),
            CompileError::Target(m) => CompileError::Target(format!("{at}: {m}")),
            CompileError::Codegen(m) => CompileError::Codegen(format!("{at}: {m}")),
        }
    }
}

/// Cranelift's shared flags for zvm code.
pub fn shared_flags(opts: &JitOptions) -> Result<settings::Flags, CompileError> {
    let mut b = settings::builder();
    let mut set = |k: &str, v: &str| b.set(k, v).map_err(|e| CompileError::Target(format!("{k}={v}: {e}")));
    set(
        "opt_level",
        match opts.opt_level {
            OptLevel::None => "none",
            OptLevel::Speed => "speed",
        },
    )?;
    set("enable_verifier", if opts.verify { "true" } else { "false" })?;
    // Functions return (status, gas, results...), which may not fit in registers.
    set("enable_multi_ret_implicit_sret", "true")?;
    // The `call_indirect` dispatchers tail-call their callees, which Cranelift implements with frame
    // pointers.
    set("preserve_frame_pointers", "true")?;
    // Large frames touch every page on the way down, so a native stack overflow always hits the guard page.
    set("enable_probestack", "true")?;
    set("probestack_strategy", "inline")?;
    Ok(settings::Flags::new(b))
}

/// The ISA of the host, with zvm's flags.
pub fn host_isa(opts: &JitOptions) -> Result<OwnedTargetIsa, CompileError> {
    let builder = cranelift_native::builder().map_err(|e| CompileError::Target(e.to_string()))?;
    builder.finish(shared_flags(opts)?).map_err(|e| CompileError::Target(e.to_string()))
}

/// The ISA for a named target triple (e.g. `x86_64-unknown-linux-gnu`, `aarch64-apple-darwin`), for
/// emitting code for another machine.
pub fn isa_for_triple(triple: &str, opts: &JitOptions) -> Result<OwnedTargetIsa, CompileError> {
    let triple: cranelift_codegen::isa::Builder =
        cranelift_codegen::isa::lookup_by_name(triple).map_err(|e| CompileError::Target(format!("{triple}: {e}")))?;
    triple.finish(shared_flags(opts)?).map_err(|e| CompileError::Target(e.to_string()))
}

/// Translates every function of `module` (with the entry trampoline and the `call_indirect` dispatchers)
/// for `isa` without emitting anything: function `i` of the result is IR function `i`, then come the
/// trampoline and the dispatchers ([`translate::Dispatchers`]), numbered as in emitted code.
pub fn translate_module(
    module: &zvm_ir::Module,
    isa: &dyn TargetIsa,
) -> Result<Vec<cranelift_codegen::ir::Function>, CompileError> {
    let mut fctx = cranelift_frontend::FunctionBuilderContext::new();
    let dispatchers = translate::Dispatchers::of(module);
    let mut out = Vec::with_capacity(module.functions.len() + 1 + dispatchers.len());
    for i in 0..module.functions.len() {
        out.push(translate::translate_function(module, &dispatchers, i, isa, &mut fctx)?);
    }
    out.push(translate::entry_trampoline(module, isa, &mut fctx)?);
    for k in 0..dispatchers.len() {
        out.push(translate::dispatcher(module, &dispatchers, k, isa, &mut fctx)?);
    }
    Ok(out)
}
