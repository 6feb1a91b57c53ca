//! Lists and search: `getAlbumList(2)`, `getRandomSongs`, `getSongsByGenre`, `getStarred(2)`,
//! `getNowPlaying`, `search`, `search2`, `search3`.

use std::collections::HashSet;

use rand::seq::index::sample;
use serde_json::{json, Value};

use super::dto::{value, AlbumList, Found, SongList};
use super::{Ctx, Out, Params, Res};
use crate::catalog::search::{fold, Kind};
use crate::catalog::{Album, AlbumSort, ArtistSort, ListQuery, Reader, TrackSort};
use crate::domain::{now, AlbumId, ArtistId, TrackId};
use crate::subsonic::SubsonicError;

/// Most items one list call returns.
const MAX_SIZE: usize = 500;

fn all() -> ListQuery {
    ListQuery {
        limit: usize::MAX,
        ..ListQuery::default()
    }
}

/// Albums in the order `type` asks for, as ids (a page of them).
fn album_ids(ctx: &Ctx, r: &Reader<'_>, p: &Params) -> Res<Vec<AlbumId>> {
    let kind = p.required("type")?;
    let size = p.num::<usize>("size", 10)?.min(MAX_SIZE);
    let offset: usize = p.num("offset", 0)?;
    let user = ctx.actor.user_id;
    let social = &ctx.app.social;
    let page = |q: ListQuery, sort| -> Vec<AlbumId> {
        r.list_albums(
            &ListQuery {
                offset,
                limit: size,
                ..q
            },
            sort,
        )
        .items
        .into_iter()
        .map(|a| a.id)
        .collect()
    };
    let in_order = |ids: Vec<AlbumId>| -> Vec<AlbumId> {
        let mut seen = HashSet::new();
        ids.into_iter()
            .filter(|id| seen.insert(*id) && r.album(*id).is_ok())
            .skip(offset)
            .take(size)
            .collect()
    };
    Ok(match kind {
        "newest" => page(
            ListQuery {
                descending: true,
                ..ListQuery::default()
            },
            AlbumSort::DateAdded,
        ),
        "alphabeticalByName" => page(ListQuery::default(), AlbumSort::Name),
        "alphabeticalByArtist" => {
            let mut albums: Vec<&Album> = r.list_albums(&all(), AlbumSort::Name).items;
            albums.sort_by_cached_key(|a| fold(&a.artist_name));
            albums
                .into_iter()
                .skip(offset)
                .take(size)
                .map(|a| a.id)
                .collect()
        }
        "random" => {
            let albums = r.list_albums(&all(), AlbumSort::Name).items;
            let n = size.min(albums.len());
            sample(&mut rand::thread_rng(), albums.len(), n)
                .into_iter()
                .map(|i| albums[i].id)
                .collect()
        }
        "byYear" => {
            let from: i32 = p
                .opt_num("fromYear")?
                .ok_or_else(|| SubsonicError::missing("fromYear"))?;
            let to: i32 = p
                .opt_num("toYear")?
                .ok_or_else(|| SubsonicError::missing("toYear"))?;
            page(
                ListQuery {
                    year_from: Some(from.min(to)),
                    year_to: Some(from.max(to)),
                    descending: from > to,
                    ..ListQuery::default()
                },
                AlbumSort::Year,
            )
        }
        "byGenre" => page(
            ListQuery {
                genre: Some(p.required("genre")?.to_owned()),
                ..ListQuery::default()
            },
            AlbumSort::Name,
        ),
        "starred" => social
            .saves
            .of_user(user, offset as u64, size as u64)?
            .items
            .into_iter()
            .map(|(id, _)| AlbumId::from_uuid(id))
            .collect(),
        "highest" => {
            let mut rated = social.album_ratings.all_of_user(user)?;
            rated.sort_by(|a, b| {
                b.1.stars
                    .cmp(&a.1.stars)
                    .then(b.1.rated_at.cmp(&a.1.rated_at))
            });
            in_order(rated.into_iter().map(|(id, _)| id).collect())
        }
        "frequent" => {
            let top = social.plays.user_top_tracks(user, 5000)?;
            in_order(
                top.into_iter()
                    .filter_map(|(t, _)| r.track(t).ok().map(|t| t.album_id))
                    .collect(),
            )
        }
        "recent" => {
            let (plays, _) = social.plays.history(user, 0, 2000)?;
            in_order(
                plays
                    .into_iter()
                    .filter_map(|pl| r.track(pl.track).ok().map(|t| t.album_id))
                    .collect(),
            )
        }
        other => {
            return Err(SubsonicError::invalid(
                "type",
                &format!("unknown list type {other:?}"),
            ))
        }
    })
}

/// `getAlbumList` and `getAlbumList2`.
pub fn get_album_list(ctx: &Ctx, p: &Params, name: &str) -> Res {
    let r = ctx.app.catalog.read();
    let ids = album_ids(ctx, &r, p)?;
    let albums = r.albums_by_id(&ids);
    if name == "getAlbumList2" {
        let album = albums
            .into_iter()
            .map(|a| ctx.album(&r, a, false))
            .collect::<Res<Vec<_>>>()?;
        Out::typed(ctx, "albumList2", &AlbumList { album })
    } else {
        let album = albums
            .into_iter()
            .map(|a| ctx.album_child(a))
            .collect::<Res<Vec<_>>>()?;
        Out::typed(ctx, "albumList", &AlbumList { album })
    }
}

/// `getRandomSongs`.
pub fn get_random_songs(ctx: &Ctx, p: &Params) -> Res {
    let size = p.num::<usize>("size", 10)?.min(MAX_SIZE);
    let r = ctx.app.catalog.read();
    let q = ListQuery {
        genre: p.get("genre").filter(|g| !g.is_empty()).map(str::to_owned),
        year_from: p.opt_num("fromYear")?,
        year_to: p.opt_num("toYear")?,
        ..all()
    };
    let tracks = r.list_tracks(&q, TrackSort::Name).items;
    let n = size.min(tracks.len());
    let picked = sample(&mut rand::thread_rng(), tracks.len(), n)
        .into_iter()
        .map(|i| tracks[i]);
    let song = ctx.songs(&r, picked)?;
    Out::typed(ctx, "randomSongs", &SongList { song })
}

/// `getSongsByGenre`.
pub fn get_songs_by_genre(ctx: &Ctx, p: &Params) -> Res {
    let genre = p.required("genre")?.to_owned();
    let count = p.num::<usize>("count", 10)?.min(MAX_SIZE);
    let offset: usize = p.num("offset", 0)?;
    let r = ctx.app.catalog.read();
    let tracks = r
        .list_tracks(
            &ListQuery {
                genre: Some(genre),
                offset,
                limit: count,
                ..ListQuery::default()
            },
            TrackSort::Name,
        )
        .items;
    let song = ctx.songs(&r, tracks)?;
    Out::typed(ctx, "songsByGenre", &SongList { song })
}

/// `getStarred` and `getStarred2`: followed artists, saved albums and liked songs.
pub fn get_starred(ctx: &Ctx, name: &str) -> Res {
    let social = &ctx.app.social;
    let user = ctx.actor.user_id;
    let ids = |rel: &crate::social::relations::Relation| -> Res<Vec<uuid::Uuid>> {
        Ok(rel
            .of_user(user, 0, u64::MAX)?
            .items
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    };
    let artist_ids: Vec<ArtistId> = ids(&social.artist_follows)?
        .into_iter()
        .map(ArtistId::from_uuid)
        .collect();
    let album_ids: Vec<AlbumId> = ids(&social.saves)?
        .into_iter()
        .map(AlbumId::from_uuid)
        .collect();
    let track_ids: Vec<TrackId> = ids(&social.likes)?
        .into_iter()
        .map(TrackId::from_uuid)
        .collect();
    let r = ctx.app.catalog.read();
    let v2 = name == "getStarred2";
    let artist = r
        .artists_by_id(&artist_ids)
        .into_iter()
        .map(|a| ctx.artist(&r, a, false).map(|d| value(&d)))
        .collect::<Res<Vec<_>>>()?;
    let album = r
        .albums_by_id(&album_ids)
        .into_iter()
        .map(|a| {
            if v2 {
                ctx.album(&r, a, false).map(|d| value(&d))
            } else {
                ctx.album_child(a).map(|d| value(&d))
            }
        })
        .collect::<Res<Vec<_>>>()?;
    let song = ctx.songs(&r, r.tracks_by_id(&track_ids))?;
    Ok(Out::Body(
        if v2 { "starred2" } else { "starred" },
        json!({"artist": artist, "album": album, "song": value(&song)}),
    ))
}

/// `getNowPlaying`: the caller and the users they follow.
pub fn get_now_playing(ctx: &Ctx) -> Res {
    let playing = ctx.app.social.now_playing_for(ctx.actor.user_id)?;
    let t = now();
    let r = ctx.app.catalog.read();
    let mut entry = Vec::new();
    for (user, np) in playing {
        let Ok(track) = r.track(np.track) else {
            continue;
        };
        let mut v = value(&ctx.song(&r, track)?);
        let username = ctx
            .app
            .accounts
            .user(user)
            .map(|u| u.username.to_string())
            .unwrap_or_default();
        if let Value::Object(m) = &mut v {
            m.insert("username".into(), json!(username));
            m.insert("minutesAgo".into(), json!((t - np.updated_at).max(0) / 60));
            m.insert("playerId".into(), json!(0));
        }
        entry.push(v);
    }
    Ok(Out::Body("nowPlaying", json!({ "entry": entry })))
}

/// A search query as players send it: `""` (Symfonium) and a lone `*` mean everything;
/// trailing wildcards are dropped (every word already matches as a prefix).
fn clean_query(q: Option<&str>) -> String {
    let q = q.unwrap_or("").trim();
    let q = q.trim_matches('"').trim().trim_end_matches('*').trim();
    q.to_owned()
}

struct Paging {
    count: usize,
    offset: usize,
}

fn paging(p: &Params, count: &str, offset: &str, default: usize) -> Res<Paging> {
    Ok(Paging {
        count: p.num::<usize>(count, default)?.min(MAX_SIZE),
        offset: p.num(offset, 0)?,
    })
}

fn hits<T>(ctx: &Ctx, q: &str, kind: Kind, pg: &Paging, id: impl Fn(uuid::Uuid) -> T) -> Vec<T> {
    if pg.count == 0 {
        return Vec::new();
    }
    ctx.app
        .catalog
        .search_index()
        .search(q, &[kind], pg.count, pg.offset)
        .hits
        .into_iter()
        .map(|h| id(uuid::Uuid::from_u128(h.id)))
        .collect()
}

/// `search2` and `search3`. An empty query pages through the whole library by name, which is
/// how some players sync.
pub fn search23(ctx: &Ctx, p: &Params, name: &str) -> Res {
    let q = clean_query(p.get("query"));
    let ar = paging(p, "artistCount", "artistOffset", 20)?;
    let al = paging(p, "albumCount", "albumOffset", 20)?;
    let so = paging(p, "songCount", "songOffset", 20)?;
    let v3 = name == "search3";
    let r = ctx.app.catalog.read();
    let (artists, albums, tracks) = if q.is_empty() {
        let q = |pg: &Paging| ListQuery {
            offset: pg.offset,
            limit: pg.count,
            ..ListQuery::default()
        };
        (
            r.list_artists(&q(&ar), ArtistSort::Name).items,
            r.list_albums(&q(&al), AlbumSort::Name).items,
            r.list_tracks(&q(&so), TrackSort::Name).items,
        )
    } else {
        let artist_ids = hits(ctx, &q, Kind::Artist, &ar, ArtistId::from_uuid);
        let album_ids = hits(ctx, &q, Kind::Album, &al, AlbumId::from_uuid);
        let track_ids = hits(ctx, &q, Kind::Track, &so, TrackId::from_uuid);
        (
            r.artists_by_id(&artist_ids),
            r.albums_by_id(&album_ids),
            r.tracks_by_id(&track_ids),
        )
    };
    if v3 {
        let artist = artists
            .into_iter()
            .map(|a| ctx.artist(&r, a, false))
            .collect::<Res<Vec<_>>>()?;
        let album = albums
            .into_iter()
            .map(|a| ctx.album(&r, a, false))
            .collect::<Res<Vec<_>>>()?;
        let song = ctx.songs(&r, tracks)?;
        return Out::typed(
            ctx,
            "searchResult3",
            &Found {
                artist,
                album,
                song,
            },
        );
    }
    let artist: Vec<Value> = artists
        .into_iter()
        .map(|a| json!({"id": a.id.to_string(), "name": a.name}))
        .collect();
    let album = albums
        .into_iter()
        .map(|a| ctx.album_child(a).map(|d| value(&d)))
        .collect::<Res<Vec<_>>>()?;
    let song = ctx.songs(&r, tracks)?;
    Ok(Out::Body(
        "searchResult2",
        json!({"artist": artist, "album": album, "song": value(&song)}),
    ))
}

/// The old `search`: songs matching `any`, `title`, `artist` or `album`.
pub fn search(ctx: &Ctx, p: &Params) -> Res {
    let q = ["any", "title", "artist", "album"]
        .iter()
        .filter_map(|n| p.get(n))
        .map(|s| clean_query(Some(s)))
        .collect::<Vec<_>>()
        .join(" ");
    let pg = paging(p, "count", "offset", 20)?;
    let r = ctx.app.catalog.read();
    let results = ctx
        .app
        .catalog
        .search_index()
        .search(&q, &[Kind::Track], pg.count, pg.offset);
    let ids: Vec<TrackId> = results
        .hits
        .iter()
        .map(|h| TrackId::from_uuid(uuid::Uuid::from_u128(h.id)))
        .collect();
    let song = ctx.songs(&r, r.tracks_by_id(&ids))?;
    Ok(Out::Body(
        "searchResult",
        json!({"offset": pg.offset, "totalHits": results.total(Kind::Track), "match": value(&song)}),
    ))
}
