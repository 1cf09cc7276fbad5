//! Runs WebAssembly spec scripts (`.wast`, parsed with the `wast` crate) on one of zvm's tiers.
//!
//! Every directive of a script is one check: a module definition must load and instantiate, an
//! `assert_return` must give exactly the expected values (NaN patterns as the spec defines them), an
//! `assert_trap` must trap with the expected reason, `assert_invalid`/`assert_malformed` must be rejected,
//! and so on. A check that zvm cannot perform (a directive it does not support, or one aimed at a module
//! that failed to load) counts as failed with the reason; nothing is silently skipped. Files of the SIMD
//! proposal are not run at all by [`run_dir`] (zvm rejects SIMD modules by design) and are listed with
//! that reason.
//!
//! Modules import from the suite's `spectest` module (print functions, constant globals, a memory of 1 to
//! 2 pages, a table of 10 to 20 elements) and from the modules the script `register`s: every module of a
//! script is instantiated in one [`Store`], which links them.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use wast::core::{NanPattern, WastArgCore, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet};
use zvm_compiler::frontend::wasm::{
    ImportedFunc, ImportedGlobal, Imports, WasmConfig, WasmError, WasmFuncType, WasmType,
};
use zvm_ir::semantics::{CANONICAL_NAN_F32, CANONICAL_NAN_F64};
use zvm_ir::{MemoryPlan, TablePlan, TrapCode};
use zvm_runtime::executor::Tier;
use zvm_runtime::wasm::{InvokeError, Store, WasmInstance, WasmLoadError, WasmProgram};
use zvm_runtime::Limits;

/// Gas for each invocation: far more than any spec test needs, so only real exhaustion shows.
const GAS_PER_CALL: u64 = 1 << 40;

/// The outcome of one script on one tier.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub passed: usize,
    pub failed: usize,
    /// One line per failed check: `file:line: what`.
    pub failures: Vec<String>,
}

impl Report {
    fn pass(&mut self) {
        self.passed += 1;
    }

    fn fail(&mut self, at: String, why: impl Into<String>) {
        self.failed += 1;
        self.failures.push(format!("{at}: {}", why.into()));
    }

    /// Adds another report's counts and failures.
    pub fn merge(&mut self, other: Report) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.failures.extend(other.failures);
    }
}

/// The suite's `spectest` module.
pub struct SpecTestImports;

impl Imports for SpecTestImports {
    fn func(&self, module: &str, name: &str, _: &WasmFuncType) -> Result<ImportedFunc, String> {
        match (module, name) {
            ("spectest", n) if n.starts_with("print") => Ok(ImportedFunc::Ignore),
            _ => Err(format!("function {module}.{name}")),
        }
    }

    fn global(&self, module: &str, name: &str, want: WasmType) -> Result<ImportedGlobal, String> {
        let (ty, bits) = match (module, name) {
            ("spectest", "global_i32") => (WasmType::I32, 666),
            ("spectest", "global_i64") => (WasmType::I64, 666),
            ("spectest", "global_f32") => (WasmType::F32, u64::from(666.6f32.to_bits())),
            ("spectest", "global_f64") => (WasmType::F64, 666.6f64.to_bits()),
            _ => return Err(format!("global {module}.{name}")),
        };
        match want == ty {
            true => Ok(ImportedGlobal { ty, bits }),
            false => Err(format!("global {module}.{name}: incompatible import type")),
        }
    }

    fn memory(&self, module: &str, name: &str, _: u64, _: Option<u64>) -> Result<MemoryPlan, String> {
        match (module, name) {
            ("spectest", "memory") => Ok(MemoryPlan { min_pages: 1, max_pages: Some(2), guarded: true }),
            _ => Err(format!("memory {module}.{name}")),
        }
    }

    fn table(&self, module: &str, name: &str, elem: WasmType, _: u64, _: Option<u64>) -> Result<TablePlan, String> {
        match (module, name) {
            ("spectest", "table") if elem == WasmType::FuncRef => Ok(TablePlan { min: 10, max: Some(20) }),
            _ => Err(format!("table {module}.{name}")),
        }
    }
}

/// The spec's wording of a trap, as `assert_trap` scripts expect it.
fn trap_message(code: TrapCode) -> &'static str {
    match code {
        TrapCode::Unreachable => "unreachable",
        TrapCode::IntegerOverflow => "integer overflow",
        TrapCode::IntegerDivByZero => "integer divide by zero",
        TrapCode::BadConversion => "invalid conversion to integer",
        TrapCode::MemoryOutOfBounds | TrapCode::MemoryLimit => "out of bounds memory access",
        TrapCode::CallStackExhausted => "call stack exhausted",
        TrapCode::TableOutOfBounds => "out of bounds table access",
        TrapCode::UndefinedElement => "undefined element",
        TrapCode::UninitializedElement => "uninitialized element",
        TrapCode::IndirectCallTypeMismatch => "indirect call type mismatch",
        other => other.name(),
    }
}

/// A script's state: the instances defined so far.
struct Script<'a> {
    file: String,
    text: &'a str,
    tier: Tier,
    limits: Limits,
    config: WasmConfig,
    /// Where every module of the script is instantiated.
    store: Rc<Store>,
    /// Every module defined so far (`Err`: why it is unavailable); the last one is the current one.
    modules: Vec<Result<WasmInstance, String>>,
    /// `$name`s of modules, as indices into `modules`.
    named: Vec<(String, usize)>,
}

impl<'a> Script<'a> {
    fn at(&self, span: wast::token::Span) -> String {
        let (line, _) = span.linecol_in(self.text);
        format!("{}:{}", self.file, line + 1)
    }

    fn load(&self, bytes: &[u8]) -> Result<Arc<WasmProgram>, WasmLoadError> {
        let imports = self.store.imports(&SpecTestImports);
        Ok(Arc::new(WasmProgram::load(bytes, self.tier, &self.config, &imports, &self.limits)?))
    }

    fn instance(&mut self, id: Option<wast::token::Id<'_>>) -> Result<&mut WasmInstance, String> {
        let index = match id {
            None => self.modules.len().checked_sub(1).ok_or("no module defined yet")?,
            Some(id) => match self.named.iter().rev().find(|(n, _)| n == id.name()) {
                Some(&(_, i)) => i,
                None => return Err(format!("no module named ${}", id.name())),
            },
        };
        self.modules[index].as_mut().map_err(|why| format!("module unavailable ({why})"))
    }

    fn invoke(&mut self, call: &WastInvoke<'_>) -> Result<Result<Vec<u64>, InvokeError>, String> {
        let args = call.args.iter().map(arg_bits).collect::<Result<Vec<_>, _>>()?;
        let instance = self.instance(call.module)?;
        Ok(instance.invoke(call.name, &args, GAS_PER_CALL))
    }

    fn execute(&mut self, exec: &mut WastExecute<'_>) -> Result<Result<Vec<u64>, InvokeError>, String> {
        match exec {
            WastExecute::Invoke(call) => self.invoke(call),
            WastExecute::Get { module, global, .. } => {
                let instance = self.instance(*module)?;
                match instance.global(global) {
                    Some((_, bits)) => Ok(Ok(vec![bits])),
                    None => Err(format!("no exported global `{global}`")),
                }
            }
            WastExecute::Wat(wat) => {
                let bytes = wat.encode().map_err(|e| e.to_string())?;
                let program = self.load(&bytes).map_err(|e| e.to_string())?;
                Ok(self.store.instantiate(&program, GAS_PER_CALL).map(|_| vec![]))
            }
        }
    }

    fn define(&mut self, mut module: QuoteWat<'_>) -> Result<(), String> {
        if let QuoteWat::Wat(wast::Wat::Module(m)) = &module {
            if let Some(id) = m.id {
                self.named.push((id.name().to_string(), self.modules.len()));
            }
        }
        let result = module
            .encode()
            .map_err(|e| e.to_string())
            .and_then(|bytes| self.load(&bytes).map_err(|e| e.to_string()))
            .and_then(|p| self.store.instantiate(&p, GAS_PER_CALL).map_err(|e| e.to_string()));
        let outcome = result.as_ref().map(|_| ()).map_err(Clone::clone);
        self.modules.push(result);
        outcome
    }

    fn directive(&mut self, report: &mut Report, d: WastDirective<'_>) {
        let at = self.at(d.span());
        match d {
            WastDirective::Module(module) => match self.define(module) {
                Ok(()) => report.pass(),
                Err(e) => report.fail(at, format!("module: {e}")),
            },
            WastDirective::Register { name, module, .. } => match self.instance(module) {
                Ok(instance) => {
                    instance.store().register(name, instance);
                    report.pass();
                }
                Err(e) => report.fail(at, format!("register: {e}")),
            },
            WastDirective::Invoke(call) => match self.invoke(&call) {
                Ok(Ok(_)) => report.pass(),
                Ok(Err(e)) => report.fail(at, format!("invoke `{}`: {e}", call.name)),
                Err(e) => report.fail(at, format!("invoke `{}`: {e}", call.name)),
            },
            WastDirective::AssertReturn { mut exec, results, .. } => match self.execute(&mut exec) {
                Ok(Ok(got)) => match check_results(&got, &results) {
                    Ok(()) => report.pass(),
                    Err(e) => report.fail(at, e),
                },
                Ok(Err(e)) => report.fail(at, format!("expected values, got {e}")),
                Err(e) => report.fail(at, e),
            },
            WastDirective::AssertTrap { mut exec, message, .. } => match self.execute(&mut exec) {
                Ok(Err(InvokeError::Trap(code))) if message.starts_with(trap_message(code)) => report.pass(),
                Ok(other) => report.fail(at, format!("expected trap `{message}`, got {other:?}")),
                Err(e) => report.fail(at, e),
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call) {
                Ok(Err(InvokeError::Trap(TrapCode::CallStackExhausted))) => report.pass(),
                Ok(other) => report.fail(at, format!("expected `{message}`, got {other:?}")),
                Err(e) => report.fail(at, e),
            },
            WastDirective::AssertInvalid { mut module, message, .. }
            | WastDirective::AssertMalformed { mut module, message, .. } => match module.encode() {
                Err(_) => report.pass(),
                Ok(bytes) => match self.load(&bytes) {
                    Err(WasmLoadError::Frontend(WasmError::Invalid(_) | WasmError::Limit(_))) => report.pass(),
                    Err(e) => report.fail(at, format!("expected `{message}`, got {e}")),
                    Ok(_) => report.fail(at, format!("expected `{message}`, the module loaded")),
                },
            },
            WastDirective::AssertUnlinkable { mut module, message, .. } => match module.encode() {
                Err(e) => report.fail(at, format!("module does not encode: {e}")),
                Ok(bytes) => match self.load(&bytes) {
                    Err(WasmLoadError::Frontend(WasmError::Link(_))) => report.pass(),
                    Err(e) => report.fail(at, format!("expected `{message}`, got {e}")),
                    Ok(p) => match self.store.instantiate(&p, GAS_PER_CALL) {
                        Err(_) => report.pass(),
                        Ok(_) => report.fail(at, format!("expected `{message}`, the module linked")),
                    },
                },
            },
            other => report.fail(at, format!("unsupported directive {:?}", std::mem::discriminant(&other))),
        }
    }
}

fn arg_bits(arg: &WastArg<'_>) -> Result<u64, String> {
    Ok(match arg {
        WastArg::Core(WastArgCore::I32(v)) => u64::from(*v as u32),
        WastArg::Core(WastArgCore::I64(v)) => *v as u64,
        WastArg::Core(WastArgCore::F32(v)) => u64::from(v.bits),
        WastArg::Core(WastArgCore::F64(v)) => v.bits,
        WastArg::Core(WastArgCore::RefNull(_)) => 0,
        WastArg::Core(WastArgCore::RefExtern(n)) => u64::from(*n) + 1,
        other => return Err(format!("unsupported argument {other:?}")),
    })
}

fn check_results(got: &[u64], want: &[WastRet<'_>]) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("expected {} value(s), got {}", want.len(), got.len()));
    }
    for (i, (&g, w)) in got.iter().zip(want).enumerate() {
        let WastRet::Core(w) = w else { return Err(format!("unsupported expected value {w:?}")) };
        let ok = match w {
            WastRetCore::I32(v) => g == u64::from(*v as u32),
            WastRetCore::I64(v) => g == *v as u64,
            WastRetCore::F32(p) => match p {
                NanPattern::CanonicalNan => g as u32 & 0x7fff_ffff == CANONICAL_NAN_F32,
                NanPattern::ArithmeticNan => g as u32 & 0x7fc0_0000 == 0x7fc0_0000,
                NanPattern::Value(v) => g == u64::from(v.bits),
            },
            WastRetCore::F64(p) => match p {
                NanPattern::CanonicalNan => g & 0x7fff_ffff_ffff_ffff == CANONICAL_NAN_F64,
                NanPattern::ArithmeticNan => g & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
                NanPattern::Value(v) => g == v.bits,
            },
            WastRetCore::RefNull(_) => g == 0,
            WastRetCore::RefExtern(Some(n)) => g == u64::from(*n) + 1,
            WastRetCore::RefExtern(None) | WastRetCore::RefFunc(_) => g != 0,
            other => return Err(format!("unsupported expected value {other:?}")),
        };
        if !ok {
            return Err(format!("result {i}: expected {w:?}, got {g:#x}"));
        }
    }
    Ok(())
}

/// Runs the script `text` (named `file` in messages) on `tier`, translating its modules with `config`.
pub fn run_script(file: &str, text: &str, tier: Tier, config: &WasmConfig) -> Report {
    let mut report = Report::default();
    // The suite's `names.wast` uses bidirectional-override characters in names on purpose.
    let mut lexer = wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let buf = match ParseBuffer::new_with_lexer(lexer) {
        Ok(b) => b,
        Err(e) => {
            report.fail(file.to_string(), format!("lexing: {e}"));
            return report;
        }
    };
    let wast = match parser::parse::<Wast<'_>>(&buf) {
        Ok(w) => w,
        Err(e) => {
            report.fail(file.to_string(), format!("parsing: {e}"));
            return report;
        }
    };
    let mut script = Script {
        file: file.to_string(),
        text,
        tier,
        limits: Limits::default(),
        config: config.clone(),
        store: Rc::new(Store::new(Limits::default())),
        modules: Vec::new(),
        named: Vec::new(),
    };
    for d in wast.directives {
        script.directive(&mut report, d);
    }
    report
}

/// Runs the script at `path` on `tier`, translating its modules with `config`.
pub fn run_file(path: &Path, tier: Tier, config: &WasmConfig) -> Report {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => run_script(&name, &text, tier, config),
        Err(e) => {
            let mut r = Report::default();
            r.fail(name, format!("cannot read: {e}"));
            r
        }
    }
}

/// True for the files of the SIMD proposal, which zvm does not implement (SIMD modules are rejected).
pub fn is_simd(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("simd_"))
}

/// The `.wast` files of `dir`, sorted, split into those to run and the SIMD ones skipped.
pub fn scripts(dir: &Path) -> std::io::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .collect();
    files.sort();
    Ok(files.into_iter().partition(|p| !is_simd(p)))
}
