/* Catching out-of-bounds accesses of compiled WebAssembly code (see heap_faults.rs).
 *
 * setjmp cannot be called from Rust (a function that returns twice is outside its model), so the one
 * function that sets the jump point lives here: it records the jump buffer where the signal handler will
 * look for it, runs the compiled code, and returns `on_fault` when the handler jumps back. Only compiled code
 * lies between the two (the fault is in it), which has nothing to unwind. */
#include <setjmp.h>
#include <stdint.h>

uint32_t zvm_catch_heap_faults(void **slot, uint32_t (*body)(void *), void *data, uint32_t on_fault) {
    jmp_buf buf;
    if (setjmp(buf) != 0) {
        return on_fault;
    }
    *slot = &buf;
    return body(data);
}

void zvm_resume_after_heap_fault(void *buf) {
    longjmp(*(jmp_buf *)buf, 1);
}
