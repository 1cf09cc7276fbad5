//! The RPC client: [`Client`] (async, one QUIC connection, a stream per request, so requests from many
//! tasks run concurrently over it) and [`Blocking`] (a private single-threaded runtime around a client,
//! for command-line tools).
//!
//! Every reply frame is bounded ([`MAX_REPLY_FRAME`]) before it is allocated, connecting has a timeout
//! (an address where nothing listens gives no answer over UDP, only silence), and so does every request.

use super::protocol::{
    decode_reply, encode_frame, CallArgs, ErrorReply, Event, Filter, Format, Health, Metrics, Outcome, Receipt, Reply,
    Request, Response, Word, MAX_REPLY_FRAME, MAX_REQUEST_FRAME,
};
use super::server::{read_frame, FrameError};
use super::tls::{self, TlsError, Trust};
use quinn::crypto::rustls::QuicClientConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

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
        Ok(Client { endpoint: quic, connection, config })
    }

    /// Sends `request` and returns the server's reply (an error reply is [`ClientError::Server`]).
    pub async fn request(&self, request: &Request) -> Result<Response, ClientError> {
        let frame = encode_frame(request, MAX_REQUEST_FRAME).map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(self.exchange(&frame).await??)
    }

    /// Sends raw bytes as a request stream and reads one reply frame: [`Client::request`] without the
    /// encoding, so that tests can send what no encoder would.
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
        let frame = encode_frame(&Request::Subscribe(filter), MAX_REQUEST_FRAME)
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let timeout = self.config.request_timeout;
        tokio::time::timeout(timeout, async {
            let (mut send, mut recv) = self.connection.open_bi().await?;
            send.write_all(&frame).await?;
            let _ = send.finish();
            match read_reply(&mut recv).await?? {
                Response::Subscribed => Ok(Subscription { recv }),
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
}

impl Subscription {
    /// The next event; `None` when the server ended the stream without an error. An error ends the
    /// subscription (lagging is [`super::ErrorCode::Lagged`]).
    pub async fn next(&mut self) -> Option<Result<Event, ClientError>> {
        let body = match read_frame(&mut self.recv, MAX_REPLY_FRAME).await {
            Err(FrameError::End) => return None,
            Err(e) => return Some(Err(e.into())),
            Ok(body) => body,
        };
        Some(match decode_reply(&body) {
            Err(e) => Err(ClientError::Protocol(e)),
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(Response::Event(event))) => Ok(event),
            Ok(Ok(other)) => Err(unexpected(other)),
        })
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
