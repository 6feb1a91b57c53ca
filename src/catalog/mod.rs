//! The catalog: tracks in the store, and albums, artists and genres derived from them in
//! memory, kept in step with every write so lists and details are answered without touching
//! the disk. The search index is updated in the same step.

pub mod search;
mod views;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use parking_lot::RwLock;

use self::search::{fold, Doc, Kind, SearchIndex};
pub use self::views::{
    AlbumSort, AlbumView, ArtistSort, ArtistView, GenreView, ListQuery, Page, TrackSort,
};
use crate::domain::{now, AlbumId, ArtistId, MediaFile, Track, TrackId, UnixTime};
use crate::error::{Error, Result};
use crate::store::tables::{ALBUM_KEYS, ARTIST_KEYS, TRACKS, TRACK_FINGERPRINTS, TRACK_PATHS};
use crate::store::{Store, Table, TxError};

/// The album artist of compilations.
pub const VARIOUS_ARTISTS: &str = "Various Artists";

/// A track as the scanner describes it, before it has catalog ids.
#[derive(Debug, Clone)]
pub struct TrackDraft {
    /// Where the audio is.
    pub file: MediaFile,
    /// Stream facts.
    pub audio: crate::domain::AudioInfo,
    /// Metadata.
    pub tags: crate::domain::TrackTags,
    /// Whether the file embeds a picture.
    pub embedded_cover: bool,
}

/// An album derived from its tracks.
#[derive(Debug, Clone)]
pub struct Album {
    /// Stable id.
    pub id: AlbumId,
    /// Title.
    pub title: String,
    /// Album artist.
    pub artist_id: ArtistId,
    /// Album artist's name.
    pub artist_name: String,
    /// Earliest year among its tracks.
    pub year: Option<i32>,
    /// Genres of its tracks.
    pub genres: BTreeSet<String>,
    /// Tracks in disc and track order.
    pub tracks: BTreeSet<(u32, u32, TrackId)>,
    /// Sum of track durations.
    pub duration_ms: u64,
    /// When its first track arrived.
    pub added_at: UnixTime,
    /// Whether it groups under Various Artists.
    pub compilation: bool,
    /// Audio formats (containers) of its tracks.
    pub formats: BTreeSet<String>,
}

/// An artist derived from the tracks and albums naming it.
#[derive(Debug, Clone)]
pub struct Artist {
    /// Stable id.
    pub id: ArtistId,
    /// Name as first seen.
    pub name: String,
    /// Albums where this artist is the album artist.
    pub albums: BTreeSet<AlbumId>,
    /// Tracks this artist performs on.
    pub tracks: HashSet<TrackId>,
    /// When the artist first appeared.
    pub added_at: UnixTime,
}

#[derive(Default)]
struct State {
    tracks: HashMap<TrackId, Arc<Track>>,
    by_path: HashMap<(String, Vec<u8>), TrackId>,
    albums: HashMap<AlbumId, Album>,
    artists: HashMap<ArtistId, Artist>,
    /// Bumped on every change, so cached list orders know when they are stale.
    generation: u64,
}

/// The catalog service.
pub struct Catalog {
    store: Store,
    tracks: Table<TrackId, Track>,
    paths: Table<(String, Vec<u8>), TrackId>,
    fingerprints: Table<(u64, TrackId), ()>,
    album_keys: Table<(String, String), AlbumId>,
    artist_keys: Table<String, ArtistId>,
    state: RwLock<State>,
    search: SearchIndex,
    orders: views::Orders,
}

fn tx_err(e: TxError<Error>) -> Error {
    match e {
        TxError::Aborted(e) => e,
        TxError::Store(e) => Error::Store(e),
    }
}

/// The album artist name a track groups under.
fn album_artist_name(t: &crate::domain::TrackTags) -> String {
    if t.compilation {
        return VARIOUS_ARTISTS.to_owned();
    }
    t.album_artists
        .first()
        .or(t.artists.first())
        .cloned()
        .unwrap_or_else(|| "Unknown Artist".to_owned())
}

impl Catalog {
    /// Opens the catalog and loads it into memory.
    pub fn open(store: Store) -> Result<Self> {
        let catalog = Self {
            tracks: store.table(TRACKS)?,
            paths: store.table(TRACK_PATHS)?,
            fingerprints: store.table(TRACK_FINGERPRINTS)?,
            album_keys: store.table(ALBUM_KEYS)?,
            artist_keys: store.table(ARTIST_KEYS)?,
            state: RwLock::new(State::default()),
            search: SearchIndex::new(),
            orders: views::Orders::default(),
            store,
        };
        {
            let mut state = catalog.state.write();
            for entry in catalog.tracks.iter() {
                let (_, track) = entry?;
                state.add(Arc::new(track));
            }
        }
        catalog.reindex_all();
        Ok(catalog)
    }

    fn reindex_all(&self) {
        let state = self.state.read();
        let mut docs =
            Vec::with_capacity(state.tracks.len() + state.albums.len() + state.artists.len());
        docs.extend(state.tracks.values().map(|t| track_doc(t)));
        docs.extend(state.albums.values().map(album_doc));
        docs.extend(state.artists.values().map(artist_doc));
        self.search.upsert_many(docs);
    }

    /// The track at a media path, if catalogued.
    pub fn track_at(&self, folder: &str, rel: &[u8]) -> Option<Arc<Track>> {
        let state = self.state.read();
        let id = state.by_path.get(&(folder.to_owned(), rel.to_vec()))?;
        state.tracks.get(id).cloned()
    }

    /// Every catalogued file under `folder`: path -> (id, size, mtime).
    pub fn files_in(&self, folder: &str) -> HashMap<Vec<u8>, (TrackId, u64, i128)> {
        let state = self.state.read();
        state
            .tracks
            .values()
            .filter(|t| t.file.folder == folder)
            .map(|t| (t.file.rel.clone(), (t.id, t.file.size, t.file.mtime_ns)))
            .collect()
    }

    /// Tracks whose fingerprint is `fp`.
    pub fn tracks_with_fingerprint(&self, fp: u64) -> Result<Vec<TrackId>> {
        Ok(self
            .fingerprints
            .scan_prefix(&fp)
            .map(|r| r.map(|((_, id), ())| id))
            .collect::<Result<_, _>>()?)
    }

    /// Adds a new track, or replaces the track `existing` (keeping its id) with the draft.
    pub fn upsert(&self, existing: Option<TrackId>, draft: TrackDraft) -> Result<Arc<Track>> {
        let old = existing.and_then(|id| self.state.read().tracks.get(&id).cloned());
        let t = now();
        let album_artist = album_artist_name(&draft.tags);
        let album_title = if draft.tags.album.is_empty() {
            "Unknown Album".to_owned()
        } else {
            draft.tags.album.clone()
        };
        let album_key = (fold(&album_artist), fold(&album_title));
        let mut artist_names: Vec<String> = draft.tags.artists.clone();
        if artist_names.is_empty() {
            artist_names.push("Unknown Artist".to_owned());
        }
        // Candidate ids are made outside the transaction: its closure may run more than once.
        let new_album = AlbumId::new();
        let new_artists: Vec<(String, ArtistId)> = artist_names
            .iter()
            .chain(std::iter::once(&album_artist))
            .map(|n| (fold(n), ArtistId::new()))
            .collect();
        let track_id = existing.unwrap_or_default();
        let file_key = (draft.file.folder.clone(), draft.file.rel.clone());
        let track = self
            .store
            .transaction(
                &[
                    &self.tracks,
                    &self.paths,
                    &self.fingerprints,
                    &self.album_keys,
                    &self.artist_keys,
                ],
                |tx| {
                    let artist_keys = tx.table(&self.artist_keys);
                    let mut ids = Vec::with_capacity(new_artists.len());
                    for (key, candidate) in &new_artists {
                        ids.push(match artist_keys.get(key)? {
                            Some(id) => id,
                            None => {
                                artist_keys.insert(key, candidate)?;
                                *candidate
                            }
                        });
                    }
                    let album_artist_id = ids.pop().expect("album artist id");
                    let album_keys = tx.table(&self.album_keys);
                    let album_id = match album_keys.get(&album_key)? {
                        Some(id) => id,
                        None => {
                            album_keys.insert(&album_key, &new_album)?;
                            new_album
                        }
                    };
                    let paths = tx.table(&self.paths);
                    let fps = tx.table(&self.fingerprints);
                    if let Some(old) = &old {
                        paths.remove(&(old.file.folder.clone(), old.file.rel.clone()))?;
                        fps.remove(&(old.file.fingerprint, old.id))?;
                    }
                    paths.insert(&file_key, &track_id)?;
                    fps.insert(&(draft.file.fingerprint, track_id), &())?;
                    let track = Track {
                        id: track_id,
                        file: draft.file.clone(),
                        audio: draft.audio.clone(),
                        tags: draft.tags.clone(),
                        album_id,
                        artist_ids: ids,
                        album_artist_id,
                        embedded_cover: draft.embedded_cover,
                        added_at: old.as_ref().map_or(t, |o| o.added_at),
                        updated_at: t,
                    };
                    tx.table(&self.tracks).insert(&track_id, &track)?;
                    Ok(track)
                },
            )
            .map_err(tx_err)?;
        let track = Arc::new(track);
        let touched = {
            let mut state = self.state.write();
            let mut touched = Touched::default();
            if let Some(old) = &old {
                touched.merge(state.remove(old.id));
            }
            touched.merge(state.add(track.clone()));
            touched
        };
        self.reindex(&touched, Some(&track), old.as_ref().map(|o| o.id));
        Ok(track)
    }

    /// Removes a track from the catalog.
    pub fn remove(&self, id: TrackId) -> Result<()> {
        let Some(old) = self.state.read().tracks.get(&id).cloned() else {
            return Ok(());
        };
        self.store
            .transaction(&[&self.tracks, &self.paths, &self.fingerprints], |tx| {
                tx.table(&self.tracks).remove(&id)?;
                tx.table(&self.paths)
                    .remove(&(old.file.folder.clone(), old.file.rel.clone()))?;
                tx.table(&self.fingerprints)
                    .remove(&(old.file.fingerprint, id))?;
                Ok::<_, TxError<Error>>(())
            })
            .map_err(tx_err)?;
        let touched = self.state.write().remove(id);
        self.reindex(&touched, None, Some(id));
        Ok(())
    }

    fn reindex(&self, touched: &Touched, track: Option<&Arc<Track>>, removed: Option<TrackId>) {
        if let Some(id) = removed {
            if track.is_none_or(|t| t.id != id) {
                self.search.remove(Kind::Track, id.as_uuid().as_u128());
            }
        }
        if let Some(t) = track {
            self.search.upsert(track_doc(t));
        }
        let state = self.state.read();
        for id in &touched.albums {
            match state.albums.get(id) {
                Some(a) => self.search.upsert(album_doc(a)),
                None => self.search.remove(Kind::Album, id.as_uuid().as_u128()),
            }
        }
        for id in &touched.artists {
            match state.artists.get(id) {
                Some(a) => self.search.upsert(artist_doc(a)),
                None => self.search.remove(Kind::Artist, id.as_uuid().as_u128()),
            }
        }
    }

    /// Makes the catalog's writes durable.
    pub async fn flush(&self) -> Result<()> {
        Ok(self.store.flush().await?)
    }

    /// Makes the catalog's writes durable, from a blocking thread.
    pub fn flush_blocking(&self) -> Result<()> {
        Ok(self.store.flush_blocking()?)
    }

    /// Number of tracks, albums and artists.
    pub fn counts(&self) -> (usize, usize, usize) {
        let s = self.state.read();
        (s.tracks.len(), s.albums.len(), s.artists.len())
    }

    /// The search index.
    pub fn search_index(&self) -> &SearchIndex {
        &self.search
    }
}

/// Albums and artists that appeared or may have disappeared, whose search entries need a look.
/// Their indexed text (names) never changes while they exist, so nothing else is reindexed.
#[derive(Default)]
struct Touched {
    albums: HashSet<AlbumId>,
    artists: HashSet<ArtistId>,
}

impl Touched {
    fn merge(&mut self, other: Touched) {
        self.albums.extend(other.albums);
        self.artists.extend(other.artists);
    }
}

fn track_doc(t: &Track) -> Doc {
    let mut secondary = t.tags.artists.clone();
    secondary.push(t.tags.album.clone());
    Doc {
        kind: Kind::Track,
        id: t.id.as_uuid().as_u128(),
        name: t.tags.title.clone(),
        secondary,
        popularity: 0,
    }
}

fn album_doc(a: &Album) -> Doc {
    Doc {
        kind: Kind::Album,
        id: a.id.as_uuid().as_u128(),
        name: a.title.clone(),
        secondary: vec![a.artist_name.clone()],
        popularity: 0,
    }
}

fn artist_doc(a: &Artist) -> Doc {
    Doc {
        kind: Kind::Artist,
        id: a.id.as_uuid().as_u128(),
        name: a.name.clone(),
        secondary: Vec::new(),
        popularity: 0,
    }
}

impl State {
    fn artist_entry(&mut self, id: ArtistId, name: &str, at: UnixTime) -> &mut Artist {
        self.artists.entry(id).or_insert_with(|| Artist {
            id,
            name: name.to_owned(),
            albums: BTreeSet::new(),
            tracks: HashSet::new(),
            added_at: at,
        })
    }

    fn add(&mut self, t: Arc<Track>) -> Touched {
        let mut touched = Touched::default();
        self.by_path
            .insert((t.file.folder.clone(), t.file.rel.clone()), t.id);
        let names = if t.tags.artists.is_empty() {
            vec!["Unknown Artist".to_owned()]
        } else {
            t.tags.artists.clone()
        };
        for (id, name) in t.artist_ids.iter().zip(names.iter()) {
            if !self.artists.contains_key(id) {
                touched.artists.insert(*id);
            }
            self.artist_entry(*id, name, t.added_at).tracks.insert(t.id);
        }
        let album_artist = album_artist_name(&t.tags);
        if !self.artists.contains_key(&t.album_artist_id) {
            touched.artists.insert(t.album_artist_id);
        }
        self.artist_entry(t.album_artist_id, &album_artist, t.added_at)
            .albums
            .insert(t.album_id);
        let album = self.albums.entry(t.album_id).or_insert_with(|| Album {
            id: t.album_id,
            title: if t.tags.album.is_empty() {
                "Unknown Album".to_owned()
            } else {
                t.tags.album.clone()
            },
            artist_id: t.album_artist_id,
            artist_name: album_artist.clone(),
            year: None,
            genres: BTreeSet::new(),
            tracks: BTreeSet::new(),
            duration_ms: 0,
            added_at: t.added_at,
            compilation: t.tags.compilation,
            formats: BTreeSet::new(),
        });
        let is_new_album = album.tracks.is_empty();
        album.tracks.insert((
            t.tags.disc_number.unwrap_or(1),
            t.tags.track_number.unwrap_or(0),
            t.id,
        ));
        // Aggregates grow with each track rather than being recomputed: an album of
        // thousands of tracks must not make each addition cost thousands of steps.
        album.duration_ms += t.audio.duration_ms;
        album.year = match (album.year, t.tags.year) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        album.genres.extend(t.tags.genres.iter().cloned());
        album.formats.insert(t.audio.container.clone());
        album.added_at = album.added_at.min(t.added_at);
        if is_new_album {
            touched.albums.insert(t.album_id);
        }
        self.tracks.insert(t.id, t.clone());
        self.generation += 1;
        touched
    }

    fn remove(&mut self, id: TrackId) -> Touched {
        let mut touched = Touched::default();
        let Some(t) = self.tracks.remove(&id) else {
            return touched;
        };
        self.generation += 1;
        self.by_path
            .remove(&(t.file.folder.clone(), t.file.rel.clone()));
        for a in &t.artist_ids {
            if let Some(artist) = self.artists.get_mut(a) {
                artist.tracks.remove(&id);
            }
            touched.artists.insert(*a);
        }
        if let Some(album) = self.albums.get_mut(&t.album_id) {
            album.tracks.retain(|(_, _, tid)| *tid != id);
            if album.tracks.is_empty() {
                self.albums.remove(&t.album_id);
                if let Some(artist) = self.artists.get_mut(&t.album_artist_id) {
                    artist.albums.remove(&t.album_id);
                }
            } else {
                self.refresh_album(t.album_id);
            }
        }
        touched.albums.insert(t.album_id);
        touched.artists.insert(t.album_artist_id);
        for a in &touched.artists {
            if self
                .artists
                .get(a)
                .is_some_and(|x| x.tracks.is_empty() && x.albums.is_empty())
            {
                self.artists.remove(a);
            }
        }
        touched
    }

    fn refresh_album(&mut self, id: AlbumId) {
        let Some(album) = self.albums.get(&id) else {
            return;
        };
        let tracks: Vec<Arc<Track>> = album
            .tracks
            .iter()
            .filter_map(|(_, _, t)| self.tracks.get(t).cloned())
            .collect();
        let album = self.albums.get_mut(&id).expect("album present");
        album.duration_ms = tracks.iter().map(|t| t.audio.duration_ms).sum();
        album.year = tracks.iter().filter_map(|t| t.tags.year).min();
        album.genres = tracks
            .iter()
            .flat_map(|t| t.tags.genres.iter().cloned())
            .collect();
        album.formats = tracks.iter().map(|t| t.audio.container.clone()).collect();
        album.added_at = tracks
            .iter()
            .map(|t| t.added_at)
            .min()
            .unwrap_or(album.added_at);
    }
}
