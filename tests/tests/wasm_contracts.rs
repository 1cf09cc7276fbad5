//! The WebAssembly contract examples (`examples/*.wat`) through the contract ABI on both tiers: identical
//! status, output, storage, logs and gas, with expected results worked out independently here.

use std::path::PathBuf;
use zvm_compiler::frontend::wasm::WasmConfig;
use zvm_ir::U256;
use zvm_runtime::executor::{CodeFormat, Contract, Tier};
use zvm_runtime::{Account, Address, ExecResult, Host as _, InMemoryHost, Limits, Message, Status};

const ME: Address = Address::from_low_u64(0xC0DE);
const CALLER: Address = Address::from_low_u64(0xCA11E2);
const GAS: u64 = 10_000_000;

fn wat(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name);
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn word(v: u64) -> [u8; 32] {
    U256::from(v).to_be_bytes()
}

fn storage(host: &InMemoryHost, at: Address) -> Vec<(U256, U256)> {
    let mut s: Vec<_> =
        host.accounts.get(&at).map(|a| a.storage.iter().map(|(k, v)| (*k, *v)).collect()).unwrap_or_default();
    s.sort();
    s
}

/// Runs `code` as the contract at `ME` on `tier`, ending the transaction.
fn call(code: &[u8], tier: Tier, input: Vec<u8>, host: &mut InMemoryHost) -> ExecResult {
    let limits = Limits::default();
    let contract = Contract::load_as(CodeFormat::Wasm, code, tier, &limits).expect("the example loads");
    let msg = Message { caller: CALLER, address: ME, input, gas_limit: GAS, ..Message::default() };
    let result = contract.run(&msg, host, &limits);
    host.finish_transaction();
    result
}

/// Runs the same sequence of calls on both tiers and checks they agree on everything.
fn on_both_tiers(
    code: &[u8],
    inputs: &[Vec<u8>],
    setup: impl Fn(&mut InMemoryHost),
) -> Vec<(ExecResult, InMemoryHost)> {
    let mut runs = Vec::new();
    for tier in [Tier::Interp, Tier::Jit] {
        let mut host = InMemoryHost::new();
        setup(&mut host);
        let results: Vec<ExecResult> = inputs.iter().map(|i| call(code, tier, i.clone(), &mut host)).collect();
        runs.push((results, host));
    }
    let (jit, jit_host) = runs.pop().unwrap();
    let (interp, interp_host) = runs.pop().unwrap();
    assert_eq!(interp, jit, "the tiers disagree");
    assert_eq!(storage(&interp_host, ME), storage(&jit_host, ME));
    interp.into_iter().map(|r| (r, interp_host.clone())).collect()
}

#[test]
fn counter_counts_on_both_tiers() {
    let code = wat("counter.wat");
    let runs = on_both_tiers(&code, &[vec![], vec![], vec![]], |_| {});
    for (n, (r, _)) in runs.iter().enumerate() {
        assert_eq!(r.status, Status::Success);
        assert_eq!(r.output, word(n as u64 + 1));
    }
    assert_eq!(storage(&runs[2].1, ME), vec![(U256::ZERO, U256::from(3))]);
    // The first call pays for the cold slot written from zero, the later ones for a non-zero rewrite.
    assert!(runs[0].0.gas_used > 20_000 && runs[1].0.gas_used < 10_000, "{:?}", runs.iter().map(|r| r.0.gas_used));
    assert_eq!(runs[1].0.gas_used, runs[2].0.gas_used);
}

fn token_input(op: u8, words: &[[u8; 32]]) -> Vec<u8> {
    let mut v = vec![op];
    for w in words {
        v.extend_from_slice(w);
    }
    v
}

/// keccak256(owner word . slot 1 word): where the token keeps `owner`'s balance.
fn balance_key(owner: Address) -> U256 {
    let mut pre = [0u8; 64];
    pre[..32].copy_from_slice(&owner.to_word().to_be_bytes::<32>());
    pre[63] = 1;
    U256::from_be_bytes(zvm_runtime::crypto::keccak256(&pre))
}

#[test]
fn token_mints_transfers_emits_and_reverts_on_both_tiers() {
    let code = wat("token.wat");
    let bob = Address::from_low_u64(0xB0B);
    let bob_word = bob.to_word().to_be_bytes::<32>();
    let inputs = vec![
        token_input(0, &[word(1000)]),
        token_input(1, &[bob_word, word(300)]),
        token_input(1, &[bob_word, word(701)]),
        token_input(2, &[bob_word]),
        token_input(2, &[CALLER.to_word().to_be_bytes::<32>()]),
        token_input(7, &[]),
    ];
    let runs = on_both_tiers(&code, &inputs, |_| {});
    let transfer_topic = U256::from_be_bytes(zvm_runtime::crypto::keccak256(b"Transfer(address,address,uint256)"));
    let (mint, _) = &runs[0];
    assert_eq!(mint.status, Status::Success);
    assert_eq!(mint.logs.len(), 1);
    assert_eq!(mint.logs[0].topics, vec![transfer_topic, U256::ZERO, CALLER.to_word()]);
    assert_eq!(mint.logs[0].data, word(1000));
    let (transfer, _) = &runs[1];
    assert_eq!(transfer.status, Status::Success);
    assert_eq!(transfer.logs[0].topics, vec![transfer_topic, CALLER.to_word(), bob.to_word()]);
    assert_eq!(transfer.logs[0].data, word(300));
    assert_eq!(runs[2].0.status, Status::Revert, "700 left, 701 asked");
    assert!(runs[2].0.logs.is_empty());
    assert_eq!(runs[3].0.output, word(300));
    assert_eq!(runs[4].0.output, word(700));
    assert_eq!(runs[5].0.status, Status::Revert, "unknown operation");
    let expected = {
        let mut s = vec![(balance_key(CALLER), U256::from(700)), (balance_key(bob), U256::from(300))];
        s.sort();
        s
    };
    assert_eq!(storage(&runs[5].1, ME), expected);
}

#[test]
fn a_webassembly_contract_calls_an_evm_contract() {
    let caller_code = wat("evm_caller.wat");
    let counter_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/counter.evm");
    let counter = hex::decode(std::fs::read_to_string(counter_path).unwrap().trim()).unwrap();
    let callee = Address::from_low_u64(0xE7E7);
    let setup = |host: &mut InMemoryHost| {
        host.accounts.insert(callee, Account { code: counter.as_slice().into(), ..Account::default() });
    };
    let input = callee.to_word().to_be_bytes::<32>().to_vec();
    let runs = on_both_tiers(&caller_code, &[input.clone(), input], setup);
    assert_eq!(runs[0].0.status, Status::Success);
    assert_eq!(runs[0].0.output, word(1), "the EVM counter's first value");
    assert_eq!(runs[1].0.output, word(2));
    assert_eq!(storage(&runs[1].1, callee), vec![(U256::ZERO, U256::from(2))]);
    assert!(storage(&runs[1].1, ME).is_empty());
    // A call to an account without code succeeds with empty output.
    let empty = Address::from_low_u64(0xEEEE).to_word().to_be_bytes::<32>().to_vec();
    let runs = on_both_tiers(&caller_code, &[empty], setup);
    assert_eq!((runs[0].0.status.clone(), runs[0].0.output.len()), (Status::Success, 0));
}

#[test]
fn bad_contracts_are_refused_before_running() {
    let limits = Limits::default();
    let cases: [(&str, &str); 4] = [
        ("(module)", "exports a function `call`"),
        ("(module (func (export \"call\") (param i32)))", "takes no parameters"),
        ("(module (import \"env\" \"f\" (func)) (func (export \"call\")))", "only from the `zvm` module"),
        ("(module (import \"zvm\" \"caller\" (func (param i64))) (func (export \"call\")))", "zvm.caller has type"),
    ];
    for (src, message) in cases {
        let bytes = wat::parse_str(src).unwrap();
        let err = Contract::load_as(CodeFormat::Wasm, &bytes, Tier::Interp, &limits).err().expect(src).to_string();
        assert!(err.contains(message), "{src}: {err}");
    }
    let simd = wat::parse_str("(module (func (export \"call\") (drop (v128.const i64x2 0 0))))").unwrap();
    let err = Contract::load_as(CodeFormat::Wasm, &simd, Tier::Interp, &limits).err().unwrap().to_string();
    assert!(err.to_lowercase().contains("simd"), "{err}");
}

/// `code` loaded on `tier`; `per_op` keeps the IR without the gas pass (every `gas.cost` charged where it
/// stands: the reference per-operation meter).
fn load(code: &[u8], tier: Tier, per_op: bool) -> Contract {
    if per_op {
        let module = zvm_compiler::frontend::wasm::translate_contract(code, &WasmConfig::default()).expect("lowers");
        Contract::from_module(module, code.to_vec(), tier, CodeFormat::Wasm.costs()).expect("verifies")
    } else {
        Contract::load_as(CodeFormat::Wasm, code, tier, &Limits::default()).expect("loads")
    }
}

/// Runs `contract` once from a fresh host with `gas`.
fn metered(contract: &Contract, input: &[u8], gas: u64) -> (ExecResult, Vec<(U256, U256)>) {
    let mut host = InMemoryHost::new();
    let msg = Message { caller: CALLER, address: ME, input: input.to_vec(), gas_limit: gas, ..Message::default() };
    let result = contract.run(&msg, &mut host, &Limits::default());
    (result, storage(&host, ME))
}

/// Block-level gas (charges folded per block, and handed by blocks entered only by jumps to those jumps)
/// against the per-operation meter, at every gas limit around what a call needs and at a spread below:
/// the same success, gas used, output and storage, on both tiers.
#[test]
fn block_gas_equals_per_operation_gas_at_every_limit() {
    let bob_word = Address::from_low_u64(0xB0B).to_word().to_be_bytes::<32>();
    let cases = [
        ("counter.wat", vec![]),
        ("token.wat", token_input(0, &[word(1000)])),
        ("token.wat", {
            let mut v = token_input(2, &[bob_word]);
            v.push(0);
            v
        }),
    ];
    for (name, input) in cases {
        let code = wat(name);
        let reference = load(&code, Tier::Interp, true);
        let blocks = [Tier::Interp, Tier::Jit].map(|tier| (tier, load(&code, tier, false)));
        let needed = metered(&reference, &input, GAS).0.gas_used;
        let limits = (0..needed).step_by((needed / 97).max(1) as usize).chain(needed.saturating_sub(300)..=needed + 1);
        for gas in limits {
            let (want, want_storage) = metered(&reference, &input, gas);
            for (tier, contract) in &blocks {
                let (r, s) = metered(contract, &input, gas);
                let at = format!("{name} on {tier} with {gas} gas (needs {needed})");
                assert_eq!(r.status.is_success(), want.status.is_success(), "{at}");
                assert_eq!(r.gas_used, want.gas_used, "{at}");
                assert_eq!(r.output, want.output, "{at}");
                assert_eq!(s, want_storage, "{at}");
            }
        }
    }
}
