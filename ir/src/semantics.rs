//! The meaning of the arithmetic operations, as plain functions.
//!
//! The interpreter evaluates IR with these functions, the Cranelift backend's runtime helpers call them for
//! the operations it does not inline, and constant folding may use them: one definition, so the tiers cannot
//! drift apart. Narrow integers are passed as `u64` bit patterns (an `i32` in the low 32 bits, zero-extended).

use crate::instructions::{BinOp, ConvOp, FBinOp, FUnOp, TernOp, TrapCode, UnOp};
use crate::types::Type;
use ruint::aliases::U256;

/// Gas cost of EVM-style memory of `words` 32-byte words: `3*words + words^2/512`, saturating.
pub fn memory_cost(words: u64) -> u64 {
    let w = u128::from(words);
    u64::try_from(3 * w + w * w / 512).unwrap_or(u64::MAX)
}

fn bool_word(b: bool) -> U256 {
    if b {
        U256::from(1u8)
    } else {
        U256::ZERO
    }
}

fn is_negative(x: U256) -> bool {
    x.bit(255)
}

/// `w256` one-operand operations.
pub fn word_unary(op: UnOp, a: U256) -> U256 {
    match op {
        UnOp::Not => !a,
        UnOp::Eqz => bool_word(a.is_zero()),
        UnOp::Clz => U256::from(a.leading_zeros()),
        // Rejected by the verifier for w256; defined anyway so the function is total.
        UnOp::Ctz => U256::from(a.trailing_zeros()),
        UnOp::Popcnt => U256::from(a.count_ones()),
    }
}

/// `w256` two-operand operations, with EVM semantics.
#[inline]
pub fn word_binary(op: BinOp, a: U256, b: U256) -> U256 {
    match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        BinOp::DivU => a.checked_div(b).unwrap_or(U256::ZERO),
        BinOp::RemU => a.checked_rem(b).unwrap_or(U256::ZERO),
        BinOp::DivS => sdiv(a, b),
        BinOp::RemS => smod(a, b),
        BinOp::And => a & b,
        BinOp::Or => a | b,
        BinOp::Xor => a ^ b,
        BinOp::Shl => shift_count(b).map_or(U256::ZERO, |n| a << n),
        BinOp::ShrU => shift_count(b).map_or(U256::ZERO, |n| a >> n),
        BinOp::ShrS => match shift_count(b) {
            Some(n) => a.arithmetic_shr(n),
            None if is_negative(a) => U256::MAX,
            None => U256::ZERO,
        },
        // Rotations are not defined on w256 (verifier); give the natural 256-bit rotation.
        BinOp::Rotl => a.rotate_left((b.as_limbs()[0] % 256) as usize),
        BinOp::Rotr => a.rotate_right((b.as_limbs()[0] % 256) as usize),
        BinOp::Eq => bool_word(a == b),
        BinOp::Ne => bool_word(a != b),
        BinOp::LtU => bool_word(a < b),
        BinOp::GtU => bool_word(a > b),
        BinOp::LeU => bool_word(a <= b),
        BinOp::GeU => bool_word(a >= b),
        BinOp::LtS => bool_word(slt(a, b)),
        BinOp::GtS => bool_word(slt(b, a)),
        BinOp::LeS => bool_word(!slt(b, a)),
        BinOp::GeS => bool_word(!slt(a, b)),
        BinOp::Exp => a.wrapping_pow(b),
        BinOp::SignExtend => signextend(a, b),
        BinOp::Byte => match usize::try_from(a) {
            Ok(i) if i < 32 => U256::from(b.byte(31 - i)),
            _ => U256::ZERO,
        },
    }
}

/// `w256` three-operand operations.
#[inline]
pub fn word_ternary(op: TernOp, a: U256, b: U256, n: U256) -> U256 {
    if n.is_zero() {
        return U256::ZERO;
    }
    match op {
        TernOp::AddMod => a.add_mod(b, n),
        TernOp::MulMod => a.mul_mod(b, n),
    }
}

fn shift_count(b: U256) -> Option<usize> {
    match usize::try_from(b) {
        Ok(n) if n < 256 => Some(n),
        _ => None,
    }
}

fn slt(a: U256, b: U256) -> bool {
    match (is_negative(a), is_negative(b)) {
        (true, false) => true,
        (false, true) => false,
        _ => a < b,
    }
}

fn abs(x: U256) -> U256 {
    if is_negative(x) {
        x.wrapping_neg()
    } else {
        x
    }
}

fn sdiv(a: U256, b: U256) -> U256 {
    if b.is_zero() {
        return U256::ZERO;
    }
    let q = abs(a) / abs(b);
    if is_negative(a) != is_negative(b) {
        q.wrapping_neg()
    } else {
        q
    }
}

fn smod(a: U256, b: U256) -> U256 {
    if b.is_zero() {
        return U256::ZERO;
    }
    let r = abs(a) % abs(b);
    if is_negative(a) {
        r.wrapping_neg()
    } else {
        r
    }
}

fn signextend(b: U256, x: U256) -> U256 {
    match usize::try_from(b) {
        Ok(i) if i < 31 => {
            let bit = i * 8 + 7;
            let mask = (U256::from(1u8) << (bit + 1)) - U256::from(1u8);
            if x.bit(bit) {
                x | !mask
            } else {
                x & mask
            }
        }
        _ => x,
    }
}

/// Width in bits of `i32` or `i64`.
fn width(ty: Type) -> u32 {
    match ty {
        Type::I32 => 32,
        _ => 64,
    }
}

/// Masks a `u64` bit pattern to the type's width.
pub fn wrap_int(ty: Type, x: u64) -> u64 {
    if width(ty) == 32 {
        x & 0xffff_ffff
    } else {
        x
    }
}

/// Sign-extends a bit pattern of the type's width to 64 bits.
fn signed(ty: Type, x: u64) -> i64 {
    if width(ty) == 32 {
        x as u32 as i32 as i64
    } else {
        x as i64
    }
}

/// `i32`/`i64` one-operand operations (results as zero-extended bit patterns; `eqz` gives an `i32`).
pub fn int_unary(op: UnOp, ty: Type, a: u64) -> u64 {
    let a = wrap_int(ty, a);
    let bits = width(ty);
    match op {
        UnOp::Not => wrap_int(ty, !a),
        UnOp::Eqz => u64::from(a == 0),
        UnOp::Clz => u64::from(a.leading_zeros() - (64 - bits)),
        UnOp::Ctz => u64::from(if a == 0 { bits } else { a.trailing_zeros() }),
        UnOp::Popcnt => u64::from(a.count_ones()),
    }
}

/// `i32`/`i64` two-operand operations with WebAssembly semantics (comparisons give an `i32` 0 or 1).
pub fn int_binary(op: BinOp, ty: Type, a: u64, b: u64) -> Result<u64, TrapCode> {
    let (a, b) = (wrap_int(ty, a), wrap_int(ty, b));
    let (sa, sb) = (signed(ty, a), signed(ty, b));
    let bits = width(ty);
    let count = (b % u64::from(bits)) as u32;
    let min = if bits == 32 { i64::from(i32::MIN) } else { i64::MIN };
    let r = match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        BinOp::DivU => a.checked_div(b).ok_or(TrapCode::IntegerDivByZero)?,
        BinOp::RemU => a.checked_rem(b).ok_or(TrapCode::IntegerDivByZero)?,
        BinOp::DivS => {
            if sb == 0 {
                return Err(TrapCode::IntegerDivByZero);
            }
            if sa == min && sb == -1 {
                return Err(TrapCode::IntegerOverflow);
            }
            (sa / sb) as u64
        }
        BinOp::RemS => {
            if sb == 0 {
                return Err(TrapCode::IntegerDivByZero);
            }
            if sb == -1 {
                0
            } else {
                (sa % sb) as u64
            }
        }
        BinOp::And => a & b,
        BinOp::Or => a | b,
        BinOp::Xor => a ^ b,
        BinOp::Shl => a << count,
        BinOp::ShrU => a >> count,
        BinOp::ShrS => (sa >> count) as u64,
        BinOp::Rotl | BinOp::Rotr => {
            let r = if op == BinOp::Rotl { count } else { (bits - count) % bits };
            if bits == 32 {
                u64::from((a as u32).rotate_left(r))
            } else {
                a.rotate_left(r)
            }
        }
        BinOp::Eq => u64::from(a == b),
        BinOp::Ne => u64::from(a != b),
        BinOp::LtU => u64::from(a < b),
        BinOp::GtU => u64::from(a > b),
        BinOp::LeU => u64::from(a <= b),
        BinOp::GeU => u64::from(a >= b),
        BinOp::LtS => u64::from(sa < sb),
        BinOp::GtS => u64::from(sa > sb),
        BinOp::LeS => u64::from(sa <= sb),
        BinOp::GeS => u64::from(sa >= sb),
        // Word-only operations (rejected by the verifier on narrow types).
        BinOp::Exp | BinOp::SignExtend | BinOp::Byte => {
            let w = word_binary(op, U256::from(a), U256::from(b));
            w.as_limbs()[0]
        }
    };
    Ok(if op.is_comparison() { r } else { wrap_int(ty, r) })
}

// ---- function references ------------------------------------------------------------------------------

/// The reference `ref.func` makes ([`crate::Op::RefFunc`]): `func + 1` in the low 32 bits, the instance's
/// `tag` in the high 32 (0 outside a linking store). Null is 0.
pub fn func_ref(tag: u64, func: u32) -> u64 {
    (tag << 32) | (u64::from(func) + 1)
}

/// The tag and function of reference `r`; `None` for null and for values [`func_ref`] never makes.
pub fn func_ref_parts(r: u64) -> Option<(u64, u32)> {
    let func = (r as u32).checked_sub(1)?;
    Some((r >> 32, func))
}

// ---- floats -------------------------------------------------------------------------------------------

/// The canonical `f32` NaN: positive, quiet, zero payload. Every arithmetic NaN result is this.
pub const CANONICAL_NAN_F32: u32 = 0x7fc0_0000;
/// The canonical `f64` NaN.
pub const CANONICAL_NAN_F64: u64 = 0x7ff8_0000_0000_0000;

/// Float arithmetic, written once for `f32` and `f64`.
trait Float: Copy + PartialOrd + std::ops::Add<Output = Self> + std::ops::Sub<Output = Self> {
    const CANONICAL_NAN: u64;
    const SIGN: u64;
    fn from_bits64(bits: u64) -> Self;
    fn to_bits64(self) -> u64;
    fn is_nan(self) -> bool;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    fn sqrt(self) -> Self;
    fn ceil(self) -> Self;
    fn floor(self) -> Self;
    fn trunc(self) -> Self;
    fn nearest(self) -> Self;
    fn to_f64(self) -> f64;
}

macro_rules! impl_float {
    ($t:ty, $bits:ty, $nan:expr) => {
        impl Float for $t {
            const CANONICAL_NAN: u64 = $nan as u64;
            const SIGN: u64 = 1 << (<$bits>::BITS - 1);
            fn from_bits64(bits: u64) -> Self {
                <$t>::from_bits(bits as $bits)
            }
            fn to_bits64(self) -> u64 {
                u64::from(self.to_bits())
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn mul(self, o: Self) -> Self {
                self * o
            }
            fn div(self, o: Self) -> Self {
                self / o
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn ceil(self) -> Self {
                <$t>::ceil(self)
            }
            fn floor(self) -> Self {
                <$t>::floor(self)
            }
            fn trunc(self) -> Self {
                <$t>::trunc(self)
            }
            fn nearest(self) -> Self {
                <$t>::round_ties_even(self)
            }
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
        }
    };
}

impl_float!(f32, u32, CANONICAL_NAN_F32);
impl_float!(f64, u64, CANONICAL_NAN_F64);

/// The bits of an arithmetic result: the canonical NaN for any NaN.
fn canonical<F: Float>(x: F) -> u64 {
    if x.is_nan() {
        F::CANONICAL_NAN
    } else {
        x.to_bits64()
    }
}

fn funary<F: Float>(op: FUnOp, bits: u64) -> u64 {
    let a = F::from_bits64(bits);
    match op {
        FUnOp::Abs => bits & !F::SIGN,
        FUnOp::Neg => bits ^ F::SIGN,
        FUnOp::Sqrt => canonical(a.sqrt()),
        FUnOp::Ceil => canonical(a.ceil()),
        FUnOp::Floor => canonical(a.floor()),
        FUnOp::Trunc => canonical(a.trunc()),
        FUnOp::Nearest => canonical(a.nearest()),
    }
}

fn fbinary<F: Float>(op: FBinOp, x: u64, y: u64) -> u64 {
    let (a, b) = (F::from_bits64(x), F::from_bits64(y));
    match op {
        FBinOp::Add => canonical(a + b),
        FBinOp::Sub => canonical(a - b),
        FBinOp::Mul => canonical(a.mul(b)),
        FBinOp::Div => canonical(a.div(b)),
        FBinOp::Min | FBinOp::Max => {
            if a.is_nan() || b.is_nan() {
                F::CANONICAL_NAN
            } else if a == b {
                // Equal, so both zero or the same number: the sign decides between -0 and +0.
                if op == FBinOp::Min {
                    x | y
                } else {
                    x & y
                }
            } else if (a < b) == (op == FBinOp::Min) {
                x
            } else {
                y
            }
        }
        FBinOp::Copysign => (x & !F::SIGN) | (y & F::SIGN),
        FBinOp::Eq => u64::from(a == b),
        FBinOp::Ne => u64::from(a != b),
        FBinOp::Lt => u64::from(a < b),
        FBinOp::Gt => u64::from(a > b),
        FBinOp::Le => u64::from(a <= b),
        FBinOp::Ge => u64::from(a >= b),
    }
}

/// `f32`/`f64` one-operand operations on bit patterns (an `f32` in the low 32 bits).
pub fn float_unary(op: FUnOp, ty: Type, a: u64) -> u64 {
    match ty {
        Type::F32 => funary::<f32>(op, a & 0xffff_ffff),
        _ => funary::<f64>(op, a),
    }
}

/// `f32`/`f64` two-operand operations on bit patterns (comparisons give 0 or 1).
pub fn float_binary(op: FBinOp, ty: Type, a: u64, b: u64) -> u64 {
    match ty {
        Type::F32 => fbinary::<f32>(op, a & 0xffff_ffff, b & 0xffff_ffff),
        _ => fbinary::<f64>(op, a, b),
    }
}

/// Truncates a float toward zero into an integer of type `to`, as `FToS`/`FToU` (trapping) or
/// `FToSSat`/`FToUSat` define it.
fn float_to_int<F: Float>(op: ConvOp, to: Type, a: F) -> Result<u64, TrapCode> {
    let signed = matches!(op, ConvOp::FToS | ConvOp::FToSSat);
    let saturating = matches!(op, ConvOp::FToSSat | ConvOp::FToUSat);
    let x = a.to_f64(); // exact
    if saturating {
        return Ok(match (to, signed) {
            (Type::I32, true) => u64::from(x as i32 as u32),
            (Type::I32, false) => u64::from(x as u32),
            (_, true) => x as i64 as u64,
            (_, false) => x as u64,
        });
    }
    if x.is_nan() {
        return Err(TrapCode::BadConversion);
    }
    let t = x.trunc();
    // The bounds are powers of two, exact in every float type.
    let bits = if to == Type::I32 { 32 } else { 64 };
    let (lo, hi) = if signed { (-(2f64.powi(bits - 1)), 2f64.powi(bits - 1)) } else { (0.0, 2f64.powi(bits)) };
    if !(t >= lo && t < hi) {
        return Err(TrapCode::IntegerOverflow);
    }
    Ok(match (to, signed) {
        (Type::I32, true) => u64::from(t as i32 as u32),
        (Type::I32, false) => u64::from(t as u32),
        (_, true) => t as i64 as u64,
        (_, false) => t as u64,
    })
}

/// The float conversions of [`ConvOp`] (`ftos` .. `bitcast`) on bit patterns. Integer conversions are not
/// handled here (they are plain bit operations); for them this returns the operand unchanged.
pub fn float_convert(op: ConvOp, from: Type, to: Type, a: u64) -> Result<u64, TrapCode> {
    let int_bits = |x: u64| wrap_int(if from == Type::I32 { Type::I32 } else { Type::I64 }, x);
    Ok(match op {
        ConvOp::FToS | ConvOp::FToU | ConvOp::FToSSat | ConvOp::FToUSat => match from {
            Type::F32 => float_to_int(op, to, f32::from_bits64(a))?,
            _ => float_to_int(op, to, f64::from_bits64(a))?,
        },
        ConvOp::SToF | ConvOp::UToF => {
            let x = int_bits(a);
            let signed = op == ConvOp::SToF;
            match (from, signed, to) {
                (Type::I32, true, Type::F32) => u64::from((x as u32 as i32 as f32).to_bits()),
                (Type::I32, false, Type::F32) => u64::from((x as u32 as f32).to_bits()),
                (Type::I32, true, _) => f64::from(x as u32 as i32).to_bits(),
                (Type::I32, false, _) => f64::from(x as u32).to_bits(),
                (_, true, Type::F32) => u64::from((x as i64 as f32).to_bits()),
                (_, false, Type::F32) => u64::from((x as f32).to_bits()),
                (_, true, _) => (x as i64 as f64).to_bits(),
                (_, false, _) => (x as f64).to_bits(),
            }
        }
        ConvOp::FPromote => canonical(f64::from(f32::from_bits64(a))),
        ConvOp::FDemote => canonical(f64::from_bits64(a) as f32),
        ConvOp::Bitcast => {
            if to.bytes() == 4 {
                a & 0xffff_ffff
            } else {
                a
            }
        }
        ConvOp::Zext | ConvOp::Sext | ConvOp::Trunc | ConvOp::SatU64 => a,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(x: i64) -> U256 {
        if x < 0 {
            U256::from(x.unsigned_abs()).wrapping_neg()
        } else {
            U256::from(x as u64)
        }
    }

    #[test]
    fn word_division_follows_the_evm() {
        assert_eq!(word_binary(BinOp::DivU, w(7), w(0)), U256::ZERO);
        assert_eq!(word_binary(BinOp::DivS, w(-7), w(2)), w(-3));
        assert_eq!(word_binary(BinOp::RemS, w(-7), w(2)), w(-1));
        let min = U256::from(1u8) << 255;
        assert_eq!(word_binary(BinOp::DivS, min, w(-1)), min);
        assert_eq!(word_binary(BinOp::RemS, w(5), w(0)), U256::ZERO);
    }

    #[test]
    fn word_shifts_and_bytes() {
        assert_eq!(word_binary(BinOp::Shl, w(1), w(255)), U256::from(1u8) << 255);
        assert_eq!(word_binary(BinOp::Shl, w(1), w(256)), U256::ZERO);
        assert_eq!(word_binary(BinOp::ShrS, w(-8), w(1)), w(-4));
        assert_eq!(word_binary(BinOp::ShrS, w(-8), w(300)), U256::MAX);
        assert_eq!(word_binary(BinOp::Byte, w(31), w(0x1234)), w(0x34));
        assert_eq!(word_binary(BinOp::Byte, w(32), w(0x1234)), U256::ZERO);
        assert_eq!(word_binary(BinOp::SignExtend, w(0), w(0xff)), U256::MAX);
        assert_eq!(word_binary(BinOp::SignExtend, w(0), w(0x7f)), w(0x7f));
        assert_eq!(word_binary(BinOp::SignExtend, w(40), w(0xff)), w(0xff));
    }

    #[test]
    fn word_comparisons_are_signed_where_asked() {
        assert_eq!(word_binary(BinOp::LtS, w(-1), w(0)), w(1));
        assert_eq!(word_binary(BinOp::LtU, w(-1), w(0)), w(0));
        assert_eq!(word_binary(BinOp::GeS, w(3), w(3)), w(1));
    }

    #[test]
    fn modular_arithmetic_does_not_overflow() {
        // 2^256 = 6 (mod 10), so (2^256 - 1) + 2 = 7 (mod 10).
        assert_eq!(word_ternary(TernOp::AddMod, U256::MAX, w(2), w(10)), w(7));
        // 2^256 - 1 = 3 (mod 12), and 3^2 = 9.
        assert_eq!(word_ternary(TernOp::MulMod, U256::MAX, U256::MAX, w(12)), w(9));
        assert_eq!(word_ternary(TernOp::MulMod, w(5), w(5), w(0)), U256::ZERO);
        assert_eq!(word_binary(BinOp::Exp, w(2), w(256)), U256::ZERO);
        assert_eq!(word_binary(BinOp::Exp, w(3), w(4)), w(81));
    }

    /// MULMOD takes ruint's `mul_mod`, which has a fast path for operands and moduli whose top limbs are
    /// all set (field arithmetic, as in weierstrudel); it must agree with the definition, the 512-bit
    /// product's remainder, on both paths.
    #[test]
    fn mulmod_equals_the_remainder_of_the_full_product() {
        use ruint::aliases::U512;
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut limb = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let bn254 =
            U256::from_str_radix("30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47", 16).unwrap();
        for i in 0..4000 {
            let mut word = |top: bool| {
                let mut limbs = [limb(), limb(), limb(), limb()];
                // Vary how many high limbs are zero, so that both of mul_mod's paths are taken.
                let zero_high = if top { 0 } else { (limb() % 4) as usize };
                limbs[4 - zero_high..].fill(0);
                U256::from_limbs(limbs)
            };
            let (a, b) = (word(i % 2 == 0), word(i % 3 == 0));
            let n = match i % 4 {
                0 => bn254,
                1 => U256::MAX,
                _ => word(i % 5 != 0),
            };
            let expected = if n.is_zero() {
                U256::ZERO
            } else {
                let r = a.widening_mul::<256, 4, 512, 8>(b) % U512::from(n);
                U256::from_limbs(r.as_limbs()[..4].try_into().unwrap())
            };
            assert_eq!(word_ternary(TernOp::MulMod, a, b, n), expected, "{a:#x} * {b:#x} mod {n:#x}");
        }
    }

    #[test]
    fn narrow_integers_trap_like_webassembly() {
        assert_eq!(int_binary(BinOp::DivS, Type::I32, 5, 0), Err(TrapCode::IntegerDivByZero));
        assert_eq!(int_binary(BinOp::DivS, Type::I32, 0x8000_0000, 0xffff_ffff), Err(TrapCode::IntegerOverflow));
        assert_eq!(int_binary(BinOp::RemS, Type::I32, 0x8000_0000, 0xffff_ffff), Ok(0));
        assert_eq!(int_binary(BinOp::Shl, Type::I32, 1, 33), Ok(2));
        assert_eq!(int_binary(BinOp::Rotr, Type::I32, 1, 1), Ok(0x8000_0000));
        assert_eq!(int_unary(UnOp::Clz, Type::I32, 1), 31);
        assert_eq!(int_unary(UnOp::Ctz, Type::I64, 0), 64);
    }

    #[test]
    fn memory_cost_matches_the_formula() {
        assert_eq!(memory_cost(1), 3);
        assert_eq!(memory_cost(32), 3 * 32 + 2);
        assert_eq!(memory_cost(u64::MAX), u64::MAX);
    }

    #[test]
    fn float_nans_are_canonical_and_signs_bitwise() {
        let nan = u64::from(0xffc0_1234u32); // negative NaN with a payload
        let one = u64::from(1f32.to_bits());
        assert_eq!(float_binary(FBinOp::Add, Type::F32, nan, one), u64::from(CANONICAL_NAN_F32));
        assert_eq!(float_unary(FUnOp::Sqrt, Type::F64, (-1f64).to_bits()), CANONICAL_NAN_F64);
        assert_eq!(float_unary(FUnOp::Neg, Type::F32, nan), u64::from(0x7fc0_1234u32));
        assert_eq!(float_unary(FUnOp::Abs, Type::F32, nan), u64::from(0x7fc0_1234u32));
        assert_eq!(float_binary(FBinOp::Copysign, Type::F32, one, nan), u64::from((-1f32).to_bits()));
        assert_eq!(float_binary(FBinOp::Eq, Type::F32, nan, nan), 0);
        assert_eq!(float_binary(FBinOp::Ne, Type::F32, nan, nan), 1);
    }

    #[test]
    fn float_min_max_order_zeros() {
        let (pz, nz) = (0f64.to_bits(), (-0f64).to_bits());
        assert_eq!(float_binary(FBinOp::Min, Type::F64, pz, nz), nz);
        assert_eq!(float_binary(FBinOp::Min, Type::F64, nz, pz), nz);
        assert_eq!(float_binary(FBinOp::Max, Type::F64, nz, pz), pz);
        assert_eq!(float_binary(FBinOp::Max, Type::F64, 1f64.to_bits(), 2f64.to_bits()), 2f64.to_bits());
        assert_eq!(float_binary(FBinOp::Min, Type::F64, 1f64.to_bits(), f64::NAN.to_bits()), CANONICAL_NAN_F64);
    }

    #[test]
    fn float_rounding_ties_to_even() {
        let r = |x: f64| f64::from_bits(float_unary(FUnOp::Nearest, Type::F64, x.to_bits()));
        assert_eq!(r(2.5), 2.0);
        assert_eq!(r(3.5), 4.0);
        assert_eq!(r(-0.5).to_bits(), (-0f64).to_bits());
    }

    #[test]
    fn float_to_int_traps_and_saturates_like_webassembly() {
        let f32b = |x: f32| u64::from(x.to_bits());
        let cvt = |op, from, to, a| float_convert(op, from, to, a);
        assert_eq!(cvt(ConvOp::FToS, Type::F32, Type::I32, f32b(-1.9)), Ok(u64::from(-1i32 as u32)));
        assert_eq!(cvt(ConvOp::FToS, Type::F32, Type::I32, f32b(2147483648.0)), Err(TrapCode::IntegerOverflow));
        assert_eq!(cvt(ConvOp::FToS, Type::F32, Type::I32, f32b(-2147483648.0)), Ok(0x8000_0000));
        assert_eq!(cvt(ConvOp::FToU, Type::F32, Type::I32, f32b(-0.9)), Ok(0));
        assert_eq!(cvt(ConvOp::FToU, Type::F32, Type::I32, f32b(-1.0)), Err(TrapCode::IntegerOverflow));
        assert_eq!(cvt(ConvOp::FToU, Type::F64, Type::I64, f64::NAN.to_bits()), Err(TrapCode::BadConversion));
        assert_eq!(cvt(ConvOp::FToSSat, Type::F64, Type::I32, 1e10f64.to_bits()), Ok(0x7fff_ffff));
        assert_eq!(cvt(ConvOp::FToUSat, Type::F64, Type::I64, (-5f64).to_bits()), Ok(0));
        assert_eq!(cvt(ConvOp::FToSSat, Type::F32, Type::I64, f32b(f32::NAN)), Ok(0));
        // u64::MAX rounds to 2^64 in f32: ties to even, as WebAssembly requires.
        assert_eq!(cvt(ConvOp::UToF, Type::I64, Type::F32, u64::MAX), Ok(f32b(18446744073709551616.0)));
        assert_eq!(cvt(ConvOp::SToF, Type::I32, Type::F64, 0xffff_ffff), Ok((-1f64).to_bits()));
        assert_eq!(cvt(ConvOp::FDemote, Type::F64, Type::F32, f64::NAN.to_bits()), Ok(u64::from(CANONICAL_NAN_F32)));
    }
}
