//! The translation compiles for every target the backend supports, not only the host.

use super::{isa_for_triple, translate_module, JitOptions, OptLevel};
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::ExternalName;
use cranelift_codegen::{Context, FinalizedRelocTarget};
use zvm_ir::builder::build_function;
use zvm_ir::{
    BinOp, BlockCall, ConvOp, DataSrc, FBinOp, FUnOp, FuncId, Function, FunctionBuilder, HaltKind, HashAlg, HostFn,
    MemAccess, Module, Op, Signature, TernOp, TrapCode, Type, UnOp, U256,
};

const TRIPLES: [&str; 3] = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "aarch64-apple-darwin"];

/// A module that uses every kind of operation, and a callee with more results than fit in registers.
fn everything() -> Module {
    let callee_results = vec![Type::W256, Type::W256, Type::I64, Type::I32];
    let results = {
        let r = callee_results.clone();
        move |f: FuncId| (f.0 == 1).then(|| r.clone())
    };
    let mut main = Function::new("main", Signature::default());
    {
        let mut b = FunctionBuilder::with_callees(&mut main, &results);
        let zero = b.wconst(U256::ZERO);
        let x = b.ins1(Op::DataLoad { src: DataSrc::Input, arg: zero });
        let y = b.wconst(U256::MAX);
        let mut acc = x;
        for op in BinOp::ALL.into_iter().filter(|op| op.accepts(Type::W256)) {
            acc = b.binary(op, acc, x);
            acc = b.binary(op, acc, y);
        }
        for op in [UnOp::Not, UnOp::Eqz, UnOp::Clz] {
            acc = b.ins1(Op::Unary { op, arg: acc });
        }
        acc = b.ins1(Op::Ternary { op: TernOp::MulMod, args: [acc, x, y] });
        let n = b.ins1(Op::Convert { op: ConvOp::SatU64, to: Type::I64, arg: acc });
        let n32 = b.ins1(Op::Convert { op: ConvOp::Trunc, to: Type::I32, arg: n });
        let q = b.binary(BinOp::DivS, n32, n32);
        let r = b.binary(BinOp::RemU, n, n);
        let r = b.binary(BinOp::Rotl, r, n);
        b.ins(Op::MemExpand { args: [zero, acc] });
        let le8 = MemAccess { width: 8, signed: true, big_endian: false, offset: 4 };
        let be32 = MemAccess { width: 32, signed: false, big_endian: true, offset: 0 };
        let be2 = MemAccess { width: 2, signed: true, big_endian: true, offset: 1 };
        b.ins(Op::Store { access: le8, addr: r, value: r });
        b.ins(Op::Store { access: be32, addr: n, value: acc });
        let l = b.ins1(Op::Load { ty: Type::I32, access: be2, addr: n });
        let _ = b.binary(BinOp::Add, l, q);
        b.ins(Op::StackCheck { min: 1, growth: 2 });
        let s = b.ins1(Op::StackGet { depth: 0 });
        b.ins(Op::StackSet { depth: 1, value: s });
        b.ins(Op::StackAdjust { delta: -1 });
        b.ins(Op::GasBlock { amount: 10 });
        b.ins(Op::GasCharge { arg: n });
        let _ = b.ins1(Op::GasLeft);
        let h = b.ins1(Op::Hash { alg: HashAlg::Sha256, args: [n, r] });
        b.ins(Op::MemCopy { args: [n, r, n] });
        b.ins(Op::DataCopy { src: DataSrc::Code, args: [n, h, r] });
        let _ = b.ins1(Op::DataSize { src: DataSrc::ReturnData });
        b.host_call(HostFn::SStore, vec![h, s]);
        let _ = b.host_call(HostFn::SLoad, vec![h]);
        b.host_call(HostFn::Log(4), vec![n, r, h, h, s, s]);
        let call = b.ins(Op::Call { func: FuncId(1), args: vec![acc, n] });
        let rs = b.results(call).to_vec();
        let sel = b.ins1(Op::Select { cond: rs[3], args: [rs[0], rs[1]] });
        let exit = b.create_block();
        let cases: Vec<(u64, zvm_ir::Block)> = (0..20u64).map(|v| (v * 3, exit)).collect();
        let other = b.create_block();
        let idx = rs[2];
        b.ins(Op::Switch { index: idx, cases, default: other });
        b.switch_to_block(other);
        b.ins(Op::Brif { cond: sel, then_dest: BlockCall::new(exit), else_dest: BlockCall::new(exit) });
        b.switch_to_block(exit);
        b.halt(HaltKind::Revert, n, r);
    }
    let callee =
        build_function("callee", Signature { params: vec![Type::W256, Type::I64], results: callee_results }, |b| {
            let (w, n) = (b.params()[0], b.params()[1]);
            let t = b.ins1(Op::Convert { op: ConvOp::Trunc, to: Type::I32, arg: n });
            let done = b.create_block();
            b.brif(t, done, done);
            b.switch_to_block(done);
            let skip = b.create_block();
            b.brif(w, skip, skip);
            b.switch_to_block(skip);
            let rec = b.create_block();
            b.brif(n, rec, rec);
            b.switch_to_block(rec);
            b.trap(TrapCode::Unreachable);
        });
    // Make the callee actually return: replace its trap with a return.
    let mut callee = callee;
    let last = *callee.blocks.last().unwrap().insts.last().unwrap();
    let (w, n) = (callee.blocks[0].params[0], callee.blocks[0].params[1]);
    let t = callee.insts[callee.blocks[0].insts[0].index()].results[0];
    callee.insts[last.index()].op = Op::Return { args: vec![w, w, n, t] };
    Module::new(vec![main, callee], FuncId(0))
}

/// Compiles every function of `module` (and the trampoline) for every target at both levels; the code
/// refers to nothing but the module's own functions (no libcalls: objects have no undefined symbols).
fn compiles_for_every_target(module: &Module) {
    zvm_ir::verify::verify_module(module).expect("the test module is valid IR");
    for level in [OptLevel::None, OptLevel::Speed] {
        for triple in TRIPLES {
            let isa = isa_for_triple(triple, &JitOptions { opt_level: level, verify: true }).unwrap();
            let funcs = translate_module(module, &*isa).unwrap();
            let dispatchers = super::translate::Dispatchers::of(module).len();
            assert_eq!(funcs.len(), module.functions.len() + 1 + dispatchers);
            for f in funcs {
                let text = f.display().to_string();
                let mut ctx = Context::for_function(f);
                if let Err(e) = ctx.compile(&*isa, &mut ControlPlane::default()) {
                    panic!("{triple}: {e:?}\n{text}");
                }
                let compiled = ctx.compiled_code().unwrap();
                assert!(compiled.code_info().total_size > 0);
                for reloc in compiled.buffer.relocs() {
                    match &reloc.target {
                        FinalizedRelocTarget::ExternalName(ExternalName::User(_)) | FinalizedRelocTarget::Func(_) => {}
                        other => panic!("{triple} {level:?}: relocation to {other:?}\n{text}"),
                    }
                }
            }
        }
    }
}

#[test]
fn translation_compiles_for_every_supported_target() {
    compiles_for_every_target(&everything());
}

/// Every WebAssembly operation (floats at both widths, every float conversion, memory growth, fills,
/// segments, globals), in functions with parameters and results of every narrow type.
#[test]
fn webassembly_operations_compile_for_every_target_without_libcalls() {
    let mut text = String::from("memory 1, 2\nglobal i32\nglobal i64\nglobal f32\nglobal f64\ndata 0x0102\n\n");
    text.push_str("function %main() {\nblock0:\n    return\n}\n\n");
    for (t, other) in [("f32", "f64"), ("f64", "f32")] {
        // Every result is returned: lowering drops unused pure instructions.
        let index = if t == "f32" { 2 } else { 3 };
        let mut body = format!("    global.set {index}, v0\n");
        let mut results: Vec<(usize, String)> = Vec::new();
        let mut def = |inst: String, ty: &str| {
            let v = results.len() + 2;
            body.push_str(&format!("    v{v} = {inst}\n"));
            results.push((v, ty.to_string()));
        };
        for op in FUnOp::ALL {
            def(format!("{} v0", op.name()), t);
        }
        for op in FBinOp::ALL {
            def(format!("{} v0, v1", op.name()), if op.is_comparison() { "i32" } else { t });
        }
        for (op, to) in [("ftos", "i32"), ("ftou", "i64"), ("ftos_sat", "i64"), ("ftou_sat", "i32")] {
            def(format!("{op}.{to} v0"), to);
        }
        let (conv, bits) = if t == "f32" { ("fpromote", "i32") } else { ("fdemote", "i64") };
        def(format!("{conv}.{other} v0"), other);
        def(format!("bitcast.{bits} v1"), bits);
        def(format!("global.get {index}"), t);
        let names: Vec<String> = results.iter().map(|(v, _)| format!("v{v}")).collect();
        let types: Vec<&str> = results.iter().map(|(_, ty)| ty.as_str()).collect();
        text.push_str(&format!(
            "function %{t}({t}, {t}) -> {} {{\nblock0(v0: {t}, v1: {t}):\n{body}    return {}\n}}\n\n",
            types.join(", "),
            names.join(", ")
        ));
    }
    text.push_str(
        "function %ints(i32, i64) -> f32, f64, f32, f64, f32, f64, i64 {
block0(v0: i32, v1: i64):
    v2 = stof.f32 v0
    v3 = utof.f64 v0
    v4 = utof.f32 v1
    v5 = stof.f64 v1
    v6 = mem.grow v1
    mem.fill v6, v0, v1
    mem.init 0 v6, v1, v1
    data.drop 0
    global.set 0, v0
    global.set 1, v6
    v7 = global.get 0
    v8 = global.get 1
    v9 = bitcast.f32 v7
    v10 = bitcast.f64 v8
    return v2, v3, v9, v10, v4, v5, v6
}
",
    );
    let module = zvm_ir::text::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    compiles_for_every_target(&module);
}

#[test]
fn unsupported_ir_is_an_error_not_a_panic() {
    let module = Module::single(build_function("main", Signature::default(), |b| {
        let f = b.ins1(Op::Fconst { ty: Type::F64, bits: 0 });
        let _ = b.ins1(Op::Unary { op: UnOp::Not, arg: f });
        b.ins(Op::Return { args: vec![] });
    }));
    assert!(super::compile(&module, &JitOptions::default()).is_err());
}

/// Every table operation and `call_indirect` through several signatures (narrow, float and `w256` lanes,
/// two types with one signature, a type no function has), with the dispatchers.
#[test]
fn table_operations_compile_for_every_target_without_libcalls() {
    let text = "type (i64, f32) -> f64, i32
type (w256) -> w256
type (i64, f32) -> f64, i32
type (f64) -> f64
table 4, 8
table 2
elem [1, 2]
function %main() {
block0:
    return
}
function %a(i64, f32) -> f64, i32 {
block0(v0: i64, v1: f32):
    v2 = fpromote.f64 v1
    v3 = trunc.i32 v0
    return v2, v3
}
function %w(w256) -> w256 {
block0(v0: w256):
    return v0
}
function %tables(i64, i64, f32, w256) -> i64, i64, i64, f64, i32, w256, f64 {
block0(v0: i64, v1: i64, v2: f32, v3: w256):
    v4 = table.get 0 v0
    table.set 1 v0, v1
    v5 = table.size 1
    v6 = table.grow 0 v1, v0
    table.fill 0 v0, v1, v5
    table.copy 0 1 v0, v1, v5
    table.init 1 0 v0, v1, v5
    elem.drop 0
    v7, v8 = call_indirect 0 0 v4(v0, v2)
    v9, v10 = call_indirect 2 1 v6(v1, v2)
    v11 = call_indirect 1 0 v0(v3)
    v12 = fconst.f64 0x3ff0000000000000
    v13 = call_indirect 3 1 v1(v12)
    return v4, v5, v6, v9, v8, v11, v13
}
";
    let module = zvm_ir::text::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let dispatchers = super::translate::Dispatchers::of(&module);
    assert_eq!(dispatchers.len(), 3, "types 0 and 2 share one");
    assert_eq!((dispatchers.targets(0), dispatchers.targets(1), dispatchers.targets(2)), (&[1][..], &[2][..], &[][..]));
    compiles_for_every_target(&module);
}
