//! NaN canonicalisation (`WasmConfig::canonicalize_nans`): on, every tier gives the canonical NaN for any
//! NaN an arithmetic operator makes, whatever the machine; off, compiled code gives the machine's NaN.

use std::sync::Arc;
use zvm_compiler::frontend::wasm::{NoImports, WasmConfig};
use zvm_runtime::executor::Tier;
use zvm_runtime::wasm::WasmProgram;
use zvm_runtime::Limits;

const GAS: u64 = 1 << 30;

/// Each function returns the bits of a float result, so the NaN's sign and payload are seen.
const MODULE: &str = r#"(module
  (func (export "div") (param f32 f32) (result i32)
    (i32.reinterpret_f32 (f32.div (local.get 0) (local.get 1))))
  (func (export "add64") (param f64 f64) (result i64)
    (i64.reinterpret_f64 (f64.add (local.get 0) (local.get 1))))
  ;; A NaN sum stored to memory and loaded back, then negated: sign manipulations keep what they get.
  (memory 1)
  (func (export "stored_neg") (param f32 f32) (result i32)
    (f32.store (i32.const 8) (f32.add (local.get 0) (local.get 1)))
    (i32.reinterpret_f32 (f32.neg (f32.load (i32.const 8)))))
  ;; A running sum carried around a loop (a loop parameter in the IR) over a stored NaN, negated at the end.
  (func (export "loop_sum_neg") (param $nan i32) (param $n i32) (result i32)
    (local $i i32) (local $sum f32)
    (i32.store (i32.const 16) (local.get $nan))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $sum (f32.mul (f32.add (local.get $sum) (f32.load (i32.const 16))) (f32.const 0.5)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.reinterpret_f32 (f32.neg (local.get $sum)))))"#;

fn invoke(tier: Tier, canonicalize_nans: bool, name: &str, args: &[u64]) -> u64 {
    let bytes = wat::parse_str(MODULE).expect("valid text");
    let config = WasmConfig { canonicalize_nans, ..WasmConfig::default() };
    let program = Arc::new(WasmProgram::load(&bytes, tier, &config, &NoImports, &Limits::default()).expect("loads"));
    let mut instance = program.instantiate(&Limits::default(), GAS).expect("instantiates");
    instance.invoke(name, args, GAS).expect("runs")[0]
}

const ZERO_F32: u64 = 0;
/// A signalling `f32` NaN with a payload and the sign bit set.
const NAN_PAYLOAD_F32: u64 = 0xffa0_0001;
const NAN_PAYLOAD_F64: u64 = 0xfff4_0000_0000_0001;
const ONE_F64: u64 = 0x3ff0_0000_0000_0000;

#[test]
fn canonical_nans_are_the_same_on_every_tier() {
    for tier in [Tier::Interp, Tier::Jit, Tier::Aot] {
        assert_eq!(invoke(tier, true, "div", &[ZERO_F32, ZERO_F32]), 0x7fc0_0000, "{tier}");
        assert_eq!(invoke(tier, true, "div", &[NAN_PAYLOAD_F32, 0x3f80_0000]), 0x7fc0_0000, "{tier}");
        assert_eq!(invoke(tier, true, "add64", &[NAN_PAYLOAD_F64, ONE_F64]), 0x7ff8_0000_0000_0000, "{tier}");
        assert_eq!(invoke(tier, true, "stored_neg", &[NAN_PAYLOAD_F32, ZERO_F32]), 0xffc0_0000, "{tier}");
        for n in [1, 2, 7] {
            assert_eq!(invoke(tier, true, "loop_sum_neg", &[NAN_PAYLOAD_F32, n]), 0xffc0_0000, "{tier} {n}");
        }
        assert_eq!(invoke(tier, true, "loop_sum_neg", &[NAN_PAYLOAD_F32, 0]), 0x8000_0000, "{tier}");
        // 2.0 halved after each addition: 1, 1.5, 1.75.
        assert_eq!(invoke(tier, true, "loop_sum_neg", &[0x4000_0000, 3]), u64::from((-1.75f32).to_bits()), "{tier}");
    }
}

#[test]
fn native_nans_are_nans_from_the_machine() {
    let is_nan32 = |bits: u64| f32::from_bits(bits as u32).is_nan();
    for tier in [Tier::Interp, Tier::Jit, Tier::Aot] {
        let div = invoke(tier, false, "div", &[ZERO_F32, ZERO_F32]);
        assert!(is_nan32(div), "{tier}: {div:#x}");
        let add = invoke(tier, false, "add64", &[NAN_PAYLOAD_F64, ONE_F64]);
        assert!(f64::from_bits(add).is_nan(), "{tier}: {add:#x}");
        // Non-NaN results are untouched by the switch.
        assert_eq!(invoke(tier, false, "add64", &[ONE_F64, ONE_F64]), 0x4000_0000_0000_0000, "{tier}");
    }
    // The interpreter's NaN is always the canonical one (one of the NaNs allowed).
    assert_eq!(invoke(Tier::Interp, false, "div", &[ZERO_F32, ZERO_F32]), 0x7fc0_0000);
    // Compiled code on x86_64 gives the hardware's: 0/0 is the negative "default NaN", and a NaN operand's
    // payload is kept (quietened).
    #[cfg(target_arch = "x86_64")]
    for tier in [Tier::Jit, Tier::Aot] {
        assert_eq!(invoke(tier, false, "div", &[ZERO_F32, ZERO_F32]), 0xffc0_0000, "{tier}");
        assert_eq!(invoke(tier, false, "add64", &[NAN_PAYLOAD_F64, ONE_F64]), 0xfffc_0000_0000_0001, "{tier}");
        assert_eq!(invoke(tier, false, "stored_neg", &[NAN_PAYLOAD_F32, ZERO_F32]), 0x7fe0_0001, "{tier}");
    }
}
