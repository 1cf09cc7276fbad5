//! zvm against ethereum/tests' GeneralStateTests, read from `../shared` beside the repository.
//!
//! - `every_case_sets_up_and_rejected_ones_keep_the_pre_state_root` needs no execution: every file parses,
//!   every case's transaction can be built, and — checking the trie code on data nobody here wrote — a
//!   rejected transaction leaves the state as it was, so for every `expectException` case the root of the
//!   pre-state must be the expected `hash`.
//! - `examples_pass_on_both_tiers` runs two small directories end to end on both tiers.
//! - `all_cancun_cases` (ignored: heavy, run by CI in release mode) runs every `Cancun` case on both tiers.
//!
//! Without the data folder each test prints `SKIPPED: ...` and passes, unless `CI` is set, where that fails.

use std::path::PathBuf;
use zvm_runtime::executor::Tier;
use zvm_statetest::model::TestFile;
use zvm_statetest::runner::DEFAULT_FORK;
use zvm_statetest::setup::{self, SetupError};
use zvm_statetest::state::state_root;
use zvm_statetest::{Outcome, Report, RunOptions};

/// `../shared/ethereum-tests/GeneralStateTests` from the repository root, or `None` (after saying so) when
/// it is missing outside CI.
fn general_state_tests() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/ethereum-tests/GeneralStateTests"));
    if dir.is_dir() {
        return Some(dir);
    }
    let missing = "../shared/ethereum-tests/GeneralStateTests (beside the repository) is missing";
    assert!(std::env::var_os("CI").is_none(), "{missing}, and CI is set: this test may not be skipped");
    println!("SKIPPED: {missing}");
    None
}

/// Prints every failure and the summary; fails if any case failed.
fn assert_all_pass(report: &Report) {
    for failure in &report.load_failures {
        println!("FAIL {failure}");
    }
    for case in &report.cases {
        if let Outcome::Fail(failure) = &case.outcome {
            println!("FAIL {}::{} {} {}: {failure}", case.file.display(), case.test, case.tier, case.indexes);
        }
    }
    println!("{}", report.summary());
    assert_eq!(report.failed(), 0, "{}", report.summary());
}

#[test]
fn every_case_sets_up_and_rejected_ones_keep_the_pre_state_root() {
    let Some(root) = general_state_tests() else { return };
    let files = zvm_statetest::runner::discover(&[root]).unwrap();
    let (mut tests, mut cases, mut rejected) = (0, 0, 0);
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let parsed: TestFile = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (name, test) in &parsed {
            tests += 1;
            let pre = setup::pre_state(test).unwrap_or_else(|e| panic!("{}::{name}: {e}", file.display()));
            let pre_root = state_root(&pre.accounts);
            for entry in test.post.get(DEFAULT_FORK).into_iter().flatten() {
                let case = format!("{}::{name} {}", file.display(), entry.indexes);
                cases += 1;
                match setup::transaction(test, entry.indexes) {
                    Ok(_) => {}
                    Err(SetupError::ValueTooLarge(_)) if entry.expect_exception.is_some() => {}
                    Err(e) => panic!("{case}: {e}"),
                }
                if entry.expect_exception.is_some() {
                    assert_eq!(pre_root, entry.hash, "{case}");
                    rejected += 1;
                }
            }
        }
    }
    println!(
        "{} files, {tests} tests, {cases} {DEFAULT_FORK} cases set up; {rejected} rejected cases keep the pre-state root",
        files.len()
    );
    assert!(rejected > 1000, "only {rejected} rejected cases found");
}

#[test]
fn examples_pass_on_both_tiers() {
    let Some(root) = general_state_tests() else { return };
    let options = RunOptions::new(vec![Tier::Interp, Tier::Jit]);
    let report = zvm_statetest::run(&[root.join("stExample"), root.join("stChainId")], &options).unwrap();
    assert!(report.cases.len() > 20, "{}", report.summary());
    assert_all_pass(&report);
}

#[test]
#[ignore = "heavy: every GeneralStateTests Cancun case on both tiers (CI runs it in release mode)"]
fn all_cancun_cases() {
    let Some(root) = general_state_tests() else { return };
    let options = RunOptions::new(vec![Tier::Interp, Tier::Jit]);
    let report = zvm_statetest::run(&[root], &options).unwrap();
    assert_all_pass(&report);
}
