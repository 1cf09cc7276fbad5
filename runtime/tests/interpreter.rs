//! Integration tests of the interpreter tier: IR built with `FunctionBuilder`, run on a real `Frame`.

use ruint::aliases::U256;
use std::time::Instant;
use zvm_compiler::abi::{Helpers, VmCtx, Word, STATUS_TRAP_BASE};
use zvm_compiler::cranelift::{self, JitOptions};
use zvm_ir::builder::build_function;
use zvm_ir::{
    semantics, BinOp, BlockCall, ConvOp, DataSrc, FuncId, Function, FunctionBuilder, HaltKind, HostFn, MemAccess,
    Module, Op, Signature, TernOp, TrapCode, Type, UnOp, Value,
};
use zvm_runtime::compiled;
use zvm_runtime::executor::Tier;
use zvm_runtime::host::SStoreOutcome;
use zvm_runtime::interpreter::{self, Program};
use zvm_runtime::schedule::HostCosts;
use zvm_runtime::vm::Vm;
use zvm_runtime::{Address, Exit, Frame, InMemoryHost, Limits, Message};

// ---- harness --------------------------------------------------------------------------------------------

/// Host costs that make host calls free, so tests only see the IR's own gas.
struct FreeCosts;

impl HostCosts for FreeCosts {
    fn sload(&self, _cold: bool) -> u64 {
        0
    }
    fn sstore(&self, _outcome: &SStoreOutcome, _new: U256) -> u64 {
        0
    }
    fn sstore_min_gas(&self) -> u64 {
        0
    }
    fn sstore_refund(&self, _outcome: &SStoreOutcome, _new: U256) -> i64 {
        0
    }
    fn account_access(&self, _cold: bool) -> u64 {
        0
    }
}

// The interpreter never calls the native helpers; the frame only stores the table.
const STUB: u32 = STATUS_TRAP_BASE + 1;
unsafe extern "C" fn stub_mem_expand(_: *mut VmCtx, _: u64, _: u64) -> u32 {
    STUB
}
unsafe extern "C" fn stub_mem_copy(_: *mut VmCtx, _: u64, _: u64, _: u64) -> u32 {
    STUB
}
unsafe extern "C" fn stub_hash(_: *mut VmCtx, _: u32, _: u64, _: u64, _: *mut Word) -> u32 {
    STUB
}
unsafe extern "C" fn stub_data_size(_: *mut VmCtx, _: u32) -> u64 {
    0
}
unsafe extern "C" fn stub_data_load(_: *mut VmCtx, _: u32, _: *const Word, _: *mut Word) -> u32 {
    STUB
}
unsafe extern "C" fn stub_data_copy(_: *mut VmCtx, _: u32, _: u64, _: *const Word, _: u64) -> u32 {
    STUB
}
unsafe extern "C" fn stub_host_call(_: *mut VmCtx, _: u32, _: *const Word, _: u32, _: *mut Word) -> u32 {
    STUB
}
unsafe extern "C" fn stub_halt(_: *mut VmCtx, _: u32, _: u64, _: u64) -> u32 {
    STUB
}
unsafe extern "C" fn stub_word_binary(_: u32, _: *const Word, _: *const Word, _: *mut Word) {}
unsafe extern "C" fn stub_word_ternary(_: u32, _: *const Word, _: *const Word, _: *const Word, _: *mut Word) {}
unsafe extern "C" fn stub_mem_grow(_: *mut VmCtx, _: u64) -> u64 {
    u64::MAX
}
unsafe extern "C" fn stub_mem_fill(_: *mut VmCtx, _: u64, _: u32, _: u64) -> u32 {
    STUB
}
unsafe extern "C" fn stub_mem_init(_: *mut VmCtx, _: u32, _: u64, _: u64, _: u64) -> u32 {
    STUB
}
unsafe extern "C" fn stub_data_drop(_: *mut VmCtx, _: u32) {}
unsafe extern "C" fn stub_table_get(_: *mut VmCtx, _: u32, _: u64, _: *mut u64) -> u32 {
    STUB
}
unsafe extern "C" fn stub_table_set(_: *mut VmCtx, _: u32, _: u64, _: u64) -> u32 {
    STUB
}
unsafe extern "C" fn stub_table_size(_: *mut VmCtx, _: u32, _: *mut u64) -> u32 {
    STUB
}
unsafe extern "C" fn stub_table_grow(_: *mut VmCtx, _: u32, _: u64, _: u64, _: *mut u64) -> u32 {
    STUB
}
unsafe extern "C" fn stub_table_fill(_: *mut VmCtx, _: u32, _: u64, _: u64, _: u64) -> u32 {
    STUB
}
unsafe extern "C" fn stub_table_copy(_: *mut VmCtx, _: u32, _: u32, _: u64, _: u64, _: u64) -> u32 {
    STUB
}
unsafe extern "C" fn stub_table_init(_: *mut VmCtx, _: u32, _: u32, _: u64, _: u64, _: u64) -> u32 {
    STUB
}
unsafe extern "C" fn stub_elem_drop(_: *mut VmCtx, _: u32) {}
unsafe extern "C" fn stub_call_indirect_target(_: *mut VmCtx, _: u32, _: u32, _: u64, _: *mut u32) -> u32 {
    STUB
}
unsafe extern "C" fn stub_call_foreign(_: *mut VmCtx, _: u32, _: *mut u64) -> u32 {
    STUB
}

static HELPERS: Helpers = Helpers {
    mem_expand: stub_mem_expand,
    mem_copy: stub_mem_copy,
    hash: stub_hash,
    data_size: stub_data_size,
    data_load: stub_data_load,
    data_copy: stub_data_copy,
    host_call: stub_host_call,
    halt: stub_halt,
    word_binary: stub_word_binary,
    word_ternary: stub_word_ternary,
    mem_grow: stub_mem_grow,
    mem_fill: stub_mem_fill,
    mem_init: stub_mem_init,
    data_drop: stub_data_drop,
    table_get: stub_table_get,
    table_set: stub_table_set,
    table_size: stub_table_size,
    table_grow: stub_table_grow,
    table_fill: stub_table_fill,
    table_copy: stub_table_copy,
    table_init: stub_table_init,
    elem_drop: stub_elem_drop,
    call_indirect_target: stub_call_indirect_target,
    call_foreign: stub_call_foreign,
};

/// What a run left behind.
#[derive(Debug)]
struct Outcome {
    exit: Option<Exit>,
    gas_left: u64,
    output: Vec<u8>,
    memory: Vec<u8>,
    call_depth: u64,
    host: InMemoryHost,
}

const LOTS: u64 = 1_000_000;

const ME: Address = Address::from_low_u64(0xc0de);

fn run_full(module: &Module, gas: u64, input: Vec<u8>, limits: &Limits) -> Outcome {
    let program = Program::new(module);
    let msg = Message { gas_limit: gas, input, address: ME, ..Message::default() };
    let mut host = InMemoryHost::new();
    let (exit, gas_left, output, memory, call_depth) = {
        let vm = Vm::new(Tier::Interp, limits.clone());
        let mut frame = Frame::new(&msg, &[], &mut host, &vm, &FreeCosts, &HELPERS);
        let exit = interpreter::run(&program, &mut frame);
        (exit, frame.gas_left(), frame.output.clone(), frame.memory().to_vec(), frame.ctx.call_depth)
    };
    Outcome { exit, gas_left, output, memory, call_depth, host }
}

/// Runs `module` on the compiled tier too and checks that both tiers agree on everything observable.
fn run_both(module: &Module, gas: u64, input: Vec<u8>, limits: &Limits) -> Outcome {
    let interp = run_full(module, gas, input.clone(), limits);
    let code = cranelift::compile(module, &JitOptions::default()).expect("the compiled tier accepts the module");
    let msg = Message { gas_limit: gas, input, address: ME, ..Message::default() };
    let mut host = InMemoryHost::new();
    let vm = Vm::new(Tier::Interp, limits.clone());
    let mut frame = Frame::new(&msg, &[], &mut host, &vm, &FreeCosts, &compiled::HELPERS);
    let exit = compiled::run(&code, &mut frame);
    let what = format!("gas {gas}\n{}", zvm_ir::text::print(module));
    assert_eq!(interp.exit, exit, "exit: {what}");
    assert_eq!(interp.gas_left, frame.gas_left(), "gas left: {what}");
    assert_eq!(interp.output, frame.output, "output: {what}");
    assert_eq!(interp.memory, frame.memory(), "memory: {what}");
    interp
}

fn run(module: &Module, gas: u64) -> Outcome {
    run_full(module, gas, Vec::new(), &Limits::default())
}

fn entry(f: impl FnOnce(&mut FunctionBuilder<'_>)) -> Module {
    Module::single(build_function("main", Signature::default(), f))
}

fn w(x: u64) -> U256 {
    U256::from(x)
}

fn be_word(bytes: &[u8]) -> U256 {
    U256::from_be_slice(bytes)
}

const BE32: MemAccess = MemAccess { width: 32, signed: false, big_endian: true, offset: 0 };

fn i64c(b: &mut FunctionBuilder<'_>, x: u64) -> Value {
    b.iconst(Type::I64, x as i64)
}

/// `mem.expand 0, bytes`.
fn expand(b: &mut FunctionBuilder<'_>, bytes: u64) {
    let (o, l) = (b.wconst(U256::ZERO), b.wconst(w(bytes)));
    b.ins(Op::MemExpand { args: [o, l] });
}

/// Stores a word big-endian at the constant address `at`.
fn store_word(b: &mut FunctionBuilder<'_>, at: u64, value: Value) {
    let addr = i64c(b, at);
    b.ins(Op::Store { access: BE32, addr, value });
}

/// Halts returning memory `[0, len)`.
fn halt_return(b: &mut FunctionBuilder<'_>, len: u64) {
    let (o, l) = (i64c(b, 0), i64c(b, len));
    b.halt(HaltKind::Return, o, l);
}

/// Returns one word: expands memory, stores `v` at 0, halts with it.
fn return_word(b: &mut FunctionBuilder<'_>, v: Value) {
    expand(b, 32);
    store_word(b, 0, v);
    halt_return(b, 32);
}

/// Input word `k` as an opaque value of type `ty` (truncated), so that nothing about it folds at lowering.
fn input(b: &mut FunctionBuilder<'_>, k: u64, ty: Type) -> Value {
    let offset = b.wconst(w(32 * k));
    let v = b.ins1(Op::DataLoad { src: DataSrc::Input, arg: offset });
    if ty == Type::W256 {
        v
    } else {
        b.ins1(Op::Convert { op: ConvOp::Trunc, to: ty, arg: v })
    }
}

/// Call data of the given words.
fn words(values: &[U256]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes::<32>()).collect()
}

/// A narrow value zero-extended to a word (words pass through).
fn widen(b: &mut FunctionBuilder<'_>, v: Value) -> Value {
    if b.func().value_type(v) == Type::W256 {
        v
    } else {
        b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: v })
    }
}

/// Returns several words: expands memory, stores them in order, halts with them.
fn return_words(b: &mut FunctionBuilder<'_>, values: &[Value]) {
    let n = values.len() as u64;
    expand(b, 32 * n);
    for (k, &v) in values.iter().enumerate() {
        let v = widen(b, v);
        store_word(b, 32 * k as u64, v);
    }
    halt_return(b, 32 * n);
}

fn output_words(o: &Outcome) -> Vec<U256> {
    assert_eq!(o.exit, Some(Exit::Halt(HaltKind::Return)), "{o:?}");
    o.output.chunks(32).map(be_word).collect()
}

fn output_word(o: &Outcome) -> U256 {
    assert_eq!(o.exit, Some(Exit::Halt(HaltKind::Return)), "{o:?}");
    be_word(&o.output)
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A word biased towards interesting values: small numbers, near-limits, sign boundaries, random.
    fn word(&mut self) -> U256 {
        let min = U256::from(1u8) << 255;
        match self.next() % 8 {
            0 => w(self.next() % 300),
            1 => U256::MAX - w(self.next() % 4),
            2 => min + w(self.next() % 2),
            3 => U256::from_limbs([self.next(), 0, 0, 0]),
            4 => U256::ZERO,
            _ => U256::from_limbs([self.next(), self.next(), self.next(), self.next()]),
        }
    }
}

// ---- fibonacci ------------------------------------------------------------------------------------------

/// fib(n) by a loop with block parameters `(a, b, i)`, charging `gas_per_iter` per iteration with
/// `gas.block` (as the gas pass would). Returns F(n) mod 2^256 as output (n >= 1).
fn fib_module(n: u64, gas_per_iter: u64) -> Module {
    entry(|b| {
        let (a0, b0, i0) = (b.wconst(U256::ZERO), b.wconst(w(1)), i64c(b, 0));
        let body = b.create_block();
        let done = b.create_block();
        let pa = b.block_param(body, Type::W256);
        let pb = b.block_param(body, Type::W256);
        let pi = b.block_param(body, Type::I64);
        let result = b.block_param(done, Type::W256);
        b.jump(body, vec![a0, b0, i0]);

        b.switch_to_block(body);
        if gas_per_iter > 0 {
            b.ins(Op::GasBlock { amount: gas_per_iter });
        }
        let c = b.binary(BinOp::Add, pa, pb);
        let one = i64c(b, 1);
        let i2 = b.binary(BinOp::Add, pi, one);
        let limit = i64c(b, n);
        let more = b.binary(BinOp::LtU, i2, limit);
        b.ins(Op::Brif {
            cond: more,
            then_dest: BlockCall { block: body, args: vec![pb, c, i2] },
            else_dest: BlockCall { block: done, args: vec![pb] },
        });

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
fn fibonacci_loop_with_block_params() {
    for n in [1, 2, 3, 10, 100, 1000] {
        let o = run(&fib_module(n, 0), LOTS);
        assert_eq!(output_word(&o), fib_reference(n), "fib({n})");
    }
    assert_eq!(fib_reference(100), "354224848179261915075".parse::<U256>().unwrap());
}

#[test]
fn fibonacci_timing() {
    // Not an assertion on speed: prints the per-iteration time for the report/CI logs.
    let n: u64 = if cfg!(debug_assertions) { 100_000 } else { 10_000_000 };
    for gas in [0, 10] {
        let module = fib_module(n, gas);
        let program = Program::new(&module);
        let msg = Message { gas_limit: u64::MAX, ..Message::default() };
        let limits = Limits::default();
        let mut host = InMemoryHost::new();
        let vm = Vm::new(Tier::Interp, limits.clone());
        let mut frame = Frame::new(&msg, &[], &mut host, &vm, &FreeCosts, &HELPERS);
        let start = Instant::now();
        let exit = interpreter::run(&program, &mut frame);
        let elapsed = start.elapsed();
        assert_eq!(exit, Some(Exit::Halt(HaltKind::Return)));
        assert_eq!(be_word(&frame.output), fib_reference(n));
        println!(
            "fib loop (gas.block {gas}): {n} iterations in {elapsed:?}, {:.2} ns/iteration ({} instructions)",
            elapsed.as_nanos() as f64 / n as f64,
            program.code_len(),
        );
    }
}

// ---- arithmetic against `semantics` ---------------------------------------------------------------------

/// Applies every `w256` binary (and unary, ternary) operation to the operands read from the input, and
/// returns all results.
fn word_ops_module() -> Module {
    let binops: Vec<BinOp> = BinOp::ALL.into_iter().filter(|op| op.accepts(Type::W256)).collect();
    entry(move |b| {
        let (z, t, s) = (b.wconst(U256::ZERO), b.wconst(w(32)), b.wconst(w(64)));
        let x = b.ins1(Op::DataLoad { src: DataSrc::Input, arg: z });
        let y = b.ins1(Op::DataLoad { src: DataSrc::Input, arg: t });
        let n = b.ins1(Op::DataLoad { src: DataSrc::Input, arg: s });
        let mut results = Vec::new();
        for &op in &binops {
            results.push(b.binary(op, x, y));
        }
        for op in [UnOp::Not, UnOp::Eqz, UnOp::Clz] {
            results.push(b.ins1(Op::Unary { op, arg: x }));
        }
        for op in [TernOp::AddMod, TernOp::MulMod] {
            results.push(b.ins1(Op::Ternary { op, args: [x, y, n] }));
        }
        expand(b, 32 * results.len() as u64);
        for (k, &r) in results.iter().enumerate() {
            store_word(b, 32 * k as u64, r);
        }
        halt_return(b, 32 * results.len() as u64);
    })
}

#[test]
fn every_word_binop_matches_semantics() {
    let module = word_ops_module();
    let binops: Vec<BinOp> = BinOp::ALL.into_iter().filter(|op| op.accepts(Type::W256)).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let (x, y, n) = (rng.word(), rng.word(), rng.word());
        let mut input = Vec::new();
        for v in [x, y, n] {
            input.extend_from_slice(&v.to_be_bytes::<32>());
        }
        let o = run_full(&module, LOTS, input, &Limits::default());
        assert_eq!(o.exit, Some(Exit::Halt(HaltKind::Return)));
        let got: Vec<U256> = o.output.chunks(32).map(be_word).collect();
        let mut expected: Vec<U256> = binops.iter().map(|&op| semantics::word_binary(op, x, y)).collect();
        expected.extend([UnOp::Not, UnOp::Eqz, UnOp::Clz].map(|op| semantics::word_unary(op, x)));
        expected.extend([TernOp::AddMod, TernOp::MulMod].map(|op| semantics::word_ternary(op, x, y, n)));
        for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
            let what = binops.get(k).map_or_else(|| format!("op #{k}"), |op| format!("{op:?}"));
            assert_eq!(g, e, "{what} on {x:#x}, {y:#x}");
        }
        assert_eq!(got.len(), expected.len());
    }
}

/// Narrow integer operations, on operands from the input (executed) and on constants (folded at lowering):
/// both must agree with `semantics`.
#[test]
fn narrow_int_ops_match_semantics() {
    let mut rng = Rng(42);
    for ty in [Type::I32, Type::I64] {
        let binops: Vec<BinOp> = BinOp::ALL.into_iter().filter(|op| op.accepts(ty)).collect();
        for _ in 0..60 {
            let edge = [0u64, 1, 31, 32, 63, 64, 0x8000_0000, 0xffff_ffff, u64::MAX, 1 << 63];
            let pick = |r: &mut Rng| {
                let v =
                    if r.next().is_multiple_of(3) { edge[(r.next() % edge.len() as u64) as usize] } else { r.next() };
                semantics::wrap_int(ty, v)
            };
            let (x, y) = (pick(&mut rng), pick(&mut rng));
            let data = words(&[w(x), w(y)]);
            for &op in &binops {
                let expected = semantics::int_binary(op, ty, x, y);
                let module = entry(|b| {
                    let (a, c) = (input(b, 0, ty), input(b, 1, ty));
                    let executed = b.binary(op, a, c);
                    let (a, c) = (b.iconst(ty, x as i64), b.iconst(ty, y as i64));
                    let folded = b.binary(op, a, c);
                    return_words(b, &[executed, folded]);
                });
                let o = run_full(&module, LOTS, data.clone(), &Limits::default());
                match expected {
                    Ok(v) => assert_eq!(output_words(&o), [w(v), w(v)], "{op:?} {ty} {x:#x} {y:#x}"),
                    Err(code) => assert_eq!(o.exit, Some(Exit::Trap(code)), "{op:?} {ty} {x:#x} {y:#x}"),
                }
            }
            for op in [UnOp::Not, UnOp::Eqz, UnOp::Clz, UnOp::Ctz, UnOp::Popcnt] {
                let module = entry(|b| {
                    let a = input(b, 0, ty);
                    let executed = b.ins1(Op::Unary { op, arg: a });
                    let a = b.iconst(ty, x as i64);
                    let folded = b.ins1(Op::Unary { op, arg: a });
                    return_words(b, &[executed, folded]);
                });
                let o = run_full(&module, LOTS, data.clone(), &Limits::default());
                let expected = w(semantics::int_unary(op, ty, x));
                assert_eq!(output_words(&o), [expected, expected], "{op:?} {ty} {x:#x}");
            }
        }
    }
}

/// Word operations on constants fold at lowering; they must give what execution gives.
#[test]
fn folded_word_ops_match_executed_ones() {
    let binops: Vec<BinOp> = BinOp::ALL.into_iter().filter(|op| op.accepts(Type::W256)).collect();
    let mut rng = Rng(7);
    for _ in 0..20 {
        let (x, y, n) = (rng.word(), rng.word(), rng.word());
        let module = entry(|b| {
            let (xe, ye, ne) = (input(b, 0, Type::W256), input(b, 1, Type::W256), input(b, 2, Type::W256));
            let (xc, yc, nc) = (b.wconst(x), b.wconst(y), b.wconst(n));
            let mut results = Vec::new();
            for (a, c, m) in [(xe, ye, ne), (xc, yc, nc)] {
                for &op in &binops {
                    results.push(b.binary(op, a, c));
                }
                results.push(b.ins1(Op::Unary { op: UnOp::Clz, arg: a }));
                results.push(b.ins1(Op::Ternary { op: TernOp::MulMod, args: [a, c, m] }));
                let t = b.ins1(Op::Convert { op: ConvOp::Trunc, to: Type::I32, arg: a });
                results.push(b.ins1(Op::Convert { op: ConvOp::Sext, to: Type::W256, arg: t }));
                results.push(b.ins1(Op::Convert { op: ConvOp::SatU64, to: Type::I64, arg: c }));
                results.push(b.ins1(Op::Select { cond: m, args: [a, c] }));
            }
            return_words(b, &results);
        });
        let got = output_words(&run_full(&module, LOTS, words(&[x, y, n]), &Limits::default()));
        let (executed, folded) = got.split_at(got.len() / 2);
        assert_eq!(executed, folded, "{x:#x} {y:#x} {n:#x}");
    }
}

#[test]
fn i32_division_by_zero_traps() {
    for (op, x, y, code) in [
        (BinOp::DivU, 7, 0, TrapCode::IntegerDivByZero),
        (BinOp::DivS, 7, 0, TrapCode::IntegerDivByZero),
        (BinOp::RemU, 7, 0, TrapCode::IntegerDivByZero),
        (BinOp::RemS, 7, 0, TrapCode::IntegerDivByZero),
        (BinOp::DivS, i32::MIN as i64, -1, TrapCode::IntegerOverflow),
    ] {
        let module = entry(|b| {
            let (a, c) = (input(b, 0, Type::I32), input(b, 1, Type::I32));
            let r = b.binary(op, a, c);
            return_words(b, &[r]);
        });
        let data = words(&[w(x as u32 as u64), w(y as u32 as u64)]);
        assert_eq!(run_full(&module, LOTS, data, &Limits::default()).exit, Some(Exit::Trap(code)), "{op:?}");
        // The same on constants: a trapping operation does not fold away.
        let module = entry(|b| {
            let (a, c) = (b.iconst(Type::I32, x), b.iconst(Type::I32, y));
            let r = b.binary(op, a, c);
            return_words(b, &[r]);
        });
        assert_eq!(run(&module, LOTS).exit, Some(Exit::Trap(code)), "{op:?} (constants)");
        // ... and a trapping operation whose result is unused still runs.
        let module = entry(|b| {
            let (a, c) = (input(b, 0, Type::I32), input(b, 1, Type::I32));
            b.binary(op, a, c);
            halt_return(b, 0);
        });
        let data = words(&[w(x as u32 as u64), w(y as u32 as u64)]);
        assert_eq!(run_full(&module, LOTS, data, &Limits::default()).exit, Some(Exit::Trap(code)), "{op:?} (unused)");
    }
    // ... while w256 division by zero is 0.
    let module = entry(|b| {
        let (a, c) = (input(b, 0, Type::W256), input(b, 1, Type::W256));
        let r = b.binary(BinOp::DivU, a, c);
        return_word(b, r);
    });
    assert_eq!(output_word(&run_full(&module, LOTS, words(&[w(7), U256::ZERO]), &Limits::default())), U256::ZERO);
}

#[test]
fn conversions_and_select() {
    let cases: Vec<(Type, i64, ConvOp, Type, U256)> = vec![
        (Type::I32, -1, ConvOp::Sext, Type::W256, U256::MAX),
        (Type::I32, -1, ConvOp::Zext, Type::W256, w(0xffff_ffff)),
        (Type::I32, -2, ConvOp::Sext, Type::I64, w(-2i64 as u64)),
        (Type::I32, 5, ConvOp::Sext, Type::I64, w(5)),
        (Type::I32, -2, ConvOp::Zext, Type::I64, w(0xffff_fffe)),
        (Type::I64, -3, ConvOp::Sext, Type::W256, U256::MAX - w(2)),
        (Type::I64, 0x1_2345_6789, ConvOp::Trunc, Type::I32, w(0x2345_6789)),
        (Type::I64, -1, ConvOp::Zext, Type::W256, w(u64::MAX)),
    ];
    for (from, imm, op, to, expected) in cases {
        let module = entry(|b| {
            let a = input(b, 0, from);
            let executed = b.ins1(Op::Convert { op, to, arg: a });
            let a = b.iconst(from, imm);
            let folded = b.ins1(Op::Convert { op, to, arg: a });
            return_words(b, &[executed, folded]);
        });
        let data = words(&[w(semantics::wrap_int(from, imm as u64))]);
        let got = output_words(&run_full(&module, LOTS, data, &Limits::default()));
        assert_eq!(got, [expected, expected], "{op:?} {from} -> {to}");
    }
    // Truncating a word to i32 / i64 keeps its low bits.
    let x = U256::from_limbs([0x1122_3344_5566_7788, 9, 9, 9]);
    let module = entry(|b| {
        let a = input(b, 0, Type::W256);
        let t32 = b.ins1(Op::Convert { op: ConvOp::Trunc, to: Type::I32, arg: a });
        let t64 = b.ins1(Op::Convert { op: ConvOp::Trunc, to: Type::I64, arg: a });
        return_words(b, &[t32, t64]);
    });
    let got = output_words(&run_full(&module, LOTS, words(&[x]), &Limits::default()));
    assert_eq!(got, [w(0x5566_7788), w(0x1122_3344_5566_7788)]);
    for (x, expected) in [(w(5), w(5)), (U256::MAX, w(u64::MAX)), (U256::from(1u8) << 64, w(u64::MAX))] {
        let module = entry(|b| {
            let a = input(b, 0, Type::W256);
            let r = b.ins1(Op::Convert { op: ConvOp::SatU64, to: Type::I64, arg: a });
            return_words(b, &[r]);
        });
        assert_eq!(
            output_words(&run_full(&module, LOTS, words(&[x]), &Limits::default())),
            [expected],
            "satu64 {x:#x}"
        );
    }
    for (cond, cond_ty) in [(0u64, Type::I32), (1, Type::I32), (2, Type::I64), (u64::MAX, Type::I64)]
        .into_iter()
        .chain([(0, Type::W256), (1, Type::W256)])
    {
        let module = entry(|b| {
            let c = input(b, 0, cond_ty);
            let (x, y) = (input(b, 1, Type::W256), input(b, 2, Type::W256));
            let r = b.ins1(Op::Select { cond: c, args: [x, y] });
            let (x, y) = (input(b, 1, Type::I64), input(b, 2, Type::I64));
            let r64 = b.ins1(Op::Select { cond: c, args: [x, y] });
            return_words(b, &[r, r64]);
        });
        let data = words(&[w(cond), w(11), w(22)]);
        let expected = if cond != 0 { w(11) } else { w(22) };
        assert_eq!(output_words(&run_full(&module, LOTS, data, &Limits::default())), [expected, expected]);
    }
    // A word condition whose only non-zero bits are high is true.
    let module = entry(|b| {
        let c = input(b, 0, Type::W256);
        let (x, y) = (b.wconst(w(11)), b.wconst(w(22)));
        let r = b.ins1(Op::Select { cond: c, args: [x, y] });
        let then_block = b.create_block();
        let else_block = b.create_block();
        b.brif(c, then_block, else_block);
        b.switch_to_block(then_block);
        return_words(b, &[r]);
        b.switch_to_block(else_block);
        b.trap(TrapCode::Unreachable);
    });
    let high = U256::from(1u8) << 200;
    assert_eq!(output_words(&run_full(&module, LOTS, words(&[high]), &Limits::default())), [w(11)]);
}

// ---- memory ---------------------------------------------------------------------------------------------

#[test]
fn memory_expand_and_word_round_trip() {
    let value = U256::from_limbs([1, 2, 3, 0x8000_0000_0000_0004]);
    let module = entry(|b| {
        let (o, l) = (b.wconst(w(10)), b.wconst(w(40)));
        b.ins(Op::MemExpand { args: [o, l] }); // end 50 -> 64 bytes, 2 words
        let v = b.wconst(value);
        let addr = i64c(b, 17);
        b.ins(Op::Store { access: BE32, addr, value: v });
        let back = b.ins1(Op::Load { ty: Type::W256, access: BE32, addr });
        let le = MemAccess { big_endian: false, ..BE32 };
        let back_le = b.ins1(Op::Load { ty: Type::W256, access: le, addr });
        let size = b.ins1(Op::MemSize);
        let size = b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: size });
        let (o, l) = (b.wconst(U256::ZERO), b.wconst(w(96)));
        b.ins(Op::MemExpand { args: [o, l] });
        store_word(b, 0, back);
        store_word(b, 32, back_le);
        store_word(b, 64, size);
        halt_return(b, 96);
    });
    let o = run(&module, 1000);
    assert_eq!(o.exit, Some(Exit::Halt(HaltKind::Return)));
    assert_eq!(be_word(&o.output[..32]), value);
    let mut swapped = value.to_be_bytes::<32>();
    swapped.reverse();
    assert_eq!(be_word(&o.output[32..64]), be_word(&swapped));
    assert_eq!(be_word(&o.output[64..]), w(64));
    // Expansion gas: 2 words (6), then 3 words (9 - 6).
    assert_eq!(o.gas_left, 1000 - 9);
    assert_eq!(o.memory.len(), 96);
}

#[test]
fn big_and_little_endian_narrow_accesses() {
    // Memory starts with 01 02 03 04 05 06 07 08 f0 ...
    let pattern = be_word(&[
        1, 2, 3, 4, 5, 6, 7, 8, 0xf0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    let loads: Vec<(Type, u8, bool, bool, U256)> = vec![
        (Type::I32, 4, false, true, w(0x0102_0304)),
        (Type::I32, 4, false, false, w(0x0403_0201)),
        (Type::I64, 8, false, true, w(0x0102_0304_0506_0708)),
        (Type::I64, 8, false, false, w(0x0807_0605_0403_0201)),
        (Type::I32, 2, false, true, w(0x0102)),
        (Type::I32, 2, false, false, w(0x0201)),
        (Type::W256, 32, false, false, {
            let mut b = pattern.to_be_bytes::<32>();
            b.reverse();
            be_word(&b)
        }),
    ];
    for (ty, width, signed, big_endian, expected) in loads {
        let module = entry(|b| {
            expand(b, 32);
            let p = b.wconst(pattern);
            store_word(b, 0, p);
            let addr = i64c(b, 0);
            let access = MemAccess { width, signed, big_endian, offset: 0 };
            let r = b.ins1(Op::Load { ty, access, addr });
            let r = if ty == Type::W256 { r } else { b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: r }) };
            store_word(b, 0, r);
            halt_return(b, 32);
        });
        assert_eq!(output_word(&run(&module, 100)), expected, "{ty} width {width} be {big_endian}");
    }
    // Sign extension of narrow loads, through the access offset: byte 8 is 0xf0, bytes 8..10 are f0 80.
    let signed: Vec<(Type, u8, bool, U256)> = vec![
        (Type::I32, 1, true, w(0xffff_fff0)),
        (Type::I64, 1, true, w(0xffff_ffff_ffff_fff0)),
        (Type::I32, 1, false, w(0xf0)),
        (Type::I32, 2, true, w(0xffff_f080)),
        (Type::I64, 2, false, w(0x80f0)),
        (Type::W256, 1, true, U256::MAX - w(0x0f)),
        (Type::W256, 1, false, w(0xf0)),
    ];
    for (ty, width, sign, expected) in signed {
        let big_endian = ty != Type::I64 || sign;
        let module = entry(|b| {
            expand(b, 32);
            let p = b.wconst(pattern);
            store_word(b, 0, p);
            let addr = i64c(b, 5);
            let access = MemAccess { width, signed: sign, big_endian, offset: 3 };
            let r = b.ins1(Op::Load { ty, access, addr });
            let r = if ty == Type::W256 { r } else { b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: r }) };
            store_word(b, 0, r);
            halt_return(b, 32);
        });
        assert_eq!(output_word(&run(&module, 100)), expected, "{ty} width {width} signed {sign}");
    }
    // Narrow stores write the low bytes, most significant first when big-endian.
    let module = entry(|b| {
        expand(b, 32);
        let v = b.iconst(Type::I64, 0x1122_3344_5566_7788);
        let x = b.wconst(w(0xaabb));
        let (a0, a8, a16, a20) = (i64c(b, 0), i64c(b, 8), i64c(b, 16), i64c(b, 20));
        b.ins(Op::Store {
            access: MemAccess { width: 8, signed: false, big_endian: true, offset: 0 },
            addr: a0,
            value: v,
        });
        b.ins(Op::Store {
            access: MemAccess { width: 4, signed: false, big_endian: false, offset: 0 },
            addr: a8,
            value: v,
        });
        b.ins(Op::Store {
            access: MemAccess { width: 1, signed: false, big_endian: true, offset: 0 },
            addr: a16,
            value: x,
        });
        b.ins(Op::Store {
            access: MemAccess { width: 2, signed: false, big_endian: true, offset: 0 },
            addr: a20,
            value: v,
        });
        halt_return(b, 24);
    });
    let o = run(&module, 100);
    assert_eq!(o.exit, Some(Exit::Halt(HaltKind::Return)));
    assert_eq!(
        o.output,
        [
            0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x88, 0x77, 0x66, 0x55, 0, 0, 0, 0, 0xbb, 0, 0, 0, 0x77,
            0x88, 0, 0
        ]
    );
}

#[test]
fn out_of_bounds_accesses_trap() {
    let oob = Some(Exit::Trap(TrapCode::MemoryOutOfBounds));
    for (addr, offset, width) in [(1u64, 0u32, 32u8), (0, 1, 32), (31, 0, 2), (u64::MAX, 1, 1), (u64::MAX - 1, 0, 4)] {
        let ty = if width == 32 { Type::W256 } else { Type::I64 };
        let module = entry(|b| {
            expand(b, 32);
            let a = i64c(b, addr);
            let access = MemAccess { width, signed: false, big_endian: true, offset };
            let r = b.ins1(Op::Load { ty, access, addr: a });
            let _ = r;
            halt_return(b, 0);
        });
        assert_eq!(run(&module, 100).exit, oob, "load {addr}+{offset} width {width}");
        let module = entry(|b| {
            expand(b, 32);
            let a = i64c(b, addr);
            let v = if width == 32 { b.wconst(w(1)) } else { i64c(b, 1) };
            b.ins(Op::Store {
                access: MemAccess { width, signed: false, big_endian: true, offset },
                addr: a,
                value: v,
            });
            halt_return(b, 0);
        });
        assert_eq!(run(&module, 100).exit, oob, "store {addr}+{offset} width {width}");
    }
    // The last in-bounds word is fine; no memory at all traps.
    let module = entry(|b| {
        expand(b, 64);
        let a = i64c(b, 32);
        b.ins1(Op::Load { ty: Type::W256, access: BE32, addr: a });
        halt_return(b, 0);
    });
    assert_eq!(run(&module, 100).exit, Some(Exit::Halt(HaltKind::Return)));
    let module = entry(|b| {
        let a = i64c(b, 0);
        b.ins1(Op::Load { ty: Type::W256, access: BE32, addr: a });
        halt_return(b, 0);
    });
    assert_eq!(run(&module, 100).exit, oob);
}

// ---- gas ------------------------------------------------------------------------------------------------

/// A loop of `iters` iterations; each records `gas.left 0` into memory slot i (8 bytes) and then costs
/// `gas.cost 3` + `gas.cost 4`. The entry costs `gas.cost 5` before memory expansion (8 * iters bytes).
fn gas_loop(iters: u64) -> Module {
    entry(|b| {
        b.ins(Op::GasCost { amount: 5 });
        expand(b, 8 * iters);
        let zero = i64c(b, 0);
        let body = b.create_block();
        let exit = b.create_block();
        let i = b.block_param(body, Type::I64);
        b.jump(body, vec![zero]);

        b.switch_to_block(body);
        let left = b.ins1(Op::GasLeft);
        let eight = i64c(b, 8);
        let addr = b.binary(BinOp::Mul, i, eight);
        let access = MemAccess { width: 8, signed: false, big_endian: true, offset: 0 };
        b.ins(Op::Store { access, addr, value: left });
        b.ins(Op::GasCost { amount: 3 });
        b.ins(Op::GasCost { amount: 4 });
        let one = i64c(b, 1);
        let next = b.binary(BinOp::Add, i, one);
        let n = i64c(b, iters);
        let more = b.binary(BinOp::LtU, next, n);
        b.ins(Op::Brif {
            cond: more,
            then_dest: BlockCall { block: body, args: vec![next] },
            else_dest: BlockCall::new(exit),
        });

        b.switch_to_block(exit);
        halt_return(b, 8 * iters);
    })
}

#[test]
fn per_operation_gas_runs_out_at_the_exact_point() {
    let iters = 10u64;
    let expansion = semantics::memory_cost((8 * iters).div_ceil(32));
    let start = 5 + expansion;
    // Enough gas: slot i holds the gas left at the start of iteration i.
    let limit = 1000;
    let o = run(&gas_loop(iters), limit);
    assert_eq!(o.exit, Some(Exit::Halt(HaltKind::Return)));
    for (i, chunk) in o.output.chunks(8).enumerate() {
        let left = u64::from_be_bytes(chunk.try_into().unwrap());
        assert_eq!(left, limit - start - 7 * i as u64, "iteration {i}");
    }
    assert_eq!(o.gas_left, limit - start - 7 * iters);

    // Run out in iteration k: after `gas.cost 3` (leaving 1) or exactly at `gas.cost 4`.
    for k in 0..iters {
        for extra in [0u64, 3, 6] {
            let limit = start + 7 * k + extra;
            let o = run(&gas_loop(iters), limit);
            assert_eq!(o.exit, Some(Exit::OutOfGas), "k={k} extra={extra}");
            // A failed charge takes nothing: what was left before it stays.
            assert_eq!(o.gas_left, if extra >= 3 { extra - 3 } else { extra }, "k={k} extra={extra}");
            // Iterations 0..=k recorded their gas.
            for i in 0..=k {
                let left = u64::from_be_bytes(o.memory[8 * i as usize..][..8].try_into().unwrap());
                assert_eq!(left, limit - start - 7 * i, "k={k} i={i}");
            }
            assert!(o.memory[8 * (k as usize + 1)..].iter().all(|&b| b == 0));
        }
    }
    // Exactly enough gas succeeds with nothing left.
    assert_eq!(run(&gas_loop(iters), start + 7 * iters).gas_left, 0);
    // Not even the entry's cost.
    assert_eq!(run(&gas_loop(iters), 4).exit, Some(Exit::OutOfGas));
}

#[test]
fn gas_charge_block_and_left() {
    let module = entry(|b| {
        b.ins(Op::GasBlock { amount: 100 });
        let a = b.ins1(Op::GasLeft);
        let amount = i64c(b, 50);
        b.ins(Op::GasCharge { arg: amount });
        let e = b.ins1(Op::GasLeft);
        expand(b, 64); // 2 words: 6 gas
        for (k, v) in [a, e].into_iter().enumerate() {
            let v = b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: v });
            store_word(b, 32 * k as u64, v);
        }
        halt_return(b, 64);
    });
    let o = run(&module, 1000);
    let got: Vec<U256> = o.output.chunks(32).map(be_word).collect();
    assert_eq!(got, vec![w(900), w(850)]);
    assert_eq!(o.gas_left, 850 - 6);
    // gas.charge of more than is left runs out, leaving the counter alone.
    let module = entry(|b| {
        let amount = i64c(b, u64::MAX);
        b.ins(Op::GasCharge { arg: amount });
        halt_return(b, 0);
    });
    let o = run(&module, 77);
    assert_eq!((o.exit, o.gas_left), (Some(Exit::OutOfGas), 77));
}

// ---- operand stack --------------------------------------------------------------------------------------

#[test]
fn operand_stack_ops() {
    let module = entry(|b| {
        b.ins(Op::StackCheck { min: 0, growth: 3 });
        b.ins(Op::StackAdjust { delta: 3 });
        let (x, y, z) = (b.wconst(w(7)), b.wconst(w(9)), b.wconst(w(100)));
        b.ins(Op::StackSet { depth: 0, value: x });
        b.ins(Op::StackSet { depth: 1, value: y });
        b.ins(Op::StackSet { depth: 2, value: z });
        b.ins(Op::StackCheck { min: 3, growth: 0 });
        let top = b.ins1(Op::StackGet { depth: 0 });
        let second = b.ins1(Op::StackGet { depth: 1 });
        let diff = b.binary(BinOp::Sub, top, second); // 7 - 9
        b.ins(Op::StackAdjust { delta: -1 });
        let new_top = b.ins1(Op::StackGet { depth: 0 }); // 9
        let r = b.binary(BinOp::Mul, diff, new_top);
        return_word(b, r);
    });
    assert_eq!(output_word(&run(&module, LOTS)), w(18).wrapping_neg());

    let underflow = entry(|b| {
        b.ins(Op::StackCheck { min: 0, growth: 2 });
        b.ins(Op::StackAdjust { delta: 2 });
        b.ins(Op::StackCheck { min: 3, growth: 0 });
        halt_return(b, 0);
    });
    assert_eq!(run(&underflow, LOTS).exit, Some(Exit::Trap(TrapCode::StackUnderflow)));

    // Fill the stack to its limit with a loop; one more item overflows.
    for (items, expected) in [(1024u64, Exit::Halt(HaltKind::Return)), (1025, Exit::Trap(TrapCode::StackOverflow))] {
        let module = entry(|b| {
            let zero = i64c(b, 0);
            let body = b.create_block();
            let done = b.create_block();
            let i = b.block_param(body, Type::I64);
            b.jump(body, vec![zero]);
            b.switch_to_block(body);
            b.ins(Op::StackCheck { min: 0, growth: 1 });
            b.ins(Op::StackAdjust { delta: 1 });
            let v = b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: i });
            b.ins(Op::StackSet { depth: 0, value: v });
            let one = i64c(b, 1);
            let next = b.binary(BinOp::Add, i, one);
            let n = i64c(b, items);
            let more = b.binary(BinOp::LtU, next, n);
            b.ins(Op::Brif {
                cond: more,
                then_dest: BlockCall { block: body, args: vec![next] },
                else_dest: BlockCall::new(done),
            });
            b.switch_to_block(done);
            let bottom = b.ins1(Op::StackGet { depth: 1023 });
            return_word(b, bottom);
        });
        let o = run(&module, LOTS);
        assert_eq!(o.exit, Some(expected), "{items} items");
        if items == 1024 {
            assert_eq!(be_word(&o.output), U256::ZERO);
        }
    }
}

// ---- halting, traps, control flow -----------------------------------------------------------------------

#[test]
fn halt_with_data_and_traps() {
    let module = entry(|b| {
        expand(b, 64);
        let v = b.wconst(w(0xdead_beef));
        store_word(b, 32, v);
        let (o, l) = (i64c(b, 60), i64c(b, 4));
        b.halt(HaltKind::Revert, o, l);
    });
    let o = run(&module, 100);
    assert_eq!(o.exit, Some(Exit::Halt(HaltKind::Revert)));
    assert_eq!(o.output, [0xde, 0xad, 0xbe, 0xef]);

    // Halting with a range outside memory traps; an empty range never does.
    let module = entry(|b| {
        let (o, l) = (i64c(b, 0), i64c(b, 1));
        b.halt(HaltKind::Return, o, l);
    });
    assert_eq!(run(&module, LOTS).exit, Some(Exit::Trap(TrapCode::MemoryOutOfBounds)));
    let module = entry(|b| {
        let (o, l) = (i64c(b, u64::MAX), i64c(b, 0));
        b.halt(HaltKind::Return, o, l);
    });
    let o = run(&module, LOTS);
    assert_eq!((o.exit, o.output.len()), (Some(Exit::Halt(HaltKind::Return)), 0));

    for code in TrapCode::ALL {
        let module = entry(|b| b.trap(code));
        assert_eq!(run(&module, LOTS).exit, Some(Exit::Trap(code)));
    }

    // Returning from the entry function ends with `None`.
    let module = entry(|b| {
        b.ins(Op::Return { args: vec![] });
    });
    assert_eq!(run(&module, LOTS).exit, None);
}

#[test]
fn switch_selects_cases_and_default() {
    let module_for = |index: u64| {
        entry(|b| {
            let idx = i64c(b, index);
            let blocks: Vec<_> = (0..4).map(|_| b.create_block()).collect();
            let default = b.create_block();
            b.ins(Op::Switch {
                index: idx,
                cases: vec![(30, blocks[0]), (10, blocks[1]), (u64::MAX, blocks[2]), (10, blocks[3])],
                default,
            });
            for (k, &blk) in blocks.iter().chain([&default]).enumerate() {
                b.switch_to_block(blk);
                let v = b.wconst(w(k as u64));
                return_word(b, v);
            }
        })
    };
    for (index, expected) in [(30, 0), (10, 1), (u64::MAX, 2), (0, 4), (11, 4)] {
        assert_eq!(output_word(&run(&module_for(index), LOTS)), w(expected), "switch {index}");
    }
}

#[test]
fn block_arguments_are_parallel_copies() {
    // Rotates (a, b, c) -> (b, c, a) and swaps (x, y) each iteration, 7 times; also passes a value to two
    // parameters at once.
    let module = entry(|b| {
        let init: Vec<Value> = (1..=5).map(|k| b.wconst(w(k))).collect();
        let n0 = i64c(b, 0);
        let body = b.create_block();
        let done = b.create_block();
        let p: Vec<Value> = (0..5).map(|_| b.block_param(body, Type::W256)).collect();
        let i = b.block_param(body, Type::I64);
        let q: Vec<Value> = (0..6).map(|_| b.block_param(done, Type::W256)).collect();
        let mut args = init.clone();
        args.push(n0);
        b.jump(body, args);

        b.switch_to_block(body);
        let one = i64c(b, 1);
        let next = b.binary(BinOp::Add, i, one);
        let seven = i64c(b, 7);
        let more = b.binary(BinOp::LtU, next, seven);
        b.ins(Op::Brif {
            cond: more,
            then_dest: BlockCall { block: body, args: vec![p[1], p[2], p[0], p[4], p[3], next] },
            else_dest: BlockCall { block: done, args: vec![p[4], p[3], p[2], p[1], p[0], p[0]] },
        });

        b.switch_to_block(done);
        expand(b, 32 * 6);
        for (k, &v) in q.iter().enumerate() {
            store_word(b, 32 * k as u64, v);
        }
        halt_return(b, 32 * 6);
    });
    let o = run(&module, LOTS);
    assert_eq!(o.exit, Some(Exit::Halt(HaltKind::Return)));
    let got: Vec<U256> = o.output.chunks(32).map(be_word).collect();
    // Simulate: 6 rotations/swaps happen before the 7th iteration leaves.
    let mut s = [1u64, 2, 3, 4, 5];
    for _ in 0..6 {
        s = [s[1], s[2], s[0], s[4], s[3]];
    }
    let expected: Vec<U256> = [s[4], s[3], s[2], s[1], s[0], s[0]].into_iter().map(w).collect();
    assert_eq!(got, expected);
}

#[test]
fn host_calls_reach_the_host() {
    let module = entry(|b| {
        let (k, v) = (b.wconst(w(1)), b.wconst(w(42)));
        b.host_call(HostFn::SStore, vec![k, v]);
        let r = b.host_call(HostFn::SLoad, vec![k])[0];
        let addr = b.host_call(HostFn::Env(zvm_ir::EnvField::Address), vec![])[0];
        let sum = b.binary(BinOp::Add, r, addr);
        expand(b, 32);
        store_word(b, 0, sum);
        let (o, l) = (i64c(b, 0), i64c(b, 32));
        b.host_call(HostFn::Log(1), vec![o, l, k]);
        halt_return(b, 32);
    });
    let o = run(&module, 100);
    assert_eq!(output_word(&o), w(42) + ME.to_word());
    assert_eq!(o.host.storage(ME, w(1)), w(42));
}

// ---- calls ----------------------------------------------------------------------------------------------

/// fn0 (entry) computes `fact(n)` and returns it; fn1 is `fact(n: w256) -> w256`, recursive.
fn factorial_module(n: u64) -> Module {
    let sig = Signature { params: vec![Type::W256], results: vec![Type::W256] };
    let callees = |f: FuncId| (f.0 == 1).then(|| vec![Type::W256]);
    let mut fact = Function::new("fact", sig);
    {
        let mut b = FunctionBuilder::with_callees(&mut fact, &callees);
        let x = b.params()[0];
        let base = b.create_block();
        let rec = b.create_block();
        let zero = b.wconst(U256::ZERO);
        let is_zero = b.binary(BinOp::Eq, x, zero);
        b.brif(is_zero, base, rec);
        b.switch_to_block(base);
        let one = b.wconst(w(1));
        b.ins(Op::Return { args: vec![one] });
        b.switch_to_block(rec);
        let one = b.wconst(w(1));
        let m = b.binary(BinOp::Sub, x, one);
        let inst = b.ins(Op::Call { func: FuncId(1), args: vec![m] });
        let sub = b.results(inst)[0];
        let r = b.binary(BinOp::Mul, x, sub);
        b.ins(Op::Return { args: vec![r] });
    }
    let mut main = Function::new("main", Signature::default());
    {
        let mut b = FunctionBuilder::with_callees(&mut main, &callees);
        let arg = b.wconst(w(n));
        let inst = b.ins(Op::Call { func: FuncId(1), args: vec![arg] });
        let r = b.results(inst)[0];
        return_word(&mut b, r);
    }
    Module::new(vec![main, fact], FuncId(0))
}

#[test]
fn recursive_factorial() {
    for n in [0u64, 1, 5, 20, 100] {
        let mut expected = U256::from(1u8);
        for k in 1..=n {
            expected = expected.wrapping_mul(w(k));
        }
        let o = run(&factorial_module(n), LOTS);
        assert_eq!(output_word(&o), expected, "{n}!");
    }
}

/// fn0 calls `depth(n)` and returns it; fn1 is `depth(n: i64) -> i64 = n == 0 ? 0 : 1 + depth(n - 1)`,
/// which makes n + 1 nested calls in total (counting the entry's).
fn depth_module(n: u64) -> Module {
    let sig = Signature { params: vec![Type::I64], results: vec![Type::I64] };
    let callees = |f: FuncId| (f.0 == 1).then(|| vec![Type::I64]);
    let mut depth = Function::new("depth", sig);
    {
        let mut b = FunctionBuilder::with_callees(&mut depth, &callees);
        let x = b.params()[0];
        let base = b.create_block();
        let rec = b.create_block();
        b.brif(x, rec, base);
        b.switch_to_block(base);
        let zero = i64c(&mut b, 0);
        b.ins(Op::Return { args: vec![zero] });
        b.switch_to_block(rec);
        let one = i64c(&mut b, 1);
        let m = b.binary(BinOp::Sub, x, one);
        let inst = b.ins(Op::Call { func: FuncId(1), args: vec![m] });
        let sub = b.results(inst)[0];
        let r = b.binary(BinOp::Add, sub, one);
        b.ins(Op::Return { args: vec![r] });
    }
    let mut main = Function::new("main", Signature::default());
    {
        let mut b = FunctionBuilder::with_callees(&mut main, &callees);
        let arg = i64c(&mut b, n);
        let inst = b.ins(Op::Call { func: FuncId(1), args: vec![arg] });
        let r = b.results(inst)[0];
        let r = b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: r });
        return_word(&mut b, r);
    }
    Module::new(vec![main, depth], FuncId(0))
}

#[test]
fn calls_with_several_results() {
    // fn1(a: w256, b: i64) -> (i64, w256, w256) = (b, a, a + 1); fn0 ignores the last result.
    let sig = Signature { params: vec![Type::W256, Type::I64], results: vec![Type::I64, Type::W256, Type::W256] };
    let callees = |f: FuncId| (f.0 == 1).then(|| vec![Type::I64, Type::W256, Type::W256]);
    let mut callee = Function::new("swap", sig);
    {
        let mut b = FunctionBuilder::with_callees(&mut callee, &callees);
        let (a, x) = (b.params()[0], b.params()[1]);
        let one = b.wconst(w(1));
        let a1 = b.binary(BinOp::Add, a, one);
        b.ins(Op::Return { args: vec![x, a, a1] });
    }
    let mut main = Function::new("main", Signature::default());
    {
        let mut b = FunctionBuilder::with_callees(&mut main, &callees);
        let a = input(&mut b, 0, Type::W256);
        let x = input(&mut b, 1, Type::I64);
        let inst = b.ins(Op::Call { func: FuncId(1), args: vec![a, x] });
        let r = b.results(inst).to_vec();
        // Call it again with the results fed back in.
        let inst = b.ins(Op::Call { func: FuncId(1), args: vec![r[1], r[0]] });
        let s = b.results(inst).to_vec();
        return_words(&mut b, &[r[0], r[1], s[0], s[2]]);
    }
    let module = Module::new(vec![main, callee], FuncId(0));
    let o = run_full(&module, LOTS, words(&[w(5), w(9)]), &Limits::default());
    assert_eq!(output_words(&o), [w(9), w(5), w(9), w(6)]);
    assert_eq!(o.call_depth, 0);
}

#[test]
fn call_depth_limit_is_exact() {
    let limits = Limits { max_call_depth: 16, ..Limits::default() };
    let o = run_full(&depth_module(15), LOTS, Vec::new(), &limits);
    assert_eq!(output_word(&o), w(15));
    let o = run_full(&depth_module(16), LOTS, Vec::new(), &limits);
    assert_eq!(o.exit, Some(Exit::Trap(TrapCode::CallStackExhausted)));
    // A call that returns restores the depth.
    let o = run_full(&depth_module(3), LOTS, Vec::new(), &limits);
    assert_eq!(o.call_depth, 0);
}

#[test]
fn deep_recursion_does_not_use_the_native_stack() {
    let limits = Limits { max_call_depth: 100_000, ..Limits::default() };
    let o = run_full(&depth_module(99_999), LOTS, Vec::new(), &limits);
    assert_eq!(output_word(&o), w(99_999));
    let o = run_full(&depth_module(100_000), LOTS, Vec::new(), &limits);
    assert_eq!(o.exit, Some(Exit::Trap(TrapCode::CallStackExhausted)));
}

#[test]
fn programs_are_reusable() {
    let module = fib_module(50, 1);
    let program = Program::new(&module);
    for _ in 0..3 {
        let msg = Message { gas_limit: 100, ..Message::default() };
        let limits = Limits::default();
        let mut host = InMemoryHost::new();
        let vm = Vm::new(Tier::Interp, limits.clone());
        let mut frame = Frame::new(&msg, &[], &mut host, &vm, &FreeCosts, &HELPERS);
        assert_eq!(interpreter::run(&program, &mut frame), Some(Exit::Halt(HaltKind::Return)));
        assert_eq!(be_word(&frame.output), fib_reference(50));
        assert_eq!(frame.gas_left(), 100 - 50 - 3);
    }
}

// ---- agreement with the compiled tier -------------------------------------------------------------------

/// Every `i32`/`i64` operation on two input operands, in one module (division by zero traps in both tiers).
fn narrow_ops_module(ty: Type) -> Module {
    entry(|b| {
        let (x, y) = (input(b, 0, ty), input(b, 1, ty));
        let mut results = Vec::new();
        for op in BinOp::ALL.into_iter().filter(|op| op.accepts(ty)) {
            results.push(b.binary(op, x, y));
        }
        for op in [UnOp::Not, UnOp::Eqz, UnOp::Clz, UnOp::Ctz, UnOp::Popcnt] {
            results.push(b.ins1(Op::Unary { op, arg: x }));
        }
        results.push(b.ins1(Op::Convert { op: ConvOp::Sext, to: Type::W256, arg: x }));
        return_words(b, &results);
    })
}

#[test]
fn tiers_agree() {
    let limits = Limits::default();
    let mut rng = Rng(0x5eed);
    let word_ops = word_ops_module();
    for _ in 0..40 {
        let input = words(&[rng.word(), rng.word(), rng.word()]);
        run_both(&word_ops, LOTS, input, &limits);
    }
    for ty in [Type::I32, Type::I64] {
        let module = narrow_ops_module(ty);
        for _ in 0..40 {
            let pick = |r: &mut Rng| match r.next() % 4 {
                0 => w(r.next() % 3),
                1 => w(u64::MAX),
                2 => w(0x8000_0000),
                _ => w(r.next()),
            };
            let input = words(&[pick(&mut rng), pick(&mut rng)]);
            run_both(&module, LOTS, input, &limits);
        }
    }
    // Gas: every limit around the interesting points of a metered loop.
    let gas_module = gas_loop(6);
    for gas in 0..80 {
        run_both(&gas_module, gas, Vec::new(), &limits);
    }
    let fib = fib_module(30, 7);
    for gas in [0, 3, 100, 213, 214, 215, 216, 300] {
        run_both(&fib, gas, Vec::new(), &limits);
    }
    run_both(&fib_module(1000, 0), LOTS, Vec::new(), &limits);
    run_both(&factorial_module(30), LOTS, Vec::new(), &limits);
    let small = Limits { max_call_depth: 16, ..Limits::default() };
    for n in [0, 15, 16, 17] {
        run_both(&depth_module(n), LOTS, Vec::new(), &small);
    }
    // Memory bounds, both byte orders.
    for (addr, offset, width, big_endian) in
        [(0u64, 0u32, 8u8, true), (0, 0, 8, false), (25, 0, 8, true), (24, 1, 8, false), (u64::MAX, 1, 1, true)]
    {
        let module = entry(|b| {
            expand(b, 32);
            let v = b.wconst(U256::from_limbs([0x0102_0304_0506_0708, 0x1112_1314_1516_1718, 0xf0, 0x80 << 56]));
            store_word(b, 0, v);
            let a = i64c(b, addr);
            let access = MemAccess { width, signed: true, big_endian, offset };
            let r = b.ins1(Op::Load { ty: Type::I64, access, addr: a });
            let z = i64c(b, 0);
            b.ins(Op::Store {
                access: MemAccess { width: 2, signed: false, big_endian, offset: 0 },
                addr: z,
                value: r,
            });
            halt_return(b, 32);
        });
        run_both(&module, LOTS, Vec::new(), &limits);
    }
}

/// The example programs, through the frontend, the gas pass and the executor: both tiers give the same
/// results, gas, logs and state, over a sequence of calls sharing one host.
#[test]
fn tiers_agree_on_the_examples() {
    use zvm_compiler::frontend::zvm::asm;
    use zvm_runtime::executor::{Contract, Tier};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let (a, b) = (Address::from_low_u64(0xaa), Address::from_low_u64(0xbb));
    let selector = |s: u32, args: &[U256]| {
        let mut data = s.to_be_bytes().to_vec();
        data.extend(words(args));
        data
    };
    /// Calls as (caller, call data).
    type Calls = Vec<(Address, Vec<u8>)>;
    let calls: Vec<(&str, Calls)> = vec![
        ("fib", vec![(a, words(&[w(10)])), (a, words(&[w(400)])), (a, Vec::new())]),
        ("sort", vec![(a, words(&[w(20), w(7)])), (a, Vec::new())]),
        ("counter", vec![(a, Vec::new()), (b, Vec::new())]),
        (
            "token",
            vec![
                (a, selector(0x40c1_0f19, &[a.to_word(), w(1000)])),
                (a, selector(0xa905_9cbb, &[b.to_word(), w(300)])),
                (a, selector(0x70a0_8231, &[a.to_word()])),
                (b, selector(0xa905_9cbb, &[a.to_word(), w(301)])),
                (b, selector(0x1234_5678, &[])),
            ],
        ),
    ];
    let limits = Limits::default();
    let mut ran = 0;
    for (name, calls) in calls {
        let Ok(src) = std::fs::read_to_string(format!("{dir}/{name}.zasm")) else { continue };
        ran += 1;
        let bytes = asm::assemble(&src).expect("the example assembles");
        let interp = Contract::load(&bytes, Tier::Interp, &limits).expect("loads for the interpreter");
        let jit = Contract::load(&bytes, Tier::Jit, &limits).expect("loads for the compiled tier");
        let (mut host_i, mut host_j) = (InMemoryHost::new(), InMemoryHost::new());
        for (caller, input) in calls {
            for gas in [1_000_000, 30_000, 700] {
                let msg = Message { caller, address: ME, input: input.clone(), gas_limit: gas, ..Message::default() };
                let ri = interp.run(&msg, &mut host_i, &limits);
                let rj = jit.run(&msg, &mut host_j, &limits);
                assert_eq!(ri, rj, "{name}: caller {caller}, gas {gas}");
            }
        }
        assert_eq!(host_i.accounts.get(&ME), host_j.accounts.get(&ME), "{name}");
    }
    assert!(ran > 0, "no examples found in {dir}");
}
