//! The ZVM v1.0 opcode table: the single source of truth for opcode numbers, mnemonics, immediate sizes,
//! stack effects, static gas and how the frontend treats each opcode.
//!
//! Numbers, immediate sizes and base gas are those of the original ZVM (GhostKellz/zvm,
//! `src/bytecode/opcode.zig` and `src/gas/costs.zig`). Stack effects follow the original interpreter
//! (`src/interpreter/vm.zig`) where it implements an opcode and EVM semantics where the original is
//! ambiguous or wrong; every such correction is listed in `docs/zvm-bytecode.md`.
//!
//! Everything is data: one list ([`OPCODES`]) generates both the named constants in [`op`] and the
//! 256-entry lookup table behind [`info`], so no opcode is written down twice.

pub use super::super::stack::OpInfo;
use super::super::stack::{opcode_table, Sem::*};
use zvm_ir::{BinOp, DataSrc, EnvField, HaltKind, HashAlg, HostFn, TernOp, UnOp};

/// Widths of the PUSH instructions ZVM has (there is no PUSH3, PUSH5, ...).
pub const PUSH_WIDTHS: [u8; 6] = [1, 2, 4, 8, 16, 32];

opcode_table! {
    // code  name               imm pops push   gas    semantics
    // --- control ---
    0x00 HALT                 0   0   0      0      Stop;
    0x01 NOP                  0   0   0      0      Nop;
    // --- stack ---
    0x10 POP                  0   1   0      2      Pop;
    0x11 PUSH1                1   0   1      3      Push;
    0x12 PUSH2                2   0   1      3      Push;
    0x13 PUSH4                4   0   1      3      Push;
    0x14 PUSH8                8   0   1      3      Push;
    0x15 PUSH16               16  0   1      3      Push;
    0x16 PUSH32               32  0   1      3      Push;
    0x17 DUP1                 0   1   2      3      Dup(1);
    0x18 DUP2                 0   2   3      3      Dup(2);
    0x19 DUP3                 0   3   4      3      Dup(3);
    0x1A DUP4                 0   4   5      3      Dup(4);
    0x1B SWAP1                0   2   2      3      Swap(1);
    0x1C SWAP2                0   3   3      3      Swap(2);
    0x1D SWAP3                0   4   4      3      Swap(3);
    0x1E SWAP4                0   5   5      3      Swap(4);
    // --- arithmetic ---
    0x30 ADD                  0   2   1      3      Binary(BinOp::Add);
    0x31 SUB                  0   2   1      3      Binary(BinOp::Sub);
    0x32 MUL                  0   2   1      5      Binary(BinOp::Mul);
    0x33 DIV                  0   2   1      5      Binary(BinOp::DivU);
    0x34 SDIV                 0   2   1      5      Binary(BinOp::DivS);
    0x35 MOD                  0   2   1      5      Binary(BinOp::RemU);
    0x36 SMOD                 0   2   1      5      Binary(BinOp::RemS);
    0x37 ADDMOD               0   3   1      8      Ternary(TernOp::AddMod);
    0x38 MULMOD               0   3   1      8      Ternary(TernOp::MulMod);
    0x39 EXP                  0   2   1      10     Exp;
    0x3A SIGNEXTEND           0   2   1      5      Binary(BinOp::SignExtend);
    // --- comparison and bitwise ---
    0x50 LT                   0   2   1      3      Binary(BinOp::LtU);
    0x51 GT                   0   2   1      3      Binary(BinOp::GtU);
    0x52 SLT                  0   2   1      3      Binary(BinOp::LtS);
    0x53 SGT                  0   2   1      3      Binary(BinOp::GtS);
    0x54 EQ                   0   2   1      3      Binary(BinOp::Eq);
    0x55 ISZERO               0   1   1      3      Unary(UnOp::Eqz);
    0x56 AND                  0   2   1      3      Binary(BinOp::And);
    0x57 OR                   0   2   1      3      Binary(BinOp::Or);
    0x58 XOR                  0   2   1      3      Binary(BinOp::Xor);
    0x59 NOT                  0   1   1      3      Unary(UnOp::Not);
    0x5A BYTE                 0   2   1      3      Binary(BinOp::Byte);
    0x5B SHL                  0   2   1      8      Shift(BinOp::Shl);
    0x5C SHR                  0   2   1      8      Shift(BinOp::ShrU);
    0x5D SAR                  0   2   1      8      Shift(BinOp::ShrS);
    // --- hashing ---
    0x70 KECCAK256            0   2   1      30     Hash(HashAlg::Keccak256);
    0x71 SHA256               0   2   1      60     Hash(HashAlg::Sha256);
    0x72 RIPEMD160            0   2   1      600    Hash(HashAlg::Ripemd160);
    0x73 BLAKE2B              0   2   1      30     Hash(HashAlg::Blake2b256);
    // --- memory ---
    0x80 MLOAD                0   1   1      3      MLoad;
    0x81 MSTORE               0   2   0      3      MStore;
    0x82 MSTORE8              0   2   0      3      MStore8;
    0x83 MSIZE                0   0   1      3      MSize;
    // --- storage ---
    0x90 SLOAD                0   1   1      100    Read(HostFn::SLoad);
    0x91 SSTORE               0   2   0      100    Write(HostFn::SStore);
    0x92 TLOAD                0   1   1      100    Read(HostFn::TLoad);
    0x93 TSTORE               0   2   0      100    Write(HostFn::TStore);
    // --- control flow and system ---
    0xA0 JUMP                 0   1   0      8      Jump;
    0xA1 JUMPI                0   2   0      10     JumpI;
    0xA2 PC                   0   0   1      3      Pc;
    0xA3 JUMPDEST             0   0   0      1      JumpDest;
    0xA4 CALL                 0   7   1      100    Call(HostFn::Call);
    0xA5 CALLCODE             0   7   1      100    Call(HostFn::CallCode);
    0xA6 DELEGATECALL         0   6   1      100    Call(HostFn::DelegateCall);
    0xA7 STATICCALL           0   6   1      100    Call(HostFn::StaticCall);
    0xA8 RETURN               0   2   0      0      Halt(HaltKind::Return);
    0xA9 REVERT               0   2   0      0      Halt(HaltKind::Revert);
    0xAA SELFDESTRUCT         0   1   0      5000   SelfDestruct;
    0xAB CREATE               0   3   1      32000  Create(HostFn::Create);
    0xAC CREATE2              0   4   1      32000  Create(HostFn::Create2);
    // --- execution context ---
    0xB0 ADDRESS              0   0   1      2      Env(EnvField::Address);
    0xB1 BALANCE              0   1   1      2      Read(HostFn::Balance);
    0xB2 ORIGIN               0   0   1      2      Env(EnvField::Origin);
    0xB3 CALLER               0   0   1      2      Env(EnvField::Caller);
    0xB4 CALLVALUE            0   0   1      2      Env(EnvField::CallValue);
    0xB5 CALLDATALOAD         0   1   1      3      DataLoad(DataSrc::Input);
    0xB6 CALLDATASIZE         0   0   1      2      DataSize(DataSrc::Input);
    0xB7 CALLDATACOPY         0   3   0      3      DataCopy(DataSrc::Input);
    0xB8 CODESIZE             0   0   1      2      CodeSize;
    0xB9 CODECOPY             0   3   0      3      DataCopy(DataSrc::Code);
    0xBA GASPRICE             0   0   1      2      Env(EnvField::GasPrice);
    0xBB EXTCODESIZE          0   1   1      100    Read(HostFn::ExtCodeSize);
    0xBC EXTCODECOPY          0   4   0      3      ExtCodeCopy;
    0xBD RETURNDATASIZE       0   0   1      2      DataSize(DataSrc::ReturnData);
    0xBE RETURNDATACOPY       0   3   0      3      DataCopy(DataSrc::ReturnData);
    0xBF EXTCODEHASH          0   1   1      100    Read(HostFn::ExtCodeHash);
    // --- block context ---
    0xC0 BLOCKHASH            0   1   1      20     Read(HostFn::BlockHash);
    0xC1 COINBASE             0   0   1      2      Env(EnvField::Coinbase);
    0xC2 TIMESTAMP            0   0   1      2      Env(EnvField::Timestamp);
    0xC3 NUMBER               0   0   1      2      Env(EnvField::Number);
    0xC4 DIFFICULTY           0   0   1      2      Env(EnvField::PrevRandao);
    0xC5 PREVRANDAO           0   0   1      2      Env(EnvField::PrevRandao);
    0xC6 GASLIMIT             0   0   1      2      Env(EnvField::GasLimit);
    0xC7 CHAINID              0   0   1      2      Env(EnvField::ChainId);
    0xC8 SELFBALANCE          0   0   1      2      Env(EnvField::SelfBalance);
    0xC9 BASEFEE              0   0   1      2      Env(EnvField::BaseFee);
    // --- storage utilities ---
    0xD2 TABLEHASH            0   2   1      30     TableHash;
    // --- Hedera token and consensus services ---
    0xE0 HTS_TRANSFER         0   4   1      50     ChainSpecific;
    0xE1 HTS_MINT             0   2   1      100    ChainSpecific;
    0xE2 HTS_BURN             0   2   1      100    ChainSpecific;
    0xE3 HTS_ASSOCIATE        0   2   1      50     ChainSpecific;
    0xE4 HTS_DISSOCIATE       0   1   1      50     ChainSpecific;
    0xE5 HTS_APPROVE          0   0   1      50     ChainSpecific;
    0xE6 HTS_CREATE           0   0   1      500    ChainSpecific;
    0xE7 HCS_SUBMIT           0   3   1      50     ChainSpecific;
    0xE8 HCS_CREATE_TOPIC     0   0   1      200    ChainSpecific;
    0xE9 HCS_UPDATE_TOPIC     0   0   1      100    ChainSpecific;
    0xEA HCS_DELETE_TOPIC     0   0   1      100    ChainSpecific;
    0xEB HEDERA_ACCOUNT_ID    0   0   1      2      ChainSpecific;
    0xEC HEDERA_TIMESTAMP     0   0   1      2      ChainSpecific;
    // --- post-quantum signatures ---
    0xF0 PQ_VERIFY_DILITHIUM  0   0   1      1000   ChainSpecific;
    0xF1 PQ_VERIFY_FALCON     0   0   1      800    ChainSpecific;
    0xF2 PQ_VERIFY_SPHINCS    0   0   1      2000   ChainSpecific;
    0xF3 PQ_KEYGEN            0   0   1      5000   ChainSpecific;
    // --- logging ---
    0xF8 LOG0                 0   2   0      375    Log(0);
    0xF9 LOG1                 0   3   0      750    Log(1);
    0xFA LOG2                 0   4   0      1125   Log(2);
    0xFB LOG3                 0   5   0      1500   Log(3);
    0xFC LOG4                 0   6   0      1875   Log(4);
}

/// The PUSH opcode whose immediate is `width` bytes, if ZVM has one.
pub const fn push_opcode(width: u8) -> Option<u8> {
    match width {
        1 => Some(op::PUSH1),
        2 => Some(op::PUSH2),
        4 => Some(op::PUSH4),
        8 => Some(op::PUSH8),
        16 => Some(op::PUSH16),
        32 => Some(op::PUSH32),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn table_is_consistent() {
        let mut names = HashSet::new();
        for pair in OPCODES.windows(2) {
            assert!(pair[0].code < pair[1].code, "{} and {} out of order", pair[0].name, pair[1].name);
        }
        for entry in OPCODES {
            assert!(names.insert(entry.name), "duplicate name {}", entry.name);
            assert_eq!(entry.name, entry.name.to_ascii_uppercase());
            assert_eq!(info(entry.code), Some(entry));
            assert_eq!(by_name(entry.name), Some(entry));
            assert_eq!(by_name(&entry.name.to_ascii_lowercase()), Some(entry));
        }
        let assigned = (0..=255u8).filter(|&c| info(c).is_some()).count();
        assert_eq!(assigned, OPCODES.len());
        assert_eq!(OPCODES.len(), 116);
    }

    #[test]
    fn push_immediates() {
        for width in PUSH_WIDTHS {
            let entry = by_name(&format!("PUSH{width}")).expect("push exists");
            assert_eq!(entry.imm_bytes, width);
            assert_eq!((entry.pops, entry.pushes), (0, 1));
            assert_eq!(push_opcode(width), Some(entry.code));
        }
        for entry in OPCODES.iter().filter(|e| !e.name.starts_with("PUSH")) {
            assert_eq!(entry.imm_bytes, 0, "{}", entry.name);
        }
        assert_eq!(push_opcode(3), None);
        assert!(by_name("PUSH3").is_none());
    }

    #[test]
    fn classes() {
        for code in 0..=255u8 {
            let Some(entry) = info(code) else { continue };
            let chain = matches!(code, 0xE0..=0xEC | 0xF0..=0xF3);
            assert_eq!(entry.sem == ChainSpecific, chain, "{}", entry.name);
        }
        for name in ["CALL", "CALLCODE", "DELEGATECALL", "STATICCALL", "CREATE", "CREATE2", "SELFDESTRUCT"] {
            assert!(by_name(name).is_some_and(|e| e.sem.is_call_or_create()), "{name}");
        }
        assert_eq!(info(op::TABLEHASH).map(|e| e.sem), Some(TableHash));
    }

    #[test]
    fn spot_checks_against_the_original() {
        let check = |code, name, gas| {
            let entry = info(code).expect("assigned");
            assert_eq!((entry.name, entry.base_gas), (name, gas));
        };
        check(0x00, "HALT", 0);
        check(0x30, "ADD", 3);
        check(0x5B, "SHL", 8);
        check(0x70, "KECCAK256", 30);
        check(0x90, "SLOAD", 100);
        check(0xA1, "JUMPI", 10);
        check(0xD2, "TABLEHASH", 30);
        check(0xFB, "LOG3", 1500);
        for n in 0..=4u8 {
            let log = info(op::LOG0 + n).expect("log");
            assert_eq!((log.pops, log.base_gas), (2 + n, 375 + 375 * u64::from(n)));
        }
        assert!(info(0x02).is_none() && info(0xFE).is_none() && info(0xFF).is_none());
    }
}
