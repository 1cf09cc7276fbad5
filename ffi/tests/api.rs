//! The C ABI called from Rust, for what the C smoke test does not reach: every NULL, every bound, bad
//! formats and tiers, invalid code, unknown addresses, refused deploys, execution failures as results, and
//! concurrent use of one runtime.

use ruint::aliases::U256;
use std::ffi::{c_char, CStr, CString};
use std::path::Path;
use std::{ptr, slice};
use zvm::*;
use zvm_runtime::vm::create_address;
use zvm_runtime::Address;

/// counter.evm: increments slot 0 and returns the new value.
const COUNTER: &str = "5f54600101805f555f5260205ff3";
/// EVM: REVERT with one zero byte of data.
const REVERTS: &str = "60016000fd";
/// EVM: the designated invalid opcode.
const INVALID: &str = "fe";
const GAS: u64 = 100_000;
const DEPLOYER: zvm_address_t = zvm_address_t { bytes: [0xde; 20] };
const NOBODY: zvm_address_t = zvm_address_t { bytes: [0x0b; 20] };

/// A runtime freed on drop.
#[derive(Debug)]
struct Runtime(*mut zvm_runtime_t);

impl Drop for Runtime {
    fn drop(&mut self) {
        unsafe { zvm_runtime_free(self.0) };
    }
}

fn config(db_path: &CStr) -> zvm_config_t {
    zvm_config_t { db_path: db_path.as_ptr(), cache_dir: ptr::null(), tier: ZVM_TIER_INTERP, block_gas_limit: 0 }
}

fn c_path(path: &Path) -> CString {
    CString::new(path.to_str().unwrap()).unwrap()
}

/// A failed operation: its code and its error's message.
type Failed = (i32, String);

/// Runs `f` with an error out-argument. Checks that the error was stored exactly when the code is not
/// `ZVM_OK`, with the same code and a message, and frees it.
fn outcome(f: impl FnOnce(*mut *mut zvm_error_t) -> i32) -> Result<(), Failed> {
    let mut err = ptr::dangling_mut();
    let code = f(&mut err);
    if code == ZVM_OK {
        assert!(err.is_null(), "success stores NULL in *err");
        return Ok(());
    }
    assert!(!err.is_null(), "a failure stores its error");
    let message = unsafe { CStr::from_ptr((*err).message) }.to_str().unwrap().to_owned();
    assert_eq!(unsafe { (*err).code }, code);
    assert!(!message.is_empty());
    unsafe { zvm_error_free(err) };
    Err((code, message))
}

/// Asserts that an operation failed with `expected` and a message containing `says`.
#[track_caller]
fn assert_fails<T: std::fmt::Debug>(result: Result<T, Failed>, expected: i32, says: &str) {
    let (code, message) = result.unwrap_err();
    assert_eq!(code, expected, "{message}");
    assert!(message.contains(says), "`{message}` does not say `{says}`");
}

fn try_open(config: *const zvm_config_t) -> Result<Runtime, Failed> {
    let mut runtime = ptr::null_mut();
    outcome(|err| {
        runtime = unsafe { zvm_runtime_new(config, err) };
        if runtime.is_null() {
            unsafe { (**err).code }
        } else {
            ZVM_OK
        }
    })
    .map(|()| Runtime(runtime))
}

fn open(dir: &Path) -> Runtime {
    try_open(&config(&c_path(&dir.join("state.redb")))).unwrap()
}

fn deploy(rt: &Runtime, code: &[u8], format: u32, salt: Option<&zvm_word_t>) -> Result<zvm_address_t, Failed> {
    let mut address = zvm_address_t::default();
    let salt = salt.map_or(ptr::null(), |s| s as *const _);
    outcome(|err| unsafe { zvm_deploy(rt.0, &DEPLOYER, code.as_ptr(), code.len(), format, salt, &mut address, err) })
        .map(|()| address)
}

fn deploy_evm(rt: &Runtime, hex_code: &str) -> zvm_address_t {
    deploy(rt, &hex::decode(hex_code).unwrap(), ZVM_FORMAT_EVM, None).unwrap()
}

fn message(to: zvm_address_t, gas_limit: u64) -> zvm_message_t {
    zvm_message_t { caller: DEPLOYER, to, input: ptr::null(), input_len: 0, gas_limit }
}

/// What a result said, copied out of it before it is freed.
#[derive(Debug)]
struct Copied {
    status: u32,
    trap: u32,
    status_text: String,
    gas_used: u64,
    output: Vec<u8>,
    receipt_id: u64,
}

/// `zvm_call` or `zvm_query`.
type Operation = unsafe extern "C" fn(
    *const zvm_runtime_t,
    *const zvm_message_t,
    *mut *mut zvm_result_t,
    *mut *mut zvm_error_t,
) -> i32;

const OPERATIONS: [Operation; 2] = [zvm_call, zvm_query];

/// Runs `op`; the result, copied and freed.
fn run(op: Operation, rt: *const zvm_runtime_t, message: &zvm_message_t) -> Result<Copied, Failed> {
    let mut result = ptr::null_mut();
    if let Err(failed) = outcome(|err| unsafe { op(rt, message, &mut result, err) }) {
        assert!(result.is_null(), "a failure stores NULL in *result");
        return Err(failed);
    }
    let r = unsafe { &*result };
    let output =
        if r.output_len == 0 { Vec::new() } else { unsafe { slice::from_raw_parts(r.output, r.output_len) }.to_vec() };
    let copied = Copied {
        status: r.status,
        trap: r.trap,
        status_text: unsafe { CStr::from_ptr(r.status_text) }.to_str().unwrap().to_owned(),
        gas_used: r.gas_used,
        output,
        receipt_id: r.receipt_id,
    };
    unsafe { zvm_result_free(result) };
    Ok(copied)
}

fn slot0(rt: *const zvm_runtime_t, address: *const zvm_address_t) -> Result<zvm_word_t, Failed> {
    let mut value = zvm_word_t::default();
    outcome(|err| unsafe { zvm_storage_get(rt, address, &zvm_word_t::default(), &mut value, err) }).map(|()| value)
}

/// The 32-byte big-endian word of `n`.
fn word(n: u64) -> Vec<u8> {
    U256::from(n).to_be_bytes::<32>().to_vec()
}

#[test]
fn null_pointers_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert_fails(try_open(ptr::null()), ZVM_ERR_NULL, "`config`");
    assert_fails(
        try_open(&zvm_config_t { db_path: ptr::null(), ..config(c"unused") }),
        ZVM_ERR_NULL,
        "`config.db_path`",
    );

    let rt = open(dir.path());
    let code = [0u8; 4];
    let mut address = zvm_address_t::default();
    let deploy_with = |rt, deployer, code: *const u8, address| {
        outcome(|err| unsafe { zvm_deploy(rt, deployer, code, 4, ZVM_FORMAT_EVM, ptr::null(), address, err) })
    };
    assert_fails(deploy_with(ptr::null(), &DEPLOYER, code.as_ptr(), &mut address), ZVM_ERR_NULL, "`runtime`");
    assert_fails(deploy_with(rt.0, ptr::null(), code.as_ptr(), &mut address), ZVM_ERR_NULL, "`deployer`");
    assert_fails(deploy_with(rt.0, &DEPLOYER, ptr::null(), &mut address), ZVM_ERR_NULL, "`code`");
    assert_fails(deploy_with(rt.0, &DEPLOYER, code.as_ptr(), ptr::null_mut()), ZVM_ERR_NULL, "`address`");

    let msg = message(NOBODY, GAS);
    let with_input = zvm_message_t { input_len: 3, ..message(NOBODY, GAS) };
    for op in OPERATIONS {
        assert_fails(run(op, ptr::null(), &msg), ZVM_ERR_NULL, "`runtime`");
        assert_fails(run(op, rt.0, &with_input), ZVM_ERR_NULL, "`message.input`");
        let mut result = ptr::null_mut();
        assert_fails(outcome(|err| unsafe { op(rt.0, ptr::null(), &mut result, err) }), ZVM_ERR_NULL, "`message`");
        assert_fails(outcome(|err| unsafe { op(rt.0, &msg, ptr::null_mut(), err) }), ZVM_ERR_NULL, "`result`");
    }

    let (key, mut value) = (zvm_word_t::default(), zvm_word_t::default());
    assert_fails(slot0(ptr::null(), &NOBODY), ZVM_ERR_NULL, "`runtime`");
    assert_fails(slot0(rt.0, ptr::null()), ZVM_ERR_NULL, "`address`");
    let no_key = outcome(|err| unsafe { zvm_storage_get(rt.0, &NOBODY, ptr::null(), &mut value, err) });
    assert_fails(no_key, ZVM_ERR_NULL, "`key`");
    let no_value = outcome(|err| unsafe { zvm_storage_get(rt.0, &NOBODY, &key, ptr::null_mut(), err) });
    assert_fails(no_value, ZVM_ERR_NULL, "`value`");

    // Without an error out-argument: the code alone.
    assert_eq!(unsafe { zvm_storage_get(rt.0, ptr::null(), &key, &mut value, ptr::null_mut()) }, ZVM_ERR_NULL);
    assert!(unsafe { zvm_runtime_new(ptr::null(), ptr::null_mut()) }.is_null());
    unsafe {
        zvm_runtime_free(ptr::null_mut());
        zvm_result_free(ptr::null_mut());
        zvm_error_free(ptr::null_mut());
    }
}

#[test]
fn bad_configs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = c_path(&dir.path().join("state.redb"));
    assert_fails(try_open(&zvm_config_t { tier: 4, ..config(&path) }), ZVM_ERR_ARGUMENT, "unknown tier 4");
    let cache = c_path(&dir.path().join("code"));
    let cached = zvm_config_t { cache_dir: cache.as_ptr(), ..config(&path) };
    assert_fails(try_open(&cached), ZVM_ERR_ARGUMENT, "ZVM_TIER_AOT only");
    let file = c_path(&dir.path().join("a-file"));
    std::fs::write(dir.path().join("a-file"), b"x").unwrap();
    let cached = zvm_config_t { cache_dir: file.as_ptr(), tier: ZVM_TIER_AOT, ..config(&path) };
    assert_fails(try_open(&cached), ZVM_ERR_STORE, "cache_dir");
    let not_utf8 = [0xffu8, 0xfe, 0];
    let not_utf8 = zvm_config_t { db_path: not_utf8.as_ptr().cast::<c_char>(), ..config(&path) };
    assert_fails(try_open(&not_utf8), ZVM_ERR_ARGUMENT, "not UTF-8");
    let in_missing_dir = c_path(&dir.path().join("missing/state.redb"));
    assert_fails(try_open(&config(&in_missing_dir)), ZVM_ERR_STORE, "database");
    for tier in [ZVM_TIER_DEFAULT, ZVM_TIER_INTERP, ZVM_TIER_JIT, ZVM_TIER_AOT] {
        let rt = try_open(&zvm_config_t { tier, ..config(&path) }).unwrap();
        // The database is open in `rt`: a second runtime on it is refused.
        assert_fails(try_open(&config(&path)), ZVM_ERR_STORE, "database");
        drop(rt);
    }
}

#[test]
fn bad_arguments_are_refused_before_anything_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = c_path(&dir.path().join("state.redb"));
    let rt = try_open(&zvm_config_t { block_gas_limit: 50_000, ..config(&path) }).unwrap();
    let counter = deploy_evm(&rt, COUNTER);

    for format in [0, 5, u32::MAX] {
        assert_fails(deploy(&rt, &[0x00], format, None), ZVM_ERR_ARGUMENT, "unknown code format");
    }
    // Lengths over their bound are refused without reading: these pointers point to one byte.
    let byte = 0u8;
    let mut address = zvm_address_t::default();
    let huge_code = outcome(|err| unsafe {
        zvm_deploy(rt.0, &DEPLOYER, &byte, ZVM_MAX_CODE_LEN + 1, ZVM_FORMAT_EVM, ptr::null(), &mut address, err)
    });
    assert_fails(huge_code, ZVM_ERR_ARGUMENT, "more than the 16777216 allowed");
    let huge_input = zvm_message_t { input: &byte, input_len: usize::MAX, ..message(counter, GAS) };
    let too_much_gas = message(counter, 50_001);
    for op in OPERATIONS {
        assert_fails(run(op, rt.0, &huge_input), ZVM_ERR_ARGUMENT, "`message.input`");
        assert_fails(run(op, rt.0, &too_much_gas), ZVM_ERR_ARGUMENT, "over the node's limit 50000");
    }
    assert_eq!(run(zvm_call, rt.0, &message(counter, 50_000)).unwrap().output, word(1));
}

#[test]
fn invalid_code_is_refused_at_deploy_and_deploys_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rt = open(dir.path());
    let refused = |code: &[u8], format| deploy(&rt, code, format, None);
    assert_fails(refused(b"ZVMC\x01", ZVM_FORMAT_EVM), ZVM_ERR_INVALID_CODE, "ZVMC");
    assert_fails(refused(b"ZVMC\x01", ZVM_FORMAT_ZVM), ZVM_ERR_INVALID_CODE, "does not load");
    assert_fails(refused(&[0; 0x6001], ZVM_FORMAT_EVM), ZVM_ERR_INVALID_CODE, "24577 bytes");
    assert_fails(refused(b"PUSH1 0\nFROBNICATE\n", ZVM_FORMAT_ZASM), ZVM_ERR_INVALID_CODE, "line 2");
    assert_fails(refused(b"PUSH1 \xff", ZVM_FORMAT_ZASM), ZVM_ERR_ARGUMENT, "not UTF-8");
    // The refused deploys left the deployer's nonce alone: its first contract gets the nonce-0 address.
    assert_eq!(Address::from(deploy_evm(&rt, COUNTER)), create_address(DEPLOYER.into(), 0));
}

#[test]
fn unknown_addresses_and_collisions_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let rt = open(dir.path());
    for op in OPERATIONS {
        assert_fails(run(op, rt.0, &message(NOBODY, GAS)), ZVM_ERR_UNKNOWN_ADDRESS, "no contract at 0x0b0b");
    }
    assert_fails(slot0(rt.0, &NOBODY), ZVM_ERR_UNKNOWN_ADDRESS, "no account at 0x0b0b");

    let salt = zvm_word_t { bytes: [7; 32] };
    let code = hex::decode(COUNTER).unwrap();
    let counter = deploy(&rt, &code, ZVM_FORMAT_EVM, Some(&salt)).unwrap();
    assert_fails(deploy(&rt, &code, ZVM_FORMAT_EVM, Some(&salt)), ZVM_ERR_REFUSED, "already exists");

    // The deployer is an account (it has a nonce) but not a contract.
    assert_eq!(slot0(rt.0, &DEPLOYER).unwrap(), zvm_word_t::default());
    assert_fails(run(zvm_call, rt.0, &message(DEPLOYER, GAS)), ZVM_ERR_UNKNOWN_ADDRESS, "no contract");
    assert_eq!(run(zvm_call, rt.0, &message(counter, GAS)).unwrap().output, word(1));
}

#[test]
fn failed_executions_are_results_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    let rt = open(dir.path());
    let reverts = deploy_evm(&rt, REVERTS);
    let invalid = deploy_evm(&rt, INVALID);
    let counter = deploy_evm(&rt, COUNTER);
    for op in OPERATIONS {
        let r = run(op, rt.0, &message(reverts, GAS)).unwrap();
        assert_eq!((r.status, r.trap, r.status_text.as_str(), r.output), (ZVM_STATUS_REVERT, 0, "revert", vec![0]));
        let r = run(op, rt.0, &message(invalid, GAS)).unwrap();
        assert_eq!(
            (r.status, r.trap, r.status_text.as_str(), r.gas_used),
            (ZVM_STATUS_TRAP, 1, "trap:unreachable", GAS)
        );
        let r = run(op, rt.0, &message(counter, 100)).unwrap();
        assert_eq!((r.status, r.status_text.as_str(), r.gas_used), (ZVM_STATUS_OUT_OF_GAS, "out_of_gas", 100));
    }
    // A failed call is committed (it has a receipt) and changes nothing.
    assert!(run(zvm_call, rt.0, &message(counter, 100)).unwrap().receipt_id > 0);
    assert_eq!(slot0(rt.0, &counter).unwrap(), zvm_word_t::default());
}

#[test]
fn one_runtime_serves_many_threads() {
    const THREADS: u64 = 4;
    const CALLS: u64 = 25;
    let dir = tempfile::tempdir().unwrap();
    let rt = open(dir.path());
    let counter = deploy_evm(&rt, COUNTER);
    // Shared by reference: this compiles only because the runtime is `Sync`.
    let shared: &zvm_runtime_t = unsafe { &*rt.0 };
    let mut outputs: Vec<Vec<u8>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(move || {
                    let mut outputs = Vec::new();
                    for _ in 0..CALLS {
                        assert_eq!(run(zvm_query, shared, &message(counter, GAS)).unwrap().status, ZVM_STATUS_SUCCESS);
                        outputs.push(run(zvm_call, shared, &message(counter, GAS)).unwrap().output);
                    }
                    outputs
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    // Every call saw a different count: they ran one at a time and none was lost.
    outputs.sort();
    assert_eq!(outputs, (1..=THREADS * CALLS).map(word).collect::<Vec<_>>());
    assert_eq!(slot0(rt.0, &counter).unwrap().bytes.to_vec(), word(THREADS * CALLS));
}

#[test]
fn an_aot_runtime_with_a_cache_dir_fills_it_and_runs_webassembly_too() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("code");
    let cache_c = c_path(&cache);
    let path = c_path(&dir.path().join("state.redb"));
    let rt = try_open(&zvm_config_t { cache_dir: cache_c.as_ptr(), tier: ZVM_TIER_AOT, ..config(&path) }).unwrap();
    let evm = deploy_evm(&rt, "5f54600101805f555f5260205ff3");
    let counter_wat = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/counter.wat");
    let wasm = deploy(&rt, &wat::parse_file(counter_wat).unwrap(), ZVM_FORMAT_WASM, None).unwrap();
    for (n, contract) in [(1, evm), (2, evm), (1, wasm), (2, wasm)] {
        let r = run(zvm_call, rt.0, &message(contract, 1_000_000)).unwrap();
        assert_eq!((r.status, r.output), (ZVM_STATUS_SUCCESS, word(n)));
    }
    let entries = std::fs::read_dir(&cache)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "zo"))
        .count();
    assert_eq!(entries, 2, "one object per contract");
}
