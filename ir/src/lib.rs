//! The shared SSA intermediate representation of zvm.
//!
//! Every bytecode zvm accepts (ZVM, EVM, WebAssembly) is lowered by its frontend into this IR, and both
//! execution tiers (the interpreter in `zvm-runtime` and the Cranelift backend in `zvm-compiler`) run it. The
//! IR is therefore the one place where the meaning of a program is defined.
//!
//! # Shape
//! - A [`Module`] holds [`Function`]s; execution starts at its entry function.
//! - A function is a list of basic blocks in SSA form. Blocks take parameters instead of phi nodes; every
//!   block ends with exactly one terminator (`jump`, `brif`, `switch`, `return`, `halt`, `trap`).
//! - Values are typed: `i32`, `i64`, `f32`, `f64` and the 256-bit word `w256` ([`Type`]).
//! - Operations ([`Op`]) cover integer arithmetic on every integer type (with EVM semantics on `w256`), a
//!   bounds-checked growable linear memory, read-only data buffers (call data, code, return data), an operand
//!   stack for stack-machine frontends, explicit gas, host calls by id, and direct calls.
//!
//! # Gas
//! Frontends emit `gas.cost N` before each source operation. The [`passes::gas`] pass folds each block's
//! costs into one `gas.block` charge at its entry, ending the charge early at every operation that observes
//! the remaining gas, so that it sees exactly what a per-operation meter would show. Dynamic costs are explicit `gas.charge` operations, or are
//! part of an operation's definition (`mem.expand`).
//!
//! # Text form
//! [`text::print`] and [`text::parse`] convert modules to and from a readable text form, so that tests and
//! bug reports can be written in IR. [`verify`] checks types, dominance and block arguments.

pub mod builder;
pub mod entities;
pub mod function;
pub mod instructions;
pub mod passes;
pub mod semantics;
pub mod text;
pub mod types;
pub mod verify;

pub use builder::FunctionBuilder;
pub use entities::{Block, FuncId, Inst, Value};
pub use function::{
    BlockData, Function, InstData, MemoryPlan, Module, ModuleTypes, Signature, TablePlan, ValueData, ValueDef,
};
pub use instructions::{
    BinOp, BlockCall, ConvOp, DataSrc, EnvField, FBinOp, FUnOp, HaltKind, HashAlg, HostFn, MemAccess, Op, TernOp,
    TrapCode, UnOp, STACK_LIMIT, WASM_PAGE,
};
pub use ruint::aliases::U256;
pub use types::Type;
