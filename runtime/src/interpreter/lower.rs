//! Pre-lowering of IR into the interpreter's form: register assignment, constant hoisting, branch
//! resolution and sequentialization of block arguments.
//!
//! The input is assumed verified, but nothing here panics on malformed IR: unknown values read a dummy
//! register, unknown blocks and functions lower to traps.

use super::{
    convert, Access, Bits, CallInfo, Conv, Edge, FuncInfo, HostCallInfo, Inst, Move, Program, Reg, SwitchTable,
};
use ruint::aliases::U256;
use std::collections::HashMap;
use zvm_ir::semantics::{
    float_binary, float_convert, float_unary, int_binary, int_unary, word_binary, word_ternary, word_unary,
};
use zvm_ir::{BinOp, ConvOp, Function, Module, Op, TrapCode, Type, Value, ValueDef};

/// Lowers every function of `module`.
pub(super) fn lower_module(module: &Module) -> Program {
    let mut p = Program {
        code: Vec::new(),
        funcs: Vec::with_capacity(module.functions.len()),
        entry: 0,
        consts: Vec::new(),
        regs: Vec::new(),
        moves: Vec::new(),
        edges: Vec::new(),
        calls: Vec::new(),
        host_calls: Vec::new(),
        switches: Vec::new(),
        sigs: module.functions.iter().map(|f| f.sig.clone()).collect(),
    };
    for func in &module.functions {
        let info = FunctionLowering::new(module, func, &mut p).lower();
        p.funcs.push(info);
    }
    p.entry = match module.functions.get(module.entry.index()) {
        Some(_) => module.entry.0,
        None => {
            // No such function: an entry that traps.
            let entry_pc = p.code.len() as u32;
            p.code.push(Inst::Trap { code: TrapCode::Unreachable });
            p.funcs.push(FuncInfo { entry_pc, nregs: 0, consts_start: 0, nconsts: 0, params_start: 0, nparams: 0 });
            (p.funcs.len() - 1) as u32
        }
    };
    p
}

/// How a value is held.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Not defined by any placed instruction or block (malformed IR): reads the dummy register.
    Undefined,
    /// A constant: a register of the constant area.
    Const,
    /// Lives across blocks (or is a block parameter): a register of its own.
    Global,
    /// Defined and used inside one block: a pool register.
    Local,
}

const NO_REG: Reg = Reg::MAX;
const NO_BLOCK: u32 = u32::MAX;

/// A branch target before block positions are known.
const fn block_target(block: u32) -> u32 {
    block
}

struct FunctionLowering<'a> {
    module: &'a Module,
    func: &'a Function,
    p: &'a mut Program,
    reg_of: Vec<Reg>,
    /// Instructions that emit nothing: constants, folded and dead operations.
    skip: Vec<bool>,
    /// Scratch register for breaking copy cycles.
    scratch: Reg,
    nregs: u32,
}

impl<'a> FunctionLowering<'a> {
    fn new(module: &'a Module, func: &'a Function, p: &'a mut Program) -> Self {
        Self { module, func, p, reg_of: Vec::new(), skip: Vec::new(), scratch: 0, nregs: 0 }
    }

    fn ty(&self, v: Value) -> Type {
        self.func.values.get(v.index()).map_or(Type::W256, |d| d.ty)
    }

    fn reg(&self, v: Value) -> Reg {
        // Values unknown to the function were mapped to the dummy register (the scratch one) below.
        self.reg_of.get(v.index()).copied().filter(|&r| r != NO_REG).unwrap_or(self.scratch)
    }

    fn push_regs(&mut self, values: &[Value]) -> (u32, u32) {
        let start = self.p.regs.len() as u32;
        for &v in values {
            let r = self.reg(v);
            self.p.regs.push(r);
        }
        (start, values.len() as u32)
    }

    /// Folds constants, finds dead pure instructions (both marked in `self.skip`: they emit nothing) and
    /// assigns registers to the remaining values. Returns the function's constants.
    fn assign_registers(&mut self) -> Vec<U256> {
        let f = self.func;
        let nvalues = f.values.len();
        let ninsts = f.insts.len();

        // Every placed instruction: (block, position, instruction index, data).
        let mut placed: Vec<(u32, u32, usize)> = Vec::new();
        let mut is_placed = vec![false; ninsts];
        for (b, block) in f.blocks.iter().enumerate() {
            for (pos, &inst) in block.insts.iter().enumerate() {
                if inst.index() < ninsts {
                    placed.push((b as u32, pos as u32, inst.index()));
                    is_placed[inst.index()] = true;
                }
            }
        }

        // Definition block of each value, and its class. Constants, and operations on constants, fold.
        let mut def_block = vec![NO_BLOCK; nvalues];
        let mut class = vec![Class::Undefined; nvalues];
        let mut const_value: Vec<Option<U256>> = vec![None; nvalues];
        let mut skip = vec![false; ninsts];
        for (b, block) in f.blocks.iter().enumerate() {
            for &v in &block.params {
                if v.index() < nvalues {
                    def_block[v.index()] = b as u32;
                    class[v.index()] = Class::Global;
                }
            }
        }
        for &(b, _, i) in &placed {
            let data = &f.insts[i];
            let folded = match data.results.as_slice() {
                [_] => self.fold(&data.op, &const_value),
                _ => None,
            };
            skip[i] = folded.is_some();
            for &v in &data.results {
                if v.index() < nvalues {
                    def_block[v.index()] = b;
                    class[v.index()] = if folded.is_some() { Class::Const } else { Class::Local };
                    const_value[v.index()] = folded;
                }
            }
        }

        // Dead pure instructions go, transitively.
        let mut uses = vec![0u32; nvalues];
        for &(_, _, i) in &placed {
            if !skip[i] {
                for v in f.insts[i].op.operands() {
                    if let Some(n) = uses.get_mut(v.index()) {
                        *n += 1;
                    }
                }
            }
        }
        let removable = |i: usize, skip: &[bool], uses: &[u32]| {
            let data = &f.insts[i];
            is_placed[i]
                && !skip[i]
                && !data.results.is_empty()
                && data.results.iter().all(|v| uses.get(v.index()).is_none_or(|&n| n == 0))
                && self.is_pure(&data.op)
        };
        let mut work: Vec<usize> = (0..ninsts).filter(|&i| removable(i, &skip, &uses)).collect();
        while let Some(i) = work.pop() {
            if !removable(i, &skip, &uses) {
                continue;
            }
            skip[i] = true;
            for v in f.insts[i].op.operands() {
                let Some(n) = uses.get_mut(v.index()) else { continue };
                *n = n.saturating_sub(1);
                if *n == 0 {
                    if let Some(ValueDef::Result(def, _)) = f.values.get(v.index()).map(|d| d.def) {
                        if def.index() < ninsts && removable(def.index(), &skip, &uses) {
                            work.push(def.index());
                        }
                    }
                }
            }
        }

        // Uses: a local used in another block becomes global; otherwise remember its last use.
        let mut last_use = vec![u32::MAX; nvalues];
        for &(b, pos, i) in &placed {
            if skip[i] {
                continue;
            }
            for v in f.insts[i].op.operands() {
                let v = v.index();
                if v >= nvalues || class[v] != Class::Local {
                    continue;
                }
                if def_block[v] != b {
                    class[v] = Class::Global;
                } else if last_use[v] == u32::MAX || last_use[v] < pos {
                    last_use[v] = pos;
                }
            }
        }

        // Constants that are used (deduplicated), then globals, then the scratch register, then the pool.
        self.reg_of = vec![NO_REG; nvalues];
        let mut consts: Vec<U256> = Vec::new();
        let mut const_regs: HashMap<U256, Reg> = HashMap::new();
        for v in 0..nvalues {
            if let (Class::Const, Some(c), true) = (class[v], const_value[v], uses[v] > 0) {
                self.reg_of[v] = *const_regs.entry(c).or_insert_with(|| {
                    consts.push(c);
                    (consts.len() - 1) as Reg
                });
            }
        }
        let mut next = consts.len() as Reg;
        for (reg, _) in self.reg_of.iter_mut().zip(&class).filter(|(_, &c)| c == Class::Global) {
            *reg = next;
            next += 1;
        }
        self.scratch = next;
        next += 1;
        let pool_base = next;

        // Block-local pool: linear scan per block, freeing at the last use. Every local dies inside its
        // block, so the free list carries over from block to block.
        let mut free: Vec<Reg> = Vec::new();
        let mut pool_size: Reg = 0;
        let mut freed = vec![false; nvalues];
        for &(_, pos, i) in &placed {
            if skip[i] {
                continue;
            }
            let data = &f.insts[i];
            for v in data.op.operands() {
                let v = v.index();
                if v < nvalues
                    && class[v] == Class::Local
                    && last_use[v] == pos
                    && !freed[v]
                    && self.reg_of[v] != NO_REG
                {
                    freed[v] = true;
                    free.push(self.reg_of[v]);
                }
            }
            let locals = data.results.iter().map(|v| v.index()).filter(|&v| v < nvalues && class[v] == Class::Local);
            for v in locals.clone() {
                // A value defined twice (malformed) keeps its first register.
                if self.reg_of[v] == NO_REG {
                    self.reg_of[v] = free.pop().unwrap_or_else(|| {
                        pool_size += 1;
                        pool_base + pool_size - 1
                    });
                }
            }
            for v in locals {
                // Dead results are written, then their register is free again.
                if last_use[v] == u32::MAX && !freed[v] {
                    freed[v] = true;
                    free.push(self.reg_of[v]);
                }
            }
        }
        self.nregs = pool_base + pool_size;
        self.skip = skip;
        consts
    }

    /// The value of a single-result operation whose operands are all known constants, computed with the
    /// same functions execution uses (an operation that would trap does not fold).
    fn fold(&self, op: &Op, known: &[Option<U256>]) -> Option<U256> {
        let k = |v: Value| known.get(v.index()).copied().flatten();
        match *op {
            Op::Iconst { ty, imm } => Some(Bits::of(ty).wrap(U256::from(imm as u64))),
            Op::Fconst { ty, bits } => Some(Bits::of(ty).wrap(U256::from(bits))),
            Op::Wconst { imm } => Some(imm),
            Op::Unary { op, arg } => {
                let a = k(arg)?;
                Some(match self.ty(arg) {
                    Type::W256 => word_unary(op, a),
                    ty => U256::from(int_unary(op, ty, a.as_limbs()[0])),
                })
            }
            Op::Binary { op, args: [a, b] } => {
                let (x, y) = (k(a)?, k(b)?);
                match self.ty(a) {
                    Type::W256 => Some(word_binary(op, x, y)),
                    ty => int_binary(op, ty, x.as_limbs()[0], y.as_limbs()[0]).ok().map(U256::from),
                }
            }
            Op::Ternary { op, args: [a, b, c] } => Some(word_ternary(op, k(a)?, k(b)?, k(c)?)),
            Op::Convert { op, to, arg } => match self.conv(op, to, arg) {
                Some(conv) => Some(convert(conv, k(arg)?)),
                // A conversion that would trap does not fold.
                None => {
                    let x = float_convert(op, self.ty(arg), to, k(arg)?.as_limbs()[0]).ok()?;
                    Some(U256::from(Bits::of(to).mask(x)))
                }
            },
            Op::FUnary { op, arg } => Some(U256::from(float_unary(op, self.ty(arg), k(arg)?.as_limbs()[0]))),
            Op::FBinary { op, args: [a, b] } => {
                let (x, y) = (k(a)?.as_limbs()[0], k(b)?.as_limbs()[0]);
                Some(U256::from(float_binary(op, self.ty(a), x, y)))
            }
            Op::Select { cond, args: [a, b] } => k(if k(cond)?.is_zero() { b } else { a }),
            _ => None,
        }
    }

    /// True for operations without effects that cannot trap: removable when their results are unused.
    fn is_pure(&self, op: &Op) -> bool {
        match *op {
            Op::Iconst { .. }
            | Op::Fconst { .. }
            | Op::Wconst { .. }
            | Op::Unary { .. }
            | Op::Ternary { .. }
            | Op::FUnary { .. }
            | Op::FBinary { .. }
            | Op::Select { .. }
            | Op::StackGet { .. }
            | Op::MemSize
            | Op::DataSize { .. }
            | Op::DataLoad { .. }
            | Op::GlobalGet { .. }
            | Op::RefFunc { .. }
            | Op::TableSize { .. }
            | Op::GasLeft => true,
            // The trapping float-to-integer conversions are the only ones with a failure.
            Op::Convert { op, .. } => !matches!(op, ConvOp::FToS | ConvOp::FToU),
            Op::Binary { op, args: [a, _] } => {
                self.ty(a) == Type::W256 || !matches!(op, BinOp::DivU | BinOp::DivS | BinOp::RemU | BinOp::RemS)
            }
            _ => false,
        }
    }

    /// The integer conversion `op` from the type of `arg` to `to`; `None` for the float conversions (which
    /// [`float_convert`] computes).
    fn conv(&self, op: ConvOp, to: Type, arg: Value) -> Option<Conv> {
        let from = Bits::of(self.ty(arg));
        Some(match op {
            ConvOp::SatU64 => Conv::SatU64,
            ConvOp::Zext | ConvOp::Trunc => Conv::Ext { from, to: Bits::of(to), signed: false },
            ConvOp::Sext => Conv::Ext { from, to: Bits::of(to), signed: true },
            ConvOp::FToS
            | ConvOp::FToU
            | ConvOp::FToSSat
            | ConvOp::FToUSat
            | ConvOp::SToF
            | ConvOp::UToF
            | ConvOp::FPromote
            | ConvOp::FDemote
            | ConvOp::Bitcast => return None,
        })
    }

    fn lower(mut self) -> FuncInfo {
        let consts = self.assign_registers();
        let consts_start = self.p.consts.len() as u32;
        let nconsts = consts.len() as u32;
        self.p.consts.extend(consts);
        let f = self.func;

        let (params_start, nparams) = match f.blocks.first() {
            Some(entry) => self.push_regs(&entry.params),
            None => (0, 0),
        };

        let code_start = self.p.code.len();
        let edges_start = self.p.edges.len();
        let switches_start = self.p.switches.len();
        let mut block_pc: Vec<u32> = Vec::with_capacity(f.blocks.len());
        for block in &f.blocks {
            block_pc.push(self.p.code.len() as u32);
            let mut terminated = false;
            for &inst in &block.insts {
                let Some(data) = f.insts.get(inst.index()) else { continue };
                if self.skip.get(inst.index()).copied().unwrap_or(false) {
                    continue;
                }
                self.lower_inst(&data.op, &data.results);
                if data.op.is_terminator() {
                    terminated = true;
                    break;
                }
            }
            if !terminated {
                self.p.code.push(Inst::Trap { code: TrapCode::Unreachable });
            }
        }
        // Where branches to unknown blocks (and a function without blocks) go.
        let bad_target = self.p.code.len() as u32;
        self.p.code.push(Inst::Trap { code: TrapCode::Unreachable });
        let entry_pc = block_pc.first().copied().unwrap_or(bad_target);

        // Resolve block indices to instruction indices.
        let resolve = |b: u32| block_pc.get(b as usize).copied().unwrap_or(bad_target);
        for inst in &mut self.p.code[code_start..] {
            match inst {
                Inst::Jump { pc, .. } => *pc = resolve(*pc),
                Inst::BrifPlain { then_pc, else_pc, .. } => {
                    *then_pc = resolve(*then_pc);
                    *else_pc = resolve(*else_pc);
                }
                _ => {}
            }
        }
        for edge in &mut self.p.edges[edges_start..] {
            edge.pc = resolve(edge.pc);
        }
        for table in &mut self.p.switches[switches_start..] {
            for case in table.cases.iter_mut() {
                case.1 = resolve(case.1);
            }
            table.default = resolve(table.default);
        }

        FuncInfo { entry_pc, nregs: self.nregs, consts_start, nconsts, params_start, nparams }
    }

    /// Sequentialized copies for branching to `block` with `args`: `(start, len)` in `Program::moves`.
    fn edge_moves(&mut self, block: zvm_ir::Block, args: &[Value]) -> (u32, u32) {
        let params: &[Value] = self.func.blocks.get(block.index()).map_or(&[], |b| &b.params);
        let pairs: Vec<Move> = params
            .iter()
            .zip(args)
            .map(|(&p, &a)| Move { dst: self.reg(p), src: self.reg(a), narrow: self.ty(p) != Type::W256 })
            .collect();
        let start = self.p.moves.len() as u32;
        sequentialize(&pairs, self.scratch, &mut self.p.moves);
        (start, self.p.moves.len() as u32 - start)
    }

    fn emit(&mut self, inst: Inst) {
        self.p.code.push(inst);
    }

    fn lower_inst(&mut self, op: &Op, results: &[Value]) {
        let dst = results.first().map_or(self.scratch, |&v| self.reg(v));
        let inst = match *op {
            Op::Iconst { .. } | Op::Fconst { .. } | Op::Wconst { .. } => return,
            Op::Unary { op, arg } => match self.ty(arg) {
                Type::W256 => Inst::WUnary { op, dst, a: self.reg(arg) },
                ty => Inst::IUnary { op, ty, dst, a: self.reg(arg) },
            },
            Op::Binary { op, args: [a, b] } => match self.ty(a) {
                Type::W256 => Inst::WBinary { op, dst, a: self.reg(a), b: self.reg(b) },
                ty => Inst::IBinary { op, ty, dst, a: self.reg(a), b: self.reg(b) },
            },
            Op::Ternary { op, args: [a, b, c] } => {
                Inst::WTernary { op, dst, a: self.reg(a), b: self.reg(b), c: self.reg(c) }
            }
            Op::Convert { op, to, arg } => match self.conv(op, to, arg) {
                Some(conv) => Inst::Convert { conv, dst, a: self.reg(arg) },
                None => Inst::FConvert { op, from: self.ty(arg), to, dst, a: self.reg(arg) },
            },
            Op::FUnary { op, arg } => Inst::FUnary { op, ty: self.ty(arg), dst, a: self.reg(arg) },
            Op::FBinary { op, args: [a, b] } => {
                Inst::FBinary { op, ty: self.ty(a), dst, a: self.reg(a), b: self.reg(b) }
            }
            Op::Select { cond, args: [a, b] } => Inst::Select {
                wide: self.ty(cond) == Type::W256,
                dst,
                cond: self.reg(cond),
                a: self.reg(a),
                b: self.reg(b),
            },
            Op::Load { ty, access, addr } => {
                let (addr, offset) = (self.reg(addr), access.offset);
                if ty == Type::W256 && access.width == 32 {
                    Inst::LoadWord { big_endian: access.big_endian, dst, addr, offset }
                } else {
                    let access = Access {
                        width: access.width.min(32),
                        signed: access.signed,
                        big_endian: access.big_endian,
                        out: Bits::of(ty),
                    };
                    Inst::LoadNarrow { access, dst, addr, offset }
                }
            }
            Op::Store { access, addr, value } => {
                let (addr, offset, value_reg) = (self.reg(addr), access.offset, self.reg(value));
                if access.width == 32 {
                    Inst::StoreWord { big_endian: access.big_endian, addr, value: value_reg, offset }
                } else {
                    let access = Access {
                        width: access.width.min(32),
                        signed: access.signed,
                        big_endian: access.big_endian,
                        out: Bits::of(self.ty(value)),
                    };
                    Inst::StoreNarrow { access, addr, value: value_reg, offset }
                }
            }
            Op::MemSize => Inst::MemSize { dst },
            Op::MemExpand { args: [offset, len] } => Inst::MemExpand { offset: self.reg(offset), len: self.reg(len) },
            Op::MemCopy { args: [d, s, n] } => Inst::MemCopy { dst: self.reg(d), src: self.reg(s), len: self.reg(n) },
            Op::Hash { alg, args: [offset, len] } => {
                Inst::Hash { alg, dst, offset: self.reg(offset), len: self.reg(len) }
            }
            Op::DataSize { src } => Inst::DataSize { src, dst },
            Op::DataLoad { src, arg } => Inst::DataLoad { src, dst, offset: self.reg(arg) },
            Op::DataCopy { src, args: [d, o, n] } => {
                Inst::DataCopy { src, dst: self.reg(d), offset: self.reg(o), len: self.reg(n) }
            }
            Op::StackCheck { min, growth } => Inst::StackCheck { min, growth },
            Op::StackGet { depth } => Inst::StackGet { dst, depth },
            Op::StackSet { depth, value } => Inst::StackSet { depth, value: self.reg(value) },
            Op::StackAdjust { delta } => Inst::StackAdjust { delta },
            Op::GasCost { amount } | Op::GasBlock { amount } => {
                if amount == 0 {
                    return;
                }
                Inst::Gas { lo: amount as u32, hi: (amount >> 32) as u32 }
            }
            Op::GasCharge { arg } => Inst::GasCharge { a: self.reg(arg) },
            Op::GasLeft => Inst::GasLeft { dst },
            Op::HostCall { func, ref args } => {
                if args.len() != func.signature().0.len() {
                    Inst::Trap { code: TrapCode::Unreachable }
                } else {
                    let (args_start, nargs) = self.push_regs(args);
                    let dst = results.first().map(|&v| self.reg(v));
                    self.p.host_calls.push(HostCallInfo { func, args_start, nargs, dst });
                    Inst::HostCall { info: (self.p.host_calls.len() - 1) as u32 }
                }
            }
            Op::Call { func, ref args } => {
                if func.index() >= self.module.functions.len() {
                    Inst::Trap { code: TrapCode::Unreachable }
                } else {
                    let (args_start, nargs) = self.push_regs(args);
                    let (rets_start, nrets) = self.push_regs(results);
                    self.p.calls.push(CallInfo { func: func.0, args_start, nargs, rets_start, nrets });
                    Inst::Call { info: (self.p.calls.len() - 1) as u32 }
                }
            }
            Op::Jump { ref dest } => {
                let (mstart, mlen) = self.edge_moves(dest.block, &dest.args);
                Inst::Jump { pc: block_target(dest.block.0), mstart, mlen }
            }
            Op::Brif { cond, ref then_dest, ref else_dest } => {
                let wide = self.ty(cond) == Type::W256;
                let cond = self.reg(cond);
                let (ts, tl) = self.edge_moves(then_dest.block, &then_dest.args);
                let (es, el) = self.edge_moves(else_dest.block, &else_dest.args);
                if tl == 0 && el == 0 {
                    Inst::BrifPlain {
                        wide,
                        cond,
                        then_pc: block_target(then_dest.block.0),
                        else_pc: block_target(else_dest.block.0),
                    }
                } else {
                    let then_edge = self.p.edges.len() as u32;
                    self.p.edges.push(Edge { pc: block_target(then_dest.block.0), mstart: ts, mlen: tl });
                    self.p.edges.push(Edge { pc: block_target(else_dest.block.0), mstart: es, mlen: el });
                    Inst::Brif { wide, cond, then_edge, else_edge: then_edge + 1 }
                }
            }
            Op::Switch { index, ref cases, default } => {
                let mut sorted: Vec<(u64, u32)> = cases.iter().map(|&(v, b)| (v, block_target(b.0))).collect();
                // Stable sort, then keep the first of equal values: the first matching case wins.
                sorted.sort_by_key(|c| c.0);
                sorted.dedup_by_key(|c| c.0);
                self.p.switches.push(SwitchTable { cases: sorted.into(), default: block_target(default.0) });
                Inst::Switch { index: self.reg(index), table: (self.p.switches.len() - 1) as u32 }
            }
            Op::Return { ref args } => {
                let (start, len) = self.push_regs(args);
                Inst::Return { start, len }
            }
            Op::Halt { kind, args: [offset, len] } => Inst::Halt { kind, offset: self.reg(offset), len: self.reg(len) },
            Op::Trap { code } => Inst::Trap { code },
            Op::TableGet { table, arg } => Inst::TableGet { table, dst, index: self.reg(arg) },
            Op::TableSet { table, args: [i, v] } => Inst::TableSet { table, index: self.reg(i), value: self.reg(v) },
            Op::TableSize { table } => Inst::TableSize { table, dst },
            Op::RefFunc { func } => Inst::RefFunc { func, dst },
            Op::TableGrow { table, args: [v, n] } => {
                Inst::TableGrow { table, dst, value: self.reg(v), delta: self.reg(n) }
            }
            Op::TableFill { table, args: [d, v, n] } => {
                Inst::TableFill { table, dst: self.reg(d), value: self.reg(v), len: self.reg(n) }
            }
            Op::TableCopy { dst, src, ref args } => Inst::TableCopy { dst, src, args: self.push_regs(args).0 },
            Op::TableInit { table, seg, ref args } => Inst::TableInit { table, seg, args: self.push_regs(args).0 },
            Op::ElemDrop { seg } => Inst::ElemDrop { seg },
            Op::CallIndirect { ty, table, ref args } => match args.split_first() {
                Some((&index, args)) => {
                    let (args_start, nargs) = self.push_regs(args);
                    let (rets_start, nrets) = self.push_regs(results);
                    self.p.calls.push(CallInfo { func: u32::MAX, args_start, nargs, rets_start, nrets });
                    let info = (self.p.calls.len() - 1) as u32;
                    Inst::CallIndirect { info, index: self.reg(index), ty, table }
                }
                None => Inst::Trap { code: TrapCode::Unreachable },
            },
            Op::MemGrow { arg } => Inst::MemGrow { dst, pages: self.reg(arg) },
            Op::MemFill { args: [d, v, n] } => Inst::MemFill { dst: self.reg(d), byte: self.reg(v), len: self.reg(n) },
            Op::MemInit { seg, args: [d, s, n] } => {
                Inst::MemInit { seg, dst: self.reg(d), src: self.reg(s), len: self.reg(n) }
            }
            Op::DataDrop { seg } => Inst::DataDrop { seg },
            Op::GlobalGet { index } => match self.module.globals.get(index as usize) {
                Some(&ty) => Inst::GlobalGet { narrow: Bits::of(ty) == Bits::B32, dst, index },
                None => Inst::Trap { code: TrapCode::HostError },
            },
            Op::GlobalSet { index, value } => {
                if (index as usize) < self.module.globals.len() {
                    Inst::GlobalSet { index, value: self.reg(value) }
                } else {
                    Inst::Trap { code: TrapCode::HostError }
                }
            }
        };
        self.emit(inst);
    }
}

/// Appends to `out` a sequence of copies with the effect of performing all of `pairs` at once
/// (destinations distinct), using `scratch` to break cycles. Linear in the number of copies.
fn sequentialize(pairs: &[Move], scratch: Reg, out: &mut Vec<Move>) {
    let moves: Vec<Move> = pairs.iter().copied().filter(|m| m.dst != m.src).collect();
    if moves.is_empty() {
        return;
    }
    // Pending copies by destination, readers per source, and where each original value is now.
    let mut pending: HashMap<Reg, Move> = HashMap::with_capacity(moves.len());
    let mut readers: HashMap<Reg, u32> = HashMap::with_capacity(moves.len());
    for &m in &moves {
        if pending.insert(m.dst, m).is_none() {
            *readers.entry(m.src).or_insert(0) += 1;
        }
    }
    let mut location: HashMap<Reg, Reg> = HashMap::new();
    let mut ready: Vec<Reg> = moves.iter().map(|m| m.dst).filter(|d| readers.get(d).is_none_or(|&n| n == 0)).collect();
    let mut next_pending = 0;
    loop {
        while let Some(d) = ready.pop() {
            let Some(m) = pending.remove(&d) else { continue };
            out.push(Move { src: location.get(&m.src).copied().unwrap_or(m.src), ..m });
            if let Some(n) = readers.get_mut(&m.src) {
                *n = n.saturating_sub(1);
                if *n == 0 && pending.contains_key(&m.src) {
                    ready.push(m.src);
                }
            }
        }
        // Only cycles are left: save one destination's value and unwind its cycle.
        while next_pending < moves.len() && !pending.contains_key(&moves[next_pending].dst) {
            next_pending += 1;
        }
        let Some(&Move { dst, .. }) = moves.get(next_pending) else { break };
        out.push(Move { dst: scratch, src: dst, narrow: false });
        location.insert(dst, scratch);
        ready.push(dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs copies on a register file where register `i` initially holds `i`.
    fn simulate(seq: &[Move], n: usize) -> Vec<u32> {
        let mut r: Vec<u32> = (0..n as u32).collect();
        for m in seq {
            r[m.dst as usize] = r[m.src as usize];
        }
        r
    }

    #[test]
    fn parallel_copies_are_sequentialized() {
        let cases: &[&[(Reg, Reg)]] = &[
            &[(0, 1), (1, 0)],
            &[(0, 1), (1, 2), (2, 0)],
            &[(0, 1), (1, 2), (2, 0), (3, 0), (4, 4)],
            &[(0, 1), (1, 0), (2, 3), (3, 2), (5, 2)],
            &[(1, 0), (2, 1), (3, 2)],
            &[(0, 3), (1, 3), (2, 3)],
        ];
        for pairs in cases {
            let scratch = 9;
            let mut seq = Vec::new();
            let moves: Vec<Move> = pairs.iter().map(|&(dst, src)| Move { dst, src, narrow: false }).collect();
            sequentialize(&moves, scratch, &mut seq);
            let after = simulate(&seq, 10);
            let mut expected: Vec<u32> = (0..10).collect();
            for &(d, s) in pairs.iter() {
                expected[d as usize] = s;
            }
            for d in 0..9 {
                assert_eq!(after[d], expected[d], "{pairs:?} -> {seq:?}");
            }
        }
    }
}
