//! The persistent node against the runtime's in-memory host: the same genesis balances, deploys and
//! transactions (ZVM and EVM contracts, fees and tips, value transfers, reverts, rejected transactions,
//! creates, a create that self-destructs) give the same results and the same final state — and still do after the database is closed and reopened, with a cold
//! cache.

use ruint::aliases::U256;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use zvm_compiler::frontend::zvm::asm;
use zvm_node::node::deployable_code;
use zvm_node::{install_contract, ContractInfo, Node, NodeConfig, NodeError, Request};
use zvm_runtime::executor::{CodeFormat, Tier};
use zvm_runtime::tx::{transact, InvalidTx, Transaction, TxType};
use zvm_runtime::vm::Vm;
use zvm_runtime::{Account, Address, InMemoryHost, Status};

const DEPLOYER: Address = Address::from_low_u64(0xDE);
const ALICE: Address = Address::from_low_u64(0xA11CE);
const BOB: Address = Address::from_low_u64(0xB0B);
const CAROL: Address = Address::from_low_u64(0xCA201);
const COINBASE: Address = Address::from_low_u64(0xC01B);
/// Both fund their transactions from genesis balances; the coinbase earns the tips.
const GENESIS: u64 = 1_000_000_000_000;
const BASE_FEE: u64 = 7;
const GAS_PRICE: u64 = 10;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)
}

fn zasm(name: &str) -> Vec<u8> {
    asm::assemble(&std::fs::read_to_string(example(name)).unwrap()).unwrap()
}

fn evm(name: &str) -> Vec<u8> {
    hex::decode(std::fs::read_to_string(example(name)).unwrap().trim()).unwrap()
}

fn word(n: u64) -> [u8; 32] {
    U256::from(n).to_be_bytes()
}

fn addr_word(a: Address) -> [u8; 32] {
    a.to_word().to_be_bytes()
}

fn token_call(selector: u32, args: &[[u8; 32]]) -> Vec<u8> {
    let mut data = selector.to_be_bytes().to_vec();
    args.iter().for_each(|a| data.extend_from_slice(a));
    data
}

fn config() -> NodeConfig {
    let mut config = NodeConfig { tier: Tier::Interp, ..NodeConfig::default() };
    config.block.base_fee = U256::from(BASE_FEE);
    config.block.coinbase = COINBASE;
    config
}

/// The same operations on the reference host and on a node, compared step by step.
struct Pair {
    reference: InMemoryHost,
    vm: Vm,
    node: Node,
    nonces: BTreeMap<Address, u64>,
}

impl Pair {
    fn new(path: &Path) -> Pair {
        let config = config();
        let mut reference = InMemoryHost::new();
        reference.block = config.block.clone();
        let alloc = vec![(ALICE, U256::from(GENESIS)), (BOB, U256::from(GENESIS))];
        for &(address, balance) in &alloc {
            reference.account_mut(address).balance = balance;
        }
        let vm = Vm::new(config.tier, config.limits.clone());
        let node = Node::open(path, config).unwrap();
        assert_eq!(node.execute(Request::Genesis { alloc }).unwrap().id, 1);
        Pair { reference, vm, node, nonces: BTreeMap::new() }
    }

    fn deploy(&mut self, code: Vec<u8>, format: CodeFormat) -> Address {
        let stored = deployable_code(format, code.clone(), &config().limits).unwrap();
        let expected = install_contract(&mut self.reference, DEPLOYER, stored, None).unwrap();
        let receipt = self.node.execute(Request::Deploy { deployer: DEPLOYER, code, format, salt: None }).unwrap();
        assert_eq!(receipt.created, Some(expected));
        let info = self.node.read().unwrap().contract(expected).unwrap().unwrap();
        assert_eq!(info, ContractInfo { format, deployer: DEPLOYER, block: receipt.block });
        expected
    }

    fn tx(&mut self, caller: Address, to: Option<Address>, data: Vec<u8>) -> Transaction {
        self.tx_with_value(caller, to, data, U256::ZERO)
    }

    fn tx_with_value(&mut self, caller: Address, to: Option<Address>, data: Vec<u8>, value: U256) -> Transaction {
        let nonce = self.nonces.entry(caller).or_default();
        let tx = Transaction {
            tx_type: TxType::Legacy,
            caller,
            nonce: *nonce,
            gas_limit: 1_000_000,
            gas_price: U256::from(GAS_PRICE),
            max_priority_fee_per_gas: U256::ZERO,
            to,
            value,
            data,
            access_list: vec![],
            blob_hashes: vec![],
            max_fee_per_blob_gas: U256::ZERO,
        };
        *nonce += 1;
        tx
    }

    /// Sends `tx` to both; returns the outcome (after checking they agree).
    fn send(&mut self, tx: Transaction) -> Result<(Status, Vec<u8>, Option<Address>), InvalidTx> {
        let expected = transact(&self.vm, &mut self.reference, &tx);
        let got = self.node.execute(Request::Transact(tx));
        match (expected, got) {
            (Ok(e), Ok(r)) => {
                assert_eq!(
                    (&r.status, r.gas_used, &r.output, &r.logs, r.created),
                    (&e.status, e.gas_used, &e.output, &e.logs, e.created)
                );
                assert_eq!(self.node.read().unwrap().receipt(r.id).unwrap().as_ref(), Some(&r));
                Ok((e.status, e.output, e.created))
            }
            (Err(e), Err(NodeError::Rejected(g))) => {
                assert_eq!(e, g);
                Err(e)
            }
            (e, g) => panic!("the reference gave {e:?}, the node {g:?}"),
        }
    }

    fn call(&mut self, caller: Address, to: Address, data: Vec<u8>) -> (Status, Vec<u8>) {
        let tx = self.tx(caller, Some(to), data);
        let (status, output, _) = self.send(tx).unwrap();
        (status, output)
    }

    fn assert_same_state(&self) {
        let expected: BTreeMap<Address, Account> = self.reference.accounts.clone().into_iter().collect();
        let got = self.node.read().unwrap().dump().unwrap();
        assert_eq!(got, expected);
    }

    fn reopen(self, path: &Path) -> Pair {
        drop(self.node);
        Pair { node: Node::open(path, config()).unwrap(), ..self }
    }
}

#[test]
fn the_node_matches_the_in_memory_host_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let mut p = Pair::new(&path);

    let counter = p.deploy(zasm("counter.zasm"), CodeFormat::Zvm);
    let token = p.deploy(zasm("token.zasm"), CodeFormat::Zvm);
    let evm_counter = p.deploy(evm("counter.evm"), CodeFormat::Evm);
    assert!(p.node.read().unwrap().code(counter).unwrap().starts_with(b"ZVMC"));

    for n in 1..=3 {
        assert_eq!(p.call(ALICE, counter, vec![]), (Status::Success, word(n).to_vec()));
    }
    const MINT: u32 = 0x40c10f19;
    const TRANSFER: u32 = 0xa9059cbb;
    const BALANCE_OF: u32 = 0x70a08231;
    assert_eq!(p.call(ALICE, token, token_call(MINT, &[addr_word(ALICE), word(1000)])).0, Status::Success);
    assert_eq!(p.call(ALICE, token, token_call(TRANSFER, &[addr_word(BOB), word(300)])).0, Status::Success);
    assert_eq!(p.call(BOB, token, token_call(TRANSFER, &[addr_word(ALICE), word(301)])).0, Status::Revert);
    assert_eq!(p.call(BOB, token, token_call(TRANSFER, &[addr_word(ALICE), word(100)])).0, Status::Success);
    assert_eq!(p.call(ALICE, token, token_call(BALANCE_OF, &[addr_word(ALICE)])).1, word(800).to_vec());
    for n in 1..=2 {
        assert_eq!(p.call(BOB, evm_counter, vec![]), (Status::Success, word(n).to_vec()));
    }

    // A transaction with a stale nonce is rejected by both, and changes nothing.
    let mut stale = p.tx(ALICE, Some(counter), vec![]);
    stale.nonce = 0;
    assert_eq!(p.send(stale), Err(InvalidTx::NonceMismatch { tx: 0, state: 6 }));
    p.nonces.insert(ALICE, p.nonces[&ALICE] - 1);

    // Value transfers, to an existing account and to a new one; one the sender cannot pay for.
    for to in [BOB, Address::from_low_u64(0xF2E54)] {
        let transfer = p.tx_with_value(ALICE, Some(to), vec![], U256::from(12_345));
        assert_eq!(p.send(transfer).unwrap().0, Status::Success);
    }
    let broke = p.tx_with_value(CAROL, Some(BOB), vec![], U256::from(1));
    assert!(matches!(p.send(broke), Err(InvalidTx::InsufficientFunds { .. })));
    p.nonces.remove(&CAROL);
    assert_eq!(p.node.read().unwrap().account(BOB).unwrap().map(|a| a.nonce), Some(4));
    assert!(p.node.read().unwrap().account(COINBASE).unwrap().is_some_and(|a| !a.balance.is_zero()));

    // A create transaction: init code that returns counter.evm's code.
    let runtime = evm("counter.evm");
    let mut init = vec![0x6d];
    init.extend_from_slice(&runtime);
    init.extend_from_slice(&[0x60, 0x00, 0x52, 0x60, 0x0e, 0x60, 0x12, 0xf3]);
    assert_eq!(runtime.len(), 14);
    let create = p.tx(ALICE, None, init);
    let (status, _, created) = p.send(create).unwrap();
    assert_eq!(status, Status::Success);
    let created = created.unwrap();
    assert_eq!(p.call(BOB, created, vec![]), (Status::Success, word(1).to_vec()));
    let info = p.node.read().unwrap().contract(created).unwrap().unwrap();
    assert_eq!((info.format, info.deployer), (CodeFormat::Evm, ALICE));

    // A create whose init code writes storage and self-destructs: the account and its slot are gone.
    let create = p.tx(BOB, None, vec![0x60, 0x01, 0x60, 0x00, 0x55, 0x30, 0xff]);
    let (status, _, created) = p.send(create).unwrap();
    assert_eq!(status, Status::Success);
    assert_eq!(p.node.read().unwrap().account(created.unwrap()).unwrap(), None);

    p.assert_same_state();

    // Closed and reopened: the same state, and later calls (on a cold cache) still agree.
    let mut p = p.reopen(&path);
    p.assert_same_state();
    assert_eq!(p.call(ALICE, counter, vec![]), (Status::Success, word(4).to_vec()));
    assert_eq!(p.call(ALICE, token, token_call(TRANSFER, &[addr_word(BOB), word(50)])).0, Status::Success);
    assert_eq!(p.call(BOB, evm_counter, vec![]), (Status::Success, word(3).to_vec()));
    let counter2 = p.deploy(zasm("counter.zasm"), CodeFormat::Zvm);
    assert_ne!(counter2, counter);
    assert_eq!(p.call(BOB, counter2, vec![]), (Status::Success, word(1).to_vec()));
    p.assert_same_state();
}
