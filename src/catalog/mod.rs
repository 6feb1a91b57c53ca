//! The catalog: tracks in the store, and albums, artists and genres derived from them in
//! memory, kept in step with every write so lists and details are answered without touching
//! the disk. The search index is updated in the same step.
//!
//! Memory holds a compact [`TrackRow`] per track (what lists, filters, sorting and the scanner
//! need); the full record with every tag stays in the store and is read for a track's detail.
//! Readers borrow rows under a read lock through a [`Reader`], so a list page copies nothing
//! but what goes on the wire.

pub mod search;
mod views;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;
use parking_lot::RwLock;
use smallvec::SmallVec;

use self::search::{fold, Doc, Kind, SearchIndex};
pub use self::views::{
    AlbumSort, ArtistSort, GenreView, ListQuery, Page, Reader, TrackRef, TrackSort,
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
    /// The album the track belongs to, when its owner decides it (uploads); `None` groups it
    /// by album artist and title, as the media folders are.
    pub album_id: Option<AlbumId>,
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
    pub genres: BTreeSet<Arc<str>>,
    /// Tracks in disc and track order.
    pub tracks: BTreeSet<(u32, u32, TrackId)>,
    /// Sum of track durations.
    pub duration_ms: u64,
    /// When its first track arrived.
    pub added_at: UnixTime,
    /// Whether it groups under Various Artists.
    pub compilation: bool,
    /// Audio formats (containers) of its tracks.
    pub formats: BTreeSet<Arc<str>>,
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

/// What memory keeps of a track: enough for lists, filters, sorting, artwork and the scanner,
/// in 240 bytes plus its title and path. Every other tag is in the stored [`Track`].
#[derive(Debug)]
pub struct TrackRow {
    /// Stable id.
    pub id: TrackId,
    /// Title.
    pub title: Box<str>,
    /// Performing artists, in tag order. Most tracks have one, kept in the row itself.
    pub artist_ids: SmallVec<[ArtistId; 1]>,
    /// Its album.
    pub album_id: AlbumId,
    /// The album artist (Various Artists for compilations).
    pub album_artist_id: ArtistId,
    /// Track number on its disc.
    pub track_number: Option<u32>,
    /// Disc number.
    pub disc_number: Option<u32>,
    /// Release year.
    pub year: Option<i32>,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// Genres, shared with every other track that has them. Most tracks have one, kept in the
    /// row itself.
    pub genres: SmallVec<[Arc<str>; 1]>,
    /// Container format (`flac`, `mp3`, ...), shared.
    pub format: Arc<str>,
    /// When the track entered the catalog.
    pub added_at: UnixTime,
    /// Whether the file embeds a picture.
    pub embedded_cover: bool,
    /// Media folder, shared.
    pub folder: Arc<str>,
    /// Path inside the folder, raw bytes.
    pub rel: Box<[u8]>,
    /// File size when scanned.
    pub size: u64,
    /// File modification time when scanned, nanoseconds.
    pub mtime_ns: i128,
    /// Content fingerprint.
    pub fingerprint: u64,
}

/// A map keyed by id. Every song in a list or an answer looks up its album and artists, so
/// these maps use a fast hash (seeded per process, as an id's bits could be chosen through a
/// name) instead of SipHash.
type IdMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Track rows packed in one vector, found by id or by path through two tables of row indexes.
/// The id and the path live once, in the row: a map keyed by them would hold a copy of each
/// and leave an eighth or more of its buckets empty, and a map holding the rows would do that
/// with row-sized buckets. Here an entry is four bytes.
#[derive(Default)]
struct Rows {
    rows: Vec<TrackRow>,
    /// Row indexes by the hash of the row's id.
    by_id: HashTable<u32>,
    /// Row indexes by the hash of the row's (folder, path).
    by_path: HashTable<u32>,
    hash: RowHashers,
}

/// How the two tables hash: a row's entries are rehashed from the row as the tables grow.
#[derive(Default)]
struct RowHashers {
    id: foldhash::fast::RandomState,
    path: std::hash::RandomState,
}

impl RowHashers {
    fn id(&self, id: &TrackId) -> u64 {
        self.id.hash_one(id)
    }

    fn path(&self, folder: &str, rel: &[u8]) -> u64 {
        self.path.hash_one((folder, rel))
    }

    /// A row's two hashes, for its entries in the id and the path table.
    fn row(&self, r: &TrackRow) -> (u64, u64) {
        (self.id(&r.id), self.path(&r.folder, &r.rel))
    }

    /// Rehashes the id table's entries from `rows`.
    fn id_of<'a>(&'a self, rows: &'a [TrackRow]) -> impl Fn(&u32) -> u64 + 'a {
        move |&j| self.id(&rows[j as usize].id)
    }

    /// Rehashes the path table's entries from `rows`.
    fn path_of<'a>(&'a self, rows: &'a [TrackRow]) -> impl Fn(&u32) -> u64 + 'a {
        move |&j| self.row(&rows[j as usize]).1
    }
}

impl Rows {
    fn index_of(&self, id: &TrackId) -> Option<usize> {
        let rows = &self.rows;
        (self.by_id)
            .find(self.hash.id(id), |&i| rows[i as usize].id == *id)
            .map(|&i| i as usize)
    }

    fn get(&self, id: &TrackId) -> Option<&TrackRow> {
        self.index_of(id).map(|i| &self.rows[i])
    }

    fn find_path(&self, folder: &str, rel: &[u8]) -> Option<&TrackRow> {
        let rows = &self.rows;
        let at_path = |i: &u32| {
            let r = &rows[*i as usize];
            &*r.folder == folder && &*r.rel == rel
        };
        (self.by_path)
            .find(self.hash.path(folder, rel), at_path)
            .map(|&i| &rows[i as usize])
    }

    /// Adds the row, or replaces the row with its id.
    fn insert(&mut self, row: TrackRow) {
        let i = match self.index_of(&row.id) {
            Some(i) => {
                self.unlink(i);
                self.rows[i] = row;
                i
            }
            None => {
                self.rows.push(row);
                self.rows.len() - 1
            }
        };
        let (id_hash, path_hash) = self.hash.row(&self.rows[i]);
        (self.by_id).insert_unique(id_hash, i as u32, self.hash.id_of(&self.rows));
        (self.by_path).insert_unique(path_hash, i as u32, self.hash.path_of(&self.rows));
    }

    fn remove(&mut self, id: &TrackId) -> Option<TrackRow> {
        let i = self.index_of(id)?;
        self.unlink(i);
        let last = self.rows.len() - 1;
        if i != last {
            // The last row moves into the hole: its entries must say where it went.
            let (id_hash, path_hash) = self.hash.row(&self.rows[last]);
            for (table, hash) in [(&mut self.by_id, id_hash), (&mut self.by_path, path_hash)] {
                if let Some(at) = table.find_mut(hash, |&j| j as usize == last) {
                    *at = i as u32;
                }
            }
        }
        Some(self.rows.swap_remove(i))
    }

    fn unlink(&mut self, i: usize) {
        let (id_hash, path_hash) = self.hash.row(&self.rows[i]);
        for (table, hash) in [(&mut self.by_id, id_hash), (&mut self.by_path, path_hash)] {
            if let Ok(entry) = table.find_entry(hash, |&j| j as usize == i) {
                entry.remove();
            }
        }
    }

    fn values(&self) -> std::slice::Iter<'_, TrackRow> {
        self.rows.iter()
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    /// Gives back the room a burst of additions left behind (vectors and tables double as
    /// they grow).
    fn shrink_to_fit(&mut self) {
        self.rows.shrink_to_fit();
        self.by_id.shrink_to_fit(self.hash.id_of(&self.rows));
        self.by_path.shrink_to_fit(self.hash.path_of(&self.rows));
    }
}

#[derive(Default)]
struct State {
    tracks: Rows,
    /// Genre, format and folder names, one allocation each however many rows hold them.
    symbols: HashSet<Arc<str>>,
    albums: IdMap<AlbumId, Album>,
    artists: IdMap<ArtistId, Artist>,
    /// Bumped on every change, so cached list orders know when they are stale.
    generation: u64,
    /// All-time plays of the items that have any, which search ranks by among equal matches.
    /// Kept here, apart from the rows, so that an item reindexed after a change (a retagged
    /// track, an album gaining a track) keeps its place.
    popularity: HashMap<(Kind, u128), u64>,
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
                state.add(&track);
            }
        }
        catalog.reindex_all();
        catalog.shrink();
        Ok(catalog)
    }

    fn reindex_all(&self) {
        // In chunks, so the folded copies of a large library's names never all exist at once.
        const CHUNK: usize = 4096;
        let state = self.state.read();
        let docs = (state.tracks.values().map(|t| state.track_doc(t)))
            .chain(state.albums.values().map(|a| state.album_doc(a)))
            .chain(state.artists.values().map(|a| state.artist_doc(a)));
        let mut chunk = Vec::with_capacity(CHUNK);
        for doc in docs {
            chunk.push(doc);
            if chunk.len() == CHUNK {
                self.search.upsert_many(std::mem::take(&mut chunk));
            }
        }
        self.search.upsert_many(chunk);
    }

    /// The track catalogued at a media path, with the file's size and mtime when scanned.
    pub fn file_state(&self, folder: &str, rel: &[u8]) -> Option<(TrackId, u64, i128)> {
        let state = self.state.read();
        let id = state.find_path(folder, rel)?;
        state.tracks.get(&id).map(|t| (id, t.size, t.mtime_ns))
    }

    /// Every track catalogued under `folder`.
    pub fn ids_in(&self, folder: &str) -> Vec<TrackId> {
        let state = self.state.read();
        state
            .tracks
            .values()
            .filter(|t| &*t.folder == folder)
            .map(|t| t.id)
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

    /// Writes every draft under its id (adding or replacing) and removes `removed`, in one
    /// transaction: a crash leaves all of it or none. Rows are all removed before any is added,
    /// so an album or artist whose every track is rewritten takes its new name.
    pub fn replace_many(
        &self,
        drafts: Vec<(TrackId, TrackDraft)>,
        removed: &[TrackId],
    ) -> Result<()> {
        let olds: Vec<Option<OldFile>> = {
            let state = self.state.read();
            drafts
                .iter()
                .map(|(id, _)| *id)
                .chain(removed.iter().copied())
                .map(|id| {
                    state.tracks.get(&id).map(|t| OldFile {
                        id,
                        key: (t.folder.to_string(), t.rel.to_vec()),
                        fingerprint: t.fingerprint,
                        added_at: t.added_at,
                    })
                })
                .collect()
        };
        let t = now();
        // Candidate ids are made outside the transaction: its closure may run more than once.
        let plans: Vec<Plan> = drafts
            .into_iter()
            .map(|(id, draft)| Plan::new(id, draft))
            .collect();
        let tracks = self
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
                    let paths = tx.table(&self.paths);
                    let fps = tx.table(&self.fingerprints);
                    let stored = tx.table(&self.tracks);
                    for old in olds.iter().flatten() {
                        paths.remove(&old.key)?;
                        fps.remove(&(old.fingerprint, old.id))?;
                        stored.remove(&old.id)?;
                    }
                    let artist_keys = tx.table(&self.artist_keys);
                    let album_keys = tx.table(&self.album_keys);
                    let mut out = Vec::with_capacity(plans.len());
                    for (plan, old) in plans.iter().zip(&olds) {
                        let mut ids = Vec::with_capacity(plan.new_artists.len());
                        for (key, candidate) in &plan.new_artists {
                            ids.push(match artist_keys.get(key)? {
                                Some(id) => id,
                                None => {
                                    artist_keys.insert(key, candidate)?;
                                    *candidate
                                }
                            });
                        }
                        let album_artist_id = ids.pop().expect("album artist id");
                        let draft = &plan.draft;
                        let album_id = match draft.album_id {
                            Some(id) => id,
                            None => match album_keys.get(&plan.album_key)? {
                                Some(id) => id,
                                None => {
                                    album_keys.insert(&plan.album_key, &plan.new_album)?;
                                    plan.new_album
                                }
                            },
                        };
                        let file_key = (draft.file.folder.clone(), draft.file.rel.clone());
                        paths.insert(&file_key, &plan.id)?;
                        fps.insert(&(draft.file.fingerprint, plan.id), &())?;
                        let track = Track {
                            id: plan.id,
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
                        stored.insert(&plan.id, &track)?;
                        out.push(track);
                    }
                    Ok(out)
                },
            )
            .map_err(tx_err)?;
        let touched = {
            let mut state = self.state.write();
            let mut touched = Touched::default();
            for old in olds.iter().flatten() {
                touched.merge(state.remove(old.id));
            }
            for track in &tracks {
                touched.merge(state.add(track));
            }
            touched
        };
        for old in olds.iter().flatten() {
            if !tracks.iter().any(|t| t.id == old.id) {
                self.search.remove(Kind::Track, old.id.as_uuid().as_u128());
            }
        }
        for (i, track) in tracks.iter().enumerate() {
            // Albums and artists are looked at once, with the last track.
            let touched = if i + 1 == tracks.len() {
                &touched
            } else {
                &Touched::default()
            };
            self.reindex(touched, Some(track.id));
        }
        if tracks.is_empty() {
            self.reindex(&touched, None);
        }
        Ok(())
    }

    /// Reserves the artist name `name` (folded) for the artist `id`. `Ok(None)` when the name
    /// is now, or already was, `id`'s; `Ok(Some(other))` when another artist holds it.
    pub fn claim_artist_name(&self, name: &str, id: ArtistId) -> Result<Option<ArtistId>> {
        let key = fold(name);
        self.store
            .transaction(&[&self.artist_keys], |tx| {
                let keys = tx.table(&self.artist_keys);
                match keys.get(&key)? {
                    Some(other) if other != id => Ok(Some(other)),
                    Some(_) => Ok(None),
                    None => {
                        keys.insert(&key, &id)?;
                        Ok::<_, TxError<Error>>(None)
                    }
                }
            })
            .map_err(tx_err)
    }

    fn reindex(&self, touched: &Touched, track: Option<TrackId>) {
        let state = self.state.read();
        if let Some(t) = track.and_then(|id| state.tracks.get(&id)) {
            self.search.upsert(state.track_doc(t));
        }
        for id in &touched.albums {
            match state.albums.get(id) {
                Some(a) => self.search.upsert(state.album_doc(a)),
                None => self.search.remove(Kind::Album, id.as_uuid().as_u128()),
            }
        }
        for id in &touched.artists {
            match state.artists.get(id) {
                Some(a) => self.search.upsert(state.artist_doc(a)),
                None => self.search.remove(Kind::Artist, id.as_uuid().as_u128()),
            }
        }
    }

    /// Releases memory left spare by many additions (after a scan).
    pub fn shrink(&self) {
        self.state.write().shrink_to_fit();
        self.search.shrink_to_fit();
    }

    /// Makes the catalog's writes durable.
    pub async fn flush(&self) -> Result<()> {
        Ok(self.store.flush().await?)
    }

    /// Makes the catalog's writes durable, from a blocking thread.
    pub fn flush_blocking(&self) -> Result<()> {
        Ok(self.store.flush_blocking()?)
    }

    /// Sets the all-time plays of items of one kind, which search lists first among equal
    /// matches. Items not in the catalog keep theirs for when they are.
    pub fn set_popularity(&self, kind: Kind, plays: impl IntoIterator<Item = (uuid::Uuid, u64)>) {
        let mut state = self.state.write();
        for (id, n) in plays {
            let id = id.as_u128();
            if n == 0 {
                state.popularity.remove(&(kind, id));
            } else {
                state.popularity.insert((kind, id), n);
            }
            self.search.set_popularity(kind, id, n);
        }
    }

    /// The search index.
    pub fn search_index(&self) -> &SearchIndex {
        &self.search
    }
}

/// What a write needs of the row it replaces or removes.
struct OldFile {
    id: TrackId,
    key: (String, Vec<u8>),
    fingerprint: u64,
    added_at: UnixTime,
}

/// What a write of one draft needs, made before its transaction.
struct Plan {
    id: TrackId,
    draft: TrackDraft,
    album_key: (String, String),
    new_album: AlbumId,
    /// (folded name, candidate id) of each performing artist, then of the album artist.
    new_artists: Vec<(String, ArtistId)>,
}

impl Plan {
    fn new(id: TrackId, draft: TrackDraft) -> Self {
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
        let new_artists = artist_names
            .iter()
            .chain(std::iter::once(&album_artist))
            .map(|n| (fold(n), ArtistId::new()))
            .collect();
        Plan {
            id,
            draft,
            album_key,
            new_album: AlbumId::new(),
            new_artists,
        }
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

impl State {
    fn popularity(&self, kind: Kind, id: u128) -> u64 {
        self.popularity.get(&(kind, id)).copied().unwrap_or(0)
    }

    fn album_doc(&self, a: &Album) -> Doc {
        let id = a.id.as_uuid().as_u128();
        Doc {
            kind: Kind::Album,
            id,
            name: a.title.clone(),
            secondary: vec![a.artist_name.clone()],
            popularity: self.popularity(Kind::Album, id),
        }
    }

    fn artist_doc(&self, a: &Artist) -> Doc {
        let id = a.id.as_uuid().as_u128();
        Doc {
            kind: Kind::Artist,
            id,
            name: a.name.clone(),
            secondary: Vec::new(),
            popularity: self.popularity(Kind::Artist, id),
        }
    }

    /// Gives back what growing left spare: vectors and maps double as they grow.
    fn shrink_to_fit(&mut self) {
        self.tracks.shrink_to_fit();
        self.symbols.shrink_to_fit();
        self.albums.shrink_to_fit();
        self.artists.shrink_to_fit();
        for artist in self.artists.values_mut() {
            artist.tracks.shrink_to_fit();
        }
    }

    fn find_path(&self, folder: &str, rel: &[u8]) -> Option<TrackId> {
        self.tracks.find_path(folder, rel).map(|t| t.id)
    }

    fn symbol(&mut self, name: &str) -> Arc<str> {
        if let Some(s) = self.symbols.get(name) {
            return Arc::clone(s);
        }
        let s: Arc<str> = name.into();
        self.symbols.insert(Arc::clone(&s));
        s
    }

    fn track_doc(&self, t: &TrackRow) -> Doc {
        let mut secondary: Vec<String> = t
            .artist_ids
            .iter()
            .filter_map(|a| self.artists.get(a).map(|a| a.name.clone()))
            .collect();
        if let Some(album) = self.albums.get(&t.album_id) {
            secondary.push(album.title.clone());
        }
        let id = t.id.as_uuid().as_u128();
        Doc {
            kind: Kind::Track,
            id,
            name: t.title.to_string(),
            secondary,
            popularity: self.popularity(Kind::Track, id),
        }
    }

    fn artist_entry(&mut self, id: ArtistId, name: &str, at: UnixTime) -> &mut Artist {
        self.artists.entry(id).or_insert_with(|| Artist {
            id,
            name: name.to_owned(),
            albums: BTreeSet::new(),
            tracks: HashSet::new(),
            added_at: at,
        })
    }

    fn add(&mut self, t: &Track) -> Touched {
        let mut touched = Touched::default();
        let unknown = ["Unknown Artist".to_owned()];
        let names = if t.tags.artists.is_empty() {
            &unknown[..]
        } else {
            &t.tags.artists[..]
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
        let genres: SmallVec<[Arc<str>; 1]> =
            t.tags.genres.iter().map(|g| self.symbol(g)).collect();
        let format = self.symbol(&t.audio.container);
        let folder = self.symbol(&t.file.folder);
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
        album.genres.extend(genres.iter().cloned());
        album.formats.insert(Arc::clone(&format));
        album.added_at = album.added_at.min(t.added_at);
        if is_new_album {
            touched.albums.insert(t.album_id);
        }
        let row = TrackRow {
            id: t.id,
            title: t.tags.title.as_str().into(),
            artist_ids: t.artist_ids.iter().copied().collect(),
            album_id: t.album_id,
            album_artist_id: t.album_artist_id,
            track_number: t.tags.track_number,
            disc_number: t.tags.disc_number,
            year: t.tags.year,
            duration_ms: t.audio.duration_ms,
            genres,
            format,
            added_at: t.added_at,
            embedded_cover: t.embedded_cover,
            folder,
            rel: t.file.rel.as_slice().into(),
            size: t.file.size,
            mtime_ns: t.file.mtime_ns,
            fingerprint: t.file.fingerprint,
        };
        self.tracks.insert(row);
        self.generation += 1;
        touched
    }

    fn remove(&mut self, id: TrackId) -> Touched {
        let mut touched = Touched::default();
        let Some(t) = self.tracks.remove(&id) else {
            return touched;
        };
        self.generation += 1;
        for a in t.artist_ids.iter() {
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
        let Some(album) = self.albums.get_mut(&id) else {
            return;
        };
        let tracks: Vec<&TrackRow> = album
            .tracks
            .iter()
            .filter_map(|(_, _, t)| self.tracks.get(t))
            .collect();
        album.duration_ms = tracks.iter().map(|t| t.duration_ms).sum();
        album.year = tracks.iter().filter_map(|t| t.year).min();
        album.genres = tracks
            .iter()
            .flat_map(|t| t.genres.iter().cloned())
            .collect();
        album.formats = tracks.iter().map(|t| Arc::clone(&t.format)).collect();
        album.added_at = tracks
            .iter()
            .map(|t| t.added_at)
            .min()
            .unwrap_or(album.added_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: TrackId, title: &str) -> TrackRow {
        TrackRow {
            id,
            title: title.into(),
            artist_ids: SmallVec::new(),
            album_id: AlbumId::new(),
            album_artist_id: ArtistId::new(),
            track_number: None,
            disc_number: None,
            year: None,
            duration_ms: 0,
            genres: SmallVec::new(),
            format: "flac".into(),
            added_at: 0,
            embedded_cover: false,
            folder: "/music".into(),
            rel: title.as_bytes().into(),
            size: 0,
            mtime_ns: 0,
            fingerprint: 0,
        }
    }

    #[test]
    fn a_row_stays_small() {
        // A hundred thousand of them live in memory; one artist and one genre fit inline.
        assert!(std::mem::size_of::<TrackRow>() <= 240);
    }

    #[test]
    fn rows_stay_findable_as_others_are_removed_and_replaced() {
        let mut rows = Rows::default();
        let ids: Vec<TrackId> = (0..50).map(|_| TrackId::new()).collect();
        for (i, id) in ids.iter().enumerate() {
            rows.insert(row(*id, &format!("t{i}")));
        }
        // Removing from the front, middle and end moves the last row into each gap.
        for i in [0, 25, 49, 10] {
            assert_eq!(&*rows.remove(&ids[i]).unwrap().title, format!("t{i}"));
            assert!(rows.get(&ids[i]).is_none());
            assert!(rows
                .find_path("/music", format!("t{i}").as_bytes())
                .is_none());
            assert!(rows.remove(&ids[i]).is_none());
        }
        rows.insert(row(ids[3], "replaced"));
        rows.shrink_to_fit();
        assert_eq!(rows.len(), 46);
        let at_path = |rel: &str| rows.find_path("/music", rel.as_bytes()).map(|r| r.id);
        assert_eq!(at_path("t3"), None);
        assert_eq!(at_path("replaced"), Some(ids[3]));
        assert_eq!(
            rows.find_path("/elsewhere", b"replaced").map(|r| r.id),
            None
        );
        for (i, id) in ids.iter().enumerate() {
            match i {
                0 | 10 | 25 | 49 => assert!(rows.get(id).is_none()),
                3 => assert_eq!(&*rows.get(id).unwrap().title, "replaced"),
                _ => {
                    assert_eq!(&*rows.get(id).unwrap().title, format!("t{i}"));
                    assert_eq!(at_path(&format!("t{i}")), Some(*id));
                }
            }
        }
        assert_eq!(rows.values().count(), 46);
    }
}
