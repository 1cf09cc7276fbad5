//! Calls per second through the embedding API: `Engine::call` of the counter example (one storage read,
//! one storage write, a 32-byte return) on one core, with the interpreter (`TierPolicy::Interpret`) and
//! with native code (`TierPolicy::Compile`). Each iteration is one call plus ending the host's transaction,
//! so the host's journal does not grow; the per-call cost includes the engine's look-up and accounting.
//! For comparison: the same calls through `Contract::run` directly (no engine), and fibonacci with n = 1
//! (no storage access) through the engine.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use zvm_compiler::frontend::zvm::asm;
use zvm_runtime::engine::{Engine, TierPolicy};
use zvm_runtime::executor::{Contract, Tier};
use zvm_runtime::Host as _;
use zvm_runtime::{Address, InMemoryHost, Limits, Message};

const POLICIES: [(&str, TierPolicy); 2] = [("interpret", TierPolicy::Interpret), ("compile", TierPolicy::Compile)];

fn engine_calls(c: &mut Criterion) {
    let code = asm::assemble(include_str!("../../examples/counter.zasm")).expect("the shipped example assembles");
    let msg = Message { address: Address::from_low_u64(0xc0de), gas_limit: 100_000, ..Message::default() };
    let mut group = c.benchmark_group("engine/counter");
    group.throughput(criterion::Throughput::Elements(1));
    for (name, policy) in POLICIES {
        let engine = Engine::builder().tier_policy(policy).build().expect("the engine builds");
        let id = engine.load(&code).expect("the shipped example loads");
        let mut host = InMemoryHost::new();
        assert!(engine.call(id, &msg, &mut host).status.is_success());
        group.bench_function(name, |b| {
            b.iter(|| {
                let result = engine.call(black_box(id), black_box(&msg), &mut host);
                host.finish_transaction();
                result
            })
        });
        let stats = engine.stats();
        assert_eq!(stats.compile_failures + stats.over_budget, 0, "{stats:?}");
    }
    for (name, tier) in [("direct-interp", Tier::Interp), ("direct-jit", Tier::Jit)] {
        let limits = Limits::default();
        let contract = Contract::load(&code, tier, &limits).expect("the shipped example loads");
        let mut host = InMemoryHost::new();
        group.bench_function(name, |b| {
            b.iter(|| {
                let result = contract.run(black_box(&msg), &mut host, &limits);
                host.finish_transaction();
                result
            })
        });
    }
    group.finish();

    let fib = asm::assemble(include_str!("../../examples/fib.zasm")).expect("the shipped example assembles");
    let mut input = [0u8; 32];
    input[31] = 1;
    let msg = Message { input: input.to_vec(), gas_limit: 100_000, ..Message::default() };
    let mut group = c.benchmark_group("engine/fib1");
    group.throughput(criterion::Throughput::Elements(1));
    for (name, policy) in POLICIES {
        let engine = Engine::builder().tier_policy(policy).build().expect("the engine builds");
        let id = engine.load(&fib).expect("the shipped example loads");
        let mut host = InMemoryHost::new();
        assert!(engine.call(id, &msg, &mut host).status.is_success());
        group.bench_function(name, |b| b.iter(|| engine.call(black_box(id), black_box(&msg), &mut host)));
    }
    group.finish();
}

criterion_group!(benches, engine_calls);
criterion_main!(benches);
