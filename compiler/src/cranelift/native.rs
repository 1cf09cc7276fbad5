//! What the runtime needs to run native code, whichever way it was produced.
//!
//! Code compiled in-process ([`super::CompiledModule`]) and code loaded from an emitted object (the
//! `zvm-cache` crate) are run the same way: call the entry trampoline on a context, on a thread with enough
//! native stack. [`NativeCode`] is that contract; [`StackBound`] is the stack part of it, computed once from
//! the frame sizes Cranelift reports, and [`Dispatch`] says which functions the trampoline can run; for
//! objects both are stored in the object's metadata section.

use super::translate::Dispatchers;
use crate::abi::VmCtx;
use cranelift_codegen::CompiledCode;
use zvm_ir::{Op, Type};

/// The native entry point (the one trampoline of a module): runs function `func` against a context.
///
/// `values` carries the parameters in and the results out, one `u64` slot each (`i32`/`f32` in the low
/// 32 bits): the trampoline reads parameter `i` from `values[i]`, calls the function, and if it returned
/// normally ([`crate::abi::STATUS_OK`]) writes its non-`w256` results to `values[i]` (result `i`, `i32`/`f32`
/// zero-extended; `w256` results are skipped, their slots untouched). `values` must be valid for
/// [`Dispatch::slots`] slots of `func`; it may be null when `func` takes no parameters, and the results are
/// then dropped. Returns the status; a `func` that is not [`Dispatch::is_invocable`] returns the trap status
/// of `host_error` without running anything.
pub type EntryFn = unsafe extern "C" fn(ctx: *mut VmCtx, func: u32, values: *mut u64) -> u32;

/// Which functions of a module the trampoline runs, and the module's entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Dispatch {
    /// The module's entry function (what a plain run starts in).
    pub entry: u32,
    /// Per function of the module: the `u64` slots of `values` an invocation uses (the larger of the
    /// parameter and result counts), or `None` if the trampoline cannot run it (a `w256` parameter).
    pub slots: Vec<Option<u32>>,
}

impl Dispatch {
    /// The dispatch of the trampoline the backend builds for `module`: every function without `w256`
    /// parameters.
    pub fn of(module: &zvm_ir::Module) -> Dispatch {
        let slots = module
            .functions
            .iter()
            .map(|f| {
                let invocable = !f.sig.params.contains(&Type::W256);
                let slots = f.sig.params.len().max(f.sig.results.len());
                invocable.then(|| u32::try_from(slots).unwrap_or(u32::MAX))
            })
            .collect();
        Dispatch { entry: module.entry.0, slots }
    }

    /// Whether the trampoline runs function `func`.
    pub fn is_invocable(&self, func: u32) -> bool {
        self.slots(func).is_some()
    }

    /// The `u64` slots of `values` invoking `func` uses; `None` if it cannot be invoked.
    pub fn slots(&self, func: u32) -> Option<u32> {
        self.slots.get(func as usize).copied().flatten()
    }
}

/// Native stack a frame takes besides what Cranelift reports as its fixed frame: return address and saved
/// frame pointer, plus slack.
const FRAME_OVERHEAD: u64 = 16 + 64;
/// Assumed frame size when Cranelift does not report a layout.
const UNKNOWN_FRAME: u64 = 16 << 10;

/// Native code the runtime can run: an entry trampoline, what it dispatches to and a bound of the native
/// stack it uses.
///
/// # Safety
/// Implementors guarantee that [`NativeCode::entry`] points to zvm entry-trampoline code (the native code
/// contract of [`super`]) that stays mapped and executable, and is never written, while `self` lives, and
/// that [`NativeCode::stack_bound`] and [`NativeCode::dispatch`] are the ones computed for that very code.
pub unsafe trait NativeCode {
    /// The entry trampoline. Calling it has the safety contract of [`super::CompiledModule::entry`].
    fn entry(&self) -> EntryFn;

    /// The native stack the code needs (helpers excluded).
    fn stack_bound(&self) -> StackBound;

    /// The functions the trampoline runs and the module's entry.
    fn dispatch(&self) -> &Dispatch;

    /// The index of the module's entry function (the `func` argument of a plain run).
    fn entry_index(&self) -> u32 {
        self.dispatch().entry
    }

    /// Upper bound of the native stack the code uses (helpers excluded) when the context allows
    /// `max_call_depth` nested IR calls.
    fn native_stack_bytes(&self, max_call_depth: u64) -> u64 {
        self.stack_bound().native_stack_bytes(max_call_depth)
    }
}

/// Upper bound of the native stack a run needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StackBound {
    /// The call graph reachable from the trampoline is acyclic: the heaviest call chain, in bytes.
    Chain(u64),
    /// Recursion is possible: the trampoline (`base`) plus one heaviest `frame` per allowed call level.
    PerCall {
        /// Bytes of the trampoline's frame.
        base: u64,
        /// Bytes of one call level: the heaviest frame of a function reachable from the trampoline, plus
        /// the heaviest frame of a reachable `call_indirect` dispatcher if there is one (an indirect call
        /// level is a dispatcher's frame and its callee's).
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

    /// True if some function reachable from the trampoline can (directly or not) call itself.
    pub fn is_recursive(self) -> bool {
        matches!(self, StackBound::PerCall { .. })
    }

    /// The bound from the call graph: `frames[i]` is the frame of function `i`, `frames[n]` the
    /// trampoline's, `frames[n + 1 + k]` that of `call_indirect` dispatcher `k` (see [`frame_bytes`] and
    /// [`Dispatchers`]). The roots are the functions the trampoline calls (every [`Dispatch::is_invocable`]
    /// one), so the bound holds whichever function a run starts in. A `call_indirect` is an edge to every
    /// function of its signature (called through the function table) and to the dispatcher of its
    /// signature (which calls no function of the module), so recursion through tables is recursion here
    /// too. A level of recursion is counted as a function's frame plus a dispatcher's: an upper bound.
    pub fn from_frames(module: &zvm_ir::Module, frames: &[u64]) -> StackBound {
        let n = module.functions.len();
        let dispatchers = Dispatchers::of(module);
        // Nodes: functions `0..n`, the trampoline `n` (no edges), dispatchers `n + 1 + k`.
        let nodes = n + 1 + dispatchers.len();
        let frame = |node: usize| frames.get(node).copied().unwrap_or(UNKNOWN_FRAME);
        let mut callees: Vec<Vec<usize>> = vec![Vec::new(); nodes];
        for (f, func) in module.functions.iter().enumerate() {
            let mut c = Vec::new();
            for i in &func.insts {
                match &i.op {
                    Op::Call { func, .. } if func.index() < n => c.push(func.index()),
                    Op::CallIndirect { ty, .. } => {
                        if let Some(k) = dispatchers.of_type(*ty) {
                            c.push(n + 1 + k as usize);
                            c.extend(dispatchers.targets(k as usize).iter().map(|&t| t as usize));
                        }
                    }
                    _ => {}
                }
            }
            c.sort_unstable();
            c.dedup();
            callees[f] = c;
        }
        let dispatch = Dispatch::of(module);
        let roots: Vec<usize> = (0..n).filter(|&f| dispatch.is_invocable(f as u32)).collect();
        // Nodes reachable from the trampoline.
        let mut reachable = vec![false; nodes];
        let mut work = roots.clone();
        for &r in &roots {
            reachable[r] = true;
        }
        while let Some(f) = work.pop() {
            for &c in &callees[f] {
                if !reachable[c] {
                    reachable[c] = true;
                    work.push(c);
                }
            }
        }
        // Kahn's algorithm on the reachable subgraph: a leftover node means a cycle.
        let mut indegree = vec![0usize; nodes];
        for f in (0..nodes).filter(|&f| reachable[f]) {
            for &c in &callees[f] {
                indegree[c] += 1;
            }
        }
        let mut order = Vec::new();
        let mut ready: Vec<usize> = (0..nodes).filter(|&f| reachable[f] && indegree[f] == 0).collect();
        while let Some(f) = ready.pop() {
            order.push(f);
            for &c in &callees[f] {
                indegree[c] -= 1;
                if indegree[c] == 0 {
                    ready.push(c);
                }
            }
        }
        let trampoline = frame(n);
        let count = reachable.iter().filter(|&&r| r).count();
        if order.len() < count {
            let heaviest =
                |range: std::ops::Range<usize>| range.filter(|&f| reachable[f]).map(frame).max().unwrap_or(0);
            let level = heaviest(0..n) + heaviest(n + 1..nodes);
            return StackBound::PerCall { base: trampoline, frame: level };
        }
        // Heaviest chain, callees first.
        let mut heaviest = vec![0u64; nodes];
        for &f in order.iter().rev() {
            let below = callees[f].iter().map(|&c| heaviest[c]).max().unwrap_or(0);
            heaviest[f] = frame(f) + below;
        }
        StackBound::Chain(trampoline + roots.iter().map(|&r| heaviest[r]).max().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(text: &str) -> zvm_ir::Module {
        zvm_ir::text::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    /// fn0: the entry; fn1(i64): calls fn2; fn2(i64) calls itself if `recursive`; fn3(w256): calls fn4;
    /// fn4(i64).
    fn five(recursive: bool) -> zvm_ir::Module {
        let call2 = if recursive { "v1 = call fn2(v0)" } else { "v1 = iconst.i64 0" };
        module(&format!(
            "function %main() {{
block0:
    return
}}
function %a(i64) -> i64 {{
block0(v0: i64):
    v1 = call fn2(v0)
    return v1
}}
function %b(i64) -> i64 {{
block0(v0: i64):
    {call2}
    return v1
}}
function %w(w256) -> i64 {{
block0(v0: w256):
    v1 = iconst.i64 1
    v2 = call fn4(v1)
    return v2
}}
function %c(i64) -> i64 {{
block0(v0: i64):
    return v0
}}"
        ))
    }

    #[test]
    fn dispatch_lists_the_functions_without_word_parameters() {
        let d = Dispatch::of(&five(false));
        assert_eq!(d, Dispatch { entry: 0, slots: vec![Some(0), Some(1), Some(1), None, Some(1)] });
        assert!(d.is_invocable(4) && !d.is_invocable(3) && !d.is_invocable(5));
        assert_eq!(d.slots(1), Some(1));
    }

    #[test]
    fn the_stack_bound_covers_every_invocable_function() {
        // frames: fn0..fn4, then the trampoline.
        let frames = [10, 20, 30, 5000, 400, 7];
        // Heaviest chain from an invocable root: fn4 alone (400); fn3 (not invocable) does not count.
        assert_eq!(StackBound::from_frames(&five(false), &frames), StackBound::Chain(7 + 400));
        let light = [10, 20, 30, 5000, 4, 7];
        assert_eq!(StackBound::from_frames(&five(false), &light), StackBound::Chain(7 + 20 + 30));
        // Recursion reachable from an invocable function only (not from the entry).
        assert_eq!(StackBound::from_frames(&five(true), &frames), StackBound::PerCall { base: 7, frame: 400 });
    }

    #[test]
    fn an_indirect_call_reaches_the_functions_of_its_signature_and_a_dispatcher() {
        let i64_to_i64 = zvm_ir::Signature { params: vec![Type::I64], results: vec![Type::I64] };
        let w256_to_i64 = zvm_ir::Signature { params: vec![Type::W256], results: vec![Type::I64] };
        // frames: fn0..fn4, the trampoline, then dispatcher 0.
        let frames = [10, 20, 30, 5000, 400, 7, 50];

        // fn0 calls through type 0 = (w256) -> i64: only fn3 has that signature, and fn3 calls fn4 (a
        // chain fn0, fn3, fn4, heavier than fn0 and the dispatcher). Types 1 and 2 are unused.
        let mut m = five(false);
        m.types = vec![w256_to_i64.clone(), i64_to_i64.clone(), w256_to_i64.clone()];
        m.functions[0].insts[0].op = Op::CallIndirect { ty: 0, table: 0, args: vec![] };
        let d = Dispatchers::of(&m);
        assert_eq!((d.len(), d.of_type(0), d.of_type(1), d.of_type(2)), (1, Some(0), None, Some(0)));
        assert_eq!(d.targets(0), [3]);
        assert_eq!(StackBound::from_frames(&m, &frames), StackBound::Chain(7 + 10 + 5000 + 400));

        // fn4 calls through (i64) -> i64, which fn1, fn2 and fn4 itself have: recursion through the
        // function table. One level is the heaviest reachable function plus the dispatcher.
        let mut m = five(false);
        m.types = vec![i64_to_i64];
        m.functions[4].insts[0].op = Op::CallIndirect { ty: 0, table: 0, args: vec![] };
        assert_eq!(Dispatchers::of(&m).targets(0), [1, 2, 4]);
        assert_eq!(StackBound::from_frames(&m, &frames), StackBound::PerCall { base: 7, frame: 400 + 50 });

        // A type no function has: only the dispatcher, which calls nothing.
        let mut m = five(false);
        m.types = vec![zvm_ir::Signature { params: vec![Type::F32], results: vec![] }];
        m.functions[4].insts[0].op = Op::CallIndirect { ty: 0, table: 0, args: vec![] };
        assert!(Dispatchers::of(&m).targets(0).is_empty());
        assert_eq!(StackBound::from_frames(&m, &frames), StackBound::Chain(7 + 400 + 50));
    }
}
