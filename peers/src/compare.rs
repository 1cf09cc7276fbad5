//! One transaction on every zvm tier and on revm, compared: the oracle every differential test of this crate
//! (fixtures, state tests, generated programs, hostile inputs, the fuzz target) goes through, so that "the
//! same behaviour" is decided in one place.
//!
//! The zvm tiers are compared with each other first (that needs no peer), then with revm, the reference. A
//! mismatch is reported as [`summary::diff`]'s list of differences together with each side's own detail
//! (halt or rejection reason), which is what one needs to start looking for the bug.
//!
//! Some valid inputs cannot be given to revm at all: a gas price wider than revm's 128-bit field, a value
//! wider than 256 bits that no transaction can encode. Those are [`Mismatch::Unrepresentable`], kept apart
//! from real differences so that a test can decide whether it may meet them (state tests written to probe
//! such limits) or not (generated programs, which never produce them).

use crate::fixtures::LoadError;
use crate::revm_peer::{run_revm, PeerError};
use crate::summary::{self, Run};
use crate::zvm_peer::run_zvm_on;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use zvm_runtime::executor::Tier;
use zvm_runtime::tx::Transaction;
use zvm_runtime::vm::Vm;
use zvm_runtime::{InMemoryHost, Limits};
use zvm_statetest::setup::SetupError;

/// The zvm tiers every comparison runs: the interpreter (the reference semantics) and the Cranelift JIT.
pub const TIERS: [Tier; 2] = [Tier::Interp, Tier::Jit];

/// Why a comparison did not end in agreement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The runs differ: a bug in zvm or in a peer adapter. The message names every difference.
    Differ(String),
    /// revm cannot be given this input; the zvm tiers agree with each other on it.
    Unrepresentable(String),
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Differ(message) => f.write_str(message),
            Mismatch::Unrepresentable(why) => write!(f, "revm cannot run it: {why}"),
        }
    }
}

/// Runs `tx` on `pre` on every tier of [`TIERS`] and on revm; returns revm's run if all summaries are equal.
pub fn compare(pre: &InMemoryHost, tx: &Transaction) -> Result<Run, Mismatch> {
    Comparer::new().compare(pre, tx)
}

/// [`compare`] with one zvm [`Vm`] per tier kept across comparisons, so that code run many times is
/// prepared (and compiled) once.
pub struct Comparer {
    vms: Vec<(Tier, Vm)>,
}

impl Default for Comparer {
    fn default() -> Self {
        Self::new()
    }
}

impl Comparer {
    /// A machine for every tier of [`TIERS`], with default limits.
    pub fn new() -> Self {
        Comparer { vms: TIERS.iter().map(|&tier| (tier, Vm::new(tier, Limits::default()))).collect() }
    }

    /// Runs `tx` on `pre` on every tier and on revm; returns revm's run if all summaries are equal.
    pub fn compare(&self, pre: &InMemoryHost, tx: &Transaction) -> Result<Run, Mismatch> {
        let runs: Vec<(Tier, Run)> = self.vms.iter().map(|(tier, vm)| (*tier, run_zvm_on(vm, pre, tx))).collect();
        compare_runs(runs, pre, tx)
    }
}

/// Compares the zvm runs with each other, then with revm's run of `tx` on `pre`.
fn compare_runs(runs: Vec<(Tier, Run)>, pre: &InMemoryHost, tx: &Transaction) -> Result<Run, Mismatch> {
    let (first_tier, first) = &runs[0];
    let mut problems = Vec::new();
    for (tier, run) in &runs[1..] {
        if run.summary != first.summary {
            problems.push(difference(&format!("zvm {tier}"), run, &format!("zvm {first_tier}"), first));
        }
    }
    let reference = match run_revm(pre, tx) {
        Ok(reference) => reference,
        Err(e @ PeerError::TooLarge { .. }) if problems.is_empty() => {
            return Err(Mismatch::Unrepresentable(e.to_string()))
        }
        Err(e) => {
            problems.push(format!("revm could not run it: {e}"));
            return Err(Mismatch::Differ(problems.join("\n")));
        }
    };
    for (tier, run) in &runs {
        if run.summary != reference.summary {
            problems.push(difference(&format!("zvm {tier}"), run, "revm", &reference));
        }
    }
    if problems.is_empty() {
        Ok(reference)
    } else {
        Err(Mismatch::Differ(problems.join("\n")))
    }
}

fn difference(left_name: &str, left: &Run, right_name: &str, right: &Run) -> String {
    let shown = |detail: &str| if detail.is_empty() { "no detail".to_string() } else { detail.to_string() };
    format!(
        "{left_name} ({}) != {right_name} ({}):\n{}",
        shown(&left.detail),
        shown(&right.detail),
        summary::diff(&left.summary, &right.summary)
    )
}

/// `../shared/<relative>` beside the repository (the test data nobody here wrote), or `None` after printing
/// `SKIPPED` when it is missing outside CI. With `CI` set a missing folder is an error: CI must not pass by
/// skipping.
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")).join(relative);
    if path.exists() {
        return Some(path);
    }
    let missing = format!("../shared/{relative} (beside the repository) is missing");
    assert!(std::env::var_os("CI").is_none(), "{missing}, and CI is set: this test may not be skipped");
    println!("SKIPPED: {missing}");
    None
}

/// What [`compare_files`] found.
#[derive(Debug, Default)]
pub struct FileReport {
    /// Names of the cases on which all VMs agree, in file order.
    pub agreed: Vec<String>,
    /// Cases (or whole files) revm cannot be given, with the reason: [`Mismatch::Unrepresentable`], and
    /// files whose transaction no encoding can carry ([`SetupError::ValueTooLarge`]).
    pub unrepresentable: Vec<String>,
    /// One message per case that differed or panicked, or file that could not be loaded.
    pub failures: Vec<String>,
}

/// Stack of each worker thread of [`compare_files`]: nested calls recurse on the host stack (zvm grows it
/// as needed from here on).
const WORKER_STACK_SIZE: usize = 64 << 20;

/// Loads every case of `files` ([`crate::load_cases`]) and [`compare`]s it, on `threads` worker threads
/// that share out the files. A panic in one case is that case's failure, not the end of the run. The
/// report lists cases in the order of `files`, whatever thread ran them.
pub fn compare_files(files: &[PathBuf], threads: usize) -> FileReport {
    let next = AtomicUsize::new(0);
    let per_file: Mutex<Vec<Option<FileReport>>> = Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            let (next, per_file) = (&next, &per_file);
            std::thread::Builder::new()
                .stack_size(WORKER_STACK_SIZE)
                .spawn_scoped(scope, move || loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(index) else { break };
                    let report = compare_file(file);
                    per_file.lock().unwrap_or_else(PoisonError::into_inner)[index] = Some(report);
                })
                .expect("spawn a worker thread");
        }
    });
    let mut total = FileReport::default();
    for report in per_file.into_inner().unwrap_or_else(PoisonError::into_inner).into_iter().flatten() {
        total.agreed.extend(report.agreed);
        total.unrepresentable.extend(report.unrepresentable);
        total.failures.extend(report.failures);
    }
    total
}

fn compare_file(file: &std::path::Path) -> FileReport {
    let mut report = FileReport::default();
    let cases = match crate::load_cases(file) {
        Ok(cases) => cases,
        Err(e @ LoadError::Setup { source: SetupError::ValueTooLarge(_), .. }) => {
            report.unrepresentable.push(e.to_string());
            return report;
        }
        Err(e) => {
            report.failures.push(format!("cannot load: {e}"));
            return report;
        }
    };
    let comparer = Comparer::new();
    for case in cases {
        match catch_unwind(AssertUnwindSafe(|| comparer.compare(&case.pre, &case.tx))) {
            Ok(Ok(_)) => report.agreed.push(case.name),
            Ok(Err(Mismatch::Unrepresentable(why))) => report.unrepresentable.push(format!("{}: {why}", case.name)),
            Ok(Err(Mismatch::Differ(message))) => report.failures.push(format!("{}: {message}", case.name)),
            Err(panic) => report.failures.push(format!("{}: panicked: {}", case.name, panic_message(&*panic))),
        }
    }
    report
}

/// The message of a panic payload (a `&str` or a `String`; anything else is named as such).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => (*s).to_string(),
        (_, Some(s)) => s.clone(),
        _ => "a panic without a message".to_string(),
    }
}
