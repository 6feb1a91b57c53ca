//! Scans: walk the media folders, probe what is new or changed, recognise moved files by
//! their fingerprint, drop what is gone. One scan runs at a time; its progress is readable
//! while it runs.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, UNIX_EPOCH};

use parking_lot::Mutex;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::probe::{self, ProbeOptions, Probed};
use crate::catalog::{Catalog, TrackDraft};
use crate::domain::{now, AudioInfo, MediaFile, TrackId, TrackTags, UnixTime};

/// File extensions taken as audio.
const AUDIO_EXTENSIONS: &[&str] = &[
    "mp3", "flac", "ogg", "oga", "opus", "m4a", "mp4", "m4b", "wav", "aif", "aiff",
];

/// Files probed in parallel before their results are stored, in one transaction.
const PROBE_CHUNK: usize = 256;

/// Tracks whose files are gone removed in one transaction.
const STORE_CHUNK: usize = 1024;

/// At most this many failures are listed in a report (all are counted).
const MAX_LISTED_FAILURES: usize = 1000;

/// Whether a scan is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanState {
    /// No scan is running.
    Idle,
    /// A scan is running.
    Running,
}

/// A file the scan could not take, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanFailure {
    /// The path, lossily as text.
    pub path: String,
    /// Why it was skipped.
    pub reason: String,
}

/// Progress and outcome of the current or last scan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanStatus {
    /// Running or idle.
    pub state: ScanState,
    /// Whether every file is probed again, changed or not.
    pub full: bool,
    /// Audio files found so far.
    pub files_total: u64,
    /// Files dealt with so far.
    pub files_seen: u64,
    /// New tracks.
    pub added: u64,
    /// Tracks whose file changed.
    pub updated: u64,
    /// Tracks whose file moved or was renamed (same id kept).
    pub moved: u64,
    /// Tracks whose file is gone.
    pub removed: u64,
    /// Files that could not be read as audio.
    pub failed: u64,
    /// The failures, up to 1,000.
    pub failures: Vec<ScanFailure>,
    /// Start time.
    pub started_at: Option<UnixTime>,
    /// End time.
    pub finished_at: Option<UnixTime>,
    /// Files per second over the scan so far.
    pub files_per_sec: f64,
}

impl ScanStatus {
    fn idle() -> Self {
        Self {
            state: ScanState::Idle,
            full: false,
            files_total: 0,
            files_seen: 0,
            added: 0,
            updated: 0,
            moved: 0,
            removed: 0,
            failed: 0,
            failures: Vec::new(),
            started_at: None,
            finished_at: None,
            files_per_sec: 0.0,
        }
    }
}

/// Changes in one scan from which the catalog gives back the room its growth left spare.
const BULK_CHANGES: u64 = 1024;

#[derive(Default)]
struct Counters {
    total: AtomicU64,
    seen: AtomicU64,
    added: AtomicU64,
    updated: AtomicU64,
    moved: AtomicU64,
    removed: AtomicU64,
    failed: AtomicU64,
}

struct Current {
    full: bool,
    started: Instant,
    started_at: UnixTime,
    counters: Arc<Counters>,
    failures: Arc<Mutex<Vec<ScanFailure>>>,
}

/// The media folders and their scanner.
pub struct Library {
    catalog: Arc<Catalog>,
    /// Replaced on a configuration reload; the watcher follows it.
    folders: tokio::sync::watch::Sender<Vec<PathBuf>>,
    options: ProbeOptions,
    running: AtomicBool,
    current: Mutex<Option<Current>>,
    last: Mutex<ScanStatus>,
}

/// A probed file and its fingerprint key, or why it could not be read.
type ProbeOutcome = Result<(Probed, u64), String>;

struct Found {
    rel: Vec<u8>,
    size: u64,
    mtime_ns: i128,
}

fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
}

/// Hidden files and the temporary files of copy tools and browsers are not music yet.
pub fn is_ignored_name(name: &[u8]) -> bool {
    name.starts_with(b".")
        || name.ends_with(b"~")
        || [
            &b".part"[..],
            b".tmp",
            b".crdownload",
            b".partial",
            b".download",
        ]
        .iter()
        .any(|s| name.ends_with(s))
}

fn folder_key(folder: &Path) -> String {
    folder.to_string_lossy().into_owned()
}

impl Library {
    /// A library over `folders`.
    pub fn new(catalog: Arc<Catalog>, folders: Vec<PathBuf>, options: ProbeOptions) -> Self {
        Self {
            catalog,
            folders: tokio::sync::watch::Sender::new(folders),
            options,
            running: AtomicBool::new(false),
            current: Mutex::new(None),
            last: Mutex::new(ScanStatus::idle()),
        }
    }

    /// The media folders.
    pub fn folders(&self) -> Vec<PathBuf> {
        self.folders.borrow().clone()
    }

    /// Follows the media folders as they are replaced.
    pub fn subscribe_folders(&self) -> tokio::sync::watch::Receiver<Vec<PathBuf>> {
        self.folders.subscribe()
    }

    /// Replaces the media folders (a configuration reload); `false` when they are the same.
    /// Tracks of a folder no longer listed stay in the catalog, as those of a missing folder
    /// do; the next scan takes in the new folders.
    pub fn set_folders(&self, folders: Vec<PathBuf>) -> bool {
        self.folders.send_if_modified(|current| {
            if *current == folders {
                return false;
            }
            *current = folders;
            true
        })
    }

    /// The running scan's progress, or the last scan's outcome.
    pub fn status(&self) -> ScanStatus {
        let current = self.current.lock();
        let c = match current.as_ref() {
            Some(c) => c,
            None => {
                drop(current);
                return self.last.lock().clone();
            }
        };
        let n = &c.counters;
        let seen = n.seen.load(Ordering::Relaxed);
        let secs = c.started.elapsed().as_secs_f64();
        let failures = c.failures.lock().clone();
        ScanStatus {
            state: ScanState::Running,
            full: c.full,
            files_total: n.total.load(Ordering::Relaxed),
            files_seen: seen,
            added: n.added.load(Ordering::Relaxed),
            updated: n.updated.load(Ordering::Relaxed),
            moved: n.moved.load(Ordering::Relaxed),
            removed: n.removed.load(Ordering::Relaxed),
            failed: n.failed.load(Ordering::Relaxed),
            failures,
            started_at: Some(c.started_at),
            finished_at: None,
            files_per_sec: if secs > 0.0 { seen as f64 / secs } else { 0.0 },
        }
    }

    /// Starts a scan in the background unless one is running; `false` when one was.
    pub fn start(self: &Arc<Self>, full: bool) -> bool {
        if self.running.swap(true, Ordering::AcqRel) {
            return false;
        }
        // Marked as running before this returns, so a caller that asks for the status next
        // sees this scan, not the previous one.
        self.begin(full);
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            this.run();
        });
        true
    }

    /// Runs a scan on this thread (the CLI and tests); waits for a running one to end first.
    pub fn scan_blocking(&self, full: bool) -> ScanStatus {
        while self.running.swap(true, Ordering::AcqRel) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        self.begin(full);
        self.run()
    }

    fn begin(&self, full: bool) {
        *self.current.lock() = Some(Current {
            full,
            started: Instant::now(),
            started_at: now(),
            counters: Arc::new(Counters::default()),
            failures: Arc::new(Mutex::new(Vec::new())),
        });
    }

    fn run(&self) -> ScanStatus {
        let (full, started, counters, failures) = {
            let current = self.current.lock();
            let c = current.as_ref().expect("begin() ran first");
            (c.full, c.started, c.counters.clone(), c.failures.clone())
        };
        // A panic anywhere in a scan must not leave the library marked as scanning forever.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for folder in &self.folders() {
                self.scan_folder(folder, full, &counters, &failures);
            }
        }));
        if outcome.is_err() {
            tracing::error!("the scan stopped on an internal error");
            push_failure(
                &failures,
                &counters,
                "(scan)",
                "the scan stopped on an internal error".into(),
            );
        }
        // Shrinking reallocates every row and index vector, which the next addition grows
        // again: worth it after bulk changes, not after the watcher's scan of a few new files.
        let changed = [
            &counters.added,
            &counters.updated,
            &counters.moved,
            &counters.removed,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum::<u64>();
        if changed >= BULK_CHANGES {
            self.catalog.shrink();
        }
        self.catalog.prepare_orders();
        crate::memory::release_free_heap();
        if let Err(e) = self.catalog.flush_blocking() {
            tracing::error!(error = %e, "flushing the catalog after a scan");
        }
        let mut status = self.status();
        status.state = ScanState::Idle;
        status.finished_at = Some(now());
        let secs = started.elapsed().as_secs_f64();
        status.files_per_sec = if secs > 0.0 {
            status.files_seen as f64 / secs
        } else {
            0.0
        };
        tracing::info!(
            seen = status.files_seen,
            added = status.added,
            updated = status.updated,
            moved = status.moved,
            removed = status.removed,
            failed = status.failed,
            secs = format!("{secs:.2}"),
            "scan finished"
        );
        *self.last.lock() = status.clone();
        *self.current.lock() = None;
        self.running.store(false, Ordering::Release);
        status
    }

    fn scan_folder(
        &self,
        folder: &Path,
        full: bool,
        counters: &Counters,
        failures: &Mutex<Vec<ScanFailure>>,
    ) {
        let key = folder_key(folder);
        if !folder.is_dir() {
            // An unmounted disk must not empty the catalog: keep its tracks and say why.
            push_failure(
                failures,
                counters,
                &key,
                "the media folder is missing or not a directory; its tracks are kept".into(),
            );
            return;
        }
        // Each file is compared with the catalog as the walk finds it, and only changed files
        // are kept: an unchanged library of any size costs a set of ids, not a list of paths.
        let mut seen: HashSet<TrackId> = HashSet::new();
        let mut work: Vec<(Found, Option<TrackId>)> = Vec::new();
        walk(folder, counters, failures, |f| {
            counters.total.fetch_add(1, Ordering::Relaxed);
            match self.catalog.file_state(&key, &f.rel) {
                Some((id, size, mtime)) => {
                    seen.insert(id);
                    if !full && size == f.size && mtime == f.mtime_ns {
                        counters.seen.fetch_add(1, Ordering::Relaxed);
                    } else {
                        work.push((f, Some(id)));
                    }
                }
                None => work.push((f, None)),
            }
        });
        // Catalogued files the walk did not find are gone from disk, or moved: moves are
        // matched below.
        let mut missing: HashSet<TrackId> = self
            .catalog
            .ids_in(&key)
            .into_iter()
            .filter(|id| !seen.contains(id))
            .collect();
        drop(seen);
        // Probed in parallel a chunk at a time, so memory holds one chunk's results, not the
        // whole folder's.
        let mut work = work.into_iter().peekable();
        while work.peek().is_some() {
            let chunk: Vec<(Found, Option<TrackId>)> = work.by_ref().take(PROBE_CHUNK).collect();
            let probed: Vec<(Found, Option<TrackId>, ProbeOutcome)> = chunk
                .into_par_iter()
                .map(|(f, id)| {
                    let rel = Path::new(std::ffi::OsStr::from_bytes(&f.rel));
                    let result = probe::probe_and_fingerprint(folder, rel, &self.options)
                        .map(|(p, fp)| (p, fingerprint_key(&fp)))
                        .map_err(|e| e.to_string());
                    (f, id, result)
                })
                .collect();
            self.apply(&key, probed, &mut missing, counters, failures);
        }
        // In chunks too: one transaction per chunk, not per file.
        let missing: Vec<TrackId> = missing.into_iter().collect();
        for gone in missing.chunks(STORE_CHUNK) {
            match self.catalog.replace_many(Vec::new(), gone) {
                Ok(()) => {
                    counters
                        .removed
                        .fetch_add(gone.len() as u64, Ordering::Relaxed);
                }
                Err(e) => tracing::error!(error = %e, "removing tracks whose files are gone"),
            }
        }
    }

    /// Takes one chunk of probed files into the catalog, in one transaction: changes, moves,
    /// new tracks, and tracks whose file is no longer audio. Every sled transaction writes
    /// its log buffer out; one per file cost more than the probing (a disk write and several
    /// thread switches a file).
    fn apply(
        &self,
        key: &str,
        probed: Vec<(Found, Option<TrackId>, ProbeOutcome)>,
        missing: &mut HashSet<TrackId>,
        counters: &Counters,
        failures: &Mutex<Vec<ScanFailure>>,
    ) {
        let mut drafts = Vec::with_capacity(probed.len());
        // What each draft counts as once stored, and its path for a failure report.
        let mut outcomes: Vec<(&AtomicU64, String)> = Vec::with_capacity(probed.len());
        let mut no_longer_audio = Vec::new();
        for (f, existing, result) in probed {
            counters.seen.fetch_add(1, Ordering::Relaxed);
            let path_text = format!("{}/{}", key, String::from_utf8_lossy(&f.rel));
            let (p, fingerprint) = match result {
                Ok(ok) => ok,
                Err(reason) => {
                    push_failure(failures, counters, &path_text, reason);
                    // It was audio and no longer is: it leaves the catalog.
                    no_longer_audio.extend(existing);
                    continue;
                }
            };
            let draft = draft(key, &f, fingerprint, p);
            let (id, counter) = match existing {
                Some(id) => (id, &counters.updated),
                None => match self.moved_from(fingerprint, missing) {
                    Some(id) => {
                        missing.remove(&id);
                        (id, &counters.moved)
                    }
                    None => (TrackId::default(), &counters.added),
                },
            };
            drafts.push((id, draft));
            outcomes.push((counter, path_text));
        }
        if drafts.is_empty() && no_longer_audio.is_empty() {
            return;
        }
        match self.catalog.replace_many(drafts, &no_longer_audio) {
            Ok(()) => {
                for (counter, _) in outcomes {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                counters
                    .removed
                    .fetch_add(no_longer_audio.len() as u64, Ordering::Relaxed);
            }
            // The store refused the whole chunk (a full disk, say): each of its files is
            // reported, and the next scan tries them again.
            Err(e) => {
                for (_, path_text) in outcomes {
                    push_failure(
                        failures,
                        counters,
                        &path_text,
                        format!("could not be stored: {e}"),
                    );
                }
            }
        }
    }

    fn moved_from(&self, fingerprint: u64, missing: &HashSet<TrackId>) -> Option<TrackId> {
        if missing.is_empty() {
            return None;
        }
        self.catalog
            .tracks_with_fingerprint(fingerprint)
            .ok()?
            .into_iter()
            .find(|id| missing.contains(id))
    }
}

/// The part of a fingerprint used as the index key; 64 bits make accidental matches between
/// a vanished and a new file negligible.
pub fn fingerprint_key(fp: &probe::Fingerprint) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&fp.0[..8]);
    u64::from_be_bytes(first)
}

fn push_failure(
    failures: &Mutex<Vec<ScanFailure>>,
    counters: &Counters,
    path: &str,
    reason: String,
) {
    counters.failed.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(path, %reason, "skipped");
    let mut f = failures.lock();
    if f.len() < MAX_LISTED_FAILURES {
        f.push(ScanFailure {
            path: path.to_owned(),
            reason,
        });
    }
}

/// Hands every audio file under `folder` to `found`, reporting what cannot be read.
fn walk(
    folder: &Path,
    counters: &Counters,
    failures: &Mutex<Vec<ScanFailure>>,
    mut found: impl FnMut(Found),
) {
    let walker = walkdir::WalkDir::new(folder)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_ignored_name(e.file_name().as_bytes()));
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .map_or_else(|| folder.display().to_string(), |p| p.display().to_string());
                let reason = if e.loop_ancestor().is_some() {
                    "symbolic link loop; not followed".to_owned()
                } else {
                    format!(
                        "could not be read: {}",
                        e.io_error()
                            .map_or_else(|| e.to_string(), |io| io.to_string())
                    )
                };
                push_failure(failures, counters, &path, reason);
                continue;
            }
        };
        if !entry.file_type().is_file() || !is_audio(entry.path()) {
            continue;
        }
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) => {
                push_failure(
                    failures,
                    counters,
                    &entry.path().display().to_string(),
                    format!("could not be read: {e}"),
                );
                continue;
            }
        };
        let Ok(rel) = entry.path().strip_prefix(folder) else {
            continue;
        };
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        found(Found {
            rel: rel.as_os_str().as_bytes().to_vec(),
            size: meta.len(),
            mtime_ns,
        });
    }
}

fn draft(folder: &str, f: &Found, fingerprint: u64, p: Probed) -> TrackDraft {
    draft_of(
        MediaFile {
            folder: folder.to_owned(),
            rel: f.rel.clone(),
            size: f.size,
            mtime_ns: f.mtime_ns,
            fingerprint,
        },
        p,
    )
}

/// A catalog draft of the probed file `file`, grouped by its tags.
pub fn draft_of(file: MediaFile, p: Probed) -> TrackDraft {
    let t = p.tags;
    TrackDraft {
        file,
        audio: AudioInfo {
            container: p.container,
            codec: p.codec,
            duration_ms: p.duration_ms,
            bitrate_kbps: p.bitrate_kbps,
            sample_rate: p.sample_rate,
            channels: p.channels,
            bit_depth: p.bit_depth,
        },
        tags: TrackTags {
            title: t.title.unwrap_or_default(),
            artists: t.artists,
            album: t.album.unwrap_or_default(),
            album_artists: t.album_artists,
            track_number: t.track_number,
            track_total: t.track_total,
            disc_number: t.disc_number,
            disc_total: t.disc_total,
            date: t.date,
            year: t.year,
            genres: t.genres,
            composers: t.composers,
            compilation: t.compilation,
            lyrics: t.lyrics,
            replaygain_track_gain_db: t.replaygain_track_gain_db,
            replaygain_track_peak: t.replaygain_track_peak,
            replaygain_album_gain_db: t.replaygain_album_gain_db,
            replaygain_album_peak: t.replaygain_album_peak,
            musicbrainz_recording_id: t.musicbrainz_recording_id,
            musicbrainz_track_id: t.musicbrainz_track_id,
            musicbrainz_album_id: t.musicbrainz_album_id,
            musicbrainz_artist_ids: t.musicbrainz_artist_ids,
        },
        embedded_cover: p.cover.is_some(),
        album_id: None,
    }
}
