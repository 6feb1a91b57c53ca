//! Prometheus metrics. Requests and streams are counted by the connection loop as they pass;
//! levels (transcodes, scan progress, library and store size) are read from the services when
//! the endpoint is scraped, so they cost nothing between scrapes.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Label value for requests no route matched (web app files, 404s): one series for all, so
/// scanners probing random paths cannot multiply the series.
pub const UNMATCHED_ROUTE: &str = "other";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms to ~33 s: covers an in-memory catalog answer and a slow first transcode byte.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// What the services report at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Levels {
    /// Transcodes running now.
    pub active_transcodes: u64,
    /// Whether a scan is running.
    pub scan_running: bool,
    /// Audio files the running (or last) scan found.
    pub scan_files_total: u64,
    /// Files it has dealt with.
    pub scan_files_seen: u64,
    /// Tracks, albums and artists in the catalog.
    pub tracks: u64,
    /// Albums in the catalog.
    pub albums: u64,
    /// Artists in the catalog.
    pub artists: u64,
    /// Bytes the store occupies on disk.
    pub store_bytes: u64,
    /// Bytes of finished transcodes kept.
    pub transcode_cache_bytes: u64,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    active_streams: Gauge,
    active_transcodes: Gauge,
    scan_running: Gauge,
    scan_files: Family<KindLabels, Gauge>,
    library_items: Family<KindLabels, Gauge>,
    store_bytes: Gauge<u64, AtomicU64>,
    transcode_cache_bytes: Gauge<u64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty counters, registered under the `musewave_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("musewave");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        // The unit is in the name rather than a `# UNIT` line: some OpenMetrics readers
        // refuse a unit on a histogram.
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response headers, by method and route template",
            latency.clone(),
        );
        let active_streams = Gauge::default();
        registry.register(
            "active_streams",
            "Audio responses (streams, downloads, transcodes) being sent",
            active_streams.clone(),
        );
        let active_transcodes = Gauge::default();
        registry.register(
            "active_transcodes",
            "Transcodes running",
            active_transcodes.clone(),
        );
        let scan_running = Gauge::default();
        registry.register(
            "scan_running",
            "1 while a media folder scan runs",
            scan_running.clone(),
        );
        let scan_files = Family::<KindLabels, Gauge>::default();
        registry.register(
            "scan_files",
            "Files of the running or last scan: kind=\"found\" and kind=\"done\"",
            scan_files.clone(),
        );
        let library_items = Family::<KindLabels, Gauge>::default();
        registry.register(
            "library_items",
            "Catalog size: kind=\"tracks\", \"albums\", \"artists\"",
            library_items.clone(),
        );
        let store_bytes = Gauge::<u64, AtomicU64>::default();
        registry.register_with_unit(
            "store_size",
            "Size of the store on disk",
            Unit::Bytes,
            store_bytes.clone(),
        );
        let transcode_cache_bytes = Gauge::<u64, AtomicU64>::default();
        registry.register_with_unit(
            "transcode_cache_size",
            "Size of the kept transcodes on disk",
            Unit::Bytes,
            transcode_cache_bytes.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            active_streams,
            active_transcodes,
            scan_running,
            scan_files,
            library_items,
            store_bytes,
            transcode_cache_bytes,
        }
    }

    /// Counts one answered request. `route` is the matched template, or `None`.
    pub fn record_request(&self, method: &str, route: Option<&str>, status: u16, took: Duration) {
        let route = route.unwrap_or(UNMATCHED_ROUTE).to_owned();
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.clone(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route,
            })
            .observe(took.as_secs_f64());
    }

    /// Counts an audio response until the returned guard drops (when its body is done or its
    /// client has gone).
    pub fn stream_started(&self) -> StreamGuard {
        self.active_streams.inc();
        StreamGuard(self.active_streams.clone())
    }

    /// The metrics in the OpenMetrics text format (which Prometheus reads), with `levels` as
    /// the current levels.
    pub fn render(&self, levels: &Levels) -> String {
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.active_transcodes.set(as_i64(levels.active_transcodes));
        self.scan_running.set(i64::from(levels.scan_running));
        for (kind, n) in [
            ("found", levels.scan_files_total),
            ("done", levels.scan_files_seen),
        ] {
            self.scan_files
                .get_or_create(&KindLabels { kind })
                .set(as_i64(n));
        }
        for (kind, n) in [
            ("tracks", levels.tracks),
            ("albums", levels.albums),
            ("artists", levels.artists),
        ] {
            self.library_items
                .get_or_create(&KindLabels { kind })
                .set(as_i64(n));
        }
        self.store_bytes.set(levels.store_bytes);
        self.transcode_cache_bytes.set(levels.transcode_cache_bytes);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Holds one count in the active-streams gauge.
pub struct StreamGuard(Gauge);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_levels_render() {
        let m = Metrics::new();
        m.record_request(
            "GET",
            Some("/api/v1/tracks/{id}"),
            200,
            Duration::from_millis(3),
        );
        m.record_request("GET", None, 404, Duration::from_millis(1));
        let guard = m.stream_started();
        let text = m.render(&Levels {
            tracks: 7,
            ..Levels::default()
        });
        assert!(text.contains(
            "musewave_http_requests_total{method=\"GET\",route=\"/api/v1/tracks/{id}\",status=\"200\"} 1"
        ), "{text}");
        assert!(text.contains("route=\"other\",status=\"404\"} 1"), "{text}");
        assert!(text.contains("musewave_active_streams 1"), "{text}");
        assert!(
            text.contains("musewave_library_items{kind=\"tracks\"} 7"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
        drop(guard);
        assert!(m
            .render(&Levels::default())
            .contains("musewave_active_streams 0"));
    }
}
