//! In-process compilation for the host with `cranelift-jit`.

use super::define::define_module;
use super::native::{Dispatch, EntryFn, NativeCode, StackBound};
use super::object::ENTRY_SYMBOL;
use super::{host_isa, CompileError, JitOptions};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage};
use std::fmt;

/// A compiled module: owns the executable memory its entry point lives in.
pub struct CompiledModule {
    /// Kept for its `Drop`, which frees the code.
    _code: Owned,
    entry: EntryFn,
    dispatch: Dispatch,
    code_size: usize,
    stack: StackBound,
}

// SAFETY: after `finalize_definitions` the module's memory is immutable code that is only read (executed,
// reentrantly: it keeps no state of its own) until `Owned` frees it on drop; nothing else in the JIT
// module is used after compilation.
unsafe impl Send for CompiledModule {}
// SAFETY: as above; shared references only hand out the entry pointer and numbers.
unsafe impl Sync for CompiledModule {}

/// Frees the JIT memory when dropped (a `JITModule` leaks it otherwise).
struct Owned(Option<Box<JITModule>>);

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(jit) = self.0.take() {
            // SAFETY: the owner of this value (a `CompiledModule` or a failed compilation) is being dropped, so
            // no pointer into the code can be called any more (runs borrow the `CompiledModule`).
            unsafe { (*jit).free_memory() };
        }
    }
}

impl CompiledModule {
    /// The native entry point: runs a function of the module (see [`EntryFn`] for `func` and `values`) and
    /// returns a status ([`crate::abi::STATUS_OK`] when it returned normally).
    ///
    /// # Safety of calling it
    /// The context must be fully initialized (memory, stack, helper table as `VmCtx` documents), and the
    /// calling thread must have at least [`Self::native_stack_bytes`] of native stack left beyond what the
    /// helpers need; `values` must be as [`EntryFn`] requires for `func`. The pointer is valid while `self`
    /// lives.
    pub fn entry(&self) -> EntryFn {
        self.entry
    }

    /// Bytes of machine code (all functions and the trampoline).
    pub fn code_size(&self) -> usize {
        self.code_size
    }

    /// Upper bound of the native stack compiled code uses (helpers excluded) when the context allows
    /// `max_call_depth` nested IR calls. Constant for modules without recursion.
    pub fn native_stack_bytes(&self, max_call_depth: u64) -> u64 {
        self.stack.native_stack_bytes(max_call_depth)
    }

    /// True if some function the trampoline can reach can (directly or not) call itself.
    pub fn is_recursive(&self) -> bool {
        self.stack.is_recursive()
    }
}

// SAFETY: `entry` points to the trampoline inside the code `_code` owns, which stays mapped and executable
// until `self` is dropped; the bound is the one computed from this code's frames.
unsafe impl NativeCode for CompiledModule {
    fn entry(&self) -> EntryFn {
        self.entry
    }

    fn stack_bound(&self) -> StackBound {
        self.stack
    }

    fn dispatch(&self) -> &Dispatch {
        &self.dispatch
    }
}

impl fmt::Debug for CompiledModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledModule")
            .field("code_size", &self.code_size)
            .field("stack", &self.stack)
            .finish_non_exhaustive()
    }
}

/// Compiles `module` for the host.
pub fn compile(module: &zvm_ir::Module, opts: &JitOptions) -> Result<CompiledModule, CompileError> {
    let isa = host_isa(opts)?;
    let mut owned = Owned(Some(Box::new(JITModule::new(JITBuilder::with_isa(isa, default_libcall_names())))));
    let jit = owned.0.as_mut().expect("just created");
    let defined = define_module(jit.as_mut(), module, ENTRY_SYMBOL, Linkage::Local)?;
    jit.finalize_definitions().map_err(|e| CompileError::Codegen(e.to_string()))?;
    let ptr = jit.get_finalized_function(defined.entry);
    // SAFETY: `defined.entry` was defined with `entry_signature`, i.e. `extern "C" fn(i64, i32, i64) -> i32` in
    // the host's default calling convention, which is the `extern "C"` ABI of `EntryFn`.
    let entry = unsafe { std::mem::transmute::<*const u8, EntryFn>(ptr) };
    Ok(CompiledModule {
        _code: owned,
        entry,
        dispatch: defined.dispatch,
        code_size: defined.code_size,
        stack: defined.stack,
    })
}
