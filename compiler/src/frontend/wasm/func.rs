//! Translation of one validated function body to IR.
//!
//! The operand stack of the WebAssembly code becomes SSA values at translation time; only the control stack
//! is kept. Locals are SSA values too: a local that the body ever writes (`local.set`/`local.tee`) is passed
//! as a block parameter to every join point (block and `if` ends, loop headers), after the label's own
//! values; locals that are never written keep their initial value (the parameter, or zero) everywhere and
//! cost nothing. Branches jump to the label's IR block with the label's values and the current locals;
//! `br_table` goes through one small forwarding block per distinct target, because a `switch` passes no
//! arguments. Code after an unconditional branch is skipped until the end of its frame (the validator has
//! already checked it).

use super::{const_value, ir_signature, ir_type, GasTable, GlobalRef, WasmError};
use wasmparser::{BlockType, FuncType, FunctionBody, MemArg, Operator};
use zvm_ir::{
    BinOp, Block, BlockCall, ConvOp, FBinOp, FUnOp, FuncId, Function, FunctionBuilder, MemAccess, ModuleTypes, Op,
    Signature, TrapCode, Type, UnOp, Value,
};

/// Most block parameters and branch arguments the threaded locals of one function may need.
const MAX_THREADED_VALUES: u64 = 1 << 23;

/// What a function body can refer to.
pub(super) struct ModuleCtx<'a> {
    pub types: &'a [FuncType],
    pub sigs: &'a [Signature],
    pub globals: &'a [GlobalRef],
    pub global_types: &'a [Type],
    /// The IR module's (interned) signatures, and the IR type of each WebAssembly type index.
    pub ir_types: &'a [Signature],
    pub type_map: &'a [u32],
    pub gas: Option<GasTable>,
    pub max_locals: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Block,
    Loop,
    /// An `if` whose `else` has not been seen; `else_block` starts the else branch.
    If {
        else_block: Block,
    },
    Else,
}

/// One entry of the control stack.
struct Control {
    kind: Kind,
    /// Where `br` to this label goes: the end block, or the header of a loop.
    label: Block,
    /// The block after `end`: its parameters are the results, then the threaded locals.
    end: Block,
    params: Vec<Type>,
    results: Vec<Type>,
    /// Operand stack height below the frame's parameters.
    height: usize,
    /// Something branches to (or falls through to) `end`.
    end_reached: bool,
    /// For an `if`: the parameter values and locals at its start, for the else branch.
    if_entry: Option<(Vec<Value>, Vec<Value>)>,
}

/// Reusable translation state.
pub(super) struct FuncTranslator {
    stack: Vec<Value>,
    control: Vec<Control>,
    locals: Vec<Value>,
    local_types: Vec<Type>,
    /// Indices of the locals threaded through join points.
    threaded: Vec<u32>,
    /// Depth of nested frames opened inside skipped (unreachable) code.
    skipped: usize,
    unreachable: bool,
}

fn unsupported<T>(what: impl Into<String>) -> Result<T, WasmError> {
    Err(WasmError::Unsupported(what.into()))
}

fn invalid(e: wasmparser::BinaryReaderError) -> WasmError {
    WasmError::Invalid(e.to_string())
}

impl FuncTranslator {
    pub(super) fn new() -> Self {
        Self {
            stack: Vec::new(),
            control: Vec::new(),
            locals: Vec::new(),
            local_types: Vec::new(),
            threaded: Vec::new(),
            skipped: 0,
            unreachable: false,
        }
    }

    /// Translates `body` into `func` (whose signature is already set).
    pub(super) fn translate(
        &mut self,
        ctx: &ModuleCtx<'_>,
        func: &mut Function,
        body: &FunctionBody<'_>,
    ) -> Result<(), WasmError> {
        self.stack.clear();
        self.control.clear();
        self.locals.clear();
        self.local_types.clear();
        self.threaded.clear();
        self.skipped = 0;
        self.unreachable = false;

        let results_of = |f: FuncId| ctx.sigs.get(f.index()).map(|s| s.results.clone());
        let sig = func.sig.clone();
        let module = ModuleTypes { globals: ctx.global_types, types: ctx.ir_types };
        let mut b = FunctionBuilder::with_module(func, &results_of, module);
        self.locals.extend_from_slice(b.params());
        self.local_types.extend_from_slice(&sig.params);
        for local in body.get_locals_reader().map_err(invalid)? {
            let (count, ty) = local.map_err(invalid)?;
            let ty = ir_type(ty)?;
            if self.locals.len() + count as usize > ctx.max_locals {
                return Err(WasmError::Limit(format!("more than {} locals in one function", ctx.max_locals)));
            }
            for _ in 0..count {
                let zero = const_value(&mut b, ty, 0); // also the null reference
                self.locals.push(zero);
                self.local_types.push(ty);
            }
        }
        // Which locals are ever written, and how many places pass them to a join point.
        let mut written = vec![false; self.locals.len()];
        let mut joins: u64 = 1;
        for op in body.get_operators_reader().map_err(invalid)? {
            match op.map_err(invalid)? {
                Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                    written[local_index as usize] = true;
                }
                Operator::Block { .. }
                | Operator::Loop { .. }
                | Operator::If { .. }
                | Operator::Else
                | Operator::End
                | Operator::Br { .. }
                | Operator::BrIf { .. } => joins += 2,
                Operator::BrTable { targets } => joins += 2 + u64::from(targets.len()),
                _ => {}
            }
        }
        self.threaded = (0..self.locals.len() as u32).filter(|&i| written[i as usize]).collect();
        // Each join block takes, and each branch passes, every threaded local: bound the product so a
        // hostile function cannot make the IR quadratic in its size.
        if (self.threaded.len() as u64).saturating_mul(joins) > MAX_THREADED_VALUES {
            return Err(WasmError::Limit(format!(
                "a function writes {} locals across {joins} branches and joins (more than {MAX_THREADED_VALUES} \
                 block arguments)",
                self.threaded.len()
            )));
        }

        // The function's own frame: its end block returns.
        let end = self.join_block(&mut b, &sig.results);
        self.control.push(Control {
            kind: Kind::Block,
            label: end,
            end,
            params: vec![],
            results: sig.results.clone(),
            height: 0,
            end_reached: false,
            if_entry: None,
        });
        let mut reader = body.get_operators_reader().map_err(invalid)?;
        while !reader.eof() {
            let op = reader.read().map_err(invalid)?;
            self.operator(ctx, &mut b, op)?;
        }
        Ok(())
    }

    fn pop(&mut self) -> Value {
        self.stack.pop().expect("validated code never pops an empty stack")
    }

    fn pop_n(&mut self, n: usize) -> Vec<Value> {
        let at = self.stack.len() - n;
        self.stack.split_off(at)
    }

    fn threaded_locals(&self) -> Vec<Value> {
        self.threaded.iter().map(|&i| self.locals[i as usize]).collect()
    }

    /// Creates a join block taking `types` and the threaded locals.
    fn join_block(&self, b: &mut FunctionBuilder<'_>, types: &[Type]) -> Block {
        let block = b.create_block();
        for &t in types {
            b.block_param(block, t);
        }
        for &i in &self.threaded {
            b.block_param(block, self.local_types[i as usize]);
        }
        block
    }

    /// Makes `block` current, taking its first `n` parameters as values and the rest as the threaded locals.
    fn enter_join(&mut self, b: &mut FunctionBuilder<'_>, block: Block, n: usize) -> Vec<Value> {
        b.switch_to_block(block);
        let params = b.func().block(block).params.clone();
        for (k, &i) in self.threaded.iter().enumerate() {
            self.locals[i as usize] = params[n + k];
        }
        params[..n].to_vec()
    }

    /// The arguments of a branch to a label that takes `values`.
    fn branch_args(&self, values: Vec<Value>) -> Vec<Value> {
        let mut args = values;
        args.extend(self.threaded_locals());
        args
    }

    /// The label at relative depth `depth`: its block and arity; marks an end label as reached.
    fn label(&mut self, depth: u32) -> (Block, usize) {
        let i = self.control.len() - 1 - depth as usize;
        let c = &mut self.control[i];
        if c.kind == Kind::Loop {
            (c.label, c.params.len())
        } else {
            c.end_reached = true;
            (c.label, c.results.len())
        }
    }

    fn block_type(&self, ctx: &ModuleCtx<'_>, bt: BlockType) -> Result<(Vec<Type>, Vec<Type>), WasmError> {
        Ok(match bt {
            BlockType::Empty => (vec![], vec![]),
            BlockType::Type(t) => (vec![], vec![ir_type(t)?]),
            BlockType::FuncType(i) => {
                let sig = ir_signature(&ctx.types[i as usize])?;
                (sig.params, sig.results)
            }
        })
    }

    fn charge(&self, ctx: &ModuleCtx<'_>, b: &mut FunctionBuilder<'_>) {
        if let Some(gas) = ctx.gas {
            if gas.op > 0 {
                b.ins(Op::GasCost { amount: gas.op });
            }
        }
    }

    /// `gas.charge count * unit` for a 32-bit count (`i32` value).
    fn charge_per_unit(
        &self,
        ctx: &ModuleCtx<'_>,
        b: &mut FunctionBuilder<'_>,
        count: Value,
        unit: fn(&GasTable) -> u64,
    ) {
        if let Some(gas) = ctx.gas {
            let unit = unit(&gas);
            if unit > 0 {
                let wide = zext64(b, count);
                let u = b.iconst(Type::I64, unit as i64);
                let amount = b.binary(BinOp::Mul, wide, u);
                b.ins(Op::GasCharge { arg: amount });
            }
        }
    }

    /// Marks the rest of the current frame unreachable.
    fn set_unreachable(&mut self) {
        self.unreachable = true;
        let height = self.control.last().map_or(0, |c| c.height);
        self.stack.truncate(height);
    }

    fn operator(
        &mut self,
        ctx: &ModuleCtx<'_>,
        b: &mut FunctionBuilder<'_>,
        op: Operator<'_>,
    ) -> Result<(), WasmError> {
        if self.unreachable {
            match op {
                Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                    self.skipped += 1;
                    return Ok(());
                }
                Operator::Else if self.skipped == 0 => {}
                Operator::End if self.skipped == 0 => {}
                Operator::End => {
                    self.skipped -= 1;
                    return Ok(());
                }
                _ => return Ok(()),
            }
        }
        use Operator as O;
        match op {
            // ---- control ---------------------------------------------------------------------------------
            O::Nop => self.charge(ctx, b),
            O::Unreachable => {
                self.charge(ctx, b);
                b.trap(TrapCode::Unreachable);
                self.set_unreachable();
            }
            O::Block { blockty } => {
                let (params, results) = self.block_type(ctx, blockty)?;
                let end = self.join_block(b, &results);
                let height = self.stack.len() - params.len();
                self.control.push(Control {
                    kind: Kind::Block,
                    label: end,
                    end,
                    params,
                    results,
                    height,
                    end_reached: false,
                    if_entry: None,
                });
            }
            O::Loop { blockty } => {
                let (params, results) = self.block_type(ctx, blockty)?;
                let header = self.join_block(b, &params);
                let end = self.join_block(b, &results);
                let values = self.pop_n(params.len());
                let args = self.branch_args(values);
                b.jump(header, args);
                let values = self.enter_join(b, header, params.len());
                let height = self.stack.len();
                self.stack.extend(values);
                self.control.push(Control {
                    kind: Kind::Loop,
                    label: header,
                    end,
                    params,
                    results,
                    height,
                    end_reached: false,
                    if_entry: None,
                });
            }
            O::If { blockty } => {
                self.charge(ctx, b);
                let (params, results) = self.block_type(ctx, blockty)?;
                let cond = self.pop();
                let then_block = b.create_block();
                let else_block = b.create_block();
                let end = self.join_block(b, &results);
                b.brif(cond, then_block, else_block);
                b.switch_to_block(then_block);
                let height = self.stack.len() - params.len();
                let entry_values = self.stack[height..].to_vec();
                self.control.push(Control {
                    kind: Kind::If { else_block },
                    label: end,
                    end,
                    params,
                    results,
                    height,
                    end_reached: false,
                    if_entry: Some((entry_values, self.locals.clone())),
                });
            }
            O::Else => {
                let c = self.control.last_mut().expect("validated: else inside if");
                let Kind::If { else_block } = c.kind else { unreachable!("validated: else after if") };
                c.kind = Kind::Else;
                let (values, locals) = c.if_entry.take().expect("if entry state");
                let (end, nresults, height) = (c.end, c.results.len(), c.height);
                if !self.unreachable {
                    c.end_reached = true;
                    let out = self.pop_n(nresults);
                    let args = self.branch_args(out);
                    b.jump(end, args);
                }
                self.unreachable = false;
                self.stack.truncate(height);
                self.locals = locals;
                b.switch_to_block(else_block);
                self.stack.extend(values);
            }
            O::End => {
                let c = self.control.last().expect("validated: end closes a frame");
                let (end, nresults, height) = (c.end, c.results.len(), c.height);
                if !self.unreachable {
                    let out = self.pop_n(nresults);
                    let args = self.branch_args(out);
                    b.jump(end, args);
                    self.control.last_mut().expect("frame").end_reached = true;
                }
                let mut c = self.control.pop().expect("frame");
                // An `if` without `else`: the else branch passes its parameters through.
                if let (Kind::If { else_block }, Some((values, locals))) = (c.kind, c.if_entry.take()) {
                    self.locals = locals;
                    b.switch_to_block(else_block);
                    let args = self.branch_args(values);
                    b.jump(end, args);
                    c.end_reached = true;
                }
                self.stack.truncate(height);
                self.unreachable = false;
                let values = self.enter_join(b, end, nresults);
                if self.control.is_empty() {
                    // The function's end: return its results (the block exists even if nothing reaches it).
                    b.ins(Op::Return { args: values });
                } else if c.end_reached {
                    self.stack.extend(values);
                } else {
                    b.trap(TrapCode::Unreachable);
                    self.set_unreachable();
                }
            }
            O::Br { relative_depth } => {
                self.charge(ctx, b);
                let (target, n) = self.label(relative_depth);
                let values = self.stack[self.stack.len() - n..].to_vec();
                let args = self.branch_args(values);
                b.jump(target, args);
                self.set_unreachable();
            }
            O::BrIf { relative_depth } => {
                self.charge(ctx, b);
                let cond = self.pop();
                let (target, n) = self.label(relative_depth);
                let values = self.stack[self.stack.len() - n..].to_vec();
                let args = self.branch_args(values);
                let cont = b.create_block();
                b.ins(Op::Brif { cond, then_dest: BlockCall { block: target, args }, else_dest: BlockCall::new(cont) });
                b.switch_to_block(cont);
            }
            O::BrTable { targets } => {
                self.charge(ctx, b);
                let index = self.pop();
                let index = zext64(b, index);
                let depths: Vec<u32> = targets.targets().collect::<Result<_, _>>().map_err(invalid)?;
                let default = targets.default();
                // One forwarding block per distinct depth.
                let mut forward: Vec<(u32, Block)> = Vec::new();
                let mut block_for =
                    |depth: u32, b: &mut FunctionBuilder<'_>| match forward.iter().find(|f| f.0 == depth) {
                        Some(&(_, blk)) => blk,
                        None => {
                            let blk = b.create_block();
                            forward.push((depth, blk));
                            blk
                        }
                    };
                let cases: Vec<(u64, Block)> =
                    depths.iter().enumerate().map(|(i, &d)| (i as u64, block_for(d, b))).collect();
                let default_block = block_for(default, b);
                b.ins(Op::Switch { index, cases, default: default_block });
                for (depth, blk) in forward {
                    b.switch_to_block(blk);
                    let (target, n) = self.label(depth);
                    let values = self.stack[self.stack.len() - n..].to_vec();
                    let args = self.branch_args(values);
                    b.jump(target, args);
                }
                self.set_unreachable();
            }
            O::Return => {
                self.charge(ctx, b);
                let n = self.control[0].results.len();
                let values = self.stack[self.stack.len() - n..].to_vec();
                b.ins(Op::Return { args: values });
                self.set_unreachable();
            }
            O::Call { function_index } => {
                self.charge(ctx, b);
                let sig = &ctx.sigs[function_index as usize];
                let args = self.pop_n(sig.params.len());
                let inst = b.ins(Op::Call { func: FuncId(function_index), args });
                let results = b.results(inst).to_vec();
                self.stack.extend(results);
            }
            O::CallIndirect { type_index, table_index } => {
                self.charge(ctx, b);
                let ty = ctx.type_map[type_index as usize];
                let index = self.pop();
                let index = zext64(b, index);
                let n = ctx.ir_types[ty as usize].params.len();
                let mut args = vec![index];
                args.extend(self.pop_n(n));
                let inst = b.ins(Op::CallIndirect { ty, table: table_index, args });
                let results = b.results(inst).to_vec();
                self.stack.extend(results);
            }
            O::Drop => {
                self.charge(ctx, b);
                self.pop();
            }
            O::Select | O::TypedSelect { .. } => {
                self.charge(ctx, b);
                let cond = self.pop();
                let y = self.pop();
                let x = self.pop();
                let v = b.ins1(Op::Select { cond, args: [x, y] });
                self.stack.push(v);
            }

            // ---- variables -------------------------------------------------------------------------------
            O::LocalGet { local_index } => {
                self.charge(ctx, b);
                self.stack.push(self.locals[local_index as usize]);
            }
            O::LocalSet { local_index } => {
                self.charge(ctx, b);
                self.locals[local_index as usize] = self.pop();
            }
            O::LocalTee { local_index } => {
                self.charge(ctx, b);
                let v = *self.stack.last().expect("validated");
                self.locals[local_index as usize] = v;
            }
            O::GlobalGet { global_index } => {
                self.charge(ctx, b);
                let v = match ctx.globals[global_index as usize] {
                    GlobalRef::Ir(index) => b.ins1(Op::GlobalGet { index }),
                    GlobalRef::Const(c) => const_value(b, c.ty.ir(), c.bits),
                };
                self.stack.push(v);
            }
            O::GlobalSet { global_index } => {
                self.charge(ctx, b);
                let value = self.pop();
                match ctx.globals[global_index as usize] {
                    GlobalRef::Ir(index) => {
                        b.ins(Op::GlobalSet { index, value });
                    }
                    GlobalRef::Const(_) => return unsupported("global.set of an imported global"),
                }
            }

            // ---- memory ----------------------------------------------------------------------------------
            O::I32Load { memarg } => self.load(ctx, b, Type::I32, 4, false, memarg),
            O::I64Load { memarg } => self.load(ctx, b, Type::I64, 8, false, memarg),
            O::F32Load { memarg } => self.load(ctx, b, Type::F32, 4, false, memarg),
            O::F64Load { memarg } => self.load(ctx, b, Type::F64, 8, false, memarg),
            O::I32Load8S { memarg } => self.load(ctx, b, Type::I32, 1, true, memarg),
            O::I32Load8U { memarg } => self.load(ctx, b, Type::I32, 1, false, memarg),
            O::I32Load16S { memarg } => self.load(ctx, b, Type::I32, 2, true, memarg),
            O::I32Load16U { memarg } => self.load(ctx, b, Type::I32, 2, false, memarg),
            O::I64Load8S { memarg } => self.load(ctx, b, Type::I64, 1, true, memarg),
            O::I64Load8U { memarg } => self.load(ctx, b, Type::I64, 1, false, memarg),
            O::I64Load16S { memarg } => self.load(ctx, b, Type::I64, 2, true, memarg),
            O::I64Load16U { memarg } => self.load(ctx, b, Type::I64, 2, false, memarg),
            O::I64Load32S { memarg } => self.load(ctx, b, Type::I64, 4, true, memarg),
            O::I64Load32U { memarg } => self.load(ctx, b, Type::I64, 4, false, memarg),
            O::I32Store { memarg } | O::F32Store { memarg } => self.store(ctx, b, 4, memarg),
            O::I64Store { memarg } | O::F64Store { memarg } => self.store(ctx, b, 8, memarg),
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => self.store(ctx, b, 1, memarg),
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => self.store(ctx, b, 2, memarg),
            O::I64Store32 { memarg } => self.store(ctx, b, 4, memarg),
            O::MemorySize { .. } => {
                self.charge(ctx, b);
                let bytes = b.ins1(Op::MemSize);
                let shift = b.iconst(Type::I64, 16);
                let pages = b.binary(BinOp::ShrU, bytes, shift);
                let v = b.ins1(Op::Convert { op: ConvOp::Trunc, to: Type::I32, arg: pages });
                self.stack.push(v);
            }
            O::MemoryGrow { .. } => {
                self.charge(ctx, b);
                let pages = self.pop();
                self.charge_per_unit(ctx, b, pages, |g| g.memory_grow_page);
                let wide = zext64(b, pages);
                let old = b.ins1(Op::MemGrow { arg: wide });
                let v = b.ins1(Op::Convert { op: ConvOp::Trunc, to: Type::I32, arg: old });
                self.stack.push(v);
            }
            O::MemoryCopy { .. } => {
                self.charge(ctx, b);
                let [dst, src, len] = self.pop3();
                self.charge_per_unit(ctx, b, len, |g| g.bulk_byte);
                let args = [dst, src, len].map(|v| zext64(b, v));
                // `mem.copy` lets empty ranges anywhere (EVM); WebAssembly traps on them past the end.
                let size = b.ins1(Op::MemSize);
                let dst_end = b.binary(BinOp::Add, args[0], args[2]);
                let src_end = b.binary(BinOp::Add, args[1], args[2]);
                let dst_out = b.binary(BinOp::GtU, dst_end, size);
                let src_out = b.binary(BinOp::GtU, src_end, size);
                let out = b.binary(BinOp::Or, dst_out, src_out);
                let trap = b.create_block();
                let ok = b.create_block();
                b.brif(out, trap, ok);
                b.switch_to_block(trap);
                b.trap(TrapCode::MemoryOutOfBounds);
                b.switch_to_block(ok);
                b.ins(Op::MemCopy { args });
            }
            O::MemoryFill { .. } => {
                self.charge(ctx, b);
                let [dst, byte, len] = self.pop3();
                self.charge_per_unit(ctx, b, len, |g| g.bulk_byte);
                let (dst, len) = (zext64(b, dst), zext64(b, len));
                b.ins(Op::MemFill { args: [dst, byte, len] });
            }
            O::MemoryInit { data_index, .. } => {
                self.charge(ctx, b);
                let [dst, src, len] = self.pop3();
                self.charge_per_unit(ctx, b, len, |g| g.bulk_byte);
                let args = [dst, src, len].map(|v| zext64(b, v));
                b.ins(Op::MemInit { seg: data_index, args });
            }
            O::DataDrop { data_index } => {
                self.charge(ctx, b);
                b.ins(Op::DataDrop { seg: data_index });
            }

            // ---- constants -------------------------------------------------------------------------------
            O::I32Const { value } => {
                self.charge(ctx, b);
                let v = b.iconst(Type::I32, i64::from(value));
                self.stack.push(v);
            }
            O::I64Const { value } => {
                self.charge(ctx, b);
                let v = b.iconst(Type::I64, value);
                self.stack.push(v);
            }
            O::F32Const { value } => {
                self.charge(ctx, b);
                let v = b.ins1(Op::Fconst { ty: Type::F32, bits: u64::from(value.bits()) });
                self.stack.push(v);
            }
            O::F64Const { value } => {
                self.charge(ctx, b);
                let v = b.ins1(Op::Fconst { ty: Type::F64, bits: value.bits() });
                self.stack.push(v);
            }

            // ---- references (as i64: 0 null, else see `Op::RefFunc`) ------------------------------------
            O::RefNull { .. } => {
                self.charge(ctx, b);
                let v = b.iconst(Type::I64, 0);
                self.stack.push(v);
            }
            O::RefIsNull => self.unary(ctx, b, UnOp::Eqz),
            O::RefFunc { function_index } => {
                self.charge(ctx, b);
                let v = b.ins1(Op::RefFunc { func: function_index });
                self.stack.push(v);
            }

            // ---- integers --------------------------------------------------------------------------------
            O::I32Eqz | O::I64Eqz => self.unary(ctx, b, UnOp::Eqz),
            O::I32Clz | O::I64Clz => self.unary(ctx, b, UnOp::Clz),
            O::I32Ctz | O::I64Ctz => self.unary(ctx, b, UnOp::Ctz),
            O::I32Popcnt | O::I64Popcnt => self.unary(ctx, b, UnOp::Popcnt),
            O::I32Eq | O::I64Eq => self.binary(ctx, b, BinOp::Eq),
            O::I32Ne | O::I64Ne => self.binary(ctx, b, BinOp::Ne),
            O::I32LtS | O::I64LtS => self.binary(ctx, b, BinOp::LtS),
            O::I32LtU | O::I64LtU => self.binary(ctx, b, BinOp::LtU),
            O::I32GtS | O::I64GtS => self.binary(ctx, b, BinOp::GtS),
            O::I32GtU | O::I64GtU => self.binary(ctx, b, BinOp::GtU),
            O::I32LeS | O::I64LeS => self.binary(ctx, b, BinOp::LeS),
            O::I32LeU | O::I64LeU => self.binary(ctx, b, BinOp::LeU),
            O::I32GeS | O::I64GeS => self.binary(ctx, b, BinOp::GeS),
            O::I32GeU | O::I64GeU => self.binary(ctx, b, BinOp::GeU),
            O::I32Add | O::I64Add => self.binary(ctx, b, BinOp::Add),
            O::I32Sub | O::I64Sub => self.binary(ctx, b, BinOp::Sub),
            O::I32Mul | O::I64Mul => self.binary(ctx, b, BinOp::Mul),
            O::I32DivS | O::I64DivS => self.binary(ctx, b, BinOp::DivS),
            O::I32DivU | O::I64DivU => self.binary(ctx, b, BinOp::DivU),
            O::I32RemS | O::I64RemS => self.binary(ctx, b, BinOp::RemS),
            O::I32RemU | O::I64RemU => self.binary(ctx, b, BinOp::RemU),
            O::I32And | O::I64And => self.binary(ctx, b, BinOp::And),
            O::I32Or | O::I64Or => self.binary(ctx, b, BinOp::Or),
            O::I32Xor | O::I64Xor => self.binary(ctx, b, BinOp::Xor),
            O::I32Shl | O::I64Shl => self.binary(ctx, b, BinOp::Shl),
            O::I32ShrS | O::I64ShrS => self.binary(ctx, b, BinOp::ShrS),
            O::I32ShrU | O::I64ShrU => self.binary(ctx, b, BinOp::ShrU),
            O::I32Rotl | O::I64Rotl => self.binary(ctx, b, BinOp::Rotl),
            O::I32Rotr | O::I64Rotr => self.binary(ctx, b, BinOp::Rotr),
            O::I32WrapI64 => self.convert(ctx, b, ConvOp::Trunc, Type::I32),
            O::I64ExtendI32S => self.convert(ctx, b, ConvOp::Sext, Type::I64),
            O::I64ExtendI32U => self.convert(ctx, b, ConvOp::Zext, Type::I64),
            O::I32Extend8S => self.sign_extend(ctx, b, Type::I32, 8),
            O::I32Extend16S => self.sign_extend(ctx, b, Type::I32, 16),
            O::I64Extend8S => self.sign_extend(ctx, b, Type::I64, 8),
            O::I64Extend16S => self.sign_extend(ctx, b, Type::I64, 16),
            O::I64Extend32S => self.sign_extend(ctx, b, Type::I64, 32),

            // ---- floats ----------------------------------------------------------------------------------
            O::F32Abs | O::F64Abs => self.funary(ctx, b, FUnOp::Abs),
            O::F32Neg | O::F64Neg => self.funary(ctx, b, FUnOp::Neg),
            O::F32Ceil | O::F64Ceil => self.funary(ctx, b, FUnOp::Ceil),
            O::F32Floor | O::F64Floor => self.funary(ctx, b, FUnOp::Floor),
            O::F32Trunc | O::F64Trunc => self.funary(ctx, b, FUnOp::Trunc),
            O::F32Nearest | O::F64Nearest => self.funary(ctx, b, FUnOp::Nearest),
            O::F32Sqrt | O::F64Sqrt => self.funary(ctx, b, FUnOp::Sqrt),
            O::F32Add | O::F64Add => self.fbinary(ctx, b, FBinOp::Add),
            O::F32Sub | O::F64Sub => self.fbinary(ctx, b, FBinOp::Sub),
            O::F32Mul | O::F64Mul => self.fbinary(ctx, b, FBinOp::Mul),
            O::F32Div | O::F64Div => self.fbinary(ctx, b, FBinOp::Div),
            O::F32Min | O::F64Min => self.fbinary(ctx, b, FBinOp::Min),
            O::F32Max | O::F64Max => self.fbinary(ctx, b, FBinOp::Max),
            O::F32Copysign | O::F64Copysign => self.fbinary(ctx, b, FBinOp::Copysign),
            O::F32Eq | O::F64Eq => self.fbinary(ctx, b, FBinOp::Eq),
            O::F32Ne | O::F64Ne => self.fbinary(ctx, b, FBinOp::Ne),
            O::F32Lt | O::F64Lt => self.fbinary(ctx, b, FBinOp::Lt),
            O::F32Gt | O::F64Gt => self.fbinary(ctx, b, FBinOp::Gt),
            O::F32Le | O::F64Le => self.fbinary(ctx, b, FBinOp::Le),
            O::F32Ge | O::F64Ge => self.fbinary(ctx, b, FBinOp::Ge),
            O::I32TruncF32S | O::I32TruncF64S => self.convert(ctx, b, ConvOp::FToS, Type::I32),
            O::I32TruncF32U | O::I32TruncF64U => self.convert(ctx, b, ConvOp::FToU, Type::I32),
            O::I64TruncF32S | O::I64TruncF64S => self.convert(ctx, b, ConvOp::FToS, Type::I64),
            O::I64TruncF32U | O::I64TruncF64U => self.convert(ctx, b, ConvOp::FToU, Type::I64),
            O::I32TruncSatF32S | O::I32TruncSatF64S => self.convert(ctx, b, ConvOp::FToSSat, Type::I32),
            O::I32TruncSatF32U | O::I32TruncSatF64U => self.convert(ctx, b, ConvOp::FToUSat, Type::I32),
            O::I64TruncSatF32S | O::I64TruncSatF64S => self.convert(ctx, b, ConvOp::FToSSat, Type::I64),
            O::I64TruncSatF32U | O::I64TruncSatF64U => self.convert(ctx, b, ConvOp::FToUSat, Type::I64),
            O::F32ConvertI32S | O::F32ConvertI64S => self.convert(ctx, b, ConvOp::SToF, Type::F32),
            O::F32ConvertI32U | O::F32ConvertI64U => self.convert(ctx, b, ConvOp::UToF, Type::F32),
            O::F64ConvertI32S | O::F64ConvertI64S => self.convert(ctx, b, ConvOp::SToF, Type::F64),
            O::F64ConvertI32U | O::F64ConvertI64U => self.convert(ctx, b, ConvOp::UToF, Type::F64),
            O::F32DemoteF64 => self.convert(ctx, b, ConvOp::FDemote, Type::F32),
            O::F64PromoteF32 => self.convert(ctx, b, ConvOp::FPromote, Type::F64),
            O::I32ReinterpretF32 => self.convert(ctx, b, ConvOp::Bitcast, Type::I32),
            O::I64ReinterpretF64 => self.convert(ctx, b, ConvOp::Bitcast, Type::I64),
            O::F32ReinterpretI32 => self.convert(ctx, b, ConvOp::Bitcast, Type::F32),
            O::F64ReinterpretI64 => self.convert(ctx, b, ConvOp::Bitcast, Type::F64),

            O::TableGet { table } => {
                self.charge(ctx, b);
                let index = self.pop();
                let index = zext64(b, index);
                let v = b.ins1(Op::TableGet { table, arg: index });
                self.stack.push(v);
            }
            O::TableSet { table } => {
                self.charge(ctx, b);
                let value = self.pop();
                let index = self.pop();
                let index = zext64(b, index);
                b.ins(Op::TableSet { table, args: [index, value] });
            }
            O::TableSize { table } => {
                self.charge(ctx, b);
                let size = b.ins1(Op::TableSize { table });
                let v = b.ins1(Op::Convert { op: ConvOp::Trunc, to: Type::I32, arg: size });
                self.stack.push(v);
            }
            O::TableGrow { table } => {
                self.charge(ctx, b);
                let delta = self.pop();
                let value = self.pop();
                self.charge_per_unit(ctx, b, delta, |g| g.bulk_byte);
                let delta = zext64(b, delta);
                let old = b.ins1(Op::TableGrow { table, args: [value, delta] });
                let v = b.ins1(Op::Convert { op: ConvOp::Trunc, to: Type::I32, arg: old });
                self.stack.push(v);
            }
            O::TableFill { table } => {
                self.charge(ctx, b);
                let len = self.pop();
                let value = self.pop();
                let dst = self.pop();
                self.charge_per_unit(ctx, b, len, |g| g.bulk_byte);
                let (dst, len) = (zext64(b, dst), zext64(b, len));
                b.ins(Op::TableFill { table, args: [dst, value, len] });
            }
            O::TableCopy { dst_table, src_table } => {
                self.charge(ctx, b);
                let [d, s, n] = self.pop3();
                self.charge_per_unit(ctx, b, n, |g| g.bulk_byte);
                let args = [d, s, n].map(|v| zext64(b, v));
                b.ins(Op::TableCopy { dst: dst_table, src: src_table, args });
            }
            O::TableInit { elem_index, table } => {
                self.charge(ctx, b);
                let [d, s, n] = self.pop3();
                self.charge_per_unit(ctx, b, n, |g| g.bulk_byte);
                let args = [d, s, n].map(|v| zext64(b, v));
                b.ins(Op::TableInit { table, seg: elem_index, args });
            }
            O::ElemDrop { elem_index } => {
                self.charge(ctx, b);
                b.ins(Op::ElemDrop { seg: elem_index });
            }
            other => return unsupported(format!("operator {other:?}")),
        }
        Ok(())
    }

    fn pop3(&mut self) -> [Value; 3] {
        let c = self.pop();
        let b = self.pop();
        let a = self.pop();
        [a, b, c]
    }

    /// Pops one operand, pushes the result of `make(operand)`.
    fn apply1(&mut self, ctx: &ModuleCtx<'_>, b: &mut FunctionBuilder<'_>, make: impl FnOnce(Value) -> Op) {
        self.charge(ctx, b);
        let a = self.pop();
        let v = b.ins1(make(a));
        self.stack.push(v);
    }

    /// Pops two operands, pushes the result of `make(first, second)`.
    fn apply2(&mut self, ctx: &ModuleCtx<'_>, b: &mut FunctionBuilder<'_>, make: impl FnOnce(Value, Value) -> Op) {
        self.charge(ctx, b);
        let y = self.pop();
        let x = self.pop();
        let v = b.ins1(make(x, y));
        self.stack.push(v);
    }

    fn unary(&mut self, ctx: &ModuleCtx<'_>, b: &mut FunctionBuilder<'_>, op: UnOp) {
        self.apply1(ctx, b, |arg| Op::Unary { op, arg });
    }

    fn binary(&mut self, ctx: &ModuleCtx<'_>, b: &mut FunctionBuilder<'_>, op: BinOp) {
        self.apply2(ctx, b, |x, y| Op::Binary { op, args: [x, y] });
    }

    fn funary(&mut self, ctx: &ModuleCtx<'_>, b: &mut FunctionBuilder<'_>, op: FUnOp) {
        self.apply1(ctx, b, |arg| Op::FUnary { op, arg });
    }

    fn fbinary(&mut self, ctx: &ModuleCtx<'_>, b: &mut FunctionBuilder<'_>, op: FBinOp) {
        self.apply2(ctx, b, |x, y| Op::FBinary { op, args: [x, y] });
    }

    fn convert(&mut self, ctx: &ModuleCtx<'_>, b: &mut FunctionBuilder<'_>, op: ConvOp, to: Type) {
        self.apply1(ctx, b, |arg| Op::Convert { op, to, arg });
    }

    /// `extendN_s`: `(x << (w - n)) >>s (w - n)`.
    fn sign_extend(&mut self, ctx: &ModuleCtx<'_>, b: &mut FunctionBuilder<'_>, ty: Type, bits: u32) {
        self.charge(ctx, b);
        let x = self.pop();
        let width = ty.bytes() * 8;
        let k = b.iconst(ty, i64::from(width - bits));
        let up = b.binary(BinOp::Shl, x, k);
        let v = b.binary(BinOp::ShrS, up, k);
        self.stack.push(v);
    }

    fn address(&mut self, b: &mut FunctionBuilder<'_>) -> Value {
        let addr = self.pop();
        zext64(b, addr)
    }

    fn load(&mut self, ctx: &ModuleCtx<'_>, b: &mut FunctionBuilder<'_>, ty: Type, width: u8, signed: bool, m: MemArg) {
        self.charge(ctx, b);
        let addr = self.address(b);
        let access = MemAccess { width, signed, big_endian: false, offset: m.offset as u32 };
        let v = b.ins1(Op::Load { ty, access, addr });
        self.stack.push(v);
    }

    fn store(&mut self, ctx: &ModuleCtx<'_>, b: &mut FunctionBuilder<'_>, width: u8, m: MemArg) {
        self.charge(ctx, b);
        let value = self.pop();
        let addr = self.address(b);
        let access = MemAccess { width, signed: false, big_endian: false, offset: m.offset as u32 };
        b.ins(Op::Store { access, addr, value });
    }
}

/// An `i32` index or count as `i64`.
fn zext64(b: &mut FunctionBuilder<'_>, v: Value) -> Value {
    b.ins1(Op::Convert { op: ConvOp::Zext, to: Type::I64, arg: v })
}
