//! The skip list: state-test files or tests zvm does not run, each with a written reason.
//!
//! There is one list, `statetest/skip.txt`, compiled into the crate ([`SkipList::builtin`]) so that the CLI
//! and the tests honour the same entries. Skipped cases are reported as skipped, never as passed.

use std::path::Path;
use thiserror::Error;

/// The repository's skip list.
const BUILTIN: &str = include_str!("../skip.txt");

/// A malformed skip-list line.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("skip list line {line}: {message}")]
pub struct SkipListError {
    pub line: usize,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    /// Matched against the end of a test file's path, by whole components.
    file: String,
    /// One test of the file, or all of them.
    test: Option<String>,
    reason: String,
}

/// Files or tests to skip, each with its reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SkipList {
    entries: Vec<Entry>,
}

impl SkipList {
    /// Parses lines of the form `FILE[::TEST]  # reason`; blank lines and lines starting with `#` are comments.
    pub fn parse(text: &str) -> Result<SkipList, SkipListError> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let error = |message: &str| SkipListError { line: i + 1, message: message.to_string() };
            let (pattern, reason) = line.split_once('#').ok_or_else(|| error("an entry needs a reason after `#`"))?;
            let reason = reason.trim();
            if reason.is_empty() {
                return Err(error("an entry needs a reason after `#`"));
            }
            let pattern = pattern.trim();
            let (file, test) = match pattern.split_once("::") {
                Some((file, test)) => (file.trim(), Some(test.trim().to_string())),
                None => (pattern, None),
            };
            if file.is_empty() || test.as_deref() == Some("") {
                return Err(error("expected `FILE[::TEST]` before the reason"));
            }
            entries.push(Entry { file: file.to_string(), test, reason: reason.to_string() });
        }
        Ok(SkipList { entries })
    }

    /// `statetest/skip.txt`. Its text is compiled in and checked by a unit test, so it always parses.
    pub fn builtin() -> SkipList {
        SkipList::parse(BUILTIN).expect("statetest/skip.txt is malformed (its unit test says where)")
    }

    /// Why the test `test` of `file` is skipped, if it is.
    pub fn reason(&self, file: &Path, test: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| file.ends_with(&e.file) && e.test.as_deref().is_none_or(|t| t == test))
            .map(|e| e.reason.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_list_parses() {
        SkipList::parse(BUILTIN).unwrap();
    }

    #[test]
    fn entries_match_files_and_tests() {
        let list = SkipList::parse("# comment\n\nstExample/add11.json  # whole file\nstFoo/bar.json::baz # one test\n")
            .unwrap();
        assert_eq!(list.entries.len(), 2);
        let root = Path::new("../shared/ethereum-tests/GeneralStateTests");
        assert_eq!(list.reason(&root.join("stExample/add11.json"), "add11"), Some("whole file"));
        assert_eq!(list.reason(&root.join("stFoo/bar.json"), "baz"), Some("one test"));
        assert_eq!(list.reason(&root.join("stFoo/bar.json"), "other"), None);
        // Whole components only: `xadd11.json` is another file.
        assert_eq!(list.reason(&root.join("stExample/xadd11.json"), "add11"), None);
    }

    #[test]
    fn entries_need_a_reason() {
        assert_eq!(SkipList::parse("a.json\n").unwrap_err().line, 1);
        assert!(SkipList::parse("# c\na.json #  \n").unwrap_err().message.contains("reason"));
        assert!(SkipList::parse("a.json:: # r\n").is_err());
    }
}
