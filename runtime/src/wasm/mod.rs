//! Plain WebAssembly modules: load one for a tier, instantiate it, invoke its exports.
//!
//! A [`WasmProgram`] is a validated, lowered and prepared module (interpreted or compiled); a
//! [`WasmInstance`] is one instantiation of it in a [`Store`], where its memory, tables and globals
//! persist from one invocation to the next, as a WebAssembly instance's do, and where instances import
//! one another's functions, memories, tables and globals (see [`store`]). Both tiers run an invocation
//! through the same `Contract::invoke`, so they agree on results, traps and gas.
//!
//! (Contracts written in WebAssembly run through the contract ABI instead; see the frontend's docs.)

pub mod store;

use crate::executor::{Contract, Tier};
use crate::frame::{Exit, Instance};
use crate::limits::Limits;
use crate::schedule::ZvmCosts;
use std::rc::Rc;
use std::sync::Arc;
pub use store::Store;
use thiserror::Error;
use zvm_compiler::frontend::wasm::{
    self, Export, GlobalRef, GlobalType, Imports, Link, WasmConfig, WasmError, WasmFuncType, WasmType,
};
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
    /// An import cannot be bound at instantiation.
    #[error("unlinkable: {0}")]
    Unlinkable(String),
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
    links: Vec<Link>,
    funcs: Vec<WasmFuncType>,
    globals: Vec<GlobalType>,
    tables: Vec<WasmType>,
}

impl WasmProgram {
    /// Validates, lowers and prepares `bytes` (a binary module) for `tier`, resolving its imports with
    /// `imports` (a [`Store::imports`] to link it to a store's instances).
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
        Ok(WasmProgram {
            contract,
            exports: lowered.exports,
            links: lowered.links,
            funcs: lowered.funcs,
            globals: lowered.globals,
            tables: lowered.tables,
        })
    }

    /// The module's exports.
    pub fn exports(&self) -> &[(String, Export)] {
        &self.exports
    }

    /// The export called `name`.
    pub fn export(&self, name: &str) -> Option<Export> {
        self.exports.iter().find(|(n, _)| n == name).map(|e| e.1)
    }

    /// The type of an exported global (`None` for other exports).
    pub fn global_type(&self, export: Export) -> Option<GlobalType> {
        match export {
            Export::Global(GlobalRef::Ir(g)) => self.globals.get(g as usize).copied(),
            Export::Global(GlobalRef::Const(c)) => Some(GlobalType { ty: c.ty, mutable: false }),
            _ => None,
        }
    }

    /// The prepared program (its IR through [`Contract::module`]).
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// Instantiates the module alone in a new [`Store`] (see [`Store::instantiate`]).
    pub fn instantiate(self: &Arc<Self>, limits: &Limits, gas: u64) -> Result<WasmInstance, InvokeError> {
        Rc::new(Store::new(limits.clone())).instantiate(self, gas)
    }
}

/// One instance of a [`WasmProgram`], in its [`Store`].
pub struct WasmInstance {
    store: Rc<Store>,
    index: usize,
    gas_used: u64,
}

impl WasmInstance {
    /// Gas used by the last invocation (or the instantiation).
    pub fn gas_used(&self) -> u64 {
        self.gas_used
    }

    /// The store the instance lives in.
    pub fn store(&self) -> &Rc<Store> {
        &self.store
    }

    /// A copy of the instance's memory, globals, tables and dropped segments.
    pub fn state(&self) -> Instance {
        self.store.snapshot(self.index)
    }

    /// Parameter and result types of the exported function `name`.
    pub fn signature(&self, name: &str) -> Option<zvm_ir::Signature> {
        let program = self.store.program(self.index);
        match program.export(name)? {
            Export::Func(f) => program.contract.module().functions.get(f.index()).map(|f| f.sig.clone()),
            _ => None,
        }
    }

    /// Invokes the exported function `name` with `args` (bit patterns; `i32`/`f32` in the low 32 bits;
    /// references as `i64`, 0 for null) and `gas` gas; returns its results as bit patterns.
    pub fn invoke(&mut self, name: &str, args: &[u64], gas: u64) -> Result<Vec<u64>, InvokeError> {
        let program = self.store.program(self.index);
        let Some(Export::Func(func)) = program.export(name) else {
            return Err(InvokeError::NoSuchExport(name.to_string()));
        };
        let sig = &program.contract.module().function(func).sig;
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
        self.store.global(self.index, name)
    }

    fn call(&mut self, func: FuncId, values: &mut [u64], gas: u64) -> Result<(), InvokeError> {
        let (exit, gas_left) = self.store.invoke(self.index, func, values, gas);
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
