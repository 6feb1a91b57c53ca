//! Access tokens (short-lived JWTs, HS256 with the server secret) and refresh tokens (random,
//! stored only as a hash).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::{SessionId, UnixTime, UserId};
use crate::error::{AuthFailure, Error, Result};

/// The purpose a token was issued for; a token for one purpose never opens another.
const ACCESS: &str = "access";

/// Claims inside an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user.
    pub sub: UserId,
    /// The session; looked up on every request so logout takes effect at once.
    pub sid: SessionId,
    /// Issued at.
    pub iat: UnixTime,
    /// Expires at.
    pub exp: UnixTime,
    /// Purpose, always `access`.
    pub typ: String,
}

/// Signs and verifies tokens with the server secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys([redacted])")
    }
}

impl TokenKeys {
    /// Keys over the server secret.
    pub fn new(secret: &[u8]) -> Self {
        // Only HS256 is accepted: a token claiming `alg: none` or an asymmetric algorithm is
        // refused before its signature is considered.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Issues an access token for a session.
    pub fn issue_access(
        &self,
        user: UserId,
        session: SessionId,
        now: UnixTime,
        ttl_secs: i64,
    ) -> Result<String> {
        let claims = AccessClaims {
            sub: user,
            sid: session,
            iat: now,
            exp: now + ttl_secs,
            typ: ACCESS.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::Internal(format!("signing a token: {e}")))
    }

    /// Verifies an access token's signature, algorithm, expiry and purpose.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                Error::Unauthenticated(match e.kind() {
                    ErrorKind::ExpiredSignature => AuthFailure::ExpiredToken,
                    _ => AuthFailure::InvalidToken,
                })
            })?;
        if data.claims.typ != ACCESS {
            return Err(Error::Unauthenticated(AuthFailure::InvalidToken));
        }
        Ok(data.claims)
    }
}

/// A new random refresh token (256 bits, URL-safe).
pub fn new_refresh_token() -> String {
    random_token(32)
}

/// `bytes` random bytes, URL-safe base64 without padding.
pub fn random_token(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

/// The form in which a refresh token is stored: a leaked store does not leak usable tokens.
pub fn hash_refresh_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&[7u8; 64])
    }

    #[test]
    fn issued_token_verifies() {
        let (u, s) = (UserId::new(), SessionId::new());
        let now = crate::domain::now();
        let t = keys().issue_access(u, s, now, 60).unwrap();
        let c = keys().verify_access(&t).unwrap();
        assert_eq!((c.sub, c.sid), (u, s));
    }

    #[test]
    fn expired_forged_and_other_key_tokens_are_refused() {
        let now = crate::domain::now();
        let expired = keys()
            .issue_access(UserId::new(), SessionId::new(), now - 3600, 60)
            .unwrap();
        assert!(matches!(
            keys().verify_access(&expired),
            Err(Error::Unauthenticated(AuthFailure::ExpiredToken))
        ));
        let other = TokenKeys::new(&[8u8; 64])
            .issue_access(UserId::new(), SessionId::new(), now, 60)
            .unwrap();
        assert!(matches!(
            keys().verify_access(&other),
            Err(Error::Unauthenticated(AuthFailure::InvalidToken))
        ));
        assert!(keys().verify_access("not.a.token").is_err());
    }

    #[test]
    fn alg_none_is_refused() {
        let now = crate::domain::now();
        let claims = serde_json::json!({
            "sub": UserId::new(), "sid": SessionId::new(),
            "iat": now, "exp": now + 60, "typ": "access"
        });
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        let token = format!("{header}.{body}.");
        assert!(matches!(
            keys().verify_access(&token),
            Err(Error::Unauthenticated(AuthFailure::InvalidToken))
        ));
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = new_refresh_token();
        assert_ne!(a, new_refresh_token());
        assert_eq!(hash_refresh_token(&a).len(), 64);
        assert_ne!(hash_refresh_token(&a), a);
    }
}
