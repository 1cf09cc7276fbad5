//! [`zvm_runtime_t`]: a [`Node`] over one database file, and the operations of the C ABI on it in safe
//! Rust (the entry points in `lib.rs` only read the C arguments and call these).

use crate::args::{zvm_config_t, zvm_message_t};
use crate::error::{Failure, ZVM_ERR_INTERNAL, ZVM_ERR_INVALID_CODE, ZVM_ERR_STORE, ZVM_ERR_UNKNOWN_ADDRESS};
use crate::result::Outcome;
use crate::{args, ZVM_MAX_INPUT_LEN};
use ruint::aliases::U256;
use std::path::Path;
use zvm_compiler::frontend::zvm::asm;
use zvm_node::{Node, NodeConfig, Query, Request};
use zvm_runtime::executor::{CodeFormat, Tier};
use zvm_runtime::Address;

/// ZVM bytecode, raw or in a `ZVMC` container.
pub const ZVM_FORMAT_ZVM: u32 = 1;
/// EVM bytecode (runtime code: it is installed as is, no init code runs).
pub const ZVM_FORMAT_EVM: u32 = 2;
/// ZVM assembly text (as in `examples/*.zasm`), assembled into ZVM bytecode before it is deployed.
pub const ZVM_FORMAT_ZASM: u32 = 3;
/// A WebAssembly contract: a binary module importing the `zvm` ABI and exporting `call` (docs/wasm-abi.md).
pub const ZVM_FORMAT_WASM: u32 = 4;

/// Size bound of the on-disk code cache a runtime opens at `config.cache_dir` (least recently used entries
/// are evicted beyond it).
const CODE_CACHE_BYTES: u64 = 1 << 30;

/// The node's default: compiled to native code in process (as `ZVM_TIER_JIT`).
pub const ZVM_TIER_DEFAULT: u32 = 0;
/// The IR interpreter: no compile time.
pub const ZVM_TIER_INTERP: u32 = 1;
/// Native code compiled in process by Cranelift.
pub const ZVM_TIER_JIT: u32 = 2;
/// Native code emitted as an object and mapped by zvm's own loader.
pub const ZVM_TIER_AOT: u32 = 3;

/// A runtime: persistent contract state in one database file, with a writer thread that commits calls
/// and query threads (see the crate docs for what may be called concurrently). Opaque to C.
pub struct zvm_runtime_t {
    node: Node,
}

/// A runtime's settings, read from a [`zvm_config_t`].
pub(crate) struct Config<'a> {
    db_path: &'a Path,
    node: NodeConfig,
}

impl<'a> Config<'a> {
    /// Reads and checks `config`.
    ///
    /// # Safety
    /// The strings of `config` are NULL or NUL-terminated and valid for `'a`.
    pub unsafe fn read(config: &'a zvm_config_t) -> Result<Config<'a>, Failure> {
        // SAFETY: the caller's contract.
        let db_path =
            unsafe { args::text(config.db_path, "config.db_path") }?.ok_or_else(|| Failure::null("config.db_path"))?;
        // SAFETY: the caller's contract.
        let cache_dir = unsafe { args::text(config.cache_dir, "config.cache_dir") }?;
        let mut node = NodeConfig::default();
        node.tier = match config.tier {
            ZVM_TIER_DEFAULT => node.tier,
            ZVM_TIER_INTERP => Tier::Interp,
            ZVM_TIER_JIT => Tier::Jit,
            ZVM_TIER_AOT => Tier::Aot,
            other => return Err(Failure::argument(format!("config.tier: unknown tier {other}"))),
        };
        if config.block_gas_limit != 0 {
            node.block.gas_limit = config.block_gas_limit;
        }
        if let Some(dir) = cache_dir {
            if node.tier != Tier::Aot {
                return Err(Failure::argument("config.cache_dir is used with ZVM_TIER_AOT only"));
            }
            let cache = zvm_cache::Cache::open(dir, CODE_CACHE_BYTES)
                .map_err(|e| Failure::new(ZVM_ERR_STORE, format!("config.cache_dir: {e}")))?;
            node.code_cache = Some(std::sync::Arc::new(cache));
        }
        Ok(Config { db_path: Path::new(db_path), node })
    }
}

/// A call or a query, read from a [`zvm_message_t`].
pub(crate) struct Message {
    caller: Address,
    to: Address,
    input: Vec<u8>,
    gas_limit: u64,
}

impl Message {
    /// Reads and checks `message`.
    ///
    /// # Safety
    /// `message.input` is NULL or valid for reads of `message.input_len` bytes.
    pub unsafe fn read(message: &zvm_message_t) -> Result<Message, Failure> {
        // SAFETY: the caller's contract.
        let input = unsafe { args::bytes(message.input, message.input_len, ZVM_MAX_INPUT_LEN, "message.input") }?;
        Ok(Message {
            caller: message.caller.into(),
            to: message.to.into(),
            input: input.to_vec(),
            gas_limit: message.gas_limit,
        })
    }
}

impl zvm_runtime_t {
    /// Opens (creating or migrating) the database and starts the node.
    pub(crate) fn open(config: Config) -> Result<zvm_runtime_t, Failure> {
        Ok(zvm_runtime_t { node: Node::open(config.db_path, config.node)? })
    }

    /// Installs `code` (in `format`, one of `ZVM_FORMAT_*`) as a contract of `deployer` at its `CREATE`
    /// address, or its `CREATE2` address for `salt`; durable when it returns.
    pub(crate) fn deploy(
        &self,
        deployer: Address,
        code: &[u8],
        format: u32,
        salt: Option<U256>,
    ) -> Result<Address, Failure> {
        let (code, format) = match format {
            ZVM_FORMAT_ZVM => (code.to_vec(), CodeFormat::Zvm),
            ZVM_FORMAT_EVM => (code.to_vec(), CodeFormat::Evm),
            ZVM_FORMAT_WASM => (code.to_vec(), CodeFormat::Wasm),
            ZVM_FORMAT_ZASM => {
                let text = std::str::from_utf8(code)
                    .map_err(|e| Failure::argument(format!("ZVM assembly is not UTF-8: {e}")))?;
                let code =
                    asm::assemble(text).map_err(|e| Failure::new(ZVM_ERR_INVALID_CODE, format!("assembly: {e}")))?;
                (code, CodeFormat::Zvm)
            }
            other => return Err(Failure::argument(format!("unknown code format {other}"))),
        };
        let receipt = self.node.execute(Request::Deploy { deployer, code, format, salt })?;
        receipt.created.ok_or_else(|| Failure::new(ZVM_ERR_INTERNAL, "a deploy created no contract"))
    }

    /// Runs a state-changing call; its receipt once it is durable.
    pub(crate) fn call(&self, message: Message) -> Result<Outcome, Failure> {
        self.require_contract(message.to)?;
        let Message { caller, to, input, gas_limit } = message;
        let request = Request::Call { caller, to, value: U256::ZERO, input, gas_limit };
        Ok(self.node.execute(request)?.into())
    }

    /// Runs a call on a snapshot of the committed state and throws its changes away.
    pub(crate) fn query(&self, message: Message) -> Result<Outcome, Failure> {
        self.require_contract(message.to)?;
        let Message { caller, to, input, gas_limit } = message;
        Ok(self.node.query(Query { caller, to, value: U256::ZERO, input, gas_limit })?.into())
    }

    /// A committed storage slot of the account at `address` (zero if unset).
    pub(crate) fn storage(&self, address: Address, key: U256) -> Result<U256, Failure> {
        let mut view = self.node.read()?;
        if view.account(address)?.is_none() {
            return Err(unknown(address, "account"));
        }
        Ok(view.storage(address, key)?)
    }

    /// Fails unless the committed state has code at `address`: a call to an address without code would
    /// succeed doing nothing, which is nearly always a mistake of the embedder.
    fn require_contract(&self, address: Address) -> Result<(), Failure> {
        match self.node.read()?.account(address)? {
            Some(account) if account.code_hash.is_some() => Ok(()),
            _ => Err(unknown(address, "contract")),
        }
    }
}

fn unknown(address: Address, what: &str) -> Failure {
    Failure::new(ZVM_ERR_UNKNOWN_ADDRESS, format!("no {what} at {address}"))
}
