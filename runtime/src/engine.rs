//! The embedding API: an [`Engine`] loads contracts once and runs them many times, moving hot contracts
//! from the interpreter to native code in the background.
//!
//! # Why an engine
//! [`Contract`] prepares one program for one tier, chosen up front. A node does not know up front which
//! contracts are worth compiling: most are called a handful of times (the interpreter starts instantly),
//! a few are called constantly (native code pays for its compile time quickly). The engine makes that
//! choice per contract, at run time, and hides it: a caller only sees [`Engine::load`] (bytes in, a
//! [`ContractId`] out) and [`Engine::call`] (an [`ExecResult`] out). Both tiers charge the same gas and stop
//! at the same point, so *when* a contract switches tier is not observable in any result.
//!
//! # Tier policies
//! - [`TierPolicy::Interpret`]: never compile (no compile cost, no native code; the cache is not used).
//! - [`TierPolicy::Compile`]: compile synchronously in [`Engine::load`], cache-first when a cache is
//!   configured (an object already on disk is loaded instead of compiled).
//! - [`TierPolicy::Adaptive`]: a contract starts on the interpreter — unless the cache already holds its
//!   native object, which is then used from the first call. Every interpreted call increments the
//!   contract's counter; the call that reaches `hot_threshold` queues the contract for a background compile
//!   worker (a bounded queue; when it is full the request is dropped and a later call asks again). The
//!   worker compiles — through the cache when configured (emit the object, store it, load it with zvm's
//!   loader, as [`Contract::load_cached`] does), else with the in-process JIT — and publishes the native
//!   version in the contract's [`OnceLock`]. Calls already running finish on the interpreter; later calls
//!   take the native version. Publication is a single atomic store, so calls never block on a compile.
//!
//! # Failures and budgets
//! A compile that fails (a backend error, a loader rejection, a panic in the compiler) or that exceeds a
//! budget ([`EngineBuilder::max_compile_time`], [`EngineBuilder::max_native_code_bytes`]) leaves the
//! contract on the interpreter for good: it is never queued again, so a contract that cannot be compiled
//! costs one attempt, not a loop of attempts. The reason is kept ([`ContractInfo::native_failure`]),
//! counted in [`EngineStats`], and logged as a `tracing` warning with the contract's id. A compile cannot be interrupted, so the time budget is checked when it
//! finishes: over budget, its result is discarded. An object the cache cannot store (disk full, permissions)
//! falls back to the in-process JIT, is counted in [`EngineStats::cache_errors`] and logged.
//!
//! # Threads
//! [`Engine`] is `Send + Sync`: calls from several threads run concurrently (each with its own host), the
//! contract table is behind a read-write lock held only for look-ups, and per-contract state is atomics.
//! [`Engine::wait_idle`] blocks until every queued compile has finished — for tests, and for a node that
//! wants its hot contracts compiled before it measures or shuts down. Dropping the engine stops the workers
//! after the compile in progress (queued requests are dropped).

use crate::executor::{self, CacheOutcome, CodeFormat, Contract, LoadError, Tier};
use crate::frame::Message;
use crate::host::Host;
use crate::limits::Limits;
use crate::result::{ExecResult, Status};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use thiserror::Error;
use zvm_cache::store::DEFAULT_MAX_BYTES;
use zvm_cache::Cache;
use zvm_compiler::cranelift::Target;

/// The hot threshold of [`TierPolicy::default`].
pub const DEFAULT_HOT_THRESHOLD: u64 = 100;
/// Default capacity of the compile queue.
pub const DEFAULT_QUEUE_CAPACITY: usize = 64;

/// A loaded contract: the SHA-256 of its bytecode, so loading the same bytes twice gives the same id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContractId(pub [u8; 32]);

impl ContractId {
    /// The id of `bytes`.
    pub fn of(bytes: &[u8]) -> ContractId {
        ContractId(Sha256::digest(bytes).into())
    }
}

impl fmt::Display for ContractId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for ContractId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContractId({self})")
    }
}

/// When contracts are compiled to native code (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TierPolicy {
    /// Always interpret.
    Interpret,
    /// Compile at load, cache-first.
    Compile,
    /// Interpret until a contract has been called `hot_threshold` times (at least 1), then compile it in
    /// the background and switch.
    Adaptive {
        /// Interpreted calls after which a contract is queued for compilation.
        hot_threshold: u64,
    },
}

impl Default for TierPolicy {
    fn default() -> Self {
        TierPolicy::Adaptive { hot_threshold: DEFAULT_HOT_THRESHOLD }
    }
}

/// Why an engine could not be built.
#[derive(Debug, Error)]
pub enum BuildError {
    /// `TierPolicy::Adaptive { hot_threshold: 0 }`.
    #[error("the adaptive tier policy needs a hot threshold of at least 1")]
    ZeroHotThreshold,
    /// The adaptive policy with no compile worker would never compile.
    #[error("the adaptive tier policy needs at least one compile worker")]
    NoWorkers,
    /// A compile queue that holds nothing.
    #[error("the compile queue capacity must be at least 1")]
    ZeroQueueCapacity,
    /// The cache directory could not be opened.
    #[error("opening the cache: {0}")]
    Cache(#[from] zvm_cache::CacheError),
    /// The operating system refused a worker thread.
    #[error("starting a compile worker: {0}")]
    Spawn(#[source] std::io::Error),
}

/// Why an engine operation failed.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The bytecode was rejected (by its frontend, or it does not verify). Compile failures are not load
    /// errors: the contract is interpreted instead.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// No contract with this id was loaded into this engine.
    #[error("unknown contract {0}")]
    UnknownContract(ContractId),
}

/// Counters of an engine's work since it was built.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Contracts loaded.
    pub contracts: u64,
    /// Calls run by the interpreter.
    pub interpreted_calls: u64,
    /// Calls run by native code.
    pub native_calls: u64,
    /// Native versions produced by code generation and put in use.
    pub compiles: u64,
    /// Native versions taken from the on-disk cache without code generation.
    pub cache_hits: u64,
    /// Compile attempts that failed (backend or loader error, compiler panic); those contracts stay
    /// interpreted.
    pub compile_failures: u64,
    /// Compiles discarded for exceeding a budget; those contracts stay interpreted.
    pub over_budget: u64,
    /// Cache reads or writes that failed; the compile fell back to the in-process JIT.
    pub cache_errors: u64,
    /// Compile requests dropped because the queue was full (the contract asks again on a later call).
    pub queue_full: u64,
    /// Compiles queued or running now.
    pub pending_compiles: u64,
}

/// What the engine knows about one contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractInfo {
    /// The tier its calls run on now.
    pub tier: Tier,
    /// Calls counted towards the hot threshold (interpreted calls, under the adaptive policy).
    pub counted_calls: u64,
    /// Why it has no native version, if compiling it failed or went over budget.
    pub native_failure: Option<String>,
}

/// Configures and builds an [`Engine`].
#[derive(Clone, Debug)]
pub struct EngineBuilder {
    cache_dir: Option<PathBuf>,
    cache_max_bytes: u64,
    policy: TierPolicy,
    workers: usize,
    queue_capacity: usize,
    limits: Limits,
    max_compile_time: Option<Duration>,
    max_native_code_bytes: Option<usize>,
    format: CodeFormat,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        Self {
            cache_dir: None,
            cache_max_bytes: DEFAULT_MAX_BYTES,
            policy: TierPolicy::default(),
            workers: 1,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            limits: Limits::default(),
            max_compile_time: None,
            max_native_code_bytes: None,
            format: CodeFormat::Zvm,
        }
    }
}

impl EngineBuilder {
    /// Keeps native objects in an on-disk cache at `dir` (created if missing), shared with other processes
    /// and with `zvm compile`. Without it nothing is reused across processes.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// The size bound of the cache (default [`DEFAULT_MAX_BYTES`]).
    pub fn cache_max_bytes(mut self, bytes: u64) -> Self {
        self.cache_max_bytes = bytes;
        self
    }

    /// When to compile (default: adaptive, [`DEFAULT_HOT_THRESHOLD`]).
    pub fn tier_policy(mut self, policy: TierPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Background compile threads (default 1; used by the adaptive policy only).
    pub fn compile_workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Compile requests the queue holds at most (default [`DEFAULT_QUEUE_CAPACITY`]).
    pub fn compile_queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity;
        self
    }

    /// Limits of loading and running (default [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Per-contract budget of compile (or cache load) time; a compile that took longer is discarded.
    pub fn max_compile_time(mut self, max: Duration) -> Self {
        self.max_compile_time = Some(max);
        self
    }

    /// How bytecode without a container is read (default: ZVM). ZVM code in a `ZVMC` container is always
    /// recognised.
    pub fn format(mut self, format: CodeFormat) -> Self {
        self.format = format;
        self
    }

    /// Per-contract budget of native code bytes; larger code is discarded.
    pub fn max_native_code_bytes(mut self, max: usize) -> Self {
        self.max_native_code_bytes = Some(max);
        self
    }

    /// Opens the cache, starts the workers and returns the engine.
    pub fn build(self) -> Result<Engine, BuildError> {
        let workers = match self.policy {
            TierPolicy::Adaptive { hot_threshold: 0 } => return Err(BuildError::ZeroHotThreshold),
            TierPolicy::Adaptive { .. } if self.workers == 0 => return Err(BuildError::NoWorkers),
            TierPolicy::Adaptive { .. } => self.workers,
            TierPolicy::Interpret | TierPolicy::Compile => 0,
        };
        if self.queue_capacity == 0 {
            return Err(BuildError::ZeroQueueCapacity);
        }
        let cache = match (&self.cache_dir, self.policy) {
            (_, TierPolicy::Interpret) | (None, _) => None,
            (Some(dir), _) => Some(Cache::open(dir.clone(), self.cache_max_bytes)?),
        };
        let inner = Arc::new(Inner {
            config: self,
            cache,
            contracts: RwLock::new(HashMap::new()),
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            idle: Condvar::new(),
            counters: Counters::default(),
        });
        let mut engine = Engine { inner: Arc::clone(&inner), workers: Vec::with_capacity(workers) };
        for i in 0..workers {
            let inner = Arc::clone(&inner);
            let handle = std::thread::Builder::new()
                .name(format!("zvm-compile-{i}"))
                .spawn(move || inner.work_loop())
                .map_err(BuildError::Spawn)?;
            // On an error above, dropping `engine` stops the workers already started.
            engine.workers.push(handle);
        }
        Ok(engine)
    }
}

/// Loads and runs contracts, choosing their tier (see the module docs).
pub struct Engine {
    inner: Arc<Inner>,
    workers: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine").field("policy", &self.inner.config.policy).field("stats", &self.stats()).finish()
    }
}

impl Engine {
    /// A builder with the defaults (adaptive tiering, one worker, no cache, default limits, no budgets).
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// Loads ZVM bytecode (raw or in a `ZVMC` container); loading the same bytes again returns the same id
    /// without work. Only bytecode the frontend rejects is an error: under [`TierPolicy::Compile`] a
    /// contract that cannot be compiled (or is over budget) is loaded for the interpreter.
    pub fn load(&self, bytes: &[u8]) -> Result<ContractId, EngineError> {
        let id = ContractId::of(bytes);
        if read(&self.inner.contracts).contains_key(&id) {
            return Ok(id);
        }
        // Prepared outside the lock: two threads loading the same new bytes both prepare, the first
        // inserted wins.
        let entry = Arc::new(self.inner.prepare(bytes)?);
        let mut contracts = self.inner.contracts.write().unwrap_or_else(PoisonError::into_inner);
        contracts.entry(id).or_insert(entry);
        Ok(id)
    }

    /// Runs contract `id` for `msg` against `host`; state changes are kept only on success. An unknown id
    /// gives [`Status::InvalidCode`] with no gas used (see [`Engine::try_call`] for a typed error).
    pub fn call(&self, id: ContractId, msg: &Message, host: &mut dyn Host) -> ExecResult {
        self.try_call(id, msg, host).unwrap_or_else(|e| ExecResult {
            status: Status::InvalidCode(e.to_string()),
            gas_used: 0,
            gas_refunded: 0,
            output: vec![],
            logs: vec![],
        })
    }

    /// [`Engine::call`], with an unknown id as an error.
    pub fn try_call(&self, id: ContractId, msg: &Message, host: &mut dyn Host) -> Result<ExecResult, EngineError> {
        let entry = read(&self.inner.contracts).get(&id).cloned().ok_or(EngineError::UnknownContract(id))?;
        let contract = match entry.native.get() {
            Some(native) => native,
            None => {
                self.inner.count_call(&entry);
                &entry.base
            }
        };
        let counter = match contract.tier() {
            Tier::Interp => &self.inner.counters.interpreted_calls,
            Tier::Jit | Tier::Aot => &self.inner.counters.native_calls,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(contract.run(msg, host, &self.inner.config.limits))
    }

    /// What the engine knows about contract `id`, if it is loaded.
    pub fn contract_info(&self, id: ContractId) -> Option<ContractInfo> {
        let entry = read(&self.inner.contracts).get(&id).cloned()?;
        let tier = entry.native.get().unwrap_or(&entry.base).tier();
        Some(ContractInfo {
            tier,
            counted_calls: entry.calls.load(Ordering::Relaxed),
            native_failure: entry.failure.get().cloned(),
        })
    }

    /// Blocks until no compile is queued or running. Calls made meanwhile may queue more; this returns at
    /// a moment when there are none.
    pub fn wait_idle(&self) {
        let mut queue = self.inner.lock_queue();
        while !queue.is_idle() {
            queue = self.inner.idle.wait(queue).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The engine's counters.
    pub fn stats(&self) -> EngineStats {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let queue = self.inner.lock_queue();
        EngineStats {
            contracts: read(&self.inner.contracts).len() as u64,
            interpreted_calls: get(&c.interpreted_calls),
            native_calls: get(&c.native_calls),
            compiles: get(&c.compiles),
            cache_hits: get(&c.cache_hits),
            compile_failures: get(&c.compile_failures),
            over_budget: get(&c.over_budget),
            cache_errors: get(&c.cache_errors),
            queue_full: get(&c.queue_full),
            pending_compiles: (queue.jobs.len() + queue.running) as u64,
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.inner.lock_queue().shutdown = true;
        self.inner.work.notify_all();
        for worker in self.workers.drain(..) {
            // A worker never panics (compiles run under `catch_unwind`); nothing to report if one did.
            let _ = worker.join();
        }
    }
}

/// The native-version state of a contract.
const COLD: u8 = 0;
const QUEUED: u8 = 1;
const NATIVE: u8 = 2;
/// Compiling failed or went over budget: never queued again.
const FAILED: u8 = 3;

struct Entry {
    bytes: Box<[u8]>,
    /// What [`Engine::load`] prepared: the interpreter, or native code (compile policy, or a cache hit).
    base: Contract,
    /// The native version a background compile produced.
    native: OnceLock<Contract>,
    /// Interpreted calls counted towards the hot threshold.
    calls: AtomicU64,
    state: AtomicU8,
    failure: OnceLock<String>,
}

#[derive(Default)]
struct Counters {
    interpreted_calls: AtomicU64,
    native_calls: AtomicU64,
    compiles: AtomicU64,
    cache_hits: AtomicU64,
    compile_failures: AtomicU64,
    over_budget: AtomicU64,
    cache_errors: AtomicU64,
    queue_full: AtomicU64,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Arc<Entry>>,
    running: usize,
    shutdown: bool,
}

impl Queue {
    fn is_idle(&self) -> bool {
        self.jobs.is_empty() && self.running == 0
    }
}

/// Why a contract got no native version.
enum NotNative {
    /// The bytecode itself was rejected: a load error, not a compile failure.
    Invalid(LoadError),
    Failed(String),
    OverBudget(String),
}

struct Inner {
    config: EngineBuilder,
    cache: Option<Cache>,
    contracts: RwLock<HashMap<ContractId, Arc<Entry>>>,
    queue: Mutex<Queue>,
    /// Signalled when a job is queued or at shutdown.
    work: Condvar,
    /// Signalled when the queue becomes idle.
    idle: Condvar,
    counters: Counters,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    fn lock_queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn prepare(&self, bytes: &[u8]) -> Result<Entry, LoadError> {
        let compile_now = match self.config.policy {
            TierPolicy::Interpret => false,
            TierPolicy::Compile => true,
            TierPolicy::Adaptive { .. } => self.cached(bytes),
        };
        let mut failure = None;
        let base = if compile_now {
            match self.native(bytes) {
                Ok(native) => Some(native),
                Err(NotNative::Invalid(e)) => return Err(e),
                Err(other) => {
                    failure = Some(self.record_failure(bytes, other));
                    None
                }
            }
        } else {
            None
        };
        let (base, state) = match base {
            Some(native) => (native, NATIVE),
            None => (
                Contract::load_as(self.format(bytes), bytes, Tier::Interp, &self.config.limits)?,
                if failure.is_some() { FAILED } else { COLD },
            ),
        };
        let entry = Entry {
            bytes: bytes.into(),
            base,
            native: OnceLock::new(),
            calls: AtomicU64::new(0),
            state: AtomicU8::new(state),
            failure: OnceLock::new(),
        };
        if let Some(why) = failure {
            let _ = entry.failure.set(why);
        }
        Ok(entry)
    }

    /// Whether the cache holds an object for `bytes` on this host (checked by the loader when used).
    fn cached(&self, bytes: &[u8]) -> bool {
        let (Some(cache), Some(target)) = (&self.cache, Target::host()) else { return false };
        executor::cache_key(self.format(bytes), bytes, target).is_ok_and(|key| cache.path(&key).is_file())
    }

    /// The format `bytes` are read in.
    fn format(&self, bytes: &[u8]) -> CodeFormat {
        CodeFormat::detect(bytes, self.config.format)
    }

    /// Counts and logs a compile failure of `bytes`; returns its reason.
    fn record_failure(&self, bytes: &[u8], why: NotNative) -> String {
        let (counter, why) = match why {
            NotNative::Invalid(e) => (&self.counters.compile_failures, e.to_string()),
            NotNative::Failed(why) => (&self.counters.compile_failures, why),
            NotNative::OverBudget(why) => (&self.counters.over_budget, why),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(contract = %ContractId::of(bytes), reason = %why, "no native code; the contract stays on the interpreter");
        why
    }

    /// The native version of `bytes` — from the cache or compiled — checked against the budgets, and
    /// counted. A panic in the compiler is a failure.
    fn native(&self, bytes: &[u8]) -> Result<Contract, NotNative> {
        let start = Instant::now();
        let (contract, hit) = catch_unwind(AssertUnwindSafe(|| self.native_unguarded(bytes)))
            .unwrap_or_else(|_| Err(NotNative::Failed("the compiler panicked".into())))?;
        let elapsed = start.elapsed();
        if let Some(max) = self.config.max_compile_time.filter(|max| elapsed > *max) {
            return Err(NotNative::OverBudget(format!("compile took {elapsed:?}, budget {max:?}")));
        }
        let size = contract.native_code_size().unwrap_or(0);
        if let Some(max) = self.config.max_native_code_bytes.filter(|max| size > *max) {
            return Err(NotNative::OverBudget(format!("{size} bytes of native code, budget {max}")));
        }
        let counter = if hit { &self.counters.cache_hits } else { &self.counters.compiles };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(contract)
    }

    /// The native version and whether it came from the cache.
    fn native_unguarded(&self, bytes: &[u8]) -> Result<(Contract, bool), NotNative> {
        let limits = &self.config.limits;
        let classify = |e: LoadError| match e {
            LoadError::Zvm(_) | LoadError::Evm(_) | LoadError::InvalidIr(_) => NotNative::Invalid(e),
            other => NotNative::Failed(other.to_string()),
        };
        if let Some(cache) = &self.cache {
            match Contract::load_cached(self.format(bytes), bytes, limits, cache) {
                Ok((contract, outcome)) => return Ok((contract, outcome == CacheOutcome::Hit)),
                Err(LoadError::Cache(e)) => {
                    self.counters.cache_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "the code cache failed; compiling in process instead");
                }
                Err(e) => return Err(classify(e)),
            }
        }
        Contract::load_as(self.format(bytes), bytes, Tier::Jit, limits).map(|c| (c, false)).map_err(classify)
    }

    /// Counts an interpreted call of `entry` and queues it for compilation when it becomes hot.
    fn count_call(&self, entry: &Arc<Entry>) {
        let TierPolicy::Adaptive { hot_threshold } = self.config.policy else { return };
        if entry.state.load(Ordering::Relaxed) != COLD {
            return;
        }
        let calls = entry.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if calls < hot_threshold
            || entry.state.compare_exchange(COLD, QUEUED, Ordering::AcqRel, Ordering::Relaxed).is_err()
        {
            return;
        }
        let mut queue = self.lock_queue();
        if queue.jobs.len() >= self.config.queue_capacity {
            drop(queue);
            entry.state.store(COLD, Ordering::Release);
            self.counters.queue_full.fetch_add(1, Ordering::Relaxed);
            return;
        }
        queue.jobs.push_back(Arc::clone(entry));
        drop(queue);
        self.work.notify_one();
    }

    fn work_loop(&self) {
        loop {
            let entry = {
                let mut queue = self.lock_queue();
                loop {
                    if queue.shutdown {
                        return;
                    }
                    if let Some(entry) = queue.jobs.pop_front() {
                        queue.running += 1;
                        break entry;
                    }
                    queue = self.work.wait(queue).unwrap_or_else(PoisonError::into_inner);
                }
            };
            self.upgrade(&entry);
            let mut queue = self.lock_queue();
            queue.running -= 1;
            if queue.is_idle() {
                self.idle.notify_all();
            }
        }
    }

    /// Compiles a queued contract and publishes its native version, or marks it as never to be compiled.
    fn upgrade(&self, entry: &Entry) {
        match self.native(&entry.bytes) {
            Ok(native) => {
                // Only this job sets it: the state machine queues a contract once.
                let _ = entry.native.set(native);
                entry.state.store(NATIVE, Ordering::Release);
            }
            Err(why) => {
                let _ = entry.failure.set(self.record_failure(&entry.bytes, why));
                entry.state.store(FAILED, Ordering::Release);
            }
        }
    }
}
