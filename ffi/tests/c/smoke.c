/*
 * zvm's C ABI end to end, through the header alone: deploys examples/counter.evm and examples/counter.zasm
 * and a contract that emits a log, calls and queries them, reads their storage, checks the error paths,
 * reopens the database to see that the state persisted, and frees everything it got. Once per tier.
 *
 * Usage: smoke EXAMPLES_DIR WORK_DIR. Built and run (also under valgrind) by ffi/tests/c_abi.rs.
 */
#include "zvm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

enum { GAS = 1000000 };

/* EVM: MSTORE8(0, 0xab); LOG1(offset 0, size 1, topic 7); STOP. */
static const uint8_t LOGGER[] = {0x60, 0xab, 0x60, 0x00, 0x53, 0x60, 0x07, 0x60, 0x01, 0x60, 0x00, 0xa1, 0x00};

static const zvm_address_t DEPLOYER = {{0xde, 0xad}};
static const zvm_address_t CALLER = {{0xca, 0x11}};

/* Exits with the error's message unless `code` is ZVM_OK. (The error comes by address: the call that
 * stores it is an argument too, and arguments are evaluated in no set order.) */
static void ok(int32_t code, zvm_error_t **errp, const char *what) {
    zvm_error_t *err = *errp;
    if (code != ZVM_OK) {
        fprintf(stderr, "%s: error %d: %s\n", what, (int)code, err != NULL ? err->message : "(no error)");
        exit(1);
    }
    CHECK(err == NULL);
}

/* Checks that an operation failed with `expected` and said why, and frees its error. */
static void fails(int32_t code, zvm_error_t **errp, int32_t expected) {
    zvm_error_t *err = *errp;
    if (code != expected) {
        fprintf(stderr, "expected error %d, got %d: %s\n", (int)expected, (int)code, err != NULL ? err->message : "");
        exit(1);
    }
    CHECK(err != NULL && err->code == expected && err->message != NULL && err->message[0] != '\0');
    zvm_error_free(err);
}

static uint8_t *read_file(const char *dir, const char *name, size_t *len) {
    char path[4096];
    CHECK(snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    long size = ftell(f);
    CHECK(size >= 0 && fseek(f, 0, SEEK_SET) == 0);
    uint8_t *bytes = malloc((size_t)size + 1);
    CHECK(bytes != NULL && fread(bytes, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return bytes;
}

static int hex_digit(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes hex text (whitespace around it is ignored) in place; returns the number of bytes. */
static size_t hex_decode(uint8_t *text, size_t len) {
    size_t n = 0, i = 0;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' ' || text[len - 1] == '\r')) len--;
    CHECK(len % 2 == 0);
    for (; i < len; i += 2) {
        int hi = hex_digit(text[i]), lo = hex_digit(text[i + 1]);
        CHECK(hi >= 0 && lo >= 0);
        text[n++] = (uint8_t)(hi * 16 + lo);
    }
    return n;
}

/* The value of a big-endian 32-byte word that fits in 64 bits. */
static uint64_t small_word(const uint8_t *bytes, size_t len) {
    uint64_t v = 0;
    CHECK(len == 32);
    for (size_t i = 0; i < 32; i++) {
        CHECK(i >= 24 || bytes[i] == 0);
        v = v << 8 | bytes[i];
    }
    return v;
}

static zvm_address_t deploy(const zvm_runtime_t *rt, const uint8_t *code, size_t len, uint32_t format) {
    zvm_address_t address;
    zvm_error_t *err = NULL;
    ok(zvm_deploy(rt, &DEPLOYER, code, len, format, NULL, &address, &err), &err, "deploy");
    return address;
}

/* A call (or, with `query`, a query) of `to` without call data; the caller frees the result. */
static zvm_result_t *run(const zvm_runtime_t *rt, zvm_address_t to, int query) {
    zvm_message_t message = {CALLER, to, NULL, 0, GAS};
    zvm_result_t *result = NULL;
    zvm_error_t *err = NULL;
    int32_t code = query ? zvm_query(rt, &message, &result, &err) : zvm_call(rt, &message, &result, &err);
    ok(code, &err, query ? "query" : "call");
    CHECK(result != NULL && result->status == ZVM_STATUS_SUCCESS && strcmp(result->status_text, "success") == 0);
    CHECK(result->trap == 0 && result->gas_used > 0 && result->gas_used <= GAS && result->logs_len == 0);
    CHECK(query ? result->receipt_id == 0 && result->block == 0 : result->receipt_id > 0 && result->block > 0);
    return result;
}

static uint64_t slot0(const zvm_runtime_t *rt, zvm_address_t contract) {
    zvm_word_t key = {{0}}, value;
    zvm_error_t *err = NULL;
    ok(zvm_storage_get(rt, &contract, &key, &value, &err), &err, "storage_get");
    return small_word(value.bytes, sizeof value.bytes);
}

/* The counter returns and stores its new value; a query sees the committed state and changes nothing. */
static void counter(const zvm_runtime_t *rt, zvm_address_t contract) {
    zvm_result_t *q = run(rt, contract, 1);
    CHECK(small_word(q->output, q->output_len) == 1);
    CHECK(slot0(rt, contract) == 0);
    zvm_result_t *c1 = run(rt, contract, 0);
    CHECK(small_word(c1->output, c1->output_len) == 1);
    CHECK(c1->gas_used == q->gas_used); /* the same code on the same state */
    zvm_result_t *c2 = run(rt, contract, 0);
    CHECK(small_word(c2->output, c2->output_len) == 2);
    CHECK(c2->receipt_id > c1->receipt_id);
    CHECK(slot0(rt, contract) == 2);
    zvm_result_t *q2 = run(rt, contract, 1);
    CHECK(small_word(q2->output, q2->output_len) == 3);
    CHECK(slot0(rt, contract) == 2);
    zvm_result_free(q);
    zvm_result_free(c1);
    zvm_result_free(c2);
    zvm_result_free(q2);
}

static void logger(const zvm_runtime_t *rt) {
    zvm_address_t contract = deploy(rt, LOGGER, sizeof LOGGER, ZVM_FORMAT_EVM);
    zvm_message_t message = {CALLER, contract, NULL, 0, GAS};
    zvm_result_t *result = NULL;
    zvm_error_t *err = NULL;
    ok(zvm_call(rt, &message, &result, &err), &err, "call logger");
    CHECK(result->status == ZVM_STATUS_SUCCESS && result->output == NULL && result->output_len == 0);
    CHECK(result->logs_len == 1);
    const zvm_log_t *log = &result->logs[0];
    CHECK(memcmp(log->address.bytes, contract.bytes, sizeof contract.bytes) == 0);
    CHECK(log->topics_len == 1 && small_word(log->topics[0].bytes, 32) == 7);
    CHECK(log->data_len == 1 && log->data[0] == 0xab);
    zvm_result_free(result);
}

static void errors(const zvm_runtime_t *rt, const char *db_path) {
    zvm_error_t *err = NULL;
    zvm_result_t sentinel;
    zvm_result_t *result = &sentinel; /* a failed call stores NULL */
    zvm_address_t nobody = {{0x0b}};
    zvm_message_t message = {CALLER, nobody, NULL, 0, GAS};
    fails(zvm_call(rt, &message, &result, &err), &err, ZVM_ERR_UNKNOWN_ADDRESS);
    CHECK(result == NULL);
    fails(zvm_query(rt, &message, &result, &err), &err, ZVM_ERR_UNKNOWN_ADDRESS);
    zvm_word_t key = {{0}}, value;
    fails(zvm_storage_get(rt, &nobody, &key, &value, &err), &err, ZVM_ERR_UNKNOWN_ADDRESS);
    fails(zvm_call(rt, NULL, &result, &err), &err, ZVM_ERR_NULL);
    message.gas_limit = UINT64_MAX;
    message.to = deploy(rt, LOGGER, sizeof LOGGER, ZVM_FORMAT_EVM);
    fails(zvm_call(rt, &message, &result, &err), &err, ZVM_ERR_ARGUMENT);

    zvm_address_t address;
    fails(zvm_deploy(rt, &DEPLOYER, LOGGER, sizeof LOGGER, 42, NULL, &address, &err), &err, ZVM_ERR_ARGUMENT);
    fails(zvm_deploy(rt, &DEPLOYER, NULL, 5, ZVM_FORMAT_EVM, NULL, &address, &err), &err, ZVM_ERR_NULL);
    static const char bad_asm[] = "PUSH1 0\nFROBNICATE\n";
    fails(zvm_deploy(rt, &DEPLOYER, (const uint8_t *)bad_asm, strlen(bad_asm), ZVM_FORMAT_ZASM, NULL, &address, &err),
          &err, ZVM_ERR_INVALID_CODE);
    /* Without `err`, the code alone. */
    CHECK(zvm_deploy(rt, &DEPLOYER, LOGGER, sizeof LOGGER, 0, NULL, &address, NULL) == ZVM_ERR_ARGUMENT);

    /* The database is open in `rt`: a second runtime on it is refused. */
    zvm_config_t config = {db_path, NULL, ZVM_TIER_INTERP, 0};
    CHECK(zvm_runtime_new(&config, &err) == NULL);
    fails(err != NULL ? err->code : ZVM_OK, &err, ZVM_ERR_STORE);
}

static void scenario(const char *examples, const char *work, const char *name, uint32_t tier) {
    char db_path[4096];
    CHECK(snprintf(db_path, sizeof db_path, "%s/%s.redb", work, name) < (int)sizeof db_path);
    zvm_config_t config = {db_path, NULL, tier, 0};
    zvm_error_t *err = NULL;
    zvm_runtime_t *rt = zvm_runtime_new(&config, &err);
    ok(rt != NULL ? ZVM_OK : err->code, &err, "runtime_new");

    size_t evm_len, zasm_len;
    uint8_t *evm = read_file(examples, "counter.evm", &evm_len);
    uint8_t *zasm = read_file(examples, "counter.zasm", &zasm_len);
    zvm_address_t evm_counter = deploy(rt, evm, hex_decode(evm, evm_len), ZVM_FORMAT_EVM);
    zvm_address_t zvm_counter = deploy(rt, zasm, zasm_len, ZVM_FORMAT_ZASM);
    free(evm);
    free(zasm);
    CHECK(memcmp(evm_counter.bytes, zvm_counter.bytes, sizeof evm_counter.bytes) != 0);
    counter(rt, evm_counter);
    counter(rt, zvm_counter);
    logger(rt);
    errors(rt, db_path);
    zvm_runtime_free(rt);

    /* The state outlives the runtime. */
    rt = zvm_runtime_new(&config, &err);
    ok(rt != NULL ? ZVM_OK : err->code, &err, "runtime_new again");
    CHECK(slot0(rt, evm_counter) == 2 && slot0(rt, zvm_counter) == 2);
    zvm_result_t *result = run(rt, zvm_counter, 0);
    CHECK(small_word(result->output, result->output_len) == 3);
    zvm_result_free(result);
    zvm_runtime_free(rt);
    printf("%s: ok\n", name);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s EXAMPLES_DIR WORK_DIR\n", argv[0]);
        return 2;
    }
    scenario(argv[1], argv[2], "interp", ZVM_TIER_INTERP);
    scenario(argv[1], argv[2], "jit", ZVM_TIER_JIT);
    scenario(argv[1], argv[2], "aot", ZVM_TIER_AOT);
    zvm_runtime_free(NULL);
    zvm_result_free(NULL);
    zvm_error_free(NULL);
    printf("smoke: ok\n");
    return 0;
}
