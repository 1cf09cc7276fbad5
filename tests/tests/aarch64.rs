//! Emitted aarch64 objects run, and agree with the native tiers.
//!
//! What this proves: for pure-compute programs (`examples/fib.zasm` and three programs written below:
//! a hash-like loop over MUL/ADD/XOR/SHL/AND/LT/EQ with memory stores, a memory program with
//! CALLDATACOPY, large offsets and REVERT, and a dynamic-jump program), the relocatable aarch64 ELF object
//! that `emit_object(.., Target::Aarch64, ..)` produces links, runs on an aarch64 CPU (emulated), and stops
//! with the same status, the same gas used and the same output as the same IR run on this x86_64 host
//! through `Contract` on `Tier::Aot` (an x86_64 object mapped by zvm's loader), `Tier::Jit` and
//! `Tier::Interp`. The runs include exact-gas and one-gas-short limits (out of gas at the same point),
//! memory growth charged by the quadratic formula, the memory limit, reverts and invalid jumps.
//!
//! How: each program is assembled, lowered and gas-passed once; the aarch64 object of that IR is written to
//! a temporary directory and statically linked with `tests/aarch64/harness.c` by `aarch64-linux-gnu-gcc`.
//! The harness is a small C runtime: `VmCtx` and `Helpers` laid out as in `compiler/src/abi.rs` — checked
//! at compile time by `_Static_assert`s against sizes and offsets computed here with `offset_of!` and
//! passed as `-D` defines — and the helpers these programs need, written after `runtime/src/frame.rs`
//! (`mem_expand` charging `3w + w²/512`, `halt`, call data, `mem_copy`); any other helper makes the run a
//! `host_error` trap. It runs `zvm_entry` once per (gas, call data) pair given on its command line under
//! `qemu-aarch64` and prints `status gas_left output_hex`; this test turns that into a status and gas used
//! exactly as `Frame::finish` does and compares. Two more checks keep the harness honest: a harness built
//! with a wrong offset does not compile, and one with two helpers swapped in its table fails its start-up
//! check of the table against the `Helpers` offsets (and a program needing an unimplemented helper
//! traps in the harness rather than computing something else).
//!
//! Needs `aarch64-linux-gnu-gcc` (with the arm64 libc) and `qemu-aarch64`. Without them the test prints
//! `SKIPPED: ...` and passes, unless the `CI` environment variable is set, in which case it fails.

mod common;

use common::{fib, message, word};
use std::io::Write as _;
use std::mem::{align_of, offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;
use zvm_compiler::abi::{self, Helpers, VmCtx, Word};
use zvm_compiler::cranelift::{emit_object, JitOptions, Target};
use zvm_compiler::frontend::zvm::asm;
use zvm_compiler::frontend::zvm::lower;
use zvm_ir::{DataSrc, HaltKind, TrapCode, U256};
use zvm_runtime::executor::{Contract, Tier};
use zvm_runtime::schedule::ZvmCosts;
use zvm_runtime::{Exit, InMemoryHost, Limits, Status};

const GCC: &str = "aarch64-linux-gnu-gcc";
const QEMU: &str = "qemu-aarch64";
const SYSROOT: &str = "/usr/aarch64-linux-gnu";
const TOOLS_MISSING: &str = "aarch64 cross tools not installed \
                             (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)";
const GAS: u64 = 10_000_000;
const EM_AARCH64: u16 = 183;

/// A 256-bit hash-like loop. Call data: n, seed. Per iteration i = n..1:
/// `x = x * K + i; acc = (acc ^ (x << (i & 63))) + (acc' < x); acc ^= 0xff * (i == 7); mem[32 i] = acc`.
/// Returns the whole memory: `acc`, `x`, then the stored accumulators.
const MIX: &str = "
    PUSH1 0
    CALLDATALOAD            ; [i = n]
    PUSH1 32
    CALLDATALOAD            ; [i, x = seed]
    PUSH1 0                 ; [i, x, acc]
loop: JUMPDEST
    DUP3
    ISZERO
    PUSH @done
    JUMPI
    SWAP1                   ; [i, acc, x]
    PUSH32 0x9e3779b97f4a7c15f39cc0605cedc8341082276bf3a27251f86c6a11d0c18e95
    MUL
    DUP3
    ADD                     ; [i, acc, x']
    DUP1
    DUP4
    PUSH1 0x3f
    AND                     ; [i, acc, x', x', i & 63]
    SHL                     ; [i, acc, x', x' << (i & 63)]
    SWAP1
    SWAP2                   ; [i, x', x' << .., acc]
    XOR                     ; [i, x', acc2]
    DUP2
    DUP2
    LT                      ; [i, x', acc2, acc2 < x']
    ADD                     ; [i, x', acc3]
    DUP3
    PUSH1 7
    EQ
    PUSH1 0xff
    MUL
    XOR                     ; [i, x', acc4]
    DUP1
    DUP4
    PUSH1 5
    SHL
    MSTORE                  ; mem[32 i] = acc4
    SWAP2
    PUSH1 1
    SWAP1
    SUB
    SWAP2                   ; [i - 1, x', acc4]
    PUSH @loop
    JUMP
done: JUMPDEST              ; [0, x, acc]
    PUSH1 0
    MSTORE
    PUSH1 32
    MSTORE
    POP
    MSIZE
    PUSH1 0
    RETURN
";

/// Memory. Call data: off, v, (more bytes). Copies all the call data to `off + 32`, stores v at `off`,
/// returns (v != 0) or reverts (v == 0) with `memory[off, off + 32 + calldatasize)`.
const MEMORY: &str = "
    CALLDATASIZE
    PUSH1 0
    PUSH1 0
    CALLDATALOAD
    PUSH1 32
    ADD
    CALLDATACOPY            ; mem[off + 32 ..] = calldata
    PUSH1 32
    CALLDATALOAD
    PUSH1 0
    CALLDATALOAD
    MSTORE                  ; mem[off] = v
    CALLDATASIZE
    PUSH1 32
    ADD                     ; [len]
    PUSH1 0
    CALLDATALOAD            ; [len, off]
    PUSH1 32
    CALLDATALOAD
    ISZERO
    PUSH @rev
    JUMPI
    RETURN
rev: JUMPDEST
    REVERT
";

/// A dynamic jump to the offset in the call data (a `switch` over the JUMPDESTs in the compiled code).
const JUMPS: &str = "
    PUSH1 0
    CALLDATALOAD
    JUMP
a:  JUMPDEST
    PUSH1 0xaa
    PUSH @out
    JUMP
b:  JUMPDEST
    PUSH2 0xbbbb
out: JUMPDEST
    PUSH1 0
    MSTORE
    PUSH1 32
    PUSH1 0
    RETURN
";

/// Needs the `hash` helper, which the harness does not implement.
const KECCAK: &str = "
    PUSH1 32
    PUSH1 0
    KECCAK256
    PUSH1 0
    MSTORE
    PUSH1 32
    PUSH1 0
    RETURN
";

/// One observable outcome: status, gas used, output.
type Observed = (Status, u64, Vec<u8>);

fn words(ws: &[U256]) -> Vec<u8> {
    ws.iter().flat_map(|w| word(*w)).collect()
}

fn run_tool(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn tools_installed() -> bool {
    let runs = |tool: &str| Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
    // `-print-file-name` echoes the bare name when the arm64 libc (libc6-dev-arm64-cross) is missing.
    let libc = Command::new(GCC)
        .arg("-print-file-name=libc.a")
        .output()
        .is_ok_and(|o| o.status.success() && Path::new(String::from_utf8_lossy(&o.stdout).trim()).is_absolute());
    runs(GCC) && runs(QEMU) && libc
}

/// The ABI's numbers, from the Rust types, as the harness's `-D` defines.
fn abi_defines() -> Vec<(&'static str, u64)> {
    let limits = Limits::default();
    let n = |x: usize| x as u64;
    vec![
        ("ZVM_ABI_VERSION", abi::ABI_VERSION.into()),
        ("ZVM_WORD_SIZE", n(size_of::<Word>())),
        ("ZVM_VMCTX_SIZE", n(size_of::<VmCtx>())),
        ("ZVM_VMCTX_ALIGN", n(align_of::<VmCtx>())),
        ("ZVM_OFF_GAS_LEFT", n(offset_of!(VmCtx, gas_left))),
        ("ZVM_OFF_MEM_BASE", n(offset_of!(VmCtx, mem_base))),
        ("ZVM_OFF_MEM_LEN", n(offset_of!(VmCtx, mem_len))),
        ("ZVM_OFF_STACK_BASE", n(offset_of!(VmCtx, stack_base))),
        ("ZVM_OFF_STACK_LEN", n(offset_of!(VmCtx, stack_len))),
        ("ZVM_OFF_STACK_CAP", n(offset_of!(VmCtx, stack_cap))),
        ("ZVM_OFF_CALL_DEPTH", n(offset_of!(VmCtx, call_depth))),
        ("ZVM_OFF_MAX_CALL_DEPTH", n(offset_of!(VmCtx, max_call_depth))),
        ("ZVM_OFF_GLOBALS", n(offset_of!(VmCtx, globals))),
        ("ZVM_OFF_HELPERS", n(offset_of!(VmCtx, helpers))),
        ("ZVM_OFF_INSTANCE_TAG", n(offset_of!(VmCtx, instance_tag))),
        ("ZVM_OFF_TABLES", n(offset_of!(VmCtx, tables))),
        ("ZVM_HELPERS_SIZE", n(size_of::<Helpers>())),
        ("ZVM_OFF_MEM_EXPAND", n(offset_of!(Helpers, mem_expand))),
        ("ZVM_OFF_MEM_COPY", n(offset_of!(Helpers, mem_copy))),
        ("ZVM_OFF_HASH", n(offset_of!(Helpers, hash))),
        ("ZVM_OFF_DATA_SIZE", n(offset_of!(Helpers, data_size))),
        ("ZVM_OFF_DATA_LOAD", n(offset_of!(Helpers, data_load))),
        ("ZVM_OFF_DATA_COPY", n(offset_of!(Helpers, data_copy))),
        ("ZVM_OFF_HOST_CALL", n(offset_of!(Helpers, host_call))),
        ("ZVM_OFF_HALT", n(offset_of!(Helpers, halt))),
        ("ZVM_OFF_WORD_BINARY", n(offset_of!(Helpers, word_binary))),
        ("ZVM_OFF_WORD_TERNARY", n(offset_of!(Helpers, word_ternary))),
        ("ZVM_OFF_MEM_GROW", n(offset_of!(Helpers, mem_grow))),
        ("ZVM_OFF_MEM_FILL", n(offset_of!(Helpers, mem_fill))),
        ("ZVM_OFF_MEM_INIT", n(offset_of!(Helpers, mem_init))),
        ("ZVM_OFF_DATA_DROP", n(offset_of!(Helpers, data_drop))),
        ("ZVM_OFF_TABLE_GET", n(offset_of!(Helpers, table_get))),
        ("ZVM_OFF_TABLE_SET", n(offset_of!(Helpers, table_set))),
        ("ZVM_OFF_TABLE_SIZE", n(offset_of!(Helpers, table_size))),
        ("ZVM_OFF_TABLE_GROW", n(offset_of!(Helpers, table_grow))),
        ("ZVM_OFF_TABLE_FILL", n(offset_of!(Helpers, table_fill))),
        ("ZVM_OFF_TABLE_COPY", n(offset_of!(Helpers, table_copy))),
        ("ZVM_OFF_TABLE_INIT", n(offset_of!(Helpers, table_init))),
        ("ZVM_OFF_ELEM_DROP", n(offset_of!(Helpers, elem_drop))),
        ("ZVM_OFF_CALL_INDIRECT_TARGET", n(offset_of!(Helpers, call_indirect_target))),
        ("ZVM_OFF_CALL_FOREIGN", n(offset_of!(Helpers, call_foreign))),
        ("ZVM_STATUS_OK", abi::STATUS_OK.into()),
        ("ZVM_STATUS_RETURN", abi::STATUS_RETURN.into()),
        ("ZVM_STATUS_REVERT", abi::STATUS_REVERT.into()),
        ("ZVM_STATUS_OUT_OF_GAS", abi::STATUS_OUT_OF_GAS.into()),
        ("ZVM_STATUS_TRAP_BASE", abi::STATUS_TRAP_BASE.into()),
        ("ZVM_TRAP_HOST_ERROR", TrapCode::HostError.code().into()),
        ("ZVM_TRAP_MEMORY_LIMIT", TrapCode::MemoryLimit.code().into()),
        ("ZVM_TRAP_MEMORY_OOB", TrapCode::MemoryOutOfBounds.code().into()),
        ("ZVM_DATA_SRC_INPUT", abi::data_src_code(DataSrc::Input).into()),
        ("ZVM_STACK_CAP", n(zvm_runtime::limits::STACK_LIMIT)),
        ("ZVM_MAX_CALL_DEPTH", limits.max_call_depth),
        ("ZVM_MAX_MEMORY", limits.max_memory),
    ]
}

fn harness_source() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("aarch64/harness.c")
}

/// `aarch64-linux-gnu-gcc` with the harness's flags and the ABI defines (`defines` lets a test alter one).
fn gcc(defines: &[(&str, u64)]) -> Command {
    let mut cmd = Command::new(GCC);
    cmd.args(["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror"]);
    for (name, value) in defines {
        cmd.arg(format!("-D{name}={value}ULL"));
    }
    cmd
}

fn compile_harness(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let o = run_tool(gcc(&abi_defines()).args(extra).arg("-c").arg(harness_source()).arg("-o").arg(&out));
    assert!(o.status.success(), "compiling the harness failed:\n{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn link(dir: &Path, harness: &Path, object: &Path, name: &str) -> PathBuf {
    let exe = dir.join(name);
    let o = run_tool(Command::new(GCC).arg("-static").arg(harness).arg(object).arg("-o").arg(&exe));
    assert!(o.status.success(), "linking {} failed:\n{}", object.display(), String::from_utf8_lossy(&o.stderr));
    exe
}

fn qemu(exe: &Path) -> Command {
    let mut cmd = Command::new(QEMU);
    cmd.arg("-L").arg(SYSROOT).arg(exe);
    cmd
}

/// A program: its bytecode, the aarch64 harness linked with the object of its gas-passed IR, and that same
/// IR prepared on this host for each tier.
struct Program {
    name: &'static str,
    code: Vec<u8>,
    exe: PathBuf,
    native: Vec<(Tier, Contract)>,
}

impl Program {
    fn new(name: &'static str, src: &str, dir: &Path, harness: &Path) -> Program {
        let code = asm::assemble(src).unwrap_or_else(|e| panic!("{name}: {e}"));
        let loaded = lower::load(&code, Limits::default().max_code_size).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut module = loaded.module;
        zvm_ir::passes::gas::run(&mut module);
        // The harness runs function 0 (`ENTRY_FUNC`).
        assert_eq!(module.entry.index(), 0, "{name}: the entry is not function 0");
        let object = emit_object(&module, Target::Aarch64, &JitOptions::default())
            .unwrap_or_else(|e| panic!("{name}: emitting the aarch64 object: {e}"));
        assert_eq!(&object[..4], b"\x7fELF", "{name}: not an ELF object");
        assert_eq!(u16::from_le_bytes([object[18], object[19]]), EM_AARCH64, "{name}: not an aarch64 object");
        let obj_path = dir.join(format!("{name}.o"));
        std::fs::write(&obj_path, &object).unwrap();
        let exe = link(dir, harness, &obj_path, name);
        let native = [Tier::Aot, Tier::Jit, Tier::Interp]
            .into_iter()
            .map(|tier| {
                let contract = Contract::from_module(module.clone(), code.clone(), tier, &ZvmCosts)
                    .unwrap_or_else(|e| panic!("{name}: {tier}: {e}"));
                (tier, contract)
            })
            .collect();
        Program { name, code, exe, native }
    }

    /// The same IR on this host, on `tier`.
    fn native(&self, tier: Tier, gas: u64, input: &[u8]) -> Observed {
        let limits = Limits::default();
        let contract = &self.native.iter().find(|(t, _)| *t == tier).expect("every tier is prepared").1;
        let r = contract.run(&message(input.to_vec(), gas), &mut InMemoryHost::new(), &limits);
        assert_eq!((r.gas_refunded, r.logs.len()), (0, 0), "{}: pure compute has no refunds or logs", self.name);
        (r.status, r.gas_used, r.output)
    }

    /// Runs every (gas, call data) pair in one emulated process; the raw (status, gas left, output) of each.
    fn aarch64(&self, runs: &[(u64, Vec<u8>)]) -> Vec<(u32, u64, Vec<u8>)> {
        let mut cmd = qemu(&self.exe);
        for (gas, input) in runs {
            cmd.arg(gas.to_string()).arg(hex::encode(input));
        }
        let o = run_tool(&mut cmd);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{}: the aarch64 harness failed ({}):\n{stdout}\n{}",
            self.name,
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), runs.len(), "{}: one line per run expected:\n{stdout}", self.name);
        lines
            .iter()
            .map(|line| {
                let mut fields = line.splitn(3, ' ');
                let mut next = || fields.next().unwrap_or_else(|| panic!("{}: bad line `{line}`", self.name));
                let status = next().parse().unwrap();
                let gas_left = next().parse().unwrap();
                let output = hex::decode(next()).unwrap();
                (status, gas_left, output)
            })
            .collect()
    }
}

/// What the runtime reports for a raw result of `zvm_entry` (as `Frame::finish`).
fn finish(limit: u64, status: u32, gas_left: u64, output: Vec<u8>) -> Observed {
    assert!(gas_left <= limit, "gas left {gas_left} above the limit {limit}");
    let exit = match status {
        abi::STATUS_OK => None,
        s => Some(Exit::from_status(s).unwrap_or_else(|| panic!("unknown status {s:#x}"))),
    };
    let used = limit - gas_left;
    match exit {
        None | Some(Exit::Halt(HaltKind::Return)) => (Status::Success, used, output),
        Some(Exit::Halt(HaltKind::Revert)) => (Status::Revert, used, output),
        Some(Exit::OutOfGas) => (Status::OutOfGas, limit, Vec::new()),
        Some(Exit::Trap(code)) => (Status::Trap(code), limit, Vec::new()),
    }
}

/// Asserts two outcomes are equal, showing a differing output by its first difference rather than in full.
fn assert_same(got: &Observed, want: &Observed, what: &str) {
    assert_eq!((&got.0, got.1), (&want.0, want.1), "{what}: status and gas used differ");
    if got.2 != want.2 {
        let at = got.2.iter().zip(&want.2).position(|(a, b)| a != b).unwrap_or(got.2.len().min(want.2.len()));
        let around = |o: &[u8]| hex::encode(&o[at.min(o.len())..(at + 16).min(o.len())]);
        panic!(
            "{what}: outputs differ ({} vs {} bytes) from byte {at}: {} vs {}",
            got.2.len(),
            want.2.len(),
            around(&got.2),
            around(&want.2)
        );
    }
}

/// Runs `runs` natively on every tier, adds exact-gas and one-short runs for each one that halts, runs them
/// all on aarch64 and asserts agreement. Returns the results.
fn compare(p: &Program, runs: &[(u64, Vec<u8>)]) -> Vec<(u64, Vec<u8>, Observed)> {
    let mut all = runs.to_vec();
    for (gas, input) in runs {
        let (status, used, _) = p.native(Tier::Aot, *gas, input);
        if matches!(status, Status::Success | Status::Revert) && used > 0 {
            all.push((used, input.clone()));
            all.push((used - 1, input.clone()));
        }
    }
    let arm = p.aarch64(&all);
    let mut results = Vec::new();
    for ((gas, input), (status, gas_left, output)) in all.into_iter().zip(arm) {
        let aot = p.native(Tier::Aot, gas, &input);
        let what = format!("{} (gas {gas}, call data {})", p.name, hex::encode(&input));
        for tier in [Tier::Jit, Tier::Interp] {
            assert_same(&p.native(tier, gas, &input), &aot, &format!("{what}: x86_64 {tier} vs x86_64 aot"));
        }
        let arm = finish(gas, status, gas_left, output);
        assert_same(&arm, &aot, &format!("{what}: aarch64 vs x86_64 aot"));
        let shown = hex::encode(&arm.2[arm.2.len().saturating_sub(8)..]);
        println!(
            "{:>6}  gas {gas:>13}  input {:>3} B  -> {:<24} gas used {:>13}  output {:>4} B ..{shown}",
            p.name,
            input.len(),
            arm.0.name(),
            arm.1,
            arm.2.len()
        );
        results.push((gas, input, arm));
    }
    results
}

#[test]
fn emitted_aarch64_objects_run_and_agree_with_x86_64() {
    let start = Instant::now();
    if !tools_installed() {
        assert!(std::env::var_os("CI").is_none(), "{TOOLS_MISSING}, and CI is set: this test may not be skipped");
        // Straight to stderr, past the test harness's output capture, so the skip is seen.
        let _ = writeln!(std::io::stderr(), "SKIPPED: {TOOLS_MISSING}");
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("aarch64-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // The harness must refuse to build against a layout it does not match.
    let mut wrong = abi_defines();
    wrong.iter_mut().find(|(name, _)| *name == "ZVM_OFF_HELPERS").unwrap().1 += 8;
    let o = run_tool(gcc(&wrong).arg("-fsyntax-only").arg(harness_source()));
    assert!(!o.status.success(), "the harness compiled against a wrong VmCtx layout");
    assert!(String::from_utf8_lossy(&o.stderr).contains("VmCtx.helpers"), "{}", String::from_utf8_lossy(&o.stderr));

    let harness = compile_harness(&dir, "harness.o", &[]);
    let fib_src =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/fib.zasm")).unwrap();
    let fib_prog = Program::new("fib", &fib_src, &dir, &harness);

    // The helper table check: passes on the real harness, catches two swapped helpers.
    let o = run_tool(qemu(&fib_prog.exe).arg("--check"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "helper table ok: 24 slots");
    let misfilled = compile_harness(&dir, "harness-misfill.o", &["-DZVM_HARNESS_MISFILL"]);
    let misfilled = link(&dir, &misfilled, &dir.join("fib.o"), "fib-misfill");
    let o = run_tool(qemu(&misfilled).arg("--check"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "a misfilled helper table went unnoticed: {stderr}");
    assert!(stderr.contains("is not mem_copy") && stderr.contains("is not halt"), "{stderr}");

    // fib for several n, including call data shorter than a word (n = 5 << 248: out of gas) and none (n = 0).
    let mut runs: Vec<(u64, Vec<u8>)> =
        [0u64, 1, 2, 10, 93, 94, 371, 1000].iter().map(|&n| (GAS, word(U256::from(n)))).collect();
    runs.push((GAS, vec![5]));
    runs.push((GAS, vec![]));
    for (gas, input, (status, used, output)) in compare(&fib_prog, &runs) {
        if gas == GAS && input.len() == 32 {
            let n = U256::from_be_slice(&input).to::<u64>();
            assert_eq!((status, used, output), (Status::Success, 50 + 55 * n, word(fib(n))), "fib({n})");
        }
    }

    let mix = Program::new("mix", MIX, &dir, &harness);
    let seed = U256::from(0xdead_beef_u64);
    let big = (U256::from(1) << 255) + U256::from(12345);
    let runs: Vec<_> = [(0u64, U256::ZERO), (1, U256::from(1)), (7, seed), (64, big), (300, seed)]
        .iter()
        .map(|&(n, x)| (GAS, words(&[U256::from(n), x])))
        .collect();
    let results = compare(&mix, &runs);
    assert_eq!(results[4].2 .2.len(), 301 * 32, "mix(300) returns its whole memory");

    let memory = Program::new("memory", MEMORY, &dir, &harness);
    let max = Limits::default().max_memory;
    let rich = 1_000_000_000_000;
    let runs = vec![
        (GAS, words(&[U256::ZERO, U256::from(5)])),
        (GAS, words(&[U256::from(0x4000), U256::from(0x1234)])),
        (GAS, [words(&[U256::from(100), U256::ZERO]), vec![0xab; 6]].concat()),
        (GAS, words(&[U256::from(1u64 << 40), U256::from(1)])),
        (GAS, words(&[U256::from(1) << 64, U256::from(1)])),
        (rich, words(&[U256::from(max - 96), U256::from(1)])),
        (rich, words(&[U256::from(max - 95), U256::from(1)])),
    ];
    let results = compare(&memory, &runs);
    let statuses: Vec<String> = results[..runs.len()].iter().map(|r| r.2 .0.name()).collect();
    assert_eq!(
        statuses,
        ["success", "success", "revert", "out_of_gas", "out_of_gas", "success", "trap:memory_limit"],
        "memory: the cases meant to cover each outcome"
    );

    let jumps = Program::new("jumps", JUMPS, &dir, &harness);
    let runs: Vec<_> = (0..jumps.code.len() as u64 + 2).map(|dest| (GAS, word(U256::from(dest)))).collect();
    let results = compare(&jumps, &runs);
    let count = |status: Status| results[..runs.len()].iter().filter(|r| r.2 .0 == status).count();
    let (ok, underflow) = (count(Status::Success), count(Status::Trap(TrapCode::StackUnderflow)));
    let invalid = count(Status::Trap(TrapCode::InvalidJump));
    // `a` and `b` return; `out` itself underflows (nothing to store); every other target is invalid.
    assert_eq!((ok, underflow, invalid), (2, 1, runs.len() - 3), "jumps: the outcomes of the targets");

    // A program needing a helper the harness lacks fails loudly there instead of computing something else.
    let keccak = Program::new("keccak", KECCAK, &dir, &harness);
    assert_eq!(keccak.native(Tier::Aot, GAS, &[]).0, Status::Success);
    let o = run_tool(qemu(&keccak.exe).arg(GAS.to_string()).arg(""));
    let host_error = abi::STATUS_TRAP_BASE + TrapCode::HostError.code();
    assert!(String::from_utf8_lossy(&o.stdout).starts_with(&format!("{host_error} ")));
    assert!(String::from_utf8_lossy(&o.stderr).contains("`hash` is not implemented"));

    let _ = std::fs::remove_dir_all(&dir);
    println!("aarch64 check took {:.2?}", start.elapsed());
}
