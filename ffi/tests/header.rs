//! The committed header `ffi/include/zvm.h` is what cbindgen makes of the crate's sources today.
//!
//! With `ZVM_BLESS_HEADER=1` the test writes the header instead of comparing it.

use std::path::Path;

#[test]
fn the_committed_header_matches_the_sources() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("ffi/cbindgen.toml");
    // From the source file rather than the crate: no `cargo metadata` (and no lock on the build directory).
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let header = crate_dir.join("include/zvm.h");
    if std::env::var_os("ZVM_BLESS_HEADER").is_some() {
        std::fs::write(&header, &generated).expect("writing ffi/include/zvm.h");
        return;
    }
    let committed = std::fs::read(&header).unwrap_or_default();
    assert!(
        committed == generated,
        "ffi/include/zvm.h is out of date with ffi/src: run `ZVM_BLESS_HEADER=1 cargo test -p zvm-ffi --test header` \
         and commit the header"
    );
}
