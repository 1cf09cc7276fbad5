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

/// How the frontend treats an opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpClass {
    /// Implemented by zvm.
    Supported,
    /// Chain-specific (0xE0-0xEC, 0xF0-0xF3 in the original): rejected at load.
    ChainSpecific,
    /// CALL/CREATE family: arrives with the EVM issue; rejected at load until then.
    CallCreate,
}

/// Static description of one opcode.
///
/// `pops` is the number of stack items the instruction needs and `pushes` the number it leaves in their
/// place, so `pushes - pops` is the net change of the stack height. For `DUPn` that is `n -> n + 1` and for
/// `SWAPn` it is `n + 1 -> n + 1`: the items they read or permute count as popped and pushed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpInfo {
    pub code: u8,
    /// Upper-case mnemonic, e.g. `"PUSH1"`, `"KECCAK256"`.
    pub name: &'static str,
    /// Immediate bytes following the opcode (`PUSHn`: `n`, every other opcode: 0).
    pub imm_bytes: u8,
    pub pops: u8,
    pub pushes: u8,
    /// Static gas charged for the op; dynamic parts are documented in `docs/zvm-bytecode.md`.
    pub base_gas: u64,
    pub class: OpClass,
}

/// Widths of the PUSH instructions ZVM has (there is no PUSH3, PUSH5, ...).
pub const PUSH_WIDTHS: [u8; 6] = [1, 2, 4, 8, 16, 32];

macro_rules! opcode_list {
    ($($code:literal $name:ident $imm:literal $pops:literal $pushes:literal $gas:literal $class:ident;)*) => {
        /// Named opcode numbers, for `match`ing on bytecode.
        pub mod op {
            $(pub const $name: u8 = $code;)*
        }

        /// Every assigned opcode, in ascending numeric order.
        pub const OPCODES: &[OpInfo] = &[$(OpInfo {
            code: $code,
            name: stringify!($name),
            imm_bytes: $imm,
            pops: $pops,
            pushes: $pushes,
            base_gas: $gas,
            class: OpClass::$class,
        },)*];
    };
}

opcode_list! {
    // code  name             imm pops push  gas    class
    // --- control ---
    0x00 HALT                 0   0   0      0      Supported;
    0x01 NOP                  0   0   0      0      Supported;
    // --- stack ---
    0x10 POP                  0   1   0      2      Supported;
    0x11 PUSH1                1   0   1      3      Supported;
    0x12 PUSH2                2   0   1      3      Supported;
    0x13 PUSH4                4   0   1      3      Supported;
    0x14 PUSH8                8   0   1      3      Supported;
    0x15 PUSH16               16  0   1      3      Supported;
    0x16 PUSH32               32  0   1      3      Supported;
    0x17 DUP1                 0   1   2      3      Supported;
    0x18 DUP2                 0   2   3      3      Supported;
    0x19 DUP3                 0   3   4      3      Supported;
    0x1A DUP4                 0   4   5      3      Supported;
    0x1B SWAP1                0   2   2      3      Supported;
    0x1C SWAP2                0   3   3      3      Supported;
    0x1D SWAP3                0   4   4      3      Supported;
    0x1E SWAP4                0   5   5      3      Supported;
    // --- arithmetic ---
    0x30 ADD                  0   2   1      3      Supported;
    0x31 SUB                  0   2   1      3      Supported;
    0x32 MUL                  0   2   1      5      Supported;
    0x33 DIV                  0   2   1      5      Supported;
    0x34 SDIV                 0   2   1      5      Supported;
    0x35 MOD                  0   2   1      5      Supported;
    0x36 SMOD                 0   2   1      5      Supported;
    0x37 ADDMOD               0   3   1      8      Supported;
    0x38 MULMOD               0   3   1      8      Supported;
    0x39 EXP                  0   2   1      10     Supported;
    0x3A SIGNEXTEND           0   2   1      5      Supported;
    // --- comparison and bitwise ---
    0x50 LT                   0   2   1      3      Supported;
    0x51 GT                   0   2   1      3      Supported;
    0x52 SLT                  0   2   1      3      Supported;
    0x53 SGT                  0   2   1      3      Supported;
    0x54 EQ                   0   2   1      3      Supported;
    0x55 ISZERO               0   1   1      3      Supported;
    0x56 AND                  0   2   1      3      Supported;
    0x57 OR                   0   2   1      3      Supported;
    0x58 XOR                  0   2   1      3      Supported;
    0x59 NOT                  0   1   1      3      Supported;
    0x5A BYTE                 0   2   1      3      Supported;
    0x5B SHL                  0   2   1      8      Supported;
    0x5C SHR                  0   2   1      8      Supported;
    0x5D SAR                  0   2   1      8      Supported;
    // --- hashing ---
    0x70 KECCAK256            0   2   1      30     Supported;
    0x71 SHA256               0   2   1      60     Supported;
    0x72 RIPEMD160            0   2   1      600    Supported;
    0x73 BLAKE2B              0   2   1      30     Supported;
    // --- memory ---
    0x80 MLOAD                0   1   1      3      Supported;
    0x81 MSTORE               0   2   0      3      Supported;
    0x82 MSTORE8              0   2   0      3      Supported;
    0x83 MSIZE                0   0   1      3      Supported;
    // --- storage ---
    0x90 SLOAD                0   1   1      100    Supported;
    0x91 SSTORE               0   2   0      100    Supported;
    0x92 TLOAD                0   1   1      100    Supported;
    0x93 TSTORE               0   2   0      100    Supported;
    // --- control flow and system ---
    0xA0 JUMP                 0   1   0      8      Supported;
    0xA1 JUMPI                0   2   0      10     Supported;
    0xA2 PC                   0   0   1      3      Supported;
    0xA3 JUMPDEST             0   0   0      1      Supported;
    0xA4 CALL                 0   7   1      100    CallCreate;
    0xA5 CALLCODE             0   7   1      100    CallCreate;
    0xA6 DELEGATECALL         0   6   1      100    CallCreate;
    0xA7 STATICCALL           0   6   1      100    CallCreate;
    0xA8 RETURN               0   2   0      0      Supported;
    0xA9 REVERT               0   2   0      0      Supported;
    0xAA SELFDESTRUCT         0   1   0      5000   CallCreate;
    0xAB CREATE               0   3   1      32000  CallCreate;
    0xAC CREATE2              0   4   1      32000  CallCreate;
    // --- execution context ---
    0xB0 ADDRESS              0   0   1      2      Supported;
    0xB1 BALANCE              0   1   1      2      Supported;
    0xB2 ORIGIN               0   0   1      2      Supported;
    0xB3 CALLER               0   0   1      2      Supported;
    0xB4 CALLVALUE            0   0   1      2      Supported;
    0xB5 CALLDATALOAD         0   1   1      3      Supported;
    0xB6 CALLDATASIZE         0   0   1      2      Supported;
    0xB7 CALLDATACOPY         0   3   0      3      Supported;
    0xB8 CODESIZE             0   0   1      2      Supported;
    0xB9 CODECOPY             0   3   0      3      Supported;
    0xBA GASPRICE             0   0   1      2      Supported;
    0xBB EXTCODESIZE          0   1   1      100    Supported;
    0xBC EXTCODECOPY          0   4   0      3      Supported;
    0xBD RETURNDATASIZE       0   0   1      2      Supported;
    0xBE RETURNDATACOPY       0   3   0      3      Supported;
    0xBF EXTCODEHASH          0   1   1      100    Supported;
    // --- block context ---
    0xC0 BLOCKHASH            0   1   1      20     Supported;
    0xC1 COINBASE             0   0   1      2      Supported;
    0xC2 TIMESTAMP            0   0   1      2      Supported;
    0xC3 NUMBER               0   0   1      2      Supported;
    0xC4 DIFFICULTY           0   0   1      2      Supported;
    0xC5 PREVRANDAO           0   0   1      2      Supported;
    0xC6 GASLIMIT             0   0   1      2      Supported;
    0xC7 CHAINID              0   0   1      2      Supported;
    0xC8 SELFBALANCE          0   0   1      2      Supported;
    0xC9 BASEFEE              0   0   1      2      Supported;
    // --- storage utilities ---
    0xD2 TABLEHASH            0   2   1      30     Supported;
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
    0xF8 LOG0                 0   2   0      375    Supported;
    0xF9 LOG1                 0   3   0      750    Supported;
    0xFA LOG2                 0   4   0      1125   Supported;
    0xFB LOG3                 0   5   0      1500   Supported;
    0xFC LOG4                 0   6   0      1875   Supported;
}

const TABLE: [Option<&'static OpInfo>; 256] = {
    let mut table: [Option<&'static OpInfo>; 256] = [None; 256];
    let mut i = 0;
    while i < OPCODES.len() {
        let entry = &OPCODES[i];
        assert!(table[entry.code as usize].is_none(), "opcode number assigned twice");
        table[entry.code as usize] = Some(entry);
        i += 1;
    }
    table
};

/// Looks up an opcode by number; `None` for unassigned bytes.
pub const fn info(code: u8) -> Option<&'static OpInfo> {
    TABLE[code as usize]
}

/// Looks up an opcode by mnemonic, ignoring ASCII case.
pub fn by_name(name: &str) -> Option<&'static OpInfo> {
    OPCODES.iter().find(|op| op.name.eq_ignore_ascii_case(name))
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
            assert_eq!(entry.class == OpClass::ChainSpecific, chain, "{}", entry.name);
        }
        for name in ["CALL", "CALLCODE", "DELEGATECALL", "STATICCALL", "CREATE", "CREATE2", "SELFDESTRUCT"] {
            assert_eq!(by_name(name).map(|e| e.class), Some(OpClass::CallCreate), "{name}");
        }
        assert_eq!(info(op::TABLEHASH).map(|e| e.class), Some(OpClass::Supported));
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
