//! The interpreter on WebAssembly tables: `table.get/set/size/grow/fill/copy/init`, `elem.drop` and
//! `call_indirect`. Modules are written in the IR text form; expected values come from a plain `Vec` model of
//! the tables and the WebAssembly rules, never from the interpreter.

use zvm_ir::{text, verify::verify_module, FuncId, Module, TrapCode};
use zvm_runtime::executor::Tier;
use zvm_runtime::frame::Instance;
use zvm_runtime::interpreter::{self, Program};
use zvm_runtime::schedule::ZvmCosts;
use zvm_runtime::vm::Vm;
use zvm_runtime::{compiled, Exit, Frame, InMemoryHost, Limits, Message};

// ---- harness --------------------------------------------------------------------------------------------

const GAS: u64 = 1_000_000;
const MINUS_ONE: u64 = u64::MAX;

/// Parses and verifies a module. Unless `src` names its entry, an empty entry function is added after the
/// functions of `src`, which keep their indices.
fn module(src: &str) -> Module {
    let src = if src.contains("entry fn") {
        src.to_string()
    } else {
        let n = src.matches("function %").count();
        format!("entry fn{n}\n{src}\nfunction %start() {{\nblock0:\n    return\n}}\n")
    };
    let m = text::parse(&src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    verify_module(&m).unwrap_or_else(|e| panic!("{e}\n{src}"));
    m
}

/// One execution: a frame with a fresh instance of `module` attached, handed to `f` with the program.
fn with_frame<R>(module: &Module, limits: &Limits, f: impl FnOnce(&Program, &mut Frame<'_>) -> R) -> R {
    let program = Program::new(module);
    let msg = Message { gas_limit: GAS, ..Message::default() };
    let mut host = InMemoryHost::new();
    let vm = Vm::new(Tier::Interp, limits.clone());
    let mut frame = Frame::new(&msg, &[], &mut host, &vm, &ZvmCosts, &compiled::HELPERS);
    frame.attach(module, Instance::new(module, limits).expect("the initial tables fit"));
    f(&program, &mut frame)
}

/// Invokes function `func` with `args`, returning its first `nresults` results.
fn call(program: &Program, frame: &mut Frame<'_>, func: u32, args: &[u64], nresults: usize) -> Result<Vec<u64>, Exit> {
    let mut values = vec![0u64; args.len().max(nresults)];
    values[..args.len()].copy_from_slice(args);
    match interpreter::invoke(program, frame, FuncId(func), &mut values) {
        None => Ok(values[..nresults].to_vec()),
        Some(exit) => Err(exit),
    }
}

fn trap<T>(code: TrapCode) -> Result<T, Exit> {
    Err(Exit::Trap(code))
}

/// Accessors of table `t` every test module starts with (`t` tables: functions `4t .. 4t+3`).
fn accessors(tables: u32) -> String {
    let mut s = String::new();
    for t in 0..tables {
        s += &format!(
            "
function %get{t}(i64) -> i64 {{
block0(v0: i64):
    v1 = table.get {t} v0
    return v1
}}
function %set{t}(i64, i64) {{
block0(v0: i64, v1: i64):
    table.set {t} v0, v1
    return
}}
function %size{t}() -> i64 {{
block0:
    v0 = table.size {t}
    return v0
}}
function %grow{t}(i64, i64) -> i64 {{
block0(v0: i64, v1: i64):
    v2 = table.grow {t} v0, v1
    return v2
}}
"
        );
    }
    s
}

/// Function indices of the [`accessors`] of table `t`.
const fn get(t: u32) -> u32 {
    4 * t
}
const fn set(t: u32) -> u32 {
    4 * t + 1
}
const fn size(t: u32) -> u32 {
    4 * t + 2
}
const fn grow(t: u32) -> u32 {
    4 * t + 3
}

/// The whole of table `t`, read element by element.
fn contents(p: &Program, f: &mut Frame<'_>, t: u32) -> Vec<u64> {
    let n = call(p, f, size(t), &[], 1).unwrap()[0];
    (0..n).map(|i| call(p, f, get(t), &[i], 1).unwrap()[0]).collect()
}

/// Sets table `t` to `values` (its size must be theirs).
fn fill_with(p: &Program, f: &mut Frame<'_>, t: u32, values: &[u64]) {
    for (i, &v) in values.iter().enumerate() {
        call(p, f, set(t), &[i as u64, v], 0).unwrap();
    }
}

/// A model's `[start, start+len)` when inside a sequence of `size`, as the WebAssembly bounds rule says (an
/// empty range may start at the end, not past it).
fn in_bounds(start: u64, len: u64, size: usize) -> Option<std::ops::Range<usize>> {
    let end = start.checked_add(len)?;
    (end <= size as u64).then_some(start as usize..end as usize)
}

// ---- get, set, size, grow -------------------------------------------------------------------------------

#[test]
fn get_set_size() {
    let m = module(&format!("table 3\ntable 0, 4\n{}", accessors(2)));
    with_frame(&m, &Limits::default(), |p, f| {
        assert_eq!(contents(p, f, 0), [0, 0, 0], "a table starts with null elements");
        assert_eq!(contents(p, f, 1), Vec::<u64>::new());
        call(p, f, set(0), &[1, 42], 0).unwrap();
        call(p, f, set(0), &[2, u64::MAX], 0).unwrap();
        assert_eq!(contents(p, f, 0), [0, 42, u64::MAX]);
        for index in [3, 4, 1 << 32, u64::MAX] {
            assert_eq!(call(p, f, get(0), &[index], 1), trap(TrapCode::TableOutOfBounds), "get {index}");
            assert_eq!(call(p, f, set(0), &[index, 7], 0), trap(TrapCode::TableOutOfBounds), "set {index}");
            assert_eq!(call(p, f, get(1), &[index - 3], 1), trap(TrapCode::TableOutOfBounds), "get {index}");
        }
        assert_eq!(contents(p, f, 0), [0, 42, u64::MAX], "a set out of bounds writes nothing");
    });
}

#[test]
fn grow_to_the_maximum_and_the_limit() {
    let m = module(&format!("table 2, 5\ntable 1\n{}", accessors(2)));
    let limits = Limits { max_table_elements: 10, ..Limits::default() };
    with_frame(&m, &limits, |p, f| {
        // Table 0: 2 of at most 5.
        assert_eq!(call(p, f, grow(0), &[9, 0], 1), Ok(vec![2]), "growing by 0 gives the size");
        assert_eq!(call(p, f, grow(0), &[9, 2], 1), Ok(vec![2]));
        assert_eq!(contents(p, f, 0), [0, 0, 9, 9], "new elements hold the value");
        assert_eq!(call(p, f, grow(0), &[8, 2], 1), Ok(vec![MINUS_ONE]), "past the maximum");
        assert_eq!(call(p, f, grow(0), &[8, u64::MAX], 1), Ok(vec![MINUS_ONE]), "size + delta overflows");
        assert_eq!(call(p, f, grow(0), &[8, 1], 1), Ok(vec![4]), "exactly to the maximum");
        assert_eq!(contents(p, f, 0), [0, 0, 9, 9, 8]);
        assert_eq!(call(p, f, grow(0), &[8, 1], 1), Ok(vec![MINUS_ONE]));
        assert_eq!(call(p, f, grow(0), &[8, 0], 1), Ok(vec![5]));

        // Table 1 has no maximum, but both tables together hold at most 10 elements: 5 + 1 now.
        assert_eq!(call(p, f, grow(1), &[3, 5], 1), Ok(vec![MINUS_ONE]));
        assert_eq!(call(p, f, size(1), &[], 1), Ok(vec![1]), "a failed grow changes nothing");
        assert_eq!(call(p, f, grow(1), &[3, 4], 1), Ok(vec![1]));
        assert_eq!(contents(p, f, 1), [0, 3, 3, 3, 3]);
        assert_eq!(call(p, f, grow(1), &[3, 1], 1), Ok(vec![MINUS_ONE]));
        assert_eq!(call(p, f, grow(1), &[3, 0], 1), Ok(vec![5]), "growing by 0 at the limit");
    });
}

#[test]
fn grow_past_the_default_limit() {
    let m = module(&format!("table 0\n{}", accessors(1)));
    let limit = Limits::default().max_table_elements;
    with_frame(&m, &Limits::default(), |p, f| {
        assert_eq!(call(p, f, grow(0), &[1, limit + 1], 1), Ok(vec![MINUS_ONE]));
        assert_eq!(call(p, f, grow(0), &[1, limit - 1], 1), Ok(vec![0]));
        assert_eq!(call(p, f, grow(0), &[1, 2], 1), Ok(vec![MINUS_ONE]));
        assert_eq!(call(p, f, grow(0), &[1, 1], 1), Ok(vec![limit - 1]));
        assert_eq!(call(p, f, size(0), &[], 1), Ok(vec![limit]));
        assert_eq!(call(p, f, get(0), &[limit - 1], 1), Ok(vec![1]));
        assert_eq!(call(p, f, get(0), &[limit], 1), trap(TrapCode::TableOutOfBounds));
    });
}

#[test]
fn unused_results_table_get_still_traps_table_size_goes() {
    let src = |body: &str| {
        module(&format!(
            "table 2\nfunction %f(i64) {{\nblock0(v0: i64):\n{body}    return\n}}\nfunction %g(i64, i64) -> i64 {{\n\
             block0(v0: i64, v1: i64):\n    v2 = table.grow 0 v0, v1\n    return v1\n}}\n{}",
            accessors(1)
        ))
    };
    let get = src("    v1 = table.get 0 v0\n");
    with_frame(&get, &Limits::default(), |p, f| {
        assert_eq!(call(p, f, 0, &[1], 0), Ok(vec![]));
        assert_eq!(call(p, f, 0, &[2], 0), trap(TrapCode::TableOutOfBounds), "an unused table.get still traps");
        // An unused table.grow still grows.
        assert_eq!(call(p, f, 1, &[5, 3], 1), Ok(vec![3]));
        assert_eq!(call(p, f, 4, &[], 1), Ok(vec![5]));
        assert_eq!(call(p, f, 2, &[4], 1), Ok(vec![5]));
    });
    // An unused table.size emits nothing.
    let size = src("    v1 = table.size 0\n");
    let nothing = src("");
    assert_eq!(Program::new(&size).code_len(), Program::new(&nothing).code_len());
}

// ---- fill, copy, init, elem.drop ------------------------------------------------------------------------

const FILL: &str = "
function %fill(i64, i64, i64) {
block0(v0: i64, v1: i64, v2: i64):
    table.fill 0 v0, v1, v2
    return
}
";

#[test]
fn fill_bounds() {
    let m = module(&format!("table 8\n{}{FILL}", accessors(1)));
    let fill = 4;
    with_frame(&m, &Limits::default(), |p, f| {
        let mut model = vec![0u64; 8];
        let cases: &[(u64, u64, u64)] = &[
            (0, 7, 8),
            (2, 5, 3),
            (7, 6, 1),
            (8, 4, 0),
            (9, 4, 0),
            (7, 4, 2),
            (0, 4, 9),
            (3, 4, u64::MAX),
            (u64::MAX, 4, 1),
            (u64::MAX, 4, 0),
            (1 << 32, 4, 0),
            (0, 3, 0),
        ];
        for &(d, v, n) in cases {
            let got = call(p, f, fill, &[d, v, n], 0);
            match in_bounds(d, n, model.len()) {
                Some(range) => {
                    assert_eq!(got, Ok(vec![]), "fill {d}, {v}, {n}");
                    model[range].fill(v);
                }
                None => assert_eq!(got, trap(TrapCode::TableOutOfBounds), "fill {d}, {v}, {n}"),
            }
            assert_eq!(contents(p, f, 0), model, "after fill {d}, {v}, {n}");
        }
    });
}

#[test]
fn copy_within_and_between_tables() {
    let m = module(&format!(
        "table 10\ntable 4\n{}
function %copy00(i64, i64, i64) {{
block0(v0: i64, v1: i64, v2: i64):
    table.copy 0 0 v0, v1, v2
    return
}}
function %copy01(i64, i64, i64) {{
block0(v0: i64, v1: i64, v2: i64):
    table.copy 0 1 v0, v1, v2
    return
}}
function %copy10(i64, i64, i64) {{
block0(v0: i64, v1: i64, v2: i64):
    table.copy 1 0 v0, v1, v2
    return
}}
",
        accessors(2)
    ));
    let (copy00, copy01, copy10) = (8, 9, 10);
    with_frame(&m, &Limits::default(), |p, f| {
        let mut t0: Vec<u64> = (1..=10).collect();
        let mut t1: Vec<u64> = vec![100, 200, 300, 400];
        fill_with(p, f, 0, &t0);
        fill_with(p, f, 1, &t1);
        let same: &[(u64, u64, u64)] = &[
            (2, 0, 5),  // forwards, overlapping
            (0, 3, 6),  // backwards, overlapping
            (4, 5, 5),  // to the end
            (5, 4, 5),  // from the end
            (1, 1, 9),  // onto itself
            (10, 0, 0), // empty at the end
            (0, 10, 0),
            (11, 0, 0), // empty past the end
            (0, 11, 0),
            (6, 0, 5),
            (0, 6, 5),
            (0, 0, 11),
            (u64::MAX, 0, 2),
            (0, u64::MAX, 2),
            (3, 2, u64::MAX),
        ];
        for &(d, s, n) in same {
            let got = call(p, f, copy00, &[d, s, n], 0);
            match (in_bounds(s, n, t0.len()), in_bounds(d, n, t0.len())) {
                (Some(src), Some(dst)) => {
                    assert_eq!(got, Ok(vec![]), "copy 0 0 {d}, {s}, {n}");
                    t0.copy_within(src, dst.start);
                }
                _ => assert_eq!(got, trap(TrapCode::TableOutOfBounds), "copy 0 0 {d}, {s}, {n}"),
            }
            assert_eq!(contents(p, f, 0), t0, "after copy 0 0 {d}, {s}, {n}");
        }
        // Between tables, both ways.
        let across: &[(u32, u64, u64, u64)] = &[
            (copy01, 6, 0, 4),
            (copy01, 7, 0, 4),
            (copy01, 0, 1, 3),
            (copy01, 0, 2, 3),
            (copy01, 10, 4, 0),
            (copy01, 10, 5, 0),
            (copy10, 0, 6, 4),
            (copy10, 1, 0, 3),
            (copy10, 1, 0, 4),
            (copy10, 4, 10, 0),
            (copy10, 5, 10, 0),
            (copy10, 4, 11, 0),
        ];
        for &(func, d, s, n) in across {
            let (src, dst) = if func == copy01 { (&t1, &t0) } else { (&t0, &t1) };
            let got = call(p, f, func, &[d, s, n], 0);
            match (in_bounds(s, n, src.len()), in_bounds(d, n, dst.len())) {
                (Some(sr), Some(dr)) => {
                    assert_eq!(got, Ok(vec![]), "fn{func} {d}, {s}, {n}");
                    let items = src[sr].to_vec();
                    let dst = if func == copy01 { &mut t0 } else { &mut t1 };
                    dst[dr].copy_from_slice(&items);
                }
                _ => assert_eq!(got, trap(TrapCode::TableOutOfBounds), "fn{func} {d}, {s}, {n}"),
            }
            assert_eq!(contents(p, f, 0), t0, "after fn{func} {d}, {s}, {n}");
            assert_eq!(contents(p, f, 1), t1, "after fn{func} {d}, {s}, {n}");
        }
    });
}

#[test]
fn init_bounds_and_elem_drop() {
    let segs: [Vec<u64>; 3] = [vec![1, 2, 0], vec![5, 6, 7, 8], vec![]];
    let m = module(&format!(
        "table 6\nelem [1, 2, 0]\nelem [5, 6, 7, 8]\nelem []\n{}
function %init0(i64, i64, i64) {{
block0(v0: i64, v1: i64, v2: i64):
    table.init 0 0 v0, v1, v2
    return
}}
function %init1(i64, i64, i64) {{
block0(v0: i64, v1: i64, v2: i64):
    table.init 0 1 v0, v1, v2
    return
}}
function %init2(i64, i64, i64) {{
block0(v0: i64, v1: i64, v2: i64):
    table.init 0 2 v0, v1, v2
    return
}}
function %drop0() {{
block0:
    elem.drop 0
    return
}}
function %drop1() {{
block0:
    elem.drop 1
    return
}}
",
        accessors(1)
    ));
    let init = |seg: usize| 4 + seg as u32;
    let drop = |seg: usize| 7 + seg as u32;
    with_frame(&m, &Limits::default(), |p, f| {
        let mut table = vec![0u64; 6];
        let mut dropped = [false; 3];
        let mut check = |p: &Program, f: &mut Frame<'_>, seg: usize, d: u64, s: u64, n: u64, dropped: &[bool]| {
            let elems: &[u64] = if dropped[seg] { &[] } else { &segs[seg] };
            let got = call(p, f, init(seg), &[d, s, n], 0);
            match (in_bounds(s, n, elems.len()), in_bounds(d, n, table.len())) {
                (Some(src), Some(dst)) => {
                    assert_eq!(got, Ok(vec![]), "init {seg} {d}, {s}, {n}");
                    table[dst].copy_from_slice(&elems[src]);
                }
                _ => assert_eq!(got, trap(TrapCode::TableOutOfBounds), "init {seg} {d}, {s}, {n}"),
            }
            assert_eq!(contents(p, f, 0), table, "after init {seg} {d}, {s}, {n}");
        };
        let cases: &[(usize, u64, u64, u64)] = &[
            (1, 0, 0, 4),
            (0, 3, 0, 3),
            (1, 4, 2, 2),
            (1, 5, 2, 2), // past the table
            (1, 0, 3, 2), // past the segment
            (0, 0, 3, 0), // empty at the segment's end
            (0, 0, 4, 0), // empty past the segment's end
            (0, 6, 0, 0), // empty at the table's end
            (0, 7, 0, 0), // empty past the table's end
            (2, 0, 0, 0),
            (2, 0, 0, 1),
            (2, 0, 1, 0),
            (0, u64::MAX, 0, 1),
            (0, 0, u64::MAX, 1),
            (1, 1, 1, u64::MAX),
        ];
        for &(seg, d, s, n) in cases {
            check(p, f, seg, d, s, n, &dropped);
        }
        // A dropped segment is empty: only empty ranges at 0 are left. The other one is still whole.
        call(p, f, drop(0), &[], 0).unwrap();
        dropped[0] = true;
        for &(seg, d, s, n) in &[(0, 0, 0, 0), (0, 6, 0, 0), (0, 0, 0, 1), (0, 0, 1, 0), (1, 1, 0, 4), (1, 2, 1, 3)] {
            check(p, f, seg, d, s, n, &dropped);
        }
        // Dropping twice is allowed.
        call(p, f, drop(0), &[], 0).unwrap();
        call(p, f, drop(1), &[], 0).unwrap();
        dropped[1] = true;
        for &(seg, d, s, n) in &[(1, 0, 0, 0), (1, 0, 0, 1), (0, 0, 0, 1), (0, 3, 0, 0)] {
            check(p, f, seg, d, s, n, &dropped);
        }
    });
}

// ---- call_indirect --------------------------------------------------------------------------------------

/// Types: 0 = (i64, i64) -> i64, 1 = (i32) -> i32, i64, 2 = () -> i64, 3 = type 0 again. Table 0 of 8, from
/// segment 0 by `%setup`: [fn0, fn1, fn2, fn3, null, null, null, null].
const DISPATCH: &str = "
type (i64, i64) -> i64
type (i32) -> i32, i64
type () -> i64
type (i64, i64) -> i64
table 8
elem [1, 2, 3, 4]
function %add(i64, i64) -> i64 {
block0(v0: i64, v1: i64):
    v2 = add v0, v1
    return v2
}
function %sub(i64, i64) -> i64 {
block0(v0: i64, v1: i64):
    v2 = sub v0, v1
    return v2
}
function %pair(i32) -> i32, i64 {
block0(v0: i32):
    v1 = iconst.i32 3
    v2 = mul v0, v1
    v3 = sext.i64 v0
    return v2, v3
}
function %seven() -> i64 {
block0:
    v0 = iconst.i64 7
    return v0
}
function %setup() {
block0:
    v0 = iconst.i64 0
    v1 = iconst.i64 4
    table.init 0 0 v0, v0, v1
    return
}
function %binary(i64, i64, i64) -> i64 {
block0(v0: i64, v1: i64, v2: i64):
    v3 = call_indirect 0 0 v0(v1, v2)
    return v3
}
function %binary_alias(i64, i64, i64) -> i64 {
block0(v0: i64, v1: i64, v2: i64):
    v3 = call_indirect 3 0 v0(v1, v2)
    return v3
}
function %pair_of(i64, i32) -> i32, i64 {
block0(v0: i64, v1: i32):
    v2, v3 = call_indirect 1 0 v0(v1)
    return v2, v3
}
function %nullary(i64) -> i64 {
block0(v0: i64):
    v1 = call_indirect 2 0 v0()
    return v1
}
function %unused(i64) {
block0(v0: i64):
    v1 = call_indirect 2 0 v0()
    return
}
function %set(i64, i64) {
block0(v0: i64, v1: i64):
    table.set 0 v0, v1
    return
}
";

const SETUP: u32 = 4;
const BINARY: u32 = 5;
const BINARY_ALIAS: u32 = 6;
const PAIR_OF: u32 = 7;
const NULLARY: u32 = 8;
const UNUSED: u32 = 9;
const SET: u32 = 10;

#[test]
fn call_indirect_calls_the_element() {
    let m = module(DISPATCH);
    with_frame(&m, &Limits::default(), |p, f| {
        call(p, f, SETUP, &[], 0).unwrap();
        assert_eq!(call(p, f, BINARY, &[0, 7, 5], 1), Ok(vec![12]));
        assert_eq!(call(p, f, BINARY, &[1, 7, 5], 1), Ok(vec![2]));
        assert_eq!(call(p, f, BINARY, &[1, 5, 7], 1), Ok(vec![(-2i64) as u64]));
        // Signatures are compared, not type indices.
        assert_eq!(call(p, f, BINARY_ALIAS, &[1, 10, 4], 1), Ok(vec![6]));
        // Several results.
        let x = -5i32;
        assert_eq!(
            call(p, f, PAIR_OF, &[2, u64::from(x as u32)], 2),
            Ok(vec![u64::from((x * 3) as u32), x as i64 as u64])
        );
        assert_eq!(call(p, f, NULLARY, &[3], 1), Ok(vec![7]));
        // The table can change between calls.
        call(p, f, SET, &[6, 1], 0).unwrap();
        assert_eq!(call(p, f, BINARY, &[6, 7, 5], 1), Ok(vec![12]));
        call(p, f, SET, &[6, 2], 0).unwrap();
        assert_eq!(call(p, f, BINARY, &[6, 7, 5], 1), Ok(vec![2]));
        assert_eq!(f.ctx.call_depth, 0);
    });
}

#[test]
fn call_indirect_traps() {
    let m = module(DISPATCH);
    with_frame(&m, &Limits::default(), |p, f| {
        call(p, f, SETUP, &[], 0).unwrap();
        // Wrong signatures.
        for index in [2, 3] {
            assert_eq!(call(p, f, BINARY, &[index, 1, 2], 1), trap(TrapCode::IndirectCallTypeMismatch), "{index}");
        }
        for index in [0, 1, 3] {
            assert_eq!(call(p, f, PAIR_OF, &[index, 1], 2), trap(TrapCode::IndirectCallTypeMismatch), "{index}");
        }
        assert_eq!(call(p, f, NULLARY, &[0], 1), trap(TrapCode::IndirectCallTypeMismatch));
        // Null, and past the end (before any signature check).
        for index in 4..8 {
            assert_eq!(call(p, f, BINARY, &[index, 1, 2], 1), trap(TrapCode::UninitializedElement), "{index}");
            assert_eq!(call(p, f, NULLARY, &[index], 1), trap(TrapCode::UninitializedElement), "{index}");
        }
        for index in [8, 9, 1 << 32, u64::MAX] {
            assert_eq!(call(p, f, BINARY, &[index, 1, 2], 1), trap(TrapCode::UndefinedElement), "{index}");
            assert_eq!(call(p, f, PAIR_OF, &[index, 1], 2), trap(TrapCode::UndefinedElement), "{index}");
        }
        // References that name no function of the module.
        let functions = m.functions.len() as u64;
        for r in [functions + 1, functions + 2, 1 << 32, (1 << 32) + 1, 1 << 40, u64::MAX] {
            call(p, f, SET, &[5, r], 0).unwrap();
            assert_eq!(call(p, f, BINARY, &[5, 1, 2], 1), trap(TrapCode::IndirectCallTypeMismatch), "ref {r}");
            assert_eq!(call(p, f, NULLARY, &[5], 1), trap(TrapCode::IndirectCallTypeMismatch), "ref {r}");
        }
        // The last function of the module is the entry, `() -> ()`.
        call(p, f, SET, &[5, functions], 0).unwrap();
        assert_eq!(call(p, f, NULLARY, &[5], 1), trap(TrapCode::IndirectCallTypeMismatch));
        // An unused result does not make the call go away.
        assert_eq!(call(p, f, UNUSED, &[3], 0), Ok(vec![]));
        assert_eq!(call(p, f, UNUSED, &[4], 0), trap(TrapCode::UninitializedElement));
        assert_eq!(call(p, f, UNUSED, &[8], 0), trap(TrapCode::UndefinedElement));
        assert_eq!(call(p, f, UNUSED, &[0], 0), trap(TrapCode::IndirectCallTypeMismatch));
        assert_eq!(f.ctx.call_depth, 0);
        // Still usable after the traps.
        assert_eq!(call(p, f, BINARY, &[0, 40, 2], 1), Ok(vec![42]));
    });
}

#[test]
fn call_indirect_effects_of_an_unused_call() {
    let m = module(
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
    with_frame(&m, &Limits::default(), |p, f| {
        assert_eq!(call(p, f, 1, &[], 1), Ok(vec![2]));
        assert_eq!(call(p, f, 1, &[], 1), Ok(vec![4]));
    });
}

/// `depth(n) = n == 0 ? 0 : 1 + depth(n - 1)`, recursing through table element 0 (set by `%setup`, fn1);
/// `direct` is the same with a direct call.
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
    v6 = iconst.i64 0
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

#[test]
fn call_indirect_depth_limit() {
    let m = module(DEPTH);
    let limits = Limits { max_call_depth: 16, ..Limits::default() };
    with_frame(&m, &limits, |p, f| {
        assert_eq!(call(p, f, 0, &[5], 1), trap(TrapCode::UninitializedElement), "before the setup");
        call(p, f, 1, &[], 0).unwrap();
        assert_eq!(call(p, f, 0, &[16], 1), Ok(vec![16]));
        assert_eq!(f.ctx.call_depth, 0);
        assert_eq!(call(p, f, 0, &[17], 1), trap(TrapCode::CallStackExhausted));
        assert_eq!(f.ctx.call_depth, 0);
        assert_eq!(call(p, f, 0, &[16], 1), Ok(vec![16]));
        assert_eq!(call(p, f, 0, &[1000], 1), trap(TrapCode::CallStackExhausted));
        // The direct version has the same limit.
        assert_eq!(call(p, f, 2, &[16], 1), Ok(vec![16]));
        assert_eq!(call(p, f, 2, &[17], 1), trap(TrapCode::CallStackExhausted));
    });
    let deep = Limits { max_call_depth: 50_000, ..Limits::default() };
    with_frame(&m, &deep, |p, f| {
        call(p, f, 1, &[], 0).unwrap();
        assert_eq!(call(p, f, 0, &[50_000], 1), Ok(vec![50_000]));
        assert_eq!(call(p, f, 0, &[50_001], 1), trap(TrapCode::CallStackExhausted));
    });
}

#[test]
fn call_indirect_gas_is_that_of_the_direct_call() {
    let m = module(DEPTH);
    // Independently: n levels cost 3 + 5 + 2 each, the last one 3 + 11.
    let expected = |n: u64| n * 10 + 14;
    for n in [0, 1, 2, 10, 100] {
        let used = |func: u32| {
            with_frame(&m, &Limits::default(), |p, f| {
                call(p, f, 1, &[], 0).unwrap();
                let before = f.gas_left();
                assert_eq!(call(p, f, func, &[n], 1), Ok(vec![n]));
                before - f.gas_left()
            })
        };
        assert_eq!(used(0), expected(n), "call_indirect, n = {n}");
        assert_eq!(used(2), expected(n), "call, n = {n}");
    }
    // Running out of gas in the middle of indirect recursion (on the way back: 8 a level down, 2 up).
    let deep = Limits { max_call_depth: 200_000, ..Limits::default() };
    with_frame(&m, &deep, |p, f| {
        call(p, f, 1, &[], 0).unwrap();
        let n = GAS / 10;
        assert_eq!(call(p, f, 0, &[n], 1), Err(Exit::OutOfGas));
    });
}

#[test]
fn call_indirect_mixed_with_direct_calls_and_block_arguments() {
    // even/odd by mutual recursion: even calls odd directly, odd calls even through the table; the loop in
    // %sum calls through the table with block arguments live across the call.
    let m = module(
        "
type (i64) -> i64
table 2
elem [1, 2]
function %even(i64) -> i64 {
block0(v0: i64):
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
",
    );
    with_frame(&m, &Limits::default(), |p, f| {
        for n in [0u64, 1, 2, 7, 30] {
            // Term k calls element (k >> 1) & 1: even (1 for even k) or odd (1 for odd k).
            let expected = (1..=n).filter(|k| (k >> 1) & 1 == k & 1).count() as u64;
            assert_eq!(call(p, f, 2, &[n], 1), Ok(vec![expected]), "sum {n}");
        }
    });
}
