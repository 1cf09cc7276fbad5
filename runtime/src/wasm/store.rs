//! A store of WebAssembly instances that import from one another (cross-module linking).
//!
//! # Objects and who holds them
//! Memories, tables and global cells are the store's objects; an instance refers to them by index, and
//! two instances share one when one imports what the other exports. While an instance runs, its frame
//! holds its objects (moved out of the store: `Frame::attach`). A call into another instance
//! ([`Linker::call`]) first moves the caller's objects back, runs the callee on its own frame with its
//! own objects, then moves the caller's objects out again. Execution is single-threaded and calls nest,
//! so every object is held by exactly one place at any moment and every instance sees the others' writes.
//! Globals are cells copied into the frame and back, which is the same thing for 8-byte values.
//!
//! # Function references
//! A reference is tagged with its instance (`zvm_ir::Op::RefFunc`); instance `i` of a store has tag
//! `i + 1`. `call_indirect` of a reference with another instance's tag comes here; so do calls of
//! imported functions, which the frontend lowers to `call_indirect` of the exporter's reference
//! ([`ImportedFunc::Linked`]). The callee's signature is checked against the caller's type, the callee
//! runs at the caller's call depth and with the caller's gas, so depth limits and gas are exact across
//! instances, and the nested frame gets a fresh native stack segment when the current one runs low.
//!
//! # Failed instantiation
//! As the specification has it, an instantiation that traps (an element or data segment out of bounds,
//! a trapping start function) leaves what it already wrote to shared memories and tables, and its
//! functions stay callable through references it stored: the instance stays in the store, unreachable by
//! name.

use super::{InvokeError, WasmInstance, WasmProgram};
use crate::executor::Invocation;
use crate::frame::{Exit, ForeignCall, FrameResult, Instance, Linkage, Linker, Message};
use crate::host::{Host, InMemoryHost};
use crate::limits::Limits;
use crate::memory::LinearMemory;
use crate::vm::{Vm, STACK_RED_ZONE, STACK_SEGMENT};
use std::cell::RefCell;
use std::mem::take;
use std::rc::Rc;
use std::sync::Arc;
use zvm_compiler::frontend::wasm::{
    Export, GlobalRef, GlobalType, ImportedFunc, ImportedGlobal, Imports, LinkTarget, WasmFuncType, WasmType,
};
use zvm_ir::{semantics, FuncId, MemoryPlan, Signature, TablePlan, TrapCode, Type, WASM_PAGE};

/// The tag of instance `index` (see the module docs).
fn tag(index: usize) -> u64 {
    index as u64 + 1
}

/// Instances that can import from one another, and the memories, tables and globals they share.
pub struct Store {
    limits: Limits,
    objects: RefCell<Objects>,
}

#[derive(Default)]
struct Objects {
    memories: Vec<LinearMemory>,
    tables: Vec<Vec<u64>>,
    globals: Vec<u64>,
    instances: Vec<Slot>,
    /// Names instances are registered under for importers, latest last.
    registered: Vec<(String, usize)>,
}

/// One instance: its program and which objects it uses.
struct Slot {
    program: Arc<WasmProgram>,
    memory: usize,
    tables: Vec<usize>,
    globals: Vec<usize>,
    dropped: Vec<bool>,
    dropped_elems: Vec<bool>,
}

/// What an import names in a store.
enum Resolved {
    /// No instance is registered under the module name: the embedder's own imports answer.
    Elsewhere,
    /// A registered instance does not export the name.
    Missing,
    Found(usize, Export),
}

impl Objects {
    fn resolve(&self, module: &str, name: &str) -> Resolved {
        let Some(&(_, index)) = self.registered.iter().rev().find(|(n, _)| n == module) else {
            return Resolved::Elsewhere;
        };
        match self.instances[index].program.export(name) {
            Some(export) => Resolved::Found(index, export),
            None => Resolved::Missing,
        }
    }

    /// Moves instance `index`'s objects out, for a frame.
    fn take_state(&mut self, index: usize) -> Instance {
        let Objects { memories, tables, globals, instances, .. } = self;
        let slot = &mut instances[index];
        Instance {
            memory: take(&mut memories[slot.memory]),
            globals: slot.globals.iter().map(|&g| globals[g]).collect(),
            dropped: take(&mut slot.dropped),
            tables: slot.tables.iter().map(|&t| take(&mut tables[t])).collect(),
            dropped_elems: take(&mut slot.dropped_elems),
        }
    }

    /// Moves instance `index`'s objects back from a frame.
    fn put_state(&mut self, index: usize, state: Instance) {
        let Objects { memories, tables, globals, instances, .. } = self;
        let slot = &mut instances[index];
        memories[slot.memory] = state.memory;
        for (&g, value) in slot.globals.iter().zip(state.globals) {
            globals[g] = value;
        }
        slot.dropped = state.dropped;
        for (&t, table) in slot.tables.iter().zip(state.tables) {
            tables[t] = table;
        }
        slot.dropped_elems = state.dropped_elems;
    }

    /// A new instance of `program`: its imports bound to the objects of the instances that export them,
    /// fresh objects for the rest (within `limits`).
    fn bind(&mut self, program: &Arc<WasmProgram>, limits: &Limits) -> Result<Slot, InvokeError> {
        let module = program.contract.module();
        let mut memory = None;
        let mut tables = vec![None; module.tables.len()];
        let mut globals = vec![None; module.globals.len()];
        for link in &program.links {
            let found = match self.resolve(&link.module, &link.name) {
                Resolved::Elsewhere => continue,
                Resolved::Missing => None,
                Resolved::Found(index, export) => {
                    let slot = &self.instances[index];
                    match (link.target, export) {
                        (LinkTarget::Memory, Export::Memory) => {
                            memory = Some(slot.memory);
                            Some(())
                        }
                        (LinkTarget::Table(t), Export::Table(u)) => {
                            tables[t as usize] = Some(slot.tables[u as usize]);
                            Some(())
                        }
                        (LinkTarget::Global(g), Export::Global(GlobalRef::Ir(h))) => {
                            globals[g as usize] = Some(slot.globals[h as usize]);
                            Some(())
                        }
                        _ => None,
                    }
                }
            };
            if found.is_none() {
                return Err(InvokeError::Unlinkable(format!("{}.{} cannot be bound", link.module, link.name)));
            }
        }
        let shared = |ids: &[Option<usize>]| {
            let mut seen: Vec<usize> = ids.iter().flatten().copied().collect();
            seen.sort_unstable();
            seen.windows(2).any(|w| w[0] == w[1])
        };
        if shared(&tables) || shared(&globals) {
            // One frame holds an object once; the same object under two indices is not supported.
            return Err(InvokeError::Unlinkable("the same table or global imported twice".into()));
        }

        let memory = match memory {
            Some(m) => m,
            None => {
                self.memories.push(Instance::fresh_memory(&module.memory, limits).map_err(InvokeError::Trap)?);
                self.memories.len() - 1
            }
        };
        let fresh = module.tables.iter().zip(&tables).filter(|(_, t)| t.is_none()).map(|(p, _)| p.min);
        Instance::check_table_elements(fresh, limits).map_err(InvokeError::Trap)?;
        let tables = module
            .tables
            .iter()
            .zip(tables)
            .map(|(plan, t)| {
                t.unwrap_or_else(|| {
                    self.tables.push(vec![0; plan.min as usize]);
                    self.tables.len() - 1
                })
            })
            .collect();
        let globals = globals
            .into_iter()
            .map(|g| {
                g.unwrap_or_else(|| {
                    self.globals.push(0);
                    self.globals.len() - 1
                })
            })
            .collect();
        Ok(Slot {
            program: Arc::clone(program),
            memory,
            tables,
            globals,
            dropped: vec![false; module.data.len()],
            dropped_elems: vec![false; module.elems.len()],
        })
    }
}

impl Store {
    /// An empty store whose instances run within `limits`.
    pub fn new(limits: Limits) -> Store {
        Store { limits, objects: RefCell::default() }
    }

    /// Instantiates `program` (loaded with [`Store::imports`] of this store, or without store imports):
    /// binds its imports, then runs its instantiation code (global initializers, element and data
    /// segments, start function) with `gas` gas.
    pub fn instantiate(self: &Rc<Self>, program: &Arc<WasmProgram>, gas: u64) -> Result<WasmInstance, InvokeError> {
        let index = {
            let mut objects = self.objects.borrow_mut();
            if objects.instances.len() >= u32::MAX as usize - 1 {
                return Err(InvokeError::Unlinkable("the store is full".into()));
            }
            let slot = objects.bind(program, &self.limits)?;
            objects.instances.push(slot);
            objects.instances.len() - 1
        };
        let mut instance = WasmInstance { store: Rc::clone(self), index, gas_used: 0 };
        instance.call(program.contract.module().entry, &mut [], gas)?;
        Ok(instance)
    }

    /// Makes `instance`'s exports importable as module `name` (replacing an earlier registration).
    pub fn register(&self, name: &str, instance: &WasmInstance) {
        self.objects.borrow_mut().registered.push((name.to_string(), instance.index));
    }

    /// Imports that resolve the modules registered in this store to their instances' exports, and every
    /// other module with `elsewhere`.
    pub fn imports<'s>(&'s self, elsewhere: &'s dyn Imports) -> StoreImports<'s> {
        StoreImports { store: self, elsewhere }
    }

    pub(super) fn program(&self, index: usize) -> Arc<WasmProgram> {
        Arc::clone(&self.objects.borrow().instances[index].program)
    }

    pub(super) fn snapshot(&self, index: usize) -> Instance {
        let mut objects = self.objects.borrow_mut();
        let state = objects.take_state(index);
        // A copy to look at, not to run: its memory is a plain vector.
        let copy = Instance {
            memory: state.memory.to_vec().into(),
            globals: state.globals.clone(),
            dropped: state.dropped.clone(),
            tables: state.tables.clone(),
            dropped_elems: state.dropped_elems.clone(),
        };
        objects.put_state(index, state);
        copy
    }

    pub(super) fn global(&self, index: usize, name: &str) -> Option<(Type, u64)> {
        let objects = self.objects.borrow();
        let slot = &objects.instances[index];
        match slot.program.export(name)? {
            Export::Global(GlobalRef::Ir(i)) => {
                let ty = *slot.program.contract.module().globals.get(i as usize)?;
                Some((ty, super::mask(ty, objects.globals[slot.globals[i as usize]])))
            }
            Export::Global(GlobalRef::Const(c)) => Some((c.ty.ir(), c.bits)),
            _ => None,
        }
    }

    /// Invokes function `func` of instance `index` from outside any instance: returns how it stopped
    /// (`None`: it returned) and the gas left.
    pub(super) fn invoke(&self, index: usize, func: FuncId, values: &mut [u64], gas: u64) -> (Option<Exit>, u64) {
        let program = self.program(index);
        let vm = Vm::new(program.contract.tier(), self.limits.clone());
        let msg = Message { gas_limit: gas, ..Message::default() };
        let mut gas_left = gas;
        let exit = self.run(
            index,
            func,
            values,
            Context { gas_left: &mut gas_left, call_depth: 0, vm: &vm, host: &mut InMemoryHost::default(), msg: &msg },
        );
        (exit, gas_left)
    }

    /// Runs function `func` of instance `index` on a frame of its own.
    fn run(&self, index: usize, func: FuncId, values: &mut [u64], cx: Context<'_>) -> Option<Exit> {
        let (program, state) = {
            let mut objects = self.objects.borrow_mut();
            (Arc::clone(&objects.instances[index].program), objects.take_state(index))
        };
        let msg = Message { gas_limit: *cx.gas_left, ..cx.msg.clone() };
        let linkage = Linkage { linker: self, tag: tag(index) as u32, call_depth: cx.call_depth };
        let call = Invocation { func, values, linkage: Some(linkage) };
        let (state, exit, gas_left) = program.contract.invoke(cx.vm, &msg, cx.host, state, call);
        self.objects.borrow_mut().put_state(index, state);
        *cx.gas_left = gas_left;
        exit
    }

    /// The instance and function of reference `r`, if it has signature `sig`.
    fn callee(&self, r: u64, sig: &Signature) -> FrameResult<(usize, FuncId)> {
        let mismatch = Exit::Trap(TrapCode::IndirectCallTypeMismatch);
        let objects = self.objects.borrow();
        let (tag, func) = semantics::func_ref_parts(r).ok_or(mismatch)?;
        let index = (tag as usize).checked_sub(1).filter(|&i| i < objects.instances.len()).ok_or(mismatch)?;
        let module = objects.instances[index].program.contract.module();
        match module.functions.get(func as usize) {
            Some(f) if f.sig == *sig && FuncId(func) != module.entry => Ok((index, FuncId(func))),
            _ => Err(mismatch),
        }
    }
}

/// What a run inherits from its caller.
struct Context<'c> {
    gas_left: &'c mut u64,
    call_depth: u64,
    vm: &'c Vm,
    host: &'c mut dyn Host,
    msg: &'c Message,
}

impl Linker for Store {
    fn call(&self, call: ForeignCall<'_>, state: Instance) -> (Instance, FrameResult<()>) {
        let caller = (call.caller as usize).wrapping_sub(1);
        if caller >= self.objects.borrow().instances.len() {
            return (state, Err(Exit::Trap(TrapCode::HostError)));
        }
        let (index, func) = match self.callee(call.target, call.sig) {
            Ok(callee) => callee,
            Err(exit) => return (state, Err(exit)),
        };
        self.objects.borrow_mut().put_state(caller, state);
        let ForeignCall { values, gas_left, call_depth, vm, host, msg, .. } = call;
        let cx = Context { gas_left, call_depth, vm, host, msg };
        let exit = stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || self.run(index, func, values, cx));
        let state = self.objects.borrow_mut().take_state(caller);
        (state, exit.map_or(Ok(()), Err))
    }
}

/// A store's imports (see [`Store::imports`]).
pub struct StoreImports<'s> {
    store: &'s Store,
    elsewhere: &'s dyn Imports,
}

impl StoreImports<'_> {
    /// Export `module.name` if a registered instance has it (`Ok(None)`: the module is not the store's).
    fn find(&self, module: &str, name: &str) -> Result<Option<(usize, Export)>, String> {
        match self.store.objects.borrow().resolve(module, name) {
            Resolved::Elsewhere => Ok(None),
            Resolved::Missing => Err(format!("{module}.{name}: no such export")),
            Resolved::Found(index, export) => Ok(Some((index, export))),
        }
    }
}

fn incompatible(module: &str, name: &str) -> String {
    format!("{module}.{name}: incompatible import type")
}

impl Imports for StoreImports<'_> {
    fn func(&self, module: &str, name: &str, ty: &WasmFuncType) -> Result<ImportedFunc, String> {
        let Some((index, export)) = self.find(module, name)? else { return self.elsewhere.func(module, name, ty) };
        let objects = self.store.objects.borrow();
        match export {
            Export::Func(f) if objects.instances[index].program.funcs.get(f.index()) == Some(ty) => {
                Ok(ImportedFunc::Linked(semantics::func_ref(tag(index), f.0)))
            }
            _ => Err(incompatible(module, name)),
        }
    }

    fn global(&self, module: &str, name: &str, ty: WasmType) -> Result<ImportedGlobal, String> {
        let Some((index, export)) = self.find(module, name)? else {
            return self.elsewhere.global(module, name, ty);
        };
        let objects = self.store.objects.borrow();
        let slot = &objects.instances[index];
        match (export, slot.program.global_type(export)) {
            (Export::Global(GlobalRef::Ir(g)), Some(GlobalType { ty: t, mutable: false })) if t == ty => {
                Ok(ImportedGlobal { ty, bits: objects.globals[slot.globals[g as usize]] })
            }
            (Export::Global(GlobalRef::Const(c)), Some(GlobalType { ty: t, .. })) if t == ty => Ok(c),
            _ => Err(incompatible(module, name)),
        }
    }

    fn mutable_global(&self, module: &str, name: &str, ty: WasmType) -> Result<(), String> {
        let Some((index, export)) = self.find(module, name)? else {
            return self.elsewhere.mutable_global(module, name, ty);
        };
        let objects = self.store.objects.borrow();
        match objects.instances[index].program.global_type(export) {
            Some(GlobalType { ty: t, mutable: true }) if t == ty => Ok(()),
            _ => Err(incompatible(module, name)),
        }
    }

    fn memory(&self, module: &str, name: &str, min_pages: u64, max_pages: Option<u64>) -> Result<MemoryPlan, String> {
        let Some((index, export)) = self.find(module, name)? else {
            return self.elsewhere.memory(module, name, min_pages, max_pages);
        };
        let objects = self.store.objects.borrow();
        let slot = &objects.instances[index];
        match export {
            Export::Memory => Ok(MemoryPlan {
                min_pages: objects.memories[slot.memory].len() as u64 / WASM_PAGE,
                max_pages: slot.program.contract.module().memory.max_pages,
                guarded: objects.memories[slot.memory].is_reserved(),
            }),
            _ => Err(incompatible(module, name)),
        }
    }

    fn table(&self, module: &str, name: &str, elem: WasmType, min: u64, max: Option<u64>) -> Result<TablePlan, String> {
        let Some((index, export)) = self.find(module, name)? else {
            return self.elsewhere.table(module, name, elem, min, max);
        };
        let objects = self.store.objects.borrow();
        let slot = &objects.instances[index];
        match export {
            Export::Table(t) if slot.program.tables.get(t as usize) == Some(&elem) => Ok(TablePlan {
                min: objects.tables[slot.tables[t as usize]].len() as u64,
                max: slot.program.contract.module().tables[t as usize].max,
            }),
            _ => Err(incompatible(module, name)),
        }
    }
}
