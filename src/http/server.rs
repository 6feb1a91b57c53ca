//! The connection loop: accepts TCP connections, serves each with hyper, logs one line per
//! request, and drains with a deadline on shutdown. It is also where what holds for every
//! route is done once: the `server.base_url` prefix is taken off (and put back on `Location`),
//! the client address is read through trusted proxies, and requests and audio responses are
//! counted for `/metrics`.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower_service::Service;
use tracing::Instrument;
use warp::reply::Response;

use super::error::ApiError;
use super::extract::ClientAddr;
use super::router::{RouteSlot, Site};
use crate::metrics::{Metrics, StreamGuard};

/// Per-connection bound on buffered response bytes and on a request's head; see `serve`.
const MAX_BUF_BYTES: usize = crate::media::serve::CHUNK;

/// How a listener serves, beside its routes.
#[derive(Clone, Default)]
pub struct ServeOptions {
    /// `""` or a prefix such as `/music` (validated config: leading slash, none trailing).
    pub base_url: String,
    /// Peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<[IpNet]>,
    /// Where requests are counted; `None` counts nothing (the metrics listener itself).
    pub metrics: Option<Arc<Metrics>>,
    /// How long open requests may take to finish at shutdown.
    pub drain: Duration,
}

/// Where a request goes once the prefix is considered.
enum Prefixed {
    /// On to the routes with this URI (the prefix taken off).
    Route(Option<Uri>),
    /// The prefix itself without its slash: redirect to it with the slash, so the web app's
    /// relative URLs resolve under it.
    AddSlash(String),
    /// Outside the prefix.
    Outside,
}

fn strip_prefix(base: &str, uri: &Uri) -> Prefixed {
    if base.is_empty() {
        return Prefixed::Route(None);
    }
    let path = uri.path();
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    match path.strip_prefix(base) {
        Some("") => Prefixed::AddSlash(format!("{base}/{query}")),
        Some(rest) if rest.starts_with('/') => {
            let Ok(rewritten) = format!("{rest}{query}").parse::<Uri>() else {
                return Prefixed::Outside;
            };
            Prefixed::Route(Some(rewritten))
        }
        _ => Prefixed::Outside,
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the last address
/// in `X-Forwarded-For` that is not one (each proxy appends the address it heard from).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let peer = peer.to_canonical();
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    let values: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    for part in values.iter().rev().flat_map(|v| v.rsplit(',')) {
        match part.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip.to_canonical();
                if !is_trusted(&client) {
                    break;
                }
            }
            // A malformed entry ends what can be believed.
            Err(_) => break,
        }
    }
    client
}

/// A response body that holds a count in the active-streams gauge until it is done.
struct Counted<B> {
    inner: B,
    guard: Option<StreamGuard>,
}

impl<B: Body + Unpin> Body for Counted<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn is_audio(res: &Response) -> bool {
    res.status().is_success()
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("audio/"))
}

/// Puts the prefix back on a `Location` naming a path of ours.
fn prefix_location(base: &str, res: &mut Response) {
    if base.is_empty() {
        return;
    }
    let Some(loc) = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    if loc.starts_with('/') && !loc.starts_with("//") {
        if let Ok(v) = HeaderValue::from_str(&format!("{base}{loc}")) {
            res.headers_mut().insert(header::LOCATION, v);
        }
    }
}

/// Serves `filter` on `listener` until `shutdown` resolves, then lets open requests finish for
/// at most `drain` before cutting the remaining connections.
pub async fn serve(
    listener: TcpListener,
    site: Site,
    shutdown: impl Future<Output = ()>,
    options: ServeOptions,
) {
    let options = Arc::new(options);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors or similar: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            // Reap finished connection tasks so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        // Audio clients seek with many small range requests on one connection; Nagle's
        // algorithm would hold each response back by tens of milliseconds.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let site = site.clone();
        let opts = options.clone();
        let hyper_svc = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
            let started = Instant::now();
            let slot = RouteSlot::default();
            let client = client_ip(peer.ip(), req.headers(), &opts.trusted_proxies);
            req.extensions_mut()
                .insert(ClientAddr(SocketAddr::new(client, peer.port())));
            req.extensions_mut().insert(slot.clone());
            let span = tracing::info_span!(
                "request",
                method = %req.method(),
                path = %req.uri().path(),
                client = %client,
                via = tracing::field::Empty,
            );
            if client != peer.ip().to_canonical() {
                span.record("via", tracing::field::display(peer.ip()));
            }
            let method = req.method().clone();
            let routed = match strip_prefix(&opts.base_url, req.uri()) {
                Prefixed::Route(uri) => {
                    if let Some(uri) = uri {
                        *req.uri_mut() = uri;
                    }
                    let mut svc = warp::service(site.filter(req.uri().path()).clone());
                    Ok(svc.call(req))
                }
                Prefixed::AddSlash(to) => Err(redirect(&to)),
                Prefixed::Outside => Err(ApiError::RouteNotFound.to_response()),
            };
            let opts = opts.clone();
            async move {
                let res = match routed {
                    Ok(fut) => match fut.await {
                        Ok(mut res) => {
                            prefix_location(&opts.base_url, &mut res);
                            res
                        }
                        Err(never) => match never {},
                    },
                    Err(res) => res,
                };
                let route = slot.get();
                let status = res.status().as_u16();
                let took = started.elapsed();
                tracing::info!(
                    route = route.unwrap_or("-"),
                    status,
                    latency_us = took.as_micros() as u64,
                    "request"
                );
                let guard = opts.metrics.as_ref().and_then(|m| {
                    m.record_request(method.as_str(), route, status, took);
                    is_audio(&res).then(|| m.stream_started())
                });
                Ok::<_, std::convert::Infallible>(res.map(|inner| Counted { inner, guard }))
            }
            .instrument(span)
        });
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // hyper pulls response body chunks until this many bytes wait to be written (~400 KiB
        // by default). An audio stream to a player that reads at playback speed keeps that
        // queue full for the whole track, so it is what a stream costs in memory: 500 streams
        // would hold 200 MB. One read chunk is enough to keep the socket busy. It also bounds
        // a request's head, as nginx's default (32 KiB) does.
        builder.http1().max_buf_size(MAX_BUF_BYTES);
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), hyper_svc)
            .into_owned();
        let conn = graceful.watch(conn);
        connections.spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!(open = connections.len(), "draining connections");
    if tokio::time::timeout(options.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "drain deadline passed; closing the remaining connections"
        );
    }
    connections.shutdown().await;
}

fn redirect(to: &str) -> Response {
    let mut res = Response::new(bytes::Bytes::new().into());
    *res.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 1.2.3.4, 10.0.0.2"),
        );
        // From a stranger: the header is ignored.
        assert_eq!(client_ip(ip("5.5.5.5"), &h, &trusted), ip("5.5.5.5"));
        // From a proxy: the last untrusted hop, not the first (which the client wrote).
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("1.2.3.4"));
        assert_eq!(client_ip(ip("::1"), &h, &trusted), ip("1.2.3.4"));
        // An IPv4 peer seen through a dual-stack socket is still that IPv4 address.
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), &h, &trusted),
            ip("1.2.3.4")
        );
        // Nothing forwarded, or nothing readable: the proxy itself.
        assert_eq!(
            client_ip(ip("10.0.0.1"), &HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
        h.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("10.0.0.1"));
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &[]), ip("10.0.0.1"));
    }

    #[test]
    fn prefix_is_taken_off_or_refused() {
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        let route = |p: Prefixed| match p {
            Prefixed::Route(u) => Some(u.map(|u| u.to_string())),
            _ => None,
        };
        assert_eq!(route(strip_prefix("", &uri("/api/v1/me"))), Some(None));
        assert_eq!(
            route(strip_prefix("/music", &uri("/music/api/v1/me?x=1"))),
            Some(Some("/api/v1/me?x=1".into()))
        );
        assert_eq!(
            route(strip_prefix("/music", &uri("/music/"))),
            Some(Some("/".into()))
        );
        assert!(matches!(
            strip_prefix("/music", &uri("/music?a=b")),
            Prefixed::AddSlash(to) if to == "/music/?a=b"
        ));
        assert!(matches!(
            strip_prefix("/music", &uri("/musicbox/x")),
            Prefixed::Outside
        ));
        assert!(matches!(
            strip_prefix("/music", &uri("/api/v1/me")),
            Prefixed::Outside
        ));
    }
}
