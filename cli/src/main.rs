//! `zvm`: run, compile, assemble, disassemble and inspect contract bytecode, manage the cache of compiled
//! objects (`cache_cmd`), run Ethereum state tests (`statetest_cmd`), and keep state in a node's database
//! (`node_cmd`: `run --db`, `names`) or behind the RPC server (`rpc_cmd`: `serve`, `deploy`, `call`, `query`,
//! `events`).
//!
//! Errors are rendered once, here, as a single `error: ...` line with a non-zero exit status.

mod cache_cmd;
mod node_cmd;
mod rpc_cmd;
mod statetest_cmd;
mod wasm_run;
mod wast_cmd;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use zvm_compiler::frontend::wasm::WasmError;
use zvm_compiler::frontend::zvm::{asm, lower};
use zvm_runtime::executor::{CacheOutcome, CodeFormat, Contract, LoadError, Tier};
use zvm_runtime::{Address, ExecResult, InMemoryHost, Limits, Message};

/// zvm: a toolchain that compiles contract bytecode to native code.
#[derive(Parser)]
#[command(name = "zvm", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a program (EVM or ZVM bytecode as binary or hex text, or `.zasm` assembly) as a message call.
    Run(RunArgs),
    /// Compile contracts to native objects into the cache (and/or to `.o` files with `-o`).
    Compile(cache_cmd::CompileArgs),
    /// Inspect or maintain the cache of compiled objects: `stats`, `ls`, `verify`, `clear`.
    Cache(cache_cmd::CacheArgs),
    /// Run Ethereum state tests (filled ethereum/tests JSON) and compare state roots and logs.
    Statetest(statetest_cmd::StatetestArgs),
    /// Run WebAssembly spec scripts (`.wast`) and report `N passed, M failed`.
    Wast(wast_cmd::WastArgs),
    /// Register, resolve and list contract names in a node's database.
    Names(node_cmd::NamesArgs),
    /// Run a node: the QUIC RPC server over a database (see docs/rpc.md).
    Serve(rpc_cmd::ServeArgs),
    /// Deploy a contract to a node over RPC; prints its address.
    Deploy(rpc_cmd::DeployArgs),
    /// Call a contract on a node over RPC (state-changing; prints the receipt once durable).
    Call(rpc_cmd::CallArgsCli),
    /// Run a read-only call on a node over RPC (nothing is committed).
    Query(rpc_cmd::CallArgsCli),
    /// Stream a node's logs as their calls become durable (filtered by contract and topics).
    Events(rpc_cmd::EventsArgs),
    /// Assemble `.zasm` into ZVM bytecode.
    Asm {
        /// The assembly file.
        file: PathBuf,
        /// Write the bytecode here (binary) instead of printing it as hex.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Disassemble ZVM bytecode.
    Disasm {
        /// Bytecode file (binary or hex text).
        file: PathBuf,
    },
    /// Print a program's IR after the gas pass.
    Ir {
        /// Bytecode file (binary, hex text, or `.zasm`).
        file: PathBuf,
        /// Print the IR as the frontend produced it, before the gas pass.
        #[arg(long)]
        no_gas_pass: bool,
        /// Bytecode format (default as for `run`).
        #[arg(long, value_parser = ["evm", "zvm"])]
        format: Option<String>,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Bytecode file (binary, hex text, or `.zasm`).
    file: PathBuf,
    /// Execution tier (`aot`: the compiled tier through the on-disk cache of objects and zvm's own loader).
    #[arg(long, default_value = "jit", value_parser = ["interp", "jit", "aot"])]
    tier: String,
    /// The cache directory for `--tier aot` (default: `$XDG_CACHE_HOME/zvm` or `$HOME/.cache/zvm`).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Gas limit.
    #[arg(long, default_value_t = 10_000_000)]
    gas: u64,
    /// Call data, as hex (with or without 0x).
    #[arg(long, default_value = "")]
    input: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Bytecode format (default: `evm` for `.evm` files, `zvm` for `.zasm` files and ZVMC containers, else
    /// `zvm`).
    #[arg(long, value_parser = ["evm", "zvm"])]
    format: Option<String>,
    /// Run against the persistent state in this database (created if missing) instead of a fresh
    /// in-memory state. The first run deploys the program at an address derived from its code (CREATE2 by
    /// the caller, salt 0); every run of the same code calls that contract and keeps its changes, durably.
    #[arg(long)]
    db: Option<PathBuf>,
    /// WebAssembly: call the exported function NAME with the arguments that follow (typed by its
    /// parameters), after instantiating the module.
    #[arg(long, num_args = 1.., value_names = ["NAME", "ARG"], allow_negative_numbers = true)]
    invoke: Vec<String>,
}

fn main() -> ExitCode {
    // Bad input must give one line, never a backtrace: report a bug the same way if one slips through.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error (please report): {info}");
    }));
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Run(args) => run_program(args),
        Command::Compile(args) => cache_cmd::compile(args),
        Command::Cache(args) => cache_cmd::cache(args),
        Command::Statetest(args) => statetest_cmd::statetest(args),
        Command::Wast(args) => wast_cmd::wast(args),
        Command::Names(args) => node_cmd::names(args),
        Command::Serve(args) => rpc_cmd::serve(args),
        Command::Deploy(args) => rpc_cmd::deploy(args),
        Command::Call(args) => rpc_cmd::call(args, false),
        Command::Query(args) => rpc_cmd::call(args, true),
        Command::Events(args) => rpc_cmd::events(args),
        Command::Asm { file, output } => {
            let src = read_text(&file)?;
            let code = asm::assemble(&src).map_err(|e| format!("{}: {e}", file.display()))?;
            match output {
                Some(out) => std::fs::write(&out, &code).map_err(|e| format!("{}: {e}", out.display())),
                None => {
                    println!("{}", hex::encode(code));
                    Ok(())
                }
            }
        }
        Command::Disasm { file } => {
            let bytes = read_code(&file)?;
            let code = zvm_compiler::frontend::zvm::container::parse(&bytes).map_err(|e| e.to_string())?.code;
            print!("{}", asm::disassemble(code));
            Ok(())
        }
        Command::Ir { file, no_gas_pass, format } => {
            let bytes = read_code(&file)?;
            let max = Limits::default().max_code_size;
            let mut module = match code_format(&file, &bytes, format.as_deref())? {
                CodeFormat::Zvm => lower::load(&bytes, max).map_err(|e| e.to_string())?.module,
                CodeFormat::Evm => zvm_compiler::frontend::evm::load(&bytes, max).map_err(|e| e.to_string())?,
                CodeFormat::Wasm => wasm_run::lower(&bytes)?,
            };
            if !no_gas_pass {
                zvm_ir::passes::gas::run(&mut module);
            }
            print!("{}", zvm_ir::text::print(&module));
            Ok(())
        }
    }
}

/// The account examples run as, and their caller.
const CONTRACT: Address = Address::from_low_u64(0xC0DE);
const CALLER: Address = Address::from_low_u64(0xCA11E2);

fn run_program(args: RunArgs) -> Result<(), String> {
    let tier: Tier = args.tier.parse()?;
    let bytes = read_code(&args.file)?;
    let input = parse_hex(&args.input).map_err(|e| format!("--input: {e}"))?;
    let limits = Limits::default();
    if args.cache_dir.is_some() && tier != Tier::Aot {
        return Err("--cache-dir is only used with --tier aot".into());
    }
    if !args.invoke.is_empty() {
        if !bytes.starts_with(zvm_runtime::executor::WASM_MAGIC) {
            return Err("--invoke calls an export of a WebAssembly module".into());
        }
        if tier == Tier::Aot || args.db.is_some() {
            return Err("--invoke runs with --tier interp or jit, without --db".into());
        }
        return wasm_run::run(&args.file, bytes, tier, args.gas, &args.invoke);
    }
    let format = code_format(&args.file, &bytes, args.format.as_deref())?;
    if let Some(db) = &args.db {
        return node_cmd::run(db, &args, tier, bytes, format, input);
    }
    let loading = |e: LoadError| match e {
        LoadError::Wasm(WasmError::NotAContract(_)) => format!("{e} (a plain module runs with --invoke NAME ARG...)"),
        e => e.to_string(),
    };
    let (contract, cache) = if tier == Tier::Aot {
        let cache = cache_cmd::open_cache(args.cache_dir)?;
        let (contract, outcome) = Contract::load_cached(format, &bytes, &limits, &cache).map_err(loading)?;
        (contract, Some(outcome))
    } else {
        (Contract::load_as(format, &bytes, tier, &limits).map_err(loading)?, None)
    };
    let msg = Message { caller: CALLER, address: CONTRACT, input, gas_limit: args.gas, ..Message::default() };
    let mut host = InMemoryHost::new();
    let result = contract.run(&msg, &mut host, &limits);
    let mut storage: Vec<_> =
        host.accounts.get(&CONTRACT).map(|a| a.storage.iter().map(|(k, v)| (*k, *v)).collect()).unwrap_or_default();
    storage.sort();
    if args.json {
        let mut json = json_result(&result, tier, &storage);
        if let Some(outcome) = &cache {
            json["cache"] = serde_json::Value::from(outcome.to_string());
        }
        println!("{json}");
    } else {
        print_result(&result, tier, &storage, cache.as_ref());
    }
    Ok(())
}

fn print_result(r: &ExecResult, tier: Tier, storage: &[(zvm_ir::U256, zvm_ir::U256)], cache: Option<&CacheOutcome>) {
    println!("status:   {}", r.status.name());
    if let zvm_runtime::Status::InvalidCode(msg) = &r.status {
        println!("reason:   {msg}");
    }
    println!("tier:     {tier}");
    if let Some(outcome) = cache {
        println!("cache:    {outcome}");
    }
    println!("gas used: {}", r.gas_used);
    println!("output:   0x{}", hex::encode(&r.output));
    for (k, v) in storage {
        println!("storage:  {k:#x} = {v:#x}");
    }
    for log in &r.logs {
        let topics: Vec<String> = log.topics.iter().map(|t| format!("{t:#x}")).collect();
        println!("log:      topics [{}] data 0x{}", topics.join(", "), hex::encode(&log.data));
    }
}

fn json_result(r: &ExecResult, tier: Tier, storage: &[(zvm_ir::U256, zvm_ir::U256)]) -> serde_json::Value {
    serde_json::json!({
        "status": r.status.name(),
        "tier": tier.to_string(),
        "gas_used": r.gas_used,
        "output": format!("0x{}", hex::encode(&r.output)),
        "storage": storage.iter().map(|(k, v)| (format!("{k:#x}"), serde_json::Value::from(format!("{v:#x}")))).collect::<serde_json::Map<_, _>>(),
        "logs": r.logs.iter().map(|l| serde_json::json!({
            "address": l.address.to_string(),
            "topics": l.topics.iter().map(|t| format!("{t:#x}")).collect::<Vec<_>>(),
            "data": format!("0x{}", hex::encode(&l.data)),
        })).collect::<Vec<_>>(),
    })
}

/// The format of a program file: `flag` if given, else ZVM for ZVMC containers and `.zasm`, EVM for `.evm`,
/// and ZVM otherwise.
pub(crate) fn code_format(path: &Path, bytes: &[u8], flag: Option<&str>) -> Result<CodeFormat, String> {
    if let Some(f) = flag {
        return f.parse();
    }
    let default = if path.extension().is_some_and(|e| e == "evm") { CodeFormat::Evm } else { CodeFormat::Zvm };
    Ok(CodeFormat::detect(bytes, default))
}

fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a program: `.zasm` is assembled, `.wat` WebAssembly text is encoded, text that is all hex is
/// decoded, anything else is raw bytecode.
pub(crate) fn read_code(path: &Path) -> Result<Vec<u8>, String> {
    if path.extension().is_some_and(|e| e == "zasm") {
        let src = read_text(path)?;
        return asm::assemble(&src).map_err(|e| format!("{}: {e}", path.display()));
    }
    if path.extension().is_some_and(|e| e == "wat") {
        let src = read_text(path)?;
        return wat::parse_str(&src).map_err(|e| format!("{}: {e}", path.display()));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Ok(text) = std::str::from_utf8(&bytes) {
        let t = text.trim();
        if !t.is_empty() && t.trim_start_matches("0x").bytes().all(|b| b.is_ascii_hexdigit()) {
            return parse_hex(t).map_err(|e| format!("{}: {e}", path.display()));
        }
    }
    Ok(bytes)
}

pub(crate) fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    let s = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(s).map_err(|e| format!("invalid hex: {e}"))
}
