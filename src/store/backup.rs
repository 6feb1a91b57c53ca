//! Consistent export and restore of a whole store, in a text format that outlives sled's
//! on-disk format (and could feed another engine).
//!
//! The format is JSON lines:
//! ```text
//! {"format":"musewave-backup","format_version":1,"schema_version":3,"created_unix":1700000000}
//! {"t":"userid_user","k":"<base64 key>","v":"<base64 value>"}      one line per entry
//! {"entries":1234,"sha256":"<hex>"}
//! ```
//! The trailer's SHA-256 covers every byte before it (header and entry lines), so a truncated
//! or edited file is refused rather than half restored.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{open_db, Schema, Store, StoreError, StoreOptions};

const FORMAT_NAME: &str = "musewave-backup";
const FORMAT_VERSION: u32 = 1;

/// Why a backup cannot be written or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Restore only fills a missing or empty directory, never merges into data.
    #[error("restore needs an empty or missing directory, but {} already holds data", path.display())]
    TargetNotEmpty {
        /// The target directory.
        path: PathBuf,
    },
    /// The first line is not a musewave backup header.
    #[error("not a musewave backup: {0}")]
    NotABackup(String),
    /// The file was written in a format version this build cannot read.
    #[error(
        "backup format version {found} is not supported (this musewave reads version {supported})"
    )]
    UnsupportedFormat {
        /// The file's format version.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The backup comes from a newer schema than this build knows.
    #[error(
        "the backup has schema version {found}, but this musewave supports only up to {supported}; \
         upgrade musewave to restore it"
    )]
    SchemaTooNew {
        /// The backup's schema version.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// The file is damaged, cut short or edited.
    #[error("the backup is truncated or corrupt: {0}")]
    Corrupt(String),
    /// A tree name that the text format cannot carry.
    #[error("tree name {0:?} is not UTF-8 and cannot be exported")]
    TreeName(Vec<u8>),
}

/// What an export wrote or an import restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    /// Schema version of the data in the backup.
    pub schema_version: u32,
    /// When the backup was made, in seconds since the Unix epoch.
    pub created_unix: u64,
    /// Number of entries, over all trees.
    pub entries: u64,
    /// Number of trees with at least one entry.
    pub trees: usize,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    format_version: u32,
    schema_version: u32,
    created_unix: u64,
}

/// `t`: tree name, `k`/`v`: base64 of the raw key and value bytes. Short names because there is
/// one of these per entry.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry<S> {
    t: S,
    k: S,
    v: S,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trailer {
    entries: u64,
    sha256: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes JSON lines and hashes them for the trailer.
struct LineWriter<W: Write> {
    out: BufWriter<W>,
    hash: Sha256,
    line: Vec<u8>,
}

impl<W: Write> LineWriter<W> {
    fn write<T: Serialize>(&mut self, value: &T) -> Result<(), StoreError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value).map_err(io::Error::from)?;
        self.line.push(b'\n');
        self.hash.update(&self.line);
        self.out.write_all(&self.line)?;
        Ok(())
    }

    /// Writes the trailer, which covers every line before it, and flushes.
    fn finish(mut self, entries: u64) -> Result<(), StoreError> {
        let sha256 = hex(&self.hash.finalize());
        serde_json::to_writer(&mut self.out, &Trailer { entries, sha256 })
            .map_err(io::Error::from)?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok(())
    }
}

fn corrupt(line: u64, what: impl std::fmt::Display) -> StoreError {
    BackupError::Corrupt(format!("line {line}: {what}")).into()
}

impl Store {
    /// Writes a consistent, point-in-time copy of every tree to `out`.
    ///
    /// Writes to the store wait until the export finishes (reads do not), so give it a fast
    /// destination such as a local file rather than a slow network stream.
    pub fn export(&self, out: impl Write) -> Result<BackupSummary, StoreError> {
        let _frozen = self.inner.gate.freeze();
        let created_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut summary = BackupSummary {
            schema_version: self.schema_version()?,
            created_unix,
            entries: 0,
            trees: 0,
        };
        let mut w = LineWriter {
            out: BufWriter::new(out),
            hash: Sha256::new(),
            line: Vec::new(),
        };
        w.write(&Header {
            format: FORMAT_NAME.to_owned(),
            format_version: FORMAT_VERSION,
            schema_version: summary.schema_version,
            created_unix,
        })?;
        // sled's default tree is never written, so it adds no lines unless something did use it.
        for raw_name in self.inner.db.tree_names() {
            let name = std::str::from_utf8(&raw_name)
                .map_err(|_| BackupError::TreeName(raw_name.to_vec()))?;
            let tree = self.inner.db.open_tree(&raw_name)?;
            let before = summary.entries;
            for entry in tree.iter() {
                let (k, v) = entry?;
                w.write(&Entry {
                    t: name,
                    k: &*BASE64.encode(k),
                    v: &*BASE64.encode(v),
                })?;
                summary.entries += 1;
            }
            summary.trees += usize::from(summary.entries > before);
        }
        w.finish(summary.entries)?;
        tracing::info!(
            entries = summary.entries,
            trees = summary.trees,
            "exported store"
        );
        Ok(summary)
    }

    /// Restores a backup from `input` into a new store at `path`, then opens it as
    /// [`Store::open`] does, so an older backup is migrated forward.
    ///
    /// `path` must be missing, empty, or an empty store. If the backup turns out to be damaged,
    /// everything written to `path` is removed again.
    pub fn import(
        path: &Path,
        opts: &StoreOptions,
        schema: &Schema,
        input: impl BufRead,
    ) -> Result<BackupSummary, StoreError> {
        let existed = check_target(path)?;
        let db = open_db(path, opts)?;
        for name in db.tree_names() {
            if !db.open_tree(name)?.is_empty() {
                return Err(BackupError::TargetNotEmpty {
                    path: path.to_owned(),
                }
                .into());
            }
        }
        let restored = restore(&db, schema, input).and_then(|summary| {
            db.flush()?;
            Ok(summary)
        });
        drop(db);
        let summary = match restored {
            Ok(summary) => summary,
            Err(e) => {
                if let Err(cleanup) = remove_store_files(path, existed) {
                    tracing::warn!(path = %path.display(), error = %cleanup, "could not remove a failed restore");
                }
                return Err(e);
            }
        };
        tracing::info!(
            entries = summary.entries,
            trees = summary.trees,
            "restored store"
        );
        Store::open(path, opts, schema)?;
        Ok(summary)
    }
}

/// sled's own files in a store directory. Anything else means the directory holds something
/// that restore must neither fill nor, on failure, delete.
pub(super) fn is_sled_file(name: &str) -> bool {
    matches!(name, "conf" | "db" | "blobs") || name.starts_with("snap.")
}

/// Checks that `path` is missing or holds at most a sled store; returns whether it existed.
fn check_target(path: &Path) -> Result<bool, StoreError> {
    let entries = match fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        if !entry?.file_name().to_str().is_some_and(is_sled_file) {
            return Err(BackupError::TargetNotEmpty {
                path: path.to_owned(),
            }
            .into());
        }
    }
    Ok(true)
}

fn remove_store_files(path: &Path, existed: bool) -> io::Result<()> {
    if !existed {
        return fs::remove_dir_all(path);
    }
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_name().to_str().is_some_and(is_sled_file) {
            if entry.file_type()?.is_dir() {
                fs::remove_dir_all(entry.path())?;
            } else {
                fs::remove_file(entry.path())?;
            }
        }
    }
    Ok(())
}

/// Reads the backup into `db`, checking header, entries and trailer.
fn restore(
    db: &sled::Db,
    schema: &Schema,
    mut input: impl BufRead,
) -> Result<BackupSummary, StoreError> {
    let mut line = Vec::new();
    let mut hash = Sha256::new();

    input.read_until(b'\n', &mut line)?;
    let header: Header = serde_json::from_slice(&line)
        .map_err(|e| BackupError::NotABackup(format!("bad header: {e}")))?;
    if header.format != FORMAT_NAME {
        return Err(BackupError::NotABackup(format!("format is {:?}", header.format)).into());
    }
    if header.format_version != FORMAT_VERSION {
        return Err(BackupError::UnsupportedFormat {
            found: header.format_version,
            supported: FORMAT_VERSION,
        }
        .into());
    }
    if header.schema_version > schema.version {
        return Err(BackupError::SchemaTooNew {
            found: header.schema_version,
            supported: schema.version,
        }
        .into());
    }
    hash.update(&line);

    let mut trees: HashMap<String, sled::Tree> = HashMap::new();
    let mut entries = 0u64;
    let mut number = 1u64;
    let trailer = loop {
        line.clear();
        number += 1;
        if input.read_until(b'\n', &mut line)? == 0 {
            return Err(BackupError::Corrupt("the file ends before its trailer".into()).into());
        }
        let entry: Entry<String> = match serde_json::from_slice(&line) {
            Ok(entry) => entry,
            Err(entry_err) => match serde_json::from_slice::<Trailer>(&line) {
                Ok(trailer) => break trailer,
                Err(_) => return Err(corrupt(number, entry_err)),
            },
        };
        hash.update(&line);
        let key = BASE64.decode(&entry.k).map_err(|e| corrupt(number, e))?;
        let value = BASE64.decode(&entry.v).map_err(|e| corrupt(number, e))?;
        if !trees.contains_key(&entry.t) {
            let tree = db.open_tree(&entry.t)?;
            trees.insert(entry.t.clone(), tree);
        }
        trees[&entry.t].insert(key, value)?;
        entries += 1;
    };

    if trailer.entries != entries {
        return Err(BackupError::Corrupt(format!(
            "the trailer counts {} entries but the file holds {entries}",
            trailer.entries
        ))
        .into());
    }
    if trailer.sha256 != hex(&hash.finalize()) {
        return Err(BackupError::Corrupt("checksum mismatch".into()).into());
    }
    line.clear();
    input.read_to_end(&mut line)?;
    if !line.iter().all(u8::is_ascii_whitespace) {
        return Err(BackupError::Corrupt("data after the trailer".into()).into());
    }
    Ok(BackupSummary {
        schema_version: header.schema_version,
        created_unix: header.created_unix,
        entries,
        trees: trees.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{open, V1};
    use super::super::{Migration, TableDef, TxError, SLED_DEFAULT_TREE};
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    const ITEMS: TableDef<(String, u64), Vec<u8>> = TableDef::new("name_n_bytes");
    const COUNTS: TableDef<i64, u64> = TableDef::new("n_count");

    fn import(dir: &Path, schema: &Schema, backup: &[u8]) -> Result<BackupSummary, StoreError> {
        Store::import(dir, &StoreOptions::default(), schema, backup)
    }

    /// Tree name -> raw entries, for comparing two stores byte for byte.
    type Dump = std::collections::BTreeMap<Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>>;

    fn dump(store: &Store) -> Dump {
        let db = &store.inner.db;
        db.tree_names()
            .into_iter()
            .map(|name| {
                let entries = db
                    .open_tree(&name)
                    .unwrap()
                    .iter()
                    .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                    .collect();
                (name.to_vec(), entries)
            })
            .collect()
    }

    fn sample_store(dir: &Path) -> Store {
        let store = open(dir, &V1).unwrap();
        let items = store.table(ITEMS).unwrap();
        // Keys with zero bytes and values with every byte value, as binary as it gets.
        items
            .insert(&("a\0b".into(), 0), &(0..=255).collect())
            .unwrap();
        items.insert(&("".into(), u64::MAX), &vec![]).unwrap();
        let counts = store.table(COUNTS).unwrap();
        for n in -3..3 {
            counts.insert(&n, &(n.unsigned_abs() * 10)).unwrap();
        }
        store.set_meta("server_key", &[0, 255, 10, 13]).unwrap();
        store
    }

    #[test]
    fn export_then_import_restores_every_tree() {
        let src = tempfile::tempdir().unwrap();
        let store = sample_store(src.path());
        let mut backup = Vec::new();
        let written = store.export(&mut backup).unwrap();
        assert_eq!(written.entries, 2 + 6 + 2); // items, counts, meta (version + key)
        assert_eq!(written.trees, 3);

        let dst = tempfile::tempdir().unwrap();
        let target = dst.path().join("store");
        let read = import(&target, &V1, &backup).unwrap();
        assert_eq!(read, written);
        let restored = open(&target, &V1).unwrap();
        assert_eq!(dump(&restored), dump(&store));
    }

    #[test]
    fn import_refuses_a_store_with_data() {
        let dir = tempfile::tempdir().unwrap();
        let store = sample_store(dir.path());
        let mut backup = Vec::new();
        store.export(&mut backup).unwrap();

        let err = import(dir.path(), &V1, &backup).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");

        // Closed now; the data must be left exactly as it was.
        drop(store);
        let err = import(dir.path(), &V1, &backup).unwrap_err();
        assert!(
            matches!(err, StoreError::Backup(BackupError::TargetNotEmpty { .. })),
            "{err}"
        );
        assert_eq!(
            open(dir.path(), &V1)
                .unwrap()
                .table(COUNTS)
                .unwrap()
                .len()
                .unwrap(),
            6
        );

        let other = tempfile::tempdir().unwrap();
        fs::write(other.path().join("notes.txt"), "mine").unwrap();
        let err = import(other.path(), &V1, &backup).unwrap_err();
        assert!(
            matches!(err, StoreError::Backup(BackupError::TargetNotEmpty { .. })),
            "{err}"
        );
        assert!(other.path().join("notes.txt").exists());
    }

    fn assert_corrupt_and_cleaned(backup: &[u8]) {
        let dst = tempfile::tempdir().unwrap();
        let target = dst.path().join("store");
        let err = import(&target, &V1, backup).unwrap_err();
        assert!(
            matches!(err, StoreError::Backup(BackupError::Corrupt(_))),
            "{err}"
        );
        assert!(!target.exists(), "a failed restore leaves nothing behind");
    }

    #[test]
    fn truncated_backup_is_refused() {
        let src = tempfile::tempdir().unwrap();
        let mut backup = Vec::new();
        sample_store(src.path()).export(&mut backup).unwrap();
        let lines: Vec<&[u8]> = backup.split_inclusive(|&b| b == b'\n').collect();

        // Cut at a line boundary (no trailer), and in the middle of a line.
        assert_corrupt_and_cleaned(&lines[..lines.len() - 1].concat());
        assert_corrupt_and_cleaned(&backup[..backup.len() / 2]);
        // A line dropped from the middle, with the trailer still there.
        let mut dropped = lines.clone();
        dropped.remove(3);
        assert_corrupt_and_cleaned(&dropped.concat());
    }

    #[test]
    fn tampered_backup_is_refused() {
        let src = tempfile::tempdir().unwrap();
        let mut backup = Vec::new();
        sample_store(src.path()).export(&mut backup).unwrap();
        let text = String::from_utf8(backup).unwrap();

        // Same entry count, one value changed: only the checksum can tell.
        let forged = BASE64.encode(b"999");
        let lines: Vec<&str> = text.lines().collect();
        let victim = lines.iter().position(|l| l.contains("n_count")).unwrap();
        let mut entry: Entry<String> = serde_json::from_str(lines[victim]).unwrap();
        entry.v = forged;
        let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        edited[victim] = serde_json::to_string(&entry).unwrap();
        assert_corrupt_and_cleaned((edited.join("\n") + "\n").as_bytes());

        // Data appended after the trailer.
        assert_corrupt_and_cleaned(format!("{text}{}\n", lines[1]).as_bytes());
    }

    #[test]
    fn newer_schema_backup_is_refused() {
        let src = tempfile::tempdir().unwrap();
        let v2 = Schema {
            version: 2,
            migrations: &[Migration {
                from: 1,
                description: "noop",
                run: |_| Ok(()),
            }],
        };
        let mut backup = Vec::new();
        open(src.path(), &v2).unwrap().export(&mut backup).unwrap();

        let dst = tempfile::tempdir().unwrap();
        let target = dst.path().join("store");
        let err = import(&target, &V1, &backup).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Backup(BackupError::SchemaTooNew {
                    found: 2,
                    supported: 1
                })
            ),
            "{err}"
        );
        assert!(!target.exists());
    }

    #[test]
    fn older_backup_is_migrated_on_import() {
        const MARKS: TableDef<String, bool> = TableDef::new("step_done");
        let v2 = Schema {
            version: 2,
            migrations: &[Migration {
                from: 1,
                description: "mark",
                run: |s| s.table(MARKS)?.insert(&"1->2".into(), &true).map(|_| ()),
            }],
        };
        let src = tempfile::tempdir().unwrap();
        let mut backup = Vec::new();
        sample_store(src.path()).export(&mut backup).unwrap();

        let dst = tempfile::tempdir().unwrap();
        let summary = import(dst.path(), &v2, &backup).unwrap();
        assert_eq!(summary.schema_version, 1);
        let store = open(dst.path(), &v2).unwrap();
        assert_eq!(store.schema_version().unwrap(), 2);
        assert_eq!(
            store.table(MARKS).unwrap().get(&"1->2".into()).unwrap(),
            Some(true)
        );
    }

    /// Sums every value in the `a` and `b` trees of an export.
    fn total_in(backup: &[u8]) -> u64 {
        let text = std::str::from_utf8(backup).unwrap();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Entry<String>>(l).ok())
            .filter(|e| e.t == "a" || e.t == "b")
            .map(|e| super::super::decode_value::<u64>("a", &BASE64.decode(e.v).unwrap()).unwrap())
            .sum()
    }

    #[test]
    fn export_is_consistent_while_writes_continue() {
        const A: TableDef<u32, u64> = TableDef::new("a");
        const B: TableDef<u32, u64> = TableDef::new("b");
        const SLOTS: u32 = 64;
        const UNITS: u64 = 100;
        // Enough moves that many of them land while an export is reading.
        const MIN_MOVES: u64 = 5_000;

        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &V1).unwrap();
        let (a, b) = (store.table(A).unwrap(), store.table(B).unwrap());
        for slot in 0..SLOTS {
            a.insert(&slot, &UNITS).unwrap();
        }
        let total = u64::from(SLOTS) * UNITS;

        let moves = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mover = {
            let (store, moves, stop) = (store.clone(), Arc::clone(&moves), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // Slots in an order unrelated to key order, and both directions, so an
                    // unguarded export would see moves on either side of its cursor.
                    let slot = (n.wrapping_mul(7) % u64::from(SLOTS)) as u32;
                    let (from, to) = if n % 3 == 0 { (&b, &a) } else { (&a, &b) };
                    store
                        .transaction(&[from, to], |tx| {
                            let (from, to) = (tx.table(from), tx.table(to));
                            let have = from.get(&slot)?.unwrap_or(0);
                            if have > 0 {
                                from.insert(&slot, &(have - 1))?;
                                to.insert(&slot, &(to.get(&slot)?.unwrap_or(0) + 1))?;
                            }
                            Ok::<_, TxError<()>>(())
                        })
                        .unwrap();
                    n += 1;
                    moves.store(n, Ordering::Relaxed);
                }
            })
        };

        let deadline = Instant::now() + Duration::from_secs(60);
        let mut exports = 0;
        while exports < 20 || moves.load(Ordering::Relaxed) < MIN_MOVES {
            assert!(
                Instant::now() < deadline,
                "the mover made too little progress"
            );
            let mut backup = Vec::new();
            store.export(&mut backup).unwrap();
            assert_eq!(
                total_in(&backup),
                total,
                "export {exports} is not a single point in time"
            );
            exports += 1;
        }
        stop.store(true, Ordering::Relaxed);
        mover.join().unwrap();
    }

    #[test]
    fn export_skips_the_unused_default_tree() {
        let dir = tempfile::tempdir().unwrap();
        let mut backup = Vec::new();
        open(dir.path(), &V1).unwrap().export(&mut backup).unwrap();
        let text = String::from_utf8(backup).unwrap();
        assert!(!text.contains(SLED_DEFAULT_TREE));
        assert_eq!(
            text.lines().count(),
            3,
            "header, schema version, trailer:\n{text}"
        );
    }
}
