//! The WebAssembly frontend: a validated WebAssembly 2.0 module (without SIMD) lowered to one IR module.
//!
//! # Shape of the result
//! Every function of the module's function index space (imports first) becomes the IR function with the
//! same index, with the same signature (reference values are `i64`: 0 is null, a function reference is
//! what `Op::RefFunc` makes: the function's index + 1, tagged with its instance). One more function, last,
//! instantiates the module and is the IR module's entry: it sets the globals from their initializers,
//! applies the active element and data segments (then drops them, as the specification does) and calls
//! the start function. Exported functions are then invoked by index on the same instance (`zvm_runtime`'s
//! `Contract::invoke`).
//!
//! # Imports
//! The embedder's [`Imports`] resolves each import while the module is lowered. A function becomes a body
//! that does what the embedder says: nothing, a contract ABI call, or (for a function of another
//! instance, [`ImportedFunc::Linked`]) a `call_indirect` through a hidden last table whose elements are the
//! other instances' references. An immutable global becomes a constant; a mutable global becomes an IR
//! global that the embedder binds to a shared cell; an imported memory or table takes the exporter's
//! current size and maximum. [`WasmModule::links`] lists what the embedder must bind at instantiation.
//!
//! # What is checked where
//! `wasmparser` validates the whole module first, with the WebAssembly 2.0 feature set minus SIMD; anything
//! else (SIMD, threads, memory64, GC, exceptions, tail calls, ...) is rejected there with an error naming the
//! feature. The translation itself then only meets valid code, and refuses what zvm does not run with
//! [`WasmError::Unsupported`], and imports the embedder cannot resolve with [`WasmError::Link`], before any
//! code runs.
//!
//! Function types are interned structurally into the IR module's `types`, which is what `call_indirect`
//! checks a callee against (WebAssembly 2.0 type equality is structural).
//!
//! # Gas
//! With a [`GasTable`], each operator is charged `GasTable::op` (the structural `block`, `loop`, `else` and
//! `end` cost nothing) through `gas.cost`, which the gas pass folds into one charge per block;
//! `memory.grow` is charged per page asked for and the bulk memory operators per byte, with `gas.charge` before the operation. Without one, the
//! module is unmetered.

pub mod abi;
mod func;

use abi::ContractImport;
use func::FuncTranslator;
use thiserror::Error;
use wasmparser::{
    CompositeInnerType, ConstExpr, DataKind, ElementItems, ElementKind, ExternalKind, FuncType, Operator, Parser,
    Payload, TableInit, TypeRef, ValType, Validator, WasmFeatures,
};
use zvm_ir::{FuncId, Function, FunctionBuilder, MemoryPlan, Module, ModuleTypes, Op, Signature, TablePlan, Type};

/// Why a module could not be lowered.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WasmError {
    /// The binary is malformed or does not validate (the message is `wasmparser`'s).
    #[error("invalid module: {0}")]
    Invalid(String),
    /// Valid WebAssembly that zvm does not run (yet).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// An import the embedder does not provide, or provides with another type.
    #[error("unknown import: {0}")]
    Link(String),
    /// The module exceeds a limit of [`WasmConfig`].
    #[error("limit: {0}")]
    Limit(String),
    /// A valid module that is not a contract (see [`translate_contract`]).
    #[error("not a contract: {0}")]
    NotAContract(String),
}

/// Gas costs of WebAssembly code. Its [`GasTable::id`] is part of what compiled code is keyed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GasTable {
    /// Cost of each non-structural operator.
    pub op: u64,
    /// Cost per page (64 KiB) `memory.grow` asks for, charged whether or not it succeeds.
    pub memory_grow_page: u64,
    /// Cost per byte of `memory.fill`, `memory.copy` and `memory.init`.
    pub bulk_byte: u64,
}

impl Default for GasTable {
    fn default() -> Self {
        Self { op: 1, memory_grow_page: 1024, bulk_byte: 1 }
    }
}

impl GasTable {
    /// Largest per-unit cost accepted: a 32-bit count times it never overflows 64 bits.
    pub const MAX_UNIT_COST: u64 = u32::MAX as u64;

    /// A stable identity of the table's contents.
    pub fn id(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..8].copy_from_slice(&self.op.to_le_bytes());
        out[8..16].copy_from_slice(&self.memory_grow_page.to_le_bytes());
        out[16..].copy_from_slice(&self.bulk_byte.to_le_bytes());
        out
    }
}

/// Options and limits of the frontend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WasmConfig {
    /// Gas costs; `None` leaves the module unmetered.
    pub gas: Option<GasTable>,
    /// Largest binary accepted, in bytes.
    pub max_module_size: usize,
    /// Most functions (imported and defined).
    pub max_functions: usize,
    /// Most locals of one function (parameters included).
    pub max_locals: usize,
    /// Canonicalise every NaN an arithmetic float operator produces (`zvm_ir::Module::canonical_nans`):
    /// results are then the same on every machine and tier, as contracts need. Off, compiled code leaves
    /// NaNs as the machine makes them (any NaN is allowed by WebAssembly) and saves a compare and a select
    /// per float operator.
    pub canonicalize_nans: bool,
}

impl Default for WasmConfig {
    fn default() -> Self {
        Self {
            gas: Some(GasTable::default()),
            max_module_size: 8 << 20,
            max_functions: 10_000,
            max_locals: 50_000,
            canonicalize_nans: true,
        }
    }
}

/// What an imported function does, as the embedder resolves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportedFunc {
    /// Nothing: returns zero for each result (e.g. the spec suite's `spectest.print*`).
    Ignore,
    /// A function of the contract ABI (the `zvm` module).
    Contract(ContractImport),
    /// A function of another instance, by its reference (tagged with that instance's tag, see
    /// `zvm_ir::Op::RefFunc`). The imported function calls it through a hidden table of the module (one
    /// element per such import, set at instantiation before anything else), whose `call_indirect` reaches
    /// the other instance through the runtime's linker.
    Linked(u64),
}

/// The value of an imported global, resolved by the embedder: a constant of the global's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportedGlobal {
    pub ty: WasmType,
    /// Bit pattern (`i32`/`f32` in the low 32 bits).
    pub bits: u64,
}

/// Resolves a module's imports.
pub trait Imports {
    /// The function `module.name` of type `ty`.
    fn func(&self, module: &str, name: &str, ty: &WasmFuncType) -> Result<ImportedFunc, String>;
    /// The immutable global `module.name` of type `ty`.
    fn global(&self, module: &str, name: &str, ty: WasmType) -> Result<ImportedGlobal, String>;
    /// The memory `module.name` with the importer's limits; the answer is the memory's actual plan.
    fn memory(&self, module: &str, name: &str, min_pages: u64, max_pages: Option<u64>) -> Result<MemoryPlan, String>;
    /// The table `module.name` with the importer's limits; the answer is the table's actual size limits
    /// (it starts with `min` null elements).
    fn table(
        &self,
        module: &str,
        name: &str,
        _elem: WasmType,
        _min: u64,
        _max: Option<u64>,
    ) -> Result<TablePlan, String> {
        Err(format!("table {module}.{name}"))
    }
    /// The mutable global `module.name` of type `ty`. `Ok` means the embedder shares a global cell of
    /// that type with the module: the global becomes an IR global like a defined one, listed in
    /// [`WasmModule::links`] for the embedder to bind.
    fn mutable_global(&self, module: &str, name: &str, _ty: WasmType) -> Result<(), String> {
        Err(format!("mutable global {module}.{name}"))
    }
}

/// Resolves no import at all.
pub struct NoImports;

impl Imports for NoImports {
    fn func(&self, module: &str, name: &str, _: &WasmFuncType) -> Result<ImportedFunc, String> {
        Err(format!("function {module}.{name}"))
    }
    fn global(&self, module: &str, name: &str, _: WasmType) -> Result<ImportedGlobal, String> {
        Err(format!("global {module}.{name}"))
    }
    fn memory(&self, module: &str, name: &str, _: u64, _: Option<u64>) -> Result<MemoryPlan, String> {
        Err(format!("memory {module}.{name}"))
    }
}

/// A global of the module as code sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobalRef {
    /// IR global `index` (defined in the module).
    Ir(u32),
    /// An imported constant.
    Const(ImportedGlobal),
}

/// What an export names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    Func(FuncId),
    Global(GlobalRef),
    /// The module's memory.
    Memory,
    /// IR table `index`.
    Table(u32),
}

/// What an import that another instance provides binds to in the lowered module (functions are bound at
/// translation instead, see [`ImportedFunc::Linked`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkTarget {
    /// The module's memory.
    Memory,
    /// IR table `index`.
    Table(u32),
    /// IR global `index` (a mutable global import, see [`Imports::mutable_global`]).
    Global(u32),
}

/// An import the embedder binds at instantiation: `module.name` is `target`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub module: String,
    pub name: String,
    pub target: LinkTarget,
}

impl Link {
    fn new(module: &str, name: &str, target: LinkTarget) -> Link {
        Link { module: module.into(), name: name.into(), target }
    }
}

/// A lowered module.
#[derive(Clone, Debug)]
pub struct WasmModule {
    /// The IR (not yet gas-passed); its entry instantiates the module.
    pub ir: Module,
    /// Exports, in the module's order.
    pub exports: Vec<(String, Export)>,
    /// Imported memories, tables and mutable globals, in the module's order.
    pub links: Vec<Link>,
    /// Per function of the module (imports first): its type.
    pub funcs: Vec<WasmFuncType>,
    /// Per IR global: its type.
    pub globals: Vec<GlobalType>,
    /// Per table of the module (the IR's first tables): its element type.
    pub tables: Vec<WasmType>,
}

impl WasmModule {
    /// The export called `name`.
    pub fn export(&self, name: &str) -> Option<Export> {
        self.exports.iter().find(|(n, _)| n == name).map(|e| e.1)
    }
}

/// The WebAssembly 2.0 features zvm accepts: everything but SIMD.
pub fn features() -> WasmFeatures {
    let mut f = WasmFeatures::WASM2;
    f.remove(WasmFeatures::SIMD);
    f
}

/// A WebAssembly value type, as imports are matched against exports (the IR has `i64` for references).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WasmType {
    I32,
    I64,
    F32,
    F64,
    FuncRef,
    ExternRef,
}

impl WasmType {
    /// The IR type of its values.
    pub fn ir(self) -> Type {
        match self {
            WasmType::I32 => Type::I32,
            WasmType::F32 => Type::F32,
            WasmType::F64 => Type::F64,
            WasmType::I64 | WasmType::FuncRef | WasmType::ExternRef => Type::I64,
        }
    }

    /// The type of a `wasmparser` value type; SIMD and the GC proposal's references are unsupported.
    pub fn of(t: ValType) -> Result<WasmType, WasmError> {
        Ok(match t {
            ValType::I32 => WasmType::I32,
            ValType::I64 => WasmType::I64,
            ValType::F32 => WasmType::F32,
            ValType::F64 => WasmType::F64,
            ValType::Ref(r) if r.is_func_ref() => WasmType::FuncRef,
            ValType::Ref(r) if r.is_extern_ref() => WasmType::ExternRef,
            ValType::Ref(r) => return Err(WasmError::Unsupported(format!("reference type {r:?}"))),
            ValType::V128 => return Err(WasmError::Unsupported("v128 values (SIMD)".into())),
        })
    }
}

/// A function type in WebAssembly terms (the IR's [`Signature`] has `i64` for references).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WasmFuncType {
    pub params: Vec<WasmType>,
    pub results: Vec<WasmType>,
}

impl WasmFuncType {
    fn of(ty: &FuncType) -> Result<WasmFuncType, WasmError> {
        let types = |ts: &[ValType]| ts.iter().map(|&t| WasmType::of(t)).collect::<Result<Vec<_>, _>>();
        Ok(WasmFuncType { params: types(ty.params())?, results: types(ty.results())? })
    }

    /// The IR signature of functions of this type.
    pub fn ir(&self) -> Signature {
        let types = |ts: &[WasmType]| ts.iter().map(|t| t.ir()).collect();
        Signature { params: types(&self.params), results: types(&self.results) }
    }
}

/// The type of a global: its value type and whether it is mutable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalType {
    pub ty: WasmType,
    pub mutable: bool,
}

/// The IR type of a value type.
fn ir_type(t: ValType) -> Result<Type, WasmError> {
    WasmType::of(t).map(WasmType::ir)
}

fn ir_signature(ty: &FuncType) -> Result<Signature, WasmError> {
    WasmFuncType::of(ty).map(|t| t.ir())
}

fn invalid(e: wasmparser::BinaryReaderError) -> WasmError {
    WasmError::Invalid(e.to_string())
}

/// A constant initializer, evaluated at translation time or as code in the instantiation function.
#[derive(Clone, Copy, Debug)]
enum Init {
    Const(Type, u64),
    Global(GlobalRef),
    /// A reference to function `f` of the instance (see `zvm_ir::Op::RefFunc`).
    Func(u32),
}

fn const_expr(expr: &ConstExpr<'_>, globals: &[GlobalRef], funcs: usize) -> Result<Init, WasmError> {
    let mut ops = expr.get_operators_reader();
    let op = ops.read().map_err(invalid)?;
    let init = match op {
        Operator::I32Const { value } => Init::Const(Type::I32, u64::from(value as u32)),
        Operator::I64Const { value } => Init::Const(Type::I64, value as u64),
        Operator::F32Const { value } => Init::Const(Type::F32, u64::from(value.bits())),
        Operator::F64Const { value } => Init::Const(Type::F64, value.bits()),
        Operator::RefNull { .. } => Init::Const(Type::I64, 0),
        Operator::RefFunc { function_index } if (function_index as usize) < funcs => Init::Func(function_index),
        Operator::GlobalGet { global_index } => match globals.get(global_index as usize) {
            Some(&GlobalRef::Const(c)) => Init::Const(c.ty.ir(), c.bits),
            Some(&g) => Init::Global(g),
            None => return Err(WasmError::Invalid(format!("global {global_index} does not exist"))),
        },
        other => return Err(WasmError::Unsupported(format!("constant expression {other:?}"))),
    };
    match ops.read().map_err(invalid)? {
        Operator::End => Ok(init),
        other => Err(WasmError::Unsupported(format!("extended constant expression ({other:?})"))),
    }
}

/// Validates `bytes` and lowers the module, resolving its imports with `imports`.
pub fn translate(bytes: &[u8], config: &WasmConfig, imports: &dyn Imports) -> Result<WasmModule, WasmError> {
    if bytes.len() > config.max_module_size {
        return Err(WasmError::Limit(format!(
            "the module has {} bytes, more than the limit of {}",
            bytes.len(),
            config.max_module_size
        )));
    }
    if let Some(gas) = &config.gas {
        if gas.memory_grow_page > GasTable::MAX_UNIT_COST || gas.bulk_byte > GasTable::MAX_UNIT_COST {
            return Err(WasmError::Limit("a per-page or per-byte gas cost is above 2^32 - 1".into()));
        }
    }
    Validator::new_with_features(features()).validate_all(bytes).map_err(invalid)?;

    let mut types: Vec<FuncType> = Vec::new();
    // Per function (imports first): its type index, and for imports what it does.
    let mut func_types: Vec<u32> = Vec::new();
    let mut imported_funcs: Vec<ImportedFunc> = Vec::new();
    let mut globals: Vec<GlobalRef> = Vec::new();
    let mut global_types: Vec<Type> = Vec::new();
    let mut global_inits: Vec<(u32, Init)> = Vec::new();
    let mut wasm_globals: Vec<GlobalType> = Vec::new();
    let mut table_types: Vec<WasmType> = Vec::new();
    let mut links: Vec<Link> = Vec::new();
    let mut memory: Option<MemoryPlan> = None;
    let mut tables: Vec<TablePlan> = Vec::new();
    let mut elems: Vec<Vec<u64>> = Vec::new();
    // Element segments to apply at instantiation: (segment, table, offset), or (segment, None) to drop.
    let mut elem_inits: Vec<(u32, Option<(u32, Init)>)> = Vec::new();
    let mut exports = Vec::new();
    let mut start = None;
    let mut data: Vec<Vec<u8>> = Vec::new();
    let mut active_data: Vec<(u32, Init)> = Vec::new();
    let mut bodies = Vec::new();

    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(invalid)? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(invalid)?.into_types() {
                        match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => types.push(f.clone()),
                            other => return Err(WasmError::Unsupported(format!("type {other:?}"))),
                        }
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(invalid)?;
                    let (module, name) = (import.module, import.name);
                    match import.ty {
                        TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                            let ty = WasmFuncType::of(&types[t as usize])?;
                            let f = imports.func(module, name, &ty).map_err(WasmError::Link)?;
                            func_types.push(t);
                            imported_funcs.push(f);
                        }
                        TypeRef::Global(g) if g.mutable => {
                            let ty = WasmType::of(g.content_type)?;
                            imports.mutable_global(module, name, ty).map_err(WasmError::Link)?;
                            let index = global_types.len() as u32;
                            global_types.push(ty.ir());
                            wasm_globals.push(GlobalType { ty, mutable: true });
                            globals.push(GlobalRef::Ir(index));
                            links.push(Link::new(module, name, LinkTarget::Global(index)));
                        }
                        TypeRef::Global(g) => {
                            let ty = WasmType::of(g.content_type)?;
                            let c = imports.global(module, name, ty).map_err(WasmError::Link)?;
                            if c.ty != ty {
                                return Err(WasmError::Link(format!("global {module}.{name}: incompatible type")));
                            }
                            globals.push(GlobalRef::Const(c));
                        }
                        TypeRef::Memory(m) => {
                            let plan = imports.memory(module, name, m.initial, m.maximum).map_err(WasmError::Link)?;
                            let fits = plan.min_pages >= m.initial
                                && m.maximum.is_none_or(|max| plan.max_pages.is_some_and(|have| have <= max));
                            if !fits {
                                return Err(WasmError::Link(format!("memory {module}.{name}: incompatible limits")));
                            }
                            memory = Some(plan);
                            links.push(Link::new(module, name, LinkTarget::Memory));
                        }
                        TypeRef::Table(t) => {
                            let elem = WasmType::of(ValType::Ref(t.element_type))?;
                            let plan =
                                imports.table(module, name, elem, t.initial, t.maximum).map_err(WasmError::Link)?;
                            let fits = plan.min >= t.initial
                                && t.maximum.is_none_or(|max| plan.max.is_some_and(|have| have <= max));
                            if !fits {
                                return Err(WasmError::Link(format!("table {module}.{name}: incompatible limits")));
                            }
                            let index = tables.len() as u32;
                            tables.push(plan);
                            table_types.push(elem);
                            links.push(Link::new(module, name, LinkTarget::Table(index)));
                        }
                        TypeRef::Tag(_) => return Err(WasmError::Unsupported(format!("imported tag {module}.{name}"))),
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for t in reader {
                    func_types.push(t.map_err(invalid)?);
                }
            }
            Payload::TableSection(reader) => {
                for t in reader {
                    let t = t.map_err(invalid)?;
                    if let TableInit::Expr(e) = &t.init {
                        if !matches!(const_expr(e, &globals, func_types.len())?, Init::Const(_, 0)) {
                            return Err(WasmError::Unsupported("tables initialized to non-null references".into()));
                        }
                    }
                    tables.push(TablePlan { min: t.ty.initial, max: t.ty.maximum });
                    table_types.push(WasmType::of(ValType::Ref(t.ty.element_type))?);
                }
            }
            Payload::MemorySection(reader) => {
                for m in reader {
                    let m = m.map_err(invalid)?;
                    // 32-bit memories: at most 2^16 pages whatever the declared maximum.
                    let max = m.maximum.unwrap_or(65536).min(65536);
                    memory = Some(MemoryPlan { min_pages: m.initial, max_pages: Some(max), guarded: true });
                }
            }
            Payload::GlobalSection(reader) => {
                for g in reader {
                    let g = g.map_err(invalid)?;
                    let ty = WasmType::of(g.ty.content_type)?;
                    let init = const_expr(&g.init_expr, &globals, func_types.len())?;
                    let index = global_types.len() as u32;
                    global_types.push(ty.ir());
                    wasm_globals.push(GlobalType { ty, mutable: g.ty.mutable });
                    global_inits.push((index, init));
                    globals.push(GlobalRef::Ir(index));
                }
            }
            Payload::ExportSection(reader) => {
                for e in reader {
                    let e = e.map_err(invalid)?;
                    let export = match e.kind {
                        ExternalKind::Func | ExternalKind::FuncExact => Export::Func(FuncId(e.index)),
                        ExternalKind::Global => Export::Global(globals[e.index as usize]),
                        ExternalKind::Memory => Export::Memory,
                        ExternalKind::Table => Export::Table(e.index),
                        ExternalKind::Tag => return Err(WasmError::Unsupported("exported tags".into())),
                    };
                    exports.push((e.name.to_string(), export));
                }
            }
            Payload::StartSection { func, .. } => start = Some(func),
            Payload::ElementSection(reader) => {
                for e in reader {
                    let e = e.map_err(invalid)?;
                    let seg = elems.len() as u32;
                    let mut refs = Vec::new();
                    match e.items {
                        ElementItems::Functions(funcs) => {
                            for f in funcs {
                                refs.push(u64::from(f.map_err(invalid)?) + 1);
                            }
                        }
                        ElementItems::Expressions(_, exprs) => {
                            for expr in exprs {
                                match const_expr(&expr.map_err(invalid)?, &globals, func_types.len())? {
                                    Init::Const(_, bits) => refs.push(bits),
                                    // Untagged: `table.init` tags it with the instance's tag.
                                    Init::Func(f) => refs.push(u64::from(f) + 1),
                                    Init::Global(_) => {
                                        return Err(WasmError::Unsupported(
                                            "element expressions reading a defined global".into(),
                                        ))
                                    }
                                }
                            }
                        }
                    }
                    elems.push(refs);
                    match e.kind {
                        ElementKind::Passive => {}
                        ElementKind::Declared => elem_inits.push((seg, None)),
                        ElementKind::Active { table_index, offset_expr } => {
                            let offset = const_expr(&offset_expr, &globals, func_types.len())?;
                            elem_inits.push((seg, Some((table_index.unwrap_or(0), offset))));
                        }
                    }
                }
            }
            Payload::DataSection(reader) => {
                for d in reader {
                    let d = d.map_err(invalid)?;
                    let index = data.len() as u32;
                    data.push(d.data.to_vec());
                    if let DataKind::Active { offset_expr, .. } = d.kind {
                        active_data.push((index, const_expr(&offset_expr, &globals, func_types.len())?));
                    }
                }
            }
            Payload::CodeSectionEntry(body) => bodies.push(body),
            _ => {}
        }
    }

    if func_types.len() > config.max_functions {
        return Err(WasmError::Limit(format!(
            "{} functions, more than the limit of {}",
            func_types.len(),
            config.max_functions
        )));
    }
    let wasm_funcs: Vec<WasmFuncType> =
        func_types.iter().map(|&t| WasmFuncType::of(&types[t as usize])).collect::<Result<_, _>>()?;
    let sigs: Vec<Signature> = wasm_funcs.iter().map(WasmFuncType::ir).collect();
    // Structurally equal function types share one IR type.
    let mut ir_types: Vec<Signature> = Vec::new();
    let mut type_map: Vec<u32> = Vec::with_capacity(types.len());
    for t in &types {
        let sig = ir_signature(t)?;
        let index = match ir_types.iter().position(|s| *s == sig) {
            Some(i) => i,
            None => {
                ir_types.push(sig);
                ir_types.len() - 1
            }
        };
        type_map.push(index as u32);
    }
    let results_of = |f: FuncId| sigs.get(f.index()).map(|s| s.results.clone());
    // Functions imported from other instances call them through a hidden last table, filled first at
    // instantiation from a hidden last element segment.
    let linked: Vec<u64> = imported_funcs
        .iter()
        .filter_map(|f| match f {
            ImportedFunc::Linked(r) => Some(*r),
            _ => None,
        })
        .collect();
    let hidden_table = tables.len() as u32;
    if !linked.is_empty() {
        let seg = elems.len() as u32;
        tables.push(TablePlan { min: linked.len() as u64, max: Some(linked.len() as u64) });
        elems.push(linked);
        elem_inits.insert(0, (seg, Some((hidden_table, Init::Const(Type::I32, 0)))));
    }
    let mut functions = Vec::with_capacity(sigs.len() + 1);
    let mut slot = 0u32;
    for (i, imported) in imported_funcs.iter().enumerate() {
        let how = match *imported {
            ImportedFunc::Ignore => Stub::Ignore,
            ImportedFunc::Contract(c) => Stub::Contract(c),
            ImportedFunc::Linked(_) => {
                slot += 1;
                Stub::Linked { table: hidden_table, slot: slot - 1, ty: type_map[func_types[i] as usize] }
            }
        };
        functions.push(imported_function(i, &sigs[i], how, ModuleTypes { globals: &global_types, types: &ir_types }));
    }
    let ctx = func::ModuleCtx {
        types: &types,
        sigs: &sigs,
        globals: &globals,
        global_types: &global_types,
        ir_types: &ir_types,
        type_map: &type_map,
        gas: config.gas,
        max_locals: config.max_locals,
    };
    let mut translator = FuncTranslator::new();
    for (n, body) in bodies.into_iter().enumerate() {
        let index = imported_funcs.len() + n;
        let mut f = Function::new(format!("f{index}"), sigs[index].clone());
        translator.translate(&ctx, &mut f, &body).map_err(|e| match e {
            WasmError::Unsupported(m) => WasmError::Unsupported(format!("function {index}: {m}")),
            other => other,
        })?;
        functions.push(f);
    }

    // The instantiation function.
    let init_index = functions.len();
    let mut init = Function::new("instantiate", Signature::default());
    {
        let mut b = FunctionBuilder::with_module(
            &mut init,
            &results_of,
            ModuleTypes { globals: &global_types, types: &ir_types },
        );
        let value = |b: &mut FunctionBuilder<'_>, init: Init| match init {
            Init::Const(ty, bits) => const_value(b, ty, bits),
            Init::Global(GlobalRef::Ir(index)) => b.ins1(Op::GlobalGet { index }),
            Init::Global(GlobalRef::Const(c)) => const_value(b, c.ty.ir(), c.bits),
            Init::Func(func) => b.ins1(Op::RefFunc { func }),
        };
        for &(index, init) in &global_inits {
            let v = value(&mut b, init);
            b.ins(Op::GlobalSet { index, value: v });
        }
        for &(seg, target) in &elem_inits {
            if let Some((table, offset)) = target {
                let off = value(&mut b, offset);
                let dst = b.ins1(Op::Convert { op: zvm_ir::ConvOp::Zext, to: Type::I64, arg: off });
                let zero = b.iconst(Type::I64, 0);
                let len = b.iconst(Type::I64, elems[seg as usize].len() as i64);
                b.ins(Op::TableInit { table, seg, args: [dst, zero, len] });
            }
            b.ins(Op::ElemDrop { seg });
        }
        for &(seg, offset) in &active_data {
            let off = value(&mut b, offset);
            let dst = b.ins1(Op::Convert { op: zvm_ir::ConvOp::Zext, to: Type::I64, arg: off });
            let zero = b.iconst(Type::I64, 0);
            let len = b.iconst(Type::I64, data[seg as usize].len() as i64);
            b.ins(Op::MemInit { seg, args: [dst, zero, len] });
            b.ins(Op::DataDrop { seg });
        }
        if let Some(s) = start {
            b.ins(Op::Call { func: FuncId(s), args: vec![] });
        }
        b.ins(Op::Return { args: vec![] });
    }
    functions.push(init);

    let mut ir = Module::new(functions, FuncId(init_index as u32));
    ir.globals = global_types;
    ir.data = data;
    ir.memory = memory.unwrap_or(MemoryPlan { min_pages: 0, max_pages: Some(0), guarded: false });
    ir.tables = tables;
    ir.elems = elems;
    ir.types = ir_types;
    ir.canonical_nans = config.canonicalize_nans;
    Ok(WasmModule { ir, exports, links, funcs: wasm_funcs, globals: wasm_globals, tables: table_types })
}

/// A constant of type `ty` from its bit pattern.
fn const_value(b: &mut FunctionBuilder<'_>, ty: Type, bits: u64) -> zvm_ir::Value {
    match ty {
        Type::F32 | Type::F64 => b.ins1(Op::Fconst { ty, bits }),
        _ => b.iconst(ty, bits as i64),
    }
}

/// How an imported function is lowered.
enum Stub {
    /// Returns zeros ([`ImportedFunc::Ignore`]).
    Ignore,
    /// A contract ABI function.
    Contract(ContractImport),
    /// A call of element `slot` of the hidden `table` as IR type `ty`.
    Linked { table: u32, slot: u32, ty: u32 },
}

/// The body of an imported function.
fn imported_function(index: usize, sig: &Signature, how: Stub, types: ModuleTypes<'_>) -> Function {
    let mut f = Function::new(format!("import{index}"), sig.clone());
    let no_callees = |_: FuncId| None;
    let mut b = FunctionBuilder::with_module(&mut f, &no_callees, types);
    match how {
        Stub::Ignore => {
            let results = sig.results.iter().map(|&t| const_value(&mut b, t, 0)).collect();
            b.ins(Op::Return { args: results });
        }
        Stub::Contract(import) => abi::emit(&mut b, import),
        Stub::Linked { table, slot, ty } => {
            let mut args = vec![b.iconst(Type::I64, i64::from(slot))];
            args.extend(b.params());
            let call = b.ins(Op::CallIndirect { ty, table, args });
            let results = b.results(call).to_vec();
            b.ins(Op::Return { args: results });
        }
    }
    f
}

/// The imports of a contract: the functions of the `zvm` module ([`abi`]), nothing else.
pub struct ContractImports;

impl Imports for ContractImports {
    fn func(&self, module: &str, name: &str, ty: &WasmFuncType) -> Result<ImportedFunc, String> {
        match module {
            "zvm" => abi::resolve(name, &ty.ir()),
            _ => Err(format!("function {module}.{name}: contracts import only from the `zvm` module")),
        }
    }
    fn global(&self, module: &str, name: &str, _: WasmType) -> Result<ImportedGlobal, String> {
        Err(format!("global {module}.{name}: contracts import only functions"))
    }
    fn memory(&self, module: &str, name: &str, _: u64, _: Option<u64>) -> Result<MemoryPlan, String> {
        Err(format!("memory {module}.{name}: a contract defines its own memory"))
    }
}

/// Lowers a WebAssembly contract: a module importing only from `zvm` and exporting `call: [] -> []`. The IR
/// module's entry instantiates the module and calls `call`; the call's output comes from `zvm.return` (or
/// is empty when `call` returns).
pub fn translate_contract(bytes: &[u8], config: &WasmConfig) -> Result<Module, WasmError> {
    let lowered = translate(bytes, config, &ContractImports)?;
    let Some(Export::Func(call)) = lowered.export("call") else {
        return Err(WasmError::NotAContract("a contract exports a function `call`".into()));
    };
    let mut ir = lowered.ir;
    if !ir.function(call).sig.params.is_empty() || !ir.function(call).sig.results.is_empty() {
        return Err(WasmError::NotAContract(
            "a contract's `call` export takes no parameters and returns nothing".into(),
        ));
    }
    let instantiate = ir.entry;
    let mut entry = Function::new("contract", Signature::default());
    {
        let mut b = FunctionBuilder::new(&mut entry);
        b.ins(Op::Call { func: instantiate, args: vec![] });
        b.ins(Op::Call { func: call, args: vec![] });
        b.ins(Op::Return { args: vec![] });
    }
    ir.functions.push(entry);
    ir.entry = FuncId(ir.functions.len() as u32 - 1);
    Ok(ir)
}
