//! Builds the setjmp/longjmp pair that turns a compiled WebAssembly module's out-of-bounds access (a fault in
//! its memory's guard region) into a trap: see `src/memory/heap_faults.rs`.

fn main() {
    println!("cargo:rerun-if-changed=src/memory/heap_faults.c");
    if std::env::var("CARGO_CFG_UNIX").is_ok() {
        cc::Build::new().file("src/memory/heap_faults.c").compile("zvm_heap_faults");
    }
}
