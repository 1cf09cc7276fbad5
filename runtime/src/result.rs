//! What an execution produces.

use crate::host::Address;
use ruint::aliases::U256;
use zvm_ir::TrapCode;

/// How an execution ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Halted normally; state changes are kept.
    Success,
    /// Reverted: state changes undone, unused gas returned, output is the revert data.
    Revert,
    /// Ran out of gas: state changes undone, all gas consumed.
    OutOfGas,
    /// Trapped: state changes undone, all gas consumed.
    Trap(TrapCode),
    /// The code was rejected before running (malformed, or uses an unsupported opcode); nothing ran.
    InvalidCode(String),
}

impl Status {
    /// True for [`Status::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, Status::Success)
    }

    /// A short machine-friendly name (`success`, `revert`, `out_of_gas`, `trap:stack_underflow`, ...).
    pub fn name(&self) -> String {
        match self {
            Status::Success => "success".into(),
            Status::Revert => "revert".into(),
            Status::OutOfGas => "out_of_gas".into(),
            Status::Trap(code) => format!("trap:{}", code.name()),
            Status::InvalidCode(_) => "invalid_code".into(),
        }
    }
}

/// An event emitted with `LOGn`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Log {
    pub address: Address,
    pub topics: Vec<U256>,
    pub data: Vec<u8>,
}

/// The outcome of running code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecResult {
    pub status: Status,
    /// Gas consumed, after refunds (the whole limit on out-of-gas and traps).
    pub gas_used: u64,
    /// Gas refunded on success (already subtracted from `gas_used`).
    pub gas_refunded: u64,
    /// Return data on success, revert data on revert, empty otherwise.
    pub output: Vec<u8>,
    /// Logs emitted, only on success.
    pub logs: Vec<Log>,
}
