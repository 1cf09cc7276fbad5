//! Tests of the verifier: valid examples, and one test per kind of error with the exact message expected.
//! Most bad functions are written in the text form; structural damage the parser cannot express (dangling
//! handles, misplaced definitions) is made by editing a function's arenas directly.

use zvm_ir::builder::build_function;
use zvm_ir::text::{parse, print};
use zvm_ir::verify::{verify_function, verify_module, VerifierIssue};
use zvm_ir::{
    BinOp, Block, BlockCall, ConvOp, FuncId, Function, FunctionBuilder, Inst, Module, Op, Signature, Type, Value, U256,
};

fn issues_of(module: &Module) -> Vec<VerifierIssue> {
    match verify_module(module) {
        Ok(()) => Vec::new(),
        Err(e) => e.issues,
    }
}

fn messages(module: &Module) -> Vec<String> {
    issues_of(module).into_iter().map(|i| i.message).collect()
}

/// Parses `src` and asserts the verifier reports exactly the messages `expected`, in order.
#[track_caller]
fn assert_issues(src: &str, expected: &[&str]) {
    let module = parse(src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    assert_eq!(messages(&module), expected, "for\n{src}");
}

/// `body` as the instructions of the entry block of `function %f()`.
fn body(insts: &str) -> String {
    format!("function %f() {{\nblock0:\n{insts}\n}}\n")
}

#[track_caller]
fn assert_body_issues(insts: &str, expected: &[&str]) {
    assert_issues(&body(insts), expected);
}

// ---- valid examples -------------------------------------------------------------------------------------

#[test]
fn valid_loop_with_block_params() {
    let src = "\
function %main() {
block0:
    v0 = iconst.i64 10
    v1 = wconst 0
    jump block1(v1, v0)
block1(v2: w256, v3: i64):
    v4 = eqz v3
    brif v4, block3, block2
block2:
    v5 = wconst 3
    v6 = add v2, v5
    v7 = iconst.i64 1
    v8 = sub v3, v7
    jump block1(v6, v8)
block3:
    v9 = iconst.i64 0
    store.32.be v9, v2
    v10 = iconst.i64 32
    halt return v9, v10
}
";
    verify_module(&parse(src).unwrap()).unwrap();
}

#[test]
fn valid_calls_switch_and_unreachable_blocks() {
    let src = "\
function %main() {
block0:
    v0 = iconst.i64 2
    v1 = wconst 7
    v2, v3 = call fn1(v0, v1)
    switch v2, [0: block1, 1: block2], block1
block1:
    return
block2:
    v4 = satu64 v3
    v5 = hostcall sload v3
    hostcall log1 v4, v4, v5
    trap unreachable
block3:
    ; unreachable: may use values that do not dominate it
    v6 = add v3, v5
    jump block3
}

function %helper(i64, w256) -> i64, w256 {
block0(v0: i64, v1: w256):
    v2 = zext.w256 v0
    v3 = addmod v1, v2, v1
    return v0, v3
}
";
    verify_module(&parse(src).unwrap()).unwrap();
}

#[test]
fn valid_builder_function() {
    let func = build_function("f", Signature { params: vec![], results: vec![Type::W256] }, |b| {
        let a = b.wconst(U256::from(5u8));
        let c = b.binary(BinOp::Exp, a, a);
        b.ins(Op::Return { args: vec![c] });
    });
    verify_module(&Module::single(func)).unwrap();
}

// ---- module and function structure ------------------------------------------------------------------------

#[test]
fn entry_function_missing() {
    assert_issues(
        "entry fn3\nfunction %f() {\nblock0:\n    return\n}\n",
        &["entry function fn3 does not exist (the module has 1 function(s))"],
    );
}

#[test]
fn entry_function_with_params() {
    assert_issues(
        "function %f(i64) {\nblock0(v0: i64):\n    return\n}\n",
        &["the entry function must not take parameters, but takes (i64)"],
    );
    // The same function is fine as a non-entry function.
    let module = parse("function %f(i64) {\nblock0(v0: i64):\n    return\n}\n").unwrap();
    verify_function(&module, &module.functions[0]).unwrap();
}

#[test]
fn function_without_blocks() {
    assert_issues("function %f() {\n}\n", &["the function has no blocks (it needs an entry block)"]);
}

#[test]
fn entry_block_params_differ_from_signature() {
    let src = "\
function %main() {
block0:
    return
}

function %g(i64, w256) {
block0(v0: i64):
    return
}
";
    assert_issues(src, &["entry block parameters (i64) do not match the signature's parameters (i64, w256)"]);
}

#[test]
fn empty_block() {
    assert_issues(
        "function %f() {\nblock0:\n    jump block1\nblock1:\n}\n",
        &["the block is empty (it must end with a terminator)"],
    );
}

#[test]
fn block_without_terminator() {
    assert_body_issues("    v0 = wconst 1", &["the block does not end with a terminator"]);
}

#[test]
fn terminator_in_the_middle() {
    assert_body_issues("    return\n    v0 = wconst 1\n    return", &["terminator in the middle of the block"]);
}

// ---- damaged arenas (built directly) ----------------------------------------------------------------------

fn simple() -> Function {
    build_function("f", Signature::default(), |b| {
        let v = b.wconst(U256::from(1u8));
        b.ins(Op::HostCall { func: zvm_ir::HostFn::SStore, args: vec![v, v] });
        b.ins(Op::Return { args: vec![] });
    })
}

#[track_caller]
fn assert_func_issues(func: Function, expected: &[&str]) {
    let module = Module::single(func);
    assert_eq!(messages(&module), expected, "for\n{}", print(&module));
}

#[test]
fn operand_does_not_exist() {
    let mut func = simple();
    func.insts[1].op = Op::HostCall { func: zvm_ir::HostFn::SStore, args: vec![Value(0), Value(42)] };
    assert_func_issues(func, &["operand v42 does not exist"]);
}

#[test]
fn operand_defined_outside_the_layout() {
    let mut func = simple();
    let stray = func.create_inst(Op::Wconst { imm: U256::ZERO }, &[Type::W256]);
    let v = func.inst(stray).results[0];
    func.insts[1].op = Op::HostCall { func: zvm_ir::HostFn::SStore, args: vec![v, v] };
    assert_func_issues(func, &["operand v1 is not defined: its definition (result 0 of inst3) is not in the layout"]);
}

#[test]
fn instruction_placed_twice() {
    let mut func = simple();
    func.blocks[0].insts.insert(1, Inst(0));
    assert_func_issues(func, &["the instruction is placed twice (also in block0)"]);
}

#[test]
fn instruction_does_not_exist() {
    let mut func = simple();
    func.blocks[0].insts.insert(0, Inst(17));
    assert_func_issues(func, &["instruction inst17 does not exist"]);
}

#[test]
fn parameter_listed_in_the_wrong_place() {
    let mut func = simple();
    let b1 = func.add_block();
    let p = func.add_block_param(b1, Type::I64);
    let ret = func.create_inst(Op::Return { args: vec![] }, &[]);
    func.blocks[b1.index()].insts.push(ret);
    // The parameter of block1 is also listed as a parameter of the entry block; the entry block's
    // signature (no parameters) no longer matches either.
    func.blocks[0].params.push(p);
    assert_func_issues(
        func,
        &[
            "entry block parameters (i64) do not match the signature's parameters ()",
            "v1 is listed as parameter 0 of block0 but is defined as parameter 0 of block1",
        ],
    );
}

#[test]
fn parameter_does_not_exist() {
    let mut func = simple();
    let b1 = func.add_block();
    func.blocks[b1.index()].params.push(Value(99));
    let ret = func.create_inst(Op::Return { args: vec![] }, &[]);
    func.blocks[b1.index()].insts.push(ret);
    assert_func_issues(func, &["parameter v99 does not exist"]);
}

#[test]
fn result_listed_in_the_wrong_place() {
    let mut func = simple();
    // The return now claims v0 (the wconst's result) as its result as well.
    func.insts[2].results.push(Value(0));
    assert_func_issues(
        func,
        &[
            "v0 is listed as result 0 but is defined as result 0 of inst0",
            "the results have types (w256), but `return` produces ()",
        ],
    );
}

#[test]
fn result_does_not_exist() {
    let mut func = simple();
    func.insts[0].results = vec![Value(50)];
    assert_func_issues(
        func,
        &[
            "result v50 does not exist",
            "operand v0 is not defined: its definition (result 0 of inst0) is not in the layout",
        ],
    );
}

#[test]
fn result_types_differ_from_inference() {
    let mut func = simple();
    func.values[0].ty = Type::I64;
    assert_func_issues(
        func,
        &[
            "the results have types (i64), but `wconst` produces (w256)",
            "argument 0 of `hostcall sstore` must be w256, got i64",
            "argument 1 of `hostcall sstore` must be w256, got i64",
        ],
    );
}

#[test]
fn branch_to_missing_block() {
    let mut func = simple();
    func.insts[2].op = Op::Jump { dest: BlockCall::new(Block(8)) };
    assert_func_issues(func, &["branch to block8, which does not exist"]);
    let mut func = simple();
    func.insts[2].op = Op::Switch { index: Value(0), cases: vec![(1, Block(5))], default: Block(0) };
    assert_func_issues(
        func,
        &["the index of `switch` must be i64, got w256", "branch to block5, which does not exist"],
    );
}

// ---- dominance ----------------------------------------------------------------------------------------

#[test]
fn use_before_definition_in_the_same_block() {
    assert_body_issues(
        "    v1 = add v0, v0\n    v0 = wconst 1\n    return",
        &["use of v0 is not dominated by its definition"],
    );
}

#[test]
fn use_of_own_result() {
    // `v0 = add v0, v0` has no inferable type, so the parser rejects it; build it by editing the arenas.
    let mut func = simple();
    func.insts[0].op = Op::Binary { op: BinOp::Add, args: [Value(0), Value(0)] };
    assert_func_issues(func, &["use of v0 is not dominated by its definition"]);
}

#[test]
fn use_from_a_sibling_branch() {
    let src = "\
function %f() {
block0:
    v0 = iconst.i32 1
    brif v0, block1, block2
block1:
    v1 = wconst 5
    jump block3
block2:
    jump block3
block3:
    v2 = eqz v1
    return
}
";
    assert_issues(src, &["use of v1 is not dominated by its definition"]);
}

#[test]
fn use_of_a_value_from_an_unreachable_block() {
    let src = "\
function %f() {
block0:
    v1 = eqz v0
    return
block1:
    v0 = wconst 5
    return
}
";
    assert_issues(src, &["use of v0 is not dominated by its definition"]);
}

#[test]
fn loop_header_dominates_the_body() {
    // A block argument passed around a back edge is fine; using the body's value in the header is not.
    let src = "\
function %f() {
block0:
    v0 = iconst.i64 0
    jump block1(v0)
block1(v1: i64):
    v9 = eqz v2
    brif v1, block2, block3
block2:
    v2 = iconst.i64 1
    v3 = add v1, v2
    jump block1(v3)
block3:
    return
}
";
    assert_issues(src, &["use of v2 is not dominated by its definition"]);
}

// ---- operand types --------------------------------------------------------------------------------------

#[test]
fn constants_of_the_wrong_type() {
    assert_body_issues(
        "    v0 = iconst.w256 1\n    v1 = fconst.i64 0\n    return",
        &["iconst must be i32 or i64, not w256", "fconst must be f32 or f64, not i64"],
    );
}

#[test]
fn unary_not_defined_for_the_type() {
    assert_body_issues("    v0 = wconst 1\n    v1 = ctz v0\n    return", &["`ctz` is not defined for w256"]);
    assert_body_issues("    v0 = fconst.f64 0\n    v1 = not v0\n    return", &["`not` is not defined for f64"]);
}

#[test]
fn binary_operands_of_different_types() {
    assert_body_issues(
        "    v0 = wconst 1\n    v1 = iconst.i64 1\n    v2 = add v0, v1\n    return",
        &["operands of `add` have different types: w256 and i64"],
    );
}

#[test]
fn binary_not_defined_for_the_type() {
    assert_body_issues(
        "    v0 = iconst.i64 1\n    v1 = exp v0, v0\n    v2 = wconst 1\n    v3 = rotl v2, v2\n    v4 = fconst.f32 0\n    v5 = mul v4, v4\n    return",
        &["`exp` is not defined for i64", "`rotl` is not defined for w256", "`mul` is not defined for f32"],
    );
}

#[test]
fn ternary_needs_words() {
    assert_body_issues(
        "    v0 = iconst.i64 1\n    v1 = wconst 1\n    v2 = addmod v1, v1, v0\n    return",
        &["operand 2 of `addmod` must be w256, got i64"],
    );
}

#[test]
fn illegal_conversions() {
    assert_body_issues(
        "    v0 = iconst.i64 1\n    v1 = zext.i32 v0\n    v2 = sext.i64 v0\n    v3 = trunc.w256 v0\n    v4 = fconst.f64 0\n    v5 = trunc.i32 v4\n    v6 = satu64 v0\n    v7 = wconst 1\n    v8 = satu64.i32 v7\n    return",
        &[
            "`zext.i32` does not convert i64 to i32",
            "`sext.i64` does not convert i64 to i64",
            "`trunc.w256` does not convert i64 to w256",
            "`trunc.i32` does not convert f64 to i32",
            "`satu64` does not convert i64 to i64",
            "`satu64.i32` does not convert w256 to i32",
        ],
    );
}

#[test]
fn select_types() {
    assert_body_issues(
        "    v0 = fconst.f64 0\n    v1 = iconst.i64 1\n    v2 = select v0, v1, v1\n    v3 = select v1, v0, v1\n    return",
        &["the condition of `select` must be an integer, got f64", "operands of `select` have different types: f64 and i64"],
    );
}

#[test]
fn load_and_store_widths_and_addresses() {
    assert_body_issues(
        "    v0 = iconst.i64 0\n    v1 = wconst 0\n    v2 = load.i32.4.le v1\n    v3 = load.i32.3.le v0\n    v4 = load.i32.8.le v0\n    v5 = load.w256.8.be v0\n    v6 = load.f64.4.le v0\n    v7 = load.w256.1s.be v0+31\n    store.2.be v0, v1\n    store.1.be v1, v1\n    return",
        &[
            "the address of `load` must be i64, got w256",
            "access width 3 is not one of 1, 2, 4, 8, 32",
            "access width 8 exceeds the 4 bytes of i32",
            "a w256 access must be 32 or 1 byte(s) wide, not 8",
            "a f64 access must be 8 bytes wide, not 4",
            "a w256 access must be 32 or 1 byte(s) wide, not 2",
            "the address of `store` must be i64, got w256",
        ],
    );
}

#[test]
fn memory_data_hash_gas_stack_and_halt_operand_types() {
    assert_body_issues(
        "    v0 = iconst.i64 0\n    v1 = wconst 0\n    mem.expand v0, v1\n    mem.copy v0, v1, v0\n    v2 = hash.sha256 v1, v0\n    v3 = data.load input v0\n    data.copy code v0, v0, v1\n    gas.charge v1\n    stack.set 0, v0\n    halt revert v0, v1",
        &[
            "the offset of `mem.expand` must be w256, got i64",
            "the source of `mem.copy` must be i64, got w256",
            "the offset of `hash.sha256` must be i64, got w256",
            "the offset of `data.load` must be w256, got i64",
            "the offset of `data.copy` must be w256, got i64",
            "the length of `data.copy` must be i64, got w256",
            "the amount of `gas.charge` must be i64, got w256",
            "the value of `stack.set` must be w256, got i64",
            "the length of `halt revert` must be i64, got w256",
        ],
    );
}

#[test]
fn brif_condition_must_be_an_integer() {
    assert_body_issues(
        "    v0 = fconst.f32 0\n    brif v0, block1, block1\nblock1:\n    return",
        &["the condition of `brif` must be an integer, got f32"],
    );
}

#[test]
fn switch_index_duplicates_and_targets_with_params() {
    assert_body_issues(
        "    v0 = wconst 0\n    v1 = iconst.i64 0\n    switch v0, [1: block1, 1: block1], block1\nblock1:\n    switch v1, [2: block2], block1\nblock2(v2: i64):\n    return",
        &[
            "the index of `switch` must be i64, got w256",
            "switch case 1 appears more than once",
            "switch target block2 takes parameters, but a switch passes no arguments",
        ],
    );
}

#[test]
fn host_call_arguments() {
    assert_body_issues(
        "    v0 = iconst.i64 0\n    v1 = wconst 0\n    hostcall sstore v1\n    hostcall log2 v0, v0, v1, v0\n    v2 = hostcall sload v0\n    hostcall log5 v0, v0, v1, v1, v1, v1, v1\n    return",
        &[
            "`hostcall sstore` takes 2 argument(s), got 1",
            "argument 3 of `hostcall log2` must be w256, got i64",
            "argument 0 of `hostcall sload` must be w256, got i64",
            "log5 has more than 4 topics",
        ],
    );
}

#[test]
fn call_arguments_and_missing_callee() {
    let src = "\
function %main() {
block0:
    v0 = iconst.i64 0
    v1, v2 = call fn1(v0)
    v3, v4 = call fn1(v0, v0)
    call fn7(v0)
    return
}

function %g(i64, w256) -> i64, w256 {
block0(v0: i64, v1: w256):
    return v0, v1
}
";
    assert_issues(
        src,
        &[
            "fn1 takes 2 argument(s), got 1",
            "argument 1 of fn1 must be w256, got i64",
            "call to fn7, which does not exist",
        ],
    );
}

#[test]
fn return_values() {
    let src = "\
function %main() {
block0:
    return
}

function %g() -> i64, w256 {
block0:
    v0 = iconst.i64 0
    brif v0, block1, block2
block1:
    return v0
block2:
    return v0, v0
}
";
    assert_issues(
        src,
        &["`return` has 1 value(s), but the function returns (i64, w256)", "return value 1 must be w256, got i64"],
    );
}

#[test]
fn block_call_arguments() {
    assert_body_issues(
        "    v0 = iconst.i64 0\n    v1 = wconst 0\n    brif v0, block1(v0), block1(v0, v0)\nblock1(v2: i64, v3: w256):\n    return",
        &["block1 takes 2 argument(s), got 1", "argument 1 of block1 must be w256, got i64"],
    );
}

// ---- reporting ------------------------------------------------------------------------------------------

#[test]
fn every_issue_is_reported_with_its_location() {
    let src = "\
function %main() {
block0:
    v0 = iconst.i64 0
    v1 = wconst 1
    v2 = add v0, v1
    jump block1
block1:
    v3 = ctz v1
}

function %\"odd name\"() {
}
";
    let module = parse(src).unwrap();
    let issues = issues_of(&module);
    assert_eq!(issues.len(), 4, "{issues:#?}");
    assert_eq!(issues[0].function.as_deref(), Some("main"));
    assert_eq!(issues[0].block, Some(Block(1)));
    assert_eq!(issues[0].inst, Some(Inst(4)));
    assert_eq!(issues[0].message, "the block does not end with a terminator");
    assert_eq!(
        issues[1].to_string(),
        "function %main, block0, inst2 `v2 = add v0, v1`: operands of `add` have different types: i64 and w256"
    );
    assert_eq!(issues[2].to_string(), "function %main, block1, inst4 `v3 = ctz v1`: `ctz` is not defined for w256");
    assert_eq!(issues[3].to_string(), "function %\"odd name\": the function has no blocks (it needs an entry block)");
    let err = verify_module(&module).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("invalid IR (4 issue(s)):\n  function %main, block1, inst4"), "{text}");
    assert_eq!(text.lines().count(), 5, "{text}");
}

#[test]
fn verify_function_uses_the_module_for_callees() {
    let module = parse(
        "function %main() {\nblock0:\n    return\n}\n\nfunction %g() -> i64 {\nblock0:\n    v0 = iconst.i64 1\n    return v0\n}\n",
    )
    .unwrap();
    let mut func = Function::new("caller", Signature { params: vec![], results: vec![Type::I64] });
    let callees = |f: FuncId| module.results_of(f);
    let mut b = FunctionBuilder::with_callees(&mut func, &callees);
    let call = b.ins(Op::Call { func: FuncId(1), args: vec![] });
    let r = b.results(call)[0];
    b.ins(Op::Return { args: vec![r] });
    verify_function(&module, &func).unwrap();
    let err = verify_function(&Module::single(func.clone()), &func).unwrap_err();
    assert_eq!(err.issues[0].message, "call to fn1, which does not exist");
}

#[test]
fn conversions_built_with_the_builder() {
    let func = build_function("f", Signature::default(), |b| {
        let w = b.wconst(U256::ZERO);
        b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: w });
        b.ins(Op::Return { args: vec![] });
    });
    assert_func_issues(func, &["`zext.w256` does not convert w256 to w256"]);
}

/// Random control-flow graphs: every block defines `vK` and uses the value of some block `J`; the verifier
/// must report exactly the uses whose definition does not dominate them, by the textbook definition (every
/// path from the entry to the use passes through the definition's block).
#[test]
fn dominance_agrees_with_the_definition_on_random_graphs() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rand = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for _ in 0..300 {
        let n = 1 + rand(12);
        let mut uses = Vec::new();
        let mut succs: Vec<Vec<usize>> = Vec::new();
        let mut src = String::from("function %f() {\n");
        for k in 0..n {
            let j = rand(n);
            uses.push(j);
            src += &format!("block{k}:\n    v{k} = iconst.i64 {k}\n    v{} = add v{k}, v{j}\n", 1000 + k);
            let s = match rand(4) {
                0 => {
                    src += "    return\n";
                    vec![]
                }
                1 => {
                    let t = rand(n);
                    src += &format!("    jump block{t}\n");
                    vec![t]
                }
                _ => {
                    let (t, e) = (rand(n), rand(n));
                    src += &format!("    brif v{k}, block{t}, block{e}\n");
                    vec![t, e]
                }
            };
            succs.push(s);
        }
        src += "}\n";
        // Blocks reachable from the entry without passing through `avoid`.
        let reach = |avoid: Option<usize>| {
            let mut seen = vec![false; n];
            if avoid == Some(0) {
                return seen;
            }
            let mut stack = vec![0];
            seen[0] = true;
            while let Some(b) = stack.pop() {
                for &s in &succs[b] {
                    if !seen[s] && Some(s) != avoid {
                        seen[s] = true;
                        stack.push(s);
                    }
                }
            }
            seen
        };
        let reachable = reach(None);
        let mut expected: Vec<(Block, String)> = Vec::new();
        for (k, &j) in uses.iter().enumerate() {
            let dominated = j == k || (reachable[j] && !reach(Some(j))[k]);
            if reachable[k] && !dominated {
                expected.push((Block(k as u32), format!("use of v{j} is not dominated by its definition")));
            }
        }
        let module = parse(&src).unwrap();
        let actual: Vec<(Block, String)> =
            issues_of(&module).into_iter().map(|i| (i.block.unwrap(), i.message)).collect();
        assert_eq!(actual, expected, "\n{src}");
    }
}
