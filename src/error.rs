//! The error of the service layer. Services return it; the HTTP layer maps each variant to a
//! status code in exactly one place (`http::error`).

use std::time::Duration;

use crate::store::StoreError;

/// Why a client's credentials were not accepted. Told to the client, so it names the
/// problem without revealing which part of a login was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No `Authorization` header or `token` parameter.
    #[error("authentication required")]
    Missing,
    /// The token is malformed, forged, signed with another key or uses another algorithm.
    #[error("the access token is invalid")]
    InvalidToken,
    /// The token's lifetime has passed; refresh it.
    #[error("the access token has expired")]
    ExpiredToken,
    /// The session behind the token was logged out or revoked.
    #[error("the session has ended; sign in again")]
    SessionEnded,
    /// Unknown username or wrong password.
    #[error("wrong username or password")]
    BadCredentials,
    /// The refresh token is unknown or expired.
    #[error("the refresh token is invalid or expired")]
    InvalidRefresh,
    /// A refresh token was presented a second time: it has leaked, so its session is revoked.
    #[error("the refresh token was already used; the session has been revoked")]
    RefreshReused,
    /// A stream token (the `token` query parameter) is malformed, forged, or not a stream token.
    #[error("the stream token is invalid")]
    InvalidStreamToken,
    /// A stream token's lifetime has passed; ask for a new one.
    #[error("the stream token has expired")]
    ExpiredStreamToken,
}

/// Service-layer error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of the request is invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The caller is not authenticated, or its credentials were refused.
    #[error("{0}")]
    Unauthenticated(AuthFailure),
    /// The caller is authenticated but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The thing does not exist, or the caller may not know that it does.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with existing state (e.g. a taken username).
    #[error("{message}")]
    Conflict {
        /// Machine-readable code, e.g. `username_taken`.
        code: &'static str,
        /// What conflicts.
        message: String,
    },
    /// The same audio was already uploaded by the same artist, as track `existing`.
    #[error("this audio was already uploaded as track {existing}")]
    DuplicateTrack {
        /// The track that has it.
        existing: crate::domain::TrackId,
    },
    /// Too many attempts; retry after the given time.
    #[error("too many attempts; retry in {} s", retry_after.as_secs())]
    Throttled {
        /// How long the client should wait.
        retry_after: Duration,
    },
    /// An upload is larger than allowed.
    #[error("the upload exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The content type of an upload is not one musewave accepts.
    #[error("{0}")]
    UnsupportedMedia(String),
    /// The request was understood but its content cannot be used (e.g. an undecodable image).
    #[error("{0}")]
    Unprocessable(String),
    /// None of the requested byte ranges overlaps the file; `length` is its size, which the
    /// answer reports (`Content-Range: bytes */length`).
    #[error("none of the requested ranges lies within the {length} bytes of the file")]
    RangeNotSatisfiable {
        /// The file's length in bytes.
        length: u64,
    },
    /// Every transcoding slot is taken (`transcode.max_concurrent`); retry after the given
    /// time. Answered 503 with `Retry-After`.
    #[error("the transcoder is busy; retry in {} s", retry_after.as_secs())]
    TranscoderBusy {
        /// How long the client should wait.
        retry_after: Duration,
    },
    /// The track's file could not be decoded for transcoding (damaged or an unsupported
    /// codec). The decoder's words are logged, not sent.
    #[error("the audio file of this track cannot be decoded")]
    Undecodable,
    /// The catalog knows the track but its file is no longer on disk (moved or deleted since
    /// the last scan). The path is logged, not sent.
    #[error("the audio file of this track is missing from the media folder; a rescan will update the library")]
    MediaMissing,
    /// The store failed; details are logged, not sent.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A filesystem operation failed; details are logged, not sent.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A bug or an impossible state; details are logged, not sent.
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// Service-layer result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
