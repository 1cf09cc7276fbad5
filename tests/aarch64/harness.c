/*
 * A minimal C runtime for zvm's emitted aarch64 objects, used by tests/tests/aarch64.rs.
 *
 * It plays the part of zvm's runtime for pure-compute programs: it builds a VmCtx and a Helpers table
 * laid out exactly as compiler/src/abi.rs lays them out, calls the object's `zvm_entry`, and prints what
 * happened. The helpers follow runtime/src/frame.rs (`Frame::mem_expand`, `Frame::halt`, ...) for what
 * these programs need: memory growth with its gas, the call data, memory copies and halting. Every other
 * helper stops the program with a host_error trap (and says so on stderr), so a program that needs one
 * fails loudly instead of computing something else.
 *
 * The test compiles this file with the ABI's numbers as -D defines, computed in Rust from the real types
 * (`size_of`, `offset_of!`), so the _Static_asserts below catch any layout change on either side.
 *
 * Usage:
 *   harness --check              check the helper table, print "helper table ok: N slots"
 *   harness GAS HEX [GAS HEX]... run zvm_entry once per (gas limit, call data in hex) pair; print one line
 *                                per run: "STATUS GAS_LEFT OUTPUT_HEX" (decimal, decimal, hex; the output
 *                                is empty unless the program halted)
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(ZVM_ABI_VERSION) || !defined(ZVM_VMCTX_SIZE) || !defined(ZVM_VMCTX_ALIGN) ||                        \
    !defined(ZVM_OFF_GAS_LEFT) || !defined(ZVM_OFF_MEM_BASE) || !defined(ZVM_OFF_MEM_LEN) ||                   \
    !defined(ZVM_OFF_STACK_BASE) || !defined(ZVM_OFF_STACK_LEN) || !defined(ZVM_OFF_STACK_CAP) ||              \
    !defined(ZVM_OFF_CALL_DEPTH) || !defined(ZVM_OFF_MAX_CALL_DEPTH) || !defined(ZVM_OFF_GLOBALS) ||           \
    !defined(ZVM_OFF_HELPERS) || !defined(ZVM_HELPERS_SIZE) || !defined(ZVM_OFF_MEM_EXPAND) ||                 \
    !defined(ZVM_OFF_MEM_COPY) || !defined(ZVM_OFF_HASH) || !defined(ZVM_OFF_DATA_SIZE) ||                     \
    !defined(ZVM_OFF_DATA_LOAD) || !defined(ZVM_OFF_DATA_COPY) || !defined(ZVM_OFF_HOST_CALL) ||               \
    !defined(ZVM_OFF_HALT) || !defined(ZVM_OFF_WORD_BINARY) || !defined(ZVM_OFF_WORD_TERNARY) ||               \
    !defined(ZVM_OFF_MEM_GROW) || !defined(ZVM_OFF_MEM_FILL) || !defined(ZVM_OFF_MEM_INIT) ||                  \
    !defined(ZVM_OFF_DATA_DROP) || !defined(ZVM_OFF_TABLE_GET) || !defined(ZVM_OFF_TABLE_SET) ||               \
    !defined(ZVM_OFF_TABLE_SIZE) || !defined(ZVM_OFF_TABLE_GROW) || !defined(ZVM_OFF_TABLE_FILL) ||            \
    !defined(ZVM_OFF_TABLE_COPY) || !defined(ZVM_OFF_TABLE_INIT) || !defined(ZVM_OFF_ELEM_DROP) ||             \
    !defined(ZVM_OFF_CALL_INDIRECT_TARGET) || !defined(ZVM_OFF_CALL_FOREIGN) || !defined(ZVM_WORD_SIZE) ||     \
    !defined(ZVM_OFF_INSTANCE_TAG) || !defined(ZVM_OFF_TABLES) ||                                              \
    !defined(ZVM_STATUS_OK) || !defined(ZVM_STATUS_RETURN) || !defined(ZVM_STATUS_REVERT) ||                   \
    !defined(ZVM_STATUS_OUT_OF_GAS) || !defined(ZVM_STATUS_TRAP_BASE) || !defined(ZVM_TRAP_HOST_ERROR) ||      \
    !defined(ZVM_TRAP_MEMORY_LIMIT) || !defined(ZVM_TRAP_MEMORY_OOB) || !defined(ZVM_DATA_SRC_INPUT) ||        \
    !defined(ZVM_STACK_CAP) || !defined(ZVM_MAX_CALL_DEPTH) || !defined(ZVM_MAX_MEMORY)
#error "compile with the ABI's numbers as -D defines (see tests/tests/aarch64.rs)"
#endif

/* A 256-bit word: four little-endian 64-bit limbs, limb 0 least significant (abi::Word). */
typedef uint64_t Word[4];

typedef struct Helpers Helpers;

/* abi::TableView */
typedef struct TableView {
    const uint64_t *base;
    uint64_t len;
} TableView;

/* abi::VmCtx */
typedef struct VmCtx {
    uint64_t gas_left;
    uint8_t *mem_base;
    uint64_t mem_len;
    Word *stack_base;
    uint64_t stack_len;
    uint64_t stack_cap;
    uint64_t call_depth;
    uint64_t max_call_depth;
    uint64_t *globals;
    const Helpers *helpers;
    uint64_t instance_tag;
    const TableView *tables; /* null: the harness keeps no tables, so call_indirect asks the helper */
} VmCtx;

/* abi::Helpers, in the same order. */
struct Helpers {
    uint32_t (*mem_expand)(VmCtx *ctx, uint64_t offset, uint64_t len);
    uint32_t (*mem_copy)(VmCtx *ctx, uint64_t dst, uint64_t src, uint64_t len);
    uint32_t (*hash)(VmCtx *ctx, uint32_t alg, uint64_t offset, uint64_t len, Word *out);
    uint64_t (*data_size)(VmCtx *ctx, uint32_t src);
    uint32_t (*data_load)(VmCtx *ctx, uint32_t src, const Word *offset, Word *out);
    uint32_t (*data_copy)(VmCtx *ctx, uint32_t src, uint64_t dst, const Word *offset, uint64_t len);
    uint32_t (*host_call)(VmCtx *ctx, uint32_t func, const Word *args, uint32_t nargs, Word *out);
    uint32_t (*halt)(VmCtx *ctx, uint32_t kind, uint64_t offset, uint64_t len);
    void (*word_binary)(uint32_t op, const Word *a, const Word *b, Word *out);
    void (*word_ternary)(uint32_t op, const Word *a, const Word *b, const Word *c, Word *out);
    uint64_t (*mem_grow)(VmCtx *ctx, uint64_t pages);
    uint32_t (*mem_fill)(VmCtx *ctx, uint64_t dst, uint32_t byte, uint64_t len);
    uint32_t (*mem_init)(VmCtx *ctx, uint32_t seg, uint64_t dst, uint64_t src, uint64_t len);
    void (*data_drop)(VmCtx *ctx, uint32_t seg);
    uint32_t (*table_get)(VmCtx *ctx, uint32_t table, uint64_t index, uint64_t *out);
    uint32_t (*table_set)(VmCtx *ctx, uint32_t table, uint64_t index, uint64_t value);
    uint32_t (*table_size)(VmCtx *ctx, uint32_t table, uint64_t *out);
    uint32_t (*table_grow)(VmCtx *ctx, uint32_t table, uint64_t value, uint64_t delta, uint64_t *out);
    uint32_t (*table_fill)(VmCtx *ctx, uint32_t table, uint64_t dst, uint64_t value, uint64_t len);
    uint32_t (*table_copy)(VmCtx *ctx, uint32_t dst_table, uint32_t src_table, uint64_t d, uint64_t s, uint64_t n);
    uint32_t (*table_init)(VmCtx *ctx, uint32_t table, uint32_t seg, uint64_t d, uint64_t s, uint64_t n);
    void (*elem_drop)(VmCtx *ctx, uint32_t seg);
    uint32_t (*call_indirect_target)(VmCtx *ctx, uint32_t ty, uint32_t table, uint64_t index, uint32_t *out_func);
    uint32_t (*call_foreign)(VmCtx *ctx, uint32_t ty, uint64_t *values);
};

/* The layout the Rust side computed (compile-time: a mismatch does not build). */
_Static_assert(ZVM_ABI_VERSION == 6, "this harness implements ABI version 6 of compiler/src/abi.rs");
_Static_assert(sizeof(Word) == ZVM_WORD_SIZE, "Word size");
_Static_assert(sizeof(VmCtx) == ZVM_VMCTX_SIZE, "VmCtx size");
_Static_assert(alignof(VmCtx) == ZVM_VMCTX_ALIGN, "VmCtx alignment");
_Static_assert(offsetof(VmCtx, gas_left) == ZVM_OFF_GAS_LEFT, "VmCtx.gas_left");
_Static_assert(offsetof(VmCtx, mem_base) == ZVM_OFF_MEM_BASE, "VmCtx.mem_base");
_Static_assert(offsetof(VmCtx, mem_len) == ZVM_OFF_MEM_LEN, "VmCtx.mem_len");
_Static_assert(offsetof(VmCtx, stack_base) == ZVM_OFF_STACK_BASE, "VmCtx.stack_base");
_Static_assert(offsetof(VmCtx, stack_len) == ZVM_OFF_STACK_LEN, "VmCtx.stack_len");
_Static_assert(offsetof(VmCtx, stack_cap) == ZVM_OFF_STACK_CAP, "VmCtx.stack_cap");
_Static_assert(offsetof(VmCtx, call_depth) == ZVM_OFF_CALL_DEPTH, "VmCtx.call_depth");
_Static_assert(offsetof(VmCtx, max_call_depth) == ZVM_OFF_MAX_CALL_DEPTH, "VmCtx.max_call_depth");
_Static_assert(offsetof(VmCtx, globals) == ZVM_OFF_GLOBALS, "VmCtx.globals");
_Static_assert(offsetof(VmCtx, helpers) == ZVM_OFF_HELPERS, "VmCtx.helpers");
_Static_assert(offsetof(VmCtx, instance_tag) == ZVM_OFF_INSTANCE_TAG, "VmCtx.instance_tag");
_Static_assert(offsetof(VmCtx, tables) == ZVM_OFF_TABLES, "VmCtx.tables");
_Static_assert(sizeof(Helpers) == ZVM_HELPERS_SIZE, "Helpers size");
_Static_assert(offsetof(Helpers, mem_expand) == ZVM_OFF_MEM_EXPAND, "Helpers.mem_expand");
_Static_assert(offsetof(Helpers, mem_copy) == ZVM_OFF_MEM_COPY, "Helpers.mem_copy");
_Static_assert(offsetof(Helpers, hash) == ZVM_OFF_HASH, "Helpers.hash");
_Static_assert(offsetof(Helpers, data_size) == ZVM_OFF_DATA_SIZE, "Helpers.data_size");
_Static_assert(offsetof(Helpers, data_load) == ZVM_OFF_DATA_LOAD, "Helpers.data_load");
_Static_assert(offsetof(Helpers, data_copy) == ZVM_OFF_DATA_COPY, "Helpers.data_copy");
_Static_assert(offsetof(Helpers, host_call) == ZVM_OFF_HOST_CALL, "Helpers.host_call");
_Static_assert(offsetof(Helpers, halt) == ZVM_OFF_HALT, "Helpers.halt");
_Static_assert(offsetof(Helpers, word_binary) == ZVM_OFF_WORD_BINARY, "Helpers.word_binary");
_Static_assert(offsetof(Helpers, word_ternary) == ZVM_OFF_WORD_TERNARY, "Helpers.word_ternary");
_Static_assert(offsetof(Helpers, mem_grow) == ZVM_OFF_MEM_GROW, "Helpers.mem_grow");
_Static_assert(offsetof(Helpers, mem_fill) == ZVM_OFF_MEM_FILL, "Helpers.mem_fill");
_Static_assert(offsetof(Helpers, mem_init) == ZVM_OFF_MEM_INIT, "Helpers.mem_init");
_Static_assert(offsetof(Helpers, data_drop) == ZVM_OFF_DATA_DROP, "Helpers.data_drop");
_Static_assert(offsetof(Helpers, table_get) == ZVM_OFF_TABLE_GET, "Helpers.table_get");
_Static_assert(offsetof(Helpers, table_set) == ZVM_OFF_TABLE_SET, "Helpers.table_set");
_Static_assert(offsetof(Helpers, table_size) == ZVM_OFF_TABLE_SIZE, "Helpers.table_size");
_Static_assert(offsetof(Helpers, table_grow) == ZVM_OFF_TABLE_GROW, "Helpers.table_grow");
_Static_assert(offsetof(Helpers, table_fill) == ZVM_OFF_TABLE_FILL, "Helpers.table_fill");
_Static_assert(offsetof(Helpers, table_copy) == ZVM_OFF_TABLE_COPY, "Helpers.table_copy");
_Static_assert(offsetof(Helpers, table_init) == ZVM_OFF_TABLE_INIT, "Helpers.table_init");
_Static_assert(offsetof(Helpers, elem_drop) == ZVM_OFF_ELEM_DROP, "Helpers.elem_drop");
_Static_assert(offsetof(Helpers, call_indirect_target) == ZVM_OFF_CALL_INDIRECT_TARGET,
               "Helpers.call_indirect_target");
_Static_assert(offsetof(Helpers, call_foreign) == ZVM_OFF_CALL_FOREIGN, "Helpers.call_foreign");
_Static_assert((ZVM_STACK_CAP & (ZVM_STACK_CAP - 1)) == 0, "stack capacity is a power of two");

#define HOST_ERROR ((uint32_t)(ZVM_STATUS_TRAP_BASE + ZVM_TRAP_HOST_ERROR))

/* The entry trampoline of the object (cranelift/object.rs: ENTRY_SYMBOL; cranelift/native.rs: EntryFn): runs
 * function `func` with parameters and results in `values` (NULL: none). */
extern uint32_t zvm_entry(VmCtx *ctx, uint32_t func, uint64_t *values);

/* The function runs start in: the programs are lowered by the ZVM frontend, whose modules are one function,
 * the entry (the test checks it). */
#define ENTRY_FUNC 0u

/* ---- the frame: what runtime/src/frame.rs keeps besides the VmCtx ----------------------------------- */

static const uint8_t *calldata;
static uint64_t calldata_len;
static uint8_t *output;
static uint64_t output_len;
static alignas(32) Word stack[ZVM_STACK_CAP];
/* Set when the program used a helper this harness does not implement; the run then reports host_error. */
static const char *unsupported;

static uint32_t unsupported_helper(const char *name) {
    if (!unsupported) {
        unsupported = name;
        fprintf(stderr, "harness: helper `%s` is not implemented in the C harness\n", name);
    }
    return HOST_ERROR;
}

/* semantics::memory_cost: 3*w + w*w/512, saturating to u64. */
static uint64_t memory_cost(uint64_t words) {
    unsigned __int128 w = words;
    unsigned __int128 c = 3 * w + w * w / 512;
    return c > UINT64_MAX ? UINT64_MAX : (uint64_t)c;
}

/* Frame::mem_range: STATUS_OK if [offset, offset + len) is inside memory (always, if empty), else heap_oob. */
static uint32_t mem_range(const VmCtx *ctx, uint64_t offset, uint64_t len) {
    if (len == 0) return ZVM_STATUS_OK;
    if (offset + len < offset || offset + len > ctx->mem_len) return ZVM_STATUS_TRAP_BASE + ZVM_TRAP_MEMORY_OOB;
    return ZVM_STATUS_OK;
}

/* Frame::copy_padded: dst[..n] from src at offset (a word), zeros past the end of src. */
static void copy_padded(uint8_t *dst, uint64_t n, const uint8_t *src, uint64_t src_len, const Word *offset) {
    uint64_t start = ((*offset)[1] | (*offset)[2] | (*offset)[3]) ? UINT64_MAX : (*offset)[0];
    if (start > src_len) start = src_len;
    uint64_t avail = src_len - start;
    uint64_t k = avail < n ? avail : n;
    if (k) memcpy(dst, src + start, k);
    memset(dst + k, 0, n - k);
}

/* ---- helpers ------------------------------------------------------------------------------------------ */

/* Frame::mem_expand. */
static uint32_t h_mem_expand(VmCtx *ctx, uint64_t offset, uint64_t len) {
    if (len == 0) return ZVM_STATUS_OK;
    /* Any end past 2^64 costs more gas than can exist (offset and len come saturated to 64 bits). */
    uint64_t end = offset + len;
    if (end < offset || end == UINT64_MAX) return ZVM_STATUS_OUT_OF_GAS;
    uint64_t current = ctx->mem_len;
    if (end <= current) return ZVM_STATUS_OK;
    uint64_t new_words = end / 32 + (end % 32 != 0);
    uint64_t cost = memory_cost(new_words) - memory_cost(current / 32);
    if (ctx->gas_left < cost) return ZVM_STATUS_OUT_OF_GAS; /* Frame::charge leaves gas_left as it was */
    ctx->gas_left -= cost;
    uint64_t new_len = new_words * 32;
    if (new_len > (uint64_t)ZVM_MAX_MEMORY) return ZVM_STATUS_TRAP_BASE + ZVM_TRAP_MEMORY_LIMIT;
    uint8_t *mem = realloc(current ? ctx->mem_base : NULL, new_len);
    if (!mem) {
        fprintf(stderr, "harness: out of host memory\n");
        exit(3);
    }
    memset(mem + current, 0, new_len - current);
    ctx->mem_base = mem;
    ctx->mem_len = new_len;
    return ZVM_STATUS_OK;
}

/* Frame::mem_copy. */
static uint32_t h_mem_copy(VmCtx *ctx, uint64_t dst, uint64_t src, uint64_t len) {
    uint32_t s = mem_range(ctx, src, len);
    if (s) return s;
    if ((s = mem_range(ctx, dst, len))) return s;
    if (len) memmove(ctx->mem_base + dst, ctx->mem_base + src, len);
    return ZVM_STATUS_OK;
}

static uint32_t h_hash(VmCtx *ctx, uint32_t alg, uint64_t offset, uint64_t len, Word *out) {
    (void)ctx, (void)alg, (void)offset, (void)len, (void)out;
    return unsupported_helper("hash");
}

/* Frame::data(src).len(), for the call data only. */
static uint64_t h_data_size(VmCtx *ctx, uint32_t src) {
    (void)ctx;
    if (src != ZVM_DATA_SRC_INPUT) {
        unsupported_helper("data_size (not input)");
        return 0;
    }
    return calldata_len;
}

/* Frame::data_load, for the call data only: 32 bytes big-endian, zero past the end. */
static uint32_t h_data_load(VmCtx *ctx, uint32_t src, const Word *offset, Word *out) {
    (void)ctx;
    if (src != ZVM_DATA_SRC_INPUT) return unsupported_helper("data_load (not input)");
    uint8_t be[32];
    copy_padded(be, 32, calldata, calldata_len, offset);
    for (int limb = 0; limb < 4; limb++) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++) v = (v << 8) | be[(3 - limb) * 8 + i];
        (*out)[limb] = v;
    }
    return ZVM_STATUS_OK;
}

/* Frame::data_copy, for the call data only. */
static uint32_t h_data_copy(VmCtx *ctx, uint32_t src, uint64_t dst, const Word *offset, uint64_t len) {
    if (src != ZVM_DATA_SRC_INPUT) return unsupported_helper("data_copy (not input)");
    uint32_t s = mem_range(ctx, dst, len);
    if (s) return s;
    if (len) copy_padded(ctx->mem_base + dst, len, calldata, calldata_len, offset);
    return ZVM_STATUS_OK;
}

static uint32_t h_host_call(VmCtx *ctx, uint32_t func, const Word *args, uint32_t nargs, Word *out) {
    (void)ctx, (void)func, (void)args, (void)nargs, (void)out;
    return unsupported_helper("host_call");
}

/* Frame::halt: records the output (kind 0: return, 1: revert). */
static uint32_t h_halt(VmCtx *ctx, uint32_t kind, uint64_t offset, uint64_t len) {
    if (kind > 1) return HOST_ERROR;
    uint32_t s = mem_range(ctx, offset, len);
    if (s) return s;
    free(output);
    output = malloc(len ? len : 1);
    if (!output) {
        fprintf(stderr, "harness: out of host memory\n");
        exit(3);
    }
    if (len) memcpy(output, ctx->mem_base + offset, len);
    output_len = len;
    return kind == 0 ? ZVM_STATUS_RETURN : ZVM_STATUS_REVERT;
}

/* The word helpers cannot return a status: write zero and report host_error after the run. */
static void h_word_binary(uint32_t op, const Word *a, const Word *b, Word *out) {
    (void)op, (void)a, (void)b;
    memset(out, 0, sizeof *out);
    unsupported_helper("word_binary");
}

static void h_word_ternary(uint32_t op, const Word *a, const Word *b, const Word *c, Word *out) {
    (void)op, (void)a, (void)b, (void)c;
    memset(out, 0, sizeof *out);
    unsupported_helper("word_ternary");
}

/* The WebAssembly memory and table helpers: none of these programs use them. */
static uint64_t h_mem_grow(VmCtx *ctx, uint64_t pages) {
    (void)ctx, (void)pages;
    unsupported_helper("mem_grow");
    return UINT64_MAX;
}

static uint32_t h_mem_fill(VmCtx *ctx, uint64_t dst, uint32_t byte, uint64_t len) {
    (void)ctx, (void)dst, (void)byte, (void)len;
    return unsupported_helper("mem_fill");
}

static uint32_t h_mem_init(VmCtx *ctx, uint32_t seg, uint64_t dst, uint64_t src, uint64_t len) {
    (void)ctx, (void)seg, (void)dst, (void)src, (void)len;
    return unsupported_helper("mem_init");
}

static void h_data_drop(VmCtx *ctx, uint32_t seg) {
    (void)ctx, (void)seg;
    unsupported_helper("data_drop");
}

static uint32_t h_table_get(VmCtx *ctx, uint32_t table, uint64_t index, uint64_t *out) {
    (void)ctx, (void)table, (void)index, (void)out;
    return unsupported_helper("table_get");
}

static uint32_t h_table_set(VmCtx *ctx, uint32_t table, uint64_t index, uint64_t value) {
    (void)ctx, (void)table, (void)index, (void)value;
    return unsupported_helper("table_set");
}

static uint32_t h_table_size(VmCtx *ctx, uint32_t table, uint64_t *out) {
    (void)ctx, (void)table, (void)out;
    return unsupported_helper("table_size");
}

static uint32_t h_table_grow(VmCtx *ctx, uint32_t table, uint64_t value, uint64_t delta, uint64_t *out) {
    (void)ctx, (void)table, (void)value, (void)delta, (void)out;
    return unsupported_helper("table_grow");
}

static uint32_t h_table_fill(VmCtx *ctx, uint32_t table, uint64_t dst, uint64_t value, uint64_t len) {
    (void)ctx, (void)table, (void)dst, (void)value, (void)len;
    return unsupported_helper("table_fill");
}

static uint32_t h_table_copy(VmCtx *ctx, uint32_t dst_table, uint32_t src_table, uint64_t d, uint64_t s, uint64_t n) {
    (void)ctx, (void)dst_table, (void)src_table, (void)d, (void)s, (void)n;
    return unsupported_helper("table_copy");
}

static uint32_t h_table_init(VmCtx *ctx, uint32_t table, uint32_t seg, uint64_t d, uint64_t s, uint64_t n) {
    (void)ctx, (void)table, (void)seg, (void)d, (void)s, (void)n;
    return unsupported_helper("table_init");
}

static void h_elem_drop(VmCtx *ctx, uint32_t seg) {
    (void)ctx, (void)seg;
    unsupported_helper("elem_drop");
}

static uint32_t h_call_indirect_target(VmCtx *ctx, uint32_t ty, uint32_t table, uint64_t index, uint32_t *out_func) {
    (void)ctx, (void)ty, (void)table, (void)index, (void)out_func;
    return unsupported_helper("call_indirect_target");
}

static uint32_t h_call_foreign(VmCtx *ctx, uint32_t ty, uint64_t *values) {
    (void)ctx, (void)ty, (void)values;
    return unsupported_helper("call_foreign");
}

/* Any function pointer, for comparing table slots (and for the casts of the misfilled variant). */
typedef void (*AnyFn)(void);

#ifndef ZVM_HARNESS_MISFILL
static const Helpers HELPERS = {
    .mem_expand = h_mem_expand,
    .mem_copy = h_mem_copy,
    .hash = h_hash,
    .data_size = h_data_size,
    .data_load = h_data_load,
    .data_copy = h_data_copy,
    .host_call = h_host_call,
    .halt = h_halt,
    .word_binary = h_word_binary,
    .word_ternary = h_word_ternary,
    .mem_grow = h_mem_grow,
    .mem_fill = h_mem_fill,
    .mem_init = h_mem_init,
    .data_drop = h_data_drop,
    .table_get = h_table_get,
    .table_set = h_table_set,
    .table_size = h_table_size,
    .table_grow = h_table_grow,
    .table_fill = h_table_fill,
    .table_copy = h_table_copy,
    .table_init = h_table_init,
    .elem_drop = h_elem_drop,
    .call_indirect_target = h_call_indirect_target,
    .call_foreign = h_call_foreign,
};
#else
/* Only for the test that the check below is not vacuous: two helpers swapped behind casts, as a table built
 * from untyped pointers in the wrong order would be (C's type checking rejects the swap without the casts). */
static const Helpers HELPERS = {
    .mem_expand = h_mem_expand,
    .mem_copy = (uint32_t (*)(VmCtx *, uint64_t, uint64_t, uint64_t))(AnyFn)h_halt,
    .hash = h_hash,
    .data_size = h_data_size,
    .data_load = h_data_load,
    .data_copy = h_data_copy,
    .host_call = h_host_call,
    .halt = (uint32_t (*)(VmCtx *, uint32_t, uint64_t, uint64_t))(AnyFn)h_mem_copy,
    .word_binary = h_word_binary,
    .word_ternary = h_word_ternary,
    .mem_grow = h_mem_grow,
    .mem_fill = h_mem_fill,
    .mem_init = h_mem_init,
    .data_drop = h_data_drop,
    .table_get = h_table_get,
    .table_set = h_table_set,
    .table_size = h_table_size,
    .table_grow = h_table_grow,
    .table_fill = h_table_fill,
    .table_copy = h_table_copy,
    .table_init = h_table_init,
    .elem_drop = h_elem_drop,
    .call_indirect_target = h_call_indirect_target,
    .call_foreign = h_call_foreign,
};
#endif

/* The helper table check: the slot at each of Rust's offsets (abi::helper_offsets, passed as defines)
 * holds the C function for that helper, and every slot is distinct. The _Static_asserts prove the
 * struct's layout; this proves the table's contents. Returns the number of slots checked, or -1. */
static int check_helper_table(const Helpers *h) {
    static const struct {
        const char *name;
        size_t offset;
        AnyFn fn;
    } expected[] = {
        {"mem_expand", ZVM_OFF_MEM_EXPAND, (AnyFn)h_mem_expand},
        {"mem_copy", ZVM_OFF_MEM_COPY, (AnyFn)h_mem_copy},
        {"hash", ZVM_OFF_HASH, (AnyFn)h_hash},
        {"data_size", ZVM_OFF_DATA_SIZE, (AnyFn)h_data_size},
        {"data_load", ZVM_OFF_DATA_LOAD, (AnyFn)h_data_load},
        {"data_copy", ZVM_OFF_DATA_COPY, (AnyFn)h_data_copy},
        {"host_call", ZVM_OFF_HOST_CALL, (AnyFn)h_host_call},
        {"halt", ZVM_OFF_HALT, (AnyFn)h_halt},
        {"word_binary", ZVM_OFF_WORD_BINARY, (AnyFn)h_word_binary},
        {"word_ternary", ZVM_OFF_WORD_TERNARY, (AnyFn)h_word_ternary},
        {"mem_grow", ZVM_OFF_MEM_GROW, (AnyFn)h_mem_grow},
        {"mem_fill", ZVM_OFF_MEM_FILL, (AnyFn)h_mem_fill},
        {"mem_init", ZVM_OFF_MEM_INIT, (AnyFn)h_mem_init},
        {"data_drop", ZVM_OFF_DATA_DROP, (AnyFn)h_data_drop},
        {"table_get", ZVM_OFF_TABLE_GET, (AnyFn)h_table_get},
        {"table_set", ZVM_OFF_TABLE_SET, (AnyFn)h_table_set},
        {"table_size", ZVM_OFF_TABLE_SIZE, (AnyFn)h_table_size},
        {"table_grow", ZVM_OFF_TABLE_GROW, (AnyFn)h_table_grow},
        {"table_fill", ZVM_OFF_TABLE_FILL, (AnyFn)h_table_fill},
        {"table_copy", ZVM_OFF_TABLE_COPY, (AnyFn)h_table_copy},
        {"table_init", ZVM_OFF_TABLE_INIT, (AnyFn)h_table_init},
        {"elem_drop", ZVM_OFF_ELEM_DROP, (AnyFn)h_elem_drop},
        {"call_indirect_target", ZVM_OFF_CALL_INDIRECT_TARGET, (AnyFn)h_call_indirect_target},
        {"call_foreign", ZVM_OFF_CALL_FOREIGN, (AnyFn)h_call_foreign},
    };
    const size_t n = sizeof expected / sizeof expected[0];
    if (n * sizeof(AnyFn) != sizeof(Helpers)) {
        fprintf(stderr, "harness: the check lists %zu helpers, the table has room for %zu\n", n,
                sizeof(Helpers) / sizeof(AnyFn));
        return -1;
    }
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        AnyFn slot;
        memcpy(&slot, (const char *)h + expected[i].offset, sizeof slot);
        if (slot != expected[i].fn) {
            fprintf(stderr, "harness: helper table slot at offset %zu is not %s\n", expected[i].offset,
                    expected[i].name);
            ok = 0;
        }
        for (size_t j = 0; j < i; j++) {
            AnyFn other;
            memcpy(&other, (const char *)h + expected[j].offset, sizeof other);
            if (other == slot) {
                fprintf(stderr, "harness: helpers %s and %s share a slot value\n", expected[j].name,
                        expected[i].name);
                ok = 0;
            }
        }
    }
    return ok ? (int)n : -1;
}

/* ---- driver ------------------------------------------------------------------------------------------ */

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static uint8_t *parse_hex(const char *s, uint64_t *len) {
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2;
    size_t n = strlen(s);
    if (n % 2) return NULL;
    uint8_t *out = malloc(n / 2 + 1);
    if (!out) return NULL;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return out;
}

static void run_once(uint64_t gas, const uint8_t *input, uint64_t input_len) {
    calldata = input;
    calldata_len = input_len;
    free(output);
    output = NULL;
    output_len = 0;
    unsupported = NULL;
    memset(stack, 0, sizeof stack);

    /* As Frame::new: empty memory (a dangling but non-null base), empty stack. */
    static alignas(8) uint8_t no_memory[8];
    static uint64_t no_globals[1];
    VmCtx ctx = {
        .gas_left = gas,
        .mem_base = no_memory,
        .mem_len = 0,
        .stack_base = stack,
        .stack_len = 0,
        .stack_cap = ZVM_STACK_CAP,
        .call_depth = 0,
        .max_call_depth = ZVM_MAX_CALL_DEPTH,
        .globals = no_globals,
        .helpers = &HELPERS,
    };
    uint32_t status = zvm_entry(&ctx, ENTRY_FUNC, NULL);
    if (unsupported) status = HOST_ERROR;

    printf("%u %llu ", (unsigned)status, (unsigned long long)ctx.gas_left);
    if (status == ZVM_STATUS_RETURN || status == ZVM_STATUS_REVERT)
        for (uint64_t i = 0; i < output_len; i++) printf("%02x", output[i]);
    printf("\n");
    if (ctx.mem_len) free(ctx.mem_base);
}

int main(int argc, char **argv) {
    int slots = check_helper_table(&HELPERS);
    if (slots < 0) {
        fprintf(stderr, "harness: the helper table is not filled in the order of abi::Helpers\n");
        return 2;
    }
    if (argc == 2 && strcmp(argv[1], "--check") == 0) {
        printf("helper table ok: %d slots\n", slots);
        return 0;
    }
    if (argc < 3 || argc % 2 == 0) {
        fprintf(stderr, "usage: %s --check | GAS HEX [GAS HEX]...\n", argv[0]);
        return 1;
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        char *end;
        unsigned long long gas = strtoull(argv[i], &end, 10);
        uint64_t len = 0;
        uint8_t *input = parse_hex(argv[i + 1], &len);
        if (*end || !input) {
            fprintf(stderr, "harness: bad run arguments `%s` `%s`\n", argv[i], argv[i + 1]);
            return 1;
        }
        run_once(gas, input, len);
        free(input);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
