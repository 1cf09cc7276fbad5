//! The two hashes a state test checks: the Merkle-Patricia root of the state and the hash of the logs.
//!
//! The state trie is Ethereum's "secure" trie: an account's key is keccak256 of its address and its value is
//! rlp([nonce, balance, storage_root, code_hash]); an account's storage trie keys keccak256 of the 32-byte slot
//! to rlp(value), for non-zero values only. The tries themselves are built by `alloy-trie`'s `HashBuilder`
//! (leaves in key order) and encoded with `alloy-rlp`, so only the mapping from zvm's state is ours.
//!
//! Every account in the state is in the trie, empty or not: removing empty accounts (EIP-161) is the
//! transaction's job, and a test's pre-state may hold empty accounts that are part of its root.

use crate::model::H256;
use alloy_rlp::RlpEncodable;
use alloy_trie::{HashBuilder, Nibbles, TrieAccount};
use ruint::aliases::U256;
use zvm_runtime::crypto::keccak256;
use zvm_runtime::{Account, Address, FastMap, Log};

/// The root of a trie with these (already hashed) keys and encoded values.
fn trie_root(mut leaves: Vec<([u8; 32], Vec<u8>)>) -> [u8; 32] {
    // HashBuilder needs its leaves in key order.
    leaves.sort_unstable_by_key(|(key, _)| *key);
    let mut builder = HashBuilder::default();
    for (key, value) in &leaves {
        builder.add_leaf(Nibbles::unpack(key), value);
    }
    builder.root().0
}

/// The root of an account's storage trie (zero-valued slots are absent from the trie).
pub fn storage_root(storage: &FastMap<U256, U256>) -> [u8; 32] {
    let leaves = storage
        .iter()
        .filter(|(_, value)| !value.is_zero())
        .map(|(slot, value)| (keccak256(&slot.to_be_bytes::<32>()), alloy_rlp::encode(value)))
        .collect();
    trie_root(leaves)
}

/// The state root of `accounts`.
pub fn state_root(accounts: &FastMap<Address, Account>) -> H256 {
    let leaves = accounts
        .iter()
        .map(|(address, account)| {
            let trie_account = TrieAccount {
                nonce: account.nonce,
                balance: account.balance,
                storage_root: storage_root(&account.storage).into(),
                code_hash: keccak256(&account.code).into(),
            };
            (keccak256(&address.0), alloy_rlp::encode(trie_account))
        })
        .collect();
    H256(trie_root(leaves))
}

/// A log as it is RLP-encoded in receipts: [address, [topic, ...], data], topics as 32-byte strings.
#[derive(RlpEncodable)]
struct RlpLog<'a> {
    address: [u8; 20],
    topics: Vec<[u8; 32]>,
    data: &'a [u8],
}

/// keccak256(rlp([log, ...])), the `logs` field of a state test.
pub fn logs_hash(logs: &[Log]) -> H256 {
    let encoded: Vec<RlpLog<'_>> = logs
        .iter()
        .map(|log| RlpLog {
            address: log.address.0,
            topics: log.topics.iter().map(|t| t.to_be_bytes::<32>()).collect(),
            data: &log.data,
        })
        .collect();
    H256(keccak256(&alloy_rlp::encode(encoded)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> String {
        format!("0x{s}")
    }

    #[test]
    fn empty_trie_and_empty_logs() {
        assert_eq!(
            state_root(&FastMap::default()).to_string(),
            h("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
        );
        assert_eq!(H256(storage_root(&FastMap::default())), state_root(&FastMap::default()));
        assert_eq!(logs_hash(&[]).to_string(), h("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"));
    }

    #[test]
    fn zero_storage_values_are_not_in_the_trie() {
        let mut storage = FastMap::default();
        storage.insert(U256::from(1), U256::ZERO);
        assert_eq!(storage_root(&storage), storage_root(&FastMap::default()));
        storage.insert(U256::from(2), U256::from(3));
        assert_ne!(storage_root(&storage), storage_root(&FastMap::default()));
    }

    /// The post state of stExample/add11.json (ethereum/tests): the contract stored 2 at slot 0, the
    /// coinbase got the priority fee, the sender paid value and gas.
    #[test]
    fn root_of_add11_post_state() {
        let addr = |s: &str| Address(hex::decode(s).unwrap().try_into().unwrap());
        let mut accounts = FastMap::default();
        let mut contract = Account {
            balance: U256::from(0x0de0b6b3a7640000u64 + 0x0186a0),
            code: hex::decode("600160010160005500").unwrap().into(),
            ..Account::default()
        };
        contract.storage.insert(U256::ZERO, U256::from(2));
        accounts.insert(addr("095e7baea6a6c7c4c2dfeb977efac326af552d87"), contract);
        // Gas used: 21_000 intrinsic + three PUSH1 and an ADD at 3 each + a cold SSTORE of a fresh slot at 22_100 (no
        // refund). The gas price (10) equals the base fee: the coinbase gets no priority fee.
        accounts.insert(addr("2adc25665018aa1fe0e6bc666dac8fc2697ff9ba"), Account { nonce: 1, ..Account::default() });
        let sender = Account {
            balance: U256::from(0x0de0b6b3a7640000u64 - 0x0186a0 - 43_112 * 10),
            nonce: 1,
            ..Account::default()
        };
        accounts.insert(addr("a94f5374fce5edbc8e2a8697c15331677e6ebf0b"), sender);
        assert_eq!(
            state_root(&accounts).to_string(),
            h("e8010ce590f401c9d61fef8ab05bea9bcec24281b795e5868809bc4e515aa530")
        );
    }

    /// A hand-encoded single log checks the RLP shape: rlp([[address, [topic], data]]).
    #[test]
    fn logs_hash_encodes_address_topics_and_data() {
        let log = Log { address: Address([0x11; 20]), topics: vec![U256::from(1)], data: vec![0xab] };
        // [address (0x94 + 20 bytes), [topic (0xa0 + 32 bytes)], data (0x81 0xab)] = 21 + 34 + 2 = 57 bytes.
        let mut rlp = vec![0xf8, 59, 0xf8, 57, 0x94];
        rlp.extend([0x11; 20]);
        rlp.extend([0xe1, 0xa0]);
        rlp.extend(U256::from(1).to_be_bytes::<32>());
        rlp.extend([0x81, 0xab]);
        assert_eq!(logs_hash(&[log]), H256(keccak256(&rlp)));
    }
}
