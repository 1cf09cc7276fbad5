//! EVM workloads for the benchmarks: real contracts from `../shared`, run as whole transactions on zvm's
//! two tiers and on revm, prepared so that the measured closure does the same work on each.
//!
//! What one measured run is, for every runner: validate and execute one transaction against a pre-state,
//! without committing it. zvm runs [`transact`] on a fresh copy of the pre-state host (the copy is made
//! outside the measurement); its [`Vm`] is kept across runs, so code is lowered and compiled once, as a
//! node would. revm runs `transact` on one prepared EVM whose database holds the pre-state; revm never
//! commits there, so every run starts from the same state, and its bytecode is analysed once, when the
//! database is built. Neither side is charged for building its input.
//!
//! The cases are the compute-heavy and state-heavy contracts the EVM issue names: every transaction of
//! ipsilon's `evm-benchmarks/main`, and from revmc's fixtures snailtracer, fibonacci, factorial,
//! erc20_transfer, weth, uniswap_v2_pair and seaport. Before a case is benchmarked, [`EvmCase::load`]
//! checks that all three runners agree on its status and gas, so a table never compares a failing run
//! with a working one.

use revm::context::{Context, TxEnv};
use revm::database::{CacheDB, EmptyDB};
use revm::handler::{MainBuilder, MainContext, MainnetContext, MainnetEvm};
use revm::ExecuteEvm;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zvm_peers::revm_peer::{revm_block, revm_cfg, revm_db, revm_tx};
use zvm_peers::{run_revm, run_zvm};
use zvm_runtime::executor::{CodeFormat, Contract, Tier};
use zvm_runtime::tx::{transact, Transaction, TxOutcome};
use zvm_runtime::vm::Vm;
use zvm_runtime::{InMemoryHost, Limits};

/// The shared data folder beside the repository.
pub fn shared_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared"))
}

/// The benchmarked files, relative to [`shared_dir`]: each contributes every one of its cases.
pub const CASE_FILES: [&str; 15] = [
    "evm-benchmarks/main/blake2b_huff.json",
    "evm-benchmarks/main/blake2b_shifts.json",
    "evm-benchmarks/main/sha1_divs.json",
    "evm-benchmarks/main/sha1_shifts.json",
    "evm-benchmarks/main/snailtracer.json",
    "evm-benchmarks/main/structarray_alloc.json",
    "evm-benchmarks/main/swap_math.json",
    "evm-benchmarks/main/weierstrudel.json",
    "contract-fixtures/snailtracer.json",
    "contract-fixtures/fibonacci-calldata.json",
    "contract-fixtures/factorial.json",
    "contract-fixtures/erc20_transfer.json",
    "contract-fixtures/weth.json",
    "contract-fixtures/uniswap_v2_pair.json",
    "contract-fixtures/seaport.json",
];

/// One transaction and the state it runs on.
pub struct EvmCase {
    /// `suite/test` (with the indexes when the file has several cases).
    pub name: String,
    /// Where it comes from: `main` (evm-benchmarks) or `fixture` (revmc's fixtures).
    pub suite: &'static str,
    pub pre: InMemoryHost,
    pub tx: Transaction,
    /// Gas the transaction uses (the same on every runner: checked when loaded).
    pub gas_used: u64,
}

impl EvmCase {
    /// Every case of the benchmarked files, each checked to behave identically on zvm's tiers and revm.
    /// `None` (after saying so) when the data folder is missing.
    pub fn load_all() -> Option<Vec<EvmCase>> {
        let shared = shared_dir();
        if !shared.is_dir() {
            println!("SKIPPED: {} is missing", shared.display());
            return None;
        }
        Some(CASE_FILES.iter().flat_map(|file| EvmCase::load(&shared.join(file))).collect())
    }

    /// The cases of one file, checked like [`EvmCase::load_all`]'s.
    pub fn load(path: &Path) -> Vec<EvmCase> {
        let suite = if path.components().any(|c| c.as_os_str() == "evm-benchmarks") { "main" } else { "fixture" };
        let cases = zvm_peers::load_cases(path).unwrap_or_else(|e| panic!("{e}"));
        cases
            .into_iter()
            .map(|case| {
                let reference = run_revm(&case.pre, &case.tx).unwrap_or_else(|e| panic!("{}: {e}", case.name));
                for tier in [Tier::Interp, Tier::Jit] {
                    let run = run_zvm(&case.pre, &case.tx, tier);
                    let (ours, theirs) = (&run.summary, &reference.summary);
                    assert!(
                        ours.status == theirs.status && ours.gas_used == theirs.gas_used,
                        "{} on {tier}: zvm {:?} with {} gas ({}), revm {:?} with {} gas ({})",
                        case.name,
                        ours.status,
                        ours.gas_used,
                        run.detail,
                        theirs.status,
                        theirs.gas_used,
                        reference.detail
                    );
                }
                // `file/test`, where the test is mostly named after its file: keep the test's name.
                let test = case.name.split_once('/').map_or(case.name.as_str(), |(_, test)| test);
                EvmCase {
                    name: format!("{suite}/{test}"),
                    suite,
                    pre: case.pre,
                    tx: case.tx,
                    gas_used: reference.summary.gas_used,
                }
            })
            .collect()
    }

    /// The code of the account the transaction calls (empty for a create).
    pub fn callee_code(&self) -> &[u8] {
        self.tx.to.and_then(|to| self.pre.accounts.get(&to)).map_or(&[], |a| &a.code[..])
    }

    /// The `index`-th case of `file` (relative to [`shared_dir`]), checked like [`EvmCase::load_all`]'s.
    pub fn nth(file: &str, index: usize) -> EvmCase {
        let mut cases = EvmCase::load(&shared_dir().join(file));
        assert!(index < cases.len(), "{file} has {} cases", cases.len());
        cases.swap_remove(index)
    }

    /// A zvm runner for this case on `tier`, warmed up (its code lowered and compiled).
    pub fn zvm(&self, tier: Tier) -> ZvmRunner {
        let runner = ZvmRunner { tx: self.tx.clone(), gas_used: self.gas_used, vm: Vm::new(tier, Limits::default()) };
        runner.run(&mut self.state());
        runner
    }

    /// A copy of the pre-state for one zvm run, in the shape a node's long-lived state is in after its
    /// first transaction (and revm's reused state is in): with room in its scratch sets.
    pub fn state(&self) -> InMemoryHost {
        let mut state = self.pre.clone();
        state.reserve_scratch();
        state
    }

    /// A revm runner for this case, warmed up.
    pub fn revm(&self) -> RevmRunner {
        let block = revm_block(&self.pre.block).expect("the case fits revm's block fields (checked when loaded)");
        let tx = revm_tx(&self.tx, &self.pre.block).expect("the case fits revm's transaction fields");
        let evm = Context::mainnet()
            .with_db(revm_db(&self.pre))
            .with_block(block)
            .with_cfg(revm_cfg(&self.pre.block))
            .build_mainnet();
        let mut runner = RevmRunner { evm, tx };
        runner.run();
        runner
    }

    /// Time to lower and compile the callee's code to native code (frontend, gas pass, verifier, Cranelift).
    pub fn compile_time(&self) -> Duration {
        let start = Instant::now();
        compile(self.callee_code());
        start.elapsed()
    }
}

/// Lowers and compiles EVM `code` for the compiled tier.
pub fn compile(code: &[u8]) -> Contract {
    Contract::load_as(CodeFormat::Evm, code, Tier::Jit, &Limits::default()).expect("benchmarked code compiles")
}

/// Runs one case on one zvm tier.
pub struct ZvmRunner {
    tx: Transaction,
    gas_used: u64,
    vm: Vm,
}

impl ZvmRunner {
    /// Runs the transaction on `state` (a copy of the case's pre-state). The state is borrowed, so that a
    /// measurement can leave dropping it out.
    pub fn run(&self, state: &mut InMemoryHost) -> TxOutcome {
        let outcome = transact(&self.vm, state, &self.tx).expect("the case is a valid transaction");
        debug_assert_eq!(outcome.gas_used, self.gas_used);
        outcome
    }
}

/// Runs one case on revm.
pub struct RevmRunner {
    evm: MainnetEvm<MainnetContext<CacheDB<EmptyDB>>>,
    tx: TxEnv,
}

impl RevmRunner {
    /// Runs the transaction; returns the gas used.
    pub fn run(&mut self) -> u64 {
        let result = self.evm.transact(self.tx.clone()).expect("the case is a valid transaction");
        result.result.tx_gas_used()
    }
}
