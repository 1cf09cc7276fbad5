//! Shared setup for the benchmarks: the programs, prepared contracts, and the native baselines, so that
//! the criterion and iai-callgrind harnesses measure exactly the same work.

pub mod evm;
pub mod wasm;

use ruint::aliases::U256;
use zvm_compiler::frontend::zvm::asm;
use zvm_runtime::executor::{Contract, Tier};
use zvm_runtime::{ExecResult, InMemoryHost, Limits, Message};

/// The fibonacci example, assembled.
pub fn fib_code() -> Vec<u8> {
    asm::assemble(include_str!("../../examples/fib.zasm")).expect("the shipped example assembles")
}

/// The fibonacci example prepared for `tier`.
pub fn fib_contract(tier: Tier) -> Contract {
    Contract::load(&fib_code(), tier, &Limits::default()).expect("the shipped example loads")
}

/// Runs a prepared fibonacci contract for `n`.
pub fn run_fib(contract: &Contract, n: u64) -> ExecResult {
    let msg =
        Message { input: U256::from(n).to_be_bytes::<32>().to_vec(), gas_limit: u64::MAX / 2, ..Message::default() };
    let mut host = InMemoryHost::new();
    contract.run(&msg, &mut host, &Limits::default())
}

/// The same loop in native Rust on ruint's 256-bit integer.
pub fn native_fib(n: u64) -> U256 {
    let (mut a, mut b) = (U256::ZERO, U256::from(1));
    for _ in 0..n {
        (a, b) = (b, a.wrapping_add(b));
    }
    a
}
