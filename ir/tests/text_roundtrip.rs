//! Tests of the text form: exact syntax of every operation, round trips of printed modules (hand-written and
//! built with the builder), forward references, error positions, and a no-panic sweep over random input.

use zvm_ir::builder::build_function;
use zvm_ir::text::{parse, parse_function, print, print_function, print_inst};
use zvm_ir::verify::{verify_function, verify_module};
use zvm_ir::{
    BinOp, Block, BlockCall, ConvOp, DataSrc, FuncId, Function, FunctionBuilder, HaltKind, HashAlg, HostFn, Inst,
    MemAccess, Module, Op, TernOp, TrapCode, Type, UnOp, Value, U256,
};
use zvm_ir::{FBinOp, FUnOp, ModuleTypes, Signature, TablePlan, ValueDef};

/// A module in canonical form (exactly as the printer writes it) using every kind of syntax. It is also
/// valid IR.
const EVERY_FORM: &str = "\
entry fn1

function %callee(i64, w256) -> i64, w256 {  ; fn0
block0(v0: i64, v1: w256):
    return v0, v1
}

function %main() {  ; fn1
block0:
    stack.check 2, 1
    gas.block 21
    gas.cost 3
    v0 = wconst 0x2a
    v1 = wconst 0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff
    v2 = iconst.i64 -5
    v3 = iconst.i32 7
    v4 = iconst.i32 4294967295
    v5 = fconst.f64 0x3ff0000000000000  ; 1.0
    v6 = fconst.f32 0x3fc00000  ; 1.5
    v7 = not v0
    v8 = eqz v2
    v9 = eqz v0
    v10 = clz v1
    v11 = ctz v3
    v12 = popcnt v2
    v13 = add v0, v1
    v14 = sub v2, v2
    v15 = mul v3, v4
    v16 = div_u v0, v1
    v17 = div_s v0, v1
    v18 = rem_u v2, v2
    v19 = rem_s v2, v2
    v20 = and v0, v0
    v21 = or v0, v0
    v22 = xor v0, v0
    v23 = shl v0, v0
    v24 = shr_u v2, v2
    v25 = shr_s v2, v2
    v26 = rotl v3, v3
    v27 = rotr v2, v2
    v28 = eq v0, v1
    v29 = ne v2, v2
    v30 = lt_u v2, v2
    v31 = lt_s v2, v2
    v32 = gt_u v3, v3
    v33 = gt_s v3, v3
    v34 = le_u v0, v0
    v35 = le_s v0, v0
    v36 = ge_u v0, v0
    v37 = ge_s v0, v0
    v38 = exp v0, v0
    v39 = signextend v0, v1
    v40 = byte v0, v1
    v41 = addmod v0, v1, v0
    v42 = mulmod v0, v1, v0
    v43 = zext.i64 v3
    v44 = zext.w256 v2
    v45 = sext.w256 v3
    v46 = trunc.i32 v2
    v47 = satu64 v0
    v48 = select v3, v5, v5
    v49 = select v0, v0, v1
    v50 = iconst.i64 0
    mem.expand v0, v0
    v51 = load.w256.32.be v50
    v52 = load.w256.1.be v50+31
    v53 = load.i32.1s.le v50+4294967295
    v54 = load.i64.8.le v50+8
    v55 = load.f32.4.le v50
    v56 = load.f64.8.be v50
    v57 = load.i64.2s.be v50
    store.32.be v50, v0
    store.1.be v50+3, v0
    store.4.le v50+16, v3
    store.8.le v50, v5
    v58 = mem.size
    mem.copy v50, v50, v2
    v59 = hash.keccak256 v50, v2
    v60 = hash.sha256 v50, v2
    v61 = hash.ripemd160 v50, v2
    v62 = hash.blake2b256 v50, v2
    v63 = data.size input
    v64 = data.size code
    v65 = data.size returndata
    v66 = data.load input v0
    v67 = data.load code v0
    data.copy returndata v50, v0, v2
    v68 = stack.get 0
    stack.set 1, v68
    stack.adjust -2
    gas.charge v2
    v69 = gas.left
    v70 = gas.left
    v71 = hostcall sload v0
    hostcall sstore v0, v1
    v72 = hostcall tload v0
    hostcall tstore v0, v1
    v73 = hostcall balance v0
    v74 = hostcall blockhash v0
    v75 = hostcall extcodesize v0
    v76 = hostcall extcodehash v0
    hostcall extcodecopy v0, v50, v0, v2
    hostcall log0 v50, v2
    hostcall log1 v50, v2, v0
    hostcall log2 v50, v2, v0, v1
    hostcall log3 v50, v2, v0, v1, v0
    hostcall log4 v50, v2, v0, v1, v0, v1
    v77 = hostcall env.address
    v78 = hostcall env.caller
    v79 = hostcall env.origin
    v80 = hostcall env.callvalue
    v81 = hostcall env.gasprice
    v82 = hostcall env.coinbase
    v83 = hostcall env.timestamp
    v84 = hostcall env.number
    v85 = hostcall env.prevrandao
    v86 = hostcall env.gaslimit
    v87 = hostcall env.chainid
    v88 = hostcall env.selfbalance
    v89 = hostcall env.basefee
    v90 = hostcall env.blobbasefee
    v91, v92 = call fn0(v2, v0)
    brif v3, block1(v91, v92), block2
block1(v93: i64, v94: w256):
    switch v93, [0: block3, 5: block4, 18446744073709551615: block5], block6
block2:
    jump block1(v2, v0)
block3:
    halt return v50, v2
block4:
    halt revert v50, v2
block5:
    trap stack_underflow
block6:
    brif v94, block7, block7
block7:
    return
}
";

#[test]
fn every_form_prints_back_identically() {
    let module = parse(EVERY_FORM).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(print(&module), EVERY_FORM);
    assert_eq!(module.to_string(), EVERY_FORM);
    assert_eq!(module.entry, FuncId(1));
    verify_module(&module).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn every_form_parses_to_the_expected_operations() {
    let module = parse(EVERY_FORM).unwrap();
    let main = module.function(FuncId(1));
    let op_of = |v: u32| {
        let ValueDef::Result(inst, _) = main.values[v as usize].def else { panic!("v{v} is not a result") };
        main.inst(inst).op.clone()
    };
    assert_eq!(op_of(2), Op::Iconst { ty: Type::I64, imm: -5 });
    assert_eq!(op_of(4), Op::Iconst { ty: Type::I32, imm: 4294967295 });
    assert_eq!(op_of(5), Op::Fconst { ty: Type::F64, bits: 1.0f64.to_bits() });
    assert_eq!(op_of(1), Op::Wconst { imm: U256::MAX });
    assert_eq!(op_of(47), Op::Convert { op: ConvOp::SatU64, to: Type::I64, arg: Value(0) });
    assert_eq!(
        op_of(53),
        Op::Load {
            ty: Type::I32,
            access: MemAccess { width: 1, signed: true, big_endian: false, offset: u32::MAX },
            addr: Value(50)
        }
    );
    assert_eq!(op_of(70), Op::GasLeft);
    assert_eq!(op_of(91), Op::Call { func: FuncId(0), args: vec![Value(2), Value(0)] });
    assert_eq!(main.value_type(Value(92)), Type::W256);
    assert_eq!(main.value_type(Value(9)), Type::W256, "eqz of a word is a word");
    assert_eq!(main.value_type(Value(8)), Type::I32, "eqz of an i64 is an i32");
    assert_eq!(main.value_type(Value(32)), Type::I32);
    let block1 = main.block(Block(1));
    assert_eq!(block1.params, vec![Value(93), Value(94)]);
    let switch = &main.inst(block1.insts[0]).op;
    assert_eq!(
        switch,
        &Op::Switch {
            index: Value(93),
            cases: vec![(0, Block(3)), (5, Block(4)), (u64::MAX, Block(5))],
            default: Block(6)
        }
    );
}

/// A function using every variant of every operation enum, built with the builder in layout order (so its
/// arenas are in text order and parsing must reproduce it exactly).
fn every_variant_module() -> Module {
    use Type::{F32, F64, I32, I64, W256};
    let callee = build_function("callee", Signature { params: vec![I64, W256], results: vec![I64, W256] }, |b| {
        let p = b.params().to_vec();
        b.ins(Op::Return { args: p });
    });
    let callee_results = |f: FuncId| (f.0 == 0).then(|| vec![I64, W256]);
    let mut main = Function::new("main fn \"quoted\"\n", Signature::default());
    let globals = [I32, I64, F32, F64];
    let types = [Signature { params: vec![I64, W256], results: vec![I64, W256] }, Signature::default()];
    let mut b =
        FunctionBuilder::with_module(&mut main, &callee_results, ModuleTypes { globals: &globals, types: &types });
    let w = b.wconst(U256::from(0x1234_5678u64));
    let i = b.iconst(I64, i64::MIN);
    let n = b.iconst(I32, -1);
    b.ins1(Op::Fconst { ty: F32, bits: u64::from(f32::NAN.to_bits()) });
    b.ins1(Op::Fconst { ty: F64, bits: f64::NEG_INFINITY.to_bits() });
    let f = b.ins1(Op::Fconst { ty: F64, bits: 0 });
    for op in UnOp::ALL {
        b.ins1(Op::Unary { op, arg: if op.accepts(W256) { w } else { i } });
    }
    for op in BinOp::ALL {
        for (ty, v) in [(I32, n), (I64, i), (W256, w)] {
            if op.accepts(ty) {
                b.binary(op, v, v);
            }
        }
    }
    for op in TernOp::ALL {
        b.ins1(Op::Ternary { op, args: [w, w, w] });
    }
    b.ins1(Op::Convert { op: ConvOp::Zext, to: I64, arg: n });
    b.ins1(Op::Convert { op: ConvOp::Sext, to: W256, arg: i });
    b.ins1(Op::Convert { op: ConvOp::Trunc, to: I32, arg: w });
    let addr = b.ins1(Op::Convert { op: ConvOp::SatU64, to: I64, arg: w });
    let g = b.ins1(Op::Fconst { ty: F32, bits: 0 });
    for op in FUnOp::ALL {
        b.ins1(Op::FUnary { op, arg: f });
    }
    for op in FBinOp::ALL {
        b.ins1(Op::FBinary { op, args: [g, g] });
    }
    for op in ConvOp::ALL {
        for (from, v) in [(I32, n), (I64, i), (F32, g), (F64, f), (W256, w)] {
            for to in Type::ALL {
                if op.accepts(from, to) {
                    b.ins1(Op::Convert { op, to, arg: v });
                }
            }
        }
    }
    b.ins1(Op::Select { cond: n, args: [f, f] });
    for ty in Type::ALL {
        for width in [1u8, 2, 4, 8, 32] {
            let ok = match ty {
                W256 => width == 1 || width == 32,
                F32 | F64 => u32::from(width) == ty.bytes(),
                _ => u32::from(width) <= ty.bytes(),
            };
            if !ok {
                continue;
            }
            for signed in [false, true] {
                for big_endian in [false, true] {
                    let access = MemAccess { width, signed, big_endian, offset: u32::from(width) * 3 };
                    let v = b.ins1(Op::Load { ty, access, addr });
                    let access = MemAccess { signed: false, ..access };
                    b.ins(Op::Store { access, addr, value: v });
                }
            }
        }
    }
    b.ins1(Op::MemSize);
    b.ins(Op::MemExpand { args: [w, w] });
    b.ins(Op::MemCopy { args: [addr, addr, addr] });
    b.ins1(Op::MemGrow { arg: addr });
    b.ins(Op::MemFill { args: [addr, n, addr] });
    b.ins(Op::MemInit { seg: 1, args: [addr, addr, addr] });
    b.ins(Op::DataDrop { seg: 0 });
    let r = b.ins1(Op::TableGet { table: 1, arg: addr });
    b.ins(Op::TableSet { table: 0, args: [addr, r] });
    b.ins1(Op::TableSize { table: 1 });
    b.ins1(Op::TableGrow { table: 0, args: [r, addr] });
    b.ins(Op::TableFill { table: 1, args: [addr, r, addr] });
    b.ins(Op::TableCopy { dst: 0, src: 1, args: [addr, addr, addr] });
    b.ins(Op::TableInit { table: 1, seg: 0, args: [addr, addr, addr] });
    b.ins(Op::ElemDrop { seg: 1 });
    b.ins1(Op::RefFunc { func: 0 });
    b.ins(Op::CallIndirect { ty: 0, table: 1, args: vec![addr, addr, w] });
    b.ins(Op::CallIndirect { ty: 1, table: 0, args: vec![addr] });
    for (index, v) in [(0, n), (1, i), (2, g), (3, f)] {
        let got = b.ins1(Op::GlobalGet { index });
        b.ins(Op::GlobalSet { index, value: got });
        b.ins(Op::GlobalSet { index, value: v });
    }
    for alg in HashAlg::ALL {
        b.ins1(Op::Hash { alg, args: [addr, addr] });
    }
    for src in DataSrc::ALL {
        b.ins1(Op::DataSize { src });
        b.ins1(Op::DataLoad { src, arg: w });
        b.ins(Op::DataCopy { src, args: [addr, w, addr] });
    }
    b.ins(Op::StackCheck { min: 0, growth: u32::MAX });
    let s = b.ins1(Op::StackGet { depth: 1023 });
    b.ins(Op::StackSet { depth: 7, value: s });
    b.ins(Op::StackAdjust { delta: i32::MIN });
    b.ins(Op::StackAdjust { delta: 5 });
    b.ins(Op::GasCost { amount: u64::MAX });
    b.ins(Op::GasBlock { amount: 0 });
    b.ins(Op::GasCharge { arg: addr });
    b.ins1(Op::GasLeft);
    let host: Vec<HostFn> = HostFn::all().collect();
    for func in host {
        let args = func.signature().0.iter().map(|&t| if t == I64 { addr } else { w }).collect();
        b.host_call(func, args);
    }
    let call = b.ins(Op::Call { func: FuncId(0), args: vec![addr, w] });
    let results = b.results(call).to_vec();
    let blocks: Vec<Block> = (0..4 + TrapCode::ALL.len()).map(|_| b.create_block()).collect();
    b.ins(Op::Brif {
        cond: n,
        then_dest: BlockCall { block: blocks[0], args: results.clone() },
        else_dest: BlockCall::new(blocks[1]),
    });
    // blocks[0](i64, w256): switch to the trap blocks.
    b.switch_to_block(blocks[0]);
    let p0 = b.block_param(blocks[0], I64);
    b.block_param(blocks[0], W256);
    let cases = TrapCode::ALL.iter().enumerate().map(|(k, _)| (k as u64 * 1000, blocks[4 + k])).collect();
    b.ins(Op::Switch { index: p0, cases, default: blocks[2] });
    b.switch_to_block(blocks[1]);
    b.jump(blocks[0], vec![i, w]);
    b.switch_to_block(blocks[2]);
    b.halt(HaltKind::Return, addr, addr);
    b.switch_to_block(blocks[3]);
    b.halt(HaltKind::Revert, addr, addr);
    for (k, code) in TrapCode::ALL.into_iter().enumerate() {
        b.switch_to_block(blocks[4 + k]);
        b.trap(code);
    }
    let mut module = Module::new(vec![callee, main], FuncId(1));
    module.globals = globals.to_vec();
    module.data = vec![vec![], vec![0, 0xff, 0x10]];
    module.memory = zvm_ir::MemoryPlan { min_pages: 1, max_pages: Some(65536), guarded: true };
    module.tables = vec![TablePlan { min: 0, max: None }, TablePlan { min: 10, max: Some(20) }];
    module.elems = vec![vec![1, 0, u64::MAX], vec![]];
    module.types = types.to_vec();
    module.canonical_nans = false;
    module
}

#[test]
fn every_variant_round_trips_exactly() {
    let module = every_variant_module();
    verify_module(&module).unwrap_or_else(|e| panic!("{e}"));
    let text = print(&module);
    assert!(text.starts_with("entry fn1\nnans native\n"), "{text}");
    let parsed = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(parsed, module, "parse(print(m)) must reproduce m built in layout order");
    assert_eq!(print(&parsed), text);
}

#[test]
fn builder_modules_round_trip_modulo_numbering() {
    use Type::{I64, W256};
    // Block parameters created before the instructions that precede them in the layout, and instructions
    // appended to blocks out of layout order: the arenas are not in text order.
    let func = build_function("loop", Signature { params: vec![W256], results: vec![W256] }, |b| {
        let head = b.create_block();
        let body = b.create_block();
        let exit = b.create_block();
        let acc = b.block_param(head, W256);
        let ctr = b.block_param(head, I64);
        let out = b.block_param(exit, W256);
        let x = b.params()[0];
        b.switch_to_block(body);
        let one = b.iconst(I64, 1);
        let next = b.binary(BinOp::Sub, ctr, one);
        let sum = b.binary(BinOp::Add, acc, x);
        b.jump(head, vec![sum, next]);
        b.switch_to_block(Function::ENTRY);
        let ten = b.iconst(I64, 10);
        b.jump(head, vec![x, ten]);
        b.switch_to_block(head);
        let done = b.ins1(Op::Unary { op: UnOp::Eqz, arg: ctr });
        b.ins(Op::Brif {
            cond: done,
            then_dest: BlockCall { block: exit, args: vec![acc] },
            else_dest: BlockCall::new(body),
        });
        b.switch_to_block(exit);
        b.ins(Op::Return { args: vec![out] });
    });
    let module = Module::single(func);
    let text = print(&module);
    let parsed = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(print(&parsed), text);
    verify_function(&parsed, &parsed.functions[0]).unwrap();
    // The same structure, with the same value numbers (they are dense).
    assert_eq!(parsed.functions[0].values.len(), module.functions[0].values.len());
    for (a, b) in parsed.functions[0].values.iter().zip(&module.functions[0].values) {
        assert_eq!(a.ty, b.ty);
    }
}

#[test]
fn values_may_be_used_before_their_definition() {
    // block2 is defined textually after its uses; `v7`'s type (w256, from `v5`) only becomes known after
    // `v5` in block2 is typed.
    let src = "\
function %f() -> w256 {
block0:
    jump block2
block1:
    v8 = add v7, v7
    return v8
block2:
    v5 = wconst 1
    v7 = add v5, v5
    jump block1
}
";
    let func = parse_function(src).unwrap();
    let text = print_function(&func);
    // Values are renumbered densely in the order of their text numbers: v5, v7, v8 -> v0, v1, v2.
    assert!(text.contains("v2 = add v1, v1"), "{text}");
    assert!(text.contains("v0 = wconst 0x1"), "{text}");
    assert_eq!(func.value_type(Value(2)), Type::W256);
    assert_eq!(print_function(&parse_function(&text).unwrap()), text);
    verify_module(&Module::single(func)).unwrap();
}

#[test]
fn circular_types_are_rejected() {
    let src = "function %f() {\nblock0:\n    v1 = add v2, v2\n    v2 = add v1, v1\n    return\n}\n";
    let err = parse(src).unwrap_err();
    assert_eq!((err.line, err.column), (3, 5));
    assert!(err.message.contains("depends on itself"), "{err}");
}

#[test]
fn empty_functions_blocks_and_names() {
    let src = "\
function %\"\" () {  ; fn0
}

function %\"a b\\\"c\\\\\\n\\u{7}\"(i32) -> f32, f64 {  ; fn1
block0(v0: i32):
block1:
}
";
    let module = parse(src).unwrap();
    assert_eq!(module.functions[0].name, "");
    assert_eq!(module.functions[1].name, "a b\"c\\\n\u{7}");
    assert!(module.functions[1].blocks.iter().all(|b| b.insts.is_empty()));
    let text = print(&module);
    assert!(text.starts_with("function %\"\"() {"), "{text}");
    assert_eq!(print(&parse(&text).unwrap()), text);
}

#[test]
fn comments_blank_lines_and_spacing_are_free() {
    let src = "
; a module
entry   fn0   ; the entry

function %f ( ) -> i64 {   ; header
  ; comment line

block7 :
    v9=iconst.i64 0x10 ; sixteen
    v3 , v4 = call fn1 ( v9 )
    return   v9
}
function %g(i64) -> i64, i64 {
block0(v0:i64):
    return v0,v0
}
";
    let module = parse(src).unwrap();
    let text = print(&module);
    // Values are renumbered in the order of their text numbers (v3, v4, v9).
    assert!(text.contains("block0:\n    v2 = iconst.i64 16\n    v0, v1 = call fn1(v2)\n    return v2\n"), "{text}");
    assert!(!text.contains("entry"), "entry fn0 is the default and not printed");
}

#[test]
fn call_to_missing_function_without_results_parses() {
    let module = parse("function %f() {\nblock0:\n    call fn5()\n    return\n}\n").unwrap();
    assert!(module.functions[0].insts[0].results.is_empty());
    let err = parse("function %f() {\nblock0:\n    v0 = call fn5()\n    return\n}\n").unwrap_err();
    assert!(err.message.contains("fn5, which does not exist"), "{err}");
}

#[test]
fn non_canonical_forms_are_accepted() {
    let src = "\
function %f() {
block0:
    v0 = wconst 42
    v1 = iconst.i64 18446744073709551615
    v2 = fconst.f32 1069547520
    v3 = satu64.i64 v0
    v4 = gas.left
    v5 = iconst.i64 0
    v6 = load.i64.8.le v5 + 0
    jump block1()
block1:
    switch v5, [], block2
block2:
    return
}
";
    let text = print(&parse(src).unwrap());
    for line in [
        "v0 = wconst 0x2a",
        "v1 = iconst.i64 -1",
        "v2 = fconst.f32 0x3fc00000  ; 1.5",
        "v3 = satu64 v0",
        "v4 = gas.left",
        "v6 = load.i64.8.le v5\n",
        "jump block1\n",
        "switch v5, [], block2",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn satu64_with_another_target_type_round_trips() {
    let mut func = Function::new("f", Signature::default());
    let mut b = FunctionBuilder::new(&mut func);
    let w = b.wconst(U256::ZERO);
    b.ins1(Op::Convert { op: ConvOp::SatU64, to: Type::I32, arg: w });
    b.ins(Op::Return { args: vec![] });
    let text = print_function(&func);
    assert!(text.contains("v1 = satu64.i32 v0"), "{text}");
    assert_eq!(parse_function(&text).unwrap(), func);
}

#[test]
fn print_inst_and_display() {
    let module = parse(EVERY_FORM).unwrap();
    let func = &module.functions[1];
    assert_eq!(print_inst(func, Inst(3)), "v0 = wconst 0x2a");
    assert_eq!(format!("{func}"), print_function(func));
    assert_eq!(print_function(func), EVERY_FORM.split("\n\n").nth(2).unwrap().replace("  ; fn1", ""));
}

#[test]
fn printing_broken_functions_does_not_panic() {
    let mut func = Function::new("broken", Signature::default());
    let b0 = func.add_block();
    func.blocks[b0.index()].params.push(Value(77));
    func.blocks[b0.index()].insts.push(Inst(5));
    let i = func.create_inst(Op::Jump { dest: BlockCall { block: Block(9), args: vec![Value(3)] } }, &[]);
    func.blocks[b0.index()].insts.push(i);
    let text = print_function(&func);
    assert!(text.contains("block0(v77: ?):"), "{text}");
    assert!(text.contains("; inst5 does not exist"), "{text}");
    assert!(text.contains("jump block9(v3)"), "{text}");
}

fn parse_err(src: &str) -> (usize, usize, String) {
    let e = parse(src).expect_err("expected a parse error");
    assert_eq!(e.to_string(), format!("{}:{}: {}", e.line, e.column, e.message));
    (e.line, e.column, e.message)
}

#[test]
fn parse_errors_have_positions_and_messages() {
    let wrap = |body: &str| format!("function %f() {{\nblock0:\n{body}\n}}\n");
    let cases: &[(&str, usize, usize, &str)] = &[
        ("    v0 = frob v1", 3, 10, "unknown opcode `frob`"),
        ("    v0 = iconst.i64 0\n    v0 = iconst.i64 1\n    return", 4, 5, "v0 is defined twice (first at 3:5)"),
        ("    v0 = add v1, v1\n    return", 3, 14, "undefined value v1"),
        ("    jump block4", 3, 10, "undefined block block4"),
        ("    v0 = iconst.i64 99999999999999999999\n    return", 3, 21, "invalid number"),
        ("    v0 = iconst.q64 1", 3, 10, "unknown type `q64`"),
        ("    v0 = load.i32.3x.le v1", 3, 10, "invalid access width `3x`"),
        ("    v0 = load.i32.4.me v1", 3, 10, "expected `be` or `le`"),
        ("    v0 = load.i32 v1", 3, 10, "malformed opcode `load.i32`"),
        ("    v0 = wconst 0x10000000000000000000000000000000000000000000000000000000000000000", 3, 17, "invalid w256"),
        ("    v0, v1 = wconst 1\n    return", 3, 5, "`wconst` has 1 result(s), but 2 name(s) are given"),
        ("    wconst 1\n    return", 3, 5, "`wconst` has 1 result(s), but 0 name(s) are given"),
        ("    v0 = hostcall frobnicate", 3, 19, "unknown host function `frobnicate`"),
        ("    hostcall log300", 3, 14, "too many log topics"),
        ("    trap oops", 3, 10, "unknown trap code `oops`"),
        ("    halt stop v0, v0", 3, 10, "expected `return` or `revert`"),
        ("    stack.adjust 3000000000", 3, 18, "out of range"),
        ("    return v0 v1", 3, 15, "expected end of line, found `v1`"),
        ("    v0 = data.size stdin", 3, 20, "unknown data source `stdin`"),
        ("    v0 = hash.md5 v1, v1", 3, 10, "unknown hash `md5`"),
        ("    v99999999999 = wconst 1", 3, 5, "too large"),
        ("    v0 = wconst 1 $", 3, 19, "unexpected character '$'"),
        ("    v0 = wconst -", 3, 17, "expected a digit or `>` after `-`"),
        ("block0:\n    return", 3, 1, "block0 is defined twice (first at 2:1)"),
        ("    call %g()", 3, 10, "expected a function reference"),
        ("    switch v0, [1 block1], block1", 3, 19, "expected `:`"),
    ];
    let mut failures = Vec::new();
    for &(body, line, column, message) in cases {
        let (l, c, m) = parse_err(&wrap(body));
        if !m.contains(message) || (l, c) != (line, column) {
            failures.push(format!("{body:?}: got {l}:{c}: {m:?}, expected {line}:{column}: {message:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let (l, c, m) = parse_err("    v0 = iconst.i64 1\n");
    assert_eq!((l, c), (1, 5));
    assert!(m.contains("expected `function`, `entry`"), "{m}");
    let (l, _, m) = parse_err("function %f() {\nblock0:\n    return\n");
    assert_eq!(l, 1);
    assert!(m.contains("not closed"), "{m}");
    let (_, _, m) = parse_err("function %f() {\n    return\n}\n");
    assert!(m.contains("instruction before the first block label"), "{m}");
    let (_, _, m) = parse_err("entry fn0\nentry fn1\n");
    assert!(m.contains("declared twice"), "{m}");
    let (_, _, m) = parse_err("function %\"abc");
    assert!(m.contains("unterminated"), "{m}");
    let (_, _, m) = parse_err("function %\"a\\qb\"() {\n}\n");
    assert!(m.contains("unknown escape"), "{m}");
    let e = parse_function("").unwrap_err();
    assert!(e.message.contains("exactly one function"), "{e}");
}

/// A small deterministic generator (xorshift64*), so the sweep needs no dependencies and is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Parsing never panics; whatever parses prints, re-parses to the same text, and can be verified.
fn check_no_panic(src: &str) {
    if let Ok(module) = parse(src) {
        let text = print(&module);
        let again = parse(&text).unwrap_or_else(|e| panic!("printed text does not parse: {e}\n{text}\nfrom\n{src}"));
        assert_eq!(print(&again), text, "from\n{src}");
        let _ = verify_module(&module);
    }
}

#[test]
fn random_and_mutated_input_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let seeds = [EVERY_FORM.to_string(), print(&every_variant_module())];
    let alphabet: Vec<char> =
        "v0123456789block fn%\"\\(){}[],:=+-;\n.xabcdefghijklmnopqrstuvwxyz_$\u{e9}\t".chars().collect();
    let words = [
        "v1",
        "v0",
        "block1",
        "block0",
        "fn0",
        "fn9",
        ",",
        "(",
        ")",
        "=",
        "\n",
        "+7",
        "-1",
        "0x",
        "[",
        "]",
        ":",
        "w256",
        "i32",
        "load.i32.4.le",
        "store.1.be",
        "jump",
        "brif",
        "call",
        "return",
        "}",
        "{",
        "function",
        "%x",
        "entry",
        "hostcall",
        "log4",
        "switch",
        "99999999999999999999999",
    ];
    for round in 0..600 {
        let src: String = match round % 3 {
            // Random characters.
            0 => (0..rng.below(200)).map(|_| alphabet[rng.below(alphabet.len())]).collect(),
            // Mutated valid text: deletions, insertions and replacements of characters and tokens.
            _ => {
                let mut chars: Vec<char> = seeds[rng.below(seeds.len())].chars().collect();
                for _ in 0..1 + rng.below(6) {
                    let at = rng.below(chars.len() + 1);
                    match rng.below(4) {
                        0 if at < chars.len() => {
                            let len = rng.below(20).min(chars.len() - at);
                            chars.drain(at..at + len);
                        }
                        1 => chars.insert(at, alphabet[rng.below(alphabet.len())]),
                        2 if at < chars.len() => chars[at] = alphabet[rng.below(alphabet.len())],
                        _ => {
                            let word = words[rng.below(words.len())];
                            chars.splice(at..at, word.chars());
                        }
                    }
                }
                chars.into_iter().collect()
            }
        };
        check_no_panic(&src);
    }
    // Line-wise shuffles keep most lines valid, exercising forward references and the type propagation.
    for _ in 0..100 {
        let mut lines: Vec<&str> = EVERY_FORM.lines().collect();
        let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
        lines.swap(a, b);
        check_no_panic(&lines.join("\n"));
    }
}
