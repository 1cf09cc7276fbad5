//! What the CLI's server tests share: `zvm serve` started as a child process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts `zvm serve` (interpreter tier) on a free loopback port with database `db` and token `token`;
/// returns the child and the address it listens on.
pub fn serve(db: &Path, token: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zvm"))
        .args(["serve", "--listen", "127.0.0.1:0", "--tier", "interp", "--db"])
        .arg(db)
        .env("ZVM_TOKEN", token)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    // Keep reading: a closed pipe would make the server's next line fail.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let addr = line.strip_prefix("listening on ").unwrap_or_else(|| panic!("zvm serve said {line:?}"));
    (child, addr.trim().to_owned())
}
