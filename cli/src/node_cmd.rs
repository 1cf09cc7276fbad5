//! Persistent state from the command line: `zvm run --db PATH` and `zvm names`.
//!
//! `zvm run FILE --db PATH` runs against the node's database instead of a fresh in-memory state. The
//! program is a contract there: the first run deploys it at an address derived from its code (as
//! `CREATE2` by the CLI's caller with salt 0), every later run of the same code calls that same contract,
//! and each run's changes are durable when it prints. Different programs get different addresses and so
//! separate storage in one database.

use crate::{json_result, print_result, CALLER};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use zvm_ir::U256;
use zvm_node::node::deployable_code;
use zvm_node::{Node, NodeConfig, Receipt, Request};
use zvm_runtime::executor::{CodeFormat, Tier};
use zvm_runtime::vm::create2_address;
use zvm_runtime::{Address, ExecResult, Limits};

/// Storage slots `zvm run --db` prints at most.
const MAX_PRINTED_SLOTS: usize = 1000;

/// Runs `bytes` as the contract of its code in the database at `db` (see the module docs).
pub(crate) fn run(
    db: &Path,
    args: &crate::RunArgs,
    tier: Tier,
    bytes: Vec<u8>,
    format: CodeFormat,
    input: Vec<u8>,
) -> Result<(), String> {
    let limits = Limits::default();
    let mut config = NodeConfig { tier, limits: limits.clone(), ..NodeConfig::default() };
    if tier == Tier::Aot {
        config.code_cache = Some(std::sync::Arc::new(crate::cache_cmd::open_cache(args.cache_dir.clone())?));
    }
    config.block.gas_limit = config.block.gas_limit.max(args.gas);
    let node = open(db, config)?;
    let stored = deployable_code(format, bytes.clone(), &limits).map_err(|e| e.to_string())?;
    let contract = create2_address(CALLER, U256::ZERO, &stored);
    let exists = node.read().and_then(|mut v| v.account(contract)).map_err(|e| e.to_string())?.is_some();
    if !exists {
        let deploy = Request::Deploy { deployer: CALLER, code: bytes, format, salt: Some(U256::ZERO) };
        node.execute(deploy).map_err(|e| e.to_string())?;
    }
    let call = Request::Call { caller: CALLER, to: contract, value: U256::ZERO, input, gas_limit: args.gas };
    let receipt = node.execute(call).map_err(|e| e.to_string())?;
    let (storage, more) =
        node.read().and_then(|v| v.storage_of(contract, MAX_PRINTED_SLOTS)).map_err(|e| e.to_string())?;
    let Receipt { id, block, status, gas_used, gas_refunded, output, logs, .. } = receipt;
    let result = ExecResult { status, gas_used, gas_refunded, output, logs };
    if args.json {
        let mut json = json_result(&result, tier, &storage);
        json["contract"] = serde_json::Value::from(contract.to_string());
        json["deployed"] = serde_json::Value::from(!exists);
        json["receipt"] = serde_json::Value::from(id);
        json["block"] = serde_json::Value::from(block);
        json["storage_truncated"] = serde_json::Value::from(more);
        println!("{json}");
    } else {
        println!("contract: {contract}{}", if exists { "" } else { " (deployed by this run)" });
        println!("receipt:  {id} in block {block}");
        print_result(&result, tier, &storage, None);
        if more {
            println!("storage:  (only the first {MAX_PRINTED_SLOTS} slots are shown)");
        }
    }
    Ok(())
}

fn open(db: &Path, config: NodeConfig) -> Result<Node, String> {
    Node::open(db, config).map_err(|e| format!("{}: {e}", db.display()))
}

#[derive(clap::Args)]
pub(crate) struct NamesArgs {
    #[command(subcommand)]
    action: NamesAction,
}

#[derive(Subcommand)]
enum NamesAction {
    /// Register NAME for ADDRESS (a name is registered once; again for the same address is a no-op).
    Register {
        /// 1 to 64 bytes of a-z, 0-9, `.`, `_`, `-`, starting with a letter or digit.
        name: String,
        /// A 20-byte address in hex (`0x` optional).
        address: String,
        /// The node's database.
        #[arg(long)]
        db: PathBuf,
    },
    /// Print the address registered for NAME.
    Resolve {
        name: String,
        /// The node's database.
        #[arg(long)]
        db: PathBuf,
    },
    /// List every name and its address, in order.
    List {
        /// The node's database.
        #[arg(long)]
        db: PathBuf,
    },
}

pub(crate) fn names(args: NamesArgs) -> Result<(), String> {
    match args.action {
        NamesAction::Register { name, address, db } => {
            let address = parse_address(&address)?;
            let node = open(&db, NodeConfig::default())?;
            node.execute(Request::RegisterName { name: name.clone(), address }).map_err(|e| e.to_string())?;
            println!("{name} {address}");
        }
        NamesAction::Resolve { name, db } => {
            let node = open(&db, NodeConfig::default())?;
            let address = node.read().and_then(|v| v.resolve(&name)).map_err(|e| e.to_string())?;
            println!("{}", address.ok_or_else(|| format!("no contract is named `{name}`"))?);
        }
        NamesAction::List { db } => {
            let node = open(&db, NodeConfig::default())?;
            let view = node.read().map_err(|e| e.to_string())?;
            let mut after: Option<String> = None;
            loop {
                let page = view.names(after.as_deref(), 1000).map_err(|e| e.to_string())?;
                for (name, address) in &page {
                    println!("{name} {address}");
                }
                match page.last() {
                    Some((name, _)) => after = Some(name.clone()),
                    None => break,
                }
            }
        }
    }
    Ok(())
}

fn parse_address(s: &str) -> Result<Address, String> {
    let bytes = hex::decode(s.trim_start_matches("0x")).map_err(|e| format!("address `{s}`: {e}"))?;
    let bytes: [u8; 20] = bytes.try_into().map_err(|_| format!("address `{s}`: not 20 bytes"))?;
    Ok(Address(bytes))
}
