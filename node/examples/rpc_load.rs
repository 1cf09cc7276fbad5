//! Load on the RPC over loopback QUIC: many concurrent clients for a bounded time; calls/s and p50/p99
//! latency of a small contract (durable calls with group commit, with one `fsync` per call, and read-only
//! queries), and the process's memory with 1,000 and 10,000 deployed contracts.
//!
//! ```sh
//! cargo run --release -p zvm-node --example rpc_load [SECONDS] [CONNECTIONS] [STREAMS_PER_CONNECTION] [--separate]
//! ```
//!
//! By default server and clients share the process (and the machine's cores); with `--separate` the
//! clients run in a child process (this program again, `client ...`), so that the server's CPU time is its
//! own. Each row also gives the CPU time (user + system) the server's process spent per request: with
//! the clients in the process it includes theirs. Then the peak resident set of the load process, and
//! the memory figures, measured in a fresh process (a server and one client, with 1,000 and 10,000
//! contracts): the resident set of that process.

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
    endpoint: String,
    cert: std::path::PathBuf,
    separate: bool,
    _dir: tempfile::TempDir,
}

async fn setup(max_batch: usize, connections: usize, separate: bool) -> Result<Setup, Error> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("state.redb");
    let (identity, cert) = Identity::self_signed_for(&db)?;
    let node = NodeConfig { max_batch, ..NodeConfig::default() };
    let server = Arc::new(Server::start(&db, node, ServerConfig::new("127.0.0.1:0".parse()?, TOKEN.into(), identity))?);
    let endpoint = server.local_addr()?.to_string();
    let running = server.clone();
    tokio::spawn(async move { running.run().await });
    let clients = connect(&endpoint, &cert, connections).await?;
    Ok(Setup { server, clients, endpoint, cert, separate, _dir: dir })
}

async fn connect(endpoint: &str, cert: &std::path::Path, connections: usize) -> Result<Vec<Arc<Client>>, Error> {
    let mut clients = Vec::new();
    for _ in 0..connections {
        let config = ClientConfig::new(Trust::pinned_file(cert)?, Some(TOKEN.into()));
        clients.push(Arc::new(Client::connect(endpoint, config).await?));
    }
    Ok(clients)
}

/// CPU time (user + system) of this process so far, in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command (which is in parentheses): utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn call(to: [u8; 20]) -> CallArgs {
    CallArgs { caller: ME, to, value: [0; 32], input: vec![], gas_limit: 100_000 }
}

/// Drives `streams` concurrent requests per connection for `seconds` (from a child process if the setup
/// says so); prints the rate, the latencies and the CPU time per request.
async fn drive(
    label: &str,
    setup: &Setup,
    to: [u8; 20],
    durable: bool,
    seconds: f64,
    (connections, streams): (usize, usize),
) -> Result<(), Error> {
    let cpu = cpu_seconds();
    let line = if setup.separate {
        let mut command = std::process::Command::new(std::env::current_exe()?);
        command.args(["client", &setup.endpoint, &setup.cert.display().to_string(), &hex::encode(to)]).args([
            seconds.to_string(),
            connections.to_string(),
            streams.to_string(),
            durable.to_string(),
        ]);
        let out = tokio::task::spawn_blocking(move || command.output()).await??;
        if !out.status.success() {
            return Err(format!("the client process: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        String::from_utf8(out.stdout)?
    } else {
        load(&setup.clients[..connections], to, durable, seconds, streams).await?
    };
    let (count, rest) = line.trim().split_once(' ').ok_or("no count")?;
    let per_call = (cpu_seconds() - cpu) * 1e6 / count.parse::<f64>()?.max(1.0);
    println!("{label:<40} {rest}   ({count} calls, {per_call:.0} µs CPU/call in the server's process)");
    Ok(())
}

/// The load itself: returns "COUNT RATE_AND_LATENCIES".
async fn load(
    clients: &[Arc<Client>],
    to: [u8; 20],
    durable: bool,
    seconds: f64,
    streams: usize,
) -> Result<String, Error> {
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for client in clients {
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
    Ok(format!(
        "{} {:>8.0} calls/s   p50 {:>6} µs   p99 {:>6} µs",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
    ))
}

/// The child process of `--separate`: `client ENDPOINT CERT TO SECONDS CONNECTIONS STREAMS DURABLE`.
fn client_process(args: &[String]) -> Result<(), Error> {
    let [endpoint, cert, to, seconds, connections, streams, durable] = args else {
        return Err("client ENDPOINT CERT TO SECONDS CONNECTIONS STREAMS DURABLE".into());
    };
    let to: [u8; 20] = hex::decode(to)?.try_into().map_err(|_| "a 20-byte address")?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let clients = connect(endpoint, std::path::Path::new(cert), connections.parse()?).await?;
        let line = load(&clients, to, durable.parse()?, seconds.parse()?, streams.parse()?).await?;
        println!("{line}");
        Ok(())
    })
}

fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

/// A memory figure of this process from `/proc/self/status` (`VmRSS:` now, `VmHWM:` the peak), in MiB.
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
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
    let all: Vec<String> = std::env::args().skip(1).collect();
    if all.first().map(String::as_str) == Some("client") {
        return client_process(&all[1..]);
    }
    if all.first().map(String::as_str) == Some("memory") {
        return memory_process();
    }
    let separate = all.iter().any(|a| a == "--separate");
    let mut args = all.iter().filter(|a| *a != "--separate");
    let seconds: f64 = args.next().map_or(Ok(5.0), |s| s.parse())?;
    let connections: usize = args.next().map_or(Ok(8), |s| s.parse())?;
    let streams: usize = args.next().map_or(Ok(64), |s| s.parse())?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let clients = if separate { "a separate process" } else { "the server's process" };
        println!("{connections} connections x {streams} concurrent requests, {seconds} s each; clients in {clients}");
        for (label, max_batch) in [("durable calls, group commit", 1024), ("durable calls, one fsync per call", 1)] {
            let setup = setup(max_batch, connections, separate).await?;
            let counter = setup.clients[0].deploy(ME, hex::decode(COUNTER)?, Format::Evm, None).await?;
            let counter = counter.created.ok_or("no address")?;
            let all = (connections, streams);
            drive(label, &setup, counter, true, seconds, all).await?;
            if max_batch > 1 {
                drive("read-only queries (no commit)", &setup, counter, false, seconds, all).await?;
                let m = setup.clients[0].metrics().await?;
                println!(
                    "  commits {}, requests committed {}, largest batch {}",
                    m.commits, m.committed, m.largest_batch
                );
                drive("1 client x 1: durable call", &setup, counter, true, seconds.min(2.0), (1, 1)).await?;
                drive("1 client x 1: read-only query", &setup, counter, false, seconds.min(2.0), (1, 1)).await?;
            }
            setup.server.close();
        }
        println!("peak RSS of this process during the load: {:.1} MiB", status_mib("VmHWM:"));
        Ok::<_, Error>(())
    })?;
    // Memory in a fresh process: this one's heap keeps the high-water mark of the load above.
    let out = std::process::Command::new(std::env::current_exe()?).arg("memory").output()?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        return Err(format!("the memory process: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(())
}

/// The child process that measures memory: a server and one client in a fresh process.
fn memory_process() -> Result<(), Error> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let setup = setup(1024, 1, false).await?;
        println!("RSS with the server up and nothing deployed: {:.1} MiB", rss_mib());
        let mut deployed = 0;
        for n in [1_000, 10_000] {
            memory(n, &setup, &mut deployed).await?;
        }
        setup.server.close();
        Ok(())
    })
}
