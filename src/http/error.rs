//! The one mapping from errors to HTTP responses: `{"error": {"code", "message"}}` with the
//! right status. Internal details are logged here and never sent.

use std::convert::Infallible;

use http::{header, HeaderValue, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;
use warp::reply::Response;
use warp::{Rejection, Reply};

use crate::error::{AuthFailure, Error};

/// An error of the HTTP layer: a service error, or a request that never reached a service.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// From a service; status by variant (see `ApiError::status_and_code`).
    #[error(transparent)]
    Service(#[from] Error),
    /// 400: the body is not valid JSON or does not match the expected shape.
    #[error("{message}")]
    BadBody {
        /// Path of the offending field (`user.name`, `items[2]`), when known.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// 400: a query parameter is malformed.
    #[error("invalid query parameter {field}: {message}")]
    BadQuery {
        /// The parameter.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// 413: the body exceeds the route's limit.
    #[error("the request body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// 415: the body has a content type the route does not take.
    #[error("expected a body of type {expected}")]
    UnsupportedContentType {
        /// What the route takes.
        expected: &'static str,
    },
    /// 404: no route has this path.
    #[error("no such endpoint")]
    RouteNotFound,
    /// 405: a route has this path but not this method.
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,
}

impl warp::reject::Reject for ApiError {}

/// The error body every failing `/api` request returns.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code, e.g. `invalid_request`, `token_expired`.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// The offending field, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The existing track, for a duplicate upload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_id: Option<String>,
}

impl ApiError {
    /// Status and machine-readable code. Exhaustive on purpose: a new variant must be given
    /// its status here.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Service(e) => match e {
                Error::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
                Error::Unauthenticated(f) => (
                    StatusCode::UNAUTHORIZED,
                    match f {
                        AuthFailure::Missing => "unauthenticated",
                        AuthFailure::InvalidToken => "invalid_token",
                        AuthFailure::ExpiredToken => "token_expired",
                        AuthFailure::SessionEnded => "session_ended",
                        AuthFailure::BadCredentials => "bad_credentials",
                        AuthFailure::InvalidRefresh => "invalid_refresh_token",
                        AuthFailure::RefreshReused => "refresh_token_reused",
                        AuthFailure::InvalidStreamToken => "invalid_stream_token",
                        AuthFailure::ExpiredStreamToken => "stream_token_expired",
                    },
                ),
                Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
                Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
                Error::Conflict { code, .. } => (StatusCode::CONFLICT, code),
                Error::DuplicateTrack { .. } => (StatusCode::CONFLICT, "duplicate_track"),
                Error::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
                Error::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
                Error::UnsupportedMedia(_) => {
                    (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
                }
                Error::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
                Error::RangeNotSatisfiable { .. } => {
                    (StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable")
                }
                Error::MediaMissing => (StatusCode::NOT_FOUND, "media_missing"),
                Error::TranscoderBusy { .. } => {
                    (StatusCode::SERVICE_UNAVAILABLE, "transcoder_busy")
                }
                Error::Undecodable => (StatusCode::UNPROCESSABLE_ENTITY, "undecodable_audio"),
                Error::Store(_) | Error::Io(_) | Error::Internal(_) => {
                    (StatusCode::INTERNAL_SERVER_ERROR, "internal")
                }
            },
            ApiError::BadBody { .. } | ApiError::BadQuery { .. } => {
                (StatusCode::BAD_REQUEST, "invalid_request")
            }
            ApiError::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedContentType { .. } => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::RouteNotFound => (StatusCode::NOT_FOUND, "route_not_found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        }
    }

    /// Renders the error as a response.
    pub fn to_response(&self) -> Response {
        let (status, code) = self.status_and_code();
        let (message, field) = match self {
            ApiError::Service(Error::Store(_) | Error::Io(_) | Error::Internal(_)) => {
                tracing::error!(error = %self, "request failed");
                ("internal server error".to_owned(), None)
            }
            ApiError::Service(Error::Invalid { field, .. }) => {
                (self.to_string(), Some((*field).to_owned()))
            }
            ApiError::BadBody { field, .. } => (self.to_string(), field.clone()),
            ApiError::BadQuery { field, .. } => (self.to_string(), Some(field.clone())),
            _ => (self.to_string(), None),
        };
        let track_id = match self {
            ApiError::Service(Error::DuplicateTrack { existing }) => Some(existing.to_string()),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message,
                field,
                track_id,
            },
        };
        let mut res = warp::reply::with_status(warp::reply::json(&body), status).into_response();
        let headers = res.headers_mut();
        match self {
            ApiError::Service(Error::Unauthenticated(_)) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"musewave\""),
                );
            }
            ApiError::Service(
                Error::Throttled { retry_after } | Error::TranscoderBusy { retry_after },
            ) => {
                // Round up: a client that waits the advertised time must not be refused again.
                let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            }
            ApiError::Service(Error::RangeNotSatisfiable { length }) => {
                // RFC 9110 §15.5.17: a 416 reports the current length.
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{length}")) {
                    headers.insert(header::CONTENT_RANGE, v);
                }
                headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            }
            _ => {}
        }
        res
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        self.to_response()
    }
}

/// Turns a service error into a rejection for `and_then` handlers.
pub fn reject(e: impl Into<ApiError>) -> Rejection {
    warp::reject::custom(e.into())
}

/// The top-level `recover`: renders every rejection as a JSON error.
pub async fn handle_rejection(err: Rejection) -> Result<Response, Infallible> {
    if let Some(e) = err.find::<ApiError>() {
        return Ok(e.to_response());
    }
    let api = if err.is_not_found() {
        ApiError::RouteNotFound
    } else if err.find::<super::router::MethodMismatch>().is_some()
        || err.find::<warp::reject::MethodNotAllowed>().is_some()
    {
        ApiError::MethodNotAllowed
    } else if let Some(e) = err.find::<warp::reject::InvalidQuery>() {
        ApiError::BadQuery {
            field: String::new(),
            message: e.to_string(),
        }
    } else if let Some(e) = err.find::<warp::reject::MissingHeader>() {
        ApiError::BadBody {
            field: Some(e.name().to_owned()),
            message: e.to_string(),
        }
    } else if let Some(e) = err.find::<warp::reject::InvalidHeader>() {
        ApiError::BadBody {
            field: Some(e.name().to_owned()),
            message: e.to_string(),
        }
    } else {
        ApiError::Service(Error::Internal(format!("unhandled rejection: {err:?}")))
    };
    Ok(api.to_response())
}
