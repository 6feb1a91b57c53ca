//! Request extractors shared by the handlers: JSON bodies with limits and field-naming errors,
//! the authenticated caller, and the client's address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::{Buf, BytesMut};
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use warp::{Filter, Rejection};

use super::error::{reject, ApiError};
use crate::auth::Actor;
use crate::error::{AuthFailure, Error};
use crate::App;

/// The peer address, put into each request's extensions by the server.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// The client's IP address (for throttling and logs).
pub fn client_ip() -> impl Filter<Extract = (IpAddr,), Error = std::convert::Infallible> + Clone {
    warp::ext::optional::<ClientAddr>().map(|addr: Option<ClientAddr>| {
        addr.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.0.ip())
    })
}

/// Reads the whole body, refusing it with 413 as soon as it passes `limit` bytes (whether or
/// not a `Content-Length` announced it).
async fn read_limited(
    content_length: Option<u64>,
    body: impl Stream<Item = Result<impl Buf, warp::Error>>,
    limit: u64,
) -> Result<bytes::Bytes, Rejection> {
    if content_length.is_some_and(|n| n > limit) {
        return Err(reject(ApiError::BodyTooLarge { limit }));
    }
    let mut buf = BytesMut::with_capacity(content_length.unwrap_or(0).min(limit) as usize);
    futures_util::pin_mut!(body);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            reject(ApiError::BadBody {
                field: None,
                message: format!("the request body could not be read: {e}"),
            })
        })?;
        if buf.len() as u64 + chunk.remaining() as u64 > limit {
            return Err(reject(ApiError::BodyTooLarge { limit }));
        }
        buf.extend_from_slice(chunk.chunk());
    }
    Ok(buf.freeze())
}

/// Decodes JSON, naming the field that does not fit.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("the body is not valid JSON: {inner}")
        } else if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        };
        ApiError::BadBody {
            field: (path != ".").then_some(path),
            message,
        }
    })
}

/// A JSON body of at most `limit` bytes, decoded as `T`.
pub fn json<T: DeserializeOwned + Send + 'static>(
    limit: u64,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::body::stream())
        .and_then(
            move |len: Option<u64>, ctype: Option<String>, body| async move {
                if let Some(ctype) = ctype {
                    let essence = ctype.split(';').next().unwrap_or("").trim();
                    if !(essence.eq_ignore_ascii_case("application/json")
                        || essence.ends_with("+json"))
                    {
                        return Err(reject(ApiError::UnsupportedContentType {
                            expected: "application/json",
                        }));
                    }
                }
                let bytes = read_limited(len, body, limit).await?;
                decode_json::<T>(&bytes).map_err(reject)
            },
        )
}

/// The query string decoded as `T`, naming the parameter that does not fit.
pub fn query<T: DeserializeOwned + Send + 'static>(
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::filters::query::raw()
        .or(warp::any().map(String::new))
        .unify()
        .and_then(|raw: String| async move {
            let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
            serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
                let field = e.path().to_string();
                reject(ApiError::BadQuery {
                    field,
                    message: e.into_inner().to_string(),
                })
            })
        })
}

/// A raw body of at most `limit` bytes with its content type.
pub fn raw_body(
    limit: u64,
) -> impl Filter<Extract = (Option<String>, bytes::Bytes), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::body::stream())
        .and_then(
            move |len: Option<u64>, ctype: Option<String>, body| async move {
                let bytes = read_limited(len, body, limit).await?;
                Ok::<_, Rejection>((ctype, bytes))
            },
        )
        .untuple_one()
}

fn bearer(header: Option<String>) -> Result<Option<String>, Rejection> {
    match header {
        None => Ok(None),
        Some(h) => match h.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                Ok(Some(token.trim().to_owned()))
            }
            _ => Err(reject(Error::Unauthenticated(AuthFailure::InvalidToken))),
        },
    }
}

/// The caller, when a valid access token is present; `None` when none is sent. A token that
/// is sent but invalid is always an error, never silently anonymous.
pub fn maybe_actor(app: App) -> impl Filter<Extract = (Option<Actor>,), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization").and_then(move |h: Option<String>| {
        let app = app.clone();
        async move {
            match bearer(h)? {
                None => Ok(None),
                Some(token) => app.accounts.authenticate(&token).map(Some).map_err(reject),
            }
        }
    })
}

/// The caller; 401 when there is none.
pub fn actor(app: App) -> impl Filter<Extract = (Actor,), Error = Rejection> + Clone {
    maybe_actor(app).and_then(|a: Option<Actor>| async move {
        a.ok_or_else(|| reject(Error::Unauthenticated(AuthFailure::Missing)))
    })
}
