//! The contract between native code and the runtime that runs it.
//!
//! Compiled code receives one pointer, to a [`VmCtx`]. It keeps the gas counter, the memory and the operand
//! stack there, and reaches everything else through the [`Helpers`] table the context points to. The
//! runtime fills both; the backend only needs the field offsets, so this crate does not depend on the
//! runtime and the same object code can later be loaded from a cache and linked against any runtime
//! build with the same `ABI_VERSION`.
//!
//! Every helper returns a status: [`STATUS_OK`] to continue, anything else to stop execution with that
//! status (which native code passes straight up to its caller).

use core::mem::offset_of;

/// Bumped whenever the layout of [`VmCtx`] or [`Helpers`] or the meaning of a status changes.
pub const ABI_VERSION: u32 = 6;

/// The version of zvm's lowering and code generation (frontends, IR passes, the Cranelift translation).
///
/// Compiled objects are cached on disk under a key that includes this number (`zvm-cache`'s `CacheKey`),
/// so it **must be bumped whenever the native code emitted for some program may change** — a frontend
/// lowers differently, the gas pass folds differently, `translate` emits different code — even when
/// [`ABI_VERSION`] stays the same. Forgetting it makes zvm run stale code from caches written before the
/// change. (Releases also change the key through the crate version, so this matters most between
/// releases, during development.)
pub const CODEGEN_VERSION: u32 = 15;

/// Most bytes a guarded memory ([`zvm_ir::MemoryPlan::guarded`]) holds: 2^16 WebAssembly pages, what a
/// 32-bit index can address.
pub const HEAP_MAX_BYTES: u64 = 1 << 32;

/// Bytes of address space the runtime reserves for a guarded memory, from its base. Compiled code forms
/// addresses as base + zero-extended 32-bit index + 32-bit offset and accesses at most 32 bytes there, all
/// below 2^33 + 32; the reservation covers that and more, so an access past the memory's size faults
/// inside it instead of touching anything else.
pub const HEAP_RESERVATION: u64 = (1 << 33) + (1 << 16);

/// A 256-bit word as four little-endian 64-bit limbs (limb 0 is the least significant).
pub type Word = [u64; 4];

/// Continue executing.
pub const STATUS_OK: u32 = 0;
/// `halt return`: output is in the runtime's frame.
pub const STATUS_RETURN: u32 = 1;
/// `halt revert`.
pub const STATUS_REVERT: u32 = 2;
/// Out of gas.
pub const STATUS_OUT_OF_GAS: u32 = 3;
/// A trap: `STATUS_TRAP_BASE + TrapCode::code()`.
pub const STATUS_TRAP_BASE: u32 = 0x100;

/// The execution context native code runs against. The runtime embeds it as the first field of its frame,
/// so helpers can get back to the frame from the pointer.
#[repr(C)]
#[derive(Debug)]
pub struct VmCtx {
    /// Gas left. Charging more than this stops with [`STATUS_OUT_OF_GAS`].
    pub gas_left: u64,
    /// Base of linear memory (valid for `mem_len` bytes; may move when memory grows).
    pub mem_base: *mut u8,
    /// Current memory size in bytes.
    pub mem_len: u64,
    /// Base of the operand stack: `stack_cap` words, item `i` counted from the bottom.
    pub stack_base: *mut Word,
    /// Items currently on the operand stack.
    pub stack_len: u64,
    /// Capacity of the operand stack in items (a power of two, so indices can be masked into bounds).
    pub stack_cap: u64,
    /// Depth of IR-level `call`s a run starts at (an instance called from another counts on from its
    /// caller's depth). Compiled code passes the depth along in registers and sets this field only around
    /// a call into another instance; the interpreter counts here.
    pub call_depth: u64,
    /// Maximum depth of IR-level `call`s.
    pub max_call_depth: u64,
    /// The module's globals: one 8-byte slot each, in the module's order (`i32`/`f32` in the low 4 bytes).
    pub globals: *mut u64,
    /// The runtime's helper functions.
    pub helpers: *const Helpers,
    /// The tag of the module instance running (high 32 bits of its function references, see
    /// `zvm_ir::Op::RefFunc`); 0 outside a linking store.
    pub instance_tag: u64,
    /// The attached instance's tables, one [`TableView`] per table of the module, in order; null when
    /// there is none (or no instance is attached). `call_indirect` reads its element here and calls the
    /// runtime only for what it cannot decide inline (a reference of another instance).
    pub tables: *const TableView,
}

/// Where a table's elements are, for native code: `len` references (`u64`) from `base`. Valid until the
/// runtime resizes or replaces the table, which only happens inside a helper or a call; the runtime then
/// rewrites the view.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TableView {
    pub base: *const u64,
    pub len: u64,
}

/// Byte offsets of the [`TableView`] fields.
pub mod table_view_offsets {
    use super::*;
    pub const SIZE: i64 = size_of::<TableView>() as i64;
    pub const BASE: i32 = offset_of!(TableView, base) as i32;
    pub const LEN: i32 = offset_of!(TableView, len) as i32;
}

/// Byte offsets of the [`VmCtx`] fields, for the code generator.
pub mod ctx_offsets {
    use super::*;
    pub const GAS_LEFT: i32 = offset_of!(VmCtx, gas_left) as i32;
    pub const MEM_BASE: i32 = offset_of!(VmCtx, mem_base) as i32;
    pub const MEM_LEN: i32 = offset_of!(VmCtx, mem_len) as i32;
    pub const STACK_BASE: i32 = offset_of!(VmCtx, stack_base) as i32;
    pub const STACK_LEN: i32 = offset_of!(VmCtx, stack_len) as i32;
    pub const STACK_CAP: i32 = offset_of!(VmCtx, stack_cap) as i32;
    pub const CALL_DEPTH: i32 = offset_of!(VmCtx, call_depth) as i32;
    pub const MAX_CALL_DEPTH: i32 = offset_of!(VmCtx, max_call_depth) as i32;
    pub const GLOBALS: i32 = offset_of!(VmCtx, globals) as i32;
    pub const HELPERS: i32 = offset_of!(VmCtx, helpers) as i32;
    pub const INSTANCE_TAG: i32 = offset_of!(VmCtx, instance_tag) as i32;
    pub const TABLES: i32 = offset_of!(VmCtx, tables) as i32;
}

/// Functions the runtime provides to native code. Pointers are to the context, to words in the caller's
/// stack frame, or to an output word; every pointer is valid for the call only.
#[repr(C)]
#[derive(Debug)]
pub struct Helpers {
    /// `mem.expand offset, len`, with each of `offset` and `len` as `u64::MAX` when the word does not fit
    /// in 64 bits (any end past 2^64 costs more gas than can exist, and the saturated sum is past it or
    /// costs as much). Scalars rather than word pointers: the helper runs once per growth, and loading
    /// words just spilled as limbs stalled on the stores.
    pub mem_expand: unsafe extern "C" fn(ctx: *mut VmCtx, offset: u64, len: u64) -> u32,
    /// `mem.copy dst, src, len`.
    pub mem_copy: unsafe extern "C" fn(ctx: *mut VmCtx, dst: u64, src: u64, len: u64) -> u32,
    /// `hash.ALG offset, len` with `alg` from [`hash_alg_code`].
    pub hash: unsafe extern "C" fn(ctx: *mut VmCtx, alg: u32, offset: u64, len: u64, out: *mut Word) -> u32,
    /// `data.size SRC` with `src` from [`data_src_code`].
    pub data_size: unsafe extern "C" fn(ctx: *mut VmCtx, src: u32) -> u64,
    /// `data.load SRC offset`.
    pub data_load: unsafe extern "C" fn(ctx: *mut VmCtx, src: u32, offset: *const Word, out: *mut Word) -> u32,
    /// `data.copy SRC dst, offset, len`.
    pub data_copy: unsafe extern "C" fn(ctx: *mut VmCtx, src: u32, dst: u64, offset: *const Word, len: u64) -> u32,
    /// `hostcall FUNC args...` with `func` from [`host_fn_code`]; `args` holds `nargs` words (`i64`
    /// arguments zero-extended), `out` receives the result if the function has one.
    pub host_call:
        unsafe extern "C" fn(ctx: *mut VmCtx, func: u32, args: *const Word, nargs: u32, out: *mut Word) -> u32,
    /// `halt KIND offset, len` (`kind`: 0 return, 1 revert). Always returns a stopping status.
    pub halt: unsafe extern "C" fn(ctx: *mut VmCtx, kind: u32, offset: u64, len: u64) -> u32,
    /// Pure `w256` binary operations that are not inlined (`op` from [`binop_code`]).
    pub word_binary: unsafe extern "C" fn(op: u32, a: *const Word, b: *const Word, out: *mut Word),
    /// Pure `w256` ternary operations (`op` from [`ternop_code`]).
    pub word_ternary: unsafe extern "C" fn(op: u32, a: *const Word, b: *const Word, c: *const Word, out: *mut Word),
    /// `mem.grow pages`: returns the old size in pages, or `u64::MAX` if memory cannot grow. Never stops.
    pub mem_grow: unsafe extern "C" fn(ctx: *mut VmCtx, pages: u64) -> u64,
    /// `mem.fill dst, byte, len`.
    pub mem_fill: unsafe extern "C" fn(ctx: *mut VmCtx, dst: u64, byte: u32, len: u64) -> u32,
    /// `mem.init SEG dst, src, len`.
    pub mem_init: unsafe extern "C" fn(ctx: *mut VmCtx, seg: u32, dst: u64, src: u64, len: u64) -> u32,
    /// `data.drop SEG`. Never stops.
    pub data_drop: unsafe extern "C" fn(ctx: *mut VmCtx, seg: u32),
    /// `table.get TABLE index`: the element goes to `out`.
    pub table_get: unsafe extern "C" fn(ctx: *mut VmCtx, table: u32, index: u64, out: *mut u64) -> u32,
    /// `table.set TABLE index, value`.
    pub table_set: unsafe extern "C" fn(ctx: *mut VmCtx, table: u32, index: u64, value: u64) -> u32,
    /// `table.size TABLE`: the size goes to `out`.
    pub table_size: unsafe extern "C" fn(ctx: *mut VmCtx, table: u32, out: *mut u64) -> u32,
    /// `table.grow TABLE value, delta`: the old size, or `u64::MAX` if the table cannot grow, goes to `out`.
    pub table_grow: unsafe extern "C" fn(ctx: *mut VmCtx, table: u32, value: u64, delta: u64, out: *mut u64) -> u32,
    /// `table.fill TABLE dst, value, len`.
    pub table_fill: unsafe extern "C" fn(ctx: *mut VmCtx, table: u32, dst: u64, value: u64, len: u64) -> u32,
    /// `table.copy DST SRC d, s, n`.
    pub table_copy:
        unsafe extern "C" fn(ctx: *mut VmCtx, dst_table: u32, src_table: u32, d: u64, s: u64, n: u64) -> u32,
    /// `table.init TABLE SEG d, s, n`.
    pub table_init: unsafe extern "C" fn(ctx: *mut VmCtx, table: u32, seg: u32, d: u64, s: u64, n: u64) -> u32,
    /// `elem.drop SEG`. Never stops.
    pub elem_drop: unsafe extern "C" fn(ctx: *mut VmCtx, seg: u32),
    /// The callee of `call_indirect TY TABLE index`, checked (bounds, null, signature): its function index
    /// goes to `out_func`. Code calls it through the dispatcher of the type only when this returns
    /// [`STATUS_OK`].
    /// Function index [`FOREIGN_FUNC`] means the reference belongs to another instance: the dispatcher then
    /// calls it through `call_foreign`.
    pub call_indirect_target:
        unsafe extern "C" fn(ctx: *mut VmCtx, ty: u32, table: u32, index: u64, out_func: *mut u32) -> u32,
    /// Calls the reference of another instance that the last `call_indirect_target` returned
    /// [`FOREIGN_FUNC`] for, as type `ty`: `values` holds the parameters (8 bytes each, `i32`/`f32` in the
    /// low 4) and receives the results; `max(params, results)` slots.
    pub call_foreign: unsafe extern "C" fn(ctx: *mut VmCtx, ty: u32, values: *mut u64) -> u32,
}

/// The function index `call_indirect_target` gives for a reference to a function of another instance.
pub const FOREIGN_FUNC: u32 = u32::MAX;

/// Byte offsets of the [`Helpers`] fields.
pub mod helper_offsets {
    use super::*;
    pub const MEM_EXPAND: i32 = offset_of!(Helpers, mem_expand) as i32;
    pub const MEM_COPY: i32 = offset_of!(Helpers, mem_copy) as i32;
    pub const HASH: i32 = offset_of!(Helpers, hash) as i32;
    pub const DATA_SIZE: i32 = offset_of!(Helpers, data_size) as i32;
    pub const DATA_LOAD: i32 = offset_of!(Helpers, data_load) as i32;
    pub const DATA_COPY: i32 = offset_of!(Helpers, data_copy) as i32;
    pub const HOST_CALL: i32 = offset_of!(Helpers, host_call) as i32;
    pub const HALT: i32 = offset_of!(Helpers, halt) as i32;
    pub const WORD_BINARY: i32 = offset_of!(Helpers, word_binary) as i32;
    pub const WORD_TERNARY: i32 = offset_of!(Helpers, word_ternary) as i32;
    pub const MEM_GROW: i32 = offset_of!(Helpers, mem_grow) as i32;
    pub const MEM_FILL: i32 = offset_of!(Helpers, mem_fill) as i32;
    pub const MEM_INIT: i32 = offset_of!(Helpers, mem_init) as i32;
    pub const DATA_DROP: i32 = offset_of!(Helpers, data_drop) as i32;
    pub const TABLE_GET: i32 = offset_of!(Helpers, table_get) as i32;
    pub const TABLE_SET: i32 = offset_of!(Helpers, table_set) as i32;
    pub const TABLE_SIZE: i32 = offset_of!(Helpers, table_size) as i32;
    pub const TABLE_GROW: i32 = offset_of!(Helpers, table_grow) as i32;
    pub const TABLE_FILL: i32 = offset_of!(Helpers, table_fill) as i32;
    pub const TABLE_COPY: i32 = offset_of!(Helpers, table_copy) as i32;
    pub const TABLE_INIT: i32 = offset_of!(Helpers, table_init) as i32;
    pub const ELEM_DROP: i32 = offset_of!(Helpers, elem_drop) as i32;
    pub const CALL_INDIRECT_TARGET: i32 = offset_of!(Helpers, call_indirect_target) as i32;
    pub const CALL_FOREIGN: i32 = offset_of!(Helpers, call_foreign) as i32;
}

use zvm_ir::{BinOp, DataSrc, EnvField, HashAlg, HostFn, TernOp};

macro_rules! codes {
    ($(#[$m:meta])* $enc:ident, $dec:ident, $ty:ty, $all:expr) => {
        $(#[$m])*
        pub fn $enc(x: $ty) -> u32 {
            $all.iter().position(|y| *y == x).expect("every variant is listed") as u32
        }
        /// Inverse of the encoder; `None` for an unknown code.
        pub fn $dec(code: u32) -> Option<$ty> {
            $all.get(code as usize).copied()
        }
    };
}

codes!(
    /// The ABI code of a hash algorithm.
    hash_alg_code, hash_alg_from_code, HashAlg, HashAlg::ALL
);
codes!(
    /// The ABI code of a data source.
    data_src_code, data_src_from_code, DataSrc, DataSrc::ALL
);
codes!(
    /// The ABI code of a `w256` binary operation (every `BinOp`, whether or not the backend inlines it).
    binop_code, binop_from_code, BinOp, BinOp::ALL
);
codes!(
    /// The ABI code of a `w256` ternary operation.
    ternop_code, ternop_from_code, TernOp, TernOp::ALL
);

const HOST_FN_LOG_BASE: u32 = 0x100;
const HOST_FN_ENV_BASE: u32 = 0x200;

/// The ABI code of a host function.
pub fn host_fn_code(f: HostFn) -> u32 {
    match f {
        HostFn::Log(n) => HOST_FN_LOG_BASE + u32::from(n),
        HostFn::Env(e) => {
            HOST_FN_ENV_BASE + EnvField::ALL.iter().position(|x| *x == e).expect("every field is listed") as u32
        }
        other => HostFn::FIXED.iter().position(|x| *x == other).expect("every fixed host fn is listed") as u32,
    }
}

/// Inverse of [`host_fn_code`]; `None` for an unknown code.
pub fn host_fn_from_code(code: u32) -> Option<HostFn> {
    match code {
        c if c >= HOST_FN_ENV_BASE => EnvField::ALL.get((c - HOST_FN_ENV_BASE) as usize).copied().map(HostFn::Env),
        c if c >= HOST_FN_LOG_BASE => {
            let n = u8::try_from(c - HOST_FN_LOG_BASE).ok()?;
            (n <= zvm_ir::instructions::MAX_LOG_TOPICS).then_some(HostFn::Log(n))
        }
        c => HostFn::FIXED.get(c as usize).copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_fn_codes_round_trip() {
        for f in HostFn::all() {
            assert_eq!(host_fn_from_code(host_fn_code(f)), Some(f));
        }
        assert_eq!(host_fn_from_code(HOST_FN_LOG_BASE + 5), None);
        assert_eq!(host_fn_from_code(HOST_FN_ENV_BASE + 99), None);
    }

    #[test]
    fn binop_codes_round_trip() {
        for c in 0..28 {
            let op = binop_from_code(c).unwrap();
            assert_eq!(binop_code(op), c);
        }
        assert_eq!(binop_from_code(28), None);
    }
}
