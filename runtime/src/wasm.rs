//! Plain WebAssembly modules: load one for a tier, instantiate it, invoke its exports.
//!
//! A [`WasmProgram`] is a validated, lowered and prepared module (interpreted or compiled); a
//! [`WasmInstance`] is one instantiation of it: its memory, globals and dropped segments live in an
//! [`Instance`] that persists from one invocation to the next, as a WebAssembly instance does. Both tiers
//! run an invocation through the same `Contract::invoke`, so they agree on results, traps and gas.
//!
//! (Contracts written in WebAssembly run through the contract ABI instead; see the frontend's docs.)

use crate::executor::{Contract, Tier};
use crate::frame::{Exit, Instance, Message};
use crate::host::InMemoryHost;
use crate::limits::Limits;
use crate::schedule::ZvmCosts;
use crate::vm::Vm;
use std::sync::Arc;
use thiserror::Error;
use zvm_compiler::frontend::wasm::{self, Export, GlobalRef, Imports, WasmConfig, WasmError};
use zvm_ir::{FuncId, TrapCode, Type};

/// Why a module could not be loaded.
#[derive(Debug, Error)]
pub enum WasmLoadError {
    #[error(transparent)]
    Frontend(#[from] WasmError),
    #[error(transparent)]
    Prepare(#[from] crate::executor::LoadError),
}

/// Why an invocation did not return values.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum InvokeError {
    #[error("trap: {}", .0.name())]
    Trap(TrapCode),
    #[error("out of gas")]
    OutOfGas,
    #[error("no exported function `{0}`")]
    NoSuchExport(String),
    #[error("`{name}` takes {want} argument(s), got {got}")]
    Arity { name: String, want: usize, got: usize },
}

impl InvokeError {
    fn from_exit(exit: Exit) -> InvokeError {
        match exit {
            Exit::Trap(code) => InvokeError::Trap(code),
            Exit::OutOfGas => InvokeError::OutOfGas,
            // Plain modules cannot halt (no host ABI); a halt would be a frontend bug.
            Exit::Halt(_) => InvokeError::Trap(TrapCode::HostError),
        }
    }
}

/// A WebAssembly module prepared for one tier.
pub struct WasmProgram {
    contract: Contract,
    exports: Vec<(String, Export)>,
}

impl WasmProgram {
    /// Validates, lowers and prepares `bytes` (a binary module) for `tier`.
    pub fn load(
        bytes: &[u8],
        tier: Tier,
        config: &WasmConfig,
        imports: &dyn Imports,
        _limits: &Limits,
    ) -> Result<WasmProgram, WasmLoadError> {
        let lowered = wasm::translate(bytes, config, imports)?;
        let mut module = lowered.ir;
        zvm_ir::passes::gas::run(&mut module);
        let contract = Contract::from_module(module, bytes.to_vec(), tier, &ZvmCosts)?;
        Ok(WasmProgram { contract, exports: lowered.exports })
    }

    /// The module's exports.
    pub fn exports(&self) -> &[(String, Export)] {
        &self.exports
    }

    /// The prepared program (its IR through [`Contract::module`]).
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// Instantiates the module: fresh memory and globals, then the instantiation code (global
    /// initializers, active data segments, start function) with `gas` gas.
    pub fn instantiate(self: &Arc<Self>, limits: &Limits, gas: u64) -> Result<WasmInstance, InvokeError> {
        let module = self.contract.module();
        let state = Instance::new(module, limits).map_err(InvokeError::Trap)?;
        let entry = module.entry;
        let mut instance = WasmInstance { program: Arc::clone(self), state, limits: limits.clone(), gas_used: 0 };
        instance.call(entry, &mut [], gas)?;
        Ok(instance)
    }
}

/// One instance of a [`WasmProgram`].
pub struct WasmInstance {
    program: Arc<WasmProgram>,
    state: Instance,
    limits: Limits,
    gas_used: u64,
}

impl WasmInstance {
    /// Gas used by the last invocation (or the instantiation).
    pub fn gas_used(&self) -> u64 {
        self.gas_used
    }

    /// The instance's memory, globals and dropped segments.
    pub fn state(&self) -> &Instance {
        &self.state
    }

    /// Parameter and result types of the exported function `name`.
    pub fn signature(&self, name: &str) -> Option<&zvm_ir::Signature> {
        match self.export(name)? {
            Export::Func(f) => self.program.contract.module().functions.get(f.index()).map(|f| &f.sig),
            _ => None,
        }
    }

    fn export(&self, name: &str) -> Option<Export> {
        self.program.exports.iter().find(|(n, _)| n == name).map(|e| e.1)
    }

    /// Invokes the exported function `name` with `args` (bit patterns; `i32`/`f32` in the low 32 bits;
    /// references as `i64`, 0 for null) and `gas` gas; returns its results as bit patterns.
    pub fn invoke(&mut self, name: &str, args: &[u64], gas: u64) -> Result<Vec<u64>, InvokeError> {
        let Some(Export::Func(func)) = self.export(name) else {
            return Err(InvokeError::NoSuchExport(name.to_string()));
        };
        let sig = self.program.contract.module().function(func).sig.clone();
        if args.len() != sig.params.len() {
            return Err(InvokeError::Arity { name: name.to_string(), want: sig.params.len(), got: args.len() });
        }
        let mut values = vec![0u64; sig.params.len().max(sig.results.len())];
        for ((slot, &a), &ty) in values.iter_mut().zip(args).zip(&sig.params) {
            *slot = mask(ty, a);
        }
        self.call(func, &mut values, gas)?;
        values.truncate(sig.results.len());
        for (v, &ty) in values.iter_mut().zip(&sig.results) {
            *v = mask(ty, *v);
        }
        Ok(values)
    }

    /// The value of the exported global `name`, with its type.
    pub fn global(&self, name: &str) -> Option<(Type, u64)> {
        match self.export(name)? {
            Export::Global(GlobalRef::Ir(i)) => {
                let ty = *self.program.contract.module().globals.get(i as usize)?;
                Some((ty, mask(ty, *self.state.globals.get(i as usize)?)))
            }
            Export::Global(GlobalRef::Const(c)) => Some((c.ty, c.bits)),
            _ => None,
        }
    }

    fn call(&mut self, func: FuncId, values: &mut [u64], gas: u64) -> Result<(), InvokeError> {
        let vm = Vm::new(self.program.contract.tier(), self.limits.clone());
        let msg = Message { gas_limit: gas, ..Message::default() };
        let mut host = InMemoryHost::default();
        let state = std::mem::take(&mut self.state);
        let (state, exit, gas_left) = self.program.contract.invoke(&vm, &msg, &mut host, state, func, values);
        self.state = state;
        self.gas_used = gas - gas_left;
        match exit {
            None => Ok(()),
            Some(exit) => Err(InvokeError::from_exit(exit)),
        }
    }
}

/// Keeps the bits a value of type `ty` has.
fn mask(ty: Type, bits: u64) -> u64 {
    match ty {
        Type::I32 | Type::F32 => bits & 0xffff_ffff,
        _ => bits,
    }
}
