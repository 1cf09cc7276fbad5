//! Shared helpers: run ZVM bytecode on a tier and capture everything observable.

#![allow(dead_code)]

use std::path::PathBuf;
use zvm_compiler::frontend::zvm::asm;
use zvm_ir::U256;
use zvm_runtime::executor::{Contract, Tier};
use zvm_runtime::schedule::ZvmCosts;
use zvm_runtime::Host as _;
use zvm_runtime::{Address, ExecResult, InMemoryHost, Limits, Message};

pub const CONTRACT: Address = Address::from_low_u64(0xC0DE);
pub const CALLER: Address = Address::from_low_u64(0xCA11E2);

/// Everything a run can be observed by.
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Outcome {
    pub result: ExecResult,
    pub storage: Vec<(U256, U256)>,
}

pub fn example(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name);
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    asm::assemble(&src).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub fn message(input: Vec<u8>, gas: u64) -> Message {
    Message { caller: CALLER, address: CONTRACT, input, gas_limit: gas, ..Message::default() }
}

pub fn storage_of(host: &InMemoryHost) -> Vec<(U256, U256)> {
    let mut s: Vec<_> =
        host.accounts.get(&CONTRACT).map(|a| a.storage.iter().map(|(k, v)| (*k, *v)).collect()).unwrap_or_default();
    s.sort();
    s
}

/// Runs `code` once on `tier` against `host`, ending the transaction afterwards.
pub fn run_on(code: &[u8], tier: Tier, input: &[u8], gas: u64, host: &mut InMemoryHost) -> Outcome {
    let limits = Limits::default();
    let result = zvm_runtime::executor::execute(code, tier, &message(input.to_vec(), gas), host, &limits);
    host.finish_transaction();
    Outcome { result, storage: storage_of(host) }
}

/// Runs `code` on a fresh host.
pub fn run(code: &[u8], tier: Tier, input: &[u8], gas: u64) -> Outcome {
    run_on(code, tier, input, gas, &mut InMemoryHost::new())
}

/// Runs `code` on every tier (interpreter, JIT, and an emitted object through zvm's loader) and asserts
/// they agree on everything; returns the outcome.
pub fn run_all_tiers(code: &[u8], input: &[u8], gas: u64) -> Outcome {
    let interp = run(code, Tier::Interp, input, gas);
    for tier in [Tier::Jit, Tier::Aot] {
        let other = run(code, tier, input, gas);
        assert_eq!(interp, other, "interp and {tier} disagree on code {}", hex::encode(code));
    }
    interp
}

/// Runs the frontend's IR *without* the gas pass on the interpreter: `gas.cost` then charges per
/// operation, which is the reference the block-level charging must match.
pub fn run_per_op_metered(code: &[u8], input: &[u8], gas: u64) -> Option<Outcome> {
    let limits = Limits::default();
    let loaded = zvm_compiler::frontend::zvm::lower::load(code, limits.max_code_size).ok()?;
    let contract = Contract::from_module(loaded.module, loaded.code.to_vec(), Tier::Interp, &ZvmCosts)
        .expect("frontend IR verifies");
    let mut host = InMemoryHost::new();
    let result = contract.run(&message(input.to_vec(), gas), &mut host, &limits);
    Some(Outcome { result, storage: storage_of(&host) })
}

/// fib(n) modulo 2^256 (fib(0) = 0), computed independently of zvm.
pub fn fib(n: u64) -> U256 {
    let (mut a, mut b) = (U256::ZERO, U256::from(1));
    for _ in 0..n {
        (a, b) = (b, a.wrapping_add(b));
    }
    a
}

/// A 32-byte big-endian word.
pub fn word(v: U256) -> Vec<u8> {
    v.to_be_bytes::<32>().to_vec()
}
