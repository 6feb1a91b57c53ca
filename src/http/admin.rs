//! Handlers for user administration and server-wide endpoints.

use std::time::Duration;

use http::StatusCode;
use warp::reply::Response;
use warp::{Rejection, Reply};

use super::dto::{
    AdminUser, CreateInvite, CreateUser, Health, InviteDto, Paging, ServerInfo, UpdateUser,
    UserList,
};
use super::error::{reject, ErrorBody};
use super::reply_json;
use super::router::PathParams;
use crate::accounts::{AccountChange, NewUser, Registration};
use crate::auth::{Action, Actor};
use crate::domain::{Role, UserId};
use crate::error::Error;
use crate::App;

fn require_admin(app: &App, actor: &Actor) -> Result<(), Rejection> {
    app.policy
        .check(Some(actor), Action::Administer)
        .map_err(reject)
}

/// Liveness: answers while the server runs.
#[utoipa::path(get, path = "/healthz", tag = "server",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn healthz() -> Result<Response, Rejection> {
    Ok(reply_json(
        StatusCode::OK,
        &Health {
            status: "ok".into(),
        },
    ))
}

/// Public facts about the server, for sign-in pages.
#[utoipa::path(get, path = "/api/v1/server", tag = "server",
    responses((status = 200, description = "Server facts", body = ServerInfo)))]
pub async fn server_info(app: App) -> Result<Response, Rejection> {
    Ok(reply_json(
        StatusCode::OK,
        &ServerInfo {
            name: "musewave".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            registration: match app.accounts.registration() {
                Registration::Closed => "closed",
                Registration::Invite => "invite",
                Registration::Open => "open",
            }
            .into(),
            public_access: app.policy.public_access,
        },
    ))
}

/// Lists accounts, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    security(("bearer" = [])),
    params(Paging),
    responses(
        (status = 200, description = "A page of users", body = UserList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
pub async fn list_users(app: App, actor: Actor, paging: Paging) -> Result<Response, Rejection> {
    require_admin(&app, &actor)?;
    let offset = paging.offset.unwrap_or(0);
    let limit = paging.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(reject(Error::invalid("limit", "must be between 1 and 500")));
    }
    let page = app.accounts.list_users(offset, limit).map_err(reject)?;
    Ok(reply_json(
        StatusCode::OK,
        &UserList {
            items: page.items.iter().map(AdminUser::from).collect(),
            total: page.total,
            offset,
            limit,
        },
    ))
}

/// Creates an account.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin",
    security(("bearer" = [])),
    request_body = CreateUser,
    responses(
        (status = 201, description = "Created", body = AdminUser),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "Username taken", body = ErrorBody),
    ))]
pub async fn create_user(app: App, actor: Actor, req: CreateUser) -> Result<Response, Rejection> {
    require_admin(&app, &actor)?;
    let user = app
        .accounts
        .create_user(NewUser {
            username: req.username,
            password: req.password,
            display_name: req.display_name,
            role: req.role.map_or(Role::Listener, Role::from),
        })
        .await
        .map_err(reject)?;
    Ok(reply_json(StatusCode::CREATED, &AdminUser::from(&user)))
}

/// Changes an account's role, or disables or enables it.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    request_body = UpdateUser,
    responses(
        (status = 200, description = "Updated", body = AdminUser),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "Would leave no enabled admin", body = ErrorBody),
    ))]
pub async fn update_user(
    params: PathParams,
    app: App,
    actor: Actor,
    req: UpdateUser,
) -> Result<Response, Rejection> {
    require_admin(&app, &actor)?;
    let id: UserId = params.id(0, "user")?;
    let user = app
        .accounts
        .change_account(
            id,
            AccountChange {
                role: req.role.map(Role::from),
                disabled: req.disabled,
            },
        )
        .await
        .map_err(reject)?;
    Ok(reply_json(StatusCode::OK, &AdminUser::from(&user)))
}

/// Deletes an account with its sessions and avatar.
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The last enabled admin", body = ErrorBody),
    ))]
pub async fn delete_user(
    params: PathParams,
    app: App,
    actor: Actor,
) -> Result<Response, Rejection> {
    require_admin(&app, &actor)?;
    let id: UserId = params.id(0, "user")?;
    app.accounts.delete_user(id).await.map_err(reject)?;
    // A deleted account's players must not keep working.
    app.credentials.revoke_all(id).await.map_err(reject)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Makes an invite code (for `invite` registration).
#[utoipa::path(post, path = "/api/v1/admin/invites", tag = "admin",
    security(("bearer" = [])),
    request_body = CreateInvite,
    responses(
        (status = 201, description = "Created", body = InviteDto),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
pub async fn create_invite(
    app: App,
    actor: Actor,
    req: CreateInvite,
) -> Result<Response, Rejection> {
    require_admin(&app, &actor)?;
    let hours = req.valid_hours.unwrap_or(168);
    if !(1..=8760).contains(&hours) {
        return Err(reject(Error::invalid(
            "valid_hours",
            "must be between 1 and 8760",
        )));
    }
    let invite = app
        .accounts
        .create_invite(
            &actor,
            req.role.map_or(Role::Listener, Role::from),
            Duration::from_secs(u64::from(hours) * 3600),
        )
        .await
        .map_err(reject)?;
    Ok(reply_json(StatusCode::CREATED, &InviteDto::from(&invite)))
}

/// Lists invitations.
#[utoipa::path(get, path = "/api/v1/admin/invites", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "All invitations", body = Vec<InviteDto>),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
pub async fn list_invites(app: App, actor: Actor) -> Result<Response, Rejection> {
    require_admin(&app, &actor)?;
    let invites = app.accounts.list_invites().map_err(reject)?;
    let dto: Vec<InviteDto> = invites.iter().map(InviteDto::from).collect();
    Ok(reply_json(StatusCode::OK, &dto))
}

/// Streams a consistent backup of the whole store (see `musewave restore`).
#[utoipa::path(get, path = "/api/v1/admin/backup", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The backup file", content_type = "application/x-ndjson", body = Vec<u8>),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
pub async fn backup(app: App, actor: Actor) -> Result<Response, Rejection> {
    require_admin(&app, &actor)?;
    let file = crate::backup::export_to_temp(&app.store, &app.data_dir)
        .await
        .map_err(reject)?;
    crate::backup::file_response(file).await.map_err(reject)
}
