//! Generated WebAssembly modules on zvm's interpreter, zvm's JIT and wasmi: every instantiation and every
//! call of every exported function must give the same results or trap, the tiers the same gas, and the
//! same memory and globals (see `zvm_peers::wasm` for what is compared and what is skipped, and why).
//!
//! Each module comes from a seed (`seed_bytes(seed, len)` fed to wasm-smith), so a failure names the seed
//! that reproduces it:
//!
//! ```text
//! ZVM_WASM_SEED=<seed> [ZVM_WASM_LEN=<len>] cargo test -p zvm-peers --test wasm_differential one_seed -- --nocapture
//! ```
//!
//! The default test runs a few hundred modules and checks that the comparison stays meaningful (most
//! modules run, most calls are compared with wasmi); the ignored heavy test, run by CI in release mode,
//! runs thousands of larger ones. The counts (modules, calls, skips by reason, endings) are printed.

use std::ops::Range;
use zvm_peers::wasm::wasmi_peer::{engine, MAX_RECURSION_DEPTH};
use zvm_peers::wasm::{check_generated, check_with, seed_bytes, Generated, Settings, Tally};

/// Runs the modules of `seeds`, each from `len` bytes; panics if any differs, with the first difference in
/// full and one line for each other one (all with their seeds).
fn agree_on_seeds(seeds: Range<u64>, len: usize) -> Tally {
    let engine = engine();
    let settings = Settings::default();
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    // Names each seed before running it: to find the module when a run crashes rather than fails.
    let verbose = std::env::var_os("ZVM_WASM_VERBOSE").is_some();
    for seed in seeds {
        if verbose {
            eprintln!("seed {seed}");
        }
        let data = seed_bytes(seed, len);
        match check_with(&data, &settings, &engine) {
            Ok(outcome) => {
                if verbose {
                    for skip in &outcome.nan_skips {
                        eprintln!("  skipped (NaN bits): {skip}");
                    }
                }
                tally.add(&outcome)
            }
            Err(failure) => {
                tally.modules += 1;
                let first_line = failure.message.lines().next().unwrap_or_default().to_string();
                if failures.is_empty() {
                    let file = std::env::temp_dir().join(format!("zvm-wasm-seed-{seed}.wasm"));
                    let saved = match std::fs::write(&file, &failure.bytes) {
                        Ok(()) => format!("module saved to {}", file.display()),
                        Err(e) => format!("module not saved: {e}"),
                    };
                    eprintln!("seed {seed} (len {len}): {failure}\n{saved}\n");
                }
                failures.push(format!("seed {seed}: {first_line}"));
            }
        }
    }
    println!("{tally}");
    assert!(
        failures.is_empty(),
        "{} of {} modules differ (the first in full above); reproduce one with\n  ZVM_WASM_SEED=<seed> \
         ZVM_WASM_LEN={len} cargo test -p zvm-peers --test wasm_differential one_seed -- --nocapture\n{}",
        failures.len(),
        tally.modules,
        failures.join("\n")
    );
    tally
}

#[test]
fn generated_modules_agree_with_wasmi() {
    let tally = agree_on_seeds(0..500, 2048);
    assert_eq!(tally.modules, 500);
    // zvm runs all of WebAssembly 2.0 but SIMD, tables included.
    assert_eq!(tally.skipped_with("module: unsupported"), 0, "zvm refuses modules:\n{tally}");
    assert!(tally.modules_run >= 490, "too few modules ran on zvm:\n{tally}");
    assert!(tally.zvm_calls >= 1000, "too few invocations:\n{tally}");
    assert!(tally.wasmi_compared * 2 >= tally.zvm_calls, "too few invocations compared with wasmi:\n{tally}");
    assert!(tally.skipped_with("module: generator") <= 2, "the generator keeps failing:\n{tally}");
    for ending in ["returned", "trap Unreachable", "trap MemoryOutOfBounds", "trap TableOutOfBounds"] {
        assert!(tally.endings.get(ending).copied().unwrap_or(0) > 0, "no call ended in {ending}:\n{tally}");
    }
}

#[test]
#[ignore = "heavy: thousands of generated modules on both tiers and wasmi (CI runs it in release mode)"]
fn many_generated_modules_agree_with_wasmi() {
    let tally = agree_on_seeds(1_000_000..1_005_000, 4096);
    assert!(tally.wasmi_compared * 2 >= tally.zvm_calls, "too few invocations compared with wasmi:\n{tally}");
}

/// Reruns one seed, for a failure's reproduction: `ZVM_WASM_SEED` (and `ZVM_WASM_LEN`, 2048 by default).
#[test]
fn one_seed() {
    let Some(seed) = std::env::var("ZVM_WASM_SEED").ok().and_then(|s| s.parse().ok()) else { return };
    let len = std::env::var("ZVM_WASM_LEN").ok().and_then(|s| s.parse().ok()).unwrap_or(2048);
    let data = seed_bytes(seed, len);
    let g = zvm_peers::wasm::generate(&data).expect("the generator fails on this seed");
    println!("{}", zvm_peers::wasm::dump(&g.bytes));
    println!(
        "canonical NaNs: {}, tables allowed: {}, termination fuel: {:?}, argument seed: {:#x}",
        g.canonical_nans, g.tables, g.termination_fuel, g.arg_seed
    );
    agree_on_seeds(seed..seed + 1, len);
}

/// A hand-written module through the same comparison.
fn check_wat(wat: &str) -> Tally {
    let bytes = wat::parse_str(wat).expect("valid WAT");
    let g = Generated { bytes, canonical_nans: true, tables: false, termination_fuel: None, arg_seed: 7 };
    let settings = Settings { rounds: 1, ..Settings::default() };
    let mut tally = Tally::default();
    match check_generated(&g, &settings, &engine()) {
        Ok(o) => tally.add(&o),
        Err(f) => panic!("{f}"),
    }
    tally
}

/// Every trap zvm has for plain modules maps to wasmi's, and each export is compared (not skipped).
#[test]
fn traps_map_to_wasmi() {
    let tally = check_wat(
        r#"(module
            (memory (export "mem") 1 2)
            (global (export "g") (mut i32) (i32.const 5))
            (func (export "unreachable") unreachable)
            (func (export "div0") (result i32) (i32.div_s (i32.const 1) (i32.const 0)))
            (func (export "overflow") (result i32) (i32.div_s (i32.const 0x80000000) (i32.const -1)))
            (func (export "nan_to_int") (result i32) (i32.trunc_f32_s (f32.const nan)))
            (func (export "big_to_int") (result i32) (i32.trunc_f64_u (f64.const 1e30)))
            (func (export "oob") (result i32) (global.set 0 (i32.const 9)) (i32.load (i32.const 65535)))
            (func (export "store") (i32.store (i32.const 8) (i32.const 0x12345678)))
            (func (export "grow") (result i32) (memory.grow (i32.const 1)))
            (func (export "grow_too_far") (result i32) (memory.grow (i32.const 2)))
            (func $r (export "recurse") (call $r))
            (func (export "float") (result f32 f64) (f32.div (f32.const 0) (f32.const 0)) (f64.const -0))
        )"#,
    );
    assert_eq!(tally.modules_run, 1);
    // The instantiation and 11 calls, none skipped.
    assert_eq!(tally.wasmi_compared, 12, "{tally}");
    assert_eq!(tally.skipped_with("call:"), 0, "{tally}");
    for trap in ["Unreachable", "IntegerDivByZero", "IntegerOverflow", "BadConversion", "MemoryOutOfBounds"] {
        assert!(tally.endings.contains_key(&format!("trap {trap}")), "no {trap}: {tally}");
    }
    assert_eq!(tally.endings.get("trap CallStackExhausted"), Some(&1), "{tally}");
}

/// The table traps map too: `call_indirect` past the table, to a null element, with the wrong type, and
/// `table.get` / `table.set` / `table.fill` out of bounds.
#[test]
fn table_traps_map_to_wasmi() {
    let tally = check_wat(
        r#"(module
            (type $v (func))
            (type $i (func (result i32)))
            (table $t 4 8 funcref)
            (table $e (export "externs") 2 externref)
            (elem (table $t) (i32.const 0) func $one $one)
            (func $one (result i32) (i32.const 1))
            (func (export "call_ok") (result i32) (call_indirect $t (type $i) (i32.const 1)))
            (func (export "call_past_end") (result i32) (call_indirect $t (type $i) (i32.const 4)))
            (func (export "call_null") (result i32) (call_indirect $t (type $i) (i32.const 2)))
            (func (export "call_wrong_type") (call_indirect $t (type $v) (i32.const 0)))
            (func (export "get_oob") (result funcref) (table.get $t (i32.const 9)))
            (func (export "set_oob") (table.set $e (i32.const 2) (ref.null extern)))
            (func (export "fill_oob") (table.fill $t (i32.const 3) (ref.null func) (i32.const 2)))
            (func (export "grow") (result i32) (table.grow $t (ref.null func) (i32.const 4)))
            (func (export "grow_too_far") (result i32) (table.grow $t (ref.null func) (i32.const 1)))
            (func (export "size") (result i32) (table.size $t))
            (func (export "get_func") (result funcref) (table.get $t (i32.const 0)))
        )"#,
    );
    assert_eq!(tally.modules_run, 1);
    assert_eq!(tally.wasmi_compared, 12, "{tally}");
    assert_eq!(tally.skipped_with("call:"), 0, "{tally}");
    assert_eq!(tally.endings.get("trap TableOutOfBounds"), Some(&4), "{tally}");
    for trap in ["IndirectCallToNull", "BadSignature"] {
        assert_eq!(tally.endings.get(&format!("trap {trap}")), Some(&1), "no {trap}: {tally}");
    }
}

/// Active segments past the end of their memory or table trap the instantiation on both.
#[test]
fn instantiation_traps_map_to_wasmi() {
    for (wat, trap) in [
        (r#"(module (memory 1) (data (i32.const 65535) "ab"))"#, "MemoryOutOfBounds"),
        (r#"(module (table 1 funcref) (func $f) (elem (i32.const 1) func $f $f))"#, "TableOutOfBounds"),
        (r#"(module (func $s unreachable) (start $s))"#, "Unreachable"),
    ] {
        let tally = check_wat(wat);
        assert_eq!(tally.wasmi_compared, 1, "{wat}: {tally}");
        assert_eq!(tally.endings.get(&format!("instantiation trap {trap}")), Some(&1), "{wat}: {tally}");
    }
}

/// zvm and wasmi run out of call stack at the same depth ([`MAX_RECURSION_DEPTH`]): `down(n)` recurses
/// `n` deep and returns `n`; both must return at the deepest `n` zvm allows and both must trap one deeper.
#[test]
fn call_depth_matches_zvm() {
    let wat = |n: usize| {
        format!(
            r#"(module
                (func $down (param i32) (result i32)
                    (if (result i32) (i32.eqz (local.get 0))
                        (then (i32.const 0))
                        (else (i32.add (i32.const 1) (call $down (i32.sub (local.get 0) (i32.const 1)))))))
                (func (export "deep") (result i32) (call $down (i32.const {n}))))"#
        )
    };
    // `deep` is one frame, `down(n)` n + 1 more: depth n + 1 below the invoked function.
    let deepest = MAX_RECURSION_DEPTH - 2;
    for (n, trap) in [(deepest, false), (deepest + 1, true)] {
        let tally = check_wat(&wat(n));
        assert_eq!(tally.wasmi_compared, 2, "n = {n}: {tally}");
        assert_eq!(tally.endings.contains_key("trap CallStackExhausted"), trap, "n = {n}: {tally}");
    }
}
