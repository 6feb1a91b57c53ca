//! App passwords: the credentials players use on the Subsonic API, one per app, revocable one
//! by one; and what players keep per user beyond the social data: the play queue and
//! bookmarks.
//!
//! Subsonic's token scheme sends `md5(password + salt)`, so the server must be able to read the
//! password back. The user's main password is never made recoverable (it stays an argon2id
//! hash); instead each app password is sealed with ChaCha20-Poly1305 under a key derived from
//! the server's secret, and bound to its row (owner and id are the associated data), so a
//! sealed value copied to another row does not open. The same secret also works as an
//! OpenSubsonic `apiKey`, found through its SHA-256 without unsealing anything.

use std::time::{Duration, Instant};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use md5::Md5;
use rand::distributions::{Alphanumeric, DistString};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::remembered::Remembered;
use crate::auth::throttle::{Limits, LoginThrottle};
use crate::domain::{now, AppPasswordId, TrackId, UnixTime, UserId};
use crate::error::{Error, Result};
use crate::store::tables::{APP_PASSWORDS, APP_PASSWORD_HASHES, BOOKMARKS, PLAY_QUEUES};
use crate::store::{Store, Table, TxError};

/// Length of a generated app password: 24 letters and digits, about 143 bits.
const SECRET_LEN: usize = 24;
/// A user may keep this many app passwords.
pub const MAX_PER_USER: usize = 50;
/// Longest name of an app password.
const MAX_NAME_CHARS: usize = 64;

/// One app password as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppPassword {
    /// Stable id.
    pub id: AppPasswordId,
    /// What the user called it ("Phone", "Symfonium").
    pub name: String,
    /// When it was made.
    pub created_at: UnixTime,
    /// 12-byte nonce followed by the sealed secret.
    pub sealed: Vec<u8>,
}

/// The play queue a player saved for its user.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PlayQueue {
    /// Tracks in order.
    pub entries: Vec<TrackId>,
    /// The track playing.
    pub current: Option<TrackId>,
    /// Position in the current track, milliseconds.
    pub position_ms: u64,
    /// When it was saved.
    pub changed_at: UnixTime,
    /// The client that saved it (`c`).
    pub changed_by: String,
}

/// Where a user stopped in a track.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bookmark {
    /// Position, milliseconds.
    pub position_ms: u64,
    /// The user's note.
    pub comment: String,
    /// When it was first made.
    pub created_at: UnixTime,
    /// When it last moved.
    pub changed_at: UnixTime,
}

/// An app password as its owner sees it in lists (never the secret).
#[derive(Debug, Clone)]
pub struct AppPasswordInfo {
    /// Stable id.
    pub id: AppPasswordId,
    /// Its name.
    pub name: String,
    /// When it was made.
    pub created_at: UnixTime,
}

/// Longest salt whose passed check is remembered; players send 6 to 32 characters.
const MAX_REMEMBERED_SALT: usize = 64;
/// How long a passed token check is remembered.
const REMEMBER_FOR: Duration = Duration::from_secs(300);
/// How many passed checks are remembered at most.
const MAX_REMEMBERED: usize = 4096;

/// Token checks that passed lately. A player sends the same salt and token with each request
/// of a session, and checking a token means unsealing each of the user's app passwords (up to
/// [`MAX_PER_USER`]) and hashing it with the salt: that work is done once a session instead of
/// on every request. Only successes are kept, and a revoke forgets its user's, so a revoked
/// app password is refused at once.
struct Passed {
    /// (user, salt, token in lower case), until [`REMEMBER_FOR`] after the check.
    checks: Remembered<(UserId, Box<str>, Box<str>), (), Instant>,
    /// Counts revokes: a check that began before one is not remembered, since the password
    /// it matched may be the one revoked.
    revokes: u64,
}

/// App passwords and saved play queues.
pub struct Credentials {
    store: Store,
    passwords: Table<(UserId, AppPasswordId), AppPassword>,
    hashes: Table<String, (UserId, AppPasswordId)>,
    queues: Table<UserId, PlayQueue>,
    bookmarks: Table<(UserId, TrackId), Bookmark>,
    cipher: ChaCha20Poly1305,
    passed: parking_lot::Mutex<Passed>,
    /// Failed player logins, per username and per client address: guessing is slowed down
    /// as it is on the web sign-in.
    pub throttle: LoginThrottle,
}

fn sha256_hex(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// `md5(password + salt)` in lower-case hex: Subsonic's token.
pub fn subsonic_token(password: &str, salt: &str) -> String {
    let mut h = Md5::new();
    h.update(password.as_bytes());
    h.update(salt.as_bytes());
    hex(&h.finalize())
}

fn aad(user: UserId, id: AppPasswordId) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(user.as_uuid().as_bytes());
    out[16..].copy_from_slice(id.as_uuid().as_bytes());
    out
}

fn tx_err(e: TxError<Error>) -> Error {
    match e {
        TxError::Aborted(e) => e,
        TxError::Store(e) => Error::Store(e),
    }
}

impl Credentials {
    /// Opens the trees; the sealing key is derived from `server_secret`; failed logins are
    /// throttled by `limits`.
    pub fn open(store: &Store, server_secret: &[u8], limits: Limits) -> Result<Self> {
        // A key of its own, so the signing secret is never used directly as a cipher key.
        let mut h = Sha256::new();
        h.update(b"musewave app passwords v1\0");
        h.update(server_secret);
        let key: [u8; 32] = h.finalize().into();
        let key = Key::from(key);
        Ok(Self {
            store: store.clone(),
            passwords: store.table(APP_PASSWORDS)?,
            hashes: store.table(APP_PASSWORD_HASHES)?,
            queues: store.table(PLAY_QUEUES)?,
            bookmarks: store.table(BOOKMARKS)?,
            cipher: ChaCha20Poly1305::new(&key),
            passed: parking_lot::Mutex::new(Passed {
                checks: Remembered::new(MAX_REMEMBERED),
                revokes: 0,
            }),
            throttle: LoginThrottle::new(limits),
        })
    }

    fn seal(&self, user: UserId, id: AppPasswordId, secret: &str) -> Result<Vec<u8>> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: &aad(user, id),
                },
            )
            .map_err(|_| Error::Internal("sealing an app password failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn unseal(&self, user: UserId, p: &AppPassword) -> Option<String> {
        if p.sealed.len() < 12 {
            return None;
        }
        let (nonce, sealed) = p.sealed.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad(user, p.id),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }

    /// Makes a new app password for `user`; returns it with its secret, which the caller shows
    /// once.
    pub async fn create(&self, user: UserId, name: &str) -> Result<(AppPasswordInfo, String)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(Error::invalid(
                "name",
                format!("must be 1 to {MAX_NAME_CHARS} characters"),
            ));
        }
        if self.passwords.scan_prefix(&user).count() >= MAX_PER_USER {
            return Err(Error::Conflict {
                code: "too_many_app_passwords",
                message: format!("at most {MAX_PER_USER} app passwords per account"),
            });
        }
        let id = AppPasswordId::new();
        let secret = Alphanumeric.sample_string(&mut rand::rngs::OsRng, SECRET_LEN);
        let record = AppPassword {
            id,
            name: name.to_owned(),
            created_at: now(),
            sealed: self.seal(user, id, &secret)?,
        };
        let hash = sha256_hex(&secret);
        self.store
            .transaction(&[&self.passwords, &self.hashes], |tx| {
                tx.table(&self.passwords).insert(&(user, id), &record)?;
                tx.table(&self.hashes).insert(&hash, &(user, id))?;
                Ok::<_, TxError<Error>>(())
            })
            .map_err(tx_err)?;
        self.store.flush().await?;
        Ok((
            AppPasswordInfo {
                id,
                name: record.name,
                created_at: record.created_at,
            },
            secret,
        ))
    }

    /// `user`'s app passwords, oldest first.
    pub fn list(&self, user: UserId) -> Result<Vec<AppPasswordInfo>> {
        self.passwords
            .scan_prefix(&user)
            .map(|r| {
                let (_, p) = r?;
                Ok(AppPasswordInfo {
                    id: p.id,
                    name: p.name,
                    created_at: p.created_at,
                })
            })
            .collect()
    }

    /// Revokes one of `user`'s app passwords; players using it are refused from now on.
    pub async fn revoke(&self, user: UserId, id: AppPasswordId) -> Result<()> {
        let Some(p) = self.passwords.get(&(user, id))? else {
            return Err(Error::NotFound("app password"));
        };
        let hash = self.unseal(user, &p).map(|s| sha256_hex(&s));
        self.store
            .transaction(&[&self.passwords, &self.hashes], |tx| {
                tx.table(&self.passwords).remove(&(user, id))?;
                if let Some(h) = &hash {
                    tx.table(&self.hashes).remove(h)?;
                }
                Ok::<_, TxError<Error>>(())
            })
            .map_err(tx_err)?;
        // After the removal: a check from now on reads the store without this password.
        self.forget_passed(user);
        self.store.flush().await?;
        Ok(())
    }

    /// Revokes all of `user`'s app passwords (the account is being deleted).
    pub async fn revoke_all(&self, user: UserId) -> Result<()> {
        for p in self.list(user)? {
            self.revoke(user, p.id).await?;
        }
        Ok(())
    }

    /// The owner of an `apiKey`, or `None` when no app password has it.
    pub fn by_api_key(&self, key: &str) -> Result<Option<UserId>> {
        Ok(self.hashes.get(&sha256_hex(key))?.map(|(user, _)| user))
    }

    /// Whether `password` is one of `user`'s app passwords (`p=` auth).
    pub fn check_password(&self, user: UserId, password: &str) -> Result<bool> {
        Ok(self
            .hashes
            .get(&sha256_hex(password))?
            .is_some_and(|(owner, _)| owner == user))
    }

    /// Whether `token` is `md5(app password + salt)` for one of `user`'s app passwords.
    pub fn check_token(&self, user: UserId, salt: &str, token: &str) -> Result<bool> {
        let token = token.to_ascii_lowercase();
        let key = (user, Box::from(salt), token.into_boxed_str());
        let revokes = {
            let passed = self.passed.lock();
            if passed.checks.get(&key, Instant::now()).is_some() {
                return Ok(true);
            }
            passed.revokes
        };
        for r in self.passwords.scan_prefix(&user) {
            let (_, p) = r?;
            if let Some(secret) = self.unseal(user, &p) {
                // In constant time, so response timing says nothing about how much matched.
                let expected = subsonic_token(&secret, salt);
                if bool::from(expected.as_bytes().ct_eq(key.2.as_bytes())) {
                    self.remember(key, revokes);
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Forgets `user`'s passed checks, and makes those under way not be kept.
    fn forget_passed(&self, user: UserId) {
        let mut passed = self.passed.lock();
        passed.revokes += 1;
        passed.checks.forget(|(owner, _, _)| *owner == user);
    }

    /// Keeps a passed check, unless an app password was revoked since it began.
    fn remember(&self, key: (UserId, Box<str>, Box<str>), revokes_before: u64) {
        if key.1.len() > MAX_REMEMBERED_SALT {
            return;
        }
        let mut passed = self.passed.lock();
        if passed.revokes != revokes_before {
            return;
        }
        let now = Instant::now();
        passed.checks.insert(key, (), now + REMEMBER_FOR, now);
    }

    /// The play queue `user` saved last.
    pub fn play_queue(&self, user: UserId) -> Result<Option<PlayQueue>> {
        Ok(self.queues.get(&user)?)
    }

    /// Saves `user`'s play queue; an empty one clears it.
    pub async fn save_play_queue(&self, user: UserId, queue: PlayQueue) -> Result<()> {
        if queue.entries.is_empty() {
            self.queues.remove(&user)?;
        } else {
            self.queues.insert(&user, &queue)?;
        }
        self.store.flush().await?;
        Ok(())
    }
}

impl Credentials {
    /// `user`'s bookmarks, by track.
    pub fn bookmarks(&self, user: UserId) -> Result<Vec<(TrackId, Bookmark)>> {
        self.bookmarks
            .scan_prefix(&user)
            .map(|r| r.map(|((_, t), b)| (t, b)).map_err(Error::from))
            .collect()
    }

    /// Sets `user`'s bookmark in `track`.
    pub async fn set_bookmark(
        &self,
        user: UserId,
        track: TrackId,
        position_ms: u64,
        comment: String,
    ) -> Result<()> {
        let t = now();
        let created_at = self
            .bookmarks
            .get(&(user, track))?
            .map_or(t, |b| b.created_at);
        self.bookmarks.insert(
            &(user, track),
            &Bookmark {
                position_ms,
                comment,
                created_at,
                changed_at: t,
            },
        )?;
        self.store.flush().await?;
        Ok(())
    }

    /// Removes `user`'s bookmark in `track`; `NotFound` when there was none.
    pub async fn delete_bookmark(&self, user: UserId, track: TrackId) -> Result<()> {
        self.bookmarks
            .remove(&(user, track))?
            .ok_or(Error::NotFound("bookmark"))?;
        self.store.flush().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_matches_the_spec_example() {
        assert_eq!(
            subsonic_token("sesame", "c19b2d"),
            "26719a1196d2a940705a59634eb18eab"
        );
    }

    #[tokio::test]
    async fn sealed_secrets_open_only_in_their_row_and_revoke_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            dir.path(),
            &crate::store::StoreOptions::default(),
            &crate::store::tables::SCHEMA,
        )
        .unwrap();
        let limits = Limits {
            per_user: 5,
            per_client: 20,
            window: std::time::Duration::from_secs(60),
        };
        let c = Credentials::open(&store, b"a server secret of enough length!!", limits).unwrap();
        let alice = UserId::new();
        let bob = UserId::new();
        let (info, secret) = c.create(alice, "Phone").await.unwrap();
        assert_eq!(secret.len(), SECRET_LEN);
        let stored = c.passwords.get(&(alice, info.id)).unwrap().unwrap();
        assert!(!stored
            .sealed
            .windows(secret.len())
            .any(|w| w == secret.as_bytes()));
        assert!(c
            .check_token(alice, "abc", &subsonic_token(&secret, "abc"))
            .unwrap());
        // Again, now from the passed checks, and in upper case.
        assert!(c
            .check_token(alice, "abc", &subsonic_token(&secret, "abc").to_uppercase())
            .unwrap());
        assert!(!c
            .check_token(alice, "abd", &subsonic_token(&secret, "abc"))
            .unwrap());
        assert!(!c
            .check_token(bob, "abc", &subsonic_token(&secret, "abc"))
            .unwrap());
        assert!(c.check_password(alice, &secret).unwrap());
        assert!(!c.check_password(bob, &secret).unwrap());
        assert_eq!(c.by_api_key(&secret).unwrap(), Some(alice));
        // Moved to another row, the sealed value does not open.
        assert!(c.unseal(bob, &stored).is_none());
        let (_, other) = c.create(alice, "Tablet").await.unwrap();
        assert!(c
            .check_token(alice, "xyz", &subsonic_token(&other, "xyz"))
            .unwrap());
        c.revoke(alice, info.id).await.unwrap();
        assert_eq!(c.by_api_key(&secret).unwrap(), None);
        // The other app password still works after the revoke forgot the passed checks.
        assert!(c
            .check_token(alice, "xyz", &subsonic_token(&other, "xyz"))
            .unwrap());
        assert!(!c
            .check_token(alice, "abc", &subsonic_token(&secret, "abc"))
            .unwrap());
        assert_eq!(c.list(alice).unwrap().len(), 1);
    }
}
