//! `zvm statetest`: runs Ethereum state tests (the filled JSON files of ethereum/tests) and reports each
//! failing case on one line, then `N passed, M failed` (`, K skipped` when the skip list skipped any).
//!
//! The work is `zvm_statetest::run`; this module only parses arguments and prints. A run with failures ends
//! with an error (non-zero exit status) after the summary.

use serde_json::{json, Value};
use std::path::PathBuf;
use zvm_runtime::executor::Tier;
use zvm_statetest::runner::DEFAULT_FORK;
use zvm_statetest::{CaseResult, Failure, LoadFailure, Outcome, Report, RunOptions};

#[derive(clap::Args)]
pub struct StatetestArgs {
    /// State-test files, or directories searched recursively for `.json` files.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The tier to run on (`both`: every case on the interpreter and on compiled code).
    #[arg(long, default_value = "both", value_parser = ["interp", "jit", "both"])]
    tier: String,
    /// Which `post` entries to run.
    #[arg(long, default_value = DEFAULT_FORK)]
    fork: String,
    /// Only tests whose `FILE::TEST` name contains this.
    #[arg(long)]
    filter: Option<String>,
    /// Print one JSON object per case, then a summary object.
    #[arg(long)]
    json: bool,
}

pub fn statetest(args: StatetestArgs) -> Result<(), String> {
    let tiers = match args.tier.as_str() {
        "both" => vec![Tier::Interp, Tier::Jit],
        one => vec![one.parse()?],
    };
    let mut options = RunOptions::new(tiers);
    options.fork = args.fork;
    options.filter = args.filter;
    let report = zvm_statetest::run(&args.paths, &options).map_err(|e| e.to_string())?;
    if args.json {
        print_json(&report);
    } else {
        print_failures(&report);
    }
    match report.failed() {
        0 => Ok(()),
        n => Err(format!("{n} state-test case{} failed", if n == 1 { "" } else { "s" })),
    }
}

fn print_failures(report: &Report) {
    for failure in &report.load_failures {
        println!("FAIL {failure}");
    }
    for case in &report.cases {
        if let Outcome::Fail(failure) = &case.outcome {
            println!(
                "FAIL {}::{} {} {} {}: {failure}",
                case.file.display(),
                case.test,
                case.fork,
                case.tier,
                case.indexes
            );
        }
    }
    println!("{}", report.summary());
}

fn print_json(report: &Report) {
    for failure in &report.load_failures {
        println!("{}", load_failure_json(failure));
    }
    for case in &report.cases {
        println!("{}", case_json(case));
    }
    println!("{}", json!({ "passed": report.passed(), "failed": report.failed(), "skipped": report.skipped() }));
}

fn load_failure_json(failure: &LoadFailure) -> Value {
    json!({
        "file": failure.file.display().to_string(),
        "test": failure.test,
        "status": "fail",
        "error": failure.error,
    })
}

fn case_json(case: &CaseResult) -> Value {
    let mut value = json!({
        "file": case.file.display().to_string(),
        "test": case.test,
        "fork": case.fork,
        "tier": case.tier.to_string(),
        "d": case.indexes.data,
        "g": case.indexes.gas,
        "v": case.indexes.value,
    });
    match &case.outcome {
        Outcome::Pass => value["status"] = "pass".into(),
        Outcome::Skip(reason) => {
            value["status"] = "skip".into();
            value["reason"] = reason.as_str().into();
        }
        Outcome::Fail(failure) => {
            value["status"] = "fail".into();
            value["error"] = failure.to_string().into();
            match failure {
                Failure::Root { expected, got } | Failure::Logs { expected, got } => {
                    value["expected"] = expected.to_string().into();
                    value["got"] = got.to_string().into();
                }
                Failure::NotRejected { expected, .. } => value["expected"] = expected.as_str().into(),
                Failure::Rejected(_) | Failure::Setup(_) | Failure::Panic(_) => {}
            }
        }
    }
    value
}
