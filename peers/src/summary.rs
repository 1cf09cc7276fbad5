//! What a transaction did, in a form two VMs can be compared on with `==`.
//!
//! The summary keeps everything a chain could observe after the transaction — the receipt (status, gas used,
//! logs), the return data, the created address, and the whole post-state — and nothing that is a VM's own
//! business: a halt's reason and a rejection's reason are named differently by every VM, so they travel next
//! to the summary in [`Run::detail`], for messages, and are not compared.
//!
//! The post-state follows the end of a Cancun transaction: self-destructed accounts (created in the same
//! transaction, EIP-6780) and touched accounts that are empty (EIP-161) are gone; storage lists only non-zero
//! slots. That is what `zvm_runtime::InMemoryHost` holds after `finish_transaction`, so
//! [`PostState::of_host`] reads it as is, and the revm peer applies its state diff by the same rules.

use ruint::aliases::U256;
use std::collections::BTreeMap;
use std::fmt;
use zvm_runtime::{Address, InMemoryHost};

/// How a transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Its call or create succeeded.
    Success,
    /// It reverted (`REVERT`, or a call refused before running): unused gas returned.
    Revert,
    /// It failed exceptionally (out of gas, invalid opcode or jump, stack error, ...): all gas consumed.
    Halt,
    /// It was invalid and never ran: no gas used, state unchanged.
    Rejected,
}

/// Bytes printed as `0x...` hex, so that a failed comparison is readable.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hex(pub Vec<u8>);

impl fmt::Debug for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl From<&[u8]> for Hex {
    fn from(bytes: &[u8]) -> Self {
        Hex(bytes.to_vec())
    }
}

/// An event of the receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub address: Address,
    pub topics: Vec<U256>,
    pub data: Hex,
}

/// One account after the transaction.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AccountState {
    pub balance: U256,
    pub nonce: u64,
    pub code: Hex,
    /// Non-zero slots only.
    pub storage: BTreeMap<U256, U256>,
}

impl AccountState {
    /// Empty as EIP-161 defines it: no code, zero nonce, zero balance (storage does not count).
    pub fn is_empty(&self) -> bool {
        self.code.0.is_empty() && self.nonce == 0 && self.balance.is_zero()
    }
}

impl fmt::Debug for AccountState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Code can be kilobytes: show its length and its first bytes, which is enough to tell two apart in
        // a message (the comparison itself uses all of it).
        const SHOWN: usize = 16;
        let code = &self.code.0;
        let mut s = f.debug_struct("Account");
        s.field("balance", &self.balance).field("nonce", &self.nonce);
        if code.len() > SHOWN {
            s.field("code", &format_args!("{:?}.. ({} bytes)", Hex(code[..SHOWN].to_vec()), code.len()));
        } else {
            s.field("code", &self.code);
        }
        s.field("storage", &self.storage).finish()
    }
}

/// Every account after the transaction, by address.
pub type PostState = BTreeMap<Address, AccountState>;

/// The comparable result of one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub status: Status,
    /// Gas used after the refund, as the receipt shows it (0 when rejected).
    pub gas_used: u64,
    /// Return data on success (empty for a create), revert data on revert, empty otherwise.
    pub output: Hex,
    /// The receipt's logs: empty unless the transaction succeeded.
    pub logs: Vec<LogEntry>,
    /// The contract a successful create transaction made.
    pub created: Option<Address>,
    pub state: PostState,
}

/// A summary and, apart from it, the peer's own words for what happened (its halt or rejection reason),
/// which are not compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub summary: Summary,
    pub detail: String,
}

impl Run {
    /// A transaction that was invalid and never ran: nothing used, `state` unchanged, `detail` says why.
    pub fn rejected(state: PostState, detail: String) -> Run {
        Run {
            summary: Summary {
                status: Status::Rejected,
                gas_used: 0,
                output: Hex::default(),
                logs: Vec::new(),
                created: None,
                state,
            },
            detail,
        }
    }
}

/// Reads the post-state of a host whose transaction has finished.
pub fn post_state_of_host(host: &InMemoryHost) -> PostState {
    host.accounts
        .iter()
        .map(|(&address, account)| {
            let storage =
                account.storage.iter().filter(|(_, v)| !v.is_zero()).map(|(&k, &v)| (k, v)).collect::<BTreeMap<_, _>>();
            let state = AccountState {
                balance: account.balance,
                nonce: account.nonce,
                code: Hex(account.code.to_vec()),
                storage,
            };
            (address, state)
        })
        .collect()
}

/// Every difference between two summaries, one per line (empty if they are equal): a readable message for
/// a failed comparison of large states, where `assert_eq!`'s dump would bury the one differing slot.
pub fn diff(left: &Summary, right: &Summary) -> String {
    let mut out = Vec::new();
    if left.status != right.status {
        out.push(format!("status: {:?} != {:?}", left.status, right.status));
    }
    if left.gas_used != right.gas_used {
        out.push(format!("gas used: {} != {}", left.gas_used, right.gas_used));
    }
    if left.output != right.output {
        out.push(format!("output: {:?} != {:?}", left.output, right.output));
    }
    if left.logs != right.logs {
        out.push(format!("logs: {:?} != {:?}", left.logs, right.logs));
    }
    if left.created != right.created {
        out.push(format!("created: {:?} != {:?}", left.created, right.created));
    }
    let addresses: std::collections::BTreeSet<_> = left.state.keys().chain(right.state.keys()).collect();
    for address in addresses {
        match (left.state.get(address), right.state.get(address)) {
            (Some(l), Some(r)) if l == r => {}
            (Some(l), Some(r)) => {
                if l.balance != r.balance {
                    out.push(format!("{address}: balance {} != {}", l.balance, r.balance));
                }
                if l.nonce != r.nonce {
                    out.push(format!("{address}: nonce {} != {}", l.nonce, r.nonce));
                }
                if l.code != r.code {
                    out.push(format!("{address}: code {:?} != {:?}", l.code, r.code));
                }
                let keys: std::collections::BTreeSet<_> = l.storage.keys().chain(r.storage.keys()).collect();
                for key in keys {
                    let (a, b) = (l.storage.get(key), r.storage.get(key));
                    if a != b {
                        out.push(format!("{address}: storage[{key:#x}] {a:?} != {b:?}"));
                    }
                }
            }
            (l, r) => out.push(format!("{address}: {l:?} != {r:?}")),
        }
    }
    out.join("\n")
}
