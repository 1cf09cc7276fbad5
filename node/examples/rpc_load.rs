//! Load on the RPC over loopback QUIC: many concurrent clients for a bounded time; calls/s and p50/p99
//! latency of a small contract (durable calls with group commit, with one `fsync` per call, and read-only
//! queries), and the process's memory with 1,000 and 10,000 deployed contracts.
//!
//! ```sh
//! cargo run --release -p zvm-node --example rpc_load [SECONDS] [CONNECTIONS] [STREAMS_PER_CONNECTION]
//! ```
//!
//! Server and clients share the process (and the machine's cores); the memory figures are the process's
//! resident set, clients included.

use std::sync::Arc;
use std::time::{Duration, Instant};
use zvm_node::rpc::protocol::{CallArgs, Format, Word};
use zvm_node::rpc::{Client, ClientConfig, Identity, Server, ServerConfig, Trust};
use zvm_node::NodeConfig;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// counter.evm: increments slot 0 and returns it.
const COUNTER: &str = "5f54600101805f555f5260205ff3";
const TOKEN: &str = "load";
const ME: [u8; 20] = [0x10; 20];

struct Setup {
    server: Arc<Server>,
    clients: Vec<Arc<Client>>,
    _dir: tempfile::TempDir,
}

async fn setup(max_batch: usize, connections: usize) -> Result<Setup, Error> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("state.redb");
    let (identity, cert) = Identity::self_signed_for(&db)?;
    let node = NodeConfig { max_batch, ..NodeConfig::default() };
    let server = Arc::new(Server::start(&db, node, ServerConfig::new("127.0.0.1:0".parse()?, TOKEN.into(), identity))?);
    let endpoint = server.local_addr()?.to_string();
    let running = server.clone();
    tokio::spawn(async move { running.run().await });
    let mut clients = Vec::new();
    for _ in 0..connections {
        let config = ClientConfig::new(Trust::pinned_file(&cert)?, Some(TOKEN.into()));
        clients.push(Arc::new(Client::connect(&endpoint, config).await?));
    }
    Ok(Setup { server, clients, _dir: dir })
}

fn call(to: [u8; 20]) -> CallArgs {
    CallArgs { caller: ME, to, value: [0; 32], input: vec![], gas_limit: 100_000 }
}

/// Drives `streams` concurrent requests per connection for `seconds`; prints the rate and latencies.
async fn drive(
    label: &str,
    setup: &Setup,
    to: [u8; 20],
    durable: bool,
    seconds: f64,
    streams: usize,
) -> Result<(), Error> {
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for client in &setup.clients {
        for _ in 0..streams {
            let client = client.clone();
            tasks.spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < end {
                    let t = Instant::now();
                    if durable {
                        client.call(call(to)).await?;
                    } else {
                        client.query(call(to)).await?;
                    }
                    latencies.push(t.elapsed().as_micros() as u32);
                }
                Ok::<_, Error>(latencies)
            });
        }
    }
    let start = Instant::now();
    let mut all = Vec::new();
    for latencies in tasks.join_all().await {
        all.extend(latencies?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct =
        |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0);
    println!(
        "{label:<40} {:>8.0} calls/s   p50 {:>6} µs   p99 {:>6} µs   ({} calls)",
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        all.len()
    );
    Ok(())
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Deploys `n` distinct contracts (each its own code: the counter with a distinct constant appended, so
/// each is stored and compiled on its own), calls each once, and prints the resident memory.
async fn memory(n: usize, setup: &Setup, deployed: &mut usize) -> Result<(), Error> {
    let client = setup.clients[0].clone();
    let mut tasks = tokio::task::JoinSet::new();
    for i in *deployed..n {
        let client = client.clone();
        tasks.spawn(async move {
            let mut code = hex::decode(COUNTER)?;
            code.push(0x7f); // PUSH32 i, after RETURN: never runs
            code.extend_from_slice(&word(i as u64));
            let address = client.deploy(ME, code, Format::Evm, None).await?.created.ok_or("no address")?;
            client.call(call(address)).await?;
            Ok::<_, Error>(())
        });
        if tasks.len() >= 256 {
            if let Some(r) = tasks.join_next().await {
                r??;
            }
        }
    }
    for r in tasks.join_all().await {
        r?;
    }
    *deployed = n;
    let metrics = client.metrics().await?;
    println!(
        "{n:>6} contracts deployed and called: RSS {:.1} MiB, database {:.1} MiB",
        rss_mib(),
        metrics.db_bytes as f64 / (1 << 20) as f64
    );
    Ok(())
}

fn word(n: u64) -> Word {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&n.to_be_bytes());
    w
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().map_or(Ok(5.0), |s| s.parse())?;
    let connections: usize = args.next().map_or(Ok(8), |s| s.parse())?;
    let streams: usize = args.next().map_or(Ok(64), |s| s.parse())?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        println!("{connections} connections x {streams} concurrent requests, {seconds} s each");
        for (label, max_batch) in [("durable calls, group commit", 1024), ("durable calls, one fsync per call", 1)] {
            let setup = setup(max_batch, connections).await?;
            let counter = setup.clients[0].deploy(ME, hex::decode(COUNTER)?, Format::Evm, None).await?;
            let counter = counter.created.ok_or("no address")?;
            drive(label, &setup, counter, true, seconds, streams).await?;
            if max_batch > 1 {
                drive("read-only queries (no commit)", &setup, counter, false, seconds, streams).await?;
                let m = setup.clients[0].metrics().await?;
                println!(
                    "  commits {}, requests committed {}, largest batch {}",
                    m.commits, m.committed, m.largest_batch
                );
            }
            setup.server.close();
        }
        let setup = setup(1024, 1).await?;
        println!("RSS with the server up and nothing deployed: {:.1} MiB", rss_mib());
        let mut deployed = 0;
        for n in [1_000, 10_000] {
            memory(n, &setup, &mut deployed).await?;
        }
        setup.server.close();
        Ok(())
    })
}
