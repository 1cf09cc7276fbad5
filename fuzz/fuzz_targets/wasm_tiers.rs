//! Differential fuzzing of WebAssembly: zvm's interpreter, zvm's JIT and wasmi on one generated module.
//!
//! The input is read by wasm-smith (through `zvm_peers::wasm::generate`) as a module of WebAssembly 2.0
//! without SIMD, imports or more than one small memory, with NaN canonicalization in most modules and
//! wasm-smith's termination fuel in some; the arguments of the calls come from the input too. The module is
//! instantiated on every engine and each exported function is called in turn on the same instances:
//! zvm's tiers must agree exactly (results, traps, gas used, memory, globals, dropped segments) and with
//! wasmi (results with any two NaNs equal, traps, exported globals, exported memory), except where
//! `zvm_peers::wasm` documents a legitimate difference (gas against fuel, call-stack exhaustion on one side,
//! NaN bits the specification leaves open, modules zvm reports unsupported).
//!
//! Two things keep it fast enough to be useful:
//! - wasm-smith needs hundreds of bytes for a module with a few functions, while libFuzzer starts from
//!   inputs of a few bytes and lengthens them slowly; so a short input is followed by bytes derived from it
//!   (a SplitMix64 stream seeded with its hash) up to `MIN_LEN`: short inputs give random full-size
//!   modules, long ones are fuzzed byte for byte.
//! - One run touches a great deal of code (wasm-smith, the frontend, Cranelift, the interpreter, wasmi),
//!   and libFuzzer's default "entropic" schedule spends time on every feature a run hits: about a second a
//!   run here, against a few dozen runs a second without it. So the target defaults to `-entropic=0`
//!   (`LLVMFuzzerInitialize` puts it before the command line's flags, which still override it). That is
//!   why the entry points are written out instead of using `fuzz_target!`, which does not let the
//!   initialization see the flags.

#![no_main]

use std::ffi::{c_char, c_int, CStr};
use zvm_peers::wasm::{check_with, seed_bytes, wasmi_peer, Settings};

/// Less gas than the tests give, so that endless loops cost little fuzzing time.
const GAS: u64 = 200_000;

/// Inputs shorter than this are lengthened (see the module docs).
const MIN_LEN: usize = 1024;

/// libFuzzer flags this target runs with unless the command line says otherwise.
const DEFAULT_FLAGS: [&CStr; 1] = [c"-entropic=0"];

/// FNV-1a, to seed the lengthening of short inputs.
fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn run(data: &[u8]) {
    let mut long;
    let data = if data.len() < MIN_LEN {
        long = data.to_vec();
        long.extend(seed_bytes(hash(data), MIN_LEN - data.len()));
        &long[..]
    } else {
        data
    };
    // A wasmi engine per module: an engine keeps the code of every module it compiled.
    let engine = wasmi_peer::engine();
    let settings = Settings { gas: GAS, ..Settings::default() };
    if let Err(failure) = check_with(data, &settings, &engine) {
        panic!("{failure}");
    }
}

/// libFuzzer calls this once, before it reads its flags: sets up libfuzzer-sys (as `fuzz_target!` does)
/// and puts [`DEFAULT_FLAGS`] right after the program name.
///
/// # Safety
/// `argc` and `argv` are libFuzzer's: the argument count and a NULL-terminated array of C strings.
#[no_mangle]
pub unsafe extern "C" fn LLVMFuzzerInitialize(argc: *mut c_int, argv: *mut *mut *mut c_char) -> c_int {
    libfuzzer_sys::initialize(argc as *const isize, argv as *const *const *const u8);
    // SAFETY: libFuzzer passes its own argc and argv, valid for the whole run; the new array is leaked so
    // that it stays valid as well.
    unsafe {
        let old = std::slice::from_raw_parts(*argv, usize::try_from(*argc).unwrap_or(0));
        let Some((&program, flags)) = old.split_first() else { return 0 };
        let mut new = Vec::with_capacity(old.len() + DEFAULT_FLAGS.len() + 1);
        new.push(program);
        new.extend(DEFAULT_FLAGS.iter().map(|f| f.as_ptr().cast_mut()));
        new.extend_from_slice(flags);
        *argc = c_int::try_from(new.len()).unwrap_or(c_int::MAX);
        new.push(std::ptr::null_mut());
        *argv = Box::leak(new.into_boxed_slice()).as_mut_ptr();
    }
    0
}

/// libfuzzer-sys's entry for one input (what `fuzz_target!` would define; libfuzzer-sys declares it with a
/// slice, both sides are Rust).
#[allow(improper_ctypes_definitions)]
#[no_mangle]
pub extern "C" fn rust_fuzzer_test_input(bytes: &[u8]) -> i32 {
    // `cargo fuzz fmt` asks for the input's debug form this way.
    if let Some(path) = libfuzzer_sys::rust_libfuzzer_debug_path() {
        std::fs::write(path, format!("{bytes:?}\n")).expect("cannot write RUST_LIBFUZZER_DEBUG_PATH");
        return 0;
    }
    run(bytes);
    0
}
