//! `0x02` SHA-256, `0x03` RIPEMD-160 and `0x04` identity: a base price plus a price per 32-byte word
//! of input (rounded up), charged before any work. The hash functions are the ones every tier uses,
//! from [`crate::crypto`].

use super::{charge, linear_cost, Outcome, PrecompileOutput};
use crate::crypto;

/// `0x02`: the SHA-256 digest of the input.
pub(super) fn sha256(input: &[u8], gas_limit: u64) -> Outcome {
    let gas_used = charge(linear_cost(input.len(), 60, 12), gas_limit)?;
    Ok(PrecompileOutput { gas_used, output: crypto::sha256(input).to_vec() })
}

/// `0x03`: the RIPEMD-160 digest of the input, left-padded with zeros to 32 bytes.
pub(super) fn ripemd160(input: &[u8], gas_limit: u64) -> Outcome {
    let gas_used = charge(linear_cost(input.len(), 600, 120), gas_limit)?;
    Ok(PrecompileOutput { gas_used, output: crypto::ripemd160_word(input).to_vec() })
}

/// `0x04`: the input, unchanged.
pub(super) fn identity(input: &[u8], gas_limit: u64) -> Outcome {
    let gas_used = charge(linear_cost(input.len(), 15, 3), gas_limit)?;
    Ok(PrecompileOutput { gas_used, output: input.to_vec() })
}

#[cfg(test)]
mod tests {
    use super::super::differential::{any_input, check};
    use super::super::PrecompileError;
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test vector is hex")
    }

    #[test]
    fn known_digests_and_prices() {
        // FIPS 180-2 and the RIPEMD-160 paper: "abc".
        let sha = sha256(b"abc", 72).expect("72 gas pays for one word");
        assert_eq!(sha.gas_used, 72);
        assert_eq!(sha.output, hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        let rmd = ripemd160(b"abc", 720).expect("720 gas pays for one word");
        assert_eq!(rmd.gas_used, 720);
        assert_eq!(rmd.output, hex("0000000000000000000000008eb208f7e05d987a9b044a8e98c6b087f15a0bfc"));
        // Empty input costs only the base price.
        assert_eq!(sha256(&[], 60).map(|o| o.gas_used), Ok(60));
        assert_eq!(ripemd160(&[], 600).map(|o| o.gas_used), Ok(600));
        assert_eq!(identity(&[], 15), Ok(PrecompileOutput { gas_used: 15, output: vec![] }));
        // 33 bytes are two words.
        let data = [7u8; 33];
        assert_eq!(identity(&data, 21), Ok(PrecompileOutput { gas_used: 21, output: data.to_vec() }));
        assert_eq!(identity(&data, 20), Err(PrecompileError::OutOfGas));
        assert_eq!(sha256(&data, 83), Err(PrecompileError::OutOfGas));
        assert_eq!(ripemd160(&data, 839), Err(PrecompileError::OutOfGas));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn sha256_matches_revm(input in any_input(300)) {
            check(2, &input)?;
        }

        #[test]
        fn ripemd160_matches_revm(input in any_input(300)) {
            check(3, &input)?;
        }

        #[test]
        fn identity_matches_revm(input in any_input(300)) {
            check(4, &input)?;
        }
    }
}
