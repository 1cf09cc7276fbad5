//! The WebAssembly spec suite (`../shared/wasm-testsuite`, not part of the repository) on both tiers.
//!
//! Every non-SIMD script, cross-module linking included, must pass completely on the interpreter and on
//! compiled code (a regression fails the test), and the SIMD scripts are reported as not run.

use std::path::{Path, PathBuf};
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
            let report = run_file(file, tier);
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
