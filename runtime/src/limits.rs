//! Explicit resource limits: every allocation and depth an untrusted program can cause is bounded here.

/// Operand stack capacity of the EVM and ZVM, in words.
pub use zvm_ir::STACK_LIMIT;

/// Resource limits of one execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory a frame may grow to, in bytes. Growing past it traps `memory_limit`.
    pub max_memory: u64,
    /// Largest bytecode accepted, in bytes.
    pub max_code_size: usize,
    /// Deepest chain of IR-level calls.
    pub max_call_depth: u64,
    /// Most elements all tables of an instance may hold together (8 bytes each).
    pub max_table_elements: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_memory: 64 << 20,
            max_code_size: zvm_compiler::frontend::zvm::lower::DEFAULT_MAX_CODE_SIZE,
            max_call_depth: 1024,
            max_table_elements: 1 << 20,
        }
    }
}
