//! Wire types of `/api/v1`, apart from the domain types and built from them with `From`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::accounts::TokenPair;
use crate::domain::{Invite, Role, UnixTime, User};

/// RFC 3339 form of a Unix time.
pub fn rfc3339(t: UnixTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A role.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RoleDto {
    /// Browses, streams, builds playlists.
    Listener,
    /// Also uploads and manages their own music.
    Artist,
    /// Administers the server.
    Admin,
}

impl From<Role> for RoleDto {
    fn from(r: Role) -> Self {
        match r {
            Role::Listener => RoleDto::Listener,
            Role::Artist => RoleDto::Artist,
            Role::Admin => RoleDto::Admin,
        }
    }
}

impl From<RoleDto> for Role {
    fn from(r: RoleDto) -> Self {
        match r {
            RoleDto::Listener => Role::Listener,
            RoleDto::Artist => Role::Artist,
            RoleDto::Admin => Role::Admin,
        }
    }
}

fn avatar_url(u: &User) -> Option<String> {
    u.avatar_version
        .map(|v| format!("/api/v1/users/{}/avatar?v={v}", u.id))
}

/// The signed-in user's own account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    /// Account id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// Profile text.
    pub bio: String,
    /// Role.
    pub role: RoleDto,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Avatar image URL, when one is set.
    pub avatar_url: Option<String>,
}

impl From<&User> for Me {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username.to_string(),
            display_name: u.display_name.clone(),
            bio: u.bio.clone(),
            role: u.role.into(),
            created_at: rfc3339(u.created_at),
            avatar_url: avatar_url(u),
        }
    }
}

/// Another user's public profile.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicUser {
    /// Account id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// Profile text.
    pub bio: String,
    /// Avatar image URL, when one is set.
    pub avatar_url: Option<String>,
}

impl From<&User> for PublicUser {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username.to_string(),
            display_name: u.display_name.clone(),
            bio: u.bio.clone(),
            avatar_url: avatar_url(u),
        }
    }
}

/// An account as admins see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminUser {
    /// Account id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// Role.
    pub role: RoleDto,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// Creation time, RFC 3339.
    pub created_at: String,
}

impl From<&User> for AdminUser {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username.to_string(),
            display_name: u.display_name.clone(),
            role: u.role.into(),
            disabled: u.disabled,
            created_at: rfc3339(u.created_at),
        }
    }
}

/// A page of users.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    /// This page.
    pub items: Vec<AdminUser>,
    /// All users.
    pub total: u64,
    /// Offset of this page.
    pub offset: u64,
    /// Page size asked for.
    pub limit: u64,
}

/// Paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Items to skip (default 0).
    pub offset: Option<u64>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
}

/// Tokens returned by login and refresh.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Tokens {
    /// Bearer token for `Authorization: Bearer ...`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single-use token for `POST /api/v1/auth/refresh`; each use returns a new one.
    pub refresh_token: String,
}

impl From<TokenPair> for Tokens {
    fn from(p: TokenPair) -> Self {
        Self {
            access_token: p.access_token,
            token_type: "Bearer".into(),
            expires_in: p.expires_in,
            refresh_token: p.refresh_token,
        }
    }
}

/// Login request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Username, any case.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Registration request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3 to 32 of `a-z A-Z 0-9 _ . -`, starting with a letter or digit.
    pub username: String,
    /// At least 8 characters.
    pub password: String,
    /// Shown name; defaults to the username.
    pub display_name: Option<String>,
    /// Required when registration is by invitation.
    pub invite_code: Option<String>,
}

/// Refresh request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

/// Profile change; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// New shown name, 1 to 64 characters.
    pub display_name: Option<String>,
    /// New profile text, at most 2,000 characters.
    pub bio: Option<String>,
}

/// Password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password in use now.
    pub current_password: String,
    /// The new password, at least 8 characters.
    pub new_password: String,
}

/// Account creation by an admin.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Login name.
    pub username: String,
    /// Initial password.
    pub password: String,
    /// Shown name; defaults to the username.
    pub display_name: Option<String>,
    /// Role; defaults to listener.
    pub role: Option<RoleDto>,
}

/// Account change by an admin; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// New role.
    pub role: Option<RoleDto>,
    /// Disable (true) or enable (false). Disabling signs the user out everywhere.
    pub disabled: Option<bool>,
}

/// Invitation request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvite {
    /// Role of the account the code creates; defaults to listener.
    pub role: Option<RoleDto>,
    /// Hours the code stays valid, 1 to 8760; defaults to 168 (a week).
    pub valid_hours: Option<u32>,
}

/// An invitation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InviteDto {
    /// The code to hand to the invitee.
    pub code: String,
    /// Role of the account it creates.
    pub role: RoleDto,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Expiry time, RFC 3339.
    pub expires_at: String,
    /// The account created with it, once used.
    pub used_by: Option<String>,
}

impl From<&Invite> for InviteDto {
    fn from(i: &Invite) -> Self {
        Self {
            code: i.code.clone(),
            role: i.role.into(),
            created_at: rfc3339(i.created_at),
            expires_at: rfc3339(i.expires_at),
            used_by: i.used_by.map(|u| u.to_string()),
        }
    }
}

/// Public facts about this server, for sign-in pages and clients.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServerInfo {
    /// Always `musewave`.
    pub name: String,
    /// Server version.
    pub version: String,
    /// `closed`, `invite` or `open`.
    pub registration: String,
    /// Whether anonymous users may browse and stream.
    pub public_access: bool,
}

/// Liveness answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the server answers.
    pub status: String,
}
