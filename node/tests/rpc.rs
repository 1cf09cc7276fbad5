//! The RPC end to end over loopback QUIC: every request's round trip, bad input (each gets an error reply,
//! the server stays up, the state is unchanged), batches, and event streaming.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use zvm_node::rpc::protocol::{
    decode_pipelined_reply, encode_frame, CallArgs, Cursor, Entry, EntryResult, Filter, Format, Request, Response,
    Start, Word, MAX_BATCH_ENTRIES, MAX_REQUEST_FRAME, PIPELINED, VERSION,
};
use zvm_node::rpc::{
    Client, ClientConfig, ClientError, Delivery, ErrorCode, Identity, Server, ServerConfig, Subscription, Trust,
};
use zvm_node::NodeConfig;
use zvm_runtime::executor::Tier;

/// EVM: increments slot 0, emits `LOG1(topic = call data word 0, data = the new count)` and returns it.
const LOGGER: &str = "5f54600101805f555f525f3560205fa160205ff3";
/// EVM: emits 64 empty `LOG0`s.
fn spray() -> Vec<u8> {
    let mut code = hex::decode("5f5fa0".repeat(64)).unwrap();
    code.push(0);
    code
}
const TOKEN: &str = "s3cret";
const ME: [u8; 20] = [0xCA; 20];

struct Harness {
    server: Arc<Server>,
    client: Arc<Client>,
    endpoint: String,
    cert: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn start(subscriber_buffer: usize) -> Harness {
    start_with(|config| config.subscriber_buffer = subscriber_buffer).await
}

async fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.redb");
    let (identity, cert) = Identity::self_signed_for(&db).unwrap();
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), TOKEN.into(), identity);
    configure(&mut config);
    let node = NodeConfig { tier: Tier::Interp, ..NodeConfig::default() };
    let server = Arc::new(Server::start(&db, node, config).unwrap());
    let endpoint = server.local_addr().unwrap().to_string();
    let running = server.clone();
    tokio::spawn(async move { running.run().await });
    let client = Arc::new(connect(&endpoint, &cert, Some(TOKEN)).await);
    Harness { server, client, endpoint, cert, _dir: dir }
}

async fn connect(endpoint: &str, cert: &Path, token: Option<&str>) -> Client {
    let trust = Trust::pinned_file(cert).unwrap();
    Client::connect(endpoint, ClientConfig::new(trust, token.map(String::from))).await.unwrap()
}

fn word(n: u64) -> Word {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&n.to_be_bytes());
    w
}

fn call_args(to: [u8; 20], input: Vec<u8>) -> CallArgs {
    CallArgs { caller: ME, to, value: [0; 32], input, gas_limit: 100_000 }
}

async fn deploy(client: &Client, code: Vec<u8>) -> [u8; 20] {
    client.deploy(ME, code, Format::Evm, None).await.unwrap().created.unwrap()
}

/// `body` as a frame (its length in front).
fn raw(body: &[u8]) -> Vec<u8> {
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    frame
}

/// A pipelined frame of request `id` whose message is `body`.
fn tagged(id: u32, body: &[u8]) -> Vec<u8> {
    let mut b = vec![PIPELINED];
    b.extend_from_slice(&id.to_be_bytes());
    b.extend_from_slice(body);
    raw(&b)
}

/// The id and error code (if any) of each reply frame of a pipelined stream, sorted.
fn pipelined_codes(bodies: &[Vec<u8>]) -> Vec<(u32, Option<ErrorCode>)> {
    let mut replies: Vec<(u32, Option<ErrorCode>)> = bodies
        .iter()
        .map(|b| {
            let (id, reply) = decode_pipelined_reply(b).unwrap();
            (id, reply.err().map(|e| e.code))
        })
        .collect();
    replies.sort_by_key(|r| (r.0, r.1.map(u16::from)));
    replies
}

fn code_of(e: ClientError) -> ErrorCode {
    match e {
        ClientError::Server(reply) => reply.code,
        other => panic!("expected an error reply, got {other}"),
    }
}

#[tokio::test]
async fn every_request_round_trips() {
    let h = start(1024).await;
    let c = &h.client;
    let health = c.health().await.unwrap();
    assert_eq!((health.protocol, health.block, health.receipts), (PIPELINED, 0, 0));

    let logger = deploy(c, hex::decode(LOGGER).unwrap()).await;
    let zasm = include_str!("../../examples/counter.zasm");
    let zvm_code = zvm_compiler::frontend::zvm::asm::assemble(zasm).unwrap();
    let counter = c.deploy(ME, zvm_code, Format::Zvm, Some(word(7))).await.unwrap();
    assert_eq!((counter.id, counter.status.as_str()), (2, "success"));
    let counter = counter.created.unwrap();

    let receipt = c.call(call_args(logger, word(0xAB).to_vec())).await.unwrap();
    assert_eq!((receipt.id, receipt.status.as_str(), receipt.output.clone()), (3, "success", word(1).to_vec()));
    assert_eq!(receipt.logs.len(), 1);
    assert_eq!((receipt.logs[0].address, receipt.logs[0].topics.clone()), (logger, vec![word(0xAB)]));
    assert_eq!(c.call(call_args(counter, vec![])).await.unwrap().output, word(1).to_vec());

    // A query sees the committed state, runs the call, and commits nothing.
    let outcome = c.query(call_args(logger, vec![])).await.unwrap();
    assert_eq!((outcome.status.as_str(), outcome.output, outcome.logs.len()), ("success", word(2).to_vec(), 1));
    assert_eq!(c.storage(logger, word(0)).await.unwrap(), word(1));

    assert_eq!(c.code(logger).await.unwrap(), (Format::Evm, hex::decode(LOGGER).unwrap()));
    let (format, stored) = c.code(counter).await.unwrap();
    assert_eq!(format, Format::Zvm);
    assert!(stored.starts_with(b"ZVMC"));
    assert_eq!(c.receipt(3).await.unwrap(), receipt);

    let named = c.register_name("logger", logger).await.unwrap();
    assert_eq!(named.id, 5);
    assert_eq!(c.resolve("logger").await.unwrap(), logger);

    let metrics = c.metrics().await.unwrap();
    assert_eq!((metrics.calls, metrics.queries, metrics.errors, metrics.connections), (5, 1, 0, 1));
    assert!(metrics.commits >= 1 && metrics.committed == 5 && metrics.db_bytes > 0);
    let health = c.health().await.unwrap();
    assert_eq!(health.receipts, 5);
    h.server.close();
}

#[tokio::test]
async fn webassembly_contracts_deploy_and_run_over_rpc() {
    let h = start(1024).await;
    let c = &h.client;
    let code = wat::parse_str(include_str!("../../examples/counter.wat")).unwrap();
    let counter = c.deploy(ME, code.clone(), Format::Wasm, None).await.unwrap();
    assert_eq!(counter.status.as_str(), "success");
    let counter = counter.created.unwrap();
    for n in 1..=3 {
        let r = c.call(call_args(counter, vec![])).await.unwrap();
        assert_eq!((r.status.as_str(), r.output), ("success", word(n).to_vec()));
    }
    assert_eq!(c.storage(counter, word(0)).await.unwrap(), word(3));
    assert_eq!(c.code(counter).await.unwrap(), (Format::Wasm, code));
    h.server.close();
}

#[tokio::test]
async fn bad_input_gets_error_replies_and_changes_nothing() {
    let h = start(1024).await;
    let c = &h.client;
    let logger = deploy(c, hex::decode(LOGGER).unwrap()).await;
    c.call(call_args(logger, vec![])).await.unwrap();
    let before = (c.health().await.unwrap().receipts, c.storage(logger, word(0)).await.unwrap());

    let expect = |reply: Result<zvm_node::rpc::protocol::Reply, ClientError>, code: ErrorCode| {
        assert_eq!(reply.unwrap().unwrap_err().code, code);
    };
    // Oversized: refused from its length alone, before the body is read or allocated.
    let mut huge = (MAX_REQUEST_FRAME + 1).to_be_bytes().to_vec();
    huge.extend_from_slice(&[VERSION, 0]);
    expect(c.exchange(&huge).await, ErrorCode::FrameTooLarge);
    expect(c.exchange(&u32::MAX.to_be_bytes()).await, ErrorCode::FrameTooLarge);
    // Malformed: garbage after a valid kind, a truncated frame, an empty stream, trailing bytes.
    expect(c.exchange(&raw(&[VERSION, 3, 0xFF, 0xFF])).await, ErrorCode::Malformed);
    expect(c.exchange(&[0, 0, 0, 100, VERSION, 0]).await, ErrorCode::Malformed);
    expect(c.exchange(&[]).await, ErrorCode::Malformed);
    expect(c.exchange(&raw(&[VERSION, 0, 0])).await, ErrorCode::Malformed);
    // Unknown request type, wrong version.
    expect(c.exchange(&raw(&[VERSION, 200])).await, ErrorCode::UnknownRequest);
    expect(c.exchange(&raw(&[PIPELINED + 1, 0])).await, ErrorCode::UnsupportedVersion);

    // A pipelined stream: a bad frame gets an error under its own id and the stream goes on; a frame too
    // short for an id, or of another version, gets one under id 0; an oversized one ends the stream.
    let mut stream = tagged(1, &[0]); // Health
    stream.extend(tagged(2, &[3, 0xFF, 0xFF])); // a Call that does not decode
    stream.extend(tagged(3, &[200])); // unknown kind
    stream.extend(tagged(4, &[10, 0, 0])); // Subscribe: needs a stream of its own
    stream.extend(raw(&[PIPELINED, 0])); // no id
    stream.extend(raw(&[VERSION, 0])); // version 1 inside a pipelined stream
    stream.extend(tagged(5, &[7, 0])); // GetReceipt 0: not found
    stream.extend((MAX_REQUEST_FRAME + 1).to_be_bytes()); // oversized: the stream ends here
    stream.extend(tagged(6, &[0]));
    let bodies = c.exchange_frames(&stream, 100).await.unwrap();
    assert_eq!(
        pipelined_codes(&bodies),
        [
            (0, Some(ErrorCode::Malformed)),
            (0, Some(ErrorCode::FrameTooLarge)),
            (0, Some(ErrorCode::UnsupportedVersion)),
            (1, None),
            (2, Some(ErrorCode::Malformed)),
            (3, Some(ErrorCode::UnknownRequest)),
            (4, Some(ErrorCode::BadRequest)),
            (5, Some(ErrorCode::NotFound)),
        ]
    );

    // Wrong or missing token: refused, for each state-changing request.
    let other = connect(&h.endpoint, &h.cert, Some("s3cres")).await;
    assert_eq!(code_of(other.call(call_args(logger, vec![])).await.unwrap_err()), ErrorCode::Unauthorized);
    assert_eq!(code_of(other.deploy(ME, vec![0], Format::Evm, None).await.unwrap_err()), ErrorCode::Unauthorized);
    assert_eq!(code_of(other.register_name("x", logger).await.unwrap_err()), ErrorCode::Unauthorized);
    let anonymous = connect(&h.endpoint, &h.cert, None).await;
    assert!(matches!(anonymous.call(call_args(logger, vec![])).await, Err(ClientError::NoToken)));
    let empty = Request::Call { token: String::new(), call: call_args(logger, vec![]) };
    assert_eq!(code_of(anonymous.request(&empty).await.unwrap_err()), ErrorCode::Unauthorized);
    // ... but reads need no token.
    assert_eq!(anonymous.storage(logger, word(0)).await.unwrap(), before.1);

    // Unknown addresses, receipts and names.
    let nobody = [0x11; 20];
    assert_eq!(code_of(c.call(call_args(nobody, vec![])).await.unwrap_err()), ErrorCode::NotFound);
    assert_eq!(code_of(c.query(call_args(nobody, vec![])).await.unwrap_err()), ErrorCode::NotFound);
    assert_eq!(code_of(c.code(nobody).await.unwrap_err()), ErrorCode::NotFound);
    assert_eq!(code_of(c.storage(nobody, word(0)).await.unwrap_err()), ErrorCode::NotFound);
    assert_eq!(code_of(c.receipt(999).await.unwrap_err()), ErrorCode::NotFound);
    assert_eq!(code_of(c.resolve("nobody").await.unwrap_err()), ErrorCode::NotFound);

    // Invalid bytecode, oversized call data, gas over the limit, bad names, too many topics, WASM.
    let bad_zvm = c.deploy(ME, vec![0xFF; 40], Format::Zvm, None).await.unwrap_err();
    assert_eq!(code_of(bad_zvm), ErrorCode::InvalidCode);
    let zvmc_as_evm = c.deploy(ME, b"ZVMC\x01\x00".to_vec(), Format::Evm, None).await.unwrap_err();
    assert_eq!(code_of(zvmc_as_evm), ErrorCode::InvalidCode);
    let too_big = c.deploy(ME, vec![0; 100_000], Format::Evm, None).await.unwrap_err();
    assert_eq!(code_of(too_big), ErrorCode::InvalidCode);
    let long_input = c.call(call_args(logger, vec![0; (1 << 20) + 1])).await.unwrap_err();
    assert_eq!(code_of(long_input), ErrorCode::BadRequest);
    let greedy = CallArgs { gas_limit: u64::MAX, ..call_args(logger, vec![]) };
    assert_eq!(code_of(c.call(greedy).await.unwrap_err()), ErrorCode::BadRequest);
    assert_eq!(code_of(c.register_name("Bad Name", logger).await.unwrap_err()), ErrorCode::BadRequest);
    c.register_name("taken", logger).await.unwrap();
    assert_eq!(code_of(c.register_name("taken", nobody).await.unwrap_err()), ErrorCode::Rejected);
    let wasm = c.deploy(ME, b"\0asm".to_vec(), Format::Wasm, None).await.unwrap_err();
    assert_eq!(code_of(wasm), ErrorCode::InvalidCode);
    let topics = Filter { address: None, topics: vec![None; 5] };
    assert!(matches!(c.subscribe(topics).await, Err(ClientError::Server(e)) if e.code == ErrorCode::BadRequest));

    // The server is up, and nothing changed but the one name registered on purpose.
    let health = c.health().await.unwrap();
    assert_eq!(health.receipts, before.0 + 1);
    assert_eq!(c.storage(logger, word(0)).await.unwrap(), before.1);
    assert_eq!(c.call(call_args(logger, vec![])).await.unwrap().output, word(2).to_vec());
    let metrics = c.metrics().await.unwrap();
    assert!(metrics.errors >= 25, "{metrics:?}");
    h.server.close();
}

#[tokio::test]
async fn subscribers_get_exactly_the_matching_logs_in_order() {
    let h = start(1024).await;
    let c = &h.client;
    let a = deploy(c, hex::decode(LOGGER).unwrap()).await;
    let b = deploy(c, hex::decode(LOGGER).unwrap()).await;
    let mut all = c.subscribe(Filter::default()).await.unwrap();
    let mut a_topic_1 = c.subscribe(Filter { address: Some(a), topics: vec![Some(word(1))] }).await.unwrap();
    assert_eq!(c.metrics().await.unwrap().subscribers, 2);

    // Concurrent calls, so that several share a commit.
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..30u64 {
        let (c, to) = (h.client.clone(), if i % 3 == 0 { b } else { a });
        calls.spawn(async move { c.call(call_args(to, word(i % 2).to_vec())).await.unwrap() });
    }
    let receipts = calls.join_all().await;
    let mut expected_all: Vec<(u64, [u8; 20], Word)> =
        receipts.iter().map(|r| (r.id, r.logs[0].address, r.logs[0].topics[0])).collect();
    expected_all.sort();
    let expected_a1: Vec<_> = expected_all.iter().filter(|e| e.1 == a && e.2 == word(1)).cloned().collect();

    let mut got_all = Vec::new();
    for _ in 0..expected_all.len() {
        let event = all.next().await.unwrap().unwrap();
        got_all.push((event.receipt, event.log.address, event.log.topics[0]));
    }
    assert_eq!(got_all, expected_all, "every log, in commit order");
    let mut got_a1 = Vec::new();
    for _ in 0..expected_a1.len() {
        let event = a_topic_1.next().await.unwrap().unwrap();
        got_a1.push((event.receipt, event.log.address, event.log.topics[0]));
    }
    assert_eq!(got_a1, expected_a1, "only a's logs with topic 1");
    // Nothing else is pending for the filtered subscriber: the next event is a later call's.
    let last = c.call(call_args(a, word(1).to_vec())).await.unwrap();
    assert_eq!(a_topic_1.next().await.unwrap().unwrap().receipt, last.id);
    h.server.close();
}

#[tokio::test]
async fn a_lagging_subscriber_is_dropped_with_an_error_and_the_writer_goes_on() {
    let h = start(1).await;
    let c = &h.client;
    let spray = deploy(c, spray()).await;
    let mut slow = c.subscribe(Filter::default()).await.unwrap();
    // One call, 64 logs in one batch, a buffer of one: the subscriber cannot keep up.
    assert_eq!(c.call(call_args(spray, vec![])).await.unwrap().logs.len(), 64);
    let mut events = 0;
    let end = loop {
        match tokio::time::timeout(Duration::from_secs(5), slow.next()).await.unwrap() {
            Some(Ok(_)) => events += 1,
            other => break other,
        }
    };
    assert!(matches!(&end, Some(Err(ClientError::Server(e))) if e.code == ErrorCode::Lagged), "{end:?}");
    assert!(events < 64);
    let metrics = c.metrics().await.unwrap();
    assert_eq!((metrics.lagged, metrics.subscribers), (1, 0));
    // The writer was never held up.
    assert_eq!(c.call(call_args(spray, vec![])).await.unwrap().status, "success");
    h.server.close();
}

#[tokio::test]
async fn a_wrong_pin_or_no_server_fails_to_connect_with_a_clear_error() {
    let h = start(1024).await;
    let other_dir = tempfile::tempdir().unwrap();
    let (_, other_cert) = Identity::self_signed_for(&other_dir.path().join("x")).unwrap();
    let trust = Trust::pinned_file(&other_cert).unwrap();
    let wrong = Client::connect(&h.endpoint, ClientConfig::new(trust, None)).await;
    assert!(matches!(&wrong, Err(ClientError::Unreachable { why, .. }) if why.contains("pinned")), "{:?}", wrong.err());
    // Insecure accepts any certificate.
    let insecure = Client::connect(&h.endpoint, ClientConfig::new(Trust::Insecure, None)).await.unwrap();
    assert!(matches!(insecure.request(&Request::Health).await, Ok(Response::Health(_))));
    h.server.close();
    // Nothing listens: a timeout, said plainly.
    let mut config = ClientConfig::new(Trust::Insecure, None);
    config.connect_timeout = Duration::from_millis(300);
    let none = Client::connect("127.0.0.1:9", config).await;
    assert!(
        matches!(&none, Err(ClientError::Unreachable { why, .. }) if why.contains("zvm serve")),
        "{:?}",
        none.err()
    );
}

/// An event's identity: its receipt, its index in the receipt, and its first topic.
type Seen = (u64, u32, Option<Word>);

/// Every log of `receipts` that `filter` passes, in commit order.
fn logs_of(receipts: &[zvm_node::rpc::protocol::Receipt], filter: &Filter) -> Vec<Seen> {
    let mut all: Vec<Seen> = receipts
        .iter()
        .flat_map(|r| {
            r.logs
                .iter()
                .enumerate()
                .filter(|(_, l)| filter.matches(l))
                .map(|(i, l)| (r.id, i as u32, l.topics.first().copied()))
        })
        .collect();
    all.sort();
    all
}

/// Reads deliveries until the end of the replay: the replayed events and how the replay ended.
async fn replayed(sub: &mut Subscription) -> (Vec<Seen>, Delivery) {
    let mut events = Vec::new();
    loop {
        match sub.next_delivery().await.unwrap().unwrap() {
            Delivery::Event(e) => events.push((e.receipt, e.index, e.log.topics.first().copied())),
            end => return (events, end),
        }
    }
}

#[tokio::test]
async fn a_backlog_replays_the_stored_logs_in_order_then_goes_live() {
    let h = start(1024).await;
    let c = &h.client;
    let a = deploy(c, hex::decode(LOGGER).unwrap()).await;
    let b = deploy(c, hex::decode(LOGGER).unwrap()).await;
    // Logs emitted before anyone subscribes, several calls sharing commits.
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..40u64 {
        let (c, to) = (h.client.clone(), if i % 4 == 0 { b } else { a });
        calls.spawn(async move { c.call(call_args(to, word(i).to_vec())).await.unwrap() });
    }
    let mut receipts = calls.join_all().await;
    receipts.sort_by_key(|r| r.id);

    // From block 0 (everything) and from a block in the middle; with and without an address filter.
    let middle = receipts[20].block;
    let only_a = Filter { address: Some(a), topics: vec![] };
    for (filter, from) in [(Filter::default(), 0), (Filter::default(), middle), (only_a.clone(), 0), (only_a, middle)] {
        let mut sub = c.subscribe_from(filter.clone(), Start::Block(from)).await.unwrap();
        let (events, end) = replayed(&mut sub).await;
        let stored: Vec<_> = receipts.iter().filter(|r| r.block >= from).cloned().collect();
        assert_eq!(events, logs_of(&stored, &filter), "from block {from}, {filter:?}");
        assert!(!events.is_empty());
        let next = receipts.last().unwrap().id + 1;
        assert_eq!(end, Delivery::Live(Cursor { receipt: next, index: 0 }));
        assert!(sub.is_live() && !sub.cut_short());
        // Then live: the next matching call's log, and nothing replayed twice before it.
        let live = c.call(call_args(a, word(99).to_vec())).await.unwrap();
        let event = sub.next().await.unwrap().unwrap();
        assert_eq!((event.receipt, event.block, event.log.topics[0]), (live.id, live.block, word(99)));
        receipts.push(live);
    }

    // A block not yet committed: nothing is replayed, and live logs count from that block on.
    let ahead = c.health().await.unwrap().block + 3;
    let mut sub = c.subscribe_from(Filter::default(), Start::Block(ahead)).await.unwrap();
    assert!(matches!(replayed(&mut sub).await, (events, Delivery::Live(_)) if events.is_empty()));
    let mut blocks = Vec::new();
    while blocks.last().is_none_or(|&b| b < ahead) {
        blocks.push(c.call(call_args(a, word(7).to_vec())).await.unwrap().block);
    }
    let event = sub.next().await.unwrap().unwrap();
    assert_eq!(event.block, ahead, "the calls were in blocks {blocks:?}");
    h.server.close();
}

#[tokio::test]
async fn no_log_is_lost_or_repeated_between_the_replay_and_the_live_stream() {
    let h = start(4096).await;
    let c = &h.client;
    let logger = deploy(c, hex::decode(LOGGER).unwrap()).await;
    // Eight writers keep committing while subscriptions with a backlog are opened, one after each tenth
    // acknowledged call: each replay races the commits that happen while it runs.
    let acked = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..8u64 {
        let (c, acked) = (h.client.clone(), acked.clone());
        writers.spawn(async move {
            let mut receipts = Vec::new();
            for i in 0..40u64 {
                receipts.push(c.call(call_args(logger, word(w * 1000 + i).to_vec())).await.unwrap());
                acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            receipts
        });
    }
    let mut subscriptions = Vec::new();
    let mut next_at = 0;
    while subscriptions.len() < 12 {
        if acked.load(std::sync::atomic::Ordering::Relaxed) >= next_at {
            subscriptions.push(c.subscribe_from(Filter::default(), Start::Block(1)).await.unwrap());
            next_at += 10;
        } else {
            tokio::task::yield_now().await;
        }
    }
    let mut receipts: Vec<_> = writers.join_all().await.into_iter().flatten().collect();
    // A last call marks the end: every subscription must have seen every log before it exactly once.
    let marker = c.call(call_args(logger, word(u64::MAX).to_vec())).await.unwrap();
    receipts.push(marker.clone());
    let expected = logs_of(&receipts, &Filter::default());
    assert_eq!(expected.len(), 8 * 40 + 1);
    for (n, mut sub) in subscriptions.into_iter().enumerate() {
        let mut got = Vec::new();
        while got.last().is_none_or(|e: &Seen| e.0 != marker.id) {
            let e = sub.next().await.unwrap().unwrap();
            got.push((e.receipt, e.index, e.log.topics.first().copied()));
        }
        assert_eq!(got, expected, "subscription {n}");
    }
    h.server.close();
}

#[tokio::test]
async fn the_backlog_bound_is_honored_and_resuming_continues_where_it_stopped() {
    let h = start_with(|config| config.backlog_logs = 5).await;
    let c = &h.client;
    let spray = deploy(c, spray()).await;
    let logger = deploy(c, hex::decode(LOGGER).unwrap()).await;
    let mut receipts = vec![c.call(call_args(spray, vec![])).await.unwrap()]; // 64 logs in one receipt
    for i in 0..7u64 {
        receipts.push(c.call(call_args(logger, word(i).to_vec())).await.unwrap());
    }
    let expected = logs_of(&receipts, &Filter::default());
    assert_eq!(expected.len(), 71);

    // Each subscription replays at most 5 logs, says where it stopped and ends; the next one resumes there.
    let mut got = Vec::new();
    let mut from = Start::Block(0);
    let mut subscriptions = 0;
    loop {
        subscriptions += 1;
        let mut sub = c.subscribe_from(Filter::default(), from).await.unwrap();
        let (events, end) = replayed(&mut sub).await;
        assert!(events.len() <= 5, "{} logs in one replay", events.len());
        got.extend(events);
        match end {
            Delivery::CutShort(next) => {
                assert!(sub.cut_short() && !sub.is_live());
                assert_eq!(sub.resume(), Some(next));
                assert!(sub.next().await.is_none(), "the stream ends after a cut-short replay");
                from = Start::At(next);
            }
            Delivery::Live(_) => break,
            Delivery::Event(_) => unreachable!(),
        }
    }
    assert_eq!(got, expected);
    assert_eq!(subscriptions, 71 / 5 + 1);
    h.server.close();

    // The bound on receipts read: a filter that matches only the last call's log still reads at most 3
    // receipts per subscription.
    let h = start_with(|config| config.backlog_receipts = 3).await;
    let c = &h.client;
    let a = deploy(c, hex::decode(LOGGER).unwrap()).await;
    let b = deploy(c, hex::decode(LOGGER).unwrap()).await;
    for i in 0..6u64 {
        c.call(call_args(a, word(i).to_vec())).await.unwrap();
    }
    let last = c.call(call_args(b, word(9).to_vec())).await.unwrap();
    let only_b = Filter { address: Some(b), topics: vec![] };
    let mut sub = c.subscribe_from(only_b.clone(), Start::Block(0)).await.unwrap();
    assert_eq!(replayed(&mut sub).await, (vec![], Delivery::CutShort(Cursor { receipt: 4, index: 0 })));
    let mut sub = c.subscribe_from(only_b.clone(), Start::At(Cursor { receipt: 4, index: 0 })).await.unwrap();
    assert_eq!(replayed(&mut sub).await, (vec![], Delivery::CutShort(Cursor { receipt: 7, index: 0 })));
    let mut sub = c.subscribe_from(only_b, Start::At(Cursor { receipt: 7, index: 0 })).await.unwrap();
    let end = Delivery::Live(Cursor { receipt: last.id + 1, index: 0 });
    assert_eq!(replayed(&mut sub).await, (vec![(last.id, 0, Some(word(9)))], end));
    h.server.close();
}

#[tokio::test]
async fn a_backlog_subscription_is_refused_on_a_pipelined_stream_and_checks_its_filter() {
    let h = start(1024).await;
    let c = &h.client;
    let request = Request::SubscribeFrom { filter: Filter::default(), from: Start::Block(0) };
    assert_eq!(code_of(c.request(&request).await.unwrap_err()), ErrorCode::BadRequest);
    let topics = Filter { address: None, topics: vec![None; 5] };
    let refused = c.subscribe_from(topics, Start::Block(0)).await;
    assert!(matches!(refused, Err(ClientError::Server(e)) if e.code == ErrorCode::BadRequest));
    // Hostile starts are just positions: far beyond the head, nothing is replayed.
    let far = Start::At(Cursor { receipt: u64::MAX, index: u32::MAX });
    let mut sub = c.subscribe_from(Filter::default(), far).await.unwrap();
    assert_eq!(replayed(&mut sub).await.0, vec![]);
    let mut sub = c.subscribe_from(Filter::default(), Start::Block(u64::MAX)).await.unwrap();
    assert_eq!(replayed(&mut sub).await.0, vec![]);
    h.server.close();
}

#[tokio::test]
async fn blocks_have_chained_hashes_that_blockhash_returns() {
    let h = start(1024).await;
    let c = &h.client;
    // EVM: returns BLOCKHASH(call data word 0).
    let blockhash = deploy(c, hex::decode("5f35405f5260205ff3").unwrap()).await;
    for _ in 0..3 {
        c.call(call_args(blockhash, word(0).to_vec())).await.unwrap();
    }
    let head = c.health().await.unwrap().block;
    let mut parent = [0u8; 32];
    for n in 1..=head {
        let block = c.block(n).await.unwrap();
        assert_eq!((block.number, block.parent), (n, parent));
        let header = zvm_node::BlockHeader {
            parent: block.parent,
            number: block.number,
            timestamp: block.timestamp,
            first_receipt: block.first_receipt,
            receipts: block.receipts,
            receipts_root: block.receipts_root,
            changes_root: block.changes_root,
        };
        assert_eq!(block.hash, header.hash());
        parent = block.hash;
    }
    assert_eq!(code_of(c.block(0).await.unwrap_err()), ErrorCode::NotFound);
    assert_eq!(code_of(c.block(head + 1).await.unwrap_err()), ErrorCode::NotFound);
    // A call runs in the next block: it sees the head's hash; a query too.
    let receipt = c.call(call_args(blockhash, word(head).to_vec())).await.unwrap();
    assert_eq!((receipt.block, receipt.output), (head + 1, parent.to_vec()));
    let head = head + 1;
    let queried = c.query(call_args(blockhash, word(head).to_vec())).await.unwrap();
    assert_eq!(queried.output, c.block(head).await.unwrap().hash.to_vec());
    assert_eq!(c.query(call_args(blockhash, word(head + 1).to_vec())).await.unwrap().output, word(0).to_vec());
    h.server.close();
}

/// What a batch entry or a request of its own gave, with the receipt's block left out (one by one, each
/// call is a block of its own; in a batch, they share one).
type Outcome = Result<EntryResult, ErrorCode>;

fn without_block(result: Outcome) -> Outcome {
    result.map(|r| match r {
        EntryResult::Receipt(receipt) => EntryResult::Receipt(zvm_node::rpc::protocol::Receipt { block: 0, ..receipt }),
        queried => queried,
    })
}

#[tokio::test]
async fn a_batch_gives_the_same_results_and_state_as_its_entries_one_by_one() {
    let (a, b) = (start(1024).await, start(1024).await);
    let logger = deploy(&a.client, hex::decode(LOGGER).unwrap()).await;
    assert_eq!(deploy(&b.client, hex::decode(LOGGER).unwrap()).await, logger);
    let nobody = [0x11; 20];
    let entries = vec![
        Entry::Call(call_args(logger, word(1).to_vec())),
        // Sees the call before it (the counter goes from 1 to 2, and is not kept).
        Entry::Query(call_args(logger, word(2).to_vec())),
        Entry::Call(call_args(nobody, vec![])),
        Entry::Call(CallArgs { gas_limit: u64::MAX, ..call_args(logger, vec![]) }),
        Entry::Call(call_args(logger, word(3).to_vec())),
        Entry::Call(CallArgs { gas_limit: 100, ..call_args(logger, vec![]) }),
        Entry::Query(call_args(nobody, vec![])),
        Entry::Call(call_args(logger, word(4).to_vec())),
        Entry::Query(call_args(logger, vec![])),
    ];
    let batched = a.client.batch(entries.clone()).await.unwrap();
    let mut one_by_one = Vec::new();
    for entry in &entries {
        one_by_one.push(without_block(match entry {
            Entry::Call(call) => b.client.call(call.clone()).await.map(EntryResult::Receipt).map_err(code_of),
            Entry::Query(call) => b.client.query(call.clone()).await.map(EntryResult::Queried).map_err(code_of),
        }));
    }
    let results: Vec<Outcome> = batched.iter().map(|r| without_block(r.result.clone().map_err(|e| e.code))).collect();
    assert_eq!(results, one_by_one);
    let codes: Vec<Option<ErrorCode>> = results.iter().map(|r| r.as_ref().err().copied()).collect();
    let (not_found, bad) = (Some(ErrorCode::NotFound), Some(ErrorCode::BadRequest));
    assert_eq!(codes, [None, None, not_found, bad, None, None, not_found, None, None]);
    let Ok(EntryResult::Queried(first_query)) = &results[1] else { panic!("{:?}", results[1]) };
    assert_eq!(first_query.output, word(2).to_vec());
    assert_eq!(batched[2].exec_ns, 0, "refused before it ran");

    // The batch's receipts: consecutive, in one block, stored as replied.
    let receipts: Vec<_> = batched
        .iter()
        .filter_map(|r| match &r.result {
            Ok(EntryResult::Receipt(receipt)) => Some(receipt.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(receipts.iter().map(|r| r.id).collect::<Vec<_>>(), [2, 3, 4, 5]);
    assert!(receipts.iter().all(|r| r.block == receipts[0].block));
    assert_eq!(receipts[2].status, "out_of_gas");
    for receipt in &receipts {
        assert_eq!(&a.client.receipt(receipt.id).await.unwrap(), receipt);
    }
    // The same state.
    for slot in [word(0), word(1)] {
        assert_eq!(a.client.storage(logger, slot).await.unwrap(), b.client.storage(logger, slot).await.unwrap());
    }
    assert_eq!(a.client.storage(logger, word(0)).await.unwrap(), word(3));
    let metrics = a.client.metrics().await.unwrap();
    // Per entry: the deploy and 4 receipts, 2 queries, 3 errors.
    assert_eq!((metrics.calls, metrics.queries, metrics.errors), (5, 2, 3));

    // Queries only: no token needed, run on one snapshot, and the same as one by one.
    let reader = connect(&a.endpoint, &a.cert, None).await;
    let queries = vec![
        Entry::Query(call_args(logger, vec![])),
        Entry::Query(call_args(nobody, vec![])),
        Entry::Query(call_args(logger, vec![])),
    ];
    let replies = reader.batch(queries.clone()).await.unwrap();
    for (reply, entry) in replies.into_iter().zip(&queries) {
        let Entry::Query(call) = entry else { unreachable!() };
        let alone = reader.query(call.clone()).await.map(EntryResult::Queried).map_err(code_of);
        assert_eq!(reply.result.map_err(|e| e.code), alone);
    }
    assert_eq!(a.client.storage(logger, word(0)).await.unwrap(), word(3));
    a.server.close();
    b.server.close();
}

#[tokio::test]
async fn an_acknowledged_batch_is_in_the_database() {
    let h = start(1024).await;
    let logger = deploy(&h.client, hex::decode(LOGGER).unwrap()).await;
    let calls = (1..=16).map(|n| Entry::Call(call_args(logger, word(n).to_vec()))).collect();
    let replies = h.client.batch(calls).await.unwrap();
    let Harness { server, client, _dir: dir, .. } = h;
    client.close();
    server.close();
    server.wait_idle().await;
    drop(server);
    // Once the server's last task has let go of the node, its database opens; what the batch's replies
    // said is there.
    let db = dir.path().join("state.redb");
    let store = loop {
        match zvm_node::Store::open(&db) {
            Ok(store) => break store,
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    };
    let mut view = store.read().unwrap();
    for (n, reply) in (1..).zip(replies) {
        let Ok(EntryResult::Receipt(receipt)) = reply.result else { panic!("call {n}: {:?}", reply.result) };
        let stored = view.receipt(receipt.id).unwrap().unwrap();
        assert_eq!(
            (stored.status.name(), stored.output, stored.block),
            (receipt.status, receipt.output, receipt.block)
        );
        assert_eq!(stored.logs[0].topics[0].to_be_bytes::<32>(), word(n));
    }
    let counter = view.storage(zvm_runtime::Address(logger), ruint::aliases::U256::ZERO).unwrap();
    assert_eq!(counter, ruint::aliases::U256::from(16));
}

#[tokio::test]
async fn bad_batches_get_clear_errors_and_the_server_stays_up() {
    let h = start(1024).await;
    let c = &h.client;
    let logger = deploy(c, hex::decode(LOGGER).unwrap()).await;
    let before = c.health().await.unwrap().receipts;
    let calls = |n: usize| vec![Entry::Call(call_args(logger, vec![])); n];

    // Bounds: refused whole, nothing runs.
    assert_eq!(code_of(c.batch(calls(MAX_BATCH_ENTRIES + 1)).await.unwrap_err()), ErrorCode::BadRequest);
    assert_eq!(code_of(c.batch(Vec::new()).await.unwrap_err()), ErrorCode::BadRequest);
    // Over the frame limit: the client does not build it, and the server refuses it from its length.
    let big = vec![Entry::Call(call_args(logger, vec![0; 1 << 20])); 2];
    assert!(matches!(c.batch(big).await, Err(ClientError::Protocol(_))));
    let mut huge = (MAX_REQUEST_FRAME + 1).to_be_bytes().to_vec();
    huge.extend_from_slice(&[VERSION, 13]);
    assert_eq!(c.exchange(&huge).await.unwrap().unwrap_err().code, ErrorCode::FrameTooLarge);

    // Malformed: more entries counted than sent, an entry kind that does not exist, trailing bytes.
    let good = encode_frame(&Request::Batch { token: TOKEN.into(), entries: calls(1) }, MAX_REQUEST_FRAME).unwrap();
    let body = &good[4..];
    let count = 3 + TOKEN.len(); // version, kind, the token's length and bytes, then the count
    assert_eq!((body[count], body[count + 1]), (1, 0));
    let mut counted = body.to_vec();
    counted[count] = 2;
    let mut unknown = body.to_vec();
    unknown[count + 1] = 7;
    let mut trailing = body.to_vec();
    trailing.push(0);
    for bad in [&counted, &unknown, &trailing] {
        assert_eq!(c.exchange(&raw(bad)).await.unwrap().unwrap_err().code, ErrorCode::Malformed);
    }
    // On a pipelined stream, under its id, and the stream goes on.
    let mut stream = tagged(1, &unknown[1..]);
    stream.extend(tagged(2, &body[1..]));
    stream.extend(tagged(3, &[0]));
    let bodies = c.exchange_frames(&stream, 10).await.unwrap();
    assert_eq!(pipelined_codes(&bodies), [(1, Some(ErrorCode::Malformed)), (2, None), (3, None)]);

    // The token: needed as soon as one entry is a call (then nothing runs, not even the queries).
    let other = connect(&h.endpoint, &h.cert, Some("s3cres")).await;
    let mixed = vec![Entry::Query(call_args(logger, vec![])), Entry::Call(call_args(logger, vec![]))];
    assert_eq!(code_of(other.batch(mixed.clone()).await.unwrap_err()), ErrorCode::Unauthorized);
    let anonymous = connect(&h.endpoint, &h.cert, None).await;
    assert!(matches!(anonymous.batch(mixed.clone()).await, Err(ClientError::NoToken)));
    let empty = Request::Batch { token: String::new(), entries: mixed };
    assert_eq!(code_of(anonymous.request(&empty).await.unwrap_err()), ErrorCode::Unauthorized);
    assert!(other.batch(vec![Entry::Query(call_args(logger, vec![]))]).await.is_ok());

    // Entries with unknown addresses or bad fields: an error each, the others run.
    let nobody = [0x11; 20];
    let entries = vec![
        Entry::Call(call_args(nobody, vec![])),
        Entry::Call(call_args(logger, vec![])),
        Entry::Query(call_args(nobody, vec![])),
        Entry::Call(CallArgs { gas_limit: u64::MAX, ..call_args(logger, vec![]) }),
    ];
    let codes: Vec<Option<ErrorCode>> =
        c.batch(entries).await.unwrap().into_iter().map(|r| r.result.err().map(|e| e.code)).collect();
    assert_eq!(codes, [Some(ErrorCode::NotFound), None, Some(ErrorCode::NotFound), Some(ErrorCode::BadRequest)]);

    // The server is up; of all of the above, only the two good single calls committed.
    assert_eq!(c.health().await.unwrap().receipts, before + 2);
    assert_eq!(c.storage(logger, word(0)).await.unwrap(), word(2));
    h.server.close();
}
