//! Where uploads live under the data directory, and how bodies reach the disk:
//!
//! - `uploads/tmp/<random>/<name>`: a file being received. Nothing else names it; the start-up
//!   sweep empties `tmp`.
//! - `uploads/audio/<track id>.<ext>`: an uploaded track's audio, renamed into place (after
//!   an fsync) before the record naming it is committed.
//! - `uploads/covers/<album id>`: album covers.
//! - `uploads/tus/<id>`: resumable uploads in progress; the file's length is the offset.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use bytes::{Buf, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use crate::domain::AlbumId;
use crate::error::{Error, Result};

/// Bodies are written in pieces of this size: big enough that each write is one cheap
/// system call, small enough that an upload costs the server almost no memory.
const WRITE_CHUNK: usize = 1 << 20;

/// The upload directories.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// Uploaded tracks' audio.
    pub audio: PathBuf,
    covers: PathBuf,
    tmp: PathBuf,
    tus: PathBuf,
}

/// A file received into `uploads/tmp`, synced to disk.
#[derive(Debug)]
pub struct Received {
    /// Its path.
    pub path: PathBuf,
    /// The client's file name, made safe (it is the last part of `path`).
    pub name: String,
    /// Its size.
    pub size: u64,
}

impl Received {
    /// The directory it sits in.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Removes it (and its private directory) if it is still there.
    pub fn discard(&self) {
        let _ = fs::remove_file(&self.path);
        let _ = fs::remove_dir(self.dir());
    }
}

/// A client's file name reduced to its last component, without control characters, at most
/// 100 bytes; used for the temporary file and for tags missing from the file.
pub fn safe_name(raw: Option<&str>) -> String {
    let last = raw.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let mut name: String = last
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .to_owned();
    while name.len() > 100 {
        name.pop();
    }
    if name.is_empty() {
        "upload".to_owned()
    } else {
        name
    }
}

/// The file extension for a probed container; the stream's MIME type comes from it.
pub fn extension_for(container: &str) -> &'static str {
    match container {
        "mp3" => "mp3",
        "flac" => "flac",
        "ogg" => "ogg",
        "mp4" => "m4a",
        "wav" => "wav",
        "aiff" => "aiff",
        _ => "bin",
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

impl Dirs {
    /// Creates the directories under `root`.
    pub fn create(root: &Path) -> Result<Self> {
        fs::create_dir_all(root)?;
        // Stored track paths name the folder; an absolute one survives a change of working
        // directory.
        let root = root.canonicalize()?;
        let dirs = Dirs {
            audio: root.join("audio"),
            covers: root.join("covers"),
            tmp: root.join("tmp"),
            tus: root.join("tus"),
        };
        for d in [&dirs.audio, &dirs.covers, &dirs.tmp, &dirs.tus] {
            fs::create_dir_all(d)?;
        }
        Ok(dirs)
    }

    /// The catalog's folder key for uploaded audio.
    pub fn audio_key(&self) -> String {
        self.audio.to_string_lossy().into_owned()
    }

    /// An album's cover file.
    pub fn cover(&self, id: AlbumId) -> PathBuf {
        self.covers.join(id.to_string())
    }

    /// A resumable upload's file.
    pub fn tus_file(&self, id: &str) -> PathBuf {
        self.tus.join(id)
    }

    /// Empties `tmp`: whatever is there was being received when the server stopped.
    pub fn clear_tmp(&self) -> Result<()> {
        for entry in fs::read_dir(&self.tmp)? {
            let path = entry?.path();
            let r = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            if let Err(e) = r {
                tracing::warn!(path = %path.display(), error = %e, "could not remove a partial upload");
            }
        }
        Ok(())
    }

    /// Removes audio files no track names; returns how many.
    pub fn remove_unknown_audio(&self, known: &HashSet<String>) -> Result<usize> {
        let mut n = 0;
        for entry in fs::read_dir(&self.audio)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !known.contains(&name) {
                fs::remove_file(entry.path())?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Removes covers of albums that no longer exist.
    pub fn remove_unknown_covers(&self, albums: &HashSet<AlbumId>) -> Result<()> {
        for entry in fs::read_dir(&self.covers)? {
            let entry = entry?;
            let keep = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<AlbumId>().ok())
                .is_some_and(|id| albums.contains(&id));
            if !keep {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }

    /// Removes resumable-upload files with no record.
    pub fn remove_unknown_tus(&self, known: &HashSet<String>) -> Result<()> {
        for entry in fs::read_dir(&self.tus)? {
            let entry = entry?;
            if !known.contains(&*entry.file_name().to_string_lossy()) {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }

    /// Moves a received, synced file to `to`.
    pub fn place(&self, from: &Path, to: &Path) -> Result<()> {
        fs::rename(from, to)?;
        Ok(())
    }

    /// Makes renames into the audio and cover directories durable.
    pub fn sync_dirs(&self) -> Result<()> {
        sync_dir(&self.audio)?;
        sync_dir(&self.covers)?;
        Ok(())
    }

    /// Writes a cover through a synced temporary file and a rename.
    pub fn write_cover(&self, id: AlbumId, bytes: &[u8]) -> Result<()> {
        let tmp = self
            .tmp
            .join(format!("cover-{}", uuid::Uuid::new_v4().simple()));
        {
            let mut f = fs::File::create(&tmp)?;
            io::Write::write_all(&mut f, bytes)?;
            f.sync_all()?;
        }
        if let Err(e) = fs::rename(&tmp, self.cover(id)) {
            let _ = fs::remove_file(&tmp);
            return Err(e.into());
        }
        sync_dir(&self.covers)?;
        Ok(())
    }

    /// Removes an uploaded track's audio; a failure is logged (the start-up sweep retries).
    pub fn remove_audio(&self, file_name: &str) {
        if let Err(e) = fs::remove_file(self.audio.join(file_name)) {
            tracing::warn!(file_name, error = %e, "could not remove an uploaded file");
        }
    }

    /// Removes an album's cover if it has one.
    pub fn remove_cover(&self, id: AlbumId) {
        let _ = fs::remove_file(self.cover(id));
    }

    /// Creates an empty resumable-upload file.
    pub fn create_tus(&self, id: &str) -> Result<()> {
        fs::File::create(self.tus_file(id))?.sync_all()?;
        sync_dir(&self.tus)?;
        Ok(())
    }

    /// The bytes a resumable upload holds so far.
    pub fn tus_len(&self, id: &str) -> Result<u64> {
        match fs::metadata(self.tus_file(id)) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::NotFound("upload")),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a resumable upload's file.
    pub fn remove_tus(&self, id: &str) {
        let _ = fs::remove_file(self.tus_file(id));
    }

    /// Moves a finished resumable upload into `tmp` as `name`, to go through the pipeline.
    pub fn tus_to_received(&self, id: &str, name: &str) -> Result<Received> {
        let dir = self.tmp.join(uuid::Uuid::new_v4().simple().to_string());
        fs::create_dir(&dir)?;
        let path = dir.join(name);
        let size = fs::metadata(self.tus_file(id))?.len();
        fs::rename(self.tus_file(id), &path)?;
        Ok(Received {
            path,
            name: name.to_owned(),
            size,
        })
    }

    /// Receives `body` into a new file in `tmp` named `name`, in chunks, refusing it with
    /// [`Error::TooLarge`] as soon as it passes `limit` bytes. On any failure the partial file
    /// is removed.
    pub async fn receive<S, B, E>(&self, name: &str, body: S, limit: u64) -> Result<Received>
    where
        S: Stream<Item = std::result::Result<B, E>>,
        B: Buf,
        E: std::fmt::Display,
    {
        let dir = self.tmp.join(uuid::Uuid::new_v4().simple().to_string());
        tokio::fs::create_dir(&dir).await?;
        let received = Received {
            path: dir.join(name),
            name: name.to_owned(),
            size: 0,
        };
        match write_stream(&received.path, body, limit, false).await {
            Ok(size) => Ok(Received { size, ..received }),
            Err(e) => {
                received.discard();
                Err(e)
            }
        }
    }

    /// Appends `body` to a resumable upload's file, stopping with [`Error::TooLarge`] past
    /// `limit` total bytes; what was written before an error stays (the client resumes from
    /// the offset).
    pub async fn append_tus<S, B, E>(&self, id: &str, body: S, limit: u64) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<B, E>>,
        B: Buf,
        E: std::fmt::Display,
    {
        write_stream(&self.tus_file(id), body, limit, true).await
    }
}

/// Writes (or appends) the stream to `path` and syncs it; returns the file's length.
async fn write_stream<S, B, E>(path: &Path, body: S, limit: u64, append: bool) -> Result<u64>
where
    S: Stream<Item = std::result::Result<B, E>>,
    B: Buf,
    E: std::fmt::Display,
{
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path)
        .await?;
    let mut len = if append {
        file.metadata().await?.len()
    } else {
        0
    };
    let mut buf = BytesMut::with_capacity(WRITE_CHUNK);
    futures_util::pin_mut!(body);
    let outcome: Result<()> = async {
        while let Some(chunk) = body.next().await {
            let mut chunk = chunk.map_err(|e| {
                Error::invalid("body", format!("the upload could not be read: {e}"))
            })?;
            len += chunk.remaining() as u64;
            if len > limit {
                return Err(Error::TooLarge { limit });
            }
            while chunk.has_remaining() {
                let piece = chunk.chunk();
                let n = piece.len().min(WRITE_CHUNK - buf.len());
                buf.extend_from_slice(&piece[..n]);
                chunk.advance(n);
                if buf.len() == WRITE_CHUNK {
                    file.write_all(&buf).await?;
                    buf.clear();
                }
            }
        }
        Ok(())
    }
    .await;
    // What arrived before an interruption is kept for a resumable upload.
    if !buf.is_empty() && (outcome.is_ok() || append) {
        file.write_all(&buf).await?;
    }
    file.sync_all().await?;
    outcome?;
    Ok(file.metadata().await?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_file_names_cannot_leave_the_directory() {
        assert_eq!(safe_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(safe_name(Some("C:\\music\\a.mp3")), "a.mp3");
        assert_eq!(safe_name(Some("..")), "upload");
        assert_eq!(safe_name(Some(".hidden.mp3")), "hidden.mp3");
        assert_eq!(safe_name(None), "upload");
        assert_eq!(safe_name(Some(&"x".repeat(300))).len(), 100);
    }
}
