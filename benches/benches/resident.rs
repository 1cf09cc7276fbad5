//! Resident memory of many contracts loaded from the on-disk cache (an AOT figure, not a timing).
//!
//! Fills a temporary cache with `ZVM_RESIDENT_CONTRACTS` (default 10,000) distinct contracts (the counter
//! example with a distinct prefix each), then, in a fresh engine, loads every one of them from the cache
//! with the `Compile` policy and reports how much the process's resident set grew, and the time per warm
//! load. Run: `cargo bench -p zvm-benches --bench resident`.

use std::time::Instant;
use zvm_compiler::frontend::zvm::asm;
use zvm_runtime::engine::{Engine, TierPolicy};

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    // `cargo bench` passes harness flags such as `--bench`; this harness has no options of its own.
    let n: usize = std::env::var("ZVM_RESIDENT_CONTRACTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let counter = include_str!("../../examples/counter.zasm");
    let contracts: Vec<Vec<u8>> =
        (0..n).map(|i| asm::assemble(&format!("PUSH4 {i}\nPOP\n{counter}")).expect("the variant assembles")).collect();
    let dir = tempfile::Builder::new().prefix("zvm-resident-").tempdir().expect("a temporary directory");
    let build = || {
        Engine::builder()
            .cache_dir(dir.path())
            .cache_max_bytes(1 << 30)
            .tier_policy(TierPolicy::Compile)
            .build()
            .expect("engine")
    };
    let started = Instant::now();
    {
        let filler = build();
        for c in &contracts {
            filler.load(c).expect("load");
        }
    }
    let fill = started.elapsed();
    let before = resident_bytes();
    let engine = build();
    let started = Instant::now();
    for c in &contracts {
        engine.load(c).expect("load");
    }
    let warm = started.elapsed();
    let after = resident_bytes();
    let stats = engine.stats();
    assert_eq!(stats.contracts as usize, n);
    println!("contracts:                   {n}");
    println!("cold fill (compile + store): {:.2} ms per contract", fill.as_secs_f64() * 1e3 / n as f64);
    println!(
        "warm load from the cache:    {:.1} us per contract (cache hits: {})",
        warm.as_secs_f64() * 1e6 / n as f64,
        stats.cache_hits
    );
    println!(
        "resident memory growth:      {:.1} MB ({:.1} KB per contract)",
        (after - before) as f64 / 1e6,
        (after - before) as f64 / 1e3 / n as f64
    );
}
