//! Differential fuzzing of EVM execution: zvm's interpreter, zvm's JIT and revm on one transaction.
//!
//! The first input byte picks the mode. Raw: the rest is the contract's code as is (undefined opcodes,
//! truncated pushes, jumps into push data), called with a fixed gas budget. Mapped: the rest is read by
//! `zvm_peers::generate::scenario` as choices from a weighted alphabet of EVM operations with sensible
//! operands — calls to precompiles and to a second contract, creates, storage, logs, memory at bounded
//! and huge offsets — and a transaction with a gas limit from tight to ample, so most inputs get far.
//! Either way the three runs must give the same summary (status, gas used, output, logs, created address,
//! whole post-state); `zvm_peers::compare` names every difference.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ruint::aliases::U256;
use zvm_peers::generate::{scenario, transaction, world, CONTRACT};
use zvm_peers::{compare, Mismatch};
use zvm_runtime::executor::CodeFormat;

/// Gas beyond the intrinsic cost for raw code: enough for any short program to run to its end.
const RAW_GAS: u64 = 1_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let (pre, tx) = if mode & 1 == 0 {
        let tx = transaction(Some(CONTRACT), vec![0, 0, 0, 7], U256::ZERO, RAW_GAS);
        (world(rest.to_vec(), Vec::new()), tx)
    } else {
        let s = scenario(rest);
        (s.case.pre, s.case.tx)
    };
    // Code that starts with the WebAssembly magic or the ZVM container's is that format in zvm, not EVM
    // code (docs/wasm-abi.md), so revm has nothing to compare it with.
    if pre.accounts.values().any(|a| CodeFormat::detect(&a.code, CodeFormat::Evm) != CodeFormat::Evm) {
        return;
    }
    match compare(&pre, &tx) {
        Ok(_) => {}
        Err(Mismatch::Differ(message) | Mismatch::Unrepresentable(message)) => {
            panic!("{message}\ntransaction: {tx:?}\ncode: {:02x?}", pre.accounts[&CONTRACT].code)
        }
    }
});
