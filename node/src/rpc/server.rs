//! The RPC server: a QUIC endpoint in front of a [`Node`].
//!
//! # Streams
//! A stream's first frame says what it is. Version 2 ([`PIPELINED`]): a long-lived stream carrying many
//! requests, each tagged with an id; each runs in its own task as soon as it is read, and its reply,
//! tagged with the same id, is written as soon as it is ready (out of order; the replies ready at the time
//! go out in one write). This is how [`super::Client`] sends everything but subscriptions: no stream is
//! opened or closed per request. Version 1: one request frame, one reply frame, then the stream ends; a
//! subscription is such a stream that stays open and carries a frame per event. A slow request never
//! holds up another, and a broken stream only ends itself.
//!
//! # Bounds
//! Everything a peer can make the server hold is bounded: the request frame (its length is checked before
//! the buffer is allocated), the streams per connection (QUIC flow control), the requests in flight on a
//! pipelined stream (past `max_streams` the server stops reading it until replies are written, so
//! a peer that does not read its replies stalls only itself), the connections, the time a
//! request may take (reading it, running it and answering it), the requests waiting for the writer and for
//! the query threads (semaphores sized to their queues, so a request waits asynchronously instead of
//! blocking a runtime thread), and each subscriber's buffer. A frame that cannot be decoded gets an error
//! reply on its own stream and nothing else happens.
//!
//! # Events
//! The node's writer hands each durable batch's receipts to the [`Hub`] before answering any of the
//! batch's callers; the hub copies each matching log into each subscriber's bounded channel with
//! `try_send`, never waiting. A subscriber whose channel is full has fallen behind: it is dropped — it
//! receives what was buffered, then a [`ErrorCode::Lagged`] error, and the stream ends — so that no
//! subscriber can slow the writer or make the server buffer without bound.
//!
//! # Backlog
//! A [`Request::SubscribeFrom`] first replays the stored logs (the receipts table) from its start, then
//! goes live. The join has no gap and no duplicate, whatever commits meanwhile: the subscriber is added
//! to the hub *first*, then a snapshot is taken, and the replay covers exactly the receipts in that
//! snapshot (up to its last receipt, the cutoff). A receipt committed after the snapshot was published
//! after the subscriber was added (the writer publishes after committing), so it arrives live; a receipt
//! in the snapshot may also arrive live (committed before the snapshot, published after the subscriber
//! was added), and the live stream drops every event before the replay's end. Live events wait in the
//! subscriber's bounded buffer while the replay runs, under the usual lagging rule. The replay is bounded
//! per request ([`ServerConfig::backlog_logs`] logs and [`ServerConfig::backlog_receipts`] receipts read):
//! at the bound the server says where it stopped and ends the stream, and the client subscribes again
//! from there. It reads the store in chunks on the blocking pool, so a long replay never holds a runtime
//! thread, and holds at most one chunk (256 events or about 1 MiB) in memory.
//!
//! # Batches
//! A [`Request::Batch`] carries up to [`MAX_BATCH_ENTRIES`] calls and queries in one frame. Its bounds and
//! its token (if it holds a call) are checked first, and refuse it whole; then each callee, once per
//! distinct address, and an entry whose callee is not a contract gets its own `not_found`. The others go
//! to the node as *one* job: to the writer if any is a call — executed in order in one commit, each query
//! on the state the entries before it left, replied to once durable — else to one query thread, on one
//! snapshot. Per request, the transport, the task, the queue slot and the wake-ups are paid once for the
//! whole batch instead of once per call, which is what bounds the rate of single calls. Each entry's
//! reply carries the time the node's thread spent on it, so that a client can tell execution from
//! queueing and the wait for the disk.
//!
//! # Authorisation
//! State-changing requests (deploy, call, register a name) carry the node's token, compared in constant
//! time (only its length can leak). Reads need none. The token stands for the node's operator: a caller
//! with it can act as any account, since the RPC carries no signatures yet.

use super::protocol::{
    decode_pipelined_request, decode_request, encode_frame, encode_pipelined, Addr, Block, CallArgs, Cursor, Entry,
    EntryReply, EntryResult, ErrorCode, ErrorReply, Event, Filter, Format, Health, Log, Metrics, Outcome, Receipt,
    Reply, Request, Response, Start, BACKLOG_LOGS, BACKLOG_RECEIPTS, MAX_BATCH_ENTRIES, MAX_REPLY_FRAME,
    MAX_REQUEST_FRAME, MAX_TOPICS, PIPELINED,
};
use super::tls::{self, Identity, TlsError};
use crate::node::{self, CommitObserver, Executed, Node, NodeConfig, NodeError, Output, Query};
use crate::StoreError;
use quinn::crypto::rustls::QuicServerConfig;
use ruint::aliases::U256;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use zvm_runtime::executor::CodeFormat;
use zvm_runtime::{Address, ExecResult};

/// How the server runs.
#[derive(Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The token state-changing requests must carry (not empty).
    pub token: String,
    pub identity: Identity,
    /// Longest time from a request's first byte to its reply (subscriptions excepted).
    pub request_timeout: Duration,
    /// Most open connections; more are refused.
    pub max_connections: u64,
    /// Most concurrent request streams per connection, and most requests in flight on one pipelined
    /// stream.
    pub max_streams: u32,
    /// Events buffered per subscriber before it counts as lagging.
    pub subscriber_buffer: usize,
    /// A connection silent this long is closed (clients send keep-alives).
    pub idle_timeout: Duration,
    /// Most stored logs one subscription's backlog replays, and most stored receipts it reads doing so
    /// (default [`BACKLOG_LOGS`], [`BACKLOG_RECEIPTS`]).
    pub backlog_logs: usize,
    pub backlog_receipts: usize,
}

impl ServerConfig {
    /// Defaults for everything but the address, the token and the certificate.
    pub fn new(listen: SocketAddr, token: String, identity: Identity) -> ServerConfig {
        ServerConfig {
            listen,
            token,
            identity,
            request_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_streams: 1024,
            subscriber_buffer: 1024,
            idle_timeout: Duration::from_secs(30),
            backlog_logs: BACKLOG_LOGS,
            backlog_receipts: BACKLOG_RECEIPTS,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, Error)]
pub enum ServerError {
    #[error("the node: {0}")]
    Node(#[from] NodeError),
    #[error("{0}")]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("an empty token would let anyone change state")]
    EmptyToken,
}

/// A running server (see the module docs). Dropping it stops accepting; [`Server::run`] returns.
pub struct Server {
    endpoint: quinn::Endpoint,
    shared: Arc<Shared>,
}

struct Shared {
    node: Node,
    token: Vec<u8>,
    hub: Arc<Hub>,
    started: Instant,
    request_timeout: Duration,
    max_connections: u64,
    max_pipelined: usize,
    subscriber_buffer: usize,
    backlog_logs: usize,
    backlog_receipts: usize,
    /// Permits for requests in the writer's queue and the query threads' queue: a request waits for one
    /// (asynchronously) so that handing it to the node never blocks.
    writes: Arc<Semaphore>,
    queries: Arc<Semaphore>,
    connections: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
    calls: AtomicU64,
    queried: AtomicU64,
}

impl Server {
    /// Opens the node's database at `db` and starts listening. Must be called inside a Tokio runtime.
    pub fn start(db: &Path, node_config: NodeConfig, config: ServerConfig) -> Result<Server, ServerError> {
        if config.token.is_empty() {
            return Err(ServerError::EmptyToken);
        }
        let crypto = QuicServerConfig::try_from(tls::server_config(config.identity)?)
            .map_err(|e| TlsError::Rustls(rustls::Error::General(e.to_string())))?;
        let mut server_config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        let mut transport = quinn::TransportConfig::default();
        transport
            .max_concurrent_bidi_streams(config.max_streams.into())
            .max_concurrent_uni_streams(0u8.into())
            .max_idle_timeout(config.idle_timeout.try_into().ok());
        server_config.transport_config(Arc::new(transport));

        let hub = Arc::new(Hub::default());
        let observer_hub = hub.clone();
        let observer: CommitObserver = Box::new(move |receipts| observer_hub.publish(receipts));
        let (writes, queries) = (node_config.queue, node_config.queue);
        let node = Node::open_observed(db, node_config, Some(observer))?;
        let endpoint = quinn::Endpoint::server(server_config, config.listen)
            .map_err(|source| ServerError::Listen { addr: config.listen, source })?;
        let shared = Arc::new(Shared {
            node,
            token: config.token.into_bytes(),
            hub,
            started: Instant::now(),
            request_timeout: config.request_timeout,
            max_connections: config.max_connections,
            max_pipelined: (config.max_streams as usize).max(1),
            subscriber_buffer: config.subscriber_buffer.max(1),
            backlog_logs: config.backlog_logs.max(1),
            backlog_receipts: config.backlog_receipts.max(1),
            writes: Arc::new(Semaphore::new(writes)),
            queries: Arc::new(Semaphore::new(queries)),
            connections: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            queried: AtomicU64::new(0),
        });
        Ok(Server { endpoint, shared })
    }

    /// The address it listens on (with the port the system chose for port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// Accepts connections until [`Server::close`].
    pub async fn run(&self) {
        while let Some(incoming) = self.endpoint.accept().await {
            if self.shared.connections.load(Ordering::Relaxed) >= self.shared.max_connections {
                incoming.refuse();
                continue;
            }
            let shared = self.shared.clone();
            tokio::spawn(async move {
                if let Ok(connection) = incoming.await {
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                    serve_connection(&shared, connection).await;
                    shared.connections.fetch_sub(1, Ordering::Relaxed);
                }
            });
        }
    }

    /// Stops accepting and closes every connection; requests already handed to the node still commit.
    pub fn close(&self) {
        self.endpoint.close(0u8.into(), b"the server is stopping");
    }

    /// Waits until every connection is closed.
    pub async fn wait_idle(&self) {
        self.endpoint.wait_idle().await;
    }
}

async fn serve_connection(shared: &Arc<Shared>, connection: quinn::Connection) {
    while let Ok((send, recv)) = connection.accept_bi().await {
        let shared = shared.clone();
        tokio::spawn(async move { shared.serve_stream(send, recv).await });
    }
}

/// Reads one frame of at most `max` bytes of body. The length is checked before anything is allocated.
pub(crate) async fn read_frame(recv: &mut quinn::RecvStream, max: u32) -> Result<Vec<u8>, FrameError> {
    let mut len = [0u8; 4];
    recv.read_exact(&mut len).await.map_err(|e| match e {
        quinn::ReadExactError::FinishedEarly(0) => FrameError::End,
        e => FrameError::read(e),
    })?;
    let len = u32::from_be_bytes(len);
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    let mut body = vec![0u8; len as usize];
    recv.read_exact(&mut body).await.map_err(FrameError::read)?;
    Ok(body)
}

/// Why a frame could not be read.
#[derive(Debug, Error)]
pub enum FrameError {
    #[error("a frame of {len} bytes, over the limit of {max}")]
    TooLarge { len: u32, max: u32 },
    #[error("the stream ended before a frame")]
    End,
    #[error("the stream ended inside a frame")]
    Truncated,
    #[error("reading the stream: {0}")]
    Read(#[from] quinn::ReadError),
}

impl FrameError {
    fn read(e: quinn::ReadExactError) -> FrameError {
        match e {
            quinn::ReadExactError::FinishedEarly(_) => FrameError::Truncated,
            quinn::ReadExactError::ReadError(e) => FrameError::Read(e),
        }
    }
}

fn error(code: ErrorCode, message: impl Into<String>) -> ErrorReply {
    ErrorReply::new(code, message)
}

impl Shared {
    async fn serve_stream(self: Arc<Self>, mut send: quinn::SendStream, mut recv: quinn::RecvStream) {
        let deadline = tokio::time::Instant::now() + self.request_timeout;
        let first = match tokio::time::timeout_at(deadline, read_frame(&mut recv, MAX_REQUEST_FRAME)).await {
            Ok(Ok(body)) if body.first() == Some(&PIPELINED) => return self.serve_pipeline(send, recv, body).await,
            first => first,
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        let request = match first {
            Err(_) => Err(error(ErrorCode::Timeout, "the request frame did not arrive in time")),
            Ok(Err(e @ FrameError::TooLarge { .. })) => {
                // Nothing more of it is read: tell the peer to stop sending.
                let _ = recv.stop(0u8.into());
                Err(error(ErrorCode::FrameTooLarge, e.to_string()))
            }
            Ok(Err(e)) => Err(error(ErrorCode::Malformed, e.to_string())),
            Ok(Ok(body)) => decode_request(&body),
        };
        let reply = match request {
            Ok(Request::Subscribe(filter)) => self.stream_events(filter, None, &mut send).await,
            Ok(Request::SubscribeFrom { filter, from }) => self.stream_events(filter, Some(from), &mut send).await,
            Ok(request) => Some(self.answer(request, deadline).await),
            Err(e) => Some(Err(e)),
        };
        if let Some(reply) = reply {
            if reply.is_err() {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
            // A peer that went away does not need its answer.
            let _ = write_reply(&mut send, &reply).await;
            let _ = send.finish();
        }
    }

    /// Runs one request (not a subscription) within `deadline`.
    async fn answer(&self, request: Request, deadline: tokio::time::Instant) -> Reply {
        tokio::time::timeout_at(deadline, self.dispatch(request)).await.unwrap_or_else(|_| {
            Err(error(ErrorCode::Timeout, "the request took too long (a state-changing one may still commit)"))
        })
    }

    /// Serves a pipelined stream (see the module docs) whose first frame is `first`: reads request frames
    /// until the peer finishes its side, runs each in its own task (at most `max_pipelined` at once: past
    /// that the stream is not read, and QUIC flow control holds the peer back) and writes each reply, tagged
    /// with its request's id, as soon as it is ready — several ready replies go out in one write.
    async fn serve_pipeline(self: Arc<Self>, send: quinn::SendStream, mut recv: quinn::RecvStream, first: Vec<u8>) {
        let (replies, queued) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_pipelined(send, queued));
        let window = Arc::new(Semaphore::new(self.max_pipelined));
        let mut body = first;
        loop {
            let Ok(permit) = window.clone().acquire_owned().await else { break };
            self.requests.fetch_add(1, Ordering::Relaxed);
            let deadline = tokio::time::Instant::now() + self.request_timeout;
            match decode_pipelined_request(&body) {
                Ok((id, Ok(Request::Subscribe(_) | Request::SubscribeFrom { .. }))) => {
                    let e =
                        error(ErrorCode::BadRequest, "a subscription needs a stream of its own (a version 1 frame)");
                    self.send_pipelined(&replies, id, Err(e), Some(permit));
                }
                Ok((id, Ok(request))) => {
                    let (shared, replies) = (self.clone(), replies.clone());
                    tokio::spawn(async move {
                        let reply = shared.answer(request, deadline).await;
                        shared.send_pipelined(&replies, id, reply, Some(permit));
                    });
                }
                // The frame was whole, so the stream is still in step: answer and go on.
                Ok((id, Err(e))) => self.send_pipelined(&replies, id, Err(e), Some(permit)),
                Err(e) => self.send_pipelined(&replies, 0, Err(e), Some(permit)),
            }
            if replies.is_closed() {
                break; // the peer stopped reading
            }
            // Waiting for the next request has no limit (the connection's idle timeout ends a silent
            // peer); a frame, once begun, must arrive within the request timeout.
            let mut len = [0u8; 4];
            match recv.read_exact(&mut len).await {
                Ok(()) => {}
                Err(quinn::ReadExactError::FinishedEarly(0)) => break,
                Err(e) => {
                    let e = error(ErrorCode::Malformed, FrameError::read(e).to_string());
                    self.send_pipelined(&replies, 0, Err(e), None);
                    break;
                }
            }
            let len = u32::from_be_bytes(len);
            if len > MAX_REQUEST_FRAME {
                // Nothing more of the stream is read: its frames can no longer be told apart.
                let _ = recv.stop(0u8.into());
                let e = FrameError::TooLarge { len, max: MAX_REQUEST_FRAME };
                self.send_pipelined(&replies, 0, Err(error(ErrorCode::FrameTooLarge, e.to_string())), None);
                break;
            }
            let mut next = vec![0u8; len as usize];
            let deadline = tokio::time::Instant::now() + self.request_timeout;
            match tokio::time::timeout_at(deadline, recv.read_exact(&mut next)).await {
                Ok(Ok(())) => body = next,
                Ok(Err(e)) => {
                    let e = error(ErrorCode::Malformed, FrameError::read(e).to_string());
                    self.send_pipelined(&replies, 0, Err(e), None);
                    break;
                }
                Err(_) => {
                    let e = error(ErrorCode::Timeout, "the request frame did not arrive in time");
                    self.send_pipelined(&replies, 0, Err(e), None);
                    break;
                }
            }
        }
        // The writer ends once every request still running has queued its reply.
        drop(replies);
        let _ = writer.await;
    }

    /// Queues the reply to pipelined request `id` (0: an error about the stream itself) for the stream's
    /// writer; `permit` (the request's place in the window) is released once the reply is written.
    fn send_pipelined(&self, replies: &PipelinedReplies, id: u32, reply: Reply, permit: Option<OwnedSemaphorePermit>) {
        if reply.is_err() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let frame = encode_pipelined(id, &reply, MAX_REPLY_FRAME).or_else(|e| {
            encode_pipelined::<Reply>(
                id,
                &Err(error(ErrorCode::Internal, format!("the reply cannot be sent: {e}"))),
                MAX_REPLY_FRAME,
            )
        });
        if let Ok(frame) = frame {
            // The writer is gone only if the peer stopped reading.
            let _ = replies.send((frame, permit));
        }
    }

    /// Answers one request (a subscription is answered by [`Shared::stream_events`]).
    async fn dispatch(&self, request: Request) -> Reply {
        match request {
            Request::Health => self.health().map(Response::Health),
            Request::Metrics => self.metrics().map(Response::Metrics),
            Request::Deploy { token, deployer, code, format, salt } => {
                self.authorize(&token)?;
                let format = match format {
                    Format::Evm => CodeFormat::Evm,
                    Format::Zvm => CodeFormat::Zvm,
                    Format::Wasm => CodeFormat::Wasm,
                };
                let salt = salt.map(|s| U256::from_be_bytes(s));
                self.submit(crate::Request::Deploy { deployer: Address(deployer), code, format, salt }).await
            }
            Request::Call { token, call } => {
                self.authorize(&token)?;
                let call = self.contract_call(call)?;
                self.submit(call.into_call()).await
            }
            Request::Query(call) => {
                let query = self.contract_call(call)?;
                self.query(query).await
            }
            Request::Batch { token, entries } => self.batch(&token, entries).await,
            Request::GetCode { address } => self.code(Address(address)),
            Request::GetStorage { address, slot } => self.read(|view| {
                let address = Address(address);
                view.account(address)?.ok_or_else(|| no_account(address))?;
                Ok(Response::Storage(view.storage(address, U256::from_be_bytes(slot))?.to_be_bytes()))
            }),
            Request::GetReceipt { id } => self.read(|view| match view.receipt(id)? {
                Some(receipt) => Ok(Response::Receipt(wire_receipt(receipt))),
                None => Err(error(ErrorCode::NotFound, format!("no receipt {id}"))),
            }),
            Request::Resolve { name } => self.read(|view| match view.resolve(&name)? {
                Some(address) => Ok(Response::Resolved(address.0)),
                None => Err(error(ErrorCode::NotFound, format!("no contract is named `{name}`"))),
            }),
            Request::RegisterName { token, name, address } => {
                self.authorize(&token)?;
                self.submit(crate::Request::RegisterName { name, address: Address(address) }).await
            }
            Request::GetBlock { number } => self.read(|view| match view.block_header(number)? {
                Some((hash, header)) => Ok(Response::Block(Block {
                    hash,
                    parent: header.parent,
                    number: header.number,
                    timestamp: header.timestamp,
                    first_receipt: header.first_receipt,
                    receipts: header.receipts,
                    receipts_root: header.receipts_root,
                    changes_root: header.changes_root,
                })),
                None => Err(error(ErrorCode::NotFound, format!("no block {number}"))),
            }),
            // Handled by `serve_stream`: a subscription is not one reply.
            Request::Subscribe(_) | Request::SubscribeFrom { .. } => {
                Err(error(ErrorCode::Internal, "a subscription reached the request path"))
            }
        }
    }

    fn authorize(&self, token: &str) -> Result<(), ErrorReply> {
        if bool::from(token.as_bytes().ct_eq(&self.token)) {
            Ok(())
        } else {
            Err(error(
                ErrorCode::Unauthorized,
                "a state-changing request needs the node's token (--token or ZVM_TOKEN)",
            ))
        }
    }

    /// Runs `f` on a snapshot of the committed state.
    fn read<T>(&self, f: impl FnOnce(&mut crate::ReadView) -> Result<T, ErrorReply>) -> Result<T, ErrorReply> {
        let mut view = self.node.read().map_err(store_error)?;
        f(&mut view)
    }

    /// `call` as the node takes it, if its callee is a contract.
    fn contract_call(&self, call: CallArgs) -> Result<Query, ErrorReply> {
        if !self.is_contract(call.to)? {
            return Err(no_contract(call.to));
        }
        Ok(node_query(call))
    }

    /// True if `address` holds code, in the committed state.
    fn is_contract(&self, address: Addr) -> Result<bool, ErrorReply> {
        Ok(self.node.account(Address(address)).map_err(store_error)?.is_some_and(|a| a.code_hash.is_some()))
    }

    /// Hands work to the node once `permits` (the queue it goes to) has room, without blocking, and waits
    /// asynchronously for what the node calls back with.
    async fn hand_off<T: Send + 'static>(
        &self,
        permits: &Arc<Semaphore>,
        send: impl FnOnce(Box<dyn FnOnce(T) + Send>),
    ) -> Result<T, ErrorReply> {
        let permit = permits.clone().acquire_owned().await.map_err(|_| unavailable())?;
        let (tx, rx) = oneshot::channel();
        send(Box::new(move |outcome| {
            drop(permit);
            let _ = tx.send(outcome);
        }));
        // Dropped without an answer: the node's thread is gone.
        rx.await.map_err(|_| unavailable())
    }

    /// Hands a state-changing request to the writer and waits (asynchronously) until it is durable.
    async fn submit(&self, request: crate::Request) -> Reply {
        let receipt = self.hand_off(&self.writes, |done| self.node.submit_then(request, done)).await?;
        let receipt = receipt.map_err(node_error)?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(Response::Receipt(wire_receipt(receipt)))
    }

    async fn query(&self, query: Query) -> Reply {
        let result = self.hand_off(&self.queries, |done| self.node.query_then(query, done)).await?;
        let result = result.map_err(node_error)?;
        self.queried.fetch_add(1, Ordering::Relaxed);
        Ok(Response::Queried(wire_outcome(result)))
    }

    /// Runs a batch (see the module docs) and replies for each entry, in order.
    async fn batch(&self, token: &str, entries: Vec<Entry>) -> Reply {
        if entries.is_empty() || entries.len() > MAX_BATCH_ENTRIES {
            let n = entries.len();
            return Err(error(
                ErrorCode::BadRequest,
                format!("a batch holds 1 to {MAX_BATCH_ENTRIES} entries, not {n}"),
            ));
        }
        if entries.iter().any(|e| matches!(e, Entry::Call(_))) {
            self.authorize(token)?;
        }
        // `None`: the entry is to run; its reply comes from the node.
        let mut replies: Vec<Option<EntryReply>> = Vec::with_capacity(entries.len());
        let mut runnable = Vec::with_capacity(entries.len());
        let mut contracts = HashMap::new();
        for entry in entries {
            let (write, call) = match entry {
                Entry::Call(call) => (true, call),
                Entry::Query(call) => (false, call),
            };
            let is_contract = match contracts.get(&call.to) {
                Some(&known) => known,
                None => {
                    let known = self.is_contract(call.to)?;
                    contracts.insert(call.to, known);
                    known
                }
            };
            if is_contract {
                replies.push(None);
                runnable.push((write, node_query(call)));
            } else {
                replies.push(Some(EntryReply { exec_ns: 0, result: Err(no_contract(call.to)) }));
            }
        }
        let ran: Vec<EntryReply> = if runnable.iter().any(|&(write, _)| write) {
            let entries = runnable
                .into_iter()
                .map(|(write, q)| if write { node::Entry::Write(q.into_call()) } else { node::Entry::Read(q) })
                .collect();
            let executed = self.hand_off(&self.writes, |done| self.node.submit_batch_then(entries, done)).await?;
            executed
                .into_iter()
                .map(|e| {
                    entry_reply(e, |output| match output {
                        Output::Receipt(receipt) => EntryResult::Receipt(wire_receipt(receipt)),
                        Output::Read(result) => EntryResult::Queried(wire_outcome(result)),
                    })
                })
                .collect()
        } else if !runnable.is_empty() {
            let queries = runnable.into_iter().map(|(_, q)| q).collect();
            let executed = self.hand_off(&self.queries, |done| self.node.query_batch_then(queries, done)).await?;
            executed.into_iter().map(|e| entry_reply(e, |r| EntryResult::Queried(wire_outcome(r)))).collect()
        } else {
            Vec::new()
        };
        let mut ran = ran.into_iter();
        let replies: Vec<EntryReply> = replies
            .into_iter()
            .map(|reply| {
                // The node answers every entry it was given; if not, it stopped.
                reply.or_else(|| ran.next()).unwrap_or(EntryReply { exec_ns: 0, result: Err(unavailable()) })
            })
            .collect();
        for reply in &replies {
            let counter = match reply.result {
                Ok(EntryResult::Receipt(_)) => &self.calls,
                Ok(EntryResult::Queried(_)) => &self.queried,
                Err(_) => &self.errors,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Response::Batch(replies))
    }

    fn code(&self, address: Address) -> Reply {
        self.read(|view| {
            let code = view.code(address)?;
            let info = view.contract(address)?;
            match info {
                Some(info) if !code.is_empty() => {
                    let format = match info.format {
                        CodeFormat::Evm => Format::Evm,
                        CodeFormat::Zvm => Format::Zvm,
                        CodeFormat::Wasm => Format::Wasm,
                    };
                    Ok(Response::Code { format, code: code.to_vec() })
                }
                _ => Err(error(ErrorCode::NotFound, format!("no contract at {address}"))),
            }
        })
    }

    fn health(&self) -> Result<Health, ErrorReply> {
        self.read(|view| {
            Ok(Health {
                server: env!("CARGO_PKG_VERSION").into(),
                protocol: PIPELINED,
                uptime_ms: self.uptime_ms(),
                block: view.block()?,
                receipts: view.calls()?,
            })
        })
    }

    fn metrics(&self) -> Result<Metrics, ErrorReply> {
        let stats = self.node.stats();
        let db_bytes = std::fs::metadata(self.node.path())
            .map(|m| m.len())
            .map_err(|e| error(ErrorCode::Internal, format!("{}: {e}", self.node.path().display())))?;
        Ok(Metrics {
            uptime_ms: self.uptime_ms(),
            connections: self.connections.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            queries: self.queried.load(Ordering::Relaxed),
            commits: stats.commits,
            committed: stats.committed,
            largest_batch: stats.largest_batch,
            subscribers: self.hub.subscribers(),
            lagged: self.hub.lagged.load(Ordering::Relaxed),
            db_bytes,
        })
    }

    fn uptime_ms(&self) -> u64 {
        self.started.elapsed().as_millis().try_into().unwrap_or(u64::MAX)
    }

    /// Streams the logs that match `filter` — first, with `from`, the stored ones from there on (see the
    /// module docs) — until the peer stops reading (`None`: nothing more to say), the subscriber lags or
    /// the node stops (the final error).
    async fn stream_events(&self, filter: Filter, from: Option<Start>, send: &mut quinn::SendStream) -> Option<Reply> {
        if filter.topics.len() > MAX_TOPICS {
            return Some(Err(error(ErrorCode::BadRequest, format!("a filter names at most {MAX_TOPICS} topics"))));
        }
        let (tx, mut rx) = mpsc::channel(self.subscriber_buffer);
        let lagged = Arc::new(AtomicBool::new(false));
        let filter = Arc::new(filter);
        self.hub.add(Subscriber { filter: filter.clone(), tx, lagged: lagged.clone() });
        write_reply(send, &Ok(Response::Subscribed)).await.ok()?;
        let mut live = LiveFrom::default();
        if let Some(from) = from {
            match self.replay(filter, from, send).await {
                Ok(Some(Replay { next, live: true, .. })) => {
                    let min_block = if let Start::Block(block) = from { block } else { 0 };
                    live = LiveFrom { next, min_block };
                }
                Ok(Some(Replay { live: false, .. })) => {
                    // The bound was reached: the client resubscribes from where the replay stopped.
                    let _ = send.finish();
                    return None;
                }
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
        loop {
            let event = tokio::select! {
                event = rx.recv() => event,
                _ = send.stopped() => return None,
            };
            match event {
                Some(event) if !live.admits(&event) => {}
                Some(event) => write_reply(send, &Ok(Response::Event(event))).await.ok()?,
                None if lagged.load(Ordering::Relaxed) => {
                    let why = format!("the subscriber fell {} events behind and was dropped", self.subscriber_buffer);
                    return Some(Err(error(ErrorCode::Lagged, why)));
                }
                None => return Some(Err(unavailable())),
            }
        }
    }

    /// Replays the stored logs matching `filter` from `from` up to the last receipt of a snapshot taken
    /// now (the subscriber is already in the hub), at most the backlog bounds, and writes the
    /// [`Response::Replayed`] frame. `None`: the peer went away.
    async fn replay(
        &self,
        filter: Arc<Filter>,
        from: Start,
        send: &mut quinn::SendStream,
    ) -> Result<Option<Replay>, ErrorReply> {
        let view = self.node.read()?;
        let next = match from {
            Start::Block(block) => Cursor { receipt: view.first_receipt_from_block(block)?, index: 0 },
            // Receipts are numbered from 1.
            Start::At(cursor) => cursor.max(Cursor { receipt: 1, index: 0 }),
        };
        let mut replay = Replay {
            next,
            cutoff: view.calls()?,
            logs_left: self.backlog_logs,
            receipts_left: self.backlog_receipts,
            live: false,
        };
        let mut view = Some(view);
        loop {
            let Some(snapshot) = view.take() else { break };
            let filter = filter.clone();
            let chunk = tokio::task::spawn_blocking(move || {
                let mut replay = replay;
                let events = replay.chunk(&snapshot, &filter);
                (snapshot, replay, events)
            });
            let (snapshot, next_state, events) =
                chunk.await.map_err(|e| error(ErrorCode::Internal, format!("the replay failed: {e}")))?;
            replay = next_state;
            for event in events? {
                if write_reply(send, &Ok(Response::Event(event))).await.is_err() {
                    return Ok(None);
                }
            }
            if replay.next.receipt > replay.cutoff {
                replay.live = true;
                break;
            }
            if replay.logs_left > 0 && replay.receipts_left > 0 {
                view = Some(snapshot);
            }
        }
        let frame = Response::Replayed { live: replay.live, next: replay.next };
        Ok(write_reply(send, &Ok(frame)).await.ok().map(|()| replay))
    }
}

/// Which live events a subscription with a backlog passes on: none before `next` (the replay covered
/// them, or they come before the start) and none of a block before `min_block` (the start).
#[derive(Clone, Copy, Debug, Default)]
struct LiveFrom {
    next: Cursor,
    min_block: u64,
}

impl LiveFrom {
    fn admits(&self, event: &Event) -> bool {
        Cursor { receipt: event.receipt, index: event.index } >= self.next && event.block >= self.min_block
    }
}

/// Where a backlog replay is: the next log to look at, the last receipt it covers, what is left of its
/// bounds, and whether it reached the cutoff.
#[derive(Clone, Copy, Debug)]
struct Replay {
    next: Cursor,
    cutoff: u64,
    logs_left: usize,
    receipts_left: usize,
    live: bool,
}

/// Most events, and about the most bytes of log data, one chunk of a replay holds.
const CHUNK_EVENTS: usize = 256;
const CHUNK_BYTES: usize = 1 << 20;
/// Most receipts one chunk reads (so a filter that matches little still yields between chunks).
const CHUNK_RECEIPTS: usize = 4096;

impl Replay {
    /// Reads the next chunk of matching logs from `view`, moving `next` past what it looked at.
    fn chunk(&mut self, view: &crate::ReadView, filter: &Filter) -> Result<Vec<Event>, ErrorReply> {
        let mut events = Vec::new();
        let mut bytes = 0;
        let mut receipts = view.receipts_from(self.next.receipt)?;
        for _ in 0..CHUNK_RECEIPTS {
            if self.receipts_left == 0 {
                return Ok(events);
            }
            let receipt = match receipts.next() {
                Some(receipt) => receipt?,
                None => return Ok(self.done(events)),
            };
            if receipt.id > self.cutoff {
                return Ok(self.done(events));
            }
            let first = if receipt.id == self.next.receipt { self.next.index as usize } else { 0 };
            for (index, log) in receipt.logs.iter().enumerate().skip(first) {
                if self.logs_left == 0 || events.len() == CHUNK_EVENTS || bytes >= CHUNK_BYTES {
                    self.next = Cursor { receipt: receipt.id, index: index as u32 };
                    return Ok(events);
                }
                let log = wire_log(log.clone());
                if filter.matches(&log) {
                    bytes += 64 + 32 * log.topics.len() + log.data.len();
                    self.logs_left -= 1;
                    events.push(Event { receipt: receipt.id, block: receipt.block, index: index as u32, log });
                }
            }
            self.next = Cursor { receipt: receipt.id + 1, index: 0 };
            self.receipts_left -= 1;
            if receipt.id == self.cutoff {
                return Ok(self.done(events));
            }
        }
        Ok(events)
    }

    /// The snapshot holds nothing more up to the cutoff: the replay is complete.
    fn done(&mut self, events: Vec<Event>) -> Vec<Event> {
        self.next = self.next.max(Cursor { receipt: self.cutoff + 1, index: 0 });
        events
    }
}

/// The queue of a pipelined stream's encoded replies, each with its request's place in the window (none
/// for an error about the stream itself). Bounded by the window: a reply holds its permit until written.
type PipelinedReplies = mpsc::UnboundedSender<(Vec<u8>, Option<OwnedSemaphorePermit>)>;

/// Writes a pipelined stream's replies as they come, every reply ready at the time in one write (up to
/// 64 KiB), until every sender is gone; then finishes the stream.
async fn write_pipelined(
    mut send: quinn::SendStream,
    mut queued: mpsc::UnboundedReceiver<(Vec<u8>, Option<OwnedSemaphorePermit>)>,
) {
    let mut buffer = Vec::new();
    let mut permits = Vec::new();
    while let Some((frame, permit)) = queued.recv().await {
        buffer.extend_from_slice(&frame);
        permits.push(permit);
        while buffer.len() < 1 << 16 {
            match queued.try_recv() {
                Ok((frame, permit)) => {
                    buffer.extend_from_slice(&frame);
                    permits.push(permit);
                }
                Err(_) => break,
            }
        }
        if send.write_all(&buffer).await.is_err() {
            return; // the peer went away: dropping `queued` tells the reader
        }
        buffer.clear();
        permits.clear();
    }
    let _ = send.finish();
}

/// Writes one reply frame; a reply too large for a frame becomes an error reply.
async fn write_reply(send: &mut quinn::SendStream, reply: &Reply) -> Result<(), quinn::WriteError> {
    let frame = encode_frame(reply, MAX_REPLY_FRAME).or_else(|e| {
        encode_frame::<Reply>(
            &Err(error(ErrorCode::Internal, format!("the reply cannot be sent: {e}"))),
            MAX_REPLY_FRAME,
        )
    });
    match frame {
        Ok(frame) => send.write_all(&frame).await,
        // An error reply always fits a frame; if even it could not be encoded, the stream just ends.
        Err(_) => Ok(()),
    }
}

fn unavailable() -> ErrorReply {
    error(ErrorCode::Unavailable, "the node is stopping")
}

fn no_contract(address: Addr) -> ErrorReply {
    error(ErrorCode::NotFound, format!("no contract at {}", Address(address)))
}

fn no_account(address: Address) -> ErrorReply {
    error(ErrorCode::NotFound, format!("no account at {address}"))
}

fn store_error(e: StoreError) -> ErrorReply {
    error(ErrorCode::Internal, format!("store: {e}"))
}

impl From<StoreError> for ErrorReply {
    fn from(e: StoreError) -> ErrorReply {
        store_error(e)
    }
}

/// The error reply for a request the node refused or failed.
fn node_error(e: NodeError) -> ErrorReply {
    let code = match &e {
        NodeError::Deploy(_) => ErrorCode::InvalidCode,
        NodeError::Rejected(_) | NodeError::NameTaken { .. } => ErrorCode::Rejected,
        NodeError::BadName { .. } | NodeError::BadRequest(_) => ErrorCode::BadRequest,
        NodeError::Store(_) | NodeError::Internal(_) => ErrorCode::Internal,
        NodeError::Stopped => ErrorCode::Unavailable,
    };
    error(code, e.to_string())
}

/// A call from the wire as the node takes it.
fn node_query(call: CallArgs) -> Query {
    Query {
        caller: Address(call.caller),
        to: Address(call.to),
        value: U256::from_be_bytes(call.value),
        input: call.input,
        gas_limit: call.gas_limit,
    }
}

/// A batch entry's reply from what the node did with it.
fn entry_reply<T>(executed: Executed<T>, wire: impl FnOnce(T) -> EntryResult) -> EntryReply {
    EntryReply {
        exec_ns: executed.took.as_nanos().try_into().unwrap_or(u64::MAX),
        result: executed.outcome.map(wire).map_err(node_error),
    }
}

fn wire_outcome(result: ExecResult) -> Outcome {
    Outcome {
        status: result.status.name(),
        gas_used: result.gas_used,
        output: result.output,
        logs: result.logs.into_iter().map(wire_log).collect(),
    }
}

fn wire_log(log: zvm_runtime::Log) -> Log {
    Log { address: log.address.0, topics: log.topics.iter().map(|t| t.to_be_bytes()).collect(), data: log.data }
}

fn wire_receipt(r: crate::Receipt) -> Receipt {
    Receipt {
        id: r.id,
        block: r.block,
        status: r.status.name(),
        gas_used: r.gas_used,
        gas_refunded: r.gas_refunded,
        output: r.output,
        logs: r.logs.into_iter().map(wire_log).collect(),
        created: r.created.map(|a| a.0),
    }
}

/// One subscription's end of the hub.
struct Subscriber {
    filter: Arc<Filter>,
    tx: mpsc::Sender<Event>,
    lagged: Arc<AtomicBool>,
}

/// Fans durable logs out to subscribers (see the module docs).
#[derive(Default)]
struct Hub {
    subscribers: Mutex<Vec<Subscriber>>,
    lagged: AtomicU64,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Subscriber>> {
        // Publishing cannot leave the list half-changed, so a poisoned lock is still a good list.
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, subscriber: Subscriber) {
        self.lock().push(subscriber);
    }

    fn subscribers(&self) -> u64 {
        self.lock().iter().filter(|s| !s.tx.is_closed()).count() as u64
    }

    /// Called by the writer with a durable batch's receipts: never waits.
    fn publish(&self, receipts: &[&crate::Receipt]) {
        let mut subscribers = self.lock();
        if subscribers.is_empty() || receipts.iter().all(|r| r.logs.is_empty()) {
            return;
        }
        let events: Vec<Event> = receipts
            .iter()
            .flat_map(|r| {
                r.logs.iter().enumerate().map(|(index, log)| Event {
                    receipt: r.id,
                    block: r.block,
                    index: index as u32,
                    log: wire_log(log.clone()),
                })
            })
            .collect();
        let mut lagged = 0;
        subscribers.retain(|s| {
            for event in events.iter().filter(|e| s.filter.matches(&e.log)) {
                match s.tx.try_send(event.clone()) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        s.lagged.store(true, Ordering::Relaxed);
                        lagged += 1;
                        return false;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return false,
                }
            }
            true
        });
        self.lagged.fetch_add(lagged, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Request as NodeRequest;
    use zvm_runtime::executor::Tier;

    /// EVM: increments slot 0 and emits `LOG1(topic = call data word 0, data = the new count)`.
    const LOGGER: &str = "5f54600101805f555f525f3560205fa160205ff3";

    fn call(node: &Node, to: Address) -> crate::Receipt {
        let request = NodeRequest::Call {
            caller: Address::from_low_u64(0xCA),
            to,
            value: U256::ZERO,
            input: vec![1; 32],
            gas_limit: 1_000_000,
        };
        node.execute(request).unwrap()
    }

    /// The race the join must survive, made to happen: a call committed before the replay's snapshot but
    /// published to the hub after the subscriber was added (the writer publishes just after committing)
    /// arrives both in the replay and live; a call committed after the snapshot arrives only live. The
    /// joined stream has each once, in order.
    #[test]
    fn the_replay_and_the_live_stream_join_without_a_gap_or_a_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        let config = NodeConfig { tier: Tier::Interp, ..NodeConfig::default() };
        let node = Node::open(&dir.path().join("db"), config).unwrap();
        let code = hex::decode(LOGGER).unwrap();
        let deploy =
            NodeRequest::Deploy { deployer: Address::from_low_u64(0xCA), code, format: CodeFormat::Evm, salt: None };
        let logger = node.execute(deploy).unwrap().created.unwrap();
        let hub = Hub::default();
        let (early, late) = (call(&node, logger), call(&node, logger));
        hub.publish(&[&early]);
        // The subscriber is added, `late` is committed but not yet published, the snapshot is taken.
        let (tx, mut rx) = mpsc::channel(16);
        let filter = Arc::new(Filter::default());
        hub.add(Subscriber { filter: filter.clone(), tx, lagged: Arc::new(AtomicBool::new(false)) });
        let view = node.read().unwrap();
        hub.publish(&[&late]);
        let after = call(&node, logger);
        hub.publish(&[&after]);

        let mut replay = Replay {
            next: Cursor { receipt: 1, index: 0 },
            cutoff: view.calls().unwrap(),
            logs_left: 100,
            receipts_left: 100,
            live: false,
        };
        let replayed = replay.chunk(&view, &filter).unwrap();
        assert_eq!(replay.next, Cursor { receipt: late.id + 1, index: 0 });
        let live = LiveFrom { next: replay.next, min_block: 0 };
        let mut joined: Vec<u64> = replayed.iter().map(|e| e.receipt).collect();
        let mut delivered = Vec::new();
        while let Ok(event) = rx.try_recv() {
            delivered.push(event.receipt);
            if live.admits(&event) {
                joined.push(event.receipt);
            }
        }
        assert_eq!(delivered, [late.id, after.id], "`late` was delivered live too");
        assert_eq!(joined, [early.id, late.id, after.id]);
    }

    #[test]
    fn a_replay_chunk_stops_at_its_bounds_and_resumes_inside_a_receipt() {
        let dir = tempfile::tempdir().unwrap();
        let config = NodeConfig { tier: Tier::Interp, ..NodeConfig::default() };
        let node = Node::open(&dir.path().join("db"), config).unwrap();
        // 300 empty LOG0s in one call: more than a chunk holds.
        let mut code = hex::decode("5f5fa0".repeat(300)).unwrap();
        code.push(0);
        let deploy =
            NodeRequest::Deploy { deployer: Address::from_low_u64(0xCA), code, format: CodeFormat::Evm, salt: None };
        let spray = node.execute(deploy).unwrap().created.unwrap();
        let receipt = call(&node, spray);
        assert_eq!(receipt.logs.len(), 300);
        let view = node.read().unwrap();
        let filter = Filter::default();
        let mut replay =
            Replay { next: Cursor::default(), cutoff: receipt.id, logs_left: 1000, receipts_left: 1000, live: false };
        replay.next = Cursor { receipt: 1, index: 0 };
        let first = replay.chunk(&view, &filter).unwrap();
        assert_eq!(first.len(), CHUNK_EVENTS);
        assert_eq!(replay.next, Cursor { receipt: receipt.id, index: CHUNK_EVENTS as u32 });
        let rest = replay.chunk(&view, &filter).unwrap();
        assert_eq!(rest.len(), 300 - CHUNK_EVENTS);
        assert_eq!(rest[0].index, CHUNK_EVENTS as u32);
        assert_eq!(replay.next, Cursor { receipt: receipt.id + 1, index: 0 });
        // The log bound: stops at the first log past it.
        let mut bounded = Replay {
            next: Cursor { receipt: 1, index: 0 },
            cutoff: receipt.id,
            logs_left: 7,
            receipts_left: 9,
            live: false,
        };
        assert_eq!(bounded.chunk(&view, &filter).unwrap().len(), 7);
        assert_eq!((bounded.next, bounded.logs_left), (Cursor { receipt: receipt.id, index: 7 }, 0));
    }
}
