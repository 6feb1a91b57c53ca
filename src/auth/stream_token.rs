//! Stream tokens: short-lived JWTs (HS256 with the server secret) that go in a URL's query
//! string where a client cannot send an `Authorization` header (`<audio src>`, `<img src>`).
//!
//! A stream token carries its own `typ` (`stream`) and audience, so it is never accepted as an
//! access token and an access token is never accepted as a stream token. It names one
//! resource: a track (opens the track's stream and download) or a picture (opens that
//! artwork). It also names the session it was issued from, so signing out ends it too.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::{SessionId, TrackId, UnixTime, UserId};
use crate::error::{AuthFailure, Error, Result};

/// The `typ` claim of a stream token.
const STREAM: &str = "stream";
/// The `aud` claim: access tokens carry none, so the two kinds cannot be confused even by a
/// verifier that forgot to look at `typ`.
const AUDIENCE: &str = "musewave-stream";

/// What a stream token opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A track's audio: `/tracks/{id}/stream` and `/tracks/{id}/download`.
    Track(TrackId),
    /// A picture: `/art/{id}` (an album or track id).
    Art(uuid::Uuid),
}

impl Scope {
    /// The `res` claim: `track:<uuid>` or `art:<uuid>`.
    fn claim(&self) -> String {
        match self {
            Scope::Track(id) => format!("track:{id}"),
            Scope::Art(id) => format!("art:{id}"),
        }
    }
}

/// Claims inside a stream token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamClaims {
    /// The user.
    pub sub: UserId,
    /// The session it was issued from.
    pub sid: SessionId,
    /// The resource, see [`Scope`].
    pub res: String,
    /// Issued at.
    pub iat: UnixTime,
    /// Expires at.
    pub exp: UnixTime,
    /// Purpose, always `stream`.
    pub typ: String,
    /// Audience, always `musewave-stream`.
    pub aud: String,
}

/// Signs and verifies stream tokens with the server secret.
#[derive(Clone)]
pub struct StreamKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for StreamKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamKeys([redacted])")
    }
}

impl StreamKeys {
    /// Keys over the server secret.
    pub fn new(secret: &[u8]) -> Self {
        // As for access tokens, only HS256 is accepted, whatever the token's header claims.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Issues a token for `scope`, valid `ttl_secs` from `now`.
    pub fn issue(
        &self,
        user: UserId,
        session: SessionId,
        scope: Scope,
        now: UnixTime,
        ttl_secs: i64,
    ) -> Result<String> {
        let claims = StreamClaims {
            sub: user,
            sid: session,
            res: scope.claim(),
            iat: now,
            exp: now.saturating_add(ttl_secs),
            typ: STREAM.to_owned(),
            aud: AUDIENCE.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::Internal(format!("signing a stream token: {e}")))
    }

    /// Verifies signature, algorithm, expiry, purpose and audience, then that the token opens
    /// `scope`: a valid token for another resource is 403, as the caller is known but not
    /// allowed this resource with it.
    pub fn verify(&self, token: &str, scope: Scope) -> Result<StreamClaims> {
        let data = jsonwebtoken::decode::<StreamClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                Error::Unauthenticated(match e.kind() {
                    ErrorKind::ExpiredSignature => AuthFailure::ExpiredStreamToken,
                    _ => AuthFailure::InvalidStreamToken,
                })
            })?;
        if data.claims.typ != STREAM {
            return Err(Error::Unauthenticated(AuthFailure::InvalidStreamToken));
        }
        if data.claims.res != scope.claim() {
            return Err(Error::Forbidden(
                "this stream token was issued for another resource".into(),
            ));
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::tokens::TokenKeys;

    const SECRET: [u8; 64] = [7u8; 64];

    fn keys() -> StreamKeys {
        StreamKeys::new(&SECRET)
    }

    fn track() -> Scope {
        Scope::Track(TrackId::new())
    }

    #[test]
    fn issued_token_opens_its_resource_only() {
        let (u, s, scope) = (UserId::new(), SessionId::new(), track());
        let now = crate::domain::now();
        let t = keys().issue(u, s, scope, now, 60).unwrap();
        let c = keys().verify(&t, scope).unwrap();
        assert_eq!((c.sub, c.sid), (u, s));
        assert!(matches!(
            keys().verify(&t, track()),
            Err(Error::Forbidden(_))
        ));
        let Scope::Track(id) = scope else {
            unreachable!()
        };
        // The same id as a picture is another resource.
        assert!(matches!(
            keys().verify(&t, Scope::Art(*id.as_uuid())),
            Err(Error::Forbidden(_))
        ));
    }

    #[test]
    fn expired_and_foreign_tokens_are_refused() {
        let now = crate::domain::now();
        let scope = track();
        let expired = keys()
            .issue(UserId::new(), SessionId::new(), scope, now - 3600, 60)
            .unwrap();
        assert!(matches!(
            keys().verify(&expired, scope),
            Err(Error::Unauthenticated(AuthFailure::ExpiredStreamToken))
        ));
        let other = StreamKeys::new(&[8u8; 64])
            .issue(UserId::new(), SessionId::new(), scope, now, 60)
            .unwrap();
        assert!(matches!(
            keys().verify(&other, scope),
            Err(Error::Unauthenticated(AuthFailure::InvalidStreamToken))
        ));
        assert!(keys().verify("a.b.c", scope).is_err());
    }

    #[test]
    fn access_and_stream_tokens_do_not_open_each_other() {
        let now = crate::domain::now();
        let scope = track();
        let access = TokenKeys::new(&SECRET)
            .issue_access(UserId::new(), SessionId::new(), now, 60)
            .unwrap();
        assert!(matches!(
            keys().verify(&access, scope),
            Err(Error::Unauthenticated(AuthFailure::InvalidStreamToken))
        ));
        let stream = keys()
            .issue(UserId::new(), SessionId::new(), scope, now, 60)
            .unwrap();
        assert!(matches!(
            TokenKeys::new(&SECRET).verify_access(&stream),
            Err(Error::Unauthenticated(AuthFailure::InvalidToken))
        ));
    }
}
