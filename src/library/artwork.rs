//! Artwork: an album's or track's picture, from the file's embedded cover or else a
//! `cover`/`folder`/`front` image beside it, scaled on request and cached on disk. A placeholder
//! stands in where there is no picture.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::{ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};

use super::probe;
use crate::catalog::{Catalog, TrackRow};
use crate::domain::{AlbumId, TrackId};
use crate::error::{Error, Result};

/// Pictures larger than this are not read (a 20 MB scan is already generous).
const MAX_SOURCE_BYTES: usize = 32 << 20;
/// Requested sizes are kept within these bounds.
pub const MIN_SIZE: u32 = 16;
/// See [`MIN_SIZE`].
pub const MAX_SIZE: u32 = 2048;
const FOLDER_NAMES: &[&str] = &["cover", "folder", "front"];
const FOLDER_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png"];

/// Shown where there is no picture.
pub const PLACEHOLDER_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><rect width="100" height="100" fill="#3b3b46"/><circle cx="50" cy="50" r="30" fill="none" stroke="#8c8c99" stroke-width="4"/><circle cx="50" cy="50" r="6" fill="#8c8c99"/></svg>"##;

/// An image ready to send.
#[derive(Debug, Clone)]
pub struct Image {
    /// The bytes.
    pub bytes: Arc<Vec<u8>>,
    /// Its MIME type.
    pub mime: String,
    /// A strong validator for `ETag`.
    pub etag: String,
}

/// Finds, scales and caches artwork.
pub struct Artwork {
    cache_dir: PathBuf,
}

enum Source {
    Embedded(PathBuf),
    File(PathBuf),
}

/// What artwork needs of a track, copied out of the catalog so no lock is held while files
/// are read.
struct TrackFile {
    path: PathBuf,
    embedded_cover: bool,
    size: u64,
    mtime_ns: i128,
}

impl TrackFile {
    fn of(t: &TrackRow) -> Self {
        Self {
            path: crate::media::track_path(t),
            embedded_cover: t.embedded_cover,
            size: t.size,
            mtime_ns: t.mtime_ns,
        }
    }
}

fn folder_image(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut best: Option<(usize, PathBuf)> = None;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_ascii_lowercase();
        let Some((stem, ext)) = name.rsplit_once('.') else {
            continue;
        };
        if !FOLDER_EXTENSIONS.contains(&ext) {
            continue;
        }
        if let Some(rank) = FOLDER_NAMES.iter().position(|n| *n == stem) {
            if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                best = Some((rank, e.path()));
            }
        }
    }
    best.map(|(_, p)| p)
}

/// Where a track's picture comes from, and a version that changes when the picture may have.
fn source_of(t: &TrackFile) -> Option<(Source, String)> {
    let path = t.path.clone();
    if t.embedded_cover {
        let version = format!("{}-{}", t.size, t.mtime_ns);
        return Some((Source::Embedded(path), version));
    }
    let img = folder_image(path.parent()?)?;
    let meta = std::fs::metadata(&img).ok()?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Some((Source::File(img), format!("{}-{mtime}", meta.len())))
}

fn read_source(src: &Source) -> Result<Option<Vec<u8>>> {
    match src {
        Source::Embedded(p) => match probe::embedded_cover(p, MAX_SOURCE_BYTES) {
            Ok(found) => Ok(found.map(|(_, bytes)| bytes)),
            Err(e) => Err(Error::Unprocessable(format!(
                "the embedded picture cannot be read: {e}"
            ))),
        },
        Source::File(p) => {
            let len = std::fs::metadata(p)?.len();
            if len > MAX_SOURCE_BYTES as u64 {
                return Err(Error::Unprocessable("the cover image is too large".into()));
            }
            Ok(Some(std::fs::read(p)?))
        }
    }
}

fn scale(bytes: &[u8], size: u32) -> Result<Vec<u8>> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Unprocessable(format!("the picture cannot be read: {e}")))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(512 << 20);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| Error::Unprocessable(format!("the picture cannot be decoded: {e}")))?;
    let scaled = if img.width() > size || img.height() > size {
        img.thumbnail(size, size)
    } else {
        img
    };
    let mut out = Vec::new();
    scaled
        .to_rgb8()
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
        .map_err(|e| Error::Internal(format!("encoding artwork: {e}")))?;
    Ok(out)
}

fn sniff_mime(bytes: &[u8]) -> &'static str {
    match image::guess_format(bytes) {
        Ok(ImageFormat::Png) => "image/png",
        Ok(ImageFormat::Gif) => "image/gif",
        Ok(ImageFormat::WebP) => "image/webp",
        _ => "image/jpeg",
    }
}

impl Artwork {
    /// Artwork cached under `cache_dir`.
    pub fn new(cache_dir: PathBuf) -> Self {
        Self { cache_dir }
    }

    /// The picture for an album or track id, at most `size` pixels on a side (original size
    /// when `None`); `None` when there is no picture.
    pub async fn get(
        &self,
        catalog: &Catalog,
        id: uuid::Uuid,
        size: Option<u32>,
    ) -> Result<Option<Image>> {
        let tracks: Vec<TrackFile> = {
            let r = catalog.read();
            match r.album(AlbumId::from_uuid(id)) {
                Ok(album) => r.album_tracks(album).map(|t| TrackFile::of(&t)).collect(),
                Err(_) => vec![TrackFile::of(
                    r.track(TrackId::from_uuid(id))
                        .map_err(|_| Error::NotFound("artwork"))?
                        .row,
                )],
            }
        };
        let cache_dir = self.cache_dir.clone();
        tokio::task::spawn_blocking(move || -> Result<Option<Image>> {
            let Some((src, version)) = tracks.iter().find_map(source_of) else {
                return Ok(None);
            };
            let key = {
                let mut h = Sha256::new();
                h.update(id.as_bytes());
                h.update(version.as_bytes());
                h.update(size.unwrap_or(0).to_be_bytes());
                h.finalize()
                    .iter()
                    .take(12)
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            };
            let etag = format!("\"{key}\"");
            let cached = cache_dir.join(format!("{key}.img"));
            if let Ok(bytes) = std::fs::read(&cached) {
                let mime = sniff_mime(&bytes).to_owned();
                return Ok(Some(Image {
                    bytes: Arc::new(bytes),
                    mime,
                    etag,
                }));
            }
            let Some(original) = read_source(&src)? else {
                return Ok(None);
            };
            let bytes = match size {
                Some(s) => scale(&original, s)?,
                None => original,
            };
            std::fs::create_dir_all(&cache_dir)?;
            // Written aside and renamed: a reader never sees half an image.
            let mut tmp = tempfile::NamedTempFile::new_in(&cache_dir)?;
            std::io::Write::write_all(&mut tmp, &bytes)?;
            tmp.persist(&cached).map_err(|e| Error::Io(e.error))?;
            let mime = sniff_mime(&bytes).to_owned();
            Ok(Some(Image {
                bytes: Arc::new(bytes),
                mime,
                etag,
            }))
        })
        .await
        .map_err(|e| Error::Internal(format!("artwork task: {e}")))?
    }
}
