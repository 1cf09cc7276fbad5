//! A quick markdown table of the WebAssembly benchmarks (see `zvm_benches::wasm`): each workload on each
//! engine, timed run by run (the median of a few runs, after one checked warm-up run), then the ratios
//! worth quoting: zvm metered against wasmtime, the cost of metering (metered against unmetered), zvm
//! against wasmi and against native Rust. A ratio above 1 means zvm takes longer.
//!
//! What is timed: by default the CPU time of the thread during the run (`CLOCK_THREAD_CPUTIME_ID`), so
//! that other processes on a busy machine do not inflate a run that waited for a CPU; `--wall` times with
//! `Instant` instead. Every workload runs on the calling thread on every engine (zvm moves only modules
//! that may need more than 256 KiB of native stack to a thread of their own: none of these). The wall time
//! of each median run is printed as it is measured, on stderr.
//!
//! ```text
//! cargo run --release -p zvm-benches --bin wasm_table
//! cargo run --release -p zvm-benches --bin wasm_table -- --reps 11 fib sieve   # more runs, some workloads
//! cargo run --release -p zvm-benches --bin wasm_table -- --engine zvm_jit_metered --reps 100 fib  # to profile
//! ```
//!
//! For statistics, use the criterion bench (`cargo bench -p zvm-benches --bench wasm`), which measures
//! exactly the same runs.

use std::collections::HashMap;
use std::time::{Duration, Instant};
use zvm_benches::wasm::{Engine, Runner, Workload, WORKLOADS};

fn main() {
    let mut reps = 5usize;
    let mut wall = false;
    let mut only = Vec::new();
    let mut engines = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--reps" => reps = args.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0).expect("--reps N (N > 0)"),
            "--wall" => wall = true,
            "--engine" => {
                let id = args.next().unwrap_or_default();
                let engine = Engine::ALL.into_iter().find(|e| e.id() == id);
                engines.push(
                    engine.unwrap_or_else(|| panic!("--engine {id}: not one of {:?}", Engine::ALL.map(Engine::id))),
                );
            }
            "-h" | "--help" => {
                println!("usage: wasm_table [--reps N] [--wall] [--engine ENGINE]... [WORKLOAD...]");
                println!("  workloads: {}", names().join(", "));
                println!("  engines: {}", Engine::ALL.map(Engine::id).join(", "));
                return;
            }
            name => only.push(Workload::named(name)),
        }
    }
    let workloads = if only.is_empty() { WORKLOADS.to_vec() } else { only };
    let engines = if engines.is_empty() { Engine::ALL.to_vec() } else { engines };

    let cpu = !wall && cpu_time().is_some();
    let mut times: HashMap<(&str, Engine), Duration> = HashMap::new();
    for workload in &workloads {
        for &engine in &engines {
            let Some(mut runner) = Runner::new_or_skip(engine, workload) else { continue };
            // (time measured, wall time) of each run.
            let mut runs: Vec<(Duration, Duration)> = (0..reps)
                .map(|_| {
                    let (on_cpu, start) = (cpu_time(), Instant::now());
                    std::hint::black_box(runner.run());
                    let elapsed = start.elapsed();
                    match (cpu, on_cpu, cpu_time()) {
                        (true, Some(before), Some(after)) => (after - before, elapsed),
                        _ => (elapsed, elapsed),
                    }
                })
                .collect();
            runs.sort();
            let (median, median_wall) = runs[runs.len() / 2];
            eprintln!("wasm/{}/{engine}: {} ms ({} ms wall)", workload.name, ms(median), ms(median_wall));
            times.insert((workload.name, engine), median);
        }
    }

    let what = if cpu { "CPU time of the thread" } else { "wall time" };
    println!("\nMedian of {reps} runs, milliseconds per call ({what}):\n");
    print!("| workload | size |");
    for engine in &engines {
        print!(" {engine} |");
    }
    print!("\n|---|---:|");
    for _ in &engines {
        print!("---:|");
    }
    println!();
    for w in &workloads {
        print!("| {} | {} |", w.name, w.size);
        for &engine in &engines {
            print!(" {} |", times.get(&(w.name, engine)).map_or("–".into(), |&t| ms(t)));
        }
        println!();
    }

    use Engine::*;
    let ratios = [
        ("zvm metered / wasmtime", ZvmJitMetered, Wasmtime),
        ("zvm unmetered / wasmtime", ZvmJitUnmetered, Wasmtime),
        ("zvm unmetered / wasmtime checked", ZvmJitUnmetered, WasmtimeChecked),
        ("metered / unmetered (gas)", ZvmJitMetered, ZvmJitUnmetered),
        ("zvm metered / wasmi", ZvmJitMetered, Wasmi),
        ("zvm interp / wasmi", ZvmInterp, Wasmi),
        ("zvm metered / native", ZvmJitMetered, Native),
        ("wasmtime / native", Wasmtime, Native),
    ];
    println!("\nRatios of those times (above 1: the first is slower):\n");
    print!("| workload |");
    for (name, _, _) in ratios {
        print!(" {name} |");
    }
    print!("\n|---|");
    for _ in ratios {
        print!("---:|");
    }
    println!();
    for w in &workloads {
        print!("| {} |", w.name);
        for (_, a, b) in ratios {
            let ratio = match (times.get(&(w.name, a)), times.get(&(w.name, b))) {
                (Some(a), Some(b)) => format!("{:.2}", a.as_secs_f64() / b.as_secs_f64()),
                _ => "–".into(),
            };
            print!(" {ratio} |");
        }
        println!();
    }
}

/// CPU time of the calling thread.
fn cpu_time() -> Option<Duration> {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid, writable timespec.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } == 0;
    ok.then(|| Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
}

fn ms(t: Duration) -> String {
    format!("{:.3}", t.as_secs_f64() * 1e3)
}

fn names() -> Vec<&'static str> {
    WORKLOADS.iter().map(|w| w.name).collect()
}
