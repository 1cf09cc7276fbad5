//! The persistent store: contract state, receipts and names in one redb database file.
//!
//! # Why redb
//! The store needs ordered keys (an account's storage is one key range, so it can be deleted or tested for
//! emptiness without an index), atomic multi-table transactions, and commits that are durable when they
//! return. redb gives exactly that: a copy-on-write B-tree with ACID transactions, where a commit with
//! [`redb::Durability::Immediate`] (the default) returns only after `fsync`. It is pure Rust — no C
//! toolchain in the build, no `unsafe` FFI surface, nothing to link — and it is typed: tables carry their
//! key and value types. SQLite (through rusqlite's bundled build) would give the same guarantees but adds a
//! C build, a SQL layer we would not use (every access here is a point get, a put or a prefix range), and
//! row encoding through SQL values; its strengths (ad-hoc queries, a mature ecosystem of tools) matter less
//! for a node whose state has one shape. RocksDB was ruled out for its C++ build and its background
//! compaction threads. redb's cost: after a crash, opening the file repairs it (walks the trees to rebuild
//! the allocator state), which is proportional to the database size.
//!
//! # Schema
//! | table | key | value |
//! |---|---|---|
//! | `meta` | name | `u64`: `schema_version`, `block` (last committed batch), `next_call` (next receipt id) |
//! | `accounts` | address (20 bytes) | balance (32), nonce (8), code hash (32, zero for none) |
//! | `code` | keccak256 of the code | the code |
//! | `storage` | address ++ slot (52 bytes) | value (32); zero values are not stored |
//! | `contracts` | address | format (1), deployer (20), creation block (8) |
//! | `receipts` | call id (`u64`) | block, status, gas used, output, logs, created address ([`Receipt`]) |
//! | `names` | name (UTF-8) | address |
//! | `blocks` | block number (`u64`) | its hash (32), then its header ([`BlockHeader`], 128) |
//!
//! Code is content-addressed and shared by every account that has it; it is never deleted (contracts are
//! only deleted when they self-destruct in the transaction that created them, and code is small next to
//! the state it serves).
//!
//! # Versions and migrations
//! `meta.schema_version` is the layout's version; [`SCHEMA_VERSION`] is the one this build writes. Opening
//! a database of a newer version fails with [`StoreError::SchemaTooNew`] (an older build must not write a
//! layout it does not know). An older database is brought up to date by [`MIGRATIONS`], each step in the
//! same write transaction as the version it sets, so a crash during a migration leaves either the old
//! version or the new one. Version 0 is a database without `meta`: a fresh file. Version 2 added `blocks`
//! (the chain of block hashes behind `BLOCKHASH`); its migration computes the headers of the blocks already
//! committed from their stored receipts, in one pass over the `receipts` table.

use crate::codec::{
    changes_hash, receipt_hash, root, AccountRow, BlockHeader, ContractInfo, Receipt, ACCOUNT_LEN, BLOCK_ROW_LEN,
    CONTRACT_LEN, SLOT_KEY_LEN,
};
use crate::StoreError;
use redb::{Database, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable, Table, TableDefinition};
use redb::{TableHandle, WriteTransaction};
use ruint::aliases::U256;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use zvm_runtime::{Account, Address};

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: u64 = MIGRATIONS.len() as u64;

type AddressKey = &'static [u8; 20];
type HashKey = &'static [u8; 32];
type SlotKey = &'static [u8; SLOT_KEY_LEN];
type AccountValue = &'static [u8; ACCOUNT_LEN];
type ContractValue = &'static [u8; CONTRACT_LEN];
type Word = &'static [u8; 32];
type Bytes = &'static [u8];
type BlockValue = &'static [u8; BLOCK_ROW_LEN];

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const ACCOUNTS: TableDefinition<AddressKey, AccountValue> = TableDefinition::new("accounts");
const CODE: TableDefinition<HashKey, Bytes> = TableDefinition::new("code");
const STORAGE: TableDefinition<SlotKey, Word> = TableDefinition::new("storage");
const CONTRACTS: TableDefinition<AddressKey, ContractValue> = TableDefinition::new("contracts");
const RECEIPTS: TableDefinition<u64, Bytes> = TableDefinition::new("receipts");
const NAMES: TableDefinition<&str, AddressKey> = TableDefinition::new("names");
const BLOCKS: TableDefinition<u64, BlockValue> = TableDefinition::new("blocks");

const KEY_VERSION: &str = "schema_version";
const KEY_BLOCK: &str = "block";
const KEY_NEXT_CALL: &str = "next_call";

/// One step of the schema's history: it takes a database at version `index` (its position in
/// [`MIGRATIONS`]) to version `index + 1`.
pub struct Migration {
    /// What the step changes, for error messages.
    pub what: &'static str,
    pub run: fn(&WriteTransaction) -> Result<(), StoreError>,
}

/// The schema's history, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration { what: "create the state, receipt and name tables", run: create_v1 },
    Migration { what: "add the block headers (block hashes)", run: create_v2 },
];

fn create_v1(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(ACCOUNTS)?;
    txn.open_table(CODE)?;
    txn.open_table(STORAGE)?;
    txn.open_table(CONTRACTS)?;
    txn.open_table(RECEIPTS)?;
    txn.open_table(NAMES)?;
    let mut meta = txn.open_table(META)?;
    meta.insert(KEY_BLOCK, 0)?;
    meta.insert(KEY_NEXT_CALL, 1)?;
    Ok(())
}

/// Version 2: the `blocks` table, with a header for every block already committed, computed from the
/// stored receipts (timestamp and changes root zero: version 1 did not record them).
fn create_v2(txn: &WriteTransaction) -> Result<(), StoreError> {
    let head = {
        let meta = txn.open_table(META)?;
        let head = meta.get(KEY_BLOCK)?.map(|v| v.value());
        head.ok_or_else(|| StoreError::Corrupt("meta.block is missing".into()))?
    };
    let mut blocks = txn.open_table(BLOCKS)?;
    let receipts = txn.open_table(RECEIPTS)?;
    let mut rows = receipts.iter()?;
    // The next receipt, read but not yet placed in a block: its id, block and hash.
    let mut pending: Option<(u64, u64, [u8; 32])> = None;
    let mut next_id = 1;
    let mut parent = [0u8; 32];
    for number in 1..=head {
        let first_receipt = next_id;
        let mut hashes = Vec::new();
        loop {
            if pending.is_none() {
                if let Some(entry) = rows.next() {
                    let (id, row) = entry?;
                    let (id, row) = (id.value(), row.value());
                    let block =
                        row.get(..8).ok_or_else(|| StoreError::Corrupt(format!("receipt {id} is truncated")))?;
                    let block = u64::from_be_bytes(block.try_into().unwrap_or_default());
                    pending = Some((id, block, receipt_hash(id, row)));
                }
            }
            match pending {
                Some((id, block, hash)) if block == number => {
                    if id != next_id {
                        return Err(StoreError::Corrupt(format!("receipt {next_id} is missing")));
                    }
                    hashes.push(hash);
                    next_id += 1;
                    pending = None;
                }
                Some((id, block, _)) if block < number => {
                    return Err(StoreError::Corrupt(format!("receipt {id} of block {block} is out of order")));
                }
                _ => break,
            }
        }
        let header = BlockHeader {
            parent,
            number,
            timestamp: 0,
            first_receipt,
            receipts: hashes.len() as u64,
            receipts_root: root(&hashes),
            changes_root: [0; 32],
        };
        blocks.insert(number, &header.row())?;
        parent = header.hash();
    }
    if let Some((id, block, _)) = pending {
        return Err(StoreError::Corrupt(format!("receipt {id} is in block {block}, after the last block {head}")));
    }
    Ok(())
}

/// The schema version of the database in `txn` (0 if it has none).
fn version_of(txn: &WriteTransaction) -> Result<u64, StoreError> {
    if !txn.list_tables()?.any(|t| t.name() == META.name()) {
        return Ok(0);
    }
    let meta = txn.open_table(META)?;
    let version = meta.get(KEY_VERSION)?.map(|v| v.value());
    Ok(version.unwrap_or(0))
}

/// Brings `db` to the last version of `migrations`, one durable transaction per step.
pub(crate) fn migrate(db: &Database, migrations: &[Migration]) -> Result<u64, StoreError> {
    let supported = migrations.len() as u64;
    loop {
        let txn = db.begin_write()?;
        let found = version_of(&txn)?;
        if found > supported {
            return Err(StoreError::SchemaTooNew { found, supported });
        }
        let Some(step) = migrations.get(found as usize) else {
            return Ok(found);
        };
        (step.run)(&txn).map_err(|e| StoreError::Migration { to: found + 1, what: step.what, source: Box::new(e) })?;
        txn.open_table(META)?.insert(KEY_VERSION, found + 1)?;
        txn.commit()?;
    }
}

/// An open database.
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens the database at `path`, creating it if missing and migrating it if older than this build.
    /// Fails if another process has it open, or if it was written by a newer build.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = Database::create(path)?;
        migrate(&db, MIGRATIONS)?;
        Ok(Store { db })
    }

    /// A consistent snapshot of everything committed so far.
    pub fn read(&self) -> Result<ReadView, StoreError> {
        ReadView::new(self.db.begin_read()?)
    }

    /// One account of the committed state: [`ReadView::account`] without opening the other tables (a
    /// view opens eight; this is the RPC's check, on every call, that the callee is a contract).
    pub fn account(&self, address: Address) -> Result<Option<AccountRow>, StoreError> {
        let accounts = self.db.begin_read()?.open_table(ACCOUNTS)?;
        Ok(accounts.get(&address.0)?.map(|row| AccountRow::decode(row.value())))
    }

    /// Starts the write transaction of one commit batch.
    pub(crate) fn begin_write(&self) -> Result<WriteTransaction, StoreError> {
        Ok(self.db.begin_write()?)
    }
}

fn slot_key(address: Address, key: U256) -> [u8; SLOT_KEY_LEN] {
    let mut k = [0u8; SLOT_KEY_LEN];
    k[..20].copy_from_slice(&address.0);
    k[20..].copy_from_slice(&key.to_be_bytes::<32>());
    k
}

/// The storage keys of `address`: from its slot 0 to its slot 2^256 - 1.
fn slot_range(address: Address) -> ([u8; SLOT_KEY_LEN], [u8; SLOT_KEY_LEN]) {
    (slot_key(address, U256::ZERO), slot_key(address, U256::MAX))
}

/// Read access to account state, for a snapshot ([`ReadView`]) or the open commit batch. `&mut self` so
/// that a reader may fill a cache.
pub trait StateReader {
    fn account(&mut self, address: Address) -> Result<Option<AccountRow>, StoreError>;
    /// The code with hash `hash`; a hash without code is a damaged database.
    fn code(&mut self, hash: &[u8; 32]) -> Result<Arc<[u8]>, StoreError>;
    fn slot(&mut self, address: Address, key: U256) -> Result<U256, StoreError>;
    /// True if `address` has any non-zero storage slot.
    fn has_storage(&mut self, address: Address) -> Result<bool, StoreError>;
    /// The hash of committed block `number`, if there is such a block (block 0, the empty database, has
    /// none).
    fn block_hash(&mut self, number: u64) -> Result<Option<[u8; 32]>, StoreError>;
}

/// The tables that hold account state (and the block hashes calls can read), over read-only or writable
/// tables.
struct StateTables<A, C, S, B> {
    accounts: A,
    code: C,
    storage: S,
    blocks: B,
}

impl<A, C, S, B> StateReader for StateTables<A, C, S, B>
where
    A: ReadableTable<AddressKey, AccountValue>,
    C: ReadableTable<HashKey, Bytes>,
    S: ReadableTable<SlotKey, Word>,
    B: ReadableTable<u64, BlockValue>,
{
    fn account(&mut self, address: Address) -> Result<Option<AccountRow>, StoreError> {
        Ok(self.accounts.get(&address.0)?.map(|row| AccountRow::decode(row.value())))
    }

    fn code(&mut self, hash: &[u8; 32]) -> Result<Arc<[u8]>, StoreError> {
        match self.code.get(hash)? {
            Some(code) => Ok(Arc::from(code.value())),
            None => Err(StoreError::Corrupt(format!("no code for hash 0x{}", hex_of(hash)))),
        }
    }

    fn slot(&mut self, address: Address, key: U256) -> Result<U256, StoreError> {
        let value = self.storage.get(&slot_key(address, key))?;
        Ok(value.map_or(U256::ZERO, |v| U256::from_be_bytes(*v.value())))
    }

    fn has_storage(&mut self, address: Address) -> Result<bool, StoreError> {
        let (lo, hi) = slot_range(address);
        Ok(self.storage.range::<&[u8; SLOT_KEY_LEN]>(&lo..=&hi)?.next().is_some())
    }

    fn block_hash(&mut self, number: u64) -> Result<Option<[u8; 32]>, StoreError> {
        Ok(block_row(&self.blocks, number)?.map(|(hash, _)| hash))
    }
}

/// The state tables of a snapshot, and of a write transaction.
type ReadOnlyState = StateTables<
    ReadOnlyTable<AddressKey, AccountValue>,
    ReadOnlyTable<HashKey, Bytes>,
    ReadOnlyTable<SlotKey, Word>,
    ReadOnlyTable<u64, BlockValue>,
>;
type WritableState<'t> = StateTables<
    Table<'t, AddressKey, AccountValue>,
    Table<'t, HashKey, Bytes>,
    Table<'t, SlotKey, Word>,
    Table<'t, u64, BlockValue>,
>;

/// Block `number`'s hash and header, checked.
fn block_row(
    blocks: &impl ReadableTable<u64, BlockValue>,
    number: u64,
) -> Result<Option<([u8; 32], BlockHeader)>, StoreError> {
    let Some(row) = blocks.get(number)? else { return Ok(None) };
    let (hash, header) = BlockHeader::from_row(row.value())?;
    if header.number != number {
        return Err(StoreError::Corrupt(format!("the row of block {number} holds block {}", header.number)));
    }
    Ok(Some((hash, header)))
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A snapshot reads state as the commit batch does: a read-only call ([`crate::Node::query`]) runs on it.
impl StateReader for ReadView {
    fn account(&mut self, address: Address) -> Result<Option<AccountRow>, StoreError> {
        self.state.account(address)
    }
    fn code(&mut self, hash: &[u8; 32]) -> Result<Arc<[u8]>, StoreError> {
        self.state.code(hash)
    }
    fn slot(&mut self, address: Address, key: U256) -> Result<U256, StoreError> {
        self.state.slot(address, key)
    }
    fn has_storage(&mut self, address: Address) -> Result<bool, StoreError> {
        self.state.has_storage(address)
    }
    fn block_hash(&mut self, number: u64) -> Result<Option<[u8; 32]>, StoreError> {
        self.state.block_hash(number)
    }
}

/// A consistent snapshot of the committed state, receipts and names.
pub struct ReadView {
    meta: ReadOnlyTable<&'static str, u64>,
    state: ReadOnlyState,
    contracts: ReadOnlyTable<AddressKey, ContractValue>,
    receipts: ReadOnlyTable<u64, Bytes>,
    names: ReadOnlyTable<&'static str, AddressKey>,
}

impl ReadView {
    fn new(txn: ReadTransaction) -> Result<ReadView, StoreError> {
        Ok(ReadView {
            meta: txn.open_table(META)?,
            state: StateTables {
                accounts: txn.open_table(ACCOUNTS)?,
                code: txn.open_table(CODE)?,
                storage: txn.open_table(STORAGE)?,
                blocks: txn.open_table(BLOCKS)?,
            },
            contracts: txn.open_table(CONTRACTS)?,
            receipts: txn.open_table(RECEIPTS)?,
            names: txn.open_table(NAMES)?,
        })
    }

    fn meta(&self, key: &str) -> Result<u64, StoreError> {
        self.meta.get(key)?.map(|v| v.value()).ok_or_else(|| StoreError::Corrupt(format!("meta.{key} is missing")))
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<u64, StoreError> {
        self.meta(KEY_VERSION)
    }

    /// The number of the last committed block (commit batch); 0 before the first.
    pub fn block(&self) -> Result<u64, StoreError> {
        self.meta(KEY_BLOCK)
    }

    /// How many calls have been committed (the id of the last receipt).
    pub fn calls(&self) -> Result<u64, StoreError> {
        self.meta(KEY_NEXT_CALL)?.checked_sub(1).ok_or_else(|| StoreError::Corrupt("meta.next_call is 0".into()))
    }

    /// An account's row, if it exists.
    pub fn account(&mut self, address: Address) -> Result<Option<AccountRow>, StoreError> {
        self.state.account(address)
    }

    /// An account's code (empty if it has none or does not exist).
    pub fn code(&mut self, address: Address) -> Result<Arc<[u8]>, StoreError> {
        match self.state.account(address)?.and_then(|a| a.code_hash) {
            Some(hash) => self.state.code(&hash),
            None => Ok(Arc::from(&[][..])),
        }
    }

    /// A storage slot (zero if unset).
    pub fn storage(&mut self, address: Address, key: U256) -> Result<U256, StoreError> {
        self.state.slot(address, key)
    }

    /// Up to `limit` non-zero storage slots of `address`, in key order, and whether there are more.
    pub fn storage_of(&self, address: Address, limit: usize) -> Result<(Vec<(U256, U256)>, bool), StoreError> {
        let (lo, hi) = slot_range(address);
        let mut slots = Vec::new();
        for entry in self.state.storage.range::<&[u8; SLOT_KEY_LEN]>(&lo..=&hi)? {
            if slots.len() == limit {
                return Ok((slots, true));
            }
            let (k, v) = entry?;
            slots.push((U256::from_be_slice(&k.value()[20..]), U256::from_be_bytes(*v.value())));
        }
        Ok((slots, false))
    }

    /// What the store records about the contract at `address`.
    pub fn contract(&self, address: Address) -> Result<Option<ContractInfo>, StoreError> {
        self.contracts.get(&address.0)?.map(|row| ContractInfo::decode(row.value())).transpose()
    }

    /// The receipt of call `id`.
    pub fn receipt(&self, id: u64) -> Result<Option<Receipt>, StoreError> {
        self.receipts.get(id)?.map(|row| Receipt::decode(id, row.value())).transpose()
    }

    /// The receipts from id `from` on, in order (read lazily: stop when you have enough).
    pub fn receipts_from(
        &self,
        from: u64,
    ) -> Result<impl Iterator<Item = Result<Receipt, StoreError>> + '_, StoreError> {
        Ok(self.receipts.range(from..)?.map(|entry| {
            let (id, row) = entry?;
            Receipt::decode(id.value(), row.value())
        }))
    }

    /// The hash and header of block `number` (none for block 0 and for blocks not yet committed).
    pub fn block_header(&self, number: u64) -> Result<Option<([u8; 32], BlockHeader)>, StoreError> {
        block_row(&self.state.blocks, number)
    }

    /// The id of the first receipt of block `number` or a later one: 1 for block 0, the next receipt's id
    /// for a block not yet committed.
    pub fn first_receipt_from_block(&self, number: u64) -> Result<u64, StoreError> {
        if number == 0 {
            return Ok(1);
        }
        match self.block_header(number)? {
            Some((_, header)) => Ok(header.first_receipt),
            None if number > self.block()? => Ok(self.calls()? + 1),
            None => Err(StoreError::Corrupt(format!("block {number} has no header"))),
        }
    }

    /// The address registered under `name`.
    pub fn resolve(&self, name: &str) -> Result<Option<Address>, StoreError> {
        Ok(self.names.get(name)?.map(|a| Address(*a.value())))
    }

    /// Registered names in order, starting after `after` (for paging), at most `limit`.
    pub fn names(&self, after: Option<&str>, limit: usize) -> Result<Vec<(String, Address)>, StoreError> {
        let range = match after {
            Some(after) => self.names.range::<&str>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))?,
            None => self.names.range::<&str>(..)?,
        };
        let mut out = Vec::new();
        for entry in range.take(limit) {
            let (name, address) = entry?;
            out.push((name.value().to_owned(), Address(*address.value())));
        }
        Ok(out)
    }

    /// The whole account state, as the in-memory host holds it: for tests and tools on small databases
    /// (it reads everything into memory).
    pub fn dump(&mut self) -> Result<BTreeMap<Address, Account>, StoreError> {
        let mut out = BTreeMap::new();
        let mut rows = Vec::new();
        for entry in self.state.accounts.iter()? {
            let (address, row) = entry?;
            rows.push((Address(*address.value()), AccountRow::decode(row.value())));
        }
        for (address, row) in rows {
            let code = match row.code_hash {
                Some(hash) => self.state.code(&hash)?.to_vec(),
                None => Vec::new(),
            };
            out.insert(
                address,
                Account { balance: row.balance, nonce: row.nonce, code: code.into(), storage: Default::default() },
            );
        }
        for entry in self.state.storage.iter()? {
            let (key, value) = entry?;
            let mut address = [0u8; 20];
            address.copy_from_slice(&key.value()[..20]);
            let account = out
                .get_mut(&Address(address))
                .ok_or_else(|| StoreError::Corrupt(format!("storage of a missing account 0x{}", hex_of(&address))))?;
            account.storage.insert(U256::from_be_slice(&key.value()[20..]), U256::from_be_bytes(*value.value()));
        }
        Ok(out)
    }
}

/// What one call changed, ready to be written: the difference between the state it started from and the
/// state it ended with.
#[derive(Debug, Default)]
pub struct StateDiff {
    /// New rows of changed accounts; `None` deletes the account with all its storage.
    pub accounts: Vec<(Address, Option<AccountRow>)>,
    /// Code that appeared, by hash.
    pub code: Vec<([u8; 32], Arc<[u8]>)>,
    /// Changed slots of accounts that still exist; a zero value deletes the slot.
    pub storage: Vec<(Address, U256, U256)>,
    /// Contracts that appeared.
    pub contracts: Vec<(Address, ContractInfo)>,
}

/// The open write transaction of one commit batch, with its tables. Everything a batch's calls write goes
/// through here, and becomes durable (all of it) when the transaction commits.
pub(crate) struct Batch<'t> {
    meta: Table<'t, &'static str, u64>,
    state: WritableState<'t>,
    contracts: Table<'t, AddressKey, ContractValue>,
    receipts: Table<'t, u64, Bytes>,
    names: Table<'t, &'static str, AddressKey>,
    /// The block this batch commits.
    pub block: u64,
    next_call: u64,
    /// The hash of the previous block, and the block's receipt id range and roots so far.
    parent: [u8; 32],
    first_receipt: u64,
    receipt_hashes: Vec<[u8; 32]>,
    change_hashes: Vec<[u8; 32]>,
}

impl<'t> Batch<'t> {
    pub fn open(txn: &'t WriteTransaction) -> Result<Batch<'t>, StoreError> {
        let meta = txn.open_table(META)?;
        let get = |key: &str| -> Result<u64, StoreError> {
            meta.get(key)?.map(|v| v.value()).ok_or_else(|| StoreError::Corrupt(format!("meta.{key} is missing")))
        };
        let block =
            get(KEY_BLOCK)?.checked_add(1).ok_or_else(|| StoreError::Corrupt("meta.block is at its maximum".into()))?;
        let next_call = get(KEY_NEXT_CALL)?;
        let blocks = txn.open_table(BLOCKS)?;
        let parent = match block - 1 {
            0 => [0; 32],
            previous => match block_row(&blocks, previous)? {
                Some((hash, _)) => hash,
                None => return Err(StoreError::Corrupt(format!("block {previous} has no header"))),
            },
        };
        Ok(Batch {
            state: StateTables {
                accounts: txn.open_table(ACCOUNTS)?,
                code: txn.open_table(CODE)?,
                storage: txn.open_table(STORAGE)?,
                blocks,
            },
            contracts: txn.open_table(CONTRACTS)?,
            receipts: txn.open_table(RECEIPTS)?,
            names: txn.open_table(NAMES)?,
            meta,
            block,
            next_call,
            parent,
            first_receipt: next_call,
            receipt_hashes: Vec::new(),
            change_hashes: Vec::new(),
        })
    }

    /// The batch's state as written so far (committed state plus the calls already applied).
    pub fn reader(&mut self) -> &mut dyn StateReader {
        &mut self.state
    }

    /// True if no call has been committed yet, in this batch or before.
    pub fn at_start(&self) -> bool {
        self.next_call == 1
    }

    /// The address registered under `name`, as of this batch.
    pub fn resolve(&self, name: &str) -> Result<Option<Address>, StoreError> {
        Ok(self.names.get(name)?.map(|a| Address(*a.value())))
    }

    /// Writes one call: its state changes, names and receipt. Returns the receipt's id. An error here
    /// leaves the batch half-written: the caller must abort the whole batch.
    pub fn apply(
        &mut self,
        diff: &StateDiff,
        names: &[(String, Address)],
        receipt: impl FnOnce(u64) -> Receipt,
    ) -> Result<Receipt, StoreError> {
        for (address, row) in &diff.accounts {
            match row {
                Some(row) => {
                    self.state.accounts.insert(&address.0, &row.encode())?;
                }
                None => {
                    self.state.accounts.remove(&address.0)?;
                    self.contracts.remove(&address.0)?;
                    let (lo, hi) = slot_range(*address);
                    self.state.storage.retain_in::<&[u8; SLOT_KEY_LEN], _>(&lo..=&hi, |_, _| false)?;
                }
            }
        }
        for (hash, code) in &diff.code {
            self.state.code.insert(hash, &**code)?;
        }
        for &(address, key, value) in &diff.storage {
            let k = slot_key(address, key);
            if value.is_zero() {
                self.state.storage.remove(&k)?;
            } else {
                self.state.storage.insert(&k, &value.to_be_bytes::<32>())?;
            }
        }
        for (address, info) in &diff.contracts {
            self.contracts.insert(&address.0, &info.encode())?;
        }
        for (name, address) in names {
            self.names.insert(name.as_str(), &address.0)?;
        }
        let receipt = receipt(self.next_call);
        let row = receipt.encode();
        self.receipts.insert(receipt.id, row.as_slice())?;
        self.receipt_hashes.push(receipt_hash(receipt.id, &row));
        self.change_hashes.push(changes_hash(diff, names));
        self.next_call += 1;
        Ok(receipt)
    }

    /// Records the batch's counters and its block header (with `timestamp`, the block environment's);
    /// the transaction can then commit. Returns the header.
    pub fn finish(mut self, timestamp: u64) -> Result<BlockHeader, StoreError> {
        let header = BlockHeader {
            parent: self.parent,
            number: self.block,
            timestamp,
            first_receipt: self.first_receipt,
            receipts: self.next_call - self.first_receipt,
            receipts_root: root(&self.receipt_hashes),
            changes_root: root(&self.change_hashes),
        };
        self.state.blocks.insert(self.block, &header.row())?;
        self.meta.insert(KEY_BLOCK, self.block)?;
        self.meta.insert(KEY_NEXT_CALL, self.next_call)?;
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn a_fresh_file_is_created_at_the_current_version() {
        let dir = temp();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let view = store.read().unwrap();
        assert_eq!(view.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!((view.block().unwrap(), view.calls().unwrap()), (0, 0));
    }

    #[test]
    fn a_version_0_database_is_migrated() {
        // Version 0: a redb file written without `meta` (as by a tool that predates versioning). Its
        // unrelated table survives; the state tables appear.
        let dir = temp();
        let path = dir.path().join("db");
        const OTHER: TableDefinition<&str, u64> = TableDefinition::new("other");
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(OTHER).unwrap().insert("kept", 7).unwrap();
            txn.commit().unwrap();
        }
        let store = Store::open(&path).unwrap();
        let mut view = store.read().unwrap();
        assert_eq!(view.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(view.account(Address::from_low_u64(1)).unwrap(), None);
        assert_eq!(view.names(None, 10).unwrap(), vec![]);
        let txn = store.db.begin_read().unwrap();
        assert_eq!(txn.open_table(OTHER).unwrap().get("kept").unwrap().unwrap().value(), 7);
    }

    #[test]
    fn a_newer_database_is_refused_and_left_alone() {
        let dir = temp();
        let path = dir.path().join("db");
        {
            let store = Store::open(&path).unwrap();
            let txn = store.db.begin_write().unwrap();
            txn.open_table(META).unwrap().insert(KEY_VERSION, SCHEMA_VERSION + 1).unwrap();
            txn.commit().unwrap();
        }
        let err = Store::open(&path).err().unwrap();
        assert!(
            matches!(err, StoreError::SchemaTooNew { found, supported } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION)
        );
        assert!(err.to_string().contains("newer"), "{err}");
        let db = Database::open(&path).unwrap();
        let txn = db.begin_read().unwrap();
        assert_eq!(txn.open_table(META).unwrap().get(KEY_VERSION).unwrap().unwrap().value(), SCHEMA_VERSION + 1);
    }

    const EXTRA: TableDefinition<&str, u64> = TableDefinition::new("extra");

    fn add_extra(txn: &WriteTransaction) -> Result<(), StoreError> {
        txn.open_table(EXTRA)?.insert("x", 1)?;
        Ok(())
    }

    fn fail(txn: &WriteTransaction) -> Result<(), StoreError> {
        txn.open_table(EXTRA)?.insert("x", 2)?;
        Err(StoreError::Corrupt("step failed".into()))
    }

    #[test]
    fn migrations_run_in_order_from_the_stored_version_and_a_failing_step_changes_nothing() {
        let dir = temp();
        let db = Database::create(dir.path().join("db")).unwrap();
        let v1 = [Migration { what: "v1", run: create_v1 }];
        assert_eq!(migrate(&db, &v1).unwrap(), 1);
        let v3 = [
            Migration { what: "v1", run: create_v1 },
            Migration { what: "v2", run: add_extra },
            Migration { what: "v3", run: fail },
        ];
        let err = migrate(&db, &v3).err().unwrap();
        assert!(matches!(err, StoreError::Migration { to: 3, .. }), "{err}");
        // Step 2 committed on its own; step 3's write was rolled back with its version.
        let txn = db.begin_write().unwrap();
        assert_eq!(version_of(&txn).unwrap(), 2);
        assert_eq!(txn.open_table(EXTRA).unwrap().get("x").unwrap().unwrap().value(), 1);
        txn.abort().unwrap();
        // Going back to a shorter history is refused.
        assert!(matches!(migrate(&db, &v1), Err(StoreError::SchemaTooNew { found: 2, supported: 1 })));
    }

    #[test]
    fn version_2_computes_the_headers_of_the_blocks_already_committed() {
        // A version 1 database: receipts 1 and 2 in block 1, none in block 2 (a batch of refused requests),
        // receipt 3 in block 3.
        let dir = temp();
        let path = dir.path().join("db");
        let receipt = |id, block| Receipt {
            id,
            block,
            status: zvm_runtime::Status::Success,
            gas_used: id,
            gas_refunded: 0,
            output: vec![id as u8],
            logs: vec![],
            created: None,
        };
        let receipts = [receipt(1, 1), receipt(2, 1), receipt(3, 3)];
        {
            let db = Database::create(&path).unwrap();
            assert_eq!(migrate(&db, &MIGRATIONS[..1]).unwrap(), 1);
            let txn = db.begin_write().unwrap();
            {
                let mut table = txn.open_table(RECEIPTS).unwrap();
                for r in &receipts {
                    table.insert(r.id, r.encode().as_slice()).unwrap();
                }
                let mut meta = txn.open_table(META).unwrap();
                meta.insert(KEY_BLOCK, 3).unwrap();
                meta.insert(KEY_NEXT_CALL, 4).unwrap();
            }
            txn.commit().unwrap();
        }
        let store = Store::open(&path).unwrap();
        let view = store.read().unwrap();
        assert_eq!(view.schema_version().unwrap(), 2);
        let hash_of = |r: &Receipt| receipt_hash(r.id, &r.encode());
        let expected = [
            (1, 2, root(&[hash_of(&receipts[0]), hash_of(&receipts[1])])),
            (3, 0, root(&[])),
            (3, 1, root(&[hash_of(&receipts[2])])),
        ];
        let mut parent = [0; 32];
        for (n, (first_receipt, count, receipts_root)) in (1..).zip(expected) {
            let (hash, header) = view.block_header(n).unwrap().unwrap();
            let want = BlockHeader {
                parent,
                number: n,
                timestamp: 0,
                first_receipt,
                receipts: count,
                receipts_root,
                changes_root: [0; 32],
            };
            assert_eq!(header, want, "block {n}");
            assert_eq!(hash, want.hash());
            parent = hash;
        }
        assert_eq!(view.first_receipt_from_block(2).unwrap(), 3);
        assert_eq!(view.first_receipt_from_block(9).unwrap(), 4);
        drop(view);
        // The next block chains onto the migrated ones.
        commit(&store, &StateDiff::default());
        let (_, header) = store.read().unwrap().block_header(4).unwrap().unwrap();
        assert_eq!((header.parent, header.first_receipt, header.receipts), (parent, 4, 1));
    }

    #[test]
    fn a_damaged_receipts_table_fails_the_migration_and_leaves_version_1() {
        let dir = temp();
        let path = dir.path().join("db");
        {
            let db = Database::create(&path).unwrap();
            migrate(&db, &MIGRATIONS[..1]).unwrap();
            let txn = db.begin_write().unwrap();
            {
                // Receipt 1 says block 5, but the database's last block is 2.
                let mut table = txn.open_table(RECEIPTS).unwrap();
                table.insert(1, [0, 0, 0, 0, 0, 0, 0, 5].as_slice()).unwrap();
                let mut meta = txn.open_table(META).unwrap();
                meta.insert(KEY_BLOCK, 2).unwrap();
                meta.insert(KEY_NEXT_CALL, 2).unwrap();
            }
            txn.commit().unwrap();
        }
        let err = Store::open(&path).err().unwrap();
        assert!(
            matches!(&err, StoreError::Migration { to: 2, source, .. } if matches!(**source, StoreError::Corrupt(_))),
            "{err}"
        );
        let db = Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        assert_eq!(version_of(&txn).unwrap(), 1);
    }

    fn commit(store: &Store, diff: &StateDiff) {
        let txn = store.begin_write().unwrap();
        let mut batch = Batch::open(&txn).unwrap();
        let block = batch.block;
        batch
            .apply(diff, &[], |id| Receipt {
                id,
                block,
                status: zvm_runtime::Status::Success,
                gas_used: 0,
                gas_refunded: 0,
                output: vec![],
                logs: vec![],
                created: None,
            })
            .unwrap();
        batch.finish(0).unwrap();
        txn.commit().unwrap();
    }

    #[test]
    fn deleting_an_account_deletes_its_storage_and_nothing_else() {
        let dir = temp();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let (a, b) = (Address::from_low_u64(0xA), Address::from_low_u64(0xB));
        let row = Some(AccountRow { balance: U256::from(1), nonce: 1, code_hash: None });
        let slot = |address, k: u64| (address, U256::from(k), U256::from(k + 100));
        commit(
            &store,
            &StateDiff {
                accounts: vec![(a, row), (b, row)],
                storage: vec![slot(a, 1), slot(a, 2), slot(b, 1)],
                ..StateDiff::default()
            },
        );
        commit(&store, &StateDiff { accounts: vec![(a, None)], ..StateDiff::default() });
        let mut view = store.read().unwrap();
        assert_eq!(view.account(a).unwrap(), None);
        assert_eq!(view.storage_of(a, 10).unwrap(), (vec![], false));
        assert_eq!(view.storage_of(b, 10).unwrap(), (vec![(U256::from(1), U256::from(101))], false));
        assert_eq!((view.block().unwrap(), view.calls().unwrap()), (2, 2));
        assert_eq!(view.receipt(2).unwrap().map(|r| r.block), Some(2));
    }
}
