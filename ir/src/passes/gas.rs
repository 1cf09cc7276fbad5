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
//! `sstore`, calls), so the split costs nearly nothing.
//!
//! Gas used and success are the same as under the per-operation meter for every execution; a failing
//! execution consumes all gas either way.

use crate::function::Function;
use crate::instructions::Op;
use crate::Module;

/// Runs the pass over every function of the module.
pub fn run(module: &mut Module) {
    for func in &mut module.functions {
        run_function(func);
    }
}

/// Runs the pass over one function.
pub fn run_function(func: &mut Function) {
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
                ref op if op.observes_gas() => {
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
        func.blocks[b].insts = out;
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
        run_function(&mut f);
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
        run_function(&mut f);
        let got = ops(&f, 0);
        assert_eq!(got[0], Op::GasBlock { amount: 102 });
        assert!(matches!(got[2], Op::HostCall { func: HostFn::SStore, .. }));
        assert_eq!(got[3], Op::GasBlock { amount: 7 });
        assert!(matches!(got[4], Op::GasLeft));
        assert_eq!(got[5], Op::GasBlock { amount: 11 });
        assert!(matches!(got[6], Op::Trap { .. }));
    }
}
