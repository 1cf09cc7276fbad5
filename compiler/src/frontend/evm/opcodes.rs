//! The EVM opcode table (Cancun): the single source of truth for opcode numbers, mnemonics, immediate
//! sizes, stack effects and static gas of the EVM frontend.
//!
//! Static gas is what the Yellow Paper and the EIPs up to Cancun charge unconditionally; every
//! state-dependent part is charged by the host at the operation: EIP-2929 cold surcharges (so `SLOAD`,
//! `BALANCE`, `EXTCODE*` and the calls carry the warm cost 100 here), `SSTORE` entirely (static 0: its
//! EIP-2200 stipend check must see the gas before any of its cost), and the value, new-account and
//! init-code costs of calls and creates.

pub use super::super::stack::OpInfo;
use super::super::stack::{opcode_table, Sem, Sem::*};
use zvm_ir::{BinOp, DataSrc, EnvField, HaltKind, HashAlg, HostFn, TernOp, UnOp};

/// What an unassigned byte decodes to: it traps when executed (and costs all gas), like `INVALID`.
pub static UNDEFINED: OpInfo =
    OpInfo { code: 0xFE, name: "UNDEFINED", imm_bytes: 0, pops: 0, pushes: 0, base_gas: 0, sem: Sem::Invalid };

opcode_table! {
    // code  name           imm pops push gas    semantics
    0x00 STOP             0   0    0    0      Stop;
    0x01 ADD              0   2    1    3      Binary(BinOp::Add);
    0x02 MUL              0   2    1    5      Binary(BinOp::Mul);
    0x03 SUB              0   2    1    3      Binary(BinOp::Sub);
    0x04 DIV              0   2    1    5      Binary(BinOp::DivU);
    0x05 SDIV             0   2    1    5      Binary(BinOp::DivS);
    0x06 MOD              0   2    1    5      Binary(BinOp::RemU);
    0x07 SMOD             0   2    1    5      Binary(BinOp::RemS);
    0x08 ADDMOD           0   3    1    8      Ternary(TernOp::AddMod);
    0x09 MULMOD           0   3    1    8      Ternary(TernOp::MulMod);
    0x0A EXP              0   2    1    10     Exp;
    0x0B SIGNEXTEND       0   2    1    5      Binary(BinOp::SignExtend);
    0x10 LT               0   2    1    3      Binary(BinOp::LtU);
    0x11 GT               0   2    1    3      Binary(BinOp::GtU);
    0x12 SLT              0   2    1    3      Binary(BinOp::LtS);
    0x13 SGT              0   2    1    3      Binary(BinOp::GtS);
    0x14 EQ               0   2    1    3      Binary(BinOp::Eq);
    0x15 ISZERO           0   1    1    3      Unary(UnOp::Eqz);
    0x16 AND              0   2    1    3      Binary(BinOp::And);
    0x17 OR               0   2    1    3      Binary(BinOp::Or);
    0x18 XOR              0   2    1    3      Binary(BinOp::Xor);
    0x19 NOT              0   1    1    3      Unary(UnOp::Not);
    0x1A BYTE             0   2    1    3      Binary(BinOp::Byte);
    0x1B SHL              0   2    1    3      Shift(BinOp::Shl);
    0x1C SHR              0   2    1    3      Shift(BinOp::ShrU);
    0x1D SAR              0   2    1    3      Shift(BinOp::ShrS);
    0x20 KECCAK256        0   2    1    30     Hash(HashAlg::Keccak256);
    0x30 ADDRESS          0   0    1    2      Env(EnvField::Address);
    0x31 BALANCE          0   1    1    100    Read(HostFn::Balance);
    0x32 ORIGIN           0   0    1    2      Env(EnvField::Origin);
    0x33 CALLER           0   0    1    2      Env(EnvField::Caller);
    0x34 CALLVALUE        0   0    1    2      Env(EnvField::CallValue);
    0x35 CALLDATALOAD     0   1    1    3      DataLoad(DataSrc::Input);
    0x36 CALLDATASIZE     0   0    1    2      DataSize(DataSrc::Input);
    0x37 CALLDATACOPY     0   3    0    3      DataCopy(DataSrc::Input);
    0x38 CODESIZE         0   0    1    2      CodeSize;
    0x39 CODECOPY         0   3    0    3      DataCopy(DataSrc::Code);
    0x3A GASPRICE         0   0    1    2      Env(EnvField::GasPrice);
    0x3B EXTCODESIZE      0   1    1    100    Read(HostFn::ExtCodeSize);
    0x3C EXTCODECOPY      0   4    0    100    ExtCodeCopy;
    0x3D RETURNDATASIZE   0   0    1    2      DataSize(DataSrc::ReturnData);
    0x3E RETURNDATACOPY   0   3    0    3      DataCopy(DataSrc::ReturnData);
    0x3F EXTCODEHASH      0   1    1    100    Read(HostFn::ExtCodeHash);
    0x40 BLOCKHASH        0   1    1    20     Read(HostFn::BlockHash);
    0x41 COINBASE         0   0    1    2      Env(EnvField::Coinbase);
    0x42 TIMESTAMP        0   0    1    2      Env(EnvField::Timestamp);
    0x43 NUMBER           0   0    1    2      Env(EnvField::Number);
    0x44 PREVRANDAO       0   0    1    2      Env(EnvField::PrevRandao);
    0x45 GASLIMIT         0   0    1    2      Env(EnvField::GasLimit);
    0x46 CHAINID          0   0    1    2      Env(EnvField::ChainId);
    0x47 SELFBALANCE      0   0    1    5      Env(EnvField::SelfBalance);
    0x48 BASEFEE          0   0    1    2      Env(EnvField::BaseFee);
    0x49 BLOBHASH         0   1    1    3      Read(HostFn::BlobHash);
    0x4A BLOBBASEFEE      0   0    1    2      Env(EnvField::BlobBaseFee);
    0x50 POP              0   1    0    2      Pop;
    0x51 MLOAD            0   1    1    3      MLoad;
    0x52 MSTORE           0   2    0    3      MStore;
    0x53 MSTORE8          0   2    0    3      MStore8;
    0x54 SLOAD            0   1    1    100    Read(HostFn::SLoad);
    0x55 SSTORE           0   2    0    0      Write(HostFn::SStore);
    0x56 JUMP             0   1    0    8      Jump;
    0x57 JUMPI            0   2    0    10     JumpI;
    0x58 PC               0   0    1    2      Pc;
    0x59 MSIZE            0   0    1    2      MSize;
    0x5A GAS              0   0    1    2      Gas;
    0x5B JUMPDEST         0   0    0    1      JumpDest;
    0x5C TLOAD            0   1    1    100    Read(HostFn::TLoad);
    0x5D TSTORE           0   2    0    100    Write(HostFn::TStore);
    0x5E MCOPY            0   3    0    3      MCopy;
    0x5F PUSH0            0   0    1    2      Push;
    0x60 PUSH1            1   0    1    3      Push;
    0x61 PUSH2            2   0    1    3      Push;
    0x62 PUSH3            3   0    1    3      Push;
    0x63 PUSH4            4   0    1    3      Push;
    0x64 PUSH5            5   0    1    3      Push;
    0x65 PUSH6            6   0    1    3      Push;
    0x66 PUSH7            7   0    1    3      Push;
    0x67 PUSH8            8   0    1    3      Push;
    0x68 PUSH9            9   0    1    3      Push;
    0x69 PUSH10           10  0    1    3      Push;
    0x6A PUSH11           11  0    1    3      Push;
    0x6B PUSH12           12  0    1    3      Push;
    0x6C PUSH13           13  0    1    3      Push;
    0x6D PUSH14           14  0    1    3      Push;
    0x6E PUSH15           15  0    1    3      Push;
    0x6F PUSH16           16  0    1    3      Push;
    0x70 PUSH17           17  0    1    3      Push;
    0x71 PUSH18           18  0    1    3      Push;
    0x72 PUSH19           19  0    1    3      Push;
    0x73 PUSH20           20  0    1    3      Push;
    0x74 PUSH21           21  0    1    3      Push;
    0x75 PUSH22           22  0    1    3      Push;
    0x76 PUSH23           23  0    1    3      Push;
    0x77 PUSH24           24  0    1    3      Push;
    0x78 PUSH25           25  0    1    3      Push;
    0x79 PUSH26           26  0    1    3      Push;
    0x7A PUSH27           27  0    1    3      Push;
    0x7B PUSH28           28  0    1    3      Push;
    0x7C PUSH29           29  0    1    3      Push;
    0x7D PUSH30           30  0    1    3      Push;
    0x7E PUSH31           31  0    1    3      Push;
    0x7F PUSH32           32  0    1    3      Push;
    0x80 DUP1             0   1    2    3      Dup(1);
    0x81 DUP2             0   2    3    3      Dup(2);
    0x82 DUP3             0   3    4    3      Dup(3);
    0x83 DUP4             0   4    5    3      Dup(4);
    0x84 DUP5             0   5    6    3      Dup(5);
    0x85 DUP6             0   6    7    3      Dup(6);
    0x86 DUP7             0   7    8    3      Dup(7);
    0x87 DUP8             0   8    9    3      Dup(8);
    0x88 DUP9             0   9    10   3      Dup(9);
    0x89 DUP10            0   10   11   3      Dup(10);
    0x8A DUP11            0   11   12   3      Dup(11);
    0x8B DUP12            0   12   13   3      Dup(12);
    0x8C DUP13            0   13   14   3      Dup(13);
    0x8D DUP14            0   14   15   3      Dup(14);
    0x8E DUP15            0   15   16   3      Dup(15);
    0x8F DUP16            0   16   17   3      Dup(16);
    0x90 SWAP1            0   2    2    3      Swap(1);
    0x91 SWAP2            0   3    3    3      Swap(2);
    0x92 SWAP3            0   4    4    3      Swap(3);
    0x93 SWAP4            0   5    5    3      Swap(4);
    0x94 SWAP5            0   6    6    3      Swap(5);
    0x95 SWAP6            0   7    7    3      Swap(6);
    0x96 SWAP7            0   8    8    3      Swap(7);
    0x97 SWAP8            0   9    9    3      Swap(8);
    0x98 SWAP9            0   10   10   3      Swap(9);
    0x99 SWAP10           0   11   11   3      Swap(10);
    0x9A SWAP11           0   12   12   3      Swap(11);
    0x9B SWAP12           0   13   13   3      Swap(12);
    0x9C SWAP13           0   14   14   3      Swap(13);
    0x9D SWAP14           0   15   15   3      Swap(14);
    0x9E SWAP15           0   16   16   3      Swap(15);
    0x9F SWAP16           0   17   17   3      Swap(16);
    0xA0 LOG0             0   2    0    375    Log(0);
    0xA1 LOG1             0   3    0    750    Log(1);
    0xA2 LOG2             0   4    0    1125   Log(2);
    0xA3 LOG3             0   5    0    1500   Log(3);
    0xA4 LOG4             0   6    0    1875   Log(4);
    0xF0 CREATE           0   3    1    32000  Create(HostFn::Create);
    0xF1 CALL             0   7    1    100    Call(HostFn::Call);
    0xF2 CALLCODE         0   7    1    100    Call(HostFn::CallCode);
    0xF3 RETURN           0   2    0    0      Halt(HaltKind::Return);
    0xF4 DELEGATECALL     0   6    1    100    Call(HostFn::DelegateCall);
    0xF5 CREATE2          0   4    1    32000  Create(HostFn::Create2);
    0xFA STATICCALL       0   6    1    100    Call(HostFn::StaticCall);
    0xFD REVERT           0   2    0    0      Halt(HaltKind::Revert);
    0xFE INVALID          0   0    0    0      Invalid;
    0xFF SELFDESTRUCT     0   1    0    5000   SelfDestruct;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for pair in OPCODES.windows(2) {
            assert!(pair[0].code < pair[1].code, "{} and {} out of order", pair[0].name, pair[1].name);
        }
        for entry in OPCODES {
            assert_eq!(info(entry.code), Some(entry));
            assert_eq!(by_name(entry.name), Some(entry));
        }
        // Cancun has 149 opcodes.
        assert_eq!(OPCODES.len(), 149);
    }

    #[test]
    fn spot_checks_against_the_yellow_paper() {
        let check = |code, name, gas, pops, pushes| {
            let e = info(code).expect("assigned");
            assert_eq!((e.name, e.base_gas, e.pops, e.pushes), (name, gas, pops, pushes));
        };
        check(0x01, "ADD", 3, 2, 1);
        check(0x0A, "EXP", 10, 2, 1);
        check(0x20, "KECCAK256", 30, 2, 1);
        check(0x3C, "EXTCODECOPY", 100, 4, 0);
        check(0x47, "SELFBALANCE", 5, 0, 1);
        check(0x5F, "PUSH0", 2, 0, 1);
        check(0x7F, "PUSH32", 3, 0, 1);
        check(0x8F, "DUP16", 3, 16, 17);
        check(0x9F, "SWAP16", 3, 17, 17);
        check(0xA4, "LOG4", 1875, 6, 0);
        check(0xF1, "CALL", 100, 7, 1);
        check(0xF5, "CREATE2", 32000, 4, 1);
        check(0xFF, "SELFDESTRUCT", 5000, 1, 0);
        assert_eq!(info(0x7F).map(|e| e.imm_bytes), Some(32));
        assert!(info(0x0C).is_none() && info(0x21).is_none() && info(0xF6).is_none());
    }
}
