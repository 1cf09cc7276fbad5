//! Ethereum state tests on zvm: reads the filled JSON files of ethereum/tests (`GeneralStateTests`), runs
//! each case's transaction with [`zvm_runtime::tx::transact`] on a chosen tier, and compares the state root
//! and logs hash with the expected ones.
//!
//! Layout, in the order a case goes through:
//! - [`model`]: the file format as serde types, tolerant of the real files.
//! - [`setup`]: the pre-state host and the transaction of one case.
//! - [`state`]: the state root (Merkle-Patricia trie) and the logs hash.
//! - [`skip`]: the repository's one skip list, `statetest/skip.txt`.
//! - [`runner`]: finds files, runs cases in parallel and catches panics, reports per case.
//!
//! `zvm statetest PATH...` is the command-line front end.

pub mod model;
pub mod runner;
pub mod setup;
pub mod skip;
pub mod state;

pub use runner::{run, CaseResult, Failure, LoadFailure, Outcome, Report, RunError, RunOptions};
