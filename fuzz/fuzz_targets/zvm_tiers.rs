//! Differential fuzzing of the tiers on ZVM bytecode: the interpreter, the JIT, and emitted objects run
//! through zvm's own loader.
//!
//! The first input byte picks the mode: raw (the rest is the bytecode as is, exercising the loader's
//! rejection paths) or mapped (every byte becomes a supported opcode, with immediates taken from the
//! following bytes, so most inputs load and run). Then every tier runs the code with the same call data
//! and gas, and they must agree on status, gas, output, logs and storage.

#![no_main]

use libfuzzer_sys::fuzz_target;
use zvm_compiler::frontend::stack::Sem;
use zvm_compiler::frontend::zvm::opcodes::OPCODES;
use zvm_runtime::executor::{execute, Tier};
use zvm_runtime::{Address, InMemoryHost, Limits, Message};

const GAS: u64 = 1_000_000;

fn mapped(data: &[u8]) -> Vec<u8> {
    let ops: Vec<_> = OPCODES.iter().filter(|i| i.sem != Sem::ChainSpecific && !i.sem.is_call_or_create()).collect();
    let mut code = Vec::with_capacity(data.len());
    let mut bytes = data.iter();
    while let Some(&b) = bytes.next() {
        let info = ops[usize::from(b) % ops.len()];
        code.push(info.code);
        for _ in 0..info.imm_bytes {
            // Small immediates keep jumps and memory offsets in range more often.
            code.push(bytes.next().map_or(0, |&x| x % 64));
        }
    }
    code
}

fn run(code: &[u8], tier: Tier) -> impl PartialEq + std::fmt::Debug {
    let contract = Address::from_low_u64(0xC0DE);
    let msg = Message { address: contract, input: vec![0, 0, 0, 7], gas_limit: GAS, ..Message::default() };
    let mut host = InMemoryHost::new();
    let result = execute(code, tier, &msg, &mut host, &Limits::default());
    let mut storage: Vec<_> = host.accounts.get(&contract).map(|a| a.storage.clone().into_iter().collect()).unwrap_or_default();
    storage.sort();
    (result, storage)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let code = if mode & 1 == 0 { rest.to_vec() } else { mapped(rest) };
    let reference = run(&code, Tier::Interp);
    for tier in [Tier::Jit, Tier::Aot] {
        assert_eq!(reference, run(&code, tier), "interp and {tier} disagree on {code:02x?}");
    }
});
