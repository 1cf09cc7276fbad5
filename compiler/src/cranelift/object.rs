//! Ahead-of-time compilation: a whole module to one relocatable ELF object, for x86_64 or aarch64.
//!
//! The object is meant to be stored (a cache of compiled contracts) and later mapped by zvm's own loader
//! (the `zvm-cache` crate), not by `dlopen` or a system linker. That is why it is kept as simple as the
//! code allows:
//! - every function lives in one `.text` section (Cranelift puts its constants in each function's own
//!   code, so there is normally no data section at all);
//! - functions are local symbols `zvm_fn<i>` (and `zvm_dispatch<k>` for the `call_indirect` dispatchers);
//!   the entry trampoline is the one global symbol, [`ENTRY_SYMBOL`];
//! - there are **no undefined symbols**: native code reaches the runtime only through the helper table of
//!   its context ([`crate::abi::Helpers`]), and stack probes are inline, so nothing needs to be resolved
//!   outside the object; the only relocations are calls between the object's own functions;
//! - a non-allocated section [`META_SECTION`] carries what the runtime needs besides the code: the
//!   [`ABI_VERSION`] the code was compiled against, the native stack bound ([`StackBound`]), whose
//!   frame sizes only the compiler knows, and what the trampoline dispatches to ([`Dispatch`]: the entry
//!   function and the functions it can invoke).
//!
//! Objects are always ELF with the Linux calling convention of their architecture (the `extern "C"` ABI of
//! [`super::EntryFn`] on ELF hosts); the target CPU is the baseline of the architecture, so an object runs
//! on any machine of that architecture.

use super::define::define_module;
use super::native::{Dispatch, StackBound};
use super::{isa_for_triple, CompileError, JitOptions};
use crate::abi::ABI_VERSION;
use cranelift_module::{default_libcall_names, Linkage};
use cranelift_object::object::SectionKind;
use cranelift_object::{ObjectBuilder, ObjectModule};

/// The global symbol of the entry trampoline (an [`super::EntryFn`], which runs any invocable function).
pub const ENTRY_SYMBOL: &str = "zvm_entry";
/// The name of the metadata section (see [`ObjectMeta`]).
pub const META_SECTION: &str = ".zvm_meta";

/// An architecture objects can be emitted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// x86_64 (System V ABI).
    X86_64,
    /// aarch64 (AAPCS64).
    Aarch64,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 2] = [Target::X86_64, Target::Aarch64];

    /// The architecture this program runs on, if objects can be emitted for it.
    pub fn host() -> Option<Target> {
        if cfg!(target_arch = "x86_64") {
            Some(Target::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Target::Aarch64)
        } else {
            None
        }
    }

    /// The target triple objects for this architecture are compiled for.
    pub fn triple(self) -> &'static str {
        match self {
            Target::X86_64 => "x86_64-unknown-linux-gnu",
            Target::Aarch64 => "aarch64-unknown-linux-gnu",
        }
    }
}

/// A description of everything Cranelift is configured with when emitting objects for `target` with
/// `opts`: the triple, then every shared and ISA-specific flag as `name=value`, one per line.
///
/// It names the CPU features the code may use: objects are emitted for the **baseline CPU** of the
/// architecture (no host feature detection), so the ISA flags are the baseline's, and a host with more
/// features still gets — and can share — the same object. `enable_verifier` is left out: it checks the
/// compiler and does not change the code. The on-disk cache puts this string in its key, so a change of
/// any flag (a Cranelift upgrade that adds one, another opt level) compiles anew.
pub fn codegen_fingerprint(target: Target, opts: &JitOptions) -> Result<String, CompileError> {
    let isa = isa_for_triple(target.triple(), opts)?;
    let mut out = format!("triple={}\n", isa.triple());
    for v in isa.flags().iter().chain(isa.isa_flags()) {
        if v.name != "enable_verifier" {
            out.push_str(&format!("{v}\n"));
        }
    }
    Ok(out)
}

/// What the metadata section says: the contents of [`META_SECTION`].
///
/// Encoding (little-endian, [`META_HEADER_LEN`] bytes then one `u32` per function): the magic `zvmmeta\0`,
/// the `u32` ABI version, a `u32` kind (0: chain, 1: per call), two `u64`s (chain: the bound and 0; per
/// call: base and frame), the `u32` entry function, the `u32` number of functions `n`, then `n` `u32`s: the
/// [`Dispatch::slots`] of each function ([`NOT_INVOCABLE`] for one the trampoline does not run).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectMeta {
    /// [`ABI_VERSION`] of the compiler that emitted the object.
    pub abi_version: u32,
    /// The native stack bound of the object's code.
    pub stack: StackBound,
    /// What the object's trampoline dispatches to.
    pub dispatch: Dispatch,
}

const META_MAGIC: [u8; 8] = *b"zvmmeta\0";
/// Bytes of an encoded [`ObjectMeta`] before its per-function table.
pub const META_HEADER_LEN: usize = 40;
/// The per-function entry of a function the trampoline does not run.
pub const NOT_INVOCABLE: u32 = u32::MAX;

impl ObjectMeta {
    /// The encoded form.
    pub fn encode(&self) -> Vec<u8> {
        let (kind, a, b) = match self.stack {
            StackBound::Chain(n) => (0u32, n, 0u64),
            StackBound::PerCall { base, frame } => (1, base, frame),
        };
        let mut out = Vec::with_capacity(META_HEADER_LEN + 4 * self.dispatch.slots.len());
        out.extend_from_slice(&META_MAGIC);
        out.extend_from_slice(&self.abi_version.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&a.to_le_bytes());
        out.extend_from_slice(&b.to_le_bytes());
        out.extend_from_slice(&self.dispatch.entry.to_le_bytes());
        out.extend_from_slice(&(self.dispatch.slots.len() as u32).to_le_bytes());
        for s in &self.dispatch.slots {
            out.extend_from_slice(&s.unwrap_or(NOT_INVOCABLE).to_le_bytes());
        }
        out
    }

    /// Decodes [`Self::encode`]'s output; `None` for anything else (wrong length, magic or kind, a non-zero
    /// unused field, an entry that is not an invocable function). The ABI version is returned as found, for
    /// the caller to check.
    pub fn decode(bytes: &[u8]) -> Option<ObjectMeta> {
        if bytes.len() < META_HEADER_LEN || bytes[..8] != META_MAGIC {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let u64_at = |i: usize| (u64::from(u32_at(i + 4)) << 32) | u64::from(u32_at(i));
        let (a, b) = (u64_at(16), u64_at(24));
        let stack = match u32_at(12) {
            0 if b == 0 => StackBound::Chain(a),
            1 => StackBound::PerCall { base: a, frame: b },
            _ => return None,
        };
        let (entry, n) = (u32_at(32), u32_at(36) as usize);
        if n.checked_mul(4).and_then(|t| t.checked_add(META_HEADER_LEN)) != Some(bytes.len()) {
            return None;
        }
        let slots: Vec<Option<u32>> = (0..n)
            .map(|i| match u32_at(META_HEADER_LEN + 4 * i) {
                NOT_INVOCABLE => None,
                s => Some(s),
            })
            .collect();
        let dispatch = Dispatch { entry, slots };
        if !dispatch.is_invocable(entry) {
            return None;
        }
        Some(ObjectMeta { abi_version: u32_at(8), stack, dispatch })
    }
}

/// Compiles `module` for `target` into a relocatable ELF object (see the module docs for its layout).
pub fn emit_object(module: &zvm_ir::Module, target: Target, opts: &JitOptions) -> Result<Vec<u8>, CompileError> {
    let isa = isa_for_triple(target.triple(), opts)?;
    let builder =
        ObjectBuilder::new(isa, "zvm", default_libcall_names()).map_err(|e| CompileError::Target(e.to_string()))?;
    let mut obj = ObjectModule::new(builder);
    let defined = define_module(&mut obj, module, ENTRY_SYMBOL, Linkage::Export)?;

    let meta = ObjectMeta { abi_version: ABI_VERSION, stack: defined.stack, dispatch: defined.dispatch };
    let mut product = obj.finish();
    let section = product.object.add_section(vec![], META_SECTION.as_bytes().to_vec(), SectionKind::Other);
    product.object.set_section_data(section, meta.encode(), 8);
    product.emit().map_err(|e| CompileError::Codegen(format!("writing the object: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_and_rejects_garbage() {
        let dispatch = Dispatch { entry: 1, slots: vec![None, Some(0), Some(3)] };
        for stack in [StackBound::Chain(1234), StackBound::PerCall { base: 96, frame: 400 }] {
            let meta = ObjectMeta { abi_version: ABI_VERSION, stack, dispatch: dispatch.clone() };
            let bytes = meta.encode();
            assert_eq!(bytes.len(), META_HEADER_LEN + 12);
            assert_eq!(ObjectMeta::decode(&bytes), Some(meta));
            assert_eq!(ObjectMeta::decode(&bytes[..bytes.len() - 1]), None);
            assert_eq!(ObjectMeta::decode(&bytes[..bytes.len() - 4]), None);
            assert_eq!(ObjectMeta::decode(&bytes[..META_HEADER_LEN - 1]), None);
            let mut bad = bytes.clone();
            bad[0] ^= 1;
            assert_eq!(ObjectMeta::decode(&bad), None);
            let mut bad = bytes.clone();
            bad[12] = 2;
            assert_eq!(ObjectMeta::decode(&bad), None);
            // The entry must be an invocable function.
            for entry in [0u8, 3] {
                let mut bad = bytes.clone();
                bad[32] = entry;
                assert_eq!(ObjectMeta::decode(&bad), None);
            }
        }
        let chain = ObjectMeta { abi_version: 1, stack: StackBound::Chain(5), dispatch };
        let mut chain = chain.encode();
        chain[24] = 1;
        assert_eq!(ObjectMeta::decode(&chain), None);
    }

    #[test]
    fn fingerprint_names_target_and_opt_level_but_not_the_verifier() {
        let speed = codegen_fingerprint(Target::X86_64, &JitOptions::default()).unwrap();
        assert!(speed.starts_with("triple=x86_64-unknown-linux-gnu\n"), "{speed}");
        assert!(speed.contains("opt_level=speed"), "{speed}");
        assert!(!speed.contains("enable_verifier"), "{speed}");
        let verify = JitOptions { verify: !JitOptions::default().verify, ..JitOptions::default() };
        assert_eq!(codegen_fingerprint(Target::X86_64, &verify).unwrap(), speed);
        let none = JitOptions { opt_level: super::super::OptLevel::None, ..JitOptions::default() };
        assert_ne!(codegen_fingerprint(Target::X86_64, &none).unwrap(), speed);
        assert_ne!(codegen_fingerprint(Target::Aarch64, &JitOptions::default()).unwrap(), speed);
    }

    #[test]
    fn host_target_is_known_on_supported_hosts() {
        if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
            assert!(Target::host().is_some());
        }
        for t in Target::ALL {
            assert!(isa_for_triple(t.triple(), &JitOptions::default()).is_ok());
        }
    }
}
