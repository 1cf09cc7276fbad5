//! Wall time of real EVM contracts as whole transactions: zvm's interpreter, zvm's compiled tier and revm,
//! in one run (see `zvm_benches::evm` for what a run is), and the time to compile each callee.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use std::hint::black_box;
use zvm_benches::evm::{compile, EvmCase};
use zvm_runtime::executor::Tier;

fn evm(c: &mut Criterion) {
    let Some(cases) = EvmCase::load_all() else { return };
    let mut group = c.benchmark_group("evm");
    for case in &cases {
        for tier in [Tier::Interp, Tier::Jit] {
            let runner = case.zvm(tier);
            group.bench_function(BenchmarkId::new(format!("zvm-{tier}"), &case.name), |b| {
                // The state goes back to criterion, which drops it outside the measurement. Batches are
                // small, so that each copy is still in the cache when it runs, as revm's one state is:
                // with criterion's `SmallInput` batches (thousands of copies made before any runs) a
                // 1.5 µs call measured 3.2 µs, from cache misses alone.
                b.iter_batched(
                    || case.state(),
                    |mut state| {
                        black_box(runner.run(black_box(&mut state)));
                        state
                    },
                    BatchSize::NumIterations(16),
                )
            });
        }
        let mut revm = case.revm();
        group.bench_function(BenchmarkId::new("revm", &case.name), |b| b.iter(|| revm.run()));
    }
    group.finish();

    let mut group = c.benchmark_group("evm-compile");
    let mut seen = std::collections::HashSet::new();
    for case in &cases {
        let code = case.callee_code();
        if code.is_empty() || !seen.insert(code.to_vec()) {
            continue;
        }
        let name = format!("{} ({} bytes)", case.name, code.len());
        group.bench_function(name, |b| b.iter(|| compile(black_box(code))));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(std::time::Duration::from_millis(500));
    targets = evm
}
criterion_main!(benches);
