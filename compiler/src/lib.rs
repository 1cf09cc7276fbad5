//! zvm's compiler: bytecode frontends that lower ZVM (and later EVM and WASM) to the shared IR, and the
//! Cranelift backend that turns IR into native code.
pub mod abi;
pub mod cranelift;
pub mod frontend;
