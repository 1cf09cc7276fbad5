//! The parser. Two stages per function: the syntax is read into instructions whose value and block handles
//! are still the numbers written in the text; then names are resolved (every use defined, nothing defined
//! twice), result types are inferred by propagation, and the function's arenas are built.

use super::lexer::{lex, Pos, Tok, Token};
use super::{binop_name, convop_from_name, datasrc_from_name, hash_from_name, ternop_name, unop_name, ParseError};
use crate::entities::{Block, FuncId, Inst, Value};
use crate::function::{
    BlockData, Function, InstData, MemoryPlan, Module, ModuleTypes, Signature, TablePlan, ValueData, ValueDef,
};
use crate::instructions::{
    BinOp, BlockCall, ConvOp, DataSrc, FBinOp, FUnOp, HaltKind, HostFn, MemAccess, Op, TernOp, TrapCode, UnOp,
};
use crate::types::Type;
use ruint::aliases::U256;
use std::collections::{HashMap, VecDeque};

type Result<T> = std::result::Result<T, ParseError>;

/// Parses a module (see the [module documentation](super) for the syntax).
pub fn parse(src: &str) -> Result<Module> {
    let mut p = Parser { toks: lex(src)?, i: 0, uses: Vec::new(), block_refs: Vec::new() };
    let mut entry: Option<(FuncId, Pos)> = None;
    let mut memory: Option<MemoryPlan> = None;
    let mut canonical_nans = true;
    let mut globals = Vec::new();
    let mut data = Vec::new();
    let mut tables = Vec::new();
    let mut elems = Vec::new();
    let mut types = Vec::new();
    let mut asts = Vec::new();
    loop {
        p.skip_newlines();
        let tok = p.next();
        match tok.tok {
            Tok::Eof => break,
            Tok::Word(w) if w == "entry" => {
                if let Some((_, first)) = entry {
                    return Err(tok.pos.error(format!(
                        "the entry function is declared twice (first at {}:{})",
                        first.line, first.column
                    )));
                }
                let f = p.func_ref()?;
                p.end_of_line()?;
                entry = Some((f, tok.pos));
            }
            Tok::Word(w) if w == "memory" => {
                if memory.is_some() {
                    return Err(tok.pos.error("the memory is declared twice"));
                }
                let min_pages = p.u64("minimum pages")?;
                let max_pages = if p.eat(&Tok::Comma) { Some(p.u64("maximum pages")?) } else { None };
                let guarded = p.eat(&Tok::Word("guarded".into()));
                p.end_of_line()?;
                memory = Some(MemoryPlan { min_pages, max_pages, guarded });
            }
            Tok::Word(w) if w == "nans" => {
                let (mode, pos) = p.word("`canonical` or `native`")?;
                canonical_nans = match mode.as_str() {
                    "canonical" => true,
                    "native" => false,
                    other => return Err(pos.error(format!("expected `canonical` or `native`, found `{other}`"))),
                };
                p.end_of_line()?;
            }
            Tok::Word(w) if w == "global" => {
                globals.push(p.ty()?);
                p.end_of_line()?;
            }
            Tok::Word(w) if w == "table" => {
                let min = p.u64("minimum size")?;
                let max = if p.eat(&Tok::Comma) { Some(p.u64("maximum size")?) } else { None };
                p.end_of_line()?;
                tables.push(TablePlan { min, max });
            }
            Tok::Word(w) if w == "elem" => {
                p.expect(&Tok::LBracket)?;
                let mut refs = Vec::new();
                if !p.eat(&Tok::RBracket) {
                    loop {
                        refs.push(p.u64("a reference")?);
                        if !p.eat(&Tok::Comma) {
                            break;
                        }
                    }
                    p.expect(&Tok::RBracket)?;
                }
                p.end_of_line()?;
                elems.push(refs);
            }
            Tok::Word(w) if w == "type" => {
                p.expect(&Tok::LParen)?;
                let params = if p.eat(&Tok::RParen) {
                    Vec::new()
                } else {
                    let t = p.type_list()?;
                    p.expect(&Tok::RParen)?;
                    t
                };
                let results = if p.eat(&Tok::Arrow) { p.type_list()? } else { Vec::new() };
                p.end_of_line()?;
                types.push(Signature { params, results });
            }
            Tok::Word(w) if w == "data" => {
                let (n, npos) = p.number("a data segment (`0x` and hex bytes)")?;
                data.push(parse_bytes(&n).ok_or_else(|| npos.error(format!("invalid data segment `{n}`")))?);
                p.end_of_line()?;
            }
            Tok::Word(w) if w == "function" => asts.push(p.function(tok.pos)?),
            other => {
                return Err(tok.pos.error(format!(
                    "expected `function`, `entry`, `nans`, `memory`, `global`, `table`, `elem`, `type` or `data`, \
                     found {}",
                    other.describe()
                )))
            }
        }
    }
    let callee_results: Vec<Vec<Type>> = asts.iter().map(|f| f.sig.results.clone()).collect();
    let functions = asts
        .into_iter()
        .map(|ast| build_function(ast, &callee_results, ModuleTypes { globals: &globals, types: &types }))
        .collect::<Result<Vec<_>>>()?;
    let mut module = Module::new(functions, entry.map_or(FuncId(0), |e| e.0));
    module.globals = globals;
    module.data = data;
    module.memory = memory.unwrap_or_default();
    module.tables = tables;
    module.elems = elems;
    module.types = types;
    module.canonical_nans = canonical_nans;
    Ok(module)
}

/// Parses text holding exactly one function (and no `entry` line other than `entry fn0`). Calls in it can
/// only refer to `fn0`, the function itself.
pub fn parse_function(src: &str) -> Result<Function> {
    let module = parse(src)?;
    if module.functions.len() != 1 || module.entry != FuncId(0) {
        return Err(Pos { line: 1, column: 1 }
            .error(format!("expected exactly one function, found {}", module.functions.len())));
    }
    module.functions.into_iter().next().ok_or_else(|| Pos { line: 1, column: 1 }.error("expected a function"))
}

// ---- syntax ------------------------------------------------------------------------------------------

struct FuncAst {
    name: String,
    sig: Signature,
    blocks: Vec<BlockAst>,
    /// Every value operand, as written, with its position.
    uses: Vec<(u32, Pos)>,
    /// Every block named as a branch target, with its position.
    block_refs: Vec<(u32, Pos)>,
}

struct BlockAst {
    label: u32,
    pos: Pos,
    params: Vec<(u32, Type, Pos)>,
    insts: Vec<InstAst>,
}

struct InstAst {
    results: Vec<(u32, Pos)>,
    /// The operation, with `Value(n)` for text value `vn` and `Block(n)` for label `blockn`.
    op: Op,
    opcode: String,
    pos: Pos,
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    uses: Vec<(u32, Pos)>,
    block_refs: Vec<(u32, Pos)>,
}

/// `prefix` followed by a decimal `u32` (`v12` → 12); `Err` if the digits do not fit.
fn numbered(word: &str, prefix: &str) -> Option<std::result::Result<u32, ()>> {
    let digits = word.strip_prefix(prefix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse::<u32>().map_err(|_| ()))
}

/// An integer literal: optional `-`, then decimal digits or `0x` and hex digits, fitting in 64 bits of
/// magnitude.
fn parse_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let magnitude = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(hex, 16).ok()?
    } else {
        if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        body.parse::<u64>().ok()?
    };
    let m = i128::from(magnitude);
    Some(if neg { -m } else { m })
}

/// `0x` followed by an even number of hex digits.
fn parse_bytes(s: &str) -> Option<Vec<u8>> {
    let hex = s.strip_prefix("0x")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

fn parse_u256(s: &str) -> Option<U256> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        U256::from_str_radix(hex, 16).ok()
    } else {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        U256::from_str_radix(s, 10).ok()
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.i).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        self.toks.get(self.i + ahead).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn pos(&self) -> Pos {
        self.toks.get(self.i).or(self.toks.last()).map_or(Pos { line: 1, column: 1 }, |t| t.pos)
    }

    fn next(&mut self) -> Token {
        match self.toks.get(self.i) {
            Some(t) => {
                let t = t.clone();
                if t.tok != Tok::Eof {
                    self.i += 1;
                }
                t
            }
            None => Token { tok: Tok::Eof, pos: self.pos() },
        }
    }

    fn error_here(&self, expected: &str) -> ParseError {
        self.pos().error(format!("expected {expected}, found {}", self.peek().describe()))
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &Tok) -> Result<Pos> {
        let pos = self.pos();
        if self.eat(tok) {
            Ok(pos)
        } else {
            Err(self.error_here(&tok.describe()))
        }
    }

    fn skip_newlines(&mut self) {
        while self.eat(&Tok::Newline) {}
    }

    fn at_line_end(&self) -> bool {
        matches!(self.peek(), Tok::Newline | Tok::Eof)
    }

    fn end_of_line(&mut self) -> Result<()> {
        if self.eat(&Tok::Newline) || *self.peek() == Tok::Eof {
            Ok(())
        } else {
            Err(self.error_here("end of line"))
        }
    }

    fn word(&mut self, expected: &str) -> Result<(String, Pos)> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Word(w) => {
                self.i += 1;
                Ok((w, pos))
            }
            _ => Err(self.error_here(expected)),
        }
    }

    fn number(&mut self, expected: &str) -> Result<(String, Pos)> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Number(n) => {
                self.i += 1;
                Ok((n, pos))
            }
            _ => Err(self.error_here(expected)),
        }
    }

    /// An integer literal in `[min, max]`.
    fn int(&mut self, what: &str, min: i128, max: i128) -> Result<i128> {
        let (n, pos) = self.number(what)?;
        match parse_int(&n) {
            Some(v) if (min..=max).contains(&v) => Ok(v),
            Some(_) => Err(pos.error(format!("{what} `{n}` is out of range ({min} to {max})"))),
            None => Err(pos.error(format!("invalid number `{n}`"))),
        }
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        let v = self.int(what, 0, i128::from(u64::MAX))?;
        Ok(u64::try_from(v).unwrap_or(u64::MAX))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let v = self.int(what, 0, i128::from(u32::MAX))?;
        Ok(u32::try_from(v).unwrap_or(u32::MAX))
    }

    fn ty(&mut self) -> Result<Type> {
        let (w, pos) = self.word("a type")?;
        Type::from_name(&w)
            .ok_or_else(|| pos.error(format!("unknown type `{w}` (expected i32, i64, f32, f64 or w256)")))
    }

    fn type_list(&mut self) -> Result<Vec<Type>> {
        let mut types = vec![self.ty()?];
        while self.eat(&Tok::Comma) {
            types.push(self.ty()?);
        }
        Ok(types)
    }

    fn value_name(&mut self) -> Result<(u32, Pos)> {
        let (w, pos) = self.word("a value (`v0`, `v1`, ...)")?;
        match numbered(&w, "v") {
            Some(Ok(n)) => Ok((n, pos)),
            Some(Err(())) => Err(pos.error(format!("value number of `{w}` is too large"))),
            None => Err(pos.error(format!("expected a value (`v0`, `v1`, ...), found `{w}`"))),
        }
    }

    /// A value operand (recorded as a use).
    fn value(&mut self) -> Result<Value> {
        let (n, pos) = self.value_name()?;
        self.uses.push((n, pos));
        Ok(Value(n))
    }

    /// `a, b, ...` with exactly `N` values.
    fn values<const N: usize>(&mut self) -> Result<[Value; N]> {
        let mut out = [Value(0); N];
        for (i, slot) in out.iter_mut().enumerate() {
            if i > 0 {
                self.expect(&Tok::Comma)?;
            }
            *slot = self.value()?;
        }
        Ok(out)
    }

    /// A possibly empty list of values up to the end of the line.
    fn values_to_eol(&mut self) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        if self.at_line_end() {
            return Ok(out);
        }
        out.push(self.value()?);
        while self.eat(&Tok::Comma) {
            out.push(self.value()?);
        }
        Ok(out)
    }

    /// A possibly empty list of values up to `)`, which is consumed.
    fn values_to_paren(&mut self) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        if self.eat(&Tok::RParen) {
            return Ok(out);
        }
        out.push(self.value()?);
        while self.eat(&Tok::Comma) {
            out.push(self.value()?);
        }
        self.expect(&Tok::RParen)?;
        Ok(out)
    }

    fn label_number(&self, w: &str, pos: Pos) -> Result<Option<u32>> {
        match numbered(w, "block") {
            Some(Ok(n)) => Ok(Some(n)),
            Some(Err(())) => Err(pos.error(format!("block number of `{w}` is too large"))),
            None => Ok(None),
        }
    }

    /// A block label used as a branch target (recorded as a reference).
    fn block_ref(&mut self) -> Result<Block> {
        let (w, pos) = self.word("a block label (`block0`, `block1`, ...)")?;
        match self.label_number(&w, pos)? {
            Some(n) => {
                self.block_refs.push((n, pos));
                Ok(Block(n))
            }
            None => Err(pos.error(format!("expected a block label (`block0`, `block1`, ...), found `{w}`"))),
        }
    }

    fn block_call(&mut self) -> Result<BlockCall> {
        let block = self.block_ref()?;
        let args = if self.eat(&Tok::LParen) { self.values_to_paren()? } else { Vec::new() };
        Ok(BlockCall { block, args })
    }

    fn func_ref(&mut self) -> Result<FuncId> {
        let (w, pos) = self.word("a function reference (`fn0`, `fn1`, ...)")?;
        match numbered(&w, "fn") {
            Some(Ok(n)) => Ok(FuncId(n)),
            Some(Err(())) => Err(pos.error(format!("function number of `{w}` is too large"))),
            None => Err(pos.error(format!("expected a function reference (`fn0`, `fn1`, ...), found `{w}`"))),
        }
    }

    fn function(&mut self, start: Pos) -> Result<FuncAst> {
        let name = match self.next() {
            Token { tok: Tok::FuncName(n), .. } => n,
            t => return Err(t.pos.error(format!("expected a function name (`%name`), found {}", t.tok.describe()))),
        };
        self.expect(&Tok::LParen)?;
        let params = if self.eat(&Tok::RParen) {
            Vec::new()
        } else {
            let types = self.type_list()?;
            self.expect(&Tok::RParen)?;
            types
        };
        let results = if self.eat(&Tok::Arrow) { self.type_list()? } else { Vec::new() };
        self.expect(&Tok::LBrace)?;
        self.end_of_line()?;
        self.uses.clear();
        self.block_refs.clear();
        let mut blocks: Vec<BlockAst> = Vec::new();
        loop {
            self.skip_newlines();
            let pos = self.pos();
            match self.peek().clone() {
                Tok::RBrace => {
                    self.i += 1;
                    self.end_of_line()?;
                    break;
                }
                Tok::Eof => {
                    return Err(
                        start.error(format!("function %{name} is not closed: expected `}}` before the end of input"))
                    )
                }
                Tok::Word(w) if matches!(self.peek_at(1), Tok::Colon | Tok::LParen) => {
                    let Some(label) = self.label_number(&w, pos)? else {
                        return Err(
                            pos.error(format!("expected a block label (`block0`, ...) or an instruction, found `{w}`"))
                        );
                    };
                    self.i += 1;
                    let mut params = Vec::new();
                    if self.eat(&Tok::LParen) {
                        loop {
                            let (v, vpos) = self.value_name()?;
                            self.expect(&Tok::Colon)?;
                            params.push((v, self.ty()?, vpos));
                            if !self.eat(&Tok::Comma) {
                                break;
                            }
                        }
                        self.expect(&Tok::RParen)?;
                    }
                    self.expect(&Tok::Colon)?;
                    self.end_of_line()?;
                    blocks.push(BlockAst { label, pos, params, insts: Vec::new() });
                }
                _ => {
                    let inst = self.inst()?;
                    match blocks.last_mut() {
                        Some(b) => b.insts.push(inst),
                        None => return Err(pos.error("instruction before the first block label")),
                    }
                }
            }
        }
        Ok(FuncAst {
            name,
            sig: Signature { params, results },
            blocks,
            uses: std::mem::take(&mut self.uses),
            block_refs: std::mem::take(&mut self.block_refs),
        })
    }

    fn inst(&mut self) -> Result<InstAst> {
        let pos = self.pos();
        let mut results = Vec::new();
        if let Tok::Word(w) = self.peek() {
            if numbered(w, "v").is_some() {
                loop {
                    results.push(self.value_name()?);
                    if !self.eat(&Tok::Comma) {
                        break;
                    }
                }
                self.expect(&Tok::Equals)?;
            }
        }
        let (opcode, op_pos) = self.word("an opcode")?;
        let op = self.op(&opcode, op_pos)?;
        self.end_of_line()?;
        Ok(InstAst { results, op, opcode, pos })
    }

    /// The operation named `opcode` (already consumed) and its operands.
    fn op(&mut self, opcode: &str, pos: Pos) -> Result<Op> {
        let mut parts = opcode.split('.');
        let head = parts.next().unwrap_or_default();
        let suffix: Vec<&str> = parts.collect();
        let suffix_count = |n: usize, form: &str| -> Result<()> {
            if suffix.len() == n {
                Ok(())
            } else {
                Err(pos.error(format!("malformed opcode `{opcode}` (expected the form `{form}`)")))
            }
        };
        let suffix_type = |i: usize| -> Result<Type> {
            let s = suffix.get(i).copied().unwrap_or_default();
            Type::from_name(s).ok_or_else(|| pos.error(format!("unknown type `{s}` in `{opcode}`")))
        };
        if let Some(op) = UnOp::ALL.into_iter().find(|&o| unop_name(o) == opcode) {
            return Ok(Op::Unary { op, arg: self.value()? });
        }
        if let Some(op) = BinOp::ALL.into_iter().find(|&o| binop_name(o) == opcode) {
            return Ok(Op::Binary { op, args: self.values()? });
        }
        if let Some(op) = FUnOp::ALL.into_iter().find(|&o| o.name() == opcode) {
            return Ok(Op::FUnary { op, arg: self.value()? });
        }
        if let Some(op) = FBinOp::ALL.into_iter().find(|&o| o.name() == opcode) {
            return Ok(Op::FBinary { op, args: self.values()? });
        }
        if let Some(op) = TernOp::ALL.into_iter().find(|&o| ternop_name(o) == opcode) {
            return Ok(Op::Ternary { op, args: self.values()? });
        }
        if let Some(op) = convop_from_name(head) {
            let to = if op == ConvOp::SatU64 && suffix.is_empty() {
                Type::I64
            } else {
                suffix_count(1, &format!("{head}.TYPE"))?;
                suffix_type(0)?
            };
            return Ok(Op::Convert { op, to, arg: self.value()? });
        }
        Ok(match head {
            "iconst" => {
                suffix_count(1, "iconst.TYPE")?;
                let ty = suffix_type(0)?;
                let imm = self.int("iconst immediate", i128::from(i64::MIN), i128::from(u64::MAX))?;
                // Values above i64::MAX are taken as 64-bit patterns.
                Op::Iconst { ty, imm: imm as i64 }
            }
            "fconst" => {
                suffix_count(1, "fconst.TYPE")?;
                let ty = suffix_type(0)?;
                Op::Fconst { ty, bits: self.u64("fconst bits")? }
            }
            "wconst" => {
                suffix_count(0, "wconst")?;
                let (n, npos) = self.number("a w256 constant")?;
                let imm = parse_u256(&n).ok_or_else(|| npos.error(format!("invalid w256 constant `{n}`")))?;
                Op::Wconst { imm }
            }
            "select" if suffix.is_empty() => {
                let [cond, a, b] = self.values()?;
                Op::Select { cond, args: [a, b] }
            }
            "load" => {
                suffix_count(3, "load.TYPE.WIDTH[s].be|le")?;
                let ty = suffix_type(0)?;
                let mut access = self.access(suffix[1], suffix[2], opcode, pos)?;
                let addr = self.value()?;
                access.offset = self.offset()?;
                Op::Load { ty, access, addr }
            }
            "store" => {
                suffix_count(2, "store.WIDTH[s].be|le")?;
                let mut access = self.access(suffix[0], suffix[1], opcode, pos)?;
                let addr = self.value()?;
                access.offset = self.offset()?;
                self.expect(&Tok::Comma)?;
                Op::Store { access, addr, value: self.value()? }
            }
            "mem" => match suffix.as_slice() {
                ["size"] => Op::MemSize,
                ["expand"] => Op::MemExpand { args: self.values()? },
                ["copy"] => Op::MemCopy { args: self.values()? },
                ["grow"] => Op::MemGrow { arg: self.value()? },
                ["fill"] => Op::MemFill { args: self.values()? },
                ["init"] => {
                    let seg = self.u32("data segment")?;
                    Op::MemInit { seg, args: self.values()? }
                }
                _ => {
                    return Err(pos.error(format!(
                        "unknown opcode `{opcode}` (expected mem.size, mem.expand, mem.copy, mem.grow, mem.fill or \
                         mem.init)"
                    )))
                }
            },
            "table" => match suffix.as_slice() {
                ["get"] => {
                    let table = self.u32("table")?;
                    Op::TableGet { table, arg: self.value()? }
                }
                ["set"] => {
                    let table = self.u32("table")?;
                    Op::TableSet { table, args: self.values()? }
                }
                ["size"] => Op::TableSize { table: self.u32("table")? },
                ["grow"] => {
                    let table = self.u32("table")?;
                    Op::TableGrow { table, args: self.values()? }
                }
                ["fill"] => {
                    let table = self.u32("table")?;
                    Op::TableFill { table, args: self.values()? }
                }
                ["copy"] => {
                    let dst = self.u32("table")?;
                    let src = self.u32("table")?;
                    Op::TableCopy { dst, src, args: self.values()? }
                }
                ["init"] => {
                    let table = self.u32("table")?;
                    let seg = self.u32("element segment")?;
                    Op::TableInit { table, seg, args: self.values()? }
                }
                _ => {
                    return Err(pos.error(format!(
                        "unknown opcode `{opcode}` (expected table.get, table.set, table.size, table.grow, \
                             table.fill, table.copy or table.init)"
                    )))
                }
            },
            "elem" if suffix == ["drop"] => Op::ElemDrop { seg: self.u32("element segment")? },
            "ref" if suffix == ["func"] => Op::RefFunc { func: self.u32("function index")? },
            "call_indirect" if suffix.is_empty() => {
                let ty = self.u32("type")?;
                let table = self.u32("table")?;
                let mut args = vec![self.value()?];
                self.expect(&Tok::LParen)?;
                args.extend(self.values_to_paren()?);
                Op::CallIndirect { ty, table, args }
            }
            "global" => match suffix.as_slice() {
                ["get"] => Op::GlobalGet { index: self.u32("global index")? },
                ["set"] => {
                    let index = self.u32("global index")?;
                    self.expect(&Tok::Comma)?;
                    Op::GlobalSet { index, value: self.value()? }
                }
                _ => return Err(pos.error(format!("unknown opcode `{opcode}` (expected global.get or global.set)"))),
            },
            "hash" => {
                suffix_count(1, "hash.ALG")?;
                let alg = hash_from_name(suffix[0]).ok_or_else(|| {
                    pos.error(format!(
                        "unknown hash `{}` (expected keccak256, sha256, ripemd160 or blake2b256)",
                        suffix[0]
                    ))
                })?;
                Op::Hash { alg, args: self.values()? }
            }
            "data" => match suffix.as_slice() {
                ["size"] => Op::DataSize { src: self.data_src()? },
                ["load"] => {
                    let src = self.data_src()?;
                    Op::DataLoad { src, arg: self.value()? }
                }
                ["copy"] => {
                    let src = self.data_src()?;
                    Op::DataCopy { src, args: self.values()? }
                }
                ["drop"] => Op::DataDrop { seg: self.u32("data segment")? },
                _ => {
                    return Err(pos.error(format!(
                        "unknown opcode `{opcode}` (expected data.size, data.load, data.copy or data.drop)"
                    )))
                }
            },
            "stack" => match suffix.as_slice() {
                ["check"] => {
                    let min = self.u32("stack.check minimum")?;
                    self.expect(&Tok::Comma)?;
                    Op::StackCheck { min, growth: self.u32("stack.check growth")? }
                }
                ["get"] => Op::StackGet { depth: self.u32("stack depth")? },
                ["set"] => {
                    let depth = self.u32("stack depth")?;
                    self.expect(&Tok::Comma)?;
                    Op::StackSet { depth, value: self.value()? }
                }
                ["adjust"] => {
                    let delta = self.int("stack.adjust delta", i128::from(i32::MIN), i128::from(i32::MAX))?;
                    Op::StackAdjust { delta: i32::try_from(delta).unwrap_or_default() }
                }
                _ => {
                    return Err(pos.error(format!(
                        "unknown opcode `{opcode}` (expected stack.check, stack.get, stack.set or stack.adjust)"
                    )))
                }
            },
            "gas" => match suffix.as_slice() {
                ["cost"] => Op::GasCost { amount: self.u64("gas amount")? },
                ["block"] => Op::GasBlock { amount: self.u64("gas amount")? },
                ["charge"] => Op::GasCharge { arg: self.value()? },
                ["left"] => {
                    self.eat(&Tok::Plus);
                    Op::GasLeft
                }
                _ => {
                    return Err(pos.error(format!(
                        "unknown opcode `{opcode}` (expected gas.cost, gas.block, gas.charge or gas.left)"
                    )))
                }
            },
            "hostcall" if suffix.is_empty() => {
                let (name, npos) = self.word("a host function name")?;
                let func = match numbered(&name, "log") {
                    Some(n) => HostFn::Log(
                        n.ok()
                            .and_then(|n| u8::try_from(n).ok())
                            .ok_or_else(|| npos.error(format!("too many log topics in `{name}`")))?,
                    ),
                    None => {
                        HostFn::from_name(&name).ok_or_else(|| npos.error(format!("unknown host function `{name}`")))?
                    }
                };
                Op::HostCall { func, args: self.values_to_eol()? }
            }
            "call" if suffix.is_empty() => {
                let func = self.func_ref()?;
                self.expect(&Tok::LParen)?;
                Op::Call { func, args: self.values_to_paren()? }
            }
            "jump" if suffix.is_empty() => Op::Jump { dest: self.block_call()? },
            "brif" if suffix.is_empty() => {
                let cond = self.value()?;
                self.expect(&Tok::Comma)?;
                let then_dest = self.block_call()?;
                self.expect(&Tok::Comma)?;
                Op::Brif { cond, then_dest, else_dest: self.block_call()? }
            }
            "switch" if suffix.is_empty() => {
                let index = self.value()?;
                self.expect(&Tok::Comma)?;
                self.expect(&Tok::LBracket)?;
                let mut cases = Vec::new();
                if !self.eat(&Tok::RBracket) {
                    loop {
                        let value = self.u64("switch case")?;
                        self.expect(&Tok::Colon)?;
                        cases.push((value, self.block_ref()?));
                        if !self.eat(&Tok::Comma) {
                            break;
                        }
                    }
                    self.expect(&Tok::RBracket)?;
                }
                self.expect(&Tok::Comma)?;
                Op::Switch { index, cases, default: self.block_ref()? }
            }
            "return" if suffix.is_empty() => Op::Return { args: self.values_to_eol()? },
            "halt" if suffix.is_empty() => {
                let (kind, kpos) = self.word("`return` or `revert`")?;
                let kind = match kind.as_str() {
                    "return" => HaltKind::Return,
                    "revert" => HaltKind::Revert,
                    _ => return Err(kpos.error(format!("expected `return` or `revert`, found `{kind}`"))),
                };
                Op::Halt { kind, args: self.values()? }
            }
            "trap" if suffix.is_empty() => {
                let (code, cpos) = self.word("a trap code")?;
                let code =
                    TrapCode::from_name(&code).ok_or_else(|| cpos.error(format!("unknown trap code `{code}`")))?;
                Op::Trap { code }
            }
            _ => return Err(pos.error(format!("unknown opcode `{opcode}`"))),
        })
    }

    /// `WIDTH[s]` and `be|le` of a load or store opcode (offset 0; the caller reads it).
    fn access(&self, width: &str, endian: &str, opcode: &str, pos: Pos) -> Result<MemAccess> {
        let (digits, signed) = match width.strip_suffix('s') {
            Some(d) => (d, true),
            None => (width, false),
        };
        let width = match numbered(digits, "") {
            Some(Ok(w)) => u8::try_from(w).ok(),
            _ => None,
        }
        .ok_or_else(|| {
            pos.error(format!("invalid access width `{width}` in `{opcode}` (expected e.g. `8` or `8s`)"))
        })?;
        let big_endian = match endian {
            "be" => true,
            "le" => false,
            _ => return Err(pos.error(format!("expected `be` or `le` in `{opcode}`, found `{endian}`"))),
        };
        Ok(MemAccess { width, signed, big_endian, offset: 0 })
    }

    /// An optional `+offset` after an address.
    fn offset(&mut self) -> Result<u32> {
        if self.eat(&Tok::Plus) {
            self.u32("memory offset")
        } else {
            Ok(0)
        }
    }

    fn data_src(&mut self) -> Result<DataSrc> {
        let (w, pos) = self.word("a data source (input, code or returndata)")?;
        datasrc_from_name(&w)
            .ok_or_else(|| pos.error(format!("unknown data source `{w}` (expected input, code or returndata)")))
    }
}

// ---- names, types and arenas ---------------------------------------------------------------------------

/// Where a text value is defined: block parameter or instruction result (indices in text order).
#[derive(Clone, Copy)]
enum Def {
    Param(usize, u32),
    Result(usize, u32),
}

/// `op` with every value and block handle replaced.
fn map_op(op: &Op, fv: &dyn Fn(Value) -> Value, fb: &dyn Fn(Block) -> Block) -> Op {
    let vs = |args: &[Value]| args.iter().map(|&v| fv(v)).collect::<Vec<_>>();
    let v2 = |a: &[Value; 2]| [fv(a[0]), fv(a[1])];
    let v3 = |a: &[Value; 3]| [fv(a[0]), fv(a[1]), fv(a[2])];
    let bc = |c: &BlockCall| BlockCall { block: fb(c.block), args: vs(&c.args) };
    match op {
        Op::Iconst { .. }
        | Op::Fconst { .. }
        | Op::Wconst { .. }
        | Op::MemSize
        | Op::DataSize { .. }
        | Op::StackCheck { .. }
        | Op::StackGet { .. }
        | Op::StackAdjust { .. }
        | Op::GasCost { .. }
        | Op::GasBlock { .. }
        | Op::GasLeft
        | Op::DataDrop { .. }
        | Op::GlobalGet { .. }
        | Op::RefFunc { .. }
        | Op::TableSize { .. }
        | Op::ElemDrop { .. }
        | Op::Trap { .. } => op.clone(),
        Op::TableGet { table, arg } => Op::TableGet { table: *table, arg: fv(*arg) },
        Op::TableSet { table, args } => Op::TableSet { table: *table, args: v2(args) },
        Op::TableGrow { table, args } => Op::TableGrow { table: *table, args: v2(args) },
        Op::TableFill { table, args } => Op::TableFill { table: *table, args: v3(args) },
        Op::TableCopy { dst, src, args } => Op::TableCopy { dst: *dst, src: *src, args: v3(args) },
        Op::TableInit { table, seg, args } => Op::TableInit { table: *table, seg: *seg, args: v3(args) },
        Op::CallIndirect { ty, table, args } => Op::CallIndirect { ty: *ty, table: *table, args: vs(args) },
        Op::Unary { op, arg } => Op::Unary { op: *op, arg: fv(*arg) },
        Op::FUnary { op, arg } => Op::FUnary { op: *op, arg: fv(*arg) },
        Op::FBinary { op, args } => Op::FBinary { op: *op, args: v2(args) },
        Op::MemGrow { arg } => Op::MemGrow { arg: fv(*arg) },
        Op::MemFill { args } => Op::MemFill { args: v3(args) },
        Op::MemInit { seg, args } => Op::MemInit { seg: *seg, args: v3(args) },
        Op::GlobalSet { index, value } => Op::GlobalSet { index: *index, value: fv(*value) },
        Op::Binary { op, args } => Op::Binary { op: *op, args: v2(args) },
        Op::Ternary { op, args } => Op::Ternary { op: *op, args: v3(args) },
        Op::Convert { op, to, arg } => Op::Convert { op: *op, to: *to, arg: fv(*arg) },
        Op::Select { cond, args } => Op::Select { cond: fv(*cond), args: v2(args) },
        Op::Load { ty, access, addr } => Op::Load { ty: *ty, access: *access, addr: fv(*addr) },
        Op::Store { access, addr, value } => Op::Store { access: *access, addr: fv(*addr), value: fv(*value) },
        Op::MemExpand { args } => Op::MemExpand { args: v2(args) },
        Op::MemCopy { args } => Op::MemCopy { args: v3(args) },
        Op::Hash { alg, args } => Op::Hash { alg: *alg, args: v2(args) },
        Op::DataLoad { src, arg } => Op::DataLoad { src: *src, arg: fv(*arg) },
        Op::DataCopy { src, args } => Op::DataCopy { src: *src, args: v3(args) },
        Op::StackSet { depth, value } => Op::StackSet { depth: *depth, value: fv(*value) },
        Op::GasCharge { arg } => Op::GasCharge { arg: fv(*arg) },
        Op::HostCall { func, args } => Op::HostCall { func: *func, args: vs(args) },
        Op::Call { func, args } => Op::Call { func: *func, args: vs(args) },
        Op::Jump { dest } => Op::Jump { dest: bc(dest) },
        Op::Brif { cond, then_dest, else_dest } => {
            Op::Brif { cond: fv(*cond), then_dest: bc(then_dest), else_dest: bc(else_dest) }
        }
        Op::Switch { index, cases, default } => Op::Switch {
            index: fv(*index),
            cases: cases.iter().map(|&(v, b)| (v, fb(b))).collect(),
            default: fb(*default),
        },
        Op::Return { args } => Op::Return { args: vs(args) },
        Op::Halt { kind, args } => Op::Halt { kind: *kind, args: v2(args) },
    }
}

/// Result types of `op` (text numbering) given the types known so far; `None` if they depend on an
/// operand whose type is not known yet (or on a function that does not exist).
fn try_infer(
    op: &Op,
    known: &HashMap<u32, Type>,
    callees: &dyn Fn(FuncId) -> Option<Vec<Type>>,
    module: ModuleTypes<'_>,
) -> Option<Vec<Type>> {
    // A scratch function holding just the operands whose types are known; unknown operands map to a handle
    // outside its arena, for which `infer_result_types` answers `None`.
    let mut scratch = Function::new("", Signature::default());
    let mut local: HashMap<u32, Value> = HashMap::new();
    for v in op.operands() {
        if let Some(&ty) = known.get(&v.0) {
            local.entry(v.0).or_insert_with(|| {
                scratch.values.push(ValueData { ty, def: ValueDef::Param(Block(0), 0) });
                Value::new(scratch.values.len() - 1)
            });
        }
    }
    let mapped = map_op(op, &|v| local.get(&v.0).copied().unwrap_or(Value(u32::MAX)), &|b| b);
    scratch.infer_result_types(&mapped, callees, module)
}

fn build_function(ast: FuncAst, callee_results: &[Vec<Type>], module: ModuleTypes<'_>) -> Result<Function> {
    // Blocks, in text order.
    let mut block_index: HashMap<u32, (usize, Pos)> = HashMap::new();
    for (i, b) in ast.blocks.iter().enumerate() {
        if let Some(&(_, first)) = block_index.get(&b.label) {
            return Err(b
                .pos
                .error(format!("block{} is defined twice (first at {}:{})", b.label, first.line, first.column)));
        }
        block_index.insert(b.label, (i, b.pos));
    }
    for &(n, pos) in &ast.block_refs {
        if !block_index.contains_key(&n) {
            return Err(pos.error(format!("undefined block block{n}")));
        }
    }

    // Value definitions.
    let insts: Vec<(usize, &InstAst)> =
        ast.blocks.iter().enumerate().flat_map(|(b, data)| data.insts.iter().map(move |i| (b, i))).collect();
    let mut defs: HashMap<u32, (Def, Pos)> = HashMap::new();
    let mut define = |n: u32, def: Def, pos: Pos| -> Result<()> {
        if let Some(&(_, first)) = defs.get(&n) {
            return Err(pos.error(format!("v{n} is defined twice (first at {}:{})", first.line, first.column)));
        }
        defs.insert(n, (def, pos));
        Ok(())
    };
    let mut known: HashMap<u32, Type> = HashMap::new();
    for (b, data) in ast.blocks.iter().enumerate() {
        for (k, &(n, ty, pos)) in data.params.iter().enumerate() {
            define(n, Def::Param(b, k as u32), pos)?;
            known.insert(n, ty);
        }
    }
    for (i, (_, inst)) in insts.iter().enumerate() {
        for (k, &(n, pos)) in inst.results.iter().enumerate() {
            define(n, Def::Result(i, k as u32), pos)?;
        }
    }
    for &(n, pos) in &ast.uses {
        if !defs.contains_key(&n) {
            return Err(pos.error(format!("undefined value v{n}")));
        }
    }

    // Result types, by propagation from what is known.
    let callees = |f: FuncId| callee_results.get(f.index()).cloned();
    let mut result_types: Vec<Option<Vec<Type>>> = vec![None; insts.len()];
    let mut waiting: HashMap<u32, Vec<usize>> = HashMap::new();
    let mut queue: VecDeque<usize> = (0..insts.len()).collect();
    while let Some(i) = queue.pop_front() {
        let inst = insts[i].1;
        if result_types[i].is_some() {
            continue;
        }
        let types = match try_infer(&inst.op, &known, &callees, module) {
            Some(types) => types,
            None => {
                if let Op::Call { func, .. } = inst.op {
                    if func.index() >= callee_results.len() {
                        if inst.results.is_empty() {
                            result_types[i] = Some(Vec::new());
                            continue;
                        }
                        return Err(inst.pos.error(format!(
                            "cannot infer the result types of a call to {func}, which does not exist"
                        )));
                    }
                }
                match inst.op.operands().into_iter().find(|v| !known.contains_key(&v.0)) {
                    Some(v) => waiting.entry(v.0).or_default().push(i),
                    None => return Err(inst.pos.error(format!("cannot infer the result types of `{}`", inst.opcode))),
                }
                continue;
            }
        };
        if types.len() != inst.results.len() {
            return Err(inst.pos.error(format!(
                "`{}` has {} result(s), but {} name(s) are given",
                inst.opcode,
                types.len(),
                inst.results.len()
            )));
        }
        for (&(n, _), &ty) in inst.results.iter().zip(&types) {
            known.insert(n, ty);
            if let Some(waiters) = waiting.remove(&n) {
                queue.extend(waiters);
            }
        }
        result_types[i] = Some(types);
    }
    for (i, (_, inst)) in insts.iter().enumerate() {
        if result_types[i].is_none() {
            let pending = inst.op.operands().into_iter().find(|v| !known.contains_key(&v.0)).unwrap_or(Value(0));
            return Err(inst.pos.error(format!(
                "cannot infer the result types of `{}`: the type of {pending} depends on itself",
                inst.opcode
            )));
        }
    }

    // Values are numbered in the order of their text numbers.
    let mut numbers: Vec<u32> = defs.keys().copied().collect();
    numbers.sort_unstable();
    let mut value_of: HashMap<u32, Value> = HashMap::with_capacity(numbers.len());
    let mut values = Vec::with_capacity(numbers.len());
    for (rank, &n) in numbers.iter().enumerate() {
        let v = Value(u32::try_from(rank).map_err(|_| Pos::default().error("too many values"))?);
        value_of.insert(n, v);
        let (def, _) = defs[&n];
        let data = match def {
            Def::Param(b, k) => {
                let ty = known.get(&n).copied().unwrap_or(Type::I32);
                ValueData { ty, def: ValueDef::Param(Block::new(b), k) }
            }
            Def::Result(i, k) => {
                let ty = result_types[i].as_ref().and_then(|t| t.get(k as usize)).copied().unwrap_or(Type::I32);
                ValueData { ty, def: ValueDef::Result(Inst::new(i), k) }
            }
        };
        values.push(data);
    }
    let fv = |v: Value| value_of.get(&v.0).copied().unwrap_or(Value(u32::MAX));
    let fb = |b: Block| block_index.get(&b.0).map_or(Block(u32::MAX), |&(i, _)| Block::new(i));

    let mut func = Function::new(ast.name, ast.sig);
    func.values = values;
    func.blocks = ast
        .blocks
        .iter()
        .map(|b| BlockData { params: b.params.iter().map(|p| fv(Value(p.0))).collect(), insts: Vec::new() })
        .collect();
    for (i, &(b, inst)) in insts.iter().enumerate() {
        func.insts.push(InstData {
            op: map_op(&inst.op, &fv, &fb),
            results: inst.results.iter().map(|r| fv(Value(r.0))).collect(),
        });
        func.blocks[b].insts.push(Inst::new(i));
    }
    Ok(func)
}
