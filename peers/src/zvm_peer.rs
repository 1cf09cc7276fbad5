//! zvm as a peer: [`zvm_runtime::tx::transact`] on a chosen tier, on a copy of the pre-state.
//!
//! [`run_zvm`] makes a fresh [`Vm`] for one run. [`run_zvm_on`] takes one from the caller, which keeps the
//! prepared (lowered and compiled) programs between runs: a test that runs the same contracts many times
//! (every gas limit in a range, many cases of one file) then compiles them once, as a node would.

use crate::summary::{post_state_of_host, Hex, LogEntry, Run, Status, Summary};
use zvm_runtime::executor::Tier;
use zvm_runtime::tx::{transact, Transaction};
use zvm_runtime::vm::Vm;
use zvm_runtime::{InMemoryHost, Limits, Status as ZvmStatus};

/// Runs `tx` on a copy of `pre` (pre-state and block) on `tier`, and summarises it.
pub fn run_zvm(pre: &InMemoryHost, tx: &Transaction, tier: Tier) -> Run {
    run_zvm_on(&Vm::new(tier, Limits::default()), pre, tx)
}

/// Runs `tx` on a copy of `pre` on `vm` (a machine with a cache, say), and summarises it.
pub fn run_zvm_on(vm: &Vm, pre: &InMemoryHost, tx: &Transaction) -> Run {
    let mut host = pre.clone();
    let outcome = transact(vm, &mut host, tx);
    let state = post_state_of_host(&host);
    match outcome {
        Err(invalid) => Run::rejected(state, format!("rejected: {invalid}")),
        Ok(outcome) => {
            let (status, detail) = match &outcome.status {
                ZvmStatus::Success => (Status::Success, String::new()),
                ZvmStatus::Revert => (Status::Revert, String::new()),
                other => (Status::Halt, format!("halt: {}", other.name())),
            };
            let output = match status {
                Status::Success | Status::Revert => Hex(outcome.output),
                Status::Halt | Status::Rejected => Hex::default(),
            };
            let logs = if status == Status::Success {
                outcome
                    .logs
                    .into_iter()
                    .map(|log| LogEntry { address: log.address, topics: log.topics, data: Hex(log.data) })
                    .collect()
            } else {
                Vec::new()
            };
            let created = if status == Status::Success { outcome.created } else { None };
            Run { summary: Summary { status, gas_used: outcome.gas_used, output, logs, created, state }, detail }
        }
    }
}
