//! Bytecode frontends. Each one validates its input format and lowers it to `zvm_ir`; none of them knows
//! anything about Cranelift or the interpreter.
pub mod evm;
pub mod stack;
pub mod wasm;
pub mod zvm;
