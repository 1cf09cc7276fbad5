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
    /// Change of the refund counter (applied on success, capped at the end) for an `sstore` writing `new`;
    /// negative when the write undoes an earlier refund.
    fn sstore_refund(&self, outcome: &SStoreOutcome, new: U256) -> i64;
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

    fn sstore_refund(&self, outcome: &SStoreOutcome, new: U256) -> i64 {
        if !outcome.previous.is_zero() && new.is_zero() {
            ZVM_STORAGE_CLEAR_REFUND as i64
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

/// Gas of the calls, creates and `SELFDESTRUCT` shared by the EVM and ZVM (the EVM's values, Cancun).
pub mod calls {
    /// Extra gas of a call that transfers value.
    pub const CALL_VALUE: u64 = 9000;
    /// Extra gas of a value-transferring `CALL` to an empty account (EIP-161), and of a `SELFDESTRUCT`
    /// that sends a balance to one.
    pub const NEW_ACCOUNT: u64 = 25000;
    /// Gas given to the callee on top of what the caller forwards when value is transferred.
    pub const CALL_STIPEND: u64 = 2300;
    /// Extra gas of `SELFDESTRUCT` when the beneficiary is cold (EIP-2929: its full cold-access cost).
    pub const SELFDESTRUCT_COLD: u64 = 2600;
    /// Gas per 32-byte word of init code (EIP-3860).
    pub const INITCODE_WORD: u64 = 2;
    /// Gas per 32-byte word hashed for a `CREATE2` address.
    pub const KECCAK_WORD: u64 = 6;
    /// Gas per byte of deployed code.
    pub const CODE_DEPOSIT_BYTE: u64 = 200;
    /// Deepest message call (the transaction's frame is depth 0).
    pub const MAX_CALL_DEPTH: u32 = 1024;
}

/// The EVM's state gas (Cancun): EIP-2929 warm/cold accesses and EIP-2200/EIP-3529 storage pricing.
/// `SLOAD` and the account accesses carry the warm cost (100) statically in the opcode table; `SSTORE`
/// carries nothing statically and is priced here in full.
#[derive(Clone, Copy, Debug, Default)]
pub struct EvmCosts;

/// EIP-2929: total gas of a cold storage access.
pub const EVM_COLD_SLOAD: u64 = 2100;
/// EIP-2929: gas of a warm storage access.
pub const EVM_WARM_ACCESS: u64 = 100;
/// Gas of setting a zero slot to non-zero.
pub const EVM_SSTORE_SET: u64 = 20000;
/// Gas of changing a non-zero slot (EIP-2929: 5000 minus the cold surcharge).
pub const EVM_SSTORE_RESET: u64 = 2900;
/// EIP-3529: refund for clearing a slot (`SSTORE_RESET + ACCESS_LIST_STORAGE_KEY`).
pub const EVM_SSTORE_CLEAR_REFUND: i64 = 4800;
/// EIP-2929: extra gas of a cold account access.
pub const EVM_COLD_ACCOUNT: u64 = 2500;

impl HostCosts for EvmCosts {
    fn sload(&self, cold: bool) -> u64 {
        if cold {
            EVM_COLD_SLOAD - EVM_WARM_ACCESS
        } else {
            0
        }
    }

    fn sstore(&self, o: &SStoreOutcome, new: U256) -> u64 {
        let cold = if o.cold { EVM_COLD_SLOAD } else { 0 };
        let write = if o.previous == new || o.original != o.previous {
            EVM_WARM_ACCESS
        } else if o.original.is_zero() {
            EVM_SSTORE_SET
        } else {
            EVM_SSTORE_RESET
        };
        cold + write
    }

    fn sstore_min_gas(&self) -> u64 {
        calls::CALL_STIPEND
    }

    fn sstore_refund(&self, o: &SStoreOutcome, new: U256) -> i64 {
        let (original, current) = (o.original, o.previous);
        if current == new {
            return 0;
        }
        if original == current {
            return if !original.is_zero() && new.is_zero() { EVM_SSTORE_CLEAR_REFUND } else { 0 };
        }
        let mut refund = 0;
        if !original.is_zero() {
            if current.is_zero() {
                refund -= EVM_SSTORE_CLEAR_REFUND;
            } else if new.is_zero() {
                refund += EVM_SSTORE_CLEAR_REFUND;
            }
        }
        if original == new {
            let restored = if original.is_zero() { EVM_SSTORE_SET } else { EVM_SSTORE_RESET };
            refund += (restored - EVM_WARM_ACCESS) as i64;
        }
        refund
    }

    fn account_access(&self, cold: bool) -> u64 {
        if cold {
            EVM_COLD_ACCOUNT
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(original: u64, previous: u64, cold: bool) -> SStoreOutcome {
        SStoreOutcome { original: U256::from(original), previous: U256::from(previous), cold }
    }

    /// The EIP-2200 / EIP-3529 table (gas used and refund for original, current, new), warm slot, with the
    /// cases of EIP-3529's test list.
    #[test]
    fn evm_sstore_matches_the_eip_3529_cases() {
        // (original, current, new, gas, refund)
        let cases: [(u64, u64, u64, u64, i64); 10] = [
            (0, 0, 0, 100, 0),
            (0, 0, 1, 20000, 0),
            (0, 1, 0, 100, 19900),
            (0, 1, 2, 100, 0),
            (1, 1, 0, 2900, 4800),
            (1, 0, 1, 100, -4800 + 2800),
            (1, 0, 2, 100, -4800),
            (1, 2, 0, 100, 4800),
            (1, 2, 1, 100, 2800),
            (1, 1, 1, 100, 0),
        ];
        for (original, current, new, gas, refund) in cases {
            let o = outcome(original, current, false);
            let new = U256::from(new);
            assert_eq!(EvmCosts.sstore(&o, new), gas, "{original} {current} {new}");
            assert_eq!(EvmCosts.sstore_refund(&o, new), refund, "{original} {current} {new}");
        }
        assert_eq!(EvmCosts.sstore(&outcome(0, 0, true), U256::from(1)), 22100);
    }
}
