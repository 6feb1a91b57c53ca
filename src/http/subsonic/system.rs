//! System and user methods: license, extensions, folders, the caller's account, scans.

use std::sync::Arc;

use serde_json::json;

use super::{Ctx, Out, Params, Res};
use crate::auth::Action;
use crate::domain::Role;
use crate::library::scan::ScanState;
use crate::subsonic::{code, SubsonicError};

/// The one music folder: the whole catalog (media folders and uploads are one library).
pub const MUSIC_FOLDER_ID: u32 = 1;

/// `getLicense`: always valid; musewave has no licence server.
pub fn get_license() -> Res {
    Ok(Out::Body(
        "license",
        json!({"valid": true, "email": "", "licenseExpires": "2099-12-31T00:00:00Z"}),
    ))
}

/// `getOpenSubsonicExtensions` (no auth): only what works.
pub fn get_open_subsonic_extensions() -> Res {
    let ext = |name: &str| json!({"name": name, "versions": [1]});
    Ok(Out::Body(
        "openSubsonicExtensions",
        json!([
            ext("formPost"),
            ext("apiKeyAuthentication"),
            ext("transcodeOffset"),
            ext("songLyrics"),
        ]),
    ))
}

/// `getMusicFolders`: one folder, id 1.
pub fn get_music_folders(_ctx: &Ctx) -> Res {
    Ok(Out::Body(
        "musicFolders",
        json!({"musicFolder": [{"id": MUSIC_FOLDER_ID, "name": "Music"}]}),
    ))
}

fn user_json(ctx: &Ctx, user: &crate::domain::User) -> serde_json::Value {
    let admin = user.role == Role::Admin;
    let upload = matches!(user.role, Role::Artist | Role::Admin);
    json!({
        "username": user.username.as_str(),
        "email": "",
        "scrobblingEnabled": true,
        "adminRole": admin,
        "settingsRole": true,
        "downloadRole": true,
        "uploadRole": upload,
        "playlistRole": true,
        "coverArtRole": admin,
        "commentRole": true,
        "podcastRole": false,
        "streamRole": true,
        "jukeboxRole": false,
        "shareRole": false,
        "videoConversionRole": false,
        "maxBitRate": ctx
            .app
            .accounts
            .user_settings(user.id)
            .ok()
            .and_then(|s| s.max_bitrate_kbps)
            .unwrap_or(0),
        "folder": [MUSIC_FOLDER_ID],
    })
}

/// `getUser`: the caller, or (for admins) anyone.
pub fn get_user(ctx: &Ctx, p: &Params) -> Res {
    let name = p.required("username")?;
    let user = if name.eq_ignore_ascii_case(ctx.user.username.as_str()) {
        ctx.user.clone()
    } else {
        ctx.app
            .policy
            .check(Some(&ctx.actor), Action::Administer)
            .map_err(|_| {
                SubsonicError::new(code::NOT_AUTHORIZED, "only admins may see other users")
            })?;
        ctx.app.accounts.user_by_name(name)?
    };
    Ok(Out::Body("user", user_json(ctx, &user)))
}

/// `tokenInfo` (apiKey extension): whose key this is.
pub fn token_info(ctx: &Ctx) -> Res {
    Ok(Out::Body(
        "tokenInfo",
        json!({"username": ctx.user.username.as_str()}),
    ))
}

/// `getScanStatus`.
pub fn get_scan_status(ctx: &Ctx) -> Res {
    let st = ctx.app.library.status();
    let count = ctx.app.catalog.read().counts().0;
    Ok(Out::Body(
        "scanStatus",
        json!({"scanning": st.state == ScanState::Running, "count": count}),
    ))
}

/// `startScan` (admins).
pub fn start_scan(ctx: &Ctx) -> Res {
    ctx.app
        .policy
        .check(Some(&ctx.actor), Action::Administer)
        .map_err(|_| SubsonicError::new(code::NOT_AUTHORIZED, "only admins may scan"))?;
    // Already running is fine: the status below says so.
    Arc::clone(&ctx.app.library).start(false);
    get_scan_status(ctx)
}
