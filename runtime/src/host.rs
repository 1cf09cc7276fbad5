//! The host interface: everything a contract can observe or change outside its own frame.
//!
//! Every frontend's host operations go through [`Host`], on both tiers. The trait is shaped for the EVM's
//! needs so that nested calls and creates can be added without redesign: state is addressed by account,
//! reads report whether the slot or account was cold (EIP-2929), storage writes report the original value
//! (EIP-2200), and the journal is explicit ([`Host::checkpoint`], [`Host::revert_to`]) so that a frame that
//! fails undoes exactly its own changes.

use ruint::aliases::U256;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// A 20-byte account address.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// The address in the low 20 bytes of a word (the high 12 bytes are ignored, as on the EVM).
    pub fn from_word(w: U256) -> Self {
        let bytes: [u8; 32] = w.to_be_bytes();
        let mut a = [0u8; 20];
        a.copy_from_slice(&bytes[12..]);
        Address(a)
    }

    /// The address as a word (zero-extended).
    pub fn to_word(self) -> U256 {
        let mut bytes = [0u8; 32];
        bytes[12..].copy_from_slice(&self.0);
        U256::from_be_bytes(bytes)
    }

    /// An address whose last byte is `n` (handy for tests and examples).
    pub const fn from_low_u64(n: u64) -> Self {
        let b = n.to_be_bytes();
        let mut a = [0u8; 20];
        let mut i = 0;
        while i < 8 {
            a[12 + i] = b[i];
            i += 1;
        }
        Address(a)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex_str(&self.0))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

fn hex_str(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Block-level environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockEnv {
    pub number: u64,
    pub timestamp: u64,
    pub coinbase: Address,
    pub gas_limit: u64,
    pub base_fee: U256,
    pub prev_randao: U256,
    pub chain_id: u64,
    pub blob_base_fee: U256,
}

/// Transaction-level environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxEnv {
    pub origin: Address,
    pub gas_price: U256,
}

/// A value read from state, with whether it was cold (first access in the transaction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access<T> {
    pub value: T,
    pub cold: bool,
}

/// What a storage write saw: the slot's value at the start of the transaction and just before the write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SStoreOutcome {
    pub original: U256,
    pub previous: U256,
    pub cold: bool,
}

/// A journal position returned by [`Host::checkpoint`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint(pub usize);

/// Contract state and chain context, as seen by executing code.
pub trait Host {
    /// Block environment.
    fn block(&self) -> &BlockEnv;
    /// Transaction environment.
    fn tx(&self) -> &TxEnv;
    /// Reads a persistent storage slot of `address`.
    fn sload(&mut self, address: Address, key: U256) -> Access<U256>;
    /// Writes a persistent storage slot of `address`.
    fn sstore(&mut self, address: Address, key: U256, value: U256) -> SStoreOutcome;
    /// Reads a transient storage slot (EIP-1153).
    fn tload(&mut self, address: Address, key: U256) -> U256;
    /// Writes a transient storage slot.
    fn tstore(&mut self, address: Address, key: U256, value: U256);
    /// An account's balance.
    fn balance(&mut self, address: Address) -> Access<U256>;
    /// An account's code (empty if it has none or does not exist).
    fn code(&mut self, address: Address) -> Access<&[u8]>;
    /// An account's code hash (zero if the account does not exist).
    fn code_hash(&mut self, address: Address) -> Access<U256>;
    /// The hash of block `number` (zero unless it is one of the 256 most recent blocks).
    fn block_hash(&mut self, number: U256) -> U256;
    /// A position in the journal of state changes.
    fn checkpoint(&mut self) -> Checkpoint;
    /// Undoes every change made since `checkpoint`.
    fn revert_to(&mut self, checkpoint: Checkpoint);
}

/// One account of the in-memory host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    pub balance: U256,
    pub nonce: u64,
    pub code: Vec<u8>,
    pub storage: HashMap<U256, U256>,
}

#[derive(Clone, Debug)]
enum JournalEntry {
    Storage { address: Address, key: U256, previous: Option<U256> },
    Transient { address: Address, key: U256, previous: U256 },
    WarmSlot { address: Address, key: U256 },
    WarmAccount { address: Address },
}

/// A host that keeps all state in memory, with a journal: the reference host for tests, the CLI and
/// embedders that do not need persistence.
#[derive(Clone, Debug, Default)]
pub struct InMemoryHost {
    pub block: BlockEnv,
    pub tx: TxEnv,
    pub accounts: HashMap<Address, Account>,
    /// Storage values at the start of the transaction (for EIP-2200 "original" values).
    original: HashMap<(Address, U256), U256>,
    transient: HashMap<(Address, U256), U256>,
    warm_slots: HashSet<(Address, U256)>,
    warm_accounts: HashSet<Address>,
    journal: Vec<JournalEntry>,
}

impl InMemoryHost {
    /// An empty state with default environments.
    pub fn new() -> Self {
        Self::default()
    }

    /// The account at `address`, created empty if missing.
    pub fn account_mut(&mut self, address: Address) -> &mut Account {
        self.accounts.entry(address).or_default()
    }

    /// A storage slot's current value (zero if unset).
    pub fn storage(&self, address: Address, key: U256) -> U256 {
        self.accounts.get(&address).and_then(|a| a.storage.get(&key)).copied().unwrap_or(U256::ZERO)
    }

    /// Ends the transaction: current values become original values, transient storage and warm sets are
    /// cleared, the journal is dropped.
    pub fn finish_transaction(&mut self) {
        self.original.clear();
        self.transient.clear();
        self.warm_slots.clear();
        self.warm_accounts.clear();
        self.journal.clear();
    }

    fn warm_account(&mut self, address: Address) -> bool {
        let cold = self.warm_accounts.insert(address);
        if cold {
            self.journal.push(JournalEntry::WarmAccount { address });
        }
        cold
    }

    fn warm_slot(&mut self, address: Address, key: U256) -> bool {
        let cold = self.warm_slots.insert((address, key));
        if cold {
            self.journal.push(JournalEntry::WarmSlot { address, key });
        }
        cold
    }
}

impl Host for InMemoryHost {
    fn block(&self) -> &BlockEnv {
        &self.block
    }

    fn tx(&self) -> &TxEnv {
        &self.tx
    }

    fn sload(&mut self, address: Address, key: U256) -> Access<U256> {
        let cold = self.warm_slot(address, key);
        Access { value: self.storage(address, key), cold }
    }

    fn sstore(&mut self, address: Address, key: U256, value: U256) -> SStoreOutcome {
        let cold = self.warm_slot(address, key);
        let account = self.accounts.entry(address).or_default();
        let previous_entry = account.storage.get(&key).copied();
        let previous = previous_entry.unwrap_or(U256::ZERO);
        let original = *self.original.entry((address, key)).or_insert(previous);
        if value.is_zero() {
            account.storage.remove(&key);
        } else {
            account.storage.insert(key, value);
        }
        self.journal.push(JournalEntry::Storage { address, key, previous: previous_entry });
        SStoreOutcome { original, previous, cold }
    }

    fn tload(&mut self, address: Address, key: U256) -> U256 {
        self.transient.get(&(address, key)).copied().unwrap_or(U256::ZERO)
    }

    fn tstore(&mut self, address: Address, key: U256, value: U256) {
        let previous = self.transient.insert((address, key), value).unwrap_or(U256::ZERO);
        self.journal.push(JournalEntry::Transient { address, key, previous });
    }

    fn balance(&mut self, address: Address) -> Access<U256> {
        let cold = self.warm_account(address);
        Access { value: self.accounts.get(&address).map(|a| a.balance).unwrap_or(U256::ZERO), cold }
    }

    fn code(&mut self, address: Address) -> Access<&[u8]> {
        let cold = self.warm_account(address);
        Access { value: self.accounts.get(&address).map(|a| a.code.as_slice()).unwrap_or(&[]), cold }
    }

    fn code_hash(&mut self, address: Address) -> Access<U256> {
        let cold = self.warm_account(address);
        let value = match self.accounts.get(&address) {
            Some(a) => U256::from_be_bytes(crate::crypto::keccak256(&a.code)),
            None => U256::ZERO,
        };
        Access { value, cold }
    }

    fn block_hash(&mut self, number: U256) -> U256 {
        let current = U256::from(self.block.number);
        if number >= current || current - number > U256::from(256u64) {
            return U256::ZERO;
        }
        // The in-memory host has no chain: it derives a stable stand-in hash from the number.
        U256::from_be_bytes(crate::crypto::keccak256(&number.to_be_bytes::<32>()))
    }

    fn checkpoint(&mut self) -> Checkpoint {
        Checkpoint(self.journal.len())
    }

    fn revert_to(&mut self, checkpoint: Checkpoint) {
        while self.journal.len() > checkpoint.0 {
            match self.journal.pop() {
                Some(JournalEntry::Storage { address, key, previous }) => {
                    let storage = &mut self.accounts.entry(address).or_default().storage;
                    match previous {
                        Some(v) => storage.insert(key, v),
                        None => storage.remove(&key),
                    };
                }
                Some(JournalEntry::Transient { address, key, previous }) => {
                    self.transient.insert((address, key), previous);
                }
                Some(JournalEntry::WarmSlot { address, key }) => {
                    self.warm_slots.remove(&(address, key));
                }
                Some(JournalEntry::WarmAccount { address }) => {
                    self.warm_accounts.remove(&address);
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_undoes_exactly_the_changes_after_the_checkpoint() {
        let a = Address::from_low_u64(1);
        let mut h = InMemoryHost::new();
        h.sstore(a, U256::from(1), U256::from(10));
        let cp = h.checkpoint();
        h.sstore(a, U256::from(1), U256::from(11));
        h.sstore(a, U256::from(2), U256::from(20));
        h.tstore(a, U256::from(3), U256::from(30));
        h.revert_to(cp);
        assert_eq!(h.storage(a, U256::from(1)), U256::from(10));
        assert_eq!(h.storage(a, U256::from(2)), U256::ZERO);
        assert_eq!(h.tload(a, U256::from(3)), U256::ZERO);
    }

    #[test]
    fn sstore_reports_original_and_previous() {
        let a = Address::from_low_u64(1);
        let mut h = InMemoryHost::new();
        h.account_mut(a).storage.insert(U256::from(1), U256::from(5));
        let first = h.sstore(a, U256::from(1), U256::from(6));
        assert_eq!((first.original, first.previous, first.cold), (U256::from(5), U256::from(5), true));
        let second = h.sstore(a, U256::from(1), U256::from(7));
        assert_eq!((second.original, second.previous, second.cold), (U256::from(5), U256::from(6), false));
    }

    #[test]
    fn address_word_round_trip() {
        let a = Address::from_low_u64(0xdead_beef);
        assert_eq!(Address::from_word(a.to_word()), a);
    }
}
