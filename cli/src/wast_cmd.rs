//! `zvm wast`: runs WebAssembly spec scripts and reports each failing check on one line, then
//! `N passed, M failed` per tier and for the whole run (plus the SIMD files not run, with the reason).
//!
//! The work is `zvm_spectest`; this module only parses arguments and prints. A run with failures ends with
//! an error (non-zero exit status) after the summary.

use std::path::PathBuf;
use zvm_compiler::frontend::wasm::WasmConfig;
use zvm_runtime::executor::Tier;
use zvm_spectest::Report;

#[derive(clap::Args)]
pub struct WastArgs {
    /// `.wast` files, or directories of them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The tier to run on (`both`: every script on the interpreter and on compiled code).
    #[arg(long, default_value = "both", value_parser = ["interp", "jit", "both"])]
    tier: String,
    /// Print only the summary lines, not every failing check.
    #[arg(long)]
    quiet: bool,
    /// Leave NaN results as the machine makes them instead of canonicalising them (see `WasmConfig`).
    #[arg(long)]
    native_nans: bool,
}

pub fn wast(args: WastArgs) -> Result<(), String> {
    let tiers = match args.tier.as_str() {
        "both" => vec![Tier::Interp, Tier::Jit],
        one => vec![one.parse()?],
    };
    let mut files = Vec::new();
    let mut simd = Vec::new();
    for path in &args.paths {
        if path.is_dir() {
            let (run, skipped) = zvm_spectest::scripts(path).map_err(|e| format!("{}: {e}", path.display()))?;
            files.extend(run);
            simd.extend(skipped);
        } else {
            files.push(path.clone());
        }
    }
    let config = WasmConfig { canonicalize_nans: !args.native_nans, ..WasmConfig::default() };
    let mut total = Report::default();
    for &tier in &tiers {
        let mut per_tier = Report::default();
        for file in &files {
            let report = zvm_spectest::run_file(file, tier, &config);
            if !args.quiet {
                for f in &report.failures {
                    println!("FAIL [{tier}] {f}");
                }
            }
            per_tier.merge(report);
        }
        println!("{tier}: {} passed, {} failed", per_tier.passed, per_tier.failed);
        total.merge(per_tier);
    }
    if !simd.is_empty() {
        println!("{} SIMD files not run (zvm rejects SIMD modules)", simd.len());
    }
    println!("{} passed, {} failed", total.passed, total.failed);
    match total.failed {
        0 => Ok(()),
        n => Err(format!("{n} check{} failed", if n == 1 { "" } else { "s" })),
    }
}
