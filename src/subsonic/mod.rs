//! The Subsonic / OpenSubsonic API for mobile and desktop players: what is not HTTP glue.
//!
//! # Layout
//! - [`credentials`]: app passwords (sealed with a server key) and saved play queues.
//! - this module: the protocol's version, its error codes, and the one mapping from service
//!   errors to them.
//!
//! Everything a player sees (artists, albums, songs, playlists, stars, ratings, scrobbles) is
//! a view of the catalog and the social data; nothing here keeps a copy of it. Subsonic ids
//! are musewave's own ids in their 32-hex-digit form: a song id is a [`crate::domain::TrackId`],
//! an album id an [`crate::domain::AlbumId`], and so on. The kind of an id is found by looking
//! it up, which the random ids make unambiguous.

pub mod credentials;

use crate::error::{AuthFailure, Error};

/// The Subsonic API version musewave speaks.
pub const API_VERSION: &str = "1.16.1";

/// A Subsonic error: HTTP 200 with `status="failed"` and this code in the envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SubsonicError {
    /// The protocol's error code.
    pub code: u32,
    /// What went wrong, for people.
    pub message: String,
}

/// The protocol's error codes.
pub mod code {
    /// A generic error.
    pub const GENERIC: u32 = 0;
    /// A required parameter is missing.
    pub const MISSING_PARAMETER: u32 = 10;
    /// Wrong username or password (or token).
    pub const WRONG_CREDENTIALS: u32 = 40;
    /// Token authentication is not supported (LDAP users in other servers).
    pub const TOKEN_NOT_SUPPORTED: u32 = 41;
    /// `apiKey` together with `u`, `p`, `t` or `s`.
    pub const CONFLICTING_AUTH: u32 = 43;
    /// The `apiKey` is unknown.
    pub const INVALID_API_KEY: u32 = 44;
    /// The user may not do this.
    pub const NOT_AUTHORIZED: u32 = 50;
    /// The requested data was not found.
    pub const NOT_FOUND: u32 = 70;
}

impl SubsonicError {
    /// An error with `code`.
    pub fn new(code: u32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Code 10 for parameter `name`.
    pub fn missing(name: &str) -> Self {
        Self::new(
            code::MISSING_PARAMETER,
            format!("required parameter is missing: {name}"),
        )
    }

    /// Code 70.
    pub fn not_found(what: &str) -> Self {
        Self::new(code::NOT_FOUND, format!("{what} not found"))
    }

    /// Code 0 for an unusable parameter value.
    pub fn invalid(name: &str, why: &str) -> Self {
        Self::new(code::GENERIC, format!("invalid parameter {name}: {why}"))
    }
}

impl From<Error> for SubsonicError {
    /// The one mapping from service errors to Subsonic codes. Internal details are logged,
    /// never sent.
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid { field, message } => Self::invalid(field, &message),
            Error::Unauthenticated(AuthFailure::BadCredentials) => {
                Self::new(code::WRONG_CREDENTIALS, "wrong username or password")
            }
            Error::Unauthenticated(f) => Self::new(code::WRONG_CREDENTIALS, f.to_string()),
            Error::Forbidden(m) => Self::new(code::NOT_AUTHORIZED, m),
            Error::NotFound(what) => Self::not_found(what),
            Error::Conflict { message, .. } => Self::new(code::GENERIC, message),
            Error::DuplicateTrack { .. }
            | Error::TooLarge { .. }
            | Error::UnsupportedMedia(_)
            | Error::Unprocessable(_)
            | Error::RangeNotSatisfiable { .. }
            | Error::TranscoderBusy { .. }
            | Error::Undecodable
            | Error::MediaMissing
            | Error::Throttled { .. } => Self::new(code::GENERIC, e.to_string()),
            Error::Store(_) | Error::Io(_) | Error::Internal(_) => {
                tracing::error!(error = %e, "subsonic request failed");
                Self::new(code::GENERIC, "internal server error")
            }
        }
    }
}
