//! `zvm events --from-block N` against `zvm serve`: logs emitted before the command started are printed
//! first, in commit order, then the live ones, none twice.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use zvm_node::rpc::protocol::{CallArgs, Format, Word};
use zvm_node::rpc::{Client, ClientConfig, Trust};

mod support;

/// EVM: increments slot 0, emits `LOG1(topic = call data word 0, data = the new count)` and returns it.
const LOGGER: &str = "5f54600101805f555f525f3560205fa160205ff3";
const TOKEN: &str = "events-test";
const ME: [u8; 20] = [0xE7; 20];

fn word(n: u64) -> Word {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&n.to_be_bytes());
    w
}

fn call(runtime: &tokio::runtime::Runtime, client: &Client, to: [u8; 20], topic: u64) -> (u64, u64) {
    let args = CallArgs { caller: ME, to, value: [0; 32], input: word(topic).to_vec(), gas_limit: 100_000 };
    let receipt = runtime.block_on(client.call(args)).unwrap();
    (receipt.id, receipt.block)
}

#[test]
fn events_from_a_block_prints_the_backlog_then_the_live_logs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.redb");
    let (mut server, addr) = support::serve(&db, TOKEN);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client =
        runtime.block_on(Client::connect(&addr, ClientConfig::new(Trust::Insecure, Some(TOKEN.into())))).unwrap();
    let code = hex::decode(LOGGER).unwrap();
    let logger = runtime.block_on(client.deploy(ME, code, Format::Evm, None)).unwrap().created.unwrap();
    let before: Vec<(u64, u64)> = (1..=4).map(|t| call(&runtime, &client, logger, t)).collect();

    // From the second call's block: three stored logs, then two live ones.
    let mut events = Command::new(env!("CARGO_BIN_EXE_zvm"))
        .args(["events", "--insecure", "--count", "5", "--endpoint", &addr, "--from-block"])
        .arg(before[1].1.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Live calls once the command has replayed the backlog (it says so on stderr).
    let mut stderr = BufReader::new(events.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("live from receipt") {
        line.clear();
        assert_ne!(stderr.read_line(&mut line).unwrap(), 0, "zvm events ended before going live");
    }
    let after: Vec<(u64, u64)> = (5..=6).map(|t| call(&runtime, &client, logger, t)).collect();
    let output = events.wait_with_output().unwrap();
    assert!(output.status.success());
    let lines: Vec<String> = String::from_utf8(output.stdout).unwrap().lines().map(String::from).collect();
    let expected: Vec<(u64, (u64, u64))> = (2..=4).zip(before[1..].iter().copied()).chain((5..=6).zip(after)).collect();
    assert_eq!(lines.len(), expected.len(), "{lines:?}");
    for (line, (topic, (receipt, block))) in lines.iter().zip(expected) {
        let prefix = format!(
            "receipt {receipt} block {block} 0x{} topics [0x{}]",
            hex::encode(logger),
            hex::encode(word(topic))
        );
        assert!(line.starts_with(&prefix), "{line:?} should start with {prefix:?}");
    }
    server.kill().unwrap();
    server.wait().unwrap();
}
