//! Browsing by tags (`getArtists`, `getArtist`, `getAlbum`, `getSong`) and by "folders"
//! (`getIndexes`, `getMusicDirectory`, built from the same artists and albums).

use std::collections::BTreeMap;
use std::str::FromStr;

use serde_json::json;

use super::dto::value;
use super::{Ctx, Out, Params, Res};
use crate::catalog::search::fold;
use crate::catalog::{ArtistSort, ListQuery, Reader};
use crate::domain::{AlbumId, ArtistId, TrackId};
use crate::subsonic::SubsonicError;

/// Articles ignored when indexing artists by letter.
const IGNORED_ARTICLES: &str = "The El La Los Las Le Les Die Der Das";

/// A required id parameter: code 10 when missing, 70 when it names nothing.
pub fn id_param<T: FromStr>(p: &Params, name: &str, what: &str) -> Res<T> {
    p.required(name)?
        .trim()
        .parse()
        .map_err(|_| SubsonicError::not_found(what))
}

fn index_letter(name: &str) -> String {
    let trimmed = IGNORED_ARTICLES
        .split(' ')
        .find_map(|a| {
            name.strip_prefix(a)
                .filter(|rest| rest.starts_with(' '))
                .map(str::trim_start)
        })
        .unwrap_or(name);
    match fold(trimmed).chars().next() {
        Some(c) if c.is_alphabetic() => c.to_uppercase().collect(),
        _ => "#".to_owned(),
    }
}

/// Album artists grouped by index letter, in name order.
fn indexed(ctx: &Ctx, r: &Reader<'_>, with_counts: bool) -> Res<Vec<serde_json::Value>> {
    let page = r.list_artists(
        &ListQuery {
            limit: usize::MAX,
            ..ListQuery::default()
        },
        ArtistSort::Name,
    );
    let mut groups: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for a in page.items.into_iter().filter(|a| !a.albums.is_empty()) {
        let entry = if with_counts {
            value(&ctx.artist(r, a, false)?)
        } else {
            json!({"id": a.id.to_string(), "name": a.name,
                "starred": ctx.starred(&ctx.app.social.artist_follows, *a.id.as_uuid())?})
        };
        groups.entry(index_letter(&a.name)).or_default().push(entry);
    }
    Ok(groups
        .into_iter()
        .map(|(name, artist)| json!({"name": name, "artist": artist}))
        .collect())
}

/// `getArtists`.
pub fn get_artists(ctx: &Ctx) -> Res {
    let r = ctx.app.catalog.read();
    Ok(Out::Body(
        "artists",
        json!({"ignoredArticles": IGNORED_ARTICLES, "index": indexed(ctx, &r, true)?}),
    ))
}

/// `getIndexes`.
pub fn get_indexes(ctx: &Ctx) -> Res {
    let r = ctx.app.catalog.read();
    let last = r
        .list_artists(
            &ListQuery {
                limit: 1,
                descending: true,
                ..ListQuery::default()
            },
            ArtistSort::DateAdded,
        )
        .items
        .first()
        .map_or(0, |a| a.added_at * 1000);
    Ok(Out::Body(
        "indexes",
        json!({"ignoredArticles": IGNORED_ARTICLES, "lastModified": last,
            "index": indexed(ctx, &r, false)?}),
    ))
}

/// `getArtist`.
pub fn get_artist(ctx: &Ctx, p: &Params) -> Res {
    let id: ArtistId = id_param(p, "id", "artist")?;
    let r = ctx.app.catalog.read();
    let a = r.artist(id)?;
    Out::typed(ctx, "artist", &ctx.artist(&r, a, true)?)
}

/// `getAlbum`.
pub fn get_album(ctx: &Ctx, p: &Params) -> Res {
    let id: AlbumId = id_param(p, "id", "album")?;
    let r = ctx.app.catalog.read();
    let a = r.album(id)?;
    Out::typed(ctx, "album", &ctx.album(&r, a, true)?)
}

/// `getSong`.
pub fn get_song(ctx: &Ctx, p: &Params) -> Res {
    let id: TrackId = id_param(p, "id", "song")?;
    let r = ctx.app.catalog.read();
    let t = r.track(id)?;
    Out::typed(ctx, "song", &ctx.song(&r, t)?)
}

/// `getMusicDirectory`: an artist's albums, or an album's songs.
pub fn get_music_directory(ctx: &Ctx, p: &Params) -> Res {
    let id: uuid::Uuid = id_param(p, "id", "directory")?;
    let r = ctx.app.catalog.read();
    if let Ok(a) = r.artist(ArtistId::from_uuid(id)) {
        let child = r
            .artist_albums(a)
            .into_iter()
            .map(|al| ctx.album_child(al).map(|c| value(&c)))
            .collect::<Res<Vec<_>>>()?;
        return Ok(Out::Body(
            "directory",
            json!({"id": a.id.to_string(), "name": a.name, "child": child,
                "starred": ctx.starred(&ctx.app.social.artist_follows, id)?}),
        ));
    }
    if let Ok(al) = r.album(AlbumId::from_uuid(id)) {
        let child = ctx.songs(&r, r.album_tracks(al))?;
        return Ok(Out::Body(
            "directory",
            json!({"id": al.id.to_string(), "parent": al.artist_id.to_string(),
                "name": al.title, "child": value(&child),
                "starred": ctx.starred(&ctx.app.social.saves, id)?}),
        ));
    }
    Err(SubsonicError::not_found("directory"))
}

/// `getGenres`.
pub fn get_genres(ctx: &Ctx) -> Res {
    let r = ctx.app.catalog.read();
    let genre: Vec<_> = r
        .genres()
        .into_iter()
        .map(|g| json!({"value": g.name, "songCount": g.tracks, "albumCount": g.albums}))
        .collect();
    Ok(Out::Body("genres", json!({ "genre": genre })))
}

/// `getArtistInfo` / `getArtistInfo2`: the profile's biography when the artist has one.
pub fn get_artist_info(ctx: &Ctx, p: &Params, name: &str) -> Res {
    let id: ArtistId = id_param(p, "id", "artist")?;
    ctx.app.catalog.read().artist(id)?;
    let bio = ctx
        .app
        .artists
        .profile(id)
        .ok()
        .map(|p| p.bio)
        .filter(|b| !b.is_empty());
    let key = if name == "getArtistInfo2" {
        "artistInfo2"
    } else {
        "artistInfo"
    };
    Ok(Out::Body(key, json!({ "biography": bio })))
}

/// `getAlbumInfo` / `getAlbumInfo2`: nothing beyond what the album says.
pub fn get_album_info(ctx: &Ctx, p: &Params) -> Res {
    let id: AlbumId = id_param(p, "id", "album")?;
    ctx.app.catalog.read().album(id)?;
    Ok(Out::Body("albumInfo", json!({})))
}

/// `getTopSongs`: by artist name.
pub fn get_top_songs(ctx: &Ctx, p: &Params) -> Res {
    let name = fold(p.required("artist")?);
    let count: usize = p.num("count", 50)?;
    let r = ctx.app.catalog.read();
    let all = r.list_artists(
        &ListQuery {
            limit: usize::MAX,
            ..ListQuery::default()
        },
        ArtistSort::Name,
    );
    let song = match all.items.into_iter().find(|a| fold(&a.name) == name) {
        Some(a) => ctx.songs(&r, r.top_tracks(a, count.min(500)))?,
        None => Vec::new(),
    };
    Ok(Out::Body("topSongs", json!({ "song": value(&song) })))
}

/// `getSimilarSongs` / `getSimilarSongs2`: more by the same artist.
pub fn get_similar_songs(ctx: &Ctx, p: &Params, name: &str) -> Res {
    let id: uuid::Uuid = id_param(p, "id", "song, album or artist")?;
    let count: usize = p.num("count", 50)?;
    let r = ctx.app.catalog.read();
    let artist = if let Ok(t) = r.track(TrackId::from_uuid(id)) {
        t.artist_ids.first().copied().unwrap_or(t.album_artist_id)
    } else if let Ok(a) = r.album(AlbumId::from_uuid(id)) {
        a.artist_id
    } else {
        ArtistId::from_uuid(id)
    };
    let a = r.artist(artist)?;
    let tracks = r
        .top_tracks(a, count.min(500) + 1)
        .into_iter()
        .filter(|t| *t.id.as_uuid() != id)
        .take(count);
    let song = ctx.songs(&r, tracks)?;
    let key = if name == "getSimilarSongs2" {
        "similarSongs2"
    } else {
        "similarSongs"
    };
    Ok(Out::Body(key, json!({ "song": value(&song) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artists_index_by_first_letter_without_articles() {
        assert_eq!(index_letter("The Beatles"), "B");
        assert_eq!(index_letter("Theory"), "T");
        assert_eq!(index_letter("Émilie"), "E");
        assert_eq!(index_letter("2Pac"), "#");
    }
}
