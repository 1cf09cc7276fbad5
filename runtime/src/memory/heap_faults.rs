//! Turns a fault of compiled code in a guarded memory's reservation into a `heap_oob` trap.
//!
//! Compiled code runs inside [`catch`], which records on the thread an *activation*: the reservation of the
//! memory the code runs on, and a jump buffer set by a small C function (`heap_faults.c`: `setjmp` cannot
//! be called from Rust). A `SIGSEGV` or `SIGBUS` handler, installed once per process, looks at the faulting
//! address: if this thread has an activation and the address lies in its reservation, the handler jumps
//! back to the buffer and [`catch`] returns `heap_oob`. Anything else goes to the handler that was there
//! before (Rust's stack-overflow report, an embedder's handler, or the default action: a crash), so a
//! fault that is not an out-of-bounds access of the code being run is never swallowed.
//!
//! Only compiled code lies between the jump buffer and the fault: helpers and the host see memory as a
//! bounds-checked slice and never touch the inaccessible part, and a helper that runs code of another
//! instance does so through [`catch`] again, with an activation of its own (nested activations are a
//! stack). Compiled frames hold nothing to drop, so jumping over them loses nothing; the trap consumes
//! all gas, so the gas counter they held in registers is not needed.

use std::cell::Cell;
use std::ffi::c_void;

/// What the handler needs of the innermost running compiled code on this thread.
struct Activation {
    /// The jump buffer (`jmp_buf` in `zvm_catch_heap_faults`'s frame); null until it is set.
    jump: *mut c_void,
    /// The reservation: a fault at an address in `[start, end)` is an out-of-bounds access.
    start: usize,
    end: usize,
    /// The activation this one is nested in.
    outer: *const Activation,
}

thread_local! {
    /// The innermost activation of this thread (null outside compiled code). Constant-initialized and
    /// without a destructor, so reading it from the signal handler takes no lock and allocates nothing.
    static CURRENT: Cell<*const Activation> = const { Cell::new(std::ptr::null()) };
}

#[cfg(unix)]
unsafe extern "C" {
    fn zvm_catch_heap_faults(
        slot: *mut *mut c_void,
        body: unsafe extern "C" fn(*mut c_void) -> u32,
        data: *mut c_void,
        on_fault: u32,
    ) -> u32;
    fn zvm_resume_after_heap_fault(jump: *mut c_void) -> !;
}

/// Runs `body` (which runs compiled code on the memory reserved at `base`), returning `on_fault` instead of
/// its result if the code faults in the reservation `[base, base + abi::HEAP_RESERVATION)`. The handler is
/// installed before the first reservation is made ([`install`]).
#[cfg(unix)]
pub fn catch<F: FnOnce() -> u32>(base: *const u8, on_fault: u32, body: F) -> u32 {
    // A panic cannot cross the C frame: one in `body` aborts the process (compiled code and its entry do
    // not panic; helpers catch their panics).
    unsafe extern "C" fn trampoline<G: FnOnce() -> u32>(data: *mut c_void) -> u32 {
        // SAFETY: `data` is the `Option<G>` of `catch`, alive for the call and taken exactly once.
        let f = unsafe { (*data.cast::<Option<G>>()).take() };
        f.map_or(0, |f| f())
    }
    let start = base as usize;
    let mut activation = Activation {
        jump: std::ptr::null_mut(),
        start,
        end: start.saturating_add(zvm_compiler::abi::HEAP_RESERVATION as usize),
        outer: CURRENT.get(),
    };
    // The handler and the C side both reach the activation through this one pointer.
    let this: *mut Activation = &raw mut activation;
    let mut body = Some(body);
    CURRENT.set(this);
    // SAFETY: `zvm_catch_heap_faults` sets the activation's `jump` before it calls `trampoline` with `data`,
    // and returns before `activation` and `body` go out of scope. A jump back lands in its frame with only
    // compiled code in between (see the module docs).
    let status =
        unsafe { zvm_catch_heap_faults(&raw mut (*this).jump, trampoline::<F>, (&raw mut body).cast(), on_fault) };
    // SAFETY: `this` points to `activation`, still in scope.
    CURRENT.set(unsafe { (*this).outer });
    status
}

/// Without signals there are no guarded memories to catch faults in (reservations cannot be made).
#[cfg(not(unix))]
pub fn catch(_base: *const u8, _on_fault: u32, body: impl FnOnce() -> u32) -> u32 {
    body()
}

#[cfg(unix)]
pub use handler::install;

#[cfg(unix)]
mod handler {
    use super::{zvm_resume_after_heap_fault, CURRENT};
    use std::cell::UnsafeCell;
    use std::ffi::c_void;
    use std::mem::MaybeUninit;
    use std::sync::OnceLock;

    const SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

    /// The handlers that were installed before ours, one per signal of `SIGNALS`; each written once, by the
    /// `sigaction` call that installs ours, and only read afterwards (by the handler).
    struct Previous(UnsafeCell<[MaybeUninit<libc::sigaction>; 2]>);

    // SAFETY: written only inside `install`'s one-time initialization, before the handler that reads it
    // can run; read-only afterwards.
    unsafe impl Sync for Previous {}

    static PREVIOUS: Previous = Previous(UnsafeCell::new([MaybeUninit::uninit(), MaybeUninit::uninit()]));

    /// Installs the handler for the process, once; an error (which `sigaction` gives only for invalid
    /// arguments) is kept and returned to every later call.
    pub fn install() -> Result<(), String> {
        static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
        INSTALLED
            .get_or_init(|| {
                for (i, &sig) in SIGNALS.iter().enumerate() {
                    // SAFETY: plain `sigaction` calls on a zeroed struct; `PREVIOUS[i]` is written here,
                    // once, before the handler that reads it is installed.
                    unsafe {
                        let mut action: libc::sigaction = std::mem::zeroed();
                        action.sa_sigaction = on_fault as *const () as usize;
                        // NODEFER: the handler jumps out instead of returning, so the signal must not stay
                        // blocked. ONSTACK: run on the thread's alternate stack when it has one.
                        action.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_ONSTACK;
                        libc::sigemptyset(&mut action.sa_mask);
                        let previous = (*PREVIOUS.0.get())[i].as_mut_ptr();
                        if libc::sigaction(sig, &action, previous) != 0 {
                            return Err(format!(
                                "cannot install the heap fault handler: {}",
                                std::io::Error::last_os_error()
                            ));
                        }
                    }
                }
                Ok(())
            })
            .clone()
    }

    extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
        // SAFETY: the kernel passes a valid `siginfo_t` to an `SA_SIGINFO` handler.
        let addr = unsafe { (*info).si_addr() } as usize;
        let activation = CURRENT.get();
        if !activation.is_null() {
            // SAFETY: a non-null `CURRENT` points to the live activation of a `catch` on this thread.
            let a = unsafe { &*activation };
            if !a.jump.is_null() && (a.start..a.end).contains(&addr) {
                // SAFETY: the jump buffer belongs to `zvm_catch_heap_faults`, still running below the
                // faulting compiled code on this thread's stack.
                unsafe { zvm_resume_after_heap_fault(a.jump) }
            }
        }
        // Not ours: hand it to whoever handled it before.
        let Some(i) = SIGNALS.iter().position(|&s| s == sig) else { return };
        // SAFETY: `PREVIOUS[i]` was written before this handler was installed and is never written again.
        let previous = unsafe { (*PREVIOUS.0.get())[i].assume_init_ref() };
        let handler = previous.sa_sigaction;
        if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
            // Put the default back and return: the faulting instruction runs again and takes the
            // default action (a core dump).
            // SAFETY: restores the saved action.
            unsafe { libc::sigaction(sig, previous, std::ptr::null_mut()) };
        } else if previous.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: the previous handler was installed with `SA_SIGINFO`, so it has this signature.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut c_void) =
                unsafe { std::mem::transmute(handler) };
            f(sig, info, context);
        } else {
            // SAFETY: a plain handler takes the signal number only.
            let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
            f(sig);
        }
    }
}
