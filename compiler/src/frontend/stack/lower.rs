//! Lowers decoded stack-machine instructions (ZVM or EVM) to IR.
//!
//! The instructions are split into basic blocks: a block starts at the first instruction, at every
//! `JUMPDEST` and after every `JUMPI`; code after an instruction that ends the flow and that is not a
//! `JUMPDEST` can never run and is dropped.
//!
//! The operand stack lives in the frame (`stack.*` operations), so that blocks entered with different stack
//! heights (dynamic jumps) stay correct. Within a block, stack items are SSA values ([`VStack`]): each block
//! checks its stack needs once (`stack.check`), reads the items it uses from below its entry height, and
//! writes back only the slots whose value changed, with one `stack.adjust`.
//!
//! Across blocks, the top items a block reads from its entry stack (up to [`MAX_PASSED`]) are its block
//! parameters: a predecessor passes them as SSA values instead of storing them and the block loading them
//! back, so a loop keeps its working items in registers. The frame's stack length always counts them;
//! only their slots in the frame are stale while they travel as values. A predecessor that branches two
//! ways writes back every item except the top ones both successors take as parameters. A dynamic jump
//! writes everything back and enters a block with parameters through a small block that loads them
//! (`stack.get` never traps: when the stack is too short, what it reads is never used, because the block's
//! `stack.check` stops execution first).
//!
//! Jumps to a constant target go straight to its block; other jumps go through one shared dispatch block
//! with a `switch` over every `JUMPDEST`, whose default traps `invalid_jump`.
//!
//! A block whose entry height is the same on every way in (see [`entry_heights`]: every block of code
//! without dynamic jumps, and the blocks such code reaches only by constant jumps and falls) has its
//! `stack.check` decided here: a check that cannot fail is left out, so a loop that keeps its items in
//! registers tests nothing but its gas and its condition.
//!
//! Gas: every instruction is preceded by `gas.cost` with its static gas from its table; the dynamic costs
//! the bytecode can see (memory expansion, per-word copy and hash costs, log bytes, `EXP` bytes) are
//! explicit in the IR, and state-dependent costs are charged by the host functions.

use super::{OpInfo, Sem};
use std::collections::{BTreeMap, HashMap};
use zvm_ir::{
    BinOp, Block, BlockCall, ConvOp, FunctionBuilder, HaltKind, HashAlg, HostFn, MemAccess, Module, Op, Signature,
    TrapCode, Type, UnOp, Value, STACK_LIMIT, U256,
};

/// Gas per 32-byte word copied into memory (`*COPY`, `MCOPY`).
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
/// Most stack items a block takes as parameters (the rest of what it reads comes from the frame).
pub const MAX_PASSED: u32 = 4;

/// A decoded instruction: where it is, what it is, and its immediate (zero if it has none).
#[derive(Clone, Copy, Debug)]
pub struct Instr {
    pub offset: usize,
    pub info: &'static OpInfo,
    pub imm: U256,
}

/// Lowers `instrs`, decoded from `code`, to a module with one function. The IR is not yet gas-passed.
pub fn lower(code: &[u8], instrs: &[Instr]) -> Module {
    let mut func = zvm_ir::Function::new("main", Signature::default());
    let mut l = Lowerer {
        b: FunctionBuilder::new(&mut func),
        code_len: code.len(),
        jumpdests: BTreeMap::new(),
        passed: HashMap::new(),
        consts: HashMap::new(),
        dispatch: None,
        invalid_jump: None,
    };
    l.lower_body(instrs);
    drop(l);
    Module::single(func)
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
    /// The stack at the entry of a block whose parameters are the top entry items (bottom to top).
    fn entered_with(params: &[Value]) -> VStack {
        VStack {
            items: params.iter().map(|&value| Item { value, origin: None }).collect(),
            pulled: params.len() as u32,
        }
    }

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

    /// Writes the block's net effect back to the frame's stack, except the top `kept` items, which the
    /// successors take as parameters; returns the top `taken` items (bottom to top, `taken >= kept`) for
    /// them to pass.
    fn flush(&mut self, b: &mut FunctionBuilder<'_>, kept: usize, taken: usize) -> Vec<Value> {
        self.ensure(b, taken);
        let n = self.items.len();
        let delta = n as i64 - i64::from(self.pulled);
        if delta != 0 {
            b.ins(Op::StackAdjust { delta: delta as i32 });
        }
        for (i, item) in self.items.iter().enumerate().take(n - kept) {
            let unchanged = item.origin.is_some_and(|o| i64::from(o) == i64::from(self.pulled) - 1 - i as i64);
            if !unchanged {
                b.ins(Op::StackSet { depth: (n - 1 - i) as u32, value: item.value });
            }
        }
        let top = self.items[n - taken..].iter().map(|i| i.value).collect();
        self.items.clear();
        self.pulled = 0;
        top
    }
}

/// Stack needs of a run of instructions.
#[derive(Clone, Copy)]
struct StackNeeds {
    /// Items that must be present.
    min: u32,
    /// The most it grows.
    growth: u32,
    /// Its net change of the height.
    net: i64,
}

impl StackNeeds {
    fn of(instrs: &[Instr]) -> StackNeeds {
        let (mut h, mut low, mut high) = (0i64, 0i64, 0i64);
        for i in instrs {
            low = low.min(h - i64::from(i.info.pops));
            h += i64::from(i.info.pushes) - i64::from(i.info.pops);
            high = high.max(h);
        }
        StackNeeds { min: (-low) as u32, growth: high as u32, net: h }
    }

    /// Whether the run's `stack.check` passes on a stack of `height` items.
    fn fit(self, height: u32) -> bool {
        self.min <= height && height as usize + self.growth as usize <= STACK_LIMIT
    }
}

/// A basic block of the instructions: `instrs[start..end]`.
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    reachable: bool,
    needs: StackNeeds,
}

/// The stack height at the entry of each block where it is the same on every way in, `None` elsewhere.
///
/// A forward pass from the entry (height 0) over the edges the lowering makes: falls into the next block,
/// and jumps whose target is the constant pushed just before them. When the code has any other jump
/// (`dynamic`), every `JUMPDEST` may be entered through the dispatch with any height, so those blocks
/// (and what only they reach) are unknown. A block whose own stack check fails passes no height on: its
/// successors are not entered through it.
fn entry_heights(instrs: &[Instr], spans: &[Span], dynamic: bool) -> Vec<Option<u32>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Height {
        Unseen,
        Known(u32),
        Varies,
    }
    let block_at: HashMap<usize, usize> = spans
        .iter()
        .enumerate()
        .filter(|(_, s)| instrs[s.start].info.sem == Sem::JumpDest)
        .map(|(n, s)| (instrs[s.start].offset, n))
        .collect();
    let successors: Vec<Vec<usize>> = spans
        .iter()
        .enumerate()
        .map(|(n, span)| {
            let body = &instrs[span.start..span.end];
            let mut next = Vec::with_capacity(2);
            if let [.., push, jump] = body {
                if matches!(jump.info.sem, Sem::Jump | Sem::JumpI) && push.info.sem == Sem::Push {
                    next.extend(usize::try_from(push.imm).ok().and_then(|pc| block_at.get(&pc)).copied());
                }
            }
            if body.last().is_some_and(|i| !i.info.sem.ends_flow()) && n + 1 < spans.len() {
                next.push(n + 1);
            }
            next
        })
        .collect();

    let mut heights = vec![Height::Unseen; spans.len()];
    let mut work = Vec::new();
    for (n, span) in spans.iter().enumerate() {
        if dynamic && instrs[span.start].info.sem == Sem::JumpDest {
            heights[n] = Height::Varies;
            work.push(n);
        }
    }
    if let Some(h @ Height::Unseen) = heights.first_mut() {
        *h = Height::Known(0);
        work.push(0);
    }
    while let Some(n) = work.pop() {
        let out = match heights[n] {
            Height::Known(h) => {
                let span = spans[n];
                if !span.reachable || !span.needs.fit(h) {
                    continue;
                }
                Height::Known((i64::from(h) + span.needs.net) as u32)
            }
            other => other,
        };
        for &m in &successors[n] {
            let merged = match (heights[m], out) {
                (Height::Unseen, out) => out,
                (known, out) if known == out => continue,
                _ => Height::Varies,
            };
            if merged != heights[m] {
                heights[m] = merged;
                work.push(m);
            }
        }
    }
    heights.into_iter().map(|h| if let Height::Known(h) = h { Some(h) } else { None }).collect()
}

struct Lowerer<'f> {
    b: FunctionBuilder<'f>,
    code_len: usize,
    jumpdests: BTreeMap<usize, Block>,
    /// How many top stack items each block with parameters takes (see the module docs).
    passed: HashMap<Block, u32>,
    consts: HashMap<Value, U256>,
    dispatch: Option<Block>,
    invalid_jump: Option<Block>,
}

impl Lowerer<'_> {
    fn lower_body(&mut self, instrs: &[Instr]) {
        if instrs.is_empty() {
            self.halt_stop();
            return;
        }
        // Block boundaries: indexes into `instrs` where a block starts, and whether it is reachable.
        let mut starts: Vec<(usize, bool)> = vec![(0, true)];
        for (k, ins) in instrs.iter().enumerate() {
            let sem = ins.info.sem;
            if sem == Sem::JumpDest && k != 0 && starts.last().is_none_or(|s| s.0 != k) {
                starts.push((k, true));
            }
            if (sem.ends_flow() || sem == Sem::JumpI) && k + 1 < instrs.len() {
                let next_is_dest = instrs[k + 1].info.sem == Sem::JumpDest;
                starts.push((k + 1, sem == Sem::JumpI || next_is_dest));
            }
        }
        starts.dedup_by_key(|s| s.0);
        let spans: Vec<Span> = starts
            .iter()
            .enumerate()
            .map(|(n, &(start, reachable))| {
                let end = starts.get(n + 1).map_or(instrs.len(), |s| s.0);
                Span { start, end, reachable, needs: StackNeeds::of(&instrs[start..end]) }
            })
            .collect();
        // Jumps whose target is not the constant pushed just before them go through the dispatch; their
        // possible targets (every `JUMPDEST`) then take no parameters, since most of their entries would
        // come through it, having written the stack back (Solidity's internal calls and returns).
        let dynamic_jumps = instrs.iter().enumerate().any(|(k, ins)| {
            matches!(ins.info.sem, Sem::Jump | Sem::JumpI) && (k == 0 || instrs[k - 1].info.sem != Sem::Push)
        });
        let mut blocks: Vec<Block> = Vec::with_capacity(spans.len());
        for (n, span) in spans.iter().enumerate() {
            let block = if n == 0 { zvm_ir::Function::ENTRY } else { self.b.create_block() };
            let first = instrs[span.start];
            if first.info.sem == Sem::JumpDest {
                self.jumpdests.insert(first.offset, block);
            }
            // The entry block is the function's, whose parameters are none.
            let dynamic_target = dynamic_jumps && first.info.sem == Sem::JumpDest;
            let passed = if n == 0 || dynamic_target { 0 } else { span.needs.min.min(MAX_PASSED) };
            if passed > 0 {
                for _ in 0..passed {
                    self.b.block_param(block, Type::W256);
                }
                self.passed.insert(block, passed);
            }
            blocks.push(block);
        }
        let heights = entry_heights(instrs, &spans, dynamic_jumps);
        for (n, span) in spans.iter().enumerate() {
            self.b.switch_to_block(blocks[n]);
            if !span.reachable {
                // Never entered: nothing branches here. Keep the IR well formed.
                self.b.trap(TrapCode::Unreachable);
                continue;
            }
            let StackNeeds { min, growth, .. } = span.needs;
            let decided = heights[n].is_some_and(|h| span.needs.fit(h));
            let check = ((min > 0 || growth > 0) && !decided).then_some((min, growth));
            self.lower_block(&instrs[span.start..span.end], check, blocks.get(n + 1).copied());
        }
        if let Some(dispatch) = self.dispatch {
            self.b.switch_to_block(dispatch);
            let index = self.b.func().block(dispatch).params[0];
            let targets: Vec<(usize, Block)> = self.jumpdests.iter().map(|(&pc, &blk)| (pc, blk)).collect();
            let mut cases = Vec::with_capacity(targets.len());
            for (pc, blk) in targets {
                cases.push((pc as u64, self.entry_from_frame(blk)));
            }
            self.b.switch_to_block(dispatch);
            let default = self.invalid_jump_block();
            self.b.ins(Op::Switch { index, cases, default });
        }
        if let Some(invalid) = self.invalid_jump {
            self.b.switch_to_block(invalid);
            self.b.trap(TrapCode::InvalidJump);
        }
    }

    /// `block` itself if it takes no parameters, else a new block that loads them from the frame and
    /// jumps to it (for the dynamic dispatch, which comes with everything written back).
    fn entry_from_frame(&mut self, block: Block) -> Block {
        let Some(&k) = self.passed.get(&block) else { return block };
        let load = self.b.create_block();
        self.b.switch_to_block(load);
        let args = (0..k).rev().map(|depth| self.b.ins1(Op::StackGet { depth })).collect();
        self.b.jump(block, args);
        load
    }

    /// How many top stack items a branch to `block` passes.
    fn passed_to(&self, block: Block) -> usize {
        self.passed.get(&block).map_or(0, |&k| k as usize)
    }

    /// Ends the block with a branch to `dest` (`then_dest`), or two-way with `cond`: writes the stack back
    /// except what the successors take as parameters, and passes those.
    fn branch(&mut self, vs: &mut VStack, mut dest: BlockCall, cond: Option<(Value, Block)>) {
        let (a, c) = (self.passed_to(dest.block), cond.map_or(0, |(_, e)| self.passed_to(e)));
        let kept = if cond.is_some() { a.min(c) } else { a };
        let top = vs.flush(&mut self.b, kept, a.max(c));
        dest.args.extend_from_slice(&top[top.len() - a..]);
        match cond {
            None => {
                self.b.ins(Op::Jump { dest });
            }
            Some((cond, else_block)) => {
                let else_dest = BlockCall { block: else_block, args: top[top.len() - c..].to_vec() };
                self.b.ins(Op::Brif { cond, then_dest: dest, else_dest });
            }
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

    /// Lowers one block, starting with `stack.check min, growth` if `check` is that pair.
    fn lower_block(&mut self, instrs: &[Instr], check: Option<(u32, u32)>, next: Option<Block>) {
        if let Some((min, growth)) = check {
            self.b.ins(Op::StackCheck { min, growth });
        }
        let current = self.b.current_block().expect("inside a block");
        let mut vs = VStack::entered_with(&self.b.func().block(current).params.clone());
        for ins in instrs {
            if ins.info.base_gas > 0 {
                self.b.ins(Op::GasCost { amount: ins.info.base_gas });
            }
            self.lower_op(ins, &mut vs, next);
            if self.b.is_terminated() {
                return;
            }
        }
        // Fell off the block: into the next one, or off the end of the code (an implicit STOP).
        match next {
            Some(next) => self.branch(&mut vs, BlockCall::new(next), None),
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
        macro_rules! pop {
            () => {
                vs.pop(&mut self.b)
            };
        }
        match ins.info.sem {
            Sem::Stop => self.halt_stop(),
            Sem::Nop | Sem::JumpDest => {}
            Sem::Invalid | Sem::ChainSpecific => self.b.trap(TrapCode::Unreachable),
            Sem::Pop => {
                pop!();
            }
            Sem::Push => {
                let v = self.wconst(ins.imm);
                vs.push(v);
            }
            Sem::Dup(n) => vs.dup(&mut self.b, usize::from(n)),
            Sem::Swap(n) => vs.swap(&mut self.b, usize::from(n)),
            Sem::Binary(op) => {
                let (a, b) = (pop!(), pop!());
                let r = self.b.binary(op, a, b);
                vs.push(r);
            }
            Sem::Shift(op) => {
                let (shift, value) = (pop!(), pop!());
                let r = self.b.binary(op, value, shift);
                vs.push(r);
            }
            Sem::Ternary(op) => {
                let (a, b, n) = (pop!(), pop!(), pop!());
                let r = self.b.ins1(Op::Ternary { op, args: [a, b, n] });
                vs.push(r);
            }
            Sem::Exp => {
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
            Sem::Unary(op) => {
                let a = pop!();
                let r = self.b.ins1(Op::Unary { op, arg: a });
                vs.push(r);
            }
            Sem::TableHash => {
                let (key, slot) = (pop!(), pop!());
                let r = self.b.host_call(HostFn::Keccak256Pair, vec![slot, key])[0];
                vs.push(r);
            }
            Sem::Hash(alg) => {
                let (offset, len) = (pop!(), pop!());
                let (offset, len) = self.expand(offset, len);
                self.charge_words(len, hash_word_gas(alg));
                let r = self.b.ins1(Op::Hash { alg, args: [offset, len] });
                vs.push(r);
            }
            Sem::MLoad => {
                let offset = pop!();
                let c32 = self.wconst(U256::from(32));
                let (addr, _) = self.expand(offset, c32);
                let access = MemAccess { width: 32, signed: false, big_endian: true, offset: 0 };
                let r = self.b.ins1(Op::Load { ty: Type::W256, access, addr });
                vs.push(r);
            }
            Sem::MStore | Sem::MStore8 => {
                let (offset, value) = (pop!(), pop!());
                let width = if ins.info.sem == Sem::MStore { 32 } else { 1 };
                let w = self.wconst(U256::from(width));
                let (addr, _) = self.expand(offset, w);
                let access = MemAccess { width, signed: false, big_endian: true, offset: 0 };
                self.b.ins(Op::Store { access, addr, value });
            }
            Sem::MSize => {
                let size = self.b.ins1(Op::MemSize);
                let r = self.word(size);
                vs.push(r);
            }
            Sem::MCopy => {
                let (dst, src, len) = (pop!(), pop!(), pop!());
                // Expanding for both ranges in turn charges for the larger end, as one expansion would.
                let (dst, _) = self.expand(dst, len);
                let (src, len) = self.expand(src, len);
                self.charge_words(len, COPY_WORD_GAS);
                self.b.ins(Op::MemCopy { args: [dst, src, len] });
            }
            Sem::Read(f) => {
                let a = pop!();
                let r = self.b.host_call(f, vec![a])[0];
                vs.push(r);
            }
            Sem::Write(f) => {
                let (key, value) = (pop!(), pop!());
                self.b.host_call(f, vec![key, value]);
            }
            Sem::Jump => {
                let dest = pop!();
                let target = self.jump_target(dest);
                self.branch(vs, target, None);
            }
            Sem::JumpI => {
                let (dest, cond) = (pop!(), pop!());
                let target = self.jump_target(dest);
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
                self.branch(vs, target, Some((cond, fallthrough)));
            }
            Sem::Pc => {
                let v = self.wconst(U256::from(ins.offset));
                vs.push(v);
            }
            Sem::Gas => {
                let left = self.b.ins1(Op::GasLeft);
                let r = self.word(left);
                vs.push(r);
            }
            Sem::Halt(kind) => {
                let (offset, len) = (pop!(), pop!());
                let (offset, len) = self.expand(offset, len);
                self.b.halt(kind, offset, len);
            }
            Sem::Env(field) => {
                let r = self.b.host_call(HostFn::Env(field), vec![])[0];
                vs.push(r);
            }
            Sem::DataLoad(src) => {
                let offset = pop!();
                let r = self.b.ins1(Op::DataLoad { src, arg: offset });
                vs.push(r);
            }
            Sem::DataSize(src) => {
                let size = self.b.ins1(Op::DataSize { src });
                let r = self.word(size);
                vs.push(r);
            }
            Sem::CodeSize => {
                let v = self.wconst(U256::from(self.code_len));
                vs.push(v);
            }
            Sem::DataCopy(src) => {
                let (dst, offset, len) = (pop!(), pop!(), pop!());
                let (dst, len) = self.expand(dst, len);
                self.charge_words(len, COPY_WORD_GAS);
                self.b.ins(Op::DataCopy { src, args: [dst, offset, len] });
            }
            Sem::ExtCodeCopy => {
                let (address, dst, offset, len) = (pop!(), pop!(), pop!(), pop!());
                let (dst, len) = self.expand(dst, len);
                self.charge_words(len, COPY_WORD_GAS);
                self.b.host_call(HostFn::ExtCodeCopy, vec![address, dst, offset, len]);
            }
            Sem::Log(n) => {
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
            Sem::Call(f) => {
                let (gas, address) = (pop!(), pop!());
                let value = matches!(f, HostFn::Call | HostFn::CallCode).then(|| pop!());
                let (in_off, in_len, out_off, out_len) = (pop!(), pop!(), pop!(), pop!());
                let (in_off, in_len) = self.expand(in_off, in_len);
                let (out_off, out_len) = self.expand(out_off, out_len);
                let mut args = vec![gas, address];
                args.extend(value);
                args.extend([in_off, in_len, out_off, out_len]);
                let r = self.b.host_call(f, args)[0];
                vs.push(r);
            }
            Sem::Create(f) => {
                let (value, offset, len) = (pop!(), pop!(), pop!());
                let salt = (f == HostFn::Create2).then(|| pop!());
                let (offset, len) = self.expand(offset, len);
                let mut args = vec![value, offset, len];
                args.extend(salt);
                let r = self.b.host_call(f, args)[0];
                vs.push(r);
            }
            Sem::SelfDestruct => {
                let beneficiary = pop!();
                self.b.host_call(HostFn::SelfDestruct, vec![beneficiary]);
                self.halt_stop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::frontend::evm;
    use zvm_ir::Op;

    /// The `stack.check`s of EVM code `hex`, as `(min, growth)`, in block order.
    fn checks(hex: &str) -> Vec<(u32, u32)> {
        let code = hex::decode(hex).expect("test code is hex");
        let module = evm::load(&code, code.len()).expect("test code loads");
        let func = &module.functions[0];
        func.blocks
            .iter()
            .flat_map(|b| &b.insts)
            .filter_map(|&i| match func.inst(i).op {
                Op::StackCheck { min, growth } => Some((min, growth)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn code_with_only_constant_jumps_checks_nothing_that_cannot_fail() {
        // n! by a loop: every block's height is known and enough.
        assert_eq!(checks("5f355f60015b8215601b57906001018091029160019003916005565b9150505f5260205ff3"), []);
        // PUSH1 1 ADD STOP: the entry's height (0) is known too short for ADD; the check stays and traps.
        assert_eq!(checks("60010100"), [(1, 1)]);
    }

    #[test]
    fn heights_that_differ_or_come_through_the_dispatch_keep_the_check() {
        // JUMPDEST PUSH1 1 PUSH1 0 JUMP: each lap leaves one more item, so the loop's height varies and
        // its check (against overflow) stays.
        assert_eq!(checks("5b6001600056"), [(0, 2)]);
        // PUSH1 0 CALLDATALOAD PUSH1 11 JUMPI (height 0 at 11) | PUSH1 7 PUSH1 11 JUMP (height 1 at 11) |
        // 11: JUMPDEST PUSH1 1 POP STOP: entered with two heights, so only its check stays.
        assert_eq!(checks("600035600b576007600b565b60015000"), [(0, 1)]);
        // PUSH1 5 DUP1 JUMP | STOP | 5: JUMPDEST POP STOP: the jump goes through the dispatch, which may
        // enter any JUMPDEST with any height; the entry's height (0) is still known.
        assert_eq!(checks("60058056005b5000"), [(1, 0)]);
    }
}
