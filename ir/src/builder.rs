//! A builder that appends instructions to a function at a current block, inferring result types.
//!
//! Frontends use it the way Cranelift frontends use `cranelift_frontend::FunctionBuilder`: create blocks,
//! switch to one, append instructions, end it with a terminator. Type errors are not checked here; the
//! verifier reports them with their location.

use crate::entities::{Block, FuncId, Inst, Value};
use crate::function::{Function, ModuleTypes, Signature};
use crate::instructions::{BinOp, BlockCall, HaltKind, HostFn, Op, TrapCode};
use crate::types::Type;
use ruint::aliases::U256;

/// Appends instructions to a [`Function`].
pub struct FunctionBuilder<'a> {
    func: &'a mut Function,
    current: Option<Block>,
    callee_results: &'a dyn Fn(FuncId) -> Option<Vec<Type>>,
    module: ModuleTypes<'a>,
}

fn no_callees(_: FuncId) -> Option<Vec<Type>> {
    None
}

impl<'a> FunctionBuilder<'a> {
    /// A builder for `func`, whose entry block is created (with the signature's parameters) if missing.
    pub fn new(func: &'a mut Function) -> Self {
        Self::with_callees(func, &no_callees)
    }

    /// A builder that can also emit `call`s, taking callee result types from `callee_results`.
    pub fn with_callees(func: &'a mut Function, callee_results: &'a dyn Fn(FuncId) -> Option<Vec<Type>>) -> Self {
        Self::with_module(func, callee_results, ModuleTypes::default())
    }

    /// A builder that can emit `call`s, `global.get`s and `call_indirect`s, taking callee result types from
    /// `callee_results` and global types and signatures from `module`.
    pub fn with_module(
        func: &'a mut Function,
        callee_results: &'a dyn Fn(FuncId) -> Option<Vec<Type>>,
        module: ModuleTypes<'a>,
    ) -> Self {
        if func.blocks.is_empty() {
            let entry = func.add_block();
            for ty in func.sig.params.clone() {
                func.add_block_param(entry, ty);
            }
        }
        Self { func, current: Some(Function::ENTRY), callee_results, module }
    }

    /// The function being built.
    pub fn func(&self) -> &Function {
        self.func
    }

    /// Creates a new, empty block (not made current).
    pub fn create_block(&mut self) -> Block {
        self.func.add_block()
    }

    /// Adds a parameter to `block`.
    pub fn block_param(&mut self, block: Block, ty: Type) -> Value {
        self.func.add_block_param(block, ty)
    }

    /// The entry block's parameters (the function's arguments).
    pub fn params(&self) -> &[Value] {
        &self.func.block(Function::ENTRY).params
    }

    /// Makes `block` the one instructions are appended to.
    pub fn switch_to_block(&mut self, block: Block) {
        self.current = Some(block);
    }

    /// The current block, or `None` after a terminator.
    pub fn current_block(&self) -> Option<Block> {
        self.current
    }

    /// True if the current block has been ended by a terminator (or there is none).
    pub fn is_terminated(&self) -> bool {
        self.current.is_none()
    }

    /// Appends `op` to the current block. After a terminator there is no current block until the next
    /// `switch_to_block`.
    ///
    /// # Panics
    /// If there is no current block: a frontend bug, never input-dependent.
    pub fn ins(&mut self, op: Op) -> Inst {
        let block = self.current.expect("no current block: switch_to_block first");
        let results = self.func.infer_result_types(&op, self.callee_results, self.module).unwrap_or_default();
        let terminator = op.is_terminator();
        let inst = self.func.create_inst(op, &results);
        self.func.blocks[block.index()].insts.push(inst);
        if terminator {
            self.current = None;
        }
        inst
    }

    /// Appends `op` and returns its single result.
    ///
    /// # Panics
    /// If `op` does not have exactly one result: a frontend bug.
    pub fn ins1(&mut self, op: Op) -> Value {
        let inst = self.ins(op);
        let results = &self.func.inst(inst).results;
        assert_eq!(results.len(), 1, "ins1 on an operation without exactly one result");
        results[0]
    }

    /// The results of an instruction.
    pub fn results(&self, inst: Inst) -> &[Value] {
        &self.func.inst(inst).results
    }

    /// A `w256` constant.
    pub fn wconst(&mut self, imm: U256) -> Value {
        self.ins1(Op::Wconst { imm })
    }

    /// An `i32` or `i64` constant.
    pub fn iconst(&mut self, ty: Type, imm: i64) -> Value {
        self.ins1(Op::Iconst { ty, imm })
    }

    /// A binary operation.
    pub fn binary(&mut self, op: BinOp, a: Value, b: Value) -> Value {
        self.ins1(Op::Binary { op, args: [a, b] })
    }

    /// A host call; returns its results.
    pub fn host_call(&mut self, func: HostFn, args: Vec<Value>) -> Vec<Value> {
        let inst = self.ins(Op::HostCall { func, args });
        self.results(inst).to_vec()
    }

    /// `jump block(args)`.
    pub fn jump(&mut self, block: Block, args: Vec<Value>) {
        self.ins(Op::Jump { dest: BlockCall { block, args } });
    }

    /// `brif cond, then, else` without block arguments.
    pub fn brif(&mut self, cond: Value, then_block: Block, else_block: Block) {
        self.ins(Op::Brif { cond, then_dest: BlockCall::new(then_block), else_dest: BlockCall::new(else_block) });
    }

    /// `trap code`.
    pub fn trap(&mut self, code: TrapCode) {
        self.ins(Op::Trap { code });
    }

    /// `halt kind offset, len`.
    pub fn halt(&mut self, kind: HaltKind, offset: Value, len: Value) {
        self.ins(Op::Halt { kind, args: [offset, len] });
    }
}

/// Builds a function of signature `sig` with a closure, returning it.
pub fn build_function(name: &str, sig: Signature, f: impl FnOnce(&mut FunctionBuilder<'_>)) -> Function {
    let mut func = Function::new(name, sig);
    let mut b = FunctionBuilder::new(&mut func);
    f(&mut b);
    func
}
