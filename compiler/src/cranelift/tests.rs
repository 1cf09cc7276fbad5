//! The translation compiles for every target the backend supports, not only the host.

use super::{isa_for_triple, translate_module, JitOptions, OptLevel};
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::Context;
use zvm_ir::builder::build_function;
use zvm_ir::{
    BinOp, BlockCall, ConvOp, DataSrc, FuncId, Function, FunctionBuilder, HaltKind, HashAlg, HostFn, MemAccess, Module,
    Op, Signature, TernOp, TrapCode, Type, UnOp, U256,
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

#[test]
fn translation_compiles_for_every_supported_target() {
    let module = everything();
    zvm_ir::verify::verify_module(&module).expect("the test module is valid IR");
    for level in [OptLevel::None, OptLevel::Speed] {
        for triple in TRIPLES {
            let isa = isa_for_triple(triple, &JitOptions { opt_level: level, verify: true }).unwrap();
            let funcs = translate_module(&module, &*isa).unwrap();
            assert_eq!(funcs.len(), 3);
            for f in funcs {
                let text = f.display().to_string();
                let mut ctx = Context::for_function(f);
                if let Err(e) = ctx.compile(&*isa, &mut ControlPlane::default()) {
                    panic!("{triple}: {e:?}\n{text}");
                }
                assert!(ctx.compiled_code().unwrap().code_info().total_size > 0);
            }
        }
    }
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
