//! The harness shared by the WebAssembly tests (`tables.rs`, `wasm_ops.rs`): modules from the IR text form,
//! a module's code for every tier (the interpreter, the JIT at both optimization levels, an AOT object loaded
//! by zvm's loader), frames with a fresh instance, invocation, object metadata and the aarch64 cross tools.

#![allow(dead_code)]

use std::ops::Range;
use std::path::{Path, PathBuf};
use zvm_compiler::cranelift::object::ObjectMeta;
use zvm_compiler::cranelift::{compile, emit_object, JitOptions, NativeCode, OptLevel, Target};
use zvm_ir::{FuncId, Module, TrapCode};
use zvm_runtime::compiled::{self, HELPERS};
use zvm_runtime::executor::Tier;
use zvm_runtime::frame::{Instance, SignatureIds};
use zvm_runtime::interpreter::{self, Program};
use zvm_runtime::schedule::ZvmCosts;
use zvm_runtime::vm::Vm;
use zvm_runtime::{Exit, Frame, InMemoryHost, Limits, Message};

pub const GAS: u64 = 1_000_000;
/// What a failed `table.grow` / `mem.grow` gives.
pub const MINUS_ONE: u64 = u64::MAX;
pub const PAGE: u64 = zvm_ir::WASM_PAGE;

// ---- modules -------------------------------------------------------------------------------------------

/// Parses and verifies a module as written.
pub fn parse(text: &str) -> Module {
    let module = zvm_ir::text::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    zvm_ir::verify::verify_module(&module).unwrap_or_else(|e| panic!("{e}\n{text}"));
    module
}

/// Like [`parse`], but unless `src` names its entry, an empty entry function (the verifier wants one without
/// parameters) is added after the functions of `src`, which keep their indices.
pub fn parse_with_entry(src: &str) -> Module {
    if src.contains("entry fn") {
        return parse(src);
    }
    let n = src.matches("function %").count();
    parse(&format!("entry fn{n}\n{src}\nfunction %start() {{\nblock0:\n    return\n}}\n"))
}

// ---- tiers ---------------------------------------------------------------------------------------------

pub enum Code {
    Interp(Box<Program>),
    Native(Box<dyn NativeCode>),
}

pub struct TierCode {
    pub name: &'static str,
    pub code: Code,
}

/// The AOT object of `module` for the host, loaded by zvm's loader.
pub fn aot(module: &Module) -> Box<dyn NativeCode> {
    let target = Target::host().expect("tests run on x86_64 or aarch64");
    let object = emit_object(module, target, &JitOptions::default()).unwrap_or_else(|e| panic!("emit: {e}"));
    Box::new(zvm_cache::load(&object).unwrap_or_else(|e| panic!("load: {e}")))
}

pub fn jit(module: &Module, level: OptLevel) -> Box<dyn NativeCode> {
    Box::new(compile(module, &JitOptions { opt_level: level, verify: true }).unwrap_or_else(|e| panic!("{e}")))
}

/// `module` prepared for every tier; the interpreter first.
pub fn tiers(module: &Module) -> Vec<TierCode> {
    vec![
        TierCode { name: "interp", code: Code::Interp(Box::new(Program::new(module))) },
        TierCode { name: "jit-none", code: Code::Native(jit(module, OptLevel::None)) },
        TierCode { name: "jit-speed", code: Code::Native(jit(module, OptLevel::Speed)) },
        TierCode { name: "aot", code: Code::Native(aot(module)) },
    ]
}

// ---- frames and invocation -----------------------------------------------------------------------------

/// One execution: a frame with `gas` and a fresh instance of `module` (memory, globals, tables, segments)
/// attached, passed to `f`.
pub fn with_frame<R>(module: &Module, limits: &Limits, gas: u64, f: impl FnOnce(&mut Frame<'_>) -> R) -> R {
    let msg = Message { gas_limit: gas, ..Default::default() };
    let vm = Vm::new(Tier::Interp, limits.clone());
    let mut host = InMemoryHost::new();
    let signatures = SignatureIds::of(module);
    let mut frame = Frame::new(&msg, &[], &mut host, &vm, &ZvmCosts, &HELPERS);
    frame.attach(module, &signatures, Instance::new(module, limits).expect("the instance fits the limits"));
    f(&mut frame)
}

/// Invokes function `func` of `code` with `values` (arguments in, results out).
pub fn invoke_on(code: &Code, frame: &mut Frame<'_>, func: u32, values: &mut [u64]) -> Option<Exit> {
    match code {
        Code::Interp(p) => interpreter::invoke(p, frame, FuncId(func), values),
        Code::Native(c) => compiled::invoke(&**c, frame, FuncId(func), values),
    }
}

pub fn trap(code: TrapCode) -> Result<Vec<u64>, Exit> {
    Err(Exit::Trap(code))
}

/// `[start, start + len)` when inside a sequence of `size` (an empty range may start at the end, not past
/// it), as WebAssembly's bounds rule says.
pub fn in_bounds(start: u64, len: u64, size: usize) -> Option<Range<usize>> {
    let end = start.checked_add(len)?;
    (end <= size as u64).then_some(start as usize..end as usize)
}

// ---- objects -------------------------------------------------------------------------------------------

/// The metadata of an object (found by its magic; its length follows from the number of functions).
pub fn meta_of(object: &[u8], functions: usize) -> Option<ObjectMeta> {
    let at = object.windows(8).position(|w| w == b"zvmmeta\0")?;
    let len = zvm_compiler::cranelift::object::META_HEADER_LEN + 4 * functions;
    ObjectMeta::decode(object.get(at..at + len)?)
}

// ---- aarch64 -------------------------------------------------------------------------------------------

pub const CROSS_GCC: &str = "aarch64-linux-gnu-gcc";
pub const QEMU: &str = "qemu-aarch64";

fn cross_tools_installed() -> bool {
    let runs =
        |tool: &str| std::process::Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
    // `-print-file-name` echoes the bare name when the arm64 libc is missing.
    let libc = std::process::Command::new(CROSS_GCC)
        .arg("-print-file-name=libc.a")
        .output()
        .is_ok_and(|o| o.status.success() && Path::new(String::from_utf8_lossy(&o.stdout).trim()).is_absolute());
    runs(CROSS_GCC) && runs(QEMU) && libc
}

/// A fresh scratch folder (under the system's temporary folder) for the aarch64 files of test `name`, when
/// the cross tools (`aarch64-linux-gnu-gcc` with the arm64 libc, and `qemu-aarch64`) are installed; without
/// them `None`, and the test prints `SKIPPED` and passes, unless `CI` is set.
pub fn aarch64_dir(name: &str) -> Option<PathBuf> {
    if !cross_tools_installed() {
        assert!(std::env::var_os("CI").is_none(), "aarch64 cross tools are missing on CI");
        eprintln!("SKIPPED: {CROSS_GCC} (with the arm64 libc) or {QEMU} is not installed");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("zvm-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    Some(dir)
}

/// Links the aarch64 object of `module` with the C driver `driver_c` (compiled with `-DNAME=VALUE` for each
/// of `defines`, and `ZVM_GAS`) into the executable `dir/name`.
pub fn link_aarch64(dir: &Path, name: &str, module: &Module, driver_c: &str, defines: &[(&str, u64)]) -> PathBuf {
    let object = emit_object(module, Target::Aarch64, &JitOptions::default()).unwrap();
    let (obj, driver, exe) = (dir.join(format!("{name}.o")), dir.join("driver.c"), dir.join(name));
    std::fs::write(&obj, object).unwrap();
    std::fs::write(&driver, driver_c).unwrap();
    let mut gcc = std::process::Command::new(CROSS_GCC);
    gcc.args(["-std=c11", "-O2", "-static", "-Wall", "-Werror", "-Wno-cast-function-type"]);
    for (k, v) in defines.iter().chain(&[("ZVM_GAS", GAS)]) {
        gcc.arg(format!("-D{k}={v}ULL"));
    }
    let o = gcc.arg(&driver).arg(&obj).arg("-o").arg(&exe).output().unwrap();
    assert!(o.status.success(), "linking: {}", String::from_utf8_lossy(&o.stderr));
    exe
}

/// One invocation for an aarch64 driver: a `FUNC NIN NOUT ARGS...` line (hex arguments).
pub fn driver_line(func: u32, args: &[u64], nresults: usize) -> String {
    let mut line = format!("{func} {} {nresults}", args.len());
    for a in args {
        line += &format!(" {a:x}");
    }
    line.push('\n');
    line
}

/// Runs the aarch64 executable `exe` under qemu with `input` (written next to it as `exe.in`); returns the
/// `STATUS GAS RESULTS...` line of each of the `calls` calls.
pub fn run_under_qemu(exe: &Path, input: &str, calls: usize) -> Vec<(u32, u64, Vec<u64>)> {
    let path = exe.with_extension("in");
    std::fs::write(&path, input).unwrap();
    let o = std::process::Command::new(QEMU).arg(exe).stdin(std::fs::File::open(&path).unwrap()).output().unwrap();
    assert!(o.status.success(), "{QEMU}: {}\n{}", o.status, String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<(u32, u64, Vec<u64>)> = out
        .lines()
        .map(|line| {
            let mut fields = line.split(' ');
            let status = fields.next().unwrap().parse().unwrap();
            let gas = fields.next().unwrap().parse().unwrap();
            (status, gas, fields.map(|f| u64::from_str_radix(f, 16).unwrap()).collect())
        })
        .collect();
    assert_eq!(lines.len(), calls, "one line per call");
    lines
}

/// The status the trampoline returns for a stop (or none).
pub fn expected_status(exit: Option<Exit>) -> u32 {
    exit.map_or(zvm_compiler::abi::STATUS_OK, Exit::to_status)
}
