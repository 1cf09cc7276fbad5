//! `0x05` modexp (EIP-198): `base ^ exponent % modulus` over big-endian numbers of any size, priced by
//! EIP-2565.
//!
//! Input: three 32-byte big-endian lengths, then the base, the exponent and the modulus with those
//! lengths, all zero-filled past the end of the call data. Output: the result, left-padded to the modulus
//! length (a zero modulus gives zeros).
//!
//! The lengths are 256-bit, so the price is computed before anything is read or allocated, and it is
//! computed exactly: the EIP-2565 formula in `u128` with checked arithmetic, where a price that does not
//! fit in `u64` is out of gas. A huge base or modulus length therefore fails by price alone. A huge
//! exponent length is free only when the base and modulus lengths are both zero, which returns empty
//! output without reading anything — as in geth. Everything the call then reads or allocates is
//! bounded by the gas it paid for (about `sqrt(gas)` bytes of base and modulus and `3/8` of a byte of
//! exponent per unit of gas).
//!
//! The arithmetic is `aurora-engine-modexp` (also revm's).

use super::{charge, read, Outcome, PrecompileError, PrecompileOutput};
use std::borrow::Cow;

/// The header: the lengths of the base, the exponent and the modulus.
const HEADER: usize = 96;
/// EIP-2565's minimum price.
const MIN_GAS: u64 = 200;

pub(super) fn run(input: &[u8], gas_limit: u64) -> Outcome {
    let (Some(base_len), exp_len, Some(mod_len)) = (length(input, 0), length(input, 32), length(input, 64)) else {
        // A base or modulus of 2^64 bytes or more: the price is at least (2^61)^2 / 3.
        return Err(PrecompileError::OutOfGas);
    };
    let data = input.get(HEADER..).unwrap_or_default();
    let gas_used = charge(price(data, base_len, exp_len, mod_len), gas_limit)?;
    if base_len == 0 && mod_len == 0 {
        return Ok(PrecompileOutput { gas_used, output: Vec::new() });
    }
    // Paid for, with a non-empty base or modulus: every length is bounded by the gas (so the exponent
    // length is known and all three fit in `usize`); the errors below cannot happen on 64-bit targets.
    let to_usize = |len: u64| usize::try_from(len).map_err(|_| PrecompileError::OutOfGas);
    let exp_len = exp_len.ok_or(PrecompileError::OutOfGas)?;
    let (base_len, exp_len, mod_len) = (to_usize(base_len)?, to_usize(exp_len)?, to_usize(mod_len)?);

    let base = operand(data, 0, base_len);
    let exponent = operand(data, base_len, exp_len);
    let modulus = operand(data, base_len.saturating_add(exp_len), mod_len);
    let mut output = vec![0u8; mod_len];
    if modulus.iter().any(|&b| b != 0) {
        let result = aurora_engine_modexp::modexp(&base, &exponent, &modulus);
        // The result is below the modulus, so it fits in `mod_len` bytes once leading zeros are dropped.
        let digits = result.iter().position(|&b| b != 0).map_or(&[][..], |first| &result[first..]);
        let n = digits.len().min(mod_len);
        output[mod_len - n..].copy_from_slice(&digits[digits.len() - n..]);
    }
    Ok(PrecompileOutput { gas_used, output })
}

/// The length word at `offset`, or None if it is 2^64 or more.
fn length(input: &[u8], offset: usize) -> Option<u64> {
    let word = read::<32>(input, offset);
    let (high, low) = word.split_at(24);
    if high.iter().any(|&b| b != 0) {
        return None;
    }
    Some(u64::from_be_bytes(low.try_into().ok()?))
}

/// The EIP-2565 price, or None if it does not fit in `u64`. `exp_len` is None when 2^64 or more.
fn price(data: &[u8], base_len: u64, exp_len: Option<u64>, mod_len: u64) -> Option<u64> {
    // mult_complexity = ceil(max(base_len, mod_len) / 8)^2, at most 2^122.
    let words = u128::from(base_len.max(mod_len).div_ceil(8));
    let complexity = words * words;
    if complexity == 0 {
        return Some(MIN_GAS);
    }
    let exp_len = exp_len?;
    // The bit length of the exponent's first min(exp_len, 32) bytes.
    let head_len = exp_len.min(32) as usize;
    let head = usize::try_from(base_len).ok().and_then(|start| data.get(start..)).unwrap_or_default();
    let head = &head[..head.len().min(head_len)];
    let head_bits = head
        .iter()
        .position(|&b| b != 0)
        .map_or(0, |i| (head_len - i) as u128 * 8 - u128::from(head[i].leading_zeros()));
    // adjusted_exponent_length = 8 * (exp_len - 32) (if positive) + floor(log2(head)), at least 1.
    let iterations =
        if exp_len <= 32 { head_bits.saturating_sub(1) } else { 8 * u128::from(exp_len - 32) + head_bits.max(1) - 1 }
            .max(1);
    let gas = complexity.checked_mul(iterations)? / 3;
    u64::try_from(gas).ok().map(|g| g.max(MIN_GAS))
}

/// `len` bytes of `data` from `offset`, zero-filled past its end; borrowed when the data covers it.
fn operand(data: &[u8], offset: usize, len: usize) -> Cow<'_, [u8]> {
    let rest = data.get(offset..).unwrap_or_default();
    match rest.get(..len) {
        Some(whole) => Cow::Borrowed(whole),
        None => {
            let mut padded = vec![0u8; len];
            padded[..rest.len()].copy_from_slice(rest);
            Cow::Owned(padded)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::differential::{any_input, check};
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test vector is hex")
    }

    /// The three length words, each given as its significant big-endian bytes.
    fn header(base_len: &[u8], exp_len: &[u8], mod_len: &[u8]) -> Vec<u8> {
        let mut input = Vec::new();
        for len in [base_len, exp_len, mod_len] {
            input.extend(std::iter::repeat_n(0, 32 - len.len()));
            input.extend_from_slice(len);
        }
        input
    }

    #[test]
    fn geth_eip2565_vectors() {
        // go-ethereum core/vm/testdata/precompiles/modexp_eip2565.json: (input, output, gas).
        let vectors = [
            (
                "00000000000000000000000000000000000000000000000000000000000000010000000000000000000000000000000000000000000000000000000000000020000000000000000000000000000000000000000000000000000000000000002003fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2efffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f",
                "0000000000000000000000000000000000000000000000000000000000000001",
                1360,
            ),
            (
                "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000200000000000000000000000000000000000000000000000000000000000000020fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2efffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f",
                "0000000000000000000000000000000000000000000000000000000000000000",
                1360,
            ),
            (
                "000000000000000000000000000000000000000000000000000000000000004000000000000000000000000000000000000000000000000000000000000000010000000000000000000000000000000000000000000000000000000000000040e09ad9675465c53a109fac66a445c91b292d2bb2c5268addb30cd82f80fcb0033ff97c80a5fc6f39193ae969c6ede6710a6b7ac27078a06d90ef1c72e5c85fb502fc9e1f6beb81516545975218075ec2af118cd8798df6e08a147c60fd6095ac2bb02c2908cf4dd7c81f11c289e4bce98f3553768f392a80ce22bf5c4f4a248c6b",
                "60008f1614cc01dcfb6bfb09c625cf90b47d4468db81b5f8b7a39d42f332eab9b2da8f2d95311648a8f243f4bb13cfb3d8f7f2a3c014122ebb3ed41b02783adc",
                200,
            ),
            (
                "000000000000000000000000000000000000000000000000000000000000004000000000000000000000000000000000000000000000000000000000000000030000000000000000000000000000000000000000000000000000000000000040e09ad9675465c53a109fac66a445c91b292d2bb2c5268addb30cd82f80fcb0033ff97c80a5fc6f39193ae969c6ede6710a6b7ac27078a06d90ef1c72e5c85fb5010001fc9e1f6beb81516545975218075ec2af118cd8798df6e08a147c60fd6095ac2bb02c2908cf4dd7c81f11c289e4bce98f3553768f392a80ce22bf5c4f4a248c6b",
                "c36d804180c35d4426b57b50c5bfcca5c01856d104564cd513b461d3c8b8409128a5573e416d0ebe38f5f736766d9dc27143e4da981dfa4d67f7dc474cbee6d2",
                341,
            ),
        ];
        for (input, output, gas) in vectors {
            let input = hex(input);
            assert_eq!(run(&input, gas), Ok(PrecompileOutput { gas_used: gas, output: hex(output) }), "{gas}");
            assert_eq!(run(&input, gas - 1), Err(PrecompileError::OutOfGas));
        }
    }

    #[test]
    fn eip198_edge_cases() {
        // A modulus of zero gives zeros of the modulus length.
        let mut input = header(&[1], &[1], &[4]);
        input.extend([3, 5, 0, 0, 0, 0]);
        assert_eq!(run(&input, 200).map(|o| o.output), Ok(vec![0; 4]));
        // Missing bytes are zeros: 3^5 mod 0x0100 (modulus read as 01 00 from "01" + padding) = 243.
        let mut input = header(&[1], &[1], &[2]);
        input.extend([3, 5, 1]);
        assert_eq!(run(&input, 200).map(|o| o.output), Ok(vec![0, 243]));
        // x^0 mod 1 = 0; 0^0 mod 7 = 1.
        let mut input = header(&[1], &[0], &[1]);
        input.extend([9, 1]);
        assert_eq!(run(&input, 200).map(|o| o.output), Ok(vec![0]));
        let mut input = header(&[0], &[0], &[1]);
        input.extend([7]);
        assert_eq!(run(&input, 200).map(|o| o.output), Ok(vec![1]));
        // Empty input: every length is zero.
        assert_eq!(run(&[], 200), Ok(PrecompileOutput { gas_used: 200, output: vec![] }));
        assert_eq!(run(&[], 199), Err(PrecompileError::OutOfGas));
    }

    #[test]
    fn huge_lengths_are_out_of_gas_by_price_without_allocating() {
        let max = [0xff; 32];
        // Base or modulus length of 2^256 - 1 or 2^64: out of gas even with all the gas there is.
        for (b, e, m) in
            [(&max[..], &[1u8][..], &[1u8][..]), (&[1], &[1], &max), (&[1, 0, 0, 0, 0, 0, 0, 0, 0], &[1], &[1])]
        {
            assert_eq!(run(&header(b, e, m), u64::MAX), Err(PrecompileError::OutOfGas));
        }
        // 2^40-byte modulus: (2^37)^2 / 3 does not fit in u64.
        assert_eq!(run(&header(&[1], &[1], &[1, 0, 0, 0, 0, 0]), u64::MAX), Err(PrecompileError::OutOfGas));
        // Exponent lengths of 2^256 - 1 and 2^63 with a one-byte modulus.
        assert_eq!(run(&header(&[1], &max, &[1]), u64::MAX), Err(PrecompileError::OutOfGas));
        assert_eq!(run(&header(&[1], &[0x80, 0, 0, 0, 0, 0, 0, 0], &[1]), u64::MAX), Err(PrecompileError::OutOfGas));
        // With no base and no modulus the exponent does not matter: 200 gas, empty output (geth).
        assert_eq!(run(&header(&[0], &max, &[0]), 200), Ok(PrecompileOutput { gas_used: 200, output: vec![] }));
    }

    #[test]
    fn price_follows_eip2565() {
        // 32-byte operands, exponent 2^255: words 4, complexity 16, iterations 255 -> 16 * 255 / 3 = 1360.
        let mut input = header(&[32], &[32], &[32]);
        input.extend([0u8; 32]);
        input.push(0x80);
        assert_eq!(price(&input[HEADER..], 32, Some(32), 32), Some(1360));
        // 64-byte exponent whose head is zero: 8 * 32 iterations; complexity 1 -> 256 / 3 = 85 -> 200.
        assert_eq!(price(&[], 1, Some(64), 1), Some(200));
        // 1000-byte operands, 40-byte exponent with a zero head: words 125, iterations 8 * 8 = 64.
        assert_eq!(price(&[], 1000, Some(40), 1000), Some(15625 * 64 / 3));
    }

    /// A header with small lengths (sometimes over 32 for the exponent), then random operand bytes, cut
    /// at a random point so that zero-filling is exercised.
    fn near_valid() -> impl Strategy<Value = Vec<u8>> {
        (0u8..=40, 0u8..=48, 0u8..=40, any_input(140), any::<usize>()).prop_map(|(b, e, m, body, cut)| {
            let mut input = header(&[b], &[e], &[m]);
            input.extend(body);
            input.truncate(HEADER + cut % (input.len() - HEADER + 1));
            input
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn matches_revm_on_random_input(input in any_input(200)) {
            check(5, &input)?;
        }

        #[test]
        fn matches_revm_on_near_valid_input(input in near_valid()) {
            check(5, &input)?;
        }
    }
}
