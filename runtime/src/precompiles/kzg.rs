//! `0x0a` KZG point evaluation (EIP-4844): proves that the blob committed to by a versioned hash
//! evaluates to `y` at `z`, which is how rollups open blob data inside the EVM.
//!
//! Input, exactly 192 bytes: `versioned_hash` (32) ‖ `z` (32) ‖ `y` (32) ‖ `commitment` (48) ‖ `proof`
//! (48). The versioned hash must be `0x01 ‖ sha256(commitment)[1..]` and the proof must verify; anything
//! else fails. Output: `FIELD_ELEMENTS_PER_BLOB` and the BLS12-381 scalar field modulus as two 32-byte
//! big-endian words. Gas: 50000, charged before any check (as geth and revm do).
//!
//! Verification is `c-kzg` with Ethereum's mainnet trusted setup, loaded once on first use.

use super::{charge, read, Outcome, PrecompileError, PrecompileOutput};
use crate::crypto;
use c_kzg::{Bytes32, Bytes48};

const GAS: u64 = 50_000;
const INPUT_LEN: usize = 192;
/// The version byte of a versioned hash of a KZG commitment.
const VERSIONED_HASH_VERSION_KZG: u8 = 0x01;
/// The BLS12-381 scalar field modulus (EIP-4844's `BLS_MODULUS`), big-endian.
const BLS_MODULUS: [u8; 32] = [
    0x73, 0xed, 0xa7, 0x53, 0x29, 0x9d, 0x7d, 0x48, 0x33, 0x39, 0xd8, 0x08, 0x09, 0xa1, 0xd8, 0x05, 0x53, 0xbd, 0xa4,
    0x02, 0xff, 0xfe, 0x5b, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01,
];

pub(super) fn run(input: &[u8], gas_limit: u64) -> Outcome {
    let gas_used = charge(Some(GAS), gas_limit)?;
    if input.len() != INPUT_LEN {
        return Err(PrecompileError::Failure("kzg point evaluation input must be 192 bytes"));
    }
    let versioned_hash: [u8; 32] = read(input, 0);
    let z: [u8; 32] = read(input, 32);
    let y: [u8; 32] = read(input, 64);
    let commitment: [u8; 48] = read(input, 96);
    let proof: [u8; 48] = read(input, 144);

    let mut expected = crypto::sha256(&commitment);
    expected[0] = VERSIONED_HASH_VERSION_KZG;
    if versioned_hash != expected {
        return Err(PrecompileError::Failure("kzg versioned hash does not match the commitment"));
    }
    // Malformed points or field elements are errors from c-kzg; a wrong proof is `Ok(false)`.
    let settings = c_kzg::ethereum_kzg_settings(0);
    let verified = settings
        .verify_kzg_proof(&Bytes48::from(commitment), &Bytes32::from(z), &Bytes32::from(y), &Bytes48::from(proof))
        .unwrap_or(false);
    if !verified {
        return Err(PrecompileError::Failure("kzg proof does not verify"));
    }
    let mut output = vec![0u8; 64];
    output[24..32].copy_from_slice(&(c_kzg::FIELD_ELEMENTS_PER_BLOB as u64).to_be_bytes());
    output[32..].copy_from_slice(&BLS_MODULUS);
    Ok(PrecompileOutput { gas_used, output })
}

#[cfg(test)]
mod tests {
    use super::super::differential::{any_input, check};
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test vector is hex")
    }

    /// go-ethereum core/vm/testdata/precompiles/pointEvaluation.json (the vector for the mainnet setup; an
    /// earlier version of that file has a vector that does not verify against it, here or in revm).
    const GETH_INPUT: &str = "01e798154708fe7789429634053cbf9f99b619f9f084048927333fce637f549b564c0a11a0f704f4fc3e8acfe0f8245f0ad1347b378fbf96e206da11a5d3630624d25032e67a7e6a4910df5834b8fe70e6bcfeeac0352434196bdf4b2485d5a18f59a8d2a1a625a17f3fea0fe5eb8c896db3764f3185481bc22f91b4aaffcca25f26936857bc3a7c2539ea8ec3a952b7873033e038326e87ed3e1276fd140253fa08e9fc25fb2d9a98527fc22a2c9612fbeafdad446cbc7bcdbdcd780af2c16a";
    const OUTPUT: &str = "000000000000000000000000000000000000000000000000000000000000100073eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001";

    /// c-kzg-4844 tests/verify_kzg_proof/kzg-mainnet/verify_kzg_proof_case_correct_proof_4_4, with its
    /// versioned hash.
    fn c_kzg_input() -> Vec<u8> {
        let commitment =
            hex("8f59a8d2a1a625a17f3fea0fe5eb8c896db3764f3185481bc22f91b4aaffcca25f26936857bc3a7c2539ea8ec3a952b7");
        let mut versioned_hash = crypto::sha256(&commitment).to_vec();
        versioned_hash[0] = 1;
        [
            versioned_hash,
            hex("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000000"),
            hex("1522a4a7f34e1ea350ae07c29c96c7e79655aa926122e95fe69fcbd932ca49e9"),
            commitment,
            hex("a62ad71d14c5719385c0686f1871430475bf3a00f0aa3f7b8dd99a9abc2160744faf0070725e00b60ad9a026a15b1a8c"),
        ]
        .concat()
    }

    #[test]
    fn known_proofs_verify() {
        let ok = Ok(PrecompileOutput { gas_used: 50_000, output: hex(OUTPUT) });
        assert_eq!(run(&hex(GETH_INPUT), 50_000), ok);
        assert_eq!(run(&c_kzg_input(), 50_000), ok);
        assert_eq!(run(&hex(GETH_INPUT), 49_999), Err(PrecompileError::OutOfGas));
    }

    #[test]
    fn bad_inputs_fail() {
        let good = hex(GETH_INPUT);
        let mut wrong_y = good.clone();
        wrong_y[95] ^= 1;
        let mut wrong_version = good.clone();
        wrong_version[0] = 2;
        let mut wrong_hash = good.clone();
        wrong_hash[31] ^= 1;
        // z = BLS_MODULUS is not a field element.
        let mut z_out_of_range = c_kzg_input();
        z_out_of_range[32..64].copy_from_slice(&BLS_MODULUS);
        let mut longer = good.clone();
        longer.push(0);
        for bad in [wrong_y, wrong_version, wrong_hash, z_out_of_range, good[..191].to_vec(), longer, vec![]] {
            assert!(matches!(run(&bad, 50_000), Err(PrecompileError::Failure(_))), "{}", hex::encode(&bad));
            // The price comes first.
            assert_eq!(run(&bad, 49_999), Err(PrecompileError::OutOfGas));
        }
    }

    #[test]
    fn known_and_broken_proofs_match_revm() {
        for input in [hex(GETH_INPUT), c_kzg_input()] {
            check(10, &input).expect("same as revm");
            for at in [40, 150] {
                let mut broken = input.clone();
                broken[at] ^= 0x20;
                check(10, &broken).expect("same as revm");
            }
        }
    }

    /// 192 bytes whose versioned hash matches the (random) commitment, so that verification is reached.
    fn hashed() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(any::<u8>(), 160).prop_map(|rest| {
            let mut hash = crypto::sha256(&rest[64..112]).to_vec();
            hash[0] = VERSIONED_HASH_VERSION_KZG;
            [hash, rest].concat()
        })
    }

    proptest! {
        // Each verification costs a pairing; keep the counts small for debug builds.
        #![proptest_config(ProptestConfig::with_cases(8))]

        #[test]
        fn matches_revm_on_random_input(input in prop_oneof![any_input(200), prop::collection::vec(any::<u8>(), 192)]) {
            check(10, &input)?;
        }

        #[test]
        fn matches_revm_with_matching_versioned_hash(input in hashed()) {
            check(10, &input)?;
        }
    }
}
