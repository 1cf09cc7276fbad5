//! `0x06` add, `0x07` scalar multiplication and `0x08` pairing check on the bn254 (alt_bn128) curve
//! (EIP-196, EIP-197), at Istanbul prices (EIP-1108).
//!
//! Encoding: a field element is a 32-byte big-endian integer that must be below the field modulus; a G1
//! point is `x ‖ y` and a G2 point `x_im ‖ x_re ‖ y_im ‖ y_re` (the imaginary part first), with all-zero
//! coordinates meaning the point at infinity. Any other point must be on the curve and, for G2, in the
//! prime-order subgroup; otherwise the call fails. Add and mul zero-fill short input (and ignore bytes
//! past what they read); pairing input must be a whole number of 192-byte (G1, G2) pairs.
//!
//! All curve arithmetic is `substrate-bn`'s; this module only parses, prices and encodes.

use super::{charge, read, Outcome, PrecompileError, PrecompileOutput};
use substrate_bn::{AffineG1, AffineG2, Fq, Fq2, Fr, Group, Gt, G1, G2};

const ADD_GAS: u64 = 150;
const MUL_GAS: u64 = 6000;
const PAIRING_BASE_GAS: u64 = 45_000;
const PAIRING_PER_PAIR_GAS: u64 = 34_000;
/// One pairing input element: a G1 point (64 bytes) and a G2 point (128 bytes).
const PAIR_LEN: usize = 192;

/// `0x06`: the sum of two G1 points.
pub(super) fn add(input: &[u8], gas_limit: u64) -> Outcome {
    let gas_used = charge(Some(ADD_GAS), gas_limit)?;
    let a = g1(&read(input, 0))?;
    let b = g1(&read(input, 64))?;
    Ok(PrecompileOutput { gas_used, output: encode(a + b)? })
}

/// `0x07`: a G1 point times a 256-bit scalar (any value; the group order reduces it).
pub(super) fn mul(input: &[u8], gas_limit: u64) -> Outcome {
    let gas_used = charge(Some(MUL_GAS), gas_limit)?;
    let point = g1(&read(input, 0))?;
    let scalar = Fr::from_slice(&read::<32>(input, 64)).map_err(|_| PrecompileError::Failure("bn254 bad scalar"))?;
    Ok(PrecompileOutput { gas_used, output: encode(point * scalar)? })
}

/// `0x08`: whether the product of the pairings of the given (G1, G2) pairs is one, as a 32-byte word.
/// No pairs is true.
pub(super) fn pairing(input: &[u8], gas_limit: u64) -> Outcome {
    let pairs = u64::try_from(input.len() / PAIR_LEN).ok();
    let cost = pairs.and_then(|n| n.checked_mul(PAIRING_PER_PAIR_GAS)?.checked_add(PAIRING_BASE_GAS));
    let gas_used = charge(cost, gas_limit)?;
    if !input.len().is_multiple_of(PAIR_LEN) {
        return Err(PrecompileError::Failure("bn254 pairing input is not a whole number of pairs"));
    }
    let mut terms = Vec::new();
    for pair in input.chunks_exact(PAIR_LEN) {
        let p = g1(&read(pair, 0))?;
        let q = g2(&read(pair, 64))?;
        // A pair with the point at infinity contributes a factor of one.
        if !p.is_zero() && !q.is_zero() {
            terms.push((p, q));
        }
    }
    let holds = terms.is_empty() || substrate_bn::pairing_batch(&terms) == Gt::one();
    let mut output = vec![0u8; 32];
    output[31] = u8::from(holds);
    Ok(PrecompileOutput { gas_used, output })
}

fn fq(bytes: &[u8; 32]) -> Result<Fq, PrecompileError> {
    Fq::from_slice(bytes).map_err(|_| PrecompileError::Failure("bn254 coordinate not below the field modulus"))
}

/// A G1 point from `x ‖ y`.
fn g1(bytes: &[u8; 64]) -> Result<G1, PrecompileError> {
    let x = fq(&read(bytes, 0))?;
    let y = fq(&read(bytes, 32))?;
    if x.is_zero() && y.is_zero() {
        return Ok(G1::zero());
    }
    AffineG1::new(x, y).map(G1::from).map_err(|_| PrecompileError::Failure("bn254 G1 point not on the curve"))
}

/// A G2 point from `x_im ‖ x_re ‖ y_im ‖ y_re`.
fn g2(bytes: &[u8; 128]) -> Result<G2, PrecompileError> {
    let x = Fq2::new(fq(&read(bytes, 32))?, fq(&read(bytes, 0))?);
    let y = Fq2::new(fq(&read(bytes, 96))?, fq(&read(bytes, 64))?);
    if x.is_zero() && y.is_zero() {
        return Ok(G2::zero());
    }
    AffineG2::new(x, y)
        .map(G2::from)
        .map_err(|_| PrecompileError::Failure("bn254 G2 point not on the curve or not in the subgroup"))
}

/// `x ‖ y` of a G1 point; zeros for the point at infinity.
fn encode(point: G1) -> Result<Vec<u8>, PrecompileError> {
    let mut output = vec![0u8; 64];
    if let Some(affine) = AffineG1::from_jacobian(point) {
        let (x, y) = output.split_at_mut(32);
        affine
            .x()
            .to_big_endian(x)
            .and_then(|()| affine.y().to_big_endian(y))
            .map_err(|_| PrecompileError::Failure("bn254 cannot encode point"))?;
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::super::differential::{any_input, check};
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test vector is hex")
    }

    fn ok(gas_used: u64, output: &str) -> Outcome {
        Ok(PrecompileOutput { gas_used, output: hex(output) })
    }

    /// The field modulus p.
    const P: &str = "30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47";
    /// The G2 generator in the precompile's encoding.
    const G2_GEN: &str = "198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c21800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa";
    /// Minus the G2 generator.
    const G2_NEG_GEN: &str = "198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c21800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed275dc4a288d1afb3cbb1ac09187524c7db36395df7be3b99e673b13a075a65ec1d9befcd05a5323e6da4d435f3b617cdb3af83285c2df711ef39c01571827f9d";
    const G1_GEN: &str = "00000000000000000000000000000000000000000000000000000000000000010000000000000000000000000000000000000000000000000000000000000002";

    #[test]
    fn geth_add_vectors() {
        // go-ethereum core/vm/testdata/precompiles/bn256Add.json
        let chfast1 = "18b18acfb4c2c30276db5411368e7185b311dd124691610c5d3b74034e093dc9063c909c4720840cb5134cb9f59fa749755796819658d32efc0d288198f3726607c2b7f58a84bd6145f00c9c2bc0bb1a187f20ff2c92963a88019e7c6a014eed06614e20c147e940f2d70da3f74c9a17df361706a4485c742bd6788478fa17d7";
        let sum = "2243525c5efd4b9c3d3c45ac0ca3fe4dd85e830a4ce6b65fa1eeaee202839703301d1d33be6da8e509df21cc35964723180eed7532537db9ae5e7d48f195c915";
        assert_eq!(add(&hex(chfast1), 150), ok(150, sum));
        assert_eq!(add(&hex(chfast1), 149), Err(PrecompileError::OutOfGas));
        // cdetrio11: G + G.
        let double = "030644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd315ed738c0e0a7c92e7845f96b2ae9c0a68a6a449e3538fc7ff3ebf7a5a18a2c4";
        assert_eq!(add(&hex(&[G1_GEN, G1_GEN].concat()), 150), ok(150, double));
        // cdetrio4, 8, 9: empty, one point, and input longer than 128 bytes.
        assert_eq!(add(&[], 150), ok(150, &"00".repeat(64)));
        assert_eq!(add(&hex(G1_GEN), 150), ok(150, G1_GEN));
        assert_eq!(add(&hex(&[G1_GEN, &"00".repeat(128)].concat()), 150), ok(150, G1_GEN));
        // cdetrio14: P + (-P) is the point at infinity.
        let p_minus_p = "17c139df0efee0f766bc0204762b774362e4ded88953a39ce849a8a7fa163fa901e0559bacb160664764a357af8a9fe70baa9258e0b959273ffc5718c6d4cc7c17c139df0efee0f766bc0204762b774362e4ded88953a39ce849a8a7fa163fa92e83f8d734803fc370eba25ed1f6b8768bd6d83887b87165fc2434fe11a830cb";
        assert_eq!(add(&hex(p_minus_p), 150), ok(150, &"00".repeat(64)));
    }

    #[test]
    fn invalid_points_fail() {
        // (1, 1) is not on y^2 = x^3 + 3.
        let off_curve = [&"00".repeat(31), "01", &"00".repeat(31), "01"].concat();
        assert!(matches!(add(&hex(&off_curve), 150), Err(PrecompileError::Failure(_))));
        assert!(matches!(mul(&hex(&off_curve), 6000), Err(PrecompileError::Failure(_))));
        // x = p is not a field element, even though x = 0 would be fine.
        let x_is_p = [P, &"00".repeat(32)].concat();
        assert!(matches!(add(&hex(&x_is_p), 150), Err(PrecompileError::Failure(_))));
        // Out of gas is reported before the input is looked at.
        assert_eq!(add(&hex(&off_curve), 149), Err(PrecompileError::OutOfGas));
        // A G2 point with a coordinate equal to p.
        let bad_g2 = [G1_GEN, P, &G2_GEN[64..]].concat();
        assert!(matches!(pairing(&hex(&bad_g2), 79_000), Err(PrecompileError::Failure(_))));
        // The G2 generator with the two parts of x swapped is not on the twist.
        let swapped = [G1_GEN, &G2_GEN[64..128], &G2_GEN[..64], &G2_GEN[128..]].concat();
        assert!(matches!(pairing(&hex(&swapped), 79_000), Err(PrecompileError::Failure(_))));
    }

    #[test]
    fn g2_points_outside_the_subgroup_fail() {
        // The first x = k + 0i with x^3 + b a square gives a point on the twist; its cofactor is huge, so
        // it is not in the prime-order subgroup (checked with the group order: r * Q != 0).
        let (x, y) = (1u32..)
            .find_map(|k| {
                let x = Fq2::new(Fq::from_str(&k.to_string())?, Fq::zero());
                Some((x, (x * x * x + G2::b()).sqrt()?))
            })
            .expect("a square appears quickly");
        let q = G2::new(x, y, Fq2::one());
        assert!(!(q * -Fr::one() + q).is_zero(), "not in the subgroup");
        let mut input = hex(G1_GEN);
        for c in [x.imaginary(), x.real(), y.imaginary(), y.real()] {
            let mut word = [0u8; 32];
            c.to_big_endian(&mut word).expect("32 bytes");
            input.extend(word);
        }
        assert!(matches!(pairing(&input, 79_000), Err(PrecompileError::Failure(_))));
        check(8, &input).expect("revm agrees");
    }

    #[test]
    fn geth_mul_vectors() {
        // go-ethereum core/vm/testdata/precompiles/bn256ScalarMul.json
        let vectors = [
            (
                "2bd3e6d0f3b142924f5ca7b49ce5b9d54c4703d7ae5648e61d02268b1a0a9fb721611ce0a6af85915e2f1d70300909ce2e49dfad4a4619c8390cae66cefdb20400000000000000000000000000000000000000000000000011138ce750fa15c2",
                "070a8d6a982153cae4be29d434e8faef8a47b274a053f5a4ee2a6c9c13c31e5c031b8ce914eba3a9ffb989f9cdd5b0f01943074bf4f0f315690ec3cec6981afc",
            ),
            // cdetrio1: the scalar 2^256 - 1, above the group order.
            (
                "1a87b0584ce92f4593d161480614f2989035225609f08058ccfa3d0f940febe31a2f3c951f6dadcc7ee9007dff81504b0fcd6d7cf59996efdc33d92bf7f9f8f6ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
                "2cde5879ba6f13c0b5aa4ef627f159a3347df9722efce88a9afbb20b763b4c411aa7e43076f6aee272755a7f9b84832e71559ba0d2e0b17d5f9f01755e5b0d11",
            ),
            // cdetrio2: the scalar r - 1 gives -P.
            (
                "1a87b0584ce92f4593d161480614f2989035225609f08058ccfa3d0f940febe31a2f3c951f6dadcc7ee9007dff81504b0fcd6d7cf59996efdc33d92bf7f9f8f630644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000000",
                "1a87b0584ce92f4593d161480614f2989035225609f08058ccfa3d0f940febe3163511ddc1c3f25d396745388200081287b3fd1472d8339d5fecb2eae0830451",
            ),
            // cdetrio5: times one.
            (
                "1a87b0584ce92f4593d161480614f2989035225609f08058ccfa3d0f940febe31a2f3c951f6dadcc7ee9007dff81504b0fcd6d7cf59996efdc33d92bf7f9f8f60000000000000000000000000000000000000000000000000000000000000001",
                "1a87b0584ce92f4593d161480614f2989035225609f08058ccfa3d0f940febe31a2f3c951f6dadcc7ee9007dff81504b0fcd6d7cf59996efdc33d92bf7f9f8f6",
            ),
        ];
        for (input, output) in vectors {
            assert_eq!(mul(&hex(input), 6000), ok(6000, output));
            assert_eq!(mul(&hex(input), 5999), Err(PrecompileError::OutOfGas));
        }
        // A missing scalar is zero: the point at infinity.
        assert_eq!(mul(&hex(G1_GEN), 6000), ok(6000, &"00".repeat(64)));
    }

    #[test]
    fn geth_pairing_vectors() {
        // go-ethereum core/vm/testdata/precompiles/bn256Pairing.json
        let one = &[&"00".repeat(31), "01"].concat();
        let zero = &"00".repeat(32);
        // empty_data, one_point (e(G1, G2) != 1) and two_point_match_2 (e(G1, G2) e(G1, -G2) = 1).
        assert_eq!(pairing(&[], 45_000), ok(45_000, one));
        assert_eq!(pairing(&hex(&[G1_GEN, G2_GEN].concat()), 79_000), ok(79_000, zero));
        let matched = [G1_GEN, G2_GEN, G1_GEN, G2_NEG_GEN].concat();
        assert_eq!(pairing(&hex(&matched), 113_000), ok(113_000, one));
        assert_eq!(pairing(&hex(&matched), 112_999), Err(PrecompileError::OutOfGas));
        // jeff1.
        let jeff1 = "1c76476f4def4bb94541d57ebba1193381ffa7aa76ada664dd31c16024c43f593034dd2920f673e204fee2811c678745fc819b55d3e9d294e45c9b03a76aef41209dd15ebff5d46c4bd888e51a93cf99a7329636c63514396b4a452003a35bf704bf11ca01483bfa8b34b43561848d28905960114c8ac04049af4b6315a416782bb8324af6cfc93537a2ad1a445cfd0ca2a71acd7ac41fadbf933c2a51be344d120a2a4cf30c1bf9845f20c6fe39e07ea2cce61f0c9bb048165fe5e4de877550111e129f1cf1097710d41c4ac70fcdfa5ba2023c6ff1cbeac322de49d1b6df7c2032c61a830e3c17286de9462bf242fca2883585b93870a73853face6a6bf411198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c21800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa";
        assert_eq!(pairing(&hex(jeff1), 113_000), ok(113_000, one));
        // Pairs with the point at infinity drop out.
        let with_infinity = [&"00".repeat(64), G2_GEN, G1_GEN, &"00".repeat(128)].concat();
        assert_eq!(pairing(&hex(&with_infinity), 113_000), ok(113_000, one));
        // Not a whole number of pairs: priced by whole pairs, then fails.
        let ragged = hex(&[G1_GEN, G2_GEN, "00"].concat());
        assert!(matches!(pairing(&ragged, 79_000), Err(PrecompileError::Failure(_))));
        assert_eq!(pairing(&ragged, 78_999), Err(PrecompileError::OutOfGas));
    }

    /// `k * G1` encoded, from the scalar's bytes (reduced by the group order).
    fn g1_multiple(k: [u8; 32]) -> Vec<u8> {
        let scalar = Fr::from_slice(&k).expect("32 bytes");
        encode(G1::one() * scalar).expect("encodes")
    }

    /// `k * G2` encoded (imaginary parts first), or zeros for infinity.
    fn g2_multiple(k: [u8; 32]) -> Vec<u8> {
        let scalar = Fr::from_slice(&k).expect("32 bytes");
        let mut out = vec![0u8; 128];
        if let Some(p) = AffineG2::from_jacobian(G2::one() * scalar) {
            for (i, c) in [p.x().imaginary(), p.x().real(), p.y().imaginary(), p.y().real()].iter().enumerate() {
                c.to_big_endian(&mut out[32 * i..32 * (i + 1)]).expect("32 bytes");
            }
        }
        out
    }

    /// Damages an encoding by `how`: 3 sets one byte, 4 sets a coordinate to p, 5 truncates; anything
    /// else leaves it valid.
    fn mutate(mut bytes: Vec<u8>, how: u8, at: usize, byte: u8) -> Vec<u8> {
        match how {
            3 => {
                let i = at % bytes.len().max(1);
                if let Some(b) = bytes.get_mut(i) {
                    *b = byte;
                }
            }
            4 => {
                let start = (at % (bytes.len() / 32).max(1)) * 32;
                if bytes.len() >= start + 32 {
                    bytes[start..start + 32].copy_from_slice(&hex(P));
                }
            }
            5 => bytes.truncate(at % (bytes.len() + 1)),
            _ => {}
        }
        bytes
    }

    /// Two valid points (sometimes equal, opposite or at infinity), possibly damaged.
    fn add_input() -> impl Strategy<Value = Vec<u8>> {
        (any::<[u8; 32]>(), any::<[u8; 32]>(), 0u8..4, 0u8..6, any::<usize>(), any::<u8>()).prop_map(
            |(a, b, relation, how, at, byte)| {
                let first = g1_multiple(a);
                let second = match relation {
                    0 => first.clone(),
                    1 => encode(-(G1::one() * Fr::from_slice(&a).expect("32 bytes"))).expect("encodes"),
                    2 => vec![0u8; 64],
                    _ => g1_multiple(b),
                };
                mutate([first, second].concat(), how, at, byte)
            },
        )
    }

    /// A valid point and a scalar that is random, small, or around the group order.
    fn mul_input() -> impl Strategy<Value = Vec<u8>> {
        let order = hex("30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001");
        (any::<[u8; 32]>(), any::<[u8; 32]>(), 0u8..5, 0u8..6, any::<usize>(), any::<u8>()).prop_map(
            move |(a, k, kind, how, at, byte)| {
                let scalar = match kind {
                    0 => order.clone(),
                    1 => {
                        let mut s = order.clone();
                        s[31] = k[31];
                        s
                    }
                    2 => [vec![0u8; 31], vec![k[0]]].concat(),
                    3 => vec![0xff; 32],
                    _ => k.to_vec(),
                };
                mutate([g1_multiple(a), scalar].concat(), how, at, byte)
            },
        )
    }

    /// One to three pairs `(a_i G1, b_i G2)`, with the last pair sometimes chosen so that the product is
    /// one, some pairs at infinity, then possibly damaged.
    fn pairing_input() -> impl Strategy<Value = Vec<u8>> {
        (prop::collection::vec((1u8..=255, 1u8..=255), 1..=3), any::<bool>(), 0u8..8, any::<usize>(), any::<u8>())
            .prop_map(|(scalars, balance, how, at, byte)| {
                let small = |k: u8| {
                    let mut s = [0u8; 32];
                    s[31] = k;
                    s
                };
                let mut input = Vec::new();
                let mut sum = 0u64;
                for &(a, b) in &scalars {
                    input.extend(g1_multiple(small(a)));
                    input.extend(g2_multiple(small(b)));
                    sum += u64::from(a) * u64::from(b);
                }
                if balance {
                    // e(-sum * G1, G2) cancels the rest.
                    let neg = -(G1::one()
                        * Fr::from_slice(&[vec![0u8; 24], sum.to_be_bytes().to_vec()].concat()).expect("32 bytes"));
                    input.extend(encode(neg).expect("encodes"));
                    input.extend(hex(G2_GEN));
                }
                if how == 6 {
                    input[..64].fill(0);
                }
                if how == 7 {
                    input[64..192].fill(0);
                }
                mutate(input, how, at, byte)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn add_matches_revm_on_random_input(input in any_input(160)) {
            check(6, &input)?;
        }

        #[test]
        fn add_matches_revm_on_valid_points(input in add_input()) {
            check(6, &input)?;
        }

        #[test]
        fn mul_matches_revm_on_random_input(input in any_input(120)) {
            check(7, &input)?;
        }

        #[test]
        fn mul_matches_revm_on_valid_points(input in mul_input()) {
            check(7, &input)?;
        }
    }

    proptest! {
        // Pairings are slow in debug builds.
        #![proptest_config(ProptestConfig::with_cases(8))]

        #[test]
        fn pairing_matches_revm_on_random_input(input in any_input(400)) {
            check(8, &input)?;
        }

        #[test]
        fn pairing_matches_revm_on_valid_points(input in pairing_input()) {
            check(8, &input)?;
        }
    }
}
