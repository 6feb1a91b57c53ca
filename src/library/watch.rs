//! Watching the media folders: file events start an incremental scan once the files they name
//! have stopped changing (a copy in progress is not probed half-written). A watcher error or a
//! lost-events overflow starts a scan too; when the OS limit on watches is reached, musewave
//! says so once and falls back to scanning on a timer.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::event::{MetadataKind, ModifyKind};
use notify::{ErrorKind, Event, EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::scan::is_ignored_name;
use super::Library;

/// How often pending files are looked at; a file counts as settled when its size and
/// modification time are the same at two looks in a row.
const SETTLE_TICK: Duration = Duration::from_millis(400);
/// Scan interval when events cannot be had.
const FALLBACK_INTERVAL: Duration = Duration::from_secs(300);

enum Signal {
    Paths(Vec<PathBuf>),
    Rescan,
    LimitReached,
}

/// Watches the library's folders until the returned task is aborted.
pub fn spawn(library: Arc<Library>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let (tx, rx) = mpsc::unbounded_channel();
        let handler_tx = tx.clone();
        let watcher = notify::recommended_watcher(move |res: notify::Result<Event>| {
            let signal = match res {
                Ok(ev) if ev.need_rescan() => Signal::Rescan,
                // Reads (the scanner's own included) change nothing.
                Ok(Event {
                    kind:
                        EventKind::Access(_)
                        | EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)),
                    ..
                }) => return,
                Ok(ev) => Signal::Paths(ev.paths),
                Err(e) if matches!(e.kind, ErrorKind::MaxFilesWatch) => Signal::LimitReached,
                Err(e) => {
                    tracing::warn!(error = %e, "file watcher error; rescanning");
                    Signal::Rescan
                }
            };
            let _ = handler_tx.send(signal);
        });
        let mut watcher = match watcher {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the media folders; scanning every {} s instead", FALLBACK_INTERVAL.as_secs());
                None
            }
        };
        let folders = library.subscribe_folders();
        if let Some(w) = watcher.as_mut() {
            for folder in library.folders() {
                watch_folder(w, &folder, &tx);
            }
        }
        run(library, rx, tx, folders, watcher).await;
    })
}

fn watch_folder(
    w: &mut notify::RecommendedWatcher,
    folder: &std::path::Path,
    tx: &mpsc::UnboundedSender<Signal>,
) {
    if let Err(e) = w.watch(folder, RecursiveMode::Recursive) {
        if matches!(e.kind, ErrorKind::MaxFilesWatch) {
            let _ = tx.send(Signal::LimitReached);
        } else {
            tracing::warn!(folder = %folder.display(), error = %e, "cannot watch a media folder");
        }
    }
}

async fn run(
    library: Arc<Library>,
    mut rx: mpsc::UnboundedReceiver<Signal>,
    tx: mpsc::UnboundedSender<Signal>,
    mut folders: tokio::sync::watch::Receiver<Vec<PathBuf>>,
    mut watcher: Option<notify::RecommendedWatcher>,
) {
    let mut watched = folders.borrow_and_update().clone();
    // path -> (size, mtime) at the last look.
    let mut pending: HashMap<PathBuf, Option<(u64, std::time::SystemTime)>> = HashMap::new();
    let mut rescan = false;
    let mut fallback = watcher.is_none();
    let mut last_fallback_scan = Instant::now();
    let mut tick = tokio::time::interval(SETTLE_TICK);
    loop {
        tokio::select! {
            Ok(()) = folders.changed() => {
                let now = folders.borrow_and_update().clone();
                if let Some(w) = watcher.as_mut() {
                    for gone in watched.iter().filter(|f| !now.contains(f)) {
                        let _ = w.unwatch(gone);
                    }
                    for new in now.iter().filter(|f| !watched.contains(f)) {
                        watch_folder(w, new, &tx);
                    }
                }
                watched = now;
                rescan = true;
            }
            signal = rx.recv() => match signal {
                None => return,
                Some(Signal::Paths(paths)) => {
                    for p in paths {
                        // Only the part inside the media folder counts: the folder itself may
                        // well sit under a hidden directory.
                        let inside = watched.iter().find_map(|f| p.strip_prefix(f).ok());
                        let ignored = inside.is_some_and(|rel| {
                            rel.components().any(|c| is_ignored_name(c.as_os_str().as_bytes()))
                        });
                        if !ignored {
                            pending.insert(p, None);
                        }
                    }
                }
                Some(Signal::Rescan) => rescan = true,
                Some(Signal::LimitReached) => {
                    if !fallback {
                        tracing::warn!(
                            "the OS limit on file watches is reached (raise fs.inotify.max_user_watches); \
                             scanning the media folders every {} s instead",
                            FALLBACK_INTERVAL.as_secs()
                        );
                        fallback = true;
                        watcher = None;
                    }
                }
            },
            _ = tick.tick() => {
                let mut settled = true;
                for (path, last) in pending.iter_mut() {
                    let now = std::fs::metadata(path).ok().map(|m| (m.len(), m.modified().unwrap_or(std::time::UNIX_EPOCH)));
                    if now.is_some() && *last != now {
                        settled = false;
                    }
                    *last = now;
                }
                let due_fallback = fallback && last_fallback_scan.elapsed() >= FALLBACK_INTERVAL;
                if (rescan || (!pending.is_empty() && settled) || due_fallback) && library.start(false) {
                    pending.clear();
                    rescan = false;
                    last_fallback_scan = Instant::now();
                }
            }
        }
        let _ = &watcher;
    }
}
