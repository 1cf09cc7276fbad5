//! The IR verifier: checks that a module is well formed, so the interpreter and the compiler can rely on it.
//!
//! # Guarantees
//! A module accepted by [`verify_module`] satisfies:
//! - its entry function exists and takes no parameters;
//! - in every function: there is an entry block and its parameters have the signature's parameter types;
//!   every block is non-empty and ends with its only terminator; every instruction is placed exactly once;
//!   every value is defined exactly once, where its [`ValueDef`] says (block parameters and instruction
//!   results are listed where their definitions point);
//! - every operand exists and has the type the operation's documentation requires (see
//!   [`instructions`](crate::instructions)), and every instruction's result types are those of
//!   [`Function::infer_result_types`];
//! - branch targets exist and receive as many arguments as they have parameters, of the same types; switch
//!   cases are distinct; calls name an existing function with matching arguments; `return` matches the
//!   function's results; `log` has at most 4 topics;
//! - SSA dominance: in every block reachable from the entry, every use is dominated by its definition (a
//!   block parameter dominates its whole block; a result, the instructions after it). Unreachable blocks are
//!   allowed; uses in them must only refer to values defined in the layout.
//!
//! The verifier never panics, whatever the module holds (out-of-range handles are reported), and reports
//! every problem it finds, not only the first.

use crate::entities::{Block, FuncId, Inst, Value};
use crate::function::{Function, Module, ValueDef};
use crate::instructions::{BlockCall, HostFn, MemAccess, Op, MAX_LOG_TOPICS};
use crate::text::{opcode_name, print_inst};
use crate::types::Type;
use std::collections::HashSet;
use std::fmt;

/// The byte widths a memory access may have (further limited by the value type, see [`MemAccess`]).
const ACCESS_WIDTHS: [u8; 5] = [1, 2, 4, 8, 32];

/// One problem, with its location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierIssue {
    /// The function's name (`None` for a problem of the module as a whole).
    pub function: Option<String>,
    /// The block, if the problem is inside one.
    pub block: Option<Block>,
    /// The instruction, if the problem is about one.
    pub inst: Option<Inst>,
    /// The instruction in text form, for the message.
    pub inst_text: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for VerifierIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.function {
            Some(name) => {
                let mut quoted = String::new();
                crate::text::write_func_name(&mut quoted, name);
                write!(f, "function {quoted}")?;
            }
            None => f.write_str("module")?,
        }
        if let Some(b) = self.block {
            write!(f, ", {b}")?;
        }
        if let Some(i) = self.inst {
            write!(f, ", {i}")?;
        }
        if let Some(text) = &self.inst_text {
            write!(f, " `{text}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The verifier's verdict on an invalid module: every problem found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid IR ({} issue(s)):{}", .issues.len(), list_issues(.issues))]
pub struct VerifyError {
    pub issues: Vec<VerifierIssue>,
}

fn list_issues(issues: &[VerifierIssue]) -> String {
    issues.iter().map(|i| format!("\n  {i}")).collect()
}

/// Verifies a whole module: its entry function and every function in it.
pub fn verify_module(module: &Module) -> Result<(), VerifyError> {
    let mut issues = Vec::new();
    match module.functions.get(module.entry.index()) {
        None => issues.push(VerifierIssue {
            function: None,
            block: None,
            inst: None,
            inst_text: None,
            message: format!(
                "entry function {} does not exist (the module has {} function(s))",
                module.entry,
                module.functions.len()
            ),
        }),
        Some(entry) if !entry.sig.params.is_empty() => issues.push(VerifierIssue {
            function: Some(entry.name.clone()),
            block: None,
            inst: None,
            inst_text: None,
            message: format!("the entry function must not take parameters, but takes {}", types(&entry.sig.params)),
        }),
        Some(_) => {}
    }
    for func in &module.functions {
        issues.extend(FuncVerifier::new(module, func).run());
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(VerifyError { issues })
    }
}

/// Verifies one function; `module` supplies the signatures of the functions it calls.
pub fn verify_function(module: &Module, func: &Function) -> Result<(), VerifyError> {
    let issues = FuncVerifier::new(module, func).run();
    if issues.is_empty() {
        Ok(())
    } else {
        Err(VerifyError { issues })
    }
}

/// `(i64, w256)`
fn types(tys: &[Type]) -> String {
    let names: Vec<&str> = tys.iter().map(|t| t.name()).collect();
    format!("({})", names.join(", "))
}

fn describe_def(def: ValueDef) -> String {
    match def {
        ValueDef::Param(b, n) => format!("parameter {n} of {b}"),
        ValueDef::Result(i, n) => format!("result {n} of {i}"),
    }
}

struct FuncVerifier<'a> {
    module: &'a Module,
    func: &'a Function,
    issues: Vec<VerifierIssue>,
    /// Where each instruction is placed: block and position.
    placement: Vec<Option<(Block, usize)>>,
    /// Reverse-postorder number of each block reachable from the entry.
    rpo_index: Vec<Option<usize>>,
    /// Entry and exit times of each reachable block (by reverse-postorder number) in a depth-first walk of
    /// the dominator tree: `a` dominates `b` iff `b`'s interval lies within `a`'s.
    dom_interval: Vec<(usize, usize)>,
}

impl<'a> FuncVerifier<'a> {
    fn new(module: &'a Module, func: &'a Function) -> Self {
        Self {
            module,
            func,
            issues: Vec::new(),
            placement: vec![None; func.insts.len()],
            rpo_index: vec![None; func.blocks.len()],
            dom_interval: Vec::new(),
        }
    }

    fn report(&mut self, block: Option<Block>, inst: Option<Inst>, message: String) {
        let inst_text = inst.filter(|i| i.index() < self.func.insts.len()).map(|i| {
            // Without the trailing comment `fconst` carries.
            let text = print_inst(self.func, i);
            text.split("  ;").next().unwrap_or_default().to_string()
        });
        self.issues.push(VerifierIssue { function: Some(self.func.name.clone()), block, inst, inst_text, message });
    }

    fn ty(&self, v: Value) -> Option<Type> {
        self.func.values.get(v.index()).map(|d| d.ty)
    }

    fn run(mut self) -> Vec<VerifierIssue> {
        let func = self.func;
        if func.blocks.is_empty() {
            self.report(None, None, "the function has no blocks (it needs an entry block)".into());
            return self.issues;
        }
        let entry_types: Option<Vec<Type>> = func.block(Function::ENTRY).params.iter().map(|&v| self.ty(v)).collect();
        if let Some(entry_types) = entry_types {
            if entry_types != func.sig.params {
                self.report(
                    Some(Function::ENTRY),
                    None,
                    format!(
                        "entry block parameters {} do not match the signature's parameters {}",
                        types(&entry_types),
                        types(&func.sig.params)
                    ),
                );
            }
        }
        self.check_layout();
        self.compute_dominators();
        for b in func.block_ids() {
            for (pos, &inst) in func.block(b).insts.iter().enumerate() {
                if self.placement.get(inst.index()).copied().flatten() == Some((b, pos)) {
                    self.check_inst(b, pos, inst);
                }
            }
        }
        self.issues
    }

    /// Placement of instructions, terminators, and the definitions of parameters and results.
    fn check_layout(&mut self) {
        let func = self.func;
        for b in func.block_ids() {
            let data = func.block(b);
            for (n, &v) in data.params.iter().enumerate() {
                match func.values.get(v.index()) {
                    None => self.report(Some(b), None, format!("parameter {v} does not exist")),
                    Some(d) if d.def != ValueDef::Param(b, n as u32) => self.report(
                        Some(b),
                        None,
                        format!("{v} is listed as parameter {n} of {b} but is defined as {}", describe_def(d.def)),
                    ),
                    Some(_) => {}
                }
            }
            if data.insts.is_empty() {
                self.report(Some(b), None, "the block is empty (it must end with a terminator)".into());
            }
            for (pos, &inst) in data.insts.iter().enumerate() {
                let Some(inst_data) = func.insts.get(inst.index()) else {
                    self.report(Some(b), None, format!("instruction {inst} does not exist"));
                    continue;
                };
                if let Some((other, _)) = self.placement[inst.index()] {
                    self.report(Some(b), Some(inst), format!("the instruction is placed twice (also in {other})"));
                    continue;
                }
                self.placement[inst.index()] = Some((b, pos));
                let last = pos + 1 == data.insts.len();
                let term = inst_data.op.is_terminator();
                if term && !last {
                    self.report(Some(b), Some(inst), "terminator in the middle of the block".into());
                } else if !term && last {
                    self.report(Some(b), Some(inst), "the block does not end with a terminator".into());
                }
                for (n, &v) in inst_data.results.iter().enumerate() {
                    match func.values.get(v.index()) {
                        None => self.report(Some(b), Some(inst), format!("result {v} does not exist")),
                        Some(d) if d.def != ValueDef::Result(inst, n as u32) => self.report(
                            Some(b),
                            Some(inst),
                            format!("{v} is listed as result {n} but is defined as {}", describe_def(d.def)),
                        ),
                        Some(_) => {}
                    }
                }
            }
        }
    }

    /// The block and position of `v`'s definition (`None` for parameters' position), if it is defined where
    /// its `ValueDef` says.
    fn def_site(&self, v: Value) -> Option<(Block, Option<usize>)> {
        let def = self.func.values.get(v.index())?.def;
        match def {
            ValueDef::Param(b, n) => {
                let listed = self.func.blocks.get(b.index())?.params.get(n as usize) == Some(&v);
                listed.then_some((b, None))
            }
            ValueDef::Result(i, n) => {
                let (b, pos) = self.placement.get(i.index()).copied().flatten()?;
                (self.func.insts[i.index()].results.get(n as usize) == Some(&v)).then_some((b, Some(pos)))
            }
        }
    }

    fn successors(&self, b: Block) -> Vec<Block> {
        let first_terminator = self
            .func
            .block(b)
            .insts
            .iter()
            .filter_map(|&i| self.func.insts.get(i.index()))
            .find(|d| d.op.is_terminator());
        first_terminator.map_or_else(Vec::new, |d| {
            d.op.successors().into_iter().filter(|s| s.index() < self.func.blocks.len()).collect()
        })
    }

    /// Reverse postorder of the reachable blocks and their immediate dominators (Cooper, Harvey and Kennedy,
    /// "A Simple, Fast Dominance Algorithm").
    fn compute_dominators(&mut self) {
        let n = self.func.blocks.len();
        let succs: Vec<Vec<Block>> = self.func.block_ids().map(|b| self.successors(b)).collect();
        // Iterative depth-first search for the postorder.
        let mut visited = vec![false; n];
        let mut postorder = Vec::new();
        let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
        visited[0] = true;
        while let Some(top) = stack.last_mut() {
            let (b, next) = *top;
            if let Some(s) = succs[b].get(next) {
                top.1 += 1;
                if !visited[s.index()] {
                    visited[s.index()] = true;
                    stack.push((s.index(), 0));
                }
            } else {
                postorder.push(b);
                stack.pop();
            }
        }
        let rpo: Vec<usize> = postorder.into_iter().rev().collect();
        for (i, &b) in rpo.iter().enumerate() {
            self.rpo_index[b] = Some(i);
        }
        let mut preds: Vec<Vec<usize>> = vec![Vec::new(); rpo.len()];
        for &b in &rpo {
            for s in &succs[b] {
                if let (Some(from), Some(to)) = (self.rpo_index[b], self.rpo_index[s.index()]) {
                    preds[to].push(from);
                }
            }
        }
        const UNDEF: usize = usize::MAX;
        let mut idom = vec![UNDEF; rpo.len()];
        idom[0] = 0;
        let mut changed = true;
        while changed {
            changed = false;
            for b in 1..rpo.len() {
                let mut new_idom = UNDEF;
                for &p in &preds[b] {
                    if idom[p] == UNDEF {
                        continue;
                    }
                    new_idom = if new_idom == UNDEF {
                        p
                    } else {
                        let (mut x, mut y) = (p, new_idom);
                        while x != y {
                            while x > y {
                                x = idom[x];
                            }
                            while y > x {
                                y = idom[y];
                            }
                        }
                        x
                    };
                }
                if new_idom != UNDEF && idom[b] != new_idom {
                    idom[b] = new_idom;
                    changed = true;
                }
            }
        }
        // Number the dominator tree (children by reverse-postorder number) for constant-time queries.
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); rpo.len()];
        for (b, &d) in idom.iter().enumerate().skip(1) {
            if d != UNDEF {
                children[d].push(b);
            }
        }
        let mut interval = vec![(0, 0); rpo.len()];
        let mut clock = 0;
        let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
        interval[0].0 = clock;
        while let Some(top) = stack.last_mut() {
            let (b, next) = *top;
            if let Some(&c) = children[b].get(next) {
                top.1 += 1;
                clock += 1;
                interval[c].0 = clock;
                stack.push((c, 0));
            } else {
                clock += 1;
                interval[b].1 = clock;
                stack.pop();
            }
        }
        self.dom_interval = interval;
    }

    /// Does block `a` dominate block `b`? (Both must be reachable for a `true`.)
    fn dominates(&self, a: Block, b: Block) -> bool {
        let (Some(a), Some(b)) = (self.rpo_index[a.index()], self.rpo_index[b.index()]) else {
            return false;
        };
        match (self.dom_interval.get(a), self.dom_interval.get(b)) {
            (Some(&(a_in, a_out)), Some(&(b_in, b_out))) => a_in <= b_in && b_out <= a_out,
            _ => false,
        }
    }

    fn check_inst(&mut self, b: Block, pos: usize, inst: Inst) {
        let func = self.func;
        let op = &func.insts[inst.index()].op;
        let reachable = self.rpo_index[b.index()].is_some();
        let operands = op.operands();
        for (k, &v) in operands.iter().enumerate() {
            if operands[..k].contains(&v) {
                continue;
            }
            let Some(data) = func.values.get(v.index()) else {
                self.report(Some(b), Some(inst), format!("operand {v} does not exist"));
                continue;
            };
            let Some((def_block, def_pos)) = self.def_site(v) else {
                self.report(
                    Some(b),
                    Some(inst),
                    format!(
                        "operand {v} is not defined: its definition ({}) is not in the layout",
                        describe_def(data.def)
                    ),
                );
                continue;
            };
            if reachable {
                let dominated =
                    if def_block == b { def_pos.is_none_or(|d| d < pos) } else { self.dominates(def_block, b) };
                if !dominated {
                    self.report(Some(b), Some(inst), format!("use of {v} is not dominated by its definition"));
                }
            }
        }
        self.check_types(b, inst, op);
        let results = &func.insts[inst.index()].results;
        let module = self.module;
        if let Some(expected) = func.infer_result_types(op, &|f| module.results_of(f), module.types()) {
            let actual: Option<Vec<Type>> = results.iter().map(|&v| self.ty(v)).collect();
            if let Some(actual) = actual.filter(|a| *a != expected) {
                self.report(
                    Some(b),
                    Some(inst),
                    format!(
                        "the results have types {}, but `{}` produces {}",
                        types(&actual),
                        opcode_name(op),
                        types(&expected)
                    ),
                );
            }
        }
    }

    /// Reports unless `v` (if it exists) has type `want`.
    fn expect(&mut self, b: Block, inst: Inst, v: Value, want: Type, role: Role<'_>) {
        if let Some(t) = self.ty(v) {
            if t != want {
                self.report(Some(b), Some(inst), format!("{role} must be {want}, got {t}"));
            }
        }
    }

    fn expect_int(&mut self, b: Block, inst: Inst, v: Value, role: Role<'_>) {
        if let Some(t) = self.ty(v) {
            if !t.is_int() {
                self.report(Some(b), Some(inst), format!("{role} must be an integer, got {t}"));
            }
        }
    }

    /// `args` against the parameter types `params` of `callee`.
    fn check_args(&mut self, b: Block, inst: Inst, args: &[Value], params: &[Type], callee: Callee) {
        if args.len() != params.len() {
            self.report(
                Some(b),
                Some(inst),
                format!("{callee} takes {} argument(s), got {}", params.len(), args.len()),
            );
            return;
        }
        for (n, (&v, &want)) in args.iter().zip(params).enumerate() {
            self.expect(b, inst, v, want, Role::Argument(n, callee));
        }
    }

    fn check_access(&mut self, b: Block, inst: Inst, ty: Type, access: &MemAccess) {
        let w = access.width;
        let message = if !ACCESS_WIDTHS.contains(&w) {
            format!("access width {w} is not one of 1, 2, 4, 8, 32")
        } else if ty == Type::W256 && w != 32 && w != 1 {
            format!("a w256 access must be 32 or 1 byte(s) wide, not {w}")
        } else if u32::from(w) > ty.bytes() {
            format!("access width {w} exceeds the {} bytes of {ty}", ty.bytes())
        } else if ty.is_float() && u32::from(w) != ty.bytes() {
            format!("a {ty} access must be {} bytes wide, not {w}", ty.bytes())
        } else {
            return;
        };
        self.report(Some(b), Some(inst), message);
    }

    fn check_block_call(&mut self, b: Block, inst: Inst, call: &BlockCall) {
        let Some(target) = self.func.blocks.get(call.block.index()) else {
            self.report(Some(b), Some(inst), format!("branch to {}, which does not exist", call.block));
            return;
        };
        if call.args.len() != target.params.len() {
            self.report(
                Some(b),
                Some(inst),
                format!("{} takes {} argument(s), got {}", call.block, target.params.len(), call.args.len()),
            );
            return;
        }
        for (n, (&v, &p)) in call.args.iter().zip(&target.params).enumerate() {
            if let Some(want) = self.ty(p) {
                self.expect(b, inst, v, want, Role::Argument(n, Callee::Block(call.block)));
            }
        }
    }

    fn check_block_exists(&mut self, b: Block, inst: Inst, target: Block) {
        if target.index() >= self.func.blocks.len() {
            self.report(Some(b), Some(inst), format!("branch to {target}, which does not exist"));
        }
    }

    fn expect_float(&mut self, b: Block, inst: Inst, v: Value, role: Role<'_>) {
        if let Some(t) = self.ty(v) {
            if !t.is_float() {
                self.report(Some(b), Some(inst), format!("{role} must be a float, not {t}"));
            }
        }
    }

    fn check_table(&mut self, b: Block, inst: Inst, table: u32) {
        if table as usize >= self.module.tables.len() {
            self.report(Some(b), Some(inst), format!("table {table} does not exist"));
        }
    }

    fn check_elem(&mut self, b: Block, inst: Inst, seg: u32) {
        if seg as usize >= self.module.elems.len() {
            self.report(Some(b), Some(inst), format!("element segment {seg} does not exist"));
        }
    }

    fn check_segment(&mut self, b: Block, inst: Inst, seg: u32) {
        if seg as usize >= self.module.data.len() {
            self.report(Some(b), Some(inst), format!("data segment {seg} does not exist"));
        }
    }

    /// The type of global `index`, reporting it if it does not exist or has a type globals cannot have.
    fn check_global(&mut self, b: Block, inst: Inst, index: u32) -> Option<Type> {
        match self.module.globals.get(index as usize) {
            None => {
                self.report(Some(b), Some(inst), format!("global {index} does not exist"));
                None
            }
            Some(Type::W256) => {
                self.report(Some(b), Some(inst), format!("global {index} is a w256; globals are i32/i64/f32/f64"));
                None
            }
            Some(&t) => Some(t),
        }
    }

    fn check_types(&mut self, b: Block, inst: Inst, op: &Op) {
        use Role::{Of, Operand, Text};
        match op {
            Op::Iconst { ty, .. } => {
                if !matches!(ty, Type::I32 | Type::I64) {
                    self.report(Some(b), Some(inst), format!("iconst must be i32 or i64, not {ty}"));
                }
            }
            Op::Fconst { ty, .. } => {
                if !ty.is_float() {
                    self.report(Some(b), Some(inst), format!("fconst must be f32 or f64, not {ty}"));
                }
            }
            Op::Wconst { .. }
            | Op::MemSize
            | Op::DataSize { .. }
            | Op::StackCheck { .. }
            | Op::StackGet { .. }
            | Op::StackAdjust { .. }
            | Op::GasCost { .. }
            | Op::GasBlock { .. }
            | Op::GasLeft
            | Op::Trap { .. } => {}
            Op::Unary { op: unop, arg } => {
                if let Some(t) = self.ty(*arg) {
                    if !unop.accepts(t) {
                        self.report(Some(b), Some(inst), format!("`{}` is not defined for {t}", opcode_name(op)));
                    }
                }
            }
            Op::Binary { op: binop, args } => {
                if let (Some(t0), Some(t1)) = (self.ty(args[0]), self.ty(args[1])) {
                    let message = if t0 != t1 {
                        format!("operands of `{}` have different types: {t0} and {t1}", opcode_name(op))
                    } else if !binop.accepts(t0) {
                        format!("`{}` is not defined for {t0}", opcode_name(op))
                    } else {
                        return;
                    };
                    self.report(Some(b), Some(inst), message);
                }
            }
            Op::Ternary { args, .. } => {
                for (n, &v) in args.iter().enumerate() {
                    self.expect(b, inst, v, Type::W256, Operand(n, op));
                }
            }
            Op::Convert { op: conv, to, arg } => {
                let Some(from) = self.ty(*arg) else { return };
                if !conv.accepts(from, *to) {
                    self.report(Some(b), Some(inst), format!("`{}` does not convert {from} to {to}", opcode_name(op)));
                }
            }
            Op::FUnary { arg, .. } => self.expect_float(b, inst, *arg, Operand(0, op)),
            Op::FBinary { args, .. } => {
                self.expect_float(b, inst, args[0], Operand(0, op));
                if let Some(t0) = self.ty(args[0]) {
                    self.expect(b, inst, args[1], t0, Operand(1, op));
                }
            }
            Op::MemGrow { arg } => self.expect(b, inst, *arg, Type::I64, Text("the page count of `mem.grow`")),
            Op::MemFill { args } => {
                self.expect(b, inst, args[0], Type::I64, Text("the destination of `mem.fill`"));
                self.expect(b, inst, args[1], Type::I32, Text("the byte of `mem.fill`"));
                self.expect(b, inst, args[2], Type::I64, Text("the length of `mem.fill`"));
            }
            Op::MemInit { seg, args } => {
                self.check_segment(b, inst, *seg);
                for (n, &v) in args.iter().enumerate() {
                    self.expect(b, inst, v, Type::I64, Operand(n, op));
                }
            }
            Op::DataDrop { seg } => self.check_segment(b, inst, *seg),
            Op::GlobalGet { index } => {
                self.check_global(b, inst, *index);
            }
            Op::TableSize { table } => self.check_table(b, inst, *table),
            Op::TableGet { table, arg } => {
                self.check_table(b, inst, *table);
                self.expect(b, inst, *arg, Type::I64, Operand(0, op));
            }
            Op::TableSet { table, args } | Op::TableGrow { table, args } => {
                self.check_table(b, inst, *table);
                for (n, &v) in args.iter().enumerate() {
                    self.expect(b, inst, v, Type::I64, Operand(n, op));
                }
            }
            Op::TableFill { table, args } => {
                self.check_table(b, inst, *table);
                for (n, &v) in args.iter().enumerate() {
                    self.expect(b, inst, v, Type::I64, Operand(n, op));
                }
            }
            Op::TableCopy { dst, src, args } => {
                self.check_table(b, inst, *dst);
                self.check_table(b, inst, *src);
                for (n, &v) in args.iter().enumerate() {
                    self.expect(b, inst, v, Type::I64, Operand(n, op));
                }
            }
            Op::TableInit { table, seg, args } => {
                self.check_table(b, inst, *table);
                self.check_elem(b, inst, *seg);
                for (n, &v) in args.iter().enumerate() {
                    self.expect(b, inst, v, Type::I64, Operand(n, op));
                }
            }
            Op::ElemDrop { seg } => self.check_elem(b, inst, *seg),
            Op::RefFunc { func } => {
                if *func as usize >= self.module.functions.len() {
                    self.report(Some(b), Some(inst), format!("ref.func: function {func} does not exist"));
                }
            }
            Op::CallIndirect { ty, table, args } => {
                self.check_table(b, inst, *table);
                match (self.module.types.get(*ty as usize), args.split_first()) {
                    (None, _) => self.report(Some(b), Some(inst), format!("type {ty} does not exist")),
                    (Some(_), None) => {
                        self.report(Some(b), Some(inst), "call_indirect needs the table index".to_string())
                    }
                    (Some(sig), Some((&index, rest))) => {
                        self.expect(b, inst, index, Type::I64, Text("the index of `call_indirect`"));
                        let params = sig.params.clone();
                        self.check_args(b, inst, rest, &params, Callee::Type(*ty));
                    }
                }
            }
            Op::GlobalSet { index, value } => {
                if let Some(want) = self.check_global(b, inst, *index) {
                    self.expect(b, inst, *value, want, Text("the value of `global.set`"));
                }
            }
            Op::Select { cond, args } => {
                self.expect_int(b, inst, *cond, Text("the condition of `select`"));
                if let (Some(t0), Some(t1)) = (self.ty(args[0]), self.ty(args[1])) {
                    if t0 != t1 {
                        self.report(
                            Some(b),
                            Some(inst),
                            format!("operands of `select` have different types: {t0} and {t1}"),
                        );
                    }
                }
            }
            Op::Load { ty, access, addr } => {
                self.expect(b, inst, *addr, Type::I64, Text("the address of `load`"));
                self.check_access(b, inst, *ty, access);
            }
            Op::Store { access, addr, value } => {
                self.expect(b, inst, *addr, Type::I64, Text("the address of `store`"));
                if let Some(ty) = self.ty(*value) {
                    self.check_access(b, inst, ty, access);
                }
            }
            Op::MemExpand { args } => {
                self.expect(b, inst, args[0], Type::W256, Text("the offset of `mem.expand`"));
                self.expect(b, inst, args[1], Type::W256, Text("the length of `mem.expand`"));
            }
            Op::MemCopy { args } => {
                self.expect(b, inst, args[0], Type::I64, Text("the destination of `mem.copy`"));
                self.expect(b, inst, args[1], Type::I64, Text("the source of `mem.copy`"));
                self.expect(b, inst, args[2], Type::I64, Text("the length of `mem.copy`"));
            }
            Op::Hash { args, .. } | Op::Halt { args, .. } => {
                self.expect(b, inst, args[0], Type::I64, Of("offset", op));
                self.expect(b, inst, args[1], Type::I64, Of("length", op));
            }
            Op::DataLoad { arg, .. } => self.expect(b, inst, *arg, Type::W256, Text("the offset of `data.load`")),
            Op::DataCopy { args, .. } => {
                self.expect(b, inst, args[0], Type::I64, Text("the destination of `data.copy`"));
                self.expect(b, inst, args[1], Type::W256, Text("the offset of `data.copy`"));
                self.expect(b, inst, args[2], Type::I64, Text("the length of `data.copy`"));
            }
            Op::StackSet { value, .. } => self.expect(b, inst, *value, Type::W256, Text("the value of `stack.set`")),
            Op::GasCharge { arg } => self.expect(b, inst, *arg, Type::I64, Text("the amount of `gas.charge`")),
            Op::HostCall { func, args } => {
                if let HostFn::Log(n) = func {
                    if *n > MAX_LOG_TOPICS {
                        self.report(Some(b), Some(inst), format!("log{n} has more than {MAX_LOG_TOPICS} topics"));
                        return;
                    }
                }
                let (params, _) = func.signature();
                self.check_args(b, inst, args, params, Callee::Host(*func));
            }
            Op::Call { func, args } => match self.module.functions.get(func.index()) {
                None => self.report(Some(b), Some(inst), format!("call to {func}, which does not exist")),
                Some(callee) => self.check_args(b, inst, args, &callee.sig.params, Callee::Function(*func)),
            },
            Op::Jump { dest } => self.check_block_call(b, inst, dest),
            Op::Brif { cond, then_dest, else_dest } => {
                self.expect_int(b, inst, *cond, Text("the condition of `brif`"));
                self.check_block_call(b, inst, then_dest);
                self.check_block_call(b, inst, else_dest);
            }
            Op::Switch { index, cases, default } => {
                self.expect(b, inst, *index, Type::I64, Text("the index of `switch`"));
                let mut values = HashSet::new();
                for &(value, target) in cases {
                    if !values.insert(value) {
                        self.report(Some(b), Some(inst), format!("switch case {value} appears more than once"));
                    }
                    self.check_block_exists(b, inst, target);
                }
                self.check_block_exists(b, inst, *default);
                for target in cases.iter().map(|c| c.1).chain([*default]) {
                    if self.func.blocks.get(target.index()).is_some_and(|data| !data.params.is_empty()) {
                        self.report(
                            Some(b),
                            Some(inst),
                            format!("switch target {target} takes parameters, but a switch passes no arguments"),
                        );
                    }
                }
            }
            Op::Return { args } => {
                let results = &self.func.sig.results;
                if args.len() != results.len() {
                    self.report(
                        Some(b),
                        Some(inst),
                        format!("`return` has {} value(s), but the function returns {}", args.len(), types(results)),
                    );
                } else {
                    for (n, (&v, &want)) in args.iter().zip(results).enumerate() {
                        self.expect(b, inst, v, want, Role::ReturnValue(n));
                    }
                }
            }
        }
    }
}

/// Who takes arguments, for messages.
#[derive(Clone, Copy)]
enum Callee {
    Host(HostFn),
    Function(FuncId),
    Block(Block),
    Type(u32),
}

impl fmt::Display for Callee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Callee::Host(h) => write!(f, "`hostcall {}`", h.name()),
            Callee::Function(func) => write!(f, "{func}"),
            Callee::Block(b) => write!(f, "{b}"),
            Callee::Type(t) => write!(f, "`call_indirect` of type {t}"),
        }
    }
}

/// What an operand is, for messages. Rendered only when an issue is reported, so checking valid code does
/// not format strings.
#[derive(Clone, Copy)]
enum Role<'a> {
    Text(&'static str),
    /// `the <what> of `<opcode>``
    Of(&'static str, &'a Op),
    /// `operand <n> of `<opcode>``
    Operand(usize, &'a Op),
    Argument(usize, Callee),
    ReturnValue(usize),
}

impl fmt::Display for Role<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Text(t) => f.write_str(t),
            Role::Of(what, op) => write!(f, "the {what} of `{}`", opcode_name(op)),
            Role::Operand(n, op) => write!(f, "operand {n} of `{}`", opcode_name(op)),
            Role::Argument(n, callee) => write!(f, "argument {n} of {callee}"),
            Role::ReturnValue(n) => write!(f, "return value {n}"),
        }
    }
}
