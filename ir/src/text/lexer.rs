//! The lexer: splits text into tokens with their positions. Newlines are tokens (the syntax is
//! line-oriented); comments (`;` to the end of the line) and other whitespace are dropped.

use super::{is_bare_name_char, ParseError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Tok {
    /// A word: starts with a letter or `_`, continues with letters, digits, `_` and `.`
    /// (`v1`, `block2`, `fn0`, `load.i32.8s.be`, `env.caller`).
    Word(String),
    /// A number as written: an optional `-`, then a digit, then letters, digits and `_` (`-5`, `0x2a`).
    Number(String),
    /// `%name` or `%"quoted name"`, unescaped.
    FuncName(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Colon,
    Equals,
    Plus,
    Arrow,
    Newline,
    Eof,
}

impl Tok {
    /// How the token is named in error messages.
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Number(n) => format!("number `{n}`"),
            Tok::FuncName(n) => format!("function name `%{n}`"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::LBrace => "`{`".into(),
            Tok::RBrace => "`}`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Colon => "`:`".into(),
            Tok::Equals => "`=`".into(),
            Tok::Plus => "`+`".into(),
            Tok::Arrow => "`->`".into(),
            Tok::Newline => "end of line".into(),
            Tok::Eof => "end of input".into(),
        }
    }
}

/// A position in the source: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(super) struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub(super) fn error(self, message: impl Into<String>) -> ParseError {
        ParseError { line: self.line, column: self.column, message: message.into() }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Token {
    pub tok: Tok,
    pub pos: Pos,
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    pos: Pos,
}

impl Lexer<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.pos.line += 1;
            self.pos.column = 1;
        } else {
            self.pos.column += 1;
        }
        Some(c)
    }

    fn take_while(&mut self, out: &mut String, f: impl Fn(char) -> bool) {
        while let Some(c) = self.peek() {
            if !f(c) {
                break;
            }
            out.push(c);
            self.bump();
        }
    }

    fn quoted(&mut self, start: Pos) -> Result<String, ParseError> {
        let mut s = String::new();
        loop {
            let here = self.pos;
            match self.bump() {
                None | Some('\n') => return Err(start.error("unterminated quoted function name")),
                Some('"') => return Ok(s),
                Some('\\') => match self.bump() {
                    Some('"') => s.push('"'),
                    Some('\\') => s.push('\\'),
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some('r') => s.push('\r'),
                    Some('u') => {
                        if self.bump() != Some('{') {
                            return Err(here.error("expected `{` after `\\u`"));
                        }
                        let mut hex = String::new();
                        self.take_while(&mut hex, |c| c.is_ascii_hexdigit());
                        if self.bump() != Some('}') {
                            return Err(here.error("expected `}` to close `\\u{...}`"));
                        }
                        let c = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| here.error(format!("invalid character escape `\\u{{{hex}}}`")))?;
                        s.push(c);
                    }
                    _ => return Err(here.error("unknown escape in quoted name (use \\\" \\\\ \\n \\t \\r \\u{..})")),
                },
                Some(c) => s.push(c),
            }
        }
    }
}

/// Splits `src` into tokens; the last one is always [`Tok::Eof`].
pub(super) fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut lx = Lexer { chars: src.chars().peekable(), pos: Pos { line: 1, column: 1 } };
    let mut out = Vec::new();
    loop {
        let pos = lx.pos;
        let Some(c) = lx.peek() else {
            out.push(Token { tok: Tok::Eof, pos });
            return Ok(out);
        };
        let tok = match c {
            '\n' => {
                lx.bump();
                Tok::Newline
            }
            c if c.is_whitespace() => {
                lx.bump();
                continue;
            }
            ';' => {
                while lx.peek().is_some_and(|c| c != '\n') {
                    lx.bump();
                }
                continue;
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut w = String::new();
                lx.take_while(&mut w, |c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                Tok::Word(w)
            }
            c if c.is_ascii_digit() => {
                let mut n = String::new();
                lx.take_while(&mut n, |c| c.is_ascii_alphanumeric() || c == '_');
                Tok::Number(n)
            }
            '-' => {
                lx.bump();
                match lx.peek() {
                    Some('>') => {
                        lx.bump();
                        Tok::Arrow
                    }
                    Some(d) if d.is_ascii_digit() => {
                        let mut n = String::from("-");
                        lx.take_while(&mut n, |c| c.is_ascii_alphanumeric() || c == '_');
                        Tok::Number(n)
                    }
                    _ => return Err(pos.error("expected a digit or `>` after `-`")),
                }
            }
            '%' => {
                lx.bump();
                if lx.peek() == Some('"') {
                    lx.bump();
                    Tok::FuncName(lx.quoted(pos)?)
                } else {
                    let mut n = String::new();
                    lx.take_while(&mut n, is_bare_name_char);
                    if n.is_empty() {
                        return Err(pos.error("expected a function name after `%`"));
                    }
                    Tok::FuncName(n)
                }
            }
            _ => {
                lx.bump();
                match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBracket,
                    ']' => Tok::RBracket,
                    '{' => Tok::LBrace,
                    '}' => Tok::RBrace,
                    ',' => Tok::Comma,
                    ':' => Tok::Colon,
                    '=' => Tok::Equals,
                    '+' => Tok::Plus,
                    _ => return Err(pos.error(format!("unexpected character {c:?}"))),
                }
            }
        };
        out.push(Token { tok, pos });
    }
}
