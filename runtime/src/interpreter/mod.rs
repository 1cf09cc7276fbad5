//! The interpreter tier: runs IR directly, as the reference semantics and the production fallback.
//!
//! [`Program::new`] pre-lowers a module once into a compact form (module `lower`); [`run`] executes its entry
//! function on a [`Frame`], [`invoke`] any function with arguments. Every non-trivial operation (memory
//! expansion, copies, hashing, data buffers, the operand stack, host calls, halting) goes through the frame's
//! methods, which are also what the compiled tier's helpers call, and every arithmetic operation through
//! [`zvm_ir::semantics`]: the two tiers share one definition of everything they could disagree on.
//!
//! # Design
//! - Each function is lowered to a slice of one flat `Inst` array. Operands are register indices into the
//!   call's register window (`U256` slots; `i32`/`i64` values and float bits live zero-extended in the low
//!   limb). Branch targets are instruction indices.
//! - Registers: `[constants | long-lived values | block-local pool]`. Constants are deduplicated and copied
//!   into the window once per call (the constant instructions themselves disappear). Values that cross a
//!   block boundary (and all block parameters) get their own register; values that live inside one block
//!   share a small pool, reused at each value's last use.
//! - Operations whose operands are all constants are folded at lowering, with the same `semantics`
//!   functions (operations that would trap are left to trap at run time); pure operations whose results
//!   are unused are dropped.
//! - Block arguments become pre-sequentialized parallel copies (cycles broken through a scratch register).
//! - Calls use an explicit frame stack and one growing register vector (a callee's window follows its
//!   caller's), so recursion depth is bounded by `max_call_depth`, never by the native stack.
//! - Floats are IEEE bit patterns in the low limb (an `f32` zero-extended from 32 bits), computed with
//!   [`float_unary`], [`float_binary`] and [`float_convert`] of [`zvm_ir::semantics`]. Module globals are
//!   the frame's `u64` slots; an `i32`/`f32` global is its slot's low 4 bytes (the compiled tier writes only
//!   those), so reads mask.
//! - Tables live in the frame (`table_*` methods; references are `i64`: 0 null, `f + 1` function `f`).
//!   `call_indirect` asks the frame for its checked target, then makes the same call as `call` with that
//!   callee: one call path, one depth limit.

mod lower;

use crate::frame::{Exit, Frame};
use ruint::aliases::U256;
use zvm_compiler::abi::FOREIGN_FUNC;
use zvm_ir::semantics::{
    float_binary, float_convert, float_unary, func_ref, int_binary, int_unary, word_binary, word_ternary, word_unary,
};
use zvm_ir::{
    BinOp, ConvOp, DataSrc, FBinOp, FUnOp, FuncId, HaltKind, HashAlg, HostFn, Module, Signature, TernOp, TrapCode,
    Type, UnOp,
};

/// A register: an index into the current call's register window.
type Reg = u32;

/// Width class of an integer or float value, for conversions and narrow loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bits {
    B32,
    B64,
    B256,
}

impl Bits {
    fn of(ty: Type) -> Bits {
        match ty {
            Type::I32 | Type::F32 => Bits::B32,
            Type::I64 | Type::F64 => Bits::B64,
            Type::W256 => Bits::B256,
        }
    }

    /// Keeps the low bits of `x` that fit this width.
    #[inline]
    fn wrap(self, x: U256) -> U256 {
        match self {
            Bits::B32 => U256::from(x.as_limbs()[0] & 0xffff_ffff),
            Bits::B64 => U256::from(x.as_limbs()[0]),
            Bits::B256 => x,
        }
    }

    /// Keeps the low bits of a 64-bit pattern that fit this width.
    #[inline(always)]
    fn mask(self, x: u64) -> u64 {
        match self {
            Bits::B32 => x & 0xffff_ffff,
            Bits::B64 | Bits::B256 => x,
        }
    }

    /// Sign-extends a value of this width (already wrapped) to 256 bits.
    #[inline]
    fn sign_extend(self, x: U256) -> U256 {
        let lo = x.as_limbs()[0];
        let wide = match self {
            Bits::B32 => lo as u32 as i32 as i64,
            Bits::B64 => lo as i64,
            Bits::B256 => return x,
        };
        let hi = if wide < 0 { u64::MAX } else { 0 };
        U256::from_limbs([wide as u64, hi, hi, hi])
    }
}

/// A pre-computed integer conversion: truncate to `from`, extend (by sign if `signed`) to 256 bits,
/// truncate to `to`. Covers `zext`, `sext` and `trunc` between every pair of integer types.
#[derive(Clone, Copy, Debug)]
enum Conv {
    Ext { from: Bits, to: Bits, signed: bool },
    SatU64,
}

/// The shape of a memory access that is not a full big/little-endian word.
#[derive(Clone, Copy, Debug)]
struct Access {
    width: u8,
    signed: bool,
    big_endian: bool,
    /// Width class of the loaded type (loads only).
    out: Bits,
}

/// One pre-lowered instruction. Registers are `u32` indices into the register window.
#[derive(Clone, Copy, Debug)]
enum Inst {
    WUnary {
        op: UnOp,
        dst: Reg,
        a: Reg,
    },
    WBinary {
        op: BinOp,
        dst: Reg,
        a: Reg,
        b: Reg,
    },
    WTernary {
        op: TernOp,
        dst: Reg,
        a: Reg,
        b: Reg,
        c: Reg,
    },
    IUnary {
        op: UnOp,
        ty: Type,
        dst: Reg,
        a: Reg,
    },
    IBinary {
        op: BinOp,
        ty: Type,
        dst: Reg,
        a: Reg,
        b: Reg,
    },
    Convert {
        conv: Conv,
        dst: Reg,
        a: Reg,
    },
    /// `f32`/`f64` one-operand operation (`ty`: the operand's type).
    FUnary {
        op: FUnOp,
        ty: Type,
        dst: Reg,
        a: Reg,
    },
    /// `f32`/`f64` two-operand operation (`ty`: the operands' type).
    FBinary {
        op: FBinOp,
        ty: Type,
        dst: Reg,
        a: Reg,
        b: Reg,
    },
    /// A float conversion (`ftos` .. `bitcast`), from the operand's type `from` to `to`.
    FConvert {
        op: ConvOp,
        from: Type,
        to: Type,
        dst: Reg,
        a: Reg,
    },
    Select {
        wide: bool,
        dst: Reg,
        cond: Reg,
        a: Reg,
        b: Reg,
    },
    /// A 32-byte word access (`MLOAD`).
    LoadWord {
        big_endian: bool,
        dst: Reg,
        addr: Reg,
        offset: u32,
    },
    LoadNarrow {
        access: Access,
        dst: Reg,
        addr: Reg,
        offset: u32,
    },
    /// A 32-byte word access (`MSTORE`).
    StoreWord {
        big_endian: bool,
        addr: Reg,
        value: Reg,
        offset: u32,
    },
    StoreNarrow {
        access: Access,
        addr: Reg,
        value: Reg,
        offset: u32,
    },
    MemSize {
        dst: Reg,
    },
    MemExpand {
        offset: Reg,
        len: Reg,
    },
    MemCopy {
        dst: Reg,
        src: Reg,
        len: Reg,
    },
    MemGrow {
        dst: Reg,
        pages: Reg,
    },
    MemFill {
        dst: Reg,
        byte: Reg,
        len: Reg,
    },
    MemInit {
        seg: u32,
        dst: Reg,
        src: Reg,
        len: Reg,
    },
    DataDrop {
        seg: u32,
    },
    /// Reads global `index`; `narrow`: an `i32`/`f32` global (only the slot's low 4 bytes are its value).
    GlobalGet {
        narrow: bool,
        dst: Reg,
        index: u32,
    },
    GlobalSet {
        index: u32,
        value: Reg,
    },
    /// `ref.func`: a reference tagged with the running instance's tag.
    RefFunc {
        func: u32,
        dst: Reg,
    },
    TableGet {
        table: u32,
        dst: Reg,
        index: Reg,
    },
    TableSet {
        table: u32,
        index: Reg,
        value: Reg,
    },
    TableSize {
        table: u32,
        dst: Reg,
    },
    TableGrow {
        table: u32,
        dst: Reg,
        value: Reg,
        delta: Reg,
    },
    TableFill {
        table: u32,
        dst: Reg,
        value: Reg,
        len: Reg,
    },
    /// `table.copy dst src d, s, n`; `args`: the registers `d, s, n` in [`Program::regs`].
    TableCopy {
        dst: u32,
        src: u32,
        args: u32,
    },
    /// `table.init table seg d, s, n`; `args`: the registers `d, s, n` in [`Program::regs`].
    TableInit {
        table: u32,
        seg: u32,
        args: u32,
    },
    ElemDrop {
        seg: u32,
    },
    Hash {
        alg: HashAlg,
        dst: Reg,
        offset: Reg,
        len: Reg,
    },
    DataSize {
        src: DataSrc,
        dst: Reg,
    },
    DataLoad {
        src: DataSrc,
        dst: Reg,
        offset: Reg,
    },
    DataCopy {
        src: DataSrc,
        dst: Reg,
        offset: Reg,
        len: Reg,
    },
    StackCheck {
        min: u32,
        growth: u32,
    },
    StackGet {
        dst: Reg,
        depth: u32,
    },
    StackSet {
        depth: u32,
        value: Reg,
    },
    StackAdjust {
        delta: i32,
    },
    /// `gas.cost` and `gas.block`: the amount split in two halves to keep the instruction 4-aligned.
    Gas {
        lo: u32,
        hi: u32,
    },
    GasCharge {
        a: Reg,
    },
    GasLeft {
        dst: Reg,
    },
    /// Index into [`Program::host_calls`].
    HostCall {
        info: u32,
    },
    /// Index into [`Program::calls`].
    Call {
        info: u32,
    },
    /// A call of the function element `index` of `table` refers to, checked against the module's type `ty`:
    /// arguments and results as the call site `info` of [`Program::calls`] says (its `func` is unused).
    CallIndirect {
        info: u32,
        index: Reg,
        ty: u32,
        table: u32,
    },
    /// Runs `moves[mstart..mstart+mlen]`, then continues at `pc`.
    Jump {
        pc: u32,
        mstart: u32,
        mlen: u32,
    },
    /// A conditional branch whose edges carry block arguments (indices into [`Program::edges`]). `wide`:
    /// the condition is a `w256` (else only its low limb can be non-zero).
    Brif {
        wide: bool,
        cond: Reg,
        then_edge: u32,
        else_edge: u32,
    },
    /// A conditional branch without block arguments.
    BrifPlain {
        wide: bool,
        cond: Reg,
        then_pc: u32,
        else_pc: u32,
    },
    /// Index into [`Program::switches`].
    Switch {
        index: Reg,
        table: u32,
    },
    /// Returns the registers `regs[start..start+len]`.
    Return {
        start: u32,
        len: u32,
    },
    Halt {
        kind: HaltKind,
        offset: Reg,
        len: Reg,
    },
    Trap {
        code: TrapCode,
    },
}

/// A lowered function.
#[derive(Clone, Debug)]
struct FuncInfo {
    /// First instruction.
    entry_pc: u32,
    /// Size of the register window.
    nregs: u32,
    /// The constants, which occupy registers `0..nconsts`: `Program::consts[consts_start..][..nconsts]`.
    consts_start: u32,
    nconsts: u32,
    /// Registers of the parameters: `Program::regs[params_start..][..nparams]`.
    params_start: u32,
    nparams: u32,
}

/// A call site.
#[derive(Clone, Debug)]
struct CallInfo {
    /// The callee (direct calls; `u32::MAX` for `call_indirect`, whose callee is found at run time).
    func: u32,
    /// Argument registers (caller's window), in `Program::regs`.
    args_start: u32,
    nargs: u32,
    /// Result registers (caller's window), in `Program::regs`.
    rets_start: u32,
    nrets: u32,
}

/// A host call site.
#[derive(Clone, Debug)]
struct HostCallInfo {
    func: HostFn,
    args_start: u32,
    nargs: u32,
    dst: Option<Reg>,
}

/// One copy of a block argument. Narrow copies (`i32`, `i64`, floats) read only the low limb, which is
/// what the last write of the source produced: a full-width read of a value written as one limb plus
/// zeros would defeat the CPU's store forwarding.
#[derive(Clone, Copy, Debug)]
struct Move {
    dst: Reg,
    src: Reg,
    narrow: bool,
}

/// A branch edge with block arguments: the sequentialized copies, then the target.
#[derive(Clone, Copy, Debug)]
struct Edge {
    pc: u32,
    mstart: u32,
    mlen: u32,
}

/// A `switch` table: cases sorted by value (first occurrence wins), targets as instruction indices.
#[derive(Clone, Debug)]
struct SwitchTable {
    cases: Box<[(u64, u32)]>,
    default: u32,
}

impl SwitchTable {
    #[inline]
    fn target(&self, index: u64) -> u32 {
        match self.cases.binary_search_by_key(&index, |c| c.0) {
            Ok(i) => self.cases[i].1,
            Err(_) => self.default,
        }
    }
}

/// IR pre-lowered into the interpreter's compact form. Built once per module, reusable across runs (and
/// shareable between threads).
#[derive(Clone, Debug)]
pub struct Program {
    code: Vec<Inst>,
    funcs: Vec<FuncInfo>,
    entry: u32,
    consts: Vec<U256>,
    /// Register lists: call arguments and results, function parameters, returned values, host call args.
    regs: Vec<Reg>,
    /// Sequentialized block-argument copies.
    moves: Vec<Move>,
    edges: Vec<Edge>,
    calls: Vec<CallInfo>,
    host_calls: Vec<HostCallInfo>,
    switches: Vec<SwitchTable>,
    /// Signatures of the module's functions, by `FuncId` (`funcs` may have one more entry: the trapping
    /// stand-in for a missing entry function).
    sigs: Vec<Signature>,
}

impl Program {
    /// Pre-lowers `module`. The module is assumed to be verified; malformed IR does not panic here, it
    /// lowers to something memory-safe (typically a trap).
    pub fn new(module: &Module) -> Program {
        lower::lower_module(module)
    }

    /// Number of pre-lowered instructions (all functions).
    pub fn code_len(&self) -> usize {
        self.code.len()
    }

    /// Slice of a register list.
    #[inline]
    fn reg_list(&self, start: u32, len: u32) -> &[Reg] {
        &self.regs[start as usize..][..len as usize]
    }
}

/// Why the inner loop stopped.
enum Event {
    /// A call through call site `info` of [`Program::calls`] to function `func`.
    Call {
        info: u32,
        func: u32,
    },
    Return(u32, u32),
    Exit(Exit),
}

/// A suspended caller.
struct CallFrame {
    ret_pc: u32,
    base: usize,
    func: u32,
    call: u32,
}

/// Runs the module's entry function on `frame`. `None`: the entry function returned normally; `Some(exit)`:
/// the execution halted, trapped or ran out of gas.
pub fn run(program: &Program, frame: &mut Frame<'_>) -> Option<Exit> {
    call(program, frame, program.entry, &mut [])
}

/// Runs function `func` of the program on `frame` with arguments `values[..nparams]` (bit patterns, `i32`/`f32`
/// zero-extended; no `w256` parameters allowed), writing its results into `values[..nresults]` when it returns
/// normally (`w256` results are not written). `values.len()` must be at least max(params, results) of `func`.
/// `None`: returned normally; `Some(exit)`: stopped (halt / out of gas / trap). A function index out of
/// range, a `w256` parameter or a `values` too short gives `Some(Exit::Trap(TrapCode::HostError))`.
///
/// The invoked function runs at the frame's current call depth, like the entry function does under [`run`]:
/// only the calls it makes count against `max_call_depth`.
pub fn invoke(program: &Program, frame: &mut Frame<'_>, func: FuncId, values: &mut [u64]) -> Option<Exit> {
    let Some(sig) = program.sigs.get(func.index()) else {
        return Some(Exit::Trap(TrapCode::HostError));
    };
    if sig.params.contains(&Type::W256) || values.len() < sig.params.len().max(sig.results.len()) {
        return Some(Exit::Trap(TrapCode::HostError));
    }
    call(program, frame, func.0, values)
}

/// Runs lowered function `func` with arguments from `values` (as many as both have), writing the results it
/// returns to `values` (as many as fit, `w256` ones skipped). The frame's call depth is what it was before,
/// whichever way the function ends.
fn call(program: &Program, frame: &mut Frame<'_>, func: u32, values: &mut [u64]) -> Option<Exit> {
    let depth = frame.ctx.call_depth;
    let exit = call_inner(program, frame, func, values);
    frame.ctx.call_depth = depth;
    exit
}

#[inline(always)]
fn call_inner(program: &Program, frame: &mut Frame<'_>, entry_func: u32, values: &mut [u64]) -> Option<Exit> {
    let Some(entry) = program.funcs.get(entry_func as usize) else {
        return Some(Exit::Trap(TrapCode::Unreachable));
    };
    let mut regs: Vec<U256> = vec![U256::ZERO; entry.nregs as usize];
    load_consts(program, entry, &mut regs[..]);
    if !values.is_empty() {
        let params = program.reg_list(entry.params_start, entry.nparams);
        let types = program.sigs.get(entry_func as usize).map_or(&[][..], |s| &s.params[..]);
        for ((&p, &ty), &v) in params.iter().zip(types).zip(values.iter()) {
            regs[p as usize] = U256::from(Bits::of(ty).mask(v));
        }
    }
    let mut stack: Vec<CallFrame> = Vec::new();
    let mut base = 0usize;
    let mut func = entry_func;
    let mut nregs = entry.nregs as usize;
    let mut pc = entry.entry_pc;
    loop {
        match execute(program, frame, &mut regs[base..base + nregs], &mut pc) {
            Event::Exit(exit) => return Some(exit),
            Event::Call { info, func: target } => {
                let call = &program.calls[info as usize];
                if let Err(exit) = enter_call(frame) {
                    return Some(exit);
                }
                let callee = &program.funcs[target as usize];
                let new_base = base + nregs;
                let new_nregs = callee.nregs as usize;
                if regs.len() < new_base + new_nregs {
                    regs.resize(new_base + new_nregs, U256::ZERO);
                }
                load_consts(program, callee, &mut regs[new_base..new_base + new_nregs]);
                let args = program.reg_list(call.args_start, call.nargs);
                let params = program.reg_list(callee.params_start, callee.nparams);
                for (&a, &p) in args.iter().zip(params) {
                    regs[new_base + p as usize] = regs[base + a as usize];
                }
                stack.push(CallFrame { ret_pc: pc, base, func, call: info });
                base = new_base;
                nregs = new_nregs;
                func = target;
                pc = callee.entry_pc;
            }
            Event::Return(start, len) => {
                let returned = program.reg_list(start, len);
                let Some(caller) = stack.pop() else {
                    // Returning from the invoked function ends the execution normally (`None`).
                    if !values.is_empty() {
                        let types = program.sigs.get(func as usize).map_or(&[][..], |s| &s.results[..]);
                        for ((&r, &ty), out) in returned.iter().zip(types).zip(values.iter_mut()) {
                            if ty != Type::W256 {
                                *out = Bits::of(ty).mask(low(&regs[base + r as usize]));
                            }
                        }
                    }
                    return None;
                };
                frame.ctx.call_depth = frame.ctx.call_depth.saturating_sub(1);
                let call = &program.calls[caller.call as usize];
                let dsts = program.reg_list(call.rets_start, call.nrets);
                for (&v, &d) in returned.iter().zip(dsts) {
                    regs[caller.base + d as usize] = regs[base + v as usize];
                }
                base = caller.base;
                func = caller.func;
                nregs = program.funcs[func as usize].nregs as usize;
                pc = caller.ret_pc;
            }
        }
    }
}

/// Copies a function's constants into the start of its register window.
#[inline]
fn load_consts(program: &Program, func: &FuncInfo, window: &mut [U256]) {
    let n = func.nconsts as usize;
    window[..n].copy_from_slice(&program.consts[func.consts_start as usize..][..n]);
}

/// The low 64 bits of a register (the whole value of an `i32`/`i64`).
#[inline(always)]
fn low(x: &U256) -> u64 {
    x.as_limbs()[0]
}

/// Passes on a word returned by a callee limb by limb. The callee wrote it with 8-byte stores; reading it
/// back with wider loads would stall on store forwarding (measurably, in word-heavy loops).
#[inline(always)]
fn limbwise(x: U256) -> U256 {
    let limbs = x.as_limbs();
    // SAFETY: four in-bounds, aligned reads of a live local; volatile only keeps them 8 bytes wide.
    let read = |i: usize| unsafe { std::ptr::read_volatile(&limbs[i]) };
    U256::from_limbs([read(0), read(1), read(2), read(3)])
}

/// The values of the three registers `Program::regs[start..start+3]` (`table.copy`/`table.init` operands).
#[inline]
fn table_args(program: &Program, r: &[U256], start: u32) -> [u64; 3] {
    let regs = program.reg_list(start, 3);
    [low(&r[regs[0] as usize]), low(&r[regs[1] as usize]), low(&r[regs[2] as usize])]
}

/// Effective address of a memory access, as a range inside memory, or the trap.
#[inline(always)]
fn mem_range(frame: &Frame<'_>, addr: u64, offset: u32, width: u64) -> Result<std::ops::Range<usize>, Exit> {
    if width == 0 {
        return Ok(0..0);
    }
    let ea = addr.checked_add(u64::from(offset)).ok_or(Exit::Trap(TrapCode::MemoryOutOfBounds))?;
    frame.mem_range(ea, width)
}

/// Decodes a narrow load (`width` bytes, at most 32).
fn decode_narrow(bytes: &[u8], access: Access) -> U256 {
    let width = bytes.len();
    if width <= 8 {
        let mut x: u64 = 0;
        if access.big_endian {
            for &byte in bytes {
                x = (x << 8) | u64::from(byte);
            }
        } else {
            for &byte in bytes.iter().rev() {
                x = (x << 8) | u64::from(byte);
            }
        }
        let value = U256::from(x);
        if access.signed && width > 0 {
            let shift = 64 - 8 * width as u32;
            let wide = ((x << shift) as i64) >> shift;
            access.out.wrap(Bits::B64.sign_extend(U256::from(wide as u64)))
        } else {
            access.out.wrap(value)
        }
    } else {
        // Wider than a u64: only `w256` loads (verified IR uses 32, which has its own instruction).
        let mut le = [0u8; 32];
        for (i, &byte) in bytes.iter().enumerate() {
            let pos = if access.big_endian { width - 1 - i } else { i };
            le[pos] = byte;
        }
        if access.signed && le[width - 1] & 0x80 != 0 {
            le[width..].fill(0xff);
        }
        access.out.wrap(U256::from_le_bytes(le))
    }
}

/// Encodes the low `width` bytes of `value` for a narrow store (most significant first if big-endian).
fn encode_narrow(dst: &mut [u8], value: &U256, big_endian: bool) {
    let le: [u8; 32] = value.to_le_bytes();
    let width = dst.len();
    if big_endian {
        for (i, d) in dst.iter_mut().enumerate() {
            *d = le[width - 1 - i];
        }
    } else {
        dst.copy_from_slice(&le[..width]);
    }
}

#[inline]
fn convert(conv: Conv, x: U256) -> U256 {
    match conv {
        Conv::Ext { from, to, signed } => {
            let x = from.wrap(x);
            to.wrap(if signed { from.sign_extend(x) } else { x })
        }
        Conv::SatU64 => U256::from(u64::try_from(x).unwrap_or(u64::MAX)),
    }
}

/// Runs the current call's code from `*pc` until a call, a return or an exit.
fn execute(program: &Program, frame: &mut Frame<'_>, r: &mut [U256], pc_io: &mut u32) -> Event {
    let code = &program.code[..];
    let mut pc = *pc_io as usize;

    macro_rules! reg {
        ($i:expr) => {
            r[$i as usize]
        };
    }
    macro_rules! tri {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(exit) => return Event::Exit(exit),
            }
        };
    }
    macro_rules! moves {
        ($start:expr, $len:expr) => {
            for m in &program.moves[$start as usize..][..$len as usize] {
                reg!(m.dst) = if m.narrow { U256::from(low(&reg!(m.src))) } else { reg!(m.src) };
            }
        };
    }
    // Whether a condition register is non-zero. Narrow values are zero-extended, so their low limb is
    // all there is to look at.
    macro_rules! truthy {
        ($wide:expr, $cond:expr) => {
            if $wide {
                !reg!($cond).is_zero()
            } else {
                low(&reg!($cond)) != 0
            }
        };
    }

    loop {
        let inst = code[pc];
        pc += 1;
        match inst {
            Inst::WBinary { op, dst, a, b } => reg!(dst) = limbwise(word_binary(op, reg!(a), reg!(b))),
            Inst::BrifPlain { wide, cond, then_pc, else_pc } => {
                pc = if truthy!(wide, cond) { then_pc } else { else_pc } as usize;
            }
            Inst::Brif { wide, cond, then_edge, else_edge } => {
                let e = program.edges[if truthy!(wide, cond) { then_edge } else { else_edge } as usize];
                moves!(e.mstart, e.mlen);
                pc = e.pc as usize;
            }
            Inst::Jump { pc: target, mstart, mlen } => {
                moves!(mstart, mlen);
                pc = target as usize;
            }
            Inst::Gas { lo, hi } => tri!(frame.charge(u64::from(lo) | (u64::from(hi) << 32))),
            Inst::IBinary { op, ty, dst, a, b } => match int_binary(op, ty, low(&reg!(a)), low(&reg!(b))) {
                Ok(x) => reg!(dst) = U256::from(x),
                Err(code) => return Event::Exit(Exit::Trap(code)),
            },
            Inst::WUnary { op, dst, a } => reg!(dst) = word_unary(op, reg!(a)),
            Inst::IUnary { op, ty, dst, a } => reg!(dst) = U256::from(int_unary(op, ty, low(&reg!(a)))),
            Inst::WTernary { op, dst, a, b, c } => reg!(dst) = word_ternary(op, reg!(a), reg!(b), reg!(c)),
            Inst::Convert { conv, dst, a } => reg!(dst) = convert(conv, reg!(a)),
            Inst::FBinary { op, ty, dst, a, b } => {
                reg!(dst) = U256::from(float_binary(op, ty, low(&reg!(a)), low(&reg!(b))));
            }
            Inst::FUnary { op, ty, dst, a } => reg!(dst) = U256::from(float_unary(op, ty, low(&reg!(a)))),
            Inst::FConvert { op, from, to, dst, a } => match float_convert(op, from, to, low(&reg!(a))) {
                Ok(x) => reg!(dst) = U256::from(Bits::of(to).mask(x)),
                Err(code) => return Event::Exit(Exit::Trap(code)),
            },
            Inst::Select { wide, dst, cond, a, b } => {
                reg!(dst) = if truthy!(wide, cond) { reg!(a) } else { reg!(b) };
            }
            Inst::StackGet { dst, depth } => reg!(dst) = frame.stack_get(depth),
            Inst::StackSet { depth, value } => frame.stack_set(depth, reg!(value)),
            Inst::StackAdjust { delta } => frame.stack_adjust(delta),
            Inst::StackCheck { min, growth } => tri!(frame.stack_check(min, growth)),
            Inst::LoadWord { big_endian, dst, addr, offset } => {
                let range = tri!(mem_range(frame, low(&reg!(addr)), offset, 32));
                let bytes: [u8; 32] = frame.memory()[range].try_into().expect("a 32-byte range");
                reg!(dst) = if big_endian { U256::from_be_bytes(bytes) } else { U256::from_le_bytes(bytes) };
            }
            Inst::StoreWord { big_endian, addr, value, offset } => {
                let range = tri!(mem_range(frame, low(&reg!(addr)), offset, 32));
                let bytes: [u8; 32] = if big_endian { reg!(value).to_be_bytes() } else { reg!(value).to_le_bytes() };
                frame.memory_mut()[range].copy_from_slice(&bytes);
            }
            Inst::LoadNarrow { access, dst, addr, offset } => {
                let range = tri!(mem_range(frame, low(&reg!(addr)), offset, u64::from(access.width)));
                reg!(dst) = decode_narrow(&frame.memory()[range], access);
            }
            Inst::StoreNarrow { access, addr, value, offset } => {
                let range = tri!(mem_range(frame, low(&reg!(addr)), offset, u64::from(access.width)));
                encode_narrow(&mut frame.memory_mut()[range], &reg!(value), access.big_endian);
            }
            Inst::MemSize { dst } => reg!(dst) = U256::from(frame.memory().len() as u64),
            Inst::MemExpand { offset, len } => tri!(frame.mem_expand(reg!(offset), reg!(len))),
            Inst::MemCopy { dst, src, len } => tri!(frame.mem_copy(low(&reg!(dst)), low(&reg!(src)), low(&reg!(len)))),
            Inst::MemGrow { dst, pages } => reg!(dst) = U256::from(frame.mem_grow(low(&reg!(pages)))),
            Inst::MemFill { dst, byte, len } => {
                tri!(frame.mem_fill(low(&reg!(dst)), low(&reg!(byte)) as u8, low(&reg!(len))));
            }
            Inst::MemInit { seg, dst, src, len } => {
                tri!(frame.mem_init(seg, low(&reg!(dst)), low(&reg!(src)), low(&reg!(len))));
            }
            Inst::DataDrop { seg } => frame.data_drop(seg),
            Inst::GlobalGet { narrow, dst, index } => match frame.globals_mut().get(index as usize) {
                Some(&x) => reg!(dst) = U256::from(if narrow { x & 0xffff_ffff } else { x }),
                // Globals not attached to the frame (or a malformed index).
                None => return Event::Exit(Exit::Trap(TrapCode::HostError)),
            },
            Inst::GlobalSet { index, value } => match frame.globals_mut().get_mut(index as usize) {
                Some(slot) => *slot = low(&reg!(value)),
                None => return Event::Exit(Exit::Trap(TrapCode::HostError)),
            },
            Inst::TableGet { table, dst, index } => {
                reg!(dst) = U256::from(tri!(frame.table_get(table, low(&reg!(index)))))
            }
            Inst::TableSet { table, index, value } => {
                tri!(frame.table_set(table, low(&reg!(index)), low(&reg!(value))))
            }
            Inst::TableSize { table, dst } => reg!(dst) = U256::from(tri!(frame.table_size(table))),
            Inst::TableGrow { table, dst, value, delta } => {
                reg!(dst) = U256::from(tri!(frame.table_grow(table, low(&reg!(value)), low(&reg!(delta)))));
            }
            Inst::TableFill { table, dst, value, len } => {
                tri!(frame.table_fill(table, low(&reg!(dst)), low(&reg!(value)), low(&reg!(len))));
            }
            Inst::TableCopy { dst, src, args } => {
                let [d, s, n] = table_args(program, r, args);
                tri!(frame.table_copy(dst, src, d, s, n));
            }
            Inst::TableInit { table, seg, args } => {
                let [d, s, n] = table_args(program, r, args);
                tri!(frame.table_init(table, seg, d, s, n));
            }
            Inst::ElemDrop { seg } => frame.elem_drop(seg),
            Inst::Hash { alg, dst, offset, len } => {
                reg!(dst) = tri!(frame.hash(alg, low(&reg!(offset)), low(&reg!(len))));
            }
            Inst::DataSize { src, dst } => reg!(dst) = U256::from(frame.data(src).len() as u64),
            Inst::DataLoad { src, dst, offset } => reg!(dst) = frame.data_load(src, reg!(offset)),
            Inst::DataCopy { src, dst, offset, len } => {
                tri!(frame.data_copy(src, low(&reg!(dst)), reg!(offset), low(&reg!(len))));
            }
            Inst::GasCharge { a } => tri!(frame.charge(low(&reg!(a)))),
            Inst::GasLeft { dst } => reg!(dst) = U256::from(frame.ctx.gas_left),
            Inst::HostCall { info } => {
                let info = &program.host_calls[info as usize];
                let mut args = [U256::ZERO; 8];
                let regs = program.reg_list(info.args_start, info.nargs);
                let n = regs.len().min(args.len());
                for (arg, &a) in args.iter_mut().zip(regs) {
                    *arg = reg!(a);
                }
                let result = tri!(frame.host_call(info.func, &args[..n]));
                if let Some(dst) = info.dst {
                    reg!(dst) = result.unwrap_or(U256::ZERO);
                }
            }
            Inst::Switch { index, table } => {
                pc = program.switches[table as usize].target(low(&reg!(index))) as usize;
            }
            Inst::Call { info } => {
                *pc_io = pc as u32;
                return Event::Call { info, func: program.calls[info as usize].func };
            }
            Inst::CallIndirect { info, index, ty, table } => {
                let func = tri!(frame.call_indirect_target(ty, table, low(&reg!(index))));
                if func == FOREIGN_FUNC {
                    tri!(call_foreign(program, frame, r, info, ty));
                    continue;
                }
                *pc_io = pc as u32;
                return Event::Call { info, func };
            }
            Inst::RefFunc { func, dst } => {
                reg!(dst) = U256::from(func_ref(frame.ctx.instance_tag, func));
            }
            Inst::Return { start, len } => return Event::Return(start, len),
            Inst::Halt { kind, offset, len } => {
                return Event::Exit(frame.halt(kind, low(&reg!(offset)), low(&reg!(len))));
            }
            Inst::Trap { code } => return Event::Exit(Exit::Trap(code)),
        }
    }
}

/// Counts a call: traps `call_stack_exhausted` at the depth limit.
fn enter_call(frame: &mut Frame<'_>) -> Result<(), Exit> {
    if frame.ctx.call_depth >= frame.ctx.max_call_depth {
        return Err(Exit::Trap(TrapCode::CallStackExhausted));
    }
    frame.ctx.call_depth += 1;
    Ok(())
}

/// A `call_indirect` of another instance's function ([`Frame::call_foreign`]), its depth counted as for
/// any call; the arguments and results are those of call site `info`.
fn call_foreign(program: &Program, frame: &mut Frame<'_>, r: &mut [U256], info: u32, ty: u32) -> Result<(), Exit> {
    let call = &program.calls[info as usize];
    let args = program.reg_list(call.args_start, call.nargs);
    let dsts = program.reg_list(call.rets_start, call.nrets);
    let mut values = vec![0u64; args.len().max(dsts.len())];
    for (v, &a) in values.iter_mut().zip(args) {
        *v = low(&r[a as usize]);
    }
    enter_call(frame)?;
    let result = frame.call_foreign(ty, &mut values);
    frame.ctx.call_depth -= 1;
    result?;
    for (&v, &d) in values.iter().zip(dsts) {
        r[d as usize] = U256::from(v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_stay_small() {
        assert!(std::mem::size_of::<Inst>() <= 20, "Inst is {} bytes", std::mem::size_of::<Inst>());
    }

    #[test]
    fn narrow_codecs() {
        let a = |width, signed, big_endian, out| Access { width, signed, big_endian, out };
        assert_eq!(decode_narrow(&[0x80, 0x01], a(2, false, true, Bits::B32)), U256::from(0x8001u64));
        assert_eq!(decode_narrow(&[0x80, 0x01], a(2, true, true, Bits::B32)), U256::from(0xffff_8001u64));
        assert_eq!(decode_narrow(&[0x01, 0x80], a(2, true, false, Bits::B64)), U256::from(0xffff_ffff_ffff_8001u64));
        assert_eq!(decode_narrow(&[0xff], a(1, true, true, Bits::B256)), U256::MAX);
        let mut out = [0u8; 2];
        encode_narrow(&mut out, &U256::from(0x1234u64), true);
        assert_eq!(out, [0x12, 0x34]);
        encode_narrow(&mut out, &U256::from(0x1234u64), false);
        assert_eq!(out, [0x34, 0x12]);
    }
}
