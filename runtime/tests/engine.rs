//! The embedding API: tier policies, background tiering, budgets, the cache, and concurrent calls.
//!
//! The central property: switching tiers is not observable. The same call sequence gives identical
//! results (status, gas, output, logs) and identical storage on every policy, including adaptive engines
//! that switch in the middle of the sequence.

use ruint::aliases::U256;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use zvm_compiler::frontend::zvm::asm;
use zvm_runtime::engine::{BuildError, ContractId, Engine, EngineError, TierPolicy};
use zvm_runtime::executor::Tier;
use zvm_runtime::Host as _;
use zvm_runtime::{Address, ExecResult, InMemoryHost, Message, Status};

const ADDRESS: Address = Address::from_low_u64(0xc0de);

fn counter() -> Vec<u8> {
    asm::assemble(include_str!("../../examples/counter.zasm")).expect("counter assembles")
}

fn fib() -> Vec<u8> {
    asm::assemble(include_str!("../../examples/fib.zasm")).expect("fib assembles")
}

fn token() -> Vec<u8> {
    asm::assemble(include_str!("../../examples/token.zasm")).expect("token assembles")
}

fn msg(input: Vec<u8>, gas_limit: u64) -> Message {
    Message { address: ADDRESS, input, gas_limit, ..Message::default() }
}

fn word(n: u64) -> Vec<u8> {
    U256::from(n).to_be_bytes::<32>().to_vec()
}

fn engine(policy: TierPolicy) -> Engine {
    Engine::builder().tier_policy(policy).build().expect("engine builds")
}

/// A fresh, empty directory under the system temp dir.
fn temp_dir(tag: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "zvm-engine-test-{}-{tag}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs a fixed sequence (counter increments, fibonacci with enough gas and out of gas, token calls)
/// against one host; after each call waits for the engine's compiles, so adaptive engines switch at a
/// deterministic point. Returns every result and the contract's final storage (sorted).
fn sequence(engine: &Engine) -> (Vec<ExecResult>, BTreeMap<U256, U256>) {
    let counter = engine.load(&counter()).unwrap();
    let fib = engine.load(&fib()).unwrap();
    let token = engine.load(&token()).unwrap();
    let mut host = InMemoryHost::new();
    let mut results = Vec::new();
    for i in 0..8u64 {
        results.push(engine.call(counter, &msg(vec![], 100_000), &mut host));
        results.push(engine.call(fib, &msg(word(i * 7), 1_000_000), &mut host));
        // Runs out of gas part-way: both tiers must stop at the same point.
        results.push(engine.call(fib, &msg(word(1_000), 500 + i * 37), &mut host));
        // Token: mints, transfers (the later ones revert: the balance runs out), balance queries, events.
        results.push(engine.call(token, &token_call(i), &mut host));
        host.finish_transaction();
        engine.wait_idle();
    }
    (results, host.account_mut(ADDRESS).storage.iter().map(|(k, v)| (*k, *v)).collect())
}

/// The `i`th token call: mint 500 to the caller, transfer 400 to another account, or query a balance.
fn token_call(i: u64) -> Message {
    let other = word(0xbb);
    let input = match i % 3 {
        0 if i < 3 => [&[0x40, 0xc1, 0x0f, 0x19][..], &word(0xaa), &word(500)].concat(),
        0 | 1 => [&[0xa9, 0x05, 0x9c, 0xbb][..], &other, &word(400)].concat(),
        _ => [&[0x70, 0xa0, 0x82, 0x31][..], &word(0xaa)].concat(),
    };
    Message { caller: Address::from_low_u64(0xaa), ..msg(input, 200_000) }
}

#[test]
fn engine_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Engine>();
}

#[test]
fn switching_tiers_is_not_observable() {
    let reference = sequence(&engine(TierPolicy::Interpret));
    assert_eq!(reference.1.get(&U256::ZERO), Some(&U256::from(8)), "the counter");
    assert_eq!(reference.1.len(), 3, "the counter and two token balances");
    for status in [Status::OutOfGas, Status::Revert] {
        assert!(reference.0.iter().any(|r| r.status == status), "the sequence covers {status:?}");
    }
    assert!(reference.0.iter().any(|r| !r.logs.is_empty()), "the sequence covers logs");
    for policy in
        [TierPolicy::Compile, TierPolicy::Adaptive { hot_threshold: 1 }, TierPolicy::Adaptive { hot_threshold: 3 }]
    {
        let engine = engine(policy);
        let got = sequence(&engine);
        assert_eq!(got, reference, "{policy:?}");
        let stats = engine.stats();
        assert!(stats.native_calls > 0, "{policy:?}: {stats:?}");
        assert_eq!(stats.compiles, 3, "{policy:?}: {stats:?}");
        assert_eq!(stats.compile_failures + stats.over_budget, 0, "{policy:?}: {stats:?}");
        if let TierPolicy::Adaptive { .. } = policy {
            assert!(stats.interpreted_calls > 0, "{policy:?}: {stats:?}");
        }
    }
}

#[test]
fn adaptive_switches_after_the_threshold_in_the_background() {
    let engine = engine(TierPolicy::Adaptive { hot_threshold: 3 });
    let id = engine.load(&counter()).unwrap();
    let mut host = InMemoryHost::new();
    for n in 1..=2u64 {
        assert_eq!(engine.call(id, &msg(vec![], 100_000), &mut host).output, word(n));
    }
    engine.wait_idle();
    assert_eq!(engine.contract_info(id).unwrap().tier, Tier::Interp, "not hot yet");
    assert_eq!(engine.stats().compiles, 0);
    // The third call reaches the threshold (and still runs on the interpreter).
    assert_eq!(engine.call(id, &msg(vec![], 100_000), &mut host).output, word(3));
    engine.wait_idle();
    let info = engine.contract_info(id).unwrap();
    assert_eq!(info.tier, Tier::Jit);
    assert_eq!(info.native_failure, None);
    assert_eq!(engine.call(id, &msg(vec![], 100_000), &mut host).output, word(4));
    let stats = engine.stats();
    assert_eq!((stats.interpreted_calls, stats.native_calls, stats.compiles), (3, 1, 1), "{stats:?}");
    assert_eq!(stats.pending_compiles, 0);
}

#[test]
fn load_is_idempotent_and_ids_are_content_hashes() {
    let engine = engine(TierPolicy::Interpret);
    let a = engine.load(&counter()).unwrap();
    let b = engine.load(&counter()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a, ContractId::of(&counter()));
    assert_ne!(a, engine.load(&fib()).unwrap());
    assert_eq!(engine.stats().contracts, 2);
    assert_eq!(a.to_string().len(), 64);
}

#[test]
fn unknown_ids_and_bad_bytecode_are_errors() {
    let engine = engine(TierPolicy::Compile);
    let unknown = ContractId([7; 32]);
    let mut host = InMemoryHost::new();
    assert!(matches!(
        engine.try_call(unknown, &msg(vec![], 1000), &mut host),
        Err(EngineError::UnknownContract(id)) if id == unknown
    ));
    let r = engine.call(unknown, &msg(vec![], 1000), &mut host);
    assert!(matches!(r.status, Status::InvalidCode(_)));
    assert_eq!(r.gas_used, 0);
    // 0x4d is an unassigned opcode: the frontend rejects the code.
    let bad = engine.load(&[0x4d]);
    assert!(matches!(bad, Err(EngineError::Load(_))), "{bad:?}");
    assert_eq!(engine.stats().compile_failures, 0, "a load error is not a compile failure");
}

#[test]
fn bad_configurations_are_rejected() {
    let zero = Engine::builder().tier_policy(TierPolicy::Adaptive { hot_threshold: 0 }).build();
    assert!(matches!(zero, Err(BuildError::ZeroHotThreshold)));
    let no_workers = Engine::builder().compile_workers(0).build();
    assert!(matches!(no_workers, Err(BuildError::NoWorkers)));
    let no_queue = Engine::builder().compile_queue_capacity(0).build();
    assert!(matches!(no_queue, Err(BuildError::ZeroQueueCapacity)));
    // No workers are needed when nothing compiles in the background.
    assert!(Engine::builder().tier_policy(TierPolicy::Compile).compile_workers(0).build().is_ok());
}

#[test]
fn over_budget_contracts_stay_interpreted_and_are_not_retried() {
    // Compile policy: the budget is checked at load, and the contract falls back to the interpreter.
    let engine = Engine::builder().tier_policy(TierPolicy::Compile).max_native_code_bytes(1).build().unwrap();
    let id = engine.load(&counter()).unwrap();
    let info = engine.contract_info(id).unwrap();
    assert_eq!(info.tier, Tier::Interp);
    assert!(info.native_failure.unwrap().contains("budget"));
    let mut host = InMemoryHost::new();
    assert_eq!(engine.call(id, &msg(vec![], 100_000), &mut host).output, word(1));
    assert_eq!(engine.stats().over_budget, 1);

    // Adaptive: one attempt when hot, then interpreted for good.
    let engine = Engine::builder()
        .tier_policy(TierPolicy::Adaptive { hot_threshold: 1 })
        .max_compile_time(std::time::Duration::ZERO)
        .build()
        .unwrap();
    let id = engine.load(&counter()).unwrap();
    let mut host = InMemoryHost::new();
    for n in 1..=10u64 {
        assert_eq!(engine.call(id, &msg(vec![], 100_000), &mut host).output, word(n));
        engine.wait_idle();
    }
    let stats = engine.stats();
    assert_eq!((stats.over_budget, stats.compiles, stats.native_calls, stats.interpreted_calls), (1, 0, 0, 10));
    assert_eq!(engine.contract_info(id).unwrap().tier, Tier::Interp);
}

#[test]
fn cache_is_filled_and_reused_across_engines() {
    let dir = temp_dir("reuse");
    {
        let engine = Engine::builder().cache_dir(&dir).tier_policy(TierPolicy::Compile).build().unwrap();
        let id = engine.load(&counter()).unwrap();
        assert_eq!(engine.contract_info(id).unwrap().tier, Tier::Aot);
        let stats = engine.stats();
        assert_eq!((stats.compiles, stats.cache_hits), (1, 0), "{stats:?}");
    }
    // A second engine (as another process would) uses the object from its first call, even adaptively.
    let engine =
        Engine::builder().cache_dir(&dir).tier_policy(TierPolicy::Adaptive { hot_threshold: 100 }).build().unwrap();
    let id = engine.load(&counter()).unwrap();
    let mut host = InMemoryHost::new();
    assert_eq!(engine.call(id, &msg(vec![], 100_000), &mut host).output, word(1));
    let stats = engine.stats();
    assert_eq!((stats.compiles, stats.cache_hits, stats.native_calls, stats.interpreted_calls), (0, 1, 1, 0));

    // A contract not in the cache starts interpreted, and its background compile goes through the cache.
    let fib_id = engine.load(&fib()).unwrap();
    assert_eq!(engine.contract_info(fib_id).unwrap().tier, Tier::Interp);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn adaptive_compiles_through_the_cache() {
    let dir = temp_dir("adaptive");
    let engine =
        Engine::builder().cache_dir(&dir).tier_policy(TierPolicy::Adaptive { hot_threshold: 2 }).build().unwrap();
    let id = engine.load(&fib()).unwrap();
    let mut host = InMemoryHost::new();
    for _ in 0..2 {
        assert_eq!(engine.call(id, &msg(word(10), 1_000_000), &mut host).output, word(55));
    }
    engine.wait_idle();
    assert_eq!(engine.call(id, &msg(word(10), 1_000_000), &mut host).output, word(55));
    assert_eq!(engine.contract_info(id).unwrap().tier, Tier::Aot);
    let stats = engine.stats();
    assert_eq!((stats.compiles, stats.native_calls), (1, 1), "{stats:?}");
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn concurrent_calls_from_four_threads() {
    let engine = Engine::builder().tier_policy(TierPolicy::Adaptive { hot_threshold: 5 }).build().unwrap();
    let id = engine.load(&counter()).unwrap();
    let reference = engine.call(id, &msg(vec![], 100_000), &mut InMemoryHost::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let mut host = InMemoryHost::new();
                for n in 1..=50u64 {
                    let r = engine.call(id, &msg(vec![], 100_000), &mut host);
                    assert_eq!(r.status, Status::Success);
                    assert_eq!(r.output, word(n));
                    host.finish_transaction();
                }
                assert_eq!(host.storage(ADDRESS, U256::ZERO), U256::from(50));
            });
        }
    });
    engine.wait_idle();
    // After the compile, a fresh host sees exactly what the interpreter gave it.
    assert_eq!(engine.call(id, &msg(vec![], 100_000), &mut InMemoryHost::new()), reference);
    let stats = engine.stats();
    assert!(stats.native_calls > 0, "{stats:?}");
    assert_eq!(stats.interpreted_calls + stats.native_calls, 202);
    assert_eq!(stats.compiles, 1, "queued exactly once: {stats:?}");
}
