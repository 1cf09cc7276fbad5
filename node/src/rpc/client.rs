//! The RPC client: [`Client`] (async, one QUIC connection with one pipelined stream: requests from many
//! tasks run concurrently over it, each tagged with an id, their replies matched by id as they come) and [`Blocking`] (a private single-threaded runtime around a client,
//! for command-line tools).
//!
//! Every reply frame is bounded ([`MAX_REPLY_FRAME`]) before it is allocated, connecting has a timeout
//! (an address where nothing listens gives no answer over UDP, only silence), and so does every request.

use super::protocol::{
    decode_pipelined_reply, decode_reply, encode_frame, encode_pipelined, Block, CallArgs, Cursor, Entry, EntryReply,
    ErrorReply, Event, Filter, Format, Health, Metrics, Outcome, Receipt, Reply, Request, Response, Start, Word,
    MAX_REPLY_FRAME, MAX_REQUEST_FRAME,
};
use super::server::{read_frame, FrameError};
use super::tls::{self, TlsError, Trust};
use quinn::crypto::rustls::QuicClientConfig;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

/// How a client connects.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub trust: Trust,
    /// The node's token, for state-changing requests.
    pub token: Option<String>,
    pub connect_timeout: Duration,
    /// Longest wait for a reply (not for a subscription's events).
    pub request_timeout: Duration,
}

impl ClientConfig {
    pub fn new(trust: Trust, token: Option<String>) -> ClientConfig {
        ClientConfig { trust, token, connect_timeout: Duration::from_secs(3), request_timeout: Duration::from_secs(30) }
    }
}

/// Why a request got no answer, or got an error.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot reach a zvm node at {endpoint}: {why}")]
    Unreachable { endpoint: String, why: String },
    #[error("the server answered: {0}")]
    Server(#[from] ErrorReply),
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("the connection failed: {0}")]
    Connection(String),
    #[error("the server sent something this client cannot read: {0}")]
    Protocol(String),
    #[error("a state-changing request needs the node's token (--token or ZVM_TOKEN)")]
    NoToken,
    #[error("{0}")]
    Tls(#[from] TlsError),
}

impl From<quinn::ConnectionError> for ClientError {
    fn from(e: quinn::ConnectionError) -> ClientError {
        ClientError::Connection(e.to_string())
    }
}

impl From<quinn::WriteError> for ClientError {
    fn from(e: quinn::WriteError) -> ClientError {
        ClientError::Connection(e.to_string())
    }
}

impl From<FrameError> for ClientError {
    fn from(e: FrameError) -> ClientError {
        ClientError::Protocol(e.to_string())
    }
}

/// A connection to a node.
pub struct Client {
    endpoint: quinn::Endpoint,
    connection: quinn::Connection,
    config: ClientConfig,
    /// Opened with the first request: a stream the server has seen but that carries nothing would be
    /// taken for a version 1 stream whose request is late.
    pipe: tokio::sync::OnceCell<Pipe>,
}

/// The client's end of its pipelined stream: a task writes the queued request frames (all those queued
/// at the time in one write), another reads the replies and hands each to the request with its id.
struct Pipe {
    next_id: AtomicU32,
    waiting: Arc<Mutex<Waiting>>,
    frames: mpsc::UnboundedSender<Vec<u8>>,
    reader: tokio::task::JoinHandle<()>,
}

/// Requests waiting for their reply, by id; once the stream has failed, why.
#[derive(Default)]
struct Waiting {
    by_id: HashMap<u32, oneshot::Sender<Reply>>,
    failed: Option<String>,
}

impl Waiting {
    /// Ends every waiting request (their callers see `why`) and any later one.
    fn fail(&mut self, why: String) {
        self.failed.get_or_insert(why);
        self.by_id.clear();
    }
}

fn lock(waiting: &Mutex<Waiting>) -> std::sync::MutexGuard<'_, Waiting> {
    // Nothing panics while holding it with the map half-changed.
    waiting.lock().unwrap_or_else(|p| p.into_inner())
}

impl Pipe {
    async fn open(connection: &quinn::Connection) -> Result<Pipe, ClientError> {
        let (mut send, mut recv) = connection.open_bi().await?;
        let waiting = Arc::new(Mutex::new(Waiting::default()));
        let (frames, mut queued) = mpsc::unbounded_channel::<Vec<u8>>();
        tokio::spawn(async move {
            let mut buffer = Vec::new();
            while let Some(frame) = queued.recv().await {
                buffer.extend_from_slice(&frame);
                while buffer.len() < 1 << 16 {
                    match queued.try_recv() {
                        Ok(frame) => buffer.extend_from_slice(&frame),
                        Err(_) => break,
                    }
                }
                if send.write_all(&buffer).await.is_err() {
                    return; // the reader sees the connection fail
                }
                buffer.clear();
            }
            let _ = send.finish();
        });
        let replies = waiting.clone();
        let reader = tokio::spawn(async move {
            let why = loop {
                let body = match read_frame(&mut recv, MAX_REPLY_FRAME).await {
                    Ok(body) => body,
                    Err(FrameError::End) => break "the server ended the stream".to_string(),
                    Err(e) => break e.to_string(),
                };
                match decode_pipelined_reply(&body) {
                    // An error about the stream itself: the server ends it.
                    Ok((0, Err(e))) => break format!("the server answered: {e}"),
                    Ok((id, reply)) => {
                        // A request that timed out is no longer waiting.
                        if let Some(tx) = lock(&replies).by_id.remove(&id) {
                            let _ = tx.send(reply);
                        }
                    }
                    Err(e) => break format!("the server sent something this client cannot read: {e}"),
                }
            };
            lock(&replies).fail(why);
        });
        Ok(Pipe { next_id: AtomicU32::new(1), waiting, frames, reader })
    }

    async fn request(&self, request: &Request, timeout: Duration) -> Result<Reply, ClientError> {
        let id = match self.next_id.fetch_add(1, Ordering::Relaxed) {
            0 => self.next_id.fetch_add(1, Ordering::Relaxed), // 0 is the stream's own
            id => id,
        };
        let frame =
            encode_pipelined(id, request, MAX_REQUEST_FRAME).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let (tx, rx) = oneshot::channel();
        {
            let mut waiting = lock(&self.waiting);
            if let Some(why) = &waiting.failed {
                return Err(ClientError::Connection(why.clone()));
            }
            waiting.by_id.insert(id, tx);
        }
        let failed = || ClientError::Connection(lock(&self.waiting).failed.clone().unwrap_or_default());
        self.frames.send(frame).map_err(|_| failed())?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(failed()),
            Err(_) => {
                lock(&self.waiting).by_id.remove(&id);
                Err(ClientError::Timeout(timeout))
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // The reader holds the stream, and so the connection: stop it so that the connection closes.
        if let Some(pipe) = self.pipe.get() {
            pipe.reader.abort();
        }
    }
}

impl Client {
    /// Connects to `endpoint` (`host:port`). Must be called inside a Tokio runtime.
    pub async fn connect(endpoint: &str, config: ClientConfig) -> Result<Client, ClientError> {
        let unreachable = |why: String| ClientError::Unreachable { endpoint: endpoint.to_owned(), why };
        let addr: SocketAddr = tokio::net::lookup_host(endpoint)
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .next()
            .ok_or_else(|| unreachable("the name has no address".into()))?;
        let crypto = QuicClientConfig::try_from(tls::client_config(config.trust.clone())?)
            .map_err(|e| TlsError::Rustls(rustls::Error::General(e.to_string())))?;
        let mut client_config = quinn::ClientConfig::new(Arc::new(crypto));
        let mut transport = quinn::TransportConfig::default();
        transport.keep_alive_interval(Some(Duration::from_secs(5)));
        client_config.transport_config(Arc::new(transport));
        let bind: SocketAddr = if addr.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" }
            .parse()
            .map_err(|e: std::net::AddrParseError| unreachable(e.to_string()))?;
        let mut quic = quinn::Endpoint::client(bind).map_err(|e| unreachable(e.to_string()))?;
        quic.set_default_client_config(client_config);
        // The name is not checked (see `tls`): any valid one will do.
        let connecting = quic.connect(addr, "localhost").map_err(|e| unreachable(e.to_string()))?;
        let connection = match tokio::time::timeout(config.connect_timeout, connecting).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(e)) => return Err(unreachable(e.to_string())),
            Err(_) => {
                let secs = config.connect_timeout.as_secs_f64();
                return Err(unreachable(format!("no answer within {secs} s (is `zvm serve` running there?)")));
            }
        };
        Ok(Client { endpoint: quic, connection, config, pipe: tokio::sync::OnceCell::new() })
    }

    /// Sends `request` on the pipelined stream and returns the server's reply (an error reply is
    /// [`ClientError::Server`]).
    pub async fn request(&self, request: &Request) -> Result<Response, ClientError> {
        let pipe = self.pipe.get_or_try_init(|| Pipe::open(&self.connection)).await?;
        Ok(pipe.request(request, self.config.request_timeout).await??)
    }

    /// Sends raw bytes on a stream of their own (version 1: one request, one reply) and reads one reply
    /// frame, so that tests can send what no encoder would.
    pub async fn exchange(&self, bytes: &[u8]) -> Result<Reply, ClientError> {
        let timeout = self.config.request_timeout;
        tokio::time::timeout(timeout, async {
            let (mut send, mut recv) = self.connection.open_bi().await?;
            send.write_all(bytes).await?;
            // The server may already have answered and stopped reading (an oversized frame).
            let _ = send.finish();
            read_reply(&mut recv).await
        })
        .await
        .map_err(|_| ClientError::Timeout(timeout))?
    }

    /// Sends raw bytes on a stream of their own, finishes it, and returns the bodies of the reply frames
    /// the server writes until it ends the stream (at most `most`): for tests of pipelined streams.
    pub async fn exchange_frames(&self, bytes: &[u8], most: usize) -> Result<Vec<Vec<u8>>, ClientError> {
        let timeout = self.config.request_timeout;
        tokio::time::timeout(timeout, async {
            let (mut send, mut recv) = self.connection.open_bi().await?;
            send.write_all(bytes).await?;
            let _ = send.finish();
            let mut bodies = Vec::new();
            while bodies.len() < most {
                match read_frame(&mut recv, MAX_REPLY_FRAME).await {
                    Ok(body) => bodies.push(body),
                    Err(FrameError::End) => break,
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(bodies)
        })
        .await
        .map_err(|_| ClientError::Timeout(timeout))?
    }

    fn token(&self) -> Result<String, ClientError> {
        self.config.token.clone().ok_or(ClientError::NoToken)
    }

    pub async fn health(&self) -> Result<Health, ClientError> {
        match self.request(&Request::Health).await? {
            Response::Health(health) => Ok(health),
            other => Err(unexpected(other)),
        }
    }

    pub async fn metrics(&self) -> Result<Metrics, ClientError> {
        match self.request(&Request::Metrics).await? {
            Response::Metrics(metrics) => Ok(metrics),
            other => Err(unexpected(other)),
        }
    }

    /// Deploys `code`; the receipt's `created` is the new contract's address.
    pub async fn deploy(
        &self,
        deployer: [u8; 20],
        code: Vec<u8>,
        format: Format,
        salt: Option<Word>,
    ) -> Result<Receipt, ClientError> {
        let token = self.token()?;
        self.receipt_of(&Request::Deploy { token, deployer, code, format, salt }).await
    }

    /// A state-changing call; returns once it is durable.
    pub async fn call(&self, call: CallArgs) -> Result<Receipt, ClientError> {
        let token = self.token()?;
        self.receipt_of(&Request::Call { token, call }).await
    }

    /// A read-only call on the committed state.
    pub async fn query(&self, call: CallArgs) -> Result<Outcome, ClientError> {
        match self.request(&Request::Query(call)).await? {
            Response::Queried(outcome) => Ok(outcome),
            other => Err(unexpected(other)),
        }
    }

    /// Runs `entries` in order in one request ([`Request::Batch`], at most
    /// [`super::protocol::MAX_BATCH_ENTRIES`]): one reply per entry, in order, each a receipt, an outcome
    /// or its own error, once every call in it is durable. The token is sent (and needed) only if an entry
    /// is a call. An error for the batch as a whole (too many entries, a wrong token) is
    /// [`ClientError::Server`].
    pub async fn batch(&self, entries: Vec<Entry>) -> Result<Vec<EntryReply>, ClientError> {
        let writes = entries.iter().any(|e| matches!(e, Entry::Call(_)));
        let token = if writes { self.token()? } else { String::new() };
        let sent = entries.len();
        match self.request(&Request::Batch { token, entries }).await? {
            Response::Batch(replies) if replies.len() == sent => Ok(replies),
            Response::Batch(replies) => {
                Err(ClientError::Protocol(format!("{} replies to a batch of {sent} entries", replies.len())))
            }
            other => Err(unexpected(other)),
        }
    }

    /// A contract's code and format.
    pub async fn code(&self, address: [u8; 20]) -> Result<(Format, Vec<u8>), ClientError> {
        match self.request(&Request::GetCode { address }).await? {
            Response::Code { format, code } => Ok((format, code)),
            other => Err(unexpected(other)),
        }
    }

    pub async fn storage(&self, address: [u8; 20], slot: Word) -> Result<Word, ClientError> {
        match self.request(&Request::GetStorage { address, slot }).await? {
            Response::Storage(value) => Ok(value),
            other => Err(unexpected(other)),
        }
    }

    pub async fn receipt(&self, id: u64) -> Result<Receipt, ClientError> {
        self.receipt_of(&Request::GetReceipt { id }).await
    }

    pub async fn resolve(&self, name: &str) -> Result<[u8; 20], ClientError> {
        match self.request(&Request::Resolve { name: name.to_owned() }).await? {
            Response::Resolved(address) => Ok(address),
            other => Err(unexpected(other)),
        }
    }

    /// The hash and header of block `number`.
    pub async fn block(&self, number: u64) -> Result<Block, ClientError> {
        match self.request(&Request::GetBlock { number }).await? {
            Response::Block(block) => Ok(block),
            other => Err(unexpected(other)),
        }
    }

    pub async fn register_name(&self, name: &str, address: [u8; 20]) -> Result<Receipt, ClientError> {
        let token = self.token()?;
        self.receipt_of(&Request::RegisterName { token, name: name.to_owned(), address }).await
    }

    async fn receipt_of(&self, request: &Request) -> Result<Receipt, ClientError> {
        match self.request(request).await? {
            Response::Receipt(receipt) => Ok(receipt),
            other => Err(unexpected(other)),
        }
    }

    /// Subscribes to the logs matching `filter`; returns once the server has registered the subscription
    /// (every call acknowledged after that is seen).
    pub async fn subscribe(&self, filter: Filter) -> Result<Subscription, ClientError> {
        self.open_subscription(&Request::Subscribe(filter), true).await
    }

    /// Subscribes with a backlog: the stored logs matching `filter` from `from` on, then the live ones,
    /// none missing or repeated. The server replays at most its bound per subscription (docs/rpc.md); when
    /// it stops there, the subscription ends ([`Subscription::cut_short`]) and a new one from
    /// [`Subscription::resume`] continues it.
    pub async fn subscribe_from(&self, filter: Filter, from: Start) -> Result<Subscription, ClientError> {
        self.open_subscription(&Request::SubscribeFrom { filter, from }, false).await
    }

    async fn open_subscription(&self, request: &Request, live: bool) -> Result<Subscription, ClientError> {
        let frame = encode_frame(request, MAX_REQUEST_FRAME).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let timeout = self.config.request_timeout;
        tokio::time::timeout(timeout, async {
            let (mut send, mut recv) = self.connection.open_bi().await?;
            send.write_all(&frame).await?;
            let _ = send.finish();
            match read_reply(&mut recv).await?? {
                Response::Subscribed => Ok(Subscription { recv, live, cut_short: false, resume: None }),
                other => Err(unexpected(other)),
            }
        })
        .await
        .map_err(|_| ClientError::Timeout(timeout))?
    }

    /// Closes the connection at once (requests in flight fail; calls already sent may still commit).
    pub fn close(&self) {
        self.endpoint.close(0u8.into(), b"done");
    }
}

/// A stream of events.
pub struct Subscription {
    recv: quinn::RecvStream,
    /// The replay (if any) is over: events now are live.
    live: bool,
    /// The server stopped the replay at its bound and ends the stream.
    cut_short: bool,
    /// Where a new subscription continues this one.
    resume: Option<Cursor>,
}

/// What a subscription delivers: an event, or the end of the backlog's replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    Event(Event),
    /// The replay is complete; live events follow, from this position on.
    Live(Cursor),
    /// The server's bound stopped the replay here; the stream ends. Subscribe again from here.
    CutShort(Cursor),
}

impl Subscription {
    /// The next event; `None` when the server ended the stream without an error (after a replay cut
    /// short: see [`Subscription::cut_short`]). An error ends the subscription (lagging is
    /// [`super::ErrorCode::Lagged`]).
    pub async fn next(&mut self) -> Option<Result<Event, ClientError>> {
        loop {
            match self.next_delivery().await? {
                Ok(Delivery::Event(event)) => return Some(Ok(event)),
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// The next event or end of the replay; `None` when the server ended the stream without an error.
    pub async fn next_delivery(&mut self) -> Option<Result<Delivery, ClientError>> {
        let body = match read_frame(&mut self.recv, MAX_REPLY_FRAME).await {
            Err(FrameError::End) => return None,
            Err(e) => return Some(Err(e.into())),
            Ok(body) => body,
        };
        Some(match decode_reply(&body) {
            Err(e) => Err(ClientError::Protocol(e)),
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(Response::Event(event))) => {
                let after = Cursor { receipt: event.receipt, index: event.index.saturating_add(1) };
                self.resume = Some(self.resume.map_or(after, |r| r.max(after)));
                Ok(Delivery::Event(event))
            }
            Ok(Ok(Response::Replayed { live, next })) => {
                self.resume = Some(self.resume.map_or(next, |r| r.max(next)));
                self.live = live;
                self.cut_short = !live;
                Ok(if live { Delivery::Live(next) } else { Delivery::CutShort(next) })
            }
            Ok(Ok(other)) => Err(unexpected(other)),
        })
    }

    /// True once the replay is over (from the start for [`Client::subscribe`]): events are live.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// True if the server stopped the replay at its bound: the stream ends, and a subscription from
    /// [`Subscription::resume`] continues it.
    pub fn cut_short(&self) -> bool {
        self.cut_short
    }

    /// Where a new subscription ([`Start::At`]) continues this one with nothing missed or repeated: after
    /// the last event received, or further if the replay said so. `None` before anything was received.
    pub fn resume(&self) -> Option<Cursor> {
        self.resume
    }
}

async fn read_reply(recv: &mut quinn::RecvStream) -> Result<Reply, ClientError> {
    let body = read_frame(recv, MAX_REPLY_FRAME).await?;
    decode_reply(&body).map_err(ClientError::Protocol)
}

fn unexpected(response: Response) -> ClientError {
    let kind = format!("{response:?}");
    ClientError::Protocol(format!("an unexpected reply: {}", kind.chars().take(60).collect::<String>()))
}

/// A client for synchronous code: its own single-threaded runtime.
pub struct Blocking {
    runtime: tokio::runtime::Runtime,
    client: Client,
}

impl Blocking {
    pub fn connect(endpoint: &str, config: ClientConfig) -> Result<Blocking, ClientError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::Connection(format!("cannot start a runtime: {e}")))?;
        let client = runtime.block_on(Client::connect(endpoint, config))?;
        Ok(Blocking { runtime, client })
    }

    /// Runs `f` with the client to completion: `blocking.run(async |c| c.health().await)`.
    pub fn run<T>(&self, f: impl AsyncFnOnce(&Client) -> T) -> T {
        self.runtime.block_on(f(&self.client))
    }
}
