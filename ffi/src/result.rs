//! [`zvm_result_t`]: what a call or a query did, as one allocation the C side reads and frees once.

use crate::args::{zvm_address_t, zvm_word_t};
use crate::owned::{self, Owned};
use std::ffi::c_char;
use std::ptr;
use zvm_node::Receipt;
use zvm_runtime::{ExecResult, Log, Status};

/// The code halted normally; its state changes are kept (for a call).
pub const ZVM_STATUS_SUCCESS: u32 = 0;
/// The code reverted: its changes are undone, `output` is the revert data.
pub const ZVM_STATUS_REVERT: u32 = 1;
/// The code ran out of gas: its changes are undone, all gas is used.
pub const ZVM_STATUS_OUT_OF_GAS: u32 = 2;
/// The code trapped (`trap` says why): its changes are undone, all gas is used.
pub const ZVM_STATUS_TRAP: u32 = 3;
/// The stored code could not be loaded; nothing ran.
pub const ZVM_STATUS_INVALID_CODE: u32 = 4;

/// An event the code emitted. Its pointers are NULL when their length is 0.
#[repr(C)]
pub struct zvm_log_t {
    pub address: zvm_address_t,
    pub topics: *const zvm_word_t,
    pub topics_len: usize,
    pub data: *const u8,
    pub data_len: usize,
}

/// What a call or a query did. Owned by the caller; free it (and everything it points to) with
/// `zvm_result_free`. Read-only. Pointers are NULL when their length is 0.
#[repr(C)]
pub struct zvm_result_t {
    /// One of the `ZVM_STATUS_*` values.
    pub status: u32,
    /// With `ZVM_STATUS_TRAP`, the trap code (zvm's `TrapCode`: 1 unreachable or invalid opcode, 5 memory
    /// out of bounds, 7 stack underflow, 8 stack overflow, 9 invalid jump, ...); else 0.
    pub trap: u32,
    /// The status as text (`success`, `revert`, `out_of_gas`, `trap:invalid_jump`, `invalid_code: ...`),
    /// NUL-terminated, never NULL.
    pub status_text: *const c_char,
    /// Gas used, after the refund.
    pub gas_used: u64,
    /// Gas refunded (already subtracted from `gas_used`).
    pub gas_refunded: u64,
    /// Return data on success, revert data on revert.
    pub output: *const u8,
    pub output_len: usize,
    /// Events, only on success.
    pub logs: *const zvm_log_t,
    pub logs_len: usize,
    /// For a call: its receipt number (calls are numbered from 1 in commit order). 0 for a query.
    pub receipt_id: u64,
    /// For a call: the block (commit batch) it was committed in. 0 for a query.
    pub block: u64,
}

/// What a call or a query did, on the Rust side.
pub(crate) struct Outcome {
    pub status: Status,
    pub gas_used: u64,
    pub gas_refunded: u64,
    pub output: Vec<u8>,
    pub logs: Vec<Log>,
    pub receipt_id: u64,
    pub block: u64,
}

impl From<Receipt> for Outcome {
    fn from(r: Receipt) -> Outcome {
        let Receipt { id, block, status, gas_used, gas_refunded, output, logs, created: _ } = r;
        Outcome { status, gas_used, gas_refunded, output, logs, receipt_id: id, block }
    }
}

impl From<ExecResult> for Outcome {
    fn from(r: ExecResult) -> Outcome {
        let ExecResult { status, gas_used, gas_refunded, output, logs } = r;
        Outcome { status, gas_used, gas_refunded, output, logs, receipt_id: 0, block: 0 }
    }
}

/// The buffers a [`zvm_result_t`] points into.
struct Storage {
    status_text: Vec<u8>,
    output: Vec<u8>,
    log_views: Vec<zvm_log_t>,
    log_buffers: Vec<LogBuffers>,
}

/// One log, with the buffers its [`zvm_log_t`] points into.
struct LogBuffers {
    address: zvm_address_t,
    topics: Vec<zvm_word_t>,
    data: Vec<u8>,
}

impl LogBuffers {
    fn view(&self) -> zvm_log_t {
        let (topics, topics_len) = parts(&self.topics);
        let (data, data_len) = parts(&self.data);
        zvm_log_t { address: self.address, topics, topics_len, data, data_len }
    }
}

/// `(pointer, length)` of `items`, with NULL for none.
fn parts<T>(items: &[T]) -> (*const T, usize) {
    (if items.is_empty() { ptr::null() } else { items.as_ptr() }, items.len())
}

impl Outcome {
    /// The result the C side gets.
    pub fn into_raw(self) -> *mut zvm_result_t {
        let (status, trap) = match &self.status {
            Status::Success => (ZVM_STATUS_SUCCESS, 0),
            Status::Revert => (ZVM_STATUS_REVERT, 0),
            Status::OutOfGas => (ZVM_STATUS_OUT_OF_GAS, 0),
            Status::Trap(code) => (ZVM_STATUS_TRAP, *code as u32),
            Status::InvalidCode(_) => (ZVM_STATUS_INVALID_CODE, 0),
        };
        let status_text = match &self.status {
            Status::InvalidCode(why) => format!("{}: {why}", self.status.name()),
            other => other.name(),
        };
        let log_buffers: Vec<LogBuffers> = self
            .logs
            .into_iter()
            .map(|log| LogBuffers {
                address: log.address.into(),
                topics: log.topics.into_iter().map(zvm_word_t::from).collect(),
                data: log.data,
            })
            .collect();
        let mut storage = Storage {
            status_text: owned::c_string(&status_text),
            output: self.output,
            log_views: Vec::new(),
            log_buffers,
        };
        storage.log_views = storage.log_buffers.iter().map(LogBuffers::view).collect();
        let (output, output_len) = parts(&storage.output);
        let (logs, logs_len) = parts(&storage.log_views);
        let view = zvm_result_t {
            status,
            trap,
            status_text: storage.status_text.as_ptr().cast(),
            gas_used: self.gas_used,
            gas_refunded: self.gas_refunded,
            output,
            output_len,
            logs,
            logs_len,
            receipt_id: self.receipt_id,
            block: self.block,
        };
        Owned::into_raw(view, storage)
    }
}

/// Frees a result made by [`Outcome::into_raw`].
///
/// # Safety
/// `result` is NULL or a result from this library that has not been freed.
pub(crate) unsafe fn free(result: *mut zvm_result_t) {
    // SAFETY: results are made only by `Outcome::into_raw`, with this storage type.
    unsafe { Owned::<zvm_result_t, Storage>::free(result) }
}
