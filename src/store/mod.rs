//! The store: the only code that knows sled. It owns the on-disk database, typed tables over it,
//! the schema version and its migrations, durability, and consistent backups.
//!
//! # Layout
//! - [`codec`]: key encoding, typed keys to order-preserving bytes.
//! - this module: [`Store`] (open, schema version and migrations, meta settings, flush) and
//!   [`Table`], a typed handle over one sled tree. Values are postcard (JSON before schema 3),
//!   encoded in exactly one place (`encode_value`/`decode_value`).
//! - [`transaction`]: atomic writes across several tables, with aborts carrying domain errors.
//! - [`backup`]: point-in-time export and restore in a versioned, checksummed text format.
//!
//! One tree per relation: the code that owns a relation declares it as a [`TableDef`] constant
//! and documents its key and value there. The `meta` tree is the store's own.
//!
//! # Write gate
//! Every mutation holds the shared side of a lock for its duration and an export holds the
//! exclusive side, so an export sees all trees at one instant while the server keeps running
//! (writes wait for the export). The lock is writer-fair, so code must not call a mutating store
//! method from inside an [`Table::update`] or [`Store::transaction`] closure: with an export
//! waiting, that would deadlock. Those closures must be free of side effects anyway, since they
//! can run more than once.

pub mod backup;
pub mod codec;
pub mod tables;
pub mod transaction;

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use self::backup::{BackupError, BackupSummary};
pub use self::codec::{Key, KeyError, KeyPrefix};
pub use self::transaction::{AnyTable, Tx, TxError, TxTable};

/// The store's own tree: schema version and the application's small settings.
const META_TREE: &str = "meta";
/// Key in [`META_TREE`] holding the schema version as an encoded `u32`.
const SCHEMA_VERSION_KEY: &str = "schema_version";
/// sled's always-present default tree; musewave never writes to it.
const SLED_DEFAULT_TREE: &str = "__sled__default";

/// Everything that can go wrong in the store. Messages may name paths and trees: they are for
/// logs and the CLI, never for HTTP clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage engine failed (I/O, on-disk corruption, engine bug).
    #[error("storage engine error: {0}")]
    Sled(#[from] sled::Error),
    /// Another process holds the store's lock.
    #[error("the store at {} is in use by another process (is the musewave server running?)", path.display())]
    Locked {
        /// The store directory.
        path: PathBuf,
    },
    /// A key read from `tree` does not decode as the table's key type.
    #[error("corrupt key in tree {tree}: {source}")]
    CorruptKey {
        /// The tree the key was read from.
        tree: String,
        /// What is wrong with it.
        source: KeyError,
    },
    /// A value read from `tree` does not decode as the table's value type.
    #[error("corrupt value in tree {tree}: {source}")]
    CorruptValue {
        /// The tree the value was read from.
        tree: String,
        /// What is wrong with it.
        source: ValueError,
    },
    /// A value could not be encoded for `tree`.
    #[error("cannot encode a value for tree {tree}: {source}")]
    EncodeValue {
        /// The tree the value was meant for.
        tree: String,
        /// Why encoding failed.
        source: ValueError,
    },
    /// The store was written by a newer musewave than this one.
    #[error(
        "the store has schema version {found}, but this musewave supports only up to {supported}; \
         upgrade musewave, or restore a backup made with this version"
    )]
    SchemaTooNew {
        /// The version on disk.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// No migration leads from the version on disk towards the current one.
    #[error("no migration from schema version {from} (this musewave needs version {target})")]
    MissingMigration {
        /// The version on disk.
        from: u32,
        /// The version this build needs.
        target: u32,
    },
    /// A migration step failed; the store stays at version `from`.
    #[error("migration from schema version {from} ({description}) failed: {source}")]
    Migration {
        /// The version the step started from.
        from: u32,
        /// The step's description.
        description: &'static str,
        /// Why it failed.
        source: Box<StoreError>,
    },
    /// The directory holds data but no schema version, so it is not a musewave store.
    #[error("{} holds data without a schema version; it is not a musewave store", path.display())]
    Unversioned {
        /// The store directory.
        path: PathBuf,
    },
    /// A transaction closure used a table that was not in the list given to
    /// [`Store::transaction`].
    #[error("table {0} was used in a transaction that does not include it")]
    NotInTransaction(&'static str),
    /// A transaction collided with a concurrent one. [`Store::transaction`] retries such a
    /// transaction itself, so this only passes through its closure and is never returned.
    #[error("transaction conflict")]
    TxConflict,
    /// A table or meta key uses a name the store keeps for itself.
    #[error("the name {0:?} is reserved by the store")]
    ReservedName(&'static str),
    /// Writing or reading a backup failed.
    #[error(transparent)]
    Backup(#[from] BackupError),
    /// File I/O outside the engine (backup streams, cleaning a failed restore).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Tuning for [`Store::open`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Upper bound for sled's page cache, in bytes. Set explicitly: sled's own default is 1 GiB.
    pub cache_capacity_bytes: u64,
}

/// The store's page cache unless configured, in MiB. The catalog keeps what lists, albums
/// and searches need in memory of its own and reads the store at start and for one track's
/// full tags, so the cache holds accounts, likes, playlists and plays. A larger one mostly
/// kept track pages read at start: with 64 MiB, 100,000 tracks cost 3 MB more at rest and 30
/// to 45 MB more at the peak of a first scan, and scanned no faster.
pub const DEFAULT_CACHE_MB: u64 = 16;

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            cache_capacity_bytes: DEFAULT_CACHE_MB * 1024 * 1024,
        }
    }
}

/// The schema this build expects, and how to get there from older ones.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// The current schema version; a new store is stamped with it.
    pub version: u32,
    /// One step per older version, in any order.
    pub migrations: &'static [Migration],
}

/// One step from schema version `from` to `from + 1`.
///
/// A step is not atomic with the version stamp that follows it: if the process dies in between,
/// the step runs again on the next start, so it must be idempotent.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version this step upgrades from.
    pub from: u32,
    /// What the step does, for the log.
    pub description: &'static str,
    /// The step itself. User data is never dropped by a migration, only rewritten.
    pub run: fn(&Store) -> Result<(), StoreError>,
}

/// The name and types of one table; declare one `const` per relation, with its key and value
/// documented beside it.
pub struct TableDef<K, V> {
    name: &'static str,
    // fn() -> keeps the definition Send + Sync + Copy whatever K and V are.
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> TableDef<K, V> {
    /// A table stored in the sled tree called `name` (by convention `key_value`, e.g. `userid_user`).
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            _types: PhantomData,
        }
    }

    /// The tree name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<K, V> Clone for TableDef<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V> Copy for TableDef<K, V> {}

impl<K, V> fmt::Debug for TableDef<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TableDef").field(&self.name).finish()
    }
}

/// Lets mutations run alongside each other but never during an export.
#[derive(Default)]
struct WriteGate(RwLock<()>);

impl WriteGate {
    /// Held (shared) by every mutation for its duration.
    fn write(&self) -> RwLockReadGuard<'_, ()> {
        self.0.read()
    }

    /// Held (exclusive) by an export: no mutation runs while it lives.
    fn freeze(&self) -> RwLockWriteGuard<'_, ()> {
        self.0.write()
    }
}

struct Inner {
    /// Declared first so that it stops, and lets go of its handle, before the database closes.
    _flusher: PeriodicFlush,
    db: sled::Db,
    meta: sled::Tree,
    gate: WriteGate,
    path: PathBuf,
}

/// An open store. Cheap to clone; all clones share one database and one write gate.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// How often buffered writes go to disk when nobody flushes them sooner.
const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// Writes what sled has buffered to disk every [`FLUSH_EVERY`], in place of sled's flusher
/// thread.
///
/// That thread also garbage-collects the log in every pause: it reads pages out of
/// fragmented segments and writes them anew, and each page it reads stays in memory
/// outside the cache's bound. On a store of 100,000 tracks this grew the server by 11 to
/// 16 MB in the first half minute after every start, requests or not. sled still collects
/// on writes (each page replaced moves one page out of a segment being cleaned), so a store
/// that changes keeps compacting, and one that only serves reads costs nothing.
///
/// Acknowledged writes never wait for this: they call [`Store::flush`] first. What it bounds
/// is how much unacknowledged work (a scan's progress) a crash can lose.
struct PeriodicFlush {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl PeriodicFlush {
    fn start(db: sled::Db) -> Result<Self, StoreError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("store-flush".into())
            .spawn(move || {
                // Dropping the sender ends the wait with `Disconnected`, and the loop.
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(FLUSH_EVERY) {
                    if let Err(e) = db.flush() {
                        tracing::error!(error = %e, "writing the store's buffered writes to disk");
                    }
                }
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for PeriodicFlush {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // It only flushes, which reports its errors instead of panicking.
            let _ = thread.join();
        }
    }
}

/// How long opening waits for a lock held in this process to go.
const LOCK_GRACE: Duration = Duration::from_secs(1);

/// Opens the sled database at `path`, telling a held lock apart from other failures.
///
/// A lock is tried again for up to [`LOCK_GRACE`]: when the last handle of a database is
/// dropped, sled's writer threads can still hold its file for a few milliseconds while they
/// finish a log write, so reopening at once (a restore, tests) could find it held by itself.
fn open_db(path: &Path, opts: &StoreOptions) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + LOCK_GRACE;
    loop {
        let opened = sled::Config::new()
            .path(path)
            .cache_capacity(opts.cache_capacity_bytes)
            // sled's own flusher thread is replaced by `PeriodicFlush`, see there.
            .flush_every_ms(None)
            .open();
        match opened {
            Ok(db) => return Ok(db),
            // sled reports a held lock only as this message in an `Other` I/O error.
            Err(sled::Error::Io(ref io)) if io.to_string().contains("could not acquire lock") => {
                if std::time::Instant::now() >= deadline {
                    return Err(StoreError::Locked {
                        path: path.to_owned(),
                    });
                }
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(StoreError::Sled(e)),
        }
    }
}

impl Store {
    /// Opens (or creates) the store at `path` and brings it to `schema.version`.
    ///
    /// A new, empty store is stamped with `schema.version`. An older one is migrated one step at
    /// a time, flushing after each step. A newer one is refused with
    /// [`StoreError::SchemaTooNew`]; a store held by another process with [`StoreError::Locked`].
    pub fn open(path: &Path, opts: &StoreOptions, schema: &Schema) -> Result<Store, StoreError> {
        let db = open_db(path, opts)?;
        let meta = db.open_tree(META_TREE)?;
        let store = Store {
            inner: Arc::new(Inner {
                _flusher: PeriodicFlush::start(db.clone())?,
                db,
                meta,
                gate: WriteGate::default(),
                path: path.to_owned(),
            }),
        };
        store.upgrade(schema)?;
        Ok(store)
    }

    fn upgrade(&self, schema: &Schema) -> Result<(), StoreError> {
        let mut current = match self.stored_schema_version()? {
            Some(version) => version,
            None if self.is_empty()? => {
                tracing::info!(version = schema.version, path = %self.inner.path.display(), "created a new store");
                self.stamp_schema_version(schema.version)?;
                return self.flush_blocking();
            }
            None => {
                return Err(StoreError::Unversioned {
                    path: self.inner.path.clone(),
                })
            }
        };
        if current > schema.version {
            return Err(StoreError::SchemaTooNew {
                found: current,
                supported: schema.version,
            });
        }
        while current < schema.version {
            let step = schema.migrations.iter().find(|m| m.from == current).ok_or(
                StoreError::MissingMigration {
                    from: current,
                    target: schema.version,
                },
            )?;
            tracing::info!(
                from = current,
                to = current + 1,
                step = step.description,
                "migrating store"
            );
            (step.run)(self).map_err(|source| StoreError::Migration {
                from: current,
                description: step.description,
                source: Box::new(source),
            })?;
            current += 1;
            self.stamp_schema_version(current)?;
            self.flush_blocking()?;
        }
        Ok(())
    }

    fn stored_schema_version(&self) -> Result<Option<u32>, StoreError> {
        self.inner
            .meta
            .get(SCHEMA_VERSION_KEY)?
            .map(|bytes| {
                u32::decode(&bytes).map_err(|source| StoreError::CorruptKey {
                    tree: format!("{META_TREE}/{SCHEMA_VERSION_KEY}"),
                    source,
                })
            })
            .transpose()
    }

    fn stamp_schema_version(&self, version: u32) -> Result<(), StoreError> {
        let _gate = self.inner.gate.write();
        self.inner
            .meta
            .insert(SCHEMA_VERSION_KEY, version.encode())?;
        Ok(())
    }

    /// Whether no tree holds any entry.
    fn is_empty(&self) -> Result<bool, StoreError> {
        for name in self.inner.db.tree_names() {
            if !self.inner.db.open_tree(name)?.is_empty() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The schema version stamped on disk (after [`Store::open`], the current one).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.stored_schema_version()?
            .ok_or_else(|| StoreError::Unversioned {
                path: self.inner.path.clone(),
            })
    }

    /// Opens the table `def`, creating its tree if needed.
    pub fn table<K: Key, V: Serialize + DeserializeOwned>(
        &self,
        def: TableDef<K, V>,
    ) -> Result<Table<K, V>, StoreError> {
        if let name @ (META_TREE | SLED_DEFAULT_TREE) = def.name {
            return Err(StoreError::ReservedName(name));
        }
        Ok(Table {
            tree: self.inner.db.open_tree(def.name)?,
            name: def.name,
            store: Arc::clone(&self.inner),
            _types: PhantomData,
        })
    }

    /// Writes raw bytes under a raw key, as an older version of the store would have.
    #[cfg(test)]
    pub(crate) fn insert_raw(
        &self,
        tree: &str,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), StoreError> {
        self.inner.db.open_tree(tree)?.insert(key, value)?;
        Ok(())
    }

    /// Reads raw bytes under a raw key.
    #[cfg(test)]
    pub(crate) fn get_raw(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.inner.db.open_tree(tree)?.get(key)?.map(|v| v.to_vec()))
    }

    /// Reads an application setting from the meta tree.
    pub fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.inner.meta.get(key)?.map(|v| v.to_vec()))
    }

    /// Writes an application setting to the meta tree. The schema version's key is refused.
    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        if key == SCHEMA_VERSION_KEY {
            return Err(StoreError::ReservedName(SCHEMA_VERSION_KEY));
        }
        let _gate = self.inner.gate.write();
        self.inner.meta.insert(key, value)?;
        Ok(())
    }

    /// Writes everything buffered to disk. Call before telling a user their write succeeded:
    /// sled otherwise flushes only every 500 ms.
    ///
    /// The flush runs on a blocking task of the runtime, never through sled's `flush_async`:
    /// that one runs on sled's own thread pool, which also writes the log buffers a flush
    /// waits for, so enough flushes at once (a hundred clients liking at the same moment)
    /// fill the pool with waiters and no buffer is ever written.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let db = self.inner.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(format!("flush task: {e}"))))??;
        Ok(())
    }

    /// [`Store::flush`] for code that is not async (CLI, shutdown, migrations).
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        Ok(())
    }

    /// Bytes the store occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.inner.db.size_on_disk()?)
    }

    /// Names of all trees, including `meta` and sled's default tree.
    pub fn tree_names(&self) -> Vec<String> {
        self.inner
            .db
            .tree_names()
            .iter()
            .map(|name| String::from_utf8_lossy(name).into_owned())
            .collect()
    }

    /// The store directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

/// Why a value does not encode or decode.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// The compact binary form.
    #[error(transparent)]
    Binary(#[from] postcard::Error),
    /// The JSON form that schema versions before 3 wrote.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The value decoded but bytes were left over: it is not of the table's type.
    #[error("{0} bytes left over after the value")]
    TrailingBytes(usize),
}

/// First byte of a value in the compact binary form. JSON text never starts with it, so values
/// written before schema 3 still read until the 2 -> 3 migration rewrites them.
const BINARY_VALUE: u8 = 0x01;

/// The single place values are encoded; change the format here and nowhere else.
///
/// Values are postcard (varints, no field names): a catalog row takes a fifth of its JSON
/// size, and sled keeps every page it has read in memory, so the store's resident size follows
/// the encoded size of the library.
fn encode_value<V: Serialize>(tree: &str, value: &V) -> Result<Vec<u8>, StoreError> {
    postcard::to_extend(value, vec![BINARY_VALUE]).map_err(|e| StoreError::EncodeValue {
        tree: tree.to_owned(),
        source: e.into(),
    })
}

/// The inverse of [`encode_value`]; also reads the JSON values of older schema versions.
fn decode_value<V: DeserializeOwned>(tree: &str, bytes: &[u8]) -> Result<V, StoreError> {
    let decoded = match bytes.split_first() {
        Some((&BINARY_VALUE, rest)) => match postcard::take_from_bytes(rest) {
            Ok((value, [])) => Ok(value),
            Ok((_, left)) => Err(ValueError::TrailingBytes(left.len())),
            Err(e) => Err(e.into()),
        },
        _ => serde_json::from_slice(bytes).map_err(ValueError::from),
    };
    decoded.map_err(|source| StoreError::CorruptValue {
        tree: tree.to_owned(),
        source,
    })
}

fn decode_key<K: Key>(tree: &str, bytes: &[u8]) -> Result<K, StoreError> {
    K::decode(bytes).map_err(|source| StoreError::CorruptKey {
        tree: tree.to_owned(),
        source,
    })
}

/// A typed handle over one tree: keys encoded by [`Key`], values as JSON.
pub struct Table<K, V> {
    tree: sled::Tree,
    name: &'static str,
    // Keeps the database and the write gate alive as long as the handle.
    store: Arc<Inner>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for Table<K, V> {
    fn clone(&self) -> Self {
        Self {
            tree: self.tree.clone(),
            name: self.name,
            store: Arc::clone(&self.store),
            _types: PhantomData,
        }
    }
}

impl<K, V> fmt::Debug for Table<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Table").field(&self.name).finish()
    }
}

impl<K: Key, V: Serialize + DeserializeOwned> Table<K, V> {
    /// The tree name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The value at `key`.
    pub fn get(&self, key: &K) -> Result<Option<V>, StoreError> {
        self.tree
            .get(key.encode())?
            .map(|bytes| decode_value(self.name, &bytes))
            .transpose()
    }

    /// Whether `key` has a value.
    pub fn contains(&self, key: &K) -> Result<bool, StoreError> {
        Ok(self.tree.contains_key(key.encode())?)
    }

    /// Sets `key` to `value` and returns the previous value. If the previous value does not
    /// decode, the new one is still written and the error is returned.
    pub fn insert(&self, key: &K, value: &V) -> Result<Option<V>, StoreError> {
        let bytes = encode_value(self.name, value)?;
        let _gate = self.store.gate.write();
        self.tree
            .insert(key.encode(), bytes)?
            .map(|old| decode_value(self.name, &old))
            .transpose()
    }

    /// Removes `key` and returns its value.
    pub fn remove(&self, key: &K) -> Result<Option<V>, StoreError> {
        let _gate = self.store.gate.write();
        self.tree
            .remove(key.encode())?
            .map(|old| decode_value(self.name, &old))
            .transpose()
    }

    /// Atomically replaces the value at `key` with `f(current)` (`None` removes it) and returns
    /// the new value. For counters and toggles. Under contention `f` runs again with the newer
    /// value, so it must be free of side effects.
    pub fn update<F>(&self, key: &K, mut f: F) -> Result<Option<V>, StoreError>
    where
        F: FnMut(Option<V>) -> Option<V>,
    {
        // sled's update_and_fetch has the same compare-and-swap loop, but its closure cannot
        // report a value that fails to decode; this one can.
        let key = key.encode();
        let _gate = self.store.gate.write();
        let mut current = self.tree.get(&key)?;
        loop {
            let old = current
                .as_deref()
                .map(|bytes| decode_value(self.name, bytes))
                .transpose()?;
            let new = f(old);
            let new_bytes = new
                .as_ref()
                .map(|value| encode_value(self.name, value))
                .transpose()?;
            match self
                .tree
                .compare_and_swap(&key, current.as_deref(), new_bytes)?
            {
                Ok(()) => return Ok(new),
                Err(conflict) => current = conflict.current,
            }
        }
    }

    /// Removes every entry.
    pub fn clear(&self) -> Result<(), StoreError> {
        let _gate = self.store.gate.write();
        Ok(self.tree.clear()?)
    }

    /// Number of entries. Walks the whole tree.
    pub fn len(&self) -> Result<usize, StoreError> {
        self.tree.iter().keys().try_fold(0, |n, key| {
            key?;
            Ok(n + 1)
        })
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.tree.first()?.is_none())
    }

    /// All entries in key order; `.rev()` walks them backwards.
    pub fn iter(&self) -> Iter<K, V> {
        self.wrap(self.tree.iter())
    }

    /// Entries whose keys fall in `range`, in key order.
    pub fn range<R: RangeBounds<K>>(&self, range: R) -> Iter<K, V> {
        let bound = |b: Bound<&K>| b.map(Key::encode);
        let bytes = (bound(range.start_bound()), bound(range.end_bound()));
        self.wrap(self.tree.range::<Vec<u8>, _>(bytes))
    }

    /// Entries whose tuple key begins with `first`, in key order: for `(UserId, TrackId)` keys,
    /// `scan_prefix(&user)` yields that user's entries.
    pub fn scan_prefix<P: Key>(&self, first: &P) -> Iter<K, V>
    where
        K: KeyPrefix<P>,
    {
        self.wrap(self.tree.scan_prefix(codec::prefix(first)))
    }

    /// The keys of [`Table::scan_prefix`], without decoding values: for positions and counts.
    pub fn scan_prefix_keys<P: Key>(&self, first: &P) -> Keys<K>
    where
        K: KeyPrefix<P>,
    {
        Keys {
            inner: self.tree.scan_prefix(codec::prefix(first)),
            tree: self.name,
            _types: PhantomData,
        }
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<(K, V)>, StoreError> {
        self.tree
            .first()?
            .map(|entry| decode_entry(self.name, entry))
            .transpose()
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<(K, V)>, StoreError> {
        self.tree
            .last()?
            .map(|entry| decode_entry(self.name, entry))
            .transpose()
    }

    fn wrap(&self, inner: sled::Iter) -> Iter<K, V> {
        Iter {
            inner,
            tree: self.name,
            _types: PhantomData,
        }
    }
}

fn decode_entry<K: Key, V: DeserializeOwned>(
    tree: &str,
    (key, value): (sled::IVec, sled::IVec),
) -> Result<(K, V), StoreError> {
    Ok((decode_key(tree, &key)?, decode_value(tree, &value)?))
}

/// Entries of a [`Table`] in key order. Reads are not gated: an iterator sees writes made while
/// it runs, as sled's do.
pub struct Iter<K, V> {
    inner: sled::Iter,
    tree: &'static str,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K: Key, V: DeserializeOwned> Iterator for Iter<K, V> {
    type Item = Result<(K, V), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.inner.next()?;
        Some(
            entry
                .map_err(StoreError::from)
                .and_then(|e| decode_entry(self.tree, e)),
        )
    }
}

impl<K: Key, V: DeserializeOwned> DoubleEndedIterator for Iter<K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let entry = self.inner.next_back()?;
        Some(
            entry
                .map_err(StoreError::from)
                .and_then(|e| decode_entry(self.tree, e)),
        )
    }
}

/// Keys of a [`Table`] in key order, values left undecoded.
pub struct Keys<K> {
    inner: sled::Iter,
    tree: &'static str,
    _types: PhantomData<fn() -> K>,
}

impl<K: Key> Iterator for Keys<K> {
    type Item = Result<K, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.inner.next()?;
        Some(
            entry
                .map_err(StoreError::from)
                .and_then(|(k, _)| decode_key(self.tree, &k)),
        )
    }
}

impl<K: Key> DoubleEndedIterator for Keys<K> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let entry = self.inner.next_back()?;
        Some(
            entry
                .map_err(StoreError::from)
                .and_then(|(k, _)| decode_key(self.tree, &k)),
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde::Deserialize;
    use uuid::Uuid;

    pub(crate) const V1: Schema = Schema {
        version: 1,
        migrations: &[],
    };

    pub(crate) fn open(dir: &Path, schema: &Schema) -> Result<Store, StoreError> {
        Store::open(dir, &StoreOptions::default(), schema)
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct User {
        name: String,
        plays: u64,
    }

    /// user id -> user
    const USERS: TableDef<Uuid, User> = TableDef::new("userid_user");
    /// username -> user id
    const USERNAMES: TableDef<String, Uuid> = TableDef::new("username_userid");
    /// (user id, played at) -> track title
    const PLAYS: TableDef<(Uuid, i64), String> = TableDef::new("userid_playedat_title");

    fn user(name: &str) -> User {
        User {
            name: name.into(),
            plays: 0,
        }
    }

    /// Copies a directory tree as it is on disk at this moment: what a crash would leave.
    fn copy_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_tree(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }

    #[test]
    fn unflushed_writes_reach_the_disk_by_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &V1).unwrap();
        let id = Uuid::new_v4();
        store
            .table(USERS)
            .unwrap()
            .insert(&id, &user("ada"))
            .unwrap();
        // Nobody calls `flush`: the periodic one must write it, well within this deadline.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let copy = tempfile::tempdir().unwrap();
            copy_tree(dir.path(), copy.path());
            let recovered = open(copy.path(), &V1).unwrap();
            if recovered.table(USERS).unwrap().get(&id).unwrap().is_some() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "an unflushed write never reached the disk"
            );
            thread::sleep(Duration::from_millis(50));
        }
        // The flush thread lets go of the database with the store: it opens again at once.
        drop(store);
        open(dir.path(), &V1).unwrap();
    }

    #[test]
    fn table_crud() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &V1).unwrap();
        let users = store.table(USERS).unwrap();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());

        assert!(users.is_empty().unwrap());
        assert_eq!(users.insert(&a, &user("ann")).unwrap(), None);
        assert_eq!(users.insert(&a, &user("anne")).unwrap(), Some(user("ann")));
        users.insert(&b, &user("bob")).unwrap();
        assert_eq!(users.get(&a).unwrap(), Some(user("anne")));
        assert!(users.contains(&b).unwrap());
        assert_eq!(users.len().unwrap(), 2);

        let bumped = users
            .update(&b, |u| {
                u.map(|u| User {
                    plays: u.plays + 1,
                    ..u
                })
            })
            .unwrap();
        assert_eq!(bumped.unwrap().plays, 1);
        assert_eq!(users.update(&Uuid::nil(), |u| u).unwrap(), None);
        assert!(!users.contains(&Uuid::nil()).unwrap());

        assert_eq!(users.remove(&a).unwrap(), Some(user("anne")));
        assert_eq!(users.remove(&a).unwrap(), None);
        users.clear().unwrap();
        assert!(users.is_empty().unwrap());
    }

    #[test]
    fn reserved_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &V1).unwrap();
        let meta: TableDef<String, String> = TableDef::new(META_TREE);
        assert!(matches!(
            store.table(meta),
            Err(StoreError::ReservedName("meta"))
        ));
        assert!(matches!(
            store.set_meta(SCHEMA_VERSION_KEY, b"x"),
            Err(StoreError::ReservedName(_))
        ));
        store.set_meta("jwt_key", b"secret").unwrap();
        assert_eq!(
            store.get_meta("jwt_key").unwrap().as_deref(),
            Some(&b"secret"[..])
        );
        assert_eq!(store.get_meta("nope").unwrap(), None);
    }

    #[test]
    fn prefix_scan_and_ranges_over_tuple_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &V1).unwrap();
        let plays = store.table(PLAYS).unwrap();
        // Nil and max ids bracket the user we scan, so a sloppy prefix would pick them up.
        let (low, me, high) = (Uuid::nil(), Uuid::new_v4(), Uuid::max());
        for (who, at) in [(low, 5), (me, 30), (me, -10), (me, 20), (high, 0)] {
            plays.insert(&(who, at), &format!("{at}")).unwrap();
        }

        let mine: Vec<_> = plays.scan_prefix(&me).collect::<Result<_, _>>().unwrap();
        let times: Vec<i64> = mine.iter().map(|((_, at), _)| *at).collect();
        assert_eq!(times, [-10, 20, 30]);

        let newest = plays.scan_prefix(&me).next_back().unwrap().unwrap();
        assert_eq!(newest.0, (me, 30));

        let window: Vec<_> = plays
            .range((me, 0)..(me, 30))
            .map(|r| r.unwrap().0 .1)
            .collect();
        assert_eq!(window, [20]);
        assert_eq!(plays.first().unwrap().unwrap().0, (low, 5));
        assert_eq!(plays.last().unwrap().unwrap().0, (high, 0));
        assert_eq!(plays.iter().rev().count(), 5);
    }

    #[test]
    fn decode_errors_surface_in_iteration() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &V1).unwrap();
        let as_text: TableDef<String, String> = TableDef::new("shared");
        let as_number: TableDef<String, u64> = TableDef::new("shared");
        store
            .table(as_text)
            .unwrap()
            .insert(&"k".into(), &"v".into())
            .unwrap();

        let numbers = store.table(as_number).unwrap();
        let items: Vec<_> = numbers.iter().collect();
        assert!(matches!(
            items.as_slice(),
            [Err(StoreError::CorruptValue { tree, .. })] if tree == "shared"
        ));
        assert!(matches!(
            numbers.get(&"k".into()),
            Err(StoreError::CorruptValue { .. })
        ));

        let as_u64_keys: TableDef<u64, String> = TableDef::new("shared");
        let first = store.table(as_u64_keys).unwrap().iter().next().unwrap();
        assert!(matches!(first, Err(StoreError::CorruptKey { .. })));
    }

    #[derive(Debug, PartialEq)]
    enum SignupError {
        UsernameTaken,
    }

    fn sign_up(
        store: &Store,
        users: &Table<Uuid, User>,
        names: &Table<String, Uuid>,
        name: &str,
    ) -> Result<Uuid, TxError<SignupError>> {
        let id = Uuid::new_v4();
        store.transaction(&[users, names], |tx| {
            // Written before the check, so an abort must also undo this insert.
            tx.table(users).insert(&id, &user(name))?;
            if tx.table(names).contains(&name.to_owned())? {
                return tx.abort(SignupError::UsernameTaken);
            }
            tx.table(names).insert(&name.to_owned(), &id)?;
            Ok(id)
        })
    }

    #[test]
    fn transaction_commits_both_tables_or_neither() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &V1).unwrap();
        let users = store.table(USERS).unwrap();
        let names = store.table(USERNAMES).unwrap();

        let ann = sign_up(&store, &users, &names, "ann").unwrap();
        assert_eq!(users.get(&ann).unwrap(), Some(user("ann")));
        assert_eq!(names.get(&"ann".into()).unwrap(), Some(ann));

        let taken = sign_up(&store, &users, &names, "ann");
        assert!(matches!(
            taken,
            Err(TxError::Aborted(SignupError::UsernameTaken))
        ));
        assert_eq!(users.len().unwrap(), 1);
        assert_eq!(names.len().unwrap(), 1);
    }

    #[test]
    fn transaction_reads_its_own_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &V1).unwrap();
        let names = store.table(USERNAMES).unwrap();
        let id = Uuid::new_v4();
        let seen = store
            .transaction(&[&names], |tx| {
                let names = tx.table(&names);
                names.insert(&"x".into(), &id)?;
                let seen = names.get(&"x".into())?;
                names.remove(&"x".into())?;
                Ok::<_, TxError<()>>(seen)
            })
            .unwrap();
        assert_eq!(seen, Some(id));
        assert!(names.is_empty().unwrap());
    }

    #[test]
    fn table_outside_the_transaction_is_an_error_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &V1).unwrap();
        let (users, names) = (store.table(USERS).unwrap(), store.table(USERNAMES).unwrap());
        let result = store.transaction(&[&names], |tx| {
            tx.table(&names).insert(&"ann".into(), &Uuid::nil())?;
            tx.table(&users).insert(&Uuid::nil(), &user("ann"))?;
            Ok::<_, TxError<()>>(())
        });
        assert!(matches!(
            result,
            Err(TxError::Store(StoreError::NotInTransaction("userid_user")))
        ));
        assert!(names.is_empty().unwrap());
    }

    #[test]
    fn concurrent_transactions_on_one_key_lose_no_update() {
        const COUNTERS: TableDef<u8, u64> = TableDef::new("n_count");
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &V1).unwrap();
        let counters = store.table(COUNTERS).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..250 {
                        store
                            .transaction(&[&counters], |tx| {
                                let t = tx.table(&counters);
                                t.insert(&0, &(t.get(&0)?.unwrap_or(0) + 1))?;
                                Ok::<_, TxError<()>>(())
                            })
                            .unwrap();
                        counters.update(&1, |n| Some(n.unwrap_or(0) + 1)).unwrap();
                    }
                });
            }
        });
        assert_eq!(counters.get(&0).unwrap(), Some(1000));
        assert_eq!(counters.get(&1).unwrap(), Some(1000));
    }

    // Each step appends its starting version to a log table, so the test sees order and count.
    const MIGRATION_LOG: TableDef<u32, String> = TableDef::new("step_description");

    fn log_step(store: &Store, from: u32) -> Result<(), StoreError> {
        assert_eq!(
            store.schema_version()?,
            from,
            "the version is stamped after each step"
        );
        store
            .table(MIGRATION_LOG)?
            .insert(&from, &format!("{from}->{}", from + 1))?;
        Ok(())
    }

    const V3: Schema = Schema {
        version: 3,
        // Out of order on purpose: steps are found by `from`, not by position.
        migrations: &[
            Migration {
                from: 2,
                description: "second",
                run: |s| log_step(s, 2),
            },
            Migration {
                from: 1,
                description: "first",
                run: |s| log_step(s, 1),
            },
        ],
    };

    #[test]
    fn migrates_one_step_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path(), &V1).unwrap());

        let store = open(dir.path(), &V3).unwrap();
        assert_eq!(store.schema_version().unwrap(), 3);
        let log: Vec<_> = store
            .table(MIGRATION_LOG)
            .unwrap()
            .iter()
            .map(|r| r.unwrap().1)
            .collect();
        assert_eq!(log, ["1->2", "2->3"]);
        drop(store);

        // Already current: nothing runs again.
        let store = open(dir.path(), &V3).unwrap();
        assert_eq!(store.table(MIGRATION_LOG).unwrap().len().unwrap(), 2);
    }

    #[test]
    fn missing_migration_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path(), &V1).unwrap());
        let gap = Schema {
            version: 3,
            migrations: &V3.migrations[..1],
        };
        let err = open(dir.path(), &gap).unwrap_err();
        assert!(
            matches!(err, StoreError::MissingMigration { from: 1, target: 3 }),
            "{err}"
        );
    }

    #[test]
    fn newer_store_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path(), &V3).unwrap());
        let err = open(dir.path(), &V1).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::SchemaTooNew {
                    found: 3,
                    supported: 1
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("upgrade musewave"));
    }

    #[test]
    fn data_without_a_schema_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = open_db(dir.path(), &StoreOptions::default()).unwrap();
            db.open_tree("foreign").unwrap().insert("k", "v").unwrap();
            db.flush().unwrap();
        }
        let err = open(dir.path(), &V1).unwrap_err();
        assert!(matches!(err, StoreError::Unversioned { .. }), "{err}");
    }

    #[test]
    fn second_open_of_same_path_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _first = open(dir.path(), &V1).unwrap();
        let err = open(dir.path(), &V1).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
        assert!(err.to_string().contains("is the musewave server running"));
    }

    #[test]
    fn data_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let id = Uuid::new_v4();
        {
            let store = open(dir.path(), &V1).unwrap();
            store
                .table(USERS)
                .unwrap()
                .insert(&id, &user("ann"))
                .unwrap();
            store.flush_blocking().unwrap();
        }
        let store = open(dir.path(), &V1).unwrap();
        assert_eq!(
            store.table(USERS).unwrap().get(&id).unwrap(),
            Some(user("ann"))
        );
        assert!(store.size_on_disk().unwrap() > 0);
        assert!(store.tree_names().contains(&"userid_user".to_owned()));
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(files.iter().all(|f| backup::is_sled_file(f)), "{files:?}");
    }

    #[tokio::test]
    async fn async_flush_is_send() {
        fn assert_send<T: Send>(t: T) -> T {
            t
        }
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &V1).unwrap();
        store.set_meta("k", b"v").unwrap();
        let handle = tokio::spawn(async move { assert_send(store.flush()).await });
        handle.await.unwrap().unwrap();
    }
}
