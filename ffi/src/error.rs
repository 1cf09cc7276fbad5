//! Errors across the boundary: the codes, [`zvm_error_t`], and [`guard`], which every entry point runs its
//! body in so that no panic and no Rust error crosses into C.

use crate::owned::{self, Owned};
use std::any::Any;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use zvm_node::{DeployError, NodeError, StoreError};

/// Success.
pub const ZVM_OK: i32 = 0;
/// A pointer argument that must not be NULL was NULL.
pub const ZVM_ERR_NULL: i32 = 1;
/// An argument is malformed or out of range: an unknown format or tier, a length over its bound, a string
/// that is not UTF-8, a gas limit over the block's.
pub const ZVM_ERR_ARGUMENT: i32 = 2;
/// Code given to `zvm_deploy` was rejected: it does not load (or assemble), or it is too large.
pub const ZVM_ERR_INVALID_CODE: i32 = 3;
/// No contract (for a call or a query) or no account (for a storage read) at the address.
pub const ZVM_ERR_UNKNOWN_ADDRESS: i32 = 4;
/// The state refuses the request: a deploy onto an existing account, a deployer's nonce at its maximum.
pub const ZVM_ERR_REFUSED: i32 = 5;
/// The database could not be opened, read or written (or is damaged, or is open in another runtime). A
/// call that failed with this code was not committed.
pub const ZVM_ERR_STORE: i32 = 6;
/// The request needs something this build does not offer yet.
pub const ZVM_ERR_UNSUPPORTED: i32 = 7;
/// The runtime failed inside (for instance its writer thread stopped).
pub const ZVM_ERR_INTERNAL: i32 = 8;
/// A panic inside the library was caught at the boundary. The runtime stays usable: its state lives in
/// the database and in the node's threads, which catch their own panics.
pub const ZVM_ERR_PANIC: i32 = 9;

/// An error: one of the `ZVM_ERR_*` codes and a message for people (NUL-terminated UTF-8, never NULL).
/// Owned by the caller from the moment an entry point stores it in `*err`; free it with
/// `zvm_error_free`. Its fields are read-only.
#[repr(C)]
pub struct zvm_error_t {
    pub code: i32,
    pub message: *const c_char,
}

/// A failure inside the library, before it becomes a [`zvm_error_t`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    pub fn new(code: i32, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }

    /// A required pointer argument `what` was NULL.
    pub fn null(what: &str) -> Failure {
        Failure::new(ZVM_ERR_NULL, format!("`{what}` is NULL"))
    }

    pub fn argument(message: impl Into<String>) -> Failure {
        Failure::new(ZVM_ERR_ARGUMENT, message)
    }

    /// The error the C side gets: the message's storage travels with it.
    fn into_raw(self) -> *mut zvm_error_t {
        let message = owned::c_string(&self.message);
        Owned::into_raw(zvm_error_t { code: self.code, message: message.as_ptr().cast() }, message)
    }
}

impl From<NodeError> for Failure {
    fn from(e: NodeError) -> Failure {
        let code = match &e {
            NodeError::Deploy(DeployError::Collision(_) | DeployError::NonceOverflow) | NodeError::Rejected(_) => {
                ZVM_ERR_REFUSED
            }
            NodeError::Deploy(_) => ZVM_ERR_INVALID_CODE,
            NodeError::BadRequest(_) | NodeError::BadName { .. } | NodeError::NameTaken { .. } => ZVM_ERR_ARGUMENT,
            NodeError::Store(_) => ZVM_ERR_STORE,
            NodeError::Internal(_) | NodeError::Stopped => ZVM_ERR_INTERNAL,
        };
        Failure::new(code, e.to_string())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::new(ZVM_ERR_STORE, e.to_string())
    }
}

/// Frees an error made by [`Failure::into_raw`].
///
/// # Safety
/// `error` is NULL or an error from this library that has not been freed.
pub(crate) unsafe fn free(error: *mut zvm_error_t) {
    // SAFETY: errors are made only by `Failure::into_raw`, with this storage type.
    unsafe { Owned::<zvm_error_t, Vec<u8>>::free(error) }
}

/// Runs an entry point's `body`, catching every panic. Stores NULL in `*err` on success and the error on
/// failure (when `err` is not NULL); returns the body's value, or the failure's code.
///
/// # Safety
/// `err` is NULL or valid for writing a pointer.
pub(crate) unsafe fn guard<T>(err: *mut *mut zvm_error_t, body: impl FnOnce() -> Result<T, Failure>) -> Result<T, i32> {
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => {
            // SAFETY: the caller's contract.
            unsafe { store(err, ptr::null_mut()) };
            return Ok(value);
        }
        Ok(Err(failure)) => failure,
        Err(panic) => Failure::new(ZVM_ERR_PANIC, format!("a panic inside zvm: {}", panic_message(panic.as_ref()))),
    };
    let code = failure.code;
    // SAFETY: the caller's contract.
    unsafe { store(err, failure.into_raw()) };
    Err(code)
}

/// [`guard`] for entry points whose only result is their code.
///
/// # Safety
/// As [`guard`].
pub(crate) unsafe fn status(err: *mut *mut zvm_error_t, body: impl FnOnce() -> Result<(), Failure>) -> i32 {
    // SAFETY: the caller's contract.
    match unsafe { guard(err, body) } {
        Ok(()) => ZVM_OK,
        Err(code) => code,
    }
}

/// Stores `error` in `*err`, or frees it if the caller asked for no error.
unsafe fn store(err: *mut *mut zvm_error_t, error: *mut zvm_error_t) {
    if err.is_null() {
        // SAFETY: `error` is NULL or was just made, and nobody else has it.
        unsafe { free(error) };
    } else {
        // SAFETY: the caller's contract.
        unsafe { err.write(error) };
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic.downcast_ref::<&str>().copied().or_else(|| panic.downcast_ref::<String>().map(String::as_str)).unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    /// Runs `body` in a guard and returns the error it stored.
    fn failure_of(body: impl FnOnce() -> Result<(), Failure>) -> (i32, String) {
        let mut err = ptr::null_mut();
        let code = unsafe { status(&mut err, body) };
        assert!(!err.is_null());
        let e = unsafe { &*err };
        let message = unsafe { CStr::from_ptr(e.message) }.to_str().unwrap().to_owned();
        assert_eq!(e.code, code);
        unsafe { free(err) };
        (code, message)
    }

    #[test]
    fn panics_become_errors_with_their_message() {
        let (code, message) = failure_of(|| panic!("a str payload"));
        assert_eq!(code, ZVM_ERR_PANIC);
        assert_eq!(message, "a panic inside zvm: a str payload");
        let (code, message) = failure_of(|| panic!("a {} payload", "String"));
        assert_eq!(code, ZVM_ERR_PANIC);
        assert_eq!(message, "a panic inside zvm: a String payload");
        let (code, message) = failure_of(|| std::panic::panic_any(7u32));
        assert_eq!((code, message.as_str()), (ZVM_ERR_PANIC, "a panic inside zvm: ?"));
    }

    #[test]
    fn failures_keep_their_code_and_message_even_with_a_nul_inside() {
        let (code, message) = failure_of(|| Err(Failure::new(ZVM_ERR_STORE, "disk\0gone")));
        assert_eq!((code, message.as_str()), (ZVM_ERR_STORE, "disk\u{fffd}gone"));
    }

    #[test]
    fn success_stores_null_and_a_null_err_is_allowed() {
        let mut err = ptr::dangling_mut();
        assert_eq!(unsafe { guard(&mut err, || Ok(5)) }, Ok(5));
        assert!(err.is_null());
        assert_eq!(unsafe { status(ptr::null_mut(), || panic!("nobody listens")) }, ZVM_ERR_PANIC);
        assert_eq!(unsafe { status(ptr::null_mut(), || Err(Failure::null("x"))) }, ZVM_ERR_NULL);
    }
}
