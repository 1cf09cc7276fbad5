//! zvm's loader of native objects.
//!
//! The compiled tier can emit one relocatable ELF object per contract
//! ([`zvm_compiler::cranelift::emit_object`]) so that compiled code can be stored and reused without
//! compiling again. This crate turns such an object back into runnable code **without `dlopen` and without
//! a system linker**: those would trust the object's contents (constructors, arbitrary symbols and
//! relocations, writable and executable pages), and they are not available everywhere the runtime runs.
//! [`load`] instead accepts only the small shape zvm's backend emits, and rejects anything else with a
//! [`LoadError`] (it never panics, whatever the bytes):
//!
//! 1. **Parse and check the header**: a 64-bit little-endian ELF *relocatable* object for the host's
//!    architecture (x86_64 or aarch64).
//! 2. **Check the sections**: allocated sections must be read-only (`.text`, or read-only data, including
//!    [`RELRO_SECTION`], which is read-only once relocated), with a power-of-two alignment of at most a
//!    page; besides them only the symbol and string tables, `RELA` sections applying to a loaded section,
//!    empty notes, and exactly one [`META_SECTION`] are allowed. Writable, TLS, `NOBITS` and any other
//!    sections are rejected.
//! 3. **Check the symbols**: no undefined, common, TLS or indirect symbols; every defined symbol lies inside
//!    its section; exactly one global function [`ENTRY_SYMBOL`] in an executable section.
//! 4. **Read the metadata** ([`ObjectMeta`]): the ABI version must be this build's
//!    [`zvm_compiler::abi::ABI_VERSION`]; the native stack bound is what the runtime needs to pick a stack,
//!    the dispatch ([`Dispatch`]: the entry function and what every function's invocation needs) what it
//!    needs to call the entry trampoline.
//! 5. **Lay out and relocate**: the loaded sections are copied into one anonymous mapping, each at its
//!    alignment, then every relocation is applied after checking its type (x86_64: `R_X86_64_64`, `PC32`,
//!    `PLT32`; aarch64: `ABS64`, `CALL26`, `JUMP26`, `ADR_PREL_PG_HI21`, `ADD_ABS_LO12_NC`), that its target
//!    symbol is defined in a loaded section, that the patched bytes lie inside their section and that the
//!    value fits the instruction field.
//! 6. **Publish**: the mapping becomes read+execute (it is never writable and executable at once), after
//!    the instruction cache is made coherent, and [`LoadedCode`] owns it until dropped.
//!
//! The checks protect the loader and the process from malformed objects; they do not make untrusted
//! machine code safe to run. Objects must come from zvm's own compiler (a cache it wrote).
//!
//! Around the loader, the crate keeps those objects on disk: [`key`] computes the content address of a
//! compiled program ([`CacheKey`], over the bytecode and everything that shapes its code) and [`store`] is
//! the directory of entries itself ([`Cache`]: checked reads, atomic writes, LRU eviction), shared safely
//! by concurrent processes.

pub mod key;
mod reloc;
pub mod store;

pub use key::{BytecodeFormat, CacheKey, KeyInputs};
pub use store::{default_dir, Cache, CacheError, EntryInfo, Stats, VerifyReport};

use memmap2::{Mmap, MmapMut};
use object::elf;
use object::read::elf::{ElfFile64, FileHeader as _, SectionHeader as _, Sym as _};
use object::read::elf::{Rela as _, SectionTable};
use object::{Endianness, Object as _, ObjectKind, SectionIndex, SymbolIndex};
use reloc::Arch;
use std::fmt;
use thiserror::Error;
use zvm_compiler::abi::ABI_VERSION;
use zvm_compiler::cranelift::object::{ObjectMeta, ENTRY_SYMBOL, META_SECTION};
use zvm_compiler::cranelift::{Dispatch, EntryFn, NativeCode, StackBound, Target};

/// Largest total size of the loaded sections. Keeps aarch64 branches (+-128 MiB) in range and bounds the
/// mapping a corrupted header can ask for.
pub const MAX_CODE_BYTES: u64 = 64 << 20;
/// Largest section alignment accepted (a page).
const MAX_ALIGN: u64 = 4096;
/// The one section of read-only data with relocations the backend emits (the function table of a module
/// with `call_indirect`); ELF marks such sections writable, as a dynamic linker writes them.
pub const RELRO_SECTION: &str = ".data.rel.ro";

/// Why an object was rejected.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The host is neither x86_64 nor aarch64.
    #[error("the host architecture has no zvm native code")]
    UnsupportedHost,
    /// The bytes are not a well-formed 64-bit ELF file.
    #[error("malformed ELF object: {0}")]
    Malformed(String),
    /// A well-formed ELF file of the wrong kind (not relocatable, big-endian, ...).
    #[error("not a zvm object: {0}")]
    WrongKind(String),
    /// An object for another architecture.
    #[error("object is for {found}, but the host is {host:?}")]
    WrongArchitecture {
        /// The object's architecture.
        found: String,
        /// The host's.
        host: Target,
    },
    /// A section the loader does not support.
    #[error("unsupported section `{name}`: {reason}")]
    UnsupportedSection {
        /// The section's name (lossy).
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A symbol the loader does not support (undefined, TLS, outside its section, ...).
    #[error("unsupported symbol `{name}`: {reason}")]
    UnsupportedSymbol {
        /// The symbol's name (lossy).
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No usable entry symbol, or more than one.
    #[error("entry symbol `{ENTRY_SYMBOL}`: {0}")]
    Entry(String),
    /// The metadata section is missing or malformed, or from another ABI version.
    #[error("metadata section `{META_SECTION}`: {0}")]
    Meta(String),
    /// A relocation that cannot be applied.
    #[error("relocation #{index} in `{section}`: {reason}")]
    Relocation {
        /// The section being patched.
        section: String,
        /// Index of the relocation in its relocation section.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The loaded sections exceed [`MAX_CODE_BYTES`].
    #[error("code too large: {0} bytes")]
    TooLarge(u64),
    /// The operating system refused the mapping or its protection change.
    #[error("mapping the code: {0}")]
    Map(#[from] std::io::Error),
}

fn malformed(e: object::Error) -> LoadError {
    LoadError::Malformed(e.to_string())
}

/// Code loaded from an object: owns the read+execute mapping its entry point lives in.
pub struct LoadedCode {
    map: Mmap,
    entry: EntryFn,
    stack: StackBound,
    dispatch: Dispatch,
}

impl LoadedCode {
    /// Bytes of the mapped code (all loaded sections, with alignment padding).
    pub fn code_size(&self) -> usize {
        self.map.len()
    }

    /// The native entry point; calling it has the contract of [`zvm_compiler::cranelift::CompiledModule::entry`].
    /// The pointer is valid while `self` lives.
    pub fn entry(&self) -> EntryFn {
        self.entry
    }

    /// The native stack bound the object's metadata gives.
    pub fn stack_bound(&self) -> StackBound {
        self.stack
    }

    /// What the entry trampoline dispatches to, as the object's metadata gives it.
    pub fn dispatch(&self) -> &Dispatch {
        &self.dispatch
    }
}

// SAFETY: `entry` points into `map`, a read+execute mapping owned by `self` that is never written after
// `make_exec` and unmapped only on drop; `stack` and `dispatch` are from the same object's metadata, written
// by the compiler that produced the code (objects come from zvm's compiler; see the crate docs).
unsafe impl NativeCode for LoadedCode {
    fn entry(&self) -> EntryFn {
        self.entry
    }

    fn stack_bound(&self) -> StackBound {
        self.stack
    }

    fn dispatch(&self) -> &Dispatch {
        &self.dispatch
    }
}

impl fmt::Debug for LoadedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedCode")
            .field("code_size", &self.map.len())
            .field("stack", &self.stack)
            .finish_non_exhaustive()
    }
}

/// A section that is copied into the mapping.
struct Placed {
    index: SectionIndex,
    /// Offset in the mapping.
    at: usize,
    data: Vec<u8>,
    exec: bool,
    name: String,
}

type Elf = elf::FileHeader64<Endianness>;

/// Loads an object emitted by [`zvm_compiler::cranelift::emit_object`] for the host (see the crate docs for
/// every check).
pub fn load(object_bytes: &[u8]) -> Result<LoadedCode, LoadError> {
    let host = Target::host().ok_or(LoadError::UnsupportedHost)?;
    let file = ElfFile64::<Endianness>::parse(object_bytes).map_err(malformed)?;
    if !file.is_little_endian() {
        return Err(LoadError::WrongKind("big-endian object".into()));
    }
    if file.kind() != ObjectKind::Relocatable {
        return Err(LoadError::WrongKind(format!("{:?} object, expected a relocatable one", file.kind())));
    }
    let endian = file.endian();
    let found = match file.elf_header().e_machine(endian) {
        elf::EM_X86_64 => Target::X86_64,
        elf::EM_AARCH64 => Target::Aarch64,
        other => return Err(LoadError::WrongArchitecture { found: format!("ELF machine {other}"), host }),
    };
    if found != host {
        return Err(LoadError::WrongArchitecture { found: format!("{found:?}"), host });
    }
    let arch = match host {
        Target::X86_64 => Arch::X86_64,
        Target::Aarch64 => Arch::Aarch64,
    };

    let sections = file.elf_section_table();
    let symtab = file.elf_symbol_table();
    let (placed, rela_sections, meta) = classify_sections(sections, endian, object_bytes, symtab.section())?;
    let meta = meta.ok_or_else(|| LoadError::Meta("missing".into()))?;
    if meta.abi_version != ABI_VERSION {
        return Err(LoadError::Meta(format!(
            "compiled for ABI version {}, this runtime has {ABI_VERSION}",
            meta.abi_version
        )));
    }
    let total = placed.last().map_or(0, |p| p.at + p.data.len());
    let find = |index: SectionIndex| placed.iter().find(|p| p.index == index);

    // Symbols: resolve every one up front, so relocations only look up.
    let mut entry = None;
    for (i, sym) in symtab.symbols().iter().enumerate().skip(1) {
        let name = String::from_utf8_lossy(symtab.symbol_name(endian, sym).map_err(malformed)?).into_owned();
        let bad = |reason: &str| LoadError::UnsupportedSymbol { name: name.clone(), reason: reason.into() };
        let kind = sym.st_type();
        if !matches!(kind, elf::STT_NOTYPE | elf::STT_FUNC | elf::STT_OBJECT | elf::STT_SECTION | elf::STT_FILE) {
            return Err(bad(&format!("symbol type {kind}")));
        }
        let shndx = sym.st_shndx(endian);
        if shndx == elf::SHN_UNDEF {
            return Err(bad("undefined (zvm objects import nothing)"));
        }
        if shndx == elf::SHN_COMMON {
            return Err(bad("common symbol"));
        }
        if shndx == elf::SHN_ABS {
            if kind != elf::STT_FILE {
                return Err(bad("absolute symbol"));
            }
            continue;
        }
        let section = symtab.symbol_section(endian, sym, SymbolIndex(i)).map_err(malformed)?;
        let Some(section) = section else { return Err(bad("reserved section index")) };
        let (value, size) = (sym.st_value(endian), sym.st_size(endian));
        let Some(p) = find(section) else {
            // Only section symbols of the sections that are not loaded (the metadata) may exist.
            if kind == elf::STT_SECTION && sections.section(section).is_ok() {
                continue;
            }
            return Err(bad("defined in a section that is not loaded"));
        };
        if value.checked_add(size).is_none_or(|end| end > p.data.len() as u64) {
            return Err(bad("lies outside its section"));
        }
        if name == ENTRY_SYMBOL {
            if entry.is_some() {
                return Err(LoadError::Entry("defined more than once".into()));
            }
            if kind != elf::STT_FUNC || sym.st_bind() != elf::STB_GLOBAL || !p.exec || value >= p.data.len() as u64 {
                return Err(LoadError::Entry("not a global function in executable code".into()));
            }
            entry = Some(p.at + value as usize);
        }
    }
    let entry = entry.ok_or_else(|| LoadError::Entry("missing".into()))?;

    let mut map = MmapMut::map_anon(total.max(1))?;
    let base = map.as_ptr() as u64;
    for p in &placed {
        map[p.at..p.at + p.data.len()].copy_from_slice(&p.data);
    }
    for (rela_index, target) in rela_sections {
        let header = sections.section(rela_index).map_err(malformed)?;
        let Some((relas, _)) = header.rela(endian, object_bytes).map_err(malformed)? else { continue };
        let Some(t) = find(target) else {
            return Err(LoadError::Malformed("relocation section without a loaded target".into()));
        };
        for (index, rela) in relas.iter().enumerate() {
            let bad = |reason: String| LoadError::Relocation { section: t.name.clone(), index, reason };
            let r_type = rela.r_type(endian, false);
            let width = reloc::width(arch, r_type).ok_or_else(|| bad(format!("unsupported type {r_type}")))?;
            let offset = rela.r_offset(endian);
            if offset.checked_add(width as u64).is_none_or(|end| end > t.data.len() as u64) {
                return Err(bad(format!("offset {offset:#x} is outside the section")));
            }
            let sym_index = SymbolIndex(rela.r_sym(endian, false) as usize);
            let sym = symtab.symbol(sym_index).map_err(|e| bad(e.to_string()))?;
            let section = symtab.symbol_section(endian, sym, sym_index).map_err(|e| bad(e.to_string()))?;
            let s = section
                .and_then(find)
                .filter(|_| sym_index.0 != 0 && sym.st_type() != elf::STT_FILE)
                .ok_or_else(|| bad("target is not in a loaded section".into()))?;
            let target_addr = base + (s.at as u64) + sym.st_value(endian);
            let sa = target_addr.wrapping_add(rela.r_addend(endian) as u64);
            let at = t.at + offset as usize;
            let p = base + at as u64;
            reloc::apply(arch, r_type, &mut map[at..at + width], p, sa).map_err(bad)?;
        }
    }

    let code = map.make_exec()?;
    // SAFETY: the whole mapping was just written by this thread and is not written again; making the
    // instruction cache coherent with it is required on aarch64 (and a no-op on x86_64).
    unsafe { wasmtime_internal_jit_icache_coherence::clear_cache(code.as_ptr().cast(), code.len()) }?;
    wasmtime_internal_jit_icache_coherence::pipeline_flush_mt()?;
    // SAFETY: `entry` is the offset of the `ENTRY_SYMBOL` function inside an executable section of the
    // mapping (checked above), which `emit_object` defines with the entry signature `extern "C" fn(*mut
    // VmCtx, u32, *mut u64) -> u32` in the ELF calling convention of the host architecture.
    let entry = unsafe { std::mem::transmute::<*const u8, EntryFn>(code.as_ptr().add(entry)) };
    Ok(LoadedCode { map: code, entry, stack: meta.stack, dispatch: meta.dispatch })
}

type Classified = (Vec<Placed>, Vec<(SectionIndex, SectionIndex)>, Option<ObjectMeta>);

/// Sorts the sections into loaded ones (laid out in order), relocation sections (with their target) and
/// the metadata; rejects everything else.
fn classify_sections(
    sections: &SectionTable<'_, Elf>,
    endian: Endianness,
    data: &[u8],
    symtab_index: SectionIndex,
) -> Result<Classified, LoadError> {
    let mut placed: Vec<Placed> = Vec::new();
    let mut relas = Vec::new();
    let mut meta = None;
    let mut end = 0u64;
    for (i, h) in sections.iter().enumerate().skip(1) {
        let index = SectionIndex(i);
        let name = String::from_utf8_lossy(sections.section_name(endian, h).map_err(malformed)?).into_owned();
        let bad = |reason: String| LoadError::UnsupportedSection { name: name.clone(), reason };
        let flags = h.sh_flags(endian);
        let alloc = flags & u64::from(elf::SHF_ALLOC) != 0;
        match h.sh_type(endian) {
            elf::SHT_PROGBITS if alloc => {
                let mut allowed = u64::from(elf::SHF_ALLOC | elf::SHF_EXECINSTR | elf::SHF_MERGE | elf::SHF_STRINGS);
                // Read-only data with relocations (the function table) is marked writable for the
                // relocations; here it is relocated before the mapping is made read-only.
                if name == RELRO_SECTION {
                    allowed = u64::from(elf::SHF_ALLOC | elf::SHF_WRITE);
                }
                if flags & !allowed != 0 {
                    return Err(bad(format!("flags {flags:#x} (only read-only code and data are loaded)")));
                }
                let align = h.sh_addralign(endian).max(1);
                if !align.is_power_of_two() || align > MAX_ALIGN {
                    return Err(bad(format!("alignment {align}")));
                }
                let bytes = h.data(endian, data).map_err(|_| bad("data outside the file".into()))?;
                let at = end.next_multiple_of(align);
                end = at.saturating_add(bytes.len() as u64);
                if end > MAX_CODE_BYTES {
                    return Err(LoadError::TooLarge(end));
                }
                let exec = flags & u64::from(elf::SHF_EXECINSTR) != 0;
                placed.push(Placed { index, at: at as usize, data: bytes.to_vec(), exec, name });
            }
            elf::SHT_PROGBITS if name == META_SECTION => {
                let bytes = h.data(endian, data).map_err(|_| bad("data outside the file".into()))?;
                if meta.is_some() {
                    return Err(LoadError::Meta("more than one".into()));
                }
                meta = Some(ObjectMeta::decode(bytes).ok_or_else(|| LoadError::Meta("malformed".into()))?);
            }
            elf::SHT_PROGBITS | elf::SHT_NOTE if !alloc && h.sh_size(endian) == 0 => {}
            elf::SHT_SYMTAB if index == symtab_index => {}
            elf::SHT_STRTAB if !alloc => {}
            elf::SHT_RELA => {
                if h.sh_link(endian) as usize != symtab_index.0 {
                    return Err(bad("does not use the symbol table".into()));
                }
                relas.push((index, SectionIndex(h.sh_info(endian) as usize)));
            }
            other => return Err(bad(format!("section type {other} with flags {flags:#x}"))),
        }
    }
    for &(rela, target) in &relas {
        if !placed.iter().any(|p| p.index == target) {
            let name = sections.section(rela).ok().and_then(|h| sections.section_name(endian, h).ok());
            return Err(LoadError::UnsupportedSection {
                name: String::from_utf8_lossy(name.unwrap_or_default()).into_owned(),
                reason: "relocates a section that is not loaded".into(),
            });
        }
    }
    Ok((placed, relas, meta))
}
