//! The transaction layer: validation, intrinsic gas, fee payment and refunds around one message call or
//! create (legacy, EIP-2930, EIP-1559 and EIP-4844 transactions, Cancun rules).
//!
//! A transaction is validated against the state before anything changes: an invalid transaction is
//! rejected with its reason ([`InvalidTx`]) and leaves the state exactly as it was. A valid one always
//! changes state (nonce, fees), whatever its execution's status.

use crate::frame::MAX_REFUND_QUOTIENT;
use crate::host::{Address, BlockEnv, Host, TxEnv};
use crate::result::{Log, Status};
use crate::vm::{CallInputs, CreateInputs, Vm};
use ruint::aliases::U256;
use thiserror::Error;
use zvm_compiler::frontend::evm;

/// The envelope type of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxType {
    /// Pre-EIP-2718: a gas price.
    Legacy,
    /// EIP-2930: a gas price and an access list.
    AccessList,
    /// EIP-1559: a max fee and a priority fee.
    DynamicFee,
    /// EIP-4844: EIP-1559 fees plus blobs.
    Blob,
}

/// One entry of an access list (EIP-2930): an address and storage keys warmed before execution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessListItem {
    pub address: Address,
    pub storage_keys: Vec<U256>,
}

/// A signed transaction, with its sender already recovered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    pub tx_type: TxType,
    pub caller: Address,
    pub nonce: u64,
    pub gas_limit: u64,
    /// Legacy and EIP-2930: the gas price. EIP-1559 and EIP-4844: the max fee per gas.
    pub gas_price: U256,
    /// EIP-1559 and EIP-4844: the max priority fee per gas.
    pub max_priority_fee_per_gas: U256,
    /// `None` creates a contract.
    pub to: Option<Address>,
    pub value: U256,
    pub data: Vec<u8>,
    pub access_list: Vec<AccessListItem>,
    /// EIP-4844: versioned hashes of the blobs.
    pub blob_hashes: Vec<U256>,
    /// EIP-4844: the max fee per blob gas.
    pub max_fee_per_blob_gas: U256,
}

/// What a valid transaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOutcome {
    /// How the top-level call or create ended.
    pub status: Status,
    /// Gas used by the transaction after the refund (what the receipt shows).
    pub gas_used: u64,
    /// Gas refunded (already subtracted from `gas_used`).
    pub gas_refunded: u64,
    /// Return or revert data of the top-level frame (empty for a successful create).
    pub output: Vec<u8>,
    /// Logs, in order (empty unless the transaction succeeded).
    pub logs: Vec<Log>,
    /// The address of the contract a successful create made.
    pub created: Option<Address>,
}

/// Why a transaction was rejected. A rejected transaction changes nothing.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum InvalidTx {
    #[error("nonce {tx} does not match the sender's nonce {state}")]
    NonceMismatch { tx: u64, state: u64 },
    #[error("the sender's nonce is at its maximum (EIP-2681)")]
    NonceOverflow,
    #[error("the sender has code (EIP-3607)")]
    SenderHasCode,
    #[error("gas limit {limit} is below the intrinsic gas {intrinsic}")]
    IntrinsicGasTooLow { limit: u64, intrinsic: u64 },
    #[error("gas limit {limit} exceeds the block gas limit {block}")]
    GasLimitAboveBlock { limit: u64, block: u64 },
    #[error("max fee per gas {max_fee} is below the base fee {base_fee}")]
    FeeBelowBaseFee { max_fee: U256, base_fee: U256 },
    #[error("max priority fee {priority} exceeds the max fee {max_fee}")]
    PriorityAboveMaxFee { priority: U256, max_fee: U256 },
    #[error("the sender's balance {balance} cannot cover {needed}")]
    InsufficientFunds { balance: U256, needed: U256 },
    #[error("init code is {size} bytes, more than {max} (EIP-3860)")]
    InitCodeTooLarge { size: usize, max: usize },
    #[error("a blob transaction cannot create a contract")]
    BlobCreate,
    #[error("a blob transaction needs at least one blob")]
    NoBlobs,
    #[error("{count} blobs exceed the per-block maximum of {max}")]
    TooManyBlobs { count: usize, max: usize },
    #[error("blob hash {index} does not have version 0x01")]
    BadBlobVersion { index: usize },
    #[error("max fee per blob gas {max_fee} is below the blob base fee {blob_base_fee}")]
    BlobFeeTooLow { max_fee: U256, blob_base_fee: U256 },
    #[error("the transaction type is not supported by this fork")]
    TypeNotSupported,
}

/// Blob gas per blob (EIP-4844).
pub const GAS_PER_BLOB: u64 = 1 << 17;
/// Minimum blob base fee (EIP-4844).
pub const MIN_BLOB_BASE_FEE: u64 = 1;
/// Update fraction of the blob base fee (EIP-4844, Cancun).
pub const BLOB_BASE_FEE_UPDATE_FRACTION: u64 = 3_338_477;

/// The blob base fee for a block's excess blob gas: `fake_exponential(1, excess, 3338477)` (EIP-4844).
pub fn blob_base_fee(excess_blob_gas: u64) -> U256 {
    let (factor, numerator, denominator) =
        (U256::from(MIN_BLOB_BASE_FEE), U256::from(excess_blob_gas), U256::from(BLOB_BASE_FEE_UPDATE_FRACTION));
    let mut output = U256::ZERO;
    let mut accum = factor * denominator;
    let mut i = U256::from(1u64);
    while !accum.is_zero() {
        output += accum;
        accum = accum * numerator / (denominator * i);
        i += U256::from(1u64);
    }
    output / denominator
}

/// Most blobs a block (and so a transaction) can carry (Cancun: 786432 / 131072).
pub const MAX_BLOBS_PER_BLOCK: usize = 6;
/// The version byte of a KZG versioned hash.
pub const VERSIONED_HASH_VERSION_KZG: u8 = 0x01;

/// Intrinsic gas (Cancun): 21000 (53000 for a create), 4 per zero and 16 per non-zero data byte, 2400 per
/// access-list address and 1900 per storage key, and for a create 2 per word of init code (EIP-3860).
pub fn intrinsic_gas(tx: &Transaction) -> u64 {
    let zeros = tx.data.iter().filter(|&&b| b == 0).count() as u64;
    let non_zeros = tx.data.len() as u64 - zeros;
    let mut gas = 21000 + 4 * zeros + 16 * non_zeros;
    for item in &tx.access_list {
        gas += 2400 + 1900 * item.storage_keys.len() as u64;
    }
    if tx.to.is_none() {
        gas += 32000 + crate::schedule::calls::INITCODE_WORD * (tx.data.len() as u64).div_ceil(32);
    }
    gas
}

/// Checks `tx` against the block and the sender's account; returns the effective gas price.
fn validate(host: &mut dyn Host, tx: &Transaction) -> Result<U256, InvalidTx> {
    let block = host.block().clone();
    if tx.to.is_none() {
        if tx.tx_type == TxType::Blob {
            return Err(InvalidTx::BlobCreate);
        }
        if tx.data.len() > evm::MAX_INITCODE_SIZE {
            return Err(InvalidTx::InitCodeTooLarge { size: tx.data.len(), max: evm::MAX_INITCODE_SIZE });
        }
    }
    let intrinsic = intrinsic_gas(tx);
    if tx.gas_limit < intrinsic {
        return Err(InvalidTx::IntrinsicGasTooLow { limit: tx.gas_limit, intrinsic });
    }
    if tx.gas_limit > block.gas_limit {
        return Err(InvalidTx::GasLimitAboveBlock { limit: tx.gas_limit, block: block.gas_limit });
    }
    let max_fee = tx.gas_price;
    let effective = match tx.tx_type {
        TxType::Legacy | TxType::AccessList => max_fee,
        TxType::DynamicFee | TxType::Blob => {
            let priority = tx.max_priority_fee_per_gas;
            if priority > max_fee {
                return Err(InvalidTx::PriorityAboveMaxFee { priority, max_fee });
            }
            max_fee.min(block.base_fee.saturating_add(priority))
        }
    };
    if max_fee < block.base_fee {
        return Err(InvalidTx::FeeBelowBaseFee { max_fee, base_fee: block.base_fee });
    }
    let mut max_blob_fee = U256::ZERO;
    if tx.tx_type == TxType::Blob {
        if tx.blob_hashes.is_empty() {
            return Err(InvalidTx::NoBlobs);
        }
        if tx.blob_hashes.len() > MAX_BLOBS_PER_BLOCK {
            return Err(InvalidTx::TooManyBlobs { count: tx.blob_hashes.len(), max: MAX_BLOBS_PER_BLOCK });
        }
        if let Some(index) = tx.blob_hashes.iter().position(|h| h.to_be_bytes::<32>()[0] != VERSIONED_HASH_VERSION_KZG)
        {
            return Err(InvalidTx::BadBlobVersion { index });
        }
        if tx.max_fee_per_blob_gas < block.blob_base_fee {
            return Err(InvalidTx::BlobFeeTooLow {
                max_fee: tx.max_fee_per_blob_gas,
                blob_base_fee: block.blob_base_fee,
            });
        }
        max_blob_fee = U256::from(blob_gas(tx)).saturating_mul(tx.max_fee_per_blob_gas);
    }
    let state_nonce = host.nonce(tx.caller);
    if state_nonce == u64::MAX {
        return Err(InvalidTx::NonceOverflow);
    }
    if tx.nonce != state_nonce {
        return Err(InvalidTx::NonceMismatch { tx: tx.nonce, state: state_nonce });
    }
    if !host.code(tx.caller).value.is_empty() {
        return Err(InvalidTx::SenderHasCode);
    }
    let balance = host.balance(tx.caller).value;
    let needed = U256::from(tx.gas_limit)
        .checked_mul(max_fee)
        .and_then(|g| g.checked_add(tx.value))
        .and_then(|g| g.checked_add(max_blob_fee));
    match needed {
        Some(needed) if needed <= balance => Ok(effective),
        Some(needed) => Err(InvalidTx::InsufficientFunds { balance, needed }),
        None => Err(InvalidTx::InsufficientFunds { balance, needed: U256::MAX }),
    }
}

/// Blob gas a transaction uses.
fn blob_gas(tx: &Transaction) -> u64 {
    GAS_PER_BLOB * tx.blob_hashes.len() as u64
}

/// Validates and executes `tx` against `host` on `vm`, then ends the transaction
/// ([`Host::finish_transaction`]). On `Err` the state is unchanged.
pub fn transact(vm: &Vm, host: &mut dyn Host, tx: &Transaction) -> Result<TxOutcome, InvalidTx> {
    let effective = match validate(host, tx) {
        Ok(price) => price,
        Err(e) => {
            // Validation only warmed accounts; dropping the transaction's scratch state undoes that.
            host.finish_transaction();
            return Err(e);
        }
    };
    let block = host.block().clone();
    host.set_tx(TxEnv { origin: tx.caller, gas_price: effective, blob_hashes: tx.blob_hashes.clone() });

    // Buy the gas (and the blob gas, which is not refunded).
    let upfront = U256::from(tx.gas_limit) * effective + U256::from(blob_gas(tx)) * block.blob_base_fee;
    let balance = host.balance(tx.caller).value;
    host.set_balance(tx.caller, balance - upfront);

    // EIP-2929 / EIP-2930 / EIP-3651: what is warm before execution starts (the precompiles always are:
    // see `Host::warm_account`).
    host.warm_account(tx.caller);
    host.warm_account(block.coinbase);
    for item in &tx.access_list {
        host.warm_account(item.address);
        for &key in &item.storage_keys {
            host.warm_slot(item.address, key);
        }
    }

    let gas = tx.gas_limit - intrinsic_gas(tx);
    let (outcome, created) = match tx.to {
        Some(to) => {
            host.warm_account(to);
            host.set_nonce(tx.caller, tx.nonce + 1);
            let inputs = CallInputs {
                caller: tx.caller,
                address: to,
                code_address: to,
                value: tx.value,
                transfer: Some(tx.value),
                input: tx.data.clone(),
                gas_limit: gas,
                is_static: false,
            };
            (vm.call(host, inputs, 0), None)
        }
        None => {
            let inputs = CreateInputs {
                caller: tx.caller,
                value: tx.value,
                init_code: tx.data.clone(),
                gas_limit: gas,
                salt: None,
            };
            vm.create(host, inputs, 0)
        }
    };

    // Gas spent includes the intrinsic gas; the refund is capped at a fifth of it (EIP-3529).
    let spent = tx.gas_limit - outcome.gas_left;
    let refund = if outcome.status.is_success() {
        u64::try_from(outcome.refund).unwrap_or(0).min(spent / MAX_REFUND_QUOTIENT)
    } else {
        0
    };
    let gas_used = spent - refund;
    finish(host, tx, effective, &block, gas_used);
    Ok(TxOutcome {
        status: outcome.status,
        gas_used,
        gas_refunded: refund,
        output: outcome.output,
        logs: outcome.logs,
        created,
    })
}

/// Returns unused gas to the sender, pays the coinbase its priority fee, and ends the transaction.
fn finish(host: &mut dyn Host, tx: &Transaction, effective: U256, block: &BlockEnv, gas_used: u64) {
    let returned = U256::from(tx.gas_limit - gas_used) * effective;
    let balance = host.balance(tx.caller).value;
    host.set_balance(tx.caller, balance + returned);
    let tip = effective.saturating_sub(block.base_fee) * U256::from(gas_used);
    let coinbase_balance = host.balance(block.coinbase).value;
    host.set_balance(block.coinbase, coinbase_balance.saturating_add(tip));
    host.finish_transaction();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_base_fee_matches_the_eip_examples() {
        assert_eq!(blob_base_fee(0), U256::from(1));
        // At one update fraction of excess, the fee is e^1 ~ 2.718 -> 2 after the integer approximation.
        assert_eq!(blob_base_fee(BLOB_BASE_FEE_UPDATE_FRACTION), U256::from(2));
        assert_eq!(blob_base_fee(10 * BLOB_BASE_FEE_UPDATE_FRACTION), U256::from(22026));
    }
}
