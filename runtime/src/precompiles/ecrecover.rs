//! `0x01` ecrecover: the address that signed a 32-byte hash.
//!
//! Input (zero-filled to 128 bytes): `hash ‖ v ‖ r ‖ s`, each a 32-byte big-endian word. Output: the
//! signer's address left-padded to 32 bytes — or *empty* output, still a success at full price, when the
//! input is not a valid signature (`v` not exactly 27 or 28, `r` or `s` zero or not below the curve
//! order, or no key recovers). Contracts rely on that: an invalid signature is an answer, not an error.
//!
//! Unlike transaction signatures (EIP-2), ecrecover accepts a high `s`. `k256` verifies only low-`s`
//! signatures, so a high-`s` one is normalised to `n - s` first, which flips the parity of the recovered
//! point's `y`; the recovery id is flipped to match, and the same key comes out.

use super::{charge, read, Outcome, PrecompileOutput};
use crate::crypto::keccak256;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};

const GAS: u64 = 3000;

pub(super) fn run(input: &[u8], gas_limit: u64) -> Outcome {
    let gas_used = charge(Some(GAS), gas_limit)?;
    let output = recover(&read::<128>(input, 0)).map(|word| word.to_vec()).unwrap_or_default();
    Ok(PrecompileOutput { gas_used, output })
}

/// The signer's address as a word, or None if the input is not a recoverable signature.
fn recover(input: &[u8; 128]) -> Option<[u8; 32]> {
    let (hash, rest) = input.split_at(32);
    let (v, signature) = rest.split_at(32);
    let (v_high, v_low) = v.split_at(31);
    if v_high.iter().any(|&b| b != 0) || !matches!(v_low[0], 27 | 28) {
        return None;
    }
    let mut y_odd = v_low[0] == 28;
    // Rejects r or s equal to zero or not below the curve order.
    let mut signature = Signature::from_slice(signature).ok()?;
    if let Some(low_s) = signature.normalize_s() {
        signature = low_s;
        y_odd = !y_odd;
    }
    let key = VerifyingKey::recover_from_prehash(hash, &signature, RecoveryId::new(y_odd, false)).ok()?;
    let point = key.to_encoded_point(false);
    // The uncompressed SEC1 encoding is 0x04 ‖ x ‖ y; the address is the low 20 bytes of keccak(x ‖ y).
    let mut word = keccak256(point.as_bytes().get(1..)?);
    word[..12].fill(0);
    Some(word)
}

#[cfg(test)]
mod tests {
    use super::super::differential::{any_input, check};
    use super::super::PrecompileError;
    use super::*;
    use k256::ecdsa::SigningKey;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test vector is hex")
    }

    /// The curve order n.
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae,
        0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
    ];

    /// `N - s` (big-endian, s < N).
    fn negate(s: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let d = i16::from(N[i]) - i16::from(s[i]) - borrow;
            borrow = i16::from(d < 0);
            out[i] = (d + 256 * borrow) as u8;
        }
        out
    }

    /// The input for a signature of `hash` by `key`, and the key's address as a word (computed from the
    /// public key, independently of recovery).
    fn signed(key: &SigningKey, hash: &[u8; 32]) -> (Vec<u8>, Vec<u8>) {
        let (signature, id) = key.sign_prehash_recoverable(hash).expect("signing a 32-byte hash works");
        let mut input = hash.to_vec();
        input.extend([0u8; 31]);
        input.push(27 + u8::from(id.is_y_odd()));
        input.extend_from_slice(&signature.to_bytes());
        let point = key.verifying_key().to_encoded_point(false);
        let mut address = keccak256(&point.as_bytes()[1..]).to_vec();
        address[..12].fill(0);
        (input, address)
    }

    #[test]
    fn geth_vectors() {
        // go-ethereum core/vm/testdata/precompiles/ecRecover.json
        let valid = hex(
            "18c547e4f7b0f325ad1e56f57e26c745b09a3e503d86e00e5255ff7f715d3d1c000000000000000000000000000000000000000000000000000000000000001c73b1693892219d736caba55bdb67216e485557ea6b6af75f37096c9aa6a5a75feeb940b1d03b21e36b0e47e79769f095fe2ab855bd91e3a38756b7d75a9c4549",
        );
        assert_eq!(
            run(&valid, 3000),
            Ok(PrecompileOutput {
                gas_used: 3000,
                output: hex("000000000000000000000000a94f5374fce5edbc8e2a8697c15331677e6ebf0b")
            })
        );
        assert_eq!(run(&valid, 2999), Err(PrecompileError::OutOfGas));
        let empty = Ok(PrecompileOutput { gas_used: 3000, output: vec![] });
        let unrecoverable = hex(
            "a8b53bdf3306a35a7103ab5504a0c9b492295564b6202b1942a84ef300107281000000000000000000000000000000000000000000000000000000000000001b307835653165303366353363653138623737326363623030393366663731663366353366356337356237346463623331613835616138623838393262346538621122334455667788991011121314151617181920212223242526272829303132",
        );
        assert_eq!(run(&unrecoverable, 3000), empty);
        // v with stray high bits: 0x10…1c, 0x…10…1c and 0x…10…011c.
        for (at, byte) in [(32, 0x10), (51, 0x10), (62, 0x01)] {
            let mut bad_v = valid.clone();
            bad_v[at] = byte;
            assert_eq!(run(&bad_v, 3000), empty, "byte {at}");
        }
    }

    #[test]
    fn high_s_recovers_the_same_address_and_invalid_inputs_give_empty_output() {
        let key = SigningKey::from_slice(&[0x42; 32]).expect("valid secret key");
        let hash = keccak256(b"zvm");
        let (input, address) = signed(&key, &hash);
        let ok = |output: Vec<u8>| Ok(PrecompileOutput { gas_used: 3000, output });
        assert_eq!(run(&input, 3000), ok(address.clone()));

        // (r, n - s) with the other v is the same signature: geth accepts it here.
        let mut high_s = input.clone();
        high_s[63] ^= 27 ^ 28;
        let s = negate(&input[96..128]);
        high_s[96..].copy_from_slice(&s);
        assert_eq!(run(&high_s, 3000), ok(address.clone()));

        // The wrong v recovers some other key.
        let mut wrong_v = input.clone();
        wrong_v[63] ^= 27 ^ 28;
        let other = run(&wrong_v, 3000).expect("success");
        assert_ne!(other.output, address);

        let mut cases = Vec::new();
        for v in [0u8, 1, 26, 29] {
            let mut c = input.clone();
            c[63] = v;
            cases.push(c);
        }
        let mut r_zero = input.clone();
        r_zero[64..96].fill(0);
        cases.push(r_zero);
        let mut s_zero = input.clone();
        s_zero[96..].fill(0);
        cases.push(s_zero);
        let mut s_n = input.clone();
        s_n[96..].copy_from_slice(&N);
        cases.push(s_n);
        let mut r_n = input.clone();
        r_n[64..96].copy_from_slice(&N);
        cases.push(r_n);
        cases.push(vec![]);
        cases.push(input[..127].to_vec()); // s loses its low byte: a different, likely unrecoverable, input
        for c in cases {
            let out = run(&c, 3000).expect("invalid signatures are not errors");
            assert_eq!(out.gas_used, 3000);
            assert_ne!(out.output, address, "{}", hex::encode(&c));
        }
        // The invalid ones in the list above give exactly empty output.
        let mut v_26 = input.clone();
        v_26[63] = 26;
        assert_eq!(run(&v_26, 3000), ok(vec![]));
        let mut s_n = input;
        s_n[96..].copy_from_slice(&N);
        assert_eq!(run(&s_n, 3000), ok(vec![]));
    }

    /// A signature of a random hash by a random key, then possibly changed: v flipped, s negated (high s),
    /// a byte of r or s changed, or truncated.
    fn near_valid() -> impl Strategy<Value = Vec<u8>> {
        (any::<[u8; 32]>(), any::<[u8; 32]>(), 0u8..6, any::<usize>(), any::<u8>()).prop_filter_map(
            "secret key out of range",
            |(secret, hash, change, at, byte)| {
                let key = SigningKey::from_slice(&secret).ok()?;
                let (mut input, _) = signed(&key, &hash);
                match change {
                    0 => {}
                    1 => input[63] ^= 27 ^ 28,
                    2 => {
                        input[63] ^= 27 ^ 28;
                        let s = negate(&input[96..128]);
                        input[96..].copy_from_slice(&s);
                    }
                    3 => input[64 + at % 64] = byte,
                    4 => input.truncate(at % 128),
                    _ => input[at % 32] = byte,
                }
                Some(input)
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn matches_revm_on_random_input(input in any_input(160)) {
            check(1, &input)?;
        }

        #[test]
        fn matches_revm_on_near_valid_signatures(input in near_valid()) {
            check(1, &input)?;
        }
    }
}
