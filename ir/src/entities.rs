//! Dense integer handles for the entities of a function: values, blocks, instructions and functions.

use std::fmt;

macro_rules! entity {
    ($(#[$m:meta])* $name:ident, $prefix:literal) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl $name {
            /// The handle's index in its arena.
            pub const fn index(self) -> usize {
                self.0 as usize
            }
            /// The handle for arena index `i`.
            pub fn new(i: usize) -> Self {
                Self(u32::try_from(i).expect("entity index exceeds u32"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

entity!(
    /// An SSA value: a block parameter or an instruction result.
    Value,
    "v"
);
entity!(
    /// A basic block. Blocks take parameters instead of phi nodes.
    Block,
    "block"
);
entity!(
    /// An instruction in a function's instruction arena.
    Inst,
    "inst"
);
entity!(
    /// A function of a module.
    FuncId,
    "fn"
);
