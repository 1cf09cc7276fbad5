//! The workloads in native Rust: the same algorithms as the `.wat` files, step for step, so that each
//! checksum is bit-for-bit the one the modules return.

use std::hint::black_box;

/// `fib.wat`: recursive Fibonacci.
pub fn fib(n: u32) -> u64 {
    if n < 2 {
        n as u64
    } else {
        fib(n - 1).wrapping_add(fib(n - 2))
    }
}

/// `sieve.wat`: the sum of the primes below `n`.
pub fn sieve(n: u32) -> u64 {
    let n = n as usize;
    let mut composite = vec![0u8; n];
    let mut sum = 0u64;
    for i in 2..n {
        if composite[i] == 0 {
            sum = sum.wrapping_add(i as u64);
            if (i as u64) * (i as u64) < n as u64 {
                let mut j = i * i;
                while j < n {
                    composite[j] = 1;
                    j += i;
                }
            }
        }
    }
    sum
}

/// `matmul.wat`: the bits of the sum of A·B.
pub fn matmul(n: u32) -> u64 {
    let n = n as usize;
    let nn = n * n;
    let a: Vec<f64> = (0..nn).map(|i| (i % 13) as f64 * 0.1 + 1.0).collect();
    let b: Vec<f64> = (0..nn).map(|i| (i % 7) as f64 * 0.5 - 1.5).collect();
    let mut c = vec![0f64; nn];
    for i in 0..n {
        for j in 0..n {
            let mut sum = 0f64;
            for k in 0..n {
                sum += a[i * n + k] * b[k * n + j];
            }
            c[i * n + j] = sum;
        }
    }
    c.iter().fold(0f64, |s, &x| s + x).to_bits()
}

/// `hash.wat`: FNV-1a over `n` bytes of a 64 KiB xorshift64 buffer, then an avalanche.
pub fn hash(n: u32) -> u64 {
    let mut buf = vec![0u8; 0x10000];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for word in buf.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        word.copy_from_slice(&x.to_le_bytes());
    }
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for i in 0..n as usize {
        h = (h ^ buf[i & 0xffff] as u64).wrapping_mul(0x100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

type Op = fn(u64, u64) -> u64;

/// `dispatch.wat`'s table.
static OPS: [Op; 8] = [
    |a, b| a.wrapping_add(b),
    |a, b| a.wrapping_sub(b),
    |a, b| a.wrapping_mul(b | 1),
    |a, b| a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15),
    |a, b| a.rotate_left((b & 63) as u32).wrapping_add(1),
    |a, b| (a ^ (a >> 17)).wrapping_add(b),
    |a, _| (a ^ (a >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9),
    |a, b| a ^ (b & 0x00ff_00ff_00ff_00ff),
];

/// `dispatch.wat`: `n` indirect calls through a table the optimiser cannot see into.
pub fn dispatch(n: u32) -> u64 {
    let ops: &[Op; 8] = black_box(&OPS);
    let mut acc = 1u64;
    for i in 0..n {
        acc = ops[(i & 7) as usize](acc, i as u64);
    }
    acc
}
