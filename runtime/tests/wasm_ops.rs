//! The WebAssembly operations of the IR (floats, float conversions, `mem.grow/fill/init`, `data.drop`,
//! globals) and invoking functions with arguments, on every tier: the interpreter, the JIT at both
//! optimization levels and an AOT object loaded by zvm's loader.
//!
//! Every result is checked against an independent expectation: `zvm_ir::semantics` (the reference the IR
//! defines the operations by) for the pure operations, over edge-case bit patterns (zeros, infinities, NaNs
//! with payloads and signs, subnormals, integer bounds, values just inside and outside the conversion
//! bounds, ties) and random ones; hand-computed values for memory, globals and invocation. Results, stops
//! (trap codes) and gas must all agree. The pure operations also run on aarch64 (the emitted object, linked
//! with a small C driver and run under `qemu-aarch64`, when the cross tools are installed).
//!
//! Hand-computed results check the reference itself, on every tier. The interpreter's constant folding
//! (operations on constants leave no code, except conversions that trap) is checked on the interpreter
//! alone, against Rust's own float operations.

mod support;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use support::{
    aarch64_dir, aot, driver_line, expected_status, invoke_on, link_aarch64, meta_of, parse, run_under_qemu, tiers,
    with_frame, Code, TierCode, GAS, MINUS_ONE, PAGE,
};
use zvm_compiler::cranelift::{compile, emit_object, Dispatch, JitOptions, NativeCode, Target};
use zvm_ir::{semantics, ConvOp, FBinOp, FUnOp, HaltKind, Module, TrapCode, Type};
use zvm_runtime::compiled;
use zvm_runtime::interpreter::{self, Program};
use zvm_runtime::{Exit, Frame, Limits};

/// What every generated function charges first (`gas.block`).
const BLOCK_GAS: u64 = 7;

// ---- invocation ----------------------------------------------------------------------------------------

/// What one invocation gave.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outcome {
    exit: Option<Exit>,
    values: Vec<u64>,
    gas_used: u64,
}

/// Invokes `func` with `values` on a fresh frame.
fn invoke_fresh(module: &Module, code: &Code, func: u32, values: &[u64]) -> Outcome {
    with_frame(module, &Limits::default(), GAS, |frame| {
        let mut values = values.to_vec();
        let exit = invoke_on(code, frame, func, &mut values);
        Outcome { exit, values, gas_used: GAS - frame.gas_left() }
    })
}

// ---- values --------------------------------------------------------------------------------------------

fn f32s() -> Vec<u64> {
    let mut v: Vec<u32> = vec![
        0x0000_0000, // +0
        0x8000_0000, // -0
        0x7f80_0000, // +inf
        0xff80_0000, // -inf
        0x7fc0_0000, // canonical NaN
        0xffc0_0000, // negative quiet NaN
        0x7f80_0001, // signalling NaN
        0x7fc0_1234, // quiet NaN with a payload
        0xffbf_ffff, // negative signalling NaN, full payload
        0x0000_0001, // smallest subnormal
        0x807f_ffff, // largest negative subnormal
        0x0080_0000, // smallest normal
        0x7f7f_ffff, // largest finite
        0xff7f_ffff,
        0x4f00_0000, // 2^31
        0x4eff_ffff, // largest below 2^31
        0xcf00_0000, // -2^31
        0xcf00_0001, // just below -2^31
        0x4f80_0000, // 2^32
        0x4f7f_ffff, // largest below 2^32
        0x5f00_0000, // 2^63
        0x5eff_ffff,
        0xdf00_0000, // -2^63
        0xdf00_0001,
        0x5f80_0000, // 2^64
        0x5f7f_ffff,
        0xbf7f_ffff, // -0.99999994
        0x4b00_0000, // 2^23
        0x4aff_ffff, // 2^23 - 0.5
        0x4b7f_ffff, // 2^24 - 1
        0x3eff_ffff, // 0.49999997
        0x3f7f_ffff, // 0.99999994
    ];
    v.extend(
        [
            0.5f32,
            -0.5,
            1.0,
            -1.0,
            1.5,
            -1.5,
            2.5,
            -2.5,
            3.5,
            -0.9,
            0.9,
            1e10,
            -1e10,
            std::f32::consts::PI,
            -7.75,
            100.5,
        ]
        .map(f32::to_bits),
    );
    v.into_iter().map(u64::from).collect()
}

fn f64s() -> Vec<u64> {
    let mut v: Vec<u64> = vec![
        0,
        1 << 63,
        0x7ff0_0000_0000_0000, // +inf
        0xfff0_0000_0000_0000, // -inf
        0x7ff8_0000_0000_0000, // canonical NaN
        0xfff8_0000_0000_0000,
        0x7ff0_0000_0000_0001, // signalling NaN
        0x7ff8_0000_0000_1234,
        0xfff7_ffff_ffff_ffff,
        1,                     // smallest subnormal
        0x800f_ffff_ffff_ffff, // largest negative subnormal
        0x0010_0000_0000_0000, // smallest normal
        0x7fef_ffff_ffff_ffff, // largest finite
        0xffef_ffff_ffff_ffff,
        0x43e0_0000_0000_0000, // 2^63
        0x43df_ffff_ffff_ffff, // largest below 2^63
        0xc3e0_0000_0000_0000, // -2^63
        0xc3e0_0000_0000_0001, // just below -2^63
        0x43f0_0000_0000_0000, // 2^64
        0x43ef_ffff_ffff_ffff, // largest below 2^64
        0x4330_0000_0000_0000, // 2^52
        0x432f_ffff_ffff_ffff, // 2^52 - 0.5
        0x4340_0000_0000_0000, // 2^53
        0x3fdf_ffff_ffff_ffff, // 0.49999999999999994
        0xbfef_ffff_ffff_ffff, // -0.9999999999999999
    ];
    v.extend(
        [
            0.5f64,
            -0.5,
            1.0,
            -1.0,
            1.5,
            -1.5,
            2.5,
            -2.5,
            3.5,
            -0.9,
            0.9,
            2147483647.0,
            2147483647.5,
            2147483648.0, // 2^31
            -2147483648.0,
            -2147483648.5,
            -2147483648.9999998,
            -2147483649.0,
            4294967295.0,
            4294967295.5,
            4294967296.0, // 2^32
            1e300,
            -1e300,
            std::f64::consts::PI,
            1e-310,
            16777217.0,
        ]
        .map(f64::to_bits),
    );
    v
}

fn i32s() -> Vec<u64> {
    [
        0u32,
        1,
        0xffff_ffff,
        0x8000_0000,
        0x7fff_ffff,
        0x00ff_ffff,
        0x0100_0001, // 2^24 + 1: an f32 tie, to even (2^24)
        0x0100_0003, // 2^24 + 3: a tie, to even (2^24 + 4)
        0x7fff_ffc0, // an f32 tie (to 2^31)
        0x7fff_ffbf,
        0x8000_0001,
        0xffff_ff80,
        0xffff_ff7f,
        12345,
    ]
    .into_iter()
    .map(u64::from)
    .collect()
}

fn i64s() -> Vec<u64> {
    vec![
        0,
        1,
        u64::MAX,
        1 << 63,
        (1 << 63) - 1,
        (1 << 53) + 1,         // an f64 tie, to even
        (1 << 53) + 3,         // an f64 tie, to even (up)
        0x8000_0000_0000_0400, // an f64 tie (unsigned)
        0x8000_0000_0000_0401,
        0x8000_0080_0000_0000, // an f32 tie (unsigned)
        0x8000_0080_0000_0001,
        0xffff_ffff_ffff_fc00, // an f64 tie, to 2^64
        0xffff_ffff_ffff_fbff,
        0xffff_ff80_0000_0000, // an f32 tie, to 2^64
        0xffff_ff7f_ffff_ffff,
        0x7fff_ffff_ffff_fc00,
        0x0020_0000_0000_0001,
        0xffff_ffff_8000_0000,
        0x1234_5678_9abc_def0,
    ]
}

fn edges(ty: Type) -> Vec<u64> {
    match ty {
        Type::F32 => f32s(),
        Type::F64 => f64s(),
        Type::I32 => i32s(),
        Type::I64 => i64s(),
        Type::W256 => unreachable!("no w256 in these tests"),
    }
}

/// Random bit patterns of `ty`, biased toward the interesting exponents (NaN/infinity, subnormals,
/// magnitudes around the integer bounds) and small integers.
fn bits_of(ty: Type) -> BoxedStrategy<u64> {
    match ty {
        Type::F32 => prop_oneof![
            any::<u32>(),
            (any::<bool>(), any::<u32>()).prop_map(|(s, m)| (u32::from(s) << 31) | 0x7f80_0000 | (m & 0x7f_ffff)),
            (any::<bool>(), any::<u32>()).prop_map(|(s, m)| (u32::from(s) << 31) | (m & 0x7f_ffff)),
            (any::<bool>(), 120u32..195, any::<u32>())
                .prop_map(|(s, e, m)| (u32::from(s) << 31) | (e << 23) | (m & 0x7f_ffff)),
            (any::<i16>(), 0u8..4).prop_map(|(i, q)| (f32::from(i) + f32::from(q) * 0.25).to_bits()),
        ]
        .prop_map(u64::from)
        .boxed(),
        Type::F64 => prop_oneof![
            any::<u64>(),
            (any::<bool>(), any::<u64>())
                .prop_map(|(s, m)| (u64::from(s) << 63) | 0x7ff0_0000_0000_0000 | (m & 0xf_ffff_ffff_ffff)),
            (any::<bool>(), any::<u64>()).prop_map(|(s, m)| (u64::from(s) << 63) | (m & 0xf_ffff_ffff_ffff)),
            (any::<bool>(), 1000u64..1095, any::<u64>())
                .prop_map(|(s, e, m)| (u64::from(s) << 63) | (e << 52) | (m & 0xf_ffff_ffff_ffff)),
            (any::<i32>(), 0u8..4).prop_map(|(i, q)| (f64::from(i) + f64::from(q) * 0.25).to_bits()),
        ]
        .boxed(),
        Type::I32 => any::<u32>().prop_map(u64::from).boxed(),
        _ => prop_oneof![any::<u64>(), any::<i32>().prop_map(|x| x as i64 as u64), 0u64..(1 << 54)].boxed(),
    }
}

// ---- the pure operations -------------------------------------------------------------------------------

/// One operation at one type: a function `(params) -> result` of the generated module.
#[derive(Clone, Copy, Debug)]
enum Pure {
    Unary(FUnOp, Type),
    Binary(FBinOp, Type),
    Convert(ConvOp, Type, Type),
}

impl Pure {
    fn params(self) -> Vec<Type> {
        match self {
            Pure::Unary(_, t) => vec![t],
            Pure::Binary(_, t) => vec![t, t],
            Pure::Convert(_, from, _) => vec![from],
        }
    }

    fn result(self) -> Type {
        match self {
            Pure::Unary(_, t) => t,
            Pure::Binary(op, t) => {
                if op.is_comparison() {
                    Type::I32
                } else {
                    t
                }
            }
            Pure::Convert(_, _, to) => to,
        }
    }

    /// The instruction on `args` (`v0`, `v1`, ...), in the text form.
    fn inst(self, args: &[String]) -> String {
        match self {
            Pure::Unary(op, _) => format!("{} {}", op.name(), args[0]),
            Pure::Binary(op, _) => format!("{} {}, {}", op.name(), args[0], args[1]),
            Pure::Convert(op, _, to) => format!("{}.{to} {}", zvm_ir::text::convop_name(op), args[0]),
        }
    }

    fn name(self) -> String {
        match self {
            Pure::Unary(op, t) => format!("{}.{t}", op.name()),
            Pure::Binary(op, t) => format!("{}.{t}", op.name()),
            Pure::Convert(op, from, to) => format!("{}.{from}.{to}", zvm_ir::text::convop_name(op)),
        }
    }

    /// The reference result (`i32`/`f32` zero-extended), straight from the IR's semantics.
    fn reference(self, args: &[u64]) -> Result<u64, TrapCode> {
        match self {
            Pure::Unary(op, t) => Ok(semantics::float_unary(op, t, args[0])),
            Pure::Binary(op, t) => Ok(semantics::float_binary(op, t, args[0], args[1])),
            Pure::Convert(op, from, to) => semantics::float_convert(op, from, to, args[0]),
        }
    }
}

const SCALARS: [Type; 4] = [Type::I32, Type::I64, Type::F32, Type::F64];

fn all_pure() -> Vec<Pure> {
    let mut out = Vec::new();
    for t in [Type::F32, Type::F64] {
        out.extend(FUnOp::ALL.map(|op| Pure::Unary(op, t)));
        out.extend(FBinOp::ALL.map(|op| Pure::Binary(op, t)));
    }
    for op in
        ConvOp::ALL.into_iter().filter(|op| !matches!(op, ConvOp::Zext | ConvOp::Sext | ConvOp::Trunc | ConvOp::SatU64))
    {
        for from in SCALARS {
            for to in SCALARS {
                if op.accepts(from, to) {
                    out.push(Pure::Convert(op, from, to));
                }
            }
        }
    }
    out
}

/// Text of a function `name(params) -> results` whose body (after `gas.block`) is `body`.
fn function(name: &str, params: &[Type], results: &[Type], body: &[String]) -> String {
    let list = |ts: &[Type]| ts.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ");
    let block_params = params.iter().enumerate().map(|(i, t)| format!("v{i}: {t}")).collect::<Vec<_>>().join(", ");
    let header = if params.is_empty() { "block0:".to_string() } else { format!("block0({block_params}):") };
    let arrow = if results.is_empty() { String::new() } else { format!(" -> {}", list(results)) };
    let mut out = format!("function %{name}({}){arrow} {{\n{header}\n    gas.block {BLOCK_GAS}\n", list(params));
    for line in body {
        out.push_str(&format!("    {line}\n"));
    }
    out.push_str("}\n\n");
    out
}

const EMPTY_ENTRY: &str = "function %main() {\nblock0:\n    return\n}\n\n";

/// A module with one function per operation (function `i + 1` is `ops[i]`) on its parameters.
fn pure_module(ops: &[Pure]) -> Module {
    let mut text = EMPTY_ENTRY.to_string();
    for &op in ops {
        let params = op.params();
        let args: Vec<String> = (0..params.len()).map(|i| format!("v{i}")).collect();
        let r = params.len();
        let body = [format!("v{r} = {}", op.inst(&args)), format!("return v{r}")];
        text.push_str(&function(&op.name(), &params, &[op.result()], &body));
    }
    parse(&text)
}

/// Checks every tier against the reference for one invocation; `Err` describes the first disagreement.
fn check_pure(module: &Module, tiers: &[TierCode], func: u32, op: Pure, args: &[u64]) -> Result<(), String> {
    let want = op.reference(args);
    let (want_exit, want_value) = match want {
        Ok(r) => (None, r),
        // A stop leaves `values` as it was.
        Err(code) => (Some(Exit::Trap(code)), args[0]),
    };
    for t in tiers {
        let got = invoke_fresh(module, &t.code, func, args);
        let value = got.values[0];
        if got.exit != want_exit || value != want_value || got.gas_used != BLOCK_GAS {
            return Err(format!(
                "{} {} {args:x?}: {:?} {value:#x}, gas {}; want {want_exit:?} {want_value:#x}, gas {BLOCK_GAS}",
                t.name,
                op.name(),
                got.exit,
                got.gas_used
            ));
        }
    }
    Ok(())
}

/// Garbage for the unused upper half of the slot of an `i32`/`f32` argument (none for 64-bit ones).
fn garbage(ty: Type, salt: u64) -> u64 {
    if ty.bytes() == 4 && salt & 1 == 1 {
        (salt.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1) << 32
    } else {
        0
    }
}

/// The invocations of [`pure_module`]'s functions on every pair of edge values (function, op, arguments);
/// every other argument of 32 bits has garbage in the upper half of its slot.
fn edge_cases(ops: &[Pure]) -> Vec<(u32, Pure, Vec<u64>)> {
    let mut out = Vec::new();
    for (i, &op) in ops.iter().enumerate() {
        let params = op.params();
        let firsts = edges(params[0]);
        let seconds = if params.len() == 2 { edges(params[1]) } else { vec![0] };
        for (j, &a) in firsts.iter().enumerate() {
            for &b in &seconds {
                let args = params.iter().zip([a, b]).map(|(&t, x)| x | garbage(t, (j as u64) & 1)).collect();
                out.push((i as u32 + 1, op, args));
            }
        }
    }
    out
}

#[test]
fn float_ops_and_conversions_match_the_semantics_on_edge_values() {
    let ops = all_pure();
    let module = pure_module(&ops);
    let tiers = tiers(&module);
    let cases = edge_cases(&ops);
    for (func, op, args) in &cases {
        check_pure(&module, &tiers, *func, *op, args).unwrap_or_else(|e| panic!("{e}"));
    }
    eprintln!("{} invocations of {} operations agree on {} tiers", cases.len(), ops.len(), tiers.len());
}

#[test]
fn float_ops_and_conversions_match_the_semantics_on_random_values() {
    let ops = all_pure();
    let module = pure_module(&ops);
    let tiers = tiers(&module);
    let mut runner = TestRunner::new(Config { cases: 3000, failure_persistence: None, ..Config::default() });
    let strategy = (0..ops.len()).prop_flat_map(|i| {
        let params = ops[i].params();
        let second = *params.last().expect("every op takes an operand");
        (Just(i), bits_of(params[0]), bits_of(second), any::<u32>())
    });
    let ops_ref = &ops;
    runner
        .run(&strategy, |(i, a, b, junk)| {
            let op = ops_ref[i];
            let params = op.params();
            let args: Vec<u64> = params.iter().zip([a, b]).map(|(&t, x)| x | garbage(t, u64::from(junk))).collect();
            check_pure(&module, &tiers, i as u32 + 1, op, &args).map_err(TestCaseError::fail)
        })
        .unwrap();
}

/// A function of [`constants_module`]: its index, its operation and the operands of each of its results.
type ConstantCase = (u32, Pure, Vec<Vec<u64>>);

/// Functions computing the operations on constant operands (so that constant folding, in the backend or
/// Cranelift's mid-end, must agree with the semantics too): per operation, functions return one result per
/// operand (or operand pair) that converts without trapping; each constant that traps gets a function of
/// its own. Returns the module and, per function, the operation and the operands of each result.
fn constants_module() -> (Module, Vec<ConstantCase>) {
    let few = |ty: Type| -> Vec<u64> {
        let all = edges(ty);
        // The zeros, infinities and NaNs (the first eight), then a spread of the rest.
        all[..8].iter().copied().chain(all[8..].iter().copied().step_by(6)).collect()
    };
    let konst = |ty: Type, bits: u64, v: usize| match ty {
        Type::F32 | Type::F64 => format!("v{v} = fconst.{ty} {bits:#x}"),
        _ => format!("v{v} = iconst.{ty} {}", bits as i64),
    };
    let mut text = EMPTY_ENTRY.to_string();
    let mut cases: Vec<ConstantCase> = Vec::new();
    let mut next_func = 1u32;
    for op in all_pure() {
        let params = op.params();
        let tuples: Vec<Vec<u64>> = if params.len() == 2 {
            let xs = few(params[0]);
            xs.iter().flat_map(|&a| xs.iter().map(move |&b| vec![a, b])).collect()
        } else {
            edges(params[0]).into_iter().map(|a| vec![a]).collect()
        };
        let (ok, trapping): (Vec<Vec<u64>>, Vec<Vec<u64>>) =
            tuples.into_iter().partition(|args| op.reference(args).is_ok());
        // A few results per function: Cranelift (a debug build, in tests) allocates registers for long
        // functions with many live values slowly.
        for chunk in ok.chunks(24) {
            let mut body = Vec::new();
            let mut results = Vec::new();
            for (k, args) in chunk.iter().enumerate() {
                // Values v(base)..: the operands, then the result.
                let base = k * (params.len() + 1);
                let names: Vec<String> = (0..params.len()).map(|i| format!("v{}", base + i)).collect();
                for (i, (&a, &t)) in args.iter().zip(&params).enumerate() {
                    body.push(konst(t, a, base + i));
                }
                let r = base + params.len();
                body.push(format!("v{r} = {}", op.inst(&names)));
                results.push(format!("v{r}"));
            }
            body.push(format!("return {}", results.join(", ")));
            text.push_str(&function(
                &format!("c{next_func}.{}", op.name()),
                &[],
                &vec![op.result(); chunk.len()],
                &body,
            ));
            cases.push((next_func, op, chunk.to_vec()));
            next_func += 1;
        }
        for args in trapping {
            let body = [konst(params[0], args[0], 0), format!("v1 = {}", op.inst(&["v0".into()])), "return v1".into()];
            text.push_str(&function(&format!("t{next_func}.{}", op.name()), &[], &[op.result()], &body));
            cases.push((next_func, op, vec![args]));
            next_func += 1;
        }
    }
    (parse(&text), cases)
}

/// What a function of [`constants_module`] should give: how it stops and its results.
fn constants_expected(op: Pure, tuples: &[Vec<u64>]) -> (Option<Exit>, Vec<u64>) {
    let want: Vec<Result<u64, TrapCode>> = tuples.iter().map(|args| op.reference(args)).collect();
    match want.iter().find_map(|r| r.err()) {
        Some(code) => (Some(Exit::Trap(code)), vec![0]),
        None => (None, want.iter().map(|r| *r.as_ref().unwrap()).collect()),
    }
}

#[test]
fn float_ops_on_constants_match_the_semantics() {
    let (module, cases) = constants_module();
    let tiers = tiers(&module);
    for (func, op, tuples) in &cases {
        let (want_exit, want_values) = constants_expected(*op, tuples);
        for t in &tiers {
            let got = invoke_fresh(&module, &t.code, *func, &vec![0; want_values.len()]);
            assert_eq!(got.exit, want_exit, "{} {} {tuples:x?}", t.name, op.name());
            assert_eq!(got.gas_used, BLOCK_GAS, "{} {}", t.name, op.name());
            for (k, (&g, &w)) in got.values.iter().zip(&want_values).enumerate() {
                assert_eq!(g, w, "{} {} {:x?}: {g:#x}, want {w:#x}", t.name, op.name(), tuples[k]);
            }
        }
    }
}

/// A result worked out by hand: operation, operands, result (`i32`/`f32` zero-extended) or trap.
type Known = (Pure, Vec<u64>, Result<u64, TrapCode>);

/// Checks hand-computed results against the reference (so the reference itself is checked too) and every
/// tier.
fn check_known(cases: &[Known]) {
    let mut ops: Vec<Pure> = Vec::new();
    for (op, _, _) in cases {
        if !ops.iter().any(|o| o.name() == op.name()) {
            ops.push(*op);
        }
    }
    let module = pure_module(&ops);
    let tiers = tiers(&module);
    for (op, args, want) in cases {
        let what = format!("{} {args:x?}", op.name());
        assert_eq!(op.reference(args), *want, "reference: {what}");
        let func = ops.iter().position(|o| o.name() == op.name()).unwrap() as u32 + 1;
        for t in &tiers {
            let got = invoke_fresh(&module, &t.code, func, args);
            match want {
                Ok(v) => assert_eq!((got.exit, got.values[0]), (None, *v), "{}: {what}", t.name),
                Err(code) => assert_eq!(got.exit, Some(Exit::Trap(*code)), "{}: {what}", t.name),
            }
        }
    }
}

const CANON32: u32 = 0x7fc0_0000;
const CANON64: u64 = 0x7ff8_0000_0000_0000;

fn b32(x: f32) -> u64 {
    u64::from(x.to_bits())
}

fn b64(x: f64) -> u64 {
    x.to_bits()
}

fn fun(op: FUnOp, ty: Type) -> Pure {
    Pure::Unary(op, ty)
}

fn fbin(op: FBinOp, ty: Type) -> Pure {
    Pure::Binary(op, ty)
}

#[test]
fn float_ops_give_known_values() {
    use FBinOp::{Add, Copysign, Eq, Max, Min, Ne};
    use FUnOp::{Abs, Ceil, Floor, Nearest, Neg, Sqrt};
    use Type::{F32, F64};
    let mut cases: Vec<Known> = vec![
        (fun(Nearest, F32), vec![b32(-0.4)], Ok(b32(-0.0))),
        (fun(Floor, F64), vec![b64(-0.5)], Ok(b64(-1.0))),
        (fun(Ceil, F64), vec![b64(-0.5)], Ok(b64(-0.0))),
        (fun(Ceil, F32), vec![b32(-0.5)], Ok(b32(-0.0))),
        // NaN results are the canonical NaN, whatever the operands' NaNs were ...
        (fbin(Add, F32), vec![0xffc0_0001, 0x7f80_0001], Ok(u64::from(CANON32))),
        (fbin(Add, F32), vec![0xffc0_1234, b32(1.0)], Ok(u64::from(CANON32))),
        (fbin(Add, F64), vec![0x7ff0_0000_0000_0001, b64(1.0)], Ok(CANON64)),
        (fbin(Add, F64), vec![b64(f64::INFINITY), b64(f64::NEG_INFINITY)], Ok(CANON64)),
        (fbin(Min, F32), vec![0xffc0_1234, b32(1.0)], Ok(u64::from(CANON32))),
        (fbin(Min, F32), vec![0x7fc0_1234, b32(1.0)], Ok(u64::from(CANON32))),
        (fun(Sqrt, F64), vec![b64(-1.0)], Ok(CANON64)),
        // ... except for the sign-bit operations, which keep the payload.
        (fun(Abs, F32), vec![0xffc0_1234], Ok(0x7fc0_1234)),
        (fun(Neg, F32), vec![0x7fc0_1234], Ok(0xffc0_1234)),
        (fun(Neg, F64), vec![0x7ff8_0000_0000_1234], Ok(0xfff8_0000_0000_1234)),
        (fbin(Copysign, F32), vec![0x7fc0_1234, b32(-1.0)], Ok(0xffc0_1234)),
        // f32 results are zero-extended: nothing above bit 31.
        (fun(Neg, F32), vec![b32(1.0)], Ok(0xbf80_0000)),
        // Comparisons with NaN: only `ne` holds.
        (fbin(Eq, F64), vec![CANON64, CANON64], Ok(0)),
        (fbin(Ne, F64), vec![CANON64, CANON64], Ok(1)),
        (fbin(Ne, F64), vec![b64(f64::NAN), b64(f64::NAN)], Ok(1)),
        (fun(Nearest, F64), vec![b64(-0.5)], Ok(b64(-0.0))),
        (fun(Nearest, F64), vec![b64(4503599627370497.0)], Ok(b64(4503599627370497.0))),
    ];
    // -0 is below +0 for min and max, in both orders.
    for (ty, pz, nz) in [(F32, b32(0.0), b32(-0.0)), (F64, b64(0.0), b64(-0.0))] {
        cases.push((fbin(Min, ty), vec![pz, nz], Ok(nz)));
        cases.push((fbin(Min, ty), vec![nz, pz], Ok(nz)));
        cases.push((fbin(Max, ty), vec![pz, nz], Ok(pz)));
        cases.push((fbin(Max, ty), vec![nz, pz], Ok(pz)));
    }
    // Nearest: ties to even.
    let ties =
        [(0.5, 0.0), (1.5, 2.0), (2.5, 2.0), (3.5, 4.0), (-2.5, -2.0), (-1.5, -2.0), (-3.5, -4.0), (2.4999, 2.0)];
    for (x, r) in ties {
        cases.push((fun(Nearest, F64), vec![b64(x)], Ok(b64(r))));
        cases.push((fun(Nearest, F32), vec![b32(x as f32)], Ok(b32(r as f32))));
    }
    // Conversions (more in `conversion_cases`).
    cases.extend([
        (conv("ftou", "f32", "i32"), vec![b32(-0.9)], Ok(0)),
        (conv("ftou", "f32", "i32"), vec![b32(4294967296.0)], Err(TrapCode::IntegerOverflow)),
        (conv("ftos", "f64", "i32"), vec![b64(f64::NAN)], Err(TrapCode::BadConversion)),
        (conv("ftos_sat", "f64", "i64"), vec![b64(f64::NEG_INFINITY)], Ok(i64::MIN as u64)),
    ]);
    check_known(&cases);
}

/// The float conversion `op` (its text name) from `from` to `to`.
fn conv(op: &str, from: &str, to: &str) -> Pure {
    let ty = |name: &str| *SCALARS.iter().find(|t| t.to_string() == name).unwrap();
    let op = ConvOp::ALL
        .into_iter()
        .find(|&c| {
            !matches!(c, ConvOp::Zext | ConvOp::Sext | ConvOp::Trunc | ConvOp::SatU64)
                && zvm_ir::text::convop_name(c) == op
        })
        .unwrap();
    Pure::Convert(op, ty(from), ty(to))
}

/// A conversion worked out by hand: operation, from, to, operand bits, result bits or trap.
type Conversion = (&'static str, &'static str, &'static str, u64, Result<u64, TrapCode>);

fn conversion_cases() -> Vec<Conversion> {
    use TrapCode::{BadConversion as Bad, IntegerOverflow as Ovf};
    let ok = |x: u64| Ok(x);
    let i32b = |x: i32| u64::from(x as u32);
    let two63 = 9223372036854775808.0f64;
    #[rustfmt::skip]
    let cases = vec![
        // Trapping float -> int: truncation toward zero; NaN is bad_conversion, out of range int_overflow.
        ("ftos", "f64", "i32", b64(2147483647.9), ok(0x7fff_ffff)),
        ("ftos", "f64", "i32", b64(2147483648.0), Err(Ovf)),
        ("ftos", "f64", "i32", b64(-2147483648.9), ok(0x8000_0000)),
        ("ftos", "f64", "i32", b64(-2147483649.0), Err(Ovf)),
        ("ftos", "f64", "i32", b64(-1.5), ok(i32b(-1))),
        ("ftos", "f64", "i32", b64(-0.0), ok(0)),
        ("ftos", "f64", "i32", CANON64, Err(Bad)),
        ("ftos", "f64", "i32", 0xfff0_0000_0000_0001, Err(Bad)),
        ("ftos", "f64", "i32", b64(f64::INFINITY), Err(Ovf)),
        ("ftos", "f32", "i32", b32(-2147483648.0), ok(0x8000_0000)),
        ("ftos", "f32", "i32", b32(2147483648.0), Err(Ovf)),
        ("ftos", "f32", "i64", b32(-9223372036854775808.0), ok(i64::MIN as u64)),
        ("ftos", "f32", "i64", b32(9223372036854775808.0), Err(Ovf)),
        ("ftos", "f64", "i64", b64(-1e18), ok(-1_000_000_000_000_000_000i64 as u64)),
        ("ftos", "f64", "i64", b64(two63), Err(Ovf)),
        ("ftos", "f32", "i64", u64::from(CANON32), Err(Bad)),
        ("ftou", "f64", "i32", b64(-0.9), ok(0)),
        ("ftou", "f64", "i32", b64(-1.0), Err(Ovf)),
        ("ftou", "f64", "i32", b64(4294967295.9), ok(0xffff_ffff)),
        ("ftou", "f64", "i32", b64(4294967296.0), Err(Ovf)),
        ("ftou", "f32", "i64", b32(18446742974197923840.0), ok(18446742974197923840)),
        ("ftou", "f32", "i64", b32(18446744073709551616.0), Err(Ovf)),
        ("ftou", "f64", "i64", b64(two63), ok(1 << 63)),
        ("ftou", "f64", "i64", b64(f64::NEG_INFINITY), Err(Ovf)),
        ("ftou", "f64", "i64", CANON64, Err(Bad)),
        // Saturating: NaN is 0, out-of-range values the nearest bound.
        ("ftos_sat", "f64", "i32", b64(1e10), ok(0x7fff_ffff)),
        ("ftos_sat", "f64", "i32", b64(-1e10), ok(0x8000_0000)),
        ("ftos_sat", "f32", "i32", b32(f32::NEG_INFINITY), ok(0x8000_0000)),
        ("ftos_sat", "f64", "i32", CANON64, ok(0)),
        ("ftos_sat", "f64", "i32", b64(-3.99), ok(i32b(-3))),
        ("ftos_sat", "f32", "i64", b32(1e30), ok(i64::MAX as u64)),
        ("ftos_sat", "f32", "i64", 0xffc0_0000, ok(0)),
        ("ftou_sat", "f64", "i32", b64(-5.0), ok(0)),
        ("ftou_sat", "f64", "i32", b64(5e9), ok(0xffff_ffff)),
        ("ftou_sat", "f64", "i64", b64(1e30), ok(u64::MAX)),
        ("ftou_sat", "f64", "i64", b64(f64::INFINITY), ok(u64::MAX)),
        ("ftou_sat", "f64", "i64", CANON64, ok(0)),
        ("ftou_sat", "f32", "i64", b32(-1.0), ok(0)),
        ("ftou_sat", "f32", "i64", b32(1234.75), ok(1234)),
        // Int -> float: round to nearest, ties to even.
        ("stof", "i32", "f32", 0xffff_ffff, ok(b32(-1.0))),
        ("stof", "i32", "f64", 0x8000_0000, ok(b64(-2147483648.0))),
        ("utof", "i32", "f32", 0xffff_ffff, ok(b32(4294967296.0))),
        ("utof", "i32", "f64", 0xffff_ffff, ok(b64(4294967295.0))),
        ("stof", "i64", "f32", 16777217, ok(b32(16777216.0))),
        ("stof", "i64", "f32", 16777219, ok(b32(16777220.0))),
        ("stof", "i64", "f64", u64::MAX, ok(b64(-1.0))),
        ("stof", "i64", "f64", (1 << 53) + 1, ok(b64(9007199254740992.0))),
        ("utof", "i64", "f32", u64::MAX, ok(b32(18446744073709551616.0))),
        ("utof", "i64", "f64", u64::MAX, ok(b64(18446744073709551616.0))),
        ("utof", "i64", "f64", 1 << 63, ok(b64(two63))),
        // Promotion and demotion.
        ("fpromote", "f32", "f64", b32(1.5), ok(b64(1.5))),
        ("fpromote", "f32", "f64", b32(-0.0), ok(b64(-0.0))),
        ("fpromote", "f32", "f64", b32(1e-45), ok(b64(f64::from(1e-45f32)))),
        ("fpromote", "f32", "f64", 0xffc0_1234, ok(CANON64)),
        ("fdemote", "f64", "f32", b64(1e300), ok(b32(f32::INFINITY))),
        ("fdemote", "f64", "f32", b64(0.1), ok(b32(0.1))),
        ("fdemote", "f64", "f32", b64(1.0 + 2f64.powi(-24)), ok(b32(1.0))), // a tie: to even
        ("fdemote", "f64", "f32", b64(1.0 + 3.0 * 2f64.powi(-24)), ok(b32(1.0 + 2f32.powi(-22)))),
        ("fdemote", "f64", "f32", 0x7ff0_0000_0000_0001, ok(u64::from(CANON32))),
        // Bit casts keep every bit.
        ("bitcast", "f32", "i32", b32(-0.0), ok(0x8000_0000)),
        ("bitcast", "f32", "i32", 0x7f80_0001, ok(0x7f80_0001)),
        ("bitcast", "i32", "f32", 0xffc0_1234, ok(0xffc0_1234)),
        ("bitcast", "f64", "i64", 0xfff0_0000_0000_0001, ok(0xfff0_0000_0000_0001)),
        ("bitcast", "i64", "f64", b64(-2.5), ok(b64(-2.5))),
    ];
    cases
}

#[test]
fn float_conversions_give_known_values() {
    let cases: Vec<Known> = conversion_cases()
        .into_iter()
        .map(|(op, from, to, input, want)| (conv(op, from, to), vec![input], want))
        .collect();
    check_known(&cases);
}

#[test]
fn float_loop_with_block_params() {
    let module = support::parse_with_entry(
        "
function %sum(f64, i64) -> f64 {
block0(v0: f64, v1: i64):
    v2 = fconst.f64 0
    jump block1(v2, v1)
block1(v3: f64, v4: i64):
    brif v4, block2, block3
block2:
    v5 = fadd v3, v0
    v6 = iconst.i64 1
    v7 = sub v4, v6
    jump block1(v5, v7)
block3:
    return v3
}
",
    );
    let mut sum = 0.0f64;
    for _ in 0..10 {
        sum += 0.1;
    }
    assert_ne!(sum, 1.0);
    for t in tiers(&module) {
        let got = invoke_fresh(&module, &t.code, 0, &[b64(0.1), 10]);
        assert_eq!((got.exit, got.values[0]), (None, b64(sum)), "{}", t.name);
    }
}

/// `function %f() { v1 = OP.i32 (fconst.f64 BITS) }`: a conversion whose result is unused.
fn unused_conversion(op: &str, bits: u64) -> Module {
    support::parse_with_entry(&format!(
        "function %f() {{\nblock0:\n    v0 = fconst.f64 {bits:#x}\n    v1 = {op}.i32 v0\n    return\n}}\n"
    ))
}

#[test]
fn unused_trapping_conversions_still_trap() {
    let cases = [
        ("ftos", CANON64, Some(Exit::Trap(TrapCode::BadConversion))),
        ("ftou", b64(-1.0), Some(Exit::Trap(TrapCode::IntegerOverflow))),
        ("ftos_sat", CANON64, None),
    ];
    for (op, bits, want) in cases {
        let module = unused_conversion(op, bits);
        for t in tiers(&module) {
            assert_eq!(invoke_fresh(&module, &t.code, 0, &[]).exit, want, "{}: {op}", t.name);
        }
    }
}

// ---- constant folding in the interpreter ---------------------------------------------------------------

/// Code length of a [`support::parse_with_entry`] module whose function 0 folded completely: its `return`
/// and the trap every function ends with, twice (the added entry function is the same).
const FOLDED: usize = 4;

/// Runs function 0 of `module` (no arguments) on the interpreter: its `n` results, or its stop.
fn interp_call0(module: &Module, n: usize) -> Result<Vec<u64>, Exit> {
    let code = Code::Interp(Box::new(Program::new(module)));
    with_frame(module, &Limits::default(), GAS, |frame| {
        let mut values = vec![0; n];
        match invoke_on(&code, frame, 0, &mut values) {
            None => Ok(values),
            Some(exit) => Err(exit),
        }
    })
}

/// A function applying every binary (`unary` false) or unary float operation of type `ty` to the constants
/// `consts`, all of whose results it returns (in the order of `FBinOp::ALL` / `FUnOp::ALL`).
fn constant_ops_module(ty: &str, consts: &[u64]) -> Module {
    let names: Vec<&str> =
        if consts.len() == 2 { FBinOp::ALL.map(FBinOp::name).to_vec() } else { FUnOp::ALL.map(FUnOp::name).to_vec() };
    let mut body = String::new();
    for (i, c) in consts.iter().enumerate() {
        body += &format!("    v{i} = fconst.{ty} {c:#x}\n");
    }
    let operands: Vec<String> = (0..consts.len()).map(|i| format!("v{i}")).collect();
    let mut results = Vec::new();
    let mut types = Vec::new();
    for (k, name) in names.iter().enumerate() {
        let r = consts.len() + k;
        body += &format!("    v{r} = {name} {}\n", operands.join(", "));
        results.push(format!("v{r}"));
        let comparison = consts.len() == 2 && FBinOp::ALL[k].is_comparison();
        types.push(if comparison { "i32" } else { ty });
    }
    support::parse_with_entry(&format!(
        "function %f() -> {} {{\nblock0:\n{body}    return {}\n}}\n",
        types.join(", "),
        results.join(", ")
    ))
}

/// The bits of an arithmetic result: any NaN is the canonical one.
fn c32(x: f32) -> u64 {
    if x.is_nan() {
        u64::from(CANON32)
    } else {
        b32(x)
    }
}

fn c64(x: f64) -> u64 {
    if x.is_nan() {
        CANON64
    } else {
        b64(x)
    }
}

/// Expected results of [`constant_ops_module`], from Rust's float operations and the WebAssembly rules
/// (independently of `zvm_ir::semantics`): arithmetic NaNs are canonical; `min`/`max` of a NaN are NaN and
/// order -0 below +0; `abs`, `neg`, `copysign` only touch the sign bit.
macro_rules! reference {
    ($bin:ident, $un:ident, $t:ty, $bits:ty, $c:ident, $b:ident) => {
        fn $bin(x: u64, y: u64) -> Vec<u64> {
            let (a, b) = (<$t>::from_bits(x as $bits), <$t>::from_bits(y as $bits));
            let minmax = |min: bool| {
                if a.is_nan() || b.is_nan() {
                    $c(<$t>::NAN)
                } else if a == 0.0 && b == 0.0 {
                    let negative = if min {
                        a.is_sign_negative() || b.is_sign_negative()
                    } else {
                        a.is_sign_negative() && b.is_sign_negative()
                    };
                    $b(if negative { -0.0 } else { 0.0 })
                } else if min {
                    $b(a.min(b))
                } else {
                    $b(a.max(b))
                }
            };
            let mut r = vec![$c(a + b), $c(a - b), $c(a * b), $c(a / b), minmax(true), minmax(false)];
            r.push($b(a.copysign(b)));
            r.extend([a == b, a != b, a < b, a > b, a <= b, a >= b].map(u64::from));
            r
        }

        fn $un(x: u64) -> Vec<u64> {
            let a = <$t>::from_bits(x as $bits);
            vec![$b(a.abs()), $b(-a), $c(a.sqrt()), $c(a.ceil()), $c(a.floor()), $c(a.trunc()), $c(a.round_ties_even())]
        }
    };
}

reference!(ref_binary32, ref_unary32, f32, u32, c32, b32);
reference!(ref_binary64, ref_unary64, f64, u64, c64, b64);

/// Operands of [`interpreter_folds_float_operations_on_constants`], of both types.
const INTERESTING: [f64; 12] =
    [0.0, -0.0, 1.0, -1.0, 0.1, 1.5, 2.5, -2.5, 3.0, -7.25, f64::INFINITY, f64::NEG_INFINITY];

fn interesting32() -> Vec<u64> {
    let mut v: Vec<u64> = INTERESTING.map(|x| b32(x as f32)).to_vec();
    // Large, smallest normal, subnormal; NaNs: canonical, negative with a payload, signalling.
    v.extend([1e30, f32::MAX, f32::MIN_POSITIVE, 1e-45].map(b32));
    v.extend([u64::from(CANON32), 0xffc0_1234, 0x7f80_0001]);
    v
}

fn interesting64() -> Vec<u64> {
    let mut v: Vec<u64> = INTERESTING.map(b64).to_vec();
    v.extend([1e300, f64::MAX, f64::MIN_POSITIVE, 5e-324].map(b64));
    v.extend([CANON64, 0xfff8_0000_0000_1234, 0x7ff0_0000_0000_0001]);
    v
}

/// Float operations on constants fold away completely in the interpreter, to Rust's results.
#[test]
fn interpreter_folds_float_operations_on_constants() {
    type Binary = fn(u64, u64) -> Vec<u64>;
    type Unary = fn(u64) -> Vec<u64>;
    let types: [(&str, Vec<u64>, Binary, Unary); 2] =
        [("f32", interesting32(), ref_binary32, ref_unary32), ("f64", interesting64(), ref_binary64, ref_unary64)];
    for (ty, values, binary, unary) in types {
        for &a in &values {
            for &b in &values {
                let m = constant_ops_module(ty, &[a, b]);
                assert_eq!(Program::new(&m).code_len(), FOLDED, "{ty} {a:#x}, {b:#x}");
                assert_eq!(interp_call0(&m, FBinOp::ALL.len()), Ok(binary(a, b)), "{ty} {a:#x}, {b:#x}");
            }
            let m = constant_ops_module(ty, &[a]);
            assert_eq!(Program::new(&m).code_len(), FOLDED, "{ty} {a:#x}");
            assert_eq!(interp_call0(&m, FUnOp::ALL.len()), Ok(unary(a)), "{ty} {a:#x}");
        }
    }
}

/// Conversions of constants fold away in the interpreter unless they trap (then the trap happens at run
/// time); an unused saturating conversion (which cannot trap) is dropped.
#[test]
fn interpreter_folds_conversions_of_constants_that_do_not_trap() {
    for (op, from, to, input, want) in conversion_cases() {
        let what = format!("{op} {from} -> {to} of {input:#x}");
        let konst = if from.starts_with('f') { "fconst" } else { "iconst" };
        let m = support::parse_with_entry(&format!(
            "function %f() -> {to} {{\nblock0:\n    v0 = {konst}.{from} {input}\n    v1 = {op}.{to} v0\n    return v1\n}}\n"
        ));
        assert_eq!(Program::new(&m).code_len() == FOLDED, want.is_ok(), "{what}: folded");
        assert_eq!(interp_call0(&m, 1), want.map(|x| vec![x]).map_err(Exit::Trap), "{what}");
    }
    assert_eq!(Program::new(&unused_conversion("ftos_sat", CANON64)).code_len(), FOLDED);
}

// ---- memory, segments, globals -------------------------------------------------------------------------

const MEMORY_MODULE: &str = "
memory 1, 3
data 0x0102ff
data 0xaabbccddee

function %main() {
block0:
    return
}

; fn1(pages) -> old size in pages, or -1
function %grow(i64) -> i64 {
block0(v0: i64):
    gas.block 7
    v1 = mem.grow v0
    return v1
}

; fn2(pages, addr, x): reads the byte at 0 first (so memory base and size are in use), grows, stores x at addr
; (inside the new pages only if the size is read again) and returns the old size, x read back and the size.
function %grow_store(i64, i64, i64) -> i64, i64, i64 {
block0(v0: i64, v1: i64, v2: i64):
    gas.block 7
    v3 = iconst.i64 0
    v4 = load.i64.1.le v3
    v5 = mem.grow v0
    store.8.le v1, v2
    v6 = load.i64.8.le v1
    v7 = mem.size
    v8 = add v4, v6
    return v5, v8, v7
}

; fn3(dst, byte, len)
function %fill(i64, i32, i64) {
block0(v0: i64, v1: i32, v2: i64):
    gas.block 7
    mem.fill v0, v1, v2
    return
}

; fn4(dst, src, len): from segment 0
function %init0(i64, i64, i64) {
block0(v0: i64, v1: i64, v2: i64):
    gas.block 7
    mem.init 0 v0, v1, v2
    return
}

; fn5(dst, src, len): from segment 1
function %init1(i64, i64, i64) {
block0(v0: i64, v1: i64, v2: i64):
    gas.block 7
    mem.init 1 v0, v1, v2
    return
}

; fn6: drops segment 0
function %drop0() {
block0:
    gas.block 7
    data.drop 0
    return
}

; fn7(addr) -> the 8 bytes at addr
function %peek(i64) -> i64 {
block0(v0: i64):
    gas.block 7
    v1 = load.i64.8.le v0
    return v1
}
";

/// A memory model: the bytes and the dropped segments.
struct Model {
    memory: Vec<u8>,
    segments: Vec<Vec<u8>>,
}

#[test]
fn memory_grow_fill_init_and_drop() {
    let module = parse(MEMORY_MODULE);
    let limits = Limits { max_memory: 2 * PAGE + PAGE / 2, ..Limits::default() };
    for t in tiers(&module) {
        with_frame(&module, &limits, GAS, |frame| {
            let mut model = Model {
                memory: vec![0; PAGE as usize],
                segments: vec![vec![1, 2, 0xff], vec![0xaa, 0xbb, 0xcc, 0xdd, 0xee]],
            };
            let call = |frame: &mut Frame<'_>, func: u32, args: &[u64], n: usize| {
                let mut values = args.to_vec();
                values.resize(n.max(args.len()), 0);
                let before = frame.gas_left();
                let exit = invoke_on(&t.code, frame, func, &mut values);
                assert_eq!(before - frame.gas_left(), BLOCK_GAS, "{}: fn{func} {args:x?}", t.name);
                (exit, values)
            };
            let heap_oob = Some(Exit::Trap(TrapCode::MemoryOutOfBounds));

            // Fill, including the low byte of a wider i32 and the last byte of memory.
            assert_eq!(call(frame, 3, &[10, 0x1ab, 5], 0).0, None);
            model.memory[10..15].fill(0xab);
            assert_eq!(call(frame, 3, &[PAGE - 1, 7, 1], 0).0, None);
            model.memory[PAGE as usize - 1] = 7;
            assert_eq!(call(frame, 3, &[PAGE, 7, 0], 0).0, None, "{}: empty at the end", t.name);
            assert_eq!(call(frame, 3, &[PAGE - 1, 7, 2], 0).0, heap_oob, "{}", t.name);
            assert_eq!(call(frame, 3, &[u64::MAX, 7, 2], 0).0, heap_oob, "{}", t.name);

            // Init from both segments, then out of either range.
            assert_eq!(call(frame, 4, &[100, 1, 2], 0).0, None);
            model.memory[100..102].copy_from_slice(&model.segments[0][1..3]);
            assert_eq!(call(frame, 5, &[200, 0, 5], 0).0, None);
            model.memory[200..205].copy_from_slice(&model.segments[1]);
            assert_eq!(call(frame, 4, &[0, 2, 2], 0).0, heap_oob, "{}: source past the segment", t.name);
            assert_eq!(call(frame, 4, &[PAGE - 1, 0, 2], 0).0, heap_oob, "{}: destination past memory", t.name);
            assert_eq!(call(frame, 4, &[0, u64::MAX, 2], 0).0, heap_oob, "{}", t.name);
            assert_eq!(call(frame, 4, &[0, 3, 0], 0).0, None, "{}: empty at the segment's end", t.name);
            assert_eq!(call(frame, 4, &[0, 4, 0], 0).0, heap_oob, "{}: empty past the segment's end", t.name);

            // Drop segment 0: it is empty from now on (for the rest of the frame), segment 1 is not.
            assert_eq!(call(frame, 6, &[], 0).0, None);
            model.segments[0].clear();
            assert_eq!(call(frame, 4, &[0, 0, 1], 0).0, heap_oob, "{}: dropped", t.name);
            assert_eq!(call(frame, 4, &[0, 0, 0], 0).0, None, "{}: empty init of a dropped segment", t.name);
            assert_eq!(call(frame, 6, &[], 0).0, None, "{}: dropping twice", t.name);
            assert_eq!(call(frame, 5, &[300, 4, 1], 0).0, None);
            model.memory[300] = 0xee;
            assert_eq!(frame.memory(), &model.memory[..], "{}", t.name);

            // Grow: by 0, by 1, past the module's maximum (3 pages) and past the memory limit (2.5 pages).
            let (exit, v) = call(frame, 1, &[0], 1);
            assert_eq!((exit, v[0]), (None, 1), "{}", t.name);
            // Memory moves when it grows (and is reached through the context afterwards): the store lands in
            // the new page and reads back.
            let (exit, v) = call(frame, 2, &[1, PAGE + 8, 0x1122_3344_5566_7788], 3);
            assert_eq!(exit, None, "{}", t.name);
            assert_eq!(v, vec![1, 0x1122_3344_5566_7788, 2 * PAGE], "{}", t.name);
            model.memory.resize(2 * PAGE as usize, 0);
            model.memory[PAGE as usize + 8..PAGE as usize + 16]
                .copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
            let (exit, v) = call(frame, 1, &[1], 1);
            assert_eq!((exit, v[0]), (None, u64::MAX), "{}: past the memory limit", t.name);
            let (exit, v) = call(frame, 1, &[u64::MAX], 1);
            assert_eq!((exit, v[0]), (None, u64::MAX), "{}: overflowing page count", t.name);
            let (exit, v) = call(frame, 1, &[1 << 50], 1);
            assert_eq!((exit, v[0]), (None, u64::MAX), "{}", t.name);
            // A failed grow leaves memory as it was; the fill reaches the new page's end.
            assert_eq!(frame.memory().len() as u64, 2 * PAGE, "{}", t.name);
            assert_eq!(call(frame, 3, &[2 * PAGE - 4, 0x55, 4], 0).0, None);
            model.memory[2 * PAGE as usize - 4..].fill(0x55);
            let (exit, v) = call(frame, 7, &[2 * PAGE - 8], 1);
            assert_eq!((exit, v[0]), (None, 0x5555_5555_0000_0000), "{}", t.name);
            assert_eq!(call(frame, 7, &[2 * PAGE - 7], 1).0, heap_oob, "{}", t.name);
            assert_eq!(frame.memory(), &model.memory[..], "{}", t.name);
            assert_eq!(frame.detach().dropped, [true, false], "{}", t.name);
        });
    }

    // The module's maximum: 3 pages with a larger limit.
    for t in tiers(&module) {
        with_frame(&module, &Limits::default(), GAS, |frame| {
            let grow = |frame: &mut Frame<'_>, pages: u64| {
                let mut v = [pages];
                assert_eq!(invoke_on(&t.code, frame, 1, &mut v), None, "{}", t.name);
                v[0]
            };
            assert_eq!(grow(frame, 2), 1, "{}", t.name);
            assert_eq!(grow(frame, 1), u64::MAX, "{}: past the maximum", t.name);
            assert_eq!(grow(frame, 0), 3, "{}", t.name);
            assert_eq!(frame.memory().len() as u64, 3 * PAGE);
        });
    }
}

#[test]
fn memory_without_a_maximum_grows_to_the_limit_even_when_the_result_is_unused() {
    let module = parse(
        "
memory 0

function %main() {
block0:
    return
}

; fn1(pages) -> old size in pages, or -1
function %grow(i64) -> i64 {
block0(v0: i64):
    v1 = mem.grow v0
    return v1
}

; fn2: the size in bytes
function %size() -> i64 {
block0:
    v0 = mem.size
    return v0
}

; fn3(addr)
function %load(i64) -> i32 {
block0(v0: i64):
    v1 = load.i32.4.le v0
    return v1
}

; fn4(pages): a growth whose result is unused
function %grow_unused(i64) {
block0(v0: i64):
    v1 = mem.grow v0
    return
}
",
    );
    // No module maximum: the runtime's memory limit decides.
    let limits = Limits { max_memory: 2 * PAGE, ..Limits::default() };
    let (grow, size, load, grow_unused) = (1, 2, 3, 4);
    for t in tiers(&module) {
        with_frame(&module, &limits, GAS, |frame| {
            let mut call = |func: u32, arg: Option<u64>| {
                let mut values = vec![arg.unwrap_or(0)];
                invoke_on(&t.code, frame, func, &mut values).map_or(Ok(values[0]), Err)
            };
            assert_eq!(call(size, None), Ok(0), "{}", t.name);
            assert_eq!(call(load, Some(0)), Err(Exit::Trap(TrapCode::MemoryOutOfBounds)), "{}", t.name);
            assert_eq!(call(grow_unused, Some(1)), Ok(1), "{}: the argument stays", t.name);
            assert_eq!(call(size, None), Ok(PAGE), "{}: an unused growth still happens", t.name);
            assert_eq!(call(load, Some(PAGE - 4)), Ok(0), "{}", t.name);
            assert_eq!(call(grow, Some(2)), Ok(MINUS_ONE), "{}", t.name);
            assert_eq!(call(grow, Some(1)), Ok(1), "{}", t.name);
            assert_eq!(call(grow, Some(1)), Ok(MINUS_ONE), "{}", t.name);
            assert_eq!(call(size, None), Ok(2 * PAGE), "{}", t.name);
        });
    }
}

const GLOBALS_MODULE: &str = "
global i32
global i64
global f32
global f64

function %main() {
block0:
    return
}

; fn1: sets every global from its arguments
function %set(i32, i64, f32, f64) {
block0(v0: i32, v1: i64, v2: f32, v3: f64):
    gas.block 7
    global.set 0, v0
    global.set 1, v1
    global.set 2, v2
    global.set 3, v3
    return
}

; fn2: returns every global
function %get() -> i32, i64, f32, f64 {
block0:
    gas.block 7
    v0 = global.get 0
    v1 = global.get 1
    v2 = global.get 2
    v3 = global.get 3
    return v0, v1, v2, v3
}

; fn3: adds x to global 0 and returns the new value (a read-modify-write around a call)
function %bump(i32) -> i32 {
block0(v0: i32):
    gas.block 7
    v1 = global.get 0
    v2 = add v1, v0
    global.set 0, v2
    call fn4()
    v3 = global.get 0
    return v3
}

; fn4: doubles global 0
function %double() {
block0:
    v0 = global.get 0
    v1 = add v0, v0
    global.set 0, v1
    return
}
";

#[test]
fn globals_hold_their_types_in_8_byte_slots() {
    let module = parse(GLOBALS_MODULE);
    for t in tiers(&module) {
        with_frame(&module, &Limits::default(), GAS, |frame| {
            let get = |frame: &mut Frame<'_>| {
                let mut v = [0xdead_dead_dead_deadu64; 4];
                assert_eq!(invoke_on(&t.code, frame, 2, &mut v), None, "{}", t.name);
                v
            };
            assert_eq!(get(frame), [0; 4], "{}: globals start at zero", t.name);
            // The upper halves of the i32/f32 arguments' slots are ignored.
            let mut v = [0xffff_ffff_8000_0001, u64::MAX - 1, 0x1234_5678_7fc0_1234, (-2.5f64).to_bits()];
            assert_eq!(invoke_on(&t.code, frame, 1, &mut v), None, "{}", t.name);
            let slots = frame.globals_mut().to_vec();
            assert_eq!(slots[0] as u32, 0x8000_0001, "{}", t.name);
            assert_eq!(slots[1], u64::MAX - 1, "{}", t.name);
            assert_eq!(slots[2] as u32, 0x7fc0_1234, "{}: a NaN global keeps its payload", t.name);
            assert_eq!(slots[3], (-2.5f64).to_bits(), "{}", t.name);
            // i32/f32 globals are the low 4 bytes of their slots: whatever the upper 4 hold is not read.
            frame.globals_mut()[0] = 0xabcd_ef01_0000_0005;
            frame.globals_mut()[2] = 0x9999_9999_3f80_0000;
            assert_eq!(get(frame), [5, u64::MAX - 1, 0x3f80_0000, (-2.5f64).to_bits()], "{}", t.name);
            // (5 + 3) * 2, then (16 + 0x7fff_fff8) * 2 wrapping.
            let mut v = [3u64];
            assert_eq!(invoke_on(&t.code, frame, 3, &mut v), None, "{}", t.name);
            assert_eq!(v[0], 16, "{}", t.name);
            let mut v = [0x7fff_fff8u64];
            assert_eq!(invoke_on(&t.code, frame, 3, &mut v), None, "{}", t.name);
            assert_eq!(v[0], 0x0000_0010, "{}", t.name);
        });
    }
}

// ---- invocation ----------------------------------------------------------------------------------------

const INVOKE_MODULE: &str = "
function %main() -> i32 {
block0:
    v0 = iconst.i32 7
    return v0
}

; fn1: mixed parameters, results in another order, with a w256 among them (not written back)
function %mix(i32, i64, f32, f64) -> f64, w256, i32, i64, f32 {
block0(v0: i32, v1: i64, v2: f32, v3: f64):
    gas.block 7
    v4 = fpromote.f64 v2
    v5 = fadd v4, v3
    v6 = zext.w256 v1
    v7 = wconst 0x100000000000000000000
    v8 = add v6, v7
    v9 = add v0, v0
    v10 = zext.i64 v0
    v11 = mul v1, v10
    v12 = fneg v2
    return v5, v8, v9, v11, v12
}

; fn2: a w256 parameter: not invocable
function %word(w256) -> i32 {
block0(v0: w256):
    v1 = iconst.i32 1
    return v1
}

; fn3(n) = n + fn3(n - 1), fn3(0) = 0: recursion only reachable through invocation
function %sum(i64) -> i64 {
block0(v0: i64):
    gas.block 7
    brif v0, block1, block2
block1:
    v1 = iconst.i64 1
    v2 = sub v0, v1
    v3 = call fn3(v2)
    v4 = add v0, v3
    return v4
block2:
    return v0
}

; fn4(x): traps on 0, halts (returning nothing) on 1, else returns x
function %stop(i32) -> i32 {
block0(v0: i32):
    gas.block 7
    v1 = iconst.i32 1
    v2 = eq v0, v1
    brif v2, block3, block1
block1:
    brif v0, block2, block4
block2:
    return v0
block3:
    v3 = iconst.i64 0
    halt return v3, v3
block4:
    trap unreachable
}

; fn5: no parameters, a w256 result only
function %wide() -> w256 {
block0:
    v0 = wconst 0x5
    return v0
}
";

#[test]
fn invoke_passes_arguments_and_results() {
    let module = parse(INVOKE_MODULE);
    let sentinel = 0x5e5e_5e5e_5e5e_5e5eu64;
    let host_error = Some(Exit::Trap(TrapCode::HostError));
    for t in tiers(&module) {
        let name = t.name;
        // Arguments -3 (an i32, the slot's upper half set), 5, 1.5f32 (garbage above it) and 0.25; results
        // 1.5 + 0.25 (f64), a word (not written), -3 + -3 (an i32, zero-extended), 5 * 0xffff_fffd (the i32
        // zero-extended) and -1.5f32 (zero-extended).
        let args = [0xffff_ffff_ffff_fffd, 5, 0xaaaa_aaaa_3fc0_0000, 0.25f64.to_bits(), sentinel];
        let got = invoke_fresh(&module, &t.code, 1, &args);
        assert_eq!(got.exit, None, "{name}");
        assert_eq!(got.gas_used, BLOCK_GAS, "{name}");
        let want = [1.75f64.to_bits(), 5, 0xffff_fffa, 5 * 0xffff_fffd, u64::from((-1.5f32).to_bits())];
        // Result 1 is a w256: its slot keeps the argument that was there (5).
        assert_eq!(got.values, want, "{name}");

        // Too few slots for the results (5), a w256 parameter, an unknown function: host_error, no gas used.
        for (func, values) in [(1u32, vec![0u64; 4]), (2, vec![0; 4]), (6, vec![0; 4]), (u32::MAX, vec![])] {
            let got = invoke_fresh(&module, &t.code, func, &values);
            assert_eq!(got.exit, host_error, "{name}: fn{func}");
            assert_eq!(got.gas_used, 0, "{name}: fn{func}");
            assert_eq!(got.values, values, "{name}: fn{func}");
        }

        // Recursion: sum(n) = n(n+1)/2, 7 gas per level.
        for n in [0u64, 1, 10, 500] {
            let got = invoke_fresh(&module, &t.code, 3, &[n]);
            assert_eq!((got.exit, got.values[0]), (None, n * (n + 1) / 2), "{name}: sum({n})");
            assert_eq!(got.gas_used, BLOCK_GAS * (n + 1), "{name}");
        }
        // Deeper than the call depth limit.
        let got = invoke_fresh(&module, &t.code, 3, &[5000]);
        assert_eq!(got.exit, Some(Exit::Trap(TrapCode::CallStackExhausted)), "{name}");
        assert_eq!(got.values, vec![5000], "{name}: a stop writes no results");

        // Stops: values untouched.
        for (x, exit) in [(0u64, Some(Exit::Trap(TrapCode::Unreachable))), (1, Some(Exit::Halt(HaltKind::Return)))] {
            let got = invoke_fresh(&module, &t.code, 4, &[x]);
            assert_eq!((got.exit, got.values), (exit, vec![x]), "{name}");
        }
        let got = invoke_fresh(&module, &t.code, 4, &[0xffff_ffff_0000_0009]);
        assert_eq!((got.exit, got.values), (None, vec![9]), "{name}: the upper half is dropped");

        // The entry (its result is written when invoked), and a w256-only result (nothing written).
        let got = invoke_fresh(&module, &t.code, 0, &[sentinel]);
        assert_eq!((got.exit, got.values), (None, vec![7]), "{name}");
        let got = invoke_fresh(&module, &t.code, 5, &[sentinel]);
        assert_eq!((got.exit, got.values), (None, vec![sentinel]), "{name}");
        let got = invoke_fresh(&module, &t.code, 5, &[]);
        assert_eq!(got.exit, host_error, "{name}: one slot per result, even a w256");
    }

    // A plain run starts in the entry (which returns a result nobody reads).
    let code = compile(&module, &JitOptions::default()).unwrap();
    let aot = aot(&module);
    for native in [&code as &dyn NativeCode, &*aot] {
        assert_eq!(native.entry_index(), 0);
        with_frame(&module, &Limits::default(), GAS, |frame| assert_eq!(compiled::run(native, frame), None));
        // The only recursion is reachable through invocation only, and the bound covers it.
        assert!(native.stack_bound().is_recursive());
        assert_eq!(
            native.dispatch(),
            &Dispatch { entry: 0, slots: vec![Some(1), Some(5), None, Some(1), Some(1), Some(1)] }
        );
    }
}

#[test]
fn run_starts_at_an_entry_that_is_not_the_first_function() {
    let module = parse(
        "
entry fn1

function %helper(i64) -> i64 {
block0(v0: i64):
    gas.block 3
    v1 = iconst.i64 1
    v2 = add v0, v1
    return v2
}

function %main() {
block0:
    gas.block 5
    v0 = iconst.i64 41
    v1 = call fn0(v0)
    v2 = iconst.i64 0
    v3 = iconst.i64 8
    v4 = zext.w256 v2
    v5 = zext.w256 v3
    mem.expand v4, v5
    store.8.le v2, v1
    halt return v2, v3
}
",
    );
    for t in tiers(&module) {
        let (exit, output, gas_used) = with_frame(&module, &Limits::default(), GAS, |frame| {
            let exit = match &t.code {
                Code::Interp(p) => interpreter::run(p, frame),
                Code::Native(c) => {
                    assert_eq!(c.entry_index(), 1);
                    compiled::run(&**c, frame)
                }
            };
            (exit, frame.output.clone(), GAS - frame.gas_left())
        });
        assert_eq!(exit, Some(Exit::Halt(HaltKind::Return)), "{}", t.name);
        assert_eq!(output, 42u64.to_le_bytes().to_vec(), "{}", t.name);
        // The two blocks and one word of memory (3 gas).
        assert_eq!(gas_used, 5 + 3 + 3, "{}", t.name);
    }
}

/// The aarch64 object of every module here emits, and its metadata says what the trampoline dispatches to.
#[test]
fn aarch64_objects_emit_with_their_dispatch() {
    let modules = [pure_module(&all_pure()), parse(MEMORY_MODULE), parse(GLOBALS_MODULE), parse(INVOKE_MODULE)];
    for module in &modules {
        for target in Target::ALL {
            let object =
                emit_object(module, target, &JitOptions::default()).unwrap_or_else(|e| panic!("{target:?}: {e}"));
            let dispatch = Dispatch::of(module);
            let meta = meta_of(&object, module.functions.len()).unwrap_or_else(|| panic!("{target:?}: no metadata"));
            assert_eq!(meta.dispatch, dispatch, "{target:?}");
            assert_eq!(meta.abi_version, zvm_compiler::abi::ABI_VERSION);
        }
    }
}

// ---- aarch64 -------------------------------------------------------------------------------------------

/// A driver for the pure functions of an aarch64 object: reads `FUNC NIN NOUT ARGS...` lines (hex
/// arguments), calls the trampoline with a context that only has gas (pure functions touch nothing else)
/// and prints `STATUS GAS_LEFT RESULTS...`.
const DRIVER_C: &str = r#"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern uint32_t zvm_entry(void *ctx, uint32_t func, uint64_t *values);

static _Alignas(16) unsigned char ctx[ZVM_VMCTX_SIZE];
static uint64_t values[4096];

int main(void) {
    unsigned func, nin, nout;
    while (scanf("%u %u %u", &func, &nin, &nout) == 3) {
        if (nin > 4096 || nout > 4096) return 2;
        memset(values, 0, sizeof values);
        for (unsigned i = 0; i < nin; i++) {
            unsigned long long x;
            if (scanf("%llx", &x) != 1) return 2;
            values[i] = x;
        }
        memset(ctx, 0, sizeof ctx);
        uint64_t gas = ZVM_GAS;
        memcpy(ctx + ZVM_OFF_GAS_LEFT, &gas, sizeof gas);
        uint32_t status = zvm_entry(ctx, func, values);
        memcpy(&gas, ctx + ZVM_OFF_GAS_LEFT, sizeof gas);
        printf("%u %llu", status, (unsigned long long)gas);
        for (unsigned i = 0; i < nout; i++) printf(" %llx", (unsigned long long)values[i]);
        printf("\n");
    }
    return 0;
}
"#;

/// Runs `calls` (function, arguments, number of results) on the aarch64 object of `module` under qemu;
/// returns (status, gas left, results) of each.
fn run_on_aarch64(
    dir: &std::path::Path,
    name: &str,
    module: &Module,
    calls: &[(u32, Vec<u64>, usize)],
) -> Vec<(u32, u64, Vec<u64>)> {
    use std::mem::offset_of;
    use zvm_compiler::abi::VmCtx;
    let defines = [
        ("ZVM_VMCTX_SIZE", std::mem::size_of::<VmCtx>() as u64),
        ("ZVM_OFF_GAS_LEFT", offset_of!(VmCtx, gas_left) as u64),
    ];
    let exe = link_aarch64(dir, name, module, DRIVER_C, &defines);
    let text: String = calls.iter().map(|(func, args, nout)| driver_line(*func, args, *nout)).collect();
    run_under_qemu(&exe, &text, calls.len())
}

/// The pure operations on aarch64 (emulated by qemu, which implements the architecture's floating point
/// bit for bit): the edge values, the constants and random values, against the semantics. Needs
/// `aarch64-linux-gnu-gcc` (with the arm64 libc) and `qemu-aarch64`; without them it prints `SKIPPED` and
/// passes, unless `CI` is set.
#[test]
fn float_ops_on_aarch64_match_the_semantics() {
    let Some(dir) = aarch64_dir("wasm-ops") else { return };

    // Edge values, then random ones, on the module of one function per operation.
    let ops = all_pure();
    let module = pure_module(&ops);
    let mut cases = edge_cases(&ops);
    let mut runner = TestRunner::deterministic();
    for _ in 0..5000 {
        let i = (0..ops.len()).new_tree(&mut runner).unwrap().current();
        let params = ops[i].params();
        let args = params.iter().map(|&t| bits_of(t).new_tree(&mut runner).unwrap().current()).collect();
        cases.push((i as u32 + 1, ops[i], args));
    }
    let calls: Vec<(u32, Vec<u64>, usize)> = cases.iter().map(|(f, _, args)| (*f, args.clone(), 1)).collect();
    let got = run_on_aarch64(&dir, "pure", &module, &calls);
    for ((func, op, args), (status, gas, values)) in cases.iter().zip(&got) {
        let (exit, value) = match op.reference(args) {
            Ok(r) => (None, r),
            Err(code) => (Some(Exit::Trap(code)), args[0]),
        };
        assert_eq!(
            (*status, GAS - gas, values[0]),
            (expected_status(exit), BLOCK_GAS, value),
            "aarch64 fn{func} {} {args:x?}: want {exit:?} {value:#x}",
            op.name()
        );
    }

    // Constant operands.
    let (module, cases) = constants_module();
    let expected: Vec<(Option<Exit>, Vec<u64>)> = cases.iter().map(|(_, op, t)| constants_expected(*op, t)).collect();
    let calls: Vec<(u32, Vec<u64>, usize)> =
        cases.iter().zip(&expected).map(|((f, _, _), (_, want))| (*f, vec![], want.len())).collect();
    let got = run_on_aarch64(&dir, "constants", &module, &calls);
    for (((func, op, tuples), (exit, want)), (status, gas, values)) in cases.iter().zip(&expected).zip(&got) {
        assert_eq!((*status, GAS - gas), (expected_status(*exit), BLOCK_GAS), "aarch64 fn{func} {}", op.name());
        if exit.is_none() {
            for (k, (g, w)) in values.iter().zip(want).enumerate() {
                assert_eq!(g, w, "aarch64 {} {:x?}: {g:#x}, want {w:#x}", op.name(), tuples[k]);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
