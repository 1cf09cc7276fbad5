//! Inline 256-bit arithmetic on four 64-bit limbs.
//!
//! A `w256` lives in Cranelift as four `i64` values, least significant first (the same order as
//! [`crate::abi::Word`]). Everything here is branch-free straight-line code; the results equal
//! [`zvm_ir::semantics::word_binary`] / [`zvm_ir::semantics::word_unary`] for the operations they implement
//! (checked against it by the runtime's tests for many random and edge values).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I128, I64};
use cranelift_codegen::ir::{InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;
use zvm_ir::U256;

/// A `w256` as four `i64` limbs, least significant first.
pub type Limbs = [Value; 4];

/// A constant word.
pub fn konst(b: &mut FunctionBuilder<'_>, w: U256) -> Limbs {
    let l = w.as_limbs();
    [0, 1, 2, 3].map(|i| b.ins().iconst(I64, l[i] as i64))
}

/// A word whose low limb is `low` (an `i64`) and whose other limbs are zero.
pub fn from_low(b: &mut FunctionBuilder<'_>, low: Value) -> Limbs {
    let zero = b.ins().iconst(I64, 0);
    [low, zero, zero, zero]
}

/// A word holding 0 or 1 from a Cranelift boolean (`i8` 0 or 1).
pub fn from_flag(b: &mut FunctionBuilder<'_>, flag: Value) -> Limbs {
    let low = b.ins().uextend(I64, flag);
    from_low(b, low)
}

/// A word sign-extended from an `i64`.
pub fn from_i64_signed(b: &mut FunctionBuilder<'_>, low: Value) -> Limbs {
    let fill = b.ins().sshr_imm_u(low, 63);
    [low, fill, fill, fill]
}

/// OR of the four limbs: non-zero exactly when the word is.
pub fn or_reduce(b: &mut FunctionBuilder<'_>, a: Limbs) -> Value {
    let lo = b.ins().bor(a[0], a[1]);
    let hi = b.ins().bor(a[2], a[3]);
    b.ins().bor(lo, hi)
}

/// OR of the three high limbs: zero exactly when the word fits in 64 bits.
pub fn high_bits(b: &mut FunctionBuilder<'_>, a: Limbs) -> Value {
    let high = b.ins().bor(a[1], a[2]);
    b.ins().bor(high, a[3])
}

/// The word as a `u64`, or `u64::MAX` if it does not fit.
pub fn saturate_u64(b: &mut FunctionBuilder<'_>, a: Limbs) -> Value {
    let high = high_bits(b, a);
    let max = b.ins().iconst(I64, -1);
    b.ins().select(high, max, a[0])
}

/// `a == 0` as an `i8` flag.
pub fn is_zero(b: &mut FunctionBuilder<'_>, a: Limbs) -> Value {
    let any = or_reduce(b, a);
    b.ins().icmp_imm_u(IntCC::Equal, any, 0)
}

/// The word as two `i128` halves (low, high).
fn halves(b: &mut FunctionBuilder<'_>, a: Limbs) -> (Value, Value) {
    let lo = b.ins().iconcat(a[0], a[1]);
    let hi = b.ins().iconcat(a[2], a[3]);
    (lo, hi)
}

fn from_halves(b: &mut FunctionBuilder<'_>, lo: Value, hi: Value) -> Limbs {
    let (l0, l1) = b.ins().isplit(lo);
    let (l2, l3) = b.ins().isplit(hi);
    [l0, l1, l2, l3]
}

/// Limb-wise bitwise operation.
pub fn bitwise(
    b: &mut FunctionBuilder<'_>,
    a: Limbs,
    c: Limbs,
    f: fn(&mut FunctionBuilder<'_>, Value, Value) -> Value,
) -> Limbs {
    [0, 1, 2, 3].map(|i| f(b, a[i], c[i]))
}

/// `!a`.
pub fn not(b: &mut FunctionBuilder<'_>, a: Limbs) -> Limbs {
    a.map(|x| b.ins().bnot(x))
}

/// `a + c` modulo 2^256 (two 128-bit adds with one carry: add/adc chains on both targets).
pub fn add(b: &mut FunctionBuilder<'_>, a: Limbs, c: Limbs) -> Limbs {
    let (alo, ahi) = halves(b, a);
    let (clo, chi) = halves(b, c);
    let (lo, carry) = b.ins().uadd_overflow(alo, clo);
    let carry = b.ins().uextend(I128, carry);
    let hi = b.ins().iadd(ahi, chi);
    let hi = b.ins().iadd(hi, carry);
    from_halves(b, lo, hi)
}

/// `a - c` modulo 2^256.
pub fn sub(b: &mut FunctionBuilder<'_>, a: Limbs, c: Limbs) -> Limbs {
    let (alo, ahi) = halves(b, a);
    let (clo, chi) = halves(b, c);
    let (lo, borrow) = b.ins().usub_overflow(alo, clo);
    let borrow = b.ins().uextend(I128, borrow);
    let hi = b.ins().isub(ahi, chi);
    let hi = b.ins().isub(hi, borrow);
    from_halves(b, lo, hi)
}

/// `a * c` modulo 2^256: row-wise schoolbook over 64-bit limbs. Products that only reach limb 3 need just
/// their low half; the others are 64x64->128 products (`imul` + `umulhi`) accumulated with 128-bit adds.
pub fn mul(b: &mut FunctionBuilder<'_>, a: Limbs, c: Limbs) -> Limbs {
    let zero = b.ins().iconst(I64, 0);
    let mut r = [zero; 4];
    let mut written = [false; 4];
    for (i, &ai) in a.iter().enumerate() {
        let mut carry: Option<Value> = None;
        for (j, &cj) in c.iter().enumerate().take(4 - i) {
            let k = i + j;
            let lo = b.ins().imul(ai, cj);
            if k == 3 {
                let mut sum = lo;
                if written[3] {
                    sum = b.ins().iadd(sum, r[3]);
                }
                if let Some(cy) = carry {
                    sum = b.ins().iadd(sum, cy);
                }
                r[3] = sum;
                written[3] = true;
                break;
            }
            let hi = b.ins().umulhi(ai, cj);
            let mut t = b.ins().iconcat(lo, hi);
            // (2^64-1)^2 + 2*(2^64-1) = 2^128 - 1: the 128-bit sum cannot overflow.
            if written[k] {
                let x = b.ins().uextend(I128, r[k]);
                t = b.ins().iadd(t, x);
            }
            if let Some(cy) = carry {
                let x = b.ins().uextend(I128, cy);
                t = b.ins().iadd(t, x);
            }
            let (l, h) = b.ins().isplit(t);
            r[k] = l;
            written[k] = true;
            carry = Some(h);
        }
    }
    r
}

/// `a * c` (mod 2^256) for a `c` that fits in 64 bits: four multiplies where [`mul`] takes ten.
pub fn mul_u64(b: &mut FunctionBuilder<'_>, a: Limbs, c: Value) -> Limbs {
    let mut r = a;
    let mut carry: Option<Value> = None;
    for (i, &ai) in a.iter().enumerate() {
        let lo = b.ins().imul(ai, c);
        if i == 3 {
            r[3] = match carry {
                Some(cy) => b.ins().iadd(lo, cy),
                None => lo,
            };
            break;
        }
        let hi = b.ins().umulhi(ai, c);
        let mut t = b.ins().iconcat(lo, hi);
        // (2^64-1)^2 + (2^64-1) < 2^128: the 128-bit sum cannot overflow.
        if let Some(cy) = carry {
            let x = b.ins().uextend(I128, cy);
            t = b.ins().iadd(t, x);
        }
        let (l, h) = b.ins().isplit(t);
        r[i] = l;
        carry = Some(h);
    }
    r
}

/// `a == c` as an `i8` flag.
pub fn eq(b: &mut FunctionBuilder<'_>, a: Limbs, c: Limbs) -> Value {
    let x = bitwise(b, a, c, |b, x, y| b.ins().bxor(x, y));
    is_zero(b, x)
}

/// `a < c` as an `i8` flag, unsigned or signed (two's complement over 256 bits).
pub fn lt(b: &mut FunctionBuilder<'_>, a: Limbs, c: Limbs, signed: bool) -> Value {
    let (alo, ahi) = halves(b, a);
    let (clo, chi) = halves(b, c);
    let hi_cc = if signed { IntCC::SignedLessThan } else { IntCC::UnsignedLessThan };
    let hi_lt = b.ins().icmp(hi_cc, ahi, chi);
    let hi_eq = b.ins().icmp(IntCC::Equal, ahi, chi);
    let lo_lt = b.ins().icmp(IntCC::UnsignedLessThan, alo, clo);
    let tie = b.ins().band(hi_eq, lo_lt);
    b.ins().bor(hi_lt, tie)
}

/// Count of leading zero bits (256 for zero).
pub fn clz(b: &mut FunctionBuilder<'_>, a: Limbs) -> Limbs {
    // Scan from the least significant limb up, so the most significant non-zero limb wins.
    let mut acc = b.ins().clz(a[0]);
    acc = b.ins().iadd_imm_s(acc, 192);
    for (i, bias) in [(1usize, 128i64), (2, 64), (3, 0)] {
        let z = b.ins().clz(a[i]);
        let z = b.ins().iadd_imm_s(z, bias);
        acc = b.ins().select(a[i], z, acc);
    }
    from_low(b, acc)
}

/// Count of trailing zero bits (256 for zero).
pub fn ctz(b: &mut FunctionBuilder<'_>, a: Limbs) -> Limbs {
    let mut acc = b.ins().ctz(a[3]);
    acc = b.ins().iadd_imm_s(acc, 192);
    for (i, bias) in [(2usize, 128i64), (1, 64), (0, 0)] {
        let z = b.ins().ctz(a[i]);
        let z = b.ins().iadd_imm_s(z, bias);
        acc = b.ins().select(a[i], z, acc);
    }
    from_low(b, acc)
}

/// Count of one bits.
pub fn popcnt(b: &mut FunctionBuilder<'_>, a: Limbs) -> Limbs {
    let p = a.map(|x| b.ins().popcnt(x));
    let s0 = b.ins().iadd(p[0], p[1]);
    let s1 = b.ins().iadd(p[2], p[3]);
    let s = b.ins().iadd(s0, s1);
    from_low(b, s)
}

/// Which shift.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Shift {
    Left,
    RightLogical,
    RightArithmetic,
}

/// The value shifted in from beyond the word: zero, or the sign for arithmetic right shifts.
fn fill(b: &mut FunctionBuilder<'_>, a: Limbs, kind: Shift) -> Value {
    match kind {
        Shift::RightArithmetic => b.ins().sshr_imm_u(a[3], 63),
        _ => b.ins().iconst(I64, 0),
    }
}

/// Shift by a count known at compile time (any value: counts of 256 or more give the fill).
pub fn shift_const(b: &mut FunctionBuilder<'_>, a: Limbs, count: U256, kind: Shift) -> Limbs {
    let fill = fill(b, a, kind);
    let n = match usize::try_from(count) {
        Ok(n) if n < 256 => n,
        _ => return [fill; 4],
    };
    let (q, r) = (n / 64, (n % 64) as i64);
    // Source limb of output limb `k` before the bit shift, or the fill.
    let src = |k: isize| -> Value {
        if (0..4).contains(&k) {
            a[k as usize]
        } else {
            fill
        }
    };
    let mut out = [fill; 4];
    for (k, slot) in out.iter_mut().enumerate() {
        let k = k as isize;
        *slot = match kind {
            Shift::Left => {
                let main = src(k - q as isize);
                let main = if r == 0 { main } else { b.ins().ishl_imm_u(main, r) };
                if r == 0 || k - (q as isize) - 1 < 0 {
                    main
                } else {
                    let low = b.ins().ushr_imm_u(src(k - q as isize - 1), 64 - r);
                    b.ins().bor(main, low)
                }
            }
            Shift::RightLogical | Shift::RightArithmetic => {
                let s = k + q as isize;
                if s > 3 {
                    // Entirely shifted in from beyond the word.
                    *slot = fill;
                    continue;
                }
                let top = s == 3;
                let main = match (r, kind, top) {
                    (0, _, _) => a[s as usize],
                    (_, Shift::RightArithmetic, true) => b.ins().sshr_imm_u(a[s as usize], r),
                    _ => b.ins().ushr_imm_u(a[s as usize], r),
                };
                if r == 0 || top {
                    main
                } else {
                    let high = b.ins().ishl_imm_u(src(k + q as isize + 1), 64 - r);
                    b.ins().bor(main, high)
                }
            }
        };
    }
    out
}

/// Shift by a dynamic count (a word): branch-free limb selection plus a bit shift, and the fill when the
/// count is 256 or more.
pub fn shift(b: &mut FunctionBuilder<'_>, a: Limbs, count: Limbs, kind: Shift) -> Limbs {
    let fill = fill(b, a, kind);
    // count >= 256?
    let high = high_bits(b, count);
    let high_set = b.ins().icmp_imm_u(IntCC::NotEqual, high, 0);
    let low_big = b.ins().icmp_imm_u(IntCC::UnsignedGreaterThan, count[0], 255);
    let big = b.ins().bor(high_set, low_big);

    let n = b.ins().band_imm_u(count[0], 255);
    let q = b.ins().ushr_imm_u(n, 6);
    let r = b.ins().band_imm_u(n, 63);
    let r_inv = b.ins().bxor_imm_u(r, 63); // 63 - r, as r < 64
    let q_is = [0i64, 1, 2].map(|i| b.ins().icmp_imm_u(IntCC::Equal, q, i));

    let src = |k: isize| -> Option<usize> { (0..4).contains(&k).then_some(k as usize) };
    // m[k] = limb (k - q) for left shifts, (k + q) for right shifts; the fill outside the word.
    let mut m = [fill; 4];
    for (k, slot) in m.iter_mut().enumerate() {
        let pick = |d: isize| -> Value {
            let idx = match kind {
                Shift::Left => k as isize - d,
                _ => k as isize + d,
            };
            src(idx).map_or(fill, |i| a[i])
        };
        let mut v = pick(3);
        for d in (0..3).rev() {
            let cand = pick(d);
            if cand != v {
                v = b.ins().select(q_is[d as usize], cand, v);
            }
        }
        *slot = v;
    }

    let mut out = [fill; 4];
    for k in 0..4 {
        out[k] = match kind {
            Shift::Left => {
                let main = b.ins().ishl(m[k], r);
                if k == 0 {
                    main
                } else {
                    // (x >> 1) >> (63 - r) == x >> (64 - r), and 0 when r == 0.
                    let t = b.ins().ushr_imm_u(m[k - 1], 1);
                    let t = b.ins().ushr(t, r_inv);
                    b.ins().bor(main, t)
                }
            }
            _ => {
                if k == 3 {
                    if kind == Shift::RightArithmetic {
                        b.ins().sshr(m[3], r)
                    } else {
                        b.ins().ushr(m[3], r)
                    }
                } else {
                    let main = b.ins().ushr(m[k], r);
                    let t = b.ins().ishl_imm_u(m[k + 1], 1);
                    let t = b.ins().ishl(t, r_inv);
                    b.ins().bor(main, t)
                }
            }
        };
    }
    out.map(|x| b.ins().select(big, fill, x))
}

/// EVM `SIGNEXTEND` with a constant byte index `i`: extends `x` from its byte `i` (0 = lowest); `i >= 31`
/// gives `x`.
pub fn signextend_const(b: &mut FunctionBuilder<'_>, i: U256, x: Limbs) -> Limbs {
    let i = match usize::try_from(i) {
        Ok(i) if i < 31 => i,
        _ => return x,
    };
    let bit = i * 8 + 7;
    let (limb, pos) = (bit / 64, (bit % 64) as i64);
    // All ones if the sign bit is set, else zero.
    let sign = b.ins().ishl_imm_u(x[limb], 63 - pos);
    let fill = b.ins().sshr_imm_u(sign, 63);
    let mut out = x;
    out[limb] = if pos == 63 {
        x[limb]
    } else {
        let low_mask = (1u64 << (pos + 1)) - 1;
        let low = b.ins().band_imm_u(x[limb], low_mask as i64);
        let high = b.ins().band_imm_u(fill, !low_mask as i64);
        b.ins().bor(low, high)
    };
    for slot in out.iter_mut().skip(limb + 1) {
        *slot = fill;
    }
    out
}

/// EVM `BYTE` with a constant index `i`: byte `i` of `x` counting from the most significant; `i >= 32`
/// gives 0.
pub fn byte_const(b: &mut FunctionBuilder<'_>, i: U256, x: Limbs) -> Limbs {
    let i = match usize::try_from(i) {
        Ok(i) if i < 32 => i,
        _ => return konst(b, U256::ZERO),
    };
    let index = 31 - i; // from the least significant byte
    let (limb, shift) = (index / 8, (index % 8) as i64 * 8);
    let v = if shift == 0 { x[limb] } else { b.ins().ushr_imm_u(x[limb], shift) };
    let v = b.ins().band_imm_u(v, 0xff);
    from_low(b, v)
}
