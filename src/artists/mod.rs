//! Artists' own music: profiles, uploads (streamed to disk, probed, renamed into place, then
//! committed), albums and tracks they edit, publish and delete, and resumable (tus) uploads.
//!
//! # Layout
//! - `model`: the stored records.
//! - `files`: where uploads live under the data directory, receiving bodies in chunks, and
//!   the start-up sweep.
//! - this module: the service. Its own tables are the source of truth for uploaded tracks; the
//!   catalog holds the visible ones (published track on a published album) and is brought in
//!   step after every write, and at start-up after a crash between the two.

pub mod files;
pub mod model;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

use self::files::{Dirs, Received};
use self::model::{AlbumKind, ArtistAlbum, Profile, TusUpload, UploadedTrack};
use crate::auth::policy::Policy;
use crate::auth::{Action, Actor};
use crate::catalog::search::fold;
use crate::catalog::{Catalog, TrackDraft};
use crate::domain::{now, AlbumId, ArtistId, MediaFile, Role, TrackId, UserId};
use crate::error::{Error, Result};
use crate::library::probe::{self, ProbeError, ProbeOptions};
use crate::store::tables::{
    ARTIST_ALBUMS, ARTIST_PROFILES, PROFILE_SLUGS, TUS_UPLOADS, UPLOADED_TRACKS,
    UPLOAD_FINGERPRINTS, USER_PROFILES,
};
use crate::store::{Store, Table, TxError};

/// Limits and places of uploads.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The `uploads` directory inside the data directory.
    pub dir: PathBuf,
    /// Largest audio file accepted.
    pub max_file_bytes: u64,
    /// Largest upload request (all its files together).
    pub max_request_bytes: u64,
    /// How tags are read.
    pub probe: ProbeOptions,
}

/// Fields of a new album.
#[derive(Debug, Clone, Default)]
pub struct AlbumInput {
    /// The profile to release under; the caller's own when `None`.
    pub profile: Option<ArtistId>,
    /// Title.
    pub title: Option<String>,
    /// Kind.
    pub kind: Option<AlbumKind>,
    /// Release date.
    pub release_date: Option<String>,
    /// Genres.
    pub genres: Option<Vec<String>>,
    /// Description.
    pub description: Option<String>,
    /// Label.
    pub label: Option<String>,
    /// Published at once.
    pub published: Option<bool>,
}

/// Changes to a track; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TrackEdit {
    /// Title.
    pub title: Option<String>,
    /// Position on its album, from 1.
    pub track_number: Option<u32>,
    /// Genres.
    pub genres: Option<Vec<String>>,
    /// Explicit flag.
    pub explicit: Option<bool>,
    /// Lyrics; an empty string removes them.
    pub lyrics: Option<String>,
    /// Featured artists.
    pub featured: Option<Vec<String>>,
}

/// What an upload request asks for besides its files.
#[derive(Debug, Clone, Default)]
pub struct UploadRequest {
    /// An existing album to add the tracks to.
    pub album: Option<AlbumId>,
    /// A new album's fields (when `album` is `None`).
    pub new_album: AlbumInput,
    /// Publish the tracks (and a new album) at once; drafts otherwise.
    pub publish: bool,
    /// Overrides of the tags, for every file.
    pub edit: TrackEdit,
}

/// Changes to a profile.
#[derive(Debug, Clone, Default)]
pub struct ProfileEdit {
    /// Name.
    pub name: Option<String>,
    /// Slug.
    pub slug: Option<String>,
    /// Bio.
    pub bio: Option<String>,
    /// Picture address; empty removes it.
    pub image_url: Option<String>,
    /// Links.
    pub links: Option<Vec<String>>,
    /// Genres.
    pub genres: Option<Vec<String>>,
}

/// An album with its tracks, as its owner sees it.
#[derive(Debug, Clone)]
pub struct AlbumView {
    /// The album.
    pub album: ArtistAlbum,
    /// Its tracks in order.
    pub tracks: Vec<UploadedTrack>,
}

/// The artists' service.
pub struct Artists {
    store: Store,
    catalog: Arc<Catalog>,
    policy: Policy,
    settings: Settings,
    dirs: Dirs,
    profiles: Table<ArtistId, Profile>,
    slugs: Table<String, ArtistId>,
    user_profiles: Table<(UserId, ArtistId), ()>,
    albums: Table<AlbumId, ArtistAlbum>,
    tracks: Table<TrackId, UploadedTrack>,
    fingerprints: Table<(ArtistId, u64), TrackId>,
    tus: Table<String, TusUpload>,
    /// Edits read records, change them and write them back: one at a time.
    writing: Mutex<()>,
    /// Resumable uploads being written to; one request at a time per upload.
    tus_busy: Arc<Mutex<HashSet<String>>>,
}

/// Holds a resumable upload for one request; released when dropped.
pub struct TusGuard {
    busy: Arc<Mutex<HashSet<String>>>,
    id: String,
}

impl Drop for TusGuard {
    fn drop(&mut self) {
        self.busy.lock().remove(&self.id);
    }
}

fn tx_err(e: TxError<Error>) -> Error {
    match e {
        TxError::Aborted(e) => e,
        TxError::Store(e) => Error::Store(e),
    }
}

/// A URL-friendly form of a name: ASCII letters and digits joined by dashes.
pub fn slugify(name: &str) -> String {
    let folded = fold(name);
    let mut out = String::new();
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() {
        "artist".to_owned()
    } else {
        out
    }
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(Error::invalid(field, format!("at most {max} characters")));
    }
    Ok(())
}

fn check_name(field: &'static str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    check_text(field, v, 200)?;
    Ok(v.to_owned())
}

fn clean_list(field: &'static str, values: &[String]) -> Result<Vec<String>> {
    if values.len() > 50 {
        return Err(Error::invalid(field, "at most 50 entries"));
    }
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let v = v.trim();
        check_text(field, v, 200)?;
        if !v.is_empty() && !out.iter().any(|o| o == v) {
            out.push(v.to_owned());
        }
    }
    Ok(out)
}

/// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`; its year.
fn release_year(field: &'static str, date: &str) -> Result<i32> {
    let bad = || Error::invalid(field, "expected YYYY, YYYY-MM or YYYY-MM-DD");
    let parts: Vec<&str> = date.split('-').collect();
    let ok_len = matches!(parts.as_slice(), [y] | [y, _] | [y, _, _] if y.len() == 4);
    if !ok_len
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    if parts.len() >= 2 && !(1..=12).contains(&parts[1].parse::<u32>().map_err(|_| bad())?) {
        return Err(bad());
    }
    if parts.len() == 3 && !(1..=31).contains(&parts[2].parse::<u32>().map_err(|_| bad())?) {
        return Err(bad());
    }
    parts[0].parse().map_err(|_| bad())
}

impl Artists {
    /// Opens the service, sweeps what a crash left behind and brings the catalog in step.
    pub fn open(
        store: Store,
        catalog: Arc<Catalog>,
        policy: Policy,
        settings: Settings,
    ) -> Result<Self> {
        let dirs = Dirs::create(&settings.dir)?;
        let artists = Self {
            profiles: store.table(ARTIST_PROFILES)?,
            slugs: store.table(PROFILE_SLUGS)?,
            user_profiles: store.table(USER_PROFILES)?,
            albums: store.table(ARTIST_ALBUMS)?,
            tracks: store.table(UPLOADED_TRACKS)?,
            fingerprints: store.table(UPLOAD_FINGERPRINTS)?,
            tus: store.table(TUS_UPLOADS)?,
            store,
            catalog,
            policy,
            settings,
            dirs,
            writing: Mutex::new(()),
            tus_busy: Arc::default(),
        };
        artists.recover()?;
        Ok(artists)
    }

    /// The upload limits.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Where uploads live.
    pub fn dirs(&self) -> &Dirs {
        &self.dirs
    }

    // -----------------------------------------------------------------------------------------
    // Crash recovery
    // -----------------------------------------------------------------------------------------

    /// After a crash: no half file (temporary files go), no file without its track, no track
    /// without its file, and the catalog holds exactly the visible uploaded tracks.
    fn recover(&self) -> Result<()> {
        self.dirs.clear_tmp()?;
        let mut known_files = HashSet::new();
        let mut lost = Vec::new();
        for entry in self.tracks.iter() {
            let (id, t) = entry?;
            if self.dirs.audio.join(&t.file_name).is_file() {
                known_files.insert(t.file_name.clone());
            } else {
                tracing::warn!(track = %id, "an uploaded track lost its file; it is removed");
                lost.push(t);
            }
        }
        for t in lost {
            self.forget_track(&t)?;
        }
        let removed = self.dirs.remove_unknown_audio(&known_files)?;
        if removed > 0 {
            tracing::info!(removed, "removed upload files that no track owns");
        }
        let albums: HashSet<AlbumId> = self
            .albums
            .iter()
            .map(|r| r.map(|(id, _)| id))
            .collect::<Result<_, _>>()?;
        self.dirs.remove_unknown_covers(&albums)?;
        let mut tus_ids = HashSet::new();
        let mut stale = Vec::new();
        for entry in self.tus.iter() {
            let (id, _) = entry?;
            if self.dirs.tus_file(&id).is_file() {
                tus_ids.insert(id);
            } else {
                stale.push(id);
            }
        }
        for id in stale {
            self.tus.remove(&id)?;
        }
        self.dirs.remove_unknown_tus(&tus_ids)?;
        self.resync_all()?;
        self.store.flush_blocking()?;
        Ok(())
    }

    /// Removes a track's records (after its file was found missing).
    fn forget_track(&self, t: &UploadedTrack) -> Result<()> {
        self.store
            .transaction(&[&self.tracks, &self.fingerprints, &self.albums], |tx| {
                tx.table(&self.tracks).remove(&t.id)?;
                tx.table(&self.fingerprints)
                    .remove(&(t.profile, t.fingerprint))?;
                let albums = tx.table(&self.albums);
                if let Some(mut a) = albums.get(&t.album)? {
                    a.tracks.retain(|x| *x != t.id);
                    albums.insert(&a.id, &a)?;
                }
                Ok::<_, TxError<Error>>(())
            })
            .map_err(tx_err)?;
        Ok(())
    }

    /// Puts every visible uploaded track in the catalog as its records say, and takes out
    /// what is no longer visible or no longer exists.
    fn resync_all(&self) -> Result<()> {
        let mut wanted = Vec::new();
        let mut hidden = Vec::new();
        let mut ids = HashSet::new();
        for entry in self.tracks.iter() {
            let (id, t) = entry?;
            ids.insert(id);
            match self.catalog_draft(&t)? {
                Some(draft) => {
                    let same = self.catalog.track(id).ok().is_some_and(|c| {
                        c.file == draft.file
                            && c.tags == draft.tags
                            && c.audio == draft.audio
                            && Some(c.album_id) == draft.album_id
                    });
                    if !same {
                        wanted.push((id, draft));
                    }
                }
                None => hidden.push(id),
            }
        }
        for id in self.catalog.ids_in(&self.dirs.audio_key()) {
            if !ids.contains(&id) {
                hidden.push(id);
            }
        }
        if !wanted.is_empty() || !hidden.is_empty() {
            tracing::info!(
                updated = wanted.len(),
                "bringing the catalog in step with uploads"
            );
        }
        self.catalog.replace_many(wanted, &hidden)
    }

    /// The catalog form of `t`, or `None` when it is not visible.
    fn catalog_draft(&self, t: &UploadedTrack) -> Result<Option<TrackDraft>> {
        let Some(album) = self.albums.get(&t.album)? else {
            return Ok(None);
        };
        if !(t.published && album.published) {
            return Ok(None);
        }
        let Some(profile) = self.profiles.get(&t.profile)? else {
            return Ok(None);
        };
        Ok(Some(self.draft_with(t, &album, &profile)))
    }

    fn draft_with(&self, t: &UploadedTrack, album: &ArtistAlbum, profile: &Profile) -> TrackDraft {
        let mut tags = t.tags.clone();
        // Uploads credit the artist who uploads, whatever the file's tags say.
        tags.artists = std::iter::once(profile.name.clone())
            .chain(t.featured.iter().cloned())
            .collect();
        tags.album = album.title.clone();
        tags.album_artists = vec![profile.name.clone()];
        tags.compilation = false;
        let pos = album.tracks.iter().position(|x| *x == t.id);
        tags.track_number = pos.map(|p| p as u32 + 1);
        tags.track_total = Some(album.tracks.len() as u32);
        tags.disc_number = Some(1);
        tags.disc_total = Some(1);
        if tags.genres.is_empty() {
            tags.genres = album.genres.clone();
        }
        if let Some(date) = &album.release_date {
            tags.date = Some(date.clone());
            tags.year = release_year("release_date", date).ok();
        }
        TrackDraft {
            file: MediaFile {
                folder: self.dirs.audio_key(),
                rel: t.file_name.as_bytes().to_vec(),
                size: t.size,
                mtime_ns: 0,
                fingerprint: t.fingerprint,
            },
            audio: t.audio.clone(),
            tags,
            embedded_cover: t.embedded_cover,
            album_id: Some(album.id),
        }
    }

    /// Brings the catalog in step for `ids` and makes everything durable.
    fn sync(&self, ids: &[TrackId]) -> Result<()> {
        let mut wanted = Vec::new();
        let mut hidden = Vec::new();
        for id in ids {
            match self.tracks.get(id)? {
                Some(t) => match self.catalog_draft(&t)? {
                    Some(d) => wanted.push((*id, d)),
                    None => hidden.push(*id),
                },
                None => hidden.push(*id),
            }
        }
        self.catalog.replace_many(wanted, &hidden)?;
        self.store.flush_blocking()?;
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Permissions
    // -----------------------------------------------------------------------------------------

    fn profile_owner(&self, profile: ArtistId) -> Result<Option<UserId>> {
        Ok(self.profiles.get(&profile)?.and_then(|p| p.owner))
    }

    fn may_manage(&self, actor: &Actor, profile: ArtistId) -> Result<bool> {
        let owner = self.profile_owner(profile)?;
        Ok(self
            .policy
            .check(Some(actor), Action::ManageContent { owner })
            .is_ok())
    }

    /// `Ok` when `actor` may change content of `profile`. Content others cannot see is
    /// answered 404, as if it did not exist.
    fn require_manage(
        &self,
        actor: &Actor,
        profile: ArtistId,
        visible: bool,
        what: &'static str,
    ) -> Result<()> {
        let owner = self.profile_owner(profile)?;
        match self
            .policy
            .check(Some(actor), Action::ManageContent { owner })
        {
            Ok(()) => Ok(()),
            Err(_) if !visible => Err(Error::NotFound(what)),
            Err(e) => Err(e),
        }
    }

    fn album_for(&self, actor: &Actor, id: AlbumId) -> Result<ArtistAlbum> {
        let album = self.albums.get(&id)?.ok_or(Error::NotFound("album"))?;
        self.require_manage(actor, album.profile, album.published, "album")?;
        Ok(album)
    }

    fn track_for(&self, actor: &Actor, id: TrackId) -> Result<UploadedTrack> {
        let t = self.tracks.get(&id)?.ok_or(Error::NotFound("track"))?;
        let visible = self.catalog_draft(&t)?.is_some();
        self.require_manage(actor, t.profile, visible, "track")?;
        Ok(t)
    }

    // -----------------------------------------------------------------------------------------
    // Profiles
    // -----------------------------------------------------------------------------------------

    /// A profile.
    pub fn profile(&self, id: ArtistId) -> Result<Profile> {
        self.profiles
            .get(&id)?
            .ok_or(Error::NotFound("artist profile"))
    }

    /// The profiles `user` manages, oldest first.
    pub fn profiles_of(&self, user: UserId) -> Result<Vec<Profile>> {
        let mut out = Vec::new();
        for entry in self.user_profiles.scan_prefix(&user) {
            let ((_, id), ()) = entry?;
            if let Some(p) = self.profiles.get(&id)? {
                out.push(p);
            }
        }
        out.sort_by_key(|p| p.created_at);
        Ok(out)
    }

    /// Creates a profile owned by `actor`.
    pub fn create_profile(&self, actor: &Actor, name: &str, edit: ProfileEdit) -> Result<Profile> {
        self.policy.check(Some(actor), Action::Upload)?;
        let _w = self.writing.lock();
        let p = self.new_profile(actor.user_id, name, edit)?;
        self.store.flush_blocking()?;
        Ok(p)
    }

    fn new_profile(&self, owner: UserId, name: &str, edit: ProfileEdit) -> Result<Profile> {
        let name = check_name("name", name)?;
        let id = ArtistId::new();
        if self.catalog.claim_artist_name(&name, id)?.is_some() {
            return Err(Error::Conflict {
                code: "artist_name_taken",
                message: format!(
                    "an artist named '{name}' already exists; an admin can link it to your account"
                ),
            });
        }
        let t = now();
        let mut p = Profile {
            id,
            owner: Some(owner),
            slug: String::new(),
            name,
            bio: String::new(),
            image_url: None,
            links: Vec::new(),
            genres: Vec::new(),
            created_at: t,
            updated_at: t,
        };
        apply_profile_edit(&mut p, &edit)?;
        let wanted = match &edit.slug {
            Some(s) => Some(check_slug(s)?),
            None => None,
        };
        self.save_profile(&p, None, wanted)
    }

    /// Writes `p` with a unique slug (`wanted`, or one made from its name) in one transaction.
    fn save_profile(
        &self,
        p: &Profile,
        old_owner: Option<UserId>,
        wanted: Option<String>,
    ) -> Result<Profile> {
        let base = wanted.clone().unwrap_or_else(|| {
            if p.slug.is_empty() {
                slugify(&p.name)
            } else {
                p.slug.clone()
            }
        });
        self.store
            .transaction(&[&self.profiles, &self.slugs, &self.user_profiles], |tx| {
                let slugs = tx.table(&self.slugs);
                let mut slug = base.clone();
                let mut n = 2;
                loop {
                    match slugs.get(&slug)? {
                        Some(owner) if owner != p.id => {
                            if wanted.is_some() {
                                return tx.abort(Error::Conflict {
                                    code: "slug_taken",
                                    message: format!("the slug '{slug}' is taken"),
                                });
                            }
                            slug = format!("{base}-{n}");
                            n += 1;
                        }
                        _ => break,
                    }
                }
                if !p.slug.is_empty() && p.slug != slug {
                    slugs.remove(&p.slug)?;
                }
                slugs.insert(&slug, &p.id)?;
                let mut p = p.clone();
                p.slug = slug;
                let links = tx.table(&self.user_profiles);
                if let Some(old) = old_owner {
                    links.remove(&(old, p.id))?;
                }
                if let Some(owner) = p.owner {
                    links.insert(&(owner, p.id), &())?;
                }
                tx.table(&self.profiles).insert(&p.id, &p)?;
                Ok(p)
            })
            .map_err(tx_err)
    }

    /// Edits a profile.
    pub fn update_profile(
        &self,
        actor: &Actor,
        id: ArtistId,
        edit: ProfileEdit,
    ) -> Result<Profile> {
        let _w = self.writing.lock();
        let mut p = self.profile(id)?;
        self.policy
            .check(Some(actor), Action::ManageContent { owner: p.owner })?;
        let renamed = match &edit.name {
            Some(n) => {
                let n = check_name("name", n)?;
                if n != p.name {
                    if self.catalog.claim_artist_name(&n, id)?.is_some() {
                        return Err(Error::Conflict {
                            code: "artist_name_taken",
                            message: format!("an artist named '{n}' already exists"),
                        });
                    }
                    p.name = n;
                    true
                } else {
                    false
                }
            }
            None => false,
        };
        apply_profile_edit(&mut p, &edit)?;
        p.updated_at = now();
        let wanted = match &edit.slug {
            Some(s) => Some(check_slug(s)?),
            None => None,
        };
        let p = self.save_profile(&p, None, wanted)?;
        if renamed {
            let ids = self.track_ids_where(|t| t.profile == id)?;
            self.sync(&ids)?;
        } else {
            self.store.flush_blocking()?;
        }
        Ok(p)
    }

    /// Gives the catalog artist `id` (from tags, or an existing profile) to `owner`, creating
    /// its profile when it has none. Admins only.
    pub fn link_profile(&self, actor: &Actor, id: ArtistId, owner: UserId) -> Result<Profile> {
        self.policy.check(Some(actor), Action::Administer)?;
        let _w = self.writing.lock();
        let (mut p, old_owner) = match self.profiles.get(&id)? {
            Some(p) => {
                let old = p.owner;
                (p, old)
            }
            None => {
                let name = self
                    .catalog
                    .read()
                    .artist(id)
                    .map(|a| a.name.clone())
                    .map_err(|_| Error::NotFound("artist"))?;
                let t = now();
                (
                    Profile {
                        id,
                        owner: None,
                        slug: String::new(),
                        name,
                        bio: String::new(),
                        image_url: None,
                        links: Vec::new(),
                        genres: Vec::new(),
                        created_at: t,
                        updated_at: t,
                    },
                    None,
                )
            }
        };
        self.catalog.claim_artist_name(&p.name, id)?;
        p.owner = Some(owner);
        p.updated_at = now();
        let p = self.save_profile(&p, old_owner, None)?;
        self.store.flush_blocking()?;
        Ok(p)
    }

    /// The profile an upload or a new album is credited to.
    fn acting_profile(
        &self,
        actor: &Actor,
        wanted: Option<ArtistId>,
        fallback_name: &str,
    ) -> Result<Profile> {
        if let Some(id) = wanted {
            let p = self.profile(id)?;
            self.policy
                .check(Some(actor), Action::ManageContent { owner: p.owner })?;
            return Ok(p);
        }
        if let Some(p) = self.profiles_of(actor.user_id)?.into_iter().next() {
            return Ok(p);
        }
        // A first upload without a profile makes one from the account's name.
        self.new_profile(actor.user_id, fallback_name, ProfileEdit::default())
    }

    // -----------------------------------------------------------------------------------------
    // Reading
    // -----------------------------------------------------------------------------------------

    fn track_ids_where(&self, keep: impl Fn(&UploadedTrack) -> bool) -> Result<Vec<TrackId>> {
        let mut out = Vec::new();
        for entry in self.tracks.iter() {
            let (id, t) = entry?;
            if keep(&t) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// An uploaded track, for someone who may manage it.
    pub fn track(&self, actor: &Actor, id: TrackId) -> Result<UploadedTrack> {
        self.track_for(actor, id)
    }

    /// An album with its tracks, for someone who may manage it.
    pub fn album(&self, actor: &Actor, id: AlbumId) -> Result<AlbumView> {
        let album = self.album_for(actor, id)?;
        self.view(album)
    }

    fn view(&self, album: ArtistAlbum) -> Result<AlbumView> {
        let mut tracks = Vec::with_capacity(album.tracks.len());
        for id in &album.tracks {
            if let Some(t) = self.tracks.get(id)? {
                tracks.push(t);
            }
        }
        Ok(AlbumView { album, tracks })
    }

    /// A track's position on its album, from 1.
    pub fn track_number(&self, t: &UploadedTrack) -> Result<Option<u32>> {
        Ok(self
            .albums
            .get(&t.album)?
            .and_then(|a| a.tracks.iter().position(|x| *x == t.id))
            .map(|p| p as u32 + 1))
    }

    /// Whether the track is visible in the catalog.
    pub fn is_visible(&self, t: &UploadedTrack) -> Result<bool> {
        Ok(self.catalog_draft(t)?.is_some())
    }

    /// The albums of the profiles `actor` manages (every album for an admin asking `all`).
    pub fn albums_of(&self, actor: &Actor, all: bool) -> Result<Vec<ArtistAlbum>> {
        let mine: HashSet<ArtistId> = self
            .profiles_of(actor.user_id)?
            .into_iter()
            .map(|p| p.id)
            .collect();
        let all = all && actor.role == Role::Admin;
        let mut out = Vec::new();
        for entry in self.albums.iter() {
            let (_, a) = entry?;
            if all || mine.contains(&a.profile) {
                out.push(a);
            }
        }
        out.sort_by_key(|a| a.created_at);
        Ok(out)
    }

    /// A published album's cover (for anyone), or a draft's for who may manage it.
    pub fn cover(&self, actor: Option<&Actor>, id: AlbumId) -> Result<(String, PathBuf)> {
        let album = self.albums.get(&id)?.ok_or(Error::NotFound("album"))?;
        if !album.published {
            match actor {
                Some(a) if self.may_manage(a, album.profile)? => {}
                _ => return Err(Error::NotFound("album")),
            }
        }
        let mime = album.cover_mime.ok_or(Error::NotFound("cover"))?;
        Ok((mime, self.dirs.cover(id)))
    }

    // -----------------------------------------------------------------------------------------
    // Uploads
    // -----------------------------------------------------------------------------------------

    /// Takes received files into the catalog: probes each (all must be audio), refuses audio
    /// the artist already uploaded, renames the files into place, then commits the records in
    /// one transaction and brings the catalog in step. Every temporary file is gone afterwards,
    /// whatever the outcome.
    pub fn finish_upload(
        &self,
        actor: &Actor,
        account_name: &str,
        req: UploadRequest,
        files: Vec<Received>,
        cover: Option<(String, Received)>,
    ) -> Result<(AlbumView, Vec<TrackId>)> {
        let result = self.finish_upload_inner(actor, account_name, req, &files, cover.as_ref());
        for f in files.iter().chain(cover.as_ref().map(|(_, c)| c)) {
            f.discard();
        }
        result
    }

    fn finish_upload_inner(
        &self,
        actor: &Actor,
        account_name: &str,
        req: UploadRequest,
        files: &[Received],
        cover: Option<&(String, Received)>,
    ) -> Result<(AlbumView, Vec<TrackId>)> {
        self.policy.check(Some(actor), Action::Upload)?;
        if files.is_empty() {
            return Err(Error::invalid(
                "file",
                "at least one audio file is required",
            ));
        }
        let edit = check_edit(&req.edit)?;
        if files.len() > 1 && (edit.title.is_some() || edit.track_number.is_some()) {
            return Err(Error::invalid(
                "title",
                "title and track_number apply to a single file; edit the tracks afterwards",
            ));
        }
        // Probing reads the files; no lock is needed for it.
        let mut probed = Vec::with_capacity(files.len());
        for f in files {
            let (p, fp) = probe::probe_and_fingerprint(
                f.dir(),
                std::path::Path::new(&f.name),
                &self.settings.probe,
            )
            .map_err(|e| refuse(&f.name, e))?;
            probed.push((p, crate::library::scan::fingerprint_key(&fp)));
        }
        let _w = self.writing.lock();
        let existing = match req.album {
            Some(id) => Some(self.album_for(actor, id)?),
            None => None,
        };
        let profile = match &existing {
            Some(a) => self.profile(a.profile)?,
            None => self.acting_profile(actor, req.new_album.profile, account_name)?,
        };
        let mut seen = HashSet::new();
        for (f, (_, fp)) in files.iter().zip(&probed) {
            if let Some(existing) = self.fingerprints.get(&(profile.id, *fp))? {
                return Err(Error::DuplicateTrack { existing });
            }
            if !seen.insert(*fp) {
                return Err(Error::Unprocessable(format!(
                    "{}: the same audio is in this upload twice",
                    f.name
                )));
            }
        }
        let t = now();
        let mut album = match existing {
            Some(a) => a,
            None => {
                let first_tags = &probed[0].0.tags;
                let single = files.len() == 1 && req.new_album.title.is_none();
                let title = match &req.new_album.title {
                    Some(title) => check_name("album_title", title)?,
                    None if single => edit
                        .title
                        .clone()
                        .or_else(|| first_tags.title.clone())
                        .unwrap_or_else(|| "Untitled".to_owned()),
                    None => first_tags
                        .album
                        .clone()
                        .filter(|a| !a.trim().is_empty())
                        .unwrap_or_else(|| "Untitled".to_owned()),
                };
                let mut a = new_album(profile.id, title, &req.new_album, t)?;
                if req.new_album.kind.is_none() {
                    a.kind = if files.len() == 1 {
                        AlbumKind::Single
                    } else {
                        AlbumKind::Album
                    };
                }
                a.published = req.publish || req.new_album.published.unwrap_or(false);
                a
            }
        };
        if req.publish {
            album.published = true;
        }
        let mut tracks = Vec::with_capacity(files.len());
        for (i, (f, (p, fp))) in files.iter().zip(probed).enumerate() {
            let id = TrackId::new();
            let file_name = format!("{id}.{}", files::extension_for(&p.container));
            let tagged_number = p.tags.track_number;
            let draft = crate::library::scan::draft_of(
                MediaFile {
                    folder: String::new(),
                    rel: Vec::new(),
                    size: f.size,
                    mtime_ns: 0,
                    fingerprint: fp,
                },
                p,
            );
            let mut tags = draft.tags;
            if let Some(title) = &edit.title {
                tags.title = title.clone();
            }
            if let Some(g) = &edit.genres {
                tags.genres = g.clone();
            }
            if let Some(l) = &edit.lyrics {
                tags.lyrics = (!l.is_empty()).then(|| l.clone());
            }
            let track = UploadedTrack {
                id,
                profile: profile.id,
                album: album.id,
                file_name,
                size: f.size,
                fingerprint: fp,
                audio: draft.audio,
                embedded_cover: draft.embedded_cover,
                tags,
                explicit: edit.explicit.unwrap_or(false),
                featured: edit.featured.clone().unwrap_or_default(),
                published: req.publish,
                uploaded_at: t,
                updated_at: t,
            };
            tracks.push((track, tagged_number, i));
        }
        // Tracks land in their tagged order after what the album already holds.
        tracks.sort_by_key(|(_, n, i)| (n.unwrap_or(u32::MAX), *i));
        for (track, _, _) in &tracks {
            album.tracks.push(track.id);
        }
        if let Some(n) = edit.track_number {
            if let Some((track, _, _)) = tracks.first() {
                move_to(&mut album.tracks, track.id, n);
            }
        }
        album.updated_at = t;
        // Files are in place before any record names them; a crash between leaves files
        // that the start-up sweep removes.
        for (track, _, i) in &tracks {
            self.dirs
                .place(&files[*i].path, &self.dirs.audio.join(&track.file_name))?;
        }
        if let Some((mime, c)) = cover {
            self.dirs.place(&c.path, &self.dirs.cover(album.id))?;
            album.cover_mime = Some(mime.clone());
        }
        self.dirs.sync_dirs()?;
        let commit =
            self.store
                .transaction(&[&self.albums, &self.tracks, &self.fingerprints], |tx| {
                    let fps = tx.table(&self.fingerprints);
                    for (track, _, _) in &tracks {
                        if let Some(existing) = fps.get(&(profile.id, track.fingerprint))? {
                            return tx.abort(Error::DuplicateTrack { existing });
                        }
                        fps.insert(&(profile.id, track.fingerprint), &track.id)?;
                        tx.table(&self.tracks).insert(&track.id, track)?;
                    }
                    tx.table(&self.albums).insert(&album.id, &album)?;
                    Ok(())
                });
        if let Err(e) = commit {
            for (track, _, _) in &tracks {
                let _ = std::fs::remove_file(self.dirs.audio.join(&track.file_name));
            }
            return Err(tx_err(e));
        }
        let ids: Vec<TrackId> = tracks.iter().map(|(t, _, _)| t.id).collect();
        self.sync(&ids)?;
        Ok((self.view(album)?, ids))
    }

    // -----------------------------------------------------------------------------------------
    // Albums
    // -----------------------------------------------------------------------------------------

    /// Creates an empty album.
    pub fn create_album(
        &self,
        actor: &Actor,
        account_name: &str,
        input: AlbumInput,
    ) -> Result<AlbumView> {
        self.policy.check(Some(actor), Action::Upload)?;
        let title = check_name("title", input.title.as_deref().unwrap_or_default())?;
        let _w = self.writing.lock();
        let profile = self.acting_profile(actor, input.profile, account_name)?;
        let mut album = new_album(profile.id, title, &input, now())?;
        album.published = input.published.unwrap_or(false);
        self.albums.insert(&album.id, &album)?;
        self.store.flush_blocking()?;
        self.view(album)
    }

    /// Edits an album's metadata.
    pub fn update_album(&self, actor: &Actor, id: AlbumId, input: AlbumInput) -> Result<AlbumView> {
        let _w = self.writing.lock();
        let mut album = self.album_for(actor, id)?;
        if let Some(t) = &input.title {
            album.title = check_name("title", t)?;
        }
        apply_album_fields(&mut album, &input)?;
        if let Some(p) = input.published {
            album.published = p;
        }
        album.updated_at = now();
        self.albums.insert(&album.id, &album)?;
        self.sync(&album.tracks.clone())?;
        self.view(album)
    }

    /// Publishes or unpublishes an album; publishing publishes its tracks.
    pub fn publish_album(&self, actor: &Actor, id: AlbumId, published: bool) -> Result<AlbumView> {
        let _w = self.writing.lock();
        let mut album = self.album_for(actor, id)?;
        album.published = published;
        album.updated_at = now();
        let mut changed = Vec::new();
        if published {
            for tid in &album.tracks {
                if let Some(mut t) = self.tracks.get(tid)? {
                    if !t.published {
                        t.published = true;
                        t.updated_at = album.updated_at;
                        changed.push(t);
                    }
                }
            }
        }
        self.store
            .transaction(&[&self.albums, &self.tracks], |tx| {
                for t in &changed {
                    tx.table(&self.tracks).insert(&t.id, t)?;
                }
                tx.table(&self.albums).insert(&album.id, &album)?;
                Ok::<_, TxError<Error>>(())
            })
            .map_err(tx_err)?;
        self.sync(&album.tracks.clone())?;
        self.view(album)
    }

    /// Sets the album's tracks in order: tracks of the same artist's other albums move here,
    /// tracks left out become singles of their own.
    pub fn set_album_tracks(
        &self,
        actor: &Actor,
        id: AlbumId,
        order: Vec<TrackId>,
    ) -> Result<AlbumView> {
        let _w = self.writing.lock();
        let mut album = self.album_for(actor, id)?;
        let mut seen = HashSet::new();
        let mut moved = Vec::new();
        for tid in &order {
            if !seen.insert(*tid) {
                return Err(Error::invalid(
                    "track_ids",
                    format!("track {tid} is listed twice"),
                ));
            }
            let t = self
                .tracks
                .get(tid)?
                .ok_or_else(|| Error::invalid("track_ids", format!("no uploaded track {tid}")))?;
            if t.profile != album.profile {
                return Err(Error::invalid(
                    "track_ids",
                    format!("track {tid} is not by this album's artist"),
                ));
            }
            if t.album != album.id {
                moved.push(t);
            }
        }
        let t_now = now();
        // Albums the moved tracks leave.
        let mut sources: Vec<ArtistAlbum> = Vec::new();
        for t in &moved {
            if !sources.iter().any(|a| a.id == t.album) {
                if let Some(a) = self.albums.get(&t.album)? {
                    sources.push(a);
                }
            }
        }
        for s in &mut sources {
            s.tracks.retain(|x| !seen.contains(x));
            s.updated_at = t_now;
        }
        let mut changed: Vec<UploadedTrack> = moved
            .into_iter()
            .map(|mut t| {
                t.album = album.id;
                t.updated_at = t_now;
                t
            })
            .collect();
        // Tracks dropped from the list get a single each.
        let mut singles = Vec::new();
        for tid in album.tracks.iter().filter(|x| !seen.contains(x)) {
            if let Some(mut t) = self.tracks.get(tid)? {
                let mut single = single_for(&t, &album, t_now);
                single.tracks = vec![t.id];
                t.album = single.id;
                t.updated_at = t_now;
                changed.push(t);
                singles.push(single);
            }
        }
        let mut affected: Vec<TrackId> = album.tracks.clone();
        affected.extend(order.iter().copied());
        for s in &sources {
            affected.extend(s.tracks.iter().copied());
        }
        album.tracks = order;
        album.updated_at = t_now;
        self.store
            .transaction(&[&self.albums, &self.tracks], |tx| {
                let albums = tx.table(&self.albums);
                for s in &sources {
                    // A single has no reason to exist without its track.
                    if s.kind == AlbumKind::Single && s.tracks.is_empty() {
                        albums.remove(&s.id)?;
                    } else {
                        albums.insert(&s.id, s)?;
                    }
                }
                for s in &singles {
                    albums.insert(&s.id, s)?;
                }
                albums.insert(&album.id, &album)?;
                for t in &changed {
                    tx.table(&self.tracks).insert(&t.id, t)?;
                }
                Ok::<_, TxError<Error>>(())
            })
            .map_err(tx_err)?;
        affected.sort();
        affected.dedup();
        self.sync(&affected)?;
        for s in sources
            .iter()
            .filter(|s| s.kind == AlbumKind::Single && s.tracks.is_empty())
        {
            self.dirs.remove_cover(s.id);
        }
        self.view(album)
    }

    /// Sets or replaces the album's cover from a received image.
    pub fn set_cover(
        &self,
        actor: &Actor,
        id: AlbumId,
        mime: &str,
        bytes: &[u8],
    ) -> Result<AlbumView> {
        let _w = self.writing.lock();
        let mut album = self.album_for(actor, id)?;
        self.dirs.write_cover(id, bytes)?;
        album.cover_mime = Some(mime.to_owned());
        album.updated_at = now();
        self.albums.insert(&album.id, &album)?;
        self.store.flush_blocking()?;
        self.view(album)
    }

    /// Deletes an album: its tracks become singles, or are deleted with it.
    pub fn delete_album(&self, actor: &Actor, id: AlbumId, delete_tracks: bool) -> Result<()> {
        let _w = self.writing.lock();
        let album = self.album_for(actor, id)?;
        let t_now = now();
        let mut tracks = Vec::new();
        for tid in &album.tracks {
            if let Some(t) = self.tracks.get(tid)? {
                tracks.push(t);
            }
        }
        let mut singles = Vec::new();
        let mut changed = Vec::new();
        if !delete_tracks {
            for t in &tracks {
                let mut single = single_for(t, &album, t_now);
                single.tracks = vec![t.id];
                let mut t = t.clone();
                t.album = single.id;
                t.updated_at = t_now;
                singles.push(single);
                changed.push(t);
            }
        }
        self.store
            .transaction(&[&self.albums, &self.tracks, &self.fingerprints], |tx| {
                let albums = tx.table(&self.albums);
                albums.remove(&album.id)?;
                for s in &singles {
                    albums.insert(&s.id, s)?;
                }
                let stored = tx.table(&self.tracks);
                for t in &changed {
                    stored.insert(&t.id, t)?;
                }
                if delete_tracks {
                    for t in &tracks {
                        stored.remove(&t.id)?;
                        tx.table(&self.fingerprints)
                            .remove(&(t.profile, t.fingerprint))?;
                    }
                }
                Ok::<_, TxError<Error>>(())
            })
            .map_err(tx_err)?;
        let ids: Vec<TrackId> = tracks.iter().map(|t| t.id).collect();
        self.sync(&ids)?;
        // Files go last: a crash before leaves files without records, which the start-up
        // sweep removes.
        if delete_tracks {
            for t in &tracks {
                self.dirs.remove_audio(&t.file_name);
            }
        }
        self.dirs.remove_cover(album.id);
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Tracks
    // -----------------------------------------------------------------------------------------

    /// Edits a track's metadata.
    pub fn update_track(
        &self,
        actor: &Actor,
        id: TrackId,
        edit: TrackEdit,
    ) -> Result<UploadedTrack> {
        let edit = check_edit(&edit)?;
        let _w = self.writing.lock();
        let mut t = self.track_for(actor, id)?;
        if let Some(v) = &edit.title {
            t.tags.title = v.clone();
        }
        if let Some(v) = &edit.genres {
            t.tags.genres = v.clone();
        }
        if let Some(v) = edit.explicit {
            t.explicit = v;
        }
        if let Some(v) = &edit.lyrics {
            t.tags.lyrics = (!v.is_empty()).then(|| v.clone());
        }
        if let Some(v) = &edit.featured {
            t.featured = v.clone();
        }
        t.updated_at = now();
        let mut affected = vec![id];
        let album = match edit.track_number {
            Some(n) => {
                let mut a = self.albums.get(&t.album)?.ok_or(Error::NotFound("album"))?;
                move_to(&mut a.tracks, id, n);
                affected = a.tracks.clone();
                Some(a)
            }
            None => None,
        };
        self.store
            .transaction(&[&self.albums, &self.tracks], |tx| {
                tx.table(&self.tracks).insert(&t.id, &t)?;
                if let Some(a) = &album {
                    tx.table(&self.albums).insert(&a.id, a)?;
                }
                Ok::<_, TxError<Error>>(())
            })
            .map_err(tx_err)?;
        self.sync(&affected)?;
        Ok(t)
    }

    /// Publishes or unpublishes a track; publishing it publishes its album too.
    pub fn publish_track(
        &self,
        actor: &Actor,
        id: TrackId,
        published: bool,
    ) -> Result<UploadedTrack> {
        let _w = self.writing.lock();
        let mut t = self.track_for(actor, id)?;
        t.published = published;
        t.updated_at = now();
        let mut album = self.albums.get(&t.album)?.ok_or(Error::NotFound("album"))?;
        let album_changed = published && !album.published;
        album.published |= published;
        self.store
            .transaction(&[&self.albums, &self.tracks], |tx| {
                tx.table(&self.tracks).insert(&t.id, &t)?;
                if album_changed {
                    tx.table(&self.albums).insert(&album.id, &album)?;
                }
                Ok::<_, TxError<Error>>(())
            })
            .map_err(tx_err)?;
        self.sync(&album.tracks)?;
        Ok(t)
    }

    /// Deletes a track: its records, its catalog entry, then its file.
    pub fn delete_track(&self, actor: &Actor, id: TrackId) -> Result<()> {
        let _w = self.writing.lock();
        let t = self.track_for(actor, id)?;
        let mut album = self.albums.get(&t.album)?;
        if let Some(a) = &mut album {
            a.tracks.retain(|x| *x != id);
            a.updated_at = now();
        }
        // A single has no reason to exist without its track.
        let drop_album = album
            .as_ref()
            .is_some_and(|a| a.kind == AlbumKind::Single && a.tracks.is_empty());
        self.store
            .transaction(&[&self.albums, &self.tracks, &self.fingerprints], |tx| {
                tx.table(&self.tracks).remove(&id)?;
                tx.table(&self.fingerprints)
                    .remove(&(t.profile, t.fingerprint))?;
                if let Some(a) = &album {
                    if drop_album {
                        tx.table(&self.albums).remove(&a.id)?;
                    } else {
                        tx.table(&self.albums).insert(&a.id, a)?;
                    }
                }
                Ok::<_, TxError<Error>>(())
            })
            .map_err(tx_err)?;
        let mut affected = vec![id];
        if let Some(a) = &album {
            affected.extend(a.tracks.iter().copied());
        }
        self.sync(&affected)?;
        self.dirs.remove_audio(&t.file_name);
        if drop_album {
            if let Some(a) = &album {
                self.dirs.remove_cover(a.id);
            }
        }
        Ok(())
    }

    /// Uploaded tracks of the profiles `actor` manages.
    pub fn tracks_of(&self, actor: &Actor) -> Result<Vec<UploadedTrack>> {
        let mine: HashSet<ArtistId> = self
            .profiles_of(actor.user_id)?
            .into_iter()
            .map(|p| p.id)
            .collect();
        let mut out = Vec::new();
        for entry in self.tracks.iter() {
            let (_, t) = entry?;
            if mine.contains(&t.profile) {
                out.push(t);
            }
        }
        out.sort_by_key(|t| (t.uploaded_at, t.id));
        Ok(out)
    }

    // -----------------------------------------------------------------------------------------
    // Resumable uploads
    // -----------------------------------------------------------------------------------------

    /// Claims a resumable upload for one request; 409 while another request writes to it.
    pub fn tus_lock(&self, id: &str) -> Result<TusGuard> {
        if !self.tus_busy.lock().insert(id.to_owned()) {
            return Err(Error::Conflict {
                code: "upload_busy",
                message: "another request is writing to this upload".to_owned(),
            });
        }
        Ok(TusGuard {
            busy: self.tus_busy.clone(),
            id: id.to_owned(),
        })
    }

    /// Starts a resumable upload of `length` bytes.
    pub fn tus_create(
        &self,
        actor: &Actor,
        length: u64,
        metadata: Vec<(String, String)>,
    ) -> Result<String> {
        self.policy.check(Some(actor), Action::Upload)?;
        if length > self.settings.max_file_bytes {
            return Err(Error::TooLarge {
                limit: self.settings.max_file_bytes,
            });
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.dirs.create_tus(&id)?;
        self.tus.insert(
            &id,
            &TusUpload {
                owner: actor.user_id,
                length,
                metadata,
                created_at: now(),
            },
        )?;
        self.store.flush_blocking()?;
        Ok(id)
    }

    /// A resumable upload of `actor`'s, with its offset.
    pub fn tus_get(&self, actor: &Actor, id: &str) -> Result<(TusUpload, u64)> {
        let up = self
            .tus
            .get(&id.to_owned())?
            .ok_or(Error::NotFound("upload"))?;
        if up.owner != actor.user_id {
            return Err(Error::NotFound("upload"));
        }
        let offset = self.dirs.tus_len(id)?;
        Ok((up, offset))
    }

    /// Abandons a resumable upload.
    pub fn tus_delete(&self, actor: &Actor, id: &str) -> Result<()> {
        self.tus_get(actor, id)?;
        self.tus.remove(&id.to_owned())?;
        self.store.flush_blocking()?;
        self.dirs.remove_tus(id);
        Ok(())
    }

    /// Forgets a finished resumable upload (its file has been taken or discarded).
    pub fn tus_finished(&self, id: &str) -> Result<()> {
        self.tus.remove(&id.to_owned())?;
        self.store.flush_blocking()?;
        self.dirs.remove_tus(id);
        Ok(())
    }
}

fn refuse(name: &str, e: ProbeError) -> Error {
    match e {
        ProbeError::Io(e) => Error::Io(e),
        other => Error::Unprocessable(format!("{name}: {other}")),
    }
}

fn move_to(order: &mut Vec<TrackId>, id: TrackId, number: u32) {
    if let Some(pos) = order.iter().position(|x| *x == id) {
        order.remove(pos);
        let at = (number.max(1) as usize - 1).min(order.len());
        order.insert(at, id);
    }
}

fn new_album(profile: ArtistId, title: String, input: &AlbumInput, t: i64) -> Result<ArtistAlbum> {
    let mut a = ArtistAlbum {
        id: AlbumId::new(),
        profile,
        title,
        kind: AlbumKind::Album,
        release_date: None,
        genres: Vec::new(),
        description: String::new(),
        label: String::new(),
        cover_mime: None,
        published: false,
        tracks: Vec::new(),
        created_at: t,
        updated_at: t,
    };
    apply_album_fields(&mut a, input)?;
    Ok(a)
}

fn single_for(t: &UploadedTrack, from: &ArtistAlbum, at: i64) -> ArtistAlbum {
    ArtistAlbum {
        id: AlbumId::new(),
        profile: t.profile,
        title: if t.tags.title.is_empty() {
            "Untitled".to_owned()
        } else {
            t.tags.title.clone()
        },
        kind: AlbumKind::Single,
        release_date: from.release_date.clone(),
        genres: from.genres.clone(),
        description: String::new(),
        label: from.label.clone(),
        cover_mime: None,
        published: from.published,
        tracks: Vec::new(),
        created_at: at,
        updated_at: at,
    }
}

fn apply_album_fields(a: &mut ArtistAlbum, input: &AlbumInput) -> Result<()> {
    if let Some(k) = input.kind {
        a.kind = k;
    }
    if let Some(d) = &input.release_date {
        if d.is_empty() {
            a.release_date = None;
        } else {
            release_year("release_date", d)?;
            a.release_date = Some(d.clone());
        }
    }
    if let Some(g) = &input.genres {
        a.genres = clean_list("genres", g)?;
    }
    if let Some(d) = &input.description {
        check_text("description", d, 10_000)?;
        a.description = d.clone();
    }
    if let Some(l) = &input.label {
        check_text("label", l, 200)?;
        a.label = l.trim().to_owned();
    }
    Ok(())
}

fn check_edit(edit: &TrackEdit) -> Result<TrackEdit> {
    let mut out = edit.clone();
    if let Some(t) = &edit.title {
        out.title = Some(check_name("title", t)?);
    }
    if let Some(n) = edit.track_number {
        if n == 0 {
            return Err(Error::invalid("track_number", "must be 1 or more"));
        }
    }
    if let Some(g) = &edit.genres {
        out.genres = Some(clean_list("genres", g)?);
    }
    if let Some(f) = &edit.featured {
        out.featured = Some(clean_list("featured_artists", f)?);
    }
    if let Some(l) = &edit.lyrics {
        check_text("lyrics", l, 100_000)?;
    }
    Ok(out)
}

fn check_slug(s: &str) -> Result<String> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Error::invalid(
            "slug",
            "1 to 64 characters a-z, 0-9 and '-', not starting with '-'",
        ))
    }
}

fn apply_profile_edit(p: &mut Profile, edit: &ProfileEdit) -> Result<()> {
    if let Some(b) = &edit.bio {
        check_text("bio", b, 10_000)?;
        p.bio = b.clone();
    }
    if let Some(u) = &edit.image_url {
        check_text("image_url", u, 2_000)?;
        p.image_url = (!u.is_empty()).then(|| u.clone());
    }
    if let Some(l) = &edit.links {
        for link in l {
            if !(link.starts_with("https://") || link.starts_with("http://")) {
                return Err(Error::invalid("links", "each link must be an http(s) URL"));
            }
        }
        p.links = clean_list("links", l)?;
    }
    if let Some(g) = &edit.genres {
        p.genres = clean_list("genres", g)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_ascii_and_dashed() {
        assert_eq!(slugify("Björk & The Sugarcubes!"), "bjork-the-sugarcubes");
        assert_eq!(slugify("  "), "artist");
        assert!(check_slug("ok-slug-2").is_ok());
        assert!(check_slug("-no").is_err());
        assert!(check_slug("No").is_err());
    }

    #[test]
    fn release_dates_are_checked() {
        assert_eq!(release_year("d", "2021").unwrap(), 2021);
        assert_eq!(release_year("d", "2021-05-04").unwrap(), 2021);
        assert!(release_year("d", "2021-13").is_err());
        assert!(release_year("d", "21").is_err());
        assert!(release_year("d", "2021-05-04-1").is_err());
    }

    #[test]
    fn moving_a_track_clamps_its_position() {
        let ids: Vec<TrackId> = (0..3).map(|_| TrackId::new()).collect();
        let mut order = ids.clone();
        move_to(&mut order, ids[0], 9);
        assert_eq!(order, vec![ids[1], ids[2], ids[0]]);
        move_to(&mut order, ids[0], 1);
        assert_eq!(order, ids);
    }
}
