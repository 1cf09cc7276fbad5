//! The cache of hot state in front of the store.
//!
//! Every call starts from nothing in memory (its overlay, see [`crate::state`]) and reads what it touches.
//! Without a cache each first touch is a B-tree look-up in redb, and a contract's code is copied out of
//! the database on every call. The cache keeps recently used accounts, code and slots in memory, so a hot
//! contract costs hash-map look-ups only.
//!
//! It is owned by the node's single writer, which is the only one that changes state, and it always shows
//! the newest state, including calls of the batch being built that are not durable yet: after each call
//! the writer applies the call's diff to it. If a batch fails to commit, those entries would be wrong, so
//! the writer clears the whole cache ([`StateCache::clear`]); correctness never depends on what is cached.
//!
//! Each map is bounded by a [`Generational`] scheme: entries live in a young generation; when it is full it
//! becomes the old generation (the previous old one is dropped), and an entry found in the old generation
//! moves back to the young one. Entries used within the last generation survive, at O(1) cost per access
//! and at most twice the capacity in memory — an approximation of LRU without a linked list.

use crate::codec::AccountRow;
use crate::store::{StateDiff, StateReader};
use crate::StoreError;
use ruint::aliases::U256;
use std::hash::Hash;
use std::sync::Arc;
use zvm_runtime::{Address, FastMap};

/// Entries per generation of each of the cache's maps (it holds at most twice as many).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    pub accounts: usize,
    pub slots: usize,
    /// Contract codes (each up to the code-size limit, 48 KiB for ZVM).
    pub code: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig { accounts: 1 << 14, slots: 1 << 16, code: 256 }
    }
}

/// A bounded map of recently used entries (see the module docs).
pub(crate) struct Generational<K, V> {
    young: FastMap<K, V>,
    old: FastMap<K, V>,
    capacity: usize,
}

impl<K: Hash + Eq, V: Clone> Generational<K, V> {
    pub fn new(capacity: usize) -> Self {
        Generational { young: FastMap::default(), old: FastMap::default(), capacity: capacity.max(1) }
    }

    pub fn get(&mut self, key: &K) -> Option<V>
    where
        K: Clone,
    {
        if let Some(v) = self.young.get(key) {
            return Some(v.clone());
        }
        let v = self.old.remove(key)?;
        self.insert(key.clone(), v.clone());
        Some(v)
    }

    pub fn insert(&mut self, key: K, value: V) {
        if self.young.len() >= self.capacity && !self.young.contains_key(&key) {
            self.old = std::mem::take(&mut self.young);
        }
        self.old.remove(&key);
        self.young.insert(key, value);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    pub fn clear(&mut self) {
        self.young.clear();
        self.old.clear();
    }
}

/// Hot accounts, code and slots (see the module docs).
pub(crate) struct StateCache {
    accounts: Generational<Address, Option<AccountRow>>,
    code: Generational<[u8; 32], Arc<[u8]>>,
    slots: Generational<(Address, U256), U256>,
}

impl StateCache {
    pub fn new(config: CacheConfig) -> StateCache {
        StateCache {
            accounts: Generational::new(config.accounts),
            code: Generational::new(config.code),
            slots: Generational::new(config.slots),
        }
    }

    /// A reader that answers from the cache and fills it from `store` on a miss.
    pub fn over<'a>(&'a mut self, store: &'a mut dyn StateReader) -> CachedReader<'a> {
        CachedReader { cache: self, store }
    }

    /// Brings the cache up to date with a call the writer has just applied.
    pub fn apply(&mut self, diff: &StateDiff) {
        for &(address, row) in &diff.accounts {
            if row.is_none() {
                // The account's storage is gone; the slot map has no per-account index, and deletions are
                // rare (self-destruct in the creating transaction, emptied accounts), so start it over.
                self.slots.clear();
            }
            self.accounts.insert(address, row);
        }
        for (hash, code) in &diff.code {
            self.code.insert(*hash, code.clone());
        }
        for &(address, key, value) in &diff.storage {
            self.slots.insert((address, key), value);
        }
    }

    /// Forgets everything (after a batch failed to commit, the cache may show state that is not there).
    pub fn clear(&mut self) {
        self.accounts.clear();
        self.code.clear();
        self.slots.clear();
    }
}

/// [`StateCache`] in front of another reader.
pub(crate) struct CachedReader<'a> {
    cache: &'a mut StateCache,
    store: &'a mut dyn StateReader,
}

impl StateReader for CachedReader<'_> {
    fn account(&mut self, address: Address) -> Result<Option<AccountRow>, StoreError> {
        if let Some(row) = self.cache.accounts.get(&address) {
            return Ok(row);
        }
        let row = self.store.account(address)?;
        self.cache.accounts.insert(address, row);
        Ok(row)
    }

    fn code(&mut self, hash: &[u8; 32]) -> Result<Arc<[u8]>, StoreError> {
        if let Some(code) = self.cache.code.get(hash) {
            return Ok(code);
        }
        let code = self.store.code(hash)?;
        self.cache.code.insert(*hash, code.clone());
        Ok(code)
    }

    fn slot(&mut self, address: Address, key: U256) -> Result<U256, StoreError> {
        if let Some(value) = self.cache.slots.get(&(address, key)) {
            return Ok(value);
        }
        let value = self.store.slot(address, key)?;
        self.cache.slots.insert((address, key), value);
        Ok(value)
    }

    fn has_storage(&mut self, address: Address) -> Result<bool, StoreError> {
        // Asked only when a contract is created at an address; not worth caching.
        self.store.has_storage(address)
    }

    fn block_hash(&mut self, number: u64) -> Result<Option<[u8; 32]>, StoreError> {
        // `BLOCKHASH` is rare next to state reads: not worth caching.
        self.store.block_hash(number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generational_keeps_recently_used_entries_within_twice_the_capacity() {
        let mut g = Generational::new(2);
        g.insert(1, 'a');
        g.insert(2, 'b');
        g.insert(3, 'c'); // young {3}, old {1, 2}
        assert_eq!(g.get(&1), Some('a')); // 1 moves back: young {3, 1}, old {2}
        g.insert(4, 'd'); // young full: young {4}, old {3, 1}; 2 is dropped
        assert_eq!(g.get(&2), None);
        assert_eq!((g.get(&3), g.get(&1), g.get(&4)), (Some('c'), Some('a'), Some('d')));
        assert!(g.len() <= 4);
        g.insert(4, 'e');
        assert_eq!(g.get(&4), Some('e'));
        g.clear();
        assert_eq!((g.len(), g.get(&4)), (0, None));
    }
}
