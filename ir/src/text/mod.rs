//! The text form of the IR: a readable, Cranelift-flavoured notation for modules, used by tests, tools and
//! bug reports.
//!
//! # Guarantees
//! - [`print()`] and [`print_function`] never panic, whatever the module contains (out-of-range handles are
//!   printed as they are, so a broken function can still be looked at).
//! - [`parse`] never panics, whatever its input; every rejection is a [`ParseError`] with a 1-based
//!   `line:column` and a message.
//! - Round trip: for every module whose values are each defined exactly once in its layout,
//!   `print(&parse(&print(m))?) == print(m)`. The parser numbers values in the order of their numbers in the
//!   text, so a function whose values are numbered densely (as [`FunctionBuilder`](crate::FunctionBuilder)
//!   numbers them) keeps its value numbers; gaps are closed up. Blocks are numbered in text order;
//!   instructions in text order.
//! - The parser checks syntax and names only (every value used is defined somewhere in its function, every
//!   block label exists, nothing is defined twice). Typing, dominance and terminator placement are the
//!   [`verify`](crate::verify) module's business, so invalid-but-well-formed IR can be written down to test
//!   the verifier. In particular `entry fnN` and `call fnN(...)` (without results) may name a function that
//!   does not exist, and widths, `log` topic counts and type suffixes are not checked against each other.
//!
//! # Syntax
//! Line-oriented: one block header or instruction per line; `;` starts a comment that runs to the end of
//! the line.
//!
//! ```text
//! module    := [ "entry" FN ] function*            ; default entry: fn0
//! function  := "function" NAME "(" [type ("," type)*] ")" ["->" type ("," type)*] "{" block* "}"
//! block     := LABEL ["(" VALUE ":" type ("," VALUE ":" type)* ")"] ":" inst*
//! inst      := [VALUE ("," VALUE)* "="] opcode operands
//! NAME      := "%" [A-Za-z0-9_.$]+  |  "%" '"' string-with-escapes '"'
//! FN        := "fn" N      (functions are numbered by position in the module)
//! LABEL     := "block" N   VALUE := "v" N
//! ```
//!
//! Instructions (result names are omitted where there are none):
//!
//! ```text
//! v = iconst.i64 -5            v = fconst.f64 0x3ff0000000000000       v = wconst 0x2a
//! v = not|eqz|clz|ctz|popcnt a
//! v = add|sub|mul|div_u|div_s|rem_u|rem_s|and|or|xor|shl|shr_u|shr_s|rotl|rotr|eq|ne|lt_u|lt_s|gt_u|gt_s
//!     |le_u|le_s|ge_u|ge_s|exp|signextend|byte a, b
//! v = addmod|mulmod a, b, n
//! v = zext.w256 a | sext.i64 a | trunc.i32 a | satu64 a    (satu64.T a if its target field is not i64)
//! v = select c, a, b
//! v = load.i32.8s.be addr+16   (type, width in bytes, `s` = signed, be|le; `+offset` omitted when 0)
//! store.32.be addr+16, value
//! v = mem.size                 mem.expand off, len           mem.copy dst, src, len
//! v = hash.keccak256|sha256|ripemd160|blake2b256 off, len
//! v = data.size input|code|returndata          v = data.load code off          data.copy input dst, off, len
//! stack.check min, growth      v = stack.get depth           stack.set depth, v     stack.adjust -2
//! gas.cost 3                   gas.block 21                  gas.charge v           v = gas.left
//! v = hostcall sload k         hostcall log2 off, len, t0, t1                        v = hostcall env.caller
//! v0, v1 = call fn1(a, b)
//! jump block1(a, b)            brif c, block1(a), block2     switch i, [0: block1, 5: block2], block3
//! return a, b                  halt return off, len          halt revert off, len    trap stack_underflow
//! ```
//!
//! Integers are decimal or `0x` hexadecimal; `wconst` is printed in hex, `fconst` as its raw IEEE bits in
//! hex (with the float value in a comment). `iconst` prints the full 64-bit immediate in decimal, so an
//! `i32` constant keeps whatever its high bits are.
//!
//! # Definition order
//! Values may be used before (in text order) they are defined, in any block. Result types are not written;
//! they are inferred with [`Function::infer_result_types`]. The parser propagates types from block
//! parameters and constants until every instruction's result types are known, so any order works except a
//! value whose type depends on itself (`v1 = add v2, v2` / `v2 = add v1, v1`), which is rejected.

mod lexer;
mod parse;
mod print;

use crate::function::{Function, Module};
use crate::instructions::{BinOp, ConvOp, DataSrc, HashAlg, TernOp, UnOp};
use std::fmt;

pub use parse::{parse, parse_function};
pub(crate) use print::{opcode_name, write_name as write_func_name};
pub use print::{print, print_function, print_inst};

/// Why text could not be parsed: where (1-based line and column, in characters) and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print(self))
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print_function(self))
    }
}

// ---- names of the operation enums (shared by the printer and the parser) ------------------------------

fn unop_name(op: UnOp) -> &'static str {
    match op {
        UnOp::Not => "not",
        UnOp::Eqz => "eqz",
        UnOp::Clz => "clz",
        UnOp::Ctz => "ctz",
        UnOp::Popcnt => "popcnt",
    }
}

fn binop_name(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "add",
        BinOp::Sub => "sub",
        BinOp::Mul => "mul",
        BinOp::DivU => "div_u",
        BinOp::DivS => "div_s",
        BinOp::RemU => "rem_u",
        BinOp::RemS => "rem_s",
        BinOp::And => "and",
        BinOp::Or => "or",
        BinOp::Xor => "xor",
        BinOp::Shl => "shl",
        BinOp::ShrU => "shr_u",
        BinOp::ShrS => "shr_s",
        BinOp::Rotl => "rotl",
        BinOp::Rotr => "rotr",
        BinOp::Eq => "eq",
        BinOp::Ne => "ne",
        BinOp::LtU => "lt_u",
        BinOp::LtS => "lt_s",
        BinOp::GtU => "gt_u",
        BinOp::GtS => "gt_s",
        BinOp::LeU => "le_u",
        BinOp::LeS => "le_s",
        BinOp::GeU => "ge_u",
        BinOp::GeS => "ge_s",
        BinOp::Exp => "exp",
        BinOp::SignExtend => "signextend",
        BinOp::Byte => "byte",
    }
}

fn ternop_name(op: TernOp) -> &'static str {
    match op {
        TernOp::AddMod => "addmod",
        TernOp::MulMod => "mulmod",
    }
}

/// The text form's name of a conversion (`zext`, `ftos_sat`, ...).
pub fn convop_name(op: ConvOp) -> &'static str {
    match op {
        ConvOp::Zext => "zext",
        ConvOp::Sext => "sext",
        ConvOp::Trunc => "trunc",
        ConvOp::SatU64 => "satu64",
        ConvOp::FToS => "ftos",
        ConvOp::FToU => "ftou",
        ConvOp::FToSSat => "ftos_sat",
        ConvOp::FToUSat => "ftou_sat",
        ConvOp::SToF => "stof",
        ConvOp::UToF => "utof",
        ConvOp::FPromote => "fpromote",
        ConvOp::FDemote => "fdemote",
        ConvOp::Bitcast => "bitcast",
    }
}

fn convop_from_name(s: &str) -> Option<ConvOp> {
    ConvOp::ALL.into_iter().find(|&c| convop_name(c) == s)
}

fn hash_from_name(s: &str) -> Option<HashAlg> {
    HashAlg::ALL.into_iter().find(|h| h.name() == s)
}

fn datasrc_from_name(s: &str) -> Option<DataSrc> {
    DataSrc::ALL.into_iter().find(|d| d.name() == s)
}

/// Is `s` printable as a bare `%name`?
fn is_bare_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_bare_name_char)
}

fn is_bare_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$')
}
