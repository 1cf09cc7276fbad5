//! The printer. Total: it prints whatever a module holds, including out-of-range handles, without panicking.

use super::{binop_name, convop_name, is_bare_name, ternop_name, unop_name};
use crate::entities::{FuncId, Inst, Value};
use crate::function::{Function, MemoryPlan, Module};
use crate::instructions::{BlockCall, ConvOp, HaltKind, MemAccess, Op};
use crate::types::Type;
use std::fmt::Write;

/// Prints a whole module: an `entry fnN` line when the entry is not `fn0`, then every function, separated by
/// blank lines.
pub fn print(module: &Module) -> String {
    let mut out = String::new();
    let mut header = false;
    if module.entry != FuncId(0) {
        let _ = writeln!(out, "entry {}", module.entry);
        header = true;
    }
    if !module.canonical_nans {
        out.push_str("nans native\n");
        header = true;
    }
    if module.memory != MemoryPlan::default() {
        let _ = write!(out, "memory {}", module.memory.min_pages);
        if let Some(max) = module.memory.max_pages {
            let _ = write!(out, ", {max}");
        }
        if module.memory.guarded {
            out.push_str(" guarded");
        }
        out.push('\n');
        header = true;
    }
    for ty in &module.globals {
        let _ = writeln!(out, "global {ty}");
        header = true;
    }
    for t in &module.tables {
        let _ = write!(out, "table {}", t.min);
        if let Some(max) = t.max {
            let _ = write!(out, ", {max}");
        }
        out.push('\n');
        header = true;
    }
    for seg in &module.elems {
        out.push_str("elem [");
        for (i, r) in seg.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{r}");
        }
        out.push_str("]\n");
        header = true;
    }
    for sig in &module.types {
        out.push_str("type (");
        write_types(&mut out, &sig.params);
        out.push(')');
        if !sig.results.is_empty() {
            out.push_str(" -> ");
            write_types(&mut out, &sig.results);
        }
        out.push('\n');
        header = true;
    }
    for seg in &module.data {
        out.push_str("data 0x");
        for byte in seg {
            let _ = write!(out, "{byte:02x}");
        }
        out.push('\n');
        header = true;
    }
    if header && !module.functions.is_empty() {
        out.push('\n');
    }
    for (i, func) in module.functions.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        write_function(&mut out, func, Some(FuncId::new(i)));
    }
    out
}

/// Prints one function.
pub fn print_function(func: &Function) -> String {
    let mut out = String::new();
    write_function(&mut out, func, None);
    out
}

/// Prints one instruction the way it appears in its function's text (without indentation or newline).
pub fn print_inst(func: &Function, inst: Inst) -> String {
    let mut out = String::new();
    write_inst(&mut out, func, inst);
    out
}

pub(crate) fn write_name(out: &mut String, name: &str) {
    out.push('%');
    if is_bare_name(name) {
        out.push_str(name);
        return;
    }
    out.push('"');
    for c in name.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_types(out: &mut String, types: &[Type]) {
    for (i, t) in types.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(t.name());
    }
}

fn write_function(out: &mut String, func: &Function, id: Option<FuncId>) {
    out.push_str("function ");
    write_name(out, &func.name);
    out.push('(');
    write_types(out, &func.sig.params);
    out.push(')');
    if !func.sig.results.is_empty() {
        out.push_str(" -> ");
        write_types(out, &func.sig.results);
    }
    out.push_str(" {");
    if let Some(id) = id {
        let _ = write!(out, "  ; {id}");
    }
    out.push('\n');
    for b in func.block_ids() {
        let data = func.block(b);
        let _ = write!(out, "{b}");
        if !data.params.is_empty() {
            out.push('(');
            for (i, &p) in data.params.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let ty = func.values.get(p.index()).map_or("?", |d| d.ty.name());
                let _ = write!(out, "{p}: {ty}");
            }
            out.push(')');
        }
        out.push_str(":\n");
        for &inst in &data.insts {
            out.push_str("    ");
            write_inst(out, func, inst);
            out.push('\n');
        }
    }
    out.push_str("}\n");
}

fn write_values(out: &mut String, values: &[Value]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{v}");
    }
}

fn write_block_call(out: &mut String, call: &BlockCall) {
    let _ = write!(out, "{}", call.block);
    if !call.args.is_empty() {
        out.push('(');
        write_values(out, &call.args);
        out.push(')');
    }
}

/// `.<width>[s].<be|le>`
fn write_access(out: &mut String, access: &MemAccess) {
    let _ = write!(
        out,
        ".{}{}.{}",
        access.width,
        if access.signed { "s" } else { "" },
        if access.big_endian { "be" } else { "le" }
    );
}

fn write_addr(out: &mut String, addr: Value, offset: u32) {
    let _ = write!(out, "{addr}");
    if offset != 0 {
        let _ = write!(out, "+{offset}");
    }
}

fn write_inst(out: &mut String, func: &Function, inst: Inst) {
    let Some(data) = func.insts.get(inst.index()) else {
        let _ = write!(out, "; {inst} does not exist");
        return;
    };
    if !data.results.is_empty() {
        write_values(out, &data.results);
        out.push_str(" = ");
    }
    write_op(out, &data.op);
}

fn write_op(out: &mut String, op: &Op) {
    // Each arm writes the opcode and its operands; `let _ =` because writing to a String cannot fail.
    let _ = match op {
        Op::Iconst { ty, imm } => write!(out, "iconst.{ty} {imm}"),
        Op::Fconst { ty, bits } => {
            let value = match ty {
                Type::F32 => format!("{:?}", f32::from_bits(*bits as u32)),
                _ => format!("{:?}", f64::from_bits(*bits)),
            };
            write!(out, "fconst.{ty} {bits:#x}  ; {value}")
        }
        Op::Wconst { imm } => write!(out, "wconst {imm:#x}"),
        Op::Unary { op, arg } => write!(out, "{} {arg}", unop_name(*op)),
        Op::Binary { op, args } => write!(out, "{} {}, {}", binop_name(*op), args[0], args[1]),
        Op::Ternary { op, args } => write!(out, "{} {}, {}, {}", ternop_name(*op), args[0], args[1], args[2]),
        Op::Convert { op: ConvOp::SatU64, to: Type::I64, arg } => write!(out, "satu64 {arg}"),
        Op::Convert { op, to, arg } => write!(out, "{}.{to} {arg}", convop_name(*op)),
        Op::FUnary { op, arg } => write!(out, "{} {arg}", op.name()),
        Op::FBinary { op, args } => write!(out, "{} {}, {}", op.name(), args[0], args[1]),
        Op::Select { cond, args } => write!(out, "select {cond}, {}, {}", args[0], args[1]),
        Op::Load { ty, access, addr } => {
            let _ = write!(out, "load.{ty}");
            write_access(out, access);
            out.push(' ');
            write_addr(out, *addr, access.offset);
            Ok(())
        }
        Op::Store { access, addr, value } => {
            out.push_str("store");
            write_access(out, access);
            out.push(' ');
            write_addr(out, *addr, access.offset);
            write!(out, ", {value}")
        }
        Op::MemSize => write!(out, "mem.size"),
        Op::MemExpand { args } => write!(out, "mem.expand {}, {}", args[0], args[1]),
        Op::MemCopy { args } => write!(out, "mem.copy {}, {}, {}", args[0], args[1], args[2]),
        Op::MemGrow { arg } => write!(out, "mem.grow {arg}"),
        Op::MemFill { args } => write!(out, "mem.fill {}, {}, {}", args[0], args[1], args[2]),
        Op::MemInit { seg, args } => write!(out, "mem.init {seg} {}, {}, {}", args[0], args[1], args[2]),
        Op::DataDrop { seg } => write!(out, "data.drop {seg}"),
        Op::GlobalGet { index } => write!(out, "global.get {index}"),
        Op::TableGet { table, arg } => write!(out, "table.get {table} {arg}"),
        Op::TableSet { table, args } => write!(out, "table.set {table} {}, {}", args[0], args[1]),
        Op::TableSize { table } => write!(out, "table.size {table}"),
        Op::TableGrow { table, args } => write!(out, "table.grow {table} {}, {}", args[0], args[1]),
        Op::TableFill { table, args } => write!(out, "table.fill {table} {}, {}, {}", args[0], args[1], args[2]),
        Op::TableCopy { dst, src, args } => {
            write!(out, "table.copy {dst} {src} {}, {}, {}", args[0], args[1], args[2])
        }
        Op::TableInit { table, seg, args } => {
            write!(out, "table.init {table} {seg} {}, {}, {}", args[0], args[1], args[2])
        }
        Op::ElemDrop { seg } => write!(out, "elem.drop {seg}"),
        Op::RefFunc { func } => write!(out, "ref.func {func}"),
        Op::CallIndirect { ty, table, args } => {
            let _ = write!(out, "call_indirect {ty} {table} ");
            match args.split_first() {
                Some((index, rest)) => {
                    let _ = write!(out, "{index}(");
                    write_values(out, rest);
                }
                None => out.push('('),
            }
            write!(out, ")")
        }
        Op::GlobalSet { index, value } => write!(out, "global.set {index}, {value}"),
        Op::Hash { alg, args } => write!(out, "hash.{} {}, {}", alg.name(), args[0], args[1]),
        Op::DataSize { src } => write!(out, "data.size {}", src.name()),
        Op::DataLoad { src, arg } => write!(out, "data.load {} {arg}", src.name()),
        Op::DataCopy { src, args } => write!(out, "data.copy {} {}, {}, {}", src.name(), args[0], args[1], args[2]),
        Op::StackCheck { min, growth } => write!(out, "stack.check {min}, {growth}"),
        Op::StackGet { depth } => write!(out, "stack.get {depth}"),
        Op::StackSet { depth, value } => write!(out, "stack.set {depth}, {value}"),
        Op::StackAdjust { delta } => write!(out, "stack.adjust {delta}"),
        Op::GasCost { amount } => write!(out, "gas.cost {amount}"),
        Op::GasBlock { amount } => write!(out, "gas.block {amount}"),
        Op::GasCharge { arg } => write!(out, "gas.charge {arg}"),
        Op::GasLeft => out.write_str("gas.left"),
        Op::HostCall { func, args } => {
            let _ = write!(out, "hostcall {}", func.name());
            if !args.is_empty() {
                out.push(' ');
                write_values(out, args);
            }
            Ok(())
        }
        Op::Call { func, args } => {
            let _ = write!(out, "call {func}(");
            write_values(out, args);
            write!(out, ")")
        }
        Op::Jump { dest } => {
            out.push_str("jump ");
            write_block_call(out, dest);
            Ok(())
        }
        Op::Brif { cond, then_dest, else_dest } => {
            let _ = write!(out, "brif {cond}, ");
            write_block_call(out, then_dest);
            out.push_str(", ");
            write_block_call(out, else_dest);
            Ok(())
        }
        Op::Switch { index, cases, default } => {
            let _ = write!(out, "switch {index}, [");
            for (i, (value, block)) in cases.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{value}: {block}");
            }
            write!(out, "], {default}")
        }
        Op::Return { args } => {
            out.push_str("return");
            if !args.is_empty() {
                out.push(' ');
                write_values(out, args);
            }
            Ok(())
        }
        Op::Halt { kind, args } => {
            let kind = match kind {
                HaltKind::Return => "return",
                HaltKind::Revert => "revert",
            };
            write!(out, "halt {kind} {}, {}", args[0], args[1])
        }
        Op::Trap { code } => write!(out, "trap {}", code.name()),
    };
}

/// The opcode of `op` as the text form writes it (`add`, `load.i32.8s.be`, `hostcall sload`, `halt revert`),
/// for messages.
pub(crate) fn opcode_name(op: &Op) -> String {
    let mut text = String::new();
    write_op(&mut text, op);
    let mut words = text.split_whitespace();
    let first = words.next().unwrap_or_default();
    match (first, words.next()) {
        ("hostcall" | "halt" | "trap", Some(second)) => format!("{first} {second}"),
        _ => first.to_string(),
    }
}
