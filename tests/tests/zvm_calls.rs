//! ZVM contracts calling and creating other ZVM contracts through the shared call machinery, on every tier.

mod common;

use common::*;
use zvm_compiler::frontend::zvm::asm::assemble;
use zvm_ir::U256;
use zvm_runtime::executor::{Contract, Tier};
use zvm_runtime::{Address, Host as _, InMemoryHost, Limits, Status};

const COUNTER: Address = Address::from_low_u64(0x0717);

/// Calls the counter example at `COUNTER` and returns its output word followed by the call's status.
const CALLER_SRC: &str = "
    PUSH1 32        ; out_len
    PUSH1 0         ; out
    PUSH1 0         ; in_len
    PUSH1 0         ; in
    PUSH1 0         ; value
    PUSH2 0x0717    ; address
    PUSH4 100000    ; gas
    CALL
    PUSH1 32
    MSTORE          ; memory[32..64] = status
    PUSH1 64
    PUSH1 0
    RETURN
";

fn run_twice(tier: Tier) -> (Vec<Vec<u8>>, Vec<u64>, InMemoryHost) {
    let mut host = InMemoryHost::new();
    host.account_mut(COUNTER).code = example("counter.zasm").into();
    let contract = Contract::load(&assemble(CALLER_SRC).unwrap(), tier, &Limits::default()).unwrap();
    let (mut outputs, mut gas) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        let result = contract.run(&message(vec![], 1_000_000), &mut host, &Limits::default());
        assert_eq!(result.status, Status::Success, "{tier}");
        outputs.push(result.output);
        gas.push(result.gas_used);
        host.finish_transaction();
    }
    (outputs, gas, host)
}

#[test]
fn a_zvm_contract_calls_another_on_every_tier() {
    let (outputs, gas, host) = run_twice(Tier::Interp);
    let word = |v: u64| U256::from(v).to_be_bytes::<32>().to_vec();
    assert_eq!(outputs[0], [word(1), word(1)].concat());
    assert_eq!(outputs[1], [word(2), word(1)].concat());
    assert_eq!(host.storage(COUNTER, U256::ZERO), U256::from(2));
    assert_eq!(host.storage(CONTRACT, U256::ZERO), U256::ZERO);
    // The second call finds the counter's slot non-zero: cheaper than the first.
    assert!(gas[1] < gas[0], "{gas:?}");
    for tier in [Tier::Jit, Tier::Aot] {
        let (o, g, h) = run_twice(tier);
        assert_eq!((o, g), (outputs.clone(), gas.clone()), "{tier}");
        assert_eq!(h.storage(COUNTER, U256::ZERO), U256::from(2), "{tier}");
    }
}

#[test]
fn a_static_call_cannot_change_state() {
    let src = CALLER_SRC.replace("PUSH1 0         ; value\n", "").replace("CALL\n", "STATICCALL\n");
    for tier in [Tier::Interp, Tier::Jit, Tier::Aot] {
        let mut host = InMemoryHost::new();
        host.account_mut(COUNTER).code = example("counter.zasm").into();
        let contract = Contract::load(&assemble(&src).unwrap(), tier, &Limits::default()).unwrap();
        let result = contract.run(&message(vec![], 1_000_000), &mut host, &Limits::default());
        assert_eq!(result.status, Status::Success, "{tier}");
        // The counter's SSTORE fails in the static context: status 0, nothing stored.
        assert_eq!(result.output[32..], U256::ZERO.to_be_bytes::<32>(), "{tier}");
        assert_eq!(host.storage(COUNTER, U256::ZERO), U256::ZERO, "{tier}");
    }
}
