//! Wall time of WebAssembly workloads (see `zvm_benches::wasm`) on zvm's compiled tier metered and
//! unmetered, zvm's interpreter, wasmtime, wasmi and native Rust, side by side in one run: benchmark ids
//! `wasm/<workload>/<engine>`. Every engine's result is checked against native Rust's before it is
//! measured; an engine that does not support a module yet is skipped with a note.
//!
//! ```text
//! cargo bench -p zvm-benches --bench wasm                   # everything
//! cargo bench -p zvm-benches --bench wasm -- --quick        # a quick look
//! cargo bench -p zvm-benches --bench wasm -- 'wasm/fib/'    # one workload
//! ```
//!
//! For a table of ratios without criterion, see the `wasm_table` binary.

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use std::time::Duration;
use zvm_benches::wasm::{Engine, Runner, WORKLOADS};

fn wasm(c: &mut Criterion) {
    for workload in &WORKLOADS {
        let mut group = c.benchmark_group(format!("wasm/{}", workload.name));
        // Milliseconds an iteration: the same number of iterations in every sample.
        group.sampling_mode(SamplingMode::Flat);
        for engine in Engine::ALL {
            // Compiling, instantiating and checking the result happen here, outside the measurement.
            let Some(mut runner) = Runner::new_or_skip(engine, workload) else { continue };
            group.bench_function(engine.id(), |b| b.iter(|| runner.run()));
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = wasm
}
criterion_main!(benches);
