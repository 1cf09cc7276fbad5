//! Gas costs of host operations that depend on state (cold/warm access, storage transitions).
//!
//! Static per-operation costs are part of each frontend's opcode table and reach the IR as `gas.cost`;
//! what only the host can know is priced here, per bytecode format, and charged by
//! [`crate::frame::Frame::host_call`] on both tiers.

use crate::host::SStoreOutcome;
use ruint::aliases::U256;

/// Dynamic gas of host operations for one bytecode format.
pub trait HostCosts: Sync {
    /// Extra gas of `sload` (on top of the opcode's static cost).
    fn sload(&self, cold: bool) -> u64;
    /// Extra gas of `sstore` writing `new`.
    fn sstore(&self, outcome: &SStoreOutcome, new: U256) -> u64;
    /// Minimum gas that must be left for an `sstore` to be attempted at all (EIP-2200's stipend check);
    /// with this much or less left it runs out of gas.
    fn sstore_min_gas(&self) -> u64;
    /// Gas refunded (on success, capped) for an `sstore` writing `new`.
    fn sstore_refund(&self, outcome: &SStoreOutcome, new: U256) -> u64;
    /// Extra gas of an account access (`balance`, `extcode*`).
    fn account_access(&self, cold: bool) -> u64;
}

/// ZVM's state gas, from the original's `costs.zig` (`Storage`) used as totals; `docs/zvm-bytecode.md`
/// is the specification. A storage access costs the opcode's static 100 when warm and 2100 in total when
/// cold (first touch of the slot in the transaction); a write that changes a slot adds 19900 when it sets a
/// zero slot (20000 in total when warm) and 2800 otherwise (2900). Clearing a slot refunds 15000. Like
/// EIP-2200, `sstore` needs more than 2300 gas left to run at all. Account accesses add 2500 when cold.
#[derive(Clone, Copy, Debug, Default)]
pub struct ZvmCosts;

/// Gas of a warm storage access (the static cost of `SLOAD`/`SSTORE`).
pub const ZVM_STORAGE_WARM: u64 = 100;
/// Total gas of a cold storage access.
pub const ZVM_STORAGE_COLD: u64 = 2100;
/// Total gas of setting a zero slot to non-zero.
pub const ZVM_STORAGE_SET: u64 = 20000;
/// Total gas of changing a non-zero slot.
pub const ZVM_STORAGE_RESET: u64 = 2900;
/// `sstore` runs out of gas with this much or less gas left.
pub const ZVM_SSTORE_STIPEND: u64 = 2300;
/// Refund for clearing a storage slot.
pub const ZVM_STORAGE_CLEAR_REFUND: u64 = 15000;
/// Extra gas of a cold account access.
pub const ZVM_COLD_ACCOUNT: u64 = 2500;

impl HostCosts for ZvmCosts {
    fn sload(&self, cold: bool) -> u64 {
        if cold {
            ZVM_STORAGE_COLD - ZVM_STORAGE_WARM
        } else {
            0
        }
    }

    fn sstore(&self, outcome: &SStoreOutcome, new: U256) -> u64 {
        let cold = self.sload(outcome.cold);
        let write = if outcome.previous == new {
            0
        } else if outcome.previous.is_zero() {
            ZVM_STORAGE_SET - ZVM_STORAGE_WARM
        } else {
            ZVM_STORAGE_RESET - ZVM_STORAGE_WARM
        };
        cold + write
    }

    fn sstore_min_gas(&self) -> u64 {
        ZVM_SSTORE_STIPEND
    }

    fn sstore_refund(&self, outcome: &SStoreOutcome, new: U256) -> u64 {
        if !outcome.previous.is_zero() && new.is_zero() {
            ZVM_STORAGE_CLEAR_REFUND
        } else {
            0
        }
    }

    fn account_access(&self, cold: bool) -> u64 {
        if cold {
            ZVM_COLD_ACCOUNT
        } else {
            0
        }
    }
}
