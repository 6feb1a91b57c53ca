//! Read side of the catalog: paginated, sorted, filtered lists and details, answered from
//! memory.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;

use super::search::fold;
use super::{Album, Artist, Catalog};
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

/// An artist with its albums and tracks.
#[derive(Debug, Clone)]
pub struct ArtistView {
    /// The artist.
    pub artist: Artist,
    /// Albums where the artist is the album artist, newest first.
    pub albums: Vec<Album>,
    /// The artist's tracks ranked for "top tracks".
    pub top_tracks: Vec<Arc<Track>>,
}

/// An album with its tracks in order.
#[derive(Debug, Clone)]
pub struct AlbumView {
    /// The album.
    pub album: Album,
    /// Tracks in disc and track order.
    pub tracks: Vec<Arc<Track>>,
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

/// Sorts by a precomputed folded key, then the raw name, then the id, so equal names keep a
/// stable order across pages.
fn sort_by_name<I: Ord + Copy>(mut keyed: Vec<(String, String, I)>) -> Vec<I> {
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, _, id)| id).collect()
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
    /// Artists, filtered and sorted.
    pub fn list_artists(&self, q: &ListQuery, sort: ArtistSort) -> Page<Artist> {
        let state = self.state.read();
        let order = {
            let mut cache = self.orders.inner.lock();
            let cache = cache.at(state.generation);
            cache
                .artists
                .entry(sort)
                .or_insert_with(|| {
                    Arc::new(match sort {
                        ArtistSort::Name => sort_by_name(
                            state
                                .artists
                                .values()
                                .map(|a| (fold(&a.name), a.name.clone(), a.id))
                                .collect(),
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
                        .is_some_and(|t| genre_matches(&t.tags.genres, g))
                })
            });
            genre_ok.then(|| a.clone())
        })
    }

    /// Albums, filtered and sorted.
    pub fn list_albums(&self, q: &ListQuery, sort: AlbumSort) -> Page<Album> {
        let state = self.state.read();
        let order = {
            let mut cache = self.orders.inner.lock();
            let cache = cache.at(state.generation);
            cache
                .albums
                .entry(sort)
                .or_insert_with(|| {
                    let by_name = || {
                        state
                            .albums
                            .values()
                            .map(|a| (fold(&a.title), a.title.clone(), a.id))
                            .collect::<Vec<_>>()
                    };
                    Arc::new(match sort {
                        AlbumSort::Name => sort_by_name(by_name()),
                        AlbumSort::Year => {
                            let mut v: Vec<_> = by_name()
                                .into_iter()
                                .map(|(f, t, id)| (state.albums[&id].year, f, t, id))
                                .collect();
                            v.sort_unstable();
                            v.into_iter().map(|(_, _, _, id)| id).collect()
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
            ok.then(|| a.clone())
        })
    }

    /// Tracks, filtered and sorted.
    pub fn list_tracks(&self, q: &ListQuery, sort: TrackSort) -> Page<Arc<Track>> {
        let state = self.state.read();
        let order = {
            let mut cache = self.orders.inner.lock();
            let cache = cache.at(state.generation);
            cache
                .tracks
                .entry(sort)
                .or_insert_with(|| {
                    let by_name = || {
                        state
                            .tracks
                            .values()
                            .map(|t| (fold(&t.tags.title), t.tags.title.clone(), t.id))
                            .collect::<Vec<_>>()
                    };
                    Arc::new(match sort {
                        TrackSort::Name => sort_by_name(by_name()),
                        TrackSort::Year => {
                            let mut v: Vec<_> = by_name()
                                .into_iter()
                                .map(|(f, t, id)| (state.tracks[&id].tags.year, f, t, id))
                                .collect();
                            v.sort_unstable();
                            v.into_iter().map(|(_, _, _, id)| id).collect()
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
                .is_none_or(|g| genre_matches(&t.tags.genres, g))
                && year_in(t.tags.year, q)
                && q.artist
                    .is_none_or(|id| t.artist_ids.contains(&id) || t.album_artist_id == id)
                && q.format
                    .as_ref()
                    .is_none_or(|f| t.audio.container.eq_ignore_ascii_case(f));
            ok.then(|| t.clone())
        })
    }

    /// One track.
    pub fn track(&self, id: TrackId) -> Result<Arc<Track>> {
        self.state
            .read()
            .tracks
            .get(&id)
            .cloned()
            .ok_or(Error::NotFound("track"))
    }

    /// One album with its tracks in disc and track order.
    pub fn album(&self, id: AlbumId) -> Result<AlbumView> {
        let state = self.state.read();
        let album = state
            .albums
            .get(&id)
            .ok_or(Error::NotFound("album"))?
            .clone();
        let tracks = album
            .tracks
            .iter()
            .filter_map(|(_, _, t)| state.tracks.get(t).cloned())
            .collect();
        Ok(AlbumView { album, tracks })
    }

    /// One artist with albums and top tracks.
    pub fn artist(&self, id: ArtistId, top: usize) -> Result<ArtistView> {
        let state = self.state.read();
        let artist = state
            .artists
            .get(&id)
            .ok_or(Error::NotFound("artist"))?
            .clone();
        let mut albums: Vec<Album> = artist
            .albums
            .iter()
            .filter_map(|a| state.albums.get(a).cloned())
            .collect();
        albums.sort_by(|a, b| {
            b.year
                .cmp(&a.year)
                .then_with(|| name_cmp(&a.title, &b.title))
        });
        // Until play counts exist, "top" favours tracks that lead their albums.
        let mut tracks: Vec<Arc<Track>> = artist
            .tracks
            .iter()
            .filter_map(|t| state.tracks.get(t).cloned())
            .collect();
        tracks.sort_by(|a, b| {
            a.tags
                .track_number
                .unwrap_or(u32::MAX)
                .cmp(&b.tags.track_number.unwrap_or(u32::MAX))
                .then_with(|| name_cmp(&a.tags.title, &b.tags.title))
        });
        tracks.truncate(top);
        Ok(ArtistView {
            artist,
            albums,
            top_tracks: tracks,
        })
    }

    /// Genres with track and album counts, by name.
    pub fn genres(&self) -> Vec<GenreView> {
        let state = self.state.read();
        let mut by_key: BTreeMap<String, GenreView> = BTreeMap::new();
        for t in state.tracks.values() {
            for g in &t.tags.genres {
                by_key
                    .entry(fold(g))
                    .or_insert_with(|| GenreView {
                        name: g.clone(),
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
    pub fn albums_by_id(&self, ids: &[AlbumId]) -> Vec<Album> {
        let state = self.state.read();
        ids.iter()
            .filter_map(|i| state.albums.get(i).cloned())
            .collect()
    }

    /// Artists by id, skipping unknown ids.
    pub fn artists_by_id(&self, ids: &[ArtistId]) -> Vec<Artist> {
        let state = self.state.read();
        ids.iter()
            .filter_map(|i| state.artists.get(i).cloned())
            .collect()
    }

    /// Tracks by id, skipping unknown ids.
    pub fn tracks_by_id(&self, ids: &[TrackId]) -> Vec<Arc<Track>> {
        let state = self.state.read();
        ids.iter()
            .filter_map(|i| state.tracks.get(i).cloned())
            .collect()
    }
}
