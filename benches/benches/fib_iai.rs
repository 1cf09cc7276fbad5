//! Instruction counts (callgrind) of the fibonacci loop on both zvm tiers and in native Rust. Contract
//! preparation happens in `setup`, outside the measured function.

use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use std::hint::black_box;
use zvm_benches::{fib_contract, native_fib, run_fib};
use zvm_runtime::executor::{Contract, Tier};
use zvm_runtime::ExecResult;

const N: u64 = 10_000;

#[library_benchmark]
#[bench::interp(args = (Tier::Interp), setup = fib_contract)]
#[bench::jit(args = (Tier::Jit), setup = fib_contract)]
fn fib_zvm(contract: Contract) -> ExecResult {
    black_box(run_fib(&contract, black_box(N)))
}

#[library_benchmark]
fn fib_native() -> ruint::aliases::U256 {
    black_box(native_fib(black_box(N)))
}

library_benchmark_group!(name = fib; benchmarks = fib_zvm, fib_native);
main!(library_benchmark_groups = fib);
