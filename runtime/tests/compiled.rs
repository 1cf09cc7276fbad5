//! The compiled tier against the reference semantics.
//!
//! IR is built with `zvm_ir::FunctionBuilder`, compiled with the Cranelift backend at both optimization
//! levels (with Cranelift's verifier on) and run on a real [`Frame`] through [`compiled::run`]. Word
//! arithmetic is compared with `zvm_ir::semantics` for edge and pseudo-random values; everything else with
//! independently computed expectations.

use std::time::Instant;
use zvm_compiler::cranelift::{compile, CompiledModule, JitOptions, OptLevel};
use zvm_ir::builder::build_function;
use zvm_ir::{
    semantics, BinOp, BlockCall, ConvOp, DataSrc, FuncId, Function, FunctionBuilder, HaltKind, HashAlg, HostFn,
    MemAccess, Module, Op, Signature, TernOp, TrapCode, Type, UnOp, Value, U256,
};
use zvm_runtime::compiled::{self, HELPERS};
use zvm_runtime::executor::Tier;
use zvm_runtime::schedule::ZvmCosts;
use zvm_runtime::vm::Vm;
use zvm_runtime::{Address, Exit, Frame, InMemoryHost, Limits, Message};

const LEVELS: [OptLevel; 2] = [OptLevel::None, OptLevel::Speed];
const ADDRESS: Address = Address::from_low_u64(0xc0de);

fn jit(module: &Module, level: OptLevel) -> CompiledModule {
    compile(module, &JitOptions { opt_level: level, verify: true }).unwrap_or_else(|e| panic!("compile: {e}"))
}

/// What a run left behind.
#[derive(Debug)]
struct Run {
    exit: Option<Exit>,
    gas_left: u64,
    output: Vec<u8>,
    memory: Vec<u8>,
    stack_len: u64,
    /// The top items of the operand stack (top first), as many as are on it (at most 8).
    stack_top: Vec<U256>,
}

struct Env {
    input: Vec<u8>,
    gas: u64,
    limits: Limits,
}

impl Default for Env {
    fn default() -> Self {
        Self { input: Vec::new(), gas: 1_000_000, limits: Limits::default() }
    }
}

fn run_with(code: &CompiledModule, env: &Env, host: &mut InMemoryHost) -> Run {
    let msg = Message { address: ADDRESS, input: env.input.clone(), gas_limit: env.gas, ..Default::default() };
    let vm = Vm::new(Tier::Interp, env.limits.clone());
    let mut frame = Frame::new(&msg, b"test code", host, &vm, &ZvmCosts, &HELPERS);
    let exit = compiled::run(code, &mut frame);
    let stack_len = frame.ctx.stack_len;
    let stack_top = (0..stack_len.min(8) as u32).map(|d| frame.stack_get(d)).collect();
    Run {
        exit,
        gas_left: frame.gas_left(),
        output: frame.output.clone(),
        memory: frame.memory().to_vec(),
        stack_len,
        stack_top,
    }
}

fn run(code: &CompiledModule, env: &Env) -> Run {
    run_with(code, env, &mut InMemoryHost::new())
}

/// Compiles at both levels and runs with `env`.
fn run_both(module: &Module, env: &Env) -> Vec<Run> {
    LEVELS.iter().map(|&l| run(&jit(module, l), env)).collect()
}

fn single(f: impl FnOnce(&mut FunctionBuilder<'_>)) -> Module {
    Module::single(build_function("main", Signature::default(), f))
}

// ---- IR building shorthands ------------------------------------------------------------------------------

const BE32: MemAccess = MemAccess { width: 32, signed: false, big_endian: true, offset: 0 };

fn wc(b: &mut FunctionBuilder<'_>, x: u64) -> Value {
    b.wconst(U256::from(x))
}

fn i64c(b: &mut FunctionBuilder<'_>, x: u64) -> Value {
    b.iconst(Type::I64, x as i64)
}

/// The input word at byte `offset`.
fn input_word(b: &mut FunctionBuilder<'_>, offset: u64) -> Value {
    let o = wc(b, offset);
    b.ins1(Op::DataLoad { src: DataSrc::Input, arg: o })
}

fn expand(b: &mut FunctionBuilder<'_>, offset: u64, len: u64) {
    let (o, l) = (wc(b, offset), wc(b, len));
    b.ins(Op::MemExpand { args: [o, l] });
}

/// Stores a word big-endian at 0 and halts returning it.
fn return_word(b: &mut FunctionBuilder<'_>, w: Value) {
    expand(b, 0, 32);
    let zero = i64c(b, 0);
    b.ins(Op::Store { access: BE32, addr: zero, value: w });
    let len = i64c(b, 32);
    b.halt(HaltKind::Return, zero, len);
}

/// Widens any integer value to a word (zero-extending) and returns it.
fn return_int(b: &mut FunctionBuilder<'_>, v: Value) {
    let w = match b.func().value_type(v) {
        Type::W256 => v,
        _ => b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: v }),
    };
    return_word(b, w);
}

fn word_out(r: &Run) -> U256 {
    assert_eq!(r.exit, Some(Exit::Halt(HaltKind::Return)), "run: {r:?}");
    U256::from_be_slice(&r.output)
}

/// Output word `i` of a run that returned several ([`return_words`]).
fn output_word(r: &Run, i: usize) -> U256 {
    U256::from_be_slice(&r.output[i * 32..i * 32 + 32])
}

fn input_of(words: &[U256]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes::<32>()).collect()
}

// ---- values ------------------------------------------------------------------------------------------

/// xorshift64*: deterministic pseudo-random numbers without dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A word with a random shape: sparse limbs, small values, near powers of two, or fully random.
    fn word(&mut self) -> U256 {
        let limbs = [self.next(), self.next(), self.next(), self.next()];
        let w = U256::from_limbs(limbs);
        match self.next() % 6 {
            0 => U256::from(limbs[0] % 300),
            1 => w >> (self.next() % 256) as usize,
            2 => U256::from(1u8) << (self.next() % 256) as usize,
            3 => (U256::from(1u8) << (self.next() % 256) as usize).wrapping_sub(U256::from(1u8)),
            4 => w.wrapping_neg() >> (self.next() % 64) as usize,
            _ => w,
        }
    }
}

fn edge_words() -> Vec<U256> {
    let one = U256::from(1u8);
    let mut v: Vec<U256> = [0u64, 1, 2, 3, 7, 8, 31, 32, 33, 63, 64, 65, 127, 128, 255, 256, 257, 300]
        .iter()
        .map(|&x| U256::from(x))
        .collect();
    v.extend([
        U256::from(u64::MAX),
        (one << 64) + one,
        one << 64,
        one << 127,
        one << 128,
        (one << 128) - one,
        one << 192,
        one << 255,
        (one << 255) - one,
        (one << 255) + one,
        U256::MAX,
        U256::MAX - one,
        U256::MAX - U256::from(30u8),
        U256::from(0x8000_0000_0000_0000u64),
        // Around the signed 64-bit range, where compiled division switches between the machine's division
        // and the helper: i64::MAX, -2^63 (whose quotient by -1 does not fit), -2^63 - 1 and -7.
        U256::from(i64::MAX as u64),
        U256::MAX << 63,
        (U256::MAX << 63) - one,
        U256::MAX - U256::from(6u8),
        U256::from_limbs([0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210, 0x0f0f_0f0f_f0f0_f0f0, 0x8888_7777_6666_5555]),
    ]);
    v
}

fn word_pairs(seed: u64, random: usize) -> Vec<(U256, U256)> {
    let edges = edge_words();
    let mut pairs: Vec<(U256, U256)> = edges.iter().flat_map(|&a| edges.iter().map(move |&b| (a, b))).collect();
    let mut rng = Rng(seed);
    for _ in 0..random {
        pairs.push((rng.word(), rng.word()));
    }
    pairs
}

// ---- word arithmetic -----------------------------------------------------------------------------------

#[test]
fn every_word_binop_matches_the_semantics() {
    let pairs = word_pairs(0x5eed, 400);
    for op in BinOp::ALL {
        let module = single(|b| {
            let x = input_word(b, 0);
            let y = input_word(b, 32);
            let r = b.binary(op, x, y);
            return_int(b, r);
        });
        for level in LEVELS {
            let code = jit(&module, level);
            for &(a, c) in &pairs {
                let env = Env { input: input_of(&[a, c]), ..Env::default() };
                let got = word_out(&run(&code, &env));
                let want = semantics::word_binary(op, a, c);
                assert_eq!(got, want, "{op:?}({a:#x}, {c:#x}) at {level:?}");
            }
        }
    }
}

#[test]
fn shifts_by_every_count_match_the_semantics() {
    let values = [
        U256::MAX,
        U256::from(1u8) << 255,
        U256::from_limbs([0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210, 0x0f0f_0f0f_f0f0_f0f0, 0x8888_7777_6666_5555]),
        U256::from_limbs([0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210, 0x0f0f_0f0f_f0f0_f0f0, 0x0888_7777_6666_5555]),
    ];
    let mut counts: Vec<U256> = (0..=260u64).map(U256::from).collect();
    counts.extend([U256::from(1u8) << 64, (U256::from(1u8) << 64) + U256::from(3u8), U256::MAX, U256::from(511u16)]);
    for op in [BinOp::Shl, BinOp::ShrU, BinOp::ShrS] {
        let module = single(|b| {
            let x = input_word(b, 0);
            let y = input_word(b, 32);
            let r = b.binary(op, x, y);
            return_word(b, r);
        });
        for level in LEVELS {
            let code = jit(&module, level);
            for &a in &values {
                for &n in &counts {
                    let env = Env { input: input_of(&[a, n]), ..Env::default() };
                    assert_eq!(word_out(&run(&code, &env)), semantics::word_binary(op, a, n), "{op:?} {a:#x} by {n}");
                }
            }
        }
    }
}

#[test]
fn shifts_by_constant_counts_match_the_semantics() {
    let a =
        U256::from_limbs([0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210, 0x0f0f_0f0f_f0f0_f0f0, 0x8888_7777_6666_5555]);
    let positive = a >> 1usize;
    let counts: Vec<U256> = [0u64, 1, 7, 63, 64, 65, 100, 127, 128, 129, 191, 192, 193, 255, 256, 257, 1000]
        .iter()
        .map(|&n| U256::from(n))
        .chain([U256::from(1u8) << 64, U256::MAX])
        .collect();
    for op in [BinOp::Shl, BinOp::ShrU, BinOp::ShrS] {
        for &n in &counts {
            // The count is a constant in the IR; the value comes from the input.
            let module = single(|b| {
                let x = input_word(b, 0);
                let y = b.wconst(n);
                let r = b.binary(op, x, y);
                return_word(b, r);
            });
            for level in LEVELS {
                let code = jit(&module, level);
                for v in [a, positive] {
                    let env = Env { input: input_of(&[v]), ..Env::default() };
                    assert_eq!(word_out(&run(&code, &env)), semantics::word_binary(op, v, n), "{op:?} {v:#x} by {n}");
                }
            }
        }
    }
}

/// A few edge words, as constant operands.
fn operand_picks() -> [U256; 8] {
    let edges = edge_words();
    [edges[0], edges[1], edges[13], edges[19], edges[25], edges[27], edges[28], edges[29]]
}

/// Returns `results`, each zero-extended to a word, as consecutive 32-byte big-endian output words.
fn return_words(b: &mut FunctionBuilder<'_>, results: &[Value]) {
    let size = results.len() as u64 * 32;
    expand(b, 0, size);
    for (i, &r) in results.iter().enumerate() {
        let w = match b.func().value_type(r) {
            Type::W256 => r,
            _ => b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: r }),
        };
        let addr = i64c(b, i as u64 * 32);
        b.ins(Op::Store { access: BE32, addr, value: w });
    }
    let (z, l) = (i64c(b, 0), i64c(b, size));
    b.halt(HaltKind::Return, z, l);
}

#[test]
fn constant_operands_fold_to_the_semantics() {
    // Both operands constant: exercises Cranelift's constant folding of the inline sequences.
    let picks = operand_picks();
    for op in BinOp::ALL {
        let module = single(|b| {
            let mut results = Vec::new();
            for &x in &picks {
                for &y in &picks {
                    let (vx, vy) = (b.wconst(x), b.wconst(y));
                    results.push(b.binary(op, vx, vy));
                }
            }
            return_words(b, &results);
        });
        for r in run_both(&module, &Env::default()) {
            assert_eq!(r.exit, Some(Exit::Halt(HaltKind::Return)));
            let mut i = 0;
            for &x in &picks {
                for &y in &picks {
                    let got = output_word(&r, i);
                    assert_eq!(got, semantics::word_binary(op, x, y), "{op:?}({x:#x}, {y:#x})");
                    i += 1;
                }
            }
        }
    }
}

#[test]
fn one_constant_operand_matches_the_semantics() {
    // One operand constant, the other from the input: the peepholes (a power-of-two multiplier, a
    // multiplier that fits in 64 bits) and the run-time checks of the other operand.
    let picks = operand_picks();
    let inputs = word_pairs(0xc0de, 40);
    for op in BinOp::ALL {
        let module = single(|b| {
            let x = input_word(b, 0);
            let mut results = Vec::new();
            for &k in &picks {
                let c = b.wconst(k);
                results.push(b.binary(op, c, x));
                results.push(b.binary(op, x, c));
            }
            return_words(b, &results);
        });
        for level in LEVELS {
            let code = jit(&module, level);
            for &(a, _) in &inputs {
                let r = run(&code, &Env { input: input_of(&[a]), ..Env::default() });
                assert_eq!(r.exit, Some(Exit::Halt(HaltKind::Return)));
                for (j, &k) in picks.iter().enumerate() {
                    let (ka, ak) = (output_word(&r, 2 * j), output_word(&r, 2 * j + 1));
                    assert_eq!(ka, semantics::word_binary(op, k, a), "{op:?}({k:#x}, {a:#x}) at {level:?}");
                    assert_eq!(ak, semantics::word_binary(op, a, k), "{op:?}({a:#x}, {k:#x}) at {level:?}");
                }
            }
        }
    }
}

#[test]
fn word_unary_ops_match_the_semantics() {
    let mut values = edge_words();
    let mut rng = Rng(77);
    values.extend((0..300).map(|_| rng.word()));
    for op in [UnOp::Not, UnOp::Eqz, UnOp::Clz, UnOp::Ctz, UnOp::Popcnt] {
        let module = single(|b| {
            let x = input_word(b, 0);
            let r = b.ins1(Op::Unary { op, arg: x });
            return_word(b, r);
        });
        for level in LEVELS {
            let code = jit(&module, level);
            for &a in &values {
                let env = Env { input: input_of(&[a]), ..Env::default() };
                assert_eq!(word_out(&run(&code, &env)), semantics::word_unary(op, a), "{op:?}({a:#x})");
            }
        }
    }
}

#[test]
fn word_ternary_ops_match_the_semantics() {
    let edges = edge_words();
    let mut triples: Vec<[U256; 3]> = Vec::new();
    for &a in edges.iter().step_by(3) {
        for &b in edges.iter().step_by(4) {
            for &n in edges.iter().step_by(5) {
                triples.push([a, b, n]);
            }
        }
    }
    let mut rng = Rng(99);
    triples.extend((0..200).map(|_| [rng.word(), rng.word(), rng.word()]));
    for op in [TernOp::AddMod, TernOp::MulMod] {
        let module = single(|b| {
            let args = [input_word(b, 0), input_word(b, 32), input_word(b, 64)];
            let r = b.ins1(Op::Ternary { op, args });
            return_word(b, r);
        });
        for level in LEVELS {
            let code = jit(&module, level);
            for t in &triples {
                let env = Env { input: input_of(t), ..Env::default() };
                assert_eq!(word_out(&run(&code, &env)), semantics::word_ternary(op, t[0], t[1], t[2]), "{op:?}{t:x?}");
            }
        }
    }
}

#[test]
fn ternary_ops_by_a_constant_modulus_match_the_semantics() {
    // Powers of two (masked inline, 2^0 through 2^255) and others (the helper), on operands from the input.
    let mut moduli: Vec<U256> = [0usize, 1, 63, 64, 65, 128, 200, 255].iter().map(|&k| U256::from(1u8) << k).collect();
    moduli.extend([U256::ZERO, U256::from(3u8), U256::MAX, (U256::from(1u8) << 64) - U256::from(1u8)]);
    let pairs = word_pairs(0xadd, 60);
    for op in TernOp::ALL {
        let module = single(|b| {
            let (x, y) = (input_word(b, 0), input_word(b, 32));
            let results: Vec<Value> = moduli
                .iter()
                .map(|&n| {
                    let n = b.wconst(n);
                    b.ins1(Op::Ternary { op, args: [x, y, n] })
                })
                .collect();
            return_words(b, &results);
        });
        for level in LEVELS {
            let code = jit(&module, level);
            for &(a, c) in &pairs {
                let r = run(&code, &Env { input: input_of(&[a, c]), ..Env::default() });
                assert_eq!(r.exit, Some(Exit::Halt(HaltKind::Return)));
                for (j, &n) in moduli.iter().enumerate() {
                    let got = output_word(&r, j);
                    assert_eq!(
                        got,
                        semantics::word_ternary(op, a, c, n),
                        "{op:?}({a:#x}, {c:#x}, {n:#x}) at {level:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn conversions_and_select_on_words() {
    let mut values = edge_words();
    let mut rng = Rng(5);
    values.extend((0..50).map(|_| rng.word()));
    // Each module returns one conversion chain of the input word.
    type Chain = fn(&mut FunctionBuilder<'_>, Value) -> Value;
    type Reference = fn(U256) -> U256;
    let chains: Vec<(&str, Chain, Reference)> = vec![
        (
            "satu64 then zext",
            |b, x| {
                let v = b.ins1(Op::Convert { op: ConvOp::SatU64, to: Type::I64, arg: x });
                b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: v })
            },
            |a| U256::from(u64::try_from(a).unwrap_or(u64::MAX)),
        ),
        (
            "trunc i64 then sext",
            |b, x| {
                let v = b.ins1(Op::Convert { op: ConvOp::Trunc, to: Type::I64, arg: x });
                b.ins1(Op::Convert { op: ConvOp::Sext, to: Type::W256, arg: v })
            },
            |a| {
                let low = a.as_limbs()[0] as i64;
                if low < 0 {
                    U256::from(low.unsigned_abs()).wrapping_neg()
                } else {
                    U256::from(low as u64)
                }
            },
        ),
        (
            "trunc i32 then sext",
            |b, x| {
                let v = b.ins1(Op::Convert { op: ConvOp::Trunc, to: Type::I32, arg: x });
                b.ins1(Op::Convert { op: ConvOp::Sext, to: Type::W256, arg: v })
            },
            |a| {
                let low = a.as_limbs()[0] as u32 as i32 as i64;
                if low < 0 {
                    U256::from(low.unsigned_abs()).wrapping_neg()
                } else {
                    U256::from(low as u64)
                }
            },
        ),
        (
            "trunc i32, zext i64, sext w256",
            |b, x| {
                let v = b.ins1(Op::Convert { op: ConvOp::Trunc, to: Type::I32, arg: x });
                let v = b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::I64, arg: v });
                b.ins1(Op::Convert { op: ConvOp::Sext, to: Type::W256, arg: v })
            },
            |a| U256::from(a.as_limbs()[0] as u32),
        ),
        (
            "trunc i64, trunc i32, sext i64, zext w256",
            |b, x| {
                let v = b.ins1(Op::Convert { op: ConvOp::Trunc, to: Type::I64, arg: x });
                let v = b.ins1(Op::Convert { op: ConvOp::Trunc, to: Type::I32, arg: v });
                let v = b.ins1(Op::Convert { op: ConvOp::Sext, to: Type::I64, arg: v });
                b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: v })
            },
            |a| U256::from(a.as_limbs()[0] as u32 as i32 as i64 as u64),
        ),
        (
            "select on the word itself",
            |b, x| {
                let other = b.wconst(U256::from(0xabcdu64));
                b.ins1(Op::Select { cond: x, args: [x, other] })
            },
            |a| if a.is_zero() { U256::from(0xabcdu64) } else { a },
        ),
        (
            "select on an i64 condition",
            |b, x| {
                let low = b.ins1(Op::Convert { op: ConvOp::Trunc, to: Type::I64, arg: x });
                let one = b.iconst(Type::I64, 1);
                let bit = b.binary(BinOp::And, low, one);
                let other = b.wconst(U256::MAX);
                b.ins1(Op::Select { cond: bit, args: [other, x] })
            },
            |a| if a.bit(0) { U256::MAX } else { a },
        ),
    ];
    for (name, chain, want) in chains {
        let module = single(|b| {
            let x = input_word(b, 0);
            let r = chain(b, x);
            return_word(b, r);
        });
        for level in LEVELS {
            let code = jit(&module, level);
            for &a in &values {
                let env = Env { input: input_of(&[a]), ..Env::default() };
                assert_eq!(word_out(&run(&code, &env)), want(a), "{name}({a:#x})");
            }
        }
    }
}

// ---- narrow integers -----------------------------------------------------------------------------------

fn narrow_values(ty: Type) -> Vec<u64> {
    let mut v = vec![0u64, 1, 2, 3, 5, 31, 32, 33, 63, 64, 65, 0x7f, 0x80, 0xff, 1000];
    match ty {
        Type::I32 => v.extend([0x7fff_ffff, 0x8000_0000, 0x8000_0001, 0xffff_ffff, 0xffff_fffe, 0xffff_fff9]),
        _ => v.extend([
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
            0x1_0000_0000,
            i64::MAX as u64,
            i64::MIN as u64,
            i64::MIN as u64 + 1,
            u64::MAX,
            u64::MAX - 1,
            u64::MAX - 6,
        ]),
    }
    let mut rng = Rng(ty.bytes() as u64 * 1234 + 1);
    v.extend((0..40).map(|_| semantics::wrap_int(ty, rng.next() >> (rng.next() % 64))));
    v
}

#[test]
fn narrow_integer_ops_and_traps_match_the_semantics() {
    for ty in [Type::I32, Type::I64] {
        let values = narrow_values(ty);
        for op in BinOp::ALL.into_iter().filter(|op| op.accepts(ty)) {
            let module = single(|b| {
                let x = input_word(b, 0);
                let y = input_word(b, 32);
                let x = b.ins1(Op::Convert { op: ConvOp::Trunc, to: ty, arg: x });
                let y = b.ins1(Op::Convert { op: ConvOp::Trunc, to: ty, arg: y });
                let r = b.binary(op, x, y);
                return_int(b, r);
            });
            for level in LEVELS {
                let code = jit(&module, level);
                for &a in &values {
                    for &c in &values {
                        let env = Env { input: input_of(&[U256::from(a), U256::from(c)]), ..Env::default() };
                        let r = run(&code, &env);
                        match semantics::int_binary(op, ty, a, c) {
                            Ok(want) => assert_eq!(word_out(&r), U256::from(want), "{ty} {op:?}({a:#x}, {c:#x})"),
                            Err(trap) => assert_eq!(r.exit, Some(Exit::Trap(trap)), "{ty} {op:?}({a:#x}, {c:#x})"),
                        }
                    }
                }
            }
        }
        for op in [UnOp::Not, UnOp::Eqz, UnOp::Clz, UnOp::Ctz, UnOp::Popcnt] {
            let module = single(|b| {
                let x = input_word(b, 0);
                let x = b.ins1(Op::Convert { op: ConvOp::Trunc, to: ty, arg: x });
                let r = b.ins1(Op::Unary { op, arg: x });
                return_int(b, r);
            });
            for level in LEVELS {
                let code = jit(&module, level);
                for &a in &values {
                    let env = Env { input: input_of(&[U256::from(a)]), ..Env::default() };
                    let want = semantics::int_unary(op, ty, a);
                    assert_eq!(word_out(&run(&code, &env)), U256::from(want), "{ty} {op:?}({a:#x})");
                }
            }
        }
    }
}

#[test]
fn narrow_constants_and_switch() {
    // switch on an i64 from the input; each case returns its own constant.
    let module = single(|b| {
        let x = input_word(b, 0);
        let idx = b.ins1(Op::Convert { op: ConvOp::SatU64, to: Type::I64, arg: x });
        let cases: Vec<(u64, zvm_ir::Block)> =
            [0u64, 1, 7, 1000, u64::MAX].iter().map(|&v| (v, b.create_block())).collect();
        let default = b.create_block();
        b.ins(Op::Switch { index: idx, cases: cases.clone(), default });
        for (v, blk) in cases {
            b.switch_to_block(blk);
            let r = b.iconst(Type::I32, (v as i64).wrapping_mul(3) + 1);
            return_int(b, r);
        }
        b.switch_to_block(default);
        let r = b.iconst(Type::I64, -1);
        return_int(b, r);
    });
    for level in LEVELS {
        let code = jit(&module, level);
        for (input, want) in [
            (U256::ZERO, 1u64),
            (U256::from(1u8), 4),
            (U256::from(7u8), 22),
            (U256::from(1000u16), 3001),
            (U256::MAX, u64::MAX.wrapping_mul(3).wrapping_add(1) & 0xffff_ffff),
            (U256::from(2u8), u64::MAX),
            (U256::from(1u8) << 100, u64::MAX.wrapping_mul(3).wrapping_add(1) & 0xffff_ffff),
        ] {
            let env = Env { input: input_of(&[input]), ..Env::default() };
            assert_eq!(word_out(&run(&code, &env)), U256::from(want), "switch {input}");
        }
    }
}

// ---- control flow and calls ----------------------------------------------------------------------------

/// fib(n) over w256 with a loop carrying (a, b, i) as block parameters.
fn fib_module() -> Module {
    single(|b| {
        let x = input_word(b, 0);
        let n = b.ins1(Op::Convert { op: ConvOp::SatU64, to: Type::I64, arg: x });
        let a0 = wc(b, 0);
        let b0 = wc(b, 1);
        let i0 = i64c(b, 0);
        let header = b.create_block();
        let (pa, pb, pi) =
            (b.block_param(header, Type::W256), b.block_param(header, Type::W256), b.block_param(header, Type::I64));
        let body = b.create_block();
        let done = b.create_block();
        let result = b.block_param(done, Type::W256);
        b.jump(header, vec![a0, b0, i0]);

        b.switch_to_block(header);
        b.ins(Op::GasBlock { amount: 3 });
        let finished = b.binary(BinOp::GeU, pi, n);
        b.ins(Op::Brif {
            cond: finished,
            then_dest: BlockCall { block: done, args: vec![pa] },
            else_dest: BlockCall::new(body),
        });

        b.switch_to_block(body);
        let c = b.binary(BinOp::Add, pa, pb);
        let one = i64c(b, 1);
        let next = b.binary(BinOp::Add, pi, one);
        b.jump(header, vec![pb, c, next]);

        b.switch_to_block(done);
        return_word(b, result);
    })
}

fn fib_reference(n: u64) -> U256 {
    let (mut a, mut b) = (U256::ZERO, U256::from(1u8));
    for _ in 0..n {
        let c = a.wrapping_add(b);
        a = b;
        b = c;
    }
    a
}

#[test]
fn fib_over_words_in_a_loop() {
    let module = fib_module();
    for level in LEVELS {
        let started = Instant::now();
        let code = jit(&module, level);
        let compile_time = started.elapsed();
        eprintln!("fib at {level:?}: {} bytes of code, compiled in {compile_time:?}", code.code_size());
        for n in [0u64, 1, 2, 3, 10, 93, 94, 100, 370, 371, 1000] {
            let env = Env { input: input_of(&[U256::from(n)]), ..Env::default() };
            let r = run(&code, &env);
            assert_eq!(word_out(&r), fib_reference(n), "fib({n})");
            // 3 gas per loop test, memory expansion for one word.
            assert_eq!(env.gas - r.gas_left, 3 * (n + 1) + 3, "gas of fib({n})");
        }
    }
}

#[test]
fn calls_pass_words_and_propagate_stops() {
    // fn1(a: w256, k: i64) -> (w256, i64): a * 3 + k and k + 1; it halts with revert if k == 99.
    let callee = {
        let sig = Signature { params: vec![Type::W256, Type::I64], results: vec![Type::W256, Type::I64] };
        build_function("callee", sig, |b| {
            let (a, k) = (b.params()[0], b.params()[1]);
            let stop = b.create_block();
            let go = b.create_block();
            let k99 = i64c(b, 99);
            let is99 = b.binary(BinOp::Eq, k, k99);
            b.brif(is99, stop, go);
            b.switch_to_block(stop);
            expand(b, 0, 32);
            let (z, l) = (i64c(b, 0), i64c(b, 4));
            b.halt(HaltKind::Revert, z, l);
            b.switch_to_block(go);
            let three = wc(b, 3);
            let t = b.binary(BinOp::Mul, a, three);
            let kw = b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: k });
            let r = b.binary(BinOp::Add, t, kw);
            let one = i64c(b, 1);
            let k1 = b.binary(BinOp::Add, k, one);
            b.ins(Op::Return { args: vec![r, k1] });
        })
    };
    let results = |f: FuncId| if f.0 == 1 { Some(vec![Type::W256, Type::I64]) } else { None };
    let mut main = Function::new("main", Signature::default());
    {
        let mut b = FunctionBuilder::with_callees(&mut main, &results);
        let a = input_word(&mut b, 0);
        let kw = input_word(&mut b, 32);
        let k = b.ins1(Op::Convert { op: ConvOp::Trunc, to: Type::I64, arg: kw });
        let call = b.ins(Op::Call { func: FuncId(1), args: vec![a, k] });
        let (r, k1) = (b.results(call)[0], b.results(call)[1]);
        let call2 = b.ins(Op::Call { func: FuncId(1), args: vec![r, k1] });
        let r2 = b.results(call2)[0];
        return_word(&mut b, r2);
    }
    let module = Module::new(vec![main, callee], FuncId(0));
    for level in LEVELS {
        let code = jit(&module, level);
        assert!(!code.is_recursive());
        let a = U256::MAX - U256::from(5u8);
        let env = Env { input: input_of(&[a, U256::from(7u8)]), ..Env::default() };
        let once = a.wrapping_mul(U256::from(3u8)).wrapping_add(U256::from(7u8));
        let twice = once.wrapping_mul(U256::from(3u8)).wrapping_add(U256::from(8u8));
        assert_eq!(word_out(&run(&code, &env)), twice);
        // The second call halts: the revert goes straight through both native frames.
        let env = Env { input: input_of(&[a, U256::from(98u8)]), ..Env::default() };
        let r = run(&code, &env);
        assert_eq!(r.exit, Some(Exit::Halt(HaltKind::Revert)));
        assert_eq!(r.output, vec![0; 4]);
    }
}

/// fn0 returns fn1(n), where fn1(n: i64) -> i64 is `n == 0 ? 0 : fn1(n - 1) + 1` (1 gas per level).
fn recursive_module() -> Module {
    let results = |f: FuncId| if f.0 == 1 { Some(vec![Type::I64]) } else { None };
    let mut main = Function::new("main", Signature::default());
    {
        let mut b = FunctionBuilder::with_callees(&mut main, &results);
        let x = input_word(&mut b, 0);
        let n = b.ins1(Op::Convert { op: ConvOp::SatU64, to: Type::I64, arg: x });
        let call = b.ins(Op::Call { func: FuncId(1), args: vec![n] });
        let r = b.results(call)[0];
        return_int(&mut b, r);
    }
    let mut rec = Function::new("rec", Signature { params: vec![Type::I64], results: vec![Type::I64] });
    {
        let mut b = FunctionBuilder::with_callees(&mut rec, &results);
        let n = b.params()[0];
        let base = b.create_block();
        let step = b.create_block();
        b.brif(n, step, base);
        b.switch_to_block(base);
        let z = i64c(&mut b, 0);
        b.ins(Op::Return { args: vec![z] });
        b.switch_to_block(step);
        b.ins(Op::GasBlock { amount: 1 });
        let one = i64c(&mut b, 1);
        let m = b.binary(BinOp::Sub, n, one);
        let call = b.ins(Op::Call { func: FuncId(1), args: vec![m] });
        let r = b.results(call)[0];
        let r1 = b.binary(BinOp::Add, r, one);
        b.ins(Op::Return { args: vec![r1] });
    }
    Module::new(vec![main, rec], FuncId(0))
}

#[test]
fn recursion_is_limited_by_the_call_depth() {
    let module = recursive_module();
    for level in LEVELS {
        let code = jit(&module, level);
        assert!(code.is_recursive());
        // The default limit of 1024 levels: the recursive module runs on a dedicated stack.
        for n in [0u64, 1, 5, 1000, 1023] {
            let env = Env { input: input_of(&[U256::from(n)]), ..Env::default() };
            let r = run(&code, &env);
            assert_eq!(word_out(&r), U256::from(n), "depth {n}");
            assert_eq!(env.gas - r.gas_left, n + 3);
        }
        // main -> rec(n) is depth 1, rec(0) is depth n + 1.
        let env = Env { input: input_of(&[U256::from(1024u16)]), ..Env::default() };
        assert_eq!(run(&code, &env).exit, Some(Exit::Trap(TrapCode::CallStackExhausted)));
        let limits = Limits { max_call_depth: 10, ..Limits::default() };
        let env = Env { input: input_of(&[U256::from(9u8)]), limits: limits.clone(), ..Env::default() };
        assert_eq!(word_out(&run(&code, &env)), U256::from(9u8));
        let env = Env { input: input_of(&[U256::from(10u8)]), limits, ..Env::default() };
        assert_eq!(run(&code, &env).exit, Some(Exit::Trap(TrapCode::CallStackExhausted)));
    }
}

#[test]
fn entry_return_and_explicit_traps() {
    let module = single(|b| {
        b.ins(Op::Return { args: vec![] });
    });
    for r in run_both(&module, &Env::default()) {
        assert_eq!(r.exit, None);
    }
    for code in [TrapCode::Unreachable, TrapCode::InvalidJump, TrapCode::StaticViolation] {
        let module = single(|b| b.trap(code));
        for r in run_both(&module, &Env::default()) {
            assert_eq!(r.exit, Some(Exit::Trap(code)));
        }
    }
}

// ---- memory ----------------------------------------------------------------------------------------------

fn access(width: u8, signed: bool, big_endian: bool, offset: u32) -> MemAccess {
    MemAccess { width, signed, big_endian, offset }
}

/// The reference of a load: `width` bytes at `at` of `mem`, extended to the type and zero-extended to a word.
fn load_reference(mem: &[u8], ty: Type, a: MemAccess, at: usize) -> U256 {
    let w = usize::from(a.width);
    let mut bytes = mem[at..at + w].to_vec();
    if !a.big_endian {
        bytes.reverse();
    }
    let raw = U256::from_be_slice(&bytes);
    if a.signed && w < 32 && raw.bit(w * 8 - 1) {
        let ext = U256::MAX << (w * 8);
        let v = raw | ext;
        match ty {
            Type::I32 => v & U256::from(u32::MAX),
            Type::I64 => v & U256::from(u64::MAX),
            _ => v,
        }
    } else {
        raw
    }
}

#[test]
fn loads_of_every_width_and_byte_order() {
    let mut rng = Rng(3);
    let data: Vec<u8> = (0..96).map(|_| rng.next() as u8).collect();
    let mut cases = Vec::new();
    for ty in [Type::I32, Type::I64, Type::W256] {
        for width in [1u8, 2, 4, 8, 32] {
            if u32::from(width) > ty.bytes() || (ty == Type::W256 && width != 32 && width != 1) {
                continue;
            }
            for signed in [false, true] {
                for be in [false, true] {
                    cases.push((ty, access(width, signed, be, if width == 4 { 3 } else { 0 })));
                }
            }
        }
    }
    for (ty, a) in cases {
        for at in [0u64, 1, 5, 32, 40] {
            let module = single(|b| {
                expand(b, 0, 96);
                let (dst, len) = (i64c(b, 0), i64c(b, 96));
                let off = wc(b, 0);
                b.ins(Op::DataCopy { src: DataSrc::Input, args: [dst, off, len] });
                let addr = i64c(b, at);
                let v = b.ins1(Op::Load { ty, access: a, addr });
                return_int(b, v);
            });
            for r in run_both(&module, &Env { input: data.clone(), ..Env::default() }) {
                let want = load_reference(&data, ty, a, at as usize + a.offset as usize);
                assert_eq!(word_out(&r), want, "load {ty} {a:?} at {at}");
            }
        }
    }
}

#[test]
fn stores_of_every_width_and_byte_order() {
    let value =
        U256::from_limbs([0x1122_3344_5566_7788, 0x99aa_bbcc_ddee_ff00, 0x0102_0304_0506_0708, 0xf1f2_f3f4_f5f6_f7f8]);
    for ty in [Type::I32, Type::I64, Type::W256] {
        for width in [1u8, 2, 4, 8, 32] {
            if u32::from(width) > ty.bytes() || (ty == Type::W256 && width != 32 && width != 1) {
                continue;
            }
            for be in [false, true] {
                let a = access(width, false, be, 2);
                let at = 9u64;
                let module = single(|b| {
                    expand(b, 0, 64);
                    let x = input_word(b, 0);
                    let v =
                        if ty == Type::W256 { x } else { b.ins1(Op::Convert { op: ConvOp::Trunc, to: ty, arg: x }) };
                    let addr = i64c(b, at);
                    b.ins(Op::Store { access: a, addr, value: v });
                    let (z, l) = (i64c(b, 0), i64c(b, 64));
                    b.halt(HaltKind::Return, z, l);
                });
                let mut want = vec![0u8; 64];
                let mut bytes = value.to_le_bytes::<32>()[..usize::from(width)].to_vec();
                if be {
                    bytes.reverse();
                }
                let start = (at + 2) as usize;
                want[start..start + bytes.len()].copy_from_slice(&bytes);
                for r in run_both(&module, &Env { input: input_of(&[value]), ..Env::default() }) {
                    assert_eq!(r.exit, Some(Exit::Halt(HaltKind::Return)));
                    assert_eq!(r.output, want, "store {ty} {a:?}");
                }
            }
        }
    }
}

#[test]
fn out_of_bounds_accesses_trap() {
    // Memory is 64 bytes; the address comes from the input.
    let module_for = |ty: Type, a: MemAccess, store: bool| {
        single(move |b| {
            expand(b, 0, 64);
            let x = input_word(b, 0);
            let addr = b.ins1(Op::Convert { op: ConvOp::SatU64, to: Type::I64, arg: x });
            if store {
                let v = input_word(b, 32);
                let v = if ty == Type::W256 { v } else { b.ins1(Op::Convert { op: ConvOp::Trunc, to: ty, arg: v }) };
                b.ins(Op::Store { access: a, addr, value: v });
                b.ins(Op::Return { args: vec![] });
            } else {
                let v = b.ins1(Op::Load { ty, access: a, addr });
                return_int(b, v);
            }
        })
    };
    let oob = Some(Exit::Trap(TrapCode::MemoryOutOfBounds));
    for (ty, width) in [(Type::I32, 4u8), (Type::I64, 8), (Type::W256, 32), (Type::W256, 1), (Type::I64, 2)] {
        for offset in [0u32, 7, u32::MAX] {
            for store in [false, true] {
                let a = access(width, false, true, offset);
                let module = module_for(ty, a, store);
                for level in LEVELS {
                    let code = jit(&module, level);
                    let last_ok = 64 - u64::from(width) as i128 - i128::from(offset);
                    for addr in [0u64, 1, 30, 56, 60, 63, 64, 100, u64::MAX - 40, u64::MAX - 3, u64::MAX] {
                        let env = Env { input: input_of(&[U256::from(addr), U256::from(7u8)]), ..Env::default() };
                        let r = run(&code, &env);
                        if i128::from(addr) <= last_ok {
                            assert_ne!(r.exit, oob, "{ty} {a:?} at {addr} store={store}");
                        } else {
                            assert_eq!(r.exit, oob, "{ty} {a:?} at {addr} store={store}");
                            // Nothing was written.
                            assert_eq!(r.memory, vec![0; 64]);
                        }
                    }
                }
            }
        }
    }
    // No memory at all: every access traps.
    let module = single(|b| {
        let addr = i64c(b, 0);
        let v = b.ins1(Op::Load { ty: Type::I32, access: access(1, false, false, 0), addr });
        return_int(b, v);
    });
    for r in run_both(&module, &Env::default()) {
        assert_eq!(r.exit, oob);
    }
}

#[test]
fn memory_expansion_charges_gas_and_survives_moves() {
    // Write a marker, grow memory a lot (the buffer moves), read the marker back through the new base,
    // write past the old end, and report the sizes.
    let module = single(|b| {
        expand(b, 0, 32);
        let marker = b.wconst(U256::from(0xfeed_beefu64));
        let zero = i64c(b, 0);
        b.ins(Op::Store { access: BE32, addr: zero, value: marker });
        let size1 = b.ins1(Op::MemSize);
        let x = input_word(b, 0);
        let o = wc(b, 0);
        b.ins(Op::MemExpand { args: [o, x] });
        let size2 = b.ins1(Op::MemSize);
        let back = b.ins1(Op::Load { ty: Type::W256, access: BE32, addr: zero });
        let k32 = i64c(b, 32);
        let end = b.binary(BinOp::Sub, size2, k32);
        b.ins(Op::Store { access: BE32, addr: end, value: back });
        // Output: [marker read back][size1][size2] as words at 0..96 (overwriting the marker slot is fine).
        let s1 = b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: size1 });
        let s2 = b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: size2 });
        let (a32, a64) = (i64c(b, 32), i64c(b, 64));
        b.ins(Op::Store { access: BE32, addr: a32, value: s1 });
        b.ins(Op::Store { access: BE32, addr: a64, value: s2 });
        let len = i64c(b, 96);
        b.halt(HaltKind::Return, zero, len);
    });
    let words = |n: u64| semantics::memory_cost(n);
    for level in LEVELS {
        let code = jit(&module, level);
        for len in [128u64, 200, 1 << 16, 1 << 20] {
            let env = Env { input: input_of(&[U256::from(len)]), gas: 10_000_000, ..Env::default() };
            let r = run(&code, &env);
            assert_eq!(r.exit, Some(Exit::Halt(HaltKind::Return)), "expand to {len}");
            let size = len.div_ceil(32) * 32;
            assert_eq!(U256::from_be_slice(&r.output[..32]), U256::from(0xfeed_beefu64));
            assert_eq!(U256::from_be_slice(&r.output[32..64]), U256::from(32u8));
            assert_eq!(U256::from_be_slice(&r.output[64..96]), U256::from(size));
            assert_eq!(r.memory.len() as u64, size);
            assert_eq!(U256::from_be_slice(&r.memory[size as usize - 32..]), U256::from(0xfeed_beefu64));
            assert_eq!(env.gas - r.gas_left, words(size / 32), "gas of expanding to {len}");
        }
        // An unaffordable range runs out of gas; one past the memory limit traps.
        let env = Env { input: input_of(&[U256::from(1u64 << 40)]), ..Env::default() };
        assert_eq!(run(&code, &env).exit, Some(Exit::OutOfGas));
        let env = Env { input: input_of(&[U256::MAX]), ..Env::default() };
        assert_eq!(run(&code, &env).exit, Some(Exit::OutOfGas));
        let limits = Limits { max_memory: 1 << 16, ..Limits::default() };
        let env = Env { input: input_of(&[U256::from(1u64 << 17)]), gas: 100_000_000, limits };
        assert_eq!(run(&code, &env).exit, Some(Exit::Trap(TrapCode::MemoryLimit)));
    }
}

#[test]
fn zero_length_expansion_never_grows() {
    let module = single(|b| {
        let x = input_word(b, 0);
        let zero = wc(b, 0);
        b.ins(Op::MemExpand { args: [x, zero] });
        let size = b.ins1(Op::MemSize);
        let grew = b.create_block();
        let fine = b.create_block();
        b.brif(size, grew, fine);
        b.switch_to_block(grew);
        b.trap(TrapCode::Unreachable);
        b.switch_to_block(fine);
        b.ins(Op::Return { args: vec![] });
    });
    for level in LEVELS {
        let code = jit(&module, level);
        for offset in [U256::ZERO, U256::from(1u64 << 40), U256::MAX] {
            let env = Env { input: input_of(&[offset]), ..Env::default() };
            let r = run(&code, &env);
            assert_eq!(r.exit, None);
            assert_eq!(r.gas_left, env.gas);
        }
    }
}

#[test]
fn mem_copy_hash_and_data() {
    let data: Vec<u8> = (0u8..40).collect();
    let module = single(|b| {
        expand(b, 0, 128);
        // data.copy input[8..] -> mem[0..40] (zero-filled past the input's end).
        let (dst, len) = (i64c(b, 0), i64c(b, 40));
        let off = wc(b, 8);
        b.ins(Op::DataCopy { src: DataSrc::Input, args: [dst, off, len] });
        // mem.copy mem[0..40] -> mem[4..44] (overlapping).
        let (d, s, l) = (i64c(b, 4), i64c(b, 0), i64c(b, 40));
        b.ins(Op::MemCopy { args: [d, s, l] });
        let size = b.ins1(Op::DataSize { src: DataSrc::Input });
        let code_size = b.ins1(Op::DataSize { src: DataSrc::Code });
        let (ho, hl) = (i64c(b, 0), i64c(b, 44));
        let h = b.ins1(Op::Hash { alg: HashAlg::Keccak256, args: [ho, hl] });
        let word = input_word(b, 30);
        let (a64, a96) = (i64c(b, 64), i64c(b, 96));
        b.ins(Op::Store { access: BE32, addr: a64, value: h });
        b.ins(Op::Store { access: BE32, addr: a96, value: word });
        let k32 = i64c(b, 32);
        let sizes = b.binary(BinOp::Shl, size, k32);
        let sizes = b.binary(BinOp::Or, sizes, code_size);
        let a48 = i64c(b, 48);
        b.ins(Op::Store { access: access(8, false, true, 0), addr: a48, value: sizes });
        let (z, n) = (i64c(b, 0), i64c(b, 128));
        b.halt(HaltKind::Return, z, n);
    });
    let mut mem = vec![0u8; 128];
    mem[0..32].copy_from_slice(&data[8..40]);
    mem.copy_within(0..40, 4);
    let hash = zvm_runtime::crypto::keccak256(&mem[0..44]);
    mem[48..56].copy_from_slice(&((40u64 << 32) | b"test code".len() as u64).to_be_bytes());
    mem[64..96].copy_from_slice(&hash);
    mem[96..106].copy_from_slice(&data[30..40]);
    for r in run_both(&module, &Env { input: data.clone(), ..Env::default() }) {
        assert_eq!(r.exit, Some(Exit::Halt(HaltKind::Return)));
        assert_eq!(r.output, mem);
    }
}

// ---- gas ---------------------------------------------------------------------------------------------

#[test]
fn out_of_gas_at_the_exact_point() {
    // Four blocks of 30 gas, each writing a byte; the fourth cannot be paid with 100.
    let module = single(|b| {
        expand(b, 0, 32); // 3 gas
        for i in 0..4u64 {
            b.ins(Op::GasBlock { amount: 30 });
            let addr = i64c(b, i);
            let v = b.iconst(Type::I32, 0xa0 + i as i64);
            b.ins(Op::Store { access: access(1, false, false, 0), addr, value: v });
        }
        let (z, n) = (i64c(b, 0), i64c(b, 4));
        b.halt(HaltKind::Return, z, n);
    });
    for level in LEVELS {
        let code = jit(&module, level);
        let r = run(&code, &Env { gas: 100, ..Env::default() });
        assert_eq!(r.exit, Some(Exit::OutOfGas));
        // The failed charge leaves the counter alone; three stores happened.
        assert_eq!(r.gas_left, 100 - 3 - 90);
        assert_eq!(&r.memory[..4], &[0xa0, 0xa1, 0xa2, 0]);
        let r = run(&code, &Env { gas: 123, ..Env::default() });
        assert_eq!(r.exit, Some(Exit::Halt(HaltKind::Return)));
        assert_eq!(r.gas_left, 0);
        assert_eq!(r.output, vec![0xa0, 0xa1, 0xa2, 0xa3]);
        let r = run(&code, &Env { gas: 122, ..Env::default() });
        assert_eq!(r.exit, Some(Exit::OutOfGas));
    }
}

#[test]
fn gas_left_and_dynamic_charges() {
    let module = single(|b| {
        b.ins(Op::GasCost { amount: 10 });
        b.ins(Op::GasBlock { amount: 40 });
        let left = b.ins1(Op::GasLeft);
        let x = input_word(b, 0);
        let amount = b.ins1(Op::Convert { op: ConvOp::SatU64, to: Type::I64, arg: x });
        b.ins(Op::GasCharge { arg: amount });
        let left2 = b.ins1(Op::GasLeft);
        let l1 = b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: left });
        let l2 = b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: left2 });
        let k128 = wc(b, 128);
        let shifted = b.binary(BinOp::Shl, l1, k128);
        let both = b.binary(BinOp::Or, shifted, l2);
        return_word(b, both);
    });
    for level in LEVELS {
        let code = jit(&module, level);
        let env = Env { input: input_of(&[U256::from(1000u16)]), gas: 5000, ..Env::default() };
        let out = word_out(&run(&code, &env));
        assert_eq!(out >> 128usize, U256::from(5000 - 50));
        assert_eq!(out & U256::from(u128::MAX), U256::from(5000 - 50 - 1000));
        // Charging exactly what is left works; one more runs out.
        let env = Env { input: input_of(&[U256::from(4950u16)]), gas: 5000, ..Env::default() };
        assert_eq!(run(&code, &env).exit, Some(Exit::OutOfGas)); // return_word's expansion needs 3 more
        let env = Env { input: input_of(&[U256::from(4947u16)]), gas: 5000, ..Env::default() };
        let r = run(&code, &env);
        assert_eq!(r.exit, Some(Exit::Halt(HaltKind::Return)));
        assert_eq!(r.gas_left, 0);
        let env = Env { input: input_of(&[U256::MAX]), gas: 5000, ..Env::default() };
        assert_eq!(run(&code, &env).exit, Some(Exit::OutOfGas));
    }
}

// ---- operand stack -----------------------------------------------------------------------------------

#[test]
fn stack_operations() {
    // push 3 items, swap the top two, pop one.
    let module = single(|b| {
        b.ins(Op::StackCheck { min: 0, growth: 3 });
        b.ins(Op::StackAdjust { delta: 3 });
        for (depth, v) in [(2u32, 10u64), (1, 20), (0, 30)] {
            let w = wc(b, v);
            b.ins(Op::StackSet { depth, value: w });
        }
        b.ins(Op::StackCheck { min: 2, growth: 0 });
        let top = b.ins1(Op::StackGet { depth: 0 });
        let second = b.ins1(Op::StackGet { depth: 1 });
        b.ins(Op::StackSet { depth: 0, value: second });
        b.ins(Op::StackSet { depth: 1, value: top });
        b.ins(Op::StackAdjust { delta: -1 });
        b.ins(Op::Return { args: vec![] });
    });
    for r in run_both(&module, &Env::default()) {
        assert_eq!(r.exit, None);
        assert_eq!(r.stack_len, 2);
        assert_eq!(r.stack_top, vec![U256::from(30u8), U256::from(10u8)]);
    }

    let underflow = single(|b| {
        b.ins(Op::StackCheck { min: 0, growth: 2 });
        b.ins(Op::StackAdjust { delta: 2 });
        b.ins(Op::StackCheck { min: 3, growth: 0 });
        b.ins(Op::Return { args: vec![] });
    });
    for r in run_both(&underflow, &Env::default()) {
        assert_eq!(r.exit, Some(Exit::Trap(TrapCode::StackUnderflow)));
        assert_eq!(r.stack_len, 2);
    }

    let check = |pushed: i32, min: u32, growth: u32| {
        single(move |b| {
            b.ins(Op::StackAdjust { delta: pushed });
            b.ins(Op::StackCheck { min, growth });
            b.ins(Op::Return { args: vec![] });
        })
    };
    let cases = [
        ((1000, 1, 24), None),
        ((1000, 1, 25), Some(TrapCode::StackOverflow)),
        ((1000, 1001, 0), Some(TrapCode::StackUnderflow)),
        ((1024, 1024, 0), None),
        // `min + growth` past the limit fails whatever the height: underflow first, as the check reads.
        ((1, 1, 1024), Some(TrapCode::StackOverflow)),
        ((1, 2, 1024), Some(TrapCode::StackUnderflow)),
    ];
    for ((pushed, min, growth), trap) in cases {
        for r in run_both(&check(pushed, min, growth), &Env::default()) {
            assert_eq!(r.exit, trap.map(Exit::Trap), "{pushed} items, stack.check {min}, {growth}");
        }
    }

    // Without a check, accesses stay inside the buffer (masked): reading below the bottom wraps around.
    let unchecked = single(|b| {
        let w = wc(b, 77);
        b.ins(Op::StackAdjust { delta: 1 });
        b.ins(Op::StackSet { depth: 0, value: w });
        b.ins(Op::StackAdjust { delta: -1 });
        let below = b.ins1(Op::StackGet { depth: 5 });
        b.ins(Op::StackSet { depth: 2000, value: below });
        let again = b.ins1(Op::StackGet { depth: 1023 });
        return_word(b, again);
    });
    for r in run_both(&unchecked, &Env::default()) {
        assert_eq!(word_out(&r), U256::from(77u8));
    }
}

// ---- host --------------------------------------------------------------------------------------------

#[test]
fn host_calls_reach_the_host() {
    let module = single(|b| {
        let key = input_word(b, 0);
        let value = input_word(b, 32);
        b.host_call(HostFn::SStore, vec![key, value]);
        let read = b.host_call(HostFn::SLoad, vec![key])[0];
        let address = b.host_call(HostFn::Env(zvm_ir::EnvField::Address), vec![])[0];
        let both = b.binary(BinOp::Xor, read, address);
        return_word(b, both);
    });
    for level in LEVELS {
        let code = jit(&module, level);
        let mut host = InMemoryHost::new();
        let (key, value) = (U256::from(5u8), U256::MAX - U256::from(1u8));
        let env = Env { input: input_of(&[key, value]), gas: 100_000, ..Env::default() };
        let r = run_with(&code, &env, &mut host);
        assert_eq!(word_out(&r) ^ ADDRESS.to_word(), value);
        assert_eq!(host.storage(ADDRESS, key), value);
        // Cold store of a zero slot (2000 + 19900) then a warm load (0), plus 3 for the output memory.
        assert_eq!(env.gas - r.gas_left, 2000 + 19900 + 3);
        // sstore with no more than the stipend left runs out of gas.
        let env = Env { input: input_of(&[key, value]), gas: 2300, ..Env::default() };
        assert_eq!(run(&code, &env).exit, Some(Exit::OutOfGas));
    }
}

#[test]
fn halt_return_and_revert_data() {
    for kind in [HaltKind::Return, HaltKind::Revert] {
        let module = single(|b| {
            expand(b, 0, 64);
            let x = input_word(b, 0);
            let a = i64c(b, 10);
            b.ins(Op::Store { access: BE32, addr: a, value: x });
            let (o, l) = (i64c(b, 12), i64c(b, 20));
            b.halt(kind, o, l);
        });
        let word = U256::from_be_bytes([0x5a; 32]);
        for r in run_both(&module, &Env { input: input_of(&[word]), ..Env::default() }) {
            assert_eq!(r.exit, Some(Exit::Halt(kind)));
            assert_eq!(r.output, vec![0x5a; 20]);
        }
        let oob = single(|b| {
            expand(b, 0, 32);
            let (o, l) = (i64c(b, 20), i64c(b, 13));
            b.halt(kind, o, l);
        });
        for r in run_both(&oob, &Env::default()) {
            assert_eq!(r.exit, Some(Exit::Trap(TrapCode::MemoryOutOfBounds)));
        }
        // An empty range never traps.
        let empty = single(|b| {
            let (o, l) = (i64c(b, u64::MAX), i64c(b, 0));
            b.halt(kind, o, l);
        });
        for r in run_both(&empty, &Env::default()) {
            assert_eq!(r.exit, Some(Exit::Halt(kind)));
            assert!(r.output.is_empty());
        }
    }
}

#[test]
fn constant_addresses_and_ranges() {
    let oob = Some(Exit::Trap(TrapCode::MemoryOutOfBounds));
    // Memory is 64 bytes; addresses and offsets are IR constants.
    for (addr, offset, width, ok) in [
        (0u64, 0u32, 32u8, true),
        (32, 0, 32, true),
        (33, 0, 32, false),
        (30, 2, 32, true),
        (30, 3, 32, false),
        (63, 0, 1, true),
        (64, 0, 1, false),
        (u64::MAX, 0, 1, false),
        (u64::MAX - 2, 3, 8, false),
        (0, u32::MAX, 1, false),
    ] {
        for store in [false, true] {
            let module = single(|b| {
                expand(b, 0, 64);
                let a = i64c(b, addr);
                let ty = if width == 32 { Type::W256 } else { Type::I64 };
                let acc = access(width, false, true, offset);
                if store {
                    let v = if ty == Type::W256 { wc(b, 9) } else { i64c(b, 9) };
                    b.ins(Op::Store { access: acc, addr: a, value: v });
                } else {
                    b.ins1(Op::Load { ty, access: acc, addr: a });
                }
                b.ins(Op::Return { args: vec![] });
            });
            for r in run_both(&module, &Env::default()) {
                let want = if ok { None } else { oob };
                assert_eq!(r.exit, want, "{addr}+{offset} width {width} store={store}");
            }
        }
    }
    // Constant expansion ranges: empty ones never expand, ranges past 2^64 run out of gas.
    for (offset, len, want_size, want_exit) in [
        (U256::MAX, U256::ZERO, 0u64, None),
        (U256::from(10u8), U256::from(1u8), 32, None),
        (U256::from(64u8), U256::from(1u8), 96, None),
        (U256::MAX, U256::from(1u8), 0, Some(Exit::OutOfGas)),
        (U256::from(u64::MAX), U256::from(1u8), 0, Some(Exit::OutOfGas)),
    ] {
        let module = single(|b| {
            let (o, l) = (b.wconst(offset), b.wconst(len));
            b.ins(Op::MemExpand { args: [o, l] });
            b.ins(Op::MemExpand { args: [o, l] });
            b.ins(Op::Return { args: vec![] });
        });
        for r in run_both(&module, &Env::default()) {
            assert_eq!(r.exit, want_exit, "expand {offset} {len}");
            if want_exit.is_none() {
                assert_eq!(r.memory.len() as u64, want_size);
            }
        }
    }
}

#[test]
fn unusual_control_flow() {
    // brif with both edges to one block (different arguments), and a loop back to the entry block that
    // ends when the gas runs out.
    let module = single(|b| {
        let x = input_word(b, 0);
        let join = b.create_block();
        let p = b.block_param(join, Type::W256);
        let (one, two) = (wc(b, 1), wc(b, 2));
        b.ins(Op::Brif {
            cond: x,
            then_dest: BlockCall { block: join, args: vec![one] },
            else_dest: BlockCall { block: join, args: vec![two] },
        });
        // Never reached, and refers to nothing defined on its paths.
        let dead = b.create_block();
        b.switch_to_block(dead);
        let y = b.binary(BinOp::Add, p, x);
        return_word(b, y);
        b.switch_to_block(join);
        return_word(b, p);
    });
    for level in LEVELS {
        let code = jit(&module, level);
        for (input, want) in [(U256::ZERO, 2u8), (U256::from(1u8) << 200, 1)] {
            let env = Env { input: input_of(&[input]), ..Env::default() };
            assert_eq!(word_out(&run(&code, &env)), U256::from(want));
        }
    }
    let looping = single(|b| {
        b.ins(Op::GasBlock { amount: 7 });
        let again = b.create_block();
        b.jump(again, vec![]);
        b.switch_to_block(again);
        b.jump(zvm_ir::Function::ENTRY, vec![]);
    });
    for r in run_both(&looping, &Env { gas: 100, ..Env::default() }) {
        assert_eq!(r.exit, Some(Exit::OutOfGas));
        assert_eq!(r.gas_left, 100 % 7);
    }
}

// ---- the examples, through the ZVM frontend -----------------------------------------------------------

fn example(name: &str) -> (Module, Vec<u8>) {
    let path = format!("{}/../examples/{name}.zasm", env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let code = zvm_compiler::frontend::zvm::asm::assemble(&src).unwrap_or_else(|e| panic!("{name}: {e}"));
    let loaded = zvm_compiler::frontend::zvm::lower::load(&code, 1 << 20).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut module = loaded.module;
    zvm_ir::passes::gas::run(&mut module);
    (module, loaded.code.to_vec())
}

fn pad32(x: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; 32 - x.len()];
    v.extend_from_slice(x);
    v
}

fn run_example(
    code: &CompiledModule,
    bytecode: &[u8],
    msg: &Message,
    host: &mut InMemoryHost,
) -> (Option<Exit>, Vec<u8>) {
    let limits = Limits::default();
    let vm = Vm::new(Tier::Interp, limits.clone());
    let mut frame = Frame::new(msg, bytecode, host, &vm, &ZvmCosts, &HELPERS);
    let exit = compiled::run(code, &mut frame);
    (exit, frame.output.clone())
}

#[test]
fn examples_run_on_the_compiled_tier() {
    let ok = Some(Exit::Halt(HaltKind::Return));
    for level in LEVELS {
        // fib
        let (module, bytecode) = example("fib");
        let started = Instant::now();
        let code = jit(&module, level);
        eprintln!(
            "examples/fib.zasm at {level:?}: {} IR functions, {} bytes of code, compiled in {:?}",
            module.functions.len(),
            code.code_size(),
            started.elapsed()
        );
        for (n, want) in
            [(10u64, U256::from(55u8)), (93, U256::from(12200160415121876738u64)), (500, fib_reference(500))]
        {
            let msg = Message { input: pad32(&n.to_be_bytes()), gas_limit: 10_000_000, ..Default::default() };
            let (exit, out) = run_example(&code, &bytecode, &msg, &mut InMemoryHost::new());
            assert_eq!(exit, ok);
            assert_eq!(U256::from_be_slice(&out), want, "fib({n})");
        }

        // counter
        let (module, bytecode) = example("counter");
        let code = jit(&module, level);
        let mut host = InMemoryHost::new();
        for expected in 1u8..=3 {
            let msg = Message { address: ADDRESS, gas_limit: 1_000_000, ..Default::default() };
            let (exit, out) = run_example(&code, &bytecode, &msg, &mut host);
            assert_eq!(exit, ok);
            assert_eq!(U256::from_be_slice(&out), U256::from(expected));
        }
        assert_eq!(host.storage(ADDRESS, U256::ZERO), U256::from(3u8));

        // sort
        let (module, bytecode) = example("sort");
        let code = jit(&module, level);
        let input = [pad32(&[5]), pad32(&[7])].concat();
        let msg = Message { input, gas_limit: 10_000_000, ..Default::default() };
        let (exit, out) = run_example(&code, &bytecode, &msg, &mut InMemoryHost::new());
        assert_eq!(exit, ok);
        let words: Vec<U256> = out.chunks(32).map(U256::from_be_slice).collect();
        let want: Vec<U256> =
            [0x443171d2bea2b9deu64, 0x45d2b7228043cc2b, 0x7e4328bc0f7dfb8a, 0xe8155a62cd769fcc, 0xf4a61a7f8fa82e91]
                .map(U256::from)
                .to_vec();
        assert_eq!(words, want);

        // token
        let (module, bytecode) = example("token");
        let code = jit(&module, level);
        let (a, b) = (Address([0xaa; 20]), Address([0xbb; 20]));
        let call = |caller: Address, selector: u32, args: &[&[u8]]| {
            let mut input = selector.to_be_bytes().to_vec();
            for arg in args {
                input.extend(pad32(arg));
            }
            Message { caller, address: ADDRESS, input, gas_limit: 1_000_000, ..Default::default() }
        };
        let mut host = InMemoryHost::new();
        let steps: [(Message, Option<Exit>, U256); 5] = [
            (call(a, 0x40c10f19, &[&a.0, &1000u16.to_be_bytes()]), ok, U256::from(1u8)),
            (call(a, 0xa9059cbb, &[&b.0, &300u16.to_be_bytes()]), ok, U256::from(1u8)),
            (call(a, 0x70a08231, &[&a.0]), ok, U256::from(700u16)),
            (call(a, 0x70a08231, &[&b.0]), ok, U256::from(300u16)),
            (call(b, 0xa9059cbb, &[&a.0, &301u16.to_be_bytes()]), Some(Exit::Halt(HaltKind::Revert)), U256::ZERO),
        ];
        for (msg, want_exit, want) in steps {
            let (exit, out) = run_example(&code, &bytecode, &msg, &mut host);
            assert_eq!(exit, want_exit);
            assert_eq!(U256::from_be_slice(&out), want);
        }
    }
}

/// fn1(n, s0..s7) = n == 0 ? (s0..s7) : fn1(n - 1, s1..s7, s0 + 3 * s7): eight words in and out (more
/// results than registers), and frames big enough that deep recursion needs a dedicated native stack.
#[test]
fn deep_recursion_with_many_words() {
    let words = vec![Type::W256; 8];
    let sig = Signature { params: [vec![Type::I64], words.clone()].concat(), results: words.clone() };
    let results = {
        let words = words.clone();
        move |f: FuncId| (f.0 == 1).then(|| words.clone())
    };
    let mut main = Function::new("main", Signature::default());
    {
        let mut b = FunctionBuilder::with_callees(&mut main, &results);
        let x = input_word(&mut b, 0);
        let n = b.ins1(Op::Convert { op: ConvOp::SatU64, to: Type::I64, arg: x });
        let mut args = vec![n];
        for i in 0..8 {
            args.push(input_word(&mut b, 32 + 32 * i));
        }
        let call = b.ins(Op::Call { func: FuncId(1), args });
        let rs = b.results(call).to_vec();
        expand(&mut b, 0, 256);
        for (i, &r) in rs.iter().enumerate() {
            let addr = i64c(&mut b, 32 * i as u64);
            b.ins(Op::Store { access: BE32, addr, value: r });
        }
        let (z, l) = (i64c(&mut b, 0), i64c(&mut b, 256));
        b.halt(HaltKind::Return, z, l);
    }
    let mut rec = Function::new("rec", sig);
    {
        let mut b = FunctionBuilder::with_callees(&mut rec, &results);
        let params = b.params().to_vec();
        let (n, s) = (params[0], params[1..].to_vec());
        let base = b.create_block();
        let step = b.create_block();
        b.brif(n, step, base);
        b.switch_to_block(base);
        b.ins(Op::Return { args: s.clone() });
        b.switch_to_block(step);
        let one = i64c(&mut b, 1);
        let m = b.binary(BinOp::Sub, n, one);
        let three = wc(&mut b, 3);
        let t = b.binary(BinOp::Mul, s[7], three);
        let last = b.binary(BinOp::Add, s[0], t);
        let mut args = vec![m];
        args.extend_from_slice(&s[1..]);
        args.push(last);
        let call = b.ins(Op::Call { func: FuncId(1), args });
        let rs = b.results(call).to_vec();
        b.ins(Op::Return { args: rs });
    }
    let module = Module::new(vec![main, rec], FuncId(0));
    let mut rng = Rng(2024);
    let start: Vec<U256> = (0..8).map(|_| rng.word()).collect();
    for level in LEVELS {
        let code = jit(&module, level);
        assert!(code.is_recursive());
        eprintln!("8-word recursion at {level:?}: native stack bound {} bytes", code.native_stack_bytes(1024));
        for n in [0u64, 1, 9, 500, 1023, 1024] {
            let env = Env { input: input_of(&[[U256::from(n)].as_slice(), &start].concat()), ..Env::default() };
            let r = run(&code, &env);
            if n == 1024 {
                assert_eq!(r.exit, Some(Exit::Trap(TrapCode::CallStackExhausted)));
                continue;
            }
            let mut s = start.clone();
            for _ in 0..n {
                let last = s[0].wrapping_add(s[7].wrapping_mul(U256::from(3u8)));
                s.remove(0);
                s.push(last);
            }
            assert_eq!(r.exit, Some(Exit::Halt(HaltKind::Return)), "depth {n}");
            let got: Vec<U256> = r.output.chunks(32).map(U256::from_be_slice).collect();
            assert_eq!(got, s, "depth {n}");
        }
    }
}

#[test]
fn constant_operand_peepholes_match_the_semantics() {
    let mut values = edge_words();
    let mut rng = Rng(31337);
    values.extend((0..20).map(|_| rng.word()));
    let mut cases: Vec<(BinOp, U256, bool)> = Vec::new();
    // Constant first operand: the byte index of SIGNEXTEND and BYTE.
    for i in (0u64..=33).chain([255, 256]).map(U256::from).chain([U256::MAX]) {
        cases.push((BinOp::SignExtend, i, true));
        cases.push((BinOp::Byte, i, true));
    }
    // Constant second operand: multiplication and unsigned division/remainder by powers of two and zero.
    for k in (0..256usize).step_by(7).chain([63, 64, 128, 255]) {
        for op in [BinOp::Mul, BinOp::DivU, BinOp::RemU] {
            cases.push((op, U256::from(1u8) << k, false));
        }
    }
    for op in [BinOp::DivU, BinOp::RemU, BinOp::Mul] {
        cases.push((op, U256::ZERO, false));
        cases.push((op, U256::from(3u8), false));
    }
    for (op, k, first) in cases {
        let module = single(|b| {
            let x = input_word(b, 0);
            let kv = b.wconst(k);
            let r = if first { b.binary(op, kv, x) } else { b.binary(op, x, kv) };
            return_word(b, r);
        });
        for level in LEVELS {
            let code = jit(&module, level);
            for &v in &values {
                let env = Env { input: input_of(&[v]), ..Env::default() };
                let want = if first { semantics::word_binary(op, k, v) } else { semantics::word_binary(op, v, k) };
                assert_eq!(word_out(&run(&code, &env)), want, "{op:?} k={k:#x} first={first} v={v:#x}");
            }
        }
    }
}
