//! The HTTP surface: `/api/v1` (JSON), `/api/schema` (OpenAPI), `/healthz`, `/metrics` and the
//! web UI.
//!
//! # Layout
//! - `router`: routes registered from their OpenAPI operations (one source for both).
//! - `server`: the connection loop, request logs, graceful drain.
//! - `extract`: bodies, the caller, the client address.
//! - `error`: the single error-to-response mapping.
//! - `accounts`, `admin`, `catalog`: handlers; `dto`: wire types; `docs`, `webui`: static
//!   surfaces.
//! - `playlists`, `social`, `stats`: playlists, follows, likes, ratings, plays, statistics
//!   and charts.
//! - `stream`: audio streams and downloads, stream tokens (its wire types live beside it).
//! - `metrics`: the Prometheus endpoint.
//! - `app_passwords`: a user's app passwords for players; `subsonic`: the `/rest` API players
//!   speak (its own envelope, formats and error codes).

mod accounts;
mod admin;
mod app_passwords;
pub mod artists;
mod catalog;
pub mod docs;
pub mod dto;
pub mod error;
mod extract;
pub mod json;
pub mod metrics;
pub mod playlists;
pub mod router;
pub mod server;
mod social;
mod stats;
pub mod stream;
pub mod subsonic;
pub mod uploads;
mod webui;

use http::StatusCode;
use serde::Serialize;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use self::error::handle_rejection;
use self::extract::{actor, client_ip, json, maybe_actor, query, raw_body};
use self::router::{PathParams, RouteDoc, Router, Routes, Site};
use crate::App;

/// A JSON response with `status`.
pub fn reply_json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    reply_json_sized(status, body, 256)
}

/// A JSON response with `status`, for a body of about `capacity` bytes or less.
pub fn reply_json_sized<T: Serialize>(status: StatusCode, body: &T, capacity: usize) -> Response {
    reply_json_written(status, json::to_vec_sized(body, capacity))
}

/// A JSON answer written beforehand, by hand or by [`json`]; a failure to write it is a 500.
pub fn reply_json_written(status: StatusCode, body: Result<Vec<u8>, json::Error>) -> Response {
    match body {
        Ok(bytes) => {
            let mut res = Response::new(bytes.into());
            *res.status_mut() = status;
            res.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "writing a JSON answer failed");
            error::ApiError::from(crate::error::Error::Internal(e.to_string())).into_response()
        }
    }
}

fn with_app(app: &App) -> impl Filter<Extract = (App,), Error = std::convert::Infallible> + Clone {
    let app = app.clone();
    warp::any().map(move || app.clone())
}

/// Drops the (empty) path parameters of a route without any.
fn plain(m: BoxedFilter<(PathParams,)>) -> BoxedFilter<()> {
    m.map(|_| ()).untuple_one().boxed()
}

/// Every documented route.
pub fn api(app: &App) -> (Routes, Vec<RouteDoc>) {
    let json_limit = app.config.server.max_json_body_bytes;
    let image_limit = app.config.server.max_image_body_bytes;
    let a = app;
    Router::default()
        .route::<admin::__path_healthz>(|m| plain(m).and_then(admin::healthz).boxed())
        .route::<admin::__path_server_info>(|m| {
            plain(m)
                .and(with_app(a))
                .and_then(admin::server_info)
                .boxed()
        })
        .route::<accounts::__path_register>(|m| {
            plain(m)
                .and(with_app(a))
                .and(json(json_limit))
                .and_then(accounts::register)
                .boxed()
        })
        .route::<accounts::__path_login>(|m| {
            plain(m)
                .and(with_app(a))
                .and(client_ip())
                .and(warp::header::optional::<String>("user-agent"))
                .and(json(json_limit))
                .and_then(accounts::login)
                .boxed()
        })
        .route::<accounts::__path_refresh>(|m| {
            plain(m)
                .and(with_app(a))
                .and(json(json_limit))
                .and_then(accounts::refresh)
                .boxed()
        })
        .route::<accounts::__path_logout>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and_then(accounts::logout)
                .boxed()
        })
        .route::<accounts::__path_get_me>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and_then(accounts::get_me)
                .boxed()
        })
        .route::<accounts::__path_update_me>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(accounts::update_me)
                .boxed()
        })
        .route::<accounts::__path_get_settings>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and_then(accounts::get_settings)
                .boxed()
        })
        .route::<accounts::__path_put_settings>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(accounts::put_settings)
                .boxed()
        })
        .route::<accounts::__path_change_password>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(accounts::change_password)
                .boxed()
        })
        .route::<accounts::__path_put_avatar>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(raw_body(image_limit))
                .and_then(accounts::put_avatar)
                .boxed()
        })
        .route::<accounts::__path_delete_avatar>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and_then(accounts::delete_avatar)
                .boxed()
        })
        .route::<accounts::__path_get_user>(|m| {
            m.and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and_then(accounts::get_user)
                .boxed()
        })
        .route::<accounts::__path_get_avatar>(|m| {
            m.and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and(warp::header::optional::<String>("if-none-match"))
                .and_then(accounts::get_avatar)
                .boxed()
        })
        .route::<app_passwords::__path_create_app_password>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(app_passwords::create_app_password)
                .boxed()
        })
        .route::<app_passwords::__path_list_app_passwords>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and_then(app_passwords::list_app_passwords)
                .boxed()
        })
        .route::<app_passwords::__path_delete_app_password>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(app_passwords::delete_app_password)
                .boxed()
        })
        .route::<admin::__path_list_users>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(query::<dto::Paging>())
                .and_then(admin::list_users)
                .boxed()
        })
        .route::<admin::__path_create_user>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(admin::create_user)
                .boxed()
        })
        .route::<admin::__path_update_user>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(admin::update_user)
                .boxed()
        })
        .route::<admin::__path_delete_user>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(admin::delete_user)
                .boxed()
        })
        .route::<admin::__path_create_invite>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(admin::create_invite)
                .boxed()
        })
        .route::<admin::__path_list_invites>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and_then(admin::list_invites)
                .boxed()
        })
        .route::<admin::__path_backup>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and_then(admin::backup)
                .boxed()
        })
        .route::<catalog::__path_list_artists>(|m| {
            plain(m)
                .and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and(query::<dto::CatalogQuery>())
                .and_then(catalog::list_artists)
                .boxed()
        })
        .route::<catalog::__path_get_artist>(|m| {
            m.and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and_then(catalog::get_artist)
                .boxed()
        })
        .route::<catalog::__path_list_albums>(|m| {
            plain(m)
                .and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and(query::<dto::CatalogQuery>())
                .and_then(catalog::list_albums)
                .boxed()
        })
        .route::<catalog::__path_get_album>(|m| {
            m.and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and_then(catalog::get_album)
                .boxed()
        })
        .route::<catalog::__path_list_tracks>(|m| {
            plain(m)
                .and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and(query::<dto::CatalogQuery>())
                .and_then(catalog::list_tracks)
                .boxed()
        })
        .route::<catalog::__path_get_track>(|m| {
            m.and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and_then(catalog::get_track)
                .boxed()
        })
        .route::<catalog::__path_list_genres>(|m| {
            plain(m)
                .and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and_then(catalog::list_genres)
                .boxed()
        })
        .route::<catalog::__path_search>(|m| {
            plain(m)
                .and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and(query::<dto::SearchQuery>())
                .and_then(catalog::search)
                .boxed()
        })
        .route::<catalog::__path_suggest>(|m| {
            plain(m)
                .and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and(query::<dto::SuggestQuery>())
                .and_then(catalog::suggest)
                .boxed()
        })
        .route::<catalog::__path_get_art>(|m| {
            // The picture also opens with a stream token (`?token=`), for `<img src>`.
            m.and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and(query::<stream::TokenQuery>())
                .and_then(stream::art_caller)
                .untuple_one()
                .and(query::<dto::ArtQuery>())
                .and(warp::header::optional::<String>("if-none-match"))
                .and_then(catalog::get_art)
                .boxed()
        })
        .route::<stream::__path_stream_track>(|m| {
            m.and(warp::method())
                .and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and(query::<stream::StreamQuery>())
                .and(warp::header::headers_cloned())
                .and_then(stream::stream_track)
                .boxed()
        })
        .route::<stream::__path_download_track>(|m| {
            m.and(warp::method())
                .and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and(query::<stream::TokenQuery>())
                .and(warp::header::headers_cloned())
                .and_then(stream::download_track)
                .boxed()
        })
        .route::<stream::__path_create_stream_token>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(stream::create_stream_token)
                .boxed()
        })
        .route::<stream::__path_create_art_token>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(stream::create_art_token)
                .boxed()
        })
        .route::<stream::__path_get_track_stats>(|m| {
            m.and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and_then(stream::get_track_stats)
                .boxed()
        })
        .route::<catalog::__path_scan_status>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and_then(catalog::scan_status)
                .boxed()
        })
        .route::<catalog::__path_start_scan>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(catalog::start_scan)
                .boxed()
        })
        // Artists: uploads, resumable uploads, profiles and the studio.
        .route::<uploads::__path_upload>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(warp::header::optional::<u64>("content-length"))
                .and(warp::header::optional::<String>("content-type"))
                .and(uploads::body_stream())
                .and_then(uploads::upload)
                .boxed()
        })
        .route::<uploads::__path_tus_options>(|m| {
            plain(m)
                .and(with_app(a))
                .and_then(uploads::tus_options)
                .boxed()
        })
        .route::<uploads::__path_tus_create>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(warp::header::headers_cloned())
                .and_then(uploads::tus_create)
                .boxed()
        })
        .route::<uploads::__path_tus_head>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(uploads::tus_head)
                .boxed()
        })
        .route::<uploads::__path_tus_patch>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and(warp::header::headers_cloned())
                .and(uploads::body_stream())
                .and_then(uploads::tus_patch)
                .boxed()
        })
        .route::<uploads::__path_tus_delete>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(uploads::tus_delete)
                .boxed()
        })
        .route::<artists::__path_create_profile>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(artists::create_profile)
                .boxed()
        })
        .route::<artists::__path_get_profile>(|m| {
            m.and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and_then(artists::get_profile)
                .boxed()
        })
        .route::<artists::__path_update_profile>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(artists::update_profile)
                .boxed()
        })
        .route::<artists::__path_my_profiles>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and_then(artists::my_profiles)
                .boxed()
        })
        .route::<artists::__path_link_profile>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(artists::link_profile)
                .boxed()
        })
        .route::<artists::__path_list_albums>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(query::<artists::StudioQuery>())
                .and_then(artists::list_albums)
                .boxed()
        })
        .route::<artists::__path_create_album>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(artists::create_album)
                .boxed()
        })
        .route::<artists::__path_get_album>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(artists::get_album)
                .boxed()
        })
        .route::<artists::__path_update_album>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(artists::update_album)
                .boxed()
        })
        .route::<artists::__path_delete_album>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and(query::<artists::DeleteAlbumQuery>())
                .and_then(artists::delete_album)
                .boxed()
        })
        .route::<artists::__path_set_album_tracks>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(artists::set_album_tracks)
                .boxed()
        })
        .route::<artists::__path_put_cover>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and(raw_body(image_limit))
                .and_then(artists::put_cover)
                .boxed()
        })
        .route::<artists::__path_get_cover>(|m| {
            m.and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and_then(artists::get_cover)
                .boxed()
        })
        .route::<artists::__path_list_tracks>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and_then(artists::list_tracks)
                .boxed()
        })
        .route::<artists::__path_get_track>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(artists::get_track)
                .boxed()
        })
        .route::<artists::__path_update_track>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(artists::update_track)
                .boxed()
        })
        .route::<artists::__path_delete_track>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(artists::delete_track)
                .boxed()
        })
        .route::<artists::__path_publish_track>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(artists::publish_track)
                .boxed()
        })
        .route::<artists::__path_unpublish_track>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(artists::unpublish_track)
                .boxed()
        })
        // Listeners: playlists, follows, likes, ratings and plays.
        .route::<playlists::__path_create_playlist>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(playlists::create_playlist)
                .boxed()
        })
        .route::<playlists::__path_list_playlists>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(query::<playlists::PlaylistsQuery>())
                .and_then(playlists::list_playlists)
                .boxed()
        })
        .route::<playlists::__path_get_playlist>(|m| {
            m.and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and(query::<playlists::EntriesQuery>())
                .and_then(playlists::get_playlist)
                .boxed()
        })
        .route::<playlists::__path_update_playlist>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(playlists::update_playlist)
                .boxed()
        })
        .route::<playlists::__path_delete_playlist>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(playlists::delete_playlist)
                .boxed()
        })
        .route::<playlists::__path_add_entries>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(playlists::add_entries)
                .boxed()
        })
        .route::<playlists::__path_remove_entry>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(playlists::remove_entry)
                .boxed()
        })
        .route::<playlists::__path_move_entry>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(playlists::move_entry)
                .boxed()
        })
        .route::<playlists::__path_put_collaborator>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(playlists::put_collaborator)
                .boxed()
        })
        .route::<playlists::__path_delete_collaborator>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(playlists::delete_collaborator)
                .boxed()
        })
        .route::<playlists::__path_follow_playlist>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(playlists::follow_playlist)
                .boxed()
        })
        .route::<playlists::__path_unfollow_playlist>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(playlists::unfollow_playlist)
                .boxed()
        })
        .route::<social::__path_like_track>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(social::like_track)
                .boxed()
        })
        .route::<social::__path_unlike_track>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(social::unlike_track)
                .boxed()
        })
        .route::<social::__path_my_liked_tracks>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(query::<social::PageQuery>())
                .and_then(social::my_liked_tracks)
                .boxed()
        })
        .route::<social::__path_save_album>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(social::save_album)
                .boxed()
        })
        .route::<social::__path_unsave_album>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(social::unsave_album)
                .boxed()
        })
        .route::<social::__path_my_saved_albums>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(query::<social::PageQuery>())
                .and_then(social::my_saved_albums)
                .boxed()
        })
        .route::<social::__path_rate_track>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(social::rate_track)
                .boxed()
        })
        .route::<social::__path_unrate_track>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(social::unrate_track)
                .boxed()
        })
        .route::<social::__path_rate_album>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(social::rate_album)
                .boxed()
        })
        .route::<social::__path_unrate_album>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(social::unrate_album)
                .boxed()
        })
        .route::<social::__path_track_ratings>(|m| {
            m.and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and(query::<social::PageQuery>())
                .and_then(social::track_ratings)
                .boxed()
        })
        .route::<social::__path_follow_artist>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(social::follow_artist)
                .boxed()
        })
        .route::<social::__path_unfollow_artist>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(social::unfollow_artist)
                .boxed()
        })
        .route::<social::__path_follow_user>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(social::follow_user)
                .boxed()
        })
        .route::<social::__path_unfollow_user>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and_then(social::unfollow_user)
                .boxed()
        })
        .route::<social::__path_user_followers>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and(query::<social::PageQuery>())
                .and_then(social::user_followers)
                .boxed()
        })
        .route::<social::__path_user_following>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and(query::<social::PageQuery>())
                .and_then(social::user_following)
                .boxed()
        })
        .route::<social::__path_my_feed>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(query::<social::PageQuery>())
                .and_then(social::my_feed)
                .boxed()
        })
        .route::<social::__path_record_play>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(social::record_play)
                .boxed()
        })
        .route::<social::__path_record_plays>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(social::record_plays)
                .boxed()
        })
        .route::<social::__path_my_history>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(query::<social::PageQuery>())
                .and_then(social::my_history)
                .boxed()
        })
        .route::<social::__path_clear_history>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and_then(social::clear_history)
                .boxed()
        })
        .route::<social::__path_put_now_playing>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(json(json_limit))
                .and_then(social::put_now_playing)
                .boxed()
        })
        .route::<social::__path_now_playing>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and_then(social::now_playing)
                .boxed()
        })
        .route::<stats::__path_track_stats>(|m| {
            m.and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and(query::<stats::StatsQuery>())
                .and_then(stats::track_stats)
                .boxed()
        })
        .route::<stats::__path_artist_stats>(|m| {
            m.and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and(query::<stats::StatsQuery>())
                .and_then(stats::artist_stats)
                .boxed()
        })
        .route::<stats::__path_my_stats>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and_then(stats::my_stats)
                .boxed()
        })
        .route::<stats::__path_chart>(|m| {
            m.and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and(query::<stats::ChartQuery>())
                .and_then(stats::chart)
                .boxed()
        })
        .route::<playlists::__path_export_m3u8>(|m| {
            m.and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and_then(playlists::export_m3u8)
                .boxed()
        })
        .route::<playlists::__path_import_m3u8>(|m| {
            plain(m)
                .and(with_app(a))
                .and(actor(a.clone()))
                .and(query::<playlists::ImportQuery>())
                .and(raw_body(json_limit))
                .and_then(playlists::import_m3u8)
                .boxed()
        })
        .route::<playlists::__path_get_cover>(|m| {
            m.and(with_app(a))
                .and(maybe_actor(a.clone()))
                .and_then(playlists::get_cover)
                .boxed()
        })
        .route::<playlists::__path_put_cover>(|m| {
            m.and(with_app(a))
                .and(actor(a.clone()))
                .and(raw_body(image_limit))
                .and_then(playlists::put_cover)
                .boxed()
        })
        .finish()
}

/// The whole site: API, documents, web UI, with every rejection rendered as JSON. A path in
/// one of the API's route groups is answered by that group alone: no other filter matches it
/// (the documents, `/rest`, `/metrics` and the web UI have paths of their own).
pub fn routes(app: &App) -> Site {
    let (api, route_docs) = api(app);
    let docs = docs::Docs::new(&docs::document(&route_docs));
    let schema = {
        let docs = docs.clone();
        warp::path!("api" / "schema")
            .and(warp::get())
            .map(move || docs.schema())
    };
    let swagger = warp::path("api")
        .and(warp::path("schema"))
        .and(warp::path("swagger-ui"))
        .and(warp::path::full())
        .and(warp::path::tail())
        .and(warp::get())
        .map(move |full: warp::path::FullPath, tail: warp::path::Tail| {
            // Relative asset links in the explorer's page need the trailing slash.
            if !full.as_str().ends_with('/') && tail.as_str().is_empty() {
                return warp::redirect::see_other(http::Uri::from_static(
                    "/api/schema/swagger-ui/",
                ))
                .into_response();
            }
            docs.swagger(tail.as_str())
        });
    let ui = webui::filter(&app.config.server.base_url);
    let site = schema
        .or(swagger)
        .unify()
        .or(subsonic::filter(app))
        .unify()
        .boxed();
    let site = match api.ungrouped {
        Some(ungrouped) => ungrouped.or(site).unify().boxed(),
        None => site,
    };
    let site = if app.config.metrics.enabled && app.config.metrics.listen.is_none() {
        site.or(metrics::filter(app)).unify().boxed()
    } else {
        site
    };
    let rest = site
        .or(ui)
        .unify()
        .recover(handle_rejection)
        .unify()
        .boxed();
    let groups = api
        .groups
        .into_iter()
        .map(|(key, group)| (key, group.recover(handle_rejection).unify().boxed()))
        .collect();
    Site::new(groups, rest)
}

/// The separate metrics listener's routes: `/metrics` only.
pub fn metrics_routes(app: &App) -> Site {
    Site::single(
        metrics::filter(app)
            .recover(handle_rejection)
            .unify()
            .boxed(),
    )
}

/// `path` (absolute, from the root of the site) as clients must ask for it: under
/// `server.base_url`.
pub fn public_path(app: &App, path: &str) -> String {
    format!("{}{path}", app.config.server.base_url)
}
