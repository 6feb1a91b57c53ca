//! The connection loop: accepts TCP connections, serves each with hyper, logs one line per
//! request, and drains with a deadline on shutdown.

use std::future::Future;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower_service::Service;
use tracing::Instrument;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::extract::ClientAddr;
use super::router::RouteSlot;

/// Per-connection bound on buffered response bytes and on a request's head; see `serve`.
const MAX_BUF_BYTES: usize = crate::media::serve::CHUNK;

/// Serves `filter` on `listener` until `shutdown` resolves, then lets open requests finish for
/// at most `drain` before cutting the remaining connections.
pub async fn serve(
    listener: TcpListener,
    filter: BoxedFilter<(Response,)>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let service = warp::service(filter);
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
        let svc = service.clone();
        let hyper_svc = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
            let started = Instant::now();
            let slot = RouteSlot::default();
            req.extensions_mut().insert(ClientAddr(peer));
            req.extensions_mut().insert(slot.clone());
            let span = tracing::info_span!(
                "request",
                method = %req.method(),
                path = %req.uri().path(),
                client = %peer.ip(),
            );
            let mut svc = svc.clone();
            let fut = svc.call(req);
            async move {
                let res = fut.await;
                if let Ok(res) = &res {
                    tracing::info!(
                        route = slot.get().unwrap_or("-"),
                        status = res.status().as_u16(),
                        latency_us = started.elapsed().as_micros() as u64,
                        "request"
                    );
                }
                res
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
    if tokio::time::timeout(drain, graceful.shutdown())
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
