//! What the runtime needs to run native code, whichever way it was produced.
//!
//! Code compiled in-process ([`super::CompiledModule`]) and code loaded from an emitted object (the
//! `zvm-cache` crate) are run the same way: call the entry trampoline on a context, on a thread with enough
//! native stack. [`NativeCode`] is that contract; [`StackBound`] is the stack part of it, computed once from
//! the frame sizes Cranelift reports and, for objects, stored in the object's metadata section.

use crate::abi::VmCtx;
use cranelift_codegen::CompiledCode;
use zvm_ir::Op;

/// The native entry point: runs the module's entry function against a context.
pub type EntryFn = unsafe extern "C" fn(*mut VmCtx) -> u32;

/// Native stack a frame takes besides what Cranelift reports as its fixed frame: return address and saved
/// frame pointer, plus slack.
const FRAME_OVERHEAD: u64 = 16 + 64;
/// Assumed frame size when Cranelift does not report a layout.
const UNKNOWN_FRAME: u64 = 16 << 10;

/// Native code the runtime can run: an entry trampoline and a bound of the native stack it uses.
///
/// # Safety
/// Implementors guarantee that [`NativeCode::entry`] points to zvm entry-trampoline code (the native code
/// contract of [`super`]) that stays mapped and executable, and is never written, while `self` lives, and
/// that [`NativeCode::stack_bound`] is the bound computed for that very code.
pub unsafe trait NativeCode {
    /// The entry trampoline. Calling it has the safety contract of [`super::CompiledModule::entry`].
    fn entry(&self) -> EntryFn;

    /// The native stack the code needs (helpers excluded).
    fn stack_bound(&self) -> StackBound;

    /// Upper bound of the native stack the code uses (helpers excluded) when the context allows
    /// `max_call_depth` nested IR calls.
    fn native_stack_bytes(&self, max_call_depth: u64) -> u64 {
        self.stack_bound().native_stack_bytes(max_call_depth)
    }
}

/// Upper bound of the native stack a run needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StackBound {
    /// The call graph reachable from the entry is acyclic: the heaviest call chain, in bytes.
    Chain(u64),
    /// Recursion is possible: the trampoline (`base`) plus one heaviest `frame` per allowed call level.
    PerCall {
        /// Bytes of the trampoline's frame.
        base: u64,
        /// Bytes of the heaviest frame of a function reachable from the entry.
        frame: u64,
    },
}

/// The native stack one compiled function's frame takes.
pub fn frame_bytes(compiled: &CompiledCode) -> u64 {
    let fixed = compiled.buffer.frame_layout().map_or(UNKNOWN_FRAME, |l| u64::from(l.frame_to_fp_offset));
    fixed + FRAME_OVERHEAD
}

impl StackBound {
    /// Upper bound of the native stack when the context allows `max_call_depth` nested IR calls. Constant
    /// for modules without recursion.
    pub fn native_stack_bytes(self, max_call_depth: u64) -> u64 {
        match self {
            StackBound::Chain(n) => n,
            StackBound::PerCall { base, frame } => {
                base.saturating_add(max_call_depth.saturating_add(1).saturating_mul(frame))
            }
        }
    }

    /// True if some function reachable from the entry can (directly or not) call itself.
    pub fn is_recursive(self) -> bool {
        matches!(self, StackBound::PerCall { .. })
    }

    /// The bound from the call graph: `frames[i]` is the frame of function `i`, `frames[n]` the
    /// trampoline's (see [`frame_bytes`]).
    pub fn from_frames(module: &zvm_ir::Module, frames: &[u64]) -> StackBound {
        let n = module.functions.len();
        let callees: Vec<Vec<usize>> = module
            .functions
            .iter()
            .map(|f| {
                let mut c: Vec<usize> = f
                    .insts
                    .iter()
                    .filter_map(|i| match &i.op {
                        Op::Call { func, .. } if func.index() < n => Some(func.index()),
                        _ => None,
                    })
                    .collect();
                c.sort_unstable();
                c.dedup();
                c
            })
            .collect();
        let entry = module.entry.index();
        // Functions reachable from the entry.
        let mut reachable = vec![false; n];
        let mut work = vec![entry];
        reachable[entry] = true;
        while let Some(f) = work.pop() {
            for &c in &callees[f] {
                if !reachable[c] {
                    reachable[c] = true;
                    work.push(c);
                }
            }
        }
        // Kahn's algorithm on the reachable subgraph: a leftover node means a cycle.
        let mut indegree = vec![0usize; n];
        for f in (0..n).filter(|&f| reachable[f]) {
            for &c in &callees[f] {
                indegree[c] += 1;
            }
        }
        let mut order = Vec::new();
        let mut ready: Vec<usize> = (0..n).filter(|&f| reachable[f] && indegree[f] == 0).collect();
        while let Some(f) = ready.pop() {
            order.push(f);
            for &c in &callees[f] {
                indegree[c] -= 1;
                if indegree[c] == 0 {
                    ready.push(c);
                }
            }
        }
        let trampoline = frames[n];
        let count = reachable.iter().filter(|&&r| r).count();
        if order.len() < count {
            let frame = (0..n).filter(|&f| reachable[f]).map(|f| frames[f]).max().unwrap_or(0);
            return StackBound::PerCall { base: trampoline, frame };
        }
        // Heaviest chain, callees first.
        let mut heaviest = vec![0u64; n];
        for &f in order.iter().rev() {
            let below = callees[f].iter().map(|&c| heaviest[c]).max().unwrap_or(0);
            heaviest[f] = frames[f] + below;
        }
        StackBound::Chain(trampoline + heaviest[entry])
    }
}
