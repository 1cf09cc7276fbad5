//! Wall time of the fibonacci loop (256-bit words) on both zvm tiers and in native Rust.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use zvm_benches::{fib_contract, native_fib, run_fib};
use zvm_runtime::executor::Tier;

fn fib(c: &mut Criterion) {
    let mut group = c.benchmark_group("fib");
    for n in [100u64, 10_000] {
        for tier in [Tier::Interp, Tier::Jit] {
            let contract = fib_contract(tier);
            assert!(run_fib(&contract, n).status.is_success());
            group.bench_with_input(BenchmarkId::new(tier.to_string(), n), &n, |b, &n| {
                b.iter(|| run_fib(&contract, black_box(n)))
            });
        }
        group.bench_with_input(BenchmarkId::new("native", n), &n, |b, &n| b.iter(|| native_fib(black_box(n))));
    }
    group.finish();
    c.bench_function("compile/fib/jit", |b| b.iter(|| fib_contract(Tier::Jit)));
}

criterion_group!(benches, fib);
criterion_main!(benches);
