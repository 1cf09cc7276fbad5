//! A [`Host`] over the store for one call: an in-memory overlay that loads state lazily and ends as a
//! [`StateDiff`].
//!
//! # Design
//! The journal semantics of a call (checkpoints, reverts, warm sets, original values, transient storage,
//! touched and self-destructed accounts) are exactly those of the runtime's [`InMemoryHost`], and they are
//! subtle; so [`StateHost`] does not reimplement them. It owns an `InMemoryHost` that starts empty and
//! forwards every [`Host`] method to it, after making sure the state that method can observe has been
//! copied in from the store: the account (balance, nonce, code) on its first touch, and a storage slot on
//! its first `SLOAD`/`SSTORE`. Copying in is setup, not a change (it goes straight into
//! [`InMemoryHost::accounts`], outside the journal), because it only makes visible what was already there.
//! No runtime hook is needed: every `Host` method names the accounts it reads, and only those.
//!
//! Loaded values are remembered as the call's starting point. When the call has finished
//! ([`Host::finish_transaction`]), [`StateHost::into_diff`] compares the overlay with that starting point
//! and returns only what changed — one [`StateDiff`], which the node writes in the same database
//! transaction as the call's receipt.
//!
//! Two facts make partial loading sound:
//! - an account's storage is only ever reset by `create_account`, which the call machinery (and
//!   [`install_contract`]) only reaches after [`Host::has_collision`] said no; here that check also asks
//!   the store whether the address has any storage, so a reset never hides stored slots;
//! - an account is only deleted at the end of the call (self-destructed, or touched and empty); its stored
//!   storage is then deleted as a whole range.
//!
//! `BLOCKHASH` is not forwarded: the overlay's stand-in (keccak256 of the number) is for hosts without a
//! chain. The node's blocks have real hashes in the store, and [`Host::block_hash`] reads them for the 256
//! blocks before the current one (zero otherwise, as in the EVM).
//!
//! # Failures
//! `Host` methods cannot fail, but a read from the store can. The first error is kept, the method answers
//! as if the state were empty, and [`StateHost::into_diff`] returns the error: whatever the call computed
//! from that answer is thrown away, and nothing of it is written.

use crate::codec::{AccountRow, ContractInfo};
use crate::store::{StateDiff, StateReader};
use crate::StoreError;
use ruint::aliases::U256;
use std::collections::HashSet;
use std::sync::Arc;
use thiserror::Error;
use zvm_runtime::crypto::keccak256;
use zvm_runtime::executor::CodeFormat;
use zvm_runtime::host::{Access, Checkpoint, SStoreOutcome};
use zvm_runtime::vm::{create2_address, create_address};
use zvm_runtime::{Account, Address, BlockEnv, FastMap, Host, InMemoryHost, TxEnv};

/// An account as the call found it in the store.
struct Loaded {
    row: Option<AccountRow>,
    code: Arc<[u8]>,
}

/// The [`Host`] of one call over a [`StateReader`] (see the module docs).
pub struct StateHost<'a> {
    overlay: InMemoryHost,
    store: &'a mut dyn StateReader,
    accounts: FastMap<Address, Loaded>,
    /// Stored values of the slots the call read or wrote.
    slots: FastMap<(Address, U256), U256>,
    error: Option<StoreError>,
}

impl<'a> StateHost<'a> {
    /// A host for one call in `block`, reading state from `store`.
    pub fn new(store: &'a mut dyn StateReader, block: BlockEnv) -> StateHost<'a> {
        let mut overlay = InMemoryHost::new();
        overlay.block = block;
        StateHost { overlay, store, accounts: FastMap::default(), slots: FastMap::default(), error: None }
    }

    fn fail(&mut self, e: StoreError) {
        self.error.get_or_insert(e);
    }

    /// Copies `address` in from the store on its first touch.
    fn load(&mut self, address: Address) {
        if self.accounts.contains_key(&address) {
            return;
        }
        let loaded = match self.read_account(address) {
            Ok(loaded) => loaded,
            Err(e) => {
                self.fail(e);
                Loaded { row: None, code: Arc::from(&[][..]) }
            }
        };
        if let Some(row) = loaded.row {
            let account = Account {
                balance: row.balance,
                nonce: row.nonce,
                code: loaded.code.clone(),
                storage: Default::default(),
            };
            self.overlay.accounts.insert(address, account);
        }
        self.accounts.insert(address, loaded);
    }

    fn read_account(&mut self, address: Address) -> Result<Loaded, StoreError> {
        let row = self.store.account(address)?;
        let code = match row.and_then(|r| r.code_hash) {
            Some(hash) => self.store.code(&hash)?,
            None => Arc::from(&[][..]),
        };
        Ok(Loaded { row, code })
    }

    /// Copies a slot in from the store on its first access.
    fn load_slot(&mut self, address: Address, key: U256) {
        self.load(address);
        if self.slots.contains_key(&(address, key)) {
            return;
        }
        let value = self.store.slot(address, key).unwrap_or_else(|e| {
            self.fail(e);
            U256::ZERO
        });
        self.slots.insert((address, key), value);
        if value.is_zero() {
            return;
        }
        // Stored storage belongs to a stored account, which `load` copied in and only the end of the call
        // can delete.
        match self.overlay.accounts.get_mut(&address) {
            Some(account) => {
                account.storage.insert(key, value);
            }
            None => self.fail(StoreError::Corrupt(format!("storage of a missing account {address}"))),
        }
    }

    /// What the finished call changed, or the store error that made its result meaningless. `deployer` is
    /// recorded as the deployer of contracts the call created.
    pub fn into_diff(self, deployer: Address, block: u64) -> Result<StateDiff, StoreError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut diff = StateDiff::default();
        let mut deleted = HashSet::new();
        for (&address, loaded) in &self.accounts {
            let Some(now) = self.overlay.accounts.get(&address) else {
                if loaded.row.is_some() {
                    diff.accounts.push((address, None));
                    deleted.insert(address);
                }
                continue;
            };
            let code_hash = if Arc::ptr_eq(&now.code, &loaded.code) || *now.code == *loaded.code {
                loaded.row.and_then(|r| r.code_hash)
            } else if now.code.is_empty() {
                None
            } else {
                let hash = keccak256(&now.code);
                diff.code.push((hash, now.code.clone()));
                if loaded.code.is_empty() {
                    let format = CodeFormat::detect(&now.code, CodeFormat::Evm);
                    diff.contracts.push((address, ContractInfo { format, deployer, block }));
                }
                Some(hash)
            };
            let row = AccountRow { balance: now.balance, nonce: now.nonce, code_hash };
            if loaded.row != Some(row) {
                diff.accounts.push((address, Some(row)));
            }
        }
        for (&(address, key), &stored) in &self.slots {
            if deleted.contains(&address) {
                continue;
            }
            let now = self.overlay.storage(address, key);
            if now != stored {
                diff.storage.push((address, key, now));
            }
        }
        // Deterministic order (the maps' order is not), so that equal calls write equal batches.
        diff.accounts.sort_by_key(|(a, _)| *a);
        diff.storage.sort_by_key(|&(a, k, _)| (a, k));
        diff.code.sort_by_key(|(h, _)| *h);
        diff.contracts.sort_by_key(|(a, _)| *a);
        Ok(diff)
    }
}

impl Host for StateHost<'_> {
    fn block(&self) -> &BlockEnv {
        self.overlay.block()
    }

    fn tx(&self) -> &TxEnv {
        self.overlay.tx()
    }

    fn set_tx(&mut self, tx: TxEnv) {
        self.overlay.set_tx(tx);
    }

    fn sload(&mut self, address: Address, key: U256) -> Access<U256> {
        self.load_slot(address, key);
        self.overlay.sload(address, key)
    }

    fn sstore(&mut self, address: Address, key: U256, value: U256) -> SStoreOutcome {
        self.load_slot(address, key);
        self.overlay.sstore(address, key, value)
    }

    fn tload(&mut self, address: Address, key: U256) -> U256 {
        self.overlay.tload(address, key)
    }

    fn tstore(&mut self, address: Address, key: U256, value: U256) {
        self.overlay.tstore(address, key, value);
    }

    fn balance(&mut self, address: Address) -> Access<U256> {
        self.load(address);
        self.overlay.balance(address)
    }

    fn code(&mut self, address: Address) -> Access<&[u8]> {
        self.load(address);
        self.overlay.code(address)
    }

    fn shared_code(&mut self, address: Address) -> Option<Arc<[u8]>> {
        self.load(address);
        self.overlay.shared_code(address)
    }

    fn code_hash(&mut self, address: Address) -> Access<U256> {
        self.load(address);
        self.overlay.code_hash(address)
    }

    /// The stored hash of block `number` if it is one of the 256 blocks before the current one, zero
    /// otherwise (the current block and later ones have no hash yet; block 0, the empty database, has
    /// none).
    fn block_hash(&mut self, number: U256) -> U256 {
        let current = self.overlay.block().number;
        let Ok(number) = u64::try_from(number) else { return U256::ZERO };
        if number == 0 || number >= current || current - number > 256 {
            return U256::ZERO;
        }
        match self.store.block_hash(number) {
            Ok(Some(hash)) => U256::from_be_bytes(hash),
            // Every block before the current one is committed with its header.
            Ok(None) => {
                self.fail(StoreError::Corrupt(format!("block {number} has no header")));
                U256::ZERO
            }
            Err(e) => {
                self.fail(e);
                U256::ZERO
            }
        }
    }

    fn checkpoint(&mut self) -> Checkpoint {
        self.overlay.checkpoint()
    }

    fn revert_to(&mut self, checkpoint: Checkpoint) {
        self.overlay.revert_to(checkpoint);
    }

    fn warm_account(&mut self, address: Address) -> bool {
        self.overlay.warm_account(address)
    }

    fn warm_slot(&mut self, address: Address, key: U256) -> bool {
        self.overlay.warm_slot(address, key)
    }

    fn is_empty(&mut self, address: Address) -> bool {
        self.load(address);
        self.overlay.is_empty(address)
    }

    fn has_collision(&mut self, address: Address) -> bool {
        self.load(address);
        if self.overlay.has_collision(address) {
            return true;
        }
        // Stored slots the call has not loaded count too.
        self.store.has_storage(address).unwrap_or_else(|e| {
            self.fail(e);
            true
        })
    }

    fn nonce(&mut self, address: Address) -> u64 {
        self.load(address);
        self.overlay.nonce(address)
    }

    fn set_nonce(&mut self, address: Address, nonce: u64) {
        self.load(address);
        self.overlay.set_nonce(address, nonce);
    }

    fn set_balance(&mut self, address: Address, balance: U256) {
        self.load(address);
        self.overlay.set_balance(address, balance);
    }

    fn transfer(&mut self, from: Address, to: Address, value: U256) -> bool {
        self.load(from);
        self.load(to);
        self.overlay.transfer(from, to, value)
    }

    fn touch(&mut self, address: Address) {
        self.load(address);
        self.overlay.touch(address);
    }

    fn create_account(&mut self, address: Address) {
        self.load(address);
        self.overlay.create_account(address);
    }

    fn set_code(&mut self, address: Address, code: Vec<u8>) {
        self.load(address);
        self.overlay.set_code(address, code);
    }

    fn selfdestruct(&mut self, address: Address, beneficiary: Address) {
        self.load(address);
        self.load(beneficiary);
        self.overlay.selfdestruct(address, beneficiary);
    }

    fn finish_transaction(&mut self) {
        self.overlay.finish_transaction();
    }
}

/// Why a deploy was refused. A refused deploy changes nothing.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum DeployError {
    #[error("the deployer's nonce is at its maximum")]
    NonceOverflow,
    #[error("an account with code, a nonce or storage already exists at {0}")]
    Collision(Address),
    #[error("the code is {size} bytes, more than the {max} allowed for {format} code")]
    TooLarge { size: usize, max: usize, format: CodeFormat },
    #[error("EVM code must not start with the ZVMC container magic (it would be read as ZVM)")]
    EvmLooksLikeZvm,
    #[error("the code does not load: {0}")]
    Invalid(String),
}

/// Installs `code` as a new contract of `deployer`, as `CREATE` (or, with a salt, `CREATE2`) would but
/// without running init code: the address comes from the deployer and its nonce (or the salt and the
/// code), the deployer's nonce goes up by one, and the new account gets nonce 1 and the code. Ends the
/// transaction on `host`. Returns the address.
pub fn install_contract(
    host: &mut dyn Host,
    deployer: Address,
    code: Vec<u8>,
    salt: Option<U256>,
) -> Result<Address, DeployError> {
    let result = install(host, deployer, code, salt);
    host.finish_transaction();
    result
}

fn install(host: &mut dyn Host, deployer: Address, code: Vec<u8>, salt: Option<U256>) -> Result<Address, DeployError> {
    let nonce = host.nonce(deployer);
    let next = nonce.checked_add(1).ok_or(DeployError::NonceOverflow)?;
    let address = match salt {
        None => create_address(deployer, nonce),
        Some(salt) => create2_address(deployer, salt, &code),
    };
    if host.has_collision(address) {
        return Err(DeployError::Collision(address));
    }
    host.set_nonce(deployer, next);
    host.create_account(address);
    host.set_code(address, code);
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A reader over fixed state that can be told to fail.
    #[derive(Default)]
    struct Fixed {
        accounts: HashMap<Address, AccountRow>,
        slots: HashMap<(Address, U256), U256>,
        fail_slots: bool,
    }

    impl StateReader for Fixed {
        fn account(&mut self, address: Address) -> Result<Option<AccountRow>, StoreError> {
            Ok(self.accounts.get(&address).copied())
        }
        fn code(&mut self, _: &[u8; 32]) -> Result<Arc<[u8]>, StoreError> {
            Ok(Arc::from(&[0x00][..]))
        }
        fn slot(&mut self, address: Address, key: U256) -> Result<U256, StoreError> {
            if self.fail_slots {
                return Err(StoreError::Corrupt("disk on fire".into()));
            }
            Ok(self.slots.get(&(address, key)).copied().unwrap_or_default())
        }
        fn has_storage(&mut self, address: Address) -> Result<bool, StoreError> {
            Ok(self.slots.keys().any(|(a, _)| *a == address))
        }
        fn block_hash(&mut self, number: u64) -> Result<Option<[u8; 32]>, StoreError> {
            Ok((number <= 300).then_some([number as u8; 32]))
        }
    }

    const A: Address = Address::from_low_u64(0xA);
    const B: Address = Address::from_low_u64(0xB);

    fn with_storage() -> Fixed {
        let mut store = Fixed::default();
        store.accounts.insert(A, AccountRow { balance: U256::ZERO, nonce: 0, code_hash: None });
        store.slots.insert((A, U256::from(1)), U256::from(10));
        store.slots.insert((A, U256::from(2)), U256::from(20));
        store
    }

    #[test]
    fn the_diff_holds_exactly_what_changed() {
        let mut store = with_storage();
        store.accounts.insert(A, AccountRow { balance: U256::from(5), nonce: 1, code_hash: None });
        let mut host = StateHost::new(&mut store, BlockEnv::default());
        assert_eq!(host.sload(A, U256::from(1)).value, U256::from(10));
        host.sstore(A, U256::from(2), U256::ZERO);
        host.sstore(A, U256::from(3), U256::from(30));
        let cp = host.checkpoint();
        host.sstore(A, U256::from(4), U256::from(40));
        host.revert_to(cp);
        assert!(host.transfer(A, B, U256::from(2)));
        host.finish_transaction();
        let diff = host.into_diff(A, 1).unwrap();
        let row = |balance: u64, nonce| Some(AccountRow { balance: U256::from(balance), nonce, code_hash: None });
        assert_eq!(diff.accounts, vec![(A, row(3, 1)), (B, row(2, 0))]);
        assert_eq!(diff.storage, vec![(A, U256::from(2), U256::ZERO), (A, U256::from(3), U256::from(30))]);
        assert!(diff.code.is_empty() && diff.contracts.is_empty());
    }

    #[test]
    fn block_hashes_come_from_the_store_for_the_256_blocks_before_the_current_one() {
        let mut store = Fixed::default();
        let mut host = StateHost::new(&mut store, BlockEnv { number: 300, ..BlockEnv::default() });
        let hash = |host: &mut StateHost, n: u64| host.block_hash(U256::from(n));
        assert_eq!(hash(&mut host, 299), U256::from_be_bytes([43; 32])); // 299 as u8
        assert_eq!(hash(&mut host, 44), U256::from_be_bytes([44; 32]));
        for n in [43, 300, 301, 0] {
            assert_eq!(hash(&mut host, n), U256::ZERO, "block {n}");
        }
        assert_eq!(host.block_hash(U256::MAX), U256::ZERO);
        // A block the store should have but does not is a damaged store: the call's result is void.
        let mut host = StateHost::new(&mut store, BlockEnv { number: 400, ..BlockEnv::default() });
        assert_eq!(hash(&mut host, 399), U256::ZERO);
        host.finish_transaction();
        assert!(matches!(host.into_diff(A, 1), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn a_deleted_account_takes_its_stored_slots_with_it() {
        // A is empty (EIP-161) but has storage: touched, it is deleted at the end of the call, and the diff
        // deletes it as a whole rather than slot by slot.
        let mut store = with_storage();
        let mut host = StateHost::new(&mut store, BlockEnv::default());
        host.sstore(A, U256::from(1), U256::from(11));
        host.touch(A);
        host.finish_transaction();
        let diff = host.into_diff(A, 1).unwrap();
        assert_eq!(diff.accounts, vec![(A, None)]);
        assert!(diff.storage.is_empty());
    }

    #[test]
    fn stored_slots_make_a_collision_and_a_failed_read_spoils_the_call() {
        let mut store = with_storage();
        let mut host = StateHost::new(&mut store, BlockEnv::default());
        assert!(host.has_collision(A));
        assert!(!host.has_collision(B));
        let mut store = with_storage();
        store.fail_slots = true;
        let mut host = StateHost::new(&mut store, BlockEnv::default());
        assert_eq!(host.sload(A, U256::from(1)).value, U256::ZERO);
        host.sstore(A, U256::from(1), U256::from(1));
        host.finish_transaction();
        assert!(matches!(host.into_diff(A, 1), Err(StoreError::Corrupt(why)) if why == "disk on fire"));
    }
}
