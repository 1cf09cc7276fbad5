//! The ahead-of-time tier on real contracts: compile -> store -> load -> run through the on-disk cache gives
//! exactly what the interpreter gives, for every case of every contract fixture and EVM benchmark in
//! `../shared` — first from an empty cache (every program compiled, stored, then loaded by zvm's own
//! loader), then on a fresh machine from the warm cache (every program loaded, none compiled). That the JIT
//! gives the same as the interpreter (and revm) on these cases is the fixture differential test's job.

use std::path::PathBuf;
use std::sync::Arc;
use zvm_cache::Cache;
use zvm_peers::{load_cases, run_zvm, run_zvm_on};
use zvm_runtime::executor::{CacheOutcome, CodeFormat, Contract, Tier};
use zvm_runtime::vm::Vm;
use zvm_runtime::Limits;

/// `../shared/<dir>` beside the repository, or `None` (after saying so) when it is missing outside CI.
fn shared(dir: &str) -> Option<PathBuf> {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")).join(dir);
    if path.is_dir() {
        return Some(path);
    }
    assert!(std::env::var_os("CI").is_none(), "{} is missing, and CI is set", path.display());
    println!("SKIPPED: {} is missing", path.display());
    None
}

fn json_files(dir: PathBuf) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
#[ignore = "heavy: compiles every fixture contract twice over (CI runs it in release mode)"]
fn fixtures_run_the_same_from_the_cache() {
    let dirs = ["contract-fixtures", "evm-benchmarks/main", "evm-benchmarks/micro"];
    let Some(dirs) = dirs.iter().map(|d| shared(d)).collect::<Option<Vec<_>>>() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cache = Arc::new(Cache::open(tmp.path(), u64::MAX).unwrap());
    let limits = Limits::default();
    let mut compared = 0;
    for file in dirs.into_iter().flat_map(json_files) {
        for case in load_cases(&file).unwrap() {
            let interp = run_zvm(&case.pre, &case.tx, Tier::Interp);
            for pass in ["empty", "warm"] {
                let vm = Vm::new(Tier::Aot, limits.clone()).with_cache(cache.clone());
                assert_eq!(run_zvm_on(&vm, &case.pre, &case.tx), interp, "{}: aot, {pass} cache", case.name);
            }
            // The called contract's object is in the cache now, and loads as it is.
            let callee = case.tx.to.and_then(|to| case.pre.accounts.get(&to)).map(|a| &a.code[..]);
            if let Some(code) = callee.filter(|c| !c.is_empty() && c.len() <= limits.max_code_size) {
                let (_, outcome) = Contract::load_cached(CodeFormat::Evm, code, &limits, &cache).unwrap();
                assert_eq!(outcome, CacheOutcome::Hit, "{}", case.name);
            }
            compared += 1;
        }
    }
    println!("{compared} cases: the same on the interpreter and the AOT tier from an empty and a warm cache");
    println!("cache: {:?}", cache.stats().unwrap());
    assert!(compared >= 40, "only {compared} cases");
}
