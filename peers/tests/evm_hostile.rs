//! Hostile EVM input on both zvm tiers, checked against revm: malformed bytecode, memory offsets and
//! lengths near 2^64 and 2^256, recursion to the call-depth limit and until out of gas, a 1024-deep chain
//! of distinct contracts, and a contract run at every gas limit from its intrinsic gas to what suffices.
//!
//! Each input must end in the status the Ethereum specification gives it — asserted here from the
//! specification, not from a run — and never crash; and zvm's interpreter, zvm's JIT and revm must agree
//! on the whole summary (status, gas used, output, logs, post-state), which pins down the exact gas of
//! every failure too.

use ruint::aliases::U256;
use zvm_compiler::frontend::evm::opcodes::op;
use zvm_peers::generate::{transaction, world, CONTRACT, OTHER};
use zvm_peers::{compare, Comparer, Run, Status};
use zvm_runtime::tx::{intrinsic_gas, Transaction};
use zvm_runtime::{Address, InMemoryHost};

/// Gas beyond the intrinsic cost for the runs that are not about gas.
const GAS: u64 = 1_000_000;

/// Runs `tx` on `pre` on every VM and returns the agreed run, or fails with every difference.
fn agreed(pre: &InMemoryHost, tx: &Transaction) -> Run {
    compare(pre, tx).unwrap_or_else(|mismatch| panic!("{mismatch}\ntransaction: {tx:?}"))
}

/// Calls `code` (at [`zvm_peers::generate::CONTRACT`]) with `input` and [`GAS`] extra gas on every VM.
fn call(code: &[u8], input: &[u8]) -> Run {
    let tx = transaction(Some(CONTRACT), input.to_vec(), U256::ZERO, GAS);
    agreed(&world(code.to_vec(), Vec::new()), &tx)
}

/// Appends a push of `value` in the narrowest `PUSHn`.
fn push(code: &mut Vec<u8>, value: U256) {
    let width = value.byte_len().max(1);
    code.push(op::PUSH1 + width as u8 - 1);
    code.extend_from_slice(&value.to_be_bytes::<32>()[32 - width..]);
}

/// Code that pushes `operands` (the first ends on top of the stack) and runs `opcode`.
fn with_operands(operands: &[U256], opcode: u8) -> Vec<u8> {
    with_args(&operands.iter().map(|&w| Arg::Const(w)).collect::<Vec<_>>(), opcode)
}

#[test]
fn malformed_code_ends_as_the_specification_says() {
    use Status::*;
    let cases: &[(&str, Vec<u8>, Status)] = &[
        ("empty code", vec![], Success),
        ("PUSH1 without its byte at the end", vec![op::PUSH1], Success),
        ("PUSH32 with 2 of 32 bytes at the end", vec![op::PUSH32, 1, 2], Success),
        ("PUSH2 cut off, then nothing", vec![op::PUSH0, op::PUSH2, 0xff], Success),
        ("INVALID", vec![op::INVALID], Halt),
        ("undefined 0x0c", vec![0x0c], Halt),
        ("undefined 0xef", vec![0xef], Halt),
        ("undefined 0xf6 after valid code", vec![op::PUSH1, 1, op::PUSH1, 2, op::ADD, 0xf6], Halt),
        // The JUMPDEST byte at offset 4 is the immediate of PUSH1 at 3: not a jump destination.
        ("JUMP into push data", vec![op::PUSH1, 4, op::JUMP, op::PUSH1, op::JUMPDEST, op::STOP], Halt),
        ("JUMPI into push data", vec![op::PUSH1, 1, op::PUSH1, 6, op::JUMPI, op::PUSH1, op::JUMPDEST], Halt),
        // Offset 4 is a real JUMPDEST: the same shape without the push works.
        ("JUMP to a real JUMPDEST", vec![op::PUSH1, 4, op::JUMP, op::INVALID, op::JUMPDEST], Success),
        ("JUMP past the end", vec![op::PUSH1, 200, op::JUMP], Halt),
        ("JUMP to 2^256-1", [vec![op::PUSH32], vec![0xff; 32], vec![op::JUMP]].concat(), Halt),
        ("JUMPI not taken to a bad target", vec![op::PUSH0, op::PUSH1, 200, op::JUMPI], Success),
        ("JUMPDEST in a truncated PUSH at the end", vec![op::PUSH1, 4, op::JUMP, op::PUSH2, op::JUMPDEST], Halt),
        ("stack underflow", vec![op::ADD], Halt),
        ("1025 pushes overflow the stack", vec![op::PUSH0; 1025], Halt),
        ("1024 pushes fit", vec![op::PUSH0; 1024], Success),
        ("RETURNDATACOPY past empty return data", vec![op::PUSH1, 1, op::PUSH0, op::PUSH0, op::RETURNDATACOPY], Halt),
    ];
    for (name, code, status) in cases {
        let run = call(code, &[]);
        assert_eq!(run.summary.status, *status, "{name}: {}", run.detail);
    }
    // Every byte value as a one-byte program (compared with revm); and as the immediate of a PUSH1 that a
    // jump targets, which is never a jump destination, whatever the byte.
    for byte in 0..=255u8 {
        call(&[byte], &[]);
        let run = call(&[op::PUSH1, byte, op::PUSH1, 1, op::JUMP, byte], &[]);
        assert_eq!(run.summary.status, Status::Halt, "jump into the immediate {byte:#04x}: {}", run.detail);
    }
}

/// Offsets and lengths at the edges: around 2^32, 2^63, 2^64 and 2^256.
fn huge() -> Vec<U256> {
    let one = U256::from(1);
    vec![
        U256::from(u32::MAX),
        one << 32,
        one << 63,
        U256::from(u64::MAX) - U256::from(31),
        U256::from(u64::MAX),
        one << 64,
        (one << 64) + U256::from(31),
        one << 128,
        one << 255,
        U256::MAX - U256::from(31),
        U256::MAX,
    ]
}

/// An operand of a memory operation: a constant in the code, or a word of the call data (so that one
/// compiled program serves every value, and the compilers cannot specialise on it).
#[derive(Clone, Copy)]
enum Arg {
    Const(U256),
    /// Call data word 0.
    Offset,
    /// Call data word 1.
    Length,
}

/// Code that pushes `args` (the first ends on top of the stack) and runs `opcode`.
fn with_args(args: &[Arg], opcode: u8) -> Vec<u8> {
    let mut code = Vec::new();
    for arg in args.iter().rev() {
        match arg {
            Arg::Const(w) => push(&mut code, *w),
            Arg::Offset => code.extend([op::PUSH0, op::CALLDATALOAD]),
            Arg::Length => code.extend([op::PUSH1, 32, op::CALLDATALOAD]),
        }
    }
    code.push(opcode);
    code
}

/// Builds an operation's code from its offset and length operands.
type Build = fn(Arg, Arg) -> Vec<u8>;

/// Every operation that takes a memory range, with its operands built from an offset and a length.
fn memory_operations() -> Vec<(&'static str, Build)> {
    vec![
        ("MSTORE", |o, _| with_args(&[o, Arg::Const(U256::from(7))], op::MSTORE)),
        ("MSTORE8", |o, _| with_args(&[o, Arg::Const(U256::from(7))], op::MSTORE8)),
        ("MLOAD", |o, _| with_args(&[o], op::MLOAD)),
        ("CALLDATACOPY", |o, l| with_args(&[o, Arg::Const(U256::ZERO), l], op::CALLDATACOPY)),
        ("CODECOPY", |o, l| with_args(&[o, Arg::Const(U256::ZERO), l], op::CODECOPY)),
        ("EXTCODECOPY", |o, l| {
            with_args(&[Arg::Const(OTHER.to_word()), o, Arg::Const(U256::ZERO), l], op::EXTCODECOPY)
        }),
        ("MCOPY to", |o, l| with_args(&[o, Arg::Const(U256::ZERO), l], op::MCOPY)),
        ("MCOPY from", |o, l| with_args(&[Arg::Const(U256::ZERO), o, l], op::MCOPY)),
        ("KECCAK256", |o, l| with_args(&[o, l], op::KECCAK256)),
        ("LOG0", |o, l| with_args(&[o, l], op::LOG0)),
        ("LOG2", |o, l| with_args(&[o, l, Arg::Const(U256::from(1)), Arg::Const(U256::from(2))], op::LOG2)),
        ("RETURN", |o, l| with_args(&[o, l], op::RETURN)),
        ("REVERT", |o, l| with_args(&[o, l], op::REVERT)),
        ("CALL arguments", |o, l| {
            let z = Arg::Const(U256::ZERO);
            with_args(&[Arg::Const(U256::from(100_000)), Arg::Const(OTHER.to_word()), z, o, l, z, z], op::CALL)
        }),
        ("CALL return area", |o, l| {
            let z = Arg::Const(U256::ZERO);
            with_args(&[Arg::Const(U256::from(100_000)), Arg::Const(OTHER.to_word()), z, z, z, o, l], op::CALL)
        }),
        ("STATICCALL to a precompile, return area", |o, l| {
            let z = Arg::Const(U256::ZERO);
            with_args(
                &[Arg::Const(U256::from(100_000)), Arg::Const(U256::from(4)), z, Arg::Const(U256::from(8)), o, l],
                op::STATICCALL,
            )
        }),
        ("CREATE", |o, l| with_args(&[Arg::Const(U256::ZERO), o, l], op::CREATE)),
        ("CREATE2", |o, l| with_args(&[Arg::Const(U256::ZERO), o, l, Arg::Const(U256::ZERO)], op::CREATE2)),
    ]
}

#[test]
fn huge_memory_offsets_and_lengths_run_out_of_gas() {
    let comparer = Comparer::new();
    let mut compared = 0;
    for (name, build) in memory_operations() {
        // MSTORE, MSTORE8 and MLOAD have a fixed length (32 or 1): only their offset matters.
        let fixed_length = matches!(name, "MSTORE" | "MSTORE8" | "MLOAD");
        let pre = world(build(Arg::Offset, Arg::Length), Vec::new());
        let mut run = |offset: U256, length: U256| {
            let input = [offset.to_be_bytes::<32>(), length.to_be_bytes::<32>()].concat();
            let tx = transaction(Some(CONTRACT), input, U256::ZERO, GAS);
            compared += 1;
            let run = comparer.compare(&pre, &tx);
            run.unwrap_or_else(|m| panic!("{name} at {offset:#x}, length {length:#x}: {m}")).summary.status
        };
        for offset in huge() {
            // A range at a huge offset costs more to expand memory to than any gas limit holds.
            for length in [U256::from(1), U256::from(32), U256::from(1) << 64, U256::MAX] {
                assert_eq!(run(offset, length), Status::Halt, "{name} at {offset:#x}, length {length:#x}");
            }
            // A zero length touches no memory, whatever the offset: nothing to pay, nothing fails (RETURN
            // and REVERT end with empty data; a create of no code succeeds).
            let expected = match name {
                _ if fixed_length => Status::Halt,
                "REVERT" => Status::Revert,
                _ => Status::Success,
            };
            assert_eq!(run(offset, U256::ZERO), expected, "{name} at {offset:#x}, length 0");
        }
        // A huge length from offset 0.
        for length in huge() {
            let status = run(U256::ZERO, length);
            if !fixed_length {
                assert_eq!(status, Status::Halt, "{name} at 0, length {length:#x}");
            }
        }
        // The same with the operands as constants in the code, for a few of the values.
        for (offset, length) in
            [(U256::from(1) << 64, U256::from(1)), (U256::MAX, U256::from(32)), (U256::ZERO, U256::MAX)]
        {
            let status = call(&build(Arg::Const(offset), Arg::Const(length)), &[]).summary.status;
            if !(fixed_length && offset.is_zero()) {
                assert_eq!(status, Status::Halt, "{name} with constants {offset:#x}, {length:#x}");
            }
            compared += 1;
        }
    }
    println!("{compared} huge-memory cases agree on zvm interp, zvm jit and revm");
}

/// `PUSH0 SLOAD PUSH1 1 ADD PUSH0 SSTORE`: counts the frames that ran in slot 0.
const COUNT_FRAME: [u8; 7] = [op::PUSH0, op::SLOAD, op::PUSH1, 1, op::ADD, op::PUSH0, op::SSTORE];

/// `CALL(gas: all, to: ADDRESS, value 0, no data)`: calls itself; leaves the success flag on the stack.
const CALL_SELF: [u8; 8] = [op::PUSH0, op::PUSH0, op::PUSH0, op::PUSH0, op::PUSH0, op::ADDRESS, op::GAS, op::CALL];

/// A world whose block allows `gas` for one transaction, with `code` at [`CONTRACT`], and a transaction
/// calling it with that much gas.
fn deep(code: Vec<u8>, others: &[(Address, Vec<u8>)], gas: u64) -> (InMemoryHost, Transaction) {
    let mut pre = world(code, Vec::new());
    pre.block.gas_limit = gas;
    for (address, code) in others {
        pre.account_mut(*address).code = code.as_slice().into();
    }
    let mut tx = transaction(Some(CONTRACT), Vec::new(), U256::ZERO, 0);
    tx.gas_limit = gas;
    (pre, tx)
}

/// Enough gas to reach call depth 1024 although every call keeps back 1/64 of the gas (EIP-150): at the
/// bottom (63/64)^1024 ≈ 1e-7 of it is left, and 1/64 of what a frame there has must still pay for a cold
/// storage write after its call returns.
const DEEP_GAS: u64 = 100_000_000_000_000;

#[test]
fn recursion_stops_at_the_call_depth_limit() {
    let code = [&COUNT_FRAME[..], &CALL_SELF[..]].concat();
    let (pre, tx) = deep(code, &[], DEEP_GAS);
    let run = agreed(&pre, &tx);
    assert_eq!(run.summary.status, Status::Success, "{}", run.detail);
    // The transaction's frame is at depth 0; a call from depth 1024 fails, so frames ran at 0..=1024.
    let frames = run.summary.state[&CONTRACT].storage.get(&U256::ZERO).copied();
    assert_eq!(frames, Some(U256::from(1025)));
}

#[test]
fn recursion_until_out_of_gas() {
    // Counts, calls itself with all gas; the innermost frame runs out of gas and the rest succeed.
    let code = [&COUNT_FRAME[..], &CALL_SELF[..]].concat();
    let (pre, tx) = deep(code, &[], 1_000_000);
    let run = agreed(&pre, &tx);
    assert_eq!(run.summary.status, Status::Success, "{}", run.detail);
    let frames = run.summary.state[&CONTRACT].storage[&U256::ZERO];
    assert!(frames > U256::from(10) && frames < U256::from(1025), "{frames} frames");

    // The same, but a frame whose call failed reverts: the innermost out-of-gas unwinds every frame.
    // `CALL_SELF PUSH1 end JUMPI PUSH0 PUSH0 REVERT JUMPDEST(end)`.
    let end = (COUNT_FRAME.len() + CALL_SELF.len() + 6) as u8;
    let tail = [op::PUSH1, end, op::JUMPI, op::PUSH0, op::PUSH0, op::REVERT, op::JUMPDEST];
    let code = [&COUNT_FRAME[..], &CALL_SELF[..], &tail[..]].concat();
    assert_eq!(code[usize::from(end)], op::JUMPDEST);
    let (pre, tx) = deep(code, &[], 1_000_000);
    let run = agreed(&pre, &tx);
    assert_eq!(run.summary.status, Status::Revert, "{}", run.detail);
    assert!(!run.summary.state[&CONTRACT].storage.contains_key(&U256::ZERO), "a reverted count survived");
}

#[test]
fn a_chain_of_1025_contracts_stops_at_the_depth_limit() {
    // Contract i (at BASE + i) calls contract i + 1 with all gas and stores the call's success flag in
    // its slot 0. The transaction calls contract 0, at depth 0.
    const BASE: u64 = 0x10_0000;
    const LENGTH: u64 = 1026;
    let mut link = vec![op::PUSH0, op::PUSH0, op::PUSH0, op::PUSH0, op::PUSH0, op::ADDRESS, op::PUSH1, 1, op::ADD];
    link.extend_from_slice(&[op::GAS, op::CALL, op::PUSH0, op::SSTORE]);
    let contracts: Vec<(Address, Vec<u8>)> =
        (0..LENGTH).map(|i| (Address::from_low_u64(BASE + i), link.clone())).collect();
    let (mut pre, mut tx) = deep(Vec::new(), &contracts, DEEP_GAS);
    tx.to = Some(contracts[0].0);
    pre.accounts.remove(&CONTRACT);
    let run = agreed(&pre, &tx);
    assert_eq!(run.summary.status, Status::Success, "{}", run.detail);
    // Contracts 0..=1023 called the next one successfully; contract 1024 (at depth 1024) could not call,
    // and contract 1025 never ran.
    let flag = |i: u64| run.summary.state[&Address::from_low_u64(BASE + i)].storage.get(&U256::ZERO).copied();
    for i in 0..1024 {
        assert_eq!(flag(i), Some(U256::from(1)), "contract {i}");
    }
    assert_eq!(flag(1024), None);
    assert_eq!(flag(1025), None);
}

/// A small contract in the style of the fixtures: reads an amount from the call data, adds it to a
/// balance in storage (a cold write that earns a refund when it clears), emits an event, hashes, calls the
/// identity precompile and the second contract, and returns the new balance.
fn fixture_like() -> (Vec<u8>, Vec<u8>) {
    let mut code = vec![
        // balance = SLOAD(1) + CALLDATALOAD(0); SSTORE(1, balance); SSTORE(2, 0)
        op::PUSH0,
        op::CALLDATALOAD,
        op::PUSH1,
        1,
        op::SLOAD,
        op::ADD,
        op::DUP1,
        op::PUSH1,
        1,
        op::SSTORE,
        op::PUSH0,
        op::PUSH1,
        2,
        op::SSTORE,
        // MSTORE(0, balance); LOG1(0, 32, topic CALLER)
        op::DUP1,
        op::PUSH0,
        op::MSTORE,
        op::CALLER,
        op::PUSH1,
        32,
        op::PUSH0,
        op::LOG1,
        // MSTORE(32, KECCAK256(0, 32))
        op::PUSH1,
        32,
        op::PUSH0,
        op::KECCAK256,
        op::PUSH1,
        32,
        op::MSTORE,
    ];
    // CALL(identity, 64 bytes from 0 to 64) and CALL(OTHER), their flags stored at slots 3 and 4.
    code.extend(with_operands(
        &[U256::from(20_000), U256::from(4), U256::ZERO, U256::ZERO, U256::from(64), U256::from(64), U256::from(64)],
        op::CALL,
    ));
    code.extend([op::PUSH1, 3, op::SSTORE]);
    code.extend(with_operands(
        &[U256::from(30_000), OTHER.to_word(), U256::ZERO, U256::ZERO, U256::ZERO, U256::ZERO, U256::ZERO],
        op::CALL,
    ));
    code.extend([op::PUSH1, 4, op::SSTORE]);
    // RETURN(0, 96)
    code.extend(with_operands(&[U256::ZERO, U256::from(96)], op::RETURN));
    // The second contract: TSTORE, a storage write of its own, and a log.
    let other = vec![
        op::PUSH1,
        9,
        op::PUSH0,
        op::TSTORE,
        op::CALLVALUE,
        op::PUSH1,
        5,
        op::SSTORE,
        op::PUSH0,
        op::PUSH0,
        op::LOG0,
    ];
    (code, other)
}

/// Runs the fixture-like contract at gas limits from its intrinsic gas up, every `step`-th one, until two
/// limits in a row succeed; returns how many limits were compared.
fn every_gas_limit(step: u64) -> u64 {
    let (code, other) = fixture_like();
    let pre = world(code, other);
    let mut input = [0u8; 32];
    input[31] = 5;
    let base = transaction(Some(CONTRACT), input.to_vec(), U256::ZERO, 0);
    let intrinsic = intrinsic_gas(&base);
    let comparer = Comparer::new();
    let (mut compared, mut successes, mut statuses) = (0, 0, std::collections::BTreeSet::new());
    let mut gas = intrinsic - 1;
    while successes < 2 {
        let tx = Transaction { gas_limit: gas, ..base.clone() };
        let run = comparer.compare(&pre, &tx).unwrap_or_else(|m| panic!("gas limit {gas}: {m}"));
        let status = run.summary.status;
        statuses.insert(format!("{status:?}"));
        match status {
            Status::Rejected => assert_eq!(gas, intrinsic - 1, "rejected at gas limit {gas}"),
            Status::Success => successes += 1,
            // Short of gas, the transaction fails exceptionally, never with a revert.
            Status::Halt => assert_eq!(successes, 0, "failed at {gas} after succeeding with less"),
            Status::Revert => panic!("reverted at gas limit {gas}"),
        }
        compared += 1;
        gas += if gas < intrinsic { 1 } else { step };
    }
    println!("{compared} gas limits from {} to {gas} agree: {statuses:?}", intrinsic - 1);
    assert!(statuses.contains("Halt") && statuses.contains("Rejected"), "{statuses:?}");
    compared
}

#[test]
fn out_of_gas_at_sampled_gas_limits() {
    // Every 37th limit: steps through each part of the contract's cost a few times.
    assert!(every_gas_limit(37) > 1000);
}

#[test]
#[ignore = "heavy: the fixture-like contract at every gas limit on both tiers and revm (CI runs it in release mode)"]
fn out_of_gas_at_every_gas_limit() {
    assert!(every_gas_limit(1) > 50_000);
}
