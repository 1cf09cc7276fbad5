//! Load on the RPC over loopback QUIC: many concurrent clients for a bounded time; calls/s and p50/p99
//! latency of a small contract (durable calls with group commit, with one `fsync` per call, and read-only
//! queries), and the process's memory with 1,000 and 10,000 deployed contracts.
//!
//! ```sh
//! cargo run --release -p zvm-node --example rpc_load [SECONDS] [CONNECTIONS] [STREAMS_PER_CONNECTION] [--separate] [--batch N[,N...]]
//! ```
//!
//! With `--batch`, it runs instead, for each size `N`, durable calls and read-only queries sent as batches
//! of `N` entries (`STREAMS_PER_CONNECTION` batches in flight per connection). Besides the end-to-end
//! latency (of the batch, which is each of its calls'), it then reports the server's execution time per
//! call, from the `exec_ns` the server returns with each entry: from the node's thread picking the call up
//! to its result being ready, without the queueing, the transport or the wait for `fsync`.
//!
//! By default server and clients share the process (and the machine's cores); with `--separate` the
//! clients run in a child process (this program again, `client ...`), so that the server's CPU time is its
//! own. Each row also gives the CPU time (user + system) the server's process spent per request: with
//! the clients in the process it includes theirs. Then the peak resident set of the load process, and
//! the memory figures, measured in a fresh process (a server and one client, with 1,000 and 10,000
//! contracts): the resident set of that process.

use std::sync::Arc;
use std::time::{Duration, Instant};
use zvm_node::rpc::protocol::{CallArgs, Entry, Format, Word};
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

/// One load: what each of `connections` × `streams` concurrent tasks sends, over and over, for `seconds`.
#[derive(Clone, Copy)]
struct Load {
    to: [u8; 20],
    /// Calls (committed) or queries.
    durable: bool,
    seconds: f64,
    connections: usize,
    streams: usize,
    /// Entries per batch request; 0: one call or query per request.
    batch: usize,
}

/// A server with the counter deployed, and the durable load on it.
async fn start(
    max_batch: usize,
    (seconds, connections, streams): (f64, usize, usize),
    separate: bool,
) -> Result<(Setup, Load), Error> {
    let setup = setup(max_batch, connections, separate).await?;
    let counter = setup.clients[0].deploy(ME, hex::decode(COUNTER)?, Format::Evm, None).await?;
    let to = counter.created.ok_or("no address")?;
    Ok((setup, Load { to, durable: true, seconds, connections, streams, batch: 0 }))
}

/// Prints the server's commit counters.
async fn commits(setup: &Setup) -> Result<(), Error> {
    let m = setup.clients[0].metrics().await?;
    println!("  commits {}, requests committed {}, largest batch {}", m.commits, m.committed, m.largest_batch);
    Ok(())
}

/// Drives a load (from a child process if the setup says so); prints the rate, the latencies and the CPU
/// time per call.
async fn drive(label: &str, setup: &Setup, load: Load) -> Result<(), Error> {
    let cpu = cpu_seconds();
    let line = if setup.separate {
        let mut command = std::process::Command::new(std::env::current_exe()?);
        command.args(["client", &setup.endpoint, &setup.cert.display().to_string(), &hex::encode(load.to)]).args([
            load.seconds.to_string(),
            load.connections.to_string(),
            load.streams.to_string(),
            load.durable.to_string(),
            load.batch.to_string(),
        ]);
        let out = tokio::task::spawn_blocking(move || command.output()).await??;
        if !out.status.success() {
            return Err(format!("the client process: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        String::from_utf8(out.stdout)?
    } else {
        run_load(&setup.clients[..load.connections], load).await?
    };
    let (count, rest) = line.trim().split_once(' ').ok_or("no count")?;
    let per_call = (cpu_seconds() - cpu) * 1e6 / count.parse::<f64>()?.max(1.0);
    println!("{label:<40} {rest}   ({count} calls, {per_call:.1} µs CPU/call in the server's process)");
    Ok(())
}

/// The `p` quantile of sorted values.
fn quantile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    sorted.get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1))).copied().unwrap_or_default()
}

/// The load itself: returns "COUNT RATE_AND_LATENCIES" (with the server's execution times for batches).
async fn run_load(clients: &[Arc<Client>], load: Load) -> Result<String, Error> {
    let end = Instant::now() + Duration::from_secs_f64(load.seconds);
    let entry = |to| if load.durable { Entry::Call(call(to)) } else { Entry::Query(call(to)) };
    let entries: Vec<Entry> = (0..load.batch).map(|_| entry(load.to)).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for client in clients {
        for _ in 0..load.streams {
            let (client, entries) = (client.clone(), entries.clone());
            tasks.spawn(async move {
                // Per request (a batch is one): its round trip; per call: the server's execution time.
                let (mut latencies, mut exec) = (Vec::new(), Vec::new());
                while Instant::now() < end {
                    let t = Instant::now();
                    if load.batch > 0 {
                        for reply in client.batch(entries.clone()).await? {
                            reply.result?;
                            exec.push(reply.exec_ns);
                        }
                    } else if load.durable {
                        client.call(call(load.to)).await?;
                    } else {
                        client.query(call(load.to)).await?;
                    }
                    latencies.push(t.elapsed().as_micros() as u32);
                }
                Ok::<_, Error>((latencies, exec))
            });
        }
    }
    let start = Instant::now();
    let (mut all, mut exec) = (Vec::new(), Vec::new());
    for outcome in tasks.join_all().await {
        let (latencies, times) = outcome?;
        all.extend(latencies);
        exec.extend(times);
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    exec.sort_unstable();
    let calls = all.len() * load.batch.max(1);
    let mut line = format!(
        "{calls} {:>8.0} calls/s   p50 {:>6} µs   p99 {:>6} µs",
        calls as f64 / elapsed,
        quantile(&all, 0.50),
        quantile(&all, 0.99),
    );
    if !exec.is_empty() {
        let us = |ns: u64| ns as f64 / 1000.0;
        let (p50, p99) = (us(quantile(&exec, 0.50)), us(quantile(&exec, 0.99)));
        line += &format!("   server exec p50 {p50:.1} µs p99 {p99:.1} µs");
    }
    Ok(line)
}

/// The child process of `--separate`: `client ENDPOINT CERT TO SECONDS CONNECTIONS STREAMS DURABLE BATCH`.
fn client_process(args: &[String]) -> Result<(), Error> {
    let [endpoint, cert, to, seconds, connections, streams, durable, batch] = args else {
        return Err("client ENDPOINT CERT TO SECONDS CONNECTIONS STREAMS DURABLE BATCH".into());
    };
    let to: [u8; 20] = hex::decode(to)?.try_into().map_err(|_| "a 20-byte address")?;
    let load = Load {
        to,
        durable: durable.parse()?,
        seconds: seconds.parse()?,
        connections: connections.parse()?,
        streams: streams.parse()?,
        batch: batch.parse()?,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let clients = connect(endpoint, std::path::Path::new(cert), load.connections).await?;
        println!("{}", run_load(&clients, load).await?);
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
    let batch_at = all.iter().position(|a| a == "--batch");
    let batches: Vec<usize> = match batch_at {
        Some(i) => all.get(i + 1).ok_or("--batch N[,N...]")?.split(',').map(str::parse).collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let mut args =
        all.iter().enumerate().filter(|&(i, a)| a != "--separate" && batch_at.is_none_or(|b| i != b && i != b + 1));
    let mut next = |default: &str| args.next().map_or(default.to_string(), |(_, a)| a.clone());
    let seconds: f64 = next("5").parse()?;
    let connections: usize = next("8").parse()?;
    let streams: usize = next("64").parse()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let clients = if separate { "a separate process" } else { "the server's process" };
        println!("{connections} connections x {streams} concurrent requests, {seconds} s each; clients in {clients}");
        if batches.is_empty() {
            for (label, max_batch) in [("durable calls, group commit", 1024), ("durable calls, one fsync per call", 1)]
            {
                let (setup, load) = start(max_batch, (seconds, connections, streams), separate).await?;
                drive(label, &setup, load).await?;
                if max_batch > 1 {
                    drive("read-only queries (no commit)", &setup, Load { durable: false, ..load }).await?;
                    commits(&setup).await?;
                    let lone = Load { seconds: seconds.min(2.0), connections: 1, streams: 1, ..load };
                    drive("1 client x 1: durable call", &setup, lone).await?;
                    drive("1 client x 1: read-only query", &setup, Load { durable: false, ..lone }).await?;
                }
                setup.server.close();
            }
        } else {
            let (setup, load) = start(1024, (seconds, connections, streams), separate).await?;
            for n in batches {
                let load = Load { batch: n, ..load };
                drive(&format!("durable calls, batches of {n}"), &setup, load).await?;
                drive(&format!("read-only queries, batches of {n}"), &setup, Load { durable: false, ..load }).await?;
                let lone = Load { seconds: seconds.min(2.0), connections: 1, streams: 1, ..load };
                drive(&format!("1 client x 1: a batch of {n} calls"), &setup, lone).await?;
            }
            commits(&setup).await?;
            setup.server.close();
        }
        println!("peak RSS of this process during the load: {:.1} MiB", status_mib("VmHWM:"));
        Ok::<_, Error>(())
    })?;
    if batch_at.is_some() {
        return Ok(());
    }
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
