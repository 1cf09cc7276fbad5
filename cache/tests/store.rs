//! The on-disk cache: entries round-trip; any damage (every single-byte change, every truncation) reads as
//! a miss and removes the file; keys separate every input; eviction keeps the bound and drops the least
//! recently used; two processes filling one cache at once both succeed; and `Contract::load_cached` runs
//! cached code exactly like the JIT, recompiling when the loader rejects an entry.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};
use zvm_cache::store::{encode, HEADER_LEN};
use zvm_cache::{BytecodeFormat, Cache, CacheError, CacheKey, KeyInputs};
use zvm_compiler::cranelift::{JitOptions, Target};
use zvm_compiler::frontend::zvm::asm;
use zvm_ir::U256;
use zvm_runtime::executor::{self, CacheOutcome, CodeFormat, Contract, Tier, ZVM_GAS_SCHEDULE};
use zvm_runtime::{Address, InMemoryHost, Limits, Message};

fn key(n: u8) -> CacheKey {
    CacheKey([n; 32])
}

fn object(n: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31) ^ n).collect()
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn round_trip_stats_and_listing() {
    let tmp = temp_dir("round-trip");
    let cache = Cache::open(tmp.path().join("nested/dir"), 1 << 20).unwrap();
    assert_eq!(cache.get(&key(1)).unwrap(), None);
    cache.put(&key(1), &object(1, 100)).unwrap();
    cache.put(&key(2), &object(2, 0)).unwrap();
    assert_eq!(cache.get(&key(1)).unwrap(), Some(object(1, 100)));
    assert_eq!(cache.get(&key(2)).unwrap(), Some(vec![]));
    // Overwriting is allowed (the same key always means the same code; the last write wins).
    cache.put(&key(1), &object(1, 100)).unwrap();
    let stats = cache.stats().unwrap();
    assert_eq!((stats.entries, stats.bytes), (2, (2 * HEADER_LEN + 100) as u64));
    let mut keys: Vec<CacheKey> = cache.entries().unwrap().iter().map(|e| e.key).collect();
    keys.sort();
    assert_eq!(keys, [key(1), key(2)]);
    assert_eq!(files(cache.dir()), [format!("{}.zo", key(1)), format!("{}.zo", key(2))], "no temporary files left");

    // Foreign files in the directory are not entries, and survive everything but their own name.
    fs::write(cache.dir().join("notes.txt"), "hello").unwrap();
    assert_eq!(cache.stats().unwrap().entries, 2);
    let report = cache.verify().unwrap();
    assert_eq!((report.ok, report.removed.len()), (2, 0));
    let cleared = cache.clear().unwrap();
    assert_eq!(cleared, stats);
    assert_eq!(files(cache.dir()), ["notes.txt"]);
    assert_eq!(cache.get(&key(1)).unwrap(), None);
}

#[test]
fn every_corrupted_byte_and_every_truncation_is_a_miss_and_removed() {
    let tmp = temp_dir("corrupt");
    let cache = Cache::open(tmp.path(), 1 << 20).unwrap();
    let (k, obj) = (key(9), object(9, 24));
    let good = encode(&k, &obj);
    let path = cache.path(&k);
    let mut cases = 0;
    for offset in 0..good.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[offset] ^= flip;
            fs::write(&path, &bad).unwrap();
            assert_eq!(cache.get(&k).unwrap(), None, "byte {offset} ^ {flip:#x} was accepted");
            assert!(!path.exists(), "byte {offset} ^ {flip:#x}: the damaged entry was kept");
            cases += 1;
        }
    }
    for len in 0..good.len() {
        fs::write(&path, &good[..len]).unwrap();
        assert_eq!(cache.get(&k).unwrap(), None, "truncated to {len} was accepted");
        assert!(!path.exists(), "truncated to {len}: kept");
        cases += 1;
    }
    // Appended bytes, another key's intact entry under this name, and a foreign file are all misses too.
    let mut longer = good.clone();
    longer.push(0);
    for bad in [longer, encode(&key(10), &obj), b"\x7fELF not a cache entry".to_vec()] {
        fs::write(&path, &bad).unwrap();
        assert_eq!(cache.get(&k).unwrap(), None);
        assert!(!path.exists());
        cases += 1;
    }
    assert_eq!(cases, good.len() * 4 + 3);
    // verify() finds and removes the same damage without a get.
    cache.put(&k, &obj).unwrap();
    cache.put(&key(11), &obj).unwrap();
    let mut bad = good.clone();
    bad[HEADER_LEN + 3] ^= 1;
    fs::write(&path, &bad).unwrap();
    let report = cache.verify().unwrap();
    assert_eq!(report.ok, 1);
    assert_eq!(report.removed.len(), 1);
    assert_eq!(report.removed[0].0, k);
    assert!(report.removed[0].1.contains("checksum"), "{:?}", report.removed);
    assert!(!path.exists());
    // Finally the intact entry is still served.
    fs::write(&path, &good).unwrap();
    assert_eq!(cache.get(&k).unwrap(), Some(obj));
}

#[test]
fn a_change_of_any_key_input_misses() {
    let tmp = temp_dir("keys");
    let cache = Cache::open(tmp.path(), 1 << 20).unwrap();
    let code = b"\x60\x01\x60\x02\x01";
    let host = Target::host().unwrap_or(Target::X86_64);
    let other = if host == Target::X86_64 { Target::Aarch64 } else { Target::X86_64 };
    let opts = JitOptions::default();
    let inputs = KeyInputs::new(code, BytecodeFormat::Zvm, host, &opts, ZVM_GAS_SCHEDULE).unwrap();
    cache.put(&inputs.key(), b"the object").unwrap();
    assert_eq!(cache.get(&inputs.key()).unwrap().as_deref(), Some(&b"the object"[..]));
    let variants = [
        KeyInputs { gas_schedule: b"zvm-gas-schedule/2", ..inputs.clone() },
        KeyInputs { zvm_version: "99.0.0", ..inputs.clone() },
        KeyInputs { codegen_version: inputs.codegen_version + 1, ..inputs.clone() },
        KeyInputs { abi_version: inputs.abi_version + 1, ..inputs.clone() },
        KeyInputs { format: BytecodeFormat::Evm, ..inputs.clone() },
        KeyInputs { bytecode: b"\x60\x01\x60\x02\x02", ..inputs.clone() },
        KeyInputs::new(code, BytecodeFormat::Zvm, other, &opts, ZVM_GAS_SCHEDULE).unwrap(),
    ];
    for v in &variants {
        assert_ne!(v.key(), inputs.key(), "{v:?}");
        assert_eq!(cache.get(&v.key()).unwrap(), None, "{v:?} hit");
    }
    assert_eq!(cache.stats().unwrap().entries, 1, "misses on other keys leave the entry alone");
    assert_eq!(executor::cache_key(CodeFormat::Zvm, code, host).unwrap(), inputs.key());
}

fn set_mtime(cache: &Cache, k: &CacheKey, secs_ago: u64) {
    let f = fs::File::options().write(true).open(cache.path(k)).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(secs_ago)).unwrap();
}

#[test]
fn eviction_keeps_the_bound_and_drops_the_least_recently_used() {
    let tmp = temp_dir("evict");
    let entry = (HEADER_LEN + 1000) as u64;
    let cache = Cache::open(tmp.path(), 3 * entry + 10).unwrap();
    for n in 0..3 {
        cache.put(&key(n), &object(n, 1000)).unwrap();
        set_mtime(&cache, &key(n), 1000 - u64::from(n) * 100); // key 0 oldest
    }
    assert_eq!(cache.stats().unwrap().entries, 3);
    // A hit makes key 0 the most recently used: key 1 is now the oldest.
    assert!(cache.get(&key(0)).unwrap().is_some());
    cache.put(&key(3), &object(3, 1000)).unwrap();
    let stats = cache.stats().unwrap();
    assert!(stats.bytes <= cache.max_bytes(), "{stats:?}");
    let mut left: Vec<CacheKey> = cache.entries().unwrap().iter().map(|e| e.key).collect();
    left.sort();
    assert_eq!(left, [key(0), key(2), key(3)]);

    // A bigger entry evicts as many as needed, oldest first, and never itself.
    set_mtime(&cache, &key(0), 50);
    set_mtime(&cache, &key(2), 500);
    set_mtime(&cache, &key(3), 5);
    cache.put(&key(4), &object(4, 2000)).unwrap();
    let mut left: Vec<CacheKey> = cache.entries().unwrap().iter().map(|e| e.key).collect();
    left.sort();
    assert_eq!(left, [key(3), key(4)]);
    assert!(cache.stats().unwrap().bytes <= cache.max_bytes());

    // An entry larger than the whole bound is refused, not stored.
    assert!(matches!(cache.put(&key(5), &object(5, 4000)), Err(CacheError::TooLarge { .. })));
    assert_eq!(cache.get(&key(5)).unwrap(), None);
    assert_eq!(files(cache.dir()).len(), 2, "no temporary file left behind");
}

const WRITER_ENV: &str = "ZVM_CACHE_TEST_WRITER";
const SHARED: u8 = 40;
const OWN: u8 = 40;

/// The object every writer stores under `key(n)`: the same for the shared keys, as in a real cache.
fn concurrent_object(n: u8) -> Vec<u8> {
    object(n, 2000 + usize::from(n) * 37)
}

/// Not a test on its own: the body of a child process of `two_processes_fill_one_cache_at_once`.
#[test]
fn writer_child() {
    let Ok(spec) = std::env::var(WRITER_ENV) else { return };
    let (id, dir) = spec.split_once(':').expect("id:dir");
    let id: u8 = id.parse().unwrap();
    let cache = Cache::open(dir, 1 << 30).unwrap();
    let own_base = SHARED + id * OWN;
    for round in 0..3 {
        for i in 0..SHARED.max(OWN) {
            let keys = [(i < SHARED).then_some(i), (i < OWN).then_some(own_base + i)];
            for n in keys.into_iter().flatten() {
                if round > 0 || (n + id).is_multiple_of(2) {
                    cache.put(&key(n), &concurrent_object(n)).unwrap();
                }
                // Readers never see a partial entry: whatever they get is the whole, right object.
                if let Some(got) = cache.get(&key(n)).unwrap() {
                    assert_eq!(got, concurrent_object(n), "key {n}");
                }
            }
        }
    }
}

#[test]
fn two_processes_fill_one_cache_at_once() {
    if std::env::var(WRITER_ENV).is_ok() {
        return;
    }
    let tmp = temp_dir("concurrent");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2u8)
        .map(|id| {
            Command::new(&exe)
                .args(["--exact", "writer_child", "--test-threads=1"])
                .env(WRITER_ENV, format!("{id}:{}", tmp.path().display()))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (id, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "writer {id} failed: {:?}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let cache = Cache::open(tmp.path(), 1 << 30).unwrap();
    let report = cache.verify().unwrap();
    assert!(report.removed.is_empty(), "{:?}", report.removed);
    let expected = usize::from(SHARED) + 2 * usize::from(OWN);
    assert_eq!(report.ok, expected);
    for n in 0..SHARED + 2 * OWN {
        assert_eq!(cache.get(&key(n)).unwrap(), Some(concurrent_object(n)), "key {n}");
    }
    assert_eq!(files(cache.dir()).len(), expected, "no temporary files left");
}

fn fib_code() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/fib.zasm");
    asm::assemble(&fs::read_to_string(path).unwrap()).unwrap()
}

fn run_fib(contract: &Contract, n: u64) -> (Vec<u8>, u64) {
    let limits = Limits::default();
    let msg = Message {
        caller: Address::from_low_u64(0xCA11),
        address: Address::from_low_u64(0xC0DE),
        input: U256::from(n).to_be_bytes::<32>().to_vec(),
        gas_limit: 1_000_000,
        ..Message::default()
    };
    let r = contract.run(&msg, &mut InMemoryHost::new(), &limits);
    assert!(r.status.is_success(), "{:?}", r.status);
    (r.output, r.gas_used)
}

#[test]
fn load_cached_compiles_once_and_recompiles_what_the_loader_rejects() {
    if Target::host().is_none() {
        return;
    }
    let tmp = temp_dir("load-cached");
    let cache = Cache::open(tmp.path(), 1 << 24).unwrap();
    let limits = Limits::default();
    let code = fib_code();
    let jit = run_fib(&Contract::load(&code, Tier::Jit, &limits).unwrap(), 50);

    let (first, outcome) = Contract::load_cached(CodeFormat::Zvm, &code, &limits, &cache).unwrap();
    assert_eq!(outcome, CacheOutcome::Miss);
    assert_eq!(first.tier(), Tier::Aot);
    assert_eq!(run_fib(&first, 50), jit);
    let (second, outcome) = Contract::load_cached(CodeFormat::Zvm, &code, &limits, &cache).unwrap();
    assert_eq!(outcome, CacheOutcome::Hit);
    assert_eq!(run_fib(&second, 50), jit);

    // An intact entry whose object the loader refuses (here: not ELF at all) is removed and replaced.
    let key = executor::cache_key(CodeFormat::Zvm, &code, Target::host().unwrap()).unwrap();
    cache.put(&key, b"not an object").unwrap();
    let (third, outcome) = Contract::load_cached(CodeFormat::Zvm, &code, &limits, &cache).unwrap();
    assert!(matches!(outcome, CacheOutcome::Rejected(_)), "{outcome:?}");
    assert_eq!(run_fib(&third, 50), jit);
    assert_eq!(Contract::load_cached(CodeFormat::Zvm, &code, &limits, &cache).unwrap().1, CacheOutcome::Hit);

    // compile_cached shares the entry; for the other architecture it makes its own.
    let (k, object, outcome) =
        executor::compile_cached(CodeFormat::Zvm, &code, Target::host().unwrap(), &limits, &cache).unwrap();
    assert_eq!((k, outcome), (key, CacheOutcome::Hit));
    assert_eq!(cache.get(&key).unwrap(), Some(object));
    let other = if Target::host() == Some(Target::X86_64) { Target::Aarch64 } else { Target::X86_64 };
    let (k2, _, outcome) = executor::compile_cached(CodeFormat::Zvm, &code, other, &limits, &cache).unwrap();
    assert_ne!(k2, key);
    assert_eq!(outcome, CacheOutcome::Miss);
    assert_eq!(cache.stats().unwrap().entries, 2);
}

/// A fresh directory under the system's temporary directory, removed when dropped.
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("zvm-cache-test-{name}-")).tempdir().expect("create a temporary directory")
}
