//! zvm's C ABI: a persistent runtime behind an opaque handle — deploy contracts, call them durably, query
//! them, read their storage — for programs in C or any language with a C FFI.
//!
//! The library is built as `libzvm.so` (cdylib) and `libzvm.a` (staticlib); its header is
//! `ffi/include/zvm.h`, generated from this crate by cbindgen and committed (`tests/header.rs` fails when
//! it is out of date; `ZVM_BLESS_HEADER=1 cargo test -p zvm-ffi --test header` rewrites it). A runtime is
//! a [`zvm_node::Node`] over one database file: `zvm_call` returns only once the call is on disk, and the
//! state outlives the process. `docs/ffi.md` has an example.
//!
//! # Ownership
//! - Everything the library returns through a pointer is owned by the caller and has one free function:
//!   `zvm_runtime_t*` → `zvm_runtime_free`, `zvm_result_t*` → `zvm_result_free`, `zvm_error_t*` →
//!   `zvm_error_free`. Each free function accepts NULL. Freeing twice, or with the wrong function, is
//!   undefined behaviour, as in C.
//! - A result or an error is one allocation: the buffers its fields point to (output, logs, topics,
//!   message) live exactly as long as it does. Their fields are read-only.
//! - The library never keeps a pointer the caller passed in: inputs (config strings, code, call data) are
//!   copied or read before the function returns, and may be freed right after.
//! - Fixed-size values (addresses, words) travel by value in caller-owned structs: `zvm_address_t`,
//!   `zvm_word_t`.
//!
//! # Errors
//! Every fallible function returns `ZVM_OK` (0) or a `ZVM_ERR_*` code, and takes a last argument
//! `zvm_error_t **err`: when it is not NULL, `*err` is set to NULL on success and to a new error (code and
//! message) on failure. Pass NULL to get the code alone. `zvm_runtime_new` returns the runtime, or NULL
//! with the error in `*err`. On failure, out-arguments hold NULL (pointers) or are left as they were
//! (values).
//!
//! Nothing unwinds across the boundary and no bad input aborts the process: every entry point checks its
//! pointers (NULL where not allowed is `ZVM_ERR_NULL`) and lengths (bounded by `ZVM_MAX_CODE_LEN` and
//! `ZVM_MAX_INPUT_LEN` before any byte is read), and runs inside `catch_unwind`: a panic becomes
//! `ZVM_ERR_PANIC` with the panic's message (Rust's default panic hook also prints it to stderr). The
//! library must therefore be built with `panic = "unwind"`, Cargo's default. What C cannot check is not
//! checked: a non-NULL pointer must point to what the function expects, and a length must not exceed its
//! buffer. An execution that fails (revert, out of gas, trap) is not an error: the function succeeds
//! and the result's `status` says what happened.
//!
//! # Threads
//! A `zvm_runtime_t` may be used from several threads at once: `zvm_deploy`, `zvm_call`, `zvm_query` and
//! `zvm_storage_get` are safe to call concurrently on one runtime. Calls and deploys are executed one at
//! a time, in the order they arrive, by the node's writer thread; concurrent callers share `fsync`s
//! (group commit), so they are how to get throughput. Queries run on the node's query threads, on a
//! snapshot of the committed state, and do not wait for the writer. `zvm_runtime_free` must not run
//! concurrently with any other use of the same runtime; it waits for queued calls to finish. Results and
//! errors belong to no runtime and may be read and freed on any thread, also after their runtime is freed.
//! A database file may be open in one runtime at a time (a second `zvm_runtime_new` on it fails with
//! `ZVM_ERR_STORE`).

// The ABI's types carry their C names, so that the header and the Rust code read the same.
#![allow(non_camel_case_types)]

mod args;
mod error;
mod owned;
mod result;
mod runtime;

pub use args::{zvm_address_t, zvm_config_t, zvm_message_t, zvm_word_t};
pub use error::{
    zvm_error_t, ZVM_ERR_ARGUMENT, ZVM_ERR_INTERNAL, ZVM_ERR_INVALID_CODE, ZVM_ERR_NULL, ZVM_ERR_PANIC,
    ZVM_ERR_REFUSED, ZVM_ERR_STORE, ZVM_ERR_UNKNOWN_ADDRESS, ZVM_ERR_UNSUPPORTED, ZVM_OK,
};
pub use result::{
    zvm_log_t, zvm_result_t, ZVM_STATUS_INVALID_CODE, ZVM_STATUS_OUT_OF_GAS, ZVM_STATUS_REVERT, ZVM_STATUS_SUCCESS,
    ZVM_STATUS_TRAP,
};
pub use runtime::{
    zvm_runtime_t, ZVM_FORMAT_EVM, ZVM_FORMAT_WASM, ZVM_FORMAT_ZASM, ZVM_FORMAT_ZVM, ZVM_TIER_AOT, ZVM_TIER_DEFAULT,
    ZVM_TIER_INTERP, ZVM_TIER_JIT,
};

use error::{guard, status, Failure};
use result::Outcome;
use runtime::{Config, Message};
use std::ptr;

/// The most bytes of code `zvm_deploy` reads (in any format; the node then applies each format's own
/// code-size limit).
pub const ZVM_MAX_CODE_LEN: usize = 1 << 24;
/// The most bytes of call data a call or a query takes.
pub const ZVM_MAX_INPUT_LEN: usize = 1 << 20;
const _: () = assert!(ZVM_MAX_INPUT_LEN == zvm_node::node::MAX_CALL_INPUT);

/// Opens a runtime over the database at `config->db_path` (created if missing), or returns NULL with the
/// error in `*err`. Free it with `zvm_runtime_free`.
///
/// # Safety
/// `config` is NULL or points to a config whose strings are NULL or NUL-terminated; `err` is NULL or
/// valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn zvm_runtime_new(
    config: *const zvm_config_t,
    err: *mut *mut zvm_error_t,
) -> *mut zvm_runtime_t {
    // SAFETY: the caller's contract.
    let opened = unsafe {
        guard(err, || {
            let config = Config::read(args::deref(config, "config")?)?;
            zvm_runtime_t::open(config)
        })
    };
    opened.map_or(ptr::null_mut(), |runtime| Box::into_raw(Box::new(runtime)))
}

/// Stops the runtime after the calls already queued, and frees it. NULL is ignored.
///
/// # Safety
/// `runtime` is NULL or a runtime from `zvm_runtime_new` that was not freed, and no other thread uses it.
#[no_mangle]
pub unsafe extern "C" fn zvm_runtime_free(runtime: *mut zvm_runtime_t) {
    if !runtime.is_null() {
        // SAFETY: the caller's contract; a panic while stopping cannot be reported, only contained.
        let _ = unsafe {
            status(ptr::null_mut(), || {
                drop(Box::from_raw(runtime));
                Ok(())
            })
        };
    }
}

/// Installs `code_len` bytes of `code` in `format` (a `ZVM_FORMAT_*` value) as a contract of `deployer`
/// and stores its address in `*address`. The address is the `CREATE` address of the deployer and its
/// nonce, or, when `salt` is not NULL, the `CREATE2` address of the deployer, the salt and the stored code.
/// No init code runs: `code` is the contract's code. Durable when it returns.
///
/// # Safety
/// Non-NULL pointers point to what their types say; `code` has `code_len` readable bytes; `err` is NULL or
/// valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn zvm_deploy(
    runtime: *const zvm_runtime_t,
    deployer: *const zvm_address_t,
    code: *const u8,
    code_len: usize,
    format: u32,
    salt: *const zvm_word_t,
    address: *mut zvm_address_t,
    err: *mut *mut zvm_error_t,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        status(err, || {
            let runtime = args::deref(runtime, "runtime")?;
            let deployer = *args::deref(deployer, "deployer")?;
            let code = args::bytes(code, code_len, ZVM_MAX_CODE_LEN, "code")?;
            let salt = salt.as_ref().map(|s| (*s).into());
            let address = args::out(address, "address")?;
            *address = runtime.deploy(deployer.into(), code, format, salt)?.into();
            Ok(())
        })
    }
}

/// Runs a state-changing call and stores its result in `*result` (free it with `zvm_result_free`).
/// Returns once the call is durable: committed to the database with `fsync`. A call that reverts or fails
/// is committed too (its receipt; none of its state changes); its `status` says so.
///
/// # Safety
/// Non-NULL pointers point to what their types say; `message->input` has `message->input_len` readable
/// bytes; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn zvm_call(
    runtime: *const zvm_runtime_t,
    message: *const zvm_message_t,
    result: *mut *mut zvm_result_t,
    err: *mut *mut zvm_error_t,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe { run_message(runtime, message, result, err, zvm_runtime_t::call) }
}

/// Runs a call on a snapshot of the committed state, throws its state changes away, and stores its
/// result in `*result` (free it with `zvm_result_free`). Writes nothing; does not wait for queued calls.
///
/// # Safety
/// As `zvm_call`.
#[no_mangle]
pub unsafe extern "C" fn zvm_query(
    runtime: *const zvm_runtime_t,
    message: *const zvm_message_t,
    result: *mut *mut zvm_result_t,
    err: *mut *mut zvm_error_t,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe { run_message(runtime, message, result, err, zvm_runtime_t::query) }
}

/// `zvm_call` and `zvm_query`: the same arguments, a different operation.
unsafe fn run_message(
    runtime: *const zvm_runtime_t,
    message: *const zvm_message_t,
    result: *mut *mut zvm_result_t,
    err: *mut *mut zvm_error_t,
    operation: fn(&zvm_runtime_t, Message) -> Result<Outcome, Failure>,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        status(err, || {
            let result = args::out(result, "result")?;
            *result = ptr::null_mut();
            let runtime = args::deref(runtime, "runtime")?;
            let message = Message::read(args::deref(message, "message")?)?;
            *result = operation(runtime, message)?.into_raw();
            Ok(())
        })
    }
}

/// Reads the committed value of storage slot `key` of the account at `address` into `*value` (zero for a
/// slot never set). Fails with `ZVM_ERR_UNKNOWN_ADDRESS` if there is no account at `address`.
///
/// # Safety
/// Non-NULL pointers point to what their types say; `err` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn zvm_storage_get(
    runtime: *const zvm_runtime_t,
    address: *const zvm_address_t,
    key: *const zvm_word_t,
    value: *mut zvm_word_t,
    err: *mut *mut zvm_error_t,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        status(err, || {
            let runtime = args::deref(runtime, "runtime")?;
            let address = *args::deref(address, "address")?;
            let key = *args::deref(key, "key")?;
            let value = args::out(value, "value")?;
            *value = runtime.storage(address.into(), key.into())?.into();
            Ok(())
        })
    }
}

/// Frees a result and everything it points to. NULL is ignored.
///
/// # Safety
/// `result` is NULL or a result from `zvm_call` or `zvm_query` that was not freed.
#[no_mangle]
pub unsafe extern "C" fn zvm_result_free(result: *mut zvm_result_t) {
    // SAFETY: the caller's contract.
    let _ = unsafe {
        status(ptr::null_mut(), || {
            result::free(result);
            Ok(())
        })
    };
}

/// Frees an error and its message. NULL is ignored.
///
/// # Safety
/// `error` is NULL or an error from this library that was not freed.
#[no_mangle]
pub unsafe extern "C" fn zvm_error_free(error: *mut zvm_error_t) {
    // SAFETY: the caller's contract.
    let _ = unsafe {
        status(ptr::null_mut(), || {
            error::free(error);
            Ok(())
        })
    };
}
