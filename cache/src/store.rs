//! The on-disk store of compiled objects: one file per [`CacheKey`], shared safely by concurrent processes.
//!
//! # Why it looks like this
//! - **Content addressed.** An entry's name is its key ([`crate::key`]), which covers everything the code
//!   depends on; there is nothing to invalidate, old entries simply stop being asked for and age out.
//! - **Never trust the file.** Disks, crashes and other programs can leave anything under the name. An entry
//!   is returned only if its header matches exactly (magic, [`FORMAT_VERSION`], the full key it was asked
//!   for, the payload length) and a SHA-256 over header and payload matches; anything else — truncated,
//!   corrupt, foreign, from another format version — is a miss, and the file is removed so the next
//!   [`Cache::put`] replaces it. `get` never panics on bad contents. (The object inside is then checked
//!   again by [`crate::load`] before it runs.)
//! - **Atomic publication.** [`Cache::put`] writes a temporary file in the same directory, fsyncs it,
//!   renames it over the entry and fsyncs the directory: a reader sees the old entry, no entry or the whole
//!   new one, never a partial file, and two processes writing the same key both succeed (the same bytes
//!   win either way). No locks are taken.
//! - **Bounded.** After each `put` the store evicts least-recently-used entries (by file modification
//!   time, which a hit refreshes) until the total is at most `max_bytes`.
//!
//! # File format (`<dir>/<64 hex digits of the key>.zo`)
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `ZVMCACHE` |
//! | 8 | 4 | format version, `u32` little-endian ([`FORMAT_VERSION`]) |
//! | 12 | 4 | reserved, zero |
//! | 16 | 32 | the full key |
//! | 48 | 8 | payload length `n`, `u64` little-endian |
//! | 56 | 32 | SHA-256 of bytes `0..56` followed by the payload |
//! | 88 | n | the payload (the ELF object) |

use crate::key::CacheKey;
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use thiserror::Error;

/// The magic at the start of every entry.
pub const MAGIC: [u8; 8] = *b"ZVMCACHE";
/// The entry format version; bumped when the layout above changes (old entries then read as misses).
pub const FORMAT_VERSION: u32 = 1;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 88;
/// The extension of entry files.
pub const ENTRY_EXT: &str = "zo";
/// The default bound of a cache's size.
pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;
/// Largest payload accepted (larger files are not read into memory).
const MAX_PAYLOAD: u64 = crate::MAX_CODE_BYTES * 4;
/// Prefix of temporary files; ones older than [`STALE_TMP`] (left by a crashed writer) are removed.
const TMP_PREFIX: &str = ".tmp-";
const STALE_TMP: Duration = Duration::from_secs(3600);

/// Why a cache operation failed. Bad entries are not errors (they are misses); these are.
#[derive(Debug, Error)]
pub enum CacheError {
    /// A file-system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Neither `XDG_CACHE_HOME` nor `HOME` is set, so there is no default directory.
    #[error("no cache directory: set XDG_CACHE_HOME or HOME, or give one explicitly")]
    NoDefaultDir,
    /// The entry alone would exceed the cache's bound.
    #[error("a {size}-byte entry does not fit in a cache bounded to {max} bytes")]
    TooLarge {
        /// Bytes of the entry file.
        size: u64,
        /// The bound.
        max: u64,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CacheError + '_ {
    move |source| CacheError::Io { path: path.to_path_buf(), source }
}

/// The default cache directory: `$XDG_CACHE_HOME/zvm`, else `$HOME/.cache/zvm` (empty or relative values
/// are ignored, as the XDG specification asks).
pub fn default_dir() -> Result<PathBuf, CacheError> {
    let var = |name: &str| std::env::var_os(name).map(PathBuf::from).filter(|p| p.is_absolute());
    if let Some(xdg) = var("XDG_CACHE_HOME") {
        return Ok(xdg.join("zvm"));
    }
    var("HOME").map(|home| home.join(".cache").join("zvm")).ok_or(CacheError::NoDefaultDir)
}

/// One entry, as listed by [`Cache::entries`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryInfo {
    /// Its key.
    pub key: CacheKey,
    /// Bytes of the file (header and payload).
    pub size: u64,
    /// Last use (write or hit).
    pub modified: SystemTime,
}

/// Totals of [`Cache::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Number of entries.
    pub entries: usize,
    /// Bytes of all entry files.
    pub bytes: u64,
}

/// What [`Cache::verify`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries that are intact.
    pub ok: usize,
    /// Entries that were not, with why; each has been removed.
    pub removed: Vec<(CacheKey, String)>,
}

/// An on-disk cache of compiled objects (see the module docs).
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    max_bytes: u64,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Cache {
    /// Opens (creating it if needed) the cache in `dir`, bounded to `max_bytes`.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> Result<Cache, CacheError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(Cache { dir, max_bytes })
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The size bound.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The file of `key`'s entry.
    pub fn path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{key}.{ENTRY_EXT}"))
    }

    /// The object stored under `key`, if there is an intact one. A damaged entry is removed and reads as a
    /// miss; a hit marks the entry as recently used.
    pub fn get(&self, key: &CacheKey) -> Result<Option<Vec<u8>>, CacheError> {
        let path = self.path(key);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let bytes = match read_bounded(&mut file) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return self.discard(&path),
            Err(e) => return Err(io_err(&path)(e)),
        };
        match check(&bytes, key) {
            Ok(()) => {
                // Refresh the LRU time; failing to (a read-only cache) does not make the entry bad.
                let _ = file.set_modified(SystemTime::now());
                Ok(Some(bytes[HEADER_LEN..].to_vec()))
            }
            Err(_) => self.discard(&path),
        }
    }

    fn discard(&self, path: &Path) -> Result<Option<Vec<u8>>, CacheError> {
        remove_if_exists(path)?;
        Ok(None)
    }

    /// Stores `object` under `key` atomically, then evicts least-recently-used entries until the cache is
    /// within its bound (never the entry just written).
    pub fn put(&self, key: &CacheKey, object: &[u8]) -> Result<(), CacheError> {
        let size = (HEADER_LEN + object.len()) as u64;
        if size > self.max_bytes || object.len() as u64 > MAX_PAYLOAD {
            return Err(CacheError::TooLarge { size, max: self.max_bytes.min(MAX_PAYLOAD) });
        }
        let bytes = encode(key, object);
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let tmp = self.dir.join(format!("{TMP_PREFIX}{key}-{}-{n}-{nanos}", std::process::id()));
        let result = (|| {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(io_err(&tmp))?;
            f.write_all(&bytes).map_err(io_err(&tmp))?;
            f.sync_all().map_err(io_err(&tmp))?;
            drop(f);
            let path = self.path(key);
            fs::rename(&tmp, &path).map_err(io_err(&path))?;
            sync_dir(&self.dir)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result?;
        self.evict(Some(key))
    }

    /// Removes `key`'s entry, if any.
    pub fn remove(&self, key: &CacheKey) -> Result<(), CacheError> {
        remove_if_exists(&self.path(key))
    }

    /// Every entry (files named `<key>.zo`; other files are ignored), least recently used first.
    pub fn entries(&self) -> Result<Vec<EntryInfo>, CacheError> {
        let mut out = Vec::new();
        for item in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let item = item.map_err(io_err(&self.dir))?;
            let name = item.file_name();
            let Some(key) = name.to_str().and_then(entry_key) else { continue };
            // An entry removed since the listing (another process evicting) is simply skipped.
            let meta = match item.metadata() {
                Ok(m) if m.is_file() => m,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&item.path())(e)),
            };
            let modified = meta.modified().map_err(io_err(&item.path()))?;
            out.push(EntryInfo { key, size: meta.len(), modified });
        }
        out.sort_by(|a, b| a.modified.cmp(&b.modified).then(a.key.cmp(&b.key)));
        Ok(out)
    }

    /// Number of entries and their total size.
    pub fn stats(&self) -> Result<Stats, CacheError> {
        let entries = self.entries()?;
        Ok(Stats { entries: entries.len(), bytes: entries.iter().map(|e| e.size).sum() })
    }

    /// Checks every entry as [`Cache::get`] would (without marking it used) and removes the bad ones.
    pub fn verify(&self) -> Result<VerifyReport, CacheError> {
        let mut report = VerifyReport::default();
        for e in self.entries()? {
            let path = self.path(&e.key);
            let verdict = match File::open(&path) {
                Ok(mut f) => match read_bounded(&mut f) {
                    Ok(Some(bytes)) => check(&bytes, &e.key),
                    Ok(None) => Err("larger than any entry".to_string()),
                    Err(err) => return Err(io_err(&path)(err)),
                },
                Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                Err(err) => return Err(io_err(&path)(err)),
            };
            match verdict {
                Ok(()) => report.ok += 1,
                Err(why) => {
                    remove_if_exists(&path)?;
                    report.removed.push((e.key, why));
                }
            }
        }
        Ok(report)
    }

    /// Removes every entry (and any temporary file); returns what was removed.
    pub fn clear(&self) -> Result<Stats, CacheError> {
        let stats = self.stats()?;
        for e in self.entries()? {
            remove_if_exists(&self.path(&e.key))?;
        }
        self.remove_tmp(Duration::ZERO)?;
        Ok(stats)
    }

    /// Evicts least-recently-used entries (sparing `keep`) until the total is within the bound, and removes
    /// stale temporary files.
    fn evict(&self, keep: Option<&CacheKey>) -> Result<(), CacheError> {
        self.remove_tmp(STALE_TMP)?;
        let entries = self.entries()?;
        let mut total: u64 = entries.iter().map(|e| e.size).sum();
        for e in &entries {
            if total <= self.max_bytes {
                break;
            }
            if Some(&e.key) != keep {
                remove_if_exists(&self.path(&e.key))?;
                total -= e.size;
            }
        }
        Ok(())
    }

    fn remove_tmp(&self, older_than: Duration) -> Result<(), CacheError> {
        let now = SystemTime::now();
        for item in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let item = item.map_err(io_err(&self.dir))?;
            if !item.file_name().to_str().is_some_and(|n| n.starts_with(TMP_PREFIX)) {
                continue;
            }
            let age = item.metadata().and_then(|m| m.modified()).ok().and_then(|t| now.duration_since(t).ok());
            if older_than.is_zero() || age.is_some_and(|a| a >= older_than) {
                remove_if_exists(&item.path())?;
            }
        }
        Ok(())
    }
}

/// The key of an entry file name (`<64 hex>.zo`).
fn entry_key(name: &str) -> Option<CacheKey> {
    let stem = name.strip_suffix(ENTRY_EXT)?.strip_suffix('.')?;
    CacheKey::from_hex(stem).filter(|k| k.to_string() == stem)
}

fn remove_if_exists(path: &Path) -> Result<(), CacheError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> Result<(), CacheError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

/// Reads a whole entry file, or `None` if it is larger than any valid entry.
fn read_bounded(file: &mut File) -> io::Result<Option<Vec<u8>>> {
    let limit = HEADER_LEN as u64 + MAX_PAYLOAD;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

fn checksum(header: &[u8], payload: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(header);
    h.update(payload);
    h.finalize().into()
}

/// An entry file's bytes.
pub fn encode(key: &CacheKey, object: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + object.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&(object.len() as u64).to_le_bytes());
    let sum = checksum(&out, object);
    out.extend_from_slice(&sum);
    out.extend_from_slice(object);
    out
}

/// Checks an entry file's bytes against the key it was looked up by; `Err` says what is wrong.
pub fn check(bytes: &[u8], key: &CacheKey) -> Result<(), String> {
    if bytes.len() < HEADER_LEN {
        return Err(format!("truncated: {} bytes, shorter than the header", bytes.len()));
    }
    if bytes[..8] != MAGIC {
        return Err("not a zvm cache entry (bad magic)".into());
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(format!("entry format version {version}, expected {FORMAT_VERSION}"));
    }
    if bytes[12..16] != [0; 4] {
        return Err("reserved header bytes are not zero".into());
    }
    if bytes[16..48] != key.0 {
        return Err("entry is for another key".into());
    }
    let len = u64::from_le_bytes(bytes[48..56].try_into().expect("8 bytes"));
    let payload = &bytes[HEADER_LEN..];
    if len != payload.len() as u64 {
        return Err(format!("payload is {} bytes, the header says {len}", payload.len()));
    }
    if bytes[56..88] != checksum(&bytes[..56], payload) {
        return Err("checksum mismatch".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_check() {
        let key = CacheKey([7; 32]);
        let bytes = encode(&key, b"object");
        assert_eq!(bytes.len(), HEADER_LEN + 6);
        assert_eq!(check(&bytes, &key), Ok(()));
        assert!(check(&bytes, &CacheKey([8; 32])).unwrap_err().contains("another key"));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(check(&longer, &key).is_err());
    }

    #[test]
    fn entry_names() {
        let key = CacheKey([0xab; 32]);
        assert_eq!(entry_key(&format!("{key}.zo")), Some(key));
        assert_eq!(entry_key(&format!("{}.zo", key.to_string().to_uppercase())), None);
        assert_eq!(entry_key(&format!("{key}.o")), None);
        assert_eq!(entry_key(&format!("{key}zo")), None);
        assert_eq!(entry_key("x.zo"), None);
    }
}
