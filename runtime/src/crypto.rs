//! Hash functions shared by every tier and frontend.

use sha2::Digest;

/// Keccak-256 (CRYPTOGAMS assembly through `keccak-asm`; checked against the pure-Rust `sha3` in the tests).
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    keccak_asm::Keccak256::digest(data).into()
}

/// SHA-256.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

/// RIPEMD-160, right-aligned in 32 bytes (as the EVM precompile returns it).
pub fn ripemd160_word(data: &[u8]) -> [u8; 32] {
    let h: [u8; 20] = ripemd::Ripemd160::digest(data).into();
    let mut out = [0u8; 32];
    out[12..].copy_from_slice(&h);
    out
}

/// BLAKE2b with a 32-byte digest.
pub fn blake2b256(data: &[u8]) -> [u8; 32] {
    blake2::Blake2b::<blake2::digest::consts::U32>::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn known_digests_of_the_empty_string() {
        assert_eq!(hex(&keccak256(b"")), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
        assert_eq!(hex(&sha256(b"")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(hex(&ripemd160_word(b"")), "0000000000000000000000009c1185a5c5e9fc54612808977ee8f548b2258d31");
        assert_eq!(hex(&blake2b256(b"")), "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
    }

    /// The assembly Keccak-256 agrees with the pure-Rust `sha3` crate on every length up to three blocks
    /// and a bit (the rate is 136 bytes; the lengths the backend specialises are 20, 32 and 64), on
    /// unaligned input and on a large input.
    #[test]
    fn keccak256_agrees_with_sha3() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let reference = |d: &[u8]| -> [u8; 32] { <sha3::Keccak256 as sha3::Digest>::digest(d).into() };
        for len in 0..=3 * 136 + 9 {
            assert_eq!(keccak256(&data[..len]), reference(&data[..len]), "length {len}");
            assert_eq!(keccak256(&data[1..1 + len]), reference(&data[1..1 + len]), "length {len}, unaligned");
        }
        assert_eq!(keccak256(&data), reference(&data));
    }
}
