//! `zvm run FILE.wasm|FILE.wat --invoke NAME ARG...`: instantiates a plain WebAssembly module and calls one
//! of its exported functions, printing the results (one per line, as `TYPE:VALUE`), the gas used and the
//! tier. Arguments are parsed by the function's parameter types (integers in decimal or `0x` hex, floats
//! as decimals, `inf` or `nan`).

use std::path::Path;
use std::sync::Arc;
use zvm_compiler::frontend::wasm::{self, NoImports, WasmConfig, WasmError};
use zvm_ir::Type;
use zvm_runtime::executor::Tier;
use zvm_runtime::wasm::WasmProgram;
use zvm_runtime::Limits;

/// The IR of a module (for `zvm ir`): as a contract if it is one, else as a plain module.
pub fn lower(bytes: &[u8]) -> Result<zvm_ir::Module, String> {
    match wasm::translate_contract(bytes, &WasmConfig::default()) {
        Ok(module) => Ok(module),
        Err(WasmError::Link(_) | WasmError::NotAContract(_)) => {
            wasm::translate(bytes, &WasmConfig::default(), &NoImports).map(|m| m.ir).map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}

fn parse_arg(ty: Type, s: &str) -> Result<u64, String> {
    let bad = || format!("`{s}` is not a valid {ty}");
    let int = |s: &str| -> Option<i128> {
        let (neg, body) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
        let v = match body.strip_prefix("0x") {
            Some(hex) => i128::from_str_radix(hex, 16).ok()?,
            None => body.parse::<i128>().ok()?,
        };
        Some(if neg { -v } else { v })
    };
    Ok(match ty {
        Type::I32 => {
            let v = int(s).filter(|v| (i128::from(i32::MIN)..=i128::from(u32::MAX)).contains(v)).ok_or_else(bad)?;
            u64::from(v as u32)
        }
        Type::I64 => {
            let v = int(s).filter(|v| (i128::from(i64::MIN)..=i128::from(u64::MAX)).contains(v)).ok_or_else(bad)?;
            v as u64
        }
        Type::F32 => u64::from(s.parse::<f32>().map_err(|_| bad())?.to_bits()),
        Type::F64 => s.parse::<f64>().map_err(|_| bad())?.to_bits(),
        Type::W256 => return Err("w256 parameters cannot be passed".into()),
    })
}

fn show(ty: Type, bits: u64) -> String {
    match ty {
        Type::I32 => format!("i32:{}", bits as u32 as i32),
        Type::I64 => format!("i64:{}", bits as i64),
        Type::F32 => format!("f32:{}", f32::from_bits(bits as u32)),
        Type::F64 => format!("f64:{}", f64::from_bits(bits)),
        Type::W256 => format!("w256:{bits:#x}"),
    }
}

/// Runs `invoke` (the function's name, then its arguments) on the module in `bytes`.
pub fn run(file: &Path, bytes: Vec<u8>, tier: Tier, gas: u64, invoke: &[String]) -> Result<(), String> {
    let Some((name, args)) = invoke.split_first() else {
        return Err("--invoke needs the name of an exported function".into());
    };
    let limits = Limits::default();
    let program = WasmProgram::load(&bytes, tier, &WasmConfig::default(), &NoImports, &limits)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let program = Arc::new(program);
    let mut instance = program.instantiate(&limits, gas).map_err(|e| format!("instantiation: {e}"))?;
    let sig = instance.signature(name).ok_or_else(|| format!("no exported function `{name}`"))?.clone();
    if args.len() != sig.params.len() {
        return Err(format!("`{name}` takes {} argument(s), got {}", sig.params.len(), args.len()));
    }
    let values = sig.params.iter().zip(args).map(|(&t, a)| parse_arg(t, a)).collect::<Result<Vec<_>, _>>()?;
    let results = instance.invoke(name, &values, gas).map_err(|e| format!("`{name}`: {e}"))?;
    for (&ty, &bits) in sig.results.iter().zip(&results) {
        println!("{}", show(ty, bits));
    }
    println!("gas used: {}", instance.gas_used());
    println!("tier:     {tier}");
    Ok(())
}
