//! Linear memory: a plain vector for stack-machine frames, a guarded reservation for WebAssembly.
//!
//! A WebAssembly address is a 32-bit index plus a 32-bit static offset, so every access falls below
//! 2^33 + a few bytes from the memory's base. A memory whose plan is `guarded` (see
//! [`zvm_ir::MemoryPlan::guarded`]) gets [`abi::HEAP_RESERVATION`] bytes of address space up front, with only
//! its current size readable and writable. Compiled code then accesses it without a bounds check: an
//! access past the end lands in the inaccessible rest of the reservation, the processor faults, and the
//! fault handler ([`heap_faults`]) turns the fault into a `heap_oob` trap. This is how wasmtime and V8
//! run WebAssembly; the bounds checks it removes were a third of the instructions of a matrix-multiply
//! inner loop.
//!
//! Growing maps more of the reservation (`mprotect`); the base never moves. The interpreter, the helpers
//! and the host see the memory as a byte slice of its current size and keep checking bounds themselves.
//!
//! Reservations are recycled through a small pool (see `reservation`), so a contract call that
//! instantiates its module afresh makes no system call for its memory.
//!
//! EVM and ZVM frames keep a vector: their memory grows by 32-byte words and every access first expands
//! it and charges for that, so their compiled code compares against the size anyway.

pub mod heap_faults;
mod reservation;

use std::fmt;
use std::ops::{Deref, DerefMut};

use reservation::Reservation;
pub use reservation::ReserveError;
use zvm_compiler::abi;

/// The linear memory of a frame or a module instance.
pub enum LinearMemory {
    /// A vector: stack-machine frames (EVM, ZVM) and memories without a guarded plan.
    Vec(Vec<u8>),
    /// A guarded reservation (see the module docs).
    Reserved(Reservation),
}

impl LinearMemory {
    /// A guarded memory of `len` zeroed bytes (a multiple of the WebAssembly page size).
    pub fn reserved(len: usize) -> Result<LinearMemory, ReserveError> {
        Reservation::new(len).map(LinearMemory::Reserved)
    }

    /// Whether this is a guarded reservation, which compiled code may access without bounds checks.
    pub fn is_reserved(&self) -> bool {
        matches!(self, LinearMemory::Reserved(_))
    }

    /// Grows the memory to `new_len` zeroed bytes (no change if it is not longer). False if it cannot:
    /// a reservation grows only by whole pages and up to 4 GiB, and only while the system maps them.
    pub fn grow_to(&mut self, new_len: usize) -> bool {
        match self {
            LinearMemory::Vec(v) => {
                if new_len > v.len() {
                    v.resize(new_len, 0);
                }
                true
            }
            LinearMemory::Reserved(r) => r.grow_to(new_len),
        }
    }

    /// Bytes the memory holds without moving (a reservation never moves).
    pub fn capacity(&self) -> usize {
        match self {
            LinearMemory::Vec(v) => v.capacity(),
            LinearMemory::Reserved(_) => abi::HEAP_MAX_BYTES as usize,
        }
    }

    /// Makes room for at least `additional` more bytes without moving (vectors only; a reservation has
    /// its room already).
    pub fn reserve(&mut self, additional: usize) {
        if let LinearMemory::Vec(v) = self {
            v.reserve(additional);
        }
    }
}

impl Default for LinearMemory {
    fn default() -> Self {
        LinearMemory::Vec(Vec::new())
    }
}

impl Deref for LinearMemory {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            LinearMemory::Vec(v) => v,
            LinearMemory::Reserved(r) => r.as_slice(),
        }
    }
}

impl DerefMut for LinearMemory {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            LinearMemory::Vec(v) => v,
            LinearMemory::Reserved(r) => r.as_mut_slice(),
        }
    }
}

impl From<Vec<u8>> for LinearMemory {
    fn from(v: Vec<u8>) -> Self {
        LinearMemory::Vec(v)
    }
}

impl PartialEq for LinearMemory {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for LinearMemory {}

impl fmt::Debug for LinearMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.is_reserved() { "reserved" } else { "vec" };
        write!(f, "LinearMemory({kind}, {} bytes)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zvm_ir::instructions::WASM_PAGE;

    const PAGE: usize = WASM_PAGE as usize;

    #[test]
    fn a_reservation_starts_zeroed_and_grows_by_pages() {
        let mut m = LinearMemory::reserved(PAGE).expect("reserve");
        assert!(m.is_reserved());
        assert_eq!(m.len(), PAGE);
        assert!(m.iter().all(|&b| b == 0));
        m[PAGE - 1] = 7;
        let base = m.as_ptr();
        assert!(m.grow_to(3 * PAGE));
        assert_eq!(m.len(), 3 * PAGE);
        assert_eq!(m.as_ptr(), base, "a reservation never moves");
        assert_eq!(m[PAGE - 1], 7);
        assert!(m[PAGE..].iter().all(|&b| b == 0));
        m[3 * PAGE - 1] = 9;
        // Not by part of a page, and not past 4 GiB.
        assert!(!m.grow_to(3 * PAGE + 1));
        assert!(!m.grow_to(abi::HEAP_MAX_BYTES as usize + PAGE));
        assert_eq!(m.len(), 3 * PAGE);
        // Shrinking is not growing: nothing changes.
        assert!(m.grow_to(PAGE));
        assert_eq!(m.len(), 3 * PAGE);
    }

    #[test]
    fn an_empty_reservation_and_a_vector_compare_by_contents() {
        let mut r = LinearMemory::reserved(0).expect("reserve");
        assert!(r.is_empty());
        assert_eq!(r, LinearMemory::default());
        assert!(r.grow_to(PAGE));
        let mut v = LinearMemory::from(vec![0; PAGE]);
        assert_eq!(r, v);
        v[5] = 1;
        assert_ne!(r, v);
        assert!(format!("{r:?}").contains("reserved"));
    }

    #[test]
    fn a_reservation_length_that_is_not_whole_pages_is_refused() {
        assert!(LinearMemory::reserved(PAGE + 3).is_err());
    }
}
