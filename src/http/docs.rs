//! `/api/schema`: the OpenAPI 3 document, built from the same route list as the router, and
//! an interactive explorer whose assets are compiled into the binary.

use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDoc, PathItem};
use utoipa::OpenApi;
use warp::reply::Response;

use super::dto;
use super::error::{ErrorBody, ErrorDetail};
use super::router::RouteDoc;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "musewave API",
        description = "The REST API of musewave, a self-hosted music streaming server. \
            Authenticate with `POST /api/v1/auth/login` and send the access token as \
            `Authorization: Bearer <token>`. Errors are `{\"error\": {\"code\", \"message\"}}`."
    ),
    components(schemas(
        ErrorBody,
        ErrorDetail,
        dto::RoleDto,
        dto::Me,
        dto::PublicUser,
        dto::AdminUser,
        dto::UserList,
        dto::Tokens,
        dto::LoginRequest,
        dto::RegisterRequest,
        dto::RefreshRequest,
        dto::ProfileUpdate,
        dto::SettingsDto,
        dto::PasswordChange,
        dto::CreateUser,
        dto::UpdateUser,
        dto::CreateInvite,
        dto::InviteDto,
        dto::ServerInfo,
        dto::Health,
        dto::ArtistItem,
        dto::AlbumItem,
        dto::TrackItem,
        dto::TrackDetail,
        dto::ArtistPage,
        dto::AlbumPage,
        dto::TrackPage,
        dto::ArtistDetail,
        dto::AlbumDetail,
        dto::GenreItem,
        dto::SearchResults,
        dto::Suggestion,
        dto::StartScan,
        dto::ScanFailureDto,
        dto::ScanStatusDto,
        super::stream::TrackToken,
        super::stream::ArtToken,
        super::stream::TrackStats,
        super::artists::ProfileDto,
        super::artists::ProfileInput,
        super::artists::ProfileOwner,
        super::artists::StudioTrack,
        super::artists::StudioAlbum,
        super::artists::UploadResult,
        super::artists::AlbumFields,
        super::artists::TrackFields,
        super::artists::AlbumTracks,
        dto::RatingSummary,
        super::playlists::PlaylistDto,
        super::playlists::EntryDto,
        super::playlists::PlaylistDetail,
        super::playlists::CreatePlaylist,
        super::playlists::UpdatePlaylist,
        super::playlists::AddEntries,
        super::playlists::MoveEntry,
        super::playlists::AddedEntries,
        super::playlists::PlaylistList,
        super::playlists::ImportResult,
        super::social::LikeState,
        super::social::SaveState,
        super::social::FollowState,
        super::social::LikedTrack,
        super::social::LikedTracks,
        super::social::SavedAlbum,
        super::social::SavedAlbums,
        super::social::RatingBody,
        super::social::RatingState,
        super::social::RatingItem,
        super::social::RatingPage,
        super::social::UserPage,
        super::social::Following,
        super::social::Feed,
        super::social::PlayBody,
        super::social::PlayResult,
        super::social::PlayBatch,
        super::social::RejectedPlay,
        super::social::BatchResult,
        super::social::HistoryItem,
        super::social::History,
        super::social::NowPlayingBody,
        super::social::NowPlayingItem,
        super::stats::DayPoint,
        super::stats::TrackStats,
        super::stats::TrackPlays,
        super::stats::ArtistStats,
        super::stats::MyStats,
        super::stats::ChartEntry,
        super::stats::Chart,
        super::app_passwords::CreateAppPassword,
        super::app_passwords::AppPasswordDto,
        super::app_passwords::CreatedAppPassword,
        super::app_passwords::AppPasswordList,
    ))
)]
struct Base;

/// Builds the document from the routes actually served.
pub fn document(routes: &[RouteDoc]) -> OpenApiDoc {
    let mut doc = Base::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    for route in routes {
        let item = PathItem::new(route.methods[0].clone(), route.operation.clone());
        let mut item = item;
        for m in &route.methods[1..] {
            item.merge_operations(PathItem::new(m.clone(), route.operation.clone()));
        }
        match doc.paths.paths.get_mut(&route.path) {
            Some(existing) => existing.merge_operations(item),
            None => {
                doc.paths.paths.insert(route.path.clone(), item);
            }
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    doc
}

/// The document rendered once at start-up.
#[derive(Clone)]
pub struct Docs {
    json: Bytes,
    swagger: Arc<utoipa_swagger_ui::Config<'static>>,
}

impl Docs {
    /// Renders `doc`.
    pub fn new(doc: &OpenApiDoc) -> Self {
        let json = serde_json::to_vec(doc).expect("the OpenAPI document serialises");
        Self {
            json: Bytes::from(json),
            swagger: Arc::new(utoipa_swagger_ui::Config::from("/api/schema")),
        }
    }

    /// `GET /api/schema`.
    pub fn schema(&self) -> Response {
        let mut res = Response::new(self.json.clone().into());
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res
    }

    /// `GET /api/schema/swagger-ui/{tail}`.
    pub fn swagger(&self, tail: &str) -> Response {
        let tail = if tail.is_empty() { "index.html" } else { tail };
        match utoipa_swagger_ui::serve(tail, self.swagger.clone()) {
            Ok(Some(file)) => {
                let mut res = Response::new(Bytes::from(file.bytes.into_owned()).into());
                if let Ok(v) = HeaderValue::from_str(&file.content_type) {
                    res.headers_mut().insert(header::CONTENT_TYPE, v);
                }
                res
            }
            Ok(None) => super::error::ApiError::RouteNotFound.to_response(),
            Err(e) => {
                tracing::error!(error = %e, "swagger-ui asset");
                let mut r = Response::new(Bytes::new().into());
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                r
            }
        }
    }
}
