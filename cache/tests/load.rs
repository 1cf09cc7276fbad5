//! Emitted objects, loaded by zvm's own loader: they run exactly like JIT code on every example, their
//! structure is what the loader expects (for both architectures), and malformed objects are rejected
//! without the loader ever panicking.

use object::read::elf::{ElfFile64, FileHeader as _, SectionHeader as _, Sym as _};
use object::{elf, Endianness, Object as _, ObjectKind};
use std::path::PathBuf;
use zvm_cache::{load, LoadError};
use zvm_compiler::cranelift::object::{ObjectMeta, ENTRY_SYMBOL, META_SECTION};
use zvm_compiler::cranelift::{emit_object, JitOptions, NativeCode, StackBound, Target};
use zvm_compiler::frontend::zvm::{asm, lower};
use zvm_ir::{Module, U256};
use zvm_runtime::executor::{Contract, Tier};
use zvm_runtime::schedule::ZvmCosts;
use zvm_runtime::Host as _;
use zvm_runtime::{Address, ExecResult, InMemoryHost, Limits, Message};

const EXAMPLES: [&str; 4] = ["fib.zasm", "counter.zasm", "token.zasm", "sort.zasm"];
const CONTRACT: Address = Address::from_low_u64(0xC0DE);
const A: Address = Address::from_low_u64(0xAAAA);
const B: Address = Address::from_low_u64(0xBBBB);

/// An example's code and its IR after the gas pass.
fn example(name: &str) -> (Vec<u8>, Module) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name);
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let code = asm::assemble(&src).unwrap_or_else(|e| panic!("{name}: {e}"));
    let loaded = lower::load(&code, Limits::default().max_code_size).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut module = loaded.module;
    zvm_ir::passes::gas::run(&mut module);
    (loaded.code.to_vec(), module)
}

fn host_object(name: &str) -> Vec<u8> {
    let target = Target::host().expect("tests run on x86_64 or aarch64");
    emit_object(&example(name).1, target, &JitOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn word(v: u64) -> Vec<u8> {
    U256::from(v).to_be_bytes::<32>().to_vec()
}

fn addr(a: Address) -> Vec<u8> {
    a.to_word().to_be_bytes::<32>().to_vec()
}

/// Calls that exercise every example somewhere (each example sees all of them, most as garbage input):
/// fibonacci inputs, sort sizes and seeds, token mints, transfers (one reverting), balance queries, and a
/// too-small gas limit.
fn script() -> Vec<(Address, Vec<u8>, u64)> {
    let sel = |s: u32| s.to_be_bytes().to_vec();
    let gas = 10_000_000;
    vec![
        (A, vec![], gas),
        (A, word(10), gas),
        (A, word(94), gas),
        (A, [word(5), word(7)].concat(), gas),
        (A, [sel(0x40c1_0f19), addr(A), word(1000)].concat(), gas),
        (A, [sel(0xa905_9cbb), addr(B), word(300)].concat(), gas),
        (B, [sel(0xa905_9cbb), addr(A), word(301)].concat(), gas),
        (B, [sel(0x70a0_8231), addr(B)].concat(), gas),
        (A, word(1000), 30_000),
        (A, [sel(0x40c1_0f19), addr(B), word(1)].concat(), 22_000),
        (B, [word(40), word(3)].concat(), gas),
    ]
}

/// Runs the script on `tier`, returning every result and the storage after each call.
fn run_script(name: &str, tier: Tier) -> Vec<(ExecResult, Vec<(U256, U256)>)> {
    let (code, module) = example(name);
    let contract = Contract::from_module(module, code, tier, &ZvmCosts).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(contract.tier(), tier);
    let limits = Limits::default();
    let mut host = InMemoryHost::new();
    script()
        .into_iter()
        .map(|(caller, input, gas)| {
            let msg = Message { caller, address: CONTRACT, input, gas_limit: gas, ..Message::default() };
            let result = contract.run(&msg, &mut host, &limits);
            host.finish_transaction();
            let mut storage: Vec<_> = host
                .accounts
                .get(&CONTRACT)
                .map(|a| a.storage.iter().map(|(k, v)| (*k, *v)).collect())
                .unwrap_or_default();
            storage.sort();
            (result, storage)
        })
        .collect()
}

#[test]
fn loaded_objects_run_exactly_like_jit_code() {
    for name in EXAMPLES {
        let jit = run_script(name, Tier::Jit);
        let aot = run_script(name, Tier::Aot);
        assert_eq!(jit.len(), aot.len());
        for (i, (j, a)) in jit.iter().zip(&aot).enumerate() {
            assert_eq!(j, a, "{name}, call {i}");
        }
        assert!(jit.iter().any(|(r, _)| r.status.is_success()), "{name}: the script exercises nothing");
    }
}

#[test]
fn loaded_code_reports_size_and_the_compilers_stack_bound() {
    for name in EXAMPLES {
        let (_, module) = example(name);
        let jit = zvm_compiler::cranelift::compile(&module, &JitOptions::default()).unwrap();
        let loaded = load(&host_object(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(loaded.code_size() > 0);
        // The same code generator computes both bounds from the frames it made, but for different ISA
        // flags (the object for the target's baseline, the JIT for this CPU's features), so register
        // allocation, and with it a frame's spill slots, may differ a little: the same shape and sizes
        // within 10%.
        let close = |a: u64, b: u64| a.abs_diff(b) * 10 <= a.max(b);
        match (loaded.stack_bound(), jit.stack_bound()) {
            (StackBound::Chain(a), StackBound::Chain(b)) => assert!(close(a, b), "{name}: {a} and {b}"),
            (StackBound::PerCall { base: a, frame: f }, StackBound::PerCall { base: b, frame: g }) => {
                assert!(close(a, b) && close(f, g), "{name}: {a}+{f} and {b}+{g} per call")
            }
            (a, b) => panic!("{name}: {a:?} and {b:?}"),
        }
        assert_eq!(NativeCode::native_stack_bytes(&loaded, 1024), loaded.stack_bound().native_stack_bytes(1024));
        assert!(format!("{loaded:?}").contains("code_size"));
    }
}

/// What a structural look at an object finds.
#[derive(Debug, Default)]
struct Shape {
    sections: Vec<String>,
    reloc_types: Vec<u32>,
    entry_is_global_func: bool,
    meta: Option<ObjectMeta>,
}

fn shape(bytes: &[u8], machine: u16) -> Shape {
    let file = ElfFile64::<Endianness>::parse(bytes).expect("a well-formed ELF object");
    let endian = file.endian();
    assert_eq!(file.kind(), ObjectKind::Relocatable);
    assert!(file.is_little_endian());
    assert_eq!(file.elf_header().e_machine(endian), machine);
    let sections = file.elf_section_table();
    let symtab = file.elf_symbol_table();
    let mut out = Shape::default();
    for (i, sym) in symtab.symbols().iter().enumerate().skip(1) {
        let name = String::from_utf8_lossy(symtab.symbol_name(endian, sym).unwrap()).into_owned();
        assert!(!sym.is_undefined(endian), "undefined symbol `{name}` (#{i})");
        if name == ENTRY_SYMBOL {
            out.entry_is_global_func = sym.st_type() == elf::STT_FUNC && sym.st_bind() == elf::STB_GLOBAL;
        }
    }
    for h in sections.iter().skip(1) {
        let name = String::from_utf8_lossy(sections.section_name(endian, h).unwrap()).into_owned();
        if let Some((relas, _)) = h.rela(endian, bytes).unwrap() {
            out.reloc_types.extend(relas.iter().map(|r| r.r_type(endian, false)));
        }
        if name == META_SECTION {
            out.meta = ObjectMeta::decode(h.data(endian, bytes).unwrap());
        }
        out.sections.push(name);
    }
    out.reloc_types.sort_unstable();
    out.reloc_types.dedup();
    out
}

#[test]
fn objects_have_no_undefined_symbols_and_only_supported_relocations_on_both_architectures() {
    for name in EXAMPLES {
        let module = example(name).1;
        for (target, machine, supported) in [
            (Target::X86_64, elf::EM_X86_64, &[elf::R_X86_64_64, elf::R_X86_64_PC32, elf::R_X86_64_PLT32][..]),
            (
                Target::Aarch64,
                elf::EM_AARCH64,
                &[
                    elf::R_AARCH64_ABS64,
                    elf::R_AARCH64_CALL26,
                    elf::R_AARCH64_JUMP26,
                    elf::R_AARCH64_ADR_PREL_PG_HI21,
                    elf::R_AARCH64_ADD_ABS_LO12_NC,
                ][..],
            ),
        ] {
            let bytes = emit_object(&module, target, &JitOptions::default()).unwrap();
            let s = shape(&bytes, machine);
            assert!(s.entry_is_global_func, "{name} {target:?}: {s:?}");
            assert!(s.sections.iter().any(|n| n == ".text"), "{name} {target:?}: {s:?}");
            assert!(s.reloc_types.iter().all(|t| supported.contains(t)), "{name} {target:?}: {s:?}");
            let meta = s.meta.unwrap_or_else(|| panic!("{name} {target:?}: no metadata"));
            assert_eq!(meta.abi_version, zvm_compiler::abi::ABI_VERSION);
        }
    }
}

#[test]
fn objects_for_the_other_architecture_are_rejected() {
    let other = match Target::host().unwrap() {
        Target::X86_64 => Target::Aarch64,
        Target::Aarch64 => Target::X86_64,
    };
    for name in EXAMPLES {
        let bytes = emit_object(&example(name).1, other, &JitOptions::default()).unwrap();
        let err = load(&bytes).unwrap_err();
        assert!(matches!(err, LoadError::WrongArchitecture { .. }), "{name}: {err}");
        assert!(err.to_string().contains(&format!("{other:?}")), "{err}");
    }
}

#[test]
fn non_objects_and_wrong_metadata_are_rejected() {
    for bytes in [&b""[..], b"\x7fELF", b"not an object at all", &[0u8; 64]] {
        assert!(matches!(load(bytes), Err(LoadError::Malformed(_))), "{bytes:?}");
    }
    let good = host_object("fib.zasm");
    let magic = good.windows(8).position(|w| w == b"zvmmeta\0").expect("metadata in the object");
    let mut abi = good.clone();
    abi[magic + 8] ^= 0x40;
    assert!(matches!(load(&abi), Err(LoadError::Meta(m)) if m.contains("ABI version")));
    let mut garbled = good.clone();
    garbled[magic] ^= 1;
    assert!(matches!(load(&garbled), Err(LoadError::Meta(_))));
    let mut renamed = good.clone();
    let name = renamed.windows(ENTRY_SYMBOL.len()).position(|w| w == ENTRY_SYMBOL.as_bytes()).unwrap();
    renamed[name] = b'Z';
    assert!(matches!(load(&renamed), Err(LoadError::Entry(_))));
}

/// Flips bytes everywhere and truncates at every length: the loader returns an error or, when only code
/// (or padding) bytes changed, loads; it never panics. Corrupted code is never run.
#[test]
fn corrupted_and_truncated_objects_never_crash_the_loader() {
    for name in ["fib.zasm", "token.zasm"] {
        let good = host_object(name);
        assert!(load(&good).is_ok());
        let (mut rejected, mut loaded) = (0usize, 0usize);
        let mut tally = |r: Result<_, LoadError>| match r {
            Ok(_) => loaded += 1,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                rejected += 1;
            }
        };
        for len in 0..good.len() {
            tally(load(&good[..len]));
        }
        for pos in 0..good.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[pos] ^= mask;
                tally(load(&bad));
            }
        }
        // Every truncation loses the section headers (at the end of the file) or part of them.
        assert!(rejected >= good.len(), "{name}: {rejected} rejected, {loaded} loaded");
    }
}

/// A module with `call_indirect` has a function table: read-only data with relocations, in the one
/// writable-flagged section the loader accepts (`.data.rel.ro`); any other writable section is rejected.
#[test]
fn the_function_table_loads_and_other_writable_sections_do_not() {
    let text = "
type (i64) -> i64
table 2
elem [0, 0]
function %double(i64) -> i64 {
block0(v0: i64):
    gas.cost 1
    v1 = add v0, v0
    return v1
}
function %main() -> i64 {
block0:
    gas.cost 1
    v0 = iconst.i64 0
    v1 = iconst.i64 21
    v2 = call_indirect 0 0 v0(v1)
    return v2
}
entry fn1
";
    let module = zvm_ir::text::parse(text).unwrap_or_else(|e| panic!("{e}"));
    zvm_ir::verify::verify_module(&module).unwrap_or_else(|e| panic!("{e}"));
    let object = emit_object(&module, Target::host().unwrap(), &JitOptions::default()).unwrap();
    let section = zvm_cache::RELRO_SECTION.as_bytes();
    assert!(object.windows(section.len()).any(|w| w == section), "the object has a function table");
    load(&object).unwrap_or_else(|e| panic!("{e}"));
    let mut renamed = object.clone();
    let at = renamed.windows(section.len()).position(|w| w == section).unwrap();
    renamed[at + section.len() - 2..at + section.len()].copy_from_slice(b"rw");
    assert!(
        matches!(load(&renamed), Err(LoadError::UnsupportedSection { ref name, .. }) if name == ".data.rel.rw"),
        "{:?}",
        load(&renamed).err()
    );
}
