//! Runs one EVM benchmark case many times, for a profiler: `perf record` or
//! `valgrind --tool=callgrind --toggle-collect='zvm_benches::evm::ZvmRunner::run'` (or `RevmRunner::run`)
//! see only the measured transaction that way, as the benchmarks measure it.
//!
//! `cargo run --release -p zvm-benches --example evm_profile -- FILE RUNS [interp|jit] [--no-revm]`, where
//! FILE is one of [`zvm_benches::evm::CASE_FILES`] (its first case is run). Prints the mean wall time of a
//! run on zvm and on revm.

use std::time::Instant;
use zvm_benches::evm::EvmCase;
use zvm_runtime::executor::Tier;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: evm_profile FILE RUNS [interp|jit] [--no-revm]";
    let (Some(file), Some(runs)) = (args.first(), args.get(1).and_then(|n| n.parse::<u32>().ok())) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let runs = runs.max(1);
    let tier = if args.iter().any(|a| a == "interp") { Tier::Interp } else { Tier::Jit };
    let case = EvmCase::nth(file, 0);

    let zvm = case.zvm(tier);
    let start = Instant::now();
    for _ in 0..runs {
        zvm.run(&mut case.state());
    }
    println!("{} on zvm {tier}: {:?} a run (state copy included)", case.name, start.elapsed() / runs);

    if !args.iter().any(|a| a == "--no-revm") {
        let mut revm = case.revm();
        let start = Instant::now();
        for _ in 0..runs {
            revm.run();
        }
        println!("{} on revm: {:?} a run", case.name, start.elapsed() / runs);
    }
}
