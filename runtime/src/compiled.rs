//! The compiled tier: runs Cranelift-compiled code against a [`Frame`], whether it was compiled in-process
//! or loaded from an object ([`NativeCode`]).
//!
//! Native code reaches the frame through [`HELPERS`]: every helper turns the context pointer back into the
//! frame ([`Frame::from_ctx`]) and calls the same [`Frame`] method the interpreter uses, so the two tiers
//! share every non-trivial operation. No panic ever unwinds into native code: each helper body runs under
//! `catch_unwind`, and a panic becomes a `host_error` trap.
//!
//! # Native stack
//! Compiled functions keep their values on the native stack, one native frame per IR call level. Modules
//! whose native stack bound ([`NativeCode::native_stack_bytes`], constant unless the module can recurse)
//! is small run on the caller's thread; the others (recursive modules: `max_call_depth` frames) run on a
//! dedicated thread whose stack is that bound plus room for the helpers, while the caller waits. Compiled
//! code uses inline stack probes, so even an underestimated bound ends at a guard page (an abort), never in
//! other memory.

use crate::frame::{Exit, Frame};
use crate::memory::heap_faults;
use std::panic::{catch_unwind, AssertUnwindSafe};
use zvm_compiler::abi::{self, Helpers, VmCtx, Word};
use zvm_compiler::cranelift::{EntryFn, NativeCode};
use zvm_ir::{semantics, HaltKind, TrapCode, U256};

/// The helper table native code calls through (`VmCtx::helpers`).
pub static HELPERS: Helpers = Helpers {
    mem_expand,
    mem_copy,
    hash,
    data_size,
    data_load,
    data_copy,
    host_call,
    halt,
    word_binary,
    word_ternary,
    mem_grow,
    mem_fill,
    mem_init,
    data_drop,
    table_get,
    table_set,
    table_size,
    table_grow,
    table_fill,
    table_copy,
    table_init,
    elem_drop,
    call_indirect_target,
    call_foreign,
};

/// Compiled code whose native stack bound is at most this runs on the caller's thread.
const INLINE_STACK_BYTES: u64 = 256 << 10;
/// Native stack reserved for the helpers (hashing, host calls) on a dedicated thread.
const HELPER_STACK_BYTES: u64 = 2 << 20;
/// Largest dedicated stack the runtime creates; a bound above it traps `call_stack_exhausted` up front.
const MAX_STACK_BYTES: u64 = 4 << 30;

const HOST_ERROR: u32 = abi::STATUS_TRAP_BASE + TrapCode::HostError.code();
const HEAP_OUT_OF_BOUNDS: u32 = abi::STATUS_TRAP_BASE + TrapCode::MemoryOutOfBounds.code();

/// Runs compiled code on `frame`; same contract as the interpreter's `run`: `None` means the entry function
/// returned normally, otherwise how execution stopped.
pub fn run(code: &dyn NativeCode, frame: &mut Frame<'_>) -> Option<Exit> {
    // The entry takes no parameters (the backend refuses to compile a module whose entry does), and a null
    // `values` drops its results.
    call(code, frame, code.entry_index(), std::ptr::null_mut())
}

/// Runs function `func` on `frame` with `values` as in the interpreter's `invoke` (params in, results out;
/// `values.len() >= max(params, results)`): parameter `i` is read from `values[i]` and, if the function
/// returns normally, result `i` is written to `values[i]` (`i32`/`f32` in the low 32 bits, zero-extended;
/// `w256` results are not written). None: returned normally. A function the compiled tier cannot invoke (one
/// with a `w256` parameter, or none of that index) and a `values` too short for the function stop with a
/// `host_error` trap before anything runs.
pub fn invoke(code: &dyn NativeCode, frame: &mut Frame<'_>, func: zvm_ir::FuncId, values: &mut [u64]) -> Option<Exit> {
    match code.dispatch().slots(func.0) {
        Some(n) if values.len() >= n as usize => call(code, frame, func.0, values.as_mut_ptr()),
        _ => Some(Exit::Trap(TrapCode::HostError)),
    }
}

/// Calls the trampoline for `func` with `values` (valid for the function's slots, or null for a function
/// without parameters), on a thread with enough native stack.
fn call(code: &dyn NativeCode, frame: &mut Frame<'_>, func: u32, values: *mut u64) -> Option<Exit> {
    // A frame linked into a deeper call (`Frame::link`) has only the rest of the depth left to use.
    let need = code.native_stack_bytes(frame.ctx.max_call_depth.saturating_sub(frame.ctx.call_depth));
    let entry = code.entry();
    let guarded = match frame.guarded_memory() {
        Ok(guarded) => guarded,
        Err(exit) => return Some(exit),
    };
    let ctx: *mut VmCtx = &mut frame.ctx;
    let job = Job { ctx, func, values, guarded };
    let status = if need <= INLINE_STACK_BYTES {
        // SAFETY: `ctx` is the context of a live frame, initialized by `Frame::new` (memory and stack
        // pointers valid for their lengths, `helpers` a `'static` table), and exclusively borrowed for the
        // call; `values` is as `EntryFn` requires for `func` (the callers' contract); the native stack needed
        // is small (see the module docs).
        unsafe { job.run(entry) }
    } else {
        run_on_dedicated_stack(entry, job, need)
    };
    match status {
        abi::STATUS_OK => None,
        s => Some(Exit::from_status(s).unwrap_or(Exit::Trap(TrapCode::HostError))),
    }
}

/// A call of the trampoline, moved to the thread that runs the code.
struct Job {
    ctx: *mut VmCtx,
    func: u32,
    values: *mut u64,
    /// The base of the frame's guarded memory, whose out-of-bounds faults the call turns into traps.
    guarded: Option<*const u8>,
}

// SAFETY: the frame and the values behind the pointers are used by exactly one thread at a time: the
// spawning thread is blocked in `thread::scope` until the runner has finished. (The host is reached from the
// runner thread while its owner waits; hosts that depend on thread identity are not supported on recursive
// modules.)
unsafe impl Send for Job {}

impl Job {
    /// Runs the job.
    ///
    /// # Safety
    /// As calling an [`EntryFn`]: see [`call`].
    unsafe fn run(self, entry: EntryFn) -> u32 {
        // SAFETY: guaranteed by the caller.
        let run = || unsafe { entry(self.ctx, self.func, self.values) };
        match self.guarded {
            Some(base) => heap_faults::catch(base, HEAP_OUT_OF_BOUNDS, run),
            None => run(),
        }
    }
}

fn run_on_dedicated_stack(entry: EntryFn, job: Job, need: u64) -> u32 {
    let size = need.saturating_add(HELPER_STACK_BYTES);
    if size > MAX_STACK_BYTES {
        return abi::STATUS_TRAP_BASE + TrapCode::CallStackExhausted.code();
    }
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new().name("zvm-compiled".into()).stack_size(size as usize).spawn_scoped(
            s,
            move || {
                // SAFETY: as in `call`; the thread's stack holds `need` bytes plus the helpers' reserve.
                unsafe { job.run(entry) }
            },
        );
        match spawned {
            Ok(handle) => handle.join().unwrap_or(HOST_ERROR),
            Err(_) => abi::STATUS_TRAP_BASE + TrapCode::CallStackExhausted.code(),
        }
    })
}

// ---- helpers -------------------------------------------------------------------------------------------

/// Runs a helper body, turning a panic into a `host_error` trap.
fn guarded(f: impl FnOnce() -> u32) -> u32 {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(HOST_ERROR)
}

fn status(r: Result<(), Exit>) -> u32 {
    match r {
        Ok(()) => abi::STATUS_OK,
        Err(exit) => exit.to_status(),
    }
}

/// # Safety
/// `ctx` must be the context of a live frame that native code was started on.
unsafe fn frame<'b>(ctx: *mut VmCtx) -> &'b mut Frame<'b> {
    // SAFETY: the caller passes the context native code received from `run`, which is the first field of a
    // live `Frame` not otherwise borrowed while native code runs.
    unsafe { Frame::from_ctx(ctx) }
}

/// # Safety
/// `p` must point to a readable word.
unsafe fn read_word(p: *const Word) -> U256 {
    // SAFETY: guaranteed by the caller; words are 8-aligned in the native frame's scratch area.
    U256::from_limbs(unsafe { p.read() })
}

/// # Safety
/// `p` must point to a writable word.
unsafe fn write_word(p: *mut Word, w: U256) {
    // SAFETY: guaranteed by the caller.
    unsafe { p.write(*w.as_limbs()) }
}

unsafe extern "C" fn mem_expand(ctx: *mut VmCtx, offset: u64, len: u64) -> u32 {
    guarded(|| {
        // SAFETY: helper contract (`abi::Helpers`): a live context.
        let frame = unsafe { frame(ctx) };
        status(frame.mem_expand_u64(offset, len))
    })
}

unsafe extern "C" fn mem_copy(ctx: *mut VmCtx, dst: u64, src: u64, len: u64) -> u32 {
    guarded(|| {
        // SAFETY: helper contract.
        let frame = unsafe { frame(ctx) };
        status(frame.mem_copy(dst, src, len))
    })
}

unsafe extern "C" fn mem_grow(ctx: *mut VmCtx, pages: u64) -> u64 {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: helper contract.
        let frame = unsafe { frame(ctx) };
        frame.mem_grow(pages)
    }))
    .unwrap_or(u64::MAX)
}

unsafe extern "C" fn mem_fill(ctx: *mut VmCtx, dst: u64, byte: u32, len: u64) -> u32 {
    guarded(|| {
        // SAFETY: helper contract.
        let frame = unsafe { frame(ctx) };
        status(frame.mem_fill(dst, byte as u8, len))
    })
}

unsafe extern "C" fn mem_init(ctx: *mut VmCtx, seg: u32, dst: u64, src: u64, len: u64) -> u32 {
    guarded(|| {
        // SAFETY: helper contract.
        let frame = unsafe { frame(ctx) };
        status(frame.mem_init(seg, dst, src, len))
    })
}

unsafe extern "C" fn data_drop(ctx: *mut VmCtx, seg: u32) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: helper contract.
        let frame = unsafe { frame(ctx) };
        frame.data_drop(seg);
    }));
}

/// The status of a helper that produces a value: writes it to `out` when there is one.
///
/// # Safety
/// `out` must be valid for a write of a `T`.
unsafe fn status_out<T>(r: Result<T, Exit>, out: *mut T) -> u32 {
    match r {
        Ok(v) => {
            // SAFETY: guaranteed by the caller.
            unsafe { out.write(v) };
            abi::STATUS_OK
        }
        Err(exit) => exit.to_status(),
    }
}

unsafe extern "C" fn table_get(ctx: *mut VmCtx, table: u32, index: u64, out: *mut u64) -> u32 {
    guarded(|| {
        // SAFETY: helper contract: a live context and a writable `out`.
        unsafe { status_out(frame(ctx).table_get(table, index), out) }
    })
}

unsafe extern "C" fn table_set(ctx: *mut VmCtx, table: u32, index: u64, value: u64) -> u32 {
    guarded(|| {
        // SAFETY: helper contract.
        let frame = unsafe { frame(ctx) };
        status(frame.table_set(table, index, value))
    })
}

unsafe extern "C" fn table_size(ctx: *mut VmCtx, table: u32, out: *mut u64) -> u32 {
    guarded(|| {
        // SAFETY: helper contract: a live context and a writable `out`.
        unsafe { status_out(frame(ctx).table_size(table), out) }
    })
}

unsafe extern "C" fn table_grow(ctx: *mut VmCtx, table: u32, value: u64, delta: u64, out: *mut u64) -> u32 {
    guarded(|| {
        // SAFETY: helper contract: a live context and a writable `out`.
        unsafe { status_out(frame(ctx).table_grow(table, value, delta), out) }
    })
}

unsafe extern "C" fn table_fill(ctx: *mut VmCtx, table: u32, dst: u64, value: u64, len: u64) -> u32 {
    guarded(|| {
        // SAFETY: helper contract.
        let frame = unsafe { frame(ctx) };
        status(frame.table_fill(table, dst, value, len))
    })
}

unsafe extern "C" fn table_copy(ctx: *mut VmCtx, dst_table: u32, src_table: u32, d: u64, s: u64, n: u64) -> u32 {
    guarded(|| {
        // SAFETY: helper contract.
        let frame = unsafe { frame(ctx) };
        status(frame.table_copy(dst_table, src_table, d, s, n))
    })
}

unsafe extern "C" fn table_init(ctx: *mut VmCtx, table: u32, seg: u32, d: u64, s: u64, n: u64) -> u32 {
    guarded(|| {
        // SAFETY: helper contract.
        let frame = unsafe { frame(ctx) };
        status(frame.table_init(table, seg, d, s, n))
    })
}

unsafe extern "C" fn elem_drop(ctx: *mut VmCtx, seg: u32) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: helper contract.
        let frame = unsafe { frame(ctx) };
        frame.elem_drop(seg);
    }));
}

unsafe extern "C" fn call_indirect_target(ctx: *mut VmCtx, ty: u32, table: u32, index: u64, out_func: *mut u32) -> u32 {
    guarded(|| {
        // SAFETY: helper contract: a live context and a writable `out_func`.
        unsafe { status_out(frame(ctx).call_indirect_target(ty, table, index), out_func) }
    })
}

unsafe extern "C" fn call_foreign(ctx: *mut VmCtx, ty: u32, values: *mut u64) -> u32 {
    guarded(|| {
        // SAFETY: helper contract.
        let frame = unsafe { frame(ctx) };
        let Some(n) = frame.call_slots(ty) else { return HOST_ERROR };
        // SAFETY: helper contract: `values` holds `max(params, results)` slots of type `ty`.
        let values = unsafe { std::slice::from_raw_parts_mut(values, n) };
        status(frame.call_foreign(ty, values))
    })
}

unsafe extern "C" fn hash(ctx: *mut VmCtx, alg: u32, offset: u64, len: u64, out: *mut Word) -> u32 {
    guarded(|| {
        // SAFETY: helper contract.
        let frame = unsafe { frame(ctx) };
        let Some(alg) = abi::hash_alg_from_code(alg) else { return HOST_ERROR };
        match frame.hash(alg, offset, len) {
            Ok(w) => {
                // SAFETY: helper contract.
                unsafe { write_word(out, w) };
                abi::STATUS_OK
            }
            Err(exit) => exit.to_status(),
        }
    })
}

unsafe extern "C" fn data_size(ctx: *mut VmCtx, src: u32) -> u64 {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: helper contract.
        let frame = unsafe { frame(ctx) };
        abi::data_src_from_code(src).map_or(0, |src| frame.data(src).len() as u64)
    }))
    .unwrap_or(0)
}

unsafe extern "C" fn data_load(ctx: *mut VmCtx, src: u32, offset: *const Word, out: *mut Word) -> u32 {
    guarded(|| {
        // SAFETY: helper contract.
        let (frame, offset) = unsafe { (frame(ctx), read_word(offset)) };
        let Some(src) = abi::data_src_from_code(src) else { return HOST_ERROR };
        let w = frame.data_load(src, offset);
        // SAFETY: helper contract.
        unsafe { write_word(out, w) };
        abi::STATUS_OK
    })
}

unsafe extern "C" fn data_copy(ctx: *mut VmCtx, src: u32, dst: u64, offset: *const Word, len: u64) -> u32 {
    guarded(|| {
        // SAFETY: helper contract.
        let (frame, offset) = unsafe { (frame(ctx), read_word(offset)) };
        let Some(src) = abi::data_src_from_code(src) else { return HOST_ERROR };
        status(frame.data_copy(src, dst, offset, len))
    })
}

/// Most arguments a host function takes (`log4`: offset, length and four topics).
const MAX_HOST_ARGS: usize = 8;

unsafe extern "C" fn host_call(ctx: *mut VmCtx, func: u32, args: *const Word, nargs: u32, out: *mut Word) -> u32 {
    guarded(|| {
        let Some(func) = abi::host_fn_from_code(func) else { return HOST_ERROR };
        let n = nargs as usize;
        if n > MAX_HOST_ARGS || n != func.signature().0.len() {
            return HOST_ERROR;
        }
        let mut words = [U256::ZERO; MAX_HOST_ARGS];
        for (i, w) in words.iter_mut().enumerate().take(n) {
            // SAFETY: helper contract: `args` holds `nargs` words.
            *w = unsafe { read_word(args.add(i)) };
        }
        // SAFETY: helper contract.
        let frame = unsafe { frame(ctx) };
        match frame.host_call(func, &words[..n]) {
            Ok(Some(w)) => {
                // SAFETY: helper contract.
                unsafe { write_word(out, w) };
                abi::STATUS_OK
            }
            Ok(None) => abi::STATUS_OK,
            Err(exit) => exit.to_status(),
        }
    })
}

unsafe extern "C" fn halt(ctx: *mut VmCtx, kind: u32, offset: u64, len: u64) -> u32 {
    guarded(|| {
        let kind = match kind {
            0 => HaltKind::Return,
            1 => HaltKind::Revert,
            _ => return HOST_ERROR,
        };
        // SAFETY: helper contract.
        let frame = unsafe { frame(ctx) };
        frame.halt(kind, offset, len).to_status()
    })
}

unsafe extern "C" fn word_binary(op: u32, a: *const Word, b: *const Word, out: *mut Word) {
    let r = catch_unwind(|| {
        // SAFETY: helper contract: valid word pointers.
        let (a, b) = unsafe { (read_word(a), read_word(b)) };
        abi::binop_from_code(op).map_or(U256::ZERO, |op| semantics::word_binary(op, a, b))
    });
    // SAFETY: helper contract.
    unsafe { write_word(out, r.unwrap_or(U256::ZERO)) };
}

unsafe extern "C" fn word_ternary(op: u32, a: *const Word, b: *const Word, c: *const Word, out: *mut Word) {
    let r = catch_unwind(|| {
        // SAFETY: helper contract: valid word pointers.
        let (a, b, c) = unsafe { (read_word(a), read_word(b), read_word(c)) };
        abi::ternop_from_code(op).map_or(U256::ZERO, |op| semantics::word_ternary(op, a, b, c))
    });
    // SAFETY: helper contract.
    unsafe { write_word(out, r.unwrap_or(U256::ZERO)) };
}
