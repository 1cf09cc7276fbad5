//! Embedding zvm: what a node does to run contracts through an [`Engine`].
//!
//! The example assembles `examples/counter.zasm` (a persistent storage counter), loads it into an engine
//! with the adaptive tier policy, and calls it repeatedly against an [`InMemoryHost`]. The first calls run
//! on the interpreter; the call that reaches the hot threshold queues the contract for the background
//! compile worker, and once it has been compiled the remaining calls run native code. The results do not
//! change when the tier does — only the statistics show the switch.
//!
//! ```sh
//! cargo run -p zvm-runtime --example embed
//! ```

use zvm_compiler::frontend::zvm::asm;
use zvm_runtime::engine::{Engine, TierPolicy};
use zvm_runtime::Host as _;
use zvm_runtime::{Address, InMemoryHost, Message};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bytecode = asm::assemble(include_str!("../../examples/counter.zasm"))?;

    // Add `.cache_dir(dir)` to keep native objects on disk and reuse them in the next process.
    let engine = Engine::builder().tier_policy(TierPolicy::Adaptive { hot_threshold: 5 }).compile_workers(1).build()?;
    let id = engine.load(&bytecode)?;
    println!("loaded contract {id}");

    let mut host = InMemoryHost::new();
    let msg = Message { address: Address::from_low_u64(0xc0de), gas_limit: 100_000, ..Message::default() };
    for call in 1..=10 {
        let tier = engine.contract_info(id).map(|info| info.tier.to_string()).unwrap_or_default();
        let result = engine.call(id, &msg, &mut host);
        println!(
            "call {call:2} on {tier:6}: {:?}, gas used {}, output 0x{}",
            result.status,
            result.gas_used,
            result.output.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        host.finish_transaction();
        if call == 5 {
            // The fifth call made the contract hot; wait for the background compile so the rest run native
            // code (a node would simply keep calling: calls never wait for a compile).
            engine.wait_idle();
        }
    }
    println!("{:#?}", engine.stats());
    Ok(())
}
