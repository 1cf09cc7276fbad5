//! Crash recovery: a process applies a stream of numbered calls to a node and prints each acknowledgement;
//! it is killed with SIGKILL at random moments, round after round, and restarted. After every kill the
//! database must hold every acknowledged call, and only whole calls: call `i` sets slot `i + 1` and the
//! counter (slot 0) together, so the counter must equal the number of slots set, and the slots set must be
//! exactly `1..=counter`. The writer is `zvm-node-crashtest` (see its docs).

use ruint::aliases::U256;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zvm_node::Store;
use zvm_runtime::Address;

/// A small deterministic generator (xorshift64*), seeded from the clock; the seed is in every message.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn parse_address(s: &str) -> Address {
    let bytes = hex::decode(s.trim_start_matches("0x")).unwrap();
    Address(bytes.try_into().unwrap())
}

/// Checks the database after a kill; returns the counter.
fn check(db: &std::path::Path, contract: Address, acked: &[u64], seed: u64) -> u64 {
    let store = Store::open(db).unwrap_or_else(|e| panic!("seed {seed}: reopening after a kill: {e}"));
    let mut view = store.read().unwrap();
    let counter = u64::try_from(view.storage(contract, U256::ZERO).unwrap()).unwrap();
    if let Some(&last) = acked.last() {
        assert!(last < counter, "seed {seed}: call {last} was acknowledged but the counter is {counter}");
    }
    let (slots, more) = view.storage_of(contract, counter as usize + 2).unwrap();
    assert!(!more, "seed {seed}");
    let expected: Vec<(U256, U256)> = std::iter::once((U256::ZERO, U256::from(counter)))
        .chain((1..=counter).map(|k| (U256::from(k), U256::from(k))))
        .filter(|(_, v)| !v.is_zero())
        .collect();
    assert_eq!(slots, expected, "seed {seed}: the slots set do not match the counter {counter} (a partial call?)");
    // The deploy and one receipt per call, no more.
    assert_eq!(view.calls().unwrap(), counter + 1, "seed {seed}: receipts do not match the counter {counter}");
    counter
}

/// `rounds` runs of the writer, each killed after up to `max_run`; `batch`: calls per job it submits.
fn crash_rounds(rounds: usize, max_run: Duration, batch: u64) {
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.redb");
    let mut counter = 0;
    let mut total_acks = 0;
    for round in 0..rounds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zvm-node-crashtest"))
            .arg(&db)
            .args(["32", &batch.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut start = String::new();
        stdout.read_line(&mut start).unwrap();
        let Some(fields) = start.strip_prefix("start ") else {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            panic!("seed {seed}, round {round}: the writer did not start: {start:?} {err}");
        };
        let (contract, first) = fields.trim().split_once(' ').unwrap();
        let contract = parse_address(contract);
        let first: u64 = first.parse().unwrap();
        assert_eq!(first, counter, "seed {seed}, round {round}: the writer restarted from another counter");

        std::thread::sleep(Duration::from_micros(rng.below(max_run.as_micros() as u64)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let mut rest = Vec::new();
        stdout.read_to_end(&mut rest).unwrap();
        // Only whole lines: the writer may die in the middle of one.
        let whole = &rest[..rest.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)];
        let acked: Vec<u64> = String::from_utf8(whole.to_vec())
            .unwrap()
            .lines()
            .map(|l| l.strip_prefix("ack ").unwrap().parse().unwrap())
            .collect();
        let expected: Vec<u64> = (first..first + acked.len() as u64).collect();
        assert_eq!(acked, expected, "seed {seed}, round {round}: acknowledgements out of order");
        total_acks += acked.len();
        counter = check(&db, contract, &acked, seed);
        eprintln!("round {round}: {} calls acknowledged, {counter} committed in all", acked.len());
    }
    assert!(total_acks > 0, "seed {seed}: no call was acknowledged in {rounds} rounds");
}

#[test]
fn acknowledged_calls_survive_sigkill_and_no_call_is_partial() {
    crash_rounds(8, Duration::from_millis(300), 1);
}

/// The same through batches (jobs of 16 calls, as an RPC batch hands the writer): each acknowledged call
/// of a batch survives, and no call is partial.
#[test]
fn acknowledged_batches_survive_sigkill_and_no_call_is_partial() {
    crash_rounds(5, Duration::from_millis(300), 16);
}

/// The long version, for CI's release run.
#[test]
#[ignore]
fn acknowledged_calls_survive_many_sigkills() {
    crash_rounds(60, Duration::from_millis(500), 1);
    crash_rounds(30, Duration::from_millis(500), 16);
}
