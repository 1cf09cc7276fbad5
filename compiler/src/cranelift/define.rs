//! Defines a whole IR module in a Cranelift module, whichever kind: the in-process JIT and object emission
//! share this, so both produce the same functions, numbered the same way, with the same frame data.

use super::native::{self, Dispatch, StackBound};
use super::{translate, CompileError};
use cranelift_codegen::Context;
use cranelift_frontend::FunctionBuilderContext;
use cranelift_module::{DataDescription, FuncId, Linkage, Module, ModuleError};

/// What defining a module produced.
pub struct Defined {
    /// The entry trampoline (an [`native::EntryFn`]).
    pub entry: FuncId,
    /// What the trampoline dispatches to.
    pub dispatch: Dispatch,
    /// Bytes of machine code of all functions.
    pub code_size: usize,
    /// The native stack bound computed from the functions' frames.
    pub stack: StackBound,
}

/// Declares and defines every function of `module` in `target` (function `i` of the IR module is
/// Cranelift function `i`, which the translation's external names rely on), then the entry trampoline
/// under `entry_name` with `entry_linkage`, then the `call_indirect` dispatchers (local `zvm_dispatch<k>`,
/// Cranelift function `functions + 1 + k`) and, for a module with `call_indirect`, its function table
/// (local read-only data `zvm_funcs`, the only data: [`translate::FUNC_TABLE`]).
pub fn define_module<M: Module>(
    target: &mut M,
    module: &zvm_ir::Module,
    entry_name: &str,
    entry_linkage: Linkage,
) -> Result<Defined, CompileError> {
    let call_conv = target.isa().default_call_conv();
    let n = module.functions.len();
    let mut ids = Vec::with_capacity(n + 1);
    for (i, f) in module.functions.iter().enumerate() {
        let sig = translate::function_signature(&f.sig);
        let id = target
            .declare_function(&format!("zvm_fn{i}"), Linkage::Local, &sig)
            .map_err(|e| CompileError::Codegen(e.to_string()))?;
        ids.push(id);
    }
    let entry = target
        .declare_function(entry_name, entry_linkage, &translate::entry_signature(call_conv))
        .map_err(|e| CompileError::Codegen(e.to_string()))?;
    ids.push(entry);
    let dispatchers = translate::Dispatchers::of(module);
    for k in 0..dispatchers.len() {
        let ty = &module.types[dispatchers.type_of(k) as usize];
        let id = target
            .declare_function(&format!("zvm_dispatch{k}"), Linkage::Local, &translate::dispatcher_signature(ty))
            .map_err(|e| CompileError::Codegen(e.to_string()))?;
        ids.push(id);
    }
    if ids.iter().enumerate().any(|(i, id)| id.as_u32() as usize != i) {
        return Err(CompileError::Codegen("unexpected function numbering in the Cranelift module".into()));
    }

    let mut fctx = FunctionBuilderContext::new();
    let mut ctx = target.make_context();
    let mut code_size = 0usize;
    let mut frames = Vec::with_capacity(ids.len());
    for (i, &id) in ids.iter().enumerate() {
        ctx.func = match i.cmp(&n) {
            std::cmp::Ordering::Less => {
                translate::translate_function(module, &dispatchers, i, target.isa(), &mut fctx)?
            }
            std::cmp::Ordering::Equal => translate::entry_trampoline(module, target.isa(), &mut fctx)?,
            std::cmp::Ordering::Greater => {
                translate::dispatcher(module, &dispatchers, i - n - 1, target.isa(), &mut fctx)?
            }
        };
        target.define_function(id, &mut ctx).map_err(|e| {
            let name = match module.functions.get(i) {
                Some(f) => f.name.clone(),
                None if i == n => "entry trampoline".to_string(),
                None => format!("call_indirect dispatcher {}", i - n - 1),
            };
            module_error(e, &ctx).context(&name)
        })?;
        let compiled = ctx.compiled_code().expect("a defined function has code");
        code_size += compiled.code_info().total_size as usize;
        frames.push(native::frame_bytes(compiled));
        target.clear_context(&mut ctx);
    }
    if !dispatchers.is_empty() {
        define_func_table(target, &dispatchers, &ids[..n])?;
    }
    Ok(Defined { entry, dispatch: Dispatch::of(module), code_size, stack: StackBound::from_frames(module, &frames) })
}

/// Declares and defines the function table ([`translate::FUNC_TABLE`]): per function of the module (`funcs`,
/// all of them in order), its address and its signature class.
fn define_func_table<M: Module>(
    target: &mut M,
    dispatchers: &translate::Dispatchers,
    funcs: &[FuncId],
) -> Result<(), CompileError> {
    let codegen = |e: ModuleError| CompileError::Codegen(e.to_string());
    let id = target.declare_data("zvm_funcs", Linkage::Local, false, false).map_err(codegen)?;
    if id.as_u32() != translate::FUNC_TABLE {
        return Err(CompileError::Codegen("unexpected data numbering in the Cranelift module".into()));
    }
    let entry = translate::FUNC_TABLE_ENTRY as usize;
    let mut bytes = vec![0u8; funcs.len() * entry];
    for (f, chunk) in bytes.chunks_exact_mut(entry).enumerate() {
        chunk[8..].copy_from_slice(&dispatchers.class_of(f as u32).to_le_bytes());
    }
    let mut desc = DataDescription::new();
    desc.define(bytes.into_boxed_slice());
    desc.set_align(8);
    for (f, &func) in funcs.iter().enumerate() {
        let fref = target.declare_func_in_data(func, &mut desc);
        desc.write_function_addr((f * entry) as u32, fref);
    }
    target.define_data(id, &desc).map_err(codegen)?;
    Ok(())
}

fn module_error(e: ModuleError, ctx: &Context) -> CompileError {
    match e {
        ModuleError::Compilation(err) => {
            CompileError::Codegen(cranelift_codegen::print_errors::pretty_error(&ctx.func, err))
        }
        other => CompileError::Codegen(other.to_string()),
    }
}
