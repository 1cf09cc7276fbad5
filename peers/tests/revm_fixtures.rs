//! zvm against revm on contracts nobody here wrote: revmc's contract fixtures (`../shared/contract-fixtures`),
//! ipsilon's EVM benchmarks (`../shared/evm-benchmarks/{main,micro}`) and a sample of ethereum/tests'
//! GeneralStateTests. Every case runs on zvm's interpreter, zvm's JIT and revm, and the three [`Summary`]s
//! (status, gas used, output, logs, created address, whole post-state) must be equal.
//!
//! The state tests check zvm against a state root, which says *that* something differs; revm says *what*,
//! and covers the fixtures, which have no expected post-state at all. Real contracts (Uniswap, Seaport, an
//! ERC-20, a ray tracer) reach code shapes no hand-written test does.
//!
//! In debug builds the JIT's compile time dominates (Cranelift unoptimised needs seconds for a large
//! contract), so the default test runs the cases that stay fast there, and the ignored heavy tests — which
//! CI runs in release mode — run every case. Without `../shared` the tests print `SKIPPED` and pass, unless
//! `CI` is set.
//!
//! [`Summary`]: zvm_peers::Summary

use std::path::PathBuf;
use zvm_peers::compare::{compare_files, shared_data, FileReport};
use zvm_statetest::runner::discover;

/// The fixture and benchmark folders, relative to `../shared`.
const FIXTURE_DIRS: [&str; 3] = ["contract-fixtures", "evm-benchmarks/main", "evm-benchmarks/micro"];

/// Files whose every case takes well under a second on all three VMs in a debug build: small contracts
/// (the JIT compiles them quickly unoptimised) that run little gas. Together they still cover storage,
/// events, calls into other contracts and proxies, hashing and arithmetic-heavy loops.
const FAST_FILES: [&str; 13] = [
    "contract-fixtures/bswap64.json",
    "contract-fixtures/bswap64_opt.json",
    "contract-fixtures/counter.json",
    "contract-fixtures/eip2935.json",
    "contract-fixtures/eip4788.json",
    "contract-fixtures/factorial.json",
    "contract-fixtures/fibonacci-calldata.json",
    "contract-fixtures/push0_proxy.json",
    "contract-fixtures/usdc_proxy.json",
    "contract-fixtures/weth.json",
    "evm-benchmarks/main/sha1_divs.json",
    "evm-benchmarks/main/sha1_shifts.json",
    "evm-benchmarks/main/structarray_alloc.json",
];

/// GeneralStateTests files where revm deliberately departs from the Ethereum specification, so no
/// comparison with it is meaningful. Each is a create into an address that has storage but no code and a
/// zero nonce. EIP-7610 (adopted retroactively for every fork) makes that a collision, and these files
/// expect it; revm implements only EIP-684's check of code and nonce, and its own state-test runner skips
/// exactly these files. zvm follows the specification: `statetest/tests/general_state_tests.rs` checks
/// these files' expected state roots on both tiers.
const REVM_SKIPS_EIP_7610: [&str; 5] = [
    "stCreate2/RevertInCreateInInitCreate2Paris.json",
    "stCreate2/create2collisionStorageParis.json",
    "stExtCodeHash/dynamicAccountOverwriteEmpty_Paris.json",
    "stRevertTest/RevertInCreateInInit_Paris.json",
    "stSStoreTest/InitCollisionParis.json",
];

/// Threads for the heavy runs (CI has two cores).
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Prints every case compared, every case revm cannot be given and every failure, then fails if any case
/// differed, if more than `max_unrepresentable` could not be compared, or if fewer than `minimum` agreed
/// (so that an emptied data folder cannot pass).
fn assert_agree(report: &FileReport, minimum: usize, max_unrepresentable: usize) {
    for name in &report.agreed {
        println!("agree {name}");
    }
    for why in &report.unrepresentable {
        println!("NOT COMPARED {why}");
    }
    for failure in &report.failures {
        println!("FAIL {failure}");
    }
    let (agreed, unrepresentable, failed) = (report.agreed.len(), report.unrepresentable.len(), report.failures.len());
    println!(
        "{agreed} cases agree on zvm interp, zvm jit and revm; {failed} differ; {unrepresentable} not representable in revm"
    );
    assert_eq!(failed, 0, "{failed} cases differ (see above)");
    assert!(unrepresentable <= max_unrepresentable, "{unrepresentable} cases could not be given to revm (see above)");
    assert!(agreed >= minimum, "only {agreed} cases compared, expected at least {minimum}");
}

#[test]
fn fast_fixtures_agree_with_revm() {
    let Some(files) = FAST_FILES.iter().map(|f| shared_data(f)).collect::<Option<Vec<PathBuf>>>() else { return };
    let report = compare_files(&files, threads());
    assert_agree(&report, FAST_FILES.len(), 0);
}

#[test]
#[ignore = "heavy: every contract fixture and EVM benchmark case on both tiers and revm (CI runs it in release mode)"]
fn all_fixtures_agree_with_revm() {
    let Some(dirs) = FIXTURE_DIRS.iter().map(|d| shared_data(d)).collect::<Option<Vec<PathBuf>>>() else { return };
    let files = discover(&dirs).expect("list the fixture folders");
    let report = compare_files(&files, threads());
    // 20 fixtures with one case each, and 14 benchmark files with 27 cases in all.
    assert_agree(&report, 47, 0);
}

#[test]
#[ignore = "heavy: GeneralStateTests cases on both tiers and revm (CI runs it in release mode)"]
fn general_state_tests_agree_with_revm() {
    let Some(root) = shared_data("ethereum-tests/GeneralStateTests") else { return };
    let all = discover(&[root]).expect("list GeneralStateTests");
    let skipped = |f: &PathBuf| REVM_SKIPS_EIP_7610.iter().any(|s| f.ends_with(s));
    let (skipped, files): (Vec<PathBuf>, Vec<PathBuf>) = all.into_iter().partition(skipped);
    assert_eq!(skipped.len(), REVM_SKIPS_EIP_7610.len(), "every file of REVM_SKIPS_EIP_7610 exists");
    let report = compare_files(&files, threads());
    // Two files probe encoding limits revm's types cannot hold: a gas price over 128 bits
    // (stTransactionTest/HighGasPriceParis) and a value over 256 bits (stTransactionTest/ValueOverflowParis).
    assert_agree(&report, 13_000, 2);
}
