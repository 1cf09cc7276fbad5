//! Every shipped example on every tier: identical status, output, storage, logs and gas, with expected
//! results computed independently here, and gas worked out by hand from `docs/zvm-bytecode.md`.

mod common;

use common::*;
use zvm_ir::U256;
use zvm_runtime::executor::Tier;
use zvm_runtime::Host as _;
use zvm_runtime::{InMemoryHost, Status};

const GAS: u64 = 10_000_000;

#[test]
fn fib_matches_an_independent_loop_on_both_tiers() {
    let code = example("fib.zasm");
    for n in [0u64, 1, 2, 10, 93, 94, 371, 1000] {
        let out = run_all_tiers(&code, &word(U256::from(n)), GAS);
        assert_eq!(out.result.status, Status::Success, "n = {n}");
        assert_eq!(out.result.output, word(fib(n)), "n = {n}");
    }
}

/// Worked out by hand from the opcode table: the prologue (PUSH1, CALLDATALOAD, PUSH1, PUSH1) costs 12;
/// an iteration costs the loop test (JUMPDEST 1 + DUP3 3 + ISZERO 3 + PUSH 3 + JUMPI 10 = 20) plus the
/// body (eight 3-gas stack/arithmetic ops = 24, PUSH 3, JUMP 8 = 35); the exit costs the last loop test
/// (20) and the epilogue (JUMPDEST 1, POP 2, PUSH1 3, MSTORE 3 + 3 for the first memory word, PUSH1 3,
/// PUSH1 3, RETURN 0 = 18). Total: 50 + 55 n.
#[test]
fn fib_gas_equals_the_hand_computed_figure() {
    let code = example("fib.zasm");
    for n in [0u64, 1, 10, 500] {
        let out = run_all_tiers(&code, &word(U256::from(n)), GAS);
        assert_eq!(out.result.gas_used, 50 + 55 * n, "n = {n}");
    }
}

/// First call on empty storage: PUSH1 3, SLOAD 2100 (cold), PUSH1 3, ADD 3, DUP1 3, PUSH1 3, SSTORE 20000
/// (warm slot, zero to non-zero), PUSH1 3, MSTORE 3 + 3 (memory), PUSH1 3, PUSH1 3, RETURN 0 = 22130.
/// Second call (new transaction, slot cold again, non-zero to non-zero): 22130 - 20000 + 2900 = 5030.
#[test]
fn counter_counts_and_its_gas_equals_the_hand_computed_figure() {
    let code = example("counter.zasm");
    for tier in [Tier::Interp, Tier::Jit, Tier::Aot] {
        let mut host = InMemoryHost::new();
        let first = run_on(&code, tier, &[], GAS, &mut host);
        assert_eq!(first.result.status, Status::Success);
        assert_eq!(first.result.output, word(U256::from(1)));
        assert_eq!(first.result.gas_used, 22130, "{tier}");
        assert_eq!(first.storage, vec![(U256::ZERO, U256::from(1))]);
        let second = run_on(&code, tier, &[], GAS, &mut host);
        assert_eq!(second.result.output, word(U256::from(2)));
        assert_eq!(second.result.gas_used, 5030, "{tier}");
        assert_eq!(second.storage, vec![(U256::ZERO, U256::from(2))]);
    }
}

/// An out-of-gas run leaves no trace: all gas consumed, storage untouched, on every tier.
#[test]
fn counter_out_of_gas_changes_nothing() {
    let code = example("counter.zasm");
    let out = run_all_tiers(&code, &[], 22129);
    assert_eq!(out.result.status, Status::OutOfGas);
    assert_eq!(out.result.gas_used, 22129);
    assert!(out.storage.is_empty());
}

/// The example's generator (64-bit MMIX LCG from the seed), sorted in Rust.
fn expected_sorted(n: u64, seed: u64) -> Vec<u8> {
    let mut x = seed;
    let mut words: Vec<u64> = (0..n)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            x
        })
        .collect();
    words.sort_unstable();
    words.into_iter().flat_map(|w| word(U256::from(w))).collect()
}

#[test]
fn sort_returns_the_sorted_words() {
    let code = example("sort.zasm");
    for (n, seed) in [(1u64, 0u64), (2, 1), (4, 0), (5, 7), (17, 12345), (200, 99)] {
        let input = [word(U256::from(n)), word(U256::from(seed))].concat();
        let out = run_all_tiers(&code, &input, 100_000_000);
        assert_eq!(out.result.status, Status::Success, "n = {n}");
        assert_eq!(out.result.output, expected_sorted(n, seed), "n = {n}, seed = {seed}");
    }
    // No call data: 64 words from seed 0.
    let out = run_all_tiers(&code, &[], 100_000_000);
    assert_eq!(out.result.output, expected_sorted(64, 0));
}

fn selector(s: u32) -> Vec<u8> {
    s.to_be_bytes().to_vec()
}

fn addr_word(a: zvm_runtime::Address) -> Vec<u8> {
    word(a.to_word())
}

fn balance_slot(a: zvm_runtime::Address) -> U256 {
    let mut buf = addr_word(a);
    buf.extend(word(U256::ZERO));
    U256::from_be_bytes(zvm_runtime::crypto::keccak256(&buf))
}

#[test]
fn token_mints_transfers_emits_events_and_reverts() {
    const MINT: u32 = 0x40c10f19;
    const TRANSFER: u32 = 0xa9059cbb;
    const BALANCE_OF: u32 = 0x70a08231;
    let transfer_topic = U256::from_be_bytes(zvm_runtime::crypto::keccak256(b"Transfer(address,address,uint256)"));
    let code = example("token.zasm");
    let (a, b) = (zvm_runtime::Address([0xaa; 20]), zvm_runtime::Address([0xbb; 20]));
    let call = |caller, input: Vec<u8>| (caller, input);
    let script = vec![
        call(a, [selector(MINT), addr_word(a), word(U256::from(1000))].concat()),
        call(a, [selector(TRANSFER), addr_word(b), word(U256::from(300))].concat()),
        call(a, [selector(BALANCE_OF), addr_word(a)].concat()),
        call(b, [selector(BALANCE_OF), addr_word(b)].concat()),
        call(b, [selector(TRANSFER), addr_word(a), word(U256::from(301))].concat()),
        call(b, selector(0xdeadbeef)),
    ];
    let mut results = Vec::new();
    for tier in [Tier::Interp, Tier::Jit, Tier::Aot] {
        let mut host = zvm_runtime::InMemoryHost::new();
        let limits = zvm_runtime::Limits::default();
        let contract = zvm_runtime::executor::Contract::load(&code, tier, &limits).unwrap();
        let mut per_tier = Vec::new();
        for (caller, input) in &script {
            let mut msg = message(input.clone(), GAS);
            msg.caller = *caller;
            let r = contract.run(&msg, &mut host, &limits);
            host.finish_transaction();
            per_tier.push((r, storage_of(&host)));
        }
        results.push(per_tier);
    }
    assert_eq!(results[0], results[1], "interp and jit disagree");
    assert_eq!(results[0], results[2], "interp and aot disagree");
    let r = &results[0];
    let one = word(U256::from(1));
    assert_eq!((&r[0].0.status, &r[0].0.output), (&Status::Success, &one));
    assert_eq!(r[0].0.logs.len(), 1);
    assert_eq!(r[0].0.logs[0].topics, vec![transfer_topic, U256::ZERO, a.to_word()]);
    assert_eq!(r[0].0.logs[0].data, word(U256::from(1000)));
    assert_eq!(r[1].0.logs[0].topics, vec![transfer_topic, a.to_word(), b.to_word()]);
    assert_eq!(r[1].0.logs[0].data, word(U256::from(300)));
    assert_eq!(r[2].0.output, word(U256::from(700)));
    assert_eq!(r[3].0.output, word(U256::from(300)));
    assert_eq!(r[4].0.status, Status::Revert);
    assert!(r[4].0.logs.is_empty());
    assert_eq!(r[5].0.status, Status::Revert);
    let mut expected = vec![(balance_slot(a), U256::from(700)), (balance_slot(b), U256::from(300))];
    expected.sort();
    assert_eq!(r[5].1, expected, "the reverted transfer left balances unchanged");
}
