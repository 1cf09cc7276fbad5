//! Block-level gas: folds the per-operation static costs of each block into charges at block boundaries.
//!
//! Frontends emit `gas.cost N` before every source operation; run as is, that is a per-operation meter.
//! This pass removes those markers and charges their sum once, with `gas.block`, at the start of each
//! block (after any leading `stack.check`, so stack errors are reported before gas is taken, exactly as
//! the per-operation meter does).
//!
//! Guarantee: an operation that observes the gas left ([`Op::observes_gas`]) sees exactly what a
//! per-operation meter would show. The pass achieves it by splitting the block's charge there: the first
//! charge covers the operations up to and including the observer, the next one (placed right after the
//! observer) the operations after it. Blocks without observers get one charge; observers are rare (`gas`,
//! `sstore`, calls), so the split costs nearly nothing. A call of a function that may halt the whole
//! execution (a WebAssembly contract's helper that reverts) splits the charge the same way, so the
//! operations after it are not paid for when it never returns.
//!
//! Then a block entered only by unconditional jumps (a loop header, the block after an `if`) hands its
//! first charge to those jumps' blocks: each adds it to its own last charge, so a loop whose body jumps
//! back to its header charges once per iteration instead of twice. The jump makes the block run right
//! after its predecessor's last operation, and no operation between the two charges observes gas, so
//! this only moves the point where an execution that runs out of gas stops to earlier in the same path.
//! Blocks with a leading `stack.check` keep their charge (the stack error must come first), and a block
//! is either a giver or a receiver, never both, so charges never move twice or around a cycle.
//!
//! Gas used and success are the same as under the per-operation meter for every execution; a failing
//! execution consumes all gas either way.

use crate::function::Function;
use crate::instructions::Op;
use crate::Module;

/// Runs the pass over every function of the module.
pub fn run(module: &mut Module) {
    let halting = Halting::of(module);
    for func in &mut module.functions {
        run_function(func, &halting);
    }
}

/// Which functions may end the whole execution (`halt`, directly or through calls) rather than return:
/// a call of one ends its charge segment, as an observer does, so that the operations after it are
/// charged only once it has returned. `call_indirect` may reach any function of its signature, so it
/// counts as such a call when any function of the module may halt.
struct Halting {
    funcs: Vec<bool>,
    any: bool,
}

impl Halting {
    fn of(module: &Module) -> Halting {
        let funcs = module.functions.iter().map(|f| f.insts.iter().any(|i| matches!(i.op, Op::Halt { .. })));
        let mut halting = Halting { funcs: funcs.collect(), any: false };
        loop {
            halting.any = halting.funcs.iter().any(|&h| h);
            let mut changed = false;
            for (i, f) in module.functions.iter().enumerate() {
                if !halting.funcs[i] && f.insts.iter().any(|inst| halting.may_end_execution(&inst.op)) {
                    halting.funcs[i] = true;
                    changed = true;
                }
            }
            if !changed {
                return halting;
            }
        }
    }

    /// Whether execution may stop inside `op` without failing, so that what follows it must not be
    /// charged before it.
    fn may_end_execution(&self, op: &Op) -> bool {
        match op {
            Op::Call { func, .. } => self.funcs.get(func.index()).copied().unwrap_or(true),
            Op::CallIndirect { .. } => self.any,
            _ => false,
        }
    }
}

/// Runs the pass over one function of a module.
fn run_function(func: &mut Function, halting: &Halting) {
    let last_charges = fold_blocks(func, halting);
    hand_charges_to_jumps(func, &last_charges);
}

/// Where a block's last charge is (or would go): an index into its instructions, and whether a charge is
/// there already.
#[derive(Clone, Copy)]
struct LastCharge {
    at: usize,
    present: bool,
}

/// Folds each block's costs into `gas.block` charges; returns each block's [`LastCharge`].
fn fold_blocks(func: &mut Function, halting: &Halting) -> Vec<LastCharge> {
    let mut last_charges = Vec::with_capacity(func.blocks.len());
    for b in 0..func.blocks.len() {
        let old = std::mem::take(&mut func.blocks[b].insts);
        let mut out = Vec::with_capacity(old.len());
        // Start of the segment whose charge is pending, as an index into `out`, and its sum.
        let leading_checks = old.iter().take_while(|&&i| matches!(func.inst(i).op, Op::StackCheck { .. })).count();
        out.extend_from_slice(&old[..leading_checks]);
        let mut segment_start = out.len();
        let mut sum: u64 = 0;
        for &inst in &old[leading_checks..] {
            match func.inst(inst).op {
                Op::GasCost { amount } => {
                    sum = sum.saturating_add(amount);
                    continue;
                }
                ref op if op.observes_gas() || halting.may_end_execution(op) => {
                    out.push(inst);
                    if sum > 0 {
                        let charge = func.create_inst(Op::GasBlock { amount: sum }, &[]);
                        out.insert(segment_start, charge);
                    }
                    segment_start = out.len();
                    sum = 0;
                    continue;
                }
                _ => {}
            }
            out.push(inst);
        }
        if sum > 0 {
            let charge = func.create_inst(Op::GasBlock { amount: sum }, &[]);
            out.insert(segment_start, charge);
        }
        last_charges.push(LastCharge { at: segment_start, present: sum > 0 });
        func.blocks[b].insts = out;
    }
    last_charges
}

/// Moves the first charge of every block entered only by `jump`s into the last charge of those jumps'
/// blocks (see the module documentation).
fn hand_charges_to_jumps(func: &mut Function, last_charges: &[LastCharge]) {
    let n = func.blocks.len();
    // Predecessors by block; `None` once some edge into it is not a plain `jump`.
    let mut preds: Vec<Option<Vec<usize>>> = vec![Some(Vec::new()); n];
    // The entry block is entered by the call too.
    if n > 0 {
        preds[0] = None;
    }
    for b in 0..n {
        let Some(term) = func.terminator(crate::Block(b as u32)) else { continue };
        let op = &func.inst(term).op;
        let by_jump = matches!(op, Op::Jump { .. });
        for s in op.successors() {
            if let Some(p) = preds.get_mut(s.index()) {
                match p {
                    Some(list) if by_jump => list.push(b),
                    _ => *p = None,
                }
            }
        }
    }
    let (mut gives, mut receives) = (vec![false; n], vec![false; n]);
    let mut extra = vec![0u64; n];
    for b in 0..n {
        let Some(ps) = &preds[b] else { continue };
        let first = func.blocks[b].insts.first().map(|&i| &func.inst(i).op);
        let Some(&Op::GasBlock { amount }) = first else { continue };
        if ps.is_empty() || receives[b] || ps.iter().any(|&p| p == b || gives[p]) {
            continue;
        }
        gives[b] = true;
        for &p in ps {
            receives[p] = true;
            extra[p] = extra[p].saturating_add(amount);
        }
        func.blocks[b].insts.remove(0);
    }
    for (p, &amount) in extra.iter().enumerate() {
        if amount == 0 {
            continue;
        }
        let LastCharge { at, present } = last_charges[p];
        if present {
            let inst = func.blocks[p].insts[at];
            if let Op::GasBlock { amount: own } = func.inst(inst).op {
                func.insts[inst.index()].op = Op::GasBlock { amount: own.saturating_add(amount) };
            }
        } else {
            let charge = func.create_inst(Op::GasBlock { amount }, &[]);
            func.blocks[p].insts.insert(at, charge);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::build_function;
    use crate::function::Signature;
    use crate::instructions::{HaltKind, HostFn};
    use crate::types::Type;
    use crate::U256;

    fn ops(func: &Function, b: usize) -> Vec<Op> {
        func.blocks[b].insts.iter().map(|&i| func.inst(i).op.clone()).collect()
    }

    #[test]
    fn costs_fold_into_one_charge_after_the_stack_check() {
        let mut f = build_function("f", Signature::default(), |b| {
            b.ins(Op::StackCheck { min: 1, growth: 0 });
            b.ins(Op::GasCost { amount: 3 });
            let x = b.wconst(U256::from(1));
            b.ins(Op::GasCost { amount: 5 });
            b.ins(Op::StackSet { depth: 0, value: x });
            let z = b.iconst(Type::I64, 0);
            b.halt(HaltKind::Return, z, z);
        });
        run_function(&mut f, &Halting { funcs: Vec::new(), any: false });
        let got = ops(&f, 0);
        assert_eq!(got[0], Op::StackCheck { min: 1, growth: 0 });
        assert_eq!(got[1], Op::GasBlock { amount: 8 });
        assert!(!got.iter().any(|op| matches!(op, Op::GasCost { .. })));
    }

    #[test]
    fn observers_split_the_charge() {
        let mut f = build_function("f", Signature::default(), |b| {
            b.ins(Op::GasCost { amount: 2 });
            let k = b.wconst(U256::ZERO);
            b.ins(Op::GasCost { amount: 100 });
            b.host_call(HostFn::SStore, vec![k, k]);
            b.ins(Op::GasCost { amount: 7 });
            b.ins(Op::GasLeft);
            b.ins(Op::GasCost { amount: 11 });
            b.trap(crate::TrapCode::Unreachable);
        });
        run_function(&mut f, &Halting { funcs: Vec::new(), any: false });
        let got = ops(&f, 0);
        assert_eq!(got[0], Op::GasBlock { amount: 102 });
        assert!(matches!(got[2], Op::HostCall { func: HostFn::SStore, .. }));
        assert_eq!(got[3], Op::GasBlock { amount: 7 });
        assert!(matches!(got[4], Op::GasLeft));
        assert_eq!(got[5], Op::GasBlock { amount: 11 });
        assert!(matches!(got[6], Op::Trap { .. }));
    }

    /// block0 (2) -> header block1 (3) -brif-> body block2 (5) -> block1; block1 -brif-> exit block3 (1).
    fn loop_function(header_stack_check: bool) -> Function {
        build_function("f", Signature::default(), |b| {
            let (header, body, exit) = (b.create_block(), b.create_block(), b.create_block());
            b.ins(Op::GasCost { amount: 2 });
            b.jump(header, vec![]);
            b.switch_to_block(header);
            if header_stack_check {
                b.ins(Op::StackCheck { min: 0, growth: 1 });
            }
            b.ins(Op::GasCost { amount: 3 });
            let c = b.iconst(Type::I32, 1);
            b.brif(c, body, exit);
            b.switch_to_block(body);
            b.ins(Op::GasCost { amount: 5 });
            b.ins(Op::GasLeft);
            b.jump(header, vec![]);
            b.switch_to_block(exit);
            b.ins(Op::GasCost { amount: 1 });
            b.trap(crate::TrapCode::Unreachable);
        })
    }

    #[test]
    fn a_block_entered_only_by_jumps_hands_its_charge_to_them() {
        let mut f = loop_function(false);
        run_function(&mut f, &Halting { funcs: Vec::new(), any: false });
        // The entry pays its own cost and the header's first pass; the body pays after its observer, for
        // its tail and the header's next pass; the header charges nothing; the exit (entered by `brif`)
        // keeps its charge.
        assert_eq!(ops(&f, 0)[0], Op::GasBlock { amount: 5 });
        assert!(!ops(&f, 1).iter().any(|op| matches!(op, Op::GasBlock { .. })));
        let body = ops(&f, 2);
        assert_eq!(body[0], Op::GasBlock { amount: 5 });
        assert!(matches!(body[1], Op::GasLeft));
        assert_eq!(body[2], Op::GasBlock { amount: 3 });
        assert_eq!(ops(&f, 3)[0], Op::GasBlock { amount: 1 });
    }

    #[test]
    fn a_block_with_a_stack_check_keeps_its_charge() {
        let mut f = loop_function(true);
        run_function(&mut f, &Halting { funcs: Vec::new(), any: false });
        assert_eq!(ops(&f, 0)[0], Op::GasBlock { amount: 2 });
        assert_eq!(ops(&f, 1)[1], Op::GasBlock { amount: 3 });
        assert_eq!(ops(&f, 2)[0], Op::GasBlock { amount: 5 });
    }

    #[test]
    fn a_call_that_may_halt_splits_the_charge_and_blocks_the_hand_off() {
        let halting = build_function("stop", Signature::default(), |b| {
            let z = b.iconst(Type::I64, 0);
            b.halt(HaltKind::Return, z, z);
        });
        let caller = build_function("f", Signature::default(), |b| {
            let next = b.create_block();
            b.ins(Op::GasCost { amount: 2 });
            b.ins(Op::Call { func: crate::FuncId(0), args: vec![] });
            b.ins(Op::GasCost { amount: 3 });
            b.jump(next, vec![]);
            b.switch_to_block(next);
            b.ins(Op::GasCost { amount: 4 });
            b.trap(crate::TrapCode::Unreachable);
        });
        let mut module = Module::new(vec![halting, caller], crate::FuncId(1));
        run(&mut module);
        let f = &module.functions[1];
        // The call's own cost before it; after it, the rest of the block and the next block's charge.
        assert_eq!(ops(f, 0)[0], Op::GasBlock { amount: 2 });
        assert!(matches!(ops(f, 0)[1], Op::Call { .. }));
        assert_eq!(ops(f, 0)[2], Op::GasBlock { amount: 7 });
        assert!(!ops(f, 1).iter().any(|op| matches!(op, Op::GasBlock { .. })));
    }
}
