//! Extended M3U (M3U8, UTF-8) playlists: writing one, and reading one back into lines that
//! the catalog can match (by path, else by artist, title and duration).

use std::fmt::Write;

/// One track of an M3U8 file.
#[derive(Debug, Clone, PartialEq)]
pub struct M3uEntry {
    /// The path or URL line.
    pub location: String,
    /// Duration from `#EXTINF`, in seconds (`None` when absent or `-1`).
    pub duration_secs: Option<f64>,
    /// Artist from `#EXTINF:<secs>,<artist> - <title>`.
    pub artist: Option<String>,
    /// Title from the same line (the whole text when there is no ` - `).
    pub title: Option<String>,
}

/// A parsed M3U8 file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct M3u {
    /// `#PLAYLIST:` name, when given.
    pub name: Option<String>,
    /// Its tracks in order.
    pub entries: Vec<M3uEntry>,
}

/// Writes an M3U8 playlist.
pub fn write(name: &str, entries: &[M3uEntry]) -> String {
    let mut out = String::from("#EXTM3U\n");
    let _ = writeln!(out, "#PLAYLIST:{}", one_line(name));
    for e in entries {
        let secs = e.duration_secs.map_or(-1, |d| d.round() as i64);
        let artist = e.artist.as_deref().map(one_line).unwrap_or_default();
        let title = e.title.as_deref().map(one_line).unwrap_or_default();
        let _ = writeln!(out, "#EXTINF:{secs},{artist} - {title}");
        let _ = writeln!(out, "{}", one_line(&e.location));
    }
    out
}

fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// Reads an M3U8 playlist. Unknown directives are skipped; a `#EXTINF` applies to the next
/// location line.
pub fn parse(text: &str) -> M3u {
    let mut m = M3u::default();
    let mut info: Option<(Option<f64>, Option<String>, Option<String>)> = None;
    for line in text.trim_start_matches('\u{feff}').lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("#EXTINF:") {
            let (secs, text) = rest.split_once(',').unwrap_or((rest, ""));
            // Attributes (`-1 tvg-id="x"`) may follow the duration.
            let secs = secs
                .split_whitespace()
                .next()
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|d| *d >= 0.0);
            let (artist, title) = match text.split_once(" - ") {
                Some((a, t)) => (Some(a.trim().to_owned()), Some(t.trim().to_owned())),
                None => (None, Some(text.trim().to_owned())),
            };
            let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
            info = Some((secs, nonempty(artist), nonempty(title)));
        } else if let Some(name) = line.strip_prefix("#PLAYLIST:") {
            m.name = Some(name.trim().to_owned()).filter(|n| !n.is_empty());
        } else if line.starts_with('#') {
            continue;
        } else {
            let (duration_secs, artist, title) = info.take().unwrap_or((None, None, None));
            m.entries.push(M3uEntry {
                location: line.to_owned(),
                duration_secs,
                artist,
                title,
            });
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let entries = vec![
            M3uEntry {
                location: "/music/A/B/01 - Song.flac".into(),
                duration_secs: Some(215.0),
                artist: Some("Ann".into()),
                title: Some("Song - Live".into()),
            },
            M3uEntry {
                location: "relative/x.mp3".into(),
                duration_secs: None,
                artist: None,
                title: Some("X".into()),
            },
        ];
        let text = write("Mix\nTwo", &entries);
        assert!(text.starts_with("#EXTM3U\n#PLAYLIST:Mix Two\n"));
        let back = parse(&text);
        assert_eq!(back.name.as_deref(), Some("Mix Two"));
        assert_eq!(back.entries[0], entries[0]);
        assert_eq!(back.entries[1].location, "relative/x.mp3");
        assert_eq!(back.entries[1].title.as_deref(), Some("X"));
        assert_eq!(back.entries[1].duration_secs, None);
    }

    #[test]
    fn plain_lists_and_odd_lines_parse() {
        let m = parse("\u{feff}a.mp3\r\n# comment\r\n\r\n#EXTINF:-1 tvg=\"1\",Radio\nhttp://x/s\n");
        assert_eq!(m.entries.len(), 2);
        assert_eq!(m.entries[0].title, None);
        assert_eq!(m.entries[1].title.as_deref(), Some("Radio"));
        assert_eq!(m.entries[1].duration_secs, None);
    }
}
