//! Malformed and hostile bytecode: the same clean error or status on every tier, never a crash.

mod common;

use common::*;
use zvm_compiler::frontend::zvm::asm::assemble;
use zvm_ir::TrapCode;
use zvm_runtime::Status;

const GAS: u64 = 1_000_000;

fn asm(src: &str) -> Vec<u8> {
    assemble(src).unwrap()
}

fn invalid_code_message(code: &[u8]) -> String {
    let out = run_all_tiers(code, &[], GAS);
    assert_eq!(out.result.gas_used, 0);
    match out.result.status {
        Status::InvalidCode(msg) => msg,
        other => panic!("expected a load error, got {other:?}"),
    }
}

#[test]
fn truncated_push_is_rejected_with_its_offset() {
    let msg = invalid_code_message(&[0x11, 0x01, 0x12, 0x05]);
    assert_eq!(msg, "truncated PUSH2 at offset 2: 1 of 2 immediate bytes");
}

#[test]
fn unknown_opcode_is_rejected_with_its_offset() {
    let msg = invalid_code_message(&[0x11, 0x01, 0x10, 0xef]);
    assert_eq!(msg, "unknown opcode 0xef at offset 3");
}

#[test]
fn chain_specific_opcodes_are_rejected_by_name() {
    let msg = invalid_code_message(&[0x01, 0xE0]);
    assert_eq!(msg, "chain-specific opcode HTS_TRANSFER (0xe0) at offset 1 is not supported by zvm");
    let msg = invalid_code_message(&[0xF3]);
    assert!(msg.contains("PQ_KEYGEN (0xf3) at offset 0"), "{msg}");
}

#[test]
fn push_data_is_never_mistaken_for_an_opcode() {
    // PUSH2 0xE0EF: chain-specific and unknown bytes as immediate data are fine.
    let out = run_all_tiers(&[0x12, 0xE0, 0xEF, 0x00], &[], GAS);
    assert_eq!(out.result.status, Status::Success);
}

#[test]
fn jump_to_a_non_jumpdest_traps() {
    // Constant target (resolved at compile time) and dynamic target (through the dispatch switch).
    let constant = asm("PUSH1 3\nJUMP\nNOP\nNOP\nJUMPDEST");
    let dynamic = asm("PUSH1 0\nCALLDATALOAD\nJUMP\nJUMPDEST\nHALT");
    let into_push_data = asm("PUSH2 0xA3A3\nPUSH1 1\nJUMP");
    for code in [constant, into_push_data] {
        let out = run_all_tiers(&code, &[], GAS);
        assert_eq!(out.result.status, Status::Trap(TrapCode::InvalidJump));
        assert_eq!(out.result.gas_used, GAS, "a trap consumes all gas");
    }
    let ok = run_all_tiers(&dynamic, &word(zvm_ir::U256::from(4)), GAS);
    assert_eq!(ok.result.status, Status::Success);
    for target in [zvm_ir::U256::from(5), zvm_ir::U256::MAX, zvm_ir::U256::from(u64::MAX)] {
        let bad = run_all_tiers(&dynamic, &word(target), GAS);
        assert_eq!(bad.result.status, Status::Trap(TrapCode::InvalidJump), "target {target}");
    }
}

#[test]
fn stack_underflow_and_overflow_trap() {
    let under = run_all_tiers(&asm("PUSH1 1\nADD"), &[], GAS);
    assert_eq!(under.result.status, Status::Trap(TrapCode::StackUnderflow));
    // Push forever: overflow at 1025 items, long before gas runs out.
    let over = run_all_tiers(&asm("top:\nJUMPDEST\nPUSH1 1\nPUSH @top\nJUMP"), &[], 10_000_000);
    assert_eq!(over.result.status, Status::Trap(TrapCode::StackOverflow));
    // Exactly 1024 items is fine.
    let mut src = String::new();
    for _ in 0..1024 {
        src.push_str("PUSH1 1\n");
    }
    let full = run_all_tiers(&asm(&src), &[], GAS);
    assert_eq!(full.result.status, Status::Success);
}

#[test]
fn huge_memory_offsets_run_out_of_gas() {
    for src in [
        "PUSH32 0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\nMLOAD",
        "PUSH8 0xffffffffffffffff\nMLOAD",
        "PUSH4 0xffffffff\nPUSH1 0\nKECCAK256",
        "PUSH1 0\nPUSH8 0x100000000\nMSTORE",
        "PUSH16 0x1000000000000000000000000\nPUSH1 0\nRETURN",
    ] {
        let out = run_all_tiers(&asm(src), &[], GAS);
        assert_eq!(out.result.status, Status::OutOfGas, "{src}");
    }
    // Zero-length ranges ignore their offset entirely.
    let out = run_all_tiers(
        &asm("PUSH1 0\nPUSH32 0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\nRETURN"),
        &[],
        GAS,
    );
    assert_eq!(out.result.status, Status::Success);
}

#[test]
fn memory_beyond_the_limit_traps_even_with_ample_gas() {
    // 128 MiB: affordable with this much gas, but past the default 64 MiB memory limit.
    let out = run_all_tiers(&asm("PUSH1 1\nPUSH4 0x08000000\nMSTORE8"), &[], u64::MAX / 2);
    assert_eq!(out.result.status, Status::Trap(TrapCode::MemoryLimit));
}

#[test]
fn returndatacopy_past_the_end_halts() {
    let out = run_all_tiers(&asm("PUSH1 1\nPUSH1 0\nPUSH1 0\nRETURNDATACOPY"), &[], GAS);
    assert_eq!(out.result.status, Status::Trap(TrapCode::ReturnDataOutOfBounds));
    let ok = run_all_tiers(&asm("PUSH1 0\nPUSH1 0\nPUSH1 0\nRETURNDATACOPY"), &[], GAS);
    assert_eq!(ok.result.status, Status::Success);
}

#[test]
fn oversized_code_is_rejected() {
    let code = vec![0x01; zvm_runtime::Limits::default().max_code_size + 1];
    let msg = invalid_code_message(&code);
    assert!(msg.contains("more than the limit"), "{msg}");
}

#[test]
fn corrupt_containers_are_rejected() {
    let mut c = zvm_compiler::frontend::zvm::container::encode(&[0x00], &[]);
    c.push(0);
    let msg = invalid_code_message(&c);
    assert!(msg.contains("length mismatch"), "{msg}");
    let msg = invalid_code_message(b"ZVMC\x01");
    assert!(msg.contains("truncated ZVMC header"), "{msg}");
}

#[test]
fn random_bytes_never_crash_and_tiers_agree() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for len in 0..400usize {
        let code: Vec<u8> = (0..len % 64)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        run_all_tiers(&code, &[1, 2, 3], 100_000);
    }
}
