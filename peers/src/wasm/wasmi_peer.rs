//! wasmi, the reference: one instance of a module in its own store, with fuel and the same memory limit
//! and call depth as zvm.

use super::info::Ty;
use super::{Ending, Trap, Value};
use wasmi::errors::{ErrorKind, InstantiationError};
pub use wasmi::Engine;
use wasmi::{CompilationMode, Config, Instance, Module, Store, StoreLimits, StoreLimitsBuilder, TrapCode, Val};
use wasmi::{F32, F64};

/// wasmi's `max_recursion_depth` that traps at the same call depth as zvm's default limit
/// (`Limits::default().max_call_depth` = 1024 calls below the invoked function): wasmi counts the invoked
/// function's own frame as well. Checked by `peers/tests/wasm_differential.rs`.
pub const MAX_RECURSION_DEPTH: usize = 1025;

/// An engine configured like zvm: fuel on (zvm's gas stops endless loops, wasmi's fuel does the same), eager
/// compilation (nothing happens lazily during a call), zvm's call depth, and a value stack large enough that
/// only the depth limit is ever met.
pub fn engine() -> Engine {
    let mut config = Config::default();
    config.consume_fuel(true);
    config.compilation_mode(CompilationMode::Eager);
    config.set_max_recursion_depth(MAX_RECURSION_DEPTH);
    config.set_max_stack_height(256 << 20);
    Engine::new(&config)
}

/// A module instantiated in wasmi.
pub struct WasmiPeer {
    store: Store<StoreLimits>,
    instance: Instance,
}

/// Why a module did not get an instance.
pub enum NoInstance {
    /// wasmi does not take the module.
    Rejected(String),
    /// Instantiation ended (a trap of the start function or of a data segment, or no fuel left).
    Ended(Ending),
}

fn ending_of(e: &wasmi::Error) -> Ending {
    match e.as_trap_code() {
        Some(TrapCode::UnreachableCodeReached) => Ending::Trapped(Trap::Unreachable),
        Some(TrapCode::MemoryOutOfBounds) => Ending::Trapped(Trap::MemoryOutOfBounds),
        Some(TrapCode::TableOutOfBounds) => Ending::Trapped(Trap::TableOutOfBounds),
        Some(TrapCode::IndirectCallToNull) => Ending::Trapped(Trap::IndirectCallToNull),
        Some(TrapCode::IntegerDivisionByZero) => Ending::Trapped(Trap::IntegerDivByZero),
        Some(TrapCode::IntegerOverflow) => Ending::Trapped(Trap::IntegerOverflow),
        Some(TrapCode::BadConversionToInteger) => Ending::Trapped(Trap::BadConversion),
        Some(TrapCode::StackOverflow) => Ending::Trapped(Trap::CallStackExhausted),
        Some(TrapCode::BadSignature) => Ending::Trapped(Trap::BadSignature),
        Some(TrapCode::OutOfFuel) => Ending::OutOfGas,
        // An active element segment past its table's end: a trap of the instantiation (in the specification
        // as in zvm), an instantiation error without a trap code in wasmi.
        None if matches!(e.kind(), ErrorKind::Instantiation(InstantiationError::ElementSegmentDoesNotFit { .. })) => {
            Ending::Trapped(Trap::TableOutOfBounds)
        }
        _ => Ending::Unexpected(e.to_string()),
    }
}

impl WasmiPeer {
    /// Compiles and instantiates `bytes` with `fuel` for the instantiation; memories may grow to
    /// `max_memory` bytes (zvm's `Limits::max_memory`), past that `memory.grow` fails with -1 as in zvm.
    pub fn new(engine: &Engine, bytes: &[u8], fuel: u64, max_memory: u64) -> Result<WasmiPeer, NoInstance> {
        let module = Module::new(engine, bytes).map_err(|e| NoInstance::Rejected(e.to_string()))?;
        let limits = StoreLimitsBuilder::new().memory_size(usize::try_from(max_memory).unwrap_or(usize::MAX)).build();
        let mut store = Store::new(engine, limits);
        store.limiter(|limits| limits);
        store.set_fuel(fuel).map_err(|e| NoInstance::Rejected(e.to_string()))?;
        let instance = Instance::new(&mut store, &module, &[]).map_err(|e| NoInstance::Ended(ending_of(&e)))?;
        Ok(WasmiPeer { store, instance })
    }

    /// Calls the exported function `name` with `args` (bit patterns of the types `params`) and `fuel`.
    pub fn call(&mut self, name: &str, params: &[Ty], results: &[Ty], args: &[u64], fuel: u64) -> Ending {
        let Some(func) = self.instance.get_func(&self.store, name) else {
            return Ending::Unexpected(format!("wasmi has no exported function {name}"));
        };
        let inputs: Vec<Val> = params.iter().zip(args).map(|(&ty, &bits)| val(ty, bits)).collect();
        let mut outputs: Vec<Val> = results.iter().map(|&ty| val(ty, 0)).collect();
        if let Err(e) = self.store.set_fuel(fuel) {
            return Ending::Unexpected(e.to_string());
        }
        match func.call(&mut self.store, &inputs, &mut outputs) {
            Ok(()) => Ending::Returned(outputs.iter().map(value).collect()),
            Err(e) => ending_of(&e),
        }
    }

    /// The value of the exported global `name`.
    pub fn global(&self, name: &str) -> Option<Value> {
        Some(value(&self.instance.get_global(&self.store, name)?.get(&self.store)))
    }

    /// The contents of the exported memory `name`.
    pub fn memory(&self, name: &str) -> Option<&[u8]> {
        Some(self.instance.get_memory(&self.store, name)?.data(&self.store))
    }
}

fn val(ty: Ty, bits: u64) -> Val {
    match ty {
        Ty::I32 => Val::I32(bits as u32 as i32),
        Ty::I64 => Val::I64(bits as i64),
        Ty::F32 => Val::F32(F32::from_bits(bits as u32)),
        Ty::F64 => Val::F64(F64::from_bits(bits)),
        // Only null references can be made from outside.
        Ty::FuncRef => Val::default_for_ty(wasmi::ValType::FuncRef),
        Ty::ExternRef => Val::default_for_ty(wasmi::ValType::ExternRef),
    }
}

fn value(v: &Val) -> Value {
    match v {
        Val::I32(x) => Value::I32(*x as u32),
        Val::I64(x) => Value::I64(*x as u64),
        Val::F32(x) => Value::F32(x.to_bits()),
        Val::F64(x) => Value::F64(x.to_bits()),
        Val::FuncRef(r) => Value::Ref(!r.is_null()),
        Val::ExternRef(r) => Value::Ref(!r.is_null()),
        Val::V128(_) => Value::Ref(true),
    }
}
