//! `zvm compile` and `zvm cache`: filling and inspecting the on-disk cache of compiled objects.
//!
//! `compile` runs the same path as `zvm run --tier aot` ([`executor::compile_cached`]), so a cache it fills
//! is the one `run` uses; `-o` also (or, with `--no-cache`, only) writes each object as `<name>.o`.

use crate::read_code;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};
use zvm_cache::store::DEFAULT_MAX_BYTES;
use zvm_cache::{Cache, CacheError};
use zvm_compiler::cranelift::Target;
use zvm_compiler::frontend::wasm::WasmError;
use zvm_runtime::executor::{self, CacheOutcome, LoadError};
use zvm_runtime::Limits;

/// File extensions `compile` picks up in a directory.
const CONTRACT_EXTS: [&str; 7] = ["zasm", "zvm", "evm", "bin", "hex", "wasm", "wat"];

#[derive(clap::Args)]
pub struct CompileArgs {
    /// Contract files, or directories: every `.zasm`, `.zvm`, `.evm`, `.bin`, `.hex`, `.wasm` and `.wat` file
    /// directly inside (WebAssembly modules there that are not contracts are listed as skipped).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The architecture to compile for (default: the host's).
    #[arg(long, value_parser = ["x86_64", "aarch64"])]
    target: Option<String>,
    /// The cache directory (default: `$XDG_CACHE_HOME/zvm` or `$HOME/.cache/zvm`).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Also write each object to this directory as `<name>.o`.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Do not use the cache: only write the objects to `-o`.
    #[arg(long, requires = "output")]
    no_cache: bool,
    /// Bytecode format of files that do not say (default: `evm` for `.evm` files, else `zvm`; WebAssembly
    /// modules always say).
    #[arg(long, value_parser = ["evm", "zvm", "wasm"])]
    format: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum CacheAction {
    /// Number of entries and their total size.
    Stats,
    /// Every entry: key, size and last use (least recently used first).
    Ls,
    /// Check every entry; remove the damaged ones.
    Verify,
    /// Remove every entry.
    Clear,
}

#[derive(clap::Args)]
pub struct CacheArgs {
    /// What to do.
    action: CacheAction,
    /// The cache directory (default: `$XDG_CACHE_HOME/zvm` or `$HOME/.cache/zvm`).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
}

/// Opens the cache in `dir`, or in the default directory.
pub fn open_cache(dir: Option<PathBuf>) -> Result<Cache, String> {
    let dir = match dir {
        Some(d) => d,
        None => zvm_cache::default_dir().map_err(|e| match e {
            CacheError::NoDefaultDir => "no cache directory: set XDG_CACHE_HOME or HOME, or pass --cache-dir".into(),
            other => other.to_string(),
        })?,
    };
    Cache::open(dir, DEFAULT_MAX_BYTES).map_err(|e| format!("cache: {e}"))
}

fn parse_target(name: Option<&str>) -> Result<Target, String> {
    match name {
        Some("x86_64") => Ok(Target::X86_64),
        Some("aarch64") => Ok(Target::Aarch64),
        Some(other) => Err(format!("unknown target `{other}`")),
        None => Target::host().ok_or_else(|| "the host architecture has no backend: pass --target".into()),
    }
}

/// The files `inputs` name: files as given, directories expanded (sorted) to their contract files; each
/// with whether it was found in a directory (rather than named).
fn collect_inputs(inputs: &[PathBuf]) -> Result<Vec<(PathBuf, bool)>, String> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found = Vec::new();
            for item in std::fs::read_dir(input).map_err(|e| format!("{}: {e}", input.display()))? {
                let path = item.map_err(|e| format!("{}: {e}", input.display()))?.path();
                if path.is_file() && is_contract(&path) {
                    found.push(path);
                }
            }
            if found.is_empty() {
                let exts: Vec<String> = CONTRACT_EXTS.iter().map(|e| format!(".{e}")).collect();
                return Err(format!("{}: no contract files ({}) in this directory", input.display(), exts.join(", ")));
            }
            found.sort();
            files.extend(found.into_iter().map(|f| (f, true)));
        } else {
            files.push((input.clone(), false));
        }
    }
    Ok(files)
}

struct Compiled {
    name: String,
    outcome: String,
    bytes: usize,
    time: Duration,
}

pub fn compile(args: CompileArgs) -> Result<(), String> {
    let target = parse_target(args.target.as_deref())?;
    let files = collect_inputs(&args.inputs)?;
    let cache = if args.no_cache { None } else { Some(open_cache(args.cache_dir)?) };
    if let Some(out) = &args.output {
        std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    let mut names = HashSet::new();
    for (f, _) in &files {
        let object = object_name(f);
        if args.output.is_some() && !names.insert(object.clone()) {
            return Err(format!("two inputs would both be written as `{object}`"));
        }
    }

    let limits = Limits::default();
    let bar = if files.len() > 1 {
        let style = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").expect("a valid template");
        ProgressBar::new(files.len() as u64).with_style(style)
    } else {
        ProgressBar::hidden()
    };
    let started = Instant::now();
    let mut done = Vec::with_capacity(files.len());
    // Plain WebAssembly modules found in a directory, by name.
    let mut skipped = Vec::new();
    for (file, in_directory) in &files {
        let name = file.file_name().unwrap_or_default().to_string_lossy().into_owned();
        bar.set_message(name.clone());
        let start = Instant::now();
        let fail = |e: String| format!("{}: {e}", file.display());
        let bytes = read_code(file)?;
        let format = crate::code_format(file, &bytes, args.format.as_deref())?;
        let compiled = match &cache {
            Some(cache) => {
                executor::compile_cached(format, &bytes, target, &limits, cache).map(|(_, object, outcome)| {
                    let outcome = match outcome {
                        CacheOutcome::Hit => "cached".to_string(),
                        CacheOutcome::Miss => "compiled".to_string(),
                        rejected => rejected.to_string(),
                    };
                    (object, outcome)
                })
            }
            None => executor::compile_object(format, &bytes, target, &limits).map(|o| (o, "compiled".to_string())),
        };
        let (object, outcome) = match compiled {
            Ok(done) => done,
            // A directory may hold plain WebAssembly modules besides contracts.
            Err(LoadError::Wasm(WasmError::NotAContract(_))) if *in_directory => {
                skipped.push(name);
                bar.inc(1);
                continue;
            }
            Err(e) => return Err(fail(e.to_string())),
        };
        if let Some(out) = &args.output {
            let path = out.join(object_name(file));
            std::fs::write(&path, &object).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        done.push(Compiled { name, outcome, bytes: object.len(), time: start.elapsed() });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let total = started.elapsed();

    let width = done.iter().map(|c| c.name.len()).chain(skipped.iter().map(String::len)).max().unwrap_or(0);
    for c in &done {
        println!("{:width$}  {:8}  {:>8} bytes  {:>8.2} ms", c.name, c.outcome, c.bytes, ms(c.time));
    }
    for name in &skipped {
        println!("{name:width$}  skipped: not a contract");
    }
    let bytes: usize = done.iter().map(|c| c.bytes).sum();
    let n = done.len();
    let cached = done.iter().filter(|c| c.outcome == "cached").count();
    println!(
        "{n} contract{} for {} ({} compiled, {cached} from the cache): {bytes} bytes of objects, {:.2} ms per contract",
        if n == 1 { "" } else { "s" },
        target.triple(),
        n - cached,
        ms(total) / n.max(1) as f64,
    );
    match (&cache, &args.output) {
        (Some(c), Some(o)) => println!("cache: {}; objects: {}", c.dir().display(), o.display()),
        (Some(c), None) => println!("cache: {}", c.dir().display()),
        (None, Some(o)) => println!("objects: {}", o.display()),
        (None, None) => {}
    }
    Ok(())
}

/// The name of the object written for `file` with `-o`: its file name with `.o` added (`fib.zasm.o`), so
/// that contracts differing only in format (`fib.zasm`, `fib.evm`) keep apart.
fn object_name(file: &Path) -> String {
    format!("{}.o", file.file_name().unwrap_or_default().to_string_lossy())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn cache(args: CacheArgs) -> Result<(), String> {
    let cache = open_cache(args.cache_dir)?;
    let err = |e: CacheError| format!("cache: {e}");
    match args.action {
        CacheAction::Stats => {
            let s = cache.stats().map_err(err)?;
            println!("directory: {}", cache.dir().display());
            println!("entries:   {}", s.entries);
            println!("bytes:     {} (bound {})", s.bytes, cache.max_bytes());
        }
        CacheAction::Ls => {
            for e in cache.entries().map_err(err)? {
                println!("{}  {:>9} bytes  {}", e.key, e.size, utc(e.modified));
            }
        }
        CacheAction::Verify => {
            let report = cache.verify().map_err(err)?;
            for (key, why) in &report.removed {
                println!("removed {key}: {why}");
            }
            println!("{} entries ok, {} damaged and removed", report.ok, report.removed.len());
        }
        CacheAction::Clear => {
            let s = cache.clear().map_err(err)?;
            println!("removed {} entries ({} bytes) from {}", s.entries, s.bytes, cache.dir().display());
        }
    }
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS UTC`.
fn utc(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Whether `path` names something `compile` picks up from a directory.
fn is_contract(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| CONTRACT_EXTS.contains(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        let at = |s: u64| utc(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(at(1_764_078_245), "2025-11-25 13:44:05 UTC");
    }
}
