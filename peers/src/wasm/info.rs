//! What the harness reads from a module's binary itself, independently of either engine: the types of the
//! exported functions and globals (to make arguments and to read results), whether the memory is exported,
//! whether NaN bit patterns may legitimately differ between engines, and a text dump for failure reports.

use std::fmt::Write;
use wasmparser::{CompositeInnerType, ExternalKind, FuncType, Operator, Parser, Payload, TypeRef, ValType};

/// A value type as the harness sees it.
pub use zvm_compiler::frontend::wasm::WasmType as Ty;

/// An exported function.
#[derive(Clone, Debug)]
pub struct ExportedFunc {
    pub name: String,
    pub params: Vec<Ty>,
    pub results: Vec<Ty>,
}

/// What the harness needs to know about a module.
#[derive(Clone, Debug, Default)]
pub struct ModuleInfo {
    /// Exported functions, in export order.
    pub funcs: Vec<ExportedFunc>,
    /// Exported globals with their types, in export order.
    pub globals: Vec<(String, Ty)>,
    /// The name the (only) memory is exported under, if it is.
    pub memory_export: Option<String>,
    /// Whether the module has a table (zvm rejects those until tables land).
    pub has_tables: bool,
    /// Whether a NaN whose bits the specification leaves open can reach something that shows its bits
    /// (memory, an integer, a sign) — then two correct engines may differ; see [`ModuleInfo::parse`].
    pub nan_bits_observable: bool,
}

impl ModuleInfo {
    /// Reads `bytes` (a valid module). `canonical_nans`: the generator canonicalized the NaNs of the
    /// arithmetic it canonicalizes (see `wasm_smith::Config::canonicalize_nans`).
    ///
    /// NaN bits: the specification lets an arithmetic operation return any NaN whose payload is canonical
    /// when its inputs' are, and any arithmetic NaN otherwise; zvm always returns the positive canonical NaN,
    /// wasmi returns what the host's instructions return (on x86 the negative canonical NaN for `0/0`, and
    /// input payloads carried through). Results and globals of float type are compared as "both NaN", but a
    /// NaN stored to memory, reinterpreted as an integer or giving its sign to `copysign` shows its bits. So
    /// `nan_bits_observable` is set when the module has an operation that may make such a NaN (all float
    /// arithmetic without canonicalization; with it, `promote` and `demote`, which wasm-smith leaves alone)
    /// and an operation that shows the bits.
    pub fn parse(bytes: &[u8], canonical_nans: bool) -> Result<ModuleInfo, String> {
        let mut info = ModuleInfo::default();
        let mut types: Vec<FuncType> = Vec::new();
        let mut func_types: Vec<u32> = Vec::new();
        let mut global_types: Vec<ValType> = Vec::new();
        let mut exports: Vec<(String, ExternalKind, u32)> = Vec::new();
        let (mut free_nans, mut shows_bits) = (false, false);
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.map_err(|e| e.to_string())? {
                Payload::TypeSection(reader) => {
                    for group in reader {
                        for sub in group.map_err(|e| e.to_string())?.into_types() {
                            match &sub.composite_type.inner {
                                CompositeInnerType::Func(f) => types.push(f.clone()),
                                // Not generated (GC is off); keeps indices right if it were.
                                _ => types.push(FuncType::new([], [])),
                            }
                        }
                    }
                }
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        match import.map_err(|e| e.to_string())?.ty {
                            TypeRef::Func(t) | TypeRef::FuncExact(t) => func_types.push(t),
                            TypeRef::Global(g) => global_types.push(g.content_type),
                            TypeRef::Table(_) => info.has_tables = true,
                            _ => {}
                        }
                    }
                }
                Payload::FunctionSection(reader) => {
                    for t in reader {
                        func_types.push(t.map_err(|e| e.to_string())?);
                    }
                }
                Payload::TableSection(reader) => info.has_tables |= reader.count() > 0,
                Payload::GlobalSection(reader) => {
                    for g in reader {
                        global_types.push(g.map_err(|e| e.to_string())?.ty.content_type);
                    }
                }
                Payload::ExportSection(reader) => {
                    for e in reader {
                        let e = e.map_err(|e| e.to_string())?;
                        exports.push((e.name.to_string(), e.kind, e.index));
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    let mut reader = body.get_operators_reader().map_err(|e| e.to_string())?;
                    while !reader.eof() {
                        let op = reader.read().map_err(|e| e.to_string())?;
                        free_nans |= makes_free_nan(&op, canonical_nans);
                        shows_bits |= shows_nan_bits(&op);
                    }
                }
                _ => {}
            }
        }
        info.nan_bits_observable = free_nans && shows_bits;
        for (name, kind, index) in exports {
            match kind {
                ExternalKind::Func | ExternalKind::FuncExact => {
                    let ty = func_types
                        .get(index as usize)
                        .and_then(|&t| types.get(t as usize))
                        .ok_or_else(|| format!("export {name}: no function {index}"))?;
                    let tys = |ts: &[ValType]| ts.iter().map(|&t| Ty::of(t).ok()).collect::<Option<Vec<_>>>();
                    let (Some(params), Some(results)) = (tys(ty.params()), tys(ty.results())) else {
                        return Err(format!("export {name}: a type the harness does not handle: {ty}"));
                    };
                    info.funcs.push(ExportedFunc { name, params, results });
                }
                ExternalKind::Global => {
                    let ty = global_types.get(index as usize).ok_or_else(|| format!("export {name}: no global"))?;
                    let ty = Ty::of(*ty).map_err(|_| format!("export {name}: global of type {ty}"))?;
                    info.globals.push((name, ty));
                }
                ExternalKind::Memory => info.memory_export = Some(name),
                _ => {}
            }
        }
        Ok(info)
    }
}

/// Whether `op` may return a NaN whose bits another correct engine may choose differently (see
/// [`ModuleInfo::parse`]).
fn makes_free_nan(op: &Operator<'_>, canonical_nans: bool) -> bool {
    use Operator as O;
    match op {
        O::F32DemoteF64 | O::F64PromoteF32 => true,
        O::F32Add
        | O::F32Sub
        | O::F32Mul
        | O::F32Div
        | O::F32Sqrt
        | O::F32Min
        | O::F32Max
        | O::F32Ceil
        | O::F32Floor
        | O::F32Trunc
        | O::F32Nearest
        | O::F64Add
        | O::F64Sub
        | O::F64Mul
        | O::F64Div
        | O::F64Sqrt
        | O::F64Min
        | O::F64Max
        | O::F64Ceil
        | O::F64Floor
        | O::F64Trunc
        | O::F64Nearest => !canonical_nans,
        _ => false,
    }
}

/// Whether `op` makes the bits of a float operand visible beyond "is it NaN".
fn shows_nan_bits(op: &Operator<'_>) -> bool {
    use Operator as O;
    matches!(
        op,
        O::F32Store { .. }
            | O::F64Store { .. }
            | O::I32ReinterpretF32
            | O::I64ReinterpretF64
            | O::F32Copysign
            | O::F64Copysign
    )
}

/// A readable listing of a module for failure reports: every section, and every function body one
/// operator a line (wasmparser's names), indented by block depth. Not WAT, but close enough to read, and
/// the report carries the binary as hex as well (`xxd -r -p | wasm-tools print` gives real WAT).
pub fn dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    if let Err(e) = dump_into(bytes, &mut out) {
        let _ = writeln!(out, ";; (listing stopped: {e})");
    }
    out
}

fn dump_into(bytes: &[u8], out: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let mut func_types: Vec<u32> = Vec::new();
    let mut imported_funcs = 0usize;
    let mut next_body = 0usize;
    writeln!(out, "(module")?;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::TypeSection(reader) => {
                let mut i = 0;
                for group in reader {
                    for sub in group?.into_types() {
                        writeln!(out, "  (type {i} {})", sub.composite_type)?;
                        i += 1;
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import?;
                    if let TypeRef::Func(t) | TypeRef::FuncExact(t) = import.ty {
                        func_types.push(t);
                        imported_funcs += 1;
                    }
                    writeln!(out, "  (import {:?} {:?} {:?})", import.module, import.name, import.ty)?;
                }
            }
            Payload::FunctionSection(reader) => {
                for t in reader {
                    func_types.push(t?);
                }
            }
            Payload::TableSection(reader) => {
                for t in reader {
                    let t = t?;
                    writeln!(out, "  (table {:?} init {:?})", t.ty, t.init)?;
                }
            }
            Payload::MemorySection(reader) => {
                for m in reader {
                    let m = m?;
                    writeln!(out, "  (memory {} {:?})", m.initial, m.maximum)?;
                }
            }
            Payload::GlobalSection(reader) => {
                for (i, g) in reader.into_iter().enumerate() {
                    let g = g?;
                    let init = const_ops(&g.init_expr)?;
                    let mutable = if g.ty.mutable { "mut " } else { "" };
                    writeln!(out, "  (global {i} {mutable}{} {init})", g.ty.content_type)?;
                }
            }
            Payload::ExportSection(reader) => {
                for e in reader {
                    let e = e?;
                    writeln!(out, "  (export {:?} ({:?} {}))", e.name, e.kind, e.index)?;
                }
            }
            Payload::StartSection { func, .. } => writeln!(out, "  (start {func})")?,
            Payload::ElementSection(reader) => {
                for e in reader {
                    let e = e?;
                    let kind = match &e.kind {
                        wasmparser::ElementKind::Active { table_index, offset_expr } => {
                            format!("active table {:?} offset {}", table_index, const_ops(offset_expr)?)
                        }
                        wasmparser::ElementKind::Passive => "passive".to_string(),
                        wasmparser::ElementKind::Declared => "declared".to_string(),
                    };
                    let items = match e.items {
                        wasmparser::ElementItems::Functions(r) => {
                            let fs = r.into_iter().collect::<Result<Vec<_>, _>>()?;
                            format!("funcs {fs:?}")
                        }
                        wasmparser::ElementItems::Expressions(ty, r) => {
                            let mut es = Vec::new();
                            for expr in r {
                                es.push(const_ops(&expr?)?);
                            }
                            format!("{ty:?} {es:?}")
                        }
                    };
                    writeln!(out, "  (elem {kind} {items})")?;
                }
            }
            Payload::DataSection(reader) => {
                for d in reader {
                    let d = d?;
                    let kind = match &d.kind {
                        wasmparser::DataKind::Active { memory_index, offset_expr } => {
                            format!("active memory {memory_index} offset {}", const_ops(offset_expr)?)
                        }
                        wasmparser::DataKind::Passive => "passive".to_string(),
                    };
                    let shown = &d.data[..d.data.len().min(64)];
                    let more = if d.data.len() > shown.len() { "..." } else { "" };
                    writeln!(out, "  (data {kind} len {} {}{more})", d.data.len(), hex(shown))?;
                }
            }
            Payload::CodeSectionEntry(body) => {
                let index = imported_funcs + next_body;
                next_body += 1;
                let ty = func_types.get(index).copied().unwrap_or(u32::MAX);
                write!(out, "  (func {index} (type {ty})")?;
                for local in body.get_locals_reader()? {
                    let (count, t) = local?;
                    write!(out, " (local {count} x {t})")?;
                }
                writeln!(out)?;
                let mut depth = 2usize;
                let mut reader = body.get_operators_reader()?;
                while !reader.eof() {
                    let op = reader.read()?;
                    let (before, after) = match op {
                        Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => (0, 1),
                        Operator::Else => (-1, 1),
                        Operator::End => (-1, 0),
                        _ => (0, 0),
                    };
                    depth = depth.saturating_add_signed(before);
                    writeln!(out, "{:width$}{op:?}", "", width = depth * 2)?;
                    depth = depth.saturating_add_signed(after);
                }
                writeln!(out, "  )")?;
            }
            _ => {}
        }
    }
    writeln!(out, ")")?;
    Ok(())
}

fn const_ops(expr: &wasmparser::ConstExpr<'_>) -> Result<String, wasmparser::BinaryReaderError> {
    let mut ops = Vec::new();
    let mut reader = expr.get_operators_reader();
    while !reader.eof() {
        match reader.read()? {
            Operator::End => {}
            op => ops.push(format!("{op:?}")),
        }
    }
    Ok(format!("({})", ops.join(" ")))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
