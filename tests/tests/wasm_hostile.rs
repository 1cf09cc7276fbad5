//! Hostile WebAssembly: modules built to exhaust memory, tables, the call stack, compile time or gas, and
//! malformed binaries. Each must end in a clean error or trap, identical on both tiers, never a crash.

use std::sync::Arc;
use zvm_compiler::frontend::wasm::{NoImports, WasmConfig, WasmError};
use zvm_ir::TrapCode;
use zvm_runtime::executor::Tier;
use zvm_runtime::wasm::{InvokeError, WasmLoadError, WasmProgram};
use zvm_runtime::Limits;

const GAS: u64 = 1 << 40;

fn load(src: &str, tier: Tier) -> Result<Arc<WasmProgram>, WasmLoadError> {
    let bytes = wat::parse_str(src).expect("test modules are valid text");
    WasmProgram::load(&bytes, tier, &WasmConfig::default(), &NoImports, &Limits::default()).map(Arc::new)
}

/// Instantiates `src` and invokes `name` with `args` on both tiers; both must give the same outcome.
fn outcome(src: &str, name: &str, args: &[u64], gas: u64) -> Result<Vec<u64>, InvokeError> {
    let mut outcomes = Vec::new();
    for tier in [Tier::Interp, Tier::Jit] {
        let program = load(src, tier).unwrap_or_else(|e| panic!("{tier}: {e}"));
        let result = program
            .instantiate(&Limits::default(), gas)
            .and_then(|mut i| i.invoke(name, args, gas).map(|r| (r, i.gas_used())));
        outcomes.push(result);
    }
    assert_eq!(outcomes[0], outcomes[1], "the tiers disagree");
    outcomes.pop().unwrap().map(|(r, _)| r)
}

#[test]
fn memories_and_tables_beyond_the_limits_fail_to_instantiate() {
    for src in [
        "(module (memory 65536))",
        "(module (memory 1025))",
        "(module (table 2000000 funcref))",
        "(module (table 1048576 funcref) (table 1 externref))",
    ] {
        for tier in [Tier::Interp, Tier::Jit] {
            let err = load(src, tier).unwrap().instantiate(&Limits::default(), GAS).err();
            assert_eq!(err, Some(InvokeError::Trap(TrapCode::MemoryLimit)), "{src} on {tier}");
        }
    }
}

#[test]
fn growth_past_the_limits_fails_softly() {
    let src = r#"(module (memory 1) (table 1 funcref)
        (func (export "mem") (param i32) (result i32) (memory.grow (local.get 0)))
        (func (export "table") (param i32) (result i32) (table.grow (ref.null func) (local.get 0))))"#;
    let minus_one = u64::from(u32::MAX);
    assert_eq!(outcome(src, "mem", &[1023], GAS), Ok(vec![1]));
    assert_eq!(outcome(src, "mem", &[1024], GAS), Ok(vec![minus_one]), "64 MiB limit");
    // Growth is charged per page asked for (1024 each), before it is tried: 2^32 - 1 pages cost more gas
    // than the call has.
    assert_eq!(outcome(src, "mem", &[0xffff_ffff], GAS), Err(InvokeError::OutOfGas));
    assert_eq!(outcome(src, "mem", &[0x10_0000], GAS), Ok(vec![minus_one]));
    assert_eq!(outcome(src, "table", &[1 << 20], GAS), Ok(vec![minus_one]), "2^20 elements in all");
    assert_eq!(outcome(src, "table", &[(1 << 20) - 1], GAS), Ok(vec![1]));
}

#[test]
fn unbounded_recursion_exhausts_the_call_stack_identically() {
    let direct = r#"(module (func $f (export "f") (param i32) (result i32)
        (i32.add (call $f (i32.add (local.get 0) (i32.const 1))) (i32.const 1))))"#;
    assert_eq!(outcome(direct, "f", &[0], GAS), Err(InvokeError::Trap(TrapCode::CallStackExhausted)));
    let indirect = r#"(module (type $t (func)) (table 1 funcref) (elem (i32.const 0) $f)
        (func $f (export "f") (call_indirect (type $t) (i32.const 0))))"#;
    assert_eq!(outcome(indirect, "f", &[], GAS), Err(InvokeError::Trap(TrapCode::CallStackExhausted)));
}

#[test]
fn infinite_loops_run_out_of_gas_identically() {
    let src = r#"(module (func (export "spin") (loop $l (br $l))))"#;
    assert_eq!(outcome(src, "spin", &[], 1_000_000), Err(InvokeError::OutOfGas));
}

#[test]
fn functions_whose_locals_would_make_the_ir_quadratic_are_refused() {
    // 40,000 written locals and 400 branches: 16 million block arguments.
    let mut src = String::from("(module (func (export \"f\") (local");
    src.push_str(&" i64".repeat(40_000));
    src.push(')');
    for i in 0..40_000 {
        src.push_str(&format!(" (local.set {i} (i64.const 1))"));
    }
    src.push_str(&" (block (br 0))".repeat(200));
    src.push_str("))");
    match load(&src, Tier::Interp) {
        Err(WasmLoadError::Frontend(WasmError::Limit(m))) => assert!(m.contains("block arguments"), "{m}"),
        other => panic!("expected a limit error, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_giant_function_compiles_and_runs_on_both_tiers() {
    let body = "(local.set 0 (i32.add (local.get 0) (i32.const 3)))".repeat(50_000);
    let src = format!("(module (func (export \"f\") (result i32) (local i32) {body} (local.get 0)))");
    assert_eq!(outcome(&src, "f", &[], GAS), Ok(vec![150_000]));
}

#[test]
fn every_truncation_and_corruption_of_a_module_is_a_clean_error() {
    let bytes = wat::parse_str(
        r#"(module (memory 1) (global (mut i32) (i32.const 7)) (table 2 funcref) (elem (i32.const 0) $f)
            (func $f (export "f") (param i32) (result i32) (i32.add (local.get 0) (global.get 0)))
            (data (i32.const 8) "hello"))"#,
    )
    .unwrap();
    let limits = Limits::default();
    let config = WasmConfig::default();
    // A prefix ending at a section boundary is a valid (smaller) module; any other is malformed.
    let mut valid = 0;
    for len in 0..bytes.len() {
        match WasmProgram::load(&bytes[..len], Tier::Interp, &config, &NoImports, &limits) {
            Ok(_) => valid += 1,
            Err(WasmLoadError::Frontend(WasmError::Invalid(_))) => {}
            Err(e) => panic!("prefix of {len} bytes: {e}"),
        }
    }
    assert!(valid < 8, "{valid} prefixes loaded");
    // Every single-byte corruption either is refused or still loads, instantiates and runs.
    for i in 8..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] ^= flip;
            if let Ok(p) = WasmProgram::load(&b, Tier::Interp, &config, &NoImports, &limits) {
                if let Ok(mut inst) = Arc::new(p).instantiate(&limits, GAS) {
                    let _ = inst.invoke("f", &[1], GAS);
                }
            }
        }
    }
}

/// What an invocation gave: its results, or how it stopped.
type Outcome = Result<Vec<u64>, InvokeError>;

/// Runs `calls` in order on one instance of `src` on every tier; all tiers must agree on every result and
/// on the gas each call used. Returns the outcomes.
fn session(src: &str, calls: &[(&str, &[u64])]) -> Vec<Outcome> {
    let mut per_tier = Vec::new();
    for tier in [Tier::Interp, Tier::Jit, Tier::Aot] {
        let program = load(src, tier).unwrap_or_else(|e| panic!("{tier}: {e}"));
        let mut instance = program.instantiate(&Limits::default(), GAS).expect("instantiates");
        let outcomes: Vec<_> = calls
            .iter()
            .map(|(name, args)| {
                let r = instance.invoke(name, args, GAS);
                (r, instance.gas_used())
            })
            .collect();
        per_tier.push(outcomes);
    }
    for (i, call) in calls.iter().enumerate() {
        assert_eq!(per_tier[0][i], per_tier[1][i], "interp and jit disagree on {call:?}");
        assert_eq!(per_tier[0][i], per_tier[2][i], "interp and aot disagree on {call:?}");
        if per_tier[0][i].0.is_err() {
            assert_eq!(per_tier[0][i].1, GAS, "a trap consumes all gas: {call:?}");
        }
    }
    per_tier.swap_remove(0).into_iter().map(|(r, _)| r).collect()
}

/// Compiled code accesses WebAssembly memory without bounds checks: an access past the end faults in the
/// memory's guard region and becomes `heap_oob`. Every width, at the last byte it fits and the first it
/// does not, with the largest offsets and addresses a 32-bit memory can form, for an access whose value is
/// unused, after growth, and deep in a recursion (which compiled code runs on a thread of its own). The
/// instance stays usable after each trap.
#[test]
fn out_of_bounds_accesses_trap_at_the_exact_byte_on_every_tier() {
    let src = r#"(module (memory 1 3)
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
      (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
      (func (export "load16") (param i32) (result i32) (i32.load16_s (local.get 0)))
      (func (export "load32") (param i32) (result i32) (i32.load (local.get 0)))
      (func (export "load64") (param i32) (result i64) (i64.load (local.get 0)))
      (func (export "loadf64") (param i32) (result f64) (f64.load offset=8 (local.get 0)))
      (func (export "store32") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
      (func (export "store64_far") (param i32) (i64.store offset=0xffffffff (local.get 0) (i64.const 1)))
      (func (export "load8_far") (param i32) (result i32) (i32.load8_u offset=0xfffffff0 (local.get 0)))
      (func (export "unused") (param i32) (drop (i32.load16_u (local.get 0))))
      (func $deep (export "deep") (param $n i32) (param $addr i32) (result i32)
        (if (result i32) (local.get $n)
          (then (i32.add (i32.const 1) (call $deep (i32.sub (local.get $n) (i32.const 1)) (local.get $addr))))
          (else (i32.load (local.get $addr))))))"#;
    let oob = || Err(InvokeError::Trap(TrapCode::MemoryOutOfBounds));
    let page = 65536u64;
    let cases: &[(&str, &[u64], Outcome)] = &[
        ("store32", &[page - 4, 0x0102_0304], Ok(vec![])),
        ("load8", &[page - 1], Ok(vec![0x01])),
        ("load8", &[page], oob()),
        ("load16", &[page - 2], Ok(vec![0x0102])),
        ("load16", &[page - 1], oob()),
        ("load32", &[page - 4], Ok(vec![0x0102_0304])),
        ("load32", &[page - 3], oob()),
        ("load64", &[page - 8], Ok(vec![0x0102_0304_0000_0000])),
        ("load64", &[page - 7], oob()),
        ("load64", &[u64::from(u32::MAX)], oob()),
        ("loadf64", &[page - 16], Ok(vec![0x0102_0304_0000_0000])),
        ("loadf64", &[page - 15], oob()),
        ("store32", &[page - 3, 5], oob()),
        ("store64_far", &[0], oob()),
        ("store64_far", &[u64::from(u32::MAX)], oob()),
        ("load8_far", &[0x10], oob()),
        ("load8_far", &[u64::from(u32::MAX)], oob()),
        ("unused", &[page - 2], Ok(vec![])),
        ("unused", &[page - 1], oob()),
        // The failed store wrote nothing; the instance goes on.
        ("load32", &[page - 4], Ok(vec![0x0102_0304])),
        ("deep", &[1000, page - 4], Ok(vec![1000 + 0x0102_0304])),
        ("deep", &[1000, page], oob()),
        ("grow", &[2], Ok(vec![1])),
        ("load8", &[page], Ok(vec![0])),
        ("load8", &[3 * page - 1], Ok(vec![0])),
        ("load8", &[3 * page], oob()),
        ("load32", &[3 * page - 3], oob()),
        ("deep", &[100, 3 * page - 4], Ok(vec![100])),
        ("deep", &[100, 3 * page - 2], oob()),
        ("grow", &[1], Ok(vec![u64::from(u32::MAX)])),
        ("load8", &[3 * page], oob()),
    ];
    let calls: Vec<(&str, &[u64])> = cases.iter().map(|(n, a, _)| (*n, *a)).collect();
    let outcomes = session(src, &calls);
    for ((name, args, expected), got) in cases.iter().zip(outcomes) {
        assert_eq!(&got, expected, "{name}{args:?}");
    }
}
