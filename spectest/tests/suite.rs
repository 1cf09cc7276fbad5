//! The WebAssembly spec suite (`../shared/wasm-testsuite`, not part of the repository) on both tiers.
//!
//! Every non-SIMD script, cross-module linking included, must pass completely on the interpreter and on
//! compiled code (a regression fails the test), and the SIMD scripts are reported as not run.

use std::path::{Path, PathBuf};
use zvm_compiler::frontend::wasm::WasmConfig;
use zvm_runtime::executor::Tier;
use zvm_spectest::{run_file, scripts, Report};

fn suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/wasm-testsuite")
}

#[test]
fn every_non_simd_script_passes_on_both_tiers() {
    let (files, simd) = scripts(&suite()).expect("the spec suite is readable");
    let mut failures = Vec::new();
    let mut totals = [Report::default(), Report::default()];
    for file in &files {
        for (tier, total) in [Tier::Interp, Tier::Jit].into_iter().zip(&mut totals) {
            let report = run_file(file, tier, &WasmConfig::default());
            failures.extend(report.failures.iter().map(|f| format!("[{tier}] {f}")));
            total.merge(report);
        }
    }
    for (tier, t) in ["interp", "jit"].iter().zip(&totals) {
        println!("{tier}: {} passed, {} failed", t.passed, t.failed);
    }
    println!("{} SIMD files not run", simd.len());
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
    // The linking scripts are part of it (a missing file would make the suite pass vacuously).
    let names: Vec<_> = files.iter().filter_map(|f| f.file_stem()?.to_str()).collect();
    for script in ["linking", "imports", "elem", "ref_func", "table_copy", "table_init"] {
        assert!(names.contains(&script), "{script}.wast is missing from the suite");
    }
    assert!(
        files.len() >= 84 && totals[0].passed > 26_000,
        "only {} scripts, {} checks ran",
        files.len(),
        totals[0].passed
    );
}

/// With NaN canonicalisation off, compiled code's NaNs are the machine's; the suite's NaN checks
/// (`nan:canonical` and `nan:arithmetic`, which allow either sign) must still pass on every float script.
#[test]
fn float_scripts_pass_with_native_nans() {
    let config = WasmConfig { canonicalize_nans: false, ..WasmConfig::default() };
    let (files, _) = scripts(&suite()).expect("the spec suite is readable");
    let floats: Vec<_> = files
        .iter()
        .filter(|f| {
            let name = f.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            name.starts_with("f32") || name.starts_with("f64") || name.starts_with("float") || name == "conversions"
        })
        .collect();
    assert!(floats.len() >= 10, "only {} float scripts", floats.len());
    let mut failures = Vec::new();
    let mut total = Report::default();
    for file in floats {
        let report = run_file(file, Tier::Jit, &config);
        failures.extend(report.failures.iter().cloned());
        total.merge(report);
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
    assert!(total.passed > 5_000, "only {} checks ran", total.passed);
}
