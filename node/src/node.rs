//! The node: one writer thread that executes calls in order and commits them in batches.
//!
//! # Group commit
//! [`Node::submit`] queues a request and returns a [`Pending`] at once; [`Pending::wait`] returns its
//! receipt only after the batch that holds the call is durable. The writer takes the first queued request
//! and every request queued behind it (up to [`NodeConfig::max_batch`]), executes them one after the
//! other against the state as the earlier ones left it, writes all their changes and receipts in one redb
//! write transaction, commits it (one `fsync`), and only then answers each request. While it waits for the
//! disk, new requests queue up and form the next batch: the more clients, the more calls share one
//! `fsync`, with no timer and no added latency for a lone client. `max_batch = 1` gives one `fsync` per
//! call.
//!
//! # What a receipt means
//! A call that returned a receipt is durable: it survives a crash or power loss (to the extent the disk
//! honours `fsync`). A call that returned an error (rejected, refused, or its batch failed to commit) left
//! no trace. A call still pending when the process dies may or may not have been committed — if it was,
//! it was committed whole, with its receipt. No call is ever visible in part: its state changes, contract
//! records, names and receipt are in one transaction.
//!
//! # Batches
//! [`Node::submit_batch_then`] queues many entries as one job: state-changing requests and read-only
//! calls ([`Entry`]), executed in order by the writer, each on the state the earlier ones left (a read
//! sees the writes before it in the batch; its own changes are thrown away). A job is never split across
//! commits, so its entries are consecutive in one block; the writer stops taking jobs for a commit once it
//! holds [`NodeConfig::max_batch`] entries, so a commit may pass that by one job's entries.
//! [`Node::query_batch_then`] runs read-only calls in order on one query thread and one snapshot, without
//! waiting for the writer. Handing the node one job for many calls costs one queue slot, one wake-up and
//! one callback instead of one each per call. Each entry's result comes with the time the thread spent on
//! it ([`Executed::took`]: execution and, for a write, building its receipt in the commit's transaction;
//! not the queueing or the commit), so that clients can tell execution from waiting.
//!
//! # Queries
//! [`Node::query`] runs a call on a snapshot of the committed state ([`Node::read`]) and throws its changes
//! away: it never queues behind the writer and never commits. It runs on one of a few query threads, each
//! with its own [`Vm`] (a `Vm` caches prepared programs and is bound to its thread), so a hot contract is
//! compiled once per query thread. A busy query thread reuses its snapshot from one query to the next
//! until something is committed (it always includes every call acknowledged before the query was sent).
//!
//! # Watching commits
//! [`Node::open_observed`] takes a function the writer calls with the receipts of each batch right after
//! the batch is durable and before any of its callers is answered — the hook for streaming events. It runs
//! on the writer thread, so it must not block. [`Node::stats`] counts commits and their sizes.
//!
//! # Order and determinism
//! Calls are executed in the order they were queued, one at a time. Each batch is a block: it gets the
//! next block number (the environment's `NUMBER`, and the creation block of contracts made in it); the
//! rest of the block environment is [`NodeConfig::block`]. A batch's commit also writes its block header
//! (parent hash, number, timestamp, receipt range, receipts and changes roots: [`crate::codec::BlockHeader`]),
//! whose keccak256 is the hash `BLOCKHASH` returns for that block in the 256 blocks after it — a batch in
//! which every request failed is still a block, with no receipts.

use crate::cache::{CacheConfig, StateCache};
use crate::codec::Receipt;
use crate::state::{install_contract, DeployError, StateHost};
use crate::store::{Batch, ReadView, StateDiff, Store};
use crate::StoreError;
use ruint::aliases::U256;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use thiserror::Error;
use zvm_compiler::frontend::{evm, zvm::container};
use zvm_runtime::executor::{CodeFormat, Contract, Tier};
use zvm_runtime::tx::{transact, InvalidTx, Transaction};
use zvm_runtime::vm::{CallInputs, Vm};
use zvm_runtime::{Address, BlockEnv, ExecResult, Host, Limits, Status, TxEnv};

/// Largest call data of a [`Request::Call`] (a transaction's data is bounded by its gas).
pub const MAX_CALL_INPUT: usize = 1 << 20;
/// Most accounts a [`Request::Genesis`] may fund.
pub const MAX_GENESIS_ACCOUNTS: usize = 1 << 16;
/// Longest name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// How a node runs.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The tier code runs on.
    pub tier: Tier,
    pub limits: Limits,
    /// The block environment of every batch (its `number` is replaced by the batch's). Its gas limit also
    /// bounds the gas of a [`Request::Call`].
    pub block: BlockEnv,
    /// Most calls in one commit (1: one `fsync` per call). A job of several entries
    /// ([`Node::submit_batch_then`]) is never split, so a commit may pass this by one job's entries.
    pub max_batch: usize,
    /// Requests that may wait in the queue; [`Node::submit`] blocks while it is full.
    pub queue: usize,
    pub cache: CacheConfig,
    /// Threads that run [`Node::query`]s.
    pub query_threads: usize,
    /// With [`Tier::Aot`]: the on-disk cache of compiled objects that the node's machines load contract code
    /// from (compiling and storing it on a miss), shared with `zvm compile` and other processes. Without
    /// it, AOT code is emitted and loaded anew whenever a machine first meets a contract.
    pub code_cache: Option<Arc<zvm_cache::Cache>>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            tier: Tier::Jit,
            limits: Limits::default(),
            block: BlockEnv { gas_limit: 30_000_000, chain_id: 1, ..BlockEnv::default() },
            max_batch: 1024,
            queue: 4096,
            cache: CacheConfig::default(),
            query_threads: 2,
            code_cache: None,
        }
    }
}

/// A state-changing request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// A transaction (its sender already authenticated), through the full transaction layer: nonce, gas
    /// purchase, intrinsic gas, refunds and fees.
    Transact(Transaction),
    /// A message call without the transaction layer — no nonce, no fees, no intrinsic gas — as `zvm run`
    /// makes: the callee's code runs with `gas_limit` and its changes are kept if it succeeds.
    Call { caller: Address, to: Address, value: U256, input: Vec<u8>, gas_limit: u64 },
    /// Installs `code` as a contract of `deployer` (see [`install_contract`]): ZVM code is stored in a
    /// `ZVMC` container, so that its format travels with it.
    Deploy { deployer: Address, code: Vec<u8>, format: CodeFormat, salt: Option<U256> },
    /// Registers `name` for `address`. A name is registered once: registering it again for the same
    /// address is a no-op, for another address an error.
    RegisterName { name: String, address: Address },
    /// Sets the balances of a new chain's accounts. Accepted only as the database's first call.
    Genesis { alloc: Vec<(Address, U256)> },
}

/// Why a request produced no receipt. Nothing of it was written.
#[derive(Debug, Error)]
pub enum NodeError {
    #[error("transaction rejected: {0}")]
    Rejected(#[from] InvalidTx),
    #[error("deploy refused: {0}")]
    Deploy(#[from] DeployError),
    #[error("invalid name `{name}`: {why}")]
    BadName { name: String, why: &'static str },
    #[error("the name `{name}` is registered for {address}")]
    NameTaken { name: String, address: Address },
    #[error("invalid request: {0}")]
    BadRequest(String),
    /// The store failed: the request's batch was not committed (or a read for it failed).
    #[error("store: {0}")]
    Store(Arc<StoreError>),
    #[error("internal error while executing the request: {0}")]
    Internal(String),
    #[error("the node has stopped")]
    Stopped,
}

impl From<StoreError> for NodeError {
    fn from(e: StoreError) -> Self {
        NodeError::Store(Arc::new(e))
    }
}

type Reply = Result<Receipt, NodeError>;

/// One entry of a batch ([`Node::submit_batch_then`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A state-changing request, as [`Node::submit`] takes it.
    Write(Request),
    /// A read-only call on the state the batch's earlier entries left; its changes are thrown away.
    Read(Query),
}

/// What a batch entry produced: a write's receipt, or a read's result.
#[derive(Clone, Debug)]
pub enum Output {
    Receipt(Receipt),
    Read(ExecResult),
}

impl Output {
    fn into_receipt(self) -> Result<Receipt, NodeError> {
        match self {
            Output::Receipt(receipt) => Ok(receipt),
            Output::Read(_) => Err(NodeError::Internal("a read has no receipt".into())),
        }
    }
}

/// The outcome of one entry of a job, and the time the thread that ran it spent on it: from picking it up
/// to its result being ready (for a write, its receipt built in the commit's transaction), not counting
/// the wait in the queue or for the commit.
#[derive(Debug)]
pub struct Executed<T> {
    pub outcome: Result<T, NodeError>,
    pub took: Duration,
}

/// What is done with a job's outcomes, one per entry in order. Dropped without being called (the thread
/// died): the caller sees [`NodeError::Stopped`].
type Done<T> = Box<dyn FnOnce(Vec<Executed<T>>) + Send>;

/// The outcomes of a job none of whose entries ran.
fn failed<T>(entries: usize, e: impl Fn() -> NodeError) -> Vec<Executed<T>> {
    (0..entries).map(|_| Executed { outcome: Err(e()), took: Duration::ZERO }).collect()
}

/// The outcome of a job of one entry.
fn only<T>(outcomes: Vec<Executed<T>>) -> Result<T, NodeError> {
    outcomes.into_iter().next().map_or(Err(NodeError::Stopped), |e| e.outcome)
}

struct Job {
    entries: Vec<Entry>,
    done: Done<Output>,
}

/// A read-only call: a message call run on a snapshot, whose changes are thrown away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub caller: Address,
    pub to: Address,
    pub value: U256,
    pub input: Vec<u8>,
    pub gas_limit: u64,
}

impl Query {
    /// The state-changing call with the same arguments.
    pub fn into_call(self) -> Request {
        let Query { caller, to, value, input, gas_limit } = self;
        Request::Call { caller, to, value, input, gas_limit }
    }
}

struct QueryJob {
    queries: Vec<Query>,
    done: Done<ExecResult>,
}

/// Called by the writer with the receipts of each batch once it is durable (see the module docs).
pub type CommitObserver = Box<dyn FnMut(&[&Receipt]) + Send>;

/// A queued request; [`Pending::wait`] gives its outcome once its batch is durable.
pub struct Pending(Receiver<Reply>);

impl Pending {
    /// Blocks until the request's batch has committed (the receipt) or failed (the error).
    pub fn wait(self) -> Result<Receipt, NodeError> {
        self.0.recv().unwrap_or(Err(NodeError::Stopped))
    }
}

/// Counters of the writer, for metrics.
#[derive(Default)]
struct StatCounters {
    commits: AtomicU64,
    committed: AtomicU64,
    largest_batch: AtomicU64,
}

/// What the writer has done since the node was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Batches committed (each one `fsync`).
    pub commits: u64,
    /// Requests in those batches (with a receipt or an error).
    pub committed: u64,
    /// The most requests one batch held.
    pub largest_batch: u64,
}

/// A node over one database file (see the module docs).
pub struct Node {
    path: PathBuf,
    store: Arc<Store>,
    queue: Option<SyncSender<Job>>,
    queries: Option<SyncSender<QueryJob>>,
    threads: Vec<JoinHandle<()>>,
    stats: Arc<StatCounters>,
}

impl Node {
    /// Opens (creating or migrating) the database at `path` and starts the writer and the query threads.
    pub fn open(path: &Path, config: NodeConfig) -> Result<Node, NodeError> {
        Node::open_observed(path, config, None)
    }

    /// [`Node::open`], with a function the writer calls with each durable batch's receipts.
    pub fn open_observed(
        path: &Path,
        config: NodeConfig,
        on_commit: Option<CommitObserver>,
    ) -> Result<Node, NodeError> {
        if config.max_batch == 0 || config.queue == 0 || config.query_threads == 0 {
            return Err(NodeError::BadRequest("max_batch, queue and query_threads must be at least 1".into()));
        }
        let store = Arc::new(Store::open(path)?);
        let stats = Arc::new(StatCounters::default());
        let mut node = Node {
            path: path.to_owned(),
            store: store.clone(),
            queue: None,
            queries: None,
            threads: Vec::new(),
            stats: stats.clone(),
        };
        let spawn = |name: &str, body: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(body)
                .map_err(|e| NodeError::Internal(format!("cannot start the thread {name}: {e}")))
        };
        // The node is dropped (stopping what started) if a later thread fails to start.
        let (queries, query_jobs) = mpsc::sync_channel(config.queue);
        node.queries = Some(queries);
        let query_jobs = Arc::new(Mutex::new(query_jobs));
        for i in 0..config.query_threads {
            let (store, jobs, config, stats) = (store.clone(), query_jobs.clone(), config.clone(), stats.clone());
            let body = move || run_queries(&store, &config, &stats, &jobs);
            node.threads.push(spawn(&format!("zvm-node-query-{i}"), Box::new(body))?);
        }
        let (queue, jobs) = mpsc::sync_channel(config.queue);
        node.queue = Some(queue);
        let writer = move || Writer::new(store, config, stats, on_commit).run(jobs);
        node.threads.push(spawn("zvm-node-writer", Box::new(writer))?);
        Ok(node)
    }

    /// Queues `request`; returns at once (or, while the queue is full, once there is room).
    pub fn submit(&self, request: Request) -> Pending {
        let (reply, rx) = mpsc::sync_channel(1);
        self.submit_then(request, move |outcome| {
            // A caller that stopped waiting does not mind.
            let _ = reply.send(outcome);
        });
        Pending(rx)
    }

    /// Queues `request` and calls `done` with its outcome once its batch is durable (or failed), on the
    /// writer thread: `done` must not block. Blocks only while the queue is full.
    pub fn submit_then(&self, request: Request, done: impl FnOnce(Result<Receipt, NodeError>) + Send + 'static) {
        self.submit_batch_then(vec![Entry::Write(request)], move |outcomes| {
            done(only(outcomes).and_then(Output::into_receipt))
        });
    }

    /// Queues `entries` as one job (see the module docs: executed in order, in one commit) and calls
    /// `done` with their outcomes, in order, once the commit is durable (or failed), on the writer thread:
    /// `done` must not block. Blocks only while the queue is full.
    pub fn submit_batch_then(&self, entries: Vec<Entry>, done: impl FnOnce(Vec<Executed<Output>>) + Send + 'static) {
        let job = Job { entries, done: Box::new(done) };
        send_or_stop(self.queue.as_ref(), job, |job| (job.entries.len(), job.done));
    }

    /// Queues `request` and waits until it is durable.
    pub fn execute(&self, request: Request) -> Result<Receipt, NodeError> {
        self.submit(request).wait()
    }

    /// Runs `query` on a snapshot of the committed state, in the next block's environment, and calls
    /// `done` with its result on a query thread (`done` must not block). Nothing is committed. Blocks
    /// only while the query queue is full.
    pub fn query_then(&self, query: Query, done: impl FnOnce(Result<ExecResult, NodeError>) + Send + 'static) {
        self.query_batch_then(vec![query], move |outcomes| done(only(outcomes)));
    }

    /// Runs `queries` in order on one query thread and one snapshot of the committed state, and calls
    /// `done` with their outcomes in order (on the query thread: `done` must not block). Blocks only while
    /// the query queue is full.
    pub fn query_batch_then(&self, queries: Vec<Query>, done: impl FnOnce(Vec<Executed<ExecResult>>) + Send + 'static) {
        let job = QueryJob { queries, done: Box::new(done) };
        send_or_stop(self.queries.as_ref(), job, |job| (job.queries.len(), job.done));
    }

    /// [`Node::query_then`], waiting for the result.
    pub fn query(&self, query: Query) -> Result<ExecResult, NodeError> {
        let (reply, rx) = mpsc::sync_channel(1);
        self.query_then(query, move |outcome| {
            let _ = reply.send(outcome);
        });
        rx.recv().unwrap_or(Err(NodeError::Stopped))
    }

    /// A snapshot of the committed state (it includes every call that has been acknowledged).
    pub fn read(&self) -> Result<ReadView, StoreError> {
        self.store.read()
    }

    /// One account of the committed state (cheaper than a [`Node::read`] view for a single look-up).
    pub fn account(&self, address: Address) -> Result<Option<crate::AccountRow>, StoreError> {
        self.store.account(address)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The writer's counters.
    pub fn stats(&self) -> NodeStats {
        NodeStats {
            commits: self.stats.commits.load(Ordering::Relaxed),
            committed: self.stats.committed.load(Ordering::Relaxed),
            largest_batch: self.stats.largest_batch.load(Ordering::Relaxed),
        }
    }
}

/// Sends `job` to a thread's queue, or answers each of its entries with [`NodeError::Stopped`] if the
/// thread is gone.
fn send_or_stop<J, T>(queue: Option<&SyncSender<J>>, job: J, done: impl FnOnce(J) -> (usize, Done<T>)) {
    let unsent = match queue {
        Some(q) => q.send(job).err().map(|mpsc::SendError(job)| job),
        None => Some(job),
    };
    if let Some(job) = unsent {
        let (entries, done) = done(job);
        done(failed(entries, || NodeError::Stopped));
    }
}

impl Drop for Node {
    /// Stops the writer after the requests already queued (and the query threads after theirs), and
    /// waits for them.
    fn drop(&mut self) {
        self.queue = None;
        self.queries = None;
        for thread in self.threads.drain(..) {
            // A panic in a thread has already answered its callers with `Stopped`.
            let _ = thread.join();
        }
    }
}

/// A query thread: runs queries on snapshots with its own `Vm` until the node stops.
///
/// A snapshot is reused by the next query as long as nothing has been committed since it was taken (the
/// writer counts a commit before it answers any of its callers, so a query sent after a call was
/// acknowledged never reuses a snapshot older than that call) and the thread has not gone idle: opening
/// one (a read transaction and its eight tables) costs as much as running a small contract.
fn run_queries(store: &Store, config: &NodeConfig, stats: &StatCounters, jobs: &Mutex<Receiver<QueryJob>>) {
    let vm = machine(config);
    let mut snapshot: Option<(u64, ReadView)> = None;
    loop {
        // The lock is held only to take one job; a poisoned lock means a sibling panicked while taking
        // one, which leaves the receiver intact.
        let job = {
            let jobs = jobs.lock().unwrap_or_else(|p| p.into_inner());
            match jobs.try_recv() {
                Ok(job) => job,
                Err(_) => {
                    // Idle: let the snapshot go, so that no read transaction outlives a busy spell (an open
                    // one keeps the pages of its state from being reused while the writer goes on).
                    snapshot = None;
                    match jobs.recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    }
                }
            }
        };
        // Read before the snapshot is taken: the snapshot is at least as new as the count says. Read once
        // per job, so that a job's queries share one snapshot.
        let commits = stats.commits.load(Ordering::Acquire);
        let outcomes = job
            .queries
            .iter()
            .map(|query| {
                let start = Instant::now();
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    let view = match snapshot.take() {
                        Some((at, view)) if at == commits => view,
                        _ => store.read()?,
                    };
                    let (view, result) = run_query(view, config, &vm, query);
                    snapshot = view.map(|view| (commits, view));
                    result
                }))
                .unwrap_or_else(|panic| Err(NodeError::Internal(panic_message(&panic))));
                Executed { outcome, took: start.elapsed() }
            })
            .collect();
        (job.done)(outcomes);
    }
}

/// Runs `query` on `view`; gives the view back for the next query unless a read failed.
fn run_query(
    mut view: ReadView,
    config: &NodeConfig,
    vm: &Vm,
    query: &Query,
) -> (Option<ReadView>, Result<ExecResult, NodeError>) {
    let block = match view.block() {
        Ok(number) => BlockEnv { number: number + 1, ..config.block.clone() },
        Err(e) => return (None, Err(e.into())),
    };
    let mut host = StateHost::new(&mut view, block);
    let result = message_call(vm, &mut host, query.clone());
    // The diff is not kept, but a failed read makes the result meaningless.
    match host.into_diff(query.caller, 0) {
        Ok(_) => (Some(view), result),
        Err(e) => (None, Err(e.into())),
    }
}

/// Runs a message call on `host` (checked against the block's gas limit) and ends its transaction.
fn message_call(vm: &Vm, host: &mut StateHost, call: Query) -> Result<ExecResult, NodeError> {
    let Query { caller, to, value, input, gas_limit } = call;
    if input.len() > MAX_CALL_INPUT {
        return Err(NodeError::BadRequest(format!("call data over {MAX_CALL_INPUT} bytes")));
    }
    if gas_limit > host.block().gas_limit {
        return Err(NodeError::BadRequest(format!(
            "gas limit {gas_limit} over the node's limit {}",
            host.block().gas_limit
        )));
    }
    host.set_tx(TxEnv { origin: caller, ..TxEnv::default() });
    let inputs = CallInputs {
        caller,
        address: to,
        code_address: to,
        value,
        transfer: Some(value),
        input,
        gas_limit,
        is_static: false,
    };
    let result = vm.call(host, inputs, 0).into_result(gas_limit);
    host.finish_transaction();
    Ok(result)
}

/// The code a deploy stores for `code` in `format`, checked: ZVM code goes into a `ZVMC` container (if it
/// is not in one), and both formats must load and fit their size limit.
pub fn deployable_code(format: CodeFormat, code: Vec<u8>, limits: &Limits) -> Result<Vec<u8>, DeployError> {
    let (code, max) = match format {
        CodeFormat::Zvm if code.starts_with(container::MAGIC) => (code, limits.max_code_size),
        CodeFormat::Zvm => {
            if code.len() > limits.max_code_size {
                return Err(DeployError::TooLarge { size: code.len(), max: limits.max_code_size, format });
            }
            (container::encode(&code, &[]), limits.max_code_size + container::HEADER_LEN)
        }
        CodeFormat::Evm if code.starts_with(container::MAGIC) => return Err(DeployError::EvmLooksLikeZvm),
        CodeFormat::Evm => (code, evm::MAX_CODE_SIZE),
        CodeFormat::Wasm => (code, zvm_runtime::executor::MAX_WASM_CONTRACT),
    };
    if code.len() > max {
        return Err(DeployError::TooLarge { size: code.len(), max, format });
    }
    Contract::load_as(format, &code, Tier::Interp, limits).map_err(|e| DeployError::Invalid(e.to_string()))?;
    Ok(code)
}

/// The machine a node thread runs code on: the configured tier and limits, and the on-disk code cache if
/// there is one.
fn machine(config: &NodeConfig) -> Vm {
    let vm = Vm::new(config.tier, config.limits.clone());
    match &config.code_cache {
        Some(cache) => vm.with_cache(Arc::clone(cache)),
        None => vm,
    }
}

/// Checks a name: 1 to [`MAX_NAME_LEN`] bytes of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), NodeError> {
    let bad = |why| Err(NodeError::BadName { name: name.chars().take(MAX_NAME_LEN).collect(), why });
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return bad("a name has 1 to 64 bytes");
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)) {
        return bad("a name uses only a-z, 0-9, `.`, `_` and `-`");
    }
    if !name.as_bytes()[0].is_ascii_alphanumeric() {
        return bad("a name starts with a letter or a digit");
    }
    Ok(())
}

/// What a call did, before it has an id.
struct Outcome {
    diff: StateDiff,
    names: Vec<(String, Address)>,
    status: Status,
    gas_used: u64,
    gas_refunded: u64,
    output: Vec<u8>,
    logs: Vec<zvm_runtime::Log>,
    created: Option<Address>,
}

impl Outcome {
    /// A request that changes state outside execution (a deploy, a name).
    fn admin(diff: StateDiff, names: Vec<(String, Address)>, created: Option<Address>) -> Outcome {
        Outcome {
            diff,
            names,
            status: Status::Success,
            gas_used: 0,
            gas_refunded: 0,
            output: Vec::new(),
            logs: Vec::new(),
            created,
        }
    }
}

/// What an entry did: a write to apply, or a read's result.
enum Effect {
    Write(Outcome),
    Read(ExecResult),
}

/// The writer thread's state.
struct Writer {
    store: Arc<Store>,
    config: NodeConfig,
    vm: Vm,
    cache: StateCache,
    stats: Arc<StatCounters>,
    on_commit: Option<CommitObserver>,
}

impl Writer {
    fn new(
        store: Arc<Store>,
        config: NodeConfig,
        stats: Arc<StatCounters>,
        on_commit: Option<CommitObserver>,
    ) -> Writer {
        let vm = machine(&config);
        let cache = StateCache::new(config.cache);
        Writer { store, config, vm, cache, stats, on_commit }
    }

    fn run(mut self, jobs: Receiver<Job>) {
        while let Ok(first) = jobs.recv() {
            let mut size = first.entries.len();
            let mut batch = vec![first];
            while size < self.config.max_batch {
                match jobs.try_recv() {
                    Ok(job) => {
                        size += job.entries.len();
                        batch.push(job);
                    }
                    Err(_) => break,
                }
            }
            match self.commit(&batch) {
                Ok(outcomes) => {
                    let size = size as u64;
                    // Release: a query thread that sees the new count takes a new snapshot.
                    self.stats.commits.fetch_add(1, Ordering::Release);
                    self.stats.committed.fetch_add(size, Ordering::Relaxed);
                    self.stats.largest_batch.fetch_max(size, Ordering::Relaxed);
                    if let Some(observe) = &mut self.on_commit {
                        let receipts: Vec<&Receipt> = outcomes
                            .iter()
                            .flatten()
                            .filter_map(|e| match &e.outcome {
                                Ok(Output::Receipt(receipt)) => Some(receipt),
                                _ => None,
                            })
                            .collect();
                        observe(&receipts);
                    }
                    for (job, outcomes) in batch.into_iter().zip(outcomes) {
                        (job.done)(outcomes);
                    }
                }
                Err(e) => {
                    // The batch is not in the database; the cache may show it. Start the cache over.
                    self.cache.clear();
                    let e = Arc::new(e);
                    for job in batch {
                        (job.done)(failed(job.entries.len(), || NodeError::Store(e.clone())));
                    }
                }
            }
        }
    }

    /// Executes the jobs' entries in order and commits them in one transaction; the outcome of each entry,
    /// by job.
    fn commit(&mut self, jobs: &[Job]) -> Result<Vec<Vec<Executed<Output>>>, StoreError> {
        let txn = self.store.begin_write()?;
        let mut outcomes = Vec::with_capacity(jobs.len());
        {
            let mut batch = Batch::open(&txn)?;
            let block = BlockEnv { number: batch.block, ..self.config.block.clone() };
            for job in jobs {
                let mut executed = Vec::with_capacity(job.entries.len());
                for entry in &job.entries {
                    let start = Instant::now();
                    let outcome = catch_unwind(AssertUnwindSafe(|| self.execute(&mut batch, &block, entry)))
                        .unwrap_or_else(|panic| Err(NodeError::Internal(panic_message(&panic))));
                    let outcome = match outcome {
                        Ok(Effect::Write(o)) => {
                            let receipt = batch.apply(&o.diff, &o.names, |id| Receipt {
                                id,
                                block: block.number,
                                status: o.status,
                                gas_used: o.gas_used,
                                gas_refunded: o.gas_refunded,
                                output: o.output,
                                logs: o.logs,
                                created: o.created,
                            })?;
                            self.cache.apply(&o.diff);
                            Ok(Output::Receipt(receipt))
                        }
                        Ok(Effect::Read(result)) => Ok(Output::Read(result)),
                        Err(e) => Err(e),
                    };
                    executed.push(Executed { outcome, took: start.elapsed() });
                }
                outcomes.push(executed);
            }
            batch.finish(block.timestamp)?;
        }
        txn.commit()?;
        Ok(outcomes)
    }

    /// Runs one entry against the batch's state; nothing is written yet.
    fn execute(&mut self, batch: &mut Batch, block: &BlockEnv, entry: &Entry) -> Result<Effect, NodeError> {
        let request = match entry {
            Entry::Write(request) => request,
            Entry::Read(query) => {
                // Its diff is thrown away, but a failed read makes the result meaningless.
                let (_, result) = self.call(batch, block, query.clone())?;
                return Ok(Effect::Read(result));
            }
        };
        self.write(batch, block, request).map(Effect::Write)
    }

    /// Runs a message call against the batch's state: its changes, and its result.
    fn call(&mut self, batch: &mut Batch, block: &BlockEnv, call: Query) -> Result<(StateDiff, ExecResult), NodeError> {
        let caller = call.caller;
        let mut reader = self.cache.over(batch.reader());
        let mut host = StateHost::new(&mut reader, block.clone());
        let result = message_call(&self.vm, &mut host, call)?;
        Ok((host.into_diff(caller, block.number)?, result))
    }

    /// Runs one state-changing request against the batch's state.
    fn write(&mut self, batch: &mut Batch, block: &BlockEnv, request: &Request) -> Result<Outcome, NodeError> {
        match request {
            Request::RegisterName { name, address } => {
                check_name(name)?;
                match batch.resolve(name)? {
                    Some(current) if current != *address => {
                        Err(NodeError::NameTaken { name: name.clone(), address: current })
                    }
                    _ => Ok(Outcome::admin(StateDiff::default(), vec![(name.clone(), *address)], None)),
                }
            }
            Request::Genesis { alloc } => {
                if !batch.at_start() {
                    return Err(NodeError::BadRequest("genesis balances must be the first call".into()));
                }
                if alloc.len() > MAX_GENESIS_ACCOUNTS {
                    return Err(NodeError::BadRequest(format!("over {MAX_GENESIS_ACCOUNTS} genesis accounts")));
                }
                let mut reader = self.cache.over(batch.reader());
                let mut host = StateHost::new(&mut reader, block.clone());
                for &(address, balance) in alloc {
                    host.set_balance(address, balance);
                }
                host.finish_transaction();
                Ok(Outcome::admin(host.into_diff(Address::default(), block.number)?, Vec::new(), None))
            }
            Request::Transact(tx) => {
                let mut reader = self.cache.over(batch.reader());
                let mut host = StateHost::new(&mut reader, block.clone());
                let result = transact(&self.vm, &mut host, tx);
                let diff = host.into_diff(tx.caller, block.number)?;
                let out = result?;
                Ok(Outcome {
                    diff,
                    names: Vec::new(),
                    status: out.status,
                    gas_used: out.gas_used,
                    gas_refunded: out.gas_refunded,
                    output: out.output,
                    logs: out.logs,
                    created: out.created,
                })
            }
            Request::Call { caller, to, value, input, gas_limit } => {
                let call =
                    Query { caller: *caller, to: *to, value: *value, input: input.clone(), gas_limit: *gas_limit };
                let (diff, result) = self.call(batch, block, call)?;
                Ok(Outcome {
                    diff,
                    names: Vec::new(),
                    status: result.status,
                    gas_used: result.gas_used,
                    gas_refunded: result.gas_refunded,
                    output: result.output,
                    logs: result.logs,
                    created: None,
                })
            }
            Request::Deploy { deployer, code, format, salt } => {
                let code = deployable_code(*format, code.clone(), &self.config.limits)?;
                let mut reader = self.cache.over(batch.reader());
                let mut host = StateHost::new(&mut reader, block.clone());
                let installed = install_contract(&mut host, *deployer, code, *salt);
                let diff = host.into_diff(*deployer, block.number)?;
                Ok(Outcome::admin(diff, Vec::new(), Some(installed?)))
            }
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}
