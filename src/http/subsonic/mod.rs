//! `/rest/<method>` and `/rest/<method>.view`: the Subsonic / OpenSubsonic API that mobile and
//! desktop players speak.
//!
//! # Layout
//! - this module: the filter, parameters (query string and form body alike), authentication
//!   and the method table.
//! - `render`: the envelope in XML (default), JSON and JSONP; failures are envelopes too, with
//!   HTTP 200, never an HTML page.
//! - `dto`: wire types built from catalog and social views.
//! - `browse`, `lists`, `media`, `annotate`, `playlists`, `system`: the methods.
//!
//! Reads run on the async worker, as REST reads do: they answer from the in-memory catalog
//! and the store's cache. Methods that write run on a blocking thread; the audio and picture
//! bodies of `stream`, `download` and `getCoverArt` are produced asynchronously.

mod annotate;
mod browse;
mod dto;
mod lists;
mod media;
mod playlists;
mod render;
mod system;

use std::net::IpAddr;

use http::{HeaderMap, Method};
use serde_json::Value;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection};

use self::render::Format;
use super::extract::{client_ip, raw_body};
use super::router::RouteSlot;
use crate::auth::Actor;
use crate::domain::{SessionId, User};
use crate::subsonic::{code, SubsonicError};
use crate::App;

/// The result of a method.
pub(crate) type Res<T = Out> = Result<T, SubsonicError>;

/// What a method answers.
pub(crate) enum Out {
    /// `status="ok"` and nothing else.
    Empty,
    /// `status="ok"` with one element, named by the key.
    Body(&'static str, Value),
    /// The same with a payload already written for the asked format: JSON text, written
    /// from the typed answer without building a tree first (the large answers: albums, songs,
    /// search results), or a tree for XML.
    Typed(&'static str, Payload),
    /// Bytes (audio, a picture), not an envelope.
    Raw(Response),
}

/// A typed answer, written while the catalog data it borrows is still held.
pub(crate) enum Payload {
    /// The whole JSON answer, envelope included.
    Json(Vec<u8>),
    /// The value as a tree, for XML.
    Tree(Value),
}

impl Out {
    /// A typed answer named `key`, in the format the caller asked for.
    pub fn typed<T: dto::WriteJson>(ctx: &Ctx, key: &'static str, payload: &T) -> Res {
        let payload = if ctx.json {
            Payload::Json(render::json_document(key, payload).map_err(|e| {
                tracing::error!(error = %e, "writing a subsonic JSON answer failed");
                SubsonicError::new(code::GENERIC, "internal server error")
            })?)
        } else {
            Payload::Tree(serde_json::to_value(payload).unwrap_or(Value::Null))
        };
        Ok(Out::Typed(key, payload))
    }
}

/// The request's parameters, from the query string and a form-encoded body, in order.
/// Repeated names are lists (`id=1&id=2`).
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: &str, content_type: Option<&str>, body: &[u8]) -> Self {
        let mut all: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let is_form = content_type.is_some_and(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
        if is_form {
            all.extend(form_urlencoded::parse(body).into_owned());
        }
        Self(all)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of a required parameter; code 10 when missing.
    pub fn required(&self, name: &str) -> Res<&str> {
        self.get(name).ok_or_else(|| SubsonicError::missing(name))
    }

    /// A number, or `default` when absent; code 0 when unparsable.
    pub fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Res<T> {
        match self.get(name) {
            None | Some("") => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| SubsonicError::invalid(name, "not a number")),
        }
    }

    /// An optional number.
    pub fn opt_num<T: std::str::FromStr>(&self, name: &str) -> Res<Option<T>> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| SubsonicError::invalid(name, "not a number")),
        }
    }

    /// A boolean (`true`/`false`), or `default` when absent.
    pub fn flag(&self, name: &str, default: bool) -> bool {
        match self.get(name) {
            Some(v) => v.eq_ignore_ascii_case("true") || v == "1",
            None => default,
        }
    }
}

/// An authenticated request.
pub(crate) struct Ctx {
    pub app: App,
    pub actor: Actor,
    pub user: User,
    pub client: String,
    /// Whether the answer is JSON (or JSONP) rather than XML.
    pub json: bool,
    /// The caller's liked tracks and track ratings, read once per request when there are few
    /// (one range read instead of two lookups per song in a 500-song page); `None` inside
    /// when there are too many to hold, and each song is then looked up.
    pub song_marks: std::sync::OnceLock<Option<dto::Marks<crate::domain::TrackId>>>,
    /// The same for saved albums and album ratings.
    pub album_marks: std::sync::OnceLock<Option<dto::Marks<crate::domain::AlbumId>>>,
}

/// `GET` or `POST` `/rest/{method}` and `/rest/{method}.view`.
pub fn filter(app: &App) -> BoxedFilter<(Response,)> {
    let app = app.clone();
    let limit = app.config.server.max_json_body_bytes;
    warp::path("rest")
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(
            warp::filters::query::raw()
                .or(warp::any().map(String::new))
                .unify(),
        )
        .and(
            // A body that cannot be read still gets an envelope, never the /api error page.
            raw_body(limit)
                .map(|ctype, body| Some((ctype, body)))
                .or(warp::any().map(|| None))
                .unify(),
        )
        .and(client_ip())
        .and(warp::ext::optional::<RouteSlot>())
        .and_then(
            move |name: String,
                  method: Method,
                  headers: HeaderMap,
                  query: String,
                  body: Option<(Option<String>, bytes::Bytes)>,
                  ip: IpAddr,
                  slot: Option<RouteSlot>| {
                let app = app.clone();
                async move {
                    if let Some(slot) = slot {
                        slot.set("/rest/{method}");
                    }
                    let Some((ctype, body)) = body else {
                        let params = Params::parse(&query, None, b"");
                        let format = Format::of(&params).unwrap_or_else(|(f, _)| f);
                        let e = SubsonicError::new(code::GENERIC, "the request body is too large");
                        return Ok::<_, Rejection>(render::render(&format, Err(e)));
                    };
                    let params = Params::parse(&query, ctype.as_deref(), &body);
                    Ok(handle(app, name, method, headers, params, ip).await)
                }
            },
        )
        .boxed()
}

async fn handle(
    app: App,
    name: String,
    method: Method,
    headers: HeaderMap,
    params: Params,
    ip: IpAddr,
) -> Response {
    let name = name.strip_suffix(".view").unwrap_or(&name).to_owned();
    let format = match Format::of(&params) {
        Ok(f) => f,
        Err((f, e)) => return render::render(&f, Err(e)),
    };
    let legacy = params
        .get("c")
        .is_some_and(|c| app.config.subsonic.is_legacy_client(c));
    let format = format.legacy(legacy);
    let out = run(app, name, method, headers, params, ip).await;
    render::render(&format, out)
}

async fn run(
    app: App,
    name: String,
    method: Method,
    headers: HeaderMap,
    params: Params,
    ip: IpAddr,
) -> Res {
    // Public: players ask before they have credentials.
    if name == "getOpenSubsonicExtensions" {
        return system::get_open_subsonic_extensions();
    }
    match name.as_str() {
        "stream" | "download" | "getCoverArt" | "getAvatar" => {
            let (ctx, params) = blocking(app, params, ip, |ctx, p| Ok((ctx, p))).await?;
            match name.as_str() {
                "stream" => media::stream(&ctx, &params, &method, &headers).await,
                "download" => media::download(&ctx, &params, &method, &headers).await,
                "getCoverArt" => media::get_cover_art(&ctx, &params, &headers).await,
                _ => media::get_avatar(&ctx, &params).await,
            }
        }
        "savePlayQueue" | "createBookmark" | "deleteBookmark" | "startScan" => {
            let (ctx, params) = blocking(app, params, ip, |ctx, p| Ok((ctx, p))).await?;
            match name.as_str() {
                "savePlayQueue" => annotate::save_play_queue(&ctx, &params).await,
                "startScan" => system::start_scan(&ctx),
                "createBookmark" => annotate::create_bookmark(&ctx, &params).await,
                _ => annotate::delete_bookmark(&ctx, &params).await,
            }
        }
        _ if writes(&name) => {
            let name = name.clone();
            blocking(app, params, ip, move |ctx, p| dispatch(&ctx, &name, &p)).await
        }
        // Reads answer from the in-memory catalog and the store's cache, in microseconds, as
        // the REST reads do: handing each one to a blocking thread cost more than the work
        // (two thread switches a request; `ping` ran at a quarter of `/healthz`'s rate).
        _ => {
            let ctx = authenticate(&app, &params, ip)?;
            dispatch(&ctx, &name, &params)
        }
    }
}

/// Methods that write to the store, and so may wait on its log: they run on a blocking
/// thread.
fn writes(name: &str) -> bool {
    matches!(
        name,
        "star"
            | "unstar"
            | "setRating"
            | "scrobble"
            | "createPlaylist"
            | "updatePlaylist"
            | "deletePlaylist"
    )
}

/// Authenticates and runs `f` on a blocking thread.
async fn blocking<T: Send + 'static>(
    app: App,
    params: Params,
    ip: IpAddr,
    f: impl FnOnce(Ctx, Params) -> Res<T> + Send + 'static,
) -> Res<T> {
    tokio::task::spawn_blocking(move || {
        let ctx = authenticate(&app, &params, ip)?;
        f(ctx, params)
    })
    .await
    .unwrap_or_else(|e| {
        tracing::error!(error = %e, "subsonic handler failed");
        Err(SubsonicError::new(code::GENERIC, "internal server error"))
    })
}

fn dispatch(ctx: &Ctx, name: &str, p: &Params) -> Res {
    match name {
        "ping" => Ok(Out::Empty),
        "getLicense" => system::get_license(),
        "getMusicFolders" => system::get_music_folders(ctx),
        "getUser" => system::get_user(ctx, p),
        "tokenInfo" => system::token_info(ctx),
        "getScanStatus" => system::get_scan_status(ctx),
        "getIndexes" => browse::get_indexes(ctx),
        "getArtists" => browse::get_artists(ctx),
        "getArtist" => browse::get_artist(ctx, p),
        "getAlbum" => browse::get_album(ctx, p),
        "getSong" => browse::get_song(ctx, p),
        "getMusicDirectory" => browse::get_music_directory(ctx, p),
        "getGenres" => browse::get_genres(ctx),
        "getArtistInfo" | "getArtistInfo2" => browse::get_artist_info(ctx, p, name),
        "getAlbumInfo" | "getAlbumInfo2" => browse::get_album_info(ctx, p),
        "getTopSongs" => browse::get_top_songs(ctx, p),
        "getSimilarSongs" | "getSimilarSongs2" => browse::get_similar_songs(ctx, p, name),
        "getAlbumList" | "getAlbumList2" => lists::get_album_list(ctx, p, name),
        "getRandomSongs" => lists::get_random_songs(ctx, p),
        "getSongsByGenre" => lists::get_songs_by_genre(ctx, p),
        "getStarred" | "getStarred2" => lists::get_starred(ctx, name),
        "getNowPlaying" => lists::get_now_playing(ctx),
        "search" => lists::search(ctx, p),
        "search2" | "search3" => lists::search23(ctx, p, name),
        "getLyrics" => media::get_lyrics(ctx, p),
        "getLyricsBySongId" => media::get_lyrics_by_song_id(ctx, p),
        "star" => annotate::star(ctx, p, true),
        "unstar" => annotate::star(ctx, p, false),
        "setRating" => annotate::set_rating(ctx, p),
        "scrobble" => annotate::scrobble(ctx, p),
        "getPlayQueue" => annotate::get_play_queue(ctx),
        "getBookmarks" => annotate::get_bookmarks(ctx),
        "getPlaylists" => playlists::get_playlists(ctx, p),
        "getPlaylist" => playlists::get_playlist(ctx, p),
        "createPlaylist" => playlists::create_playlist(ctx, p),
        "updatePlaylist" => playlists::update_playlist(ctx, p),
        "deletePlaylist" => playlists::delete_playlist(ctx, p),
        _ => Err(SubsonicError::new(
            code::NOT_FOUND,
            format!("unknown method {name}"),
        )),
    }
}

/// Decodes `p=enc:<hex>` (either case) or returns `p` as it is.
fn plain_password(p: &str) -> Res<String> {
    let Some(hex) = p.strip_prefix("enc:") else {
        return Ok(p.to_owned());
    };
    let bad = || SubsonicError::new(code::WRONG_CREDENTIALS, "wrong username or password");
    if hex.len() % 2 != 0 {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
        .collect::<Res<Vec<u8>>>()?;
    String::from_utf8(bytes).map_err(|_| bad())
}

/// Who is asking: `apiKey` alone, or `u` with `t`+`s` or `p`. Credentials are app passwords,
/// never the account's main password. Failures are throttled per username (`apiKey` counts as
/// one name) and per client address, like the web sign-in.
fn authenticate(app: &App, p: &Params, ip: IpAddr) -> Res<Ctx> {
    for required in ["v", "c"] {
        if p.get(required).is_none() {
            return Err(SubsonicError::missing(required));
        }
    }
    let key = p.get("apiKey");
    if key.is_some() && ["u", "p", "t", "s"].iter().any(|n| p.get(n).is_some()) {
        return Err(SubsonicError::new(
            code::CONFLICTING_AUTH,
            "apiKey cannot be combined with u, p, t or s",
        ));
    }
    let login = match key {
        Some(_) => "\0apikey".to_owned(),
        None => p.required("u")?.to_ascii_lowercase(),
    };
    let throttle = &app.credentials.throttle;
    if let Some(wait) = throttle.check(&login, ip) {
        return Err(SubsonicError::new(
            code::GENERIC,
            format!(
                "too many failed attempts; retry in {} s",
                wait.as_secs().max(1)
            ),
        ));
    }
    match credentials(app, p, key) {
        Ok(user) => {
            throttle.succeeded(&login);
            Ok(Ctx {
                actor: Actor {
                    user_id: user.id,
                    // Subsonic requests carry no session; app passwords are revoked on their own.
                    session_id: SessionId::from_uuid(uuid::Uuid::nil()),
                    role: user.role,
                },
                user,
                client: p.get("c").unwrap_or_default().to_owned(),
                json: !matches!(Format::of(p), Ok(Format::Xml { .. })),
                app: app.clone(),
                song_marks: std::sync::OnceLock::new(),
                album_marks: std::sync::OnceLock::new(),
            })
        }
        Err(e) => {
            if matches!(e.code, code::WRONG_CREDENTIALS | code::INVALID_API_KEY) {
                throttle.failed(&login, ip);
            }
            Err(e)
        }
    }
}

/// The account whose app password the request carries.
fn credentials(app: &App, p: &Params, key: Option<&str>) -> Res<User> {
    let wrong = || SubsonicError::new(code::WRONG_CREDENTIALS, "wrong username or password");
    let user = if let Some(key) = key {
        let invalid = || SubsonicError::new(code::INVALID_API_KEY, "invalid API key");
        let id = app.credentials.by_api_key(key)?.ok_or_else(invalid)?;
        app.accounts.user(id).map_err(|_| invalid())?
    } else {
        let username = p.required("u")?;
        let user = match app.accounts.user_by_name(username) {
            Ok(u) => u,
            Err(crate::error::Error::NotFound(_)) => return Err(wrong()),
            Err(e) => return Err(e.into()),
        };
        let ok = match (p.get("t"), p.get("s"), p.get("p")) {
            (Some(t), Some(s), _) => app.credentials.check_token(user.id, s, t)?,
            (Some(_), None, _) => return Err(SubsonicError::missing("s")),
            (None, _, Some(pw)) => app
                .credentials
                .check_password(user.id, &plain_password(pw)?)?,
            (None, _, None) => return Err(SubsonicError::missing("p or t")),
        };
        if !ok {
            return Err(wrong());
        }
        user
    };
    if user.disabled {
        return Err(wrong());
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enc_passwords_decode_in_either_case() {
        assert_eq!(plain_password("enc:736573616d65").unwrap(), "sesame");
        assert_eq!(plain_password("enc:736573616D65").unwrap(), "sesame");
        assert_eq!(plain_password("sesame").unwrap(), "sesame");
        assert!(plain_password("enc:7").is_err());
        assert!(plain_password("enc:zz").is_err());
    }

    #[test]
    fn form_bodies_and_queries_are_one_parameter_list() {
        let p = Params::parse(
            "u=a&id=1",
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            b"id=2&v=1.16.1",
        );
        assert_eq!(p.all("id"), vec!["1", "2"]);
        assert_eq!(p.get("v"), Some("1.16.1"));
        let p = Params::parse("", Some("text/plain"), b"id=2");
        assert_eq!(p.get("id"), None);
    }
}
