//! The interpreter on the WebAssembly support operations (floats, float conversions, `mem.grow`/`fill`/
//! `init`, `data.drop`, globals) and on `interpreter::invoke`. Modules are written in the IR text form;
//! expected values come from Rust's own float operations and the WebAssembly rules, never from the
//! interpreter.

use zvm_ir::{text, verify::verify_module, FuncId, Module, TrapCode};
use zvm_runtime::executor::Tier;
use zvm_runtime::frame::Instance;
use zvm_runtime::interpreter::{self, Program};
use zvm_runtime::schedule::ZvmCosts;
use zvm_runtime::vm::Vm;
use zvm_runtime::{compiled, Exit, Frame, InMemoryHost, Limits, Message};

// ---- harness --------------------------------------------------------------------------------------------

const PAGE: u64 = 65536;
const CANON32: u32 = 0x7fc0_0000;
const CANON64: u64 = 0x7ff8_0000_0000_0000;

/// Parses and verifies a module. Unless `src` names its entry, an empty entry function (the verifier wants
/// one without parameters) is added after the functions of `src`, which keep their indices.
fn module(src: &str) -> Module {
    let src = if src.contains("entry fn") {
        src.to_string()
    } else {
        let n = src.matches("function %").count();
        format!("entry fn{n}\n{src}\nfunction %start() {{\nblock0:\n    return\n}}\n")
    };
    let m = text::parse(&src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    verify_module(&m).unwrap_or_else(|e| panic!("{e}\n{src}"));
    m
}

/// Code length of a [`module`] whose function 0 folded completely: its `return` and the trap every function
/// ends with, twice (the added entry function is the same).
const FOLDED: usize = 4;

/// One execution: a frame with a fresh instance of `module` attached, handed to `f` with the program.
fn with_frame<R>(module: &Module, limits: &Limits, f: impl FnOnce(&Program, &mut Frame<'_>) -> R) -> R {
    let program = Program::new(module);
    let msg = Message { gas_limit: 1_000_000, ..Message::default() };
    let mut host = InMemoryHost::new();
    let vm = Vm::new(Tier::Interp, limits.clone());
    let mut frame = Frame::new(&msg, &[], &mut host, &vm, &ZvmCosts, &compiled::HELPERS);
    frame.attach(module, Instance::new(module, limits).expect("the initial memory fits"));
    f(&program, &mut frame)
}

/// Invokes function `func` with `args`, returning its first `nresults` results.
fn call(program: &Program, frame: &mut Frame<'_>, func: u32, args: &[u64], nresults: usize) -> Result<Vec<u64>, Exit> {
    let mut values = vec![0u64; args.len().max(nresults)];
    values[..args.len()].copy_from_slice(args);
    match interpreter::invoke(program, frame, FuncId(func), &mut values) {
        None => Ok(values[..nresults].to_vec()),
        Some(exit) => Err(exit),
    }
}

/// Invokes function `func` of `src` in an execution of its own.
fn call_once(src: &str, func: u32, args: &[u64], nresults: usize) -> Result<Vec<u64>, Exit> {
    let m = module(src);
    with_frame(&m, &Limits::default(), |p, frame| call(p, frame, func, args, nresults))
}

fn trap(code: TrapCode) -> Result<Vec<u64>, Exit> {
    Err(Exit::Trap(code))
}

fn b32(x: f32) -> u64 {
    u64::from(x.to_bits())
}

fn b64(x: f64) -> u64 {
    x.to_bits()
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

// ---- float arithmetic -----------------------------------------------------------------------------------

const BIN_OPS: [&str; 13] =
    ["fadd", "fsub", "fmul", "fdiv", "fmin", "fmax", "fcopysign", "feq", "fne", "flt", "fgt", "fle", "fge"];
const UN_OPS: [&str; 7] = ["fabs", "fneg", "fsqrt", "fceil", "ffloor", "ftrunc", "fnearest"];

/// A function applying every binary float operation to two operands of type `ty`: parameters, or the
/// constants `consts` (then everything folds at lowering).
fn binary_ops_module(ty: &str, consts: Option<(u64, u64)>) -> String {
    let mut results: Vec<&str> = vec![ty; 7];
    results.extend(["i32"; 6]);
    let (params, head, setup) = match consts {
        None => (format!("{ty}, {ty}"), format!("block0(v0: {ty}, v1: {ty}):"), String::new()),
        Some((a, b)) => (
            String::new(),
            "block0:".to_string(),
            format!("    v0 = fconst.{ty} {a:#x}\n    v1 = fconst.{ty} {b:#x}\n"),
        ),
    };
    let mut body = setup;
    for (i, op) in BIN_OPS.iter().enumerate() {
        body += &format!("    v{} = {op} v0, v1\n", i + 2);
    }
    let rets: Vec<String> = (0..BIN_OPS.len()).map(|i| format!("v{}", i + 2)).collect();
    format!("function %f({params}) -> {} {{\n{head}\n{body}    return {}\n}}\n", results.join(", "), rets.join(", "))
}

/// Like [`binary_ops_module`] for the unary operations.
fn unary_ops_module(ty: &str, konst: Option<u64>) -> String {
    let (params, head, setup) = match konst {
        None => (ty.to_string(), format!("block0(v0: {ty}):"), String::new()),
        Some(a) => (String::new(), "block0:".to_string(), format!("    v0 = fconst.{ty} {a:#x}\n")),
    };
    let mut body = setup;
    for (i, op) in UN_OPS.iter().enumerate() {
        body += &format!("    v{} = {op} v0\n", i + 1);
    }
    let rets: Vec<String> = (0..UN_OPS.len()).map(|i| format!("v{}", i + 1)).collect();
    format!("function %f({params}) -> {} {{\n{head}\n{body}    return {}\n}}\n", [ty; 7].join(", "), rets.join(", "))
}

/// Expected results of [`binary_ops_module`] and [`unary_ops_module`], from Rust's float operations and the
/// WebAssembly rules: arithmetic NaNs are canonical; `min`/`max` of a NaN are NaN and order -0 below +0;
/// `abs`, `neg`, `copysign` only touch the sign bit.
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

fn interesting32() -> Vec<u64> {
    let mut v: Vec<u64> = [
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        0.1,
        1.5,
        2.5,
        -2.5,
        3.0,
        1e30,
        -7.25,
        f32::MAX,
        f32::MIN_POSITIVE,
        1e-45, // subnormal
        f32::INFINITY,
        f32::NEG_INFINITY,
    ]
    .map(b32)
    .to_vec();
    // NaNs: canonical, negative with a payload, signalling.
    v.extend([u64::from(CANON32), 0xffc0_1234, 0x7f80_0001]);
    v
}

fn interesting64() -> Vec<u64> {
    let mut v: Vec<u64> = [
        0.0f64,
        -0.0,
        1.0,
        -1.0,
        0.1,
        1.5,
        2.5,
        -2.5,
        3.0,
        1e300,
        -7.25,
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ]
    .map(b64)
    .to_vec();
    v.extend([CANON64, 0xfff8_0000_0000_1234, 0x7ff0_0000_0000_0001]);
    v
}

#[test]
fn float_binary_ops_executed() {
    for (ty, values, reference) in
        [("f32", interesting32(), ref_binary32 as fn(u64, u64) -> Vec<u64>), ("f64", interesting64(), ref_binary64)]
    {
        let m = module(&binary_ops_module(ty, None));
        with_frame(&m, &Limits::default(), |p, frame| {
            for &a in &values {
                for &b in &values {
                    let got = call(p, frame, 0, &[a, b], BIN_OPS.len()).expect("float operations do not trap");
                    assert_eq!(got, reference(a, b), "{ty} {a:#x}, {b:#x} (order {BIN_OPS:?})");
                }
            }
        });
    }
}

#[test]
fn float_binary_ops_folded() {
    for (ty, values, reference) in
        [("f32", interesting32(), ref_binary32 as fn(u64, u64) -> Vec<u64>), ("f64", interesting64(), ref_binary64)]
    {
        for &a in &values {
            for &b in &values {
                let m = module(&binary_ops_module(ty, Some((a, b))));
                // Everything folded: only the return (and the function's trailing trap) are left.
                assert_eq!(Program::new(&m).code_len(), FOLDED, "{ty} {a:#x}, {b:#x}");
                let got = with_frame(&m, &Limits::default(), |p, frame| call(p, frame, 0, &[], BIN_OPS.len()));
                assert_eq!(got, Ok(reference(a, b)), "{ty} {a:#x}, {b:#x} (order {BIN_OPS:?})");
            }
        }
    }
}

#[test]
fn float_unary_ops_executed_and_folded() {
    for (ty, values, reference) in
        [("f32", interesting32(), ref_unary32 as fn(u64) -> Vec<u64>), ("f64", interesting64(), ref_unary64)]
    {
        let m = module(&unary_ops_module(ty, None));
        with_frame(&m, &Limits::default(), |p, frame| {
            for &a in &values {
                let got = call(p, frame, 0, &[a], UN_OPS.len());
                assert_eq!(got, Ok(reference(a)), "{ty} {a:#x} (order {UN_OPS:?})");
            }
        });
        for &a in &values {
            let m = module(&unary_ops_module(ty, Some(a)));
            assert_eq!(Program::new(&m).code_len(), FOLDED);
            let got = with_frame(&m, &Limits::default(), |p, frame| call(p, frame, 0, &[], UN_OPS.len()));
            assert_eq!(got, Ok(reference(a)), "{ty} {a:#x} (order {UN_OPS:?})");
        }
    }
}

#[test]
fn float_special_cases() {
    let bin = |ty: &str, a: u64, b: u64| call_once(&binary_ops_module(ty, None), 0, &[a, b], BIN_OPS.len()).unwrap();
    let un = |ty: &str, a: u64| call_once(&unary_ops_module(ty, None), 0, &[a], UN_OPS.len()).unwrap();
    let (add, min, max, copysign, eq, ne) = (0, 4, 5, 6, 7, 8);
    let (abs, neg, sqrt, ceil, nearest) = (0, 1, 2, 3, 6);

    // NaN results are the canonical NaN, whatever the operands' NaNs were.
    assert_eq!(bin("f32", 0xffc0_1234, b32(1.0))[add], 0x7fc0_0000);
    assert_eq!(bin("f64", 0x7ff0_0000_0000_0001, b64(1.0))[add], 0x7ff8_0000_0000_0000);
    assert_eq!(bin("f64", b64(f64::INFINITY), b64(f64::NEG_INFINITY))[add], 0x7ff8_0000_0000_0000);
    assert_eq!(bin("f32", 0xffc0_1234, b32(1.0))[min], 0x7fc0_0000);
    assert_eq!(un("f64", b64(-1.0))[sqrt], 0x7ff8_0000_0000_0000);
    // ... except for the sign-bit operations, which keep the payload.
    assert_eq!(un("f32", 0xffc0_1234)[abs], 0x7fc0_1234);
    assert_eq!(un("f32", 0x7fc0_1234)[neg], 0xffc0_1234);
    assert_eq!(bin("f32", 0x7fc0_1234, b32(-1.0))[copysign], 0xffc0_1234);
    // Comparisons with NaN: only `ne` holds.
    assert_eq!(bin("f64", CANON64, CANON64)[eq], 0);
    assert_eq!(bin("f64", CANON64, CANON64)[ne], 1);
    // -0 is below +0 for min and max, in both orders.
    for ty in ["f32", "f64"] {
        let (pz, nz) = if ty == "f32" { (b32(0.0), b32(-0.0)) } else { (b64(0.0), b64(-0.0)) };
        assert_eq!(bin(ty, pz, nz)[min], nz, "{ty}");
        assert_eq!(bin(ty, nz, pz)[min], nz, "{ty}");
        assert_eq!(bin(ty, pz, nz)[max], pz, "{ty}");
        assert_eq!(bin(ty, nz, pz)[max], pz, "{ty}");
    }
    // Nearest: ties to even.
    for (x, r) in [(0.5, 0.0), (1.5, 2.0), (2.5, 2.0), (3.5, 4.0), (-2.5, -2.0), (-1.5, -2.0), (2.4999, 2.0)] {
        assert_eq!(un("f64", b64(x))[nearest], b64(r), "nearest {x}");
        assert_eq!(un("f32", b32(x as f32))[nearest], b32(r as f32), "nearest {x}");
    }
    assert_eq!(un("f64", b64(-0.5))[nearest], b64(-0.0));
    assert_eq!(un("f64", b64(4503599627370497.0))[nearest], b64(4503599627370497.0));
    assert_eq!(un("f32", b32(-0.5))[ceil], b32(-0.0));
    // f32 results are zero-extended: nothing above bit 31.
    assert_eq!(un("f32", b32(1.0))[neg], 0xbf80_0000);
}

#[test]
fn float_loop_with_block_params() {
    let src = "
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
";
    let mut sum = 0.0f64;
    for _ in 0..10 {
        sum += 0.1;
    }
    assert_ne!(sum, 1.0);
    assert_eq!(call_once(src, 0, &[b64(0.1), 10], 1), Ok(vec![b64(sum)]));
}

// ---- conversions ----------------------------------------------------------------------------------------

/// `function %f(FROM) -> TO { v1 = OP.TO v0 }`, or with the operand a constant (`konst`).
fn convert_module(op: &str, from: &str, to: &str, konst: Option<u64>) -> String {
    let (params, head, setup) = match konst {
        None => (from.to_string(), format!("block0(v0: {from}):"), String::new()),
        Some(k) => {
            let c = if from.starts_with('f') { "fconst" } else { "iconst" };
            (String::new(), "block0:".to_string(), format!("    v0 = {c}.{from} {k}\n"))
        }
    };
    format!("function %f({params}) -> {to} {{\n{head}\n{setup}    v1 = {op}.{to} v0\n    return v1\n}}\n")
}

/// A conversion: operation, from, to, operand bits, result bits or trap.
type Case = (&'static str, &'static str, &'static str, u64, Result<u64, TrapCode>);

#[test]
fn float_conversions() {
    use TrapCode::{BadConversion as Bad, IntegerOverflow as Ovf};
    let ok = |x: u64| Ok(x);
    let i32b = |x: i32| u64::from(x as u32);
    let two63 = 9223372036854775808.0f64;
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
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
    for (op, from, to, input, expected) in cases {
        let what = format!("{op} {from} -> {to} of {input:#x}");
        let expected = expected.map(|x| vec![x]).map_err(Exit::Trap);
        // On a parameter: executed.
        assert_eq!(call_once(&convert_module(op, from, to, None), 0, &[input], 1), expected, "{what}");
        // On a constant: folded, unless it traps (then the trap happens at run time).
        let m = module(&convert_module(op, from, to, Some(input)));
        let folded = Program::new(&m).code_len() == FOLDED;
        assert_eq!(folded, expected.is_ok(), "{what}: folded");
        let got = with_frame(&m, &Limits::default(), |p, frame| call(p, frame, 0, &[], 1));
        assert_eq!(got, expected, "{what} (constant)");
    }
}

#[test]
fn unused_trapping_conversions_still_trap() {
    let src = |op: &str, bits: u64| {
        format!("function %f() {{\nblock0:\n    v0 = fconst.f64 {bits:#x}\n    v1 = {op}.i32 v0\n    return\n}}\n")
    };
    assert_eq!(call_once(&src("ftos", CANON64), 0, &[], 0), trap(TrapCode::BadConversion));
    assert_eq!(call_once(&src("ftou", b64(-1.0)), 0, &[], 0), trap(TrapCode::IntegerOverflow));
    // The saturating ones cannot trap: dropped.
    let m = module(&src("ftos_sat", CANON64));
    assert_eq!(Program::new(&m).code_len(), FOLDED);
    assert_eq!(call_once(&src("ftos_sat", CANON64), 0, &[], 0), Ok(vec![]));
}

// ---- memory ---------------------------------------------------------------------------------------------

const MEMORY_FUNCS: &str = "
function %grow(i64) -> i64 {
block0(v0: i64):
    v1 = mem.grow v0
    return v1
}
function %size() -> i64 {
block0:
    v0 = mem.size
    return v0
}
function %load(i64) -> i32 {
block0(v0: i64):
    v1 = load.i32.4.le v0
    return v1
}
function %store(i64, i32) {
block0(v0: i64, v1: i32):
    store.4.le v0, v1
    return
}
function %grow_unused(i64) {
block0(v0: i64):
    v1 = mem.grow v0
    return
}
";
const GROW: u32 = 0;
const SIZE: u32 = 1;
const LOAD: u32 = 2;
const STORE: u32 = 3;
const GROW_UNUSED: u32 = 4;

#[test]
fn mem_grow_within_the_maximum() {
    let m = module(&format!("memory 1, 3\n{MEMORY_FUNCS}"));
    with_frame(&m, &Limits::default(), |p, f| {
        assert_eq!(call(p, f, SIZE, &[], 1), Ok(vec![PAGE]));
        assert_eq!(call(p, f, STORE, &[PAGE - 4, 0xdead_beef], 0), Ok(vec![]));
        assert_eq!(call(p, f, GROW, &[1], 1), Ok(vec![1]), "success returns the old size in pages");
        assert_eq!(call(p, f, SIZE, &[], 1), Ok(vec![2 * PAGE]));
        assert_eq!(call(p, f, LOAD, &[PAGE - 4], 1), Ok(vec![0xdead_beef]), "old contents stay");
        assert_eq!(call(p, f, LOAD, &[2 * PAGE - 4], 1), Ok(vec![0]), "new pages are zero");
        assert_eq!(call(p, f, GROW, &[1], 1), Ok(vec![2]));
        // Past the module's maximum of 3 pages: -1, memory unchanged.
        assert_eq!(call(p, f, GROW, &[1], 1), Ok(vec![u64::MAX]));
        assert_eq!(call(p, f, GROW, &[u64::MAX], 1), Ok(vec![u64::MAX]));
        assert_eq!(call(p, f, SIZE, &[], 1), Ok(vec![3 * PAGE]));
        assert_eq!(call(p, f, GROW, &[0], 1), Ok(vec![3]));
        assert_eq!(call(p, f, LOAD, &[3 * PAGE - 4], 1), Ok(vec![0]));
        assert_eq!(call(p, f, LOAD, &[3 * PAGE - 3], 1), trap(TrapCode::MemoryOutOfBounds));
        assert_eq!(f.memory().len() as u64, 3 * PAGE);
    });
}

#[test]
fn mem_grow_within_the_memory_limit() {
    // No module maximum: the runtime's memory limit decides.
    let m = module(&format!("memory 0\n{MEMORY_FUNCS}"));
    let limits = Limits { max_memory: 2 * PAGE, ..Limits::default() };
    with_frame(&m, &limits, |p, f| {
        assert_eq!(call(p, f, SIZE, &[], 1), Ok(vec![0]));
        assert_eq!(call(p, f, LOAD, &[0], 1), trap(TrapCode::MemoryOutOfBounds));
        // A growth whose result is unused still happens.
        assert_eq!(call(p, f, GROW_UNUSED, &[1], 0), Ok(vec![]));
        assert_eq!(call(p, f, SIZE, &[], 1), Ok(vec![PAGE]));
        assert_eq!(call(p, f, GROW, &[2], 1), Ok(vec![u64::MAX]));
        assert_eq!(call(p, f, GROW, &[1], 1), Ok(vec![1]));
        assert_eq!(call(p, f, GROW, &[1], 1), Ok(vec![u64::MAX]));
        assert_eq!(call(p, f, SIZE, &[], 1), Ok(vec![2 * PAGE]));
    });
}

#[test]
fn mem_fill_bounds() {
    let m = module(
        "memory 1
function %fill(i64, i32, i64) {
block0(v0: i64, v1: i32, v2: i64):
    mem.fill v0, v1, v2
    return
}
",
    );
    with_frame(&m, &Limits::default(), |p, f| {
        // The low byte of the value.
        assert_eq!(call(p, f, 0, &[10, 0x1ab, 5], 0), Ok(vec![]));
        assert_eq!(&f.memory()[9..16], &[0, 0xab, 0xab, 0xab, 0xab, 0xab, 0]);
        assert_eq!(call(p, f, 0, &[PAGE - 4, 7, 4], 0), Ok(vec![]));
        assert_eq!(&f.memory()[(PAGE - 5) as usize..], &[0, 7, 7, 7, 7]);
        // One byte past the end: a trap, and nothing written.
        assert_eq!(call(p, f, 0, &[PAGE - 3, 9, 4], 0), trap(TrapCode::MemoryOutOfBounds));
        assert_eq!(&f.memory()[(PAGE - 5) as usize..], &[0, 7, 7, 7, 7]);
        assert_eq!(call(p, f, 0, &[u64::MAX, 1, 2], 0), trap(TrapCode::MemoryOutOfBounds));
        assert_eq!(call(p, f, 0, &[0, 1, PAGE + 1], 0), trap(TrapCode::MemoryOutOfBounds));
        // Empty at the very end.
        assert_eq!(call(p, f, 0, &[PAGE, 1, 0], 0), Ok(vec![]));
        // The whole memory.
        assert_eq!(call(p, f, 0, &[0, 0xff, PAGE], 0), Ok(vec![]));
        assert!(f.memory().iter().all(|&b| b == 0xff));
    });
}

#[test]
fn mem_init_and_data_drop() {
    let m = module(
        "memory 1
data 0x0102ff
data 0xaabbccddee
function %init0(i64, i64, i64) {
block0(v0: i64, v1: i64, v2: i64):
    mem.init 0 v0, v1, v2
    return
}
function %init1(i64, i64, i64) {
block0(v0: i64, v1: i64, v2: i64):
    mem.init 1 v0, v1, v2
    return
}
function %drop0() {
block0:
    data.drop 0
    return
}
",
    );
    let (init0, init1, drop0) = (0, 1, 2);
    let instance = with_frame(&m, &Limits::default(), |p, f| {
        assert_eq!(call(p, f, init0, &[100, 1, 2], 0), Ok(vec![]));
        assert_eq!(&f.memory()[99..103], &[0, 2, 0xff, 0]);
        assert_eq!(call(p, f, init0, &[0, 0, 3], 0), Ok(vec![]));
        assert_eq!(&f.memory()[..4], &[1, 2, 0xff, 0]);
        // Source range past the segment's end.
        assert_eq!(call(p, f, init0, &[0, 2, 2], 0), trap(TrapCode::MemoryOutOfBounds));
        assert_eq!(call(p, f, init0, &[0, u64::MAX, 2], 0), trap(TrapCode::MemoryOutOfBounds));
        assert_eq!(call(p, f, init0, &[0, 4, 0], 0), trap(TrapCode::MemoryOutOfBounds));
        assert_eq!(call(p, f, init0, &[0, 3, 0], 0), Ok(vec![]));
        // Destination range past the memory's end: a trap, and nothing written.
        assert_eq!(call(p, f, init1, &[PAGE - 2, 0, 3], 0), trap(TrapCode::MemoryOutOfBounds));
        assert_eq!(&f.memory()[(PAGE - 2) as usize..], &[0, 0]);
        assert_eq!(call(p, f, init1, &[PAGE - 3, 2, 3], 0), Ok(vec![]));
        assert_eq!(&f.memory()[(PAGE - 3) as usize..], &[0xcc, 0xdd, 0xee]);
        // A dropped segment is empty, for the rest of the execution.
        assert_eq!(call(p, f, drop0, &[], 0), Ok(vec![]));
        assert_eq!(call(p, f, init0, &[0, 0, 1], 0), trap(TrapCode::MemoryOutOfBounds));
        assert_eq!(call(p, f, init0, &[0, 0, 0], 0), Ok(vec![]));
        assert_eq!(call(p, f, drop0, &[], 0), Ok(vec![]), "dropping twice is fine");
        assert_eq!(call(p, f, init0, &[0, 1, 1], 0), trap(TrapCode::MemoryOutOfBounds));
        assert_eq!(call(p, f, init1, &[10, 0, 5], 0), Ok(vec![]), "only segment 0 was dropped");
        assert_eq!(&f.memory()[10..15], &[0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
        f.detach()
    });
    assert_eq!(instance.dropped, [true, false]);
}

// ---- globals --------------------------------------------------------------------------------------------

const GLOBALS: &str = "
global i32
global i64
global f32
global f64
function %bump() -> i32 {
block0:
    v0 = global.get 0
    v1 = iconst.i32 1
    v2 = add v0, v1
    global.set 0, v2
    return v2
}
function %get_all() -> i32, i64, f32, f64 {
block0:
    v0 = global.get 0
    v1 = global.get 1
    v2 = global.get 2
    v3 = global.get 3
    return v0, v1, v2, v3
}
function %set_all(i32, i64, f32, f64) {
block0(v0: i32, v1: i64, v2: f32, v3: f64):
    global.set 0, v0
    global.set 1, v1
    global.set 2, v2
    global.set 3, v3
    return
}
function %nonzero() -> i32 {
block0:
    v0 = global.get 0
    brif v0, block1, block2
block1:
    v1 = iconst.i32 1
    return v1
block2:
    v2 = iconst.i32 0
    return v2
}
function %fadd_global(f32) -> f32 {
block0(v0: f32):
    v1 = global.get 2
    v2 = fadd v1, v0
    global.set 2, v2
    return v2
}
function %bump_twice() -> i32 {
block0:
    v0 = call fn0()
    v1 = call fn0()
    return v1
}
";

#[test]
fn globals_persist_within_an_execution() {
    let m = module(GLOBALS);
    let (bump, get_all, set_all, nonzero, fadd_global, bump_twice) = (0, 1, 2, 3, 4, 5);
    let instance = with_frame(&m, &Limits::default(), |p, f| {
        assert_eq!(call(p, f, get_all, &[], 4), Ok(vec![0, 0, 0, 0]), "globals start at zero");
        assert_eq!(call(p, f, nonzero, &[], 1), Ok(vec![0]));
        assert_eq!(call(p, f, bump, &[], 1), Ok(vec![1]));
        assert_eq!(call(p, f, bump, &[], 1), Ok(vec![2]));
        assert_eq!(call(p, f, bump_twice, &[], 1), Ok(vec![4]));
        assert_eq!(call(p, f, nonzero, &[], 1), Ok(vec![1]));
        let values = [0xffff_ffff, u64::MAX - 1, b32(-1.25), b64(6.5e100)];
        assert_eq!(call(p, f, set_all, &values, 0), Ok(vec![]));
        assert_eq!(call(p, f, get_all, &[], 4), Ok(values.to_vec()));
        assert_eq!(call(p, f, bump, &[], 1), Ok(vec![0]), "i32 wraps");
        assert_eq!(call(p, f, fadd_global, &[b32(0.5)], 1), Ok(vec![b32(-0.75)]));
        assert_eq!(call(p, f, fadd_global, &[b32(0.5)], 1), Ok(vec![b32(-0.25)]));
        f.detach()
    });
    assert_eq!(instance.globals, [0, u64::MAX - 1, b32(-0.25), b64(6.5e100)]);
}

#[test]
fn narrow_globals_are_the_low_four_bytes_of_their_slot() {
    // The compiled tier stores only 4 bytes of an i32/f32 global: whatever is above is not part of it.
    let m = module(GLOBALS);
    let (bump, get_all, nonzero, fadd_global) = (0, 1, 3, 4);
    with_frame(&m, &Limits::default(), |p, f| {
        f.globals_mut()[0] = 0xdead_beef_0000_0000;
        f.globals_mut()[1] = 0xdead_beef_0000_0005;
        f.globals_mut()[2] = 0xffff_ffff_0000_0000 | b32(1.5);
        assert_eq!(call(p, f, nonzero, &[], 1), Ok(vec![0]));
        assert_eq!(call(p, f, get_all, &[], 4), Ok(vec![0, 0xdead_beef_0000_0005, b32(1.5), 0]));
        f.globals_mut()[0] = 0xdead_beef_0000_0005;
        assert_eq!(call(p, f, bump, &[], 1), Ok(vec![6]));
        assert_eq!(call(p, f, fadd_global, &[b32(1.0)], 1), Ok(vec![b32(2.5)]));
        assert_eq!(f.globals_mut()[0] & 0xffff_ffff, 6);
        assert_eq!(f.globals_mut()[2] & 0xffff_ffff, b32(2.5));
    });
}

// ---- invoke ---------------------------------------------------------------------------------------------

#[test]
fn invoke_with_arguments_and_several_results() {
    let m = module(
        "
function %mix(i32, i64, f32, f64) -> f64, i32, w256, i64, f32 {
block0(v0: i32, v1: i64, v2: f32, v3: f64):
    v4 = fpromote.f64 v2
    v5 = fadd v4, v3
    v6 = add v0, v0
    v7 = wconst 0x1234
    v8 = sext.i64 v0
    v9 = add v8, v1
    v10 = fdemote.f32 v3
    return v5, v6, v7, v9, v10
}
function %wide(w256) -> w256 {
block0(v0: w256):
    return v0
}
function %div(i32, i32) -> i32 {
block0(v0: i32, v1: i32):
    v2 = div_s v0, v1
    return v2
}
",
    );
    with_frame(&m, &Limits::default(), |p, f| {
        let (a, b, c, d) = (-7i32, 1_000_000_000_000i64, 0.1f32, 2.75f64);
        let mut values = [u64::from(a as u32), b as u64, b32(c), b64(d), 0x5555];
        assert_eq!(interpreter::invoke(p, f, FuncId(0), &mut values), None);
        assert_eq!(values[0], b64(f64::from(c) + d));
        assert_eq!(values[1], u64::from(a.wrapping_add(a) as u32));
        assert_eq!(values[2], b32(c), "a w256 result is not written");
        assert_eq!(values[3], (i64::from(a) + b) as u64);
        assert_eq!(values[4], b32(d as f32));

        // Errors of the invocation itself.
        let host_error = Some(Exit::Trap(TrapCode::HostError));
        assert_eq!(interpreter::invoke(p, f, FuncId(99), &mut [0; 8]), host_error, "no such function");
        assert_eq!(interpreter::invoke(p, f, FuncId(1), &mut [0; 8]), host_error, "w256 parameter");
        assert_eq!(interpreter::invoke(p, f, FuncId(0), &mut [0; 4]), host_error, "too few values");

        // A trap leaves the values alone.
        let mut values = [7, 0];
        assert_eq!(interpreter::invoke(p, f, FuncId(2), &mut values), Some(Exit::Trap(TrapCode::IntegerDivByZero)));
        assert_eq!(values, [7, 0]);
        let mut values = [u64::from(-7i32 as u32), 2];
        assert_eq!(interpreter::invoke(p, f, FuncId(2), &mut values), None);
        assert_eq!(values, [u64::from(-3i32 as u32), 2]);
    });
}

#[test]
fn recursion_depth_limit_through_invoke() {
    // depth(n) = n == 0 ? 0 : 1 + depth(n - 1): n nested calls below the invoked one.
    let m = module(
        "
function %depth(i64) -> i64 {
block0(v0: i64):
    brif v0, block1, block2
block1:
    v1 = iconst.i64 1
    v2 = sub v0, v1
    v3 = call fn0(v2)
    v4 = add v3, v1
    return v4
block2:
    v5 = iconst.i64 0
    return v5
}
",
    );
    let limits = Limits { max_call_depth: 16, ..Limits::default() };
    with_frame(&m, &limits, |p, f| {
        // The invoked function itself is not a call (as the entry function under `run` is not).
        assert_eq!(call(p, f, 0, &[16], 1), Ok(vec![16]));
        assert_eq!(f.ctx.call_depth, 0);
        assert_eq!(call(p, f, 0, &[17], 1), trap(TrapCode::CallStackExhausted));
        // The depth is back where it was after the trap, so the frame can be invoked again.
        assert_eq!(f.ctx.call_depth, 0);
        assert_eq!(call(p, f, 0, &[16], 1), Ok(vec![16]));
        assert_eq!(call(p, f, 0, &[1000], 1), trap(TrapCode::CallStackExhausted));
    });
    let deep = Limits { max_call_depth: 50_000, ..Limits::default() };
    with_frame(&m, &deep, |p, f| {
        assert_eq!(call(p, f, 0, &[50_000], 1), Ok(vec![50_000]));
        assert_eq!(call(p, f, 0, &[50_001], 1), trap(TrapCode::CallStackExhausted));
    });
}

#[test]
fn run_is_invoke_of_the_entry() {
    // `run` runs the entry (here fn1) without arguments, and discards its results.
    let m = module(
        "
entry fn1
function %other() {
block0:
    trap unreachable
}
function %main() -> i64 {
block0:
    v0 = iconst.i64 1
    v1 = mem.grow v0
    return v1
}
",
    );
    with_frame(&m, &Limits::default(), |p, f| {
        assert_eq!(interpreter::run(p, f), None);
        assert_eq!(f.memory().len() as u64, PAGE);
        assert_eq!(interpreter::invoke(p, f, FuncId(1), &mut [0]), None);
        assert_eq!(f.memory().len() as u64, 2 * PAGE);
        assert_eq!(interpreter::invoke(p, f, FuncId(0), &mut []), Some(Exit::Trap(TrapCode::Unreachable)));
    });
}
