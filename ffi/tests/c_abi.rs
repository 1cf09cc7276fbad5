//! The C ABI from C: `tests/c/smoke.c`, compiled with gcc against `include/zvm.h` and the libraries cargo
//! built for this run (`libzvm.a` and `libzvm.so`, which cargo builds with the crate's tests since they are
//! crate types of its library), passes linked either way, and passes under valgrind with no leak and no
//! invalid access (`tests/valgrind.supp` suppresses one allocation of Rust's standard library, and says
//! why).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The libraries' directory, `target/<profile>/deps`: this test runs as `target/<profile>/deps/c_abi-<hash>`,
/// and `cargo test` leaves the libraries it built for this run next to it (only `cargo build` copies them up
/// to `target/<profile>`, where a stale pair from an earlier build may lie).
fn libraries_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    exe.parent().expect("the test runs from target/<profile>/deps").to_owned()
}

/// Runs `command` and fails the test, with its output, unless it succeeds.
fn run(mut command: Command) {
    let output = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Compiles smoke.c to `out`, linked with `link`.
fn compile(out: &Path, link: &[&OsStr]) {
    let ffi = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut gcc = Command::new("gcc");
    gcc.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-O0", "-I"])
        .arg(ffi.join("include"))
        .arg(ffi.join("tests/c/smoke.c"))
        .arg("-o")
        .arg(out)
        .args(link);
    run(gcc);
}

/// smoke.c's arguments: the examples directory and a fresh working directory, `dir/name`.
fn smoke_args(dir: &Path, name: &str) -> [PathBuf; 2] {
    let work = dir.join(name);
    std::fs::create_dir(&work).expect("a working directory");
    [Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples"), work]
}

#[test]
fn smoke_c_program_runs_linked_statically_and_dynamically_and_clean_under_valgrind() {
    let lib_dir = libraries_dir();
    for lib in ["libzvm.a", "libzvm.so"] {
        assert!(lib_dir.join(lib).exists(), "{} missing: cargo builds it with the tests", lib_dir.join(lib).display());
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = |name: &str| dir.path().join(name);

    let static_lib = lib_dir.join("libzvm.a");
    // The system libraries the Rust standard library needs (`rustc --print native-static-libs` on Linux).
    let system = ["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"].map(OsStr::new);
    compile(&path("smoke-static"), &[&[static_lib.as_os_str()], &system[..]].concat());
    let mut rpath = std::ffi::OsString::from("-Wl,-rpath,");
    rpath.push(&lib_dir);
    let mut search = std::ffi::OsString::from("-L");
    search.push(&lib_dir);
    compile(&path("smoke-dynamic"), &[&search, OsStr::new("-lzvm"), &rpath]);

    for program in ["smoke-static", "smoke-dynamic"] {
        let mut smoke = Command::new(path(program));
        smoke.args(smoke_args(dir.path(), &format!("{program}.work")));
        run(smoke);
    }

    if Command::new("valgrind").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "valgrind is missing, and CI needs this check");
        eprintln!("SKIPPED: valgrind is not installed; the smoke program ran without it");
        return;
    }
    let mut suppressions = std::ffi::OsString::from("--suppressions=");
    suppressions.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/valgrind.supp"));
    let mut valgrind = Command::new("valgrind");
    valgrind
        .args(["--leak-check=full", "--error-exitcode=1", "--quiet"])
        .arg(suppressions)
        .arg(path("smoke-dynamic"))
        .args(smoke_args(dir.path(), "valgrind"));
    run(valgrind);
}
