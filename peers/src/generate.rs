//! Random EVM programs, and a small world to run them in, decoded from a string of bytes.
//!
//! The property tests and the `evm_tiers` fuzz target both need "arbitrary bytes in, a plausible EVM
//! transaction out": raw random bytes mostly stop at the first undefined opcode or stack underflow, and
//! never reach the parts of a VM where the bugs are (calls and their gas rules, creates, memory expansion,
//! storage refunds, logs, reverts deep in a call). So the bytes are read as *choices* from a weighted
//! alphabet of [`Piece`]s — a single opcode, a push of a small value, a jump to a real `JUMPDEST`, and
//! whole operations with sensible operands (a `CALL` to a precompile or to the second contract, a
//! `CREATE2` of a short init code, a `KECCAK256` of a bounded range, ...) — plus, sometimes, raw bytes.
//! One decoder serves both users, so the proptest strategy is simply "some bytes" (shrinking them shortens
//! the program) and the fuzzer's mutations reach the same alphabet.
//!
//! [`scenario`] builds the whole input: the pre-state (a sender, the contract under test, a second
//! contract it can call, an account with only a balance, the precompiles), and a transaction to the
//! contract (or creating it) with a gas limit that is often tight, so out-of-gas at every kind of
//! operation gets exercised.

use crate::fixtures::Case;
use ruint::aliases::U256;
use zvm_compiler::frontend::evm::opcodes::{op, OpInfo, OPCODES};
use zvm_runtime::tx::{intrinsic_gas, AccessListItem, Transaction, TxType};
use zvm_runtime::{Address, BlockEnv, InMemoryHost};

/// The sender of every generated transaction (an account with no code and a large balance).
pub const SENDER: Address = Address::from_low_u64(0x5e4d);
/// The contract the transaction calls: the first generated program.
pub const CONTRACT: Address = Address::from_low_u64(0xc0de);
/// A second contract with its own generated program, which the first can call.
pub const OTHER: Address = Address::from_low_u64(0xb0b);
/// An account with a balance and nothing else.
pub const FUNDED: Address = Address::from_low_u64(0xfeed);
/// The block's coinbase.
pub const COINBASE: Address = Address::from_low_u64(0xc014);
/// An address where nothing exists.
pub const NOBODY: Address = Address::from_low_u64(0xdead);

/// Reads choices from bytes; past the end, every read is zero and [`Entropy::is_empty`] is true.
#[derive(Clone, Debug)]
pub struct Entropy<'a> {
    data: &'a [u8],
}

impl<'a> Entropy<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Entropy { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// A number in `0..n` (`n` > 0), from as few bytes as cover `n`.
    pub fn below(&mut self, n: u32) -> u32 {
        assert!(n > 0, "a choice among no options");
        let mut raw = 0u64;
        let mut range = 1u64;
        while range < u64::from(n) {
            raw = raw << 8 | u64::from(self.byte());
            range <<= 8;
        }
        (raw % u64::from(n)) as u32
    }

    /// Up to `n` bytes (fewer at the end of the data).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        taken
    }

    /// An index into `weights`, chosen with probability proportional to its weight.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut pick = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if pick < w {
                return i;
            }
            pick -= w;
        }
        weights.len() - 1
    }

    /// A stack word, mostly small (so that it works as an offset, a length, a slot or a jump target), else
    /// an address of the world, a random 64-bit or 256-bit number, or an edge value.
    pub fn word(&mut self) -> U256 {
        match self.weighted(&[10, 4, 3, 2, 2, 1]) {
            0 => U256::from(self.below(33)),
            1 => U256::from(self.below(1 << 12)),
            2 => world_address(self).to_word(),
            3 => U256::from_be_slice(self.bytes(8)),
            4 => U256::from_be_slice(self.bytes(32)),
            _ => [U256::MAX, U256::MAX >> 1, U256::from(1) << 255, U256::from(u64::MAX), U256::from(u32::MAX)]
                [self.below(5) as usize],
        }
    }

    /// A memory offset: mostly within a few kilobytes, rarely huge (to exercise the expansion limits).
    pub fn offset(&mut self) -> U256 {
        match self.weighted(&[24, 8, 1]) {
            0 => U256::from(self.below(256)),
            1 => U256::from(self.below(4096)),
            _ => {
                [U256::from(u32::MAX), U256::from(1u64 << 32), U256::from(u64::MAX), U256::MAX][self.below(4) as usize]
            }
        }
    }

    /// A length of a memory range: mostly short, sometimes zero (then any offset is allowed).
    pub fn length(&mut self) -> U256 {
        match self.weighted(&[6, 20, 6, 1]) {
            0 => U256::ZERO,
            1 => U256::from(self.below(65)),
            2 => U256::from(self.below(2048)),
            _ => [U256::from(u32::MAX), U256::MAX][self.below(2) as usize],
        }
    }
}

/// An account a program may name: the ones of [`scenario`]'s world, a precompile, or nobody.
fn world_address(e: &mut Entropy) -> Address {
    match e.below(7) {
        0 => SENDER,
        1 => CONTRACT,
        2 => OTHER,
        3 => FUNDED,
        4 => COINBASE,
        5 => NOBODY,
        _ => Address::from_low_u64(1 + u64::from(e.below(10))),
    }
}

/// Which call opcode a [`Piece::Call`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    Call,
    CallCode,
    DelegateCall,
    StaticCall,
}

/// One piece of a generated program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Any assigned opcode without an immediate (jumps included), on whatever the stack holds.
    Op(u8),
    /// A push of a value, in the narrowest `PUSHn` (`PUSH0` for zero).
    Push(U256),
    /// A `JUMPDEST`.
    Label,
    /// A jump to the `n`th `JUMPDEST` (modulo their number; to offset 0 if there is none); `JUMPI` with the
    /// condition pushed here, or taken from the stack if `None`.
    Jump { label: usize, conditional: Option<Option<bool>> },
    /// A memory or data operation at `offset` in memory: `arg` is the value stored (`MSTORE`, `MSTORE8`) or
    /// the length of the range; copies read from `source` (of memory, call data, code or return data).
    Memory { op: u8, offset: U256, arg: U256, source: U256 },
    /// `SSTORE`/`TSTORE` of a small value, or `SLOAD`/`TLOAD`, on one of a few slots.
    Storage { op: u8, slot: U256, value: U256 },
    /// An opcode taking an address (`BALANCE`, `EXTCODESIZE`, `EXTCODEHASH`), on an account of the world.
    Account { op: u8, address: Address },
    /// A call with all operands in range.
    Call { kind: CallKind, gas: Option<U256>, to: Address, value: U256, args: (U256, U256), ret: (U256, U256) },
    /// `CREATE` (`salt: None`) or `CREATE2` of `init` (at most 32 bytes), stored at memory offset 0 first.
    Create { init: Vec<u8>, value: U256, salt: Option<U256> },
    /// `RETURN` or `REVERT` of a memory range.
    Exit { op: u8, offset: U256, length: U256 },
    /// `SELFDESTRUCT` to an account of the world.
    SelfDestruct(Address),
    /// Bytes as they are: undefined opcodes, truncated pushes, jumps into push data.
    Raw(Vec<u8>),
}

/// Opcodes without immediates that [`Piece::Op`] chooses from: every assigned one but the pushes with
/// immediates (a [`Piece::Push`] writes those, and raw ones come from [`Piece::Raw`]), and of those only
/// the ones that find enough operands on a stack of `height` items.
fn plain_opcodes(height: usize) -> impl Iterator<Item = &'static OpInfo> {
    OPCODES.iter().filter(move |i| i.imm_bytes == 0 && usize::from(i.pops) <= height)
}

const MEMORY_OPS: [u8; 13] = [
    op::MSTORE,
    op::MSTORE8,
    op::MLOAD,
    op::MCOPY,
    op::CALLDATACOPY,
    op::CODECOPY,
    op::RETURNDATACOPY,
    op::KECCAK256,
    op::LOG0,
    op::LOG1,
    op::LOG2,
    op::LOG4,
    op::EXTCODECOPY,
];

/// Short init codes for [`Piece::Create`]: deploy a little contract, deploy nothing, revert with data,
/// fail, write storage, deploy code starting with 0xEF (refused by EIP-3541), or random bytes.
fn init_code(e: &mut Entropy) -> Vec<u8> {
    match e.below(8) {
        // Returns 5 bytes of runtime code `PUSH1 1 PUSH1 0 SSTORE` stored at 27..32.
        0 => vec![0x64, 0x60, 0x01, 0x60, 0x00, 0x55, 0x60, 0x00, 0x52, 0x60, 0x05, 0x60, 0x1b, 0xf3],
        1 => vec![op::STOP],
        // Reverts with 4 bytes of memory (zeros).
        2 => vec![0x60, 0x04, 0x60, 0x00, 0xfd],
        3 => vec![op::INVALID],
        // Stores CALLVALUE at slot 3 and returns nothing.
        4 => vec![0x34, 0x60, 0x03, 0x55],
        // Returns one byte 0xEF.
        5 => vec![0x60, 0xef, 0x60, 0x00, 0x53, 0x60, 0x01, 0x60, 0x00, 0xf3],
        // Calls back into the contract under test while being constructed.
        6 => vec![0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x61, 0xc0, 0xde, 0x5a, 0xf1],
        _ => {
            let n = e.below(33) as usize;
            e.bytes(n).to_vec()
        }
    }
}

/// One piece, by the alphabet's weights, for a stack of about `height` items: a single opcode usually
/// finds its operands there (else most programs would end at their first stack underflow), but not always.
pub fn piece(e: &mut Entropy, height: usize) -> Piece {
    const WEIGHTS: [u32; 13] = [24, 24, 3, 4, 8, 6, 2, 5, 2, 2, 1, 1, 2];
    match e.weighted(&WEIGHTS) {
        0 => {
            let height = if e.below(16) == 0 { usize::MAX } else { height };
            let ops: Vec<u8> = plain_opcodes(height).map(|i| i.code).collect();
            Piece::Op(ops[e.below(ops.len() as u32) as usize])
        }
        1 => Piece::Push(e.word()),
        2 => Piece::Label,
        3 => {
            let label = e.byte() as usize;
            let conditional = match e.below(4) {
                0 | 1 => None,
                2 => Some(None),
                _ => Some(Some(e.below(2) == 1)),
            };
            Piece::Jump { label, conditional }
        }
        4 => {
            let op = MEMORY_OPS[e.below(MEMORY_OPS.len() as u32) as usize];
            let arg = if matches!(op, op::MSTORE | op::MSTORE8) { e.word() } else { e.length() };
            Piece::Memory { op, offset: e.offset(), arg, source: U256::from(e.below(64)) }
        }
        5 => {
            let op = [op::SSTORE, op::SLOAD, op::TSTORE, op::TLOAD][e.below(4) as usize];
            Piece::Storage { op, slot: U256::from(e.below(6)), value: U256::from(e.below(3)) }
        }
        6 => {
            let op = [op::BALANCE, op::EXTCODESIZE, op::EXTCODEHASH][e.below(3) as usize];
            Piece::Account { op, address: world_address(e) }
        }
        7 => {
            let kind =
                [CallKind::Call, CallKind::CallCode, CallKind::DelegateCall, CallKind::StaticCall][e.below(4) as usize];
            let gas = match e.below(4) {
                0 => None,
                1 => Some(U256::from(e.below(3000))),
                2 => Some(U256::from(e.below(100_000))),
                _ => Some(e.word()),
            };
            let value = match e.below(4) {
                0 => U256::from(e.below(3)),
                1 => e.word(),
                _ => U256::ZERO,
            };
            let to = world_address(e);
            Piece::Call { kind, gas, to, value, args: (e.offset(), e.length()), ret: (e.offset(), e.length()) }
        }
        8 => {
            let init = init_code(e);
            let value = U256::from(e.below(3));
            let salt = if e.below(2) == 0 { None } else { Some(U256::from(e.below(4))) };
            Piece::Create { init, value, salt }
        }
        9 => Piece::Exit { op: [op::RETURN, op::REVERT][e.below(2) as usize], offset: e.offset(), length: e.length() },
        10 => Piece::SelfDestruct(world_address(e)),
        11 => {
            let n = 1 + e.below(8) as usize;
            Piece::Raw(e.bytes(n).to_vec())
        }
        _ => Piece::Op([op::GAS, op::RETURNDATASIZE, op::MSIZE, op::CALLDATASIZE, op::CALLVALUE][e.below(5) as usize]),
    }
}

/// Pieces until `max` or the end of the data.
pub fn pieces(e: &mut Entropy, max: usize) -> Vec<Piece> {
    let mut out = Vec::new();
    // The stack height along the straight-line path (jumps make it a guess, which is all it needs to be).
    let mut height = 0usize;
    while out.len() < max && !e.is_empty() {
        let p = piece(e, height);
        height = match &p {
            Piece::Op(code) => {
                let info = zvm_compiler::frontend::evm::opcodes::info(*code).expect("an assigned opcode");
                (height.saturating_sub(usize::from(info.pops)) + usize::from(info.pushes)).min(1024)
            }
            Piece::Push(_) => (height + 1).min(1024),
            Piece::Jump { conditional: Some(None), .. } => height.saturating_sub(1),
            Piece::Memory { op: op::MLOAD | op::KECCAK256, .. }
            | Piece::Storage { op: op::SLOAD | op::TLOAD, .. }
            | Piece::Account { .. }
            | Piece::Call { .. }
            | Piece::Create { .. } => (height + 1).min(1024),
            _ => height,
        };
        out.push(p);
    }
    out
}

fn push(code: &mut Vec<u8>, value: U256) {
    if value.is_zero() {
        code.push(op::PUSH0);
        return;
    }
    let width = value.byte_len();
    code.push(op::PUSH1 + width as u8 - 1);
    code.extend_from_slice(&value.to_be_bytes::<32>()[32 - width..]);
}

/// The bytecode of `pieces`. Operands are pushed in reverse so that the first listed is on top.
pub fn assemble(pieces: &[Piece]) -> Vec<u8> {
    let mut code = Vec::new();
    let mut labels = Vec::new();
    let mut fixups = Vec::new();
    for p in pieces {
        match p {
            Piece::Op(c) => code.push(*c),
            Piece::Push(v) => push(&mut code, *v),
            Piece::Label => {
                labels.push(code.len());
                code.push(op::JUMPDEST);
            }
            Piece::Jump { label, conditional } => {
                if let Some(Some(taken)) = conditional {
                    push(&mut code, U256::from(u8::from(*taken)));
                }
                code.push(op::PUSH2);
                fixups.push((code.len(), *label));
                code.extend_from_slice(&[0, 0]);
                code.push(if conditional.is_some() { op::JUMPI } else { op::JUMP });
            }
            Piece::Memory { op: o, offset, arg, source } => {
                match *o {
                    op::MSTORE | op::MSTORE8 => [*arg, *offset].into_iter().for_each(|w| push(&mut code, w)),
                    op::MLOAD => push(&mut code, *offset),
                    // (destination, source, length).
                    op::MCOPY | op::CALLDATACOPY | op::CODECOPY | op::RETURNDATACOPY => {
                        [*arg, *source, *offset].into_iter().for_each(|w| push(&mut code, w))
                    }
                    op::EXTCODECOPY => {
                        [*arg, *source, *offset, OTHER.to_word()].into_iter().for_each(|w| push(&mut code, w))
                    }
                    op::KECCAK256 => [*arg, *offset].into_iter().for_each(|w| push(&mut code, w)),
                    log => {
                        let topics = usize::from(log - op::LOG0);
                        (0..topics).for_each(|t| push(&mut code, U256::from(t)));
                        [*arg, *offset].into_iter().for_each(|w| push(&mut code, w));
                    }
                }
                code.push(*o);
            }
            Piece::Storage { op: o, slot, value } => {
                if matches!(*o, op::SSTORE | op::TSTORE) {
                    push(&mut code, *value);
                }
                push(&mut code, *slot);
                code.push(*o);
            }
            Piece::Account { op: o, address } => {
                push(&mut code, address.to_word());
                code.push(*o);
            }
            Piece::Call { kind, gas, to, value, args, ret } => {
                [ret.1, ret.0, args.1, args.0].into_iter().for_each(|w| push(&mut code, w));
                if matches!(kind, CallKind::Call | CallKind::CallCode) {
                    push(&mut code, *value);
                }
                push(&mut code, to.to_word());
                match gas {
                    Some(g) => push(&mut code, *g),
                    None => code.push(op::GAS),
                }
                code.push(match kind {
                    CallKind::Call => op::CALL,
                    CallKind::CallCode => op::CALLCODE,
                    CallKind::DelegateCall => op::DELEGATECALL,
                    CallKind::StaticCall => op::STATICCALL,
                });
            }
            Piece::Create { init, value, salt } => {
                // The init code, left-aligned in one word at memory 0.
                let mut word = [0u8; 32];
                word[..init.len()].copy_from_slice(init);
                push(&mut code, U256::from_be_bytes(word));
                push(&mut code, U256::ZERO);
                code.push(op::MSTORE);
                if let Some(salt) = salt {
                    push(&mut code, *salt);
                }
                [U256::from(init.len()), U256::ZERO, *value].into_iter().for_each(|w| push(&mut code, w));
                code.push(if salt.is_some() { op::CREATE2 } else { op::CREATE });
            }
            Piece::Exit { op: o, offset, length } => {
                [*length, *offset].into_iter().for_each(|w| push(&mut code, w));
                code.push(*o);
            }
            Piece::SelfDestruct(address) => {
                push(&mut code, address.to_word());
                code.push(op::SELFDESTRUCT);
            }
            Piece::Raw(bytes) => code.extend_from_slice(bytes),
        }
    }
    for (at, n) in fixups {
        let target = if labels.is_empty() { 0 } else { labels[n % labels.len()] };
        // Code longer than 64 KiB cannot come from the bounded piece counts; saturate rather than wrap.
        let target = u16::try_from(target).unwrap_or(u16::MAX);
        code[at..at + 2].copy_from_slice(&target.to_be_bytes());
    }
    code
}

/// A generated transaction and the programs it runs, kept for failure messages.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub case: Case,
    /// The program at [`CONTRACT`] (also the init code when the transaction creates).
    pub program: Vec<Piece>,
    /// The program at [`OTHER`].
    pub other: Vec<Piece>,
}

/// The world every generated program runs in, with `code` at [`CONTRACT`] and `other` at [`OTHER`]: a
/// Cancun block (base fee 7, so fees, tips and refunds show in balances), a sender with a large balance,
/// and [`FUNDED`] with a balance only. Storage slot 1 of both contracts is set, so that clearing it earns a
/// refund.
pub fn world(code: Vec<u8>, other: Vec<u8>) -> InMemoryHost {
    let mut host = InMemoryHost::new();
    host.block = BlockEnv {
        number: 1000,
        timestamp: 1_700_000_000,
        coinbase: COINBASE,
        gas_limit: 30_000_000,
        base_fee: U256::from(7),
        prev_randao: U256::from(0x5eed),
        chain_id: 1,
        blob_base_fee: U256::from(1),
    };
    host.account_mut(SENDER).balance = U256::from(10u128.pow(24));
    host.account_mut(FUNDED).balance = U256::from(1000);
    for (address, code) in [(CONTRACT, code), (OTHER, other)] {
        let account = host.account_mut(address);
        account.balance = U256::from(100);
        account.nonce = 1;
        account.code = code.into();
        account.storage.insert(U256::from(1), U256::from(0x1234));
    }
    host
}

/// A transaction from [`SENDER`] to `to` (a create if `None`) with `data`, worth `value`, with gas for
/// its intrinsic cost plus `extra` (saturating at the block's limit): a legacy transaction at gas price
/// 10 (3 above the base fee).
pub fn transaction(to: Option<Address>, data: Vec<u8>, value: U256, extra: u64) -> Transaction {
    let mut tx = Transaction {
        tx_type: TxType::Legacy,
        caller: SENDER,
        nonce: 0,
        gas_limit: 0,
        gas_price: U256::from(10),
        max_priority_fee_per_gas: U256::from(10),
        to,
        value,
        data,
        access_list: Vec::new(),
        blob_hashes: Vec::new(),
        max_fee_per_blob_gas: U256::ZERO,
    };
    tx.gas_limit = intrinsic_gas(&tx).saturating_add(extra).min(30_000_000);
    tx
}

/// Decodes a whole [`Scenario`] from `data`: the first byte `b` says that the first `1 - b/256` of the
/// rest is the program of the contract under test; the bytes after that are the transaction's settings
/// (kind, gas, value, call data, envelope) and then the second contract's program.
///
/// The program comes first so that even a short input (a fuzzer starts with a few bytes) is a program,
/// and every setting's default — what a zero byte, or the end of the data, chooses — is the benign one:
/// a call to the contract with ample gas and no value. Shrinking therefore ends at simple settings too.
pub fn scenario(data: &[u8]) -> Scenario {
    let (split, rest) = data.split_first().map_or((0, data), |(&b, rest)| (usize::from(b), rest));
    let (program_data, rest) = rest.split_at(rest.len() - rest.len() * split / 256);
    let program = pieces(&mut Entropy::new(program_data), usize::MAX);
    let mut e = Entropy::new(rest);
    let creates = e.below(8) == 7;
    let extra = match e.weighted(&[3, 3, 4, 4, 1]) {
        0 => 300_000,
        // Tight: out of gas within the first few operations.
        1 => u64::from(e.below(200)),
        2 => u64::from(e.below(5000)),
        3 => u64::from(e.below(60_000)),
        _ => 2_000_000,
    };
    let below_intrinsic = e.below(32) == 31;
    let value = [U256::ZERO, U256::ZERO, U256::from(1), U256::from(77)][e.below(4) as usize];
    let input_len = e.below(70) as usize;
    let input = e.bytes(input_len).to_vec();
    let access_list = e.below(4) == 3;
    let dynamic_fee = e.below(3) == 2;
    let other = pieces(&mut e, 40);
    let code = assemble(&program);
    let name = format!("generated from {} bytes", data.len());
    let (to, data) = if creates { (None, code.clone()) } else { (Some(CONTRACT), input) };
    let mut tx = transaction(to, data, value, extra);
    if access_list {
        // A legacy transaction has no access list: this one is EIP-2930 (or EIP-1559, below).
        tx.tx_type = TxType::AccessList;
        tx.access_list = vec![AccessListItem { address: OTHER, storage_keys: vec![U256::from(1), U256::from(2)] }];
        tx.gas_limit = intrinsic_gas(&tx).saturating_add(extra);
    }
    if dynamic_fee {
        tx.tx_type = TxType::DynamicFee;
        tx.max_priority_fee_per_gas = U256::from(2);
    }
    if below_intrinsic {
        tx.gas_limit = intrinsic_gas(&tx) - 1;
    }
    let pre = world(code, assemble(&other));
    Scenario { case: Case { name, pre, tx }, program, other }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_assemble_to_what_they_say() {
        let code = assemble(&[
            Piece::Label,
            Piece::Push(U256::from(0x1234)),
            Piece::Push(U256::ZERO),
            Piece::Storage { op: op::SSTORE, slot: U256::from(1), value: U256::from(2) },
            Piece::Jump { label: 0, conditional: Some(Some(true)) },
            Piece::Exit { op: op::RETURN, offset: U256::from(3), length: U256::from(4) },
        ]);
        assert_eq!(
            code,
            [
                op::JUMPDEST,
                op::PUSH2,
                0x12,
                0x34,
                op::PUSH0,
                op::PUSH1,
                2,
                op::PUSH1,
                1,
                op::SSTORE,
                op::PUSH1,
                1,
                op::PUSH2,
                0,
                0,
                op::JUMPI,
                op::PUSH1,
                4,
                op::PUSH1,
                3,
                op::RETURN
            ]
        );
    }

    #[test]
    fn a_create_piece_runs_its_init_code_from_memory() {
        let init = vec![op::INVALID, op::STOP];
        let code = assemble(&[Piece::Create { init, value: U256::from(1), salt: Some(U256::from(9)) }]);
        let mut word = [0u8; 32];
        word[..2].copy_from_slice(&[op::INVALID, op::STOP]);
        let mut expected = vec![op::PUSH32];
        expected.extend_from_slice(&word);
        // MSTORE at 0; then salt, length, offset, value (value on top).
        expected.extend_from_slice(&[op::PUSH0, op::MSTORE, op::PUSH1, 9, op::PUSH1, 2, op::PUSH0, op::PUSH1, 1]);
        expected.push(op::CREATE2);
        assert_eq!(code, expected);
    }

    #[test]
    fn decoding_is_deterministic_and_stops_at_the_end_of_the_data() {
        // Half program, half settings and second contract.
        let data: Vec<u8> = std::iter::once(128).chain((0..=255u8).cycle().take(600)).collect();
        let (a, b) = (scenario(&data), scenario(&data));
        assert_eq!(a.program, b.program);
        assert_eq!(a.case.tx, b.case.tx);
        assert!(!a.program.is_empty() && !a.other.is_empty());
        assert!(scenario(&[]).program.is_empty());
        // A short input is all program, with the default settings.
        let short = scenario(&[0, op::PUSH0, 1]);
        assert!(!short.program.is_empty());
        assert_eq!(short.case.tx.to, Some(CONTRACT));
        // Every byte is consumed once: no more pieces than bytes.
        let mut e = Entropy::new(&data[..10]);
        assert!(pieces(&mut e, 1000).len() <= 10);
    }
}
