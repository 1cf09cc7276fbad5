//! Runs state-test files on zvm and says, case by case, whether the result matches.
//!
//! A case is one `post.<fork>` entry of one test (one choice of data, gas limit and value), run on one tier:
//! the pre-state goes into an [`InMemoryHost`], [`transact`] runs the transaction, and then
//! - with `expectException`, the transaction must have been rejected and the state root must still be
//!   `hash` (a rejected transaction changes nothing);
//! - otherwise the post-state root must be `hash` and the hash of the logs must be `logs`.
//!
//! A bug must not hide the rest of a run: every case runs under [`catch_unwind`] and a panic is reported as
//! that case's failure, and a malformed file or test is reported as a failure with its name. Files run in
//! parallel, one [`Vm`] per tier per file (so compiled code is reused within a file); the report lists them
//! in the order of the paths, whatever the thread that ran them.

use crate::model::{Indexes, PostEntry, StateTest, H256};
use crate::setup::{self, SetupError};
use crate::skip::SkipList;
use crate::state::{logs_hash, state_root};
use serde::Deserialize;
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::{io, thread};
use thiserror::Error;
use zvm_runtime::executor::Tier;
use zvm_runtime::tx::transact;
use zvm_runtime::vm::Vm;
use zvm_runtime::{InMemoryHost, Limits};

/// The fork whose cases run unless another is asked for.
pub const DEFAULT_FORK: &str = "Cancun";

/// The forks whose rules `transact` implements. Running another fork's expectations against Cancun rules
/// would only produce noise, so it is refused up front.
pub const SUPPORTED_FORKS: [&str; 1] = ["Cancun"];

/// Stack of each worker thread: deep call chains recurse on the host stack (the runtime grows it as needed
/// from here on).
const WORKER_STACK_SIZE: usize = 64 << 20;

/// Why a run could not start.
#[derive(Debug, Error)]
pub enum RunError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("fork `{0}` is not supported (zvm implements: {forks})", forks = SUPPORTED_FORKS.join(", "))]
    UnsupportedFork(String),
    #[error("cannot start a worker thread: {0}")]
    Spawn(io::Error),
}

/// What to run and how.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Every case runs once per tier.
    pub tiers: Vec<Tier>,
    /// Which `post` entries to run.
    pub fork: String,
    /// Only tests whose `FILE::TEST` name contains this.
    pub filter: Option<String>,
    /// Worker threads (files run in parallel).
    pub threads: usize,
    pub skip: SkipList,
}

impl RunOptions {
    /// The default fork, no filter, one thread per core, and the repository's skip list.
    pub fn new(tiers: Vec<Tier>) -> RunOptions {
        RunOptions {
            tiers,
            fork: DEFAULT_FORK.to_string(),
            filter: None,
            threads: thread::available_parallelism().map_or(1, |n| n.get()),
            skip: SkipList::builtin(),
        }
    }
}

/// How one case ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// Skipped by the skip list, with its reason.
    Skip(String),
    Fail(Failure),
}

/// Why a case failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The state root after the transaction (or after its rejection) differs.
    Root { expected: H256, got: H256 },
    /// The state root matches, the logs hash does not.
    Logs { expected: H256, got: H256 },
    /// The test expects a rejection and the transaction ran.
    NotRejected { expected: String, status: String },
    /// The transaction was rejected and the test expects it to run.
    Rejected(String),
    /// The case could not be set up from the file.
    Setup(SetupError),
    /// zvm panicked.
    Panic(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Root { expected, got } => write!(f, "expected root {expected}, got {got}"),
            Failure::Logs { expected, got } => write!(f, "expected logs hash {expected}, got {got}"),
            Failure::NotRejected { expected, status } => {
                write!(f, "expected exception {expected}, but the transaction was valid (status {status})")
            }
            Failure::Rejected(reason) => write!(f, "unexpected exception: {reason}"),
            Failure::Setup(e) => write!(f, "bad test: {e}"),
            Failure::Panic(msg) => write!(f, "panic: {msg}"),
        }
    }
}

/// The result of one case on one tier.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub file: PathBuf,
    pub test: String,
    pub fork: String,
    pub tier: Tier,
    pub indexes: Indexes,
    pub outcome: Outcome,
}

/// A file, or one test of it, that could not be read: it counts as a failure.
#[derive(Clone, Debug)]
pub struct LoadFailure {
    pub file: PathBuf,
    pub test: Option<String>,
    pub error: String,
}

impl fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(test) = &self.test {
            write!(f, "::{test}")?;
        }
        write!(f, ": {}", self.error)
    }
}

/// Everything a run found, in the order of its files.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub cases: Vec<CaseResult>,
    pub load_failures: Vec<LoadFailure>,
}

impl Report {
    fn count(&self, pred: impl Fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|c| pred(&c.outcome)).count()
    }

    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Pass))
    }

    /// Failed cases plus files and tests that could not be read.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Fail(_))) + self.load_failures.len()
    }

    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skip(_)))
    }

    /// `N passed, M failed`, and `, K skipped` when any were.
    pub fn summary(&self) -> String {
        let mut line = format!("{} passed, {} failed", self.passed(), self.failed());
        if self.skipped() > 0 {
            line += &format!(", {} skipped", self.skipped());
        }
        line
    }

    fn append(&mut self, mut other: Report) {
        self.cases.append(&mut other.cases);
        self.load_failures.append(&mut other.load_failures);
    }
}

/// The `.json` files under `paths`: a file as given, a directory searched recursively (sorted by path).
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, RunError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| RunError::Io { path: path.clone(), source })?;
        if meta.is_dir() {
            let mut found = Vec::new();
            collect_json(path, &mut found)?;
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), RunError> {
    let io_err = |source| RunError::Io { path: dir.to_path_buf(), source };
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let path = entry.map_err(io_err)?.path();
        if path.is_dir() {
            collect_json(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// Runs every case of the files under `paths`.
pub fn run(paths: &[PathBuf], options: &RunOptions) -> Result<Report, RunError> {
    if !SUPPORTED_FORKS.contains(&options.fork.as_str()) {
        return Err(RunError::UnsupportedFork(options.fork.clone()));
    }
    let files = discover(paths)?;
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Report)>> = Mutex::new(Vec::new());
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(file) = files.get(i) else { break };
        let report = run_file(file, options);
        done.lock().unwrap_or_else(PoisonError::into_inner).push((i, report));
    };
    thread::scope(|s| {
        for _ in 0..options.threads.clamp(1, files.len().max(1)) {
            thread::Builder::new().stack_size(WORKER_STACK_SIZE).spawn_scoped(s, work).map_err(RunError::Spawn)?;
        }
        Ok::<(), RunError>(())
    })?;
    let mut done = done.into_inner().unwrap_or_else(PoisonError::into_inner);
    done.sort_by_key(|(i, _)| *i);
    let mut report = Report::default();
    for (_, file_report) in done {
        report.append(file_report);
    }
    Ok(report)
}

/// A file's tests by name, each parsed or with the reason it could not be.
type Tests = Vec<(String, Result<StateTest, String>)>;

/// Reads a file's tests; each test is parsed on its own so that a malformed one is reported by name.
fn load(file: &Path) -> Result<Tests, LoadFailure> {
    let fail = |error: String| LoadFailure { file: file.to_path_buf(), test: None, error };
    let text = std::fs::read_to_string(file).map_err(|e| fail(e.to_string()))?;
    let tests: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| fail(format!("not a state-test file: {e}")))?;
    Ok(tests
        .into_iter()
        .map(|(name, value)| (name, StateTest::deserialize(value).map_err(|e| e.to_string())))
        .collect())
}

/// What happens to a test's cases.
enum Plan<'a> {
    /// Skipped, for this reason.
    Skip(&'a str),
    /// Run from this pre-state.
    Run(Box<InMemoryHost>),
}

/// Runs every case of one file on every tier of `options`.
fn run_file(file: &Path, options: &RunOptions) -> Report {
    let mut report = Report::default();
    let tests = match load(file) {
        Ok(tests) => tests,
        Err(failure) => {
            report.load_failures.push(failure);
            return report;
        }
    };
    let vms: Vec<Vm> = options.tiers.iter().map(|&tier| Vm::new(tier, Limits::default())).collect();
    for (name, test) in tests {
        if options.filter.as_ref().is_some_and(|f| !format!("{}::{name}", file.display()).contains(f.as_str())) {
            continue;
        }
        let load_failure = |error: String| LoadFailure { file: file.to_path_buf(), test: Some(name.clone()), error };
        let test = match test {
            Ok(test) => test,
            Err(error) => {
                report.load_failures.push(load_failure(error));
                continue;
            }
        };
        let Some(entries) = test.post.get(&options.fork) else { continue };
        let plan = match options.skip.reason(file, &name) {
            Some(reason) => Plan::Skip(reason),
            None => match setup::pre_state(&test) {
                Ok(pre) => Plan::Run(Box::new(pre)),
                Err(e) => {
                    report.load_failures.push(load_failure(format!("bad test: {e}")));
                    continue;
                }
            },
        };
        for entry in entries {
            for vm in &vms {
                let outcome = match &plan {
                    Plan::Skip(reason) => Outcome::Skip(reason.to_string()),
                    Plan::Run(pre) => run_case(vm, &test, pre, entry),
                };
                report.cases.push(CaseResult {
                    file: file.to_path_buf(),
                    test: name.clone(),
                    fork: options.fork.clone(),
                    tier: vm.tier,
                    indexes: entry.indexes,
                    outcome,
                });
            }
        }
    }
    report
}

/// Runs one case on `vm`, turning a panic into a failure.
fn run_case(vm: &Vm, test: &StateTest, pre: &InMemoryHost, entry: &PostEntry) -> Outcome {
    match catch_unwind(AssertUnwindSafe(|| check_case(vm, test, pre, entry))) {
        Ok(Ok(())) => Outcome::Pass,
        Ok(Err(failure)) => Outcome::Fail(failure),
        Err(payload) => Outcome::Fail(Failure::Panic(panic_message(payload.as_ref()))),
    }
}

fn check_case(vm: &Vm, test: &StateTest, pre: &InMemoryHost, entry: &PostEntry) -> Result<(), Failure> {
    let mut host = pre.clone();
    // A value past 256 bits cannot be encoded: that transaction is invalid before it reaches `transact`.
    let result = match setup::transaction(test, entry.indexes) {
        Ok(tx) => transact(vm, &mut host, &tx).map_err(|e| e.to_string()),
        Err(e @ SetupError::ValueTooLarge(_)) => Err(e.to_string()),
        Err(e) => return Err(Failure::Setup(e)),
    };
    let logs = match (&entry.expect_exception, result) {
        (Some(expected), Ok(outcome)) => {
            return Err(Failure::NotRejected { expected: expected.clone(), status: outcome.status.name().to_string() })
        }
        (Some(_), Err(_)) => None,
        (None, Err(reason)) => return Err(Failure::Rejected(reason)),
        (None, Ok(outcome)) => Some(outcome.logs),
    };
    let root = state_root(&host.accounts);
    if root != entry.hash {
        return Err(Failure::Root { expected: entry.hash, got: root });
    }
    if let Some(logs) = logs {
        let got = logs_hash(&logs);
        if got != entry.logs {
            return Err(Failure::Logs { expected: entry.logs, got });
        }
    }
    Ok(())
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => s.to_string(),
        (_, Some(s)) => s.clone(),
        _ => "(no message)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::INVALID_TR;
    use std::fs;

    /// A directory with `a/good.json` (one test), `a/b/bad.json` (not JSON), `c.json` (two tests, one
    /// malformed) and a non-JSON file.
    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::Builder::new().prefix("zvm-statetest-").tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/good.json"), INVALID_TR).unwrap();
        fs::write(root.join("a/b/bad.json"), "{ not json").unwrap();
        fs::write(root.join("a/notes.txt"), "ignored").unwrap();
        let mut two: serde_json::Map<String, serde_json::Value> = serde_json::from_str(INVALID_TR).unwrap();
        two.insert("broken".into(), serde_json::json!({ "env": {} }));
        fs::write(root.join("c.json"), serde_json::Value::Object(two).to_string()).unwrap();
        dir
    }

    fn options(skip: &str) -> RunOptions {
        RunOptions {
            skip: SkipList::parse(skip).unwrap(),
            threads: 2,
            ..RunOptions::new(vec![Tier::Interp, Tier::Jit])
        }
    }

    #[test]
    fn discovery_is_recursive_and_sorted() {
        let dir = fixture();
        let files = discover(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.strip_prefix(dir.path()).unwrap().to_path_buf()).collect();
        assert_eq!(names, ["a/b/bad.json", "a/good.json", "c.json"].map(PathBuf::from));
        assert!(matches!(discover(&[dir.path().join("missing")]), Err(RunError::Io { .. })));
    }

    /// Runs only skipped cases (they need no execution): the skip list, load failures and the summary.
    #[test]
    fn skipped_cases_and_malformed_files_are_reported() {
        let dir = fixture();
        let report =
            run(&[dir.path().to_path_buf()], &options("good.json # reason one\nc.json::invalidTr # two")).unwrap();
        let outcomes: Vec<_> = report.cases.iter().map(|c| (c.file.ends_with("c.json"), c.tier, &c.outcome)).collect();
        let skip = |r: &str| Outcome::Skip(r.to_string());
        assert_eq!(
            outcomes,
            [
                (false, Tier::Interp, &skip("reason one")),
                (false, Tier::Jit, &skip("reason one")),
                (true, Tier::Interp, &skip("two")),
                (true, Tier::Jit, &skip("two")),
            ]
        );
        let failures: Vec<String> =
            report.load_failures.iter().map(|f| f.to_string().replace(&dir.path().display().to_string(), "")).collect();
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert!(failures[0].starts_with("/a/b/bad.json: not a state-test file:"), "{failures:?}");
        assert!(failures[1].starts_with("/c.json::broken: missing field"), "{failures:?}");
        assert_eq!(report.summary(), "0 passed, 2 failed, 4 skipped");
    }

    #[test]
    fn the_filter_selects_tests_by_name() {
        let dir = fixture();
        let mut options = options("good.json # r\nc.json # r");
        options.filter = Some("c.json::inv".into());
        let report = run(&[dir.path().to_path_buf()], &options).unwrap();
        // bad.json cannot be read, so it cannot be filtered either.
        assert_eq!(report.summary(), "0 passed, 1 failed, 2 skipped");
        assert!(report.cases.iter().all(|c| c.file.ends_with("c.json") && c.test == "invalidTr"));
    }

    #[test]
    fn unsupported_forks_are_refused() {
        let options = RunOptions { fork: "Frontier".into(), ..options("") };
        let err = run(&[], &options).unwrap_err();
        assert_eq!(err.to_string(), "fork `Frontier` is not supported (zvm implements: Cancun)");
    }
}
