//! zvm's node: contract state that survives the process, with calls that are durable when acknowledged.
//!
//! Layout, following a call:
//! - [`node`]: the [`Node`] — a queue of [`Request`]s, one writer thread that executes them in order, and
//!   group commit: a batch of calls becomes durable in one `fsync`, then each call is acknowledged.
//! - [`state`]: [`StateHost`], the [`zvm_runtime::Host`] of one call — the runtime's journaled in-memory
//!   host as an overlay that loads accounts and slots from the store on first touch, and ends as one diff.
//! - [`cache`]: hot accounts, code and slots in memory in front of the store.
//! - [`rpc`]: the QUIC RPC — protocol, server, client — that puts a node on the network.
//! - [`store`]: the redb database — tables, schema version and migrations, snapshots ([`ReadView`]) and
//!   the write side of a batch. [`codec`]: the byte layout of its rows.
//!
//! # Durability model
//! - **Acknowledged means durable.** [`Pending::wait`] (and [`Node::execute`]) return a receipt only after
//!   the write transaction holding the call has committed with `fsync`. After a crash — `SIGKILL`, power
//!   loss with a disk that honours `fsync` — every acknowledged call is there.
//! - **All or nothing per call.** A call's state changes, the contracts it created, the names it registered
//!   and its receipt are written in the same transaction; redb commits a transaction atomically, so after a
//!   crash a call is either entirely present or entirely absent. A call that fails to execute correctly
//!   (the store could not be read) or is rejected writes nothing.
//! - **Group commit.** Calls queued while a commit is in progress share the next one: throughput grows
//!   with concurrency, at no latency cost for a lone caller (there is no timer). Calls in flight at a crash
//!   may be lost — they were never acknowledged — but only whole.
//! - **Order.** One writer executes calls in queue order, each on the state the previous ones left, so the
//!   committed history is a sequence; receipts are numbered in it.
//!
//! The crash test (`tests/crash.rs`, with the `zvm-node-crashtest` binary) checks the first two claims by
//! killing a writing process at random moments.

pub mod cache;
pub mod codec;
pub mod node;
pub mod rpc;
pub mod state;
pub mod store;

pub use cache::CacheConfig;
pub use codec::{AccountRow, BlockHeader, ContractInfo, Receipt};
pub use node::{
    CommitObserver, Entry, Executed, Node, NodeConfig, NodeError, NodeStats, Output, Pending, Query, Request,
};
pub use state::{install_contract, DeployError, StateHost};
pub use store::{ReadView, StateReader, Store, SCHEMA_VERSION};

use thiserror::Error;

/// A failure of the database, or a database this build cannot use.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    #[error("the database has schema version {found}, newer than this build supports ({supported}): use a newer zvm")]
    SchemaTooNew { found: u64, supported: u64 },
    #[error("migrating the database to schema version {to} ({what}) failed: {source}")]
    Migration { to: u64, what: &'static str, source: Box<StoreError> },
    #[error("the database is damaged: {0}")]
    Corrupt(String),
}

macro_rules! from_redb {
    ($($t:ident),*) => {$(
        impl From<redb::$t> for StoreError {
            fn from(e: redb::$t) -> Self {
                StoreError::Db(e.into())
            }
        }
    )*};
}
from_redb!(DatabaseError, TransactionError, TableError, StorageError, CommitError);
