//! The wire protocol: frames, requests, replies and error codes (specified in `docs/rpc.md`).
//!
//! # Frames
//! Every message is one frame: a 4-byte big-endian length `n`, then `n` bytes of body. The body starts
//! with the protocol version (one byte, [`VERSION`]), then the message in postcard. A request's postcard
//! encoding starts with its variant index as a varint, which is one byte for every request type: the
//! second byte of a request body is its *kind*, checked before the rest is decoded, so an unknown request
//! type gets [`ErrorCode::UnknownRequest`] rather than a generic decoding error.
//!
//! The length is checked against the reader's maximum ([`MAX_REQUEST_FRAME`], [`MAX_REPLY_FRAME`])
//! before a buffer is allocated; every length inside a body is bounded by the body, because postcard
//! decodes from a slice and never allocates more than the bytes it has.
//!
//! # Why postcard
//! Compact (varints, no field names), deterministic, decoded from a borrowed slice with bounds checks,
//! driven by serde derives on plain Rust types (no schema compiler, no generated code), and simple
//! enough to specify byte for byte in `docs/rpc.md` for clients in other languages. Addresses and 256-bit
//! words are fixed-size byte arrays (big-endian), so they cost no length prefix.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Version 1 frames (the first byte of the body): one request per stream, one reply, or a subscription.
pub const VERSION: u8 = 1;
/// Version 2 frames: a *pipelined* stream carrying many requests, each tagged with a request id (4 bytes,
/// big-endian, after the version byte); the replies carry the same id and may come in any order.
pub const PIPELINED: u8 = 2;
/// The TLS application protocols (ALPN) the server offers, newest first: a client and a server that share
/// none fail the handshake instead of exchanging frames they cannot read. A server speaking `zvm-rpc/2`
/// still takes version 1 streams.
pub const ALPN: &[u8] = b"zvm-rpc/2";
pub const ALPN_V1: &[u8] = b"zvm-rpc/1";
/// Bytes of a pipelined body before its message: the version byte and the request id.
pub const PIPELINED_HEADER: usize = 5;
/// Largest request body: room for the largest call data (1 MiB) or contract code, with headers.
pub const MAX_REQUEST_FRAME: u32 = 2 << 20;
/// Largest reply body a client accepts (a receipt's output and logs are bounded by gas, far below this).
pub const MAX_REPLY_FRAME: u32 = 16 << 20;
/// Most topics a subscription filter may name (a log has at most four).
pub const MAX_TOPICS: usize = 4;
/// Most entries of one [`Request::Batch`]. With the frame limit it bounds what one batch can ask of the
/// server; more entries are refused as a whole ([`ErrorCode::BadRequest`]) before anything runs.
pub const MAX_BATCH_ENTRIES: usize = 1024;
/// Most stored logs one [`Request::SubscribeFrom`] replays (the server's default): past it the server
/// sends [`Response::Replayed`] with `live: false` and ends the stream, and the client subscribes again
/// from where it got to.
pub const BACKLOG_LOGS: usize = 10_000;
/// Most stored receipts one [`Request::SubscribeFrom`] reads while replaying, matching or not (the
/// server's default), so that a filter matching little cannot make one request read the whole history.
pub const BACKLOG_RECEIPTS: usize = 100_000;

/// A 20-byte account address.
pub type Addr = [u8; 20];
/// A 256-bit word, big-endian.
pub type Word = [u8; 32];

/// How contract code is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Format {
    Evm,
    Zvm,
    /// Reserved: this node refuses WASM deploys with [`ErrorCode::Unsupported`].
    Wasm,
}

/// A message call, for [`Request::Call`] and [`Request::Query`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallArgs {
    pub caller: Addr,
    pub to: Addr,
    pub value: Word,
    pub input: Vec<u8>,
    pub gas_limit: u64,
}

/// Which logs a subscription receives: those of `address` (any, if `None`) whose topic `i` equals
/// `topics[i]` wherever that is `Some` (so `[]` matches every log and `[None, Some(t)]` matches logs whose
/// second topic is `t`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub address: Option<Addr>,
    pub topics: Vec<Option<Word>>,
}

impl Filter {
    /// True if `log` passes the filter.
    pub fn matches(&self, log: &Log) -> bool {
        self.address.is_none_or(|a| a == log.address)
            && self.topics.len() <= log.topics.len()
            && self.topics.iter().zip(&log.topics).all(|(want, got)| want.is_none_or(|w| w == *got))
    }
}

/// A position in the history of logs: log `index` of receipt `receipt`. Positions are ordered by receipt,
/// then index — the order logs were committed and are streamed in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Cursor {
    pub receipt: u64,
    pub index: u32,
}

/// Where a [`Request::SubscribeFrom`] starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Start {
    /// 0: the first log of block `n` (or of the first block after it that has logs; a block not yet
    /// committed: its logs, once they are).
    Block(u64),
    /// 1: this log and those after it: to resume a subscription (see [`Response::Replayed`]).
    At(Cursor),
}

/// A request. The variant index is the frame's kind byte: append new requests at the end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// 0: is the server up; its version, uptime and chain head.
    Health,
    /// 1: the server's counters.
    Metrics,
    /// 2 (token): installs `code` as a contract of `deployer` (`CREATE` address, or `CREATE2` with a salt).
    Deploy { token: String, deployer: Addr, code: Vec<u8>, format: Format, salt: Option<Word> },
    /// 3 (token): a state-changing message call; replied to once durable.
    Call { token: String, call: CallArgs },
    /// 4: a read-only call on a snapshot of the committed state; never commits.
    Query(CallArgs),
    /// 5: a contract's code and format.
    GetCode { address: Addr },
    /// 6: one storage slot of an account.
    GetStorage { address: Addr, slot: Word },
    /// 7: the receipt of call `id`.
    GetReceipt { id: u64 },
    /// 8: the address registered under a name.
    Resolve { name: String },
    /// 9 (token): registers a name for an address.
    RegisterName { token: String, name: String, address: Addr },
    /// 10: a stream of the logs matching the filter, as their calls become durable.
    Subscribe(Filter),
    /// 11: [`Request::Subscribe`] with a backlog: first the stored logs matching the filter from `from` on
    /// (at most the server's bound), then [`Response::Replayed`], then — if the replay was complete — the
    /// live stream, with no log missing or repeated between the two.
    SubscribeFrom { filter: Filter, from: Start },
    /// 12: the hash and header of block `number`.
    GetBlock { number: u64 },
    /// 13 (token if it holds a call): 1 to [`MAX_BATCH_ENTRIES`] calls and queries run in order, each
    /// with its own result ([`Response::Batch`]), replied to once all its calls are durable. The token is
    /// checked (and may be empty) only if an entry is a [`Entry::Call`].
    Batch { token: String, entries: Vec<Entry> },
}

/// Number of request kinds (kind bytes `0..REQUEST_KINDS`).
pub const REQUEST_KINDS: u8 = 14;

/// One entry of a [`Request::Batch`]. Entries run in order, each on the state the earlier ones left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// 0: a state-changing message call, as [`Request::Call`].
    Call(CallArgs),
    /// 1: a read-only call, as [`Request::Query`]; in a batch with calls it sees the calls before it.
    Query(CallArgs),
}

/// What one batch entry produced, in [`Response::Batch`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryReply {
    /// Nanoseconds the server spent on the entry: from the thread that runs it (the writer, or a query
    /// thread) picking it up to its result being ready — for a call, its receipt written into the
    /// commit's transaction. Waiting in queues and for the commit are not included. 0 for an entry
    /// refused before it ran (no contract at its address).
    pub exec_ns: u64,
    pub result: Result<EntryResult, ErrorReply>,
}

/// The result of a batch entry that ran: a call's receipt or a query's outcome (separate from
/// [`Response`], so that a reply cannot nest batches).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryResult {
    Receipt(Receipt),
    Queried(Outcome),
}

/// One log of a receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Log {
    pub address: Addr,
    pub topics: Vec<Word>,
    pub data: Vec<u8>,
}

/// The durable record of a state-changing request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Sequence number, from 1 in commit order.
    pub id: u64,
    /// The block (commit batch) it is in.
    pub block: u64,
    /// `success`, `revert`, `out_of_gas`, `trap:<code>` or `invalid_code`.
    pub status: String,
    pub gas_used: u64,
    pub gas_refunded: u64,
    pub output: Vec<u8>,
    pub logs: Vec<Log>,
    /// The contract a deploy made.
    pub created: Option<Addr>,
}

/// The result of a read-only call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: String,
    pub gas_used: u64,
    pub output: Vec<u8>,
    pub logs: Vec<Log>,
}

/// A log delivered to a subscriber.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The receipt (call) that emitted it, and that call's block.
    pub receipt: u64,
    pub block: u64,
    /// Its position among the receipt's logs.
    pub index: u32,
    pub log: Log,
}

/// A block (one commit batch of the node) and its hash: keccak256 of the header fields in this order,
/// integers as 8 bytes big-endian (docs/node.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub hash: Word,
    pub parent: Word,
    pub number: u64,
    pub timestamp: u64,
    /// Its receipts: ids `first_receipt .. first_receipt + receipts`.
    pub first_receipt: u64,
    pub receipts: u64,
    pub receipts_root: Word,
    pub changes_root: Word,
}

/// Reply to [`Request::Health`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The server's build (crate version).
    pub server: String,
    pub protocol: u8,
    pub uptime_ms: u64,
    /// The last committed block, and the number of receipts.
    pub block: u64,
    pub receipts: u64,
}

/// Reply to [`Request::Metrics`]: counters since the server started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    pub uptime_ms: u64,
    /// Open connections.
    pub connections: u64,
    /// Requests received, and those answered with an error.
    pub requests: u64,
    pub errors: u64,
    /// State-changing requests acknowledged (durable), and read-only calls run.
    pub calls: u64,
    pub queries: u64,
    /// Commits (one `fsync` each), the requests they held, and the largest batch.
    pub commits: u64,
    pub committed: u64,
    pub largest_batch: u64,
    /// Subscribers now, and those dropped for lagging.
    pub subscribers: u64,
    pub lagged: u64,
    /// Size of the database file.
    pub db_bytes: u64,
}

/// A successful reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Health(Health),
    Metrics(Metrics),
    /// To deploys, calls, name registrations and `GetReceipt`.
    Receipt(Receipt),
    Queried(Outcome),
    Code {
        format: Format,
        code: Vec<u8>,
    },
    Storage(Word),
    Resolved(Addr),
    /// The first frame of a subscription; [`Response::Event`]s follow.
    Subscribed,
    Event(Event),
    /// The end of a [`Request::SubscribeFrom`]'s replay. `live`: every stored log up to `next` (exclusive)
    /// was replayed and the live stream follows, from `next` on. Not `live`: the server's bound was
    /// reached; it ends the stream, and a new subscription from [`Start::At`] `next` continues it.
    Replayed {
        live: bool,
        next: Cursor,
    },
    /// To [`Request::GetBlock`].
    Block(Block),
    /// To [`Request::Batch`]: one reply per entry, in the entries' order.
    Batch(Vec<EntryReply>),
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "u16", into = "u16")]
pub enum ErrorCode {
    /// 1: the frame's body could not be decoded.
    Malformed,
    /// 2: the frame is longer than the server accepts.
    FrameTooLarge,
    /// 3: the body's version byte is not one the server speaks.
    UnsupportedVersion,
    /// 4: the kind byte names no request.
    UnknownRequest,
    /// 5: a state-changing request without the right token.
    Unauthorized,
    /// 6: no such contract, account, receipt or name.
    NotFound,
    /// 7: a deploy's code does not load, or is too large.
    InvalidCode,
    /// 8: the node refused the request (a taken name, a rejected transaction).
    Rejected,
    /// 9: a field is out of range (call data too long, gas over the limit, too many topics, a bad name).
    BadRequest,
    /// 10: the request did not complete within the server's timeout (a state-changing one may still
    /// commit).
    Timeout,
    /// 11: a valid request this server does not implement (WASM code).
    Unsupported,
    /// 12: a subscriber fell too far behind and was dropped.
    Lagged,
    /// 13: the node stopped, or is stopping.
    Unavailable,
    /// 14: the server failed (the store could not be read or written).
    Internal,
    /// A code this build does not know (from a newer server).
    Other(u16),
}

/// Every known code: its number on the wire and its name in messages.
const CODES: [(ErrorCode, u16, &str); 14] = [
    (ErrorCode::Malformed, 1, "malformed"),
    (ErrorCode::FrameTooLarge, 2, "frame_too_large"),
    (ErrorCode::UnsupportedVersion, 3, "unsupported_version"),
    (ErrorCode::UnknownRequest, 4, "unknown_request"),
    (ErrorCode::Unauthorized, 5, "unauthorized"),
    (ErrorCode::NotFound, 6, "not_found"),
    (ErrorCode::InvalidCode, 7, "invalid_code"),
    (ErrorCode::Rejected, 8, "rejected"),
    (ErrorCode::BadRequest, 9, "bad_request"),
    (ErrorCode::Timeout, 10, "timeout"),
    (ErrorCode::Unsupported, 11, "unsupported"),
    (ErrorCode::Lagged, 12, "lagged"),
    (ErrorCode::Unavailable, 13, "unavailable"),
    (ErrorCode::Internal, 14, "internal"),
];

impl From<ErrorCode> for u16 {
    fn from(code: ErrorCode) -> u16 {
        match code {
            ErrorCode::Other(n) => n,
            code => CODES.iter().find(|c| c.0 == code).map_or(0, |c| c.1),
        }
    }
}

impl From<u16> for ErrorCode {
    fn from(n: u16) -> ErrorCode {
        CODES.iter().find(|c| c.1 == n).map_or(ErrorCode::Other(n), |c| c.0)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match CODES.iter().find(|c| c.0 == *self) {
            Some(c) => f.write_str(c.2),
            None => write!(f, "error {}", u16::from(*self)),
        }
    }
}

/// An error reply: a code to act on and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Error, Serialize, Deserialize)]
#[error("{code}: {message}")]
pub struct ErrorReply {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorReply {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorReply {
        ErrorReply { code, message: message.into() }
    }
}

/// What a frame of replies carries.
pub type Reply = Result<Response, ErrorReply>;

/// A frame that cannot be built.
#[derive(Debug, Error)]
pub enum EncodeError {
    #[error("encoding: {0}")]
    Postcard(#[from] postcard::Error),
    #[error("the message is {size} bytes, over the frame limit of {max}")]
    TooLarge { size: usize, max: u32 },
}

/// `message` as a frame (length, version, postcard), refused if its body is over `max`.
pub fn encode_frame<T: Serialize>(message: &T, max: u32) -> Result<Vec<u8>, EncodeError> {
    finish_frame(postcard::to_extend(message, vec![0, 0, 0, 0, VERSION])?, max)
}

/// `message` as a pipelined frame (length, version 2, request id, postcard), refused if its body is over
/// `max`.
pub fn encode_pipelined<T: Serialize>(id: u32, message: &T, max: u32) -> Result<Vec<u8>, EncodeError> {
    let mut frame = Vec::with_capacity(64);
    frame.extend_from_slice(&[0, 0, 0, 0, PIPELINED]);
    frame.extend_from_slice(&id.to_be_bytes());
    finish_frame(postcard::to_extend(message, frame)?, max)
}

/// Writes the length of a frame built with 4 placeholder bytes in front.
fn finish_frame(mut frame: Vec<u8>, max: u32) -> Result<Vec<u8>, EncodeError> {
    let size = frame.len() - 4;
    let len = u32::try_from(size).ok().filter(|&n| n <= max).ok_or(EncodeError::TooLarge { size, max })?;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    Ok(frame)
}

/// Decodes a request body (after the length), checking its version and kind first.
pub fn decode_request(body: &[u8]) -> Result<Request, ErrorReply> {
    let (&version, rest) = body.split_first().ok_or_else(|| malformed("an empty frame"))?;
    if version != VERSION {
        return Err(ErrorReply::new(
            ErrorCode::UnsupportedVersion,
            format!("protocol version {version} is not supported; this server speaks version {VERSION}"),
        ));
    }
    decode_message(rest)
}

/// Decodes a pipelined request body: its id and the request, or an error about the frame as a whole
/// (too short to hold an id, or not version 2).
pub fn decode_pipelined_request(body: &[u8]) -> Result<(u32, Result<Request, ErrorReply>), ErrorReply> {
    match body.split_first() {
        Some((&PIPELINED, rest)) if rest.len() >= 4 => {
            let id = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
            Ok((id, decode_message(&rest[4..])))
        }
        Some((&PIPELINED, _)) => Err(malformed("a pipelined frame without a request id")),
        Some((&version, _)) => Err(ErrorReply::new(
            ErrorCode::UnsupportedVersion,
            format!("a version {version} frame on a pipelined stream (version {PIPELINED})"),
        )),
        None => Err(malformed("an empty frame")),
    }
}

/// Decodes a pipelined reply body: its request id and the reply.
pub fn decode_pipelined_reply(body: &[u8]) -> Result<(u32, Reply), String> {
    match body.split_first() {
        Some((&PIPELINED, rest)) if rest.len() >= 4 => {
            let id = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
            Ok((id, decode_all(&rest[4..])?))
        }
        Some((&PIPELINED, _)) => Err("a pipelined reply without a request id".into()),
        Some((version, _)) => Err(format!("a reply in protocol version {version} on a pipelined stream")),
        None => Err("an empty reply frame".into()),
    }
}

/// Decodes a request message (kind byte first).
fn decode_message(rest: &[u8]) -> Result<Request, ErrorReply> {
    let &kind = rest.first().ok_or_else(|| malformed("a frame without a request kind"))?;
    if kind >= REQUEST_KINDS {
        return Err(ErrorReply::new(ErrorCode::UnknownRequest, format!("unknown request kind {kind}")));
    }
    decode_all(rest).map_err(|e| malformed(&format!("request kind {kind}: {e}")))
}

/// Decodes a reply body (after the length).
pub fn decode_reply(body: &[u8]) -> Result<Reply, String> {
    match body.split_first() {
        Some((&VERSION, rest)) => decode_all(rest),
        Some((version, _)) => Err(format!("a reply in protocol version {version}; this client speaks {VERSION}")),
        None => Err("an empty reply frame".into()),
    }
}

/// Decodes exactly `bytes` (trailing bytes are an error: they would mean a misread message).
fn decode_all<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    match postcard::take_from_bytes(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(format!("{} bytes after the message", rest.len())),
        Err(e) => Err(e.to_string()),
    }
}

fn malformed(what: &str) -> ErrorReply {
    ErrorReply::new(ErrorCode::Malformed, format!("malformed frame: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_round_trips_and_its_kind_is_its_second_byte() {
        let call = CallArgs { caller: [1; 20], to: [2; 20], value: [3; 32], input: vec![4, 5], gas_limit: 6 };
        let requests = [
            Request::Health,
            Request::Metrics,
            Request::Deploy { token: "t".into(), deployer: [1; 20], code: vec![0], format: Format::Evm, salt: None },
            Request::Call { token: "t".into(), call: call.clone() },
            Request::Query(call.clone()),
            Request::GetCode { address: [7; 20] },
            Request::GetStorage { address: [7; 20], slot: [8; 32] },
            Request::GetReceipt { id: 9 },
            Request::Resolve { name: "n".into() },
            Request::RegisterName { token: "t".into(), name: "n".into(), address: [7; 20] },
            Request::Subscribe(Filter { address: Some([7; 20]), topics: vec![None, Some([1; 32])] }),
            Request::SubscribeFrom { filter: Filter::default(), from: Start::At(Cursor { receipt: 3, index: 1 }) },
            Request::GetBlock { number: 5 },
            Request::Batch { token: "t".into(), entries: vec![Entry::Call(call.clone()), Entry::Query(call)] },
        ];
        assert_eq!(requests.len(), REQUEST_KINDS as usize);
        for (kind, request) in requests.into_iter().enumerate() {
            let frame = encode_frame(&request, MAX_REQUEST_FRAME).unwrap();
            assert_eq!(u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize, frame.len() - 4);
            assert_eq!((frame[4], frame[5]), (VERSION, kind as u8));
            assert_eq!(decode_request(&frame[4..]).unwrap(), request);
        }
    }

    #[test]
    fn bad_bodies_get_the_right_codes() {
        let code = |body: &[u8]| decode_request(body).unwrap_err().code;
        assert_eq!(code(&[]), ErrorCode::Malformed);
        assert_eq!(code(&[VERSION]), ErrorCode::Malformed);
        assert_eq!(code(&[2, 0]), ErrorCode::UnsupportedVersion);
        assert_eq!(code(&[VERSION, REQUEST_KINDS]), ErrorCode::UnknownRequest);
        assert_eq!(code(&[VERSION, 0x80, 0x01]), ErrorCode::UnknownRequest);
        assert_eq!(code(&[VERSION, 0, 0]), ErrorCode::Malformed); // a trailing byte
        assert_eq!(code(&[VERSION, 7, 0xFF]), ErrorCode::Malformed); // a truncated varint
                                                                     // A length prefix far beyond the body is refused, not allocated.
        assert_eq!(code(&[VERSION, 5 + 3, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]), ErrorCode::Malformed);
    }

    #[test]
    fn error_codes_survive_the_wire_and_unknown_ones_are_kept() {
        for n in 1..=16u16 {
            assert_eq!(u16::from(ErrorCode::from(n)), n);
        }
        assert_eq!(ErrorCode::from(99), ErrorCode::Other(99));
        let reply: Reply = Err(ErrorReply::new(ErrorCode::Lagged, "slow"));
        let frame = encode_frame(&reply, MAX_REPLY_FRAME).unwrap();
        assert_eq!(decode_reply(&frame[4..]).unwrap(), reply);
        assert_eq!(ErrorCode::NotFound.to_string(), "not_found");
        assert_eq!(ErrorCode::Other(99).to_string(), "error 99");
    }

    #[test]
    fn pipelined_frames_carry_their_id() {
        let request = Request::GetReceipt { id: 7 };
        let frame = encode_pipelined(0x0102_0304, &request, MAX_REQUEST_FRAME).unwrap();
        assert_eq!(&frame[4..10], &[PIPELINED, 1, 2, 3, 4, 7]);
        assert_eq!(decode_pipelined_request(&frame[4..]), Ok((0x0102_0304, Ok(request))));
        let unknown = decode_pipelined_request(&[PIPELINED, 0, 0, 0, 9, 200]).unwrap();
        assert_eq!((unknown.0, unknown.1.unwrap_err().code), (9, ErrorCode::UnknownRequest));
        assert_eq!(decode_pipelined_request(&[PIPELINED, 0, 0]).unwrap_err().code, ErrorCode::Malformed);
        assert_eq!(decode_pipelined_request(&[VERSION, 0]).unwrap_err().code, ErrorCode::UnsupportedVersion);
        let reply: Reply = Err(ErrorReply::new(ErrorCode::NotFound, "no"));
        let frame = encode_pipelined(9, &reply, MAX_REPLY_FRAME).unwrap();
        assert_eq!(decode_pipelined_reply(&frame[4..]).unwrap(), (9, reply));
    }

    #[test]
    fn backlog_messages_have_the_documented_bytes() {
        // docs/rpc.md: kind 11, the filter, then the start (variant, then its fields as varints).
        let request = Request::SubscribeFrom { filter: Filter::default(), from: Start::Block(300) };
        let frame = encode_frame(&request, MAX_REQUEST_FRAME).unwrap();
        assert_eq!(&frame[4..], &[VERSION, 11, 0, 0, 0, 0xAC, 0x02]);
        let at = Request::SubscribeFrom { filter: Filter::default(), from: Start::At(Cursor { receipt: 2, index: 1 }) };
        assert_eq!(&encode_frame(&at, MAX_REQUEST_FRAME).unwrap()[4..], &[VERSION, 11, 0, 0, 1, 2, 1]);
        let reply: Reply = Ok(Response::Replayed { live: true, next: Cursor { receipt: 7, index: 0 } });
        let frame = encode_frame(&reply, MAX_REPLY_FRAME).unwrap();
        assert_eq!(&frame[4..], &[VERSION, 0, 9, 1, 7, 0]);
        assert_eq!(decode_reply(&frame[4..]).unwrap(), reply);
        // A start variant that does not exist is malformed, not a panic.
        assert_eq!(decode_request(&[VERSION, 11, 0, 0, 2, 0]).unwrap_err().code, ErrorCode::Malformed);
        assert!(Cursor { receipt: 2, index: 9 } < Cursor { receipt: 3, index: 0 });
    }

    #[test]
    fn batch_messages_have_the_documented_bytes() {
        // docs/rpc.md: kind 13, the token, the entry count, each entry's variant then its call.
        let call = CallArgs { caller: [1; 20], to: [2; 20], value: [0; 32], input: vec![9], gas_limit: 300 };
        let request = Request::Batch { token: "t".into(), entries: vec![Entry::Query(call)] };
        let frame = encode_frame(&request, MAX_REQUEST_FRAME).unwrap();
        let mut want = vec![VERSION, 13, 1, b't', 1, 1];
        want.extend_from_slice(&[1; 20]);
        want.extend_from_slice(&[2; 20]);
        want.extend_from_slice(&[0; 32]);
        want.extend_from_slice(&[1, 9, 0xAC, 0x02]);
        assert_eq!(&frame[4..], &want[..]);
        // A reply: `Ok`, response 11, one entry: exec_ns, then the entry's own result (here an error).
        let reply: Reply = Ok(Response::Batch(vec![EntryReply {
            exec_ns: 5,
            result: Err(ErrorReply::new(ErrorCode::NotFound, "x")),
        }]));
        let frame = encode_frame(&reply, MAX_REPLY_FRAME).unwrap();
        assert_eq!(&frame[4..], &[VERSION, 0, 11, 1, 5, 1, 6, 1, b'x']);
        assert_eq!(decode_reply(&frame[4..]).unwrap(), reply);
        // An entry variant that does not exist, and a count past the entries, are malformed.
        assert_eq!(decode_request(&[VERSION, 13, 0, 1, 2]).unwrap_err().code, ErrorCode::Malformed);
        assert_eq!(decode_request(&[VERSION, 13, 0, 0xFF, 0xFF, 0x03]).unwrap_err().code, ErrorCode::Malformed);
    }

    #[test]
    fn frames_over_the_limit_are_not_built() {
        let big = Request::Resolve { name: "x".repeat(100) };
        assert!(matches!(encode_frame(&big, 50), Err(EncodeError::TooLarge { max: 50, .. })));
    }

    #[test]
    fn filters_match_by_address_and_topic_position() {
        let log = Log { address: [1; 20], topics: vec![[2; 32], [3; 32]], data: vec![] };
        assert!(Filter::default().matches(&log));
        assert!(Filter { address: Some([1; 20]), topics: vec![None, Some([3; 32])] }.matches(&log));
        assert!(!Filter { address: Some([9; 20]), topics: vec![] }.matches(&log));
        assert!(!Filter { address: None, topics: vec![Some([3; 32])] }.matches(&log));
        assert!(!Filter { address: None, topics: vec![None, None, None] }.matches(&log));
    }
}
