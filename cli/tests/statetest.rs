//! `zvm statetest` end to end on small inline state tests: failure lines, the closing `N passed, M failed`
//! line, `--json`, `--filter`, `--tier`, and the exit status.
//!
//! The inline test is stExample/invalidTr.json from ethereum/tests: its transaction's gas limit is below the
//! intrinsic gas, so it is rejected by validation alone, and the expected root is the pre-state's. A copy
//! with a wrong expected root must fail.

use std::path::Path;
use std::process::{Command, Output};

const INVALID_TR_ROOT: &str = "0x4c9c6cf002e6a88a5444662ca9ceb6a116b7b69ced38c470bf6e4a12a6313967";
const WRONG_ROOT: &str = "0x00000000000000000000000000000000000000000000000000000000000000ff";

/// A state test whose transaction is rejected (gas limit 1,000 < 21,000), expecting `root`.
fn rejected_tx_test(root: &str) -> String {
    r#"{
        "env": {
            "currentBaseFee": "0x0a", "currentCoinbase": "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba",
            "currentDifficulty": "0x020000", "currentExcessBlobGas": "0x00", "currentGasLimit": "0xff112233445566",
            "currentNumber": "0x01", "currentTimestamp": "0x03e8",
            "currentRandom": "0x0000000000000000000000000000000000000000000000000000000000020000"
        },
        "post": { "Cancun": [{
            "expectException": "TransactionException.INTRINSIC_GAS_TOO_LOW",
            "hash": "ROOT",
            "indexes": { "data": 0, "gas": 0, "value": 0 },
            "logs": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347",
            "txbytes": "0x"
        }]},
        "pre": {
            "0x095e7baea6a6c7c4c2dfeb977efac326af552d87":
                { "balance": "0x0de0b6b3a7640000", "code": "0x600160010160005500", "nonce": "0x00", "storage": {} },
            "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba": { "balance": "0x00", "code": "0x", "nonce": "0x01", "storage": {} },
            "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b":
                { "balance": "0x0de0b6b3a7640000", "code": "0x", "nonce": "0x00", "storage": {} }
        },
        "transaction": {
            "data": ["0x"], "gasLimit": ["0x03e8"], "gasPrice": "0x0a", "nonce": "0x00",
            "secretKey": "0x45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8",
            "to": "0x095e7baea6a6c7c4c2dfeb977efac326af552d87", "value": ["0x0186a0"]
        }
    }"#
    .replace("ROOT", root)
}

fn zvm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zvm")).args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A fresh directory under the system's temporary directory, removed when dropped.
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("zvm-cli-test-{name}-")).tempdir().expect("create a temporary directory")
}

/// `dir/rejected.json` with two tests: `good` (the right root) and `wrong` (a wrong expected root).
fn write_tests(dir: &Path) -> String {
    let file = dir.join("rejected.json");
    let text =
        format!(r#"{{ "good": {}, "wrong": {} }}"#, rejected_tx_test(INVALID_TR_ROOT), rejected_tx_test(WRONG_ROOT));
    std::fs::write(&file, text).unwrap();
    file.to_str().unwrap().to_string()
}

#[test]
fn reports_failures_summary_json_and_exit_status() {
    let tmp = temp_dir("statetest");
    let file = write_tests(tmp.path());

    // Both tiers by default: the good test passes twice, the wrong one fails twice, with the roots.
    let out = zvm(&["statetest", &file]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (line, tier) in lines.iter().zip(["interp", "jit"]) {
        let expected =
            format!("FAIL {file}::wrong Cancun {tier} d=0 g=0 v=0: expected root {WRONG_ROOT}, got {INVALID_TR_ROOT}");
        assert_eq!(*line, expected);
    }
    assert_eq!(lines[2], "2 passed, 2 failed");
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: 2 state-test cases failed"));

    // --filter and --tier select; a run without failures exits with success.
    let out = zvm(&["statetest", &file, "--filter", "::good", "--tier", "jit"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout(&out), "1 passed, 0 failed\n");

    // --json: one object per case, then the summary.
    let out = zvm(&["statetest", &file, "--json", "--tier", "interp"]);
    let objects: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(objects.len(), 3);
    assert_eq!((objects[0]["test"].as_str(), objects[0]["status"].as_str()), (Some("good"), Some("pass")));
    assert_eq!(objects[1]["status"], "fail");
    assert_eq!(objects[1]["expected"], WRONG_ROOT);
    assert_eq!(objects[1]["got"], INVALID_TR_ROOT);
    assert_eq!((objects[1]["d"].as_u64(), objects[1]["tier"].as_str()), (Some(0), Some("interp")));
    assert_eq!(objects[2], serde_json::json!({ "passed": 1, "failed": 1, "skipped": 0 }));
}

#[test]
fn bad_files_and_options() {
    let tmp = temp_dir("statetest-bad");
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, "[1, 2]").unwrap();
    let bad = bad.to_str().unwrap();

    // A file that is not a state test is one failure, named; the run still ends with the summary.
    let out = zvm(&["statetest", bad]);
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(text.starts_with(&format!("FAIL {bad}: not a state-test file: ")), "{text}");
    assert!(text.ends_with("\n0 passed, 1 failed\n"), "{text}");

    // Errors before any case runs are one `error:` line.
    for (args, expected) in [
        (vec!["statetest", "/nonexistent/st.json"], "/nonexistent/st.json"),
        (vec!["statetest", bad, "--fork", "Berlin"], "fork `Berlin` is not supported"),
    ] {
        let out = zvm(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: ") && err.contains(expected), "{args:?}: {err}");
    }
}
