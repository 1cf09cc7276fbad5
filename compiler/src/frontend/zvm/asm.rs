//! Assembler and disassembler for `.zasm`, the text form of ZVM bytecode.
//!
//! # The `.zasm` format
//!
//! One instruction per line; mnemonics are case-insensitive; `;` or `#` starts a comment.
//!
//! ```text
//! .container              ; optional, before any code: wrap the output in a ZVMC container
//! start:                  ; a label marks a code offset; it emits nothing (write JUMPDEST yourself)
//!     PUSH1 0x2a          ; explicit width: the value must fit (decimal or 0x-hex)
//!     PUSH2 300
//!     PUSH 12345          ; auto width: the smallest of PUSH1/2/4/8/16/32 that fits (up to 2^256-1)
//!     PUSH @start         ; label reference: the smallest PUSHn that fits the final offset
//! loop: JUMPDEST          ; a label may share its line with an instruction
//!     .byte 0xfe, 0x01    ; raw bytes, emitted as-is
//! ```
//!
//! Label offsets are code offsets (the container header is not counted). `PUSH @label` widths are found
//! by a fixed point: every label push starts as PUSH1 and is widened until all offsets fit, so the
//! output is as small as the greedy layout allows. `PUSHn @label` keeps width `n` and fails if the offset
//! does not fit.
//!
//! [`disassemble`] renders bytecode for people (offsets, truncated PUSH data and unassigned bytes spelt
//! out) and [`disassemble_to_asm`] renders it as source that [`assemble`] turns back into the same bytes.

use std::collections::HashMap;
use std::fmt::Write as _;

use ruint::aliases::U256;
use thiserror::Error;

use super::container;
use super::opcodes::{self, OpInfo, PUSH_WIDTHS};

/// An assembly error, with the 1-based source line it occurred on.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("line {line}: {kind}")]
pub struct AsmError {
    pub line: usize,
    pub kind: AsmErrorKind,
}

/// What went wrong on the line.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AsmErrorKind {
    #[error("unknown mnemonic `{0}`")]
    UnknownMnemonic(String),
    #[error("unknown directive `{0}`")]
    UnknownDirective(String),
    #[error("`{0}` needs an operand")]
    MissingOperand(String),
    #[error("`{mnemonic}` takes {expected} operand(s), found `{found}`")]
    UnexpectedOperand { mnemonic: String, expected: usize, found: String },
    #[error("invalid number `{0}` (expected decimal, 0x-hex or @label)")]
    InvalidNumber(String),
    #[error("`{value}` does not fit in {width} byte(s)")]
    DoesNotFit { value: String, width: u8 },
    #[error("invalid label name `{0}`")]
    InvalidLabel(String),
    #[error("label `{0}` is defined twice")]
    DuplicateLabel(String),
    #[error("undefined label `{0}`")]
    UndefinedLabel(String),
    #[error("`.container` must come before any code or label")]
    MisplacedContainer,
}

/// One source line's worth of output.
enum Item {
    Label {
        name: String,
        line: usize,
    },
    /// Opcode and immediate bytes, fully known at parse time.
    Bytes(Vec<u8>),
    /// A PUSH of a label offset; `width` is `None` for auto-sized `PUSH @label`.
    PushLabel {
        label: String,
        width: Option<u8>,
        line: usize,
    },
}

/// Assembles `.zasm` source into bytecode (wrapped in a ZVMC container if the source says `.container`).
pub fn assemble(src: &str) -> Result<Vec<u8>, AsmError> {
    let mut items = Vec::new();
    let mut wrap = false;
    for (index, raw) in src.lines().enumerate() {
        let line = index + 1;
        let err = |kind| AsmError { line, kind };
        let text = raw.find([';', '#']).map_or(raw, |cut| &raw[..cut]).trim();
        let text = match text.split_once(':') {
            Some((name, rest)) if !name.trim().contains(char::is_whitespace) => {
                let name = name.trim();
                if !is_label_name(name) {
                    return Err(err(AsmErrorKind::InvalidLabel(name.to_owned())));
                }
                items.push(Item::Label { name: name.to_owned(), line });
                rest.trim()
            }
            _ => text,
        };
        let mut words = text.split_whitespace();
        let Some(mnemonic) = words.next() else {
            continue;
        };
        let operands: Vec<&str> = words.collect();
        if mnemonic.eq_ignore_ascii_case(".container") {
            expect_operands(mnemonic, &operands, 0).map_err(err)?;
            if !items.is_empty() {
                return Err(err(AsmErrorKind::MisplacedContainer));
            }
            wrap = true;
        } else {
            items.push(parse_instruction(mnemonic, &operands, line).map_err(err)?);
        }
    }
    let code = layout(&items)?;
    Ok(if wrap { container::encode(&code, &[]) } else { code })
}

fn parse_instruction(mnemonic: &str, operands: &[&str], line: usize) -> Result<Item, AsmErrorKind> {
    if mnemonic.eq_ignore_ascii_case(".byte") {
        let values: Vec<&str> = operands.iter().flat_map(|o| o.split(',')).filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            return Err(AsmErrorKind::MissingOperand(mnemonic.to_owned()));
        }
        let bytes = values.iter().map(|v| Ok(sized_immediate(v, parse_number(v)?, 1)?[0]));
        return bytes.collect::<Result<_, _>>().map(Item::Bytes);
    }
    if mnemonic.starts_with('.') {
        return Err(AsmErrorKind::UnknownDirective(mnemonic.to_owned()));
    }
    let width = match opcodes::by_name(mnemonic) {
        Some(info) if info.imm_bytes == 0 => {
            expect_operands(mnemonic, operands, 0)?;
            return Ok(Item::Bytes(vec![info.code]));
        }
        Some(info) => Some(info.imm_bytes),
        None if mnemonic.eq_ignore_ascii_case("PUSH") => None,
        None => return Err(AsmErrorKind::UnknownMnemonic(mnemonic.to_owned())),
    };
    expect_operands(mnemonic, operands, 1)?;
    let operand = operands[0];
    if let Some(label) = operand.strip_prefix('@') {
        if !is_label_name(label) {
            return Err(AsmErrorKind::InvalidLabel(label.to_owned()));
        }
        return Ok(Item::PushLabel { label: label.to_owned(), width, line });
    }
    let value = parse_number(operand)?;
    let width = width.unwrap_or_else(|| auto_width(value));
    let mut bytes = vec![push_opcode(width)];
    bytes.extend(sized_immediate(operand, value, width)?);
    Ok(Item::Bytes(bytes))
}

fn expect_operands(mnemonic: &str, operands: &[&str], expected: usize) -> Result<(), AsmErrorKind> {
    match operands.len() {
        n if n == expected => Ok(()),
        0 => Err(AsmErrorKind::MissingOperand(mnemonic.to_owned())),
        _ => {
            Err(AsmErrorKind::UnexpectedOperand { mnemonic: mnemonic.to_owned(), expected, found: operands.join(" ") })
        }
    }
}

/// Places every item, widening label pushes until all label offsets fit, then emits the bytes.
fn layout(items: &[Item]) -> Result<Vec<u8>, AsmError> {
    // Current width of each label push, in source order; auto-sized ones start at one byte.
    let mut widths: Vec<u8> = label_pushes(items).map(|(_, width, _)| width.unwrap_or(1)).collect();
    // Widths only ever grow and are bounded by 32 bytes, so this terminates.
    let labels = loop {
        let labels = place_labels(items, &widths)?;
        let mut changed = false;
        for ((label, fixed, line), width) in label_pushes(items).zip(&mut widths) {
            let Some(&target) = labels.get(label) else {
                let kind = AsmErrorKind::UndefinedLabel(label.to_owned());
                return Err(AsmError { line, kind });
            };
            let needed = auto_width(U256::from(target));
            if fixed.is_none() && needed > *width {
                *width = needed;
                changed = true;
            }
        }
        if !changed {
            break labels;
        }
    };
    let mut code = Vec::new();
    let mut widths = widths.into_iter();
    for item in items {
        match item {
            Item::Label { .. } => {}
            Item::Bytes(bytes) => code.extend_from_slice(bytes),
            Item::PushLabel { label, line, .. } => {
                let width = widths.next().unwrap_or(32);
                let target = U256::from(labels.get(label.as_str()).copied().unwrap_or_default());
                let shown = format!("@{label} (offset {target})");
                let imm = sized_immediate(&shown, target, width).map_err(|kind| AsmError { line: *line, kind })?;
                code.push(push_opcode(width));
                code.extend(imm);
            }
        }
    }
    Ok(code)
}

/// Label, fixed width (if any) and line of every label push, in source order.
fn label_pushes(items: &[Item]) -> impl Iterator<Item = (&str, Option<u8>, usize)> {
    items.iter().filter_map(|item| match item {
        Item::PushLabel { label, width, line } => Some((label.as_str(), *width, *line)),
        _ => None,
    })
}

/// Code offset of every label, given the current widths of the label pushes.
fn place_labels<'a>(items: &'a [Item], widths: &[u8]) -> Result<HashMap<&'a str, usize>, AsmError> {
    let mut labels = HashMap::new();
    let mut widths = widths.iter();
    let mut offset = 0usize;
    for item in items {
        match item {
            Item::Label { name, line } => {
                if labels.insert(name.as_str(), offset).is_some() {
                    let kind = AsmErrorKind::DuplicateLabel(name.clone());
                    return Err(AsmError { line: *line, kind });
                }
            }
            Item::Bytes(bytes) => offset += bytes.len(),
            Item::PushLabel { .. } => offset += 1 + usize::from(*widths.next().unwrap_or(&32)),
        }
    }
    Ok(labels)
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn parse_number(text: &str) -> Result<U256, AsmErrorKind> {
    let invalid = || AsmErrorKind::InvalidNumber(text.to_owned());
    let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (text, 10),
    };
    let well_formed =
        digits.chars().any(|c| c.is_digit(radix)) && digits.chars().all(|c| c.is_digit(radix) || c == '_');
    if !well_formed {
        return Err(invalid());
    }
    U256::from_str_radix(digits, u64::from(radix))
        .map_err(|_| AsmErrorKind::DoesNotFit { value: text.to_owned(), width: 32 })
}

/// The smallest PUSH width that holds `value`.
fn auto_width(value: U256) -> u8 {
    let len = value.byte_len().max(1);
    PUSH_WIDTHS.into_iter().find(|&w| usize::from(w) >= len).unwrap_or(32)
}

/// `value` as exactly `width` big-endian bytes, or an error naming `shown` if it does not fit.
fn sized_immediate(shown: &str, value: U256, width: u8) -> Result<Vec<u8>, AsmErrorKind> {
    let width_bytes = usize::from(width);
    if value.byte_len() > width_bytes {
        return Err(AsmErrorKind::DoesNotFit { value: shown.to_owned(), width });
    }
    let bytes = value.to_be_bytes::<32>();
    Ok(bytes[32 - width_bytes..].to_vec())
}

fn push_opcode(width: u8) -> u8 {
    opcodes::push_opcode(width).unwrap_or(opcodes::op::PUSH32)
}

/// One decoded instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instruction<'a> {
    /// Offset of the opcode byte in the code.
    pub offset: usize,
    pub opcode: u8,
    /// `None` for unassigned bytes.
    pub info: Option<&'static OpInfo>,
    /// The immediate bytes present in the code; shorter than `info.imm_bytes` if the code ends early.
    pub imm: &'a [u8],
}

impl Instruction<'_> {
    /// Whether the code ends inside this instruction's immediate.
    pub fn is_truncated(&self) -> bool {
        self.info.is_some_and(|i| self.imm.len() < usize::from(i.imm_bytes))
    }

    /// Size in bytes of this instruction as it appears in the code.
    pub fn size(&self) -> usize {
        1 + self.imm.len()
    }
}

/// Splits code into instructions, skipping PUSH data; never fails.
pub fn decode(code: &[u8]) -> impl Iterator<Item = Instruction<'_>> + '_ {
    let mut offset = 0;
    std::iter::from_fn(move || {
        let opcode = *code.get(offset)?;
        let info = opcodes::info(opcode);
        let imm_len = info.map_or(0, |i| usize::from(i.imm_bytes));
        let start = offset + 1;
        let end = start.saturating_add(imm_len).min(code.len());
        let instruction = Instruction { offset, opcode, info, imm: &code[start..end] };
        offset = end;
        Some(instruction)
    })
}

/// Human-readable listing: `0x0000: PUSH1 0x2a` per instruction, with truncated PUSH data and unassigned
/// bytes (`0x000c: INVALID 0xef`) spelt out.
pub fn disassemble(code: &[u8]) -> String {
    let mut out = String::new();
    for ins in decode(code) {
        let _ = write!(out, "{:#06x}: ", ins.offset);
        match ins.info {
            None => {
                let _ = write!(out, "INVALID {:#04x}", ins.opcode);
            }
            Some(info) => {
                out.push_str(info.name);
                if !ins.imm.is_empty() {
                    let _ = write!(out, " 0x{}", hex::encode(ins.imm));
                }
                if ins.is_truncated() {
                    let _ = write!(out, " (truncated: {} of {} bytes)", ins.imm.len(), info.imm_bytes);
                }
            }
        }
        out.push('\n');
    }
    out
}

/// Source that [`assemble`] turns back into exactly `code`: PUSH immediates keep their width, and
/// unassigned bytes and truncated PUSHes become `.byte` lines.
pub fn disassemble_to_asm(code: &[u8]) -> String {
    let mut out = String::new();
    for ins in decode(code) {
        match ins.info {
            Some(info) if !ins.is_truncated() => {
                out.push_str(info.name);
                if !ins.imm.is_empty() {
                    let _ = write!(out, " 0x{}", hex::encode(ins.imm));
                }
            }
            _ => {
                let bytes: Vec<String> =
                    std::iter::once(ins.opcode).chain(ins.imm.iter().copied()).map(|b| format!("{b:#04x}")).collect();
                let _ = write!(out, ".byte {}", bytes.join(", "));
                match ins.info {
                    Some(info) => {
                        let _ = write!(out, " ; truncated {}", info.name);
                    }
                    None => out.push_str(" ; unassigned opcode"),
                }
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::zvm::opcodes::op;

    fn err(src: &str) -> String {
        assemble(src).expect_err("should fail").to_string()
    }

    #[test]
    fn assembles_instructions_and_comments() {
        let src = "; fib\n  push1 0x2a # answer\n\nPUSH2 300\nADD\nHALT";
        assert_eq!(assemble(src), Ok(vec![op::PUSH1, 0x2a, op::PUSH2, 0x01, 0x2c, op::ADD, op::HALT]));
    }

    #[test]
    fn auto_push_picks_the_smallest_width() {
        let cases: [(&str, &[u8]); 6] = [
            ("0", &[op::PUSH1, 0]),
            ("255", &[op::PUSH1, 0xff]),
            ("256", &[op::PUSH2, 1, 0]),
            ("0x1_0000", &[op::PUSH4, 0, 1, 0, 0]),
            ("0x123456789", &[op::PUSH8, 0, 0, 0, 1, 0x23, 0x45, 0x67, 0x89]),
            ("18446744073709551616", &[op::PUSH16, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
        ];
        for (value, bytes) in cases {
            assert_eq!(assemble(&format!("PUSH {value}")).as_deref(), Ok(bytes), "{value}");
        }
        let max = format!("PUSH 0x{}", "ff".repeat(32));
        let mut expected = vec![op::PUSH32];
        expected.extend([0xff; 32]);
        assert_eq!(assemble(&max), Ok(expected));
        assert_eq!(
            err(&format!("PUSH 0x1{}", "00".repeat(32))),
            format!("line 1: `0x1{}` does not fit in 32 byte(s)", "00".repeat(32))
        );
    }

    #[test]
    fn labels_resolve_forwards_and_backwards() {
        let src = "start: JUMPDEST\nPUSH @end\nJUMP\nend:\nJUMPDEST\nPUSH2 @start\n";
        let code = assemble(src).expect("assembles");
        assert_eq!(code, vec![op::JUMPDEST, op::PUSH1, 4, op::JUMP, op::JUMPDEST, op::PUSH2, 0, 0]);
    }

    #[test]
    fn label_pushes_widen_to_a_fixed_point() {
        // The forward push needs two bytes because the padding puts `far` past offset 255.
        let src = format!("PUSH @far\nJUMP\n.byte {}\nfar: JUMPDEST\nPUSH @far\n", vec!["0"; 300].join(","));
        let code = assemble(&src).expect("assembles");
        let far = 3 + 1 + 300;
        assert_eq!(&code[..3], &[op::PUSH2, (far >> 8) as u8, far as u8]);
        assert_eq!(code[far], op::JUMPDEST);
        assert_eq!(&code[far + 1..], &[op::PUSH2, (far >> 8) as u8, far as u8]);
        let explicit = format!("PUSH1 @far\n.byte {}\nfar: JUMPDEST", vec!["0"; 300].join(" "));
        assert_eq!(err(&explicit), "line 1: `@far (offset 302)` does not fit in 1 byte(s)");
    }

    #[test]
    fn container_directive_wraps_the_code() {
        let code = assemble("; header\n.container\nHALT").expect("assembles");
        assert_eq!(code, container::encode(&[op::HALT], &[]));
        assert_eq!(err("HALT\n.container"), "line 2: `.container` must come before any code or label");
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(err("HALT\n\n\n\n\n\n FOO 1"), "line 7: unknown mnemonic `FOO`");
        assert_eq!(err("PUSH1 300"), "line 1: `300` does not fit in 1 byte(s)");
        assert_eq!(err("PUSH1"), "line 1: `PUSH1` needs an operand");
        assert_eq!(err("ADD 1"), "line 1: `ADD` takes 0 operand(s), found `1`");
        assert_eq!(err("PUSH 1 2"), "line 1: `PUSH` takes 1 operand(s), found `1 2`");
        assert_eq!(err("PUSH 0xzz"), "line 1: invalid number `0xzz` (expected decimal, 0x-hex or @label)");
        assert_eq!(err("PUSH -1"), "line 1: invalid number `-1` (expected decimal, 0x-hex or @label)");
        assert_eq!(err("PUSH3 1"), "line 1: unknown mnemonic `PUSH3`");
        assert_eq!(err("PUSH @nowhere"), "line 1: undefined label `nowhere`");
        assert_eq!(err("a:\nHALT\na: HALT"), "line 3: label `a` is defined twice");
        assert_eq!(err("9lives: HALT"), "line 1: invalid label name `9lives`");
        assert_eq!(err(".byte 256"), "line 1: `256` does not fit in 1 byte(s)");
        assert_eq!(err(".org 5"), "line 1: unknown directive `.org`");
    }

    #[test]
    fn disassembly_is_readable() {
        let code = [op::PUSH1, 0x2a, op::PUSH2, 0x01, 0x2c, op::ADD, 0xef, op::PUSH4, 1, 2];
        let text = disassemble(&code);
        let expected = "0x0000: PUSH1 0x2a\n0x0002: PUSH2 0x012c\n0x0005: ADD\n0x0006: INVALID 0xef\n\
                        0x0007: PUSH4 0x0102 (truncated: 2 of 4 bytes)\n";
        assert_eq!(text, expected);
        assert_eq!(disassemble(&[op::PUSH32]), "0x0000: PUSH32 (truncated: 0 of 32 bytes)\n");
        assert_eq!(disassemble(&[]), "");
    }

    #[test]
    fn disassembly_reassembles_to_the_same_bytes() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..400 {
            let code: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let _ = disassemble(&code);
            let src = disassemble_to_asm(&code);
            assert_eq!(assemble(&src).as_deref(), Ok(&code[..]), "{src}");
        }
    }

    fn examples() -> Vec<(std::path::PathBuf, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("examples directory")
            .map(|entry| entry.expect("directory entry").path())
            .filter(|path| path.extension().is_some_and(|e| e == "zasm"))
            .collect();
        files.sort();
        files.into_iter().map(|p| (p.clone(), std::fs::read_to_string(&p).expect("readable"))).collect()
    }

    #[test]
    fn examples_assemble() {
        let examples = examples();
        assert!(examples.len() >= 4, "expected the four examples, found {}", examples.len());
        for (path, src) in examples {
            let bytes = assemble(&src).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let code = container::parse(&bytes).expect("valid container").code;
            assert_eq!(assemble(&disassemble_to_asm(code)).as_deref(), Ok(code), "{}", path.display());
            for ins in decode(code) {
                let info = ins.info.unwrap_or_else(|| panic!("{}: unassigned byte", path.display()));
                assert_ne!(info.sem, crate::frontend::stack::Sem::ChainSpecific, "{}: {}", path.display(), info.name);
            }
        }
    }
}
