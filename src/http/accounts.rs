//! Handlers for sign-up, sign-in, tokens and the caller's own account.

use std::net::IpAddr;

use bytes::Bytes;
use http::{header, StatusCode};
use warp::reply::Response;
use warp::{Rejection, Reply};

use super::dto::{
    LoginRequest, Me, PasswordChange, ProfileUpdate, PublicUser, RefreshRequest, RegisterRequest,
    SettingsDto, Tokens,
};
use super::error::{reject, ErrorBody};
use super::reply_json;
use super::router::PathParams;
use crate::accounts::ProfileChange;
use crate::auth::{Action, Actor};
use crate::domain::UserId;
use crate::App;

/// Creates an account, as the server's registration mode allows.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = Me),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 403, description = "Registration is closed", body = ErrorBody),
        (status = 409, description = "Username taken", body = ErrorBody),
    ))]
pub async fn register(app: App, req: RegisterRequest) -> Result<Response, Rejection> {
    let user = app
        .accounts
        .register(
            req.username,
            req.password,
            req.display_name,
            req.invite_code,
        )
        .await
        .map_err(reject)?;
    Ok(reply_json(
        StatusCode::CREATED,
        &Me::of(&user, &app.config.server.base_url),
    ))
}

/// Signs in: returns an access token and a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = Tokens),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 403, description = "Account disabled", body = ErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = ErrorBody),
    ))]
pub async fn login(
    app: App,
    client: IpAddr,
    user_agent: Option<String>,
    req: LoginRequest,
) -> Result<Response, Rejection> {
    let pair = app
        .accounts
        .login(
            &req.username,
            &req.password,
            client,
            user_agent.as_deref().unwrap_or(""),
        )
        .await
        .map_err(reject)?;
    Ok(reply_json(StatusCode::OK, &Tokens::from(pair)))
}

/// Exchanges a refresh token for new tokens. Each refresh token works once; presenting a
/// spent one revokes its session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = Tokens),
        (status = 401, description = "Invalid, expired or reused refresh token", body = ErrorBody),
    ))]
pub async fn refresh(app: App, req: RefreshRequest) -> Result<Response, Rejection> {
    let pair = app
        .accounts
        .refresh(&req.refresh_token)
        .await
        .map_err(reject)?;
    Ok(reply_json(StatusCode::OK, &Tokens::from(pair)))
}

/// Signs out: the session's access and refresh tokens stop working.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn logout(app: App, actor: Actor) -> Result<Response, Rejection> {
    app.accounts.logout(&actor).await.map_err(reject)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The signed-in user's account.
#[utoipa::path(get, path = "/api/v1/me", tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = Me),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn get_me(app: App, actor: Actor) -> Result<Response, Rejection> {
    let user = app.accounts.user(actor.user_id).map_err(reject)?;
    Ok(reply_json(
        StatusCode::OK,
        &Me::of(&user, &app.config.server.base_url),
    ))
}

/// Changes the display name or bio.
#[utoipa::path(patch, path = "/api/v1/me", tag = "me",
    security(("bearer" = [])),
    request_body = ProfileUpdate,
    responses(
        (status = 200, description = "Updated account", body = Me),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn update_me(app: App, actor: Actor, req: ProfileUpdate) -> Result<Response, Rejection> {
    let user = app
        .accounts
        .update_profile(
            &actor,
            ProfileChange {
                display_name: req.display_name,
                bio: req.bio,
            },
        )
        .await
        .map_err(reject)?;
    Ok(reply_json(
        StatusCode::OK,
        &Me::of(&user, &app.config.server.base_url),
    ))
}

/// The caller's preferences.
#[utoipa::path(get, path = "/api/v1/me/settings", tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings", body = SettingsDto),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn get_settings(app: App, actor: Actor) -> Result<Response, Rejection> {
    let settings = app.accounts.user_settings(actor.user_id).map_err(reject)?;
    let privacy = app.social.plays.privacy(actor.user_id).map_err(reject)?;
    let mut dto = SettingsDto::from(settings);
    dto.private_session = privacy.private_session;
    Ok(reply_json(StatusCode::OK, &dto))
}

/// Replaces the caller's preferences.
#[utoipa::path(put, path = "/api/v1/me/settings", tag = "me",
    security(("bearer" = [])),
    request_body = SettingsDto,
    responses(
        (status = 200, description = "The new settings", body = SettingsDto),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn put_settings(app: App, actor: Actor, req: SettingsDto) -> Result<Response, Rejection> {
    let private_session = req.private_session;
    let settings = app
        .accounts
        .set_user_settings(&actor, req.into())
        .await
        .map_err(reject)?;
    // Kept by the social service, which honours it when plays are reported.
    app.social
        .plays
        .set_privacy(
            actor.user_id,
            crate::social::model::Privacy { private_session },
        )
        .map_err(reject)?;
    if private_session {
        app.social.clear_now_playing(actor.user_id);
    }
    app.store
        .flush()
        .await
        .map_err(|e| reject(crate::error::Error::from(e)))?;
    let mut dto = SettingsDto::from(settings);
    dto.private_session = private_session;
    Ok(reply_json(StatusCode::OK, &dto))
}

/// Changes the password; every other session is signed out.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "me",
    security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Password changed"),
        (status = 400, description = "Wrong current password or weak new one", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn change_password(
    app: App,
    actor: Actor,
    req: PasswordChange,
) -> Result<Response, Rejection> {
    app.accounts
        .change_password(&actor, &req.current_password, req.new_password)
        .await
        .map_err(reject)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Sets the avatar from a PNG, JPEG, WebP or GIF image sent as the raw body; it is scaled to
/// 256 px.
#[utoipa::path(put, path = "/api/v1/me/avatar", tag = "me",
    security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "image/*", description = "The image"),
    responses(
        (status = 200, description = "Updated account", body = Me),
        (status = 413, description = "Image too large", body = ErrorBody),
        (status = 415, description = "Not a supported image type", body = ErrorBody),
        (status = 422, description = "Undecodable image", body = ErrorBody),
    ))]
pub async fn put_avatar(
    app: App,
    actor: Actor,
    _content_type: Option<String>,
    body: Bytes,
) -> Result<Response, Rejection> {
    let user = app
        .accounts
        .set_avatar(&actor, body)
        .await
        .map_err(reject)?;
    Ok(reply_json(
        StatusCode::OK,
        &Me::of(&user, &app.config.server.base_url),
    ))
}

/// Removes the avatar.
#[utoipa::path(delete, path = "/api/v1/me/avatar", tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated account", body = Me),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn delete_avatar(app: App, actor: Actor) -> Result<Response, Rejection> {
    let user = app.accounts.remove_avatar(&actor).await.map_err(reject)?;
    Ok(reply_json(
        StatusCode::OK,
        &Me::of(&user, &app.config.server.base_url),
    ))
}

/// A user's public profile, by account id or by username (any case), so that people can be
/// found by the name they know each other by (to follow them, or invite them to a playlist).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id, or username")),
    responses(
        (status = 200, description = "The profile", body = PublicUser),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn get_user(
    params: PathParams,
    app: App,
    actor: Option<Actor>,
) -> Result<Response, Rejection> {
    app.policy
        .check(actor.as_ref(), Action::Browse)
        .map_err(reject)?;
    let user = match params.text(0).parse::<UserId>() {
        Ok(id) => app.accounts.user(id),
        Err(_) => app.accounts.user_by_name(params.text(0)),
    }
    .map_err(reject)?;
    Ok(reply_json(
        StatusCode::OK,
        &PublicUser::of(&user, &app.config.server.base_url),
    ))
}

/// A user's avatar image (PNG).
#[utoipa::path(get, path = "/api/v1/users/{id}/avatar", tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The image", content_type = "image/png", body = Vec<u8>),
        (status = 304, description = "Unchanged since the ETag sent"),
        (status = 404, description = "No such user or no avatar", body = ErrorBody),
    ))]
pub async fn get_avatar(
    params: PathParams,
    app: App,
    actor: Option<Actor>,
    if_none_match: Option<String>,
) -> Result<Response, Rejection> {
    app.policy
        .check(actor.as_ref(), Action::Browse)
        .map_err(reject)?;
    let id: UserId = params.id(0, "user")?;
    let (bytes, version) = app.accounts.avatar(id).await.map_err(reject)?;
    let etag = format!("\"{version:x}\"");
    let mut res = if if_none_match.as_deref() == Some(etag.as_str()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(bytes.into());
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("image/png"),
        );
        r
    };
    let h = res.headers_mut();
    h.insert(
        header::ETAG,
        etag.parse().expect("hex etag is a valid header"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, max-age=86400"),
    );
    Ok(res)
}
