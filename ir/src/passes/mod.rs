//! Transformations over IR modules. One pass per file; each file's doc says what the pass guarantees.
pub mod gas;
