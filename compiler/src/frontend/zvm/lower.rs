//! Lowers ZVM bytecode to IR.
//!
//! The bytecode is validated first (every byte decodes, no truncated PUSH, no chain-specific or
//! not-yet-supported opcode), then split into basic blocks: a block starts at offset 0, at every
//! `JUMPDEST` and after every `JUMPI`; code after an unconditional exit that is not a `JUMPDEST` can never
//! run and is dropped.
//!
//! The operand stack lives in the frame (`stack.*` operations), so that blocks entered with different stack
//! heights (dynamic jumps) stay correct. Within a block, stack items are SSA values ([`VStack`]): each block
//! checks its stack needs once (`stack.check`), reads the items it uses from below its entry height, and
//! writes back only the slots whose value changed, with one `stack.adjust`.
//!
//! Jumps to a constant target go straight to its block; other jumps go through one shared dispatch block
//! with a `switch` over every `JUMPDEST`, whose default traps `invalid_jump`.
//!
//! Gas: every operation is preceded by `gas.cost` with its base gas from the opcode table; dynamic costs
//! (memory expansion, per-word copy and hash costs, log bytes, EXP bytes) are explicit in the IR.

use super::asm::{decode, Instruction};
use super::container::{self, ContainerError};
use super::opcodes::{op, OpClass, OpInfo};
use std::collections::{BTreeMap, HashMap};
use thiserror::Error;
use zvm_ir::{
    BinOp, Block, BlockCall, ConvOp, DataSrc, EnvField, FunctionBuilder, HaltKind, HashAlg, HostFn, MemAccess, Module,
    Op, Signature, TernOp, TrapCode, Type, UnOp, Value, U256,
};

/// Gas per 32-byte word copied into memory (`*COPY`).
pub const COPY_WORD_GAS: u64 = 3;
/// Gas per word hashed, by algorithm.
pub const fn hash_word_gas(alg: HashAlg) -> u64 {
    match alg {
        HashAlg::Keccak256 | HashAlg::Blake2b256 => 6,
        HashAlg::Sha256 => 12,
        HashAlg::Ripemd160 => 120,
    }
}
/// Gas per byte of log data.
pub const LOG_BYTE_GAS: u64 = 8;
/// Gas per byte of an `EXP` exponent.
pub const EXP_BYTE_GAS: u64 = 50;
/// Largest code accepted by default (bytes): the original's `max_initcode_size` (EIP-3860's limit). It
/// also bounds compile cost: the worst case measured (48 KiB of dynamic jumps) compiles in about 2.5 s.
pub const DEFAULT_MAX_CODE_SIZE: usize = 49152;

/// Why bytecode was rejected at load.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LoadError {
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error("code is {size} bytes, more than the limit of {max}")]
    CodeTooLarge { size: usize, max: usize },
    #[error("unknown opcode {byte:#04x} at offset {offset}")]
    UnknownOpcode { byte: u8, offset: usize },
    #[error("chain-specific opcode {name} ({byte:#04x}) at offset {offset} is not supported by zvm")]
    ChainSpecific { name: &'static str, byte: u8, offset: usize },
    #[error(
        "opcode {name} ({byte:#04x}) at offset {offset} is not supported yet: \
         the CALL and CREATE families arrive with the shared call machinery"
    )]
    NotYetSupported { name: &'static str, byte: u8, offset: usize },
    #[error("truncated {name} at offset {offset}: {have} of {need} immediate bytes")]
    TruncatedPush { name: &'static str, offset: usize, have: usize, need: usize },
}

/// Bytecode ready to run: its IR and the code section (what `CODESIZE`/`CODECOPY` see).
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded<'a> {
    pub module: Module,
    pub code: &'a [u8],
}

/// Parses (container or raw code), validates and lowers ZVM bytecode. The IR is not yet gas-passed.
pub fn load(bytes: &[u8], max_code_size: usize) -> Result<Loaded<'_>, LoadError> {
    let code = container::parse(bytes)?.code;
    if code.len() > max_code_size {
        return Err(LoadError::CodeTooLarge { size: code.len(), max: max_code_size });
    }
    let instrs = validate(code)?;
    Ok(Loaded { module: Lowerer::lower(code, &instrs), code })
}

/// A validated instruction.
struct Instr {
    offset: usize,
    info: &'static OpInfo,
    imm: U256,
}

fn validate(code: &[u8]) -> Result<Vec<Instr>, LoadError> {
    decode(code)
        .map(|Instruction { offset, opcode, info, imm }| {
            let info = info.ok_or(LoadError::UnknownOpcode { byte: opcode, offset })?;
            let (name, byte) = (info.name, opcode);
            match info.class {
                OpClass::Supported => {}
                OpClass::ChainSpecific => return Err(LoadError::ChainSpecific { name, byte, offset }),
                OpClass::CallCreate => return Err(LoadError::NotYetSupported { name, byte, offset }),
            }
            let need = usize::from(info.imm_bytes);
            if imm.len() < need {
                return Err(LoadError::TruncatedPush { name, offset, have: imm.len(), need });
            }
            Ok(Instr { offset, info, imm: U256::try_from_be_slice(imm).unwrap_or(U256::ZERO) })
        })
        .collect()
}

/// True for operations after which control never falls through.
fn ends_flow(code: u8) -> bool {
    matches!(code, op::JUMP | op::RETURN | op::REVERT | op::HALT)
}

/// A stack item held as an SSA value; `origin` is its depth at block entry if it is an unmodified entry
/// item, so that writing it back to the same slot can be skipped.
#[derive(Clone, Copy)]
struct Item {
    value: Value,
    origin: Option<u32>,
}

/// The top of the operand stack within one block, as SSA values.
#[derive(Default)]
struct VStack {
    items: Vec<Item>,
    /// Entry items read so far (they are the bottom of `items`, or were popped).
    pulled: u32,
}

impl VStack {
    fn ensure(&mut self, b: &mut FunctionBuilder<'_>, n: usize) {
        while self.items.len() < n {
            let value = b.ins1(Op::StackGet { depth: self.pulled });
            self.items.insert(0, Item { value, origin: Some(self.pulled) });
            self.pulled += 1;
        }
    }

    fn pop(&mut self, b: &mut FunctionBuilder<'_>) -> Value {
        self.ensure(b, 1);
        self.items.pop().map(|i| i.value).expect("ensured one item")
    }

    fn push(&mut self, value: Value) {
        self.items.push(Item { value, origin: None });
    }

    fn dup(&mut self, b: &mut FunctionBuilder<'_>, n: usize) {
        self.ensure(b, n);
        let item = self.items[self.items.len() - n];
        self.items.push(item);
    }

    fn swap(&mut self, b: &mut FunctionBuilder<'_>, n: usize) {
        self.ensure(b, n + 1);
        let top = self.items.len() - 1;
        self.items.swap(top, top - n);
    }

    /// Writes the block's net effect back to the frame's stack.
    fn flush(&mut self, b: &mut FunctionBuilder<'_>) {
        let n = self.items.len();
        let delta = n as i64 - i64::from(self.pulled);
        if delta != 0 {
            b.ins(Op::StackAdjust { delta: delta as i32 });
        }
        for (i, item) in self.items.iter().enumerate() {
            let unchanged = item.origin.is_some_and(|o| i64::from(o) == i64::from(self.pulled) - 1 - i as i64);
            if !unchanged {
                b.ins(Op::StackSet { depth: (n - 1 - i) as u32, value: item.value });
            }
        }
        self.items.clear();
        self.pulled = 0;
    }
}

/// Stack needs of a run of instructions: items that must be present, and the most it grows.
fn stack_needs(instrs: &[Instr]) -> (u32, u32) {
    let (mut h, mut low, mut high) = (0i64, 0i64, 0i64);
    for i in instrs {
        low = low.min(h - i64::from(i.info.pops));
        h += i64::from(i.info.pushes) - i64::from(i.info.pops);
        high = high.max(h);
    }
    ((-low) as u32, high as u32)
}

struct Lowerer<'f> {
    b: FunctionBuilder<'f>,
    code_len: usize,
    jumpdests: BTreeMap<usize, Block>,
    consts: HashMap<Value, U256>,
    dispatch: Option<Block>,
    invalid_jump: Option<Block>,
}

impl<'f> Lowerer<'f> {
    fn lower(code: &[u8], instrs: &[Instr]) -> Module {
        let mut func = zvm_ir::Function::new("main", Signature::default());
        let mut l = Lowerer {
            b: FunctionBuilder::new(&mut func),
            code_len: code.len(),
            jumpdests: BTreeMap::new(),
            consts: HashMap::new(),
            dispatch: None,
            invalid_jump: None,
        };
        l.lower_body(instrs);
        drop(l);
        Module::single(func)
    }

    fn lower_body(&mut self, instrs: &[Instr]) {
        if instrs.is_empty() {
            self.halt_stop();
            return;
        }
        // Block boundaries: indexes into `instrs` where a block starts, and whether it is reachable.
        let mut starts: Vec<(usize, bool)> = vec![(0, true)];
        for (k, ins) in instrs.iter().enumerate() {
            let code = ins.info.code;
            if code == op::JUMPDEST && k != 0 && starts.last().is_none_or(|s| s.0 != k) {
                starts.push((k, true));
            }
            if (ends_flow(code) || code == op::JUMPI) && k + 1 < instrs.len() {
                let next_is_dest = instrs[k + 1].info.code == op::JUMPDEST;
                starts.push((k + 1, code == op::JUMPI || next_is_dest));
            }
        }
        starts.dedup_by_key(|s| s.0);
        let mut blocks: Vec<Block> = Vec::with_capacity(starts.len());
        for (n, &(k, _)) in starts.iter().enumerate() {
            let block = if n == 0 { zvm_ir::Function::ENTRY } else { self.b.create_block() };
            if instrs[k].info.code == op::JUMPDEST {
                self.jumpdests.insert(instrs[k].offset, block);
            }
            blocks.push(block);
        }
        for (n, &(k, reachable)) in starts.iter().enumerate() {
            let end = starts.get(n + 1).map_or(instrs.len(), |s| s.0);
            self.b.switch_to_block(blocks[n]);
            if !reachable {
                // Never entered: nothing branches here. Keep the IR well formed.
                self.b.trap(TrapCode::Unreachable);
                continue;
            }
            self.lower_block(&instrs[k..end], blocks.get(n + 1).copied());
        }
        if let Some(dispatch) = self.dispatch {
            self.b.switch_to_block(dispatch);
            let index = self.b.func().block(dispatch).params[0];
            let cases = self.jumpdests.iter().map(|(&pc, &blk)| (pc as u64, blk)).collect();
            let default = self.invalid_jump_block();
            self.b.ins(Op::Switch { index, cases, default });
        }
        if let Some(invalid) = self.invalid_jump {
            self.b.switch_to_block(invalid);
            self.b.trap(TrapCode::InvalidJump);
        }
    }

    fn invalid_jump_block(&mut self) -> Block {
        *self.invalid_jump.get_or_insert_with(|| self.b.create_block())
    }

    fn dispatch_block(&mut self) -> Block {
        if let Some(d) = self.dispatch {
            return d;
        }
        let d = self.b.create_block();
        self.b.block_param(d, Type::I64);
        self.dispatch = Some(d);
        d
    }

    fn halt_stop(&mut self) {
        let zero = self.b.iconst(Type::I64, 0);
        self.b.halt(HaltKind::Return, zero, zero);
    }

    fn lower_block(&mut self, instrs: &[Instr], next: Option<Block>) {
        let (min, growth) = stack_needs(instrs);
        if min > 0 || growth > 0 {
            self.b.ins(Op::StackCheck { min, growth });
        }
        let mut vs = VStack::default();
        for ins in instrs {
            if ins.info.base_gas > 0 {
                self.b.ins(Op::GasCost { amount: ins.info.base_gas });
            }
            self.lower_op(ins, &mut vs, next);
            if self.b.is_terminated() {
                return;
            }
        }
        // Fell off the block: into the next one, or off the end of the code (an implicit HALT).
        vs.flush(&mut self.b);
        match next {
            Some(next) => self.b.jump(next, vec![]),
            None => self.halt_stop(),
        }
    }

    fn wconst(&mut self, v: U256) -> Value {
        let value = self.b.wconst(v);
        self.consts.insert(value, v);
        value
    }

    fn i64(&mut self, w: Value) -> Value {
        self.b.ins1(Op::Convert { op: ConvOp::Trunc, to: Type::I64, arg: w })
    }

    fn word(&mut self, x: Value) -> Value {
        self.b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::W256, arg: x })
    }

    /// `mem.expand offset, len` and the two as `i64`s (exact whenever `len` is non-zero).
    fn expand(&mut self, offset: Value, len: Value) -> (Value, Value) {
        self.b.ins(Op::MemExpand { args: [offset, len] });
        (self.i64(offset), self.i64(len))
    }

    /// Charges `per_word` gas for every started 32-byte word of `len` bytes.
    fn charge_words(&mut self, len: Value, per_word: u64) {
        let c31 = self.b.iconst(Type::I64, 31);
        let c5 = self.b.iconst(Type::I64, 5);
        let rounded = self.b.binary(BinOp::Add, len, c31);
        let words = self.b.binary(BinOp::ShrU, rounded, c5);
        self.charge_times(words, per_word);
    }

    fn charge_times(&mut self, count: Value, per: u64) {
        let per = self.b.iconst(Type::I64, per as i64);
        let cost = self.b.binary(BinOp::Mul, count, per);
        self.b.ins(Op::GasCharge { arg: cost });
    }

    fn jump_target(&mut self, dest: Value) -> BlockCall {
        match self.consts.get(&dest).copied() {
            Some(pc) => match usize::try_from(pc).ok().and_then(|pc| self.jumpdests.get(&pc)) {
                Some(&block) => BlockCall::new(block),
                None => BlockCall::new(self.invalid_jump_block()),
            },
            None => {
                let index = self.b.ins1(Op::Convert { op: ConvOp::SatU64, to: Type::I64, arg: dest });
                BlockCall { block: self.dispatch_block(), args: vec![index] }
            }
        }
    }

    fn lower_op(&mut self, ins: &Instr, vs: &mut VStack, next: Option<Block>) {
        let code = ins.info.code;
        macro_rules! pop {
            () => {
                vs.pop(&mut self.b)
            };
        }
        macro_rules! binary {
            ($op:expr) => {{
                let a = pop!();
                let b = pop!();
                let r = self.b.binary($op, a, b);
                vs.push(r);
            }};
        }
        macro_rules! env {
            ($f:expr) => {{
                let r = self.b.host_call(HostFn::Env($f), vec![])[0];
                vs.push(r);
            }};
        }
        match code {
            op::HALT => self.halt_stop(),
            op::NOP | op::JUMPDEST => {}
            op::POP => {
                pop!();
            }
            op::PUSH1 | op::PUSH2 | op::PUSH4 | op::PUSH8 | op::PUSH16 | op::PUSH32 => {
                let v = self.wconst(ins.imm);
                vs.push(v);
            }
            op::DUP1..=op::DUP4 => vs.dup(&mut self.b, usize::from(code - op::DUP1 + 1)),
            op::SWAP1..=op::SWAP4 => vs.swap(&mut self.b, usize::from(code - op::SWAP1 + 1)),
            op::ADD => binary!(BinOp::Add),
            op::SUB => binary!(BinOp::Sub),
            op::MUL => binary!(BinOp::Mul),
            op::DIV => binary!(BinOp::DivU),
            op::SDIV => binary!(BinOp::DivS),
            op::MOD => binary!(BinOp::RemU),
            op::SMOD => binary!(BinOp::RemS),
            op::SIGNEXTEND => binary!(BinOp::SignExtend),
            op::LT => binary!(BinOp::LtU),
            op::GT => binary!(BinOp::GtU),
            op::SLT => binary!(BinOp::LtS),
            op::SGT => binary!(BinOp::GtS),
            op::EQ => binary!(BinOp::Eq),
            op::AND => binary!(BinOp::And),
            op::OR => binary!(BinOp::Or),
            op::XOR => binary!(BinOp::Xor),
            op::BYTE => binary!(BinOp::Byte),
            op::ADDMOD | op::MULMOD => {
                let (a, b, n) = (pop!(), pop!(), pop!());
                let top = if code == op::ADDMOD { TernOp::AddMod } else { TernOp::MulMod };
                let r = self.b.ins1(Op::Ternary { op: top, args: [a, b, n] });
                vs.push(r);
            }
            op::EXP => {
                let (base, exponent) = (pop!(), pop!());
                // 50 gas per byte of the exponent: ceil((256 - clz) / 8), 0 for a zero exponent.
                let lz = self.b.ins1(Op::Unary { op: UnOp::Clz, arg: exponent });
                let lz = self.i64(lz);
                let c263 = self.b.iconst(Type::I64, 256 + 7);
                let bits = self.b.binary(BinOp::Sub, c263, lz);
                let c3 = self.b.iconst(Type::I64, 3);
                let bytes = self.b.binary(BinOp::ShrU, bits, c3);
                self.charge_times(bytes, EXP_BYTE_GAS);
                let r = self.b.binary(BinOp::Exp, base, exponent);
                vs.push(r);
            }
            op::ISZERO | op::NOT => {
                let a = pop!();
                let u = if code == op::ISZERO { UnOp::Eqz } else { UnOp::Not };
                let r = self.b.ins1(Op::Unary { op: u, arg: a });
                vs.push(r);
            }
            op::SHL | op::SHR | op::SAR => {
                let (shift, value) = (pop!(), pop!());
                let bop = match code {
                    op::SHL => BinOp::Shl,
                    op::SHR => BinOp::ShrU,
                    _ => BinOp::ShrS,
                };
                let r = self.b.binary(bop, value, shift);
                vs.push(r);
            }
            op::TABLEHASH => {
                let (key, slot) = (pop!(), pop!());
                let r = self.b.host_call(HostFn::Keccak256Pair, vec![slot, key])[0];
                vs.push(r);
            }
            op::KECCAK256 | op::SHA256 | op::RIPEMD160 | op::BLAKE2B => {
                let alg = match code {
                    op::SHA256 => HashAlg::Sha256,
                    op::RIPEMD160 => HashAlg::Ripemd160,
                    op::BLAKE2B => HashAlg::Blake2b256,
                    _ => HashAlg::Keccak256,
                };
                let (offset, len) = (pop!(), pop!());
                let (offset, len) = self.expand(offset, len);
                self.charge_words(len, hash_word_gas(alg));
                let r = self.b.ins1(Op::Hash { alg, args: [offset, len] });
                vs.push(r);
            }
            op::MLOAD => {
                let offset = pop!();
                let c32 = self.wconst(U256::from(32));
                let (addr, _) = self.expand(offset, c32);
                let access = MemAccess { width: 32, signed: false, big_endian: true, offset: 0 };
                let r = self.b.ins1(Op::Load { ty: Type::W256, access, addr });
                vs.push(r);
            }
            op::MSTORE | op::MSTORE8 => {
                let (offset, value) = (pop!(), pop!());
                let width = if code == op::MSTORE { 32 } else { 1 };
                let w = self.wconst(U256::from(width));
                let (addr, _) = self.expand(offset, w);
                let access = MemAccess { width, signed: false, big_endian: true, offset: 0 };
                self.b.ins(Op::Store { access, addr, value });
            }
            op::MSIZE => {
                let size = self.b.ins1(Op::MemSize);
                let r = self.word(size);
                vs.push(r);
            }
            op::SLOAD | op::TLOAD | op::BALANCE | op::EXTCODESIZE | op::EXTCODEHASH | op::BLOCKHASH => {
                let f = match code {
                    op::SLOAD => HostFn::SLoad,
                    op::TLOAD => HostFn::TLoad,
                    op::BALANCE => HostFn::Balance,
                    op::EXTCODESIZE => HostFn::ExtCodeSize,
                    op::EXTCODEHASH => HostFn::ExtCodeHash,
                    _ => HostFn::BlockHash,
                };
                let a = pop!();
                let r = self.b.host_call(f, vec![a])[0];
                vs.push(r);
            }
            op::SSTORE | op::TSTORE => {
                let (key, value) = (pop!(), pop!());
                let f = if code == op::SSTORE { HostFn::SStore } else { HostFn::TStore };
                self.b.host_call(f, vec![key, value]);
            }
            op::JUMP => {
                let dest = pop!();
                let target = self.jump_target(dest);
                vs.flush(&mut self.b);
                self.b.ins(Op::Jump { dest: target });
            }
            op::JUMPI => {
                let (dest, cond) = (pop!(), pop!());
                let target = self.jump_target(dest);
                vs.flush(&mut self.b);
                let fallthrough = match next {
                    Some(n) => n,
                    None => {
                        // JUMPI as the last instruction: falling through ends the program.
                        let end = self.b.create_block();
                        let cur = self.b.current_block().expect("inside a block");
                        self.b.switch_to_block(end);
                        self.halt_stop();
                        self.b.switch_to_block(cur);
                        end
                    }
                };
                self.b.ins(Op::Brif { cond, then_dest: target, else_dest: BlockCall::new(fallthrough) });
            }
            op::PC => {
                let v = self.wconst(U256::from(ins.offset));
                vs.push(v);
            }
            op::RETURN | op::REVERT => {
                let (offset, len) = (pop!(), pop!());
                let (offset, len) = self.expand(offset, len);
                let kind = if code == op::RETURN { HaltKind::Return } else { HaltKind::Revert };
                self.b.halt(kind, offset, len);
            }
            op::ADDRESS => env!(EnvField::Address),
            op::ORIGIN => env!(EnvField::Origin),
            op::CALLER => env!(EnvField::Caller),
            op::CALLVALUE => env!(EnvField::CallValue),
            op::GASPRICE => env!(EnvField::GasPrice),
            op::COINBASE => env!(EnvField::Coinbase),
            op::TIMESTAMP => env!(EnvField::Timestamp),
            op::NUMBER => env!(EnvField::Number),
            op::DIFFICULTY | op::PREVRANDAO => env!(EnvField::PrevRandao),
            op::GASLIMIT => env!(EnvField::GasLimit),
            op::CHAINID => env!(EnvField::ChainId),
            op::SELFBALANCE => env!(EnvField::SelfBalance),
            op::BASEFEE => env!(EnvField::BaseFee),
            op::CALLDATALOAD => {
                let offset = pop!();
                let r = self.b.ins1(Op::DataLoad { src: DataSrc::Input, arg: offset });
                vs.push(r);
            }
            op::CALLDATASIZE | op::RETURNDATASIZE => {
                let src = if code == op::CALLDATASIZE { DataSrc::Input } else { DataSrc::ReturnData };
                let size = self.b.ins1(Op::DataSize { src });
                let r = self.word(size);
                vs.push(r);
            }
            op::CODESIZE => {
                let v = self.wconst(U256::from(self.code_len));
                vs.push(v);
            }
            op::CALLDATACOPY | op::CODECOPY | op::RETURNDATACOPY => {
                let src = match code {
                    op::CALLDATACOPY => DataSrc::Input,
                    op::CODECOPY => DataSrc::Code,
                    _ => DataSrc::ReturnData,
                };
                let (dst, offset, len) = (pop!(), pop!(), pop!());
                let (dst, len) = self.expand(dst, len);
                self.charge_words(len, COPY_WORD_GAS);
                self.b.ins(Op::DataCopy { src, args: [dst, offset, len] });
            }
            op::EXTCODECOPY => {
                let (address, dst, offset, len) = (pop!(), pop!(), pop!(), pop!());
                let (dst, len) = self.expand(dst, len);
                self.charge_words(len, COPY_WORD_GAS);
                self.b.host_call(HostFn::ExtCodeCopy, vec![address, dst, offset, len]);
            }
            op::LOG0..=op::LOG4 => {
                let n = code - op::LOG0;
                let (offset, len) = (pop!(), pop!());
                let mut args = Vec::with_capacity(2 + usize::from(n));
                let (offset, len) = self.expand(offset, len);
                self.charge_times(len, LOG_BYTE_GAS);
                args.extend([offset, len]);
                for _ in 0..n {
                    args.push(pop!());
                }
                self.b.host_call(HostFn::Log(n), args);
            }
            _ => unreachable!("validate() admits only supported opcodes, and every one is lowered here"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::zvm::asm::assemble;
    use crate::frontend::zvm::opcodes::OPCODES;

    fn lowered(code: &[u8]) -> Module {
        let module = load(code, DEFAULT_MAX_CODE_SIZE).expect("loads").module;
        zvm_ir::verify::verify_module(&module).unwrap_or_else(|e| panic!("{e}\n{}", zvm_ir::text::print(&module)));
        module
    }

    #[test]
    fn every_supported_opcode_lowers_to_verified_ir() {
        for info in OPCODES.iter().filter(|i| i.class == OpClass::Supported) {
            let mut code = Vec::new();
            for _ in 0..info.pops {
                code.extend([op::PUSH1, 1]);
            }
            code.push(info.code);
            code.extend(std::iter::repeat_n(0, usize::from(info.imm_bytes)));
            code.extend([op::JUMPDEST, op::HALT]);
            lowered(&code);
        }
    }

    #[test]
    fn empty_code_halts() {
        let m = lowered(&[]);
        assert!(matches!(m.functions[0].insts.last().map(|i| &i.op), Some(Op::Halt { kind: HaltKind::Return, .. })));
    }

    #[test]
    fn constant_jumps_are_direct_and_dynamic_jumps_use_one_dispatch() {
        let direct = lowered(&assemble("PUSH @a\nJUMP\na:\nJUMPDEST\nHALT").unwrap());
        let has_switch = |m: &Module| m.functions[0].insts.iter().any(|i| matches!(i.op, Op::Switch { .. }));
        assert!(!has_switch(&direct));
        let dynamic = lowered(&assemble("PUSH1 0\nCALLDATALOAD\nJUMP\nJUMPDEST\nPUSH1 0\nCALLDATALOAD\nJUMP").unwrap());
        let switches = dynamic.functions[0].insts.iter().filter(|i| matches!(i.op, Op::Switch { .. })).count();
        assert_eq!(switches, 1);
    }

    #[test]
    fn unchanged_stack_slots_are_not_written_back() {
        // DUP2 then POP leaves the stack as it was: no stack.set, no stack.adjust.
        let m = lowered(&assemble("JUMPDEST\nDUP2\nPOP\nHALT").unwrap());
        let writes = m.functions[0]
            .insts
            .iter()
            .filter(|i| matches!(i.op, Op::StackSet { .. } | Op::StackAdjust { .. }))
            .count();
        assert_eq!(writes, 0);
    }

    #[test]
    fn load_errors_name_the_opcode_and_offset() {
        assert_eq!(
            load(&[op::PUSH1, 1, 0xE5], DEFAULT_MAX_CODE_SIZE).unwrap_err().to_string(),
            "chain-specific opcode HTS_APPROVE (0xe5) at offset 2 is not supported by zvm"
        );
        assert_eq!(
            load(&[op::PUSH4, 1, 2], DEFAULT_MAX_CODE_SIZE).unwrap_err(),
            LoadError::TruncatedPush { name: "PUSH4", offset: 0, have: 2, need: 4 }
        );
    }
}
