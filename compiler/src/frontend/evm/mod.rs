//! The EVM frontend (Cancun): decodes EVM bytecode and lowers it with the shared stack-machine lowering.
//!
//! Unlike ZVM code, EVM code is never rejected: every byte sequence is a program. Undefined opcodes and
//! `INVALID` trap when they are reached (consuming all gas), and a `PUSHn` cut off by the end of the code
//! pushes its missing bytes as zeros. Jump destinations are the `JUMPDEST` bytes that are not inside a PUSH's
//! immediate, which decoding instruction by instruction gives for free.

pub mod opcodes;

use crate::frontend::stack::{self, Instr};
use thiserror::Error;
use zvm_ir::{Module, U256};

/// EIP-170: the largest code a contract can have.
pub const MAX_CODE_SIZE: usize = 0x6000;
/// EIP-3860: the largest init code a create can run.
pub const MAX_INITCODE_SIZE: usize = 2 * MAX_CODE_SIZE;

/// Why EVM code could not be loaded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LoadError {
    #[error("code is {size} bytes, more than the limit of {max}")]
    CodeTooLarge { size: usize, max: usize },
}

/// Decodes EVM code into instructions (see the module docs for the rules).
pub fn decode(code: &[u8]) -> Vec<Instr> {
    let mut out = Vec::with_capacity(code.len());
    let mut pc = 0;
    while pc < code.len() {
        let info = opcodes::info(code[pc]).unwrap_or(&opcodes::UNDEFINED);
        let n = usize::from(info.imm_bytes);
        let imm = if n == 0 {
            U256::ZERO
        } else {
            let mut bytes = [0u8; 32];
            let avail = &code[pc + 1..(pc + 1 + n).min(code.len())];
            bytes[32 - n..32 - n + avail.len()].copy_from_slice(avail);
            U256::from_be_bytes(bytes)
        };
        out.push(Instr { offset: pc, info, imm });
        pc += 1 + n;
    }
    out
}

/// Lowers EVM `code` to IR (not yet gas-passed). Code longer than `max_code_size` is refused, to bound
/// compile time and memory on hostile input.
pub fn load(code: &[u8], max_code_size: usize) -> Result<Module, LoadError> {
    if code.len() > max_code_size {
        return Err(LoadError::CodeTooLarge { size: code.len(), max: max_code_size });
    }
    Ok(stack::lower(code, &decode(code)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opcodes::{op, OPCODES};
    use zvm_ir::Op;

    fn lowered(code: &[u8]) -> Module {
        let module = load(code, MAX_INITCODE_SIZE).expect("loads");
        zvm_ir::verify::verify_module(&module).unwrap_or_else(|e| panic!("{e}\n{}", zvm_ir::text::print(&module)));
        module
    }

    #[test]
    fn every_opcode_and_every_byte_lowers_to_verified_ir() {
        for info in OPCODES {
            let mut code = [op::PUSH1, 1].repeat(usize::from(info.pops));
            code.push(info.code);
            code.extend(std::iter::repeat_n(0, usize::from(info.imm_bytes)));
            code.extend([op::JUMPDEST, op::STOP]);
            lowered(&code);
        }
        for byte in 0..=255u8 {
            lowered(&[byte]);
            lowered(&[op::PUSH1, 0, byte, op::JUMPDEST, byte]);
        }
    }

    #[test]
    fn truncated_push_is_zero_padded_and_push_data_is_not_a_jumpdest() {
        let d = decode(&[op::PUSH2, 0x01]);
        assert_eq!((d.len(), d[0].imm), (1, U256::from(0x0100)));
        let d = decode(&[op::PUSH1, op::JUMPDEST, op::JUMPDEST]);
        assert_eq!(d.iter().map(|i| i.offset).collect::<Vec<_>>(), vec![0, 2]);
        let m = lowered(&[op::PUSH1, 3, op::JUMP, op::PUSH1, op::JUMPDEST]);
        // The only JUMPDEST byte is push data: the constant jump goes to the invalid-jump trap.
        let traps = m.functions[0].insts.iter().filter(|i| matches!(i.op, Op::Trap { .. })).count();
        assert!(traps >= 1);
    }

    #[test]
    fn oversized_code_is_refused() {
        assert_eq!(load(&[0; 10], 9), Err(LoadError::CodeTooLarge { size: 10, max: 9 }));
    }
}
