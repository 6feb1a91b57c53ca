//! Avatar images: decoded with limits, scaled to a fixed size, stored as PNG in the data
//! directory (written to a temporary file, synced, then renamed into place).

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use image::{ImageFormat, ImageReader, Limits};

use crate::domain::UserId;
use crate::error::{Error, Result};

/// Avatars are scaled to fit this many pixels on each side.
pub const AVATAR_SIZE: u32 = 256;

/// Decoding stops past these dimensions: a small file can declare an enormous canvas.
const MAX_SIDE: u32 = 8192;

fn path(dir: &Path, user: UserId) -> PathBuf {
    dir.join(format!("{user}.png"))
}

fn normalise(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Unprocessable(format!("the image could not be read: {e}")))?;
    match reader.format() {
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif) => {}
        _ => {
            return Err(Error::UnsupportedMedia(
                "avatars must be PNG, JPEG, WebP or GIF images".into(),
            ))
        }
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(256 << 20);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| Error::Unprocessable(format!("the image could not be decoded: {e}")))?;
    let thumb = image.thumbnail(AVATAR_SIZE, AVATAR_SIZE);
    let mut out = Vec::new();
    thumb
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .map_err(|e| Error::Internal(format!("encoding an avatar: {e}")))?;
    Ok(out)
}

/// Decodes, scales and stores `bytes` as `user`'s avatar.
pub async fn save(dir: &Path, user: UserId, bytes: bytes::Bytes) -> Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || -> Result<()> {
        let png = normalise(&bytes)?;
        let target = path(&dir, user);
        let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
        tmp.write_all(&png)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&target).map_err(|e| Error::Io(e.error))?;
        Ok(())
    })
    .await
    .map_err(|e| Error::Internal(format!("avatar task: {e}")))?
}

/// The stored avatar of `user`.
pub async fn load(dir: &Path, user: UserId) -> Result<Vec<u8>> {
    match tokio::fs::read(path(dir, user)).await {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::NotFound("avatar")),
        Err(e) => Err(e.into()),
    }
}

/// Deletes the avatar of `user`, if any.
pub async fn remove(dir: &Path, user: UserId) -> Result<()> {
    match tokio::fs::remove_file(path(dir, user)).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}
