//! The node's RPC over QUIC: a versioned, length-prefixed binary protocol ([`protocol`], specified in
//! `docs/rpc.md`), the server in front of a [`crate::Node`] ([`server`]), an async client and a blocking
//! wrapper for command-line tools ([`client`]), and certificates ([`tls`]).
//!
//! Why QUIC: one connection carries many independent streams (a request per stream, so a slow request
//! never holds up the others, with no framing or multiplexing of our own), TLS 1.3 is built in, and
//! per-stream flow control bounds what a peer can make the server buffer.

pub mod client;
pub mod protocol;
pub mod server;
pub mod tls;

pub use client::{Blocking, Client, ClientConfig, ClientError, Delivery, Subscription};
pub use protocol::{ErrorCode, ErrorReply, Request, Response};
pub use server::{Server, ServerConfig, ServerError};
pub use tls::{Identity, TlsError, Trust};
