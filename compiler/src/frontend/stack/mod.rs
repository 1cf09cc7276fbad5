//! What the stack-machine frontends (ZVM and EVM) share: the meaning of an opcode ([`Sem`]), the shape of
//! an opcode table ([`OpInfo`], built by `opcode_table!`), and the lowering of decoded instructions to IR
//! ([`lower`]).
//!
//! The two bytecodes number their opcodes differently and differ in a few operations, but an `ADD` is an
//! `ADD`: each frontend's table maps its numbers to a [`Sem`], and one lowering turns semantics into IR.
//! A fix or an optimisation in the lowering therefore reaches both bytecodes at once.

pub mod lower;

pub use lower::{lower, Instr};

use zvm_ir::{BinOp, DataSrc, EnvField, HaltKind, HashAlg, HostFn, TernOp, UnOp};

/// What an opcode does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sem {
    /// Ends execution successfully with empty output (EVM `STOP`, ZVM `HALT`).
    Stop,
    /// Does nothing.
    Nop,
    /// A valid jump destination (does nothing when executed).
    JumpDest,
    Pop,
    /// Pushes the immediate (zero for `PUSH0`).
    Push,
    /// Duplicates the `n`th item (1 = top).
    Dup(u8),
    /// Swaps the top with the item `n` below it.
    Swap(u8),
    /// `top OP next`.
    Binary(BinOp),
    /// EVM shifts: the shift amount is on top, the value below it: `next OP top`.
    Shift(BinOp),
    Ternary(TernOp),
    /// `EXP`, with its per-byte dynamic gas.
    Exp,
    Unary(UnOp),
    /// Hash of a memory range.
    Hash(HashAlg),
    /// ZVM `TABLEHASH`: the storage key of a mapping entry.
    TableHash,
    MLoad,
    MStore,
    MStore8,
    MSize,
    /// `MCOPY` (EIP-5656).
    MCopy,
    /// A host function taking one word and returning one (`SLOAD`, `BALANCE`, ...).
    Read(HostFn),
    /// A host function taking two words and returning nothing (`SSTORE`, `TSTORE`).
    Write(HostFn),
    Jump,
    JumpI,
    Pc,
    /// `GAS`: the gas left after this instruction's own cost.
    Gas,
    /// `RETURN` / `REVERT` with a memory range.
    Halt(HaltKind),
    /// An environment word.
    Env(EnvField),
    DataLoad(DataSrc),
    DataSize(DataSrc),
    DataCopy(DataSrc),
    CodeSize,
    ExtCodeCopy,
    /// `LOGn`.
    Log(u8),
    /// One of the call host functions (`call`, `callcode`, `delegatecall`, `staticcall`).
    Call(HostFn),
    /// `create` or `create2`.
    Create(HostFn),
    /// `SELFDESTRUCT`: ends the frame.
    SelfDestruct,
    /// EVM `INVALID` and every undefined EVM opcode: traps when executed.
    Invalid,
    /// ZVM's chain-specific opcodes, which zvm rejects at load.
    ChainSpecific,
}

impl Sem {
    /// True for operations after which control never falls through.
    pub const fn ends_flow(self) -> bool {
        matches!(self, Sem::Stop | Sem::Jump | Sem::Halt(_) | Sem::Invalid | Sem::SelfDestruct)
    }

    /// True for the operations that run other code (calls, creates) or end the account (`SELFDESTRUCT`).
    pub const fn is_call_or_create(self) -> bool {
        matches!(self, Sem::Call(_) | Sem::Create(_) | Sem::SelfDestruct)
    }
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
    /// Static gas, charged per block; dynamic parts are charged by the lowering and the host.
    pub base_gas: u64,
    pub sem: Sem,
}

/// Builds an opcode table from one list: named constants in `op`, the list `OPCODES` in ascending order,
/// and the 256-entry lookup behind `info(byte)` and `by_name(mnemonic)`. No opcode is written down twice.
macro_rules! opcode_table {
    ($($code:literal $name:ident $imm:literal $pops:literal $pushes:literal $gas:literal $sem:expr;)*) => {
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
            sem: $sem,
        },)*];

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
    };
}
pub(crate) use opcode_table;
