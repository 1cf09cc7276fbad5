//! Loading and running programs: the entry point of the runtime.
//!
//! [`Contract::load`] takes bytecode through its frontend, runs the gas pass, verifies the IR and prepares
//! it for a tier (pre-lowering for the interpreter, native code for the compiled tiers). [`Contract::run`]
//! executes it against a host, inside a journal checkpoint: a run that does not succeed leaves the host's
//! state exactly as it found it.
//!
//! [`Contract::load_cached`] prepares the `Aot` tier through an on-disk [`Cache`]: the object is looked up
//! by its [`CacheKey`] and compiled (and stored) only on a miss. Whatever the cache returns still goes
//! through zvm's loader, and an entry the loader rejects is removed and compiled anew, so stale or damaged
//! entries are never run. [`compile_cached`] is the same for any target, for tools that fill a cache.

use crate::frame::{Exit, Frame, Instance, Linkage, Message, SignatureIds};
use crate::host::Host;
use crate::limits::Limits;
use crate::result::{ExecResult, Status};
use crate::schedule::{EvmCosts, HostCosts, ZvmCosts};
use crate::vm::{FrameOutcome, Vm};
use crate::{compiled, interpreter};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;
use zvm_cache::{BytecodeFormat, Cache, CacheKey, KeyInputs, LoadedCode};
use zvm_compiler::cranelift::{self as backend, CompiledModule, JitOptions, Target};
use zvm_compiler::frontend::wasm::{self, GasTable, WasmConfig};
use zvm_compiler::frontend::{evm, zvm::lower};
use zvm_ir::{FuncId, MemoryPlan, Module};

/// Which tier runs a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tier {
    /// The IR interpreter (reference semantics, no compile time).
    Interp,
    /// Native code from the Cranelift backend, compiled in-process.
    Jit,
    /// Native code from the Cranelift backend, emitted as a relocatable object for the host and mapped by
    /// zvm's own loader (`zvm-cache`), as code from an on-disk cache would be. Runs exactly like `Jit`.
    Aot,
}

impl FromStr for Tier {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "interp" => Ok(Tier::Interp),
            "jit" => Ok(Tier::Jit),
            "aot" => Ok(Tier::Aot),
            other => Err(format!("unknown tier `{other}` (expected `interp`, `jit` or `aot`)")),
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tier::Interp => "interp",
            Tier::Jit => "jit",
            Tier::Aot => "aot",
        })
    }
}

/// Why a program could not be prepared.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The bytecode was rejected by its frontend.
    #[error(transparent)]
    Zvm(#[from] lower::LoadError),
    /// The EVM code was refused (too large).
    #[error(transparent)]
    Evm(#[from] evm::LoadError),
    /// The WebAssembly module was rejected.
    #[error(transparent)]
    Wasm(#[from] wasm::WasmError),
    /// The frontend produced IR that does not verify (a zvm bug, reported instead of run).
    #[error("internal error: the frontend produced invalid IR: {0}")]
    InvalidIr(String),
    /// The backend failed to compile the IR.
    #[error("compilation failed: {0}")]
    Compile(String),
    /// The loader rejected the emitted object.
    #[error("loading the native object failed: {0}")]
    Object(#[from] zvm_cache::LoadError),
    /// The on-disk cache could not be read or written.
    #[error("cache: {0}")]
    Cache(#[from] zvm_cache::CacheError),
}

/// A bytecode format zvm runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodeFormat {
    /// EVM bytecode (Cancun).
    Evm,
    /// ZVM bytecode, raw or in a `ZVMC` container.
    Zvm,
    /// A WebAssembly contract (a binary module importing the `zvm` ABI and exporting `call`).
    Wasm,
}

impl CodeFormat {
    /// The format of `bytes`: ZVM if they are a `ZVMC` container, WebAssembly if they start with its
    /// magic, else `default` (raw code carries no format of its own).
    pub fn detect(bytes: &[u8], default: CodeFormat) -> CodeFormat {
        if bytes.starts_with(zvm_compiler::frontend::zvm::container::MAGIC) {
            CodeFormat::Zvm
        } else if bytes.starts_with(WASM_MAGIC) {
            CodeFormat::Wasm
        } else {
            default
        }
    }

    /// How code of this format reads raw code it calls or creates: as its own format, except WebAssembly
    /// (which identifies itself by its magic) reads raw code as EVM code.
    pub fn raw_callee_format(self) -> CodeFormat {
        match self {
            CodeFormat::Wasm => CodeFormat::Evm,
            other => other,
        }
    }

    /// The gas of host operations for code of this format.
    pub fn costs(self) -> &'static dyn HostCosts {
        match self {
            CodeFormat::Evm => &EvmCosts,
            CodeFormat::Zvm | CodeFormat::Wasm => &ZvmCosts,
        }
    }

    /// The identity of the static gas schedule compiled into code of this format (part of cache keys).
    pub fn gas_schedule(self) -> &'static [u8] {
        match self {
            CodeFormat::Evm => EVM_GAS_SCHEDULE,
            CodeFormat::Zvm => ZVM_GAS_SCHEDULE,
            CodeFormat::Wasm => WASM_GAS_SCHEDULE,
        }
    }

    fn cache_format(self) -> BytecodeFormat {
        match self {
            CodeFormat::Evm => BytecodeFormat::Evm,
            CodeFormat::Zvm => BytecodeFormat::Zvm,
            CodeFormat::Wasm => BytecodeFormat::Wasm,
        }
    }
}

impl FromStr for CodeFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "evm" => Ok(CodeFormat::Evm),
            "zvm" => Ok(CodeFormat::Zvm),
            "wasm" => Ok(CodeFormat::Wasm),
            other => Err(format!("unknown bytecode format `{other}` (expected `evm`, `zvm` or `wasm`)")),
        }
    }
}

impl fmt::Display for CodeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CodeFormat::Evm => "evm",
            CodeFormat::Zvm => "zvm",
            CodeFormat::Wasm => "wasm",
        })
    }
}

/// The identity of the EVM gas schedule (the static costs of `compiler/src/frontend/evm/opcodes.rs`), part
/// of every cache key of EVM code. Change the version whenever those costs change.
pub const EVM_GAS_SCHEDULE: &[u8] = b"evm-cancun-gas-schedule/1";

/// The identity of the ZVM gas schedule, part of every cache key of ZVM bytecode: the static costs of
/// the opcode table (`compiler/src/frontend/zvm/opcodes.rs`), which the gas pass folds into compiled code.
/// Change the version whenever those costs change. (Host costs in [`crate::schedule`] are charged at run
/// time and are not part of the code.)
pub const ZVM_GAS_SCHEDULE: &[u8] = b"zvm-gas-schedule/1";

/// The identity of the WebAssembly gas table contracts are compiled with ([`GasTable::default`], whose
/// numbers are part of the name), part of every cache key of WebAssembly code.
pub const WASM_GAS_SCHEDULE: &[u8] = b"wasm-gas-table/op1-grow1024-bulk1/1";

/// Largest WebAssembly contract zvm loads (bytes).
pub const MAX_WASM_CONTRACT: usize = 1 << 20;

/// The first bytes of every WebAssembly binary.
pub const WASM_MAGIC: &[u8] = b"\0asm";

/// Largest EVM code zvm runs at all (bytes).
pub const MAX_EVM_STATE_CODE: usize = 1 << 20;

/// Where [`Contract::load_cached`] and [`compile_cached`] got their object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    /// An intact entry was found (and accepted by the loader, for the host).
    Hit,
    /// There was no entry: the program was compiled and stored.
    Miss,
    /// An entry was found but the loader rejected it (the reason): it was removed, and the program compiled
    /// and stored anew.
    Rejected(String),
}

impl fmt::Display for CacheOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheOutcome::Hit => f.write_str("hit"),
            CacheOutcome::Miss => f.write_str("miss"),
            CacheOutcome::Rejected(why) => write!(f, "rejected ({why}), recompiled"),
        }
    }
}

/// The cache key of `bytes` in `format` compiled by this build for `target` with the default options.
pub fn cache_key(format: CodeFormat, bytes: &[u8], target: Target) -> Result<CacheKey, LoadError> {
    let options = JitOptions::default();
    let inputs = KeyInputs::new(bytes, format.cache_format(), target, &options, format.gas_schedule())
        .map_err(|e| LoadError::Compile(e.to_string()))?;
    Ok(inputs.key())
}

/// Bytecode through its frontend and the gas pass, verified; with the code the program sees as its own.
/// EVM code up to `code_limit` bytes is accepted; ZVM code up to `limits.max_code_size`.
fn lower_verified(
    format: CodeFormat,
    bytes: &[u8],
    limits: &Limits,
    code_limit: usize,
) -> Result<(Module, Vec<u8>), LoadError> {
    let (mut module, code) = match format {
        CodeFormat::Zvm => {
            let loaded = lower::load(bytes, limits.max_code_size)?;
            (loaded.module, loaded.code.to_vec())
        }
        CodeFormat::Evm => (evm::load(bytes, code_limit)?, bytes.to_vec()),
        CodeFormat::Wasm => {
            let config = WasmConfig {
                gas: Some(GasTable::default()),
                max_module_size: MAX_WASM_CONTRACT,
                ..WasmConfig::default()
            };
            (wasm::translate_contract(bytes, &config)?, bytes.to_vec())
        }
    };
    zvm_ir::passes::gas::run(&mut module);
    zvm_ir::verify::verify_module(&module).map_err(|e| LoadError::InvalidIr(e.to_string()))?;
    Ok((module, code))
}

/// The object for `key` from `cache` if there is one that `accept` takes, else `module` compiled for
/// `target`, checked by `accept` and stored. An entry `accept` rejects is removed.
fn cached_object<T>(
    cache: &Cache,
    key: &CacheKey,
    module: &Module,
    target: Target,
    accept: impl Fn(&[u8]) -> Result<T, zvm_cache::LoadError>,
) -> Result<(Vec<u8>, T, CacheOutcome), LoadError> {
    let mut outcome = CacheOutcome::Miss;
    if let Some(object) = cache.get(key)? {
        match accept(&object) {
            Ok(t) => return Ok((object, t, CacheOutcome::Hit)),
            Err(e) => {
                cache.remove(key)?;
                outcome = CacheOutcome::Rejected(e.to_string());
            }
        }
    }
    let object =
        backend::emit_object(module, target, &JitOptions::default()).map_err(|e| LoadError::Compile(e.to_string()))?;
    // Checked before it is stored: the cache never holds an object this build would refuse.
    let t = accept(&object)?;
    cache.put(key, &object)?;
    Ok((object, t, outcome))
}

/// Compiles `bytes` to an object for `target` through `cache` (see [`Contract::load_cached`]); returns
/// the key, the object and where it came from. For the host, objects (cached or new) must pass zvm's
/// loader; for another architecture only the cache's own checks apply.
pub fn compile_cached(
    format: CodeFormat,
    bytes: &[u8],
    target: Target,
    limits: &Limits,
    cache: &Cache,
) -> Result<(CacheKey, Vec<u8>, CacheOutcome), LoadError> {
    let (module, _) = lower_verified(format, bytes, limits, limits.max_code_size)?;
    let key = cache_key(format, bytes, target)?;
    let (object, (), outcome) = if Target::host() == Some(target) {
        cached_object(cache, &key, &module, target, |o| zvm_cache::load(o).map(drop))?
    } else {
        cached_object(cache, &key, &module, target, |_| Ok(()))?
    };
    Ok((key, object, outcome))
}

/// Compiles `bytes` to an object for `target`, without a cache.
pub fn compile_object(format: CodeFormat, bytes: &[u8], target: Target, limits: &Limits) -> Result<Vec<u8>, LoadError> {
    let (module, _) = lower_verified(format, bytes, limits, limits.max_code_size)?;
    backend::emit_object(&module, target, &JitOptions::default()).map_err(|e| LoadError::Compile(e.to_string()))
}

enum Prepared {
    Interp(interpreter::Program),
    Jit(CompiledModule),
    Aot(LoadedCode),
}

/// A program ready to run on one tier.
pub struct Contract {
    code: Vec<u8>,
    module: Module,
    signatures: SignatureIds,
    /// The module has memory to start with, globals or data segments: each frame gets an [`Instance`].
    stateful: bool,
    prepared: Prepared,
    costs: &'static dyn HostCosts,
    /// How the code this contract calls or creates is read, when it has no container.
    format: CodeFormat,
}

impl Contract {
    /// Loads bytecode in `format` for `tier`.
    ///
    /// EVM code larger than `limits.max_code_size` (possible only in a genesis state: EIP-170 caps deployed
    /// code at 24 KiB) runs on the interpreter, whose preparation is linear in the code size, up to
    /// [`MAX_EVM_STATE_CODE`]; compile time stays bounded by the limit.
    pub fn load_as(format: CodeFormat, bytes: &[u8], tier: Tier, limits: &Limits) -> Result<Contract, LoadError> {
        let tier = if format == CodeFormat::Evm && bytes.len() > limits.max_code_size { Tier::Interp } else { tier };
        let (module, code) = lower_verified(format, bytes, limits, MAX_EVM_STATE_CODE)?;
        let contract = Self::from_module(module, code, tier, format.costs())?;
        Ok(Contract { format: format.raw_callee_format(), ..contract })
    }

    /// Loads ZVM bytecode (raw or in a `ZVMC` container) for `tier`.
    pub fn load(bytes: &[u8], tier: Tier, limits: &Limits) -> Result<Contract, LoadError> {
        Self::load_as(CodeFormat::Zvm, bytes, tier, limits)
    }

    /// Loads EVM code for `tier` (see [`Contract::load_as`]).
    pub fn load_evm(code: &[u8], tier: Tier, limits: &Limits) -> Result<Contract, LoadError> {
        Self::load_as(CodeFormat::Evm, code, tier, limits)
    }

    /// Loads bytecode for the [`Tier::Aot`] tier through `cache`: on a hit the cached object is loaded
    /// (and, if the loader rejects it, removed and compiled anew); on a miss the program is compiled, the
    /// object stored, then loaded. The bytecode always goes through its frontend (that validates it and
    /// gives the IR [`Contract::module`] returns); only code generation is skipped on a hit.
    pub fn load_cached(
        format: CodeFormat,
        bytes: &[u8],
        limits: &Limits,
        cache: &Cache,
    ) -> Result<(Contract, CacheOutcome), LoadError> {
        let (module, code) = lower_verified(format, bytes, limits, limits.max_code_size)?;
        let target = Target::host().ok_or_else(|| LoadError::Compile("the host architecture has no backend".into()))?;
        let key = cache_key(format, bytes, target)?;
        let (_, loaded, outcome) = cached_object(cache, &key, &module, target, zvm_cache::load)?;
        let stateful = is_stateful(&module);
        let contract = Contract {
            code,
            signatures: SignatureIds::of(&module),
            module,
            stateful,
            prepared: Prepared::Aot(loaded),
            costs: format.costs(),
            format: format.raw_callee_format(),
        };
        Ok((contract, outcome))
    }

    /// Prepares an already gas-passed IR module (for IR-level tests and tools). `code` is what the program
    /// sees as its own code; code it calls is read as ZVM.
    pub fn from_module(
        module: Module,
        code: Vec<u8>,
        tier: Tier,
        costs: &'static dyn HostCosts,
    ) -> Result<Contract, LoadError> {
        zvm_ir::verify::verify_module(&module).map_err(|e| LoadError::InvalidIr(e.to_string()))?;
        let prepared = match tier {
            Tier::Interp => Prepared::Interp(interpreter::Program::new(&module)),
            Tier::Jit => Prepared::Jit(
                backend::compile(&module, &JitOptions::default()).map_err(|e| LoadError::Compile(e.to_string()))?,
            ),
            Tier::Aot => {
                let compile = |e: String| LoadError::Compile(e);
                let target = Target::host().ok_or_else(|| compile("the host architecture has no backend".into()))?;
                let object = backend::emit_object(&module, target, &JitOptions::default())
                    .map_err(|e| compile(e.to_string()))?;
                Prepared::Aot(zvm_cache::load(&object)?)
            }
        };
        Ok(Contract {
            code,
            stateful: is_stateful(&module),
            signatures: SignatureIds::of(&module),
            module,
            prepared,
            costs,
            format: CodeFormat::Zvm,
        })
    }

    /// The program's IR (after the gas pass).
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// The tier this contract was prepared for.
    pub fn tier(&self) -> Tier {
        match self.prepared {
            Prepared::Interp(_) => Tier::Interp,
            Prepared::Jit(_) => Tier::Jit,
            Prepared::Aot(_) => Tier::Aot,
        }
    }

    /// Bytes of native code, for the compiled tier.
    pub fn native_code_size(&self) -> Option<usize> {
        match &self.prepared {
            Prepared::Jit(c) => Some(c.code_size()),
            Prepared::Aot(c) => Some(c.code_size()),
            Prepared::Interp(_) => None,
        }
    }

    /// Runs the program for `msg` against `host` as a whole execution (call depth 0; calls and creates
    /// it makes run on this contract's tier). State changes are kept only on success.
    pub fn run(&self, msg: &Message, host: &mut dyn Host, limits: &Limits) -> ExecResult {
        let vm = Vm::new(self.tier(), limits.clone()).with_format(self.format);
        let checkpoint = host.checkpoint();
        let result = self.run_frame(&vm, msg, host, 0).into_result(msg.gas_limit);
        if !result.status.is_success() {
            host.revert_to(checkpoint);
        }
        result
    }

    /// Runs one frame of this program at call depth `depth` on `vm` (no checkpoint: the caller owns the
    /// journal).
    pub fn run_frame(&self, vm: &Vm, msg: &Message, host: &mut dyn Host, depth: u32) -> FrameOutcome {
        let mut frame = Frame::new(msg, &self.code, host, vm, self.costs, &compiled::HELPERS).at_depth(depth);
        if self.stateful {
            match Instance::new(&self.module, &vm.limits) {
                Ok(instance) => frame.attach(&self.module, &self.signatures, instance),
                Err(code) => return frame.outcome(Some(Exit::Trap(code))),
            }
        }
        let exit = match &self.prepared {
            Prepared::Interp(p) => interpreter::run(p, &mut frame),
            Prepared::Jit(c) => compiled::run(c, &mut frame),
            Prepared::Aot(c) => compiled::run(c, &mut frame),
        };
        frame.outcome(exit)
    }
}

/// One call of [`Contract::invoke`]: function `func` with `values` (arguments in, results out), linked to
/// other instances or not.
pub struct Invocation<'v, 'l> {
    pub func: FuncId,
    pub values: &'v mut [u64],
    pub linkage: Option<Linkage<'l>>,
}

impl Contract {
    /// Runs function `func` of this program on `instance` (memory, globals and dropped segments that
    /// persist between invocations) with `values` as arguments in and results out (see
    /// [`interpreter::invoke`]). Returns the instance, how execution stopped (`None`: the function
    /// returned) and the gas left (none after a trap). With `linkage`, the instance is one of a linking
    /// store's (see [`crate::frame::Linker`]).
    pub fn invoke(
        &self,
        vm: &Vm,
        msg: &Message,
        host: &mut dyn Host,
        instance: Instance,
        call: Invocation<'_, '_>,
    ) -> (Instance, Option<Exit>, u64) {
        let Invocation { func, values, linkage } = call;
        let mut frame = Frame::new(msg, &self.code, host, vm, self.costs, &compiled::HELPERS);
        if let Some(linkage) = linkage {
            frame.link(linkage);
        }
        frame.attach(&self.module, &self.signatures, instance);
        let exit = match &self.prepared {
            Prepared::Interp(p) => interpreter::invoke(p, &mut frame, func, values),
            Prepared::Jit(c) => compiled::invoke(c, &mut frame, func, values),
            Prepared::Aot(c) => compiled::invoke(c, &mut frame, func, values),
        };
        // A trap consumes all gas, as it does in a contract call. Compiled code's out-of-bounds accesses to
        // a guarded memory are hardware faults (see `crate::memory`), which stop it with its gas counter
        // still in a register; the interpreter follows the same rule.
        let gas_left = if matches!(exit, Some(Exit::Trap(_))) { 0 } else { frame.gas_left() };
        (frame.detach(), exit, gas_left)
    }
}

/// True if frames of `module` need an [`Instance`] (initial memory, globals or data segments).
fn is_stateful(module: &Module) -> bool {
    !module.globals.is_empty() || !module.data.is_empty() || module.memory != MemoryPlan::default()
}

/// Loads and runs ZVM bytecode in one step; bytecode the frontend rejects gives [`Status::InvalidCode`]
/// with no gas used and no state change.
pub fn execute(bytes: &[u8], tier: Tier, msg: &Message, host: &mut dyn Host, limits: &Limits) -> ExecResult {
    match Contract::load(bytes, tier, limits) {
        Ok(contract) => contract.run(msg, host, limits),
        Err(e) => ExecResult {
            status: Status::InvalidCode(e.to_string()),
            gas_used: 0,
            gas_refunded: 0,
            output: vec![],
            logs: vec![],
        },
    }
}
