//! The `zvm` binary end to end: `compile` fills a cache that `cache ls|stats|verify|clear` and
//! `run --tier aot` use; damaged entries are found and replaced; the default directory follows
//! `XDG_CACHE_HOME`; errors are one line with a non-zero status.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn zvm(args: &[&str], configure: impl FnOnce(&mut Command)) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zvm"));
    cmd.args(args);
    configure(&mut cmd);
    cmd.output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = zvm(args, |_| {});
    assert!(out.status.success(), "zvm {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn entry_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "zo"))
        .collect();
    v.sort();
    v
}

const FIB_10: &str = "000000000000000000000000000000000000000000000000000000000000000a";

#[test]
fn compile_then_list_verify_run_and_clear() {
    let tmp = temp_dir("compile");
    let dir = tmp.path().join("cache");
    let d = dir.to_str().unwrap();
    let ex = examples();
    let ex = ex.to_str().unwrap();

    // Six EVM and ZVM contracts and three WebAssembly ones; `fib.wat`, a plain module, is listed as skipped.
    let out = ok(&["compile", ex, "--cache-dir", d]);
    assert!(out.contains("9 contracts for"), "{out}");
    assert!(out.contains("(9 compiled, 0 from the cache)"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("fib.wat ") && l.ends_with("skipped: not a contract")), "{out}");
    let out = ok(&["compile", ex, "--cache-dir", d]);
    assert!(out.contains("(0 compiled, 9 from the cache)"), "{out}");

    let ls = ok(&["cache", "ls", "--cache-dir", d]);
    let lines: Vec<&str> = ls.lines().collect();
    assert_eq!(lines.len(), 9, "{ls}");
    for line in &lines {
        let key = line.split_whitespace().next().unwrap();
        assert!(key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
        assert!(line.ends_with(" UTC"), "{line}");
    }
    assert!(ok(&["cache", "stats", "--cache-dir", d]).contains("entries:   9"));
    assert!(ok(&["cache", "verify", "--cache-dir", d]).contains("9 entries ok, 0 damaged and removed"));

    // `run --tier aot` uses the same entries.
    let run = ok(&["run", &format!("{ex}/fib.zasm"), "--tier", "aot", "--cache-dir", d, "--input", FIB_10]);
    assert!(run.contains("cache:    hit"), "{run}");
    assert!(run.contains("output:   0x0000000000000000000000000000000000000000000000000000000000000037"), "{run}");

    // So does a WebAssembly contract; a plain module named on its own is an error, not a skip.
    let run = ok(&["run", &format!("{ex}/counter.wat"), "--tier", "aot", "--cache-dir", d]);
    assert!(run.contains("cache:    hit"), "{run}");
    let plain = zvm(&["compile", &format!("{ex}/fib.wat"), "--cache-dir", d], |_| {});
    let err = String::from_utf8_lossy(&plain.stderr);
    assert!(!plain.status.success() && err.contains("not a contract"), "{err}");

    // Damage every entry: verify removes them all; then run compiles fib again, and hits after that.
    for path in entry_files(&dir) {
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        fs::write(&path, bytes).unwrap();
    }
    let verify = ok(&["cache", "verify", "--cache-dir", d]);
    assert!(verify.contains("0 entries ok, 9 damaged and removed"), "{verify}");
    assert_eq!(verify.matches("checksum mismatch").count(), 9, "{verify}");
    let fib = format!("{ex}/fib.zasm");
    let aot = ["run", fib.as_str(), "--tier", "aot", "--cache-dir", d, "--input", FIB_10];
    assert!(ok(&aot).contains("cache:    miss"));
    assert!(ok(&aot).contains("cache:    hit"));

    // -o writes objects besides the cache; --no-cache only there. Another target is another entry.
    let objs = tmp.path().join("objs");
    let o = objs.to_str().unwrap();
    ok(&["compile", ex, "--cache-dir", d, "-o", o]);
    let mut written: Vec<String> =
        fs::read_dir(&objs).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    written.sort();
    assert_eq!(
        written,
        [
            "counter.evm.o",
            "counter.wat.o",
            "counter.zasm.o",
            "evm_caller.wat.o",
            "fib.evm.o",
            "fib.zasm.o",
            "sort.zasm.o",
            "token.wat.o",
            "token.zasm.o"
        ]
    );
    assert!(fs::read(objs.join("fib.zasm.o")).unwrap().starts_with(b"\x7fELF"));
    ok(&["compile", &fib, "--target", "aarch64", "--cache-dir", d]);
    assert_eq!(entry_files(&dir).len(), 10);
    let only = tmp.path().join("only");
    ok(&["compile", &fib, "--no-cache", "-o", only.to_str().unwrap(), "--cache-dir", d]);
    assert!(only.join("fib.zasm.o").exists());
    assert_eq!(entry_files(&dir).len(), 10);

    let clear = ok(&["cache", "clear", "--cache-dir", d]);
    assert!(clear.starts_with("removed 10 entries"), "{clear}");
    assert_eq!(ok(&["cache", "ls", "--cache-dir", d]), "");
}

#[test]
fn default_directory_follows_xdg_cache_home() {
    let tmp = temp_dir("xdg");
    let fib = examples().join("fib.zasm");
    let out = zvm(&["compile", fib.to_str().unwrap()], |c| {
        c.env("XDG_CACHE_HOME", tmp.path()).env_remove("HOME");
    });
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(entry_files(&tmp.path().join("zvm")).len(), 1);
    let out = zvm(&["cache", "stats"], |c| {
        c.env_remove("XDG_CACHE_HOME").env("HOME", tmp.path());
    });
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains(&format!("directory: {}", tmp.path().join(".cache/zvm").display())));
}

#[test]
fn errors_are_one_line() {
    let tmp = temp_dir("errors");
    let fib = examples().join("fib.zasm");
    let fib = fib.to_str().unwrap();
    let d = tmp.path().to_str().unwrap();
    let db = tmp.path().join("state.redb").to_str().unwrap().to_owned();
    let not_a_db = tmp.path().join("not_a_db").to_str().unwrap().to_owned();
    fs::write(&not_a_db, b"this is not a database").unwrap();
    let zero_address = format!("0x{}", "00".repeat(20));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["cache", "stats"], "no cache directory"),
        (vec!["compile", "/nonexistent/x.zasm", "--cache-dir", d], "/nonexistent/x.zasm"),
        (vec!["compile", d, "--cache-dir", d], "no contract files"),
        (vec!["run", fib, "--cache-dir", d], "only used with --tier aot"),
        (vec!["run", fib, "--tier", "aot"], "no cache directory"),
        (vec!["run", fib, "--db", &db, "--tier", "jit", "--cache-dir", d], "only used with --tier aot"),
        (vec!["run", fib, "--db", &not_a_db], "not_a_db"),
        (vec!["names", "resolve", "nobody", "--db", &db], "no contract is named `nobody`"),
        (vec!["names", "register", "Bad Name", "0x00", "--db", &db], "not 20 bytes"),
        (vec!["names", "register", "Bad", &zero_address, "--db", &db], "invalid name `Bad`"),
    ];
    for (args, expected) in cases {
        let out = zvm(&args, |c| {
            c.env_remove("XDG_CACHE_HOME").env_remove("HOME");
        });
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: ") && err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn run_with_a_database_keeps_each_programs_state_between_runs() {
    let tmp = temp_dir("db");
    let db = tmp.path().join("state.redb");
    let db = db.to_str().unwrap();
    let counter = examples().join("counter.zasm");
    let counter = counter.to_str().unwrap();
    let word = |n: u8| format!("output:   0x{}{n:02x}", "00".repeat(31));

    let first = ok(&["run", counter, "--db", db, "--tier", "interp"]);
    assert!(first.contains("(deployed by this run)") && first.contains(&word(1)), "{first}");
    // The first run costs what a run on a fresh in-memory state costs.
    let gas = |out: &str| out.lines().find(|l| l.starts_with("gas used:")).unwrap().to_owned();
    assert_eq!(gas(&first), gas(&ok(&["run", counter, "--tier", "interp"])));
    let second = ok(&["run", counter, "--db", db, "--tier", "interp"]);
    assert!(!second.contains("deployed") && second.contains(&word(2)), "{second}");
    assert!(second.contains("storage:  0x0 = 0x2"), "{second}");
    assert!(second.contains("receipt:  3 in block 3"), "{second}");

    // Another program in the same database is another contract, with its own storage.
    let evm = examples().join("counter.evm");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["run", evm.to_str().unwrap(), "--db", db, "--json"])).unwrap();
    assert_eq!(json["deployed"], true);
    assert_eq!(json["storage"]["0x0"], "0x1");
    assert_ne!(json["contract"].as_str().unwrap(), contract_of(&first));

    // Names.
    let address = contract_of(&first);
    assert_eq!(ok(&["names", "register", "counter", address, "--db", db]), format!("counter {address}\n"));
    assert_eq!(ok(&["names", "resolve", "counter", "--db", db]), format!("{address}\n"));
    assert_eq!(ok(&["names", "list", "--db", db]), format!("counter {address}\n"));
}

/// The contract address `zvm run --db` printed.
fn contract_of(out: &str) -> &str {
    out.lines().find_map(|l| l.strip_prefix("contract: ")).unwrap().split(' ').next().unwrap()
}

/// A fresh directory under the system's temporary directory, removed when dropped.
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("zvm-cli-test-{name}-")).tempdir().expect("create a temporary directory")
}

#[test]
fn runs_webassembly_exports_on_both_tiers() {
    let fib = examples().join("fib.wat");
    let fib = fib.to_str().unwrap();
    let mut gas = Vec::new();
    for tier in ["interp", "jit"] {
        let out = ok(&["run", fib, "--tier", tier, "--invoke", "fib", "20"]);
        assert!(out.starts_with("i64:6765\n"), "{out}");
        gas.push(out.lines().find(|l| l.starts_with("gas used:")).unwrap().to_string());
        let out = ok(&["run", fib, "--tier", tier, "--invoke", "fib_iter", "90"]);
        assert!(out.starts_with("i64:2880067194370816120\n"), "{out}");
        let out = ok(&["run", fib, "--tier", tier, "--invoke", "primes_below", "1000"]);
        assert!(out.starts_with("i32:168\n"), "{out}");
        let out = ok(&["run", fib, "--tier", tier, "--invoke", "hypot", "3", "-4"]);
        assert!(out.starts_with("f64:5\n"), "{out}");
    }
    assert_eq!(gas[0], gas[1], "both tiers charge the same gas");
    for (args, message) in [
        (vec!["run", fib], "a contract exports a function `call`"),
        (vec!["run", fib, "--invoke", "nope"], "no exported function `nope`"),
        (vec!["run", fib, "--invoke", "fib", "x"], "`x` is not a valid i32"),
        (vec!["run", fib, "--invoke", "fib"], "takes 1 argument(s), got 0"),
    ] {
        let out = zvm(&args, |_| {});
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(message) && err.lines().count() == 1, "{args:?}: {err}");
    }
}

#[test]
fn wast_counts_passed_and_failed_checks_per_tier() {
    let tmp = temp_dir("wast");
    let script = tmp.path().join("t.wast");
    fs::write(
        &script,
        r#"(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1))))
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 3))
(assert_return (invoke "add" (i32.const -1) (i32.const 1)) (i32.const 0))
(assert_trap (invoke "div" (i32.const 1) (i32.const 0)) "integer divide by zero")
(assert_invalid (module (func (result i32) (i64.const 0))) "type mismatch")
(assert_return (invoke "add" (i32.const 2) (i32.const 2)) (i32.const 5))
"#,
    )
    .unwrap();
    let out = zvm(&["wast", script.to_str().unwrap(), "--tier", "both"], |_| {});
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a failing check fails the run");
    assert!(stdout.contains("interp: 5 passed, 1 failed"), "{stdout}");
    assert!(stdout.contains("jit: 5 passed, 1 failed"), "{stdout}");
    assert!(stdout.contains("\n10 passed, 2 failed"), "{stdout}");
    assert_eq!(stdout.matches("t.wast:8: result 0: expected I32(5), got 0x4").count(), 2, "{stdout}");
}

#[test]
fn runs_on_a_database_take_aot_code_from_the_cache() {
    let tmp = temp_dir("db-aot");
    let db = tmp.path().join("state.redb");
    let cache = tmp.path().join("code");
    let counter = examples().join("counter.wat");
    let args = |db: &Path, cache: &Path| {
        vec![
            "run".to_string(),
            counter.to_str().unwrap().to_string(),
            "--db".into(),
            db.to_str().unwrap().into(),
            "--tier".into(),
            "aot".into(),
            "--cache-dir".into(),
            cache.to_str().unwrap().into(),
        ]
    };
    for n in 1..=2u8 {
        let a = args(&db, &cache);
        let out = ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.contains(&format!("output:   0x{}{n:02x}", "0".repeat(62))), "{out}");
    }
    let entries = entry_files(&cache);
    assert_eq!(entries.len(), 1, "one object for the one contract: {entries:?}");
}
