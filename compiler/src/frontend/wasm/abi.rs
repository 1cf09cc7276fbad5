//! The contract ABI: the `zvm` import module a WebAssembly contract links against, lowered to the same host
//! operations EVM and ZVM code use (see `docs/wasm-abi.md` for the contract author's view).
//!
//! Each import becomes an IR function of the import's WebAssembly type whose body does the work with IR
//! operations: it loads 32-byte big-endian words from linear memory, makes the host call, and stores the
//! result back. So an import is an ordinary `call` for both tiers, and its memory accesses are bounds-checked
//! like any other (`heap_oob` on a bad pointer).

use super::ImportedFunc;
use zvm_ir::{
    ConvOp, DataSrc, EnvField, FunctionBuilder, HaltKind, HashAlg, HostFn, MemAccess, Op, Signature, Type, Value,
};

/// One function of the `zvm` import module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContractImport {
    /// `storage_read(key_ptr, out_ptr)`
    StorageRead,
    /// `storage_write(key_ptr, value_ptr)`
    StorageWrite,
    /// `transient_read(key_ptr, out_ptr)`
    TransientRead,
    /// `transient_write(key_ptr, value_ptr)`
    TransientWrite,
    /// `caller(out_ptr)`, `value(out_ptr)`, `address(out_ptr)`, `origin(out_ptr)`, `coinbase(out_ptr)`,
    /// `base_fee(out_ptr)`, `gas_price(out_ptr)`, `balance_self(out_ptr)`: a 32-byte word.
    EnvWord(EnvField),
    /// `block_number() -> i64`, `timestamp() -> i64`, `chain_id() -> i64`, `gas_limit() -> i64`: the low
    /// 64 bits of the field.
    EnvU64(EnvField),
    /// `input_size() -> i32`
    InputSize,
    /// `input_copy(dst_ptr, offset, len)`
    InputCopy,
    /// `return_data_size() -> i32`
    ReturnDataSize,
    /// `return_data_copy(dst_ptr, offset, len)`: traps past the end of the return data.
    ReturnDataCopy,
    /// `return(ptr, len)`: ends the call successfully with that output.
    Return,
    /// `revert(ptr, len)`: ends the call, undoing its state changes, with that output.
    Revert,
    /// `logN(data_ptr, data_len, topic_ptr...)` with N = 0..=4 topics of 32 bytes each.
    Log(u8),
    /// `keccak256(ptr, len, out_ptr)`
    Keccak256,
    /// `sha256(ptr, len, out_ptr)`
    Sha256,
    /// `gas_left() -> i64`
    GasLeft,
    /// `call(gas: i64, addr_ptr, value_ptr, in_ptr, in_len, out_ptr, out_len) -> i32` (1 on success).
    Call,
    /// `delegate_call(gas: i64, addr_ptr, in_ptr, in_len, out_ptr, out_len) -> i32`
    DelegateCall,
    /// `static_call(gas: i64, addr_ptr, in_ptr, in_len, out_ptr, out_len) -> i32`
    StaticCall,
    /// `ecrecover(input_ptr, out_ptr) -> i32`: the ECRECOVER precompile on 128 bytes (hash, v, r, s as
    /// words); writes the address as a word and returns 1 if a key was recovered.
    Ecrecover,
}

use ContractImport as C;
use Type::{I32, I64};

/// The `zvm` module's functions with their WebAssembly types.
pub fn lookup(name: &str) -> Option<(ContractImport, Signature)> {
    let sig = |params: &[Type], results: &[Type]| Signature { params: params.to_vec(), results: results.to_vec() };
    let word_out = |f| (C::EnvWord(f), sig(&[I32], &[]));
    let u64_out = |f| (C::EnvU64(f), sig(&[], &[I64]));
    Some(match name {
        "storage_read" => (C::StorageRead, sig(&[I32, I32], &[])),
        "storage_write" => (C::StorageWrite, sig(&[I32, I32], &[])),
        "transient_read" => (C::TransientRead, sig(&[I32, I32], &[])),
        "transient_write" => (C::TransientWrite, sig(&[I32, I32], &[])),
        "caller" => word_out(EnvField::Caller),
        "value" => word_out(EnvField::CallValue),
        "address" => word_out(EnvField::Address),
        "origin" => word_out(EnvField::Origin),
        "coinbase" => word_out(EnvField::Coinbase),
        "base_fee" => word_out(EnvField::BaseFee),
        "gas_price" => word_out(EnvField::GasPrice),
        "balance_self" => word_out(EnvField::SelfBalance),
        "block_number" => u64_out(EnvField::Number),
        "timestamp" => u64_out(EnvField::Timestamp),
        "chain_id" => u64_out(EnvField::ChainId),
        "gas_limit" => u64_out(EnvField::GasLimit),
        "input_size" => (C::InputSize, sig(&[], &[I32])),
        "input_copy" => (C::InputCopy, sig(&[I32, I32, I32], &[])),
        "return_data_size" => (C::ReturnDataSize, sig(&[], &[I32])),
        "return_data_copy" => (C::ReturnDataCopy, sig(&[I32, I32, I32], &[])),
        "return" => (C::Return, sig(&[I32, I32], &[])),
        "revert" => (C::Revert, sig(&[I32, I32], &[])),
        "log0" => (C::Log(0), sig(&[I32, I32], &[])),
        "log1" => (C::Log(1), sig(&[I32, I32, I32], &[])),
        "log2" => (C::Log(2), sig(&[I32, I32, I32, I32], &[])),
        "log3" => (C::Log(3), sig(&[I32, I32, I32, I32, I32], &[])),
        "log4" => (C::Log(4), sig(&[I32, I32, I32, I32, I32, I32], &[])),
        "keccak256" => (C::Keccak256, sig(&[I32, I32, I32], &[])),
        "sha256" => (C::Sha256, sig(&[I32, I32, I32], &[])),
        "gas_left" => (C::GasLeft, sig(&[], &[I64])),
        "call" => (C::Call, sig(&[I64, I32, I32, I32, I32, I32, I32], &[I32])),
        "delegate_call" => (C::DelegateCall, sig(&[I64, I32, I32, I32, I32, I32], &[I32])),
        "static_call" => (C::StaticCall, sig(&[I64, I32, I32, I32, I32, I32], &[I32])),
        "ecrecover" => (C::Ecrecover, sig(&[I32, I32], &[I32])),
        _ => return None,
    })
}

/// Resolves an import of the `zvm` module, checking its type.
pub fn resolve(name: &str, ty: &Signature) -> Result<ImportedFunc, String> {
    match lookup(name) {
        Some((f, want)) if want == *ty => Ok(ImportedFunc::Contract(f)),
        Some((_, want)) => Err(format!(
            "zvm.{name} has type {:?} -> {:?}, imported as {:?} -> {:?}",
            want.params, want.results, ty.params, ty.results
        )),
        None => Err(format!("zvm.{name} is not a function of the contract ABI")),
    }
}

const WORD_BE: MemAccess = MemAccess { width: 32, signed: false, big_endian: true, offset: 0 };

fn addr(b: &mut FunctionBuilder<'_>, ptr: Value) -> Value {
    b.ins1(Op::Convert { op: ConvOp::Zext, to: I64, arg: ptr })
}

fn load_word(b: &mut FunctionBuilder<'_>, ptr: Value) -> Value {
    let a = addr(b, ptr);
    b.ins1(Op::Load { ty: Type::W256, access: WORD_BE, addr: a })
}

fn store_word(b: &mut FunctionBuilder<'_>, ptr: Value, value: Value) {
    let a = addr(b, ptr);
    b.ins(Op::Store { access: WORD_BE, addr: a, value });
}

fn word_of_i64(b: &mut FunctionBuilder<'_>, v: Value) -> Value {
    b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: v })
}

fn i32_of_word(b: &mut FunctionBuilder<'_>, w: Value) -> Value {
    b.ins1(Op::Convert { op: ConvOp::Trunc, to: I32, arg: w })
}

/// Emits the body of `import` (the builder is at the entry block, whose parameters are the import's).
pub fn emit(b: &mut FunctionBuilder<'_>, import: ContractImport) {
    let p = b.params().to_vec();
    let results: Vec<Value> = match import {
        C::StorageRead | C::TransientRead => {
            let key = load_word(b, p[0]);
            let f = if import == C::StorageRead { HostFn::SLoad } else { HostFn::TLoad };
            let v = b.host_call(f, vec![key])[0];
            store_word(b, p[1], v);
            vec![]
        }
        C::StorageWrite | C::TransientWrite => {
            let key = load_word(b, p[0]);
            let value = load_word(b, p[1]);
            let f = if import == C::StorageWrite { HostFn::SStore } else { HostFn::TStore };
            b.host_call(f, vec![key, value]);
            vec![]
        }
        C::EnvWord(field) => {
            let v = b.host_call(HostFn::Env(field), vec![])[0];
            store_word(b, p[0], v);
            vec![]
        }
        C::EnvU64(field) => {
            let v = b.host_call(HostFn::Env(field), vec![])[0];
            vec![b.ins1(Op::Convert { op: ConvOp::Trunc, to: I64, arg: v })]
        }
        C::InputSize | C::ReturnDataSize => {
            let src = if import == C::InputSize { DataSrc::Input } else { DataSrc::ReturnData };
            let n = b.ins1(Op::DataSize { src });
            vec![b.ins1(Op::Convert { op: ConvOp::Trunc, to: I32, arg: n })]
        }
        C::InputCopy | C::ReturnDataCopy => {
            let src = if import == C::InputCopy { DataSrc::Input } else { DataSrc::ReturnData };
            let dst = addr(b, p[0]);
            let off = addr(b, p[1]);
            let off = word_of_i64(b, off);
            let len = addr(b, p[2]);
            b.ins(Op::DataCopy { src, args: [dst, off, len] });
            vec![]
        }
        C::Return | C::Revert => {
            let kind = if import == C::Return { HaltKind::Return } else { HaltKind::Revert };
            let (ptr, len) = (addr(b, p[0]), addr(b, p[1]));
            b.halt(kind, ptr, len);
            return;
        }
        C::Log(n) => {
            let (ptr, len) = (addr(b, p[0]), addr(b, p[1]));
            let mut args = vec![ptr, len];
            for &t in &p[2..2 + usize::from(n)] {
                args.push(load_word(b, t));
            }
            b.host_call(HostFn::Log(n), args);
            vec![]
        }
        C::Keccak256 | C::Sha256 => {
            let alg = if import == C::Keccak256 { HashAlg::Keccak256 } else { HashAlg::Sha256 };
            let (ptr, len) = (addr(b, p[0]), addr(b, p[1]));
            let h = b.ins1(Op::Hash { alg, args: [ptr, len] });
            store_word(b, p[2], h);
            vec![]
        }
        C::GasLeft => vec![b.ins1(Op::GasLeft)],
        C::Call | C::DelegateCall | C::StaticCall => {
            let gas = word_of_i64(b, p[0]);
            let target = load_word(b, p[1]);
            let (f, rest) = match import {
                C::Call => (HostFn::Call, 3),
                C::DelegateCall => (HostFn::DelegateCall, 2),
                _ => (HostFn::StaticCall, 2),
            };
            let mut args = vec![gas, target];
            if import == C::Call {
                args.push(load_word(b, p[2]));
            }
            for &v in &p[rest..rest + 4] {
                args.push(addr(b, v));
            }
            let ok = b.host_call(f, args)[0];
            vec![i32_of_word(b, ok)]
        }
        C::Ecrecover => {
            // A static call to the precompile at address 1, forwarding all gas.
            let gas = b.ins1(Op::GasLeft);
            let gas = word_of_i64(b, gas);
            let one = b.wconst(zvm_ir::U256::from(1u8));
            let input = addr(b, p[0]);
            let in_len = b.iconst(I64, 128);
            let out = addr(b, p[1]);
            let out_len = b.iconst(I64, 32);
            // The precompile writes nothing when it recovers no key: clear the word first.
            let zero = b.wconst(zvm_ir::U256::ZERO);
            store_word(b, p[1], zero);
            b.host_call(HostFn::StaticCall, vec![gas, one, input, in_len, out, out_len]);
            let size = b.ins1(Op::DataSize { src: DataSrc::ReturnData });
            let none = b.iconst(I64, 0);
            vec![b.binary(zvm_ir::BinOp::Ne, size, none)]
        }
    };
    b.ins(Op::Return { args: results });
}
