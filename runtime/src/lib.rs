//! zvm's runtime: the host interface, the execution frame shared by both tiers, the interpreter tier, the
//! executor for native code, and the entry points that pick a tier and run a program.
//!
//! Layout, following the path of an execution:
//! - [`host`]: the [`Host`] trait (state and environment) and [`InMemoryHost`].
//! - [`frame`]: one execution frame — memory, stack, gas and every non-trivial operation, used by both tiers.
//! - [`memory`]: linear memory, and the guarded reservations compiled WebAssembly runs on without bounds
//!   checks.
//! - [`schedule`]: gas of host operations per bytecode format.
//! - [`interpreter`]: the reference tier, which runs IR directly.
//! - [`compiled`]: runs Cranelift-compiled code against a frame through the helper table.
//! - [`executor`]: loads bytecode, lowers it and runs it on a chosen tier.
//! - [`engine`]: the embedding API — loads contracts once, runs them many times, and moves hot ones to
//!   native code in the background.

pub mod compiled;
pub mod crypto;
pub mod engine;
pub mod executor;
pub mod frame;
pub mod host;
pub mod interpreter;
pub mod limits;
pub mod memory;
pub mod precompiles;
pub mod result;
pub mod schedule;
pub mod tx;
pub mod vm;
pub mod wasm;

pub use engine::{ContractId, Engine, EngineBuilder, EngineError, EngineStats, TierPolicy};
pub use frame::{Exit, Frame, Message};
pub use host::{Account, Address, BlockEnv, FastMap, FastSet, Host, InMemoryHost, TxEnv};
pub use limits::Limits;
pub use result::{ExecResult, Log, Status};
