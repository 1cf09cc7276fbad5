//! revm as a peer: the same transaction on revm 43 with Cancun rules, summarised like zvm's run.
//!
//! The pre-state goes into a `CacheDB<EmptyDB>` (code as legacy bytecode: Cancun has no EIP-7702
//! delegations), the block and transaction are converted field by field, and revm runs the transaction with
//! [`ExecuteEvm::transact`], which returns the result and the state diff without committing it. The diff is
//! then applied to the pre-state by the rules zvm's host applies at the end of a transaction: an account
//! that is only loaded is unchanged; a self-destructed one is removed; a created one starts with empty
//! storage; a touched one that ends empty is removed (EIP-161). The empty-code-hash `EmptyDB` gives
//! `BLOCKHASH` the same stand-in as zvm's in-memory host (keccak256 of the number in decimal).
//!
//! # Validation
//! revm is configured to check exactly what zvm's transaction layer checks, no more and no less: the
//! transaction's chain id is the block's (zvm's transactions carry none, so the check is vacuous), the blob
//! count is capped at zvm's per-block maximum (revm skips the check when no cap is set), and nothing else
//! is disabled — nonce, balance, base fee, block gas limit, EIP-3607 and EIP-3860 are checked by both. A
//! rejected transaction is [`Status::Rejected`] with the pre-state unchanged. A blob transaction that creates
//! a contract cannot be encoded at all (EIP-4844's `to` is not optional), so it is rejected here without
//! asking revm, which has no check of its own for it.
//!
//! Only receipts-visible logs are kept: revm reports the logs emitted before a revert or halt, which the
//! receipt does not carry, so they are dropped.

use crate::summary::{Hex, LogEntry, PostState, Run, Status, Summary};
use revm::context::result::{EVMError, ExecutionResult, Output};
use revm::context::{BlockEnv as RevmBlock, CfgEnv, Context, TxEnv};
use revm::context_interface::block::BlobExcessGasAndPrice;
use revm::context_interface::transaction::{AccessList, AccessListItem};
use revm::database::{CacheDB, EmptyDB};
use revm::primitives::hardfork::SpecId;
use revm::primitives::{keccak256, Address as RevmAddress, Bytes, TxKind, B256, KECCAK_EMPTY};
use revm::state::{AccountInfo, Bytecode};
use revm::{ExecuteEvm, MainBuilder, MainContext};
use ruint::aliases::U256;
use thiserror::Error;
use zvm_runtime::tx::{Transaction, TxType, MAX_BLOBS_PER_BLOCK};
use zvm_runtime::{Address, BlockEnv, InMemoryHost};

/// Why a transaction could not be given to revm (a limit of the adapter or of revm's types, not a verdict on
/// the transaction).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum PeerError {
    #[error("{field} = {value:#x} does not fit revm's {bits}-bit field")]
    TooLarge { field: &'static str, value: U256, bits: u32 },
    #[error("revm failed outside the transaction's validity: {0}")]
    Revm(String),
    #[error("revm's post-state has code of unknown hash {0} at {1}")]
    UnknownCode(B256, Address),
}

fn narrow<T: TryFrom<U256>>(value: U256, field: &'static str, bits: u32) -> Result<T, PeerError> {
    T::try_from(value).map_err(|_| PeerError::TooLarge { field, value, bits })
}

fn to_revm_address(address: Address) -> RevmAddress {
    RevmAddress::from(address.0)
}

fn from_revm_address(address: RevmAddress) -> Address {
    Address(address.into_array())
}

fn word_to_b256(word: U256) -> B256 {
    B256::from(word.to_be_bytes::<32>())
}

/// The Cancun configuration matching zvm's validation (see the module documentation).
pub fn revm_cfg(block: &BlockEnv) -> CfgEnv {
    let mut cfg = CfgEnv::new_with_spec(SpecId::CANCUN).with_chain_id(block.chain_id);
    cfg.set_max_blobs_per_tx(MAX_BLOBS_PER_BLOCK as u64);
    cfg
}

/// zvm's block environment as revm's.
pub fn revm_block(block: &BlockEnv) -> Result<RevmBlock, PeerError> {
    Ok(RevmBlock {
        number: U256::from(block.number),
        beneficiary: to_revm_address(block.coinbase),
        timestamp: U256::from(block.timestamp),
        gas_limit: block.gas_limit,
        basefee: narrow(block.base_fee, "block.base_fee", 64)?,
        difficulty: U256::ZERO,
        prevrandao: Some(word_to_b256(block.prev_randao)),
        // revm reads only the price; zvm's block keeps the price, not the excess it came from.
        blob_excess_gas_and_price: Some(BlobExcessGasAndPrice {
            excess_blob_gas: 0,
            blob_gasprice: narrow(block.blob_base_fee, "block.blob_base_fee", 128)?,
        }),
        ..RevmBlock::default()
    })
}

/// zvm's transaction as revm's, with the chain id of `block`.
pub fn revm_tx(tx: &Transaction, block: &BlockEnv) -> Result<TxEnv, PeerError> {
    let tx_type = match tx.tx_type {
        TxType::Legacy => 0,
        TxType::AccessList => 1,
        TxType::DynamicFee => 2,
        TxType::Blob => 3,
    };
    let gas_priority_fee = match tx.tx_type {
        TxType::Legacy | TxType::AccessList => None,
        TxType::DynamicFee | TxType::Blob => {
            Some(narrow(tx.max_priority_fee_per_gas, "transaction.max_priority_fee_per_gas", 128)?)
        }
    };
    let access_list = tx
        .access_list
        .iter()
        .map(|item| AccessListItem {
            address: to_revm_address(item.address),
            storage_keys: item.storage_keys.iter().map(|&k| word_to_b256(k)).collect(),
        })
        .collect();
    Ok(TxEnv {
        tx_type,
        caller: to_revm_address(tx.caller),
        gas_limit: tx.gas_limit,
        gas_price: narrow(tx.gas_price, "transaction.gas_price", 128)?,
        kind: match tx.to {
            Some(to) => TxKind::Call(to_revm_address(to)),
            None => TxKind::Create,
        },
        value: tx.value,
        data: Bytes::from(tx.data.clone()),
        nonce: tx.nonce,
        chain_id: Some(block.chain_id),
        access_list: AccessList(access_list),
        gas_priority_fee,
        blob_hashes: tx.blob_hashes.iter().map(|&h| word_to_b256(h)).collect(),
        max_fee_per_blob_gas: narrow(tx.max_fee_per_blob_gas, "transaction.max_fee_per_blob_gas", 128)?,
        authorization_list: Vec::new(),
    })
}

/// zvm's pre-state as a revm database.
pub fn revm_db(pre: &InMemoryHost) -> CacheDB<EmptyDB> {
    let mut db = CacheDB::new(EmptyDB::new());
    for (&address, account) in &pre.accounts {
        let mut info = AccountInfo { balance: account.balance, nonce: account.nonce, ..AccountInfo::default() };
        if !account.code.is_empty() {
            info = info.with_code(Bytecode::new_legacy(Bytes::copy_from_slice(&account.code)));
        }
        let address = to_revm_address(address);
        db.insert_account_info(address, info);
        let slots = account.storage.iter().filter(|(_, v)| !v.is_zero());
        // The database is in memory: inserting cannot fail.
        match slots.into_iter().try_for_each(|(&k, &v)| db.insert_account_storage(address, k, v)) {
            Ok(()) => {}
            Err(never) => match never {},
        }
    }
    db
}

/// The post-state of `pre` as zvm reads it, before anything ran.
fn pre_state(pre: &InMemoryHost) -> PostState {
    crate::summary::post_state_of_host(pre)
}

/// Runs `tx` on revm on the pre-state and block of `pre`, and summarises it.
pub fn run_revm(pre: &InMemoryHost, tx: &Transaction) -> Result<Run, PeerError> {
    let mut state = pre_state(pre);
    if tx.tx_type == TxType::Blob && tx.to.is_none() {
        return Ok(Run::rejected(state, "rejected: a blob transaction cannot create a contract".into()));
    }
    let block = revm_block(&pre.block)?;
    let tx_env = revm_tx(tx, &pre.block)?;
    let mut evm =
        Context::mainnet().with_db(revm_db(pre)).with_block(block).with_cfg(revm_cfg(&pre.block)).build_mainnet();
    let result = match evm.transact(tx_env) {
        Ok(result) => result,
        Err(EVMError::Transaction(invalid)) => return Ok(Run::rejected(state, format!("rejected: {invalid}"))),
        Err(other) => return Err(PeerError::Revm(other.to_string())),
    };
    apply_diff(&mut state, result.state)?;
    let gas_used = result.result.tx_gas_used();
    let (status, output, logs, created, detail) = match result.result {
        ExecutionResult::Success { output: Output::Call(data), logs, .. } => {
            (Status::Success, Hex(data.to_vec()), logs, None, String::new())
        }
        ExecutionResult::Success { output: Output::Create(_, address), logs, .. } => {
            (Status::Success, Hex::default(), logs, address.map(from_revm_address), String::new())
        }
        ExecutionResult::Revert { output, .. } => {
            (Status::Revert, Hex(output.to_vec()), Vec::new(), None, String::new())
        }
        ExecutionResult::Halt { reason, .. } => {
            (Status::Halt, Hex::default(), Vec::new(), None, format!("halt: {reason:?}"))
        }
    };
    let logs = logs
        .into_iter()
        .map(|log| LogEntry {
            address: from_revm_address(log.address),
            topics: log.data.topics().iter().map(|t| U256::from_be_bytes(t.0)).collect(),
            data: Hex(log.data.data.to_vec()),
        })
        .collect();
    Ok(Run { summary: Summary { status, gas_used, output, logs, created, state }, detail })
}

/// Applies revm's state diff to `state` by the end-of-transaction rules of the module documentation.
fn apply_diff(state: &mut PostState, diff: revm::state::EvmState) -> Result<(), PeerError> {
    for (address, account) in diff {
        if !account.is_touched() {
            continue;
        }
        let address = from_revm_address(address);
        if account.is_selfdestructed() {
            state.remove(&address);
            continue;
        }
        let entry = state.entry(address).or_default();
        if account.is_created() {
            entry.storage.clear();
        }
        entry.balance = account.info.balance;
        entry.nonce = account.info.nonce;
        let hash = account.info.code_hash;
        match &account.info.code {
            Some(code) if !code.is_empty() => entry.code = Hex(code.original_bytes().to_vec()),
            _ if hash == KECCAK_EMPTY || hash.is_zero() => entry.code = Hex::default(),
            // Code that was not loaded is the code the account had.
            _ if keccak256(&entry.code.0) == hash => {}
            _ => return Err(PeerError::UnknownCode(hash, address)),
        }
        for (key, slot) in account.storage {
            if slot.present_value.is_zero() {
                entry.storage.remove(&key);
            } else {
                entry.storage.insert(key, slot.present_value);
            }
        }
        if entry.is_empty() {
            state.remove(&address);
        }
    }
    Ok(())
}
