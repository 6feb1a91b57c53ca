//! Bytes and words of a song: `stream`, `download`, `getCoverArt`, `getAvatar`, `getLyrics`,
//! `getLyricsBySongId`. Audio and pictures go through the same code as `/api/v1` (ranges,
//! conditional requests, the transcoder and its cache, scaled artwork).

use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, StatusCode};
use serde_json::json;
use warp::reply::Response;

use super::browse::id_param;
use super::{Ctx, Out, Params, Res};
use crate::auth::Action;
use crate::domain::{TrackId, UserId};
use crate::error::Error;
use crate::http::catalog::art_response;
use crate::http::stream::{serve_audio, serve_download, user_cap};
use crate::library::artwork::{MAX_SIZE, MIN_SIZE};
use crate::media::transcode::Codec;
use crate::media::transcoder::StreamRequest;
use crate::subsonic::SubsonicError;

fn browse(ctx: &Ctx) -> Res<()> {
    Ok(ctx.app.policy.check(Some(&ctx.actor), Action::Browse)?)
}

/// A media answer, or the envelope for what went wrong; a range outside the file is a real
/// 416, since players that send `Range` read the status.
fn media(result: Result<Response, Error>) -> Res {
    match result {
        Ok(res) => Ok(Out::Raw(res)),
        Err(Error::RangeNotSatisfiable { length }) => {
            let mut res = Response::default();
            *res.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{length}")) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            Ok(Out::Raw(res))
        }
        Err(e) => Err(e.into()),
    }
}

/// What `stream` asks of the transcoder: `format=raw` is the original untouched;
/// `maxBitRate` caps (only a source above it is transcoded); `timeOffset` starts later, which
/// takes a transcode.
fn stream_request(ctx: &Ctx, p: &Params) -> Res<(Option<u32>, StreamRequest)> {
    let max: u32 = p.num("maxBitRate", 0)?;
    let offset: Option<f64> = p.opt_num("timeOffset")?;
    let offset = offset.filter(|o| *o > 0.0);
    let format = p.get("format").map(str::to_ascii_lowercase);
    if format.as_deref() == Some("raw") {
        return Ok((
            None,
            StreamRequest {
                format: None,
                bitrate_kbps: None,
                quality: Some("original".into()),
                offset_secs: offset,
            },
        ));
    }
    let codec = match format.as_deref() {
        Some("mp3") => Some(Codec::Mp3),
        Some("opus") | Some("ogg") => Some(Codec::Opus),
        _ => None,
    };
    let user = user_cap(&ctx.app, Some(&ctx.actor))?;
    let cap = match (user, max) {
        (u, 0) => u,
        (Some(u), m) => Some(u.min(m)),
        (None, m) => Some(m),
    };
    let codec = match (codec, offset) {
        // Seeking needs a transcode; MP3 plays everywhere.
        (None, Some(_)) => Some(Codec::Mp3),
        (c, _) => c,
    };
    Ok((
        cap,
        StreamRequest {
            format: codec,
            bitrate_kbps: codec.and(cap),
            quality: None,
            offset_secs: offset,
        },
    ))
}

/// `stream`.
pub async fn stream(ctx: &Ctx, p: &Params, method: &Method, headers: &HeaderMap) -> Res {
    browse(ctx)?;
    let id: TrackId = id_param(p, "id", "song")?;
    let (cap, request) = stream_request(ctx, p)?;
    media(serve_audio(&ctx.app, method, headers, cap, id, request).await)
}

/// `download`: the original file.
pub async fn download(ctx: &Ctx, p: &Params, method: &Method, headers: &HeaderMap) -> Res {
    browse(ctx)?;
    let id: TrackId = id_param(p, "id", "song")?;
    media(serve_download(&ctx.app, method, headers, id).await)
}

/// `getCoverArt`: an album's or song's picture, scaled to `size` (clamped to what the artwork
/// service makes).
pub async fn get_cover_art(ctx: &Ctx, p: &Params, headers: &HeaderMap) -> Res {
    browse(ctx)?;
    let id: uuid::Uuid = id_param(p, "id", "cover art")?;
    let size: Option<u32> = p.opt_num("size")?;
    let size = size.map(|s| s.clamp(MIN_SIZE, MAX_SIZE));
    {
        let r = ctx.app.catalog.read();
        let known = r.album(crate::domain::AlbumId::from_uuid(id)).is_ok()
            || r.track(TrackId::from_uuid(id)).is_ok();
        if !known {
            return Err(SubsonicError::not_found("cover art"));
        }
    }
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    media(art_response(&ctx.app, id, size, inm).await)
}

/// `getAvatar`: a user's picture.
pub async fn get_avatar(ctx: &Ctx, p: &Params) -> Res {
    let name = p.required("username")?;
    // One keyed read of the store: short enough for the async thread.
    let user: UserId = ctx.app.accounts.user_by_name(name)?.id;
    // Avatars are stored as PNG whatever was uploaded.
    let (bytes, _) = ctx.app.accounts.avatar(user).await?;
    let mut res = Response::new(bytes.into());
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    Ok(Out::Raw(res))
}

/// One line of lyrics, with its start when the tag is LRC.
#[derive(Debug, PartialEq)]
struct Line {
    start_ms: Option<u64>,
    text: String,
}

/// Reads `[mm:ss.xx]` stamps (LRC); lines without one are plain. Metadata tags (`[ar:...]`)
/// are dropped.
fn lines(lyrics: &str) -> Vec<Line> {
    let mut out = Vec::new();
    for raw in lyrics.lines() {
        let mut rest = raw.trim_end();
        let mut stamps = Vec::new();
        while let Some(after) = rest.strip_prefix('[') {
            let Some(end) = after.find(']') else { break };
            let tag = &after[..end];
            let parsed = tag.split_once(':').and_then(|(m, s)| {
                let m: u64 = m.trim().parse().ok()?;
                let s: f64 = s.trim().parse().ok()?;
                Some(m * 60_000 + (s * 1000.0).round() as u64)
            });
            match parsed {
                Some(ms) => stamps.push(ms),
                None if tag.contains(':') => {
                    stamps.clear();
                    rest = "";
                    break;
                }
                None => break,
            }
            rest = &after[end + 1..];
        }
        if stamps.is_empty() {
            if !raw.trim().is_empty() && !rest.is_empty() {
                out.push(Line {
                    start_ms: None,
                    text: raw.trim_end().to_owned(),
                });
            }
        } else {
            for ms in stamps {
                out.push(Line {
                    start_ms: Some(ms),
                    text: rest.trim().to_owned(),
                });
            }
        }
    }
    if out.iter().all(|l| l.start_ms.is_some()) {
        out.sort_by_key(|l| l.start_ms);
    }
    out
}

fn track_lyrics(ctx: &Ctx, id: TrackId) -> Res<Option<String>> {
    Ok(ctx
        .app
        .catalog
        .track(id)?
        .tags
        .lyrics
        .filter(|l| !l.trim().is_empty()))
}

/// `getLyrics`: by artist and title, from the tags.
pub fn get_lyrics(ctx: &Ctx, p: &Params) -> Res {
    browse(ctx)?;
    let artist = p.get("artist").filter(|a| !a.is_empty());
    let title = p.get("title").unwrap_or("");
    let found = ctx.app.catalog.read().find_track(title, artist, None);
    let text = match found {
        Some(id) => track_lyrics(ctx, id)?,
        None => None,
    };
    let text = text.map(|t| {
        lines(&t)
            .into_iter()
            .map(|l| l.text)
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(Out::Body(
        "lyrics",
        json!({"artist": artist, "title": p.get("title"), "value": text}),
    ))
}

/// `getLyricsBySongId` (songLyrics extension): structured, synced when the tag is LRC.
pub fn get_lyrics_by_song_id(ctx: &Ctx, p: &Params) -> Res {
    browse(ctx)?;
    let id: TrackId = id_param(p, "id", "song")?;
    let (title, artist) = {
        let r = ctx.app.catalog.read();
        let t = r.track(id)?;
        (
            t.title.to_string(),
            t.artist_names().collect::<Vec<_>>().join(", "),
        )
    };
    let mut structured = Vec::new();
    if let Some(text) = track_lyrics(ctx, id)? {
        let ls = lines(&text);
        let synced = !ls.is_empty() && ls.iter().all(|l| l.start_ms.is_some());
        let line: Vec<_> = ls
            .into_iter()
            .map(|l| match (synced, l.start_ms) {
                (true, Some(ms)) => json!({"start": ms, "value": l.text}),
                _ => json!({"value": l.text}),
            })
            .collect();
        structured.push(json!({
            "displayArtist": artist, "displayTitle": title, "lang": "xxx",
            "synced": synced, "line": line,
        }));
    }
    Ok(Out::Body(
        "lyricsList",
        json!({ "structuredLyrics": structured }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lrc_lines_are_synced_and_plain_lines_are_not() {
        let l = lines("[ar:Someone]\n[00:01.50]One\n[00:00.25][00:03.00]Two\n");
        assert_eq!(
            l,
            vec![
                Line {
                    start_ms: Some(250),
                    text: "Two".into()
                },
                Line {
                    start_ms: Some(1500),
                    text: "One".into()
                },
                Line {
                    start_ms: Some(3000),
                    text: "Two".into()
                },
            ]
        );
        let plain = lines("First line\n\nSecond [live]\n");
        assert_eq!(plain.len(), 2);
        assert!(plain.iter().all(|l| l.start_ms.is_none()));
        assert_eq!(plain[1].text, "Second [live]");
    }
}
