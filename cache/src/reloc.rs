//! The relocations the loader applies, as pure functions on the bytes of the place being patched, so the
//! arithmetic of every architecture is tested on any host.

use object::elf;

/// An architecture whose relocations the loader knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arch {
    X86_64,
    Aarch64,
}

/// Bytes a relocation of type `r_type` patches, or `None` for a type the loader does not support.
pub(crate) fn width(arch: Arch, r_type: u32) -> Option<usize> {
    match (arch, r_type) {
        (Arch::X86_64, elf::R_X86_64_64) => Some(8),
        (Arch::X86_64, elf::R_X86_64_PC32 | elf::R_X86_64_PLT32) => Some(4),
        (Arch::Aarch64, elf::R_AARCH64_ABS64) => Some(8),
        (
            Arch::Aarch64,
            elf::R_AARCH64_CALL26
            | elf::R_AARCH64_JUMP26
            | elf::R_AARCH64_ADR_PREL_PG_HI21
            | elf::R_AARCH64_ADD_ABS_LO12_NC,
        ) => Some(4),
        _ => None,
    }
}

/// Patches `place` (exactly [`width`] bytes, at address `p`) for a relocation of type `r_type` whose
/// target plus addend is `sa`. Errors name what does not fit; nothing is written then.
pub(crate) fn apply(arch: Arch, r_type: u32, place: &mut [u8], p: u64, sa: u64) -> Result<(), String> {
    let rel = sa.wrapping_sub(p) as i64;
    match (arch, r_type) {
        (Arch::X86_64, elf::R_X86_64_64) | (Arch::Aarch64, elf::R_AARCH64_ABS64) => write(place, &sa.to_le_bytes()),
        (Arch::X86_64, elf::R_X86_64_PC32 | elf::R_X86_64_PLT32) => {
            let v = i32::try_from(rel).map_err(|_| format!("PC-relative offset {rel} does not fit 32 bits"))?;
            write(place, &v.to_le_bytes())
        }
        (Arch::Aarch64, elf::R_AARCH64_CALL26 | elf::R_AARCH64_JUMP26) => {
            if rel % 4 != 0 || !(-(1 << 27)..(1 << 27)).contains(&rel) {
                return Err(format!("branch offset {rel} is misaligned or beyond +-128 MiB"));
            }
            let insn = read_u32(place)?;
            let imm = ((rel >> 2) as u32) & 0x03ff_ffff;
            write(place, &((insn & 0xfc00_0000) | imm).to_le_bytes())
        }
        (Arch::Aarch64, elf::R_AARCH64_ADR_PREL_PG_HI21) => {
            let pages = ((sa & !0xfff) as i64).wrapping_sub((p & !0xfff) as i64) >> 12;
            if !(-(1 << 20)..(1 << 20)).contains(&pages) {
                return Err(format!("page offset {pages} does not fit 21 bits"));
            }
            let insn = read_u32(place)?;
            let imm = pages as u32 & 0x1f_ffff;
            let (lo, hi) = (imm & 3, imm >> 2);
            write(place, &((insn & 0x9f00_001f) | (lo << 29) | (hi << 5)).to_le_bytes())
        }
        (Arch::Aarch64, elf::R_AARCH64_ADD_ABS_LO12_NC) => {
            let insn = read_u32(place)?;
            let imm = (sa & 0xfff) as u32;
            write(place, &((insn & 0xffc0_03ff) | (imm << 10)).to_le_bytes())
        }
        _ => Err(format!("unsupported relocation type {r_type}")),
    }
}

fn read_u32(place: &[u8]) -> Result<u32, String> {
    let b: [u8; 4] = place.try_into().map_err(|_| "relocation place has the wrong size".to_string())?;
    Ok(u32::from_le_bytes(b))
}

fn write(place: &mut [u8], bytes: &[u8]) -> Result<(), String> {
    if place.len() != bytes.len() {
        return Err("relocation place has the wrong size".into());
    }
    place.copy_from_slice(bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_64_pc32_and_abs64() {
        let mut place = [0u8; 4];
        // A call at 0x1000 to 0x2000 with the usual -4 addend: 0x2000 - 4 - 0x1000.
        apply(Arch::X86_64, elf::R_X86_64_PLT32, &mut place, 0x1000, 0x2000 - 4).unwrap();
        assert_eq!(i32::from_le_bytes(place), 0xffc);
        apply(Arch::X86_64, elf::R_X86_64_PC32, &mut place, 0x2000, 0x1000).unwrap();
        assert_eq!(i32::from_le_bytes(place), -0x1000);
        assert!(apply(Arch::X86_64, elf::R_X86_64_PC32, &mut place, 0, 1 << 40).is_err());
        let mut abs = [0u8; 8];
        apply(Arch::X86_64, elf::R_X86_64_64, &mut abs, 0, 0x1234_5678_9abc).unwrap();
        assert_eq!(u64::from_le_bytes(abs), 0x1234_5678_9abc);
        assert!(apply(Arch::X86_64, elf::R_X86_64_GOTPCREL, &mut place, 0, 0).is_err());
        assert_eq!(width(Arch::X86_64, elf::R_X86_64_GOTPCREL), None);
    }

    #[test]
    fn aarch64_branches_pages_and_low_bits() {
        let bl = 0x9400_0000u32.to_le_bytes();
        let mut place = bl;
        apply(Arch::Aarch64, elf::R_AARCH64_CALL26, &mut place, 0x1000, 0x0ff8).unwrap();
        assert_eq!(u32::from_le_bytes(place), 0x9400_0000 | 0x03ff_fffe); // bl .-8
        let mut place = bl;
        assert!(apply(Arch::Aarch64, elf::R_AARCH64_JUMP26, &mut place, 0, 2).is_err());
        assert!(apply(Arch::Aarch64, elf::R_AARCH64_JUMP26, &mut place, 0, 1 << 28).is_err());

        // adrp x1, target: two pages ahead.
        let mut place = 0x9000_0001u32.to_le_bytes();
        apply(Arch::Aarch64, elf::R_AARCH64_ADR_PREL_PG_HI21, &mut place, 0x1ffc, 0x3010).unwrap();
        assert_eq!(u32::from_le_bytes(place), 0x9000_0001 | (2 << 29));
        let mut place = 0x9000_0001u32.to_le_bytes();
        apply(Arch::Aarch64, elf::R_AARCH64_ADR_PREL_PG_HI21, &mut place, 0x1000, 0x1000 + (5 << 12)).unwrap();
        assert_eq!(u32::from_le_bytes(place), 0x9000_0001 | (1 << 29) | (1 << 5));
        assert!(apply(Arch::Aarch64, elf::R_AARCH64_ADR_PREL_PG_HI21, &mut place, 0, 1 << 40).is_err());

        // add x1, x1, #:lo12:target
        let mut place = 0x9100_0021u32.to_le_bytes();
        apply(Arch::Aarch64, elf::R_AARCH64_ADD_ABS_LO12_NC, &mut place, 0, 0x3abc).unwrap();
        assert_eq!(u32::from_le_bytes(place), 0x9100_0021 | (0xabc << 10));

        let mut abs = [0u8; 8];
        apply(Arch::Aarch64, elf::R_AARCH64_ABS64, &mut abs, 0, 42).unwrap();
        assert_eq!(u64::from_le_bytes(abs), 42);
        assert!(apply(Arch::Aarch64, elf::R_X86_64_PC32, &mut place, 0, 0).is_err());
    }

    #[test]
    fn wrong_place_sizes_are_errors() {
        let mut short = [0u8; 3];
        assert!(apply(Arch::X86_64, elf::R_X86_64_PC32, &mut short, 0, 0).is_err());
        assert!(apply(Arch::Aarch64, elf::R_AARCH64_CALL26, &mut short, 0, 0).is_err());
    }
}
