//! `0x09` blake2f (EIP-152): the BLAKE2b compression function `F` with a caller-chosen round count, so
//! that contracts can verify BLAKE2b-based proofs (Zcash's Equihash, for one).
//!
//! Input, exactly 213 bytes: `rounds` (4 bytes, big-endian) ‖ `h` (8 little-endian u64) ‖ `m` (16
//! little-endian u64) ‖ `t` (2 little-endian u64) ‖ `f` (one byte, 0 or 1). Output: the new `h`, 64
//! bytes little-endian. Gas: one per round. A wrong length fails, then the price is charged, then a final
//! flag other than 0 or 1 fails (geth's order).
//!
//! `F` is written out here (RFC 7693 section 3.2) because the `blake2` crate runs it only with BLAKE2b's
//! fixed 12 rounds; the message schedule repeats every 10 rounds, which is how more are defined.

use super::{charge, read, Outcome, PrecompileError, PrecompileOutput};

const INPUT_LEN: usize = 213;

const IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

/// The message word permutations, one per round modulo 10.
const SIGMA: [[usize; 16]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

pub(super) fn run(input: &[u8], gas_limit: u64) -> Outcome {
    if input.len() != INPUT_LEN {
        return Err(PrecompileError::Failure("blake2f input must be 213 bytes"));
    }
    let rounds = u32::from_be_bytes(read(input, 0));
    let gas_used = charge(Some(u64::from(rounds)), gas_limit)?;
    let last = match input[INPUT_LEN - 1] {
        0 => false,
        1 => true,
        _ => return Err(PrecompileError::Failure("blake2f final block flag must be 0 or 1")),
    };
    let word = |offset: usize| u64::from_le_bytes(read(input, offset));
    let mut h: [u64; 8] = std::array::from_fn(|i| word(4 + 8 * i));
    let m: [u64; 16] = std::array::from_fn(|i| word(68 + 8 * i));
    compress(rounds, &mut h, &m, [word(196), word(204)], last);
    Ok(PrecompileOutput { gas_used, output: h.iter().flat_map(|w| w.to_le_bytes()).collect() })
}

/// BLAKE2b's `F`: mixes the message block `m` into the state `h` over `rounds` rounds, with the offset
/// counter `t` and the final-block flag.
fn compress(rounds: u32, h: &mut [u64; 8], m: &[u64; 16], t: [u64; 2], last: bool) {
    let mut v = [0u64; 16];
    v[..8].copy_from_slice(h);
    v[8..].copy_from_slice(&IV);
    v[12] ^= t[0];
    v[13] ^= t[1];
    if last {
        v[14] = !v[14];
    }
    for round in 0..rounds {
        let s = &SIGMA[round as usize % 10];
        mix(&mut v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
        mix(&mut v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
        mix(&mut v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
        mix(&mut v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
        mix(&mut v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
        mix(&mut v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
        mix(&mut v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
        mix(&mut v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for i in 0..8 {
        h[i] ^= v[i] ^ v[i + 8];
    }
}

/// The mixing function `G`.
fn mix(v: &mut [u64; 16], a: usize, b: usize, c: usize, d: usize, x: u64, y: u64) {
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(x);
    v[d] = (v[d] ^ v[a]).rotate_right(32);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(24);
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(y);
    v[d] = (v[d] ^ v[a]).rotate_right(16);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(63);
}

#[cfg(test)]
mod tests {
    use super::super::differential::{any_input, check};
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test vector is hex")
    }

    /// EIP-152's vectors 4 to 8 share everything but the rounds and the final flag: the state after
    /// BLAKE2b-512's parameter block and one block holding "abc".
    fn vector(rounds: &str, last: &str) -> Vec<u8> {
        hex(&[
            rounds,
            "48c9bdf267e6096a3ba7ca8485ae67bb2bf894fe72f36e3cf1361d5f3af54fa5d182e6ad7f520e511f6c3e2b8c68059b6bbd41fbabd9831f79217e1319cde05b",
            "6162630000000000000000000000000000000000000000000000000000000000",
            &"00".repeat(96),
            "03000000000000000000000000000000",
            last,
        ]
        .concat())
    }

    #[test]
    fn eip152_vectors() {
        let vectors = [
            ("00000000", "01", 0, "08c9bcf367e6096a3ba7ca8485ae67bb2bf894fe72f36e3cf1361d5f3af54fa5d282e6ad7f520e511f6c3e2b8c68059b9442be0454267ce079217e1319cde05b"),
            ("0000000c", "01", 12, "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"),
            ("0000000c", "00", 12, "75ab69d3190a562c51aef8d88f1c2775876944407270c42c9844252c26d2875298743e7f6d5ea2f2d3e8d226039cd31b4e426ac4f2d3d666a610c2116fde4735"),
            ("00000001", "01", 1, "b63a380cb2897d521994a85234ee2c181b5f844d2c624c002677e9703449d2fba551b3a8333bcdf5f2f7e08993d53923de3d64fcc68c034e717b9293fed7a421"),
        ];
        for (rounds, last, gas, output) in vectors {
            let input = vector(rounds, last);
            assert_eq!(input.len(), 213);
            assert_eq!(run(&input, gas), Ok(PrecompileOutput { gas_used: gas, output: hex(output) }));
        }
        assert_eq!(run(&vector("0000000c", "01"), 11), Err(PrecompileError::OutOfGas));
    }

    #[test]
    #[ignore = "8 million rounds take seconds in a debug build"]
    fn eip152_vector_8() {
        let output = "6d2ce9e534d50e18ff866ae92d70cceba79bbcd14c63819fe48752c8aca87a4bb7dcc230d22a4047f0486cfcfb50a17b24b2899eb8fca370f22240adb5170189";
        assert_eq!(
            run(&vector("007a1200", "01"), 8_000_000),
            Ok(PrecompileOutput { gas_used: 8_000_000, output: hex(output) })
        );
    }

    #[test]
    fn geth_failure_vectors() {
        // go-ethereum core/vm/testdata/precompiles/fail-blake2f.json: empty, 212 and 214 bytes, flag 2.
        let good = vector("0000000c", "01");
        for bad in [vec![], good[1..].to_vec(), [&[0u8][..], &good].concat(), vector("0000000c", "02")] {
            assert!(matches!(run(&bad, u64::MAX), Err(PrecompileError::Failure(_))), "{}", hex::encode(&bad));
        }
        // A bad flag with too little gas is out of gas: the price comes first.
        assert_eq!(run(&vector("0000000c", "02"), 11), Err(PrecompileError::OutOfGas));
    }

    /// 213 bytes with a small round count (sometimes past 10, where the schedule wraps) and the final flag
    /// usually valid.
    fn near_valid() -> impl Strategy<Value = Vec<u8>> {
        (0u32..64, prop::collection::vec(any::<u8>(), 208), prop_oneof![4 => 0u8..=1, 1 => any::<u8>()]).prop_map(
            |(rounds, body, last)| {
                let mut input = rounds.to_be_bytes().to_vec();
                input.extend(body);
                input.push(last);
                input
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn matches_revm_on_random_input(input in any_input(240)) {
            check(9, &input)?;
        }

        #[test]
        fn matches_revm_on_near_valid_input(input in near_valid()) {
            check(9, &input)?;
        }
    }
}
