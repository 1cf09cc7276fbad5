//! The instruction set.
//!
//! Every operation has one meaning on both tiers; the doc comment of each variant is the specification the
//! interpreter (the reference semantics) and the Cranelift backend implement. Operand types are checked by
//! the verifier; result types follow from the operation and its operand types ([`crate::Function::infer_result_types`]).
//!
//! Conventions:
//! - Integers are two's complement; `w256` arithmetic wraps modulo 2^256 and follows the EVM's definitions
//!   (division or modulus by zero gives 0, `sdiv(MIN, -1) = MIN`, shifts of 256 or more give 0 / all sign).
//!   `i32`/`i64` follow WebAssembly (division by zero and `div_s(MIN, -1)` trap, shift counts wrap).
//! - Conditions (`brif`, `select`) are "non-zero means true" for every integer type.
//! - Memory is one linear, byte-addressed, bounds-checked memory per execution frame. An access of zero
//!   bytes never traps, whatever its address.

use crate::entities::{Block, FuncId, Value};
use crate::types::Type;
use ruint::aliases::U256;

/// Why execution stopped abnormally. Traps are deterministic: both tiers raise the same code at the same
/// instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum TrapCode {
    /// An explicit `trap unreachable`, or an invalid/undefined opcode in the source bytecode.
    Unreachable = 1,
    /// Signed integer division overflow (`i32`/`i64` only).
    IntegerOverflow = 2,
    /// Integer division by zero (`i32`/`i64` only; `w256` division by zero gives 0).
    IntegerDivByZero = 3,
    /// A trapping float-to-int conversion of NaN. (An out-of-range value traps `int_overflow`.)
    BadConversion = 4,
    /// A memory access outside the current memory size.
    MemoryOutOfBounds = 5,
    /// Memory would grow beyond the configured limit.
    MemoryLimit = 6,
    /// The operand stack held fewer items than an instruction needs.
    StackUnderflow = 7,
    /// The operand stack would exceed its limit.
    StackOverflow = 8,
    /// A dynamic jump to something that is not a valid jump destination.
    InvalidJump = 9,
    /// A call chain deeper than the configured limit.
    CallStackExhausted = 10,
    /// A state-changing operation in a read-only (static) context.
    StaticViolation = 11,
    /// The host refused an operation (see the runtime's error for the reason).
    HostError = 12,
    /// A read of return data past its end (`data.copy returndata`).
    ReturnDataOutOfBounds = 13,
    /// A table access outside the table's current size.
    TableOutOfBounds = 14,
    /// `call_indirect` through an index outside the table.
    UndefinedElement = 15,
    /// `call_indirect` through a null reference.
    UninitializedElement = 16,
    /// `call_indirect` to a function whose signature is not the expected one.
    IndirectCallTypeMismatch = 17,
}

impl TrapCode {
    /// Every trap code, in numeric order.
    pub const ALL: [TrapCode; 17] = [
        TrapCode::Unreachable,
        TrapCode::IntegerOverflow,
        TrapCode::IntegerDivByZero,
        TrapCode::BadConversion,
        TrapCode::MemoryOutOfBounds,
        TrapCode::MemoryLimit,
        TrapCode::StackUnderflow,
        TrapCode::StackOverflow,
        TrapCode::InvalidJump,
        TrapCode::CallStackExhausted,
        TrapCode::StaticViolation,
        TrapCode::HostError,
        TrapCode::ReturnDataOutOfBounds,
        TrapCode::TableOutOfBounds,
        TrapCode::UndefinedElement,
        TrapCode::UninitializedElement,
        TrapCode::IndirectCallTypeMismatch,
    ];

    /// The text-form name (`trap stack_underflow`).
    pub const fn name(self) -> &'static str {
        match self {
            TrapCode::Unreachable => "unreachable",
            TrapCode::IntegerOverflow => "int_overflow",
            TrapCode::IntegerDivByZero => "int_divz",
            TrapCode::BadConversion => "bad_conversion",
            TrapCode::MemoryOutOfBounds => "heap_oob",
            TrapCode::MemoryLimit => "memory_limit",
            TrapCode::StackUnderflow => "stack_underflow",
            TrapCode::StackOverflow => "stack_overflow",
            TrapCode::InvalidJump => "invalid_jump",
            TrapCode::CallStackExhausted => "call_stack_exhausted",
            TrapCode::StaticViolation => "static_violation",
            TrapCode::HostError => "host_error",
            TrapCode::ReturnDataOutOfBounds => "returndata_oob",
            TrapCode::TableOutOfBounds => "table_oob",
            TrapCode::UndefinedElement => "undefined_element",
            TrapCode::UninitializedElement => "uninitialized_element",
            TrapCode::IndirectCallTypeMismatch => "indirect_call_type",
        }
    }

    /// Parses a text-form name.
    pub fn from_name(s: &str) -> Option<TrapCode> {
        TrapCode::ALL.into_iter().find(|t| t.name() == s)
    }

    /// The numeric code (stable: it crosses the native-code ABI).
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The trap for a numeric code.
    pub fn from_code(code: u32) -> Option<TrapCode> {
        TrapCode::ALL.into_iter().find(|t| t.code() == code)
    }
}

/// One-operand integer operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// Bitwise complement.
    Not,
    /// 1 if the operand is zero, else 0 (result: the operand type's bool type).
    Eqz,
    /// Count of leading zero bits (`i32`, `i64`, `w256`).
    Clz,
    /// Count of trailing zero bits (`i32`, `i64`).
    Ctz,
    /// Count of one bits (`i32`, `i64`).
    Popcnt,
}

/// Two-operand integer operations. Both operands have the same type. Comparisons return the operand type's
/// bool type; everything else returns the operand type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    /// Unsigned division. `w256`: x/0 = 0. `i32`/`i64`: traps `int_divz` on zero.
    DivU,
    /// Signed division, truncating. `w256`: x/0 = 0, MIN/-1 = MIN. `i32`/`i64`: traps on zero and MIN/-1.
    DivS,
    /// Unsigned remainder. `w256`: x%0 = 0. `i32`/`i64`: traps on zero.
    RemU,
    /// Signed remainder (sign of the dividend). `w256`: x%0 = 0. `i32`/`i64`: traps on zero; MIN%-1 = 0.
    RemS,
    And,
    Or,
    Xor,
    /// `a << b`. `w256`: b >= 256 gives 0. `i32`/`i64`: b is taken modulo the width.
    Shl,
    /// Logical `a >> b`, same count rules as `Shl`.
    ShrU,
    /// Arithmetic `a >> b`. `w256`: b >= 256 gives 0 or all ones by sign.
    ShrS,
    /// Rotate left (`i32`, `i64`).
    Rotl,
    /// Rotate right (`i32`, `i64`).
    Rotr,
    Eq,
    Ne,
    LtU,
    LtS,
    GtU,
    GtS,
    LeU,
    LeS,
    GeU,
    GeS,
    /// `a ** b` modulo 2^256 (`w256` only).
    Exp,
    /// EVM `SIGNEXTEND`: `signextend(b, x)` extends `x` from its byte `b` (0 = lowest); b >= 31 gives x.
    /// (`w256` only; operand order as on the EVM stack: `b` first.)
    SignExtend,
    /// EVM `BYTE`: `byte(i, x)` is byte `i` of `x` counting from the most significant (0); i >= 32 gives 0.
    /// (`w256` only.)
    Byte,
}

impl BinOp {
    /// Every operation, in declaration order.
    pub const ALL: [BinOp; 28] = [
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::DivU,
        BinOp::DivS,
        BinOp::RemU,
        BinOp::RemS,
        BinOp::And,
        BinOp::Or,
        BinOp::Xor,
        BinOp::Shl,
        BinOp::ShrU,
        BinOp::ShrS,
        BinOp::Rotl,
        BinOp::Rotr,
        BinOp::Eq,
        BinOp::Ne,
        BinOp::LtU,
        BinOp::LtS,
        BinOp::GtU,
        BinOp::GtS,
        BinOp::LeU,
        BinOp::LeS,
        BinOp::GeU,
        BinOp::GeS,
        BinOp::Exp,
        BinOp::SignExtend,
        BinOp::Byte,
    ];

    /// True for the comparisons, whose result is a bool.
    pub const fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq
                | BinOp::Ne
                | BinOp::LtU
                | BinOp::LtS
                | BinOp::GtU
                | BinOp::GtS
                | BinOp::LeU
                | BinOp::LeS
                | BinOp::GeU
                | BinOp::GeS
        )
    }

    /// Whether the operation is defined for operands of type `ty`.
    pub const fn accepts(self, ty: Type) -> bool {
        match self {
            BinOp::Rotl | BinOp::Rotr => matches!(ty, Type::I32 | Type::I64),
            BinOp::Exp | BinOp::SignExtend | BinOp::Byte => matches!(ty, Type::W256),
            _ => ty.is_int(),
        }
    }
}

impl UnOp {
    /// Every operation, in declaration order.
    pub const ALL: [UnOp; 5] = [UnOp::Not, UnOp::Eqz, UnOp::Clz, UnOp::Ctz, UnOp::Popcnt];

    /// Whether the operation is defined for an operand of type `ty`.
    pub const fn accepts(self, ty: Type) -> bool {
        match self {
            UnOp::Clz => ty.is_int(),
            UnOp::Ctz | UnOp::Popcnt => matches!(ty, Type::I32 | Type::I64),
            UnOp::Not | UnOp::Eqz => ty.is_int(),
        }
    }
}

/// Three-operand word operations (`w256` only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TernOp {
    /// `(a + b) % n` computed without overflow; n = 0 gives 0.
    AddMod,
    /// `(a * b) % n` computed without overflow; n = 0 gives 0.
    MulMod,
}

impl TernOp {
    /// Every operation, in declaration order.
    pub const ALL: [TernOp; 2] = [TernOp::AddMod, TernOp::MulMod];
}

/// Integer conversions between types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvOp {
    /// Zero-extend to a wider integer type.
    Zext,
    /// Sign-extend to a wider integer type.
    Sext,
    /// Keep the low bits, to a narrower integer type.
    Trunc,
    /// `w256 -> i64`: the value as an unsigned 64-bit integer, saturated to `u64::MAX` (all ones) if it is
    /// larger. Used for jump targets and offsets, where every huge value is equally invalid.
    SatU64,
    /// Float to signed integer (`f32`/`f64` -> `i32`/`i64`), truncating toward zero. Traps `bad_conversion`
    /// on NaN and `int_overflow` when the truncated value does not fit.
    FToS,
    /// Float to unsigned integer, truncating; traps like `FToS`.
    FToU,
    /// Float to signed integer, truncating and saturating: NaN gives 0, out-of-range values the nearest bound.
    FToSSat,
    /// Float to unsigned integer, truncating and saturating like `FToSSat`.
    FToUSat,
    /// Signed integer (`i32`/`i64`) to float, rounding to nearest, ties to even.
    SToF,
    /// Unsigned integer to float, rounding to nearest, ties to even.
    UToF,
    /// `f32 -> f64`, exact (a NaN becomes the canonical NaN).
    FPromote,
    /// `f64 -> f32`, rounding to nearest, ties to even (a NaN becomes the canonical NaN).
    FDemote,
    /// Reinterprets the bits between an integer and a float type of the same size.
    Bitcast,
}

impl ConvOp {
    /// Every conversion, in declaration order.
    pub const ALL: [ConvOp; 13] = [
        ConvOp::Zext,
        ConvOp::Sext,
        ConvOp::Trunc,
        ConvOp::SatU64,
        ConvOp::FToS,
        ConvOp::FToU,
        ConvOp::FToSSat,
        ConvOp::FToUSat,
        ConvOp::SToF,
        ConvOp::UToF,
        ConvOp::FPromote,
        ConvOp::FDemote,
        ConvOp::Bitcast,
    ];

    /// Whether the conversion is defined from type `from` to type `to`.
    pub const fn accepts(self, from: Type, to: Type) -> bool {
        match self {
            ConvOp::Zext | ConvOp::Sext => from.is_int() && to.is_int() && to.bytes() > from.bytes(),
            ConvOp::Trunc => from.is_int() && to.is_int() && to.bytes() < from.bytes(),
            ConvOp::SatU64 => matches!(from, Type::W256) && matches!(to, Type::I64),
            ConvOp::FToS | ConvOp::FToU | ConvOp::FToSSat | ConvOp::FToUSat => {
                from.is_float() && matches!(to, Type::I32 | Type::I64)
            }
            ConvOp::SToF | ConvOp::UToF => matches!(from, Type::I32 | Type::I64) && to.is_float(),
            ConvOp::FPromote => matches!(from, Type::F32) && matches!(to, Type::F64),
            ConvOp::FDemote => matches!(from, Type::F64) && matches!(to, Type::F32),
            ConvOp::Bitcast => {
                from.bytes() == to.bytes() && from.is_float() != to.is_float() && !matches!(from, Type::W256)
            }
        }
    }
}

/// One-operand float operations (`f32`, `f64`). `abs`, `neg` only change the sign bit (a NaN keeps its
/// payload); the others return the canonical NaN for any NaN result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FUnOp {
    Abs,
    Neg,
    Sqrt,
    /// Round toward +infinity.
    Ceil,
    /// Round toward -infinity.
    Floor,
    /// Round toward zero.
    Trunc,
    /// Round to nearest, ties to even.
    Nearest,
}

impl FUnOp {
    /// Every operation, in declaration order.
    pub const ALL: [FUnOp; 7] =
        [FUnOp::Abs, FUnOp::Neg, FUnOp::Sqrt, FUnOp::Ceil, FUnOp::Floor, FUnOp::Trunc, FUnOp::Nearest];

    /// The text-form name (`fabs`, `fnearest`).
    pub const fn name(self) -> &'static str {
        match self {
            FUnOp::Abs => "fabs",
            FUnOp::Neg => "fneg",
            FUnOp::Sqrt => "fsqrt",
            FUnOp::Ceil => "fceil",
            FUnOp::Floor => "ffloor",
            FUnOp::Trunc => "ftrunc",
            FUnOp::Nearest => "fnearest",
        }
    }
}

/// Two-operand float operations (both operands of one float type). Arithmetic results that are NaN are the
/// canonical NaN (positive, quiet, zero payload), so results never depend on the machine. `min`/`max`
/// follow WebAssembly: NaN if either operand is NaN, and `-0 < +0`. Comparisons are IEEE (false with a NaN,
/// except `ne`) and give an `i32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FBinOp {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    /// The magnitude of `a` with the sign of `b` (bitwise; NaN payloads are kept).
    Copysign,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl FBinOp {
    /// Every operation, in declaration order.
    pub const ALL: [FBinOp; 13] = [
        FBinOp::Add,
        FBinOp::Sub,
        FBinOp::Mul,
        FBinOp::Div,
        FBinOp::Min,
        FBinOp::Max,
        FBinOp::Copysign,
        FBinOp::Eq,
        FBinOp::Ne,
        FBinOp::Lt,
        FBinOp::Gt,
        FBinOp::Le,
        FBinOp::Ge,
    ];

    /// True for the comparisons, whose result is an `i32`.
    pub const fn is_comparison(self) -> bool {
        matches!(self, FBinOp::Eq | FBinOp::Ne | FBinOp::Lt | FBinOp::Gt | FBinOp::Le | FBinOp::Ge)
    }

    /// The text-form name (`fadd`, `flt`).
    pub const fn name(self) -> &'static str {
        match self {
            FBinOp::Add => "fadd",
            FBinOp::Sub => "fsub",
            FBinOp::Mul => "fmul",
            FBinOp::Div => "fdiv",
            FBinOp::Min => "fmin",
            FBinOp::Max => "fmax",
            FBinOp::Copysign => "fcopysign",
            FBinOp::Eq => "feq",
            FBinOp::Ne => "fne",
            FBinOp::Lt => "flt",
            FBinOp::Gt => "fgt",
            FBinOp::Le => "fle",
            FBinOp::Ge => "fge",
        }
    }
}

/// Hash functions over a memory range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// Keccak-256 (the EVM's `KECCAK256`).
    Keccak256,
    /// SHA-256.
    Sha256,
    /// RIPEMD-160, right-aligned in the word (as the EVM precompile returns it).
    Ripemd160,
    /// BLAKE2b with a 32-byte digest.
    Blake2b256,
}

impl HashAlg {
    /// Every algorithm.
    pub const ALL: [HashAlg; 4] = [HashAlg::Keccak256, HashAlg::Sha256, HashAlg::Ripemd160, HashAlg::Blake2b256];

    /// The text-form name.
    pub const fn name(self) -> &'static str {
        match self {
            HashAlg::Keccak256 => "keccak256",
            HashAlg::Sha256 => "sha256",
            HashAlg::Ripemd160 => "ripemd160",
            HashAlg::Blake2b256 => "blake2b256",
        }
    }
}

/// Read-only byte buffers an execution frame can read besides its memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataSrc {
    /// The call's input (call data).
    Input,
    /// The running code itself.
    Code,
    /// The output of the last call this frame made.
    ReturnData,
}

impl DataSrc {
    /// Every source.
    pub const ALL: [DataSrc; 3] = [DataSrc::Input, DataSrc::Code, DataSrc::ReturnData];

    /// The text-form name.
    pub const fn name(self) -> &'static str {
        match self {
            DataSrc::Input => "input",
            DataSrc::Code => "code",
            DataSrc::ReturnData => "returndata",
        }
    }
}

/// How a frame ends with data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HaltKind {
    /// Success: state changes are kept.
    Return,
    /// Revert: state changes of the frame are undone, remaining gas is kept.
    Revert,
}

/// Functions of the host, called with `hostcall`. Each has a fixed signature ([`HostFn::signature`]);
/// their gas and effects are defined by the runtime's host interface, identically for both tiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostFn {
    /// `sload key -> value` (persistent storage of the running account).
    SLoad,
    /// `sstore key, value`. Traps `static_violation` in a static context.
    SStore,
    /// `tload key -> value` (transient storage, cleared after the transaction).
    TLoad,
    /// `tstore key, value`.
    TStore,
    /// `balance address -> wei`.
    Balance,
    /// `blockhash number -> hash` (0 outside the last 256 blocks).
    BlockHash,
    /// `extcodesize address -> bytes`.
    ExtCodeSize,
    /// `extcodehash address -> hash` (0 for an account that does not exist).
    ExtCodeHash,
    /// `extcodecopy address, dst:i64, offset:w256, len:i64`: copies another account's code into memory,
    /// zero-filling past its end. Traps `heap_oob` unless the memory range fits.
    ExtCodeCopy,
    /// `log offset:i64, len:i64, topic...`: emits a log with data from memory and 0..=4 topics.
    Log(u8),
    /// An environment word with no arguments (caller, call value, block number, ...).
    Env(EnvField),
    /// `keccak256pair a, b -> keccak256(a . b)` of two big-endian words: the storage key of entry `b` of
    /// the table (mapping) at slot `a`.
    Keccak256Pair,
    /// `blobhash index -> hash`: the transaction's versioned blob hash `index`, 0 past the end (EIP-4844).
    BlobHash,
    /// `call gas, address, value, in:i64, in_len:i64, out:i64, out_len:i64 -> success`: a message call
    /// with its own code, storage and value (EVM `CALL`). Memory for both ranges must already be expanded.
    /// Pays the access, value and new-account costs, forwards at most all but 1/64 of the gas left, and
    /// stores the output (up to `out_len` bytes) at `out`; the result is 1 on success, else 0.
    Call,
    /// `callcode` with `call`'s arguments: the callee's code runs on the caller's storage.
    CallCode,
    /// `delegatecall gas, address, in, in_len, out, out_len -> success`: the callee's code runs with the
    /// caller's storage, caller and value.
    DelegateCall,
    /// `staticcall gas, address, in, in_len, out, out_len -> success`: a call in which no state may change.
    StaticCall,
    /// `create value, offset:i64, len:i64 -> address`: runs the init code in memory and deploys its output
    /// at an address derived from the creator and its nonce; the result is 0 on failure.
    Create,
    /// `create2 value, offset:i64, len:i64, salt -> address`: like `create`, at an address derived from
    /// the creator, the salt and the init code's hash.
    Create2,
    /// `selfdestruct beneficiary`: moves the balance to the beneficiary (EIP-6780 semantics). The frontend
    /// ends the frame right after it.
    SelfDestruct,
}

/// Environment words readable without arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EnvField {
    Address,
    Caller,
    Origin,
    CallValue,
    GasPrice,
    Coinbase,
    Timestamp,
    Number,
    PrevRandao,
    GasLimit,
    ChainId,
    SelfBalance,
    BaseFee,
    BlobBaseFee,
}

impl EnvField {
    /// Every field.
    pub const ALL: [EnvField; 14] = [
        EnvField::Address,
        EnvField::Caller,
        EnvField::Origin,
        EnvField::CallValue,
        EnvField::GasPrice,
        EnvField::Coinbase,
        EnvField::Timestamp,
        EnvField::Number,
        EnvField::PrevRandao,
        EnvField::GasLimit,
        EnvField::ChainId,
        EnvField::SelfBalance,
        EnvField::BaseFee,
        EnvField::BlobBaseFee,
    ];

    /// The text-form name.
    pub const fn name(self) -> &'static str {
        match self {
            EnvField::Address => "address",
            EnvField::Caller => "caller",
            EnvField::Origin => "origin",
            EnvField::CallValue => "callvalue",
            EnvField::GasPrice => "gasprice",
            EnvField::Coinbase => "coinbase",
            EnvField::Timestamp => "timestamp",
            EnvField::Number => "number",
            EnvField::PrevRandao => "prevrandao",
            EnvField::GasLimit => "gaslimit",
            EnvField::ChainId => "chainid",
            EnvField::SelfBalance => "selfbalance",
            EnvField::BaseFee => "basefee",
            EnvField::BlobBaseFee => "blobbasefee",
        }
    }
}

/// Bytes in a WebAssembly memory page (the unit of [`Op::MemGrow`]).
pub const WASM_PAGE: u64 = 65536;

/// Capacity of a frame's operand stack, in items (the EVM's and ZVM's limit): [`Op::StackCheck`] traps
/// `stack_overflow` past it.
pub const STACK_LIMIT: usize = 1024;

/// Maximum number of topics of a log.
pub const MAX_LOG_TOPICS: u8 = 4;

impl HostFn {
    /// The host functions that take no variant parameter, in a stable order.
    pub const FIXED: [HostFn; 18] = [
        HostFn::SLoad,
        HostFn::SStore,
        HostFn::TLoad,
        HostFn::TStore,
        HostFn::Balance,
        HostFn::BlockHash,
        HostFn::ExtCodeSize,
        HostFn::ExtCodeHash,
        HostFn::ExtCodeCopy,
        HostFn::Keccak256Pair,
        HostFn::BlobHash,
        HostFn::Call,
        HostFn::CallCode,
        HostFn::DelegateCall,
        HostFn::StaticCall,
        HostFn::Create,
        HostFn::Create2,
        HostFn::SelfDestruct,
    ];

    /// Every host function: the fixed ones, `log0`..`log4`, then every environment field.
    pub fn all() -> impl Iterator<Item = HostFn> {
        HostFn::FIXED
            .into_iter()
            .chain((0..=MAX_LOG_TOPICS).map(HostFn::Log))
            .chain(EnvField::ALL.into_iter().map(HostFn::Env))
    }

    /// Parameter and result types. Static, so the runtime may check a call's argument count on every
    /// storage access without building them. `log` with more than [`MAX_LOG_TOPICS`] topics (which the
    /// verifier and every decoder reject) gets `log4`'s parameters, so no call of it matches.
    pub fn signature(self) -> (&'static [Type], &'static [Type]) {
        use Type::{I64, W256};
        const LOG: [Type; 2 + MAX_LOG_TOPICS as usize] = [I64, I64, W256, W256, W256, W256];
        match self {
            HostFn::SLoad
            | HostFn::TLoad
            | HostFn::Balance
            | HostFn::BlockHash
            | HostFn::ExtCodeSize
            | HostFn::ExtCodeHash
            | HostFn::BlobHash => (&[W256], &[W256]),
            HostFn::Call | HostFn::CallCode => (&[W256, W256, W256, I64, I64, I64, I64], &[W256]),
            HostFn::DelegateCall | HostFn::StaticCall => (&[W256, W256, I64, I64, I64, I64], &[W256]),
            HostFn::Create => (&[W256, I64, I64], &[W256]),
            HostFn::Create2 => (&[W256, I64, I64, W256], &[W256]),
            HostFn::SelfDestruct => (&[W256], &[]),
            HostFn::Keccak256Pair => (&[W256, W256], &[W256]),
            HostFn::ExtCodeCopy => (&[W256, I64, W256, I64], &[]),
            HostFn::SStore | HostFn::TStore => (&[W256, W256], &[]),
            HostFn::Log(n) => (LOG.get(..2 + usize::from(n)).unwrap_or(&LOG), &[]),
            HostFn::Env(_) => (&[], &[W256]),
        }
    }

    /// True if the function changes state (forbidden in a static context). `call` is forbidden there only
    /// with a non-zero value, which the host checks.
    pub const fn is_state_changing(self) -> bool {
        matches!(
            self,
            HostFn::SStore | HostFn::TStore | HostFn::Log(_) | HostFn::Create | HostFn::Create2 | HostFn::SelfDestruct
        )
    }

    /// True if the function's behaviour depends on the gas left: `sstore` (its minimum-gas rule) and the
    /// calls and creates (which forward a share of it).
    pub const fn observes_gas(self) -> bool {
        matches!(
            self,
            HostFn::SStore
                | HostFn::Call
                | HostFn::CallCode
                | HostFn::DelegateCall
                | HostFn::StaticCall
                | HostFn::Create
                | HostFn::Create2
        )
    }

    /// The text-form name (`sload`, `log2`, `env.caller`).
    pub fn name(self) -> String {
        match self {
            HostFn::SLoad => "sload".into(),
            HostFn::SStore => "sstore".into(),
            HostFn::TLoad => "tload".into(),
            HostFn::TStore => "tstore".into(),
            HostFn::Balance => "balance".into(),
            HostFn::BlockHash => "blockhash".into(),
            HostFn::ExtCodeSize => "extcodesize".into(),
            HostFn::ExtCodeHash => "extcodehash".into(),
            HostFn::ExtCodeCopy => "extcodecopy".into(),
            HostFn::Keccak256Pair => "keccak256pair".into(),
            HostFn::BlobHash => "blobhash".into(),
            HostFn::Call => "call".into(),
            HostFn::CallCode => "callcode".into(),
            HostFn::DelegateCall => "delegatecall".into(),
            HostFn::StaticCall => "staticcall".into(),
            HostFn::Create => "create".into(),
            HostFn::Create2 => "create2".into(),
            HostFn::SelfDestruct => "selfdestruct".into(),
            HostFn::Log(n) => format!("log{n}"),
            HostFn::Env(f) => format!("env.{}", f.name()),
        }
    }

    /// Parses a text-form name.
    pub fn from_name(s: &str) -> Option<HostFn> {
        Some(match s {
            "sload" => HostFn::SLoad,
            "sstore" => HostFn::SStore,
            "tload" => HostFn::TLoad,
            "tstore" => HostFn::TStore,
            "balance" => HostFn::Balance,
            "blockhash" => HostFn::BlockHash,
            "extcodesize" => HostFn::ExtCodeSize,
            "extcodehash" => HostFn::ExtCodeHash,
            "extcodecopy" => HostFn::ExtCodeCopy,
            "keccak256pair" => HostFn::Keccak256Pair,
            "blobhash" => HostFn::BlobHash,
            "call" => HostFn::Call,
            "callcode" => HostFn::CallCode,
            "delegatecall" => HostFn::DelegateCall,
            "staticcall" => HostFn::StaticCall,
            "create" => HostFn::Create,
            "create2" => HostFn::Create2,
            "selfdestruct" => HostFn::SelfDestruct,
            _ => {
                if let Some(n) = s.strip_prefix("log") {
                    let n: u8 = n.parse().ok()?;
                    return (n <= MAX_LOG_TOPICS).then_some(HostFn::Log(n));
                }
                let f = s.strip_prefix("env.")?;
                return EnvField::ALL.into_iter().find(|e| e.name() == f).map(HostFn::Env);
            }
        })
    }
}

/// A branch target with its block arguments.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlockCall {
    pub block: Block,
    pub args: Vec<Value>,
}

impl BlockCall {
    /// A target without arguments.
    pub fn new(block: Block) -> Self {
        Self { block, args: Vec::new() }
    }
}

/// Size and byte order of a memory access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemAccess {
    /// Bytes accessed: 1, 2, 4 or 8 for the narrow types (at most the type's size), 32 for `w256`
    /// (loads may also read 1 byte into a `w256`, stores may write its low byte).
    pub width: u8,
    /// Loads narrower than the type: sign-extend instead of zero-extend.
    pub signed: bool,
    /// Big-endian (EVM, ZVM) instead of little-endian (WebAssembly).
    pub big_endian: bool,
    /// Constant added to the address (WebAssembly's `offset=`), checked for overflow.
    pub offset: u32,
}

/// An operation with its operands.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    // ---- constants -------------------------------------------------------------------------------------
    /// An `i32` (low 32 bits of `imm`) or `i64` constant.
    Iconst {
        ty: Type,
        imm: i64,
    },
    /// An `f32` (low 32 bits) or `f64` constant, as raw IEEE bits.
    Fconst {
        ty: Type,
        bits: u64,
    },
    /// A `w256` constant.
    Wconst {
        imm: U256,
    },

    // ---- arithmetic ------------------------------------------------------------------------------------
    Unary {
        op: UnOp,
        arg: Value,
    },
    Binary {
        op: BinOp,
        args: [Value; 2],
    },
    Ternary {
        op: TernOp,
        args: [Value; 3],
    },
    /// One-operand float operation.
    FUnary {
        op: FUnOp,
        arg: Value,
    },
    /// Two-operand float operation.
    FBinary {
        op: FBinOp,
        args: [Value; 2],
    },
    /// Converts `arg` to type `to`.
    Convert {
        op: ConvOp,
        to: Type,
        arg: Value,
    },
    /// `cond ? a : b` (`args = [a, b]`, same type).
    Select {
        cond: Value,
        args: [Value; 2],
    },

    // ---- linear memory ---------------------------------------------------------------------------------
    /// Reads `access.width` bytes at `addr + offset` (`addr: i64`, unsigned) into a value of type `ty`.
    /// Traps `heap_oob` if the range is not inside the current memory size.
    Load {
        ty: Type,
        access: MemAccess,
        addr: Value,
    },
    /// Writes the low `access.width` bytes of `value` at `addr + offset`. Traps `heap_oob` like `Load`.
    Store {
        access: MemAccess,
        addr: Value,
        value: Value,
    },
    /// The current memory size in bytes (`i64`).
    MemSize,
    /// EVM-style memory expansion for the range `[offset, offset+len)` (both `w256`): if `len` is non-zero
    /// and the range ends past the current size, the memory grows (zero-filled) to the range's end rounded
    /// up to 32 bytes, charging `3*words + words^2/512` for the new size minus the same for the old one.
    /// Ranges that cannot be afforded run out of gas; ranges past the memory limit trap `memory_limit`.
    MemExpand {
        args: [Value; 2],
    },
    /// `memcopy dst, src, len` (all `i64`): copies as if through a temporary buffer (overlap allowed).
    /// Traps `heap_oob` unless both ranges are inside memory.
    MemCopy {
        args: [Value; 3],
    },
    /// WebAssembly `memory.grow`: grows memory by `arg: i64` pages of [`WASM_PAGE`] bytes (zero-filled).
    /// The result (`i64`) is the old size in pages, or all ones (-1) if the new size would pass the
    /// module's [`crate::MemoryPlan::max_pages`] or the runtime's memory limit (memory is then unchanged).
    /// Costs no gas itself: the frontend charges per page before it.
    MemGrow {
        arg: Value,
    },
    /// `memfill dst:i64, byte:i32, len:i64`: sets `len` bytes at `dst` to the low byte of `byte`. Traps
    /// `heap_oob` unless the range is inside memory, even when `len` is 0 (WebAssembly's rule; unlike the
    /// other memory operations).
    MemFill {
        args: [Value; 3],
    },
    /// `meminit SEG dst:i64, src:i64, len:i64`: copies `len` bytes of the module's data segment `SEG` from
    /// `src` to memory at `dst`. Traps `heap_oob` if the source range passes the segment's end (a dropped
    /// segment has length 0) or the destination range is not inside memory, even when `len` is 0.
    MemInit {
        seg: u32,
        args: [Value; 3],
    },
    /// Drops data segment `seg`: afterwards it has length 0, for the rest of the execution.
    DataDrop {
        seg: u32,
    },
    /// Hash of memory `[offset, offset+len)` (`i64`s) into a `w256`. Traps `heap_oob` outside memory.
    Hash {
        alg: HashAlg,
        args: [Value; 2],
    },

    // ---- read-only data --------------------------------------------------------------------------------
    /// Size of the buffer in bytes (`i64`).
    DataSize {
        src: DataSrc,
    },
    /// The 32 bytes at `offset` (`w256`) of the buffer as a big-endian word; bytes past the end read as 0.
    DataLoad {
        src: DataSrc,
        arg: Value,
    },
    /// `datacopy dst:i64, offset:w256, len:i64`: copies `len` bytes of the buffer from `offset` into memory
    /// at `dst`, zero-filling past the end of the buffer. Traps `heap_oob` unless the memory range fits.
    /// Return data is strict, as on the EVM: a read whose end (`offset + len`) is past the end of the return
    /// data traps `returndata_oob`, even an empty one.
    DataCopy {
        src: DataSrc,
        args: [Value; 3],
    },

    // ---- operand stack ---------------------------------------------------------------------------------
    /// Checks the stack of the frame once for a whole block: traps `stack_underflow` if fewer than `min`
    /// items are on it, `stack_overflow` if `growth` more items would exceed [`STACK_LIMIT`].
    StackCheck {
        min: u32,
        growth: u32,
    },
    /// Reads the item `depth` places below the top (0 = top) as a `w256`.
    StackGet {
        depth: u32,
    },
    /// Writes the item `depth` places below the top.
    StackSet {
        depth: u32,
        value: Value,
    },
    /// Moves the top of the stack by `delta` items (new items are undefined until written).
    StackAdjust {
        delta: i32,
    },

    // ---- tables ----------------------------------------------------------------------------------------
    // A table holds references as `i64`: 0 is null, `f + 1` refers to function `f` of the module, other
    // values are opaque (host references). Indices and counts are `i64`.
    /// Element `arg` of table `table`. Traps `table_oob` outside the table.
    TableGet {
        table: u32,
        arg: Value,
    },
    /// `table.set T index, value`. Traps `table_oob` outside the table.
    TableSet {
        table: u32,
        args: [Value; 2],
    },
    /// The table's current size (`i64`).
    TableSize {
        table: u32,
    },
    /// `table.grow T value, delta`: appends `delta` elements set to `value`; the result (`i64`) is the old
    /// size, or -1 if the new size would pass the table's maximum or the runtime's limit.
    TableGrow {
        table: u32,
        args: [Value; 2],
    },
    /// `table.fill T dst, value, len`. Traps `table_oob` unless the range is inside the table, even when
    /// `len` is 0.
    TableFill {
        table: u32,
        args: [Value; 3],
    },
    /// `table.copy DST SRC d, s, n` (overlap allowed). Traps `table_oob` unless both ranges are inside
    /// their tables, even when `n` is 0.
    TableCopy {
        dst: u32,
        src: u32,
        args: [Value; 3],
    },
    /// `table.init T SEG d, s, n`: copies elements of element segment `SEG` (empty once dropped). Traps
    /// `table_oob` unless both ranges are inside, even when `n` is 0.
    TableInit {
        table: u32,
        seg: u32,
        args: [Value; 3],
    },
    /// Drops element segment `seg`.
    ElemDrop {
        seg: u32,
    },
    /// Calls the function that element `args[0]` of `table` refers to, with `args[1..]`, checking that
    /// its signature is the module's type `ty`: traps `undefined_element` past the table's end,
    /// `uninitialized_element` for null, `indirect_call_type` for another signature or a reference that
    /// is not a function of the module; `call_stack_exhausted` like `call`. The results are those of `ty`.
    CallIndirect {
        ty: u32,
        table: u32,
        args: Vec<Value>,
    },
    /// A reference (`i64`) to function `func` of this module's instance: `func + 1` in the low 32 bits and
    /// the instance's tag (the runtime's `VmCtx::instance_tag`, 0 outside a linking store) in the high 32,
    /// so that a reference stays meaningful when it reaches another instance through a shared table, a
    /// global or a call (`call_indirect` calls a reference of another instance through the runtime).
    RefFunc {
        func: u32,
    },

    // ---- globals ---------------------------------------------------------------------------------------
    /// Reads module global `index` (its type is the module's [`crate::Module::globals`] entry).
    GlobalGet {
        index: u32,
    },
    /// Writes module global `index`.
    GlobalSet {
        index: u32,
        value: Value,
    },

    // ---- gas -------------------------------------------------------------------------------------------
    /// The static cost of the source operation that follows (emitted by frontends). Before the gas pass this
    /// charges immediately, which makes unpassed IR a per-operation meter; the gas pass folds all of a
    /// block's costs into one `gas.block` at its entry.
    GasCost {
        amount: u64,
    },
    /// Charges a block's static cost. Running out of gas stops execution with the out-of-gas status.
    GasBlock {
        amount: u64,
    },
    /// Charges a dynamic cost (`i64`, unsigned).
    GasCharge {
        arg: Value,
    },
    /// The gas left (`i64`). After the gas pass this is what a per-operation meter would show, because the
    /// pass ends a block's charge at every operation that observes gas.
    GasLeft,

    // ---- host and calls --------------------------------------------------------------------------------
    /// Calls a host function.
    HostCall {
        func: HostFn,
        args: Vec<Value>,
    },
    /// Calls a function of the same module. Traps `call_stack_exhausted` past the call depth limit.
    Call {
        func: FuncId,
        args: Vec<Value>,
    },

    // ---- terminators -----------------------------------------------------------------------------------
    Jump {
        dest: BlockCall,
    },
    /// Branches to `then_dest` if `cond` is non-zero, else to `else_dest`.
    Brif {
        cond: Value,
        then_dest: BlockCall,
        else_dest: BlockCall,
    },
    /// Multi-way branch on `index: i64`: the case whose value equals it, else `default`.
    Switch {
        index: Value,
        cases: Vec<(u64, Block)>,
        default: Block,
    },
    /// Returns from the current function.
    Return {
        args: Vec<Value>,
    },
    /// Ends the whole execution (not just this function) with the memory range `[offset, offset+len)`
    /// (`i64`s) as output. Traps `heap_oob` if the range is not inside memory.
    Halt {
        kind: HaltKind,
        args: [Value; 2],
    },
    /// Ends the whole execution with a trap.
    Trap {
        code: TrapCode,
    },
}

impl Op {
    /// True for operations that end a block.
    pub const fn is_terminator(&self) -> bool {
        matches!(
            self,
            Op::Jump { .. }
                | Op::Brif { .. }
                | Op::Switch { .. }
                | Op::Return { .. }
                | Op::Halt { .. }
                | Op::Trap { .. }
        )
    }

    /// The value operands, in order (branch arguments included, after the condition or index).
    pub fn operands(&self) -> Vec<Value> {
        match self {
            Op::Iconst { .. }
            | Op::Fconst { .. }
            | Op::Wconst { .. }
            | Op::MemSize
            | Op::DataSize { .. }
            | Op::StackCheck { .. }
            | Op::StackGet { .. }
            | Op::StackAdjust { .. }
            | Op::GasCost { .. }
            | Op::GasBlock { .. }
            | Op::GasLeft
            | Op::DataDrop { .. }
            | Op::GlobalGet { .. }
            | Op::TableSize { .. }
            | Op::RefFunc { .. }
            | Op::ElemDrop { .. }
            | Op::Trap { .. } => vec![],
            Op::TableGet { arg, .. } => vec![*arg],
            Op::TableSet { args, .. } | Op::TableGrow { args, .. } => args.to_vec(),
            Op::TableFill { args, .. } | Op::TableCopy { args, .. } | Op::TableInit { args, .. } => args.to_vec(),
            Op::CallIndirect { args, .. } => args.clone(),
            Op::Unary { arg, .. }
            | Op::FUnary { arg, .. }
            | Op::Convert { arg, .. }
            | Op::DataLoad { arg, .. }
            | Op::GasCharge { arg }
            | Op::MemGrow { arg } => {
                vec![*arg]
            }
            Op::StackSet { value, .. } | Op::GlobalSet { value, .. } => vec![*value],
            Op::Binary { args, .. }
            | Op::FBinary { args, .. }
            | Op::MemExpand { args }
            | Op::Hash { args, .. }
            | Op::Halt { args, .. } => args.to_vec(),
            Op::Ternary { args, .. }
            | Op::MemCopy { args }
            | Op::MemFill { args }
            | Op::MemInit { args, .. }
            | Op::DataCopy { args, .. } => args.to_vec(),
            Op::Select { cond, args } => vec![*cond, args[0], args[1]],
            Op::Load { addr, .. } => vec![*addr],
            Op::Store { addr, value, .. } => vec![*addr, *value],
            Op::HostCall { args, .. } | Op::Call { args, .. } | Op::Return { args } => args.clone(),
            Op::Jump { dest } => dest.args.clone(),
            Op::Brif { cond, then_dest, else_dest } => {
                let mut v = vec![*cond];
                v.extend(&then_dest.args);
                v.extend(&else_dest.args);
                v
            }
            Op::Switch { index, .. } => vec![*index],
        }
    }

    /// True for operations whose behaviour depends on the gas left, and which must therefore see the counter
    /// exactly as a per-operation meter would (`gas.left`, and the host functions of
    /// [`HostFn::observes_gas`]).
    pub const fn observes_gas(&self) -> bool {
        match self {
            Op::GasLeft => true,
            Op::HostCall { func, .. } => func.observes_gas(),
            _ => false,
        }
    }

    /// The blocks this terminator may branch to (empty for other operations).
    pub fn successors(&self) -> Vec<Block> {
        match self {
            Op::Jump { dest } => vec![dest.block],
            Op::Brif { then_dest, else_dest, .. } => vec![then_dest.block, else_dest.block],
            Op::Switch { cases, default, .. } => {
                let mut v: Vec<Block> = cases.iter().map(|c| c.1).collect();
                v.push(*default);
                v
            }
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_takes_offset_length_and_its_topics() {
        for n in 0..=MAX_LOG_TOPICS {
            let mut want = vec![Type::I64, Type::I64];
            want.extend(std::iter::repeat_n(Type::W256, usize::from(n)));
            assert_eq!(HostFn::Log(n).signature(), (&want[..], &[][..]), "log{n}");
        }
    }
}
