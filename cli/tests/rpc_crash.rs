//! Crash recovery through `zvm serve`: a client streams state-changing calls over the RPC while the server
//! is killed with SIGKILL at random moments, round after round; after each kill the server is restarted
//! and, over the RPC, every acknowledged call's state must be there and no call may be there in part.
//!
//! Call `i` (by up to 16 concurrent clients) sets slot `i + 1` to `i + 1` and increments the counter in
//! slot 0, in one call: after any crash, the counter must equal the number of slots set (a call is whole
//! or absent), and every acknowledged `i` must have its slot.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zvm_node::rpc::protocol::{CallArgs, Format, Word};
use zvm_node::rpc::{Client, ClientConfig, Trust};

mod support;

/// EVM: `sstore(calldata[0] + 1, calldata[0] + 1); sstore(0, sload(0) + 1)`.
const CONTRACT: &str = "5f35600101808055505f546001015f5500";
const TOKEN: &str = "crash-test";
const ME: [u8; 20] = [0xC4; 20];

fn word(n: u64) -> Word {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&n.to_be_bytes());
    w
}

fn number(w: Word) -> u64 {
    assert!(w[..24].iter().all(|&b| b == 0));
    u64::from_be_bytes(w[24..].try_into().unwrap())
}

async fn connect(addr: &str, db: &Path) -> Client {
    let cert = db.with_file_name("state.redb.cert.pem");
    let trust = Trust::pinned_file(&cert).unwrap();
    Client::connect(addr, ClientConfig::new(trust, Some(TOKEN.into()))).await.unwrap()
}

/// Checks calls `from..to` after a restart; returns how many of them are present.
async fn check(client: &Client, contract: [u8; 20], from: u64, to: u64, acked: &[u64], seed: u64) -> u64 {
    let mut present = 0;
    for i in from..to {
        match number(client.storage(contract, word(i + 1)).await.unwrap()) {
            0 => assert!(!acked.contains(&i), "seed {seed}: call {i} was acknowledged but is missing"),
            v => {
                assert_eq!(v, i + 1, "seed {seed}: slot of call {i}");
                present += 1;
            }
        }
    }
    present
}

fn crash_rounds(rounds: usize, max_run_ms: u64) {
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let mut rng = seed;
    let mut below = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.redb");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (mut child, mut addr) = support::serve(&db, TOKEN);
        let client = connect(&addr, &db).await;
        let code = hex::decode(CONTRACT).unwrap();
        let contract = client.deploy(ME, code, Format::Evm, None).await.unwrap().created.unwrap();
        drop(client);
        let (mut next, mut total) = (0u64, 0u64);
        let mut acked_total = 0;
        for round in 0..rounds {
            let client = Arc::new(connect(&addr, &db).await);
            let counter = Arc::new(AtomicU64::new(next));
            let acked = Arc::new(Mutex::new(Vec::new()));
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..16 {
                let (client, counter, acked) = (client.clone(), counter.clone(), acked.clone());
                tasks.spawn(async move {
                    loop {
                        let i = counter.fetch_add(1, Ordering::Relaxed);
                        let call = CallArgs {
                            caller: ME,
                            to: contract,
                            value: [0; 32],
                            input: word(i).to_vec(),
                            gas_limit: 100_000,
                        };
                        match client.call(call).await {
                            Ok(receipt) => {
                                assert_eq!(receipt.status, "success", "seed {seed}: call {i}");
                                acked.lock().unwrap().push(i);
                            }
                            Err(_) => return,
                        }
                    }
                });
            }
            tokio::time::sleep(Duration::from_millis(20 + below(max_run_ms))).await;
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            client.close();
            tasks.join_all().await;
            let sent = counter.load(Ordering::Relaxed);
            let acked = acked.lock().unwrap().clone();
            acked_total += acked.len();

            (child, addr) = support::serve(&db, TOKEN);
            let client = connect(&addr, &db).await;
            total += check(&client, contract, next, sent, &acked, seed).await;
            let counter = number(client.storage(contract, word(0)).await.unwrap());
            assert_eq!(counter, total, "seed {seed}, round {round}: the counter is not the number of calls present");
            next = sent;
        }
        assert!(acked_total > 0, "seed {seed}: no call was acknowledged in {rounds} rounds");
        child.kill().unwrap();
        child.wait().unwrap();
    });
}

#[test]
fn acknowledged_calls_survive_sigkill_of_zvm_serve() {
    crash_rounds(3, 300);
}

#[test]
#[ignore = "long: 25 rounds"]
fn acknowledged_calls_survive_many_sigkills_of_zvm_serve() {
    crash_rounds(25, 800);
}
