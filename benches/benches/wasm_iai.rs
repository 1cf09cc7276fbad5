//! Instruction counts (callgrind) of the WebAssembly workloads (see `zvm_benches::wasm`) on zvm's compiled
//! tier metered and unmetered, zvm's interpreter, wasmtime, wasmi and native Rust. Compiling, instantiating
//! and checking a workload's result against native Rust's happen in `setup`, outside the measured function,
//! which makes one call and hands the runner back so that dropping it is not measured either.
//!
//! ```text
//! cargo bench -p zvm-benches --bench wasm_iai
//! ```
//!
//! An engine that does not support a module yet (zvm before tables, for `call_indirect`) measures an empty
//! run and prints a `SKIPPED` note (shown with `-- --nocapture`).

use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use std::hint::black_box;
use zvm_benches::wasm::{Engine, Runner, Workload};

fn setup(engine: Engine, workload: &str) -> Option<Runner> {
    Runner::new_or_skip(engine, &Workload::named(workload))
}

fn zvm_jit_metered_setup(workload: &str) -> Option<Runner> {
    setup(Engine::ZvmJitMetered, workload)
}

fn zvm_jit_unmetered_setup(workload: &str) -> Option<Runner> {
    setup(Engine::ZvmJitUnmetered, workload)
}

fn zvm_interp_metered_setup(workload: &str) -> Option<Runner> {
    setup(Engine::ZvmInterp, workload)
}

fn wasmtime_setup(workload: &str) -> Option<Runner> {
    setup(Engine::Wasmtime, workload)
}

fn wasmi_setup(workload: &str) -> Option<Runner> {
    setup(Engine::Wasmi, workload)
}

fn native_setup(workload: &str) -> Option<Runner> {
    setup(Engine::Native, workload)
}

fn run(mut runner: Option<Runner>) -> Option<Runner> {
    if let Some(runner) = &mut runner {
        black_box(runner.run());
    }
    runner
}

/// The same list of workloads for every engine.
macro_rules! workloads {
    ($name:ident, $setup:ident) => {
        #[library_benchmark]
        #[bench::fib(args = ("fib"), setup = $setup)]
        #[bench::sieve(args = ("sieve"), setup = $setup)]
        #[bench::matmul(args = ("matmul"), setup = $setup)]
        #[bench::hash(args = ("hash"), setup = $setup)]
        #[bench::call_indirect(args = ("call_indirect"), setup = $setup)]
        fn $name(runner: Option<Runner>) -> Option<Runner> {
            run(runner)
        }
    };
}

workloads!(zvm_jit_metered, zvm_jit_metered_setup);
workloads!(zvm_jit_unmetered, zvm_jit_unmetered_setup);
workloads!(zvm_interp_metered, zvm_interp_metered_setup);
workloads!(wasmtime, wasmtime_setup);
workloads!(wasmi, wasmi_setup);
workloads!(native, native_setup);

library_benchmark_group!(
    name = wasm;
    benchmarks = zvm_jit_metered, zvm_jit_unmetered, zvm_interp_metered, wasmtime, wasmi, native
);
main!(library_benchmark_groups = wasm);
