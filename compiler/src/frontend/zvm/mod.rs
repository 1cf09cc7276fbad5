//! The ZVM bytecode frontend: opcode table, container format, assembler/disassembler and lowering to IR.
pub mod asm;
pub mod container;
pub mod lower;
pub mod opcodes;
