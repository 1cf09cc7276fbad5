//! The key of a cached object: a SHA-256 over everything that decides what native code a program
//! compiles to.
//!
//! A cache is only safe if two inputs that may compile to different code never share a key. The key
//! therefore covers, besides the bytecode itself:
//! - the **bytecode format** ([`BytecodeFormat`]): the same bytes mean different programs to different
//!   frontends;
//! - **zvm's version** (the crate version) and [`CODEGEN_VERSION`], which must be bumped whenever lowering
//!   or code generation changes between releases;
//! - [`ABI_VERSION`], the layout of the context and helper table the code is linked against;
//! - the **target**: its triple and the Cranelift configuration ([`codegen_fingerprint`]), which names the
//!   CPU features the code may use. Objects are emitted for the baseline CPU of their architecture, so the
//!   fingerprint is the same on every machine of an architecture and they can share objects;
//! - the **gas schedule** identity supplied by the frontend: static gas costs are folded into the code by
//!   the gas pass, so a new schedule is new code.
//!
//! Every field is length-prefixed (and the whole is domain-separated), so no two different sets of inputs
//! hash the same bytes.

use sha2::{Digest, Sha256};
use std::fmt;
use zvm_compiler::abi::{ABI_VERSION, CODEGEN_VERSION};
use zvm_compiler::cranelift::object::codegen_fingerprint;
use zvm_compiler::cranelift::{CompileError, JitOptions, Target};

/// zvm's version, as compiled into this build (part of every key).
pub const ZVM_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The bytecode format a program was written in: which frontend lowers it.
///
/// Only [`BytecodeFormat::Zvm`] has a frontend today; the others reserve their identity in keys. New
/// formats get a new [`BytecodeFormat::id`], never a reused one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BytecodeFormat {
    /// ZVM stack bytecode (raw or in a `ZVMC` container).
    Zvm,
    /// EVM bytecode.
    Evm,
    /// WebAssembly.
    Wasm,
}

impl BytecodeFormat {
    /// The stable name of the format in keys.
    pub fn id(self) -> &'static str {
        match self {
            BytecodeFormat::Zvm => "zvm",
            BytecodeFormat::Evm => "evm",
            BytecodeFormat::Wasm => "wasm",
        }
    }
}

/// A 32-byte cache key. Displays as 64 lowercase hex digits (the entry's file name).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(pub [u8; 32]);

impl CacheKey {
    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hex digits (either case); `None` for anything else.
    pub fn from_hex(s: &str) -> Option<CacheKey> {
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in s.as_bytes().chunks_exact(2).enumerate() {
            let digit = |b: u8| (b as char).to_digit(16);
            out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
        Some(CacheKey(out))
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({self})")
    }
}

/// Everything a key is computed from. [`KeyInputs::new`] fills the versions of this build; tests (and
/// tools inspecting old caches) may set them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInputs<'a> {
    /// The program as stored (for ZVM: the raw or container bytes the frontend receives).
    pub bytecode: &'a [u8],
    /// Its format.
    pub format: BytecodeFormat,
    /// zvm's version ([`ZVM_VERSION`]).
    pub zvm_version: &'a str,
    /// [`CODEGEN_VERSION`].
    pub codegen_version: u32,
    /// [`ABI_VERSION`].
    pub abi_version: u32,
    /// The architecture the object is for.
    pub target: Target,
    /// The triple and CPU features / Cranelift flags ([`codegen_fingerprint`]).
    pub codegen: String,
    /// The frontend's gas-schedule identity.
    pub gas_schedule: &'a [u8],
}

impl<'a> KeyInputs<'a> {
    /// The inputs for `bytecode` compiled by this build for `target` with `opts`.
    pub fn new(
        bytecode: &'a [u8],
        format: BytecodeFormat,
        target: Target,
        opts: &JitOptions,
        gas_schedule: &'a [u8],
    ) -> Result<KeyInputs<'a>, CompileError> {
        Ok(KeyInputs {
            bytecode,
            format,
            zvm_version: ZVM_VERSION,
            codegen_version: CODEGEN_VERSION,
            abi_version: ABI_VERSION,
            target,
            codegen: codegen_fingerprint(target, opts)?,
            gas_schedule,
        })
    }

    /// The key.
    pub fn key(&self) -> CacheKey {
        let mut h = Sha256::new();
        let mut field = |name: &str, bytes: &[u8]| {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field("zvm-cache-key", b"1");
        field("bytecode-sha256", &Sha256::digest(self.bytecode));
        field("format", self.format.id().as_bytes());
        field("zvm-version", self.zvm_version.as_bytes());
        field("codegen-version", &self.codegen_version.to_le_bytes());
        field("abi-version", &self.abi_version.to_le_bytes());
        field("target", self.target.triple().as_bytes());
        field("codegen", self.codegen.as_bytes());
        field("gas-schedule", self.gas_schedule);
        CacheKey(h.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> KeyInputs<'static> {
        KeyInputs::new(b"\x60\x01", BytecodeFormat::Zvm, Target::X86_64, &JitOptions::default(), b"zvm-gas/1").unwrap()
    }

    #[test]
    fn every_input_changes_the_key() {
        let k = base().key();
        assert_eq!(base().key(), k, "deterministic");
        let variants: Vec<KeyInputs<'static>> = vec![
            KeyInputs { bytecode: b"\x60\x02", ..base() },
            KeyInputs { bytecode: b"\x60\x01\x00", ..base() },
            KeyInputs { format: BytecodeFormat::Evm, ..base() },
            KeyInputs { format: BytecodeFormat::Wasm, ..base() },
            KeyInputs { zvm_version: "0.1.1", ..base() },
            KeyInputs { codegen_version: CODEGEN_VERSION + 1, ..base() },
            KeyInputs { abi_version: ABI_VERSION + 1, ..base() },
            KeyInputs::new(b"\x60\x01", BytecodeFormat::Zvm, Target::Aarch64, &JitOptions::default(), b"zvm-gas/1")
                .unwrap(),
            KeyInputs { codegen: format!("{}has_avx2=1\n", base().codegen), ..base() },
            KeyInputs { gas_schedule: b"zvm-gas/2", ..base() },
        ];
        let mut seen = std::collections::HashSet::from([k]);
        for v in &variants {
            assert!(seen.insert(v.key()), "{v:?} collides");
        }
    }

    #[test]
    fn fields_cannot_shift_into_each_other() {
        let a = KeyInputs { zvm_version: "0.1.0", gas_schedule: b"1", ..base() };
        let b = KeyInputs { zvm_version: "0.1.01", gas_schedule: b"", ..base() };
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn hex_round_trips() {
        let k = base().key();
        let s = k.to_string();
        assert_eq!(s.len(), 64);
        assert_eq!(CacheKey::from_hex(&s), Some(k));
        assert_eq!(CacheKey::from_hex(&s.to_uppercase()), Some(k));
        assert_eq!(CacheKey::from_hex(&s[1..]), None);
        assert_eq!(CacheKey::from_hex(&format!("g{}", &s[1..])), None);
        assert_eq!(CacheKey::from_hex(&format!("+{}", &s[1..])), None);
    }
}
