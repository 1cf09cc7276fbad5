//! The fault handler behind guarded memories (`zvm_runtime::memory::heap_faults`), without compiled code:
//! a read or write in a reservation's inaccessible part, inside `catch`, returns the fault status; nested
//! activations each catch their own; and any other fault — outside `catch`, or at an address outside the
//! running memory's reservation — still kills the process (checked in a child process), so a bug is
//! never turned into a trap.

#![cfg(unix)]

use std::process::Command;
use zvm_ir::instructions::WASM_PAGE;
use zvm_runtime::memory::{heap_faults, LinearMemory};

const PAGE: usize = WASM_PAGE as usize;
const FAULT: u32 = 0xdead;

fn read(p: *const u8) -> u8 {
    // SAFETY: the tests read addresses that are either mapped or inside a reservation under `catch`, or
    // (in the child process) meant to kill it.
    unsafe { p.read_volatile() }
}

#[test]
fn faults_in_the_reservation_return_the_fault_status() {
    let mut m = LinearMemory::reserved(PAGE).expect("reserve");
    m[PAGE - 1] = 42;
    let base = m.as_mut_ptr();
    // In bounds: the body's own result.
    assert_eq!(heap_faults::catch(base, FAULT, || u32::from(read(base.wrapping_add(PAGE - 1)))), 42);
    // Just past the end, far past it (the largest 32-bit address plus offset), and a write.
    assert_eq!(heap_faults::catch(base, FAULT, || u32::from(read(base.wrapping_add(PAGE)))), FAULT);
    assert_eq!(heap_faults::catch(base, FAULT, || u32::from(read(base.wrapping_add((1 << 33) - 2)))), FAULT);
    let write = || {
        // SAFETY: inside the reservation, under `catch`.
        unsafe { base.wrapping_add(2 * PAGE).write_volatile(1) };
        0
    };
    assert_eq!(heap_faults::catch(base, FAULT, write), FAULT);
    // After growth the same address is memory; the faults left nothing behind.
    assert!(m.grow_to(3 * PAGE));
    let base = m.as_mut_ptr();
    assert_eq!(heap_faults::catch(base, FAULT, || u32::from(read(base.wrapping_add(PAGE)))), 0);
    assert_eq!(m[PAGE - 1], 42);
}

#[test]
fn nested_activations_catch_their_own_memory_faults() {
    let outer = LinearMemory::reserved(PAGE).expect("reserve");
    let inner = LinearMemory::reserved(0).expect("reserve");
    let (outer_base, inner_base) = (outer.as_ptr(), inner.as_ptr());
    let status = heap_faults::catch(outer_base, FAULT, || {
        let inner_status = heap_faults::catch(inner_base, 7, || u32::from(read(inner_base)));
        assert_eq!(inner_status, 7, "the inner activation catches a fault in its memory");
        // Back in the outer activation: its faults are caught by it.
        u32::from(read(outer_base.wrapping_add(PAGE + 5)))
    });
    assert_eq!(status, FAULT);
}

/// In a child process (this test binary, asked to run `fault_child`): a fault that is not an
/// out-of-bounds access of the running memory.
#[test]
fn other_faults_still_kill_the_process() {
    for case in ["outside_catch", "other_address", "other_reservation"] {
        let status = Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", "fault_child", "--nocapture", "--test-threads=1"])
            .env("ZVM_FAULT_CHILD", case)
            .output()
            .expect("runs the child");
        assert!(!status.status.success(), "{case}: the child survived a fault that is not ours");
        use std::os::unix::process::ExitStatusExt;
        let signal = status.status.signal();
        assert!(matches!(signal, Some(libc::SIGSEGV | libc::SIGBUS)), "{case}: killed by {signal:?}, not a fault");
    }
}

/// Faults as `other_faults_still_kill_the_process` asks; does nothing when run as a test of its own.
#[test]
fn fault_child() {
    let Ok(case) = std::env::var("ZVM_FAULT_CHILD") else { return };
    let m = LinearMemory::reserved(PAGE).expect("reserve");
    let other = LinearMemory::reserved(PAGE).expect("reserve");
    let base = m.as_ptr();
    match case.as_str() {
        // A guard-region address with no compiled code running.
        "outside_catch" => {
            read(base.wrapping_add(PAGE));
        }
        // Under `catch`, an address outside any reservation (the first page is never mapped).
        "other_address" => {
            heap_faults::catch(base, FAULT, || u32::from(read(std::ptr::without_provenance(64))));
        }
        // Under `catch` for one memory, the guard region of another.
        "other_reservation" => {
            heap_faults::catch(base, FAULT, || u32::from(read(other.as_ptr().wrapping_add(PAGE))));
        }
        _ => return,
    }
    // Reached only if the fault was swallowed.
    std::process::exit(0);
}
