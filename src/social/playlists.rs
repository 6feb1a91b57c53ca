//! Playlists: their fields, ordered entries, collaborators, and who may see or change them.
//!
//! Entries are ordered by sparse `u64` position keys. Adding or moving an entry takes keys
//! between its new neighbours, so it writes only the rows it touches; when two neighbours
//! have no room left between them the playlist is renumbered once. Edits of one playlist are
//! serialised by a striped lock, so the neighbours read before the transaction are still the
//! neighbours when it commits.

use parking_lot::Mutex;

use super::model::{Entry, Playlist};
use crate::auth::Actor;
use crate::domain::{now, ArtistId, EntryId, PlaylistId, Role, TrackId, UserId};
use crate::error::{Error, Result};
use crate::store::tables::{
    ARTIST_PLAYLISTS, COLLABORATIONS, ENTRY_POSITIONS, PLAYLISTS, PLAYLIST_COLLABORATORS,
    PLAYLIST_ENTRIES, USER_PLAYLISTS,
};
use crate::store::{Store, Table, TxError};

/// Distance between consecutive position keys after a renumbering, and of appended entries.
const GAP: u64 = 1 << 32;
/// Stripes of the per-playlist lock; a power of two.
const STRIPES: usize = 64;
/// Most tracks added in one request.
pub const MAX_ADD: usize = 1000;
/// Longest name, in characters.
const MAX_NAME: usize = 200;
/// Longest description, in characters.
const MAX_DESCRIPTION: usize = 2000;

/// What a caller may do with a playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Nothing; the playlist is answered as not found.
    Hidden,
    /// See it and follow it.
    View,
    /// Also add, remove and reorder entries (collaborators of a collaborative playlist).
    Edit,
    /// Everything (its owner; admins, for moderation).
    Own,
}

/// A new playlist's fields.
#[derive(Debug, Clone, Default)]
pub struct NewPlaylist {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Public.
    pub public: bool,
    /// Collaborative.
    pub collaborative: bool,
    /// The artist profile it belongs to.
    pub artist: Option<ArtistId>,
}

/// Changes to a playlist's fields.
#[derive(Debug, Clone, Default)]
pub struct PlaylistEdit {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Public.
    pub public: Option<bool>,
    /// Collaborative.
    pub collaborative: Option<bool>,
}

/// An entry with its index in the playlist.
#[derive(Debug, Clone)]
pub struct Placed {
    /// Zero-based index.
    pub index: u64,
    /// The entry.
    pub entry: Entry,
}

/// The playlists' tables.
pub struct Playlists {
    store: Store,
    playlists: Table<PlaylistId, Playlist>,
    owned: Table<(UserId, PlaylistId), ()>,
    by_artist: Table<(ArtistId, PlaylistId), ()>,
    entries: Table<(PlaylistId, u64), Entry>,
    positions: Table<(PlaylistId, EntryId), u64>,
    collaborators: Table<(PlaylistId, UserId), i64>,
    collaborations: Table<(UserId, PlaylistId), ()>,
    stripes: Box<[Mutex<()>]>,
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(Error::invalid(
            "name",
            format!("must be 1 to {MAX_NAME} characters"),
        ));
    }
    Ok(name.to_owned())
}

fn check_description(d: &str) -> Result<String> {
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(Error::invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(d.trim().to_owned())
}

/// `k` position keys strictly between `prev` and `next` (either end open), evenly spread;
/// `None` when there is no room.
fn allocate(prev: Option<u64>, next: Option<u64>, k: u64) -> Option<Vec<u64>> {
    let lo = prev.unwrap_or(0);
    let hi = match next {
        Some(n) => n,
        None => lo.checked_add(GAP.checked_mul(k + 1)?)?,
    };
    let step = hi.checked_sub(lo)? / (k + 1);
    if step == 0 {
        return None;
    }
    Some((1..=k).map(|i| lo + step * i).collect())
}

fn tx_err(e: TxError<Error>) -> Error {
    e.flatten()
}

impl Playlists {
    /// Opens the trees.
    pub fn open(store: &Store) -> Result<Self> {
        Ok(Self {
            store: store.clone(),
            playlists: store.table(PLAYLISTS)?,
            owned: store.table(USER_PLAYLISTS)?,
            by_artist: store.table(ARTIST_PLAYLISTS)?,
            entries: store.table(PLAYLIST_ENTRIES)?,
            positions: store.table(ENTRY_POSITIONS)?,
            collaborators: store.table(PLAYLIST_COLLABORATORS)?,
            collaborations: store.table(COLLABORATIONS)?,
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        })
    }

    fn lock(&self, id: PlaylistId) -> parking_lot::MutexGuard<'_, ()> {
        self.stripes[(id.as_uuid().as_u128() as usize) & (STRIPES - 1)].lock()
    }

    /// A playlist, whoever may see it.
    pub fn get(&self, id: PlaylistId) -> Result<Playlist> {
        self.playlists.get(&id)?.ok_or(Error::NotFound("playlist"))
    }

    /// What `actor` may do with `p`.
    pub fn access(&self, actor: Option<&Actor>, p: &Playlist) -> Result<Access> {
        if let Some(a) = actor {
            if a.user_id == p.owner || a.role == Role::Admin {
                return Ok(Access::Own);
            }
            if self.collaborators.contains(&(p.id, a.user_id))? {
                return Ok(if p.collaborative {
                    Access::Edit
                } else {
                    Access::View
                });
            }
        }
        Ok(if p.public {
            Access::View
        } else {
            Access::Hidden
        })
    }

    /// The playlist if `actor` has at least `needed` access. A playlist the caller may not see
    /// is not found, so its existence does not leak; one they see but may not change is 403.
    pub fn with_access(
        &self,
        actor: Option<&Actor>,
        id: PlaylistId,
        needed: Access,
    ) -> Result<(Playlist, Access)> {
        let p = self.get(id)?;
        let access = self.access(actor, &p)?;
        if access == Access::Hidden {
            return Err(Error::NotFound("playlist"));
        }
        if access < needed {
            return Err(Error::Forbidden(match needed {
                Access::Own => "only the playlist's owner may do this".to_owned(),
                _ => {
                    "only the owner and collaborators may change this playlist's entries".to_owned()
                }
            }));
        }
        Ok((p, access))
    }

    /// Creates a playlist owned by `owner`. Blocking.
    pub fn create(&self, owner: UserId, new: NewPlaylist) -> Result<Playlist> {
        let t = now();
        let p = Playlist {
            id: PlaylistId::new(),
            owner,
            name: check_name(&new.name)?,
            description: check_description(&new.description)?,
            public: new.public || new.artist.is_some(),
            collaborative: new.collaborative && new.artist.is_none(),
            artist: new.artist,
            cover_mime: None,
            entry_count: 0,
            created_at: t,
            updated_at: t,
        };
        self.store
            .transaction(&[&self.playlists, &self.owned, &self.by_artist], |tx| {
                tx.table(&self.playlists).insert(&p.id, &p)?;
                tx.table(&self.owned).insert(&(owner, p.id), &())?;
                if let Some(artist) = p.artist {
                    tx.table(&self.by_artist).insert(&(artist, p.id), &())?;
                }
                Ok::<_, TxError<Error>>(())
            })
            .map_err(tx_err)?;
        Ok(p)
    }

    /// Changes a playlist's fields. Blocking.
    pub fn update(&self, id: PlaylistId, edit: PlaylistEdit) -> Result<Playlist> {
        let name = edit.name.as_deref().map(check_name).transpose()?;
        let description = edit
            .description
            .as_deref()
            .map(check_description)
            .transpose()?;
        let _one_at_a_time = self.lock(id);
        let mut p = self.get(id)?;
        if let Some(n) = name {
            p.name = n;
        }
        if let Some(d) = description {
            p.description = d;
        }
        // An artist's playlist is always public and never collaborative: it is their page.
        if let Some(public) = edit.public {
            p.public = public || p.artist.is_some();
        }
        if let Some(c) = edit.collaborative {
            p.collaborative = c && p.artist.is_none();
        }
        p.updated_at = now();
        self.playlists.insert(&id, &p)?;
        Ok(p)
    }

    /// Records a new cover's MIME type (`None`: back to the mosaic). Blocking.
    pub fn set_cover_mime(&self, id: PlaylistId, mime: Option<String>) -> Result<Playlist> {
        let _one_at_a_time = self.lock(id);
        let mut p = self.get(id)?;
        p.cover_mime = mime;
        p.updated_at = now();
        self.playlists.insert(&id, &p)?;
        Ok(p)
    }

    /// Deletes a playlist with its entries and collaborators. Blocking.
    pub fn delete(&self, id: PlaylistId) -> Result<Playlist> {
        let _one_at_a_time = self.lock(id);
        let p = self.get(id)?;
        // Entries go first, in chunks: a large playlist is more than one transaction should
        // hold. A crash part-way leaves a playlist with fewer entries, never stray entries
        // of a playlist that is gone.
        loop {
            let chunk: Vec<((PlaylistId, u64), Entry)> = self
                .entries
                .scan_prefix(&id)
                .take(1000)
                .collect::<Result<_, _>>()?;
            if chunk.is_empty() {
                break;
            }
            self.store
                .transaction(&[&self.entries, &self.positions, &self.playlists], |tx| {
                    for (key, e) in &chunk {
                        tx.table(&self.entries).remove(key)?;
                        tx.table(&self.positions).remove(&(id, e.id))?;
                    }
                    let pl = tx.table(&self.playlists);
                    if let Some(mut cur) = pl.get(&id)? {
                        cur.entry_count = cur.entry_count.saturating_sub(chunk.len() as u64);
                        pl.insert(&id, &cur)?;
                    }
                    Ok::<_, TxError<Error>>(())
                })
                .map_err(tx_err)?;
        }
        let collaborators = self.collaborators_of(id)?;
        self.store
            .transaction(
                &[
                    &self.playlists,
                    &self.owned,
                    &self.by_artist,
                    &self.collaborators,
                    &self.collaborations,
                ],
                |tx| {
                    for (u, _) in &collaborators {
                        tx.table(&self.collaborators).remove(&(id, *u))?;
                        tx.table(&self.collaborations).remove(&(*u, id))?;
                    }
                    tx.table(&self.owned).remove(&(p.owner, id))?;
                    if let Some(a) = p.artist {
                        tx.table(&self.by_artist).remove(&(a, id))?;
                    }
                    tx.table(&self.playlists).remove(&id)?;
                    Ok::<_, TxError<Error>>(())
                },
            )
            .map_err(tx_err)?;
        Ok(p)
    }

    /// Playlists `user` made, newest first.
    pub fn owned_by(&self, user: UserId) -> Result<Vec<Playlist>> {
        self.load(
            self.owned
                .scan_prefix_keys(&user)
                .rev()
                .map(|k| k.map(|(_, p)| p)),
        )
    }

    /// Playlists `user` collaborates on.
    pub fn collaborating(&self, user: UserId) -> Result<Vec<Playlist>> {
        self.load(
            self.collaborations
                .scan_prefix_keys(&user)
                .map(|k| k.map(|(_, p)| p)),
        )
    }

    /// Playlists shown on an artist's page, newest first.
    pub fn of_artist(&self, artist: ArtistId) -> Result<Vec<Playlist>> {
        self.load(
            self.by_artist
                .scan_prefix_keys(&artist)
                .rev()
                .map(|k| k.map(|(_, p)| p)),
        )
    }

    fn load(
        &self,
        ids: impl Iterator<Item = Result<PlaylistId, crate::store::StoreError>>,
    ) -> Result<Vec<Playlist>> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(p) = self.playlists.get(&id?)? {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Invites (`on`) or removes a collaborator. Blocking.
    pub fn set_collaborator(&self, id: PlaylistId, user: UserId, on: bool) -> Result<()> {
        let t = now();
        self.store
            .transaction(&[&self.collaborators, &self.collaborations], |tx| {
                if on {
                    tx.table(&self.collaborators).insert(&(id, user), &t)?;
                    tx.table(&self.collaborations).insert(&(user, id), &())?;
                } else {
                    tx.table(&self.collaborators).remove(&(id, user))?;
                    tx.table(&self.collaborations).remove(&(user, id))?;
                }
                Ok::<_, TxError<Error>>(())
            })
            .map_err(tx_err)
    }

    /// A playlist's collaborators with when they were invited.
    pub fn collaborators_of(&self, id: PlaylistId) -> Result<Vec<(UserId, i64)>> {
        Ok(self
            .collaborators
            .scan_prefix(&id)
            .map(|r| r.map(|((_, u), t)| (u, t)))
            .collect::<Result<_, _>>()?)
    }

    /// Entries `offset..offset + limit`, in order.
    pub fn entries(&self, id: PlaylistId, offset: u64, limit: u64) -> Result<Vec<Placed>> {
        let mut out = Vec::new();
        let mut keys = self.entries.scan_prefix_keys(&id);
        // Positions are skipped as bare keys, then the page's rows are read.
        let first = match offset {
            0 => keys.next(),
            n => keys.nth(n as usize),
        };
        let Some(first) = first.transpose()? else {
            return Ok(out);
        };
        for (i, entry) in self.entries.range(first..).take(limit as usize).enumerate() {
            let ((pl, _), e) = entry?;
            if pl != id {
                break;
            }
            out.push(Placed {
                index: offset + i as u64,
                entry: e,
            });
        }
        Ok(out)
    }

    /// The first entries' tracks (for the cover mosaic).
    pub fn first_tracks(&self, id: PlaylistId, n: usize) -> Result<Vec<TrackId>> {
        Ok(self
            .entries
            .scan_prefix(&id)
            .take(n)
            .map(|r| r.map(|(_, e)| e.track))
            .collect::<Result<_, _>>()?)
    }

    /// Every entry, in order (for export).
    pub fn all_entries(&self, id: PlaylistId) -> Result<Vec<Entry>> {
        Ok(self
            .entries
            .scan_prefix(&id)
            .map(|r| r.map(|(_, e)| e))
            .collect::<Result<_, _>>()?)
    }

    /// Position keys of the entries at `index - 1` and `index` of the playlist as it would be
    /// without the entry at key `skip`.
    fn neighbours(
        &self,
        id: PlaylistId,
        index: u64,
        count: u64,
        skip: Option<u64>,
    ) -> Result<(Option<u64>, Option<u64>)> {
        let keep = |k: &Result<(PlaylistId, u64), crate::store::StoreError>| match k {
            Ok((_, pos)) => Some(*pos) != skip,
            Err(_) => true,
        };
        let n = count;
        let index = index.min(n);
        let pos = |k: Option<Result<(PlaylistId, u64), crate::store::StoreError>>| {
            k.transpose().map(|k| k.map(|(_, p)| p))
        };
        if index <= n / 2 {
            let mut it = self.entries.scan_prefix_keys(&id).filter(keep);
            let prev = if index == 0 {
                None
            } else {
                pos(it.nth(index as usize - 1))?
            };
            Ok((prev, pos(it.next())?))
        } else {
            let mut it = self.entries.scan_prefix_keys(&id).rev().filter(keep);
            let next = if index == n {
                None
            } else {
                pos(it.nth((n - index - 1) as usize))?
            };
            Ok((pos(it.next())?, next))
        }
    }

    /// Rewrites every position key `GAP` apart, keeping the order.
    fn renumber(&self, id: PlaylistId) -> Result<()> {
        let all: Vec<((PlaylistId, u64), Entry)> =
            self.entries.scan_prefix(&id).collect::<Result<_, _>>()?;
        self.store
            .transaction(&[&self.entries, &self.positions], |tx| {
                let entries = tx.table(&self.entries);
                let positions = tx.table(&self.positions);
                for (key, _) in &all {
                    entries.remove(key)?;
                }
                for (i, (_, e)) in all.iter().enumerate() {
                    let pos = GAP * (i as u64 + 1);
                    entries.insert(&(id, pos), e)?;
                    positions.insert(&(id, e.id), &pos)?;
                }
                Ok::<_, TxError<Error>>(())
            })
            .map_err(tx_err)
    }

    /// Free position keys for `k` new entries at `index`, renumbering once if needed.
    fn room(&self, id: PlaylistId, index: u64, count: u64, k: u64) -> Result<Vec<u64>> {
        let (prev, next) = self.neighbours(id, index, count, None)?;
        if let Some(keys) = allocate(prev, next, k) {
            return Ok(keys);
        }
        self.renumber(id)?;
        let (prev, next) = self.neighbours(id, index, count, None)?;
        allocate(prev, next, k)
            .ok_or_else(|| Error::Internal("no room in a renumbered playlist".into()))
    }

    /// Adds `tracks` at `index` (the end when `None`), by `by`. Blocking.
    pub fn add(
        &self,
        id: PlaylistId,
        tracks: &[TrackId],
        index: Option<u64>,
        by: UserId,
    ) -> Result<Vec<Placed>> {
        if tracks.is_empty() || tracks.len() > MAX_ADD {
            return Err(Error::invalid(
                "track_ids",
                format!("must hold 1 to {MAX_ADD} tracks"),
            ));
        }
        let _one_at_a_time = self.lock(id);
        let p = self.get(id)?;
        let index = index.unwrap_or(p.entry_count).min(p.entry_count);
        let keys = self.room(id, index, p.entry_count, tracks.len() as u64)?;
        let t = now();
        let added: Vec<(u64, Entry)> = keys
            .into_iter()
            .zip(tracks)
            .map(|(pos, track)| {
                (
                    pos,
                    Entry {
                        id: EntryId::new(),
                        track: *track,
                        added_by: by,
                        added_at: t,
                    },
                )
            })
            .collect();
        self.store
            .transaction(&[&self.playlists, &self.entries, &self.positions], |tx| {
                let playlists = tx.table(&self.playlists);
                let Some(mut cur) = playlists.get(&id)? else {
                    return tx.abort(Error::NotFound("playlist"));
                };
                for (pos, e) in &added {
                    tx.table(&self.entries).insert(&(id, *pos), e)?;
                    tx.table(&self.positions).insert(&(id, e.id), pos)?;
                }
                cur.entry_count += added.len() as u64;
                cur.updated_at = t;
                playlists.insert(&id, &cur)?;
                Ok::<_, TxError<Error>>(())
            })
            .map_err(tx_err)?;
        Ok(added
            .into_iter()
            .enumerate()
            .map(|(i, (_, entry))| Placed {
                index: index + i as u64,
                entry,
            })
            .collect())
    }

    /// Removes one entry. Blocking.
    pub fn remove(&self, id: PlaylistId, entry: EntryId) -> Result<()> {
        let _one_at_a_time = self.lock(id);
        let t = now();
        self.store
            .transaction(&[&self.playlists, &self.entries, &self.positions], |tx| {
                let positions = tx.table(&self.positions);
                let Some(pos) = positions.get(&(id, entry))? else {
                    return tx.abort(Error::NotFound("playlist entry"));
                };
                positions.remove(&(id, entry))?;
                tx.table(&self.entries).remove(&(id, pos))?;
                let playlists = tx.table(&self.playlists);
                if let Some(mut cur) = playlists.get(&id)? {
                    cur.entry_count = cur.entry_count.saturating_sub(1);
                    cur.updated_at = t;
                    playlists.insert(&id, &cur)?;
                }
                Ok::<_, TxError<Error>>(())
            })
            .map_err(tx_err)
    }

    /// Moves one entry so that it ends up at `index`. Blocking.
    pub fn move_entry(&self, id: PlaylistId, entry: EntryId, index: u64) -> Result<Placed> {
        let _one_at_a_time = self.lock(id);
        let p = self.get(id)?;
        let Some(old) = self.positions.get(&(id, entry))? else {
            return Err(Error::NotFound("playlist entry"));
        };
        let others = p.entry_count.saturating_sub(1);
        let index = index.min(others);
        let (prev, next) = self.neighbours(id, index, others, Some(old))?;
        let new = match allocate(prev, next, 1) {
            Some(k) => k[0],
            None => {
                self.renumber(id)?;
                let old = self
                    .positions
                    .get(&(id, entry))?
                    .ok_or(Error::NotFound("playlist entry"))?;
                let (prev, next) = self.neighbours(id, index, others, Some(old))?;
                allocate(prev, next, 1)
                    .map(|k| k[0])
                    .ok_or_else(|| Error::Internal("no room in a renumbered playlist".into()))?
            }
        };
        let t = now();
        let moved = self
            .store
            .transaction(&[&self.playlists, &self.entries, &self.positions], |tx| {
                let positions = tx.table(&self.positions);
                let entries = tx.table(&self.entries);
                let Some(old) = positions.get(&(id, entry))? else {
                    return tx.abort(Error::NotFound("playlist entry"));
                };
                let Some(e) = entries.remove(&(id, old))? else {
                    return tx.abort(Error::NotFound("playlist entry"));
                };
                entries.insert(&(id, new), &e)?;
                positions.insert(&(id, entry), &new)?;
                let playlists = tx.table(&self.playlists);
                if let Some(mut cur) = playlists.get(&id)? {
                    cur.updated_at = t;
                    playlists.insert(&id, &cur)?;
                }
                Ok::<_, TxError<Error>>(e)
            })
            .map_err(tx_err)?;
        Ok(Placed {
            index,
            entry: moved,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_spreads_keys_between_neighbours() {
        assert_eq!(allocate(None, None, 2), Some(vec![GAP, 2 * GAP]));
        assert_eq!(allocate(Some(10), Some(20), 1), Some(vec![15]));
        assert_eq!(allocate(Some(10), Some(11), 1), None);
        assert_eq!(allocate(None, Some(1), 1), None);
        assert_eq!(allocate(Some(u64::MAX - 1), None, 1), None);
        let keys = allocate(Some(0), Some(100), 3).unwrap();
        assert!(keys.windows(2).all(|w| w[0] < w[1]) && keys[2] < 100);
    }
}
