//! Durable calls per second: one `fsync` per call against group commit.
//!
//! ```sh
//! cargo run --release -p zvm-node --example throughput [CALLS]
//! ```
//!
//! Every call increments counter.evm's slot and is acknowledged only once durable. The database lives in
//! the system's temporary directory (its disk decides the cost of an `fsync`).

use ruint::aliases::U256;
use std::time::Instant;
use zvm_node::{Node, NodeConfig, Request};
use zvm_runtime::executor::CodeFormat;
use zvm_runtime::Address;

const COUNTER: &str = "5f54600101805f555f5260205ff3";
const CALLER: Address = Address::from_low_u64(0xCA11);

/// Runs `calls` increments from `clients` threads (each waiting for its call before sending the next) or,
/// with `clients == 0`, from one thread that queues them all; prints calls/s and calls per commit.
fn measure(label: &str, max_batch: usize, clients: usize, calls: u64) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let node = Node::open(&dir.path().join("db"), NodeConfig { max_batch, ..NodeConfig::default() })?;
    let code = hex::decode(COUNTER)?;
    let deploy = Request::Deploy { deployer: CALLER, code, format: CodeFormat::Evm, salt: None };
    let counter = node.execute(deploy)?.created.ok_or("no address")?;
    let call = || Request::Call { caller: CALLER, to: counter, value: U256::ZERO, input: vec![], gas_limit: 100_000 };
    node.execute(call())?; // compile the contract before timing
    let blocks_before = node.read()?.block()?;
    let start = Instant::now();
    if clients == 0 {
        let pending: Vec<_> = (0..calls).map(|_| node.submit(call())).collect();
        for p in pending {
            p.wait()?;
        }
    } else {
        std::thread::scope(|s| -> Result<(), String> {
            let workers: Vec<_> = (0..clients)
                .map(|_| s.spawn(|| (0..calls / clients as u64).try_for_each(|_| node.execute(call()).map(drop))))
                .collect();
            for w in workers {
                w.join().map_err(|_| "a client panicked")?.map_err(|e| e.to_string())?;
            }
            Ok(())
        })?;
    }
    let elapsed = start.elapsed();
    let done = if clients == 0 { calls } else { calls / clients as u64 * clients as u64 };
    let commits = node.read()?.block()? - blocks_before;
    println!(
        "{label:<44} {:>9.0} calls/s  {commits:>6} commits  {:>6.1} calls/commit  {:>7.1} µs/call",
        done as f64 / elapsed.as_secs_f64(),
        done as f64 / commits as f64,
        elapsed.as_secs_f64() * 1e6 / done as f64,
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let calls: u64 = std::env::args().nth(1).map_or(Ok(2000), |n| n.parse())?;
    println!("{calls} durable counter increments each");
    measure("one caller, one call at a time", 1024, 1, calls)?;
    measure("4 callers, one fsync per call", 1, 4, calls)?;
    measure("4 callers, group commit", 1024, 4, calls)?;
    measure("all calls queued, one fsync per call", 1, 0, calls)?;
    measure("all calls queued, group commit", 1024, 0, calls)?;
    Ok(())
}
