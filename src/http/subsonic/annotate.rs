//! Stars, ratings, scrobbles, the play queue and bookmarks, as views of musewave's social data: a star
//! on a song is a like, on an album a save, on an artist a follow; a scrobble is a play (or,
//! with `submission=false`, "now playing"); a rating is the caller's rating of the song or
//! album. What a player does here shows in the web app and the other way round.

use serde_json::json;

use super::dto::{time, value};
use super::{Ctx, Out, Params, Res};
use crate::domain::{now, AlbumId, ArtistId, TrackId};
use crate::social::model::Source;
use crate::social::plays::{validate, PlayInput};
use crate::subsonic::credentials::PlayQueue;
use crate::subsonic::SubsonicError;

impl Ctx {
    /// Makes the caller's writes durable before the answer says they succeeded.
    pub fn flush(&self) -> Res<()> {
        self.app
            .store
            .flush_blocking()
            .map_err(crate::error::Error::from)?;
        Ok(())
    }
}

fn uuids(p: &Params, name: &str, what: &str) -> Res<Vec<uuid::Uuid>> {
    p.all(name)
        .into_iter()
        .map(|s| s.trim().parse().map_err(|_| SubsonicError::not_found(what)))
        .collect()
}

/// `star` / `unstar`: `id` (a song, or for old clients an album or artist), `albumId`,
/// `artistId`; each may repeat.
pub fn star(ctx: &Ctx, p: &Params, on: bool) -> Res {
    let social = &ctx.app.social;
    social.check_use(Some(&ctx.actor))?;
    let user = ctx.actor.user_id;
    let ids = uuids(p, "id", "song")?;
    let albums = uuids(p, "albumId", "album")?;
    let artists = uuids(p, "artistId", "artist")?;
    if ids.is_empty() && albums.is_empty() && artists.is_empty() {
        return Err(SubsonicError::missing("id, albumId or artistId"));
    }
    let mut songs = Vec::new();
    let mut albums_all = albums;
    let mut artists_all = artists;
    {
        let r = ctx.app.catalog.read();
        for id in ids {
            if r.track(TrackId::from_uuid(id)).is_ok() {
                songs.push(id);
            } else if r.album(AlbumId::from_uuid(id)).is_ok() {
                albums_all.push(id);
            } else if r.artist(ArtistId::from_uuid(id)).is_ok() {
                artists_all.push(id);
            } else if on {
                return Err(SubsonicError::not_found("song"));
            } else {
                // Unstarring something gone from the catalog still clears it.
                songs.push(id);
            }
        }
        if on {
            for a in &albums_all {
                r.album(AlbumId::from_uuid(*a))?;
            }
            for a in &artists_all {
                r.artist(ArtistId::from_uuid(*a))?;
            }
        }
    }
    for id in songs {
        social.likes.set(user, id, on)?;
    }
    for id in albums_all {
        social.saves.set(user, id, on)?;
    }
    for id in artists_all {
        social.artist_follows.set(user, id, on)?;
    }
    ctx.flush()?;
    Ok(Out::Empty)
}

/// `setRating`: 1-5 stars on a song or album; 0 removes the rating.
pub fn set_rating(ctx: &Ctx, p: &Params) -> Res {
    let social = &ctx.app.social;
    social.check_use(Some(&ctx.actor))?;
    let id: uuid::Uuid = super::browse::id_param(p, "id", "song or album")?;
    let rating: u8 = p
        .opt_num("rating")?
        .ok_or_else(|| SubsonicError::missing("rating"))?;
    if rating > 5 {
        return Err(SubsonicError::invalid("rating", "must be 0 to 5"));
    }
    let stars = (rating > 0).then_some((rating, None));
    let (is_track, is_album) = {
        let r = ctx.app.catalog.read();
        (
            r.track(TrackId::from_uuid(id)).is_ok(),
            r.album(AlbumId::from_uuid(id)).is_ok(),
        )
    };
    let user = ctx.actor.user_id;
    if is_track {
        social
            .track_ratings
            .set(user, TrackId::from_uuid(id), stars)?;
    } else if is_album {
        social
            .album_ratings
            .set(user, AlbumId::from_uuid(id), stars)?;
    } else {
        return Err(SubsonicError::not_found("song or album"));
    }
    ctx.flush()?;
    Ok(Out::Empty)
}

/// `scrobble`: plays (`submission=true`, the default) or "now playing".
pub fn scrobble(ctx: &Ctx, p: &Params) -> Res {
    let social = &ctx.app.social;
    social.check_use(Some(&ctx.actor))?;
    let ids: Vec<TrackId> = uuids(p, "id", "song")?
        .into_iter()
        .map(TrackId::from_uuid)
        .collect();
    if ids.is_empty() {
        return Err(SubsonicError::missing("id"));
    }
    let times: Vec<i64> = p
        .all("time")
        .into_iter()
        .map(|t| {
            t.trim()
                .parse()
                .map_err(|_| SubsonicError::invalid("time", "not a number"))
        })
        .collect::<Res<_>>()?;
    let user = ctx.actor.user_id;
    if !p.flag("submission", true) {
        social.set_now_playing(user, ids[0], 0.0)?;
        return Ok(Out::Empty);
    }
    let facts = social.track_facts(&ids);
    let t = now();
    let mut plays = Vec::with_capacity(ids.len());
    for (i, (id, f)) in ids.iter().zip(facts).enumerate() {
        let f = f?;
        let secs = f.duration_ms / 1000;
        let started_at = match times.get(i) {
            // Milliseconds since the epoch, when the song was listened to.
            Some(ms) => ms / 1000,
            None => t - secs as i64,
        };
        let input = PlayInput {
            track: *id,
            started_at,
            seconds_played: secs.min(86_400) as u32,
            completed: true,
            source: Source::Other,
            // A player retrying the same scrobble sends the same time: counted once.
            idempotency_key: format!("subsonic:{id}:{started_at}"),
        };
        validate(&input, t)?;
        plays.push((input, f));
    }
    social.plays.record(user, &plays)?;
    social.clear_now_playing(user);
    ctx.flush()?;
    Ok(Out::Empty)
}

/// `getPlayQueue`.
pub fn get_play_queue(ctx: &Ctx) -> Res {
    let Some(q) = ctx.app.credentials.play_queue(ctx.actor.user_id)? else {
        return Ok(Out::Empty);
    };
    let r = ctx.app.catalog.read();
    let entry = ctx.songs(&r, r.tracks_by_id(&q.entries))?;
    Ok(Out::Body(
        "playQueue",
        json!({
            "current": q.current.map(|c| c.to_string()),
            "position": q.position_ms,
            "username": ctx.user.username.as_str(),
            "changed": time(q.changed_at),
            "changedBy": q.changed_by,
            "entry": value(&entry),
        }),
    ))
}

/// `savePlayQueue`: `id` repeated, `current`, `position` (ms). No ids clears it.
pub async fn save_play_queue(ctx: &Ctx, p: &Params) -> Res {
    let entries: Vec<TrackId> = uuids(p, "id", "song")?
        .into_iter()
        .map(TrackId::from_uuid)
        .collect();
    let current = match p.get("current").filter(|c| !c.is_empty()) {
        Some(c) => Some(
            c.trim()
                .parse::<TrackId>()
                .map_err(|_| SubsonicError::not_found("song"))?,
        ),
        None => None,
    };
    if let Some(c) = current {
        if !entries.contains(&c) {
            return Err(SubsonicError::invalid("current", "is not in the queue"));
        }
    }
    {
        let r = ctx.app.catalog.read();
        for id in &entries {
            r.track(*id)?;
        }
    }
    let queue = PlayQueue {
        current,
        position_ms: p.num("position", 0)?,
        changed_at: now(),
        changed_by: ctx.client.clone(),
        entries,
    };
    ctx.app
        .credentials
        .save_play_queue(ctx.actor.user_id, queue)
        .await?;
    Ok(Out::Empty)
}

/// `getBookmarks`.
pub fn get_bookmarks(ctx: &Ctx) -> Res {
    let marks = ctx.app.credentials.bookmarks(ctx.actor.user_id)?;
    let r = ctx.app.catalog.read();
    let mut bookmark = Vec::with_capacity(marks.len());
    for (track, b) in marks {
        // A bookmark of a track gone from the catalog waits until it is back.
        let Ok(t) = r.track(track) else { continue };
        bookmark.push(json!({
            "position": b.position_ms,
            "username": ctx.user.username.as_str(),
            "comment": b.comment,
            "created": time(b.created_at),
            "changed": time(b.changed_at),
            "entry": value(&ctx.song(&r, t)?),
        }));
    }
    Ok(Out::Body("bookmarks", json!({ "bookmark": bookmark })))
}

/// `createBookmark`: `id` (a song), `position` (ms), `comment`.
pub async fn create_bookmark(ctx: &Ctx, p: &Params) -> Res {
    let id: TrackId = super::browse::id_param(p, "id", "song")?;
    ctx.app.catalog.read().track(id)?;
    let position: u64 = p
        .opt_num("position")?
        .ok_or_else(|| SubsonicError::missing("position"))?;
    let comment = p.get("comment").unwrap_or("").chars().take(500).collect();
    ctx.app
        .credentials
        .set_bookmark(ctx.actor.user_id, id, position, comment)
        .await?;
    Ok(Out::Empty)
}

/// `deleteBookmark`.
pub async fn delete_bookmark(ctx: &Ctx, p: &Params) -> Res {
    let id: TrackId = super::browse::id_param(p, "id", "song")?;
    ctx.app
        .credentials
        .delete_bookmark(ctx.actor.user_id, id)
        .await?;
    Ok(Out::Empty)
}
