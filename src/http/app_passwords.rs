//! Handlers for a user's app passwords: the credentials their players use on the Subsonic API
//! (`/rest`), as password, token or `apiKey`.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::reply::Response;
use warp::{Rejection, Reply};

use super::dto::rfc3339;
use super::error::{reject, ErrorBody};
use super::reply_json;
use super::router::PathParams;
use crate::auth::{Action, Actor};
use crate::domain::AppPasswordId;
use crate::subsonic::credentials::AppPasswordInfo;
use crate::App;

/// A new app password's name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAppPassword {
    /// What it is for, e.g. "Phone (Symfonium)"; 1 to 64 characters.
    pub name: String,
}

/// An app password, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppPasswordDto {
    /// Id, for revoking it.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
}

impl From<AppPasswordInfo> for AppPasswordDto {
    fn from(p: AppPasswordInfo) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name,
            created_at: rfc3339(p.created_at),
        }
    }
}

/// A newly made app password with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedAppPassword {
    /// The app password.
    #[serde(flatten)]
    pub info: AppPasswordDto,
    /// The secret: the password to type into the player (with the account's username), or
    /// its `apiKey`.
    pub password: String,
    /// The account's username, for the player's settings.
    pub username: String,
}

/// The caller's app passwords.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppPasswordList {
    /// Oldest first.
    pub items: Vec<AppPasswordDto>,
}

/// Makes an app password for a player. The secret is in this answer only; players use it with
/// the username (token or password auth) or alone as an OpenSubsonic `apiKey`.
#[utoipa::path(post, path = "/api/v1/me/app-passwords", tag = "me",
    security(("bearer" = [])),
    request_body = CreateAppPassword,
    responses(
        (status = 201, description = "Made; the secret is shown once", body = CreatedAppPassword),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 409, description = "Too many app passwords", body = ErrorBody),
    ))]
pub async fn create_app_password(
    app: App,
    actor: Actor,
    req: CreateAppPassword,
) -> Result<Response, Rejection> {
    app.policy
        .check(Some(&actor), Action::EditOwnAccount)
        .map_err(reject)?;
    let user = app.accounts.user(actor.user_id).map_err(reject)?;
    let (info, password) = app
        .credentials
        .create(actor.user_id, &req.name)
        .await
        .map_err(reject)?;
    Ok(reply_json(
        StatusCode::CREATED,
        &CreatedAppPassword {
            info: info.into(),
            password,
            username: user.username.to_string(),
        },
    ))
}

/// The caller's app passwords (never their secrets).
#[utoipa::path(get, path = "/api/v1/me/app-passwords", tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The list", body = AppPasswordList),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn list_app_passwords(app: App, actor: Actor) -> Result<Response, Rejection> {
    let items = app
        .credentials
        .list(actor.user_id)
        .map_err(reject)?
        .into_iter()
        .map(AppPasswordDto::from)
        .collect();
    Ok(reply_json(StatusCode::OK, &AppPasswordList { items }))
}

/// Revokes one of the caller's app passwords: players using it are refused from now on.
#[utoipa::path(delete, path = "/api/v1/me/app-passwords/{id}", tag = "me",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "App password id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such app password of the caller", body = ErrorBody),
    ))]
pub async fn delete_app_password(
    p: PathParams,
    app: App,
    actor: Actor,
) -> Result<Response, Rejection> {
    let id: AppPasswordId = p.id(0, "app password")?;
    app.credentials
        .revoke(actor.user_id, id)
        .await
        .map_err(reject)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
