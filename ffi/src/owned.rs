//! Structs the C side reads whose pointers lead into Rust-owned buffers: the struct and its buffers live
//! in one heap allocation, made by [`Owned::into_raw`] and freed by [`Owned::free`].

/// A C-visible `view` followed by the `storage` its pointers lead into. `repr(C)` puts `view` first, so a
/// pointer to the whole is a pointer to the view.
///
/// The storage is made of `Vec`s: a `Vec`'s buffer stays where it is when the `Vec` moves, so the
/// pointers taken from it before the move stay valid.
#[repr(C)]
pub(crate) struct Owned<V, S> {
    view: V,
    storage: S,
}

impl<V, S> Owned<V, S> {
    /// Moves `view` and its `storage` to the heap; the C side gets the view.
    pub fn into_raw(view: V, storage: S) -> *mut V {
        Box::into_raw(Box::new(Owned { view, storage })).cast()
    }

    /// Frees a view made by [`Owned::into_raw`]; NULL is ignored.
    ///
    /// # Safety
    /// `view` is NULL or comes from `Owned::<V, S>::into_raw` (the same `V` and `S`) and was not freed.
    pub unsafe fn free(view: *mut V) {
        if !view.is_null() {
            // SAFETY: the caller's contract; the view is at the start of its `Owned`.
            drop(unsafe { Box::from_raw(view.cast::<Owned<V, S>>()) });
        }
    }
}

/// `text` as the bytes of a C string: NUL-terminated, with any NUL inside replaced by U+FFFD.
pub(crate) fn c_string(text: &str) -> Vec<u8> {
    let mut bytes = text.replace('\0', "\u{fffd}").into_bytes();
    bytes.push(0);
    bytes
}
