//! WebAssembly tables on every tier: `table.get/set/size/grow/fill/copy/init`, `elem.drop` and
//! `call_indirect`, on the interpreter, the JIT at both optimization levels and an AOT object loaded by
//! zvm's loader.
//!
//! Every script runs on one frame per tier (state carries from call to call); the tiers must agree on every
//! call (results, stop, gas) and on the final instance (tables, dropped segments, globals, memory), and the
//! interpreter's results are checked against expectations computed here: a plain `Vec` model of the tables
//! with the WebAssembly bounds rules, the callee `call_indirect` must pick (bounds, null, signature) and
//! what that callee computes, and the gas each function charges. Recursion through `call_indirect` must
//! stop at the same depth on every tier, and native code that can recurse through a table must be known to
//! recurse (its native stack bound). The aarch64 objects of these modules emit, and run under
//! `qemu-aarch64` with a small C runtime of the table helpers when the cross tools are installed.
//! One check is the interpreter's alone: its lowering drops an unused `table.size`.

mod support;

use support::{
    aarch64_dir, aot, driver_line, expected_status, in_bounds, jit, link_aarch64, meta_of, parse_with_entry as parse,
    run_under_qemu, tiers, trap, with_frame, Code, GAS, MINUS_ONE,
};
use zvm_compiler::cranelift::translate::Dispatchers;
use zvm_compiler::cranelift::{emit_object, Dispatch, JitOptions, OptLevel, Target};
use zvm_ir::{Module, TrapCode};
use zvm_runtime::frame::Instance;
use zvm_runtime::interpreter::Program;
use zvm_runtime::{Exit, Limits};

const CANONICAL_NAN_F64: u64 = 0x7ff8_0000_0000_0000;

// ---- scripts -------------------------------------------------------------------------------------------

/// One invocation of a script: function, arguments, number of results.
#[derive(Clone, Debug)]
struct Step {
    func: u32,
    args: Vec<u64>,
    nresults: usize,
}

fn step(func: u32, args: &[u64], nresults: usize) -> Step {
    Step { func, args: args.to_vec(), nresults }
}

/// What one invocation gave (`results` only when it returned).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outcome {
    exit: Option<Exit>,
    results: Vec<u64>,
    gas_used: u64,
}

/// What a script did on one tier.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    outcomes: Vec<Outcome>,
    instance: Instance,
    call_depth: u64,
}

/// Runs `steps` in order on one frame with a fresh instance of `module`.
fn run_on(module: &Module, limits: &Limits, gas: u64, code: &Code, steps: &[Step]) -> Run {
    with_frame(module, limits, gas, |frame| {
        let mut outcomes = Vec::with_capacity(steps.len());
        for s in steps {
            let mut values = vec![0u64; s.args.len().max(s.nresults)];
            values[..s.args.len()].copy_from_slice(&s.args);
            let before = frame.gas_left();
            let exit = support::invoke_on(code, frame, s.func, &mut values);
            let results = if exit.is_none() { values[..s.nresults].to_vec() } else { Vec::new() };
            outcomes.push(Outcome { exit, results, gas_used: before - frame.gas_left() });
        }
        let call_depth = frame.ctx.call_depth;
        Run { outcomes, instance: frame.detach(), call_depth }
    })
}

/// Runs `steps` on every tier: each must agree with the interpreter on every step and on the final state.
/// Returns the interpreter's run.
fn agree(module: &Module, limits: &Limits, gas: u64, steps: &[Step]) -> Run {
    let tiers = tiers(module);
    let reference = run_on(module, limits, gas, &tiers[0].code, steps);
    assert_eq!(reference.call_depth, 0, "interp: the call depth is back to 0");
    for t in &tiers[1..] {
        let run = run_on(module, limits, gas, &t.code, steps);
        assert_eq!(run.outcomes.len(), steps.len());
        for (i, (got, want)) in run.outcomes.iter().zip(&reference.outcomes).enumerate() {
            assert_eq!(got, want, "{} against interp: step {i}: {:?}", t.name, steps[i]);
        }
        assert_eq!(run.instance, reference.instance, "{}: final instance", t.name);
        assert_eq!(run.call_depth, 0, "{}: the call depth is back to 0", t.name);
    }
    reference
}

/// The expected outcome of a step: results or trap, and gas used.
type Want = (Result<Vec<u64>, Exit>, u64);

/// Checks a run's outcomes against expectations.
fn check(run: &Run, steps: &[Step], want: &[Want]) {
    assert_eq!(want.len(), steps.len());
    for (i, ((o, (w, gas)), s)) in run.outcomes.iter().zip(want).zip(steps).enumerate() {
        let got = match o.exit {
            None => Ok(o.results.clone()),
            Some(e) => Err(e),
        };
        assert_eq!((&got, o.gas_used), (w, *gas), "step {i}: {s:?}");
    }
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

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick(&mut self, xs: &[u64]) -> u64 {
        xs[self.below(xs.len() as u64) as usize]
    }
}

// ---- the table operations against a model ----------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TableOp {
    Get(usize),
    Set(usize),
    Size(usize),
    Grow(usize),
    Fill(usize),
    Copy(usize, usize),
    Init(usize, usize),
    Drop(usize),
}

const SEGMENTS: [&[u64]; 3] = [&[1, 2, 0], &[7, 8, 9, 10], &[]];

/// One function per operation on two tables (`table 6, 20` and `table 3`) and three element segments;
/// function `i` charges `gas.cost 10 + i` first.
fn table_ops_module() -> (Module, Vec<TableOp>) {
    let mut ops = Vec::new();
    for t in 0..2 {
        ops.extend([TableOp::Get(t), TableOp::Set(t), TableOp::Size(t), TableOp::Grow(t), TableOp::Fill(t)]);
    }
    for d in 0..2 {
        for s in 0..2 {
            ops.push(TableOp::Copy(d, s));
        }
    }
    for t in 0..2 {
        for seg in 0..SEGMENTS.len() {
            ops.push(TableOp::Init(t, seg));
        }
    }
    ops.extend((0..SEGMENTS.len()).map(TableOp::Drop));
    let mut src = String::from("table 6, 20\ntable 3\n");
    for seg in SEGMENTS {
        let items: Vec<String> = seg.iter().map(u64::to_string).collect();
        src += &format!("elem [{}]\n", items.join(", "));
    }
    for (i, op) in ops.iter().enumerate() {
        let (sig, params, body) = match *op {
            TableOp::Get(t) => ("(i64) -> i64", "v0: i64", format!("v1 = table.get {t} v0\n    return v1")),
            TableOp::Set(t) => ("(i64, i64)", "v0: i64, v1: i64", format!("table.set {t} v0, v1\n    return")),
            TableOp::Size(t) => ("() -> i64", "", format!("v0 = table.size {t}\n    return v0")),
            TableOp::Grow(t) => {
                ("(i64, i64) -> i64", "v0: i64, v1: i64", format!("v2 = table.grow {t} v0, v1\n    return v2"))
            }
            TableOp::Fill(t) => {
                ("(i64, i64, i64)", "v0: i64, v1: i64, v2: i64", format!("table.fill {t} v0, v1, v2\n    return"))
            }
            TableOp::Copy(d, s) => {
                ("(i64, i64, i64)", "v0: i64, v1: i64, v2: i64", format!("table.copy {d} {s} v0, v1, v2\n    return"))
            }
            TableOp::Init(t, seg) => {
                ("(i64, i64, i64)", "v0: i64, v1: i64, v2: i64", format!("table.init {t} {seg} v0, v1, v2\n    return"))
            }
            TableOp::Drop(seg) => ("()", "", format!("elem.drop {seg}\n    return")),
        };
        let block = if params.is_empty() { "block0".to_string() } else { format!("block0({params})") };
        src += &format!("function %op{i}{sig} {{\n{block}:\n    gas.cost {}\n    {body}\n}}\n", 10 + i);
    }
    (parse(&src), ops)
}

/// Tables and segments as plain vectors, with WebAssembly's rules.
struct Model {
    tables: Vec<Vec<u64>>,
    max: Vec<Option<u64>>,
    /// Most elements all tables may hold together.
    limit: u64,
    dropped: Vec<bool>,
}

impl Model {
    fn apply(&mut self, op: TableOp, a: &[u64]) -> Result<Vec<u64>, TrapCode> {
        let oob = TrapCode::TableOutOfBounds;
        match op {
            TableOp::Get(t) => {
                in_bounds(a[0], 1, self.tables[t].len()).map(|r| vec![self.tables[t][r.start]]).ok_or(oob)
            }
            TableOp::Set(t) => {
                let r = in_bounds(a[0], 1, self.tables[t].len()).ok_or(oob)?;
                self.tables[t][r.start] = a[1];
                Ok(vec![])
            }
            TableOp::Size(t) => Ok(vec![self.tables[t].len() as u64]),
            TableOp::Grow(t) => {
                let (value, delta) = (a[0], a[1]);
                let old = self.tables[t].len() as u64;
                let total: u64 = self.tables.iter().map(|t| t.len() as u64).sum();
                // A table has at most 2^32 - 1 elements, and at most its maximum.
                let max = self.max[t].unwrap_or(u64::from(u32::MAX));
                let fits = old.checked_add(delta).is_some_and(|new| new <= max)
                    && total.checked_add(delta).is_some_and(|all| all <= self.limit);
                if !fits {
                    return Ok(vec![MINUS_ONE]);
                }
                self.tables[t].resize((old + delta) as usize, value);
                Ok(vec![old])
            }
            TableOp::Fill(t) => {
                let r = in_bounds(a[0], a[2], self.tables[t].len()).ok_or(oob)?;
                self.tables[t][r].fill(a[1]);
                Ok(vec![])
            }
            TableOp::Copy(d, s) => {
                let src = in_bounds(a[1], a[2], self.tables[s].len()).ok_or(oob)?;
                let dst = in_bounds(a[0], a[2], self.tables[d].len()).ok_or(oob)?;
                let items = self.tables[s][src].to_vec();
                self.tables[d][dst].copy_from_slice(&items);
                Ok(vec![])
            }
            TableOp::Init(t, seg) => {
                let elems: &[u64] = if self.dropped[seg] { &[] } else { SEGMENTS[seg] };
                let src = in_bounds(a[1], a[2], elems.len()).ok_or(oob)?;
                let dst = in_bounds(a[0], a[2], self.tables[t].len()).ok_or(oob)?;
                self.tables[t][dst].copy_from_slice(&elems[src]);
                Ok(vec![])
            }
            TableOp::Drop(seg) => {
                self.dropped[seg] = true;
                Ok(vec![])
            }
        }
    }
}

/// Arguments for `op`, biased to the bounds of the current tables.
fn table_args(rng: &mut Rng, model: &Model, op: TableOp) -> Vec<u64> {
    let index = |rng: &mut Rng, size: usize| {
        let n = size as u64;
        let k = rng.below(n + 2);
        rng.pick(&[0, 1, n.wrapping_sub(1), n, n + 1, k, k, k, u64::MAX, 1 << 32, u64::MAX - n])
    };
    let len = |rng: &mut Rng, size: usize| {
        let n = size as u64;
        let k = rng.below(n + 1);
        rng.pick(&[0, 1, 2, n, n + 1, k, k, k, u64::MAX, u64::MAX - 1, 1 << 32])
    };
    let value = |rng: &mut Rng| {
        let r = rng.next();
        rng.pick(&[0, 1, 2, 3, 4, 17, u64::MAX, 1 << 32, r])
    };
    let size = |t: usize| model.tables[t].len();
    match op {
        TableOp::Get(t) => vec![index(rng, size(t))],
        TableOp::Set(t) => vec![index(rng, size(t)), value(rng)],
        TableOp::Size(_) | TableOp::Drop(_) => vec![],
        TableOp::Grow(_) => {
            let room = 40u64.saturating_sub(model.tables.iter().map(|t| t.len() as u64).sum());
            let delta = rng.pick(&[0, 1, 2, 3, room, room + 1, u64::MAX, u64::from(u32::MAX), 1 << 32]);
            vec![value(rng), delta]
        }
        TableOp::Fill(t) => vec![index(rng, size(t)), value(rng), len(rng, size(t))],
        TableOp::Copy(d, s) => {
            let n = len(rng, size(d).min(size(s)));
            vec![index(rng, size(d)), index(rng, size(s)), n]
        }
        TableOp::Init(t, seg) => {
            let n = len(rng, size(t).min(SEGMENTS[seg].len()));
            vec![index(rng, size(t)), index(rng, SEGMENTS[seg].len()), n]
        }
    }
}

#[test]
fn table_operations_match_a_model_on_every_tier() {
    let (module, ops) = table_ops_module();
    let limits = Limits { max_table_elements: 40, ..Limits::default() };
    for seed in [1u64, 2, 3] {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ seed);
        let mut model = Model {
            tables: vec![vec![0; 6], vec![0; 3]],
            max: vec![Some(20), None],
            limit: 40,
            dropped: vec![false; 3],
        };
        let mut steps = Vec::new();
        let mut want: Vec<Want> = Vec::new();
        for _ in 0..700 {
            // Drops are rarer (they empty a segment for good).
            let i = loop {
                let i = rng.below(ops.len() as u64) as usize;
                if !matches!(ops[i], TableOp::Drop(_)) || rng.below(20) == 0 {
                    break i;
                }
            };
            let args = table_args(&mut rng, &model, ops[i]);
            let nresults = usize::from(matches!(ops[i], TableOp::Get(_) | TableOp::Size(_) | TableOp::Grow(_)));
            want.push((model.apply(ops[i], &args).map_err(Exit::Trap), 10 + i as u64));
            steps.push(step(i as u32, &args, nresults));
        }
        let run = agree(&module, &limits, GAS, &steps);
        check(&run, &steps, &want);
        assert_eq!(run.instance.tables, model.tables, "seed {seed}: final tables");
        assert_eq!(run.instance.dropped_elems, model.dropped, "seed {seed}: dropped segments");
        // Every kind of outcome happened.
        let traps = run.outcomes.iter().filter(|o| o.exit == Some(Exit::Trap(TrapCode::TableOutOfBounds))).count();
        let grew = want.iter().zip(&steps).filter(|((r, _), s)| {
            matches!(ops[s.func as usize], TableOp::Grow(_)) && matches!(r, Ok(v) if v[0] != MINUS_ONE)
        });
        let failed_grows = want.iter().filter(|(r, _)| matches!(r, Ok(v) if v == &[MINUS_ONE])).count();
        assert!(traps > 50 && traps < 600, "seed {seed}: {traps} traps");
        assert!(grew.count() > 3 && failed_grows > 3, "seed {seed}: grows");
    }
}

#[test]
fn table_bounds_edge_cases() {
    let (module, ops) = table_ops_module();
    let f = |op: TableOp| ops.iter().position(|&o| o == op).unwrap() as u32;
    let gas = |op: TableOp| 10 + u64::from(f(op));
    let limits = Limits { max_table_elements: 40, ..Limits::default() };
    let oob = || trap(TrapCode::TableOutOfBounds);
    let mut model =
        Model { tables: vec![vec![0; 6], vec![0; 3]], max: vec![Some(20), None], limit: 40, dropped: vec![false; 3] };
    let mut steps = Vec::new();
    let mut want: Vec<Want> = Vec::new();
    let mut add = |op: TableOp, args: &[u64], n: usize, w: Result<Vec<u64>, Exit>| {
        assert_eq!(model.apply(op, args).map_err(Exit::Trap), w, "the model disagrees: {op:?} {args:?}");
        steps.push(step(f(op), args, n));
        want.push((w, gas(op)));
    };
    use TableOp::*;
    for index in [6, 7, 1 << 32, (1 << 32) + 1, u64::MAX] {
        add(Get(0), &[index], 1, oob());
        add(Set(0), &[index, 9], 0, oob());
    }
    add(Set(0), &[5, u64::MAX], 0, Ok(vec![]));
    add(Get(0), &[5], 1, Ok(vec![u64::MAX]));
    // Empty ranges: allowed at the end, not past it; overflowing ranges trap.
    add(Fill(0), &[6, 1, 0], 0, Ok(vec![]));
    add(Fill(0), &[7, 1, 0], 0, oob());
    add(Fill(0), &[u64::MAX, 1, 1], 0, oob());
    add(Fill(0), &[1, 1, u64::MAX], 0, oob());
    add(Copy(0, 1), &[6, 3, 0], 0, Ok(vec![]));
    add(Copy(0, 1), &[6, 4, 0], 0, oob());
    add(Copy(0, 1), &[7, 0, 0], 0, oob());
    add(Copy(1, 0), &[0, u64::MAX, 2], 0, oob());
    add(Copy(0, 0), &[1, 0, 5], 0, Ok(vec![]));
    add(Init(1, 0), &[0, 3, 0], 0, Ok(vec![]));
    add(Init(1, 0), &[0, 4, 0], 0, oob());
    add(Init(1, 0), &[3, 0, 0], 0, Ok(vec![]));
    add(Init(1, 0), &[4, 0, 0], 0, oob());
    add(Init(1, 1), &[0, 1, 3], 0, Ok(vec![]));
    add(Init(1, 2), &[0, 0, 0], 0, Ok(vec![]));
    add(Init(1, 2), &[0, 0, 1], 0, oob());
    add(Drop(1), &[], 0, Ok(vec![]));
    add(Drop(1), &[], 0, Ok(vec![]));
    add(Init(1, 1), &[0, 0, 1], 0, oob());
    add(Init(1, 1), &[0, 0, 0], 0, Ok(vec![]));
    add(Init(1, 1), &[0, 1, 0], 0, oob());
    // Growing: the table's maximum (20), then the limit of all elements (40).
    add(Grow(0), &[5, 0], 1, Ok(vec![6]));
    add(Grow(0), &[5, 15], 1, Ok(vec![MINUS_ONE]));
    add(Grow(0), &[5, u64::MAX], 1, Ok(vec![MINUS_ONE]));
    add(Grow(0), &[5, 14], 1, Ok(vec![6]));
    add(Get(0), &[19], 1, Ok(vec![5]));
    add(Get(0), &[20], 1, oob());
    add(Grow(1), &[6, 18], 1, Ok(vec![MINUS_ONE]));
    add(Grow(1), &[6, 17], 1, Ok(vec![3]));
    add(Grow(1), &[6, 1], 1, Ok(vec![MINUS_ONE]));
    add(Size(1), &[], 1, Ok(vec![20]));
    add(Grow(1), &[6, 0], 1, Ok(vec![20]));
    let run = agree(&module, &limits, GAS, &steps);
    check(&run, &steps, &want);
    // `copy 0 0 1, 0, 5` overwrote element 5 with element 4 (null); the grows appended 5s and 6s.
    let t0: Vec<u64> = [[0; 6].as_slice(), &[5; 14]].concat();
    let t1: Vec<u64> = [[8, 9, 10].as_slice(), &[6; 17]].concat();
    assert_eq!(model.tables, vec![t0.clone(), t1.clone()]);
    assert_eq!(run.instance.tables, vec![t0, t1]);
    assert_eq!(run.instance.dropped_elems, vec![false, true, false]);
}

#[test]
fn an_unused_table_get_still_traps_and_an_unused_grow_still_grows() {
    let module = parse(
        "table 2
function %get(i64) {
block0(v0: i64):
    v1 = table.get 0 v0
    v2 = table.size 0
    return
}
function %grow(i64, i64) {
block0(v0: i64, v1: i64):
    v2 = table.grow 0 v0, v1
    return
}
function %size() -> i64 {
block0:
    v0 = table.size 0
    return v0
}
",
    );
    let steps =
        [step(0, &[1], 0), step(0, &[2], 0), step(1, &[7, 3], 0), step(2, &[], 1), step(0, &[4], 0), step(0, &[5], 0)];
    let run = agree(&module, &Limits::default(), GAS, &steps);
    let want: Vec<Want> = vec![
        (Ok(vec![]), 0),
        (trap(TrapCode::TableOutOfBounds), 0),
        (Ok(vec![]), 0),
        (Ok(vec![5]), 0),
        (Ok(vec![]), 0),
        (trap(TrapCode::TableOutOfBounds), 0),
    ];
    check(&run, &steps, &want);
    assert_eq!(run.instance.tables, vec![vec![0, 0, 7, 7, 7]]);
}

/// An empty table without a maximum: reads trap until it grows, and the default limit of all elements
/// bounds its growth.
#[test]
fn an_empty_table_grows_to_the_default_limit() {
    let module = parse(
        "table 0
function %get(i64) -> i64 {
block0(v0: i64):
    v1 = table.get 0 v0
    return v1
}
function %size() -> i64 {
block0:
    v0 = table.size 0
    return v0
}
function %grow(i64, i64) -> i64 {
block0(v0: i64, v1: i64):
    v2 = table.grow 0 v0, v1
    return v2
}
",
    );
    let limit = Limits::default().max_table_elements;
    let (get, size, grow) = (0, 1, 2);
    let steps = [
        step(get, &[0], 1),
        step(get, &[u64::MAX], 1),
        step(grow, &[1, limit + 1], 1),
        step(grow, &[1, limit - 1], 1),
        step(grow, &[1, 2], 1),
        step(grow, &[1, 1], 1),
        step(size, &[], 1),
        step(get, &[limit - 1], 1),
        step(get, &[limit], 1),
    ];
    let run = agree(&module, &Limits::default(), GAS, &steps);
    let want: Vec<Want> = vec![
        (trap(TrapCode::TableOutOfBounds), 0),
        (trap(TrapCode::TableOutOfBounds), 0),
        (Ok(vec![MINUS_ONE]), 0),
        (Ok(vec![0]), 0),
        (Ok(vec![MINUS_ONE]), 0),
        (Ok(vec![limit - 1]), 0),
        (Ok(vec![limit]), 0),
        (Ok(vec![1]), 0),
        (trap(TrapCode::TableOutOfBounds), 0),
    ];
    check(&run, &steps, &want);
}

/// The interpreter's lowering drops a `table.size` whose result is unused (an unused `table.get` still
/// traps and an unused `table.grow` still grows: above, on every tier).
#[test]
fn interpreter_an_unused_table_size_emits_no_code() {
    let src = |body: &str| parse(&format!("table 2\nfunction %f(i64) {{\nblock0(v0: i64):\n{body}    return\n}}\n"));
    assert_eq!(Program::new(&src("    v1 = table.size 0\n")).code_len(), Program::new(&src("")).code_len());
}

// ---- call_indirect ---------------------------------------------------------------------------------------

/// Types: 0 = (i64, i64) -> i64; 1 = (i32, f64) -> f64, i32, i64; 2 = () -> i64; 3 = type 0 again; 4 =
/// (w256, i64) -> w256, i64; 5 = (f32) -> f32. Table 0 of 10, from segment 0 by `%setup`: fn0 .. fn5,
/// then null. The callees charge 2, 3, 5, 7, 11, 13; the callers 1 before their call.
const CALLS: &str = "
type (i64, i64) -> i64
type (i32, f64) -> f64, i32, i64
type () -> i64
type (i64, i64) -> i64
type (w256, i64) -> w256, i64
type (f32) -> f32
table 10
elem [1, 2, 3, 4, 5, 6, 0]
function %add(i64, i64) -> i64 {
block0(v0: i64, v1: i64):
    gas.cost 2
    v2 = add v0, v1
    return v2
}
function %sub(i64, i64) -> i64 {
block0(v0: i64, v1: i64):
    gas.cost 3
    v2 = sub v0, v1
    return v2
}
function %mixed(i32, f64) -> f64, i32, i64 {
block0(v0: i32, v1: f64):
    gas.cost 5
    v2 = fadd v1, v1
    v3 = iconst.i32 3
    v4 = mul v0, v3
    v5 = sext.i64 v0
    return v2, v4, v5
}
function %seven() -> i64 {
block0:
    gas.cost 7
    v0 = iconst.i64 7
    return v0
}
function %wide(w256, i64) -> w256, i64 {
block0(v0: w256, v1: i64):
    gas.cost 11
    v2 = add v0, v0
    v3 = add v1, v1
    return v2, v3
}
function %neg(f32) -> f32 {
block0(v0: f32):
    gas.cost 13
    v1 = fneg v0
    return v1
}
function %setup() {
block0:
    v0 = iconst.i64 0
    v1 = iconst.i64 7
    table.init 0 0 v0, v0, v1
    return
}
function %binary(i64, i64, i64) -> i64 {
block0(v0: i64, v1: i64, v2: i64):
    gas.cost 1
    v3 = call_indirect 0 0 v0(v1, v2)
    return v3
}
function %binary_alias(i64, i64, i64) -> i64 {
block0(v0: i64, v1: i64, v2: i64):
    gas.cost 1
    v3 = call_indirect 3 0 v0(v1, v2)
    return v3
}
function %mixed_of(i64, i32, f64) -> f64, i32, i64 {
block0(v0: i64, v1: i32, v2: f64):
    gas.cost 1
    v3, v4, v5 = call_indirect 1 0 v0(v1, v2)
    return v3, v4, v5
}
function %nullary(i64) -> i64 {
block0(v0: i64):
    gas.cost 1
    v1 = call_indirect 2 0 v0()
    return v1
}
function %wide_of(i64, i64, i64) -> i64, i64, i64 {
block0(v0: i64, v1: i64, v2: i64):
    gas.cost 1
    v3 = zext.w256 v1
    v4 = wconst 128
    v5 = shl v3, v4
    v6, v7 = call_indirect 4 0 v0(v5, v2)
    v8 = shr_u v6, v4
    v9 = trunc.i64 v8
    v10 = wconst 192
    v11 = shr_u v6, v10
    v12 = trunc.i64 v11
    return v9, v12, v7
}
function %unused(i64) {
block0(v0: i64):
    gas.cost 1
    v1 = call_indirect 2 0 v0()
    return
}
function %set(i64, i64) {
block0(v0: i64, v1: i64):
    table.set 0 v0, v1
    return
}
function %swap(i64, i64) -> i64, i64 {
block0(v0: i64, v1: i64):
    v2 = iconst.i64 9
    v3 = iconst.i64 1
    v4 = iconst.i64 2
    table.set 0 v2, v3
    v5 = call_indirect 0 0 v2(v0, v1)
    table.set 0 v2, v4
    v6 = call_indirect 0 0 v2(v0, v1)
    return v5, v6
}
function %grow_call() -> i64, i64 {
block0:
    v0 = iconst.i64 4
    v1 = iconst.i64 1
    v2 = table.grow 0 v0, v1
    v3 = call_indirect 2 0 v2()
    return v2, v3
}
";

const SETUP: u32 = 6;
const BINARY: u32 = 7;
const BINARY_ALIAS: u32 = 8;
const MIXED_OF: u32 = 9;
const NULLARY: u32 = 10;
const WIDE_OF: u32 = 11;
const UNUSED: u32 = 12;
const SET: u32 = 13;
const SWAP: u32 = 14;
const GROW_CALL: u32 = 15;

/// What `call_indirect` of type `ty` picks from `table` at `index`, by WebAssembly's rules.
fn target(module: &Module, table: &[u64], ty: u32, index: u64) -> Result<usize, TrapCode> {
    let r = *usize::try_from(index).ok().and_then(|i| table.get(i)).ok_or(TrapCode::UndefinedElement)?;
    if r == 0 {
        return Err(TrapCode::UninitializedElement);
    }
    let f = usize::try_from(r - 1).ok().filter(|&f| f < module.functions.len());
    match f {
        Some(f) if module.functions[f].sig == module.types[ty as usize] => Ok(f),
        _ => Err(TrapCode::IndirectCallTypeMismatch),
    }
}

fn fadd_self(bits: u64) -> u64 {
    let x = f64::from_bits(bits);
    let r = x + x;
    if r.is_nan() {
        CANONICAL_NAN_F64
    } else {
        r.to_bits()
    }
}

/// The expected outcome of `caller` of [`CALLS`] with `args`, given the table.
fn expected_call(module: &Module, table: &[u64], caller: u32, args: &[u64]) -> Want {
    let (ty, nresults) = match caller {
        BINARY => (0, 1),
        BINARY_ALIAS => (3, 1),
        MIXED_OF => (1, 3),
        NULLARY => (2, 1),
        WIDE_OF => (4, 3),
        UNUSED => (2, 0),
        _ => unreachable!("not a caller: {caller}"),
    };
    let f = match target(module, table, ty, args[0]) {
        Ok(f) => f,
        Err(code) => return (trap(code), 1),
    };
    let a = &args[1..];
    let (results, gas): (Vec<u64>, u64) = match f {
        0 => (vec![a[0].wrapping_add(a[1])], 2),
        1 => (vec![a[0].wrapping_sub(a[1])], 3),
        2 => {
            let x = a[0] as u32;
            (vec![fadd_self(a[1]), u64::from(x.wrapping_mul(3)), x as i32 as i64 as u64], 5)
        }
        3 => (vec![7], 7),
        // (x << 128) doubled: bits 128.. hold 2x (mod 2^64 in the low limb), bit 192 the top bit of x.
        4 => (vec![a[0].wrapping_mul(2), a[0] >> 63, a[1].wrapping_mul(2)], 11),
        other => unreachable!("fn{other} has none of the callers' types"),
    };
    (Ok(results[..nresults].to_vec()), 1 + gas)
}

#[test]
fn call_indirect_calls_the_element_with_its_arguments_and_results() {
    let module = parse(CALLS);
    let x = (-5i32) as u32 as u64;
    let h = 1.25f64.to_bits();
    let steps = [
        step(NULLARY, &[3], 1), // before the setup: null
        step(SETUP, &[], 0),
        step(BINARY, &[0, 7, 5], 1),
        step(BINARY, &[1, 7, 5], 1),
        step(BINARY, &[1, 5, 7], 1),
        step(BINARY_ALIAS, &[1, 10, 4], 1), // signatures are compared, not type indices
        step(MIXED_OF, &[2, x, h], 3),
        step(NULLARY, &[3], 1),
        step(WIDE_OF, &[4, 0x8000_0000_0000_0003, 21], 3),
        step(UNUSED, &[3], 0),
        step(SWAP, &[30, 12], 2), // the table changes between two calls of one function
        step(GROW_CALL, &[], 2),  // a call through an element that growing the table created
        step(SET, &[8, 4], 0),
        step(NULLARY, &[8], 1),
    ];
    let run = agree(&module, &Limits::default(), GAS, &steps);
    let want: Vec<Want> = vec![
        (trap(TrapCode::UninitializedElement), 1),
        (Ok(vec![]), 0),
        (Ok(vec![12]), 3),
        (Ok(vec![2]), 4),
        (Ok(vec![(-2i64) as u64]), 4),
        (Ok(vec![6]), 4),
        (Ok(vec![2.5f64.to_bits(), u64::from((-15i32) as u32), (-5i64) as u64]), 6),
        (Ok(vec![7]), 8),
        (Ok(vec![6, 1, 42]), 12),
        (Ok(vec![]), 8),
        (Ok(vec![42, 18]), 2 + 3),
        (Ok(vec![10, 7]), 7),
        (Ok(vec![]), 0),
        (Ok(vec![7]), 8),
    ];
    check(&run, &steps, &want);
    let mut table = vec![1, 2, 3, 4, 5, 6, 0, 0, 4, 2];
    table.push(4);
    assert_eq!(run.instance.tables, vec![table]);
}

#[test]
fn call_indirect_traps_null_out_of_range_and_wrong_signatures() {
    let module = parse(CALLS);
    let n = module.functions.len() as u64; // the entry `() -> ()` is function n - 1, reference n
    let mut steps = vec![step(SETUP, &[], 0)];
    let mut want: Vec<Want> = vec![(Ok(vec![]), 0)];
    let mut table = vec![1, 2, 3, 4, 5, 6, 0, 0, 0, 0];
    let add = |steps: &mut Vec<Step>, want: &mut Vec<Want>, table: &[u64], caller: u32, args: &[u64]| {
        let nresults = match caller {
            MIXED_OF | WIDE_OF => 3,
            UNUSED => 0,
            _ => 1,
        };
        steps.push(step(caller, args, nresults));
        want.push(expected_call(&module, table, caller, args));
    };
    for caller in [BINARY, BINARY_ALIAS, MIXED_OF, NULLARY, WIDE_OF, UNUSED] {
        for index in [0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 1 << 32, u64::MAX] {
            add(&mut steps, &mut want, &table, caller, &[index, 3, 4]);
        }
    }
    // References that are not functions of the module, and the entry (another signature).
    for r in [n, n + 1, n + 2, 1 << 32, (1 << 32) + 1, u64::MAX] {
        steps.push(step(SET, &[7, r], 0));
        want.push((Ok(vec![]), 0));
        table[7] = r;
        for caller in [BINARY, NULLARY, UNUSED] {
            add(&mut steps, &mut want, &table, caller, &[7, 1, 2]);
        }
    }
    let run = agree(&module, &Limits::default(), GAS, &steps);
    check(&run, &steps, &want);
    // Every kind of trap happened.
    for code in [TrapCode::UndefinedElement, TrapCode::UninitializedElement, TrapCode::IndirectCallTypeMismatch] {
        assert!(want.iter().any(|(w, _)| *w == trap(code)), "{code:?}");
    }
}

#[test]
fn call_indirect_random_calls_and_table_changes() {
    let module = parse(CALLS);
    let n = module.functions.len() as u64;
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut table = vec![1, 2, 3, 4, 5, 6, 0, 0, 0, 0];
    let mut steps = vec![step(SETUP, &[], 0)];
    let mut want: Vec<Want> = vec![(Ok(vec![]), 0)];
    for _ in 0..1500 {
        if rng.below(8) == 0 {
            let slot = rng.below(10);
            let k = rng.below(n + 1);
            let r = rng.pick(&[0, 1, 2, 3, 4, 5, 6, 7, 8, n, n + 1, u64::MAX, k]);
            table[slot as usize] = r;
            steps.push(step(SET, &[slot, r], 0));
            want.push((Ok(vec![]), 0));
            continue;
        }
        let caller = rng.pick(&[BINARY, BINARY_ALIAS, MIXED_OF, NULLARY, WIDE_OF, UNUSED].map(u64::from)) as u32;
        let k = rng.below(12);
        let index = rng.pick(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, k, u64::MAX, 1 << 32]);
        let floats = [0.0f64, -0.0, 1.5, -3.25, f64::INFINITY, f64::NAN, 1e300, 5e-324].map(f64::to_bits);
        let (a, b) = match caller {
            MIXED_OF => (rng.next() & 0xffff_ffff, rng.pick(&floats)),
            _ => (rng.next(), rng.next()),
        };
        let nresults = match caller {
            MIXED_OF | WIDE_OF => 3,
            UNUSED => 0,
            _ => 1,
        };
        let args = if caller == NULLARY || caller == UNUSED { vec![index] } else { vec![index, a, b] };
        want.push(expected_call(&module, &table, caller, &args));
        steps.push(step(caller, &args, nresults));
    }
    let run = agree(&module, &Limits::default(), GAS, &steps);
    check(&run, &steps, &want);
    assert_eq!(run.instance.tables, vec![table]);
}

/// `depth(n) = n == 0 ? 0 : 1 + depth(n - 1)`, recursing through table element 0 (fn0, set by `%setup`);
/// `%direct` is the same with a direct call.
const DEPTH: &str = "
type (i64) -> i64
table 1
elem [1]
function %depth(i64) -> i64 {
block0(v0: i64):
    gas.cost 3
    brif v0, block1, block2
block1:
    gas.cost 5
    v1 = iconst.i64 1
    v2 = sub v0, v1
    v6 = iconst.i64 0
    v3 = call_indirect 0 0 v6(v2)
    v4 = add v3, v1
    gas.cost 2
    return v4
block2:
    gas.cost 11
    v5 = iconst.i64 0
    return v5
}
function %setup() {
block0:
    v0 = iconst.i64 0
    v1 = iconst.i64 1
    table.init 0 0 v0, v0, v1
    return
}
function %direct(i64) -> i64 {
block0(v0: i64):
    gas.cost 3
    brif v0, block1, block2
block1:
    gas.cost 5
    v1 = iconst.i64 1
    v2 = sub v0, v1
    v3 = call fn2(v2)
    v4 = add v3, v1
    gas.cost 2
    return v4
block2:
    gas.cost 11
    v5 = iconst.i64 0
    return v5
}
";

/// Gas of `depth(n)` when it returns: `n` levels of 3 + 5 + 2, the last one 3 + 11.
fn depth_gas(n: u64) -> u64 {
    n * 10 + 14
}

#[test]
fn recursion_through_call_indirect_stops_at_the_same_depth_on_every_tier() {
    let module = parse(DEPTH);
    for max in [0u64, 1, 2, 16, 100] {
        let limits = Limits { max_call_depth: max, ..Limits::default() };
        let mut steps = vec![step(0, &[5], 1), step(1, &[], 0)];
        // Before the setup: null. (The check comes before the depth's.)
        let mut want: Vec<Want> = vec![(trap(TrapCode::UninitializedElement), 8), (Ok(vec![]), 0)];
        for n in [0, 1, max.saturating_sub(1), max, max + 1, max + 2, 1000] {
            for func in [0, 2] {
                steps.push(step(func, &[n], 1));
                // Levels 0..=max may call; the call made at level `max` traps. Each level charges 3 + 5
                // before its call.
                want.push(if n <= max {
                    (Ok(vec![n]), depth_gas(n))
                } else {
                    (trap(TrapCode::CallStackExhausted), (max + 1) * 8)
                });
            }
        }
        let run = agree(&module, &limits, GAS, &steps);
        check(&run, &steps, &want);
    }
}

#[test]
fn deep_recursion_through_call_indirect() {
    let module = parse(DEPTH);
    let limits = Limits { max_call_depth: 50_000, ..Limits::default() };
    let steps =
        [step(1, &[], 0), step(0, &[50_000], 1), step(0, &[50_001], 1), step(2, &[50_000], 1), step(2, &[50_001], 1)];
    let run = agree(&module, &limits, 10 * GAS, &steps);
    let want: Vec<Want> = vec![
        (Ok(vec![]), 0),
        (Ok(vec![50_000]), depth_gas(50_000)),
        (trap(TrapCode::CallStackExhausted), 50_001 * 8),
        (Ok(vec![50_000]), depth_gas(50_000)),
        (trap(TrapCode::CallStackExhausted), 50_001 * 8),
    ];
    check(&run, &steps, &want);
}

#[test]
fn call_indirect_costs_the_gas_of_a_direct_call_and_runs_out_the_same() {
    let module = parse(DEPTH);
    let mut steps = vec![step(1, &[], 0)];
    let mut want: Vec<Want> = vec![(Ok(vec![]), 0)];
    for n in [0, 1, 2, 10, 100] {
        for func in [0, 2] {
            steps.push(step(func, &[n], 1));
            want.push((Ok(vec![n]), depth_gas(n)));
        }
    }
    let run = agree(&module, &Limits::default(), GAS, &steps);
    check(&run, &steps, &want);

    // Out of gas in the middle of deep indirect recursion, on the way back: 100_000 levels down cost
    // 800_006, and the 199_994 left pay for 99_997 of the 2s on the way up, not for the next one.
    let limits = Limits { max_call_depth: 200_000, ..Limits::default() };
    let steps = [step(1, &[], 0), step(0, &[GAS / 10], 1)];
    let run = agree(&module, &limits, GAS, &steps);
    check(&run, &steps, &[(Ok(vec![]), 0), (Err(Exit::OutOfGas), GAS)]);
}

/// even/odd by mutual recursion: `%even` calls `%odd` directly, `%odd` calls `%even` through the table;
/// `%sum` calls through the table in a loop with block arguments live across the call.
const EVEN_ODD: &str = "
type (i64) -> i64
table 2
elem [1, 2]
function %even(i64) -> i64 {
block0(v0: i64):
    gas.cost 1
    brif v0, block1, block2
block1:
    v1 = iconst.i64 1
    v2 = sub v0, v1
    v3 = call fn1(v2)
    return v3
block2:
    v4 = iconst.i64 1
    return v4
}
function %odd(i64) -> i64 {
block0(v0: i64):
    gas.cost 2
    brif v0, block1, block2
block1:
    v1 = iconst.i64 1
    v2 = sub v0, v1
    v5 = iconst.i64 0
    v3 = call_indirect 0 0 v5(v2)
    return v3
block2:
    v4 = iconst.i64 0
    return v4
}
function %sum(i64) -> i64 {
block0(v0: i64):
    v1 = iconst.i64 0
    v2 = iconst.i64 2
    table.init 0 0 v1, v1, v2
    jump block1(v0, v1)
block1(v3: i64, v4: i64):
    brif v3, block2, block3
block2:
    v5 = iconst.i64 1
    v6 = sub v3, v5
    v10 = shr_u v3, v5
    v7 = and v10, v5
    v8 = call_indirect 0 0 v7(v3)
    v9 = add v4, v8
    jump block1(v6, v9)
block3:
    return v4
}
";

#[test]
fn mutual_recursion_through_direct_and_indirect_calls() {
    let module = parse(EVEN_ODD);
    let limits = Limits { max_call_depth: 1000, ..Limits::default() };
    let mut steps = vec![step(1, &[3], 1), step(2, &[0], 1)];
    // `%odd 3` before the table is set: its indirect call finds null after 2 gas.
    let mut want: Vec<Want> = vec![(trap(TrapCode::UninitializedElement), 2), (Ok(vec![0]), 0)];
    // Gas of even(m) / odd(m): m + 1 alternating levels, starting with 1 or 2.
    let chain =
        |start_even: bool, m: u64| -> u64 { (0..=m).map(|k| if (k % 2 == 0) == start_even { 1 } else { 2 }).sum() };
    for m in [0u64, 1, 2, 7, 30, 999, 1000, 1001] {
        for (func, start_even) in [(0u32, true), (1, false)] {
            steps.push(step(func, &[m], 1));
            let parity = u64::from((m % 2 == 0) == start_even);
            // `m` nested calls from level 0: the call at level 1000 traps.
            want.push(if m <= 1000 {
                (Ok(vec![parity]), chain(start_even, m))
            } else {
                (trap(TrapCode::CallStackExhausted), chain(start_even, 1000))
            });
        }
    }
    for n in [0u64, 1, 2, 7, 30] {
        steps.push(step(2, &[n], 1));
        // Term k calls element (k >> 1) & 1: even (1 for even k) or odd (1 for odd k).
        let expected = (1..=n).filter(|k| (k >> 1) & 1 == k & 1).count() as u64;
        let gas = (1..=n).map(|k| chain((k >> 1) & 1 == 0, k)).sum();
        want.push((Ok(vec![expected]), gas));
    }
    let run = agree(&module, &limits, GAS, &steps);
    check(&run, &steps, &want);
}

#[test]
fn the_native_stack_bound_sees_recursion_through_tables() {
    let non_recursive = parse(
        "type () -> i64
type (i64) -> i64
table 1
function %seven() -> i64 {
block0:
    v0 = iconst.i64 7
    return v0
}
function %caller(i64) -> i64 {
block0(v0: i64):
    v1 = call_indirect 0 0 v0()
    return v1
}
function %other(i64) -> i64 {
block0(v0: i64):
    return v0
}
",
    );
    let cases = [(parse(DEPTH), true), (parse(EVEN_ODD), true), (parse(CALLS), false), (non_recursive, false)];
    for (module, recursive) in &cases {
        for (name, code) in [
            ("jit-none", jit(module, OptLevel::None)),
            ("jit-speed", jit(module, OptLevel::Speed)),
            ("aot", aot(module)),
        ] {
            let bound = code.stack_bound();
            assert_eq!(bound.is_recursive(), *recursive, "{name}: {bound:?}\n{}", zvm_ir::text::print(module));
            // A recursive bound grows with the allowed depth, one dispatcher and one function per level.
            if *recursive {
                assert!(code.native_stack_bytes(1000) > code.native_stack_bytes(10) + 990 * 32, "{name}");
            } else {
                assert_eq!(code.native_stack_bytes(1000), code.native_stack_bytes(10), "{name}");
            }
        }
    }
}

#[test]
fn an_unused_indirect_call_still_happens() {
    let module = parse(
        "
type () -> i64
global i64
table 1
elem [1]
function %count() -> i64 {
block0:
    v0 = global.get 0
    v1 = iconst.i64 1
    v2 = add v0, v1
    global.set 0, v2
    return v2
}
function %twice() -> i64 {
block0:
    v0 = iconst.i64 0
    v1 = iconst.i64 1
    table.init 0 0 v0, v0, v1
    v2 = call_indirect 0 0 v0()
    v3 = call_indirect 0 0 v0()
    v4 = global.get 0
    return v4
}
",
    );
    let steps = [step(1, &[], 1), step(1, &[], 1)];
    let run = agree(&module, &Limits::default(), GAS, &steps);
    check(&run, &steps, &[(Ok(vec![2]), 0), (Ok(vec![4]), 0)]);
    assert_eq!(run.instance.globals, vec![4]);
}

#[test]
fn a_type_no_function_has_traps_and_types_share_dispatchers() {
    let module = parse(
        "
type (f32) -> f32
type (i64) -> i64
type (f32) -> f32
type (i32) -> i32
table 2
elem [1]
function %id(i64) -> i64 {
block0(v0: i64):
    return v0
}
function %call_f32(i64, f32) -> f32 {
block0(v0: i64, v1: f32):
    v2 = call_indirect 0 0 v0(v1)
    return v2
}
function %call_f32_again(i64, f32) -> f32 {
block0(v0: i64, v1: f32):
    v2 = call_indirect 2 0 v0(v1)
    return v2
}
function %call_i64(i64, i64) -> i64 {
block0(v0: i64, v1: i64):
    v2 = call_indirect 1 0 v0(v1)
    return v2
}
function %setup() {
block0:
    v0 = iconst.i64 0
    v1 = iconst.i64 1
    table.init 0 0 v0, v0, v1
    return
}
",
    );
    // Types 0 and 2 are one signature (one dispatcher, calling nothing); type 3 is never called through.
    let d = Dispatchers::of(&module);
    assert_eq!((d.len(), d.of_type(0), d.of_type(1), d.of_type(2), d.of_type(3)), (2, Some(0), Some(1), Some(0), None));
    assert_eq!((d.targets(0), d.targets(1)), (&[][..], &[0u32][..]));
    let one = 1.0f32.to_bits().into();
    let steps = [
        step(4, &[], 0),
        step(1, &[0, one], 1),
        step(2, &[0, one], 1),
        step(1, &[1, one], 1),
        step(3, &[0, 42], 1),
        step(3, &[2, 42], 1),
    ];
    let run = agree(&module, &Limits::default(), GAS, &steps);
    let want: Vec<Want> = vec![
        (Ok(vec![]), 0),
        (trap(TrapCode::IndirectCallTypeMismatch), 0),
        (trap(TrapCode::IndirectCallTypeMismatch), 0),
        (trap(TrapCode::UninitializedElement), 0),
        (Ok(vec![42]), 0),
        (trap(TrapCode::UndefinedElement), 0),
    ];
    check(&run, &steps, &want);
}

// ---- objects -------------------------------------------------------------------------------------------

#[test]
fn objects_of_table_modules_emit_for_every_target_and_load() {
    let modules = [table_ops_module().0, parse(CALLS), parse(DEPTH), parse(EVEN_ODD)];
    for module in &modules {
        for target in Target::ALL {
            let object =
                emit_object(module, target, &JitOptions::default()).unwrap_or_else(|e| panic!("{target:?}: {e}"));
            let meta = meta_of(&object, module.functions.len()).unwrap_or_else(|| panic!("{target:?}: no metadata"));
            assert_eq!(meta.dispatch, Dispatch::of(module), "{target:?}");
            assert_eq!(meta.abi_version, zvm_compiler::abi::ABI_VERSION);
            // The stack bound is the one the JIT computes from the same call graph (recursive or not).
            let jit = jit(module, OptLevel::Speed);
            assert_eq!(meta.stack.is_recursive(), jit.stack_bound().is_recursive(), "{target:?}");
            if Some(target) == Target::host() {
                let loaded = zvm_cache::load(&object).unwrap_or_else(|e| panic!("load: {e}"));
                assert_eq!(loaded.stack_bound(), meta.stack);
            }
        }
    }
}

// ---- aarch64 -------------------------------------------------------------------------------------------

/// A driver for an aarch64 object that uses one table: a context with gas and a call depth limit, and a
/// helper table whose `table_get`, `table_set`, `table_size` and `call_indirect_target` work on one table
/// the driver keeps (written after `runtime/src/frame.rs`), and which `ctx.tables` shows to the code (so
/// `call_indirect` takes its inline path); any other helper is a `host_error`. Input: a
/// header `MAX_DEPTH TABLE_SIZE NFUNCS NTYPES`, the signature class of each function and each type, then
/// `FUNC NIN NOUT ARGS...` lines (hex). Output per call: `STATUS GAS_LEFT RESULTS...`.
const DRIVER_C: &str = r#"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct VmCtx VmCtx;
extern uint32_t zvm_entry(VmCtx *ctx, uint32_t func, uint64_t *values);

typedef void (*AnyFn)(void);
static _Alignas(16) unsigned char ctx[ZVM_VMCTX_SIZE];
static AnyFn helpers[ZVM_HELPERS_SIZE / sizeof(AnyFn)];
static uint64_t values[256];
static uint64_t table[1024];
static uint64_t table_len;
/* What ctx.tables points to: the table, then empty views (the driver's modules use table 0 only). */
typedef struct { const uint64_t *base; uint64_t len; } TableView;
_Static_assert(sizeof(TableView) == ZVM_TABLE_VIEW_SIZE, "TableView layout");
static TableView views[8];
static uint32_t func_class[1024], type_class[1024];
static uint32_t nfuncs, ntypes;

static uint32_t trap(uint32_t code) { return ZVM_TRAP_BASE + code; }

static uint32_t h_unsupported(void) { return trap(ZVM_TRAP_HOST_ERROR); }

static uint32_t h_table_get(VmCtx *c, uint32_t t, uint64_t index, uint64_t *out) {
    (void)c;
    if (t != 0) return trap(ZVM_TRAP_HOST_ERROR);
    if (index >= table_len) return trap(ZVM_TRAP_TABLE_OOB);
    *out = table[index];
    return 0;
}

static uint32_t h_table_set(VmCtx *c, uint32_t t, uint64_t index, uint64_t value) {
    (void)c;
    if (t != 0) return trap(ZVM_TRAP_HOST_ERROR);
    if (index >= table_len) return trap(ZVM_TRAP_TABLE_OOB);
    table[index] = value;
    return 0;
}

static uint32_t h_table_size(VmCtx *c, uint32_t t, uint64_t *out) {
    (void)c;
    if (t != 0) return trap(ZVM_TRAP_HOST_ERROR);
    *out = table_len;
    return 0;
}

static uint32_t h_call_indirect_target(VmCtx *c, uint32_t ty, uint32_t t, uint64_t index, uint32_t *out) {
    (void)c;
    if (t != 0) return trap(ZVM_TRAP_HOST_ERROR);
    if (index >= table_len) return trap(ZVM_TRAP_UNDEFINED_ELEMENT);
    uint64_t r = table[index];
    if (r == 0) return trap(ZVM_TRAP_UNINITIALIZED_ELEMENT);
    if (r - 1 >= nfuncs || ty >= ntypes || func_class[r - 1] != type_class[ty])
        return trap(ZVM_TRAP_INDIRECT_CALL_TYPE);
    *out = (uint32_t)(r - 1);
    return 0;
}

int main(void) {
    unsigned long long max_depth, size;
    if (scanf("%llu %llu %u %u", &max_depth, &size, &nfuncs, &ntypes) != 4) return 2;
    if (size > 1024 || nfuncs > 1024 || ntypes > 1024) return 2;
    table_len = size;
    for (unsigned i = 0; i < nfuncs; i++) if (scanf("%u", &func_class[i]) != 1) return 2;
    for (unsigned i = 0; i < ntypes; i++) if (scanf("%u", &type_class[i]) != 1) return 2;
    for (size_t i = 0; i < sizeof helpers / sizeof helpers[0]; i++) helpers[i] = (AnyFn)h_unsupported;
    helpers[ZVM_OFF_TABLE_GET / sizeof(AnyFn)] = (AnyFn)h_table_get;
    helpers[ZVM_OFF_TABLE_SET / sizeof(AnyFn)] = (AnyFn)h_table_set;
    helpers[ZVM_OFF_TABLE_SIZE / sizeof(AnyFn)] = (AnyFn)h_table_size;
    helpers[ZVM_OFF_CALL_INDIRECT_TARGET / sizeof(AnyFn)] = (AnyFn)h_call_indirect_target;
    uint64_t gas = ZVM_GAS;
    memcpy(ctx + ZVM_OFF_GAS_LEFT, &gas, sizeof gas);
    uint64_t max = max_depth;
    memcpy(ctx + ZVM_OFF_MAX_CALL_DEPTH, &max, sizeof max);
    AnyFn *h = helpers;
    memcpy(ctx + ZVM_OFF_HELPERS, &h, sizeof h);
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) views[i].base = table;
    views[0].len = table_len;
    const TableView *v = views;
    memcpy(ctx + ZVM_OFF_TABLES, &v, sizeof v);
    unsigned func, nin, nout;
    while (scanf("%u %u %u", &func, &nin, &nout) == 3) {
        if (nin > 256 || nout > 256) return 2;
        memset(values, 0, sizeof values);
        for (unsigned i = 0; i < nin; i++) {
            unsigned long long x;
            if (scanf("%llx", &x) != 1) return 2;
            values[i] = x;
        }
        uint64_t before;
        memcpy(&before, ctx + ZVM_OFF_GAS_LEFT, sizeof before);
        uint32_t status = zvm_entry((VmCtx *)ctx, func, values);
        uint64_t after, depth;
        memcpy(&after, ctx + ZVM_OFF_GAS_LEFT, sizeof after);
        memcpy(&depth, ctx + ZVM_OFF_CALL_DEPTH, sizeof depth);
        if (depth != 0) return 3;
        printf("%u %llu", status, (unsigned long long)(before - after));
        for (unsigned i = 0; i < nout && status == 0; i++) printf(" %llx", (unsigned long long)values[i]);
        printf("\n");
    }
    return 0;
}
"#;

/// Runs `steps` on the aarch64 object of `module` (one table, of `table_size` null elements) under qemu;
/// returns (status, gas used, results) of each step.
fn run_on_aarch64(
    dir: &std::path::Path,
    name: &str,
    module: &Module,
    max_depth: u64,
    table_size: u64,
    steps: &[Step],
) -> Vec<(u32, u64, Vec<u64>)> {
    use std::mem::{offset_of, size_of};
    use zvm_compiler::abi::{Helpers, VmCtx};
    let status = |code: TrapCode| Exit::Trap(code).to_status() - zvm_compiler::abi::STATUS_TRAP_BASE;
    let defines = [
        ("ZVM_VMCTX_SIZE", size_of::<VmCtx>() as u64),
        ("ZVM_HELPERS_SIZE", size_of::<Helpers>() as u64),
        ("ZVM_OFF_GAS_LEFT", offset_of!(VmCtx, gas_left) as u64),
        ("ZVM_OFF_CALL_DEPTH", offset_of!(VmCtx, call_depth) as u64),
        ("ZVM_OFF_MAX_CALL_DEPTH", offset_of!(VmCtx, max_call_depth) as u64),
        ("ZVM_OFF_HELPERS", offset_of!(VmCtx, helpers) as u64),
        ("ZVM_OFF_TABLES", offset_of!(VmCtx, tables) as u64),
        ("ZVM_TABLE_VIEW_SIZE", size_of::<zvm_compiler::abi::TableView>() as u64),
        ("ZVM_OFF_TABLE_GET", offset_of!(Helpers, table_get) as u64),
        ("ZVM_OFF_TABLE_SET", offset_of!(Helpers, table_set) as u64),
        ("ZVM_OFF_TABLE_SIZE", offset_of!(Helpers, table_size) as u64),
        ("ZVM_OFF_CALL_INDIRECT_TARGET", offset_of!(Helpers, call_indirect_target) as u64),
        ("ZVM_TRAP_BASE", u64::from(zvm_compiler::abi::STATUS_TRAP_BASE)),
        ("ZVM_TRAP_HOST_ERROR", u64::from(status(TrapCode::HostError))),
        ("ZVM_TRAP_TABLE_OOB", u64::from(status(TrapCode::TableOutOfBounds))),
        ("ZVM_TRAP_UNDEFINED_ELEMENT", u64::from(status(TrapCode::UndefinedElement))),
        ("ZVM_TRAP_UNINITIALIZED_ELEMENT", u64::from(status(TrapCode::UninitializedElement))),
        ("ZVM_TRAP_INDIRECT_CALL_TYPE", u64::from(status(TrapCode::IndirectCallTypeMismatch))),
    ];
    let exe = link_aarch64(dir, name, module, DRIVER_C, &defines);
    // Signature classes: equal signatures, equal classes.
    let sigs: Vec<&zvm_ir::Signature> = module.functions.iter().map(|f| &f.sig).chain(&module.types).collect();
    let class = |s: &zvm_ir::Signature| sigs.iter().position(|t| *t == s).unwrap();
    let mut text = format!("{max_depth} {table_size} {} {}\n", module.functions.len(), module.types.len());
    for f in &module.functions {
        text += &format!("{} ", class(&f.sig));
    }
    text.push('\n');
    for t in &module.types {
        text += &format!("{} ", class(t));
    }
    text.push('\n');
    for s in steps {
        text += &driver_line(s.func, &s.args, s.nresults);
    }
    run_under_qemu(&exe, &text, steps.len())
}

/// `call_indirect` (dispatchers, the depth limit, every trap) on aarch64 (emulated), against the interpreter
/// on the same steps. Needs `aarch64-linux-gnu-gcc` (with the arm64 libc) and `qemu-aarch64`; without them
/// it prints `SKIPPED` and passes, unless `CI` is set.
#[test]
fn call_indirect_on_aarch64_matches_the_interpreter() {
    let Some(dir) = aarch64_dir("tables") else { return };

    // CALLS without `table.init`/`table.grow` (the driver has neither): the table is filled with `%set`.
    let module = parse(CALLS);
    let n = module.functions.len() as u64;
    let mut rng = Rng(0x5eed_aa64);
    let mut steps: Vec<Step> = (0..6).map(|i| step(SET, &[i, i + 1], 0)).collect();
    steps.push(step(SET, &[9, 4], 0));
    steps.push(step(SET, &[10, 4], 0)); // out of bounds
    for _ in 0..400 {
        if rng.below(8) == 0 {
            let r = rng.pick(&[0, 1, 2, 3, 4, 5, 6, 7, n, u64::MAX]);
            steps.push(step(SET, &[rng.below(10), r], 0));
            continue;
        }
        let caller = rng.pick(&[BINARY, BINARY_ALIAS, MIXED_OF, NULLARY, WIDE_OF, UNUSED].map(u64::from)) as u32;
        let index = rng.pick(&[0, 1, 2, 3, 4, 5, 6, 7, 9, 10, u64::MAX]);
        let floats = [0.0f64, -0.0, 1.5, f64::INFINITY, f64::NAN, 5e-324].map(f64::to_bits);
        let (a, b) =
            if caller == MIXED_OF { (rng.next() & 0xffff_ffff, rng.pick(&floats)) } else { (rng.next(), rng.next()) };
        let nresults = match caller {
            MIXED_OF | WIDE_OF => 3,
            UNUSED => 0,
            _ => 1,
        };
        let args = if caller == NULLARY || caller == UNUSED { vec![index] } else { vec![index, a, b] };
        steps.push(step(caller, &args, nresults));
    }
    steps.push(step(SWAP, &[100, 1], 2));
    let limits = Limits::default();
    let interp = run_on(&module, &limits, GAS, &tiers(&module).remove(0).code, &steps);
    let got = run_on_aarch64(&dir, "calls", &module, limits.max_call_depth, 10, &steps);
    for (i, (o, (status, gas, results))) in interp.outcomes.iter().zip(&got).enumerate() {
        assert_eq!(
            (*status, *gas, results),
            (expected_status(o.exit), o.gas_used, &o.results),
            "step {i}: {:?}",
            steps[i]
        );
    }

    // Recursion through the table up to the depth limit. `%set` (fn3) fills the table.
    let module = parse(&format!(
        "{DEPTH}function %set(i64, i64) {{\nblock0(v0: i64, v1: i64):\n    table.set 0 v0, v1\n    return\n}}\n"
    ));
    let max = 16;
    let mut steps = vec![step(0, &[3], 1), step(3, &[0, 1], 0)];
    for n in [0, 1, 15, 16, 17, 100] {
        steps.push(step(0, &[n], 1));
    }
    let limits = Limits { max_call_depth: max, ..Limits::default() };
    let interp = run_on(&module, &limits, GAS, &tiers(&module).remove(0).code, &steps);
    let got = run_on_aarch64(&dir, "depth", &module, max, 1, &steps);
    for (i, (o, (status, gas, results))) in interp.outcomes.iter().zip(&got).enumerate() {
        assert_eq!(
            (*status, *gas, results),
            (expected_status(o.exit), o.gas_used, &o.results),
            "depth step {i}: {:?}",
            steps[i]
        );
    }
    assert_eq!(interp.outcomes[6].exit, Some(Exit::Trap(TrapCode::CallStackExhausted)));
    let _ = std::fs::remove_dir_all(&dir);
}
