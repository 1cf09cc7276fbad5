//! Functions and modules: the arenas of blocks, instructions and values, and their layout.

use crate::entities::{Block, FuncId, Inst, Value};
use crate::instructions::{ConvOp, Op};
use crate::types::Type;

/// A function's parameter and result types.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Signature {
    pub params: Vec<Type>,
    pub results: Vec<Type>,
}

/// Where a value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueDef {
    /// The `n`th parameter of a block.
    Param(Block, u32),
    /// The `n`th result of an instruction.
    Result(Inst, u32),
}

/// A value's type and definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueData {
    pub ty: Type,
    pub def: ValueDef,
}

/// An instruction: its operation and result values.
#[derive(Clone, Debug, PartialEq)]
pub struct InstData {
    pub op: Op,
    pub results: Vec<Value>,
}

/// A block: its parameters and its instructions in order (the last one a terminator).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BlockData {
    pub params: Vec<Value>,
    pub insts: Vec<Inst>,
}

/// A function in SSA form. Block 0 is the entry; its parameters are the function's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    pub name: String,
    pub sig: Signature,
    pub blocks: Vec<BlockData>,
    pub insts: Vec<InstData>,
    pub values: Vec<ValueData>,
}

impl Function {
    /// An empty function (no blocks yet).
    pub fn new(name: impl Into<String>, sig: Signature) -> Self {
        Self { name: name.into(), sig, blocks: Vec::new(), insts: Vec::new(), values: Vec::new() }
    }

    /// The entry block.
    pub const ENTRY: Block = Block(0);

    /// All blocks in layout order.
    pub fn block_ids(&self) -> impl Iterator<Item = Block> + '_ {
        (0..self.blocks.len()).map(Block::new)
    }

    /// A block's data.
    pub fn block(&self, b: Block) -> &BlockData {
        &self.blocks[b.index()]
    }

    /// An instruction's data.
    pub fn inst(&self, i: Inst) -> &InstData {
        &self.insts[i.index()]
    }

    /// A value's type.
    pub fn value_type(&self, v: Value) -> Type {
        self.values[v.index()].ty
    }

    /// Adds a block.
    pub fn add_block(&mut self) -> Block {
        self.blocks.push(BlockData::default());
        Block::new(self.blocks.len() - 1)
    }

    /// Appends a parameter of type `ty` to block `b`.
    pub fn add_block_param(&mut self, b: Block, ty: Type) -> Value {
        let n = self.blocks[b.index()].params.len() as u32;
        let v = self.new_value(ty, ValueDef::Param(b, n));
        self.blocks[b.index()].params.push(v);
        v
    }

    fn new_value(&mut self, ty: Type, def: ValueDef) -> Value {
        self.values.push(ValueData { ty, def });
        Value::new(self.values.len() - 1)
    }

    /// Creates an instruction with the given result types, not yet placed in any block.
    pub fn create_inst(&mut self, op: Op, result_types: &[Type]) -> Inst {
        let inst = Inst::new(self.insts.len());
        let results = result_types
            .iter()
            .enumerate()
            .map(|(n, &ty)| self.new_value(ty, ValueDef::Result(inst, n as u32)))
            .collect();
        self.insts.push(InstData { op, results });
        inst
    }

    /// The instruction that ends block `b`, if it has one.
    pub fn terminator(&self, b: Block) -> Option<Inst> {
        let last = *self.block(b).insts.last()?;
        self.inst(last).op.is_terminator().then_some(last)
    }

    /// Result types of `op` given the types of its operands in this function; `callees` gives the result
    /// types of module functions for `call`, `globals` the types of the module's globals. Returns `None` where the operand types make no sense (the
    /// verifier reports it).
    pub fn infer_result_types(
        &self,
        op: &Op,
        callees: &dyn Fn(FuncId) -> Option<Vec<Type>>,
        module: ModuleTypes<'_>,
    ) -> Option<Vec<Type>> {
        let globals = module.globals;
        let ty = |v: Value| self.values.get(v.index()).map(|d| d.ty);
        Some(match op {
            Op::Iconst { ty, .. } | Op::Fconst { ty, .. } => vec![*ty],
            Op::Wconst { .. } => vec![Type::W256],
            Op::FUnary { arg, .. } => vec![ty(*arg)?],
            Op::FBinary { op, args } => vec![if op.is_comparison() { Type::I32 } else { ty(args[0])? }],
            Op::MemGrow { .. } => vec![Type::I64],
            Op::GlobalGet { index } => vec![*globals.get(*index as usize)?],
            Op::TableGet { .. } | Op::TableSize { .. } | Op::TableGrow { .. } | Op::RefFunc { .. } => vec![Type::I64],
            Op::CallIndirect { ty, .. } => module.types.get(*ty as usize)?.results.clone(),
            Op::Unary { op, arg } => {
                let t = ty(*arg)?;
                match op {
                    crate::UnOp::Eqz => vec![t.bool_type()],
                    _ => vec![t],
                }
            }
            Op::Binary { op, args } => {
                let t = ty(args[0])?;
                vec![if op.is_comparison() { t.bool_type() } else { t }]
            }
            Op::Ternary { args, .. } => vec![ty(args[0])?],
            Op::Convert { op, to, .. } => match op {
                ConvOp::SatU64 => vec![Type::I64],
                _ => vec![*to],
            },
            Op::Select { args, .. } => vec![ty(args[0])?],
            Op::Load { ty, .. } => vec![*ty],
            Op::MemSize | Op::DataSize { .. } | Op::GasLeft => vec![Type::I64],
            Op::Hash { .. } | Op::DataLoad { .. } | Op::StackGet { .. } => vec![Type::W256],
            Op::HostCall { func, .. } => func.signature().1.to_vec(),
            Op::Call { func, .. } => callees(*func)?,
            Op::Store { .. }
            | Op::MemExpand { .. }
            | Op::MemCopy { .. }
            | Op::DataCopy { .. }
            | Op::MemFill { .. }
            | Op::MemInit { .. }
            | Op::DataDrop { .. }
            | Op::GlobalSet { .. }
            | Op::TableSet { .. }
            | Op::TableFill { .. }
            | Op::TableCopy { .. }
            | Op::TableInit { .. }
            | Op::ElemDrop { .. }
            | Op::StackCheck { .. }
            | Op::StackSet { .. }
            | Op::StackAdjust { .. }
            | Op::GasCost { .. }
            | Op::GasBlock { .. }
            | Op::GasCharge { .. }
            | Op::Jump { .. }
            | Op::Brif { .. }
            | Op::Switch { .. }
            | Op::Return { .. }
            | Op::Halt { .. }
            | Op::Trap { .. } => vec![],
        })
    }
}

/// The linear memory a module asks for (WebAssembly's memory type). Stack-machine frontends leave the
/// default: no pages at the start, grown by `mem.expand` only up to the runtime's limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MemoryPlan {
    /// Pages of [`crate::instructions::WASM_PAGE`] bytes the memory has when execution starts.
    pub min_pages: u64,
    /// Most pages `mem.grow` may reach (`None`: only the runtime's memory limit applies).
    pub max_pages: Option<u64>,
    /// The runtime backs the memory with a reservation of address space that covers every address a
    /// 32-bit index and offset can form, inaccessible past the memory's size: compiled code accesses it
    /// at zero-extended 32-bit addresses without a bounds check, and an access past the end faults in
    /// the reservation and becomes a `heap_oob` trap. (WebAssembly memories; see the runtime's `memory`
    /// module.)
    pub guarded: bool,
}

/// The size limits of a table (WebAssembly's table type). Elements are references (`i64`, 0 = null); a
/// table starts with `min` null elements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TablePlan {
    pub min: u64,
    pub max: Option<u64>,
}

/// What the types of some operations' results depend on besides their operands: the module's globals (for
/// `global.get`) and signatures (for `call_indirect`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ModuleTypes<'a> {
    pub globals: &'a [Type],
    pub types: &'a [Signature],
}

/// A set of functions with one entry point: the unit a frontend produces and a tier runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    pub functions: Vec<Function>,
    /// The function execution starts in. It takes no parameters; its results are discarded (output leaves
    /// through `halt`, or is empty when it returns).
    pub entry: FuncId,
    /// Types of the module's globals, each zero when execution starts (an initializer is code in the
    /// entry's path). Globals are `i32`, `i64`, `f32` or `f64`.
    pub globals: Vec<Type>,
    /// Data segments `mem.init` copies from (and `data.drop` empties).
    pub data: Vec<Vec<u8>>,
    /// The linear memory's initial and maximum size.
    pub memory: MemoryPlan,
    /// Tables, each starting with its minimum number of null elements.
    pub tables: Vec<TablePlan>,
    /// Element segments (references) `table.init` copies from (and `elem.drop` empties).
    pub elems: Vec<Vec<u64>>,
    /// Signatures `call_indirect` checks against.
    pub types: Vec<Signature>,
    /// Whether every NaN an arithmetic float operation produces is the canonical NaN (the default, which
    /// makes results the same on every machine and tier), or any NaN the machine produces (`false`:
    /// compiled code skips the canonicalisation; the interpreter keeps producing the canonical NaN, which
    /// is one of the NaNs allowed). See [`crate::semantics`].
    pub canonical_nans: bool,
}

impl Module {
    /// A module of `functions` starting at `entry`, without globals, data segments or initial memory.
    pub fn new(functions: Vec<Function>, entry: FuncId) -> Self {
        Self {
            functions,
            entry,
            globals: Vec::new(),
            data: Vec::new(),
            memory: MemoryPlan::default(),
            tables: Vec::new(),
            elems: Vec::new(),
            types: Vec::new(),
            canonical_nans: true,
        }
    }

    /// A module of one function, which is also the entry.
    pub fn single(function: Function) -> Self {
        Self::new(vec![function], FuncId(0))
    }

    /// A function by id.
    pub fn function(&self, f: FuncId) -> &Function {
        &self.functions[f.index()]
    }

    /// The globals and signatures result types depend on.
    pub fn types(&self) -> ModuleTypes<'_> {
        ModuleTypes { globals: &self.globals, types: &self.types }
    }

    /// The result types of function `f`, if it exists.
    pub fn results_of(&self, f: FuncId) -> Option<Vec<Type>> {
        self.functions.get(f.index()).map(|func| func.sig.results.clone())
    }
}
