//! Message calls and creates: value transfer, precompiles, nested frames on a chosen tier, the journal.
use crate::executor::Tier;
use crate::limits::Limits;

/// Runs message calls and creates on one tier.
pub struct Vm {
    pub tier: Tier,
    pub limits: Limits,
}

impl Vm {
    /// A machine that runs code on `tier` within `limits`.
    pub fn new(tier: Tier, limits: Limits) -> Vm {
        Vm { tier, limits }
    }
}
