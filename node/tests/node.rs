//! The node's API: group commit, names, deploys and what it refuses.

use ruint::aliases::U256;
use std::path::Path;
use zvm_node::node::{MAX_CALL_INPUT, MAX_NAME_LEN};
use zvm_node::{DeployError, Node, NodeConfig, NodeError, Request};
use zvm_runtime::executor::{CodeFormat, Tier};
use zvm_runtime::{Address, Status};

/// counter.evm: increments slot 0 and returns the new value.
const COUNTER: &str = "5f54600101805f555f5260205ff3";
const DEPLOYER: Address = Address::from_low_u64(0xDE);

fn open(path: &Path, max_batch: usize) -> Node {
    Node::open(path, NodeConfig { tier: Tier::Interp, max_batch, ..NodeConfig::default() }).unwrap()
}

fn deploy_counter(node: &Node) -> Address {
    let code = hex::decode(COUNTER).unwrap();
    let deploy = Request::Deploy { deployer: DEPLOYER, code, format: CodeFormat::Evm, salt: None };
    node.execute(deploy).unwrap().created.unwrap()
}

fn call(to: Address) -> Request {
    Request::Call { caller: DEPLOYER, to, value: U256::ZERO, input: vec![], gas_limit: 100_000 }
}

/// Submits `n` increments without waiting, then waits for all; returns the blocks they were committed in.
fn increments(node: &Node, counter: Address, n: u64) -> Vec<u64> {
    let pending: Vec<_> = (0..n).map(|_| node.submit(call(counter))).collect();
    let receipts: Vec<_> = pending.into_iter().map(|p| p.wait().unwrap()).collect();
    // Executed in submission order, each on the state the previous one left.
    for (i, r) in receipts.iter().enumerate() {
        assert_eq!(r.status, Status::Success);
        assert_eq!(r.output, U256::from(i as u64 + 1).to_be_bytes::<32>().to_vec());
        assert_eq!(r.id, receipts[0].id + i as u64);
    }
    receipts.iter().map(|r| r.block).collect()
}

#[test]
fn queued_calls_share_commits_and_max_batch_1_commits_each_alone() {
    let dir = tempfile::tempdir().unwrap();
    let grouped = open(&dir.path().join("grouped"), 1024);
    let counter = deploy_counter(&grouped);
    let mut blocks = increments(&grouped, counter, 300);
    blocks.dedup();
    assert!(blocks.len() < 300, "300 queued calls took {} commits", blocks.len());
    assert!(blocks.windows(2).all(|w| w[1] == w[0] + 1), "blocks are consecutive batches: {blocks:?}");

    let single = open(&dir.path().join("single"), 1);
    let counter = deploy_counter(&single);
    let mut blocks = increments(&single, counter, 50);
    blocks.dedup();
    assert_eq!(blocks.len(), 50);
}

#[test]
fn names_are_registered_once_resolved_listed_and_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (a, b) = (Address::from_low_u64(1), Address::from_low_u64(2));
    {
        let node = open(&path, 16);
        for (name, address) in [("token", a), ("counter.v2", b), ("alpha-1", a)] {
            node.execute(Request::RegisterName { name: name.into(), address }).unwrap();
        }
        // Again for the same address: accepted, changes nothing. For another: refused.
        node.execute(Request::RegisterName { name: "token".into(), address: a }).unwrap();
        let taken = node.execute(Request::RegisterName { name: "token".into(), address: b });
        assert!(matches!(taken, Err(NodeError::NameTaken { address, .. }) if address == a), "{taken:?}");
        for bad in ["", "Token", "-x", "a b", "ünï", &"x".repeat(MAX_NAME_LEN + 1)] {
            let r = node.execute(Request::RegisterName { name: bad.into(), address: a });
            assert!(matches!(r, Err(NodeError::BadName { .. })), "{bad:?}: {r:?}");
        }
    }
    let node = open(&path, 16);
    let view = node.read().unwrap();
    assert_eq!(view.resolve("token").unwrap(), Some(a));
    assert_eq!(view.resolve("nope").unwrap(), None);
    let all = view.names(None, 10).unwrap();
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["alpha-1", "counter.v2", "token"]);
    assert_eq!(view.names(Some("alpha-1"), 1).unwrap(), vec![("counter.v2".to_string(), b)]);
}

#[test]
fn refused_requests_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(&dir.path().join("db"), 16);
    let counter = deploy_counter(&node);
    let before = node.read().unwrap().dump().unwrap();
    let calls_before = node.read().unwrap().calls().unwrap();

    let zvm = |code: Vec<u8>| Request::Deploy { deployer: DEPLOYER, code, format: CodeFormat::Zvm, salt: None };
    let evm = |code: Vec<u8>| Request::Deploy { deployer: DEPLOYER, code, format: CodeFormat::Evm, salt: None };
    let call = |input: Vec<u8>, gas_limit| Request::Call {
        caller: DEPLOYER,
        to: counter,
        value: U256::ZERO,
        input,
        gas_limit,
    };
    let refused = [
        (evm(b"ZVMC....".to_vec()), "would be read as ZVM"),
        (evm(vec![0; 24577]), "24577 bytes, more than the 24576"),
        (zvm(vec![0x61]), "unknown opcode 0x61"),
        (call(vec![0; MAX_CALL_INPUT + 1], 1), "call data over"),
        (call(vec![], u64::MAX), "over the node's limit"),
        (Request::Genesis { alloc: vec![(DEPLOYER, U256::from(1))] }, "must be the first call"),
    ];
    for (request, why) in refused {
        let e = node.execute(request).unwrap_err().to_string();
        assert!(e.contains(why), "{e}");
    }
    // The same salt and code twice collide.
    let code = hex::decode(COUNTER).unwrap();
    let deploy = Request::Deploy { deployer: DEPLOYER, code, format: CodeFormat::Evm, salt: Some(U256::from(7)) };
    let first = node.execute(deploy.clone()).unwrap().created.unwrap();
    let again = node.execute(deploy);
    assert!(matches!(again, Err(NodeError::Deploy(DeployError::Collision(a))) if a == first), "{again:?}");
    let mut after = node.read().unwrap().dump().unwrap();
    // Only the successful deploy changed state: the new contract and the deployer's nonce.
    assert!(after.remove(&first).is_some());
    after.get_mut(&DEPLOYER).unwrap().nonce -= 1;
    assert_eq!(after, before);
    assert_eq!(node.read().unwrap().calls().unwrap(), calls_before + 1);

    // A call that reverts is committed with its receipt, but its state changes are not.
    let poor = Request::Call { caller: DEPLOYER, to: counter, value: U256::from(1), input: vec![], gas_limit: 100_000 };
    let receipt = node.execute(poor).unwrap();
    assert_eq!(receipt.status, Status::Revert);
    assert_eq!(node.read().unwrap().storage(counter, U256::ZERO).unwrap(), U256::ZERO);
}

#[test]
fn snapshots_taken_while_calls_commit_show_only_whole_calls() {
    // Each call increments slots 0 and 1 together: `s = sload(0) + 1; sstore(0, s); sstore(1, s)`.
    let code = hex::decode("5f54600101805f5560015500").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let node = open(&dir.path().join("db"), 64);
    let deploy = Request::Deploy { deployer: DEPLOYER, code, format: CodeFormat::Evm, salt: None };
    let pair = node.execute(deploy).unwrap().created.unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let reads = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let (mut last, mut reads) = (U256::ZERO, 0);
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let mut view = node.read().unwrap();
                let (a, b) = (view.storage(pair, U256::ZERO).unwrap(), view.storage(pair, U256::from(1)).unwrap());
                assert_eq!(a, b, "a snapshot shows half a call");
                assert!(a >= last, "snapshots went back in time: {last} then {a}");
                last = a;
                reads += 1;
            }
            reads
        });
        let pending: Vec<_> = (0..500).map(|_| node.submit(call(pair))).collect();
        pending.into_iter().for_each(|p| assert_eq!(p.wait().unwrap().status, Status::Success));
        done.store(true, std::sync::atomic::Ordering::Release);
        reader.join().unwrap()
    });
    assert!(reads > 0);
    assert_eq!(node.read().unwrap().storage(pair, U256::from(1)).unwrap(), U256::from(500));
}

#[test]
fn a_query_sees_every_call_acknowledged_before_it_even_while_query_threads_stay_busy() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(&dir.path().join("db"), 1024);
    let counter = deploy_counter(&node);
    let query =
        || zvm_node::Query { caller: DEPLOYER, to: counter, value: U256::ZERO, input: vec![], gas_limit: 100_000 };
    let stop = std::sync::atomic::AtomicBool::new(false);
    /// Stops the background queries however the check ends (a failed assertion included).
    struct Stop<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    std::thread::scope(|s| {
        // Background queries keep the query threads busy, so that they reuse their snapshots.
        for _ in 0..3 {
            s.spawn(|| {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    node.query(query()).unwrap();
                }
            });
        }
        let _stop = Stop(&stop);
        for i in 1..=200u64 {
            let receipt = node.execute(call(counter)).unwrap();
            assert_eq!(receipt.output, U256::from(i).to_be_bytes::<32>().to_vec());
            // The counter returns the stored count plus one; the query's changes are thrown away.
            let seen = node.query(query()).unwrap().output;
            assert_eq!(seen, U256::from(i + 1).to_be_bytes::<32>().to_vec(), "after call {i}");
        }
    });
}

#[test]
fn webassembly_contracts_deploy_run_and_keep_state_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wasm");
    let counter = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/counter.wat");
    let code = wat::parse_file(counter).unwrap();
    let address = {
        let node = open(&path, 16);
        let deploy = Request::Deploy { deployer: DEPLOYER, code: code.clone(), format: CodeFormat::Wasm, salt: None };
        let address = node.execute(deploy).unwrap().created.unwrap();
        increments(&node, address, 3);
        address
    };
    // The code, its format and the counter survive a reopen.
    let node = open(&path, 16);
    let r = node.execute(call(address)).unwrap();
    assert_eq!((r.status, r.output), (Status::Success, U256::from(4).to_be_bytes::<32>().to_vec()));
    // A module that is not a contract is refused at deploy.
    let bad = wat::parse_str("(module (func (export \"other\")))").unwrap();
    let deploy = Request::Deploy { deployer: DEPLOYER, code: bad, format: CodeFormat::Wasm, salt: None };
    let err = node.execute(deploy).expect_err("refused").to_string();
    assert!(err.contains("call"), "{err}");
}
