//! Cross-module linking of WebAssembly instances in one store, on every tier: calls between instances
//! (direct imports and `call_indirect` through shared tables), shared memories and mutable globals, gas and
//! call depth counted across instances exactly as within one, and recursion between instances that ends
//! in `call_stack_exhausted` at the same depth on every tier, never in a native stack overflow.
//!
//! The spec suite's `linking.wast` and `imports.wast` cover the matching rules; this file covers what those
//! scripts do not measure: gas, depth, and that every tier agrees on both.

use std::rc::Rc;
use std::sync::Arc;
use zvm_compiler::frontend::wasm::{NoImports, WasmConfig, WasmError};
use zvm_ir::TrapCode;
use zvm_runtime::executor::Tier;
use zvm_runtime::wasm::{InvokeError, Store, WasmInstance, WasmLoadError, WasmProgram};
use zvm_runtime::Limits;

const GAS: u64 = 1 << 40;
const TIERS: [Tier; 3] = [Tier::Interp, Tier::Jit, Tier::Aot];

/// Instantiates `src` in `store` (importing from what it registered) and registers it as `name`.
fn add(store: &Rc<Store>, tier: Tier, name: &str, src: &str) -> WasmInstance {
    let bytes = wat::parse_str(src).expect("test modules are valid text");
    let imports = store.imports(&NoImports);
    let program = WasmProgram::load(&bytes, tier, &WasmConfig::default(), &imports, &Limits::default())
        .unwrap_or_else(|e| panic!("{tier}: {e}"));
    let instance = store.instantiate(&Arc::new(program), GAS).unwrap_or_else(|e| panic!("{tier}: {e}"));
    store.register(name, &instance);
    instance
}

/// Module `a` exports a table, a memory, a mutable global and `down(n)`, which counts `n` down through
/// whatever function element 0 of the table is; module `b` imports all of them and puts its own `down`,
/// which calls `a`'s through the import, into that element: `a.down` and `b.down` recurse through each
/// other, one instance crossing per call.
const A: &str = r#"(module
  (type $t (func (param i32) (result i32)))
  (table (export "table") 1 funcref)
  (memory (export "memory") 1)
  (global (export "count") (mut i32) (i32.const 0))
  (func (export "down") (param $n i32) (result i32)
    (global.set 0 (i32.add (global.get 0) (i32.const 1)))
    (i32.store8 (i32.and (local.get $n) (i32.const 7)) (i32.const 0xa))
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (i32.const 1)
        (call_indirect (type $t) (i32.sub (local.get $n) (i32.const 1)) (i32.const 0)))))))"#;

const B: &str = r#"(module
  (type $t (func (param i32) (result i32)))
  (import "a" "down" (func $a_down (type $t)))
  (import "a" "table" (table 1 funcref))
  (import "a" "memory" (memory 1))
  (import "a" "count" (global $count (mut i32)))
  (elem (i32.const 0) $down)
  (func $down (export "down") (param $n i32) (result i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (i32.store8 (i32.and (local.get $n) (i32.const 7)) (i32.const 0xb))
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $a_down (i32.sub (local.get $n) (i32.const 1)))))))
  (func (export "grow") (result i32) (memory.grow (i32.const 1)))
  (func (export "count") (result i32) (global.get $count)))"#;

/// What one tier did: per invocation its outcome and gas; then `a`'s memory bytes 0..8, its memory size
/// and its global.
type Run = (Vec<(Result<Vec<u64>, InvokeError>, u64)>, Vec<u8>, usize, Option<(zvm_ir::Type, u64)>);

fn run(tier: Tier, calls: &[(&str, &str, &[u64])]) -> Run {
    let store = Rc::new(Store::new(Limits::default()));
    let mut a = add(&store, tier, "a", A);
    let mut b = add(&store, tier, "b", B);
    let outcomes = calls
        .iter()
        .map(|&(who, name, args)| {
            let instance = if who == "a" { &mut a } else { &mut b };
            let r = instance.invoke(name, args, GAS);
            (r, instance.gas_used())
        })
        .collect();
    let memory = a.state().memory;
    (outcomes, memory[..8].to_vec(), memory.len(), a.global("count"))
}

#[test]
fn instances_call_each_other_and_share_memory_globals_and_tables() {
    let calls: &[(&str, &str, &[u64])] =
        &[("a", "down", &[7]), ("b", "down", &[6]), ("b", "count", &[]), ("b", "grow", &[]), ("a", "down", &[3])];
    let runs: Vec<Run> = TIERS.iter().map(|&t| run(t, calls)).collect();
    for (tier, r) in TIERS.iter().zip(&runs).skip(1) {
        assert_eq!(r, &runs[0], "{tier} differs from the interpreter");
    }
    let (outcomes, memory, size, global) = &runs[0];
    let results: Vec<_> = outcomes.iter().map(|(r, _)| r.clone()).collect();
    assert_eq!(results, vec![Ok(vec![7]), Ok(vec![6]), Ok(vec![15]), Ok(vec![1]), Ok(vec![3])]);
    // `a.down(3)` wrote 3 (a), 2 (b), 1 (a), 0 (b) last: both instances write the one memory.
    assert_eq!(memory, &[0xb, 0xa, 0xb, 0xa, 0xb, 0xa, 0xb, 0xa]);
    // `b` grew the memory `a` exports.
    assert_eq!(*size, 2 * zvm_ir::WASM_PAGE as usize);
    // Both instances counted in the one global: 8 + 7 calls, then 4.
    assert_eq!(*global, Some((zvm_ir::Type::I32, 19)));
    // Gas grows with the work done across instances.
    assert!(outcomes[0].1 > outcomes[4].1 && outcomes[4].1 > 0);
}

#[test]
fn recursion_between_instances_stops_at_the_depth_limit_on_every_tier() {
    // A hop from `a` to `b` (`call_indirect`) is one call; a hop from `b` to `a` through the import is
    // two (the imported function, then its call into `a`). `a.down(n)` makes `n` hops, so it needs
    // depth `ceil(n/2) + 2*floor(n/2)`: 1024 (the limit) for n = 683, 1026 for n = 684.
    assert_eq!(Limits::default().max_call_depth, 1024);
    let calls: &[(&str, &str, &[u64])] =
        &[("a", "down", &[1_000_000]), ("a", "down", &[683]), ("a", "down", &[684]), ("a", "down", &[5])];
    let runs: Vec<Run> = TIERS.iter().map(|&t| run(t, calls)).collect();
    for (tier, r) in TIERS.iter().zip(&runs).skip(1) {
        assert_eq!(r.0, runs[0].0, "{tier} differs from the interpreter");
    }
    let results: Vec<_> = runs[0].0.iter().map(|(r, _)| r.clone()).collect();
    let exhausted = Err(InvokeError::Trap(TrapCode::CallStackExhausted));
    assert_eq!(results, vec![exhausted.clone(), Ok(vec![683]), exhausted, Ok(vec![5])]);
}

#[test]
fn gas_runs_out_at_the_same_point_across_instances() {
    for gas in [10, 100, 1_000, 5_000] {
        let outcomes: Vec<_> = TIERS
            .iter()
            .map(|&tier| {
                let store = Rc::new(Store::new(Limits::default()));
                let mut a = add(&store, tier, "a", A);
                let _b = add(&store, tier, "b", B);
                let r = a.invoke("down", &[500], gas);
                (r, a.gas_used(), a.global("count"))
            })
            .collect();
        for (tier, o) in TIERS.iter().zip(&outcomes).skip(1) {
            assert_eq!(o, &outcomes[0], "{tier} with {gas} gas");
        }
        assert_eq!(outcomes[0].0, Err(InvokeError::OutOfGas), "{gas} gas");
    }
}

#[test]
fn calls_through_a_shared_table_check_the_signature() {
    for tier in TIERS {
        let store = Rc::new(Store::new(Limits::default()));
        let _a = add(&store, tier, "a", A);
        let mut c = add(
            &store,
            tier,
            "c",
            r#"(module
              (import "a" "table" (table 1 funcref))
              (type $other (func (param i64) (result i64)))
              (type $same (func (param i32) (result i32)))
              (func (export "wrong") (result i64) (call_indirect (type $other) (i64.const 1) (i32.const 0)))
              (func (export "right") (result i32) (call_indirect (type $same) (i32.const 0) (i32.const 0))))"#,
        );
        // Element 0 is `a`'s table's null until some module stores a function there.
        assert_eq!(c.invoke("right", &[], GAS), Err(InvokeError::Trap(TrapCode::UninitializedElement)), "{tier}");
        let _b = add(&store, tier, "b", B);
        assert_eq!(c.invoke("wrong", &[], GAS), Err(InvokeError::Trap(TrapCode::IndirectCallTypeMismatch)), "{tier}");
        assert_eq!(c.invoke("right", &[], GAS), Ok(vec![0]), "{tier}");
    }
}

#[test]
fn function_imports_match_webassembly_types_not_just_ir_types() {
    let store = Rc::new(Store::new(Limits::default()));
    add(&store, Tier::Interp, "a", r#"(module (func (export "f") (param funcref) (result i64) (i64.const 1)))"#);
    let load = |src: &str| {
        let bytes = wat::parse_str(src).expect("test modules are valid text");
        let imports = store.imports(&NoImports);
        WasmProgram::load(&bytes, Tier::Interp, &WasmConfig::default(), &imports, &Limits::default()).map(|_| ())
    };
    // funcref, externref and i64 are all `i64` in the IR; only the first is the export's type.
    assert!(load(r#"(module (import "a" "f" (func (param funcref) (result i64))))"#).is_ok());
    for param in ["externref", "i64"] {
        let src = format!(r#"(module (import "a" "f" (func (param {param}) (result i64))))"#);
        let err = load(&src).expect_err(param);
        assert!(matches!(err, WasmLoadError::Frontend(WasmError::Link(_))), "{param}: {err}");
    }
}

/// Out-of-bounds accesses to a memory shared between instances, by the instance that owns it (called
/// through an import, so its compiled code runs inside the importer's) and by the importer itself,
/// before and after the importer grows it: `heap_oob` on every tier (compiled code faults in the memory's
/// guard region), all gas consumed, and the instances go on working.
#[test]
fn out_of_bounds_accesses_across_instances_trap_on_every_tier() {
    const OWNER: &str = r#"(module (memory (export "memory") 1 4)
      (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0))))"#;
    const USER: &str = r#"(module
      (import "owner" "peek" (func $peek (param i32) (result i32)))
      (import "owner" "memory" (memory 1 4))
      (func (export "via_owner") (param i32) (result i32) (i32.add (i32.const 1) (call $peek (local.get 0))))
      (func (export "own") (param i32) (result i32) (i32.load8_u (local.get 0)))
      (func (export "grow") (result i32) (memory.grow (i32.const 1))))"#;
    let page = zvm_ir::WASM_PAGE;
    let oob = || Err(InvokeError::Trap(TrapCode::MemoryOutOfBounds));
    type Outcome = Result<Vec<u64>, InvokeError>;
    let cases: &[(&str, &str, &[u64], Outcome)] = &[
        ("user", "via_owner", &[page - 1], Ok(vec![1])),
        ("user", "via_owner", &[page], oob()),
        ("user", "own", &[page], oob()),
        ("owner", "peek", &[page], oob()),
        ("user", "grow", &[], Ok(vec![1])),
        ("user", "own", &[page], Ok(vec![0])),
        ("user", "via_owner", &[2 * page - 1], Ok(vec![1])),
        ("user", "via_owner", &[2 * page], oob()),
        ("owner", "peek", &[2 * page - 1], Ok(vec![0])),
        ("user", "own", &[u64::from(u32::MAX)], oob()),
    ];
    let mut runs = Vec::new();
    for tier in TIERS {
        let store = Rc::new(Store::new(Limits::default()));
        let mut owner = add(&store, tier, "owner", OWNER);
        let mut user = add(&store, tier, "user", USER);
        let outcomes: Vec<_> = cases
            .iter()
            .map(|&(who, name, args, _)| {
                let instance = if who == "owner" { &mut owner } else { &mut user };
                (instance.invoke(name, args, GAS), instance.gas_used())
            })
            .collect();
        runs.push(outcomes);
    }
    for (tier, r) in TIERS.iter().zip(&runs).skip(1) {
        assert_eq!(r, &runs[0], "{tier} differs from the interpreter");
    }
    for ((who, name, args, expected), (got, gas)) in cases.iter().zip(&runs[0]) {
        assert_eq!(got, expected, "{who}.{name}{args:?}");
        if got.is_err() {
            assert_eq!(*gas, GAS, "a trap consumes all gas: {who}.{name}{args:?}");
        }
    }
}
