//! The state-test file format as serde types: `{name: {env, pre, transaction, post}}`.
//!
//! The types follow the filled files of ethereum/tests as they are, not an idealised schema: quantities are
//! hex with any number of leading zeros (`0x00`, `0x0a`, `0x` alone is zero) and may carry retesteth's
//! `0x:bigint ` prefix; byte strings may lack `0x`; `to` is empty for a create; `accessLists` has one entry
//! per data index and an entry may be `null` (that index is then sent as a legacy transaction). Unknown
//! fields (`_info`, `txbytes`, ...) are ignored.
//!
//! Every quantity is read as a [`U256`]; fields that the transaction or block keep in 64 bits are narrowed
//! where a case is set up ([`crate::setup`]), so an oversized value is reported with the field's name
//! instead of failing the whole file. Transaction values are the one place the files go past 256 bits on
//! purpose (a transaction that cannot be encoded, which must be rejected): [`TxValue`] keeps that apart.

use ruint::aliases::U256;
use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use zvm_runtime::Address;

/// The prefix retesteth puts before quantities written in full (for example values past 256 bits).
const BIGINT_PREFIX: &str = "0x:bigint ";

/// Hex digits of a 256-bit word.
const WORD_HEX_DIGITS: usize = 64;

/// A parsed test file: test name -> test. Ordered, so that cases run and report in a stable order.
pub type TestFile = BTreeMap<String, StateTest>;

/// One state test: a block environment, the state before, a transaction template and the expected results.
#[derive(Clone, Debug, Deserialize)]
pub struct StateTest {
    pub env: Env,
    pub pre: BTreeMap<Addr, PreAccount>,
    pub transaction: TxTemplate,
    /// Fork name -> expected results, one per combination of indexes.
    pub post: BTreeMap<String, Vec<PostEntry>>,
}

/// The block the transaction runs in.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Env {
    pub current_coinbase: Addr,
    pub current_gas_limit: Quantity,
    pub current_number: Quantity,
    pub current_timestamp: Quantity,
    /// Absent before London.
    pub current_base_fee: Option<Quantity>,
    /// PREVRANDAO (after the merge).
    pub current_random: Option<Quantity>,
    /// Before the merge, the difficulty stands where PREVRANDAO is now.
    pub current_difficulty: Option<Quantity>,
    /// Absent before Cancun.
    pub current_excess_blob_gas: Option<Quantity>,
}

/// An account of the state before the transaction.
#[derive(Clone, Debug, Deserialize)]
pub struct PreAccount {
    pub balance: Quantity,
    pub nonce: Quantity,
    pub code: Bytes,
    #[serde(default)]
    pub storage: BTreeMap<Quantity, Quantity>,
}

/// The transaction, with arrays of alternatives for data, gas limit and value that the post entries'
/// indexes pick from.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TxTemplate {
    pub data: Vec<Bytes>,
    pub gas_limit: Vec<Quantity>,
    pub value: Vec<TxValue>,
    pub nonce: Quantity,
    /// Legacy and EIP-2930 transactions.
    pub gas_price: Option<Quantity>,
    /// EIP-1559 and EIP-4844 transactions.
    pub max_fee_per_gas: Option<Quantity>,
    pub max_priority_fee_per_gas: Option<Quantity>,
    /// One access list per data index; `null` where that index has none.
    pub access_lists: Option<Vec<Option<Vec<AccessListEntry>>>>,
    /// Present (possibly empty) exactly for blob transactions.
    pub blob_versioned_hashes: Option<Vec<Quantity>>,
    pub max_fee_per_blob_gas: Option<Quantity>,
    /// The sender's private key; the sender is derived from it when `sender` is absent.
    pub secret_key: Option<H256>,
    pub sender: Option<Addr>,
    pub to: To,
}

/// One entry of an access list.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessListEntry {
    pub address: Addr,
    pub storage_keys: Vec<Quantity>,
}

/// The expected result of one combination of indexes.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostEntry {
    pub indexes: Indexes,
    /// The state root after the transaction.
    pub hash: H256,
    /// keccak256 of the RLP of the transaction's logs.
    pub logs: H256,
    /// Set when the transaction must be rejected (the names of the reasons, `|`-separated).
    pub expect_exception: Option<String>,
}

/// Which data, gas limit and value of the template a case uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub struct Indexes {
    pub data: usize,
    pub gas: usize,
    pub value: usize,
}

impl fmt::Display for Indexes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "d={} g={} v={}", self.data, self.gas, self.value)
    }
}

/// A hex quantity of at most 256 bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(pub U256);

/// A transaction value: a 256-bit word, or a number no transaction can encode (kept, not an error, because
/// the test expects exactly that transaction to be rejected).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxValue {
    Word(U256),
    TooLarge(String),
}

/// A byte string in hex.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

/// A 20-byte address in hex.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Addr(pub Address);

/// A 32-byte hash (state root, logs hash, secret key), printed as `0x` and 64 hex digits.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct H256(pub [u8; 32]);

/// A transaction's recipient: empty for a contract creation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct To(pub Option<Address>);

impl fmt::Display for H256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for H256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The hex digits of a quantity, without prefix and leading zeros (empty for zero).
fn quantity_digits(s: &str) -> Result<&str, String> {
    let t = s.strip_prefix(BIGINT_PREFIX).unwrap_or(s);
    let digits = t.strip_prefix("0x").ok_or_else(|| format!("quantity `{s}` does not start with 0x"))?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("quantity `{s}` is not hex"));
    }
    Ok(digits.trim_start_matches('0'))
}

fn parse_word(digits: &str) -> U256 {
    if digits.is_empty() {
        return U256::ZERO;
    }
    // `digits` is at most 64 checked hex digits here, which always fit.
    U256::from_str_radix(digits, 16).unwrap_or_default()
}

/// Parses a quantity of at most 256 bits.
pub fn parse_quantity(s: &str) -> Result<U256, String> {
    let digits = quantity_digits(s)?;
    if digits.len() > WORD_HEX_DIGITS {
        return Err(format!("quantity `{s}` has more than 256 bits"));
    }
    Ok(parse_word(digits))
}

/// Parses a byte string: hex with or without `0x`.
pub fn parse_bytes(s: &str) -> Result<Vec<u8>, String> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(digits).map_err(|e| format!("byte string `{}`: {e}", abbreviate(s)))
}

fn parse_fixed<const N: usize>(s: &str) -> Result<[u8; N], String> {
    let bytes = parse_bytes(s)?;
    bytes.try_into().map_err(|b: Vec<u8>| format!("`{s}` has {} bytes, expected {N}", b.len()))
}

/// At most the first 40 characters of `s`, so that an error about a long code string stays one line.
fn abbreviate(s: &str) -> String {
    const SHOWN: usize = 40;
    match s.char_indices().nth(SHOWN) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// Deserializes a string with `parse`: the one path for every hex type here, so that JSON map keys
/// (addresses, storage slots) and values are read alike.
fn from_str_with<'de, D, T>(d: D, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    parse(&s).map_err(de::Error::custom)
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_with(d, |s| parse_quantity(s).map(Quantity))
    }
}

impl<'de> Deserialize<'de> for TxValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_with(d, |s| {
            let digits = quantity_digits(s)?;
            Ok(if digits.len() > WORD_HEX_DIGITS {
                TxValue::TooLarge(s.to_string())
            } else {
                TxValue::Word(parse_word(digits))
            })
        })
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_with(d, |s| parse_bytes(s).map(Bytes))
    }
}

impl<'de> Deserialize<'de> for Addr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_with(d, |s| parse_fixed::<20>(s).map(|a| Addr(Address(a))))
    }
}

impl<'de> Deserialize<'de> for H256 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_with(d, |s| parse_fixed::<32>(s).map(H256))
    }
}

impl<'de> Deserialize<'de> for To {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_with(d, |s| match s.trim() {
            "" | "0x" => Ok(To(None)),
            addr => parse_fixed::<20>(addr).map(|a| To(Some(Address(a)))),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// stExample/invalidTr.json from ethereum/tests, trimmed to one test, with an extra data entry in raw hex
    /// and an access list with a `null` entry.
    pub(crate) const INVALID_TR: &str = r#"{
      "invalidTr": {
        "_info": { "comment": "ignored" },
        "env": {
          "currentBaseFee": "0x0a",
          "currentCoinbase": "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba",
          "currentDifficulty": "0x020000",
          "currentExcessBlobGas": "0x00",
          "currentGasLimit": "0xff112233445566",
          "currentNumber": "0x01",
          "currentRandom": "0x0000000000000000000000000000000000000000000000000000000000020000",
          "currentTimestamp": "0x03e8"
        },
        "post": {
          "Cancun": [{
            "expectException": "TransactionException.INTRINSIC_GAS_TOO_LOW",
            "hash": "0x4c9c6cf002e6a88a5444662ca9ceb6a116b7b69ced38c470bf6e4a12a6313967",
            "indexes": { "data": 0, "gas": 0, "value": 0 },
            "logs": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347",
            "txbytes": "0xf862800a8203e8"
          }]
        },
        "pre": {
          "0x095e7baea6a6c7c4c2dfeb977efac326af552d87": {
            "balance": "0x0de0b6b3a7640000", "code": "0x600160010160005500", "nonce": "0x00", "storage": {}
          },
          "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba": {
            "balance": "0x00", "code": "0x", "nonce": "0x01", "storage": { "0x01": "0x0000ff" }
          },
          "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b": {
            "balance": "0x0de0b6b3a7640000", "code": "0x", "nonce": "0x00", "storage": {}
          }
        },
        "transaction": {
          "data": ["0x", "c0ffee"],
          "gasLimit": ["0x03e8"],
          "gasPrice": "0x0a",
          "nonce": "0x00",
          "accessLists": [null, [{ "address": "0x095e7baea6a6c7c4c2dfeb977efac326af552d87", "storageKeys": ["0x00"] }]],
          "secretKey": "0x45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8",
          "sender": "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b",
          "to": "0x095e7baea6a6c7c4c2dfeb977efac326af552d87",
          "value": ["0x0186a0", "0x:bigint 0x10000000000000000000000000000000000000000000000000000000000000001"]
        }
      }
    }"#;

    #[test]
    fn parses_a_filled_test() {
        let file: TestFile = serde_json::from_str(INVALID_TR).unwrap();
        let t = &file["invalidTr"];
        assert_eq!(t.env.current_gas_limit.0, U256::from(0xff112233445566u64));
        assert_eq!(t.env.current_random.unwrap().0, U256::from(0x20000));
        assert_eq!(t.pre.len(), 3);
        let coinbase = &t.pre[&t.env.current_coinbase];
        assert_eq!(coinbase.nonce.0, U256::from(1));
        assert_eq!(coinbase.storage[&Quantity(U256::from(1))].0, U256::from(0xff));
        let tx = &t.transaction;
        assert_eq!(tx.data[1].0, vec![0xc0, 0xff, 0xee]);
        assert_eq!(tx.value[0], TxValue::Word(U256::from(100_000)));
        assert!(matches!(tx.value[1], TxValue::TooLarge(_)));
        let lists = tx.access_lists.as_ref().unwrap();
        assert!(lists[0].is_none());
        assert_eq!(lists[1].as_ref().unwrap()[0].storage_keys, vec![Quantity(U256::ZERO)]);
        assert_eq!(tx.to.0.map(|a| hex::encode(a.0)).as_deref(), Some("095e7baea6a6c7c4c2dfeb977efac326af552d87"));
        let post = &t.post["Cancun"][0];
        assert_eq!(post.indexes, Indexes { data: 0, gas: 0, value: 0 });
        assert_eq!(post.hash.to_string(), "0x4c9c6cf002e6a88a5444662ca9ceb6a116b7b69ced38c470bf6e4a12a6313967");
        assert_eq!(post.expect_exception.as_deref(), Some("TransactionException.INTRINSIC_GAS_TOO_LOW"));
    }

    #[test]
    fn quantities_tolerate_leading_zeros_and_reject_more_than_256_bits() {
        assert_eq!(parse_quantity("0x"), Ok(U256::ZERO));
        assert_eq!(parse_quantity("0x0000000a"), Ok(U256::from(10)));
        assert_eq!(parse_quantity(&format!("0x{}", "0".repeat(100) + "ff")), Ok(U256::from(255)));
        assert_eq!(parse_quantity(&format!("0x{}", "f".repeat(64))), Ok(U256::MAX));
        assert!(parse_quantity(&format!("0x1{}", "0".repeat(64))).unwrap_err().contains("more than 256 bits"));
        assert!(parse_quantity("12").is_err());
        assert!(parse_quantity("0xzz").is_err());
    }

    #[test]
    fn an_empty_to_is_a_create() {
        let to: To = serde_json::from_str(r#""""#).unwrap();
        assert_eq!(to, To(None));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [r#"{"t": {}}"#, r#"{"t": 5}"#, "[1,2]", "{", r#"{"t": {"env": {"currentCoinbase": "0x12"}}}"#] {
            assert!(serde_json::from_str::<TestFile>(bad).is_err(), "{bad}");
        }
    }
}
