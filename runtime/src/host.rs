//! The host interface: everything a contract can observe or change outside its own frame.
//!
//! Every frontend's host operations go through [`Host`], on both tiers. The trait is shaped for the EVM's
//! needs so that nested calls and creates can be added without redesign: state is addressed by account,
//! reads report whether the slot or account was cold (EIP-2929), storage writes report the original value
//! (EIP-2200), and the journal is explicit ([`Host::checkpoint`], [`Host::revert_to`]) so that a frame that
//! fails undoes exactly its own changes.

use ruint::aliases::U256;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

/// A 20-byte account address.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Address(pub [u8; 20]);

impl Hash for Address {
    /// The 20 bytes, without the length prefix an array would hash: every address has the same length.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.0)
    }
}

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
    /// The effective gas price.
    pub gas_price: U256,
    /// EIP-4844 versioned hashes of the transaction's blobs (`BLOBHASH`).
    pub blob_hashes: Vec<U256>,
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
///
/// The first group of methods is what bytecode reaches through host calls: they warm what they touch
/// (EIP-2929) and report whether it was cold. The second group is for the call machinery and the
/// transaction layer ([`crate::vm`], [`crate::tx`]): account bookkeeping that never warms anything and is
/// never charged by itself. Every change of either group is journaled, so that [`Host::revert_to`] undoes
/// exactly the changes made after a checkpoint.
pub trait Host {
    /// Block environment.
    fn block(&self) -> &BlockEnv;
    /// Transaction environment.
    fn tx(&self) -> &TxEnv;
    /// Sets the transaction environment (the transaction layer does this before executing).
    fn set_tx(&mut self, tx: TxEnv);
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
    /// The buffer [`Host::code`] returns, shared, if the host keeps code that way (the default says it
    /// does not). The machine keeps it with the program it prepares from it: a shared buffer it holds
    /// cannot change or be freed, so when `code` later returns that same buffer the program is found
    /// without comparing the bytes (a twentieth of a small call on a 12 KB contract).
    fn shared_code(&mut self, _address: Address) -> Option<Arc<[u8]>> {
        None
    }
    /// An account's code hash (zero if the account does not exist or is empty, EIP-1052 with EIP-161).
    fn code_hash(&mut self, address: Address) -> Access<U256>;
    /// The hash of block `number` (zero unless it is one of the 256 most recent blocks).
    fn block_hash(&mut self, number: U256) -> U256;
    /// A position in the journal of state changes.
    fn checkpoint(&mut self) -> Checkpoint;
    /// Undoes every change made since `checkpoint`.
    fn revert_to(&mut self, checkpoint: Checkpoint);

    /// Marks an account warm; true if it was cold. The precompiles are warm throughout every transaction
    /// (EIP-2929): for them this is always false, and nothing needs recording.
    fn warm_account(&mut self, address: Address) -> bool;
    /// Marks a storage slot warm; true if it was cold.
    fn warm_slot(&mut self, address: Address, key: U256) -> bool;
    /// True if the account does not exist or is empty (no code, zero nonce and balance; EIP-161).
    fn is_empty(&mut self, address: Address) -> bool;
    /// True if creating a contract at `address` would collide: it has code, a non-zero nonce or storage.
    fn has_collision(&mut self, address: Address) -> bool;
    /// An account's nonce (0 if it does not exist).
    fn nonce(&mut self, address: Address) -> u64;
    /// Sets an account's nonce, creating the account if needed.
    fn set_nonce(&mut self, address: Address, nonce: u64);
    /// Sets an account's balance, creating and touching the account.
    fn set_balance(&mut self, address: Address, balance: U256);
    /// Moves `value` from `from` to `to`, touching both; returns false (and changes nothing) if `from`
    /// holds less than `value`.
    fn transfer(&mut self, from: Address, to: Address, value: U256) -> bool;
    /// Marks an account touched: if it is empty at the end of the transaction, it is deleted (EIP-161).
    fn touch(&mut self, address: Address);
    /// Makes `address` a new contract account of this transaction (nonce 1, no code, no storage, balance
    /// kept), touched.
    fn create_account(&mut self, address: Address);
    /// Sets an account's code.
    fn set_code(&mut self, address: Address, code: Vec<u8>);
    /// `SELFDESTRUCT` of `address` in favour of `beneficiary` (EIP-6780): the balance moves to the
    /// beneficiary; the account itself is deleted at the end of the transaction only if it was created in
    /// this transaction (its balance is then burnt even when it is its own beneficiary).
    fn selfdestruct(&mut self, address: Address, beneficiary: Address);
    /// Ends the transaction: deletes self-destructed accounts and touched empty accounts, makes current
    /// values the original values, clears transient storage, warm sets and the journal.
    fn finish_transaction(&mut self);
}

/// One account of the in-memory host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    pub balance: U256,
    pub nonce: u64,
    pub code: Arc<[u8]>,
    pub storage: FastMap<U256, U256>,
}

impl Account {
    /// Empty as EIP-161 defines it: no code, zero nonce, zero balance.
    pub fn is_empty(&self) -> bool {
        self.code.is_empty() && self.nonce == 0 && self.balance.is_zero()
    }
}

#[derive(Clone, Debug)]
enum JournalEntry {
    Storage {
        address: Address,
        key: U256,
        previous: Option<U256>,
    },
    Transient {
        address: Address,
        key: U256,
        previous: U256,
    },
    WarmSlot {
        address: Address,
        key: U256,
    },
    WarmAccount {
        address: Address,
    },
    /// The account did not exist before this change made it.
    AccountCreated {
        address: Address,
    },
    /// The whole account before it was replaced by a new contract.
    AccountReplaced {
        address: Address,
        previous: Box<Account>,
    },
    Balance {
        address: Address,
        previous: U256,
    },
    Nonce {
        address: Address,
        previous: u64,
    },
    Code {
        address: Address,
        previous: Arc<[u8]>,
    },
    Touched {
        address: Address,
    },
    CreatedInTx {
        address: Address,
    },
    Destructed {
        address: Address,
    },
}

/// A host that keeps all state in memory, with a journal: the reference host for tests, the CLI and
/// embedders that do not need persistence.
#[derive(Clone, Debug, Default)]
pub struct InMemoryHost {
    pub block: BlockEnv,
    pub tx: TxEnv,
    pub accounts: FastMap<Address, Account>,
    /// Storage values at the start of the transaction (for EIP-2200 "original" values).
    original: FastMap<(Address, U256), U256>,
    transient: FastMap<(Address, U256), U256>,
    warm_slots: FastSet<(Address, U256)>,
    warm_accounts: FastSet<Address>,
    touched: FastSet<Address>,
    created: FastSet<Address>,
    destructed: FastSet<Address>,
    journal: Vec<JournalEntry>,
}

/// The state's maps (accounts, storage) and the transaction's scratch sets, consulted on every storage and
/// account access, hash with foldhash ([`KeyHash`]): randomly seeded per map, like the standard hasher, and
/// several times faster on these 20- to 52-byte keys. With SipHash, hashing was a sixth of a storage-heavy
/// transaction.
pub type FastMap<K, V> = HashMap<K, V, KeyHash>;
/// A set hashed like [`FastMap`].
pub type FastSet<T> = HashSet<T, KeyHash>;

/// The hasher of [`FastMap`] and [`FastSet`]: foldhash (randomly seeded), fed the keys' bytes 16 at a time
/// as 128-bit integers ([`KeyHasher`]).
#[derive(Clone, Debug, Default)]
pub struct KeyHash(foldhash::fast::RandomState);

impl BuildHasher for KeyHash {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(self.0.build_hasher())
    }
}

/// foldhash, taking a byte string of whole 16-byte chunks as 128-bit integers: one seeded multiply each.
/// The keys here are 32-byte words and 20-byte addresses, which foldhash's own byte-string path, made for
/// strings of any length, took several times as long to hash (hashing was a sixth of a storage-heavy
/// transaction's instructions). Keys of one type have one length (or hash a length prefix), so chunking
/// loses no distinction.
pub struct KeyHasher(foldhash::fast::FoldHasher<'static>);

impl Hasher for KeyHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0.finish()
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(16);
        for chunk in &mut chunks {
            let mut x = [0u8; 16];
            x.copy_from_slice(chunk);
            self.0.write_u128(u128::from_le_bytes(x));
        }
        match *chunks.remainder() {
            [] => {}
            [a, b, c, d] => self.0.write_u32(u32::from_le_bytes([a, b, c, d])),
            ref rest => self.0.write(rest),
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0.write_u8(i)
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.0.write_u32(i)
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0.write_u64(i)
    }

    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.0.write_u128(i)
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.0.write_usize(i)
    }
}

impl InMemoryHost {
    /// An empty state with default environments.
    pub fn new() -> Self {
        Self::default()
    }

    /// The account at `address`, created empty if missing. (Setup only: not journaled.)
    pub fn account_mut(&mut self, address: Address) -> &mut Account {
        self.accounts.entry(address).or_default()
    }

    /// Room in the transaction's scratch sets and journal for a typical transaction, taken when the first
    /// account is warmed (every transaction warms a dozen): growing them from empty cost a tenth of a small
    /// transaction in reallocations and rehashes. `finish_transaction` keeps the room, so a long-lived
    /// host pays for it once; a clone starts without it, and can take it up front with this.
    #[cold]
    pub fn reserve_scratch(&mut self) {
        self.warm_accounts.reserve(32);
        self.warm_slots.reserve(32);
        self.original.reserve(16);
        self.journal.reserve(64);
    }

    /// A storage slot's current value (zero if unset).
    pub fn storage(&self, address: Address, key: U256) -> U256 {
        self.accounts.get(&address).and_then(|a| a.storage.get(&key)).copied().unwrap_or(U256::ZERO)
    }

    /// The account, created (and journaled as created) if missing.
    fn existing(&mut self, address: Address) -> &mut Account {
        match self.accounts.entry(address) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                self.journal.push(JournalEntry::AccountCreated { address });
                e.insert(Account::default())
            }
        }
    }
}

impl Host for InMemoryHost {
    fn block(&self) -> &BlockEnv {
        &self.block
    }

    fn tx(&self) -> &TxEnv {
        &self.tx
    }

    fn set_tx(&mut self, tx: TxEnv) {
        self.tx = tx;
    }

    fn sload(&mut self, address: Address, key: U256) -> Access<U256> {
        let cold = self.warm_slot(address, key);
        Access { value: self.storage(address, key), cold }
    }

    fn sstore(&mut self, address: Address, key: U256, value: U256) -> SStoreOutcome {
        let cold = self.warm_slot(address, key);
        let account = self.existing(address);
        // One lookup of the slot: `remove` and `insert` return what was there.
        let previous_entry =
            if value.is_zero() { account.storage.remove(&key) } else { account.storage.insert(key, value) };
        let previous = previous_entry.unwrap_or(U256::ZERO);
        let original = *self.original.entry((address, key)).or_insert(previous);
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
        Access { value: self.accounts.get(&address).map_or(&[][..], |a| &a.code[..]), cold }
    }

    fn shared_code(&mut self, address: Address) -> Option<Arc<[u8]>> {
        self.accounts.get(&address).map(|a| a.code.clone())
    }

    fn code_hash(&mut self, address: Address) -> Access<U256> {
        let cold = self.warm_account(address);
        let value = match self.accounts.get(&address) {
            Some(a) if !a.is_empty() => U256::from_be_bytes(crate::crypto::keccak256(&a.code)),
            _ => U256::ZERO,
        };
        Access { value, cold }
    }

    fn block_hash(&mut self, number: U256) -> U256 {
        let current = U256::from(self.block.number);
        if number >= current || current - number > U256::from(256u64) {
            return U256::ZERO;
        }
        // The in-memory host has no chain. Its stand-in is keccak256 of the number in decimal, the
        // convention of the Ethereum state tests (and of geth's and revm's test hosts).
        U256::from_be_bytes(crate::crypto::keccak256(number.to_string().as_bytes()))
    }

    fn checkpoint(&mut self) -> Checkpoint {
        Checkpoint(self.journal.len())
    }

    fn revert_to(&mut self, checkpoint: Checkpoint) {
        while self.journal.len() > checkpoint.0 {
            let Some(entry) = self.journal.pop() else { break };
            match entry {
                JournalEntry::Storage { address, key, previous } => {
                    let storage = &mut self.accounts.entry(address).or_default().storage;
                    match previous {
                        Some(v) => storage.insert(key, v),
                        None => storage.remove(&key),
                    };
                }
                JournalEntry::Transient { address, key, previous } => {
                    self.transient.insert((address, key), previous);
                }
                JournalEntry::WarmSlot { address, key } => {
                    self.warm_slots.remove(&(address, key));
                }
                JournalEntry::WarmAccount { address } => {
                    self.warm_accounts.remove(&address);
                }
                JournalEntry::AccountCreated { address } => {
                    self.accounts.remove(&address);
                }
                JournalEntry::AccountReplaced { address, previous } => {
                    self.accounts.insert(address, *previous);
                }
                JournalEntry::Balance { address, previous } => {
                    self.accounts.entry(address).or_default().balance = previous;
                }
                JournalEntry::Nonce { address, previous } => {
                    self.accounts.entry(address).or_default().nonce = previous;
                }
                JournalEntry::Code { address, previous } => {
                    self.accounts.entry(address).or_default().code = previous;
                }
                JournalEntry::Touched { address } => {
                    self.touched.remove(&address);
                }
                JournalEntry::CreatedInTx { address } => {
                    self.created.remove(&address);
                }
                JournalEntry::Destructed { address } => {
                    self.destructed.remove(&address);
                }
            }
        }
    }

    fn warm_account(&mut self, address: Address) -> bool {
        // Answered without the set: inserting the ten precompiles (and journaling them) at the start of
        // every transaction was a twentieth of a small one.
        if crate::precompiles::is_precompile(&address) {
            return false;
        }
        if self.warm_accounts.capacity() == 0 {
            self.reserve_scratch();
        }
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

    fn is_empty(&mut self, address: Address) -> bool {
        self.accounts.get(&address).is_none_or(Account::is_empty)
    }

    fn has_collision(&mut self, address: Address) -> bool {
        self.accounts.get(&address).is_some_and(|a| a.nonce != 0 || !a.code.is_empty() || !a.storage.is_empty())
    }

    fn nonce(&mut self, address: Address) -> u64 {
        self.accounts.get(&address).map_or(0, |a| a.nonce)
    }

    fn set_nonce(&mut self, address: Address, nonce: u64) {
        let account = self.existing(address);
        let previous = std::mem::replace(&mut account.nonce, nonce);
        self.journal.push(JournalEntry::Nonce { address, previous });
    }

    fn set_balance(&mut self, address: Address, balance: U256) {
        self.touch(address);
        let account = self.existing(address);
        let previous = std::mem::replace(&mut account.balance, balance);
        self.journal.push(JournalEntry::Balance { address, previous });
    }

    fn transfer(&mut self, from: Address, to: Address, value: U256) -> bool {
        let from_balance = self.accounts.get(&from).map_or(U256::ZERO, |a| a.balance);
        if from_balance < value {
            return false;
        }
        self.touch(from);
        self.touch(to);
        if value.is_zero() || from == to {
            return true;
        }
        self.set_balance(from, from_balance - value);
        let to_balance = self.accounts.get(&to).map_or(U256::ZERO, |a| a.balance);
        // Balances are bounded by the total supply, far below 2^256.
        self.set_balance(to, to_balance.saturating_add(value));
        true
    }

    fn touch(&mut self, address: Address) {
        if self.touched.insert(address) {
            self.journal.push(JournalEntry::Touched { address });
        }
    }

    fn create_account(&mut self, address: Address) {
        let balance = self.accounts.get(&address).map_or(U256::ZERO, |a| a.balance);
        let fresh = Account { balance, nonce: 1, ..Account::default() };
        match self.accounts.insert(address, fresh) {
            Some(previous) => {
                self.journal.push(JournalEntry::AccountReplaced { address, previous: Box::new(previous) })
            }
            None => self.journal.push(JournalEntry::AccountCreated { address }),
        }
        if self.created.insert(address) {
            self.journal.push(JournalEntry::CreatedInTx { address });
        }
        self.touch(address);
    }

    fn set_code(&mut self, address: Address, code: Vec<u8>) {
        let account = self.existing(address);
        let previous = std::mem::replace(&mut account.code, code.into());
        self.journal.push(JournalEntry::Code { address, previous });
    }

    fn selfdestruct(&mut self, address: Address, beneficiary: Address) {
        let balance = self.accounts.get(&address).map_or(U256::ZERO, |a| a.balance);
        if beneficiary != address {
            self.transfer(address, beneficiary, balance);
        } else {
            self.touch(address);
        }
        if self.created.contains(&address) {
            if self.destructed.insert(address) {
                self.journal.push(JournalEntry::Destructed { address });
            }
            if !balance.is_zero() && beneficiary == address {
                self.set_balance(address, U256::ZERO);
            }
        }
    }

    fn finish_transaction(&mut self) {
        for address in self.destructed.drain() {
            self.accounts.remove(&address);
        }
        for address in self.touched.drain() {
            if self.accounts.get(&address).is_some_and(Account::is_empty) {
                self.accounts.remove(&address);
            }
        }
        self.created.clear();
        self.original.clear();
        self.transient.clear();
        self.warm_slots.clear();
        self.warm_accounts.clear();
        self.journal.clear();
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
