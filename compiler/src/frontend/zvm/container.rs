//! The `ZVMC` container: the 16-byte header that the original ZVM (`src/bytecode/container.zig`) wraps
//! around bytecode, followed by the code section and an optional data section (the original's ABI /
//! metadata section).
//!
//! ```text
//! offset size field
//!  0     4    magic "ZVMC"
//!  4     1    version     (1)
//!  5     1    target      (0 = ZVM native; 1 = EVM compat and 2 = WASM bridge are not ZVM bytecode)
//!  6     1    flags       (reserved, 0)
//!  7     1    padding     (0)
//!  8     4    code_size   (u32, little endian)
//! 12     4    data_size   (u32, little endian)
//! 16     code_size bytes of code, then data_size bytes of data, then nothing
//! ```
//!
//! [`parse`] also accepts raw bytecode: input that does not start with the magic is taken as code as-is.

use thiserror::Error;

/// The four bytes every container starts with.
pub const MAGIC: &[u8; 4] = b"ZVMC";
/// Size of the fixed header.
pub const HEADER_LEN: usize = 16;
/// The only container version there is.
pub const VERSION: u8 = 1;
/// Target byte of native ZVM bytecode (`zvm_native` in the original).
pub const TARGET_ZVM_NATIVE: u8 = 0;

/// Bytecode ready for the frontend, borrowed from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZvmCode<'a> {
    /// The instructions.
    pub code: &'a [u8],
    /// The container's data section (ABI / metadata in the original); empty for raw code.
    pub data: &'a [u8],
    /// Container version from the header; 0 when the input was raw code without a container.
    pub version: u8,
}

/// Why bytes that start with [`MAGIC`] are not a valid container.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ContainerError {
    #[error("truncated ZVMC header: {len} of {HEADER_LEN} bytes")]
    TruncatedHeader { len: usize },
    #[error("unsupported ZVMC version {0} (expected {VERSION})")]
    UnsupportedVersion(u8),
    #[error("ZVMC target {target} ({}) is not native ZVM bytecode (expected {TARGET_ZVM_NATIVE})", target_name(*.target))]
    UnsupportedTarget { target: u8 },
    #[error("reserved ZVMC header byte `{field}` is {value:#04x}, expected 0")]
    ReservedByte { field: &'static str, value: u8 },
    #[error(
        "ZVMC length mismatch: header declares {code_len} code + {data_len} data bytes, \
         but {actual} bytes follow the header"
    )]
    LengthMismatch { code_len: u32, data_len: u32, actual: usize },
}

fn target_name(target: u8) -> &'static str {
    match target {
        0 => "zvm_native",
        1 => "evm_compat",
        2 => "wasm_bridge",
        _ => "unknown",
    }
}

/// Splits `bytes` into code and data. Raw code (no magic) is accepted as-is; bytes starting with the
/// magic must be a valid container whose sections exactly fill the input.
pub fn parse(bytes: &[u8]) -> Result<ZvmCode<'_>, ContainerError> {
    if !bytes.starts_with(MAGIC) {
        return Ok(ZvmCode { code: bytes, data: &[], version: 0 });
    }
    let Some((header, body)) = bytes.split_first_chunk::<HEADER_LEN>() else {
        return Err(ContainerError::TruncatedHeader { len: bytes.len() });
    };
    let [_, _, _, _, version, target, flags, padding, c0, c1, c2, c3, d0, d1, d2, d3] = *header;
    if version != VERSION {
        return Err(ContainerError::UnsupportedVersion(version));
    }
    if target != TARGET_ZVM_NATIVE {
        return Err(ContainerError::UnsupportedTarget { target });
    }
    for (field, value) in [("flags", flags), ("padding", padding)] {
        if value != 0 {
            return Err(ContainerError::ReservedByte { field, value });
        }
    }
    let code_len = u32::from_le_bytes([c0, c1, c2, c3]);
    let data_len = u32::from_le_bytes([d0, d1, d2, d3]);
    let mismatch = ContainerError::LengthMismatch { code_len, data_len, actual: body.len() };
    if u64::from(code_len) + u64::from(data_len) != body.len() as u64 {
        return Err(mismatch);
    }
    // The sum matches, so `code_len <= body.len()` and fits in `usize`.
    let (code, data) = body.split_at_checked(code_len as usize).ok_or(mismatch)?;
    Ok(ZvmCode { code, data, version })
}

/// Wraps `code` and `data` in a version-1, ZVM-native container.
///
/// # Panics
/// If a section is 4 GiB or larger (the header stores sizes as `u32`).
pub fn encode(code: &[u8], data: &[u8]) -> Vec<u8> {
    let size = |section: &[u8]| {
        u32::try_from(section.len()).expect("ZVMC sections are limited to u32::MAX bytes").to_le_bytes()
    };
    let mut out = Vec::with_capacity(HEADER_LEN + code.len() + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[VERSION, TARGET_ZVM_NATIVE, 0, 0]);
    out.extend_from_slice(&size(code));
    out.extend_from_slice(&size(data));
    out.extend_from_slice(code);
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(version: u8, target: u8, flags: u8, code_len: u32, data_len: u32) -> Vec<u8> {
        let mut h = MAGIC.to_vec();
        h.extend_from_slice(&[version, target, flags, 0]);
        h.extend_from_slice(&code_len.to_le_bytes());
        h.extend_from_slice(&data_len.to_le_bytes());
        h
    }

    #[test]
    fn raw_code_passes_through() {
        for raw in [&b""[..], &[0x11, 0x2a, 0x00], b"ZVM", b"zvmc\x01"] {
            assert_eq!(parse(raw), Ok(ZvmCode { code: raw, data: &[], version: 0 }));
        }
    }

    #[test]
    fn layout_matches_the_original() {
        let bytes = encode(&[0x11, 0x05, 0x00], b"{}");
        assert_eq!(&bytes[..16], &header(1, 0, 0, 3, 2)[..]);
        assert_eq!(&bytes[16..], &[0x11, 0x05, 0x00, b'{', b'}']);
        assert_eq!(parse(&bytes), Ok(ZvmCode { code: &[0x11, 0x05, 0x00], data: b"{}", version: 1 }));
        assert_eq!(parse(&encode(&[], &[])), Ok(ZvmCode { code: &[], data: &[], version: 1 }));
    }

    #[test]
    fn truncated_header() {
        let full = encode(&[0x00], &[]);
        for len in 4..HEADER_LEN {
            assert_eq!(parse(&full[..len]), Err(ContainerError::TruncatedHeader { len }));
        }
    }

    #[test]
    fn bad_header_fields() {
        let with = |version, target, flags| {
            let mut b = header(version, target, flags, 1, 0);
            b.push(0x00);
            parse(&b).map(|c| c.version)
        };
        assert_eq!(with(1, 0, 0), Ok(1));
        assert_eq!(with(0, 0, 0), Err(ContainerError::UnsupportedVersion(0)));
        assert_eq!(with(2, 0, 0), Err(ContainerError::UnsupportedVersion(2)));
        assert_eq!(with(1, 1, 0), Err(ContainerError::UnsupportedTarget { target: 1 }));
        assert_eq!(with(1, 0, 4), Err(ContainerError::ReservedByte { field: "flags", value: 4 }));
        let mut padded = encode(&[0x00], &[]);
        padded[7] = 0xff;
        assert_eq!(parse(&padded), Err(ContainerError::ReservedByte { field: "padding", value: 0xff }));
    }

    #[test]
    fn length_mismatch() {
        let mut short = header(1, 0, 0, 4, 1);
        short.extend_from_slice(&[0; 4]);
        assert_eq!(parse(&short), Err(ContainerError::LengthMismatch { code_len: 4, data_len: 1, actual: 4 }));
        let mut long = encode(&[0x00], &[]);
        long.push(0xAA);
        assert!(matches!(parse(&long), Err(ContainerError::LengthMismatch { actual: 2, .. })));
        let huge = header(1, 0, 0, u32::MAX, u32::MAX);
        assert!(matches!(parse(&huge), Err(ContainerError::LengthMismatch { actual: 0, .. })));
    }

    #[test]
    fn messages_are_readable() {
        assert_eq!(
            ContainerError::UnsupportedTarget { target: 1 }.to_string(),
            "ZVMC target 1 (evm_compat) is not native ZVM bytecode (expected 0)"
        );
        assert_eq!(ContainerError::TruncatedHeader { len: 5 }.to_string(), "truncated ZVMC header: 5 of 16 bytes");
    }

    #[test]
    fn never_panics_on_mutated_headers() {
        let base = encode(&[0x11, 0x01, 0x00], b"abc");
        for pos in 0..base.len() {
            for value in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                let mut bytes = base.clone();
                bytes[pos] = value;
                for len in 0..=bytes.len() {
                    let _ = parse(&bytes[..len]);
                }
            }
        }
    }
}
