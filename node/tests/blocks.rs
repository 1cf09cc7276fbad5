//! Block hashes: every block (commit batch) gets a header whose keccak256 is its hash, chained to its
//! parent and persisted; `BLOCKHASH` in a contract returns it for the 256 blocks before the current one
//! and zero otherwise, in durable calls and in queries, before and after the database is reopened.

use ruint::aliases::U256;
use std::collections::HashSet;
use std::path::Path;
use zvm_node::codec::{receipt_hash, root};
use zvm_node::{Node, NodeConfig, Query, Request};
use zvm_runtime::crypto::keccak256;
use zvm_runtime::executor::CodeFormat;
use zvm_runtime::{Address, BlockEnv, Status};

/// EVM: returns BLOCKHASH(call data word 0).
const BLOCKHASH: &str = "5f35405f5260205ff3";
const ME: Address = Address::from_low_u64(0xB10C);
const TIMESTAMP: u64 = 1_700_000_000;

fn open(path: &Path) -> Node {
    // The default tier (the JIT): BLOCKHASH goes through compiled code to the node's host.
    let block = BlockEnv { timestamp: TIMESTAMP, ..NodeConfig::default().block };
    Node::open(path, NodeConfig { block, ..NodeConfig::default() }).unwrap()
}

fn word(n: U256) -> Vec<u8> {
    n.to_be_bytes::<32>().to_vec()
}

fn ask(to: Address, n: U256) -> Request {
    Request::Call { caller: ME, to, value: U256::ZERO, input: word(n), gas_limit: 100_000 }
}

fn query(node: &Node, to: Address, n: U256) -> Vec<u8> {
    let result = node.query(Query { caller: ME, to, value: U256::ZERO, input: word(n), gas_limit: 100_000 }).unwrap();
    assert_eq!(result.status, Status::Success);
    result.output
}

/// The hashes of blocks 0 (zero: the empty database has no header) to the head, checking the chain.
fn chain(node: &Node) -> Vec<[u8; 32]> {
    let view = node.read().unwrap();
    let mut hashes = vec![[0u8; 32]];
    for n in 1..=view.block().unwrap() {
        let (hash, header) = view.block_header(n).unwrap().unwrap();
        assert_eq!((header.number, header.parent), (n, hashes[n as usize - 1]), "block {n}");
        assert_eq!(hash, keccak256(&header.encode()));
        assert_eq!(header.timestamp, TIMESTAMP);
        hashes.push(hash);
    }
    assert!(view.block_header(0).unwrap().is_none());
    assert!(view.block_header(hashes.len() as u64).unwrap().is_none());
    hashes
}

#[test]
fn blockhash_sees_the_last_256_block_hashes_and_they_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let node = open(&path);
    let deploy =
        Request::Deploy { deployer: ME, code: hex::decode(BLOCKHASH).unwrap(), format: CodeFormat::Evm, salt: None };
    let contract = node.execute(deploy).unwrap().created.unwrap();
    // Each call waited for alone is a block of its own: 270 blocks, more than BLOCKHASH reaches back.
    for _ in 0..270 {
        node.execute(ask(contract, U256::ZERO)).unwrap();
    }
    let hashes = chain(&node);
    assert_eq!(hashes.len(), 272);
    assert_eq!(hashes.iter().collect::<HashSet<_>>().len(), 272, "every block's hash differs");

    // Each call below runs in block `current` (one more each time); it sees the hashes of the 256 blocks
    // before it only: not its own, not later ones, not older ones, not block 0.
    let head = hashes.len() as u64 - 1;
    for (k, back) in [1i64, 2, 100, 255, 256, 257, 258, 300, 0, -1, -5].into_iter().enumerate() {
        let current = head + 1 + k as u64;
        let n = (current as i64 - back) as u64;
        let receipt = node.execute(ask(contract, U256::from(n))).unwrap();
        assert_eq!(receipt.block, current);
        let expected = if (1..=256).contains(&back) { chain(&node)[n as usize] } else { [0; 32] };
        assert_ne!(expected == [0; 32], (1..=256).contains(&back));
        assert_eq!(receipt.output, expected.to_vec(), "BLOCKHASH({n}) in block {current}");
    }
    assert_eq!(node.execute(ask(contract, U256::ZERO)).unwrap().output, vec![0; 32]);
    assert_eq!(node.execute(ask(contract, U256::from(1u64 << 40))).unwrap().output, vec![0; 32]);
    let huge = node.execute(ask(contract, U256::MAX)).unwrap();
    assert_eq!(huge.output, vec![0; 32]);
    // A query runs in the block after the head.
    let hashes = chain(&node);
    let head = hashes.len() as u64 - 1;
    assert_eq!(query(&node, contract, U256::from(head)), hashes[head as usize].to_vec());
    assert_eq!(query(&node, contract, U256::from(head - 255)), hashes[head as usize - 255].to_vec());
    assert_eq!(query(&node, contract, U256::from(head - 256)), vec![0; 32]);
    assert_eq!(query(&node, contract, U256::from(head + 1)), vec![0; 32]);

    // Reopened: the same chain, and new blocks chain onto it.
    drop(node);
    let node = open(&path);
    assert_eq!(chain(&node), hashes);
    assert_eq!(query(&node, contract, U256::from(head)), hashes[head as usize].to_vec());
    let receipt = node.execute(ask(contract, U256::from(head))).unwrap();
    assert_eq!((receipt.block, receipt.output), (head + 1, hashes[head as usize].to_vec()));
    assert_eq!(chain(&node)[..hashes.len()], hashes[..]);
}

#[test]
fn a_header_commits_to_its_receipts_and_a_block_of_refused_requests_is_still_a_block() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(&dir.path().join("state.redb"));
    let deploy =
        Request::Deploy { deployer: ME, code: hex::decode(BLOCKHASH).unwrap(), format: CodeFormat::Evm, salt: None };
    let contract = node.execute(deploy).unwrap().created.unwrap();
    // Queued together: several calls share a block.
    let pending: Vec<_> = (0..40u64).map(|i| node.submit(ask(contract, U256::from(i)))).collect();
    for p in pending {
        p.wait().unwrap();
    }
    // Refused: no receipt, but the batch is still committed as a block.
    assert!(node.execute(Request::RegisterName { name: "Bad".into(), address: contract }).is_err());
    let view = node.read().unwrap();
    let head = view.block().unwrap();
    let mut next_receipt = 1;
    for n in 1..=head {
        let (_, header) = view.block_header(n).unwrap().unwrap();
        assert_eq!(header.first_receipt, next_receipt, "block {n}");
        let mut hashes = Vec::new();
        for id in header.first_receipt..header.first_receipt + header.receipts {
            let receipt = view.receipt(id).unwrap().unwrap();
            assert_eq!(receipt.block, n);
            hashes.push(receipt_hash(id, &receipt.encode()));
        }
        assert_eq!(header.receipts_root, root(&hashes));
        assert_ne!(header.changes_root, [0; 32]);
        next_receipt += header.receipts;
    }
    assert_eq!(next_receipt, view.calls().unwrap() + 1);
    let (_, last) = view.block_header(head).unwrap().unwrap();
    assert_eq!((last.receipts, last.receipts_root), (0, keccak256(&[])));
    assert!(head < 42, "40 queued calls took {head} blocks");
}
