//! Loading and running programs: the entry point of the runtime.
//!
//! [`Contract::load`] takes bytecode through its frontend, runs the gas pass, verifies the IR and prepares
//! it for a tier (pre-lowering for the interpreter, native code for the compiled tiers). [`Contract::run`]
//! executes it against a host, inside a journal checkpoint: a run that does not succeed leaves the host's
//! state exactly as it found it.

use crate::frame::{Frame, Message};
use crate::host::Host;
use crate::limits::Limits;
use crate::result::{ExecResult, Status};
use crate::schedule::{HostCosts, ZvmCosts};
use crate::{compiled, interpreter};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;
use zvm_cache::LoadedCode;
use zvm_compiler::cranelift::{self as backend, CompiledModule, JitOptions, Target};
use zvm_compiler::frontend::zvm::lower;
use zvm_ir::Module;

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
    /// The frontend produced IR that does not verify (a zvm bug, reported instead of run).
    #[error("internal error: the frontend produced invalid IR: {0}")]
    InvalidIr(String),
    /// The backend failed to compile the IR.
    #[error("compilation failed: {0}")]
    Compile(String),
    /// The loader rejected the emitted object.
    #[error("loading the native object failed: {0}")]
    Object(#[from] zvm_cache::LoadError),
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
    prepared: Prepared,
    costs: &'static dyn HostCosts,
}

impl Contract {
    /// Loads ZVM bytecode (raw or in a `ZVMC` container) for `tier`.
    pub fn load(bytes: &[u8], tier: Tier, limits: &Limits) -> Result<Contract, LoadError> {
        let loaded = lower::load(bytes, limits.max_code_size)?;
        let mut module = loaded.module;
        zvm_ir::passes::gas::run(&mut module);
        Self::from_module(module, loaded.code.to_vec(), tier, &ZvmCosts)
    }

    /// Prepares an already gas-passed IR module (for IR-level tests and tools). `code` is what the program
    /// sees as its own code.
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
        Ok(Contract { code, module, prepared, costs })
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

    /// Runs the program for `msg` against `host`. State changes are kept only on success.
    pub fn run(&self, msg: &Message, host: &mut dyn Host, limits: &Limits) -> ExecResult {
        let checkpoint = host.checkpoint();
        let result = {
            let mut frame = Frame::new(msg, &self.code, &mut *host, limits, self.costs, &compiled::HELPERS);
            let exit = match &self.prepared {
                Prepared::Interp(p) => interpreter::run(p, &mut frame),
                Prepared::Jit(c) => compiled::run(c, &mut frame),
                Prepared::Aot(c) => compiled::run(c, &mut frame),
            };
            frame.finish(exit)
        };
        if !result.status.is_success() {
            host.revert_to(checkpoint);
        }
        result
    }
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
