//! From a parsed test to what zvm runs: the pre-state in an [`InMemoryHost`] with the test's block, and the
//! [`Transaction`] of one case (one choice of data, gas limit and value).
//!
//! Quantities are narrowed to the runtime's 64-bit fields here, each with the field's name in the error, so a
//! malformed test is reported as such instead of running with a truncated value.

use crate::model::{Env, Indexes, StateTest, TxTemplate, TxValue};
use ruint::aliases::U256;
use thiserror::Error;
use zvm_runtime::crypto::keccak256;
use zvm_runtime::tx::{blob_base_fee, AccessListItem, Transaction, TxType};
use zvm_runtime::{Address, BlockEnv, InMemoryHost};

/// State tests run on mainnet's chain id.
pub const CHAIN_ID: u64 = 1;

/// Why a test's case cannot be set up.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SetupError {
    #[error("{field} = {value:#x} does not fit in 64 bits")]
    TooLarge { field: String, value: U256 },
    #[error("transaction.{field}[{index}] does not exist ({len} entries)")]
    IndexOutOfRange { field: &'static str, index: usize, len: usize },
    /// The one setup error that is a property of the transaction rather than of the file: such a transaction
    /// cannot be encoded, so it is invalid.
    #[error("transaction value {0} has more than 256 bits: no transaction can encode it")]
    ValueTooLarge(String),
    #[error("transaction.secretKey is not a valid secp256k1 private key")]
    BadSecretKey,
    #[error("the transaction has neither `sender` nor `secretKey`")]
    NoSender,
    #[error("the transaction has neither `gasPrice` nor `maxFeePerGas`")]
    NoFee,
}

fn to_u64(value: U256, field: impl Into<String>) -> Result<u64, SetupError> {
    u64::try_from(value).map_err(|_| SetupError::TooLarge { field: field.into(), value })
}

fn pick<'a, T>(items: &'a [T], field: &'static str, index: usize) -> Result<&'a T, SetupError> {
    items.get(index).ok_or(SetupError::IndexOutOfRange { field, index, len: items.len() })
}

/// The block environment of `env`.
pub fn block_env(env: &Env) -> Result<BlockEnv, SetupError> {
    let excess_blob_gas = env.current_excess_blob_gas.map(|q| q.0).unwrap_or_default();
    // BlockEnv gains fields with new forks; the ones state tests do not set keep their defaults.
    #[allow(clippy::needless_update)]
    Ok(BlockEnv {
        number: to_u64(env.current_number.0, "env.currentNumber")?,
        timestamp: to_u64(env.current_timestamp.0, "env.currentTimestamp")?,
        coinbase: env.current_coinbase.0,
        gas_limit: to_u64(env.current_gas_limit.0, "env.currentGasLimit")?,
        base_fee: env.current_base_fee.map(|q| q.0).unwrap_or_default(),
        prev_randao: env.current_random.or(env.current_difficulty).map(|q| q.0).unwrap_or_default(),
        chain_id: CHAIN_ID,
        blob_base_fee: blob_base_fee(to_u64(excess_blob_gas, "env.currentExcessBlobGas")?),
        ..Default::default()
    })
}

/// A host holding the test's pre-state and block. Zero storage values are left out: the host treats a
/// missing slot as zero, and keeps no zero entries itself.
pub fn pre_state(test: &StateTest) -> Result<InMemoryHost, SetupError> {
    let mut host = InMemoryHost::new();
    host.block = block_env(&test.env)?;
    for (address, pre) in &test.pre {
        let nonce = to_u64(pre.nonce.0, format!("pre[{}].nonce", address.0))?;
        let account = host.account_mut(address.0);
        account.balance = pre.balance.0;
        account.nonce = nonce;
        account.code = pre.code.0.as_slice().into();
        account.storage =
            pre.storage.iter().filter(|(_, value)| !value.0.is_zero()).map(|(slot, value)| (slot.0, value.0)).collect();
    }
    Ok(host)
}

/// The address of the secp256k1 private key `secret`: the low 20 bytes of keccak256 of the uncompressed
/// public key without its 0x04 tag.
pub fn address_of_key(secret: &[u8; 32]) -> Result<Address, SetupError> {
    let key = k256::ecdsa::SigningKey::from_slice(secret).map_err(|_| SetupError::BadSecretKey)?;
    let point = key.verifying_key().to_encoded_point(false);
    let hash = keccak256(&point.as_bytes()[1..]);
    let mut address = [0u8; 20];
    address.copy_from_slice(&hash[12..]);
    Ok(Address(address))
}

/// The transaction's sender: `sender` if the test gives it, else derived from `secretKey`.
pub fn sender(tx: &TxTemplate) -> Result<Address, SetupError> {
    match (tx.sender, tx.secret_key) {
        (Some(sender), _) => Ok(sender.0),
        (None, Some(key)) => address_of_key(&key.0),
        (None, None) => Err(SetupError::NoSender),
    }
}

/// The transaction of the case `indexes`.
///
/// The type follows the fields present: blob if `blobVersionedHashes` is there (even empty), else EIP-1559
/// if `maxFeePerGas` is, else EIP-2930 if this data index has an access list (a `null` entry is sent as a
/// legacy transaction, as the filled `txbytes` show), else legacy.
pub fn transaction(test: &StateTest, indexes: Indexes) -> Result<Transaction, SetupError> {
    let tx = &test.transaction;
    let data = pick(&tx.data, "data", indexes.data)?.0.clone();
    let gas_limit = pick(&tx.gas_limit, "gasLimit", indexes.gas)?.0;
    let value = match pick(&tx.value, "value", indexes.value)? {
        TxValue::Word(v) => *v,
        TxValue::TooLarge(v) => return Err(SetupError::ValueTooLarge(v.clone())),
    };
    let access_list = match &tx.access_lists {
        Some(lists) => pick(lists, "accessLists", indexes.data)?.as_ref(),
        None => None,
    };
    let tx_type = if tx.blob_versioned_hashes.is_some() {
        TxType::Blob
    } else if tx.max_fee_per_gas.is_some() {
        TxType::DynamicFee
    } else if access_list.is_some() {
        TxType::AccessList
    } else {
        TxType::Legacy
    };
    let (gas_price, max_priority_fee_per_gas) = match tx_type {
        // A legacy gas price is both the fee cap and the tip cap: whatever the runtime takes the tip from,
        // it gets the gas price minus the base fee.
        TxType::Legacy | TxType::AccessList => {
            let price = tx.gas_price.ok_or(SetupError::NoFee)?.0;
            (price, price)
        }
        TxType::DynamicFee | TxType::Blob => (
            tx.max_fee_per_gas.ok_or(SetupError::NoFee)?.0,
            tx.max_priority_fee_per_gas.map(|q| q.0).unwrap_or_default(),
        ),
    };
    Ok(Transaction {
        tx_type,
        caller: sender(tx)?,
        nonce: to_u64(tx.nonce.0, "transaction.nonce")?,
        gas_limit: to_u64(gas_limit, format!("transaction.gasLimit[{}]", indexes.gas))?,
        gas_price,
        max_priority_fee_per_gas,
        to: tx.to.0,
        value,
        data,
        access_list: access_list
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| AccessListItem {
                        address: e.address.0,
                        storage_keys: e.storage_keys.iter().map(|k| k.0).collect(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        blob_hashes: tx.blob_versioned_hashes.iter().flatten().map(|h| h.0).collect(),
        max_fee_per_blob_gas: tx.max_fee_per_blob_gas.map(|q| q.0).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::INVALID_TR;
    use crate::model::{Quantity, TestFile};

    fn invalid_tr() -> StateTest {
        let mut file: TestFile = serde_json::from_str(INVALID_TR).unwrap();
        file.remove("invalidTr").unwrap()
    }

    const SENDER: &str = "a94f5374fce5edbc8e2a8697c15331677e6ebf0b";

    #[test]
    fn sender_is_derived_from_the_secret_key() {
        let mut test = invalid_tr();
        test.transaction.sender = None;
        assert_eq!(hex::encode(sender(&test.transaction).unwrap().0), SENDER);
        test.transaction.secret_key = None;
        assert_eq!(sender(&test.transaction), Err(SetupError::NoSender));
        assert_eq!(address_of_key(&[0; 32]), Err(SetupError::BadSecretKey));
    }

    #[test]
    fn block_and_pre_state() {
        let test = invalid_tr();
        let host = pre_state(&test).unwrap();
        assert_eq!(host.block.gas_limit, 0xff112233445566);
        assert_eq!(host.block.prev_randao, U256::from(0x20000));
        assert_eq!(host.block.blob_base_fee, U256::from(1));
        assert_eq!(host.block.chain_id, CHAIN_ID);
        assert_eq!(host.accounts.len(), 3);
        assert_eq!(host.accounts[&test.env.current_coinbase.0].storage.get(&U256::from(1)), Some(&U256::from(0xff)));
    }

    #[test]
    fn transaction_types_follow_the_fields() {
        let mut test = invalid_tr();
        let d0 = Indexes::default();
        let d1 = Indexes { data: 1, ..d0 };
        let legacy = transaction(&test, d0).unwrap();
        assert_eq!(
            (legacy.tx_type, legacy.gas_price, legacy.max_priority_fee_per_gas),
            (TxType::Legacy, U256::from(10), U256::from(10))
        );
        assert_eq!(legacy.gas_limit, 1000);
        assert_eq!(hex::encode(legacy.caller.0), SENDER);
        let with_list = transaction(&test, d1).unwrap();
        assert_eq!(with_list.tx_type, TxType::AccessList);
        assert_eq!(with_list.access_list[0].storage_keys, vec![U256::ZERO]);
        assert_eq!(with_list.data, vec![0xc0, 0xff, 0xee]);

        test.transaction.max_fee_per_gas = Some(Quantity(U256::from(20)));
        test.transaction.max_priority_fee_per_gas = Some(Quantity(U256::from(2)));
        let dynamic = transaction(&test, d1).unwrap();
        assert_eq!(
            (dynamic.tx_type, dynamic.gas_price, dynamic.max_priority_fee_per_gas),
            (TxType::DynamicFee, U256::from(20), U256::from(2))
        );
        assert_eq!(dynamic.access_list.len(), 1);

        test.transaction.blob_versioned_hashes = Some(vec![]);
        assert_eq!(transaction(&test, d0).unwrap().tx_type, TxType::Blob);
    }

    #[test]
    fn bad_indexes_and_oversized_values_are_errors() {
        let mut test = invalid_tr();
        assert!(matches!(
            transaction(&test, Indexes { value: 1, ..Indexes::default() }),
            Err(SetupError::ValueTooLarge(_))
        ));
        assert_eq!(
            transaction(&test, Indexes { gas: 3, ..Indexes::default() }),
            Err(SetupError::IndexOutOfRange { field: "gasLimit", index: 3, len: 1 })
        );
        test.transaction.gas_limit[0] = Quantity(U256::from(1) << 64);
        let err = transaction(&test, Indexes::default()).unwrap_err();
        assert_eq!(err.to_string(), "transaction.gasLimit[0] = 0x10000000000000000 does not fit in 64 bits");
    }
}
