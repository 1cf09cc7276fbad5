//! Instruction counts (callgrind) of real EVM contracts as whole transactions: zvm's interpreter, zvm's
//! compiled tier and revm. Loading, checking and warming up a case (compiling it, for the compiled tier)
//! happen in `setup`, outside the measured function; so does the copy of the pre-state zvm runs on. Each
//! function hands its inputs back, so that dropping them (a compiled program, a state) is not measured.

use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use std::hint::black_box;
use zvm_benches::evm::{EvmCase, RevmRunner, ZvmRunner};
use zvm_runtime::executor::Tier;
use zvm_runtime::InMemoryHost;

fn zvm(file: &str, index: usize, tier: Tier) -> (ZvmRunner, InMemoryHost) {
    let case = EvmCase::nth(file, index);
    (case.zvm(tier), case.state())
}

fn interp((file, index): (&str, usize)) -> (ZvmRunner, InMemoryHost) {
    zvm(file, index, Tier::Interp)
}

fn jit((file, index): (&str, usize)) -> (ZvmRunner, InMemoryHost) {
    zvm(file, index, Tier::Jit)
}

fn revm((file, index): (&str, usize)) -> RevmRunner {
    EvmCase::nth(file, index).revm()
}

/// The same list of cases for every runner.
macro_rules! cases {
    ($(#[$attr:meta])* fn $name:ident($input:ident: $ty:ty) -> $ret:ty $body:block, setup = $setup:ident) => {
        #[library_benchmark]
        #[bench::fibonacci(args = (("contract-fixtures/fibonacci-calldata.json", 0)), setup = $setup)]
        #[bench::factorial(args = (("contract-fixtures/factorial.json", 0)), setup = $setup)]
        #[bench::snailtracer(args = (("contract-fixtures/snailtracer.json", 0)), setup = $setup)]
        #[bench::sha1_divs(args = (("evm-benchmarks/main/sha1_divs.json", 1)), setup = $setup)]
        #[bench::blake2b_shifts(args = (("evm-benchmarks/main/blake2b_shifts.json", 0)), setup = $setup)]
        #[bench::erc20_transfer(args = (("contract-fixtures/erc20_transfer.json", 0)), setup = $setup)]
        #[bench::weth(args = (("contract-fixtures/weth.json", 0)), setup = $setup)]
        #[bench::uniswap_v2_pair(args = (("contract-fixtures/uniswap_v2_pair.json", 0)), setup = $setup)]
        #[bench::seaport(args = (("contract-fixtures/seaport.json", 0)), setup = $setup)]
        $(#[$attr])*
        fn $name($input: $ty) -> $ret $body
    };
}

fn run_zvm((runner, mut state): (ZvmRunner, InMemoryHost)) -> (ZvmRunner, InMemoryHost) {
    black_box(runner.run(black_box(&mut state)));
    (runner, state)
}

cases! {
    fn zvm_interp(input: (ZvmRunner, InMemoryHost)) -> (ZvmRunner, InMemoryHost) {
        run_zvm(input)
    },
    setup = interp
}

cases! {
    fn zvm_jit(input: (ZvmRunner, InMemoryHost)) -> (ZvmRunner, InMemoryHost) {
        run_zvm(input)
    },
    setup = jit
}

cases! {
    fn revm_interp(runner: RevmRunner) -> RevmRunner {
        let mut runner = runner;
        black_box(runner.run());
        runner
    },
    setup = revm
}

library_benchmark_group!(name = evm; benchmarks = zvm_interp, zvm_jit, revm_interp);
main!(library_benchmark_groups = evm);
