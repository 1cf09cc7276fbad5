//! Loads ZVM bytecode: the container (or raw code) is parsed, every instruction validated (every byte
//! decodes, no truncated PUSH, no chain-specific opcode), and the instructions lowered to IR by the
//! lowering ZVM shares with the EVM ([`crate::frontend::stack::lower`]).

use super::asm::{decode, Instruction};
use super::container::{self, ContainerError};
use crate::frontend::stack::{self, Instr, Sem};
use thiserror::Error;
use zvm_ir::{Module, U256};

/// Largest code accepted by default (bytes): the original's `max_initcode_size` (EIP-3860's limit). It
/// also bounds compile cost: the worst case measured (48 KiB of dynamic jumps) compiles in about 2.5 s.
pub const DEFAULT_MAX_CODE_SIZE: usize = 49152;

/// Why bytecode was rejected at load.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LoadError {
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error("code is {size} bytes, more than the limit of {max}")]
    CodeTooLarge { size: usize, max: usize },
    #[error("unknown opcode {byte:#04x} at offset {offset}")]
    UnknownOpcode { byte: u8, offset: usize },
    #[error("chain-specific opcode {name} ({byte:#04x}) at offset {offset} is not supported by zvm")]
    ChainSpecific { name: &'static str, byte: u8, offset: usize },
    #[error("truncated {name} at offset {offset}: {have} of {need} immediate bytes")]
    TruncatedPush { name: &'static str, offset: usize, have: usize, need: usize },
}

/// Bytecode ready to run: its IR and the code section (what `CODESIZE`/`CODECOPY` see).
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded<'a> {
    pub module: Module,
    pub code: &'a [u8],
}

/// Parses (container or raw code), validates and lowers ZVM bytecode. The IR is not yet gas-passed.
pub fn load(bytes: &[u8], max_code_size: usize) -> Result<Loaded<'_>, LoadError> {
    let code = container::parse(bytes)?.code;
    if code.len() > max_code_size {
        return Err(LoadError::CodeTooLarge { size: code.len(), max: max_code_size });
    }
    let instrs = validate(code)?;
    Ok(Loaded { module: stack::lower(code, &instrs), code })
}

fn validate(code: &[u8]) -> Result<Vec<Instr>, LoadError> {
    decode(code)
        .map(|Instruction { offset, opcode, info, imm }| {
            let info = info.ok_or(LoadError::UnknownOpcode { byte: opcode, offset })?;
            let (name, byte) = (info.name, opcode);
            if info.sem == Sem::ChainSpecific {
                return Err(LoadError::ChainSpecific { name, byte, offset });
            }
            let need = usize::from(info.imm_bytes);
            if imm.len() < need {
                return Err(LoadError::TruncatedPush { name, offset, have: imm.len(), need });
            }
            Ok(Instr { offset, info, imm: U256::try_from_be_slice(imm).unwrap_or(U256::ZERO) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::zvm::asm::assemble;
    use crate::frontend::zvm::opcodes::{op, OPCODES};
    use zvm_ir::{HaltKind, Op};

    fn lowered(code: &[u8]) -> Module {
        let module = load(code, DEFAULT_MAX_CODE_SIZE).expect("loads").module;
        zvm_ir::verify::verify_module(&module).unwrap_or_else(|e| panic!("{e}\n{}", zvm_ir::text::print(&module)));
        module
    }

    #[test]
    fn every_supported_opcode_lowers_to_verified_ir() {
        for info in OPCODES.iter().filter(|i| i.sem != Sem::ChainSpecific) {
            let mut code = Vec::new();
            for _ in 0..info.pops {
                code.extend([op::PUSH1, 1]);
            }
            code.push(info.code);
            code.extend(std::iter::repeat_n(0, usize::from(info.imm_bytes)));
            code.extend([op::JUMPDEST, op::HALT]);
            lowered(&code);
        }
    }

    #[test]
    fn empty_code_halts() {
        let m = lowered(&[]);
        assert!(matches!(m.functions[0].insts.last().map(|i| &i.op), Some(Op::Halt { kind: HaltKind::Return, .. })));
    }

    #[test]
    fn constant_jumps_are_direct_and_dynamic_jumps_use_one_dispatch() {
        let direct = lowered(&assemble("PUSH @a\nJUMP\na:\nJUMPDEST\nHALT").unwrap());
        let has_switch = |m: &Module| m.functions[0].insts.iter().any(|i| matches!(i.op, Op::Switch { .. }));
        assert!(!has_switch(&direct));
        let dynamic = lowered(&assemble("PUSH1 0\nCALLDATALOAD\nJUMP\nJUMPDEST\nPUSH1 0\nCALLDATALOAD\nJUMP").unwrap());
        let switches = dynamic.functions[0].insts.iter().filter(|i| matches!(i.op, Op::Switch { .. })).count();
        assert_eq!(switches, 1);
    }

    #[test]
    fn unchanged_stack_slots_are_not_written_back() {
        // DUP2 then POP leaves the stack as it was: no stack.set, no stack.adjust.
        let m = lowered(&assemble("JUMPDEST\nDUP2\nPOP\nHALT").unwrap());
        let writes = m.functions[0]
            .insts
            .iter()
            .filter(|i| matches!(i.op, Op::StackSet { .. } | Op::StackAdjust { .. }))
            .count();
        assert_eq!(writes, 0);
    }

    #[test]
    fn load_errors_name_the_opcode_and_offset() {
        assert_eq!(
            load(&[op::PUSH1, 1, 0xE5], DEFAULT_MAX_CODE_SIZE).unwrap_err().to_string(),
            "chain-specific opcode HTS_APPROVE (0xe5) at offset 2 is not supported by zvm"
        );
        assert_eq!(
            load(&[op::PUSH4, 1, 2], DEFAULT_MAX_CODE_SIZE).unwrap_err(),
            LoadError::TruncatedPush { name: "PUSH4", offset: 0, have: 2, need: 4 }
        );
    }
}
