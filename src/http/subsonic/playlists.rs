//! Playlists: the same playlists as the web app and `/api/v1/playlists`, with the same rules
//! (private playlists of others are not found; only the owner renames or deletes; owner and
//! collaborators change entries).

use serde_json::{json, Value};

use super::browse::id_param;
use super::dto::{time, value};
use super::{Ctx, Out, Params, Res};
use crate::domain::{PlaylistId, TrackId, UserId};
use crate::social::model::Playlist;
use crate::social::playlists::{NewPlaylist, PlaylistEdit};
use crate::subsonic::SubsonicError;

fn track_ids(p: &Params, name: &str) -> Res<Vec<TrackId>> {
    p.all(name)
        .into_iter()
        .map(|s| {
            s.trim()
                .parse()
                .map_err(|_| SubsonicError::not_found("song"))
        })
        .collect()
}

fn username(ctx: &Ctx, user: UserId) -> String {
    if user == ctx.user.id {
        return ctx.user.username.to_string();
    }
    ctx.app
        .accounts
        .user(user)
        .map(|u| u.username.to_string())
        .unwrap_or_default()
}

/// A playlist's fields, with its songs when `with_entries`.
fn playlist_json(ctx: &Ctx, pl: &Playlist, with_entries: bool) -> Res<Value> {
    let entries = ctx.app.social.playlists.all_entries(pl.id)?;
    let ids: Vec<TrackId> = entries.iter().map(|e| e.track).collect();
    let r = ctx.app.catalog.read();
    let tracks = r.tracks_by_id(&ids);
    let duration: u64 = tracks.iter().map(|t| t.duration_ms).sum::<u64>() / 1000;
    let cover = tracks.first().map(|t| t.album_id.to_string());
    let mut v = json!({
        "id": pl.id.to_string(),
        "name": pl.name,
        "comment": pl.description,
        "owner": username(ctx, pl.owner),
        "public": pl.public,
        "songCount": tracks.len(),
        "duration": duration,
        "created": time(pl.created_at),
        "changed": time(pl.updated_at),
        "coverArt": cover,
    });
    if with_entries {
        let songs = ctx.songs(&r, tracks)?;
        v["entry"] = value(&songs);
    }
    Ok(v)
}

/// `getPlaylists`: the caller's own, collaborative and followed playlists, or another user's
/// public ones.
pub fn get_playlists(ctx: &Ctx, p: &Params) -> Res {
    let owner = match p.get("username") {
        Some(name) if !name.eq_ignore_ascii_case(ctx.user.username.as_str()) => {
            Some(ctx.app.accounts.user_by_name(name)?.id)
        }
        _ => None,
    };
    let list = ctx.app.social.playlists_of(&ctx.actor, owner)?;
    let playlist = list
        .iter()
        .map(|pl| playlist_json(ctx, pl, false))
        .collect::<Res<Vec<_>>>()?;
    Ok(Out::Body("playlists", json!({ "playlist": playlist })))
}

/// `getPlaylist`.
pub fn get_playlist(ctx: &Ctx, p: &Params) -> Res {
    let id: PlaylistId = id_param(p, "id", "playlist")?;
    let (pl, _) = ctx.app.social.playlist(Some(&ctx.actor), id)?;
    Ok(Out::Body("playlist", playlist_json(ctx, &pl, true)?))
}

/// `createPlaylist`: a new playlist, or (with `playlistId`) new contents for one.
pub fn create_playlist(ctx: &Ctx, p: &Params) -> Res {
    let songs = track_ids(p, "songId")?;
    let social = &ctx.app.social;
    let id = match p.get("playlistId") {
        Some(raw) => {
            let id: PlaylistId = raw
                .trim()
                .parse()
                .map_err(|_| SubsonicError::not_found("playlist"))?;
            let (pl, _) = social.playlist(Some(&ctx.actor), id)?;
            if let Some(name) = p.get("name") {
                social.update_playlist(
                    &ctx.actor,
                    id,
                    PlaylistEdit {
                        name: Some(name.to_owned()),
                        ..PlaylistEdit::default()
                    },
                )?;
            }
            for e in social.playlists.all_entries(pl.id)? {
                social.remove_entry(&ctx.actor, id, e.id)?;
            }
            id
        }
        None => {
            let name = p.required("name")?;
            social
                .create_playlist(
                    &ctx.actor,
                    NewPlaylist {
                        name: name.to_owned(),
                        ..NewPlaylist::default()
                    },
                )?
                .id
        }
    };
    if !songs.is_empty() {
        social.add_entries(&ctx.actor, id, &songs, None)?;
    }
    ctx.flush()?;
    let (pl, _) = social.playlist(Some(&ctx.actor), id)?;
    Ok(Out::Body("playlist", playlist_json(ctx, &pl, true)?))
}

/// `updatePlaylist`: fields, entries removed by index, songs added at the end.
pub fn update_playlist(ctx: &Ctx, p: &Params) -> Res {
    let id: PlaylistId = id_param(p, "playlistId", "playlist")?;
    let social = &ctx.app.social;
    social.playlist(Some(&ctx.actor), id)?;
    let edit = PlaylistEdit {
        name: p.get("name").map(str::to_owned),
        description: p.get("comment").map(str::to_owned),
        public: p.get("public").map(|v| v.eq_ignore_ascii_case("true")),
        collaborative: None,
    };
    if edit.name.is_some() || edit.description.is_some() || edit.public.is_some() {
        social.update_playlist(&ctx.actor, id, edit)?;
    }
    let mut remove: Vec<usize> = p
        .all("songIndexToRemove")
        .into_iter()
        .map(|s| {
            s.trim()
                .parse()
                .map_err(|_| SubsonicError::invalid("songIndexToRemove", "not a number"))
        })
        .collect::<Res<_>>()?;
    if !remove.is_empty() {
        let entries = social.playlists.all_entries(id)?;
        remove.sort_unstable();
        remove.dedup();
        for i in remove.into_iter().rev() {
            let e = entries
                .get(i)
                .ok_or_else(|| SubsonicError::invalid("songIndexToRemove", "out of range"))?;
            social.remove_entry(&ctx.actor, id, e.id)?;
        }
    }
    let add = track_ids(p, "songIdToAdd")?;
    if !add.is_empty() {
        social.add_entries(&ctx.actor, id, &add, None)?;
    }
    ctx.flush()?;
    Ok(Out::Empty)
}

/// `deletePlaylist`.
pub fn delete_playlist(ctx: &Ctx, p: &Params) -> Res {
    let id: PlaylistId = id_param(p, "id", "playlist")?;
    ctx.app.social.delete_playlist(&ctx.actor, id)?;
    ctx.flush()?;
    Ok(Out::Empty)
}
