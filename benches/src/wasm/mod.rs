//! WebAssembly workloads for the benchmarks, and one runner per engine, prepared so that the measured
//! closure does the same work on each.
//!
//! Each workload is a module in the text format (the `.wat` files beside this one) exporting one function
//! `(param i32) (result i64)`: it takes a size and returns a checksum. [`native`] has the same algorithms
//! in Rust. What one measured run is, for every runner: one call of that export with the workload's size,
//! on an instance made (and, for the compiled engines, a module compiled) beforehand. The instance is kept
//! from run to run, as its memory is: the modules re-initialise what they use on every call.
//!
//! The runners ([`Engine`]): zvm's compiled tier metered (the default [`WasmConfig`], 1 gas per operator)
//! and unmetered (`gas: None`), zvm's interpreter (metered), wasmtime (its default configuration, no fuel:
//! unmetered; and with explicit bounds checks instead of guard pages, the cost of checking each access),
//! wasmi (unmetered) and native Rust. [`Runner::new`] runs the workload once and checks that
//! the result is native Rust's before anything is measured; an engine that rejects a module as unsupported
//! (zvm before tables, for `call_indirect`) is skipped with a note rather than measured.

pub mod native;

use std::fmt;
use std::hint::black_box;
use std::sync::Arc;
use zvm_compiler::frontend::wasm::{NoImports, WasmConfig, WasmError};
use zvm_runtime::executor::{LoadError, Tier};
use zvm_runtime::wasm::{WasmInstance, WasmLoadError, WasmProgram};
use zvm_runtime::Limits;

/// Gas given to a metered zvm call: far more than any workload uses.
pub const GAS: u64 = 1 << 60;

/// One benchmark program.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// The group's name (`wasm/<name>/<engine>`).
    pub name: &'static str,
    /// The module, in the text format.
    pub wat: &'static str,
    /// The function to call.
    pub export: &'static str,
    /// The size it is called with: the same for every engine.
    pub size: u32,
    /// The same algorithm in Rust.
    pub native: fn(u32) -> u64,
}

/// The workloads, each sized to take a few milliseconds compiled (the interpreters take 5 to 50 times
/// longer). `matmul`'s size is not a power of two: a 1024-byte row stride would make the column walk
/// thrash a few cache sets, on every engine alike, and measure that instead.
pub const WORKLOADS: [Workload; 5] = [
    Workload { name: "fib", wat: include_str!("fib.wat"), export: "fib", size: 28, native: native::fib },
    Workload { name: "sieve", wat: include_str!("sieve.wat"), export: "sieve", size: 2_000_000, native: native::sieve },
    Workload { name: "matmul", wat: include_str!("matmul.wat"), export: "matmul", size: 120, native: native::matmul },
    Workload { name: "hash", wat: include_str!("hash.wat"), export: "hash", size: 4_000_000, native: native::hash },
    Workload {
        name: "call_indirect",
        wat: include_str!("dispatch.wat"),
        export: "dispatch",
        size: 2_000_000,
        native: native::dispatch,
    },
];

impl Workload {
    /// The workload called `name`.
    pub fn named(name: &str) -> Workload {
        *WORKLOADS.iter().find(|w| w.name == name).unwrap_or_else(|| panic!("no workload `{name}`"))
    }

    /// The module as a binary.
    pub fn wasm(&self) -> Vec<u8> {
        wat::parse_str(self.wat).unwrap_or_else(|e| panic!("{}.wat: {e}", self.name))
    }

    /// The checksum every engine must return: native Rust's.
    pub fn expected(&self) -> u64 {
        (self.native)(self.size)
    }
}

/// Who runs a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Engine {
    /// zvm's compiled tier (Cranelift), metered: the default [`WasmConfig`].
    ZvmJitMetered,
    /// zvm's compiled tier with `WasmConfig { gas: None, .. }`.
    ZvmJitUnmetered,
    /// zvm's interpreter, metered.
    ZvmInterp,
    /// wasmtime with its default configuration (Cranelift, no fuel; guard pages instead of bounds checks).
    Wasmtime,
    /// wasmtime with explicit bounds checks: no virtual memory reserved beyond the memory, no guard pages
    /// (what guard pages save; zvm's compiled code uses them, as wasmtime's default does).
    WasmtimeChecked,
    /// wasmi, unmetered.
    Wasmi,
    /// The algorithm in native Rust.
    Native,
}

impl Engine {
    pub const ALL: [Engine; 7] = [
        Engine::ZvmJitMetered,
        Engine::ZvmJitUnmetered,
        Engine::ZvmInterp,
        Engine::Wasmtime,
        Engine::WasmtimeChecked,
        Engine::Wasmi,
        Engine::Native,
    ];

    /// The benchmark id's last part.
    pub fn id(self) -> &'static str {
        match self {
            Engine::ZvmJitMetered => "zvm_jit_metered",
            Engine::ZvmJitUnmetered => "zvm_jit_unmetered",
            Engine::ZvmInterp => "zvm_interp_metered",
            Engine::Wasmtime => "wasmtime",
            Engine::WasmtimeChecked => "wasmtime_checked",
            Engine::Wasmi => "wasmi",
            Engine::Native => "native",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A workload ready to run on one engine.
pub struct Runner {
    size: u32,
    kind: Kind,
}

enum Kind {
    Zvm { instance: WasmInstance, export: &'static str },
    Wasmtime { store: wasmtime::Store<()>, func: wasmtime::TypedFunc<i32, i64> },
    // (Boxed: a wasmi store is large; the indirection is once per call.)
    Wasmi { store: Box<wasmi::Store<()>>, func: wasmi::TypedFunc<i32, i64> },
    Native(fn(u32) -> u64),
}

/// Why an engine does not run a workload (yet): it rejected the module as unsupported.
#[derive(Debug)]
pub struct Unsupported(pub String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Runner {
    /// Prepares `workload` on `engine` (compiles and instantiates it), runs it once and checks its result
    /// against native Rust's. Panics on any failure but [`Unsupported`].
    pub fn new(engine: Engine, workload: &Workload) -> Result<Runner, Unsupported> {
        let wasm = workload.wasm();
        let kind = match engine {
            Engine::ZvmJitMetered => zvm(&wasm, workload, Tier::Jit, true)?,
            Engine::ZvmJitUnmetered => zvm(&wasm, workload, Tier::Jit, false)?,
            Engine::ZvmInterp => zvm(&wasm, workload, Tier::Interp, true)?,
            Engine::Wasmtime | Engine::WasmtimeChecked => {
                let mut config = wasmtime::Config::new();
                if engine == Engine::WasmtimeChecked {
                    config.memory_reservation(0).memory_guard_size(0).memory_reservation_for_growth(0);
                }
                let engine = wasmtime::Engine::new(&config).expect("wasmtime takes the configuration");
                let module = wasmtime::Module::new(&engine, &wasm).expect("wasmtime compiles the workload");
                let mut store = wasmtime::Store::new(&engine, ());
                let instance =
                    wasmtime::Instance::new(&mut store, &module, &[]).expect("wasmtime instantiates the workload");
                let func = instance.get_typed_func(&mut store, workload.export).expect("the export has its type");
                Kind::Wasmtime { store, func }
            }
            Engine::Wasmi => {
                let engine = wasmi::Engine::default();
                let module = wasmi::Module::new(&engine, &wasm).expect("wasmi loads the workload");
                let mut store = Box::new(wasmi::Store::new(&engine, ()));
                let instance = wasmi::Linker::new(&engine)
                    .instantiate_and_start(&mut *store, &module)
                    .expect("wasmi instantiates the workload");
                let func = instance.get_typed_func(&*store, workload.export).expect("the export has its type");
                Kind::Wasmi { store, func }
            }
            Engine::Native => Kind::Native(workload.native),
        };
        let mut runner = Runner { size: workload.size, kind };
        let (got, want) = (runner.run(), workload.expected());
        assert_eq!(got, want, "wasm/{}/{engine}: {got:#x}, native Rust {want:#x}", workload.name);
        Ok(runner)
    }

    /// [`Runner::new`], or `None` after printing why the engine is skipped.
    pub fn new_or_skip(engine: Engine, workload: &Workload) -> Option<Runner> {
        match Runner::new(engine, workload) {
            Ok(runner) => Some(runner),
            Err(why) => {
                println!("SKIPPED wasm/{}/{engine}: the module is not supported yet ({why})", workload.name);
                None
            }
        }
    }

    /// One call of the workload's export with its size; returns the checksum.
    pub fn run(&mut self) -> u64 {
        let n = black_box(self.size);
        match &mut self.kind {
            Kind::Zvm { instance, export } => {
                let out = instance.invoke(export, &[n as u64], GAS).unwrap_or_else(|e| panic!("{export}: {e}"));
                out[0]
            }
            Kind::Wasmtime { store, func } => {
                func.call(&mut *store, n as i32).expect("wasmtime runs the workload") as u64
            }
            Kind::Wasmi { store, func } => func.call(&mut **store, n as i32).expect("wasmi runs the workload") as u64,
            Kind::Native(f) => black_box(f(n)),
        }
    }
}

/// Loads and instantiates `wasm` on zvm's `tier`, metered or not.
fn zvm(wasm: &[u8], workload: &Workload, tier: Tier, metered: bool) -> Result<Kind, Unsupported> {
    let config = if metered { WasmConfig::default() } else { WasmConfig { gas: None, ..Default::default() } };
    let limits = Limits::default();
    let program = match WasmProgram::load(wasm, tier, &config, &NoImports, &limits) {
        Ok(program) => program,
        Err(WasmLoadError::Frontend(WasmError::Unsupported(what)))
        | Err(WasmLoadError::Prepare(LoadError::Wasm(WasmError::Unsupported(what)))) => return Err(Unsupported(what)),
        // A frontend that accepts an operator before the backend compiles it (tables, while they land).
        Err(WasmLoadError::Prepare(LoadError::Compile(what))) if what.starts_with("unsupported") => {
            return Err(Unsupported(format!("{tier}: {what}")))
        }
        Err(e) => panic!("wasm/{}: zvm ({tier}) cannot load the module: {e}", workload.name),
    };
    let instance = Arc::new(program).instantiate(&limits, GAS).expect("zvm instantiates the workload");
    Ok(Kind::Zvm { instance, export: workload.export })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every engine agrees with native Rust on small sizes (`Runner::new` checks the result).
    #[test]
    fn engines_agree_with_native_rust() {
        for workload in WORKLOADS {
            let size = match workload.name {
                "fib" => 15,
                "matmul" => 9,
                _ => 5000,
            };
            let workload = Workload { size, ..workload };
            for engine in Engine::ALL {
                let _ = Runner::new_or_skip(engine, &workload);
            }
        }
    }

    /// The checksums are not trivial.
    #[test]
    fn native_checksums() {
        assert_eq!(native::fib(20), 6765);
        assert_eq!(native::sieve(30), 2 + 3 + 5 + 7 + 11 + 13 + 17 + 19 + 23 + 29);
        assert_eq!(f64::from_bits(native::matmul(1)), 1.0 * -1.5);
        assert_ne!(native::hash(1000), native::hash(1001));
        assert_ne!(native::dispatch(1000), native::dispatch(1001));
    }
}
