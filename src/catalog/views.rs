//! Read side of the catalog: paginated, sorted, filtered lists and details, answered from
//! memory through a [`Reader`] that borrows what it returns.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::{Mutex, RwLockReadGuard};

use super::search::{fold, fold_into};
use super::{Album, Artist, Catalog, State, TrackRow};
use crate::domain::{AlbumId, ArtistId, Track, TrackId};
use crate::error::{Error, Result};

/// A page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// This page's items.
    pub items: Vec<T>,
    /// Items matching the filters, over all pages.
    pub total: usize,
}

/// Filters and paging shared by the lists.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Items to skip.
    pub offset: usize,
    /// Page size.
    pub limit: usize,
    /// Only items with this genre (case- and accent-insensitive).
    pub genre: Option<String>,
    /// Only items from this year on.
    pub year_from: Option<i32>,
    /// Only items up to this year.
    pub year_to: Option<i32>,
    /// Only items by this artist.
    pub artist: Option<ArtistId>,
    /// Only items in this container format (`flac`, `mp3`, ...).
    pub format: Option<String>,
    /// Reverse the order.
    pub descending: bool,
}

/// Sorted id lists, rebuilt only after the catalog changed: sorting a hundred thousand
/// tracks by folded title on every request would cost far more than answering it.
#[derive(Default)]
pub(super) struct Orders {
    inner: Mutex<OrderCache>,
}

#[derive(Default)]
struct OrderCache {
    generation: u64,
    artists: HashMap<ArtistSort, Arc<Vec<ArtistId>>>,
    albums: HashMap<AlbumSort, Arc<Vec<AlbumId>>>,
    tracks: HashMap<TrackSort, Arc<Vec<TrackId>>>,
}

impl OrderCache {
    fn at(&mut self, generation: u64) -> &mut Self {
        if self.generation != generation {
            *self = OrderCache {
                generation,
                ..OrderCache::default()
            };
        }
        self
    }
}

/// Orders of the artist list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ArtistSort {
    /// By name.
    #[default]
    Name,
    /// Newest first when descending.
    DateAdded,
}

/// Orders of the album list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum AlbumSort {
    /// By title.
    #[default]
    Name,
    /// By year.
    Year,
    /// By the time the album arrived.
    DateAdded,
}

/// Orders of the track list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TrackSort {
    /// By title.
    #[default]
    Name,
    /// By year.
    Year,
    /// By the time the track arrived.
    DateAdded,
}

/// A genre and how much music carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenreView {
    /// Name as first seen.
    pub name: String,
    /// Tracks with it.
    pub tracks: usize,
    /// Albums with it.
    pub albums: usize,
}

/// Walks `order` (backwards when descending), keeps what `keep` accepts, and returns the
/// requested page with the count of all kept items.
fn page<I: Copy, T>(order: &[I], q: &ListQuery, mut keep: impl FnMut(I) -> Option<T>) -> Page<T> {
    let unfiltered = q.genre.is_none()
        && q.year_from.is_none()
        && q.year_to.is_none()
        && q.artist.is_none()
        && q.format.is_none();
    if unfiltered {
        // Every id in the order is kept (the order is rebuilt on any change), so the page is a
        // slice and the total is the length: no walk over the whole catalog.
        let ids: Box<dyn Iterator<Item = &I>> = if q.descending {
            Box::new(order.iter().rev())
        } else {
            Box::new(order.iter())
        };
        let items = ids
            .skip(q.offset)
            .take(q.limit)
            .filter_map(|i| keep(*i))
            .collect();
        return Page {
            items,
            total: order.len(),
        };
    }
    let mut items = Vec::with_capacity(q.limit.min(order.len()));
    let mut total = 0;
    let mut visit = |id: I| {
        if let Some(item) = keep(id) {
            if total >= q.offset && items.len() < q.limit {
                items.push(item);
            }
            total += 1;
        }
    };
    if q.descending {
        order.iter().rev().for_each(|i| visit(*i));
    } else {
        order.iter().for_each(|i| visit(*i));
    }
    Page { items, total }
}

/// Sorts ids by `first`, then the folded name, then the raw name, then the id, so equal names
/// keep a stable order across pages.
///
/// The folded names are written into one buffer and compared in place: a string apiece would
/// be a hundred thousand allocations for a large library, all freed together into a heap that
/// glibc then keeps resident.
fn sort_by_name<'a, F: Ord, I: Ord + Copy>(
    items: impl ExactSizeIterator<Item = (F, &'a str, I)>,
) -> Vec<I> {
    let mut folded = String::new();
    let mut keyed: Vec<(F, u32, u32, &str, I)> = Vec::with_capacity(items.len());
    for (first, name, id) in items {
        let start = folded.len();
        fold_into(name, &mut folded);
        keyed.push((first, start as u32, folded.len() as u32, name, id));
    }
    let key = |start: u32, end: u32| &folded[start as usize..end as usize];
    keyed.sort_unstable_by(|a, b| {
        (a.0.cmp(&b.0))
            .then_with(|| key(a.1, a.2).cmp(key(b.1, b.2)))
            .then_with(|| a.3.cmp(b.3))
            .then_with(|| a.4.cmp(&b.4))
    });
    keyed.into_iter().map(|k| k.4).collect()
}

fn same_text(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        fold(a) == fold(b)
    }
}

fn genre_matches(genres: impl IntoIterator<Item = impl AsRef<str>>, wanted: &str) -> bool {
    genres.into_iter().any(|g| same_text(g.as_ref(), wanted))
}

fn name_cmp(a: &str, b: &str) -> Ordering {
    fold(a).cmp(&fold(b)).then_with(|| a.cmp(b))
}

fn year_in(year: Option<i32>, q: &ListQuery) -> bool {
    match (q.year_from, q.year_to) {
        (None, None) => true,
        (from, to) => {
            year.is_some_and(|y| from.is_none_or(|f| y >= f) && to.is_none_or(|t| y <= t))
        }
    }
}

impl Catalog {
    /// A consistent view of the catalog for one request. It holds a read lock: build the
    /// response and drop it, never keep it across an `.await`.
    pub fn read(&self) -> Reader<'_> {
        Reader {
            state: self.state.read(),
            orders: &self.orders,
        }
    }

    /// Sorts the lists' default orders (by name) and the search's orders now, so that the
    /// first request after a scan does not wait for a hundred thousand names to be sorted,
    /// and the sorting's scratch memory is free before the scan gives memory back.
    pub fn prepare_orders(&self) {
        {
            let reader = self.read();
            let none = ListQuery::default();
            reader.list_tracks(&none, TrackSort::default());
            reader.list_albums(&none, AlbumSort::default());
            reader.list_artists(&none, ArtistSort::default());
        }
        self.search.prepare();
    }

    /// One track's full record, every tag included, from the store.
    pub fn track(&self, id: TrackId) -> Result<Track> {
        self.tracks.get(&id)?.ok_or(Error::NotFound("track"))
    }
}

/// The catalog as of one moment; see [`Catalog::read`].
pub struct Reader<'a> {
    state: RwLockReadGuard<'a, State>,
    orders: &'a Orders,
}

/// A track's row with the album and artist names it refers to.
#[derive(Clone, Copy)]
pub struct TrackRef<'a> {
    /// The row.
    pub row: &'a TrackRow,
    state: &'a State,
}

impl<'a> TrackRef<'a> {
    /// Its performing artists' names, in tag order.
    pub fn artist_names(&self) -> impl Iterator<Item = &'a str> + 'a {
        let state = self.state;
        self.row
            .artist_ids
            .iter()
            .map(move |a| state.artists.get(a).map_or("", |a| a.name.as_str()))
    }

    /// Its album's title.
    pub fn album_title(&self) -> &'a str {
        self.state
            .albums
            .get(&self.row.album_id)
            .map_or("", |a| a.title.as_str())
    }
}

impl std::ops::Deref for TrackRef<'_> {
    type Target = TrackRow;

    fn deref(&self) -> &TrackRow {
        self.row
    }
}

impl Reader<'_> {
    fn track_ref(&self, id: &TrackId) -> Option<TrackRef<'_>> {
        Some(TrackRef {
            row: self.state.tracks.get(id)?,
            state: &self.state,
        })
    }

    /// Number of tracks, albums and artists.
    pub fn counts(&self) -> (usize, usize, usize) {
        let s = &self.state;
        (s.tracks.len(), s.albums.len(), s.artists.len())
    }

    /// Artists, filtered and sorted.
    pub fn list_artists(&self, q: &ListQuery, sort: ArtistSort) -> Page<&Artist> {
        let state = &*self.state;
        let order = {
            let mut cache = self.orders.inner.lock();
            let cache = cache.at(state.generation);
            cache
                .artists
                .entry(sort)
                .or_insert_with(|| {
                    Arc::new(match sort {
                        ArtistSort::Name => sort_by_name(
                            (state.artists.values()).map(|a| ((), a.name.as_str(), a.id)),
                        ),
                        ArtistSort::DateAdded => {
                            let mut v: Vec<_> =
                                state.artists.values().map(|a| (a.added_at, a.id)).collect();
                            v.sort_unstable();
                            v.into_iter().map(|(_, id)| id).collect()
                        }
                    })
                })
                .clone()
        };
        page(&order, q, |id| {
            let a = state.artists.get(&id)?;
            let genre_ok = q.genre.as_ref().is_none_or(|g| {
                a.tracks.iter().any(|t| {
                    state
                        .tracks
                        .get(t)
                        .is_some_and(|t| genre_matches(t.genres.iter(), g))
                })
            });
            genre_ok.then_some(a)
        })
    }

    /// Albums, filtered and sorted.
    pub fn list_albums(&self, q: &ListQuery, sort: AlbumSort) -> Page<&Album> {
        let state = &*self.state;
        let order = {
            let mut cache = self.orders.inner.lock();
            let cache = cache.at(state.generation);
            cache
                .albums
                .entry(sort)
                .or_insert_with(|| {
                    let albums = || state.albums.values();
                    Arc::new(match sort {
                        AlbumSort::Name => {
                            sort_by_name(albums().map(|a| ((), a.title.as_str(), a.id)))
                        }
                        AlbumSort::Year => {
                            sort_by_name(albums().map(|a| (a.year, a.title.as_str(), a.id)))
                        }
                        AlbumSort::DateAdded => {
                            let mut v: Vec<_> =
                                state.albums.values().map(|a| (a.added_at, a.id)).collect();
                            v.sort_unstable();
                            v.into_iter().map(|(_, id)| id).collect()
                        }
                    })
                })
                .clone()
        };
        page(&order, q, |id| {
            let a = state.albums.get(&id)?;
            let ok = q.genre.as_ref().is_none_or(|g| genre_matches(&a.genres, g))
                && year_in(a.year, q)
                && q.artist.is_none_or(|id| a.artist_id == id)
                && q.format
                    .as_ref()
                    .is_none_or(|f| a.formats.iter().any(|x| x.eq_ignore_ascii_case(f)));
            ok.then_some(a)
        })
    }

    /// Tracks, filtered and sorted.
    pub fn list_tracks(&self, q: &ListQuery, sort: TrackSort) -> Page<TrackRef<'_>> {
        let state = &*self.state;
        let order = {
            let mut cache = self.orders.inner.lock();
            let cache = cache.at(state.generation);
            cache
                .tracks
                .entry(sort)
                .or_insert_with(|| {
                    let tracks = || state.tracks.values();
                    Arc::new(match sort {
                        TrackSort::Name => sort_by_name(tracks().map(|t| ((), &*t.title, t.id))),
                        TrackSort::Year => {
                            sort_by_name(tracks().map(|t| (t.year, &*t.title, t.id)))
                        }
                        TrackSort::DateAdded => {
                            let mut v: Vec<_> =
                                state.tracks.values().map(|t| (t.added_at, t.id)).collect();
                            v.sort_unstable();
                            v.into_iter().map(|(_, id)| id).collect()
                        }
                    })
                })
                .clone()
        };
        page(&order, q, |id| {
            let t = state.tracks.get(&id)?;
            let ok = q
                .genre
                .as_ref()
                .is_none_or(|g| genre_matches(t.genres.iter(), g))
                && year_in(t.year, q)
                && q.artist
                    .is_none_or(|id| t.artist_ids.contains(&id) || t.album_artist_id == id)
                && q.format
                    .as_ref()
                    .is_none_or(|f| t.format.eq_ignore_ascii_case(f));
            ok.then_some(TrackRef { row: t, state })
        })
    }

    /// One track's row.
    pub fn track(&self, id: TrackId) -> Result<TrackRef<'_>> {
        self.track_ref(&id).ok_or(Error::NotFound("track"))
    }

    /// One album.
    pub fn album(&self, id: AlbumId) -> Result<&Album> {
        self.state.albums.get(&id).ok_or(Error::NotFound("album"))
    }

    /// An album's tracks in disc and track order.
    pub fn album_tracks<'r>(&'r self, album: &'r Album) -> impl Iterator<Item = TrackRef<'r>> {
        album
            .tracks
            .iter()
            .filter_map(move |(_, _, t)| self.track_ref(t))
    }

    /// One artist.
    pub fn artist(&self, id: ArtistId) -> Result<&Artist> {
        self.state.artists.get(&id).ok_or(Error::NotFound("artist"))
    }

    /// Albums where the artist is the album artist, newest first.
    pub fn artist_albums(&self, artist: &Artist) -> Vec<&Album> {
        let mut albums: Vec<&Album> = artist
            .albums
            .iter()
            .filter_map(|a| self.state.albums.get(a))
            .collect();
        albums.sort_by(|a, b| {
            b.year
                .cmp(&a.year)
                .then_with(|| name_cmp(&a.title, &b.title))
        });
        albums
    }

    /// The artist's `top` tracks. Until play counts exist, "top" favours tracks that lead
    /// their albums.
    pub fn top_tracks(&self, artist: &Artist, top: usize) -> Vec<TrackRef<'_>> {
        let mut tracks: Vec<TrackRef<'_>> = artist
            .tracks
            .iter()
            .filter_map(|t| self.track_ref(t))
            .collect();
        tracks.sort_by(|a, b| {
            a.track_number
                .unwrap_or(u32::MAX)
                .cmp(&b.track_number.unwrap_or(u32::MAX))
                .then_with(|| name_cmp(&a.title, &b.title))
                .then_with(|| a.id.cmp(&b.id))
        });
        tracks.truncate(top);
        tracks
    }

    /// Genres with track and album counts, by name.
    pub fn genres(&self) -> Vec<GenreView> {
        let state = &self.state;
        let mut by_key: BTreeMap<String, GenreView> = BTreeMap::new();
        for t in state.tracks.values() {
            for g in t.genres.iter() {
                by_key
                    .entry(fold(g))
                    .or_insert_with(|| GenreView {
                        name: g.to_string(),
                        tracks: 0,
                        albums: 0,
                    })
                    .tracks += 1;
            }
        }
        for a in state.albums.values() {
            for g in &a.genres {
                if let Some(v) = by_key.get_mut(&fold(g)) {
                    v.albums += 1;
                }
            }
        }
        by_key.into_values().collect()
    }

    /// Albums by id, skipping unknown ids (for search results).
    pub fn albums_by_id(&self, ids: &[AlbumId]) -> Vec<&Album> {
        ids.iter()
            .filter_map(|i| self.state.albums.get(i))
            .collect()
    }

    /// Artists by id, skipping unknown ids.
    pub fn artists_by_id(&self, ids: &[ArtistId]) -> Vec<&Artist> {
        ids.iter()
            .filter_map(|i| self.state.artists.get(i))
            .collect()
    }

    /// A track whose title (and artist, when given) match regardless of case and accents,
    /// and whose duration is within two seconds of `duration_secs` when given; the closest
    /// in duration wins. For matching playlist entries from other players. Walks every track.
    pub fn find_track(
        &self,
        title: &str,
        artist: Option<&str>,
        duration_secs: Option<f64>,
    ) -> Option<TrackId> {
        let title = fold(title);
        let artist = artist.map(fold);
        let mut best: Option<(u64, TrackId)> = None;
        for row in self.state.tracks.values() {
            if fold(&row.title) != title {
                continue;
            }
            let t = TrackRef {
                row,
                state: &self.state,
            };
            if let Some(a) = &artist {
                if !t.artist_names().any(|n| &fold(n) == a) {
                    continue;
                }
            }
            let off = match duration_secs {
                Some(d) => {
                    let off = (row.duration_ms as f64 - d * 1000.0).abs();
                    if off > 2000.0 {
                        continue;
                    }
                    off as u64
                }
                None => 0,
            };
            if best.is_none_or(|(b, id)| (off, row.id) < (b, id)) {
                best = Some((off, row.id));
            }
        }
        best.map(|(_, id)| id)
    }

    /// Tracks by id, skipping unknown ids.
    pub fn tracks_by_id(&self, ids: &[TrackId]) -> Vec<TrackRef<'_>> {
        ids.iter().filter_map(|i| self.track_ref(i)).collect()
    }
}
