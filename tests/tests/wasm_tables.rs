//! `call_indirect` through tables that change while the code runs: compiled code reads table elements
//! inline through the views the runtime publishes (`VmCtx::tables`), which must follow every growth (the
//! elements move) and every write. Each tier must give the results worked out here.

use std::sync::Arc;
use zvm_compiler::frontend::wasm::{NoImports, WasmConfig};
use zvm_ir::TrapCode;
use zvm_runtime::executor::Tier;
use zvm_runtime::wasm::{InvokeError, WasmProgram};
use zvm_runtime::Limits;

const GAS: u64 = 1 << 30;

const MODULE: &str = r#"(module
  (type $un (func (param i32) (result i32)))
  (table $t 1 funcref)
  (func $double (type $un) (i32.mul (local.get 0) (i32.const 2)))
  (func $square (type $un) (i32.mul (local.get 0) (local.get 0)))
  (func $other (param i64) (result i64) (local.get 0))
  (elem declare func $double $square $other)
  ;; Grows the table by $n slots holding $double (odd $n) or $square (even $n); returns the old size.
  (func (export "grow") (param $n i32) (result i32)
    (if (result i32) (i32.and (local.get $n) (i32.const 1))
      (then (table.grow $t (ref.func $double) (local.get $n)))
      (else (table.grow $t (ref.func $square) (local.get $n)))))
  (func (export "set_other") (param $i i32) (table.set $t (local.get $i) (ref.func $other)))
  (func (export "call") (param $i i32) (param $x i32) (result i32)
    (call_indirect $t (type $un) (local.get $x) (local.get $i)))
  ;; Calls every slot in order, summing f(slot index); the table grows by 64 slots of $double half way.
  (func (export "sweep") (result i32)
    (local $i i32) (local $sum i32) (local $n i32)
    (local.set $n (table.size $t))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.eq (local.get $i) (i32.const 2))
          (then (drop (table.grow $t (ref.func $double) (i32.const 64)))))
        (local.set $sum (i32.add (local.get $sum)
          (call_indirect $t (type $un) (local.get $i) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $sum)))"#;

type Outcome = Result<Vec<u64>, InvokeError>;

/// Runs `calls` in order on one instance on `tier`.
fn run(tier: Tier, calls: &[(&str, &[u64])]) -> Vec<Outcome> {
    let bytes = wat::parse_str(MODULE).expect("valid text");
    let program =
        Arc::new(WasmProgram::load(&bytes, tier, &WasmConfig::default(), &NoImports, &Limits::default()).unwrap());
    let mut instance = program.instantiate(&Limits::default(), GAS).expect("instantiates");
    calls.iter().map(|(name, args)| instance.invoke(name, args, GAS)).collect()
}

fn trap(outcome: &Outcome) -> Option<TrapCode> {
    match outcome {
        Err(InvokeError::Trap(code)) => Some(*code),
        _ => None,
    }
}

#[test]
fn call_indirect_follows_growth_and_writes_on_every_tier() {
    let calls: &[(&str, &[u64])] = &[
        ("call", &[0, 5]),     // slot 0 is null
        ("call", &[1, 5]),     // outside the table
        ("grow", &[3]),        // slots 1..4: $double
        ("call", &[3, 21]),    // 42
        ("grow", &[1000]),     // slots 4..1004: $square (the elements move)
        ("call", &[1003, 12]), // 144
        ("call", &[1004, 12]), // outside
        ("set_other", &[500]), // a function of another type
        ("call", &[500, 1]),   // mismatch
        ("call", &[499, 9]),   // 81
    ];
    let runs = [Tier::Interp, Tier::Jit, Tier::Aot].map(|tier| (tier, run(tier, calls)));
    let (_, interp) = &runs[0];
    assert_eq!(trap(&interp[0]), Some(TrapCode::UninitializedElement));
    assert_eq!(trap(&interp[1]), Some(TrapCode::UndefinedElement));
    assert_eq!(interp[2], Ok(vec![1]));
    assert_eq!(interp[3], Ok(vec![42]));
    assert_eq!(interp[4], Ok(vec![4]));
    assert_eq!(interp[5], Ok(vec![144]));
    assert_eq!(trap(&interp[6]), Some(TrapCode::UndefinedElement));
    assert_eq!(trap(&interp[8]), Some(TrapCode::IndirectCallTypeMismatch));
    assert_eq!(interp[9], Ok(vec![81]));
    for (tier, outcomes) in &runs[1..] {
        assert_eq!(outcomes, interp, "{tier} disagrees with the interpreter");
    }
}

#[test]
fn a_sweep_across_a_growth_sums_what_the_slots_hold() {
    let calls: &[(&str, &[u64])] = &[("grow", &[3]), ("sweep", &[])];
    // Slot 0 is null: the sweep traps at once on every tier.
    for tier in [Tier::Interp, Tier::Jit, Tier::Aot] {
        assert_eq!(trap(&run(tier, calls)[1]), Some(TrapCode::UninitializedElement), "{tier}");
    }
    // Without the null slot: slots 0..3 hold $double, and the sweep covers them (it read the size before
    // growing the table under its own feet at slot 2): 2 * (0 + 1 + 2).
    let bytes = wat::parse_str(MODULE.replace("(table $t 1 funcref)", "(table $t 0 funcref)")).unwrap();
    for tier in [Tier::Interp, Tier::Jit, Tier::Aot] {
        let program =
            Arc::new(WasmProgram::load(&bytes, tier, &WasmConfig::default(), &NoImports, &Limits::default()).unwrap());
        let mut instance = program.instantiate(&Limits::default(), GAS).unwrap();
        assert_eq!(instance.invoke("grow", &[3], GAS), Ok(vec![0]), "{tier}");
        assert_eq!(instance.invoke("sweep", &[], GAS), Ok(vec![2 * (1 + 2)]), "{tier}");
        assert_eq!(instance.invoke("call", &[66, 4], GAS), Ok(vec![8]), "{tier}");
    }
}
