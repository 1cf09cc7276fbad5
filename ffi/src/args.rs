//! The C-side argument types and the checked reading of pointer arguments: NULL checks, length bounds
//! before any slice is made, UTF-8 checks.

use crate::error::Failure;
use ruint::aliases::U256;
use std::ffi::{c_char, CStr};
use zvm_runtime::Address;

/// A 20-byte account address.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zvm_address_t {
    pub bytes: [u8; 20],
}

/// A 32-byte word (a storage key or value, a log topic, a salt), big-endian.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zvm_word_t {
    pub bytes: [u8; 32],
}

impl From<zvm_address_t> for Address {
    fn from(a: zvm_address_t) -> Address {
        Address(a.bytes)
    }
}

impl From<Address> for zvm_address_t {
    fn from(a: Address) -> zvm_address_t {
        zvm_address_t { bytes: a.0 }
    }
}

impl From<zvm_word_t> for U256 {
    fn from(w: zvm_word_t) -> U256 {
        U256::from_be_bytes(w.bytes)
    }
}

impl From<U256> for zvm_word_t {
    fn from(w: U256) -> zvm_word_t {
        zvm_word_t { bytes: w.to_be_bytes() }
    }
}

/// How to open a runtime. A zero-initialised config with `db_path` set is a valid one.
#[repr(C)]
pub struct zvm_config_t {
    /// The database file (UTF-8), created if missing. Required: the runtime's state is persistent.
    pub db_path: *const c_char,
    /// With `ZVM_TIER_AOT`: a directory for compiled code shared across processes and runs (created if
    /// missing; the same cache `zvm compile` fills). NULL: code is compiled in memory.
    pub cache_dir: *const c_char,
    /// One of the `ZVM_TIER_*` values (`ZVM_TIER_DEFAULT`: compiled to native code).
    pub tier: u32,
    /// The gas limit of the node's blocks, which bounds the gas of every call and query (0: 30,000,000).
    pub block_gas_limit: u64,
}

/// A message call: who calls which contract with what input and how much gas.
#[repr(C)]
pub struct zvm_message_t {
    /// What `CALLER` shows in the callee.
    pub caller: zvm_address_t,
    /// The contract to run.
    pub to: zvm_address_t,
    /// The call data: `input_len` bytes (`input` may be NULL when `input_len` is 0).
    pub input: *const u8,
    pub input_len: usize,
    /// At most the runtime's block gas limit.
    pub gas_limit: u64,
}

/// The value behind `ptr`, which must not be NULL.
///
/// # Safety
/// `ptr` is NULL or valid for reads of a `T` for `'a`.
pub(crate) unsafe fn deref<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller's contract.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(what))
}

/// The place behind an out-pointer, which must not be NULL.
///
/// # Safety
/// `ptr` is NULL or valid for writes of a `T` for `'a`, and nothing else accesses it meanwhile.
pub(crate) unsafe fn out<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: the caller's contract (a place valid for writes of a plain `T` holds a valid `T`: every `T`
    // here is a pointer or a struct of bytes).
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::null(what))
}

/// `len` bytes at `ptr`, at most `max`; NULL is allowed for an empty buffer.
///
/// # Safety
/// If `ptr` is not NULL and `len <= max`, `ptr` is valid for reads of `len` bytes for `'a`.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, max: usize, what: &str) -> Result<&'a [u8], Failure> {
    if len > max {
        return Err(Failure::argument(format!("`{what}` has {len} bytes, more than the {max} allowed")));
    }
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: the caller's contract; `len <= max`, and every `max` here is far below `isize::MAX`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The UTF-8 string at `ptr`, or `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string valid for reads for `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's contract.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map(Some).map_err(|e| Failure::argument(format!("`{what}` is not UTF-8: {e}")))
}
