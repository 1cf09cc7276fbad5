//! The node on the network: `zvm serve` runs the QUIC RPC server over a database; `zvm deploy`, `zvm call`,
//! `zvm query` and `zvm events` are its clients (see docs/rpc.md).
//!
//! Clients find the server with `--endpoint` and trust it by pinning its certificate (`--cert`, the
//! `DB.cert.pem` that `zvm serve` prints) or, on loopback and in development, with `--insecure`.
//! State-changing commands send the token (`--token` or `ZVM_TOKEN`).

use crate::{code_format, parse_hex, read_code, CALLER};
use std::net::SocketAddr;
use std::path::PathBuf;
use zvm_node::rpc::protocol::{CallArgs, Filter, Format, Log, Receipt, Start, Word};
use zvm_node::rpc::{Blocking, ClientConfig, Delivery, Identity, Server, ServerConfig, Trust};
use zvm_node::NodeConfig;
use zvm_runtime::executor::{CodeFormat, Tier};

/// Where `zvm serve` listens and clients connect by default.
const DEFAULT_ENDPOINT: &str = "127.0.0.1:7600";
const TOKEN_ENV: &str = "ZVM_TOKEN";

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// The node's database (created if missing).
    #[arg(long, default_value = "zvm-node.redb")]
    db: PathBuf,
    /// The UDP address to listen on.
    #[arg(long, default_value = DEFAULT_ENDPOINT)]
    listen: SocketAddr,
    /// The token state-changing requests must carry (default: $ZVM_TOKEN; one is required).
    #[arg(long)]
    token: Option<String>,
    /// A PEM certificate chain to serve instead of the self-signed one kept next to the database.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// The PEM private key of --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Execution tier.
    #[arg(long, default_value = "jit", value_parser = ["interp", "jit"])]
    tier: String,
    /// Most calls per commit (1: one fsync per call).
    #[arg(long, default_value_t = 1024)]
    max_batch: usize,
}

/// How a client reaches and trusts the server.
#[derive(clap::Args)]
pub(crate) struct Connection {
    /// The server's address (host:port).
    #[arg(long, default_value = DEFAULT_ENDPOINT)]
    endpoint: String,
    /// Trust the server only if it presents exactly this certificate (PEM).
    #[arg(long, conflicts_with = "insecure")]
    cert: Option<PathBuf>,
    /// Accept any server certificate: encrypted but not authenticated (loopback, development).
    #[arg(long)]
    insecure: bool,
    /// The node's token, for state-changing requests (default: $ZVM_TOKEN).
    #[arg(long)]
    token: Option<String>,
}

impl Connection {
    fn connect(&self) -> Result<Blocking, String> {
        let trust = match (&self.cert, self.insecure) {
            (Some(cert), _) => Trust::pinned_file(cert).map_err(|e| e.to_string())?,
            (None, true) => Trust::Insecure,
            (None, false) => return Err("give --cert FILE (the certificate `zvm serve` printed) or --insecure".into()),
        };
        let token = self.token.clone().or_else(|| std::env::var(TOKEN_ENV).ok());
        Blocking::connect(&self.endpoint, ClientConfig::new(trust, token)).map_err(|e| e.to_string())
    }
}

#[derive(clap::Args)]
pub(crate) struct DeployArgs {
    /// Bytecode file (binary, hex text, or `.zasm`).
    file: PathBuf,
    /// Bytecode format (default as for `run`).
    #[arg(long, value_parser = ["evm", "zvm"])]
    format: Option<String>,
    /// Also register this name for the new contract.
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    connection: Connection,
}

#[derive(clap::Args)]
pub(crate) struct CallArgsCli {
    /// The contract: a 20-byte hex address, or a registered name.
    contract: String,
    /// Call data, as hex (with or without 0x).
    #[arg(long, default_value = "")]
    input: String,
    /// Gas limit.
    #[arg(long, default_value_t = 10_000_000)]
    gas: u64,
    #[command(flatten)]
    connection: Connection,
}

#[derive(clap::Args)]
pub(crate) struct EventsArgs {
    /// Only logs of this contract (address or name).
    #[arg(long)]
    address: Option<String>,
    /// Topic filter by position: the first --topic matches topic 0, the next topic 1, ...; `_` matches any.
    #[arg(long = "topic")]
    topics: Vec<String>,
    /// Stop after this many events (default: until interrupted or the server ends the stream).
    #[arg(long)]
    count: Option<u64>,
    /// First replay the stored logs from this block on, then go on with the live ones (none missed or
    /// repeated; a long backlog comes over several subscriptions, resumed automatically).
    #[arg(long)]
    from_block: Option<u64>,
    #[command(flatten)]
    connection: Connection,
}

pub(crate) fn serve(args: ServeArgs) -> Result<(), String> {
    let token =
        args.token.or_else(|| std::env::var(TOKEN_ENV).ok()).filter(|t| !t.is_empty()).ok_or(
            "a token is required so that the node is not open to anyone who can reach it: --token T or ZVM_TOKEN",
        )?;
    let (identity, cert) = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => (Identity::load(cert, key).map_err(|e| e.to_string())?, cert.clone()),
        _ => Identity::self_signed_for(&args.db).map_err(|e| e.to_string())?,
    };
    let tier: Tier = args.tier.parse()?;
    let node = NodeConfig { tier, max_batch: args.max_batch, ..NodeConfig::default() };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let server = Server::start(&args.db, node, ServerConfig::new(args.listen, token, identity))
            .map_err(|e| format!("{}: {e}", args.db.display()))?;
        let addr = server.local_addr().map_err(|e| e.to_string())?;
        println!("listening on {addr}");
        println!("database: {}", args.db.display());
        println!("certificate: {} (clients: --cert {})", cert.display(), cert.display());
        tokio::select! {
            _ = server.run() => {}
            _ = tokio::signal::ctrl_c() => println!("stopping"),
        }
        server.close();
        Ok::<(), String>(())
    })?;
    // Dropping the runtime drops the server and its node: queued calls commit before it returns.
    Ok(())
}

pub(crate) fn deploy(args: DeployArgs) -> Result<(), String> {
    let code = read_code(&args.file)?;
    let format = match code_format(&args.file, &code, args.format.as_deref())? {
        CodeFormat::Evm => Format::Evm,
        CodeFormat::Zvm => Format::Zvm,
        CodeFormat::Wasm => Format::Wasm,
    };
    let client = args.connection.connect()?;
    let receipt = client.run(async |c| c.deploy(CALLER.0, code, format, None).await).map_err(|e| e.to_string())?;
    let address = receipt.created.ok_or("the server's receipt names no contract")?;
    println!("contract: 0x{}", hex::encode(address));
    println!("receipt:  {} in block {}", receipt.id, receipt.block);
    if let Some(name) = &args.name {
        client.run(async |c| c.register_name(name, address).await).map_err(|e| e.to_string())?;
        println!("name:     {name}");
    }
    Ok(())
}

/// `zvm call` (durable) or, with `read_only`, `zvm query` (nothing is committed).
pub(crate) fn call(args: CallArgsCli, read_only: bool) -> Result<(), String> {
    let input = parse_hex(&args.input).map_err(|e| format!("--input: {e}"))?;
    let client = args.connection.connect()?;
    let to = contract(&client, &args.contract)?;
    let call = CallArgs { caller: CALLER.0, to, value: [0; 32], input, gas_limit: args.gas };
    if read_only {
        let outcome = client.run(async |c| c.query(call).await).map_err(|e| e.to_string())?;
        print_outcome(&outcome.status, outcome.gas_used, &outcome.output, &outcome.logs);
    } else {
        let Receipt { id, block, status, gas_used, output, logs, .. } =
            client.run(async |c| c.call(call).await).map_err(|e| e.to_string())?;
        println!("receipt:  {id} in block {block}");
        print_outcome(&status, gas_used, &output, &logs);
    }
    Ok(())
}

pub(crate) fn events(args: EventsArgs) -> Result<(), String> {
    let client = args.connection.connect()?;
    let address = args.address.as_deref().map(|a| contract(&client, a)).transpose()?;
    let topics = args
        .topics
        .iter()
        .map(|t| if t == "_" { Ok(None) } else { parse_word(t).map(Some) })
        .collect::<Result<Vec<_>, _>>()?;
    let filter = Filter { address, topics };
    client.run(async |c| {
        let mut from = args.from_block.map(Start::Block);
        let mut seen = 0;
        let mut first = true;
        // One subscription, or (with a backlog longer than the server replays at once) one after another,
        // each resuming where the previous one's replay stopped.
        loop {
            let mut events = match from {
                None => c.subscribe(filter.clone()).await,
                Some(from) => c.subscribe_from(filter.clone(), from).await,
            }
            .map_err(|e| e.to_string())?;
            if first {
                eprintln!("subscribed");
                first = false;
            }
            while args.count.is_none_or(|n| seen < n) {
                match events.next_delivery().await {
                    None => break,
                    Some(Err(e)) => return Err(e.to_string()),
                    Some(Ok(Delivery::Event(event))) => {
                        println!("receipt {} block {} {}", event.receipt, event.block, log_line(&event.log));
                        seen += 1;
                    }
                    Some(Ok(Delivery::Live(next))) => eprintln!("backlog replayed; live from receipt {}", next.receipt),
                    Some(Ok(Delivery::CutShort(_))) => {}
                }
            }
            match events.resume() {
                Some(resume) if events.cut_short() && args.count.is_none_or(|n| seen < n) => {
                    from = Some(Start::At(resume));
                }
                _ => return Ok(()),
            }
        }
    })
}

/// The address of `contract`: hex, or a name the server resolves.
fn contract(client: &Blocking, contract: &str) -> Result<[u8; 20], String> {
    let hex = contract.strip_prefix("0x").unwrap_or(contract);
    if hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut address = [0u8; 20];
        hex::decode_to_slice(hex, &mut address).map_err(|e| format!("address `{contract}`: {e}"))?;
        return Ok(address);
    }
    client.run(async |c| c.resolve(contract).await).map_err(|e| e.to_string())
}

fn parse_word(s: &str) -> Result<Word, String> {
    let bytes = parse_hex(s).map_err(|e| format!("topic `{s}`: {e}"))?;
    if bytes.len() > 32 {
        return Err(format!("topic `{s}`: more than 32 bytes"));
    }
    let mut word = [0u8; 32];
    word[32 - bytes.len()..].copy_from_slice(&bytes);
    Ok(word)
}

fn print_outcome(status: &str, gas_used: u64, output: &[u8], logs: &[Log]) {
    println!("status:   {status}");
    println!("gas used: {gas_used}");
    println!("output:   0x{}", hex::encode(output));
    for log in logs {
        println!("log:      {}", log_line(log));
    }
}

fn log_line(log: &Log) -> String {
    let topics: Vec<String> = log.topics.iter().map(|t| format!("0x{}", hex::encode(t))).collect();
    format!("0x{} topics [{}] data 0x{}", hex::encode(log.address), topics.join(", "), hex::encode(&log.data))
}
