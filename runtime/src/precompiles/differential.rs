//! Test support: runs a call on both zvm's precompiles and `revm-precompile`'s Cancun set and requires
//! the same outcome — success with the same gas and output, or failure of the same kind — at a range of
//! gas limits around each contract's price.
//!
//! revm is built here without its optional C backends, so bn254 and KZG run on arkworks on its side
//! (zvm uses `substrate-bn` and `c-kzg`): the comparison is between independent implementations for
//! those two. ecrecover and modexp use the same libraries on both sides (`k256`, `aurora-engine-modexp`),
//! so there the comparison checks parsing, pricing and edge cases, and the known vectors check the math.

use super::{run, PrecompileError, PrecompileOutput};
use crate::host::Address;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use revm_precompile::{PrecompileHalt, PrecompileSpecId, PrecompileStatus, Precompiles};

/// A gas limit above any price the tests generate.
pub(super) const GENEROUS: u64 = 30_000_000;

/// What a call did, comparable across the two implementations.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Ok {
        gas_used: u64,
        output: Vec<u8>,
    },
    OutOfGas,
    Failure,
    /// revm reported an error that aborts the whole transaction; never expected.
    Fatal(String),
}

fn ours(n: u64, input: &[u8], gas_limit: u64) -> Seen {
    match run(&Address::from_low_u64(n), input, gas_limit) {
        Some(Ok(PrecompileOutput { gas_used, output })) => Seen::Ok { gas_used, output },
        Some(Err(PrecompileError::OutOfGas)) => Seen::OutOfGas,
        Some(Err(PrecompileError::Failure(_))) => Seen::Failure,
        None => Seen::Fatal(format!("{n:#x} is not a zvm precompile")),
    }
}

fn revm(n: u64, input: &[u8], gas_limit: u64) -> Seen {
    let Some(precompile) = Precompiles::new(PrecompileSpecId::CANCUN).get(&revm_precompile::u64_to_address(n)) else {
        return Seen::Fatal(format!("{n:#x} is not a revm precompile"));
    };
    match precompile.execute(input, gas_limit, 0) {
        Ok(out) => match out.status {
            PrecompileStatus::Success => Seen::Ok { gas_used: out.gas_used, output: out.bytes.to_vec() },
            PrecompileStatus::Halt(PrecompileHalt::OutOfGas) => Seen::OutOfGas,
            // revm rejects a modexp base or modulus length that does not fit in `usize` before pricing;
            // geth (and zvm) price it, which is out of gas. Both consume all gas.
            PrecompileStatus::Halt(PrecompileHalt::ModexpEip7823LimitSize) => Seen::OutOfGas,
            PrecompileStatus::Halt(_) => Seen::Failure,
            PrecompileStatus::Revert => Seen::Fatal("revm reverted".into()),
        },
        Err(e) => Seen::Fatal(e.to_string()),
    }
}

/// The contract's price for `input` where the spec fixes it without running it, for gas limits at the
/// edge of failing calls (a successful call's price comes from revm's `gas_used`).
fn spec_price(n: u64, input: &[u8]) -> Option<u64> {
    match n {
        1 => Some(3000),
        6 => Some(150),
        7 => Some(6000),
        8 => Some(45_000 + 34_000 * (input.len() / 192) as u64),
        9 if input.len() == 213 => Some(u64::from(u32::from_be_bytes([input[0], input[1], input[2], input[3]]))),
        10 => Some(50_000),
        _ => None,
    }
}

/// Checks one input at several gas limits: none, a little, generous, and just below and at the price.
pub(super) fn check(n: u64, input: &[u8]) -> Result<(), TestCaseError> {
    let mut limits = vec![0, 1, GENEROUS];
    let prices = [
        spec_price(n, input),
        match revm(n, input, GENEROUS) {
            Seen::Ok { gas_used, .. } => Some(gas_used),
            _ => None,
        },
    ];
    for price in prices.into_iter().flatten() {
        limits.extend([price.saturating_sub(1), price]);
    }
    limits.sort_unstable();
    limits.dedup();
    for gas_limit in limits {
        let theirs = revm(n, input, gas_limit);
        prop_assert!(!matches!(theirs, Seen::Fatal(_)), "revm: {theirs:?}");
        prop_assert_eq!(
            ours(n, input, gas_limit),
            theirs,
            "precompile {:#x}, gas limit {}, input {}",
            n,
            gas_limit,
            hex::encode(input)
        );
    }
    Ok(())
}

/// Random bytes of any length up to `max_len`.
pub(super) fn any_input(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..=max_len)
}

#[test]
fn revm_cancun_has_the_same_addresses() {
    let mut theirs: Vec<[u8; 20]> =
        Precompiles::new(PrecompileSpecId::CANCUN).addresses().map(|a| a.into_array()).collect();
    theirs.sort_unstable();
    let ours: Vec<[u8; 20]> = super::addresses().map(|a| a.0).collect();
    assert_eq!(ours, theirs);
}
