//! Accounts, sessions and invitations.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{SessionId, UnixTime, UserId};

/// What an account may do; see the permissions table in DESIGN.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Browses, streams, builds playlists, follows, likes.
    Listener,
    /// A listener who also uploads and manages their own music.
    Artist,
    /// Manages users, roles, content and the server.
    Admin,
}

impl Role {
    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Listener => "listener",
            Role::Artist => "artist",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "listener" => Ok(Role::Listener),
            "artist" => Ok(Role::Artist),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role '{other}' (expected listener, artist or admin)"
            )),
        }
    }
}

/// Why a username was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// Fewer than 3 or more than 32 characters.
    #[error("must be 3 to 32 characters long")]
    Length,
    /// A character outside `a-z A-Z 0-9 _ . -`.
    #[error("may contain only letters a-z, digits, '_', '.' and '-'")]
    Charset,
    /// Starts with punctuation.
    #[error("must start with a letter or a digit")]
    Start,
}

/// A validated username. Usernames appear in URLs and in Subsonic clients, so they are kept
/// to a portable ASCII set; uniqueness is case-insensitive (see [`Username::folded`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    /// Validates `raw` as a username.
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        if !(3..=32).contains(&raw.len()) {
            return Err(UsernameError::Length);
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return Err(UsernameError::Charset);
        }
        if !raw.as_bytes()[0].is_ascii_alphanumeric() {
            return Err(UsernameError::Start);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The name as the user typed it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lookup form: `Alice` and `alice` are the same account.
    pub fn folded(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl TryFrom<String> for Username {
    type Error = UsernameError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Username> for String {
    fn from(value: Username) -> Self {
        value.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Stable id.
    pub id: UserId,
    /// Login name, unique case-insensitively.
    pub username: Username,
    /// Name shown to others.
    pub display_name: String,
    /// Short profile text.
    #[serde(default)]
    pub bio: String,
    /// What the account may do.
    pub role: Role,
    /// A disabled account cannot log in and its sessions are revoked.
    #[serde(default)]
    pub disabled: bool,
    /// argon2id hash in PHC string form.
    pub password_hash: String,
    /// When the account was created.
    pub created_at: UnixTime,
    /// Changes whenever the avatar image changes; `None` when there is no avatar.
    #[serde(default)]
    pub avatar_version: Option<u64>,
}

/// One signed-in device. Access tokens name their session, so revoking it stops them at once.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    /// Stable id, carried in access tokens as `sid`.
    pub id: SessionId,
    /// Whose session.
    pub user_id: UserId,
    /// When the user logged in.
    pub created_at: UnixTime,
    /// The session ends at this time unless refreshed.
    pub expires_at: UnixTime,
    /// The client's `User-Agent` at login, so users can tell their sessions apart.
    #[serde(default)]
    pub user_agent: String,
}

/// What the store knows of a refresh token, keyed by the token's hash (never the token).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefreshRecord {
    /// The session the token belongs to.
    pub session_id: SessionId,
    /// Set once the token has been exchanged. Presenting it again means it was copied: the
    /// whole session is revoked.
    pub rotated: bool,
    /// The token is refused after this time.
    pub expires_at: UnixTime,
}

/// An invitation to register while registration is `invite`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Invite {
    /// The code the invitee types; random, unguessable.
    pub code: String,
    /// The admin who made it.
    pub created_by: UserId,
    /// When it was made.
    pub created_at: UnixTime,
    /// It is refused after this time.
    pub expires_at: UnixTime,
    /// The role the new account receives.
    pub role: Role,
    /// Set when the code has been used; a code works once.
    pub used_by: Option<UserId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_validated() {
        assert!(Username::parse("alice").is_ok());
        assert!(Username::parse("A.l-i_c3").is_ok());
        assert_eq!(Username::parse("al"), Err(UsernameError::Length));
        assert_eq!(Username::parse(&"a".repeat(33)), Err(UsernameError::Length));
        assert_eq!(Username::parse("al ice"), Err(UsernameError::Charset));
        assert_eq!(Username::parse("../etc"), Err(UsernameError::Charset));
        assert_eq!(Username::parse("_alice"), Err(UsernameError::Start));
        assert_eq!(Username::parse("élise"), Err(UsernameError::Charset));
    }

    #[test]
    fn folding_makes_case_irrelevant() {
        assert_eq!(
            Username::parse("Alice").unwrap().folded(),
            Username::parse("aLICE").unwrap().folded()
        );
    }
}

/// A user's own preferences, kept apart from [`User`] so that adding one never changes how
/// stored accounts read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSettings {
    /// Highest bitrate the user wants streamed, in kbps: transcodes are capped at it, and an
    /// original above it is transcoded. `None`: no limit.
    pub max_bitrate_kbps: Option<u32>,
}
