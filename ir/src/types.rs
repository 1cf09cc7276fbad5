//! Value types of the IR.

use std::fmt;

/// The type of an SSA value.
///
/// `W256` is the 256-bit machine word of the EVM and ZVM; the others are the WebAssembly number types.
/// Booleans produced by comparisons are `I32` (0 or 1) for the narrow types and `W256` (0 or 1) for words,
/// so a stack machine over words never has to widen a flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    I32,
    I64,
    F32,
    F64,
    W256,
}

impl Type {
    /// Every type, in text-form order.
    pub const ALL: [Type; 5] = [Type::I32, Type::I64, Type::F32, Type::F64, Type::W256];

    /// Size of a value of this type in bytes.
    pub const fn bytes(self) -> u32 {
        match self {
            Type::I32 | Type::F32 => 4,
            Type::I64 | Type::F64 => 8,
            Type::W256 => 32,
        }
    }

    /// True for the integer types (`i32`, `i64`, `w256`).
    pub const fn is_int(self) -> bool {
        matches!(self, Type::I32 | Type::I64 | Type::W256)
    }

    /// True for `f32` and `f64`.
    pub const fn is_float(self) -> bool {
        matches!(self, Type::F32 | Type::F64)
    }

    /// The type a comparison of two values of this type produces.
    pub const fn bool_type(self) -> Type {
        match self {
            Type::W256 => Type::W256,
            _ => Type::I32,
        }
    }

    /// The name used in the text form.
    pub const fn name(self) -> &'static str {
        match self {
            Type::I32 => "i32",
            Type::I64 => "i64",
            Type::F32 => "f32",
            Type::F64 => "f64",
            Type::W256 => "w256",
        }
    }

    /// Parses a text-form type name.
    pub fn from_name(s: &str) -> Option<Type> {
        Type::ALL.into_iter().find(|t| t.name() == s)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
