//! `GET /metrics`: the Prometheus endpoint, on the main listener or a listener of its own.

use http::{header, HeaderValue, StatusCode};
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::metrics::{Levels, CONTENT_TYPE};
use crate::App;

/// The current levels, read from the services.
fn levels(app: &App) -> Levels {
    let scan = app.library.status();
    let (tracks, albums, artists) = app.catalog.read().counts();
    Levels {
        active_transcodes: app.transcoder.active() as u64,
        scan_running: scan.state == crate::library::ScanState::Running,
        scan_files_total: scan.files_total,
        scan_files_seen: scan.files_seen,
        tracks: tracks as u64,
        albums: albums as u64,
        artists: artists as u64,
        store_bytes: app.store.size_on_disk().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the store's size");
            0
        }),
        transcode_cache_bytes: app.transcoder.cache().total_bytes(),
    }
}

/// `GET /metrics`.
pub fn filter(app: &App) -> BoxedFilter<(Response,)> {
    let app = app.clone();
    warp::path!("metrics")
        .and(warp::get())
        .and_then(move || {
            let app = app.clone();
            async move {
                // The store's size is read from the file system.
                let text = tokio::task::spawn_blocking(move || app.metrics.render(&levels(&app)))
                    .await
                    .unwrap_or_default();
                let mut res = warp::reply::with_status(text, StatusCode::OK).into_response();
                res.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
                res.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                Ok::<_, Rejection>(res)
            }
        })
        .boxed()
}
