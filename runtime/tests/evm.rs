//! EVM transactions end to end on both tiers: gas to the unit, nested calls, creates, depth limits.

use ruint::aliases::U256;
use zvm_runtime::executor::Tier;
use zvm_runtime::tx::{transact, Transaction, TxOutcome, TxType};
use zvm_runtime::vm::{create_address, Vm};
use zvm_runtime::{Address, BlockEnv, InMemoryHost, Limits, Status};

const SENDER: Address = Address::from_low_u64(0x5e4d);
const CONTRACT: Address = Address::from_low_u64(0xc0de);
const OTHER: Address = Address::from_low_u64(0x0717);
const TIERS: [Tier; 2] = [Tier::Interp, Tier::Jit];

fn host() -> InMemoryHost {
    let mut h = InMemoryHost::new();
    h.block = BlockEnv { number: 1, gas_limit: 30_000_000, chain_id: 1, ..BlockEnv::default() };
    h.account_mut(SENDER).balance = U256::from(10u64).pow(U256::from(18));
    h
}

fn tx(to: Option<Address>, data: Vec<u8>, gas_limit: u64) -> Transaction {
    Transaction {
        tx_type: TxType::Legacy,
        caller: SENDER,
        nonce: 0,
        gas_limit,
        gas_price: U256::from(1),
        max_priority_fee_per_gas: U256::ZERO,
        to,
        value: U256::ZERO,
        data,
        access_list: vec![],
        blob_hashes: vec![],
        max_fee_per_blob_gas: U256::ZERO,
    }
}

fn run(tier: Tier, host: &mut InMemoryHost, t: &Transaction) -> TxOutcome {
    let vm = Vm::new(tier, Limits::default());
    transact(&vm, host, t).expect("valid transaction")
}

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}

#[test]
fn sstore_costs_the_eip_2929_cold_set_price() {
    for tier in TIERS {
        let mut h = host();
        // PUSH1 1 PUSH1 0 SSTORE STOP
        h.account_mut(CONTRACT).code = hex("6001600055" /* STOP implied */).into();
        let out = run(tier, &mut h, &tx(Some(CONTRACT), vec![], 100_000));
        assert_eq!(out.status, Status::Success, "{tier}");
        // 21000 intrinsic + 3 + 3 + 22100 (cold slot, zero to non-zero).
        assert_eq!(out.gas_used, 43106, "{tier}");
        assert_eq!(h.storage(CONTRACT, U256::ZERO), U256::from(1));
        assert_eq!(h.accounts[&SENDER].nonce, 1);
        // The sender paid exactly the gas used (price 1, no base fee, so the coinbase got it all).
        assert_eq!(h.accounts[&SENDER].balance, U256::from(10u64).pow(U256::from(18)) - U256::from(43106));
        assert_eq!(h.accounts[&Address::default()].balance, U256::from(43106));
    }
}

#[test]
fn nested_call_returns_data_and_gas() {
    for tier in TIERS {
        let mut h = host();
        // OTHER: returns 32 bytes 0x2a.   PUSH1 0x2a PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN
        h.account_mut(OTHER).code = hex("602a60005260206000f3").into();
        // CONTRACT: CALL(gas, OTHER, 0, 0, 0, 0, 32), then return memory[0..32] and the call's status.
        // PUSH1 32 PUSH1 0 PUSH1 0 PUSH1 0 PUSH1 0 PUSH2 0717 GAS CALL PUSH1 32 MSTORE PUSH1 64 PUSH1 0 RETURN
        h.account_mut(CONTRACT).code = hex("602060006000600060006107175af160205260406000f3").into();
        let out = run(tier, &mut h, &tx(Some(CONTRACT), vec![], 200_000));
        assert_eq!(out.status, Status::Success, "{tier}");
        let mut want = vec![0u8; 64];
        want[31] = 0x2a;
        want[63] = 1;
        assert_eq!(out.output, want, "{tier}");
        // Caller: 5 PUSH1 + PUSH2 + GAS = 20; CALL 100 + cold 2500; memory to 1 word = 3; then PUSH1 3,
        // MSTORE 3 (+ 3 to grow to 2 words), PUSH1 3, PUSH1 3, RETURN 0. Callee: 4 PUSH1 + MSTORE = 15,
        // memory to 1 word = 3, RETURN 0.
        let caller = 20 + 2600 + 3 + (3 + 3 + 3 + 3 + 3);
        let callee = 3 + 3 + 3 + 3 + 3 + 3;
        assert_eq!(out.gas_used, 21000 + caller + callee, "{tier}");
    }
}

#[test]
fn create_transaction_deploys_at_the_derived_address() {
    for tier in TIERS {
        let mut h = host();
        // Init code returning the 1-byte runtime code 0x00: PUSH1 0 PUSH1 0 MSTORE8 PUSH1 1 PUSH1 0 RETURN
        let out = run(tier, &mut h, &tx(None, hex("600060005360016000f3"), 200_000));
        let out = if out.status == Status::Success { out } else { panic!("{tier}: {out:?}") };
        let address = create_address(SENDER, 0);
        assert_eq!(out.created, Some(address));
        assert_eq!(*h.accounts[&address].code, [0u8]);
        assert_eq!(h.accounts[&address].nonce, 1);
        assert_eq!(h.accounts[&SENDER].nonce, 1);
    }
}

#[test]
fn a_1024_deep_call_chain_ends_cleanly_on_every_tier() {
    // The contract calls itself with all its gas, forever: the chain stops at depth 1024 (or when the
    // 63/64 rule runs the gas out), never with a native stack overflow.
    // PUSH1 0 DUP1 DUP1 DUP1 DUP1 ADDRESS GAS CALL STOP
    let code = hex("600080808080305af100");
    let mut results = Vec::new();
    for tier in TIERS {
        let mut h = host();
        h.account_mut(CONTRACT).code = code.as_slice().into();
        // Lots of gas so that depth, not gas, is the limit.
        h.block.gas_limit = u64::MAX;
        h.account_mut(SENDER).balance = U256::MAX;
        let out = run(tier, &mut h, &tx(Some(CONTRACT), vec![], 1 << 40));
        assert_eq!(out.status, Status::Success, "{tier}");
        results.push(out.gas_used);
    }
    assert_eq!(results[0], results[1]);
}
