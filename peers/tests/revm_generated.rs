//! Generated EVM programs on zvm's interpreter, zvm's JIT and revm: every run must give the same
//! [`Summary`](zvm_peers::Summary) — status, gas used, output, logs, created address, whole post-state.
//!
//! proptest supplies bytes; [`zvm_peers::generate::scenario`] reads them as a transaction into a small
//! world whose contract runs a program built from a weighted alphabet of EVM operations with sensible
//! operands (calls to precompiles and to a second generated contract, creates, storage, logs, memory at
//! bounded and at huge offsets, jumps to real `JUMPDEST`s, raw bytes), under gas limits from tight to
//! ample. A shrunk failure prints the pieces of both programs.
//!
//! The default test runs a few hundred cases and also checks that the generator stays useful: its
//! programs must reach every kind of ending (success, revert, exceptional halt, rejection) and a fair share
//! of them must get past their first few operations. The ignored heavy test, run by CI in release mode,
//! runs thousands of longer programs.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::cell::RefCell;
use std::collections::BTreeMap;
use zvm_peers::generate::scenario;
use zvm_peers::{compare, Mismatch, Status};

/// Runs `cases` generated scenarios of up to `max_len` bytes of input; returns how many ended in each
/// status (as revm and zvm agree they ended).
fn agree_on_generated(cases: u32, max_len: usize) -> BTreeMap<String, u32> {
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let outcomes = RefCell::new(BTreeMap::new());
    let result = runner.run(&vec(any::<u8>(), 0..max_len), |data| {
        let s = scenario(&data);
        match compare(&s.case.pre, &s.case.tx) {
            Ok(run) => {
                let gas_used = run.summary.gas_used;
                let key = match run.summary.status {
                    // Tell apart runs that did something from those that stopped at once.
                    Status::Success | Status::Revert | Status::Halt if gas_used > s.case.tx.gas_limit / 2 => {
                        format!("{:?} (used most of the gas)", run.summary.status)
                    }
                    status => format!("{status:?}"),
                };
                let key = match run.summary.status {
                    Status::Halt => format!("{key} {}", run.detail),
                    _ => key,
                };
                *outcomes.borrow_mut().entry(key).or_insert(0) += 1;
                Ok(())
            }
            Err(Mismatch::Differ(message) | Mismatch::Unrepresentable(message)) => Err(TestCaseError::fail(format!(
                "{message}\ntransaction: {:?}\nprogram: {:?}\nsecond contract: {:?}",
                s.case.tx, s.program, s.other
            ))),
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let outcomes = outcomes.into_inner();
    println!("{cases} generated transactions agree on zvm interp, zvm jit and revm: {outcomes:?}");
    outcomes
}

#[test]
fn generated_programs_agree_with_revm() {
    let outcomes = agree_on_generated(256, 400);
    let count = |prefix: &str| outcomes.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, n)| n).sum::<u32>();
    for status in ["Success", "Revert", "Halt", "Rejected"] {
        assert!(count(status) > 0, "no generated transaction ended in {status}: {outcomes:?}");
    }
    assert!(count("Success") >= 256 / 10, "too few generated transactions succeed: {outcomes:?}");
}

#[test]
#[ignore = "heavy: thousands of generated programs on both tiers and revm (CI runs it in release mode)"]
fn many_generated_programs_agree_with_revm() {
    agree_on_generated(10_000, 1200);
}
