//! The writing process of the crash-recovery test (`tests/crash.rs`): applies numbered state-changing calls
//! to a node until it is killed, and prints each call's acknowledgement once the call is durable.
//!
//! Usage: `zvm-node-crashtest DB [IN_FLIGHT] [BATCH]`
//!
//! On start it deploys the test contract (once per database), reads the contract's counter `c` and prints
//! `start <contract address> <c>`. Then it sends calls `c, c + 1, ...` in jobs of `BATCH` calls (default
//! 1; more: [`Node::submit_batch_then`], as the RPC's batches do) with up to `IN_FLIGHT` jobs (default 32)
//! queued at once, so that they share commits, and prints `ack <i>` when call `i` has returned its
//! receipt. Call `i` sets slot `i + 1` to `i + 1` and the counter (slot 0) to `i + 1` in one transaction,
//! and reverts unless the counter was `i`: calls apply exactly once, in order.

use ruint::aliases::U256;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use zvm_node::{Entry, Node, NodeConfig, Output, Request};
use zvm_runtime::executor::{CodeFormat, Tier};
use zvm_runtime::vm::create2_address;
use zvm_runtime::{Address, Status};

/// The test contract (EVM), with `i` as its call data:
/// `require(sload(0) == i); sstore(i + 1, i + 1); sstore(0, i + 1)`.
const CONTRACT: &str = "5f355f548114600c575f5ffd5b6001018080555f5500";
const DEPLOYER: Address = Address::from_low_u64(0xC4A5);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let db = PathBuf::from(args.next().ok_or("usage: zvm-node-crashtest DB [IN_FLIGHT] [BATCH]")?);
    let in_flight: usize = args.next().map_or(Ok(32), |n| n.parse()).map_err(|e| format!("IN_FLIGHT: {e}"))?;
    let batch: u64 = args.next().map_or(Ok(1), |n| n.parse()).map_err(|e| format!("BATCH: {e}"))?;
    let node =
        Node::open(&db, NodeConfig { tier: Tier::Interp, ..NodeConfig::default() }).map_err(|e| e.to_string())?;

    let code = hex::decode(CONTRACT).map_err(|e| e.to_string())?;
    let contract = create2_address(DEPLOYER, U256::ZERO, &code);
    let mut view = node.read().map_err(|e| e.to_string())?;
    if view.account(contract).map_err(|e| e.to_string())?.is_none() {
        let deploy = Request::Deploy { deployer: DEPLOYER, code, format: CodeFormat::Evm, salt: Some(U256::ZERO) };
        node.execute(deploy).map_err(|e| e.to_string())?;
    }
    let start = node.read().and_then(|mut v| v.storage(contract, U256::ZERO)).map_err(|e| e.to_string())?;
    let start = u64::try_from(start).map_err(|e| e.to_string())?;
    println!("start {contract} {start}");

    let mut pending = VecDeque::new();
    for first in (start..).step_by(batch.max(1) as usize) {
        let calls = (first..first + batch.max(1)).map(|i| {
            Entry::Write(Request::Call {
                caller: DEPLOYER,
                to: contract,
                value: U256::ZERO,
                input: U256::from(i).to_be_bytes::<32>().to_vec(),
                gas_limit: 100_000,
            })
        });
        let (tx, rx) = mpsc::sync_channel(1);
        node.submit_batch_then(calls.collect(), move |outcomes| {
            let _ = tx.send(outcomes);
        });
        pending.push_back((first, rx));
        if pending.len() >= in_flight.max(1) {
            if let Some((first, job)) = pending.pop_front() {
                let outcomes = job.recv().map_err(|_| format!("calls from {first}: the node stopped"))?;
                for (n, executed) in (first..).zip(outcomes) {
                    match executed.outcome.map_err(|e| format!("call {n}: {e}"))? {
                        Output::Receipt(r) if r.status == Status::Success => {}
                        other => return Err(format!("call {n} ended with {other:?}")),
                    }
                    // Line-buffered: the line is out before the next call is waited for.
                    println!("ack {n}");
                }
            }
        }
    }
    Ok(())
}
