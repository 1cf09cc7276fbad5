//! A guarded reservation of address space: [`abi::HEAP_RESERVATION`] bytes mapped inaccessible, of which the
//! first `len` are readable and writable (see the module docs of `memory`).
//!
//! Reservations are recycled. A contract call instantiates its module afresh, and mapping, protecting and
//! unmapping 8 GiB, with the page faults of a fresh mapping, cost five times a small call (12 µs against
//! 2.4 µs for a counter contract). A dropped reservation is zeroed and goes to a small process-wide pool
//! instead: its first [`KEEP_RESIDENT`] bytes stay mapped and are cleared with a plain write (what a
//! fresh `Vec` costs too), anything past that is handed back to the system (`MADV_DONTNEED`, which
//! makes it read as zero again) and made inaccessible. The next reservation of the same size takes it
//! without a system call.

use std::sync::Mutex;
use zvm_compiler::abi;
use zvm_ir::instructions::WASM_PAGE;

/// Why a reservation could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReserveError {
    #[error("a guarded memory's size must be whole pages of 64 KiB and at most 4 GiB, not {0} bytes")]
    Size(usize),
    #[error("cannot reserve address space for a guarded memory: {0}")]
    System(String),
}

/// Most reservations the pool keeps (each is address space only, plus up to [`KEEP_RESIDENT`] bytes).
const POOL_CAPACITY: usize = 32;

/// Bytes of a recycled reservation that stay mapped and are zeroed by writing; the rest is returned to the
/// system.
const KEEP_RESIDENT: usize = 1 << 20;

/// A mapping that is not in use: zeroed, its first `len` bytes accessible.
struct Free {
    base: usize,
    len: usize,
}

/// Reservations given back, ready for reuse.
static POOL: Mutex<Vec<Free>> = Mutex::new(Vec::new());

/// The reservation. Owns its mapping; the accessible part is `[base, base + len)`.
pub struct Reservation {
    base: *mut u8,
    len: usize,
}

// SAFETY: the reservation owns its mapping outright, like a `Vec<u8>` owns its buffer; `&self` only reads.
unsafe impl Send for Reservation {}
// SAFETY: as above.
unsafe impl Sync for Reservation {}

/// Whether `len` can be the accessible size of a reservation.
fn valid_len(len: usize) -> bool {
    (len as u64).is_multiple_of(WASM_PAGE) && len as u64 <= abi::HEAP_MAX_BYTES
}

#[cfg(unix)]
fn last_os_error() -> ReserveError {
    ReserveError::System(std::io::Error::last_os_error().to_string())
}

impl Reservation {
    /// A reservation whose first `len` bytes are accessible and zero: a recycled one if the pool has one,
    /// else a new mapping.
    #[cfg(unix)]
    pub fn new(len: usize) -> Result<Reservation, ReserveError> {
        if !valid_len(len) {
            return Err(ReserveError::Size(len));
        }
        // No guarded memory exists without the handler that turns its faults into traps.
        super::heap_faults::install().map_err(ReserveError::System)?;
        let recycled = POOL.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut r = match recycled {
            Some(free) => Reservation { base: free.base as *mut u8, len: free.len },
            None => Self::map()?,
        };
        if !r.set_len(len) {
            return Err(last_os_error());
        }
        Ok(r)
    }

    /// Guarded memories need `mmap`; elsewhere they cannot be made.
    #[cfg(not(unix))]
    pub fn new(len: usize) -> Result<Reservation, ReserveError> {
        let _ = len;
        Err(ReserveError::System("guarded memories need a Unix system".into()))
    }

    /// A new mapping, all of it inaccessible.
    #[cfg(unix)]
    fn map() -> Result<Reservation, ReserveError> {
        // SAFETY: a fresh anonymous mapping at an address of the system's choosing touches no existing
        // memory; `MAP_NORESERVE` with `PROT_NONE` commits nothing.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                abi::HEAP_RESERVATION as usize,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(last_os_error());
        }
        Ok(Reservation { base: base.cast(), len: 0 })
    }

    /// Makes the first `new_len` bytes accessible; the bytes past the old length read as zero (fresh pages
    /// of an anonymous mapping). False if `new_len` is not whole pages within 4 GiB or the system refuses.
    /// A shorter `new_len` changes nothing.
    pub fn grow_to(&mut self, new_len: usize) -> bool {
        if !valid_len(new_len) {
            return false;
        }
        new_len <= self.len || self.set_len(new_len)
    }

    /// Makes exactly the first `new_len` bytes (whole pages) accessible. The bytes of a zeroed reservation
    /// stay zero whichever way it changes: pages made inaccessible keep their (zero) contents, and pages
    /// never touched or returned with `MADV_DONTNEED` read as zero.
    fn set_len(&mut self, new_len: usize) -> bool {
        if new_len == self.len {
            return true;
        }
        #[cfg(unix)]
        {
            let (from, to, prot) = if new_len > self.len {
                (self.len, new_len, libc::PROT_READ | libc::PROT_WRITE)
            } else {
                (new_len, self.len, libc::PROT_NONE)
            };
            // SAFETY: `[base + from, base + to)` lies inside the reservation (both ends <= 4 GiB), which this
            // value owns; pages made inaccessible are past the new length, so no slice refers to them.
            let ok = unsafe { libc::mprotect(self.base.add(from).cast(), to - from, prot) } == 0;
            if ok {
                self.len = new_len;
            }
            ok
        }
        #[cfg(not(unix))]
        false
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the first `len` bytes are mapped readable, owned by this value and initialized (zeroed
        // by the system when first touched).
        unsafe { std::slice::from_raw_parts(self.base, self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`; `&mut self` makes the borrow exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.base, self.len) }
    }

    /// Zeroes the reservation for its next user, keeping at most [`KEEP_RESIDENT`] bytes accessible.
    /// False if the system refused (the reservation must then be unmapped, not reused).
    #[cfg(unix)]
    fn clear(&mut self) -> bool {
        let keep = self.len.min(KEEP_RESIDENT);
        self.as_mut_slice()[..keep].fill(0);
        if self.len > keep {
            // SAFETY: `[base + keep, base + len)` is accessible memory this value owns; nothing refers to it
            // (the value is being dropped).
            let released =
                unsafe { libc::madvise(self.base.add(keep).cast(), self.len - keep, libc::MADV_DONTNEED) } == 0;
            if !released || !self.set_len(keep) {
                return false;
            }
        }
        true
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            if self.clear() {
                let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
                if pool.len() < POOL_CAPACITY {
                    pool.push(Free { base: self.base as usize, len: self.len });
                    return;
                }
            }
            // SAFETY: the mapping was made in `map` with this base and size and is unmapped once, here (it is
            // not in the pool); slices of it borrow `self` and so cannot outlive it.
            unsafe {
                libc::munmap(self.base.cast(), abi::HEAP_RESERVATION as usize);
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    const PAGE: usize = WASM_PAGE as usize;

    /// A recycled reservation is all zero, within its old length, past it after growing, and past
    /// `KEEP_RESIDENT` (returned to the system); nothing of its previous user shows.
    #[test]
    fn a_recycled_reservation_is_zero_everywhere() {
        let big = KEEP_RESIDENT + 2 * PAGE;
        // Fill several, so that whichever the pool hands out next was dirty.
        let dirty: Vec<Reservation> = (0..4)
            .map(|_| {
                let mut r = Reservation::new(big).expect("reserve");
                r.as_mut_slice().fill(0xa5);
                r
            })
            .collect();
        drop(dirty);
        for len in [PAGE, big, 3 * PAGE] {
            let mut r = Reservation::new(len).expect("reserve");
            assert!(r.as_slice().iter().all(|&b| b == 0), "{len} bytes");
            assert!(r.grow_to(big + PAGE));
            assert!(r.as_slice().iter().all(|&b| b == 0), "{len} bytes grown");
            r.as_mut_slice().fill(0x5a);
        }
    }
}
