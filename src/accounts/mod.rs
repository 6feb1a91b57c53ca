//! Accounts and sessions: registration, login, token refresh with rotation, logout, profiles,
//! avatars, password changes, invitations and user administration.

mod avatar;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use parking_lot::RwLock;

use crate::auth::remembered::Remembered;
use crate::auth::stream_token::{Scope, StreamKeys};
use crate::auth::throttle::{Limits, LoginThrottle};
use crate::auth::tokens::{self, TokenKeys};
use crate::auth::{password, Actor};
use crate::domain::{
    now, Invite, RefreshRecord, Role, Session, SessionId, UnixTime, User, UserId, UserSettings,
    Username,
};
use crate::error::{AuthFailure, Error, Result};
use crate::store::tables::{
    INVITES, REFRESH_TOKENS, SESSIONS, USERNAMES, USERS, USER_SESSIONS, USER_SETTINGS,
};
use crate::store::{Store, Table, TxError};

pub use avatar::AVATAR_SIZE;

/// Who may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// Only admins create accounts.
    Closed,
    /// Anyone with a valid invite code.
    Invite,
    /// Anyone.
    Open,
}

impl From<crate::config::Registration> for Registration {
    fn from(r: crate::config::Registration) -> Self {
        match r {
            crate::config::Registration::Closed => Registration::Closed,
            crate::config::Registration::Invite => Registration::Invite,
            crate::config::Registration::Open => Registration::Open,
        }
    }
}

/// Settings of the account service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Who may register.
    pub registration: Registration,
    /// Lifetime of access tokens.
    pub access_ttl: Duration,
    /// Lifetime of a session without refresh.
    pub refresh_ttl: Duration,
    /// Login throttling limits.
    pub throttle: Limits,
    /// Where avatar images are kept.
    pub avatars_dir: PathBuf,
}

/// Tokens handed to a client at login and refresh.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// Short-lived bearer token for API calls.
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single-use token that obtains the next pair.
    pub refresh_token: String,
}

/// A new account's details.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Initial password.
    pub password: String,
    /// Shown name; defaults to the username.
    pub display_name: Option<String>,
    /// Role.
    pub role: Role,
}

/// A page of users.
#[derive(Debug)]
pub struct UserPage {
    /// The users, oldest first.
    pub items: Vec<User>,
    /// How many users exist.
    pub total: u64,
}

/// Profile fields a user may change; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct ProfileChange {
    /// New display name.
    pub display_name: Option<String>,
    /// New bio.
    pub bio: Option<String>,
}

/// Admin changes to an account; `None` leaves a field as it is.
#[derive(Debug, Default, Clone, Copy)]
pub struct AccountChange {
    /// New role.
    pub role: Option<Role>,
    /// Disable or enable.
    pub disabled: Option<bool>,
}

/// What [`Accounts::authenticate`] needs, in memory so that a request costs no store read. It
/// changes only while its write lock is held around the store transaction that makes the same
/// change, so it never disagrees with the store.
#[derive(Default)]
struct AuthView {
    /// Session -> its user and expiry.
    sessions: HashMap<SessionId, (UserId, UnixTime)>,
    /// User -> role and whether disabled.
    users: HashMap<UserId, (Role, bool)>,
}

/// The account service.
pub struct Accounts {
    store: Store,
    users: Table<UserId, User>,
    usernames: Table<String, UserId>,
    sessions: Table<SessionId, Session>,
    user_sessions: Table<(UserId, SessionId), ()>,
    refresh: Table<String, RefreshRecord>,
    invites: Table<String, Invite>,
    user_settings: Table<UserId, UserSettings>,
    view: RwLock<AuthView>,
    keys: TokenKeys,
    stream_keys: StreamKeys,
    throttle: LoginThrottle,
    settings: Settings,
    /// Verified against when a username does not exist, so a login for an unknown user takes
    /// as long as one with a wrong password and does not reveal which usernames exist. Made on
    /// first use: hashing at start-up would delay readiness by tens of milliseconds.
    dummy_hash: std::sync::OnceLock<String>,
    /// Access tokens already verified, with their user and session, until they expire: a
    /// client sends the same one with every request, and checking its signature, decoding it
    /// and reading its claims again costs about a tenth of a small request. Only that is
    /// saved: expiry is compared on every use, and the session and the account are looked up
    /// as before, so logout, disabling and role changes still take effect at once.
    verified: parking_lot::Mutex<Remembered<Box<str>, (UserId, SessionId), UnixTime>>,
}

/// Most access tokens remembered as verified.
const MAX_VERIFIED_TOKENS: usize = 4096;

const MAX_DISPLAY_NAME: usize = 64;
/// Lowest per-user maximum bitrate: the lowest MP3 rate, so every format can honour it.
pub const MIN_MAX_BITRATE_KBPS: u32 = 32;
/// Highest per-user maximum bitrate: the highest MP3 rate.
pub const MAX_MAX_BITRATE_KBPS: u32 = 320;
const MAX_BIO: usize = 2000;

fn check_len(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

fn store_tx<E: Into<Error>>(e: TxError<E>) -> Error {
    match e {
        TxError::Aborted(e) => e.into(),
        TxError::Store(e) => Error::Store(e),
    }
}

impl Accounts {
    /// Opens the service over `store`.
    pub fn new(store: Store, secret: &[u8], settings: Settings) -> Result<Self> {
        std::fs::create_dir_all(&settings.avatars_dir)?;
        let accounts = Self {
            users: store.table(USERS)?,
            usernames: store.table(USERNAMES)?,
            sessions: store.table(SESSIONS)?,
            user_sessions: store.table(USER_SESSIONS)?,
            refresh: store.table(REFRESH_TOKENS)?,
            invites: store.table(INVITES)?,
            user_settings: store.table(USER_SETTINGS)?,
            keys: TokenKeys::new(secret),
            stream_keys: StreamKeys::new(secret),
            throttle: LoginThrottle::new(settings.throttle),
            dummy_hash: std::sync::OnceLock::new(),
            verified: parking_lot::Mutex::new(Remembered::new(MAX_VERIFIED_TOKENS)),
            view: RwLock::new(AuthView::default()),
            settings,
            store,
        };
        {
            let mut view = accounts.view.write();
            for entry in accounts.users.iter() {
                let (id, u) = entry?;
                view.users.insert(id, (u.role, u.disabled));
            }
            for entry in accounts.sessions.iter() {
                let (id, s) = entry?;
                view.sessions.insert(id, (s.user_id, s.expires_at));
            }
        }
        Ok(accounts)
    }

    /// The registration mode.
    pub fn registration(&self) -> Registration {
        self.settings.registration
    }

    /// Number of accounts.
    pub fn user_count(&self) -> Result<u64> {
        Ok(self.users.len()? as u64)
    }

    /// Validates `new` and builds its account record, password hashed; nothing is stored.
    async fn new_user_record(new: NewUser) -> Result<User> {
        let username = Username::parse(&new.username)
            .map_err(|e| Error::invalid("username", e.to_string()))?;
        password::validate(&new.password)?;
        let display_name = new
            .display_name
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| username.to_string());
        check_len("display_name", &display_name, MAX_DISPLAY_NAME)?;
        Ok(User {
            id: UserId::new(),
            display_name,
            bio: String::new(),
            role: new.role,
            disabled: false,
            password_hash: password::hash_async(new.password).await?,
            created_at: now(),
            avatar_version: None,
            username,
        })
    }

    /// Creates an account (admin action, CLI, bootstrap, or a permitted registration).
    pub async fn create_user(&self, new: NewUser) -> Result<User> {
        let user = Self::new_user_record(new).await?;
        self.insert_new_user(&user)?;
        self.store.flush().await?;
        Ok(user)
    }

    fn insert_new_user(&self, user: &User) -> Result<()> {
        let folded = user.username.folded();
        let mut view = self.view.write();
        self.store
            .transaction(&[&self.users, &self.usernames], |tx| {
                let names = tx.table(&self.usernames);
                if names.get(&folded)?.is_some() {
                    return tx.abort(Error::Conflict {
                        code: "username_taken",
                        message: format!("the username '{}' is taken", user.username),
                    });
                }
                names.insert(&folded, &user.id)?;
                tx.table(&self.users).insert(&user.id, user)?;
                Ok(())
            })
            .map_err(store_tx)?;
        view.users.insert(user.id, (user.role, user.disabled));
        Ok(())
    }

    /// Creates the first admin when the store has no accounts. Returns the username and, when
    /// `password` was not given, the generated one-time password to print.
    pub async fn bootstrap_admin(
        &self,
        password: Option<String>,
    ) -> Result<Option<(String, Option<String>)>> {
        if self.user_count()? > 0 {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(p) => (p, None),
            None => {
                let p = tokens::random_token(12);
                (p.clone(), Some(p))
            }
        };
        let user = self
            .create_user(NewUser {
                username: "admin".into(),
                password,
                display_name: Some("Administrator".into()),
                role: Role::Admin,
            })
            .await?;
        Ok(Some((user.username.to_string(), generated)))
    }

    /// Self-registration, as the registration mode allows.
    pub async fn register(
        &self,
        username: String,
        password: String,
        display_name: Option<String>,
        invite_code: Option<String>,
    ) -> Result<User> {
        match self.settings.registration {
            Registration::Closed => Err(Error::Forbidden(
                "registration is closed; ask an administrator for an account".into(),
            )),
            Registration::Open => {
                self.create_user(NewUser {
                    username,
                    password,
                    display_name,
                    role: Role::Listener,
                })
                .await
            }
            Registration::Invite => {
                let code = invite_code.ok_or_else(|| {
                    Error::invalid("invite_code", "registration requires an invite code")
                })?;
                let invite = self
                    .invites
                    .get(&code)?
                    .filter(|i| i.used_by.is_none() && i.expires_at > now())
                    .ok_or_else(|| {
                        Error::invalid("invite_code", "the invite code is invalid, used or expired")
                    })?;
                let user = Self::new_user_record(NewUser {
                    username,
                    password,
                    display_name,
                    role: invite.role,
                })
                .await?;
                let folded = user.username.folded();
                // Using the code and creating the account is one transaction: two people
                // racing with one code cannot both get an account.
                self.register_with_invite(&code, &folded, &user)?;
                self.store.flush().await?;
                Ok(user)
            }
        }
    }

    fn register_with_invite(&self, code: &String, folded: &String, user: &User) -> Result<()> {
        let mut view = self.view.write();
        self.store
            .transaction(&[&self.users, &self.usernames, &self.invites], |tx| {
                let invites = tx.table(&self.invites);
                let Some(mut inv) = invites.get(code)? else {
                    return tx.abort(Error::invalid("invite_code", "the invite code is invalid"));
                };
                if inv.used_by.is_some() {
                    return tx.abort(Error::invalid(
                        "invite_code",
                        "the invite code was already used",
                    ));
                }
                let names = tx.table(&self.usernames);
                if names.get(folded)?.is_some() {
                    return tx.abort(Error::Conflict {
                        code: "username_taken",
                        message: format!("the username '{}' is taken", user.username),
                    });
                }
                inv.used_by = Some(user.id);
                invites.insert(code, &inv)?;
                names.insert(folded, &user.id)?;
                tx.table(&self.users).insert(&user.id, user)?;
                Ok(())
            })
            .map_err(store_tx)?;
        view.users.insert(user.id, (user.role, user.disabled));
        Ok(())
    }

    /// Checks credentials and opens a session.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: IpAddr,
        user_agent: &str,
    ) -> Result<TokenPair> {
        let folded = username.to_ascii_lowercase();
        if let Some(retry_after) = self.throttle.check(&folded, client) {
            return Err(Error::Throttled { retry_after });
        }
        let user = match self.usernames.get(&folded)? {
            Some(id) => self.users.get(&id)?,
            None => None,
        };
        let hash = match &user {
            Some(u) => u.password_hash.clone(),
            None => match self.dummy_hash.get() {
                Some(h) => h.clone(),
                None => {
                    let h = password::hash_async(tokens::random_token(16)).await?;
                    self.dummy_hash.get_or_init(|| h).clone()
                }
            },
        };
        let ok = password::verify_async(hash, password.to_owned()).await?;
        let user = match user {
            Some(u) if ok => u,
            _ => {
                self.throttle.failed(&folded, client);
                return Err(Error::Unauthenticated(AuthFailure::BadCredentials));
            }
        };
        self.throttle.succeeded(&folded);
        if user.disabled {
            return Err(Error::Forbidden("this account is disabled".into()));
        }
        let t = now();
        let session = Session {
            id: SessionId::new(),
            user_id: user.id,
            created_at: t,
            expires_at: t + self.settings.refresh_ttl.as_secs() as i64,
            user_agent: user_agent.chars().take(200).collect(),
        };
        let refresh_token = tokens::new_refresh_token();
        let record = RefreshRecord {
            session_id: session.id,
            rotated: false,
            expires_at: session.expires_at,
        };
        let hash = tokens::hash_refresh_token(&refresh_token);
        {
            let mut view = self.view.write();
            self.store
                .transaction(
                    &[&self.sessions, &self.user_sessions, &self.refresh],
                    |tx| {
                        tx.table(&self.sessions).insert(&session.id, &session)?;
                        tx.table(&self.user_sessions)
                            .insert(&(user.id, session.id), &())?;
                        tx.table(&self.refresh).insert(&hash, &record)?;
                        Ok::<_, TxError<Error>>(())
                    },
                )
                .map_err(store_tx)?;
            view.sessions
                .insert(session.id, (session.user_id, session.expires_at));
        }
        self.store.flush().await?;
        self.pair(user.id, session.id, t, refresh_token)
    }

    fn pair(
        &self,
        user: UserId,
        session: SessionId,
        t: UnixTime,
        refresh_token: String,
    ) -> Result<TokenPair> {
        let ttl = self.settings.access_ttl.as_secs();
        Ok(TokenPair {
            access_token: self.keys.issue_access(user, session, t, ttl as i64)?,
            expires_in: ttl,
            refresh_token,
        })
    }

    /// Exchanges a refresh token for a new pair. The presented token is spent; presenting it
    /// again revokes the whole session, since only a thief would hold a spent token.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair> {
        let hash = tokens::hash_refresh_token(refresh_token);
        let t = now();
        let next = tokens::new_refresh_token();
        let next_hash = tokens::hash_refresh_token(&next);
        let refresh_ttl = self.settings.refresh_ttl.as_secs() as i64;
        let (user_id, session_id, reused) = self.rotate(&hash, &next_hash, t, refresh_ttl)?;
        self.store.flush().await?;
        if reused {
            tracing::warn!("a spent refresh token was presented again; its session is revoked");
            return Err(Error::Unauthenticated(AuthFailure::RefreshReused));
        }
        self.pair(user_id, session_id, t, next)
    }

    /// Spends the refresh token `hash` and records `next_hash`, or revokes the session when
    /// the token was spent already (the `bool`).
    fn rotate(
        &self,
        hash: &String,
        next_hash: &String,
        t: UnixTime,
        refresh_ttl: i64,
    ) -> Result<(UserId, SessionId, bool)> {
        let mut view = self.view.write();
        let (user_id, session_id, reused) = self
            .store
            .transaction(
                &[&self.sessions, &self.user_sessions, &self.refresh],
                |tx| {
                    let refresh = tx.table(&self.refresh);
                    let sessions = tx.table(&self.sessions);
                    let Some(mut record) = refresh.get(hash)? else {
                        return tx.abort(Error::Unauthenticated(AuthFailure::InvalidRefresh));
                    };
                    let Some(mut session) = sessions.get(&record.session_id)? else {
                        return tx.abort(Error::Unauthenticated(AuthFailure::InvalidRefresh));
                    };
                    if record.rotated {
                        sessions.remove(&session.id)?;
                        tx.table(&self.user_sessions)
                            .remove(&(session.user_id, session.id))?;
                        return Ok((session.user_id, session.id, true));
                    }
                    if record.expires_at <= t || session.expires_at <= t {
                        return tx.abort(Error::Unauthenticated(AuthFailure::InvalidRefresh));
                    }
                    record.rotated = true;
                    refresh.insert(hash, &record)?;
                    session.expires_at = t + refresh_ttl;
                    sessions.insert(&session.id, &session)?;
                    refresh.insert(
                        next_hash,
                        &RefreshRecord {
                            session_id: session.id,
                            rotated: false,
                            expires_at: session.expires_at,
                        },
                    )?;
                    Ok((session.user_id, session.id, false))
                },
            )
            .map_err(store_tx)?;
        if reused {
            view.sessions.remove(&session_id);
        } else {
            view.sessions.insert(session_id, (user_id, t + refresh_ttl));
        }
        Ok((user_id, session_id, reused))
    }

    /// Resolves an access token to its caller. The session and account are checked on every
    /// call: logout, disabling and role changes take effect immediately.
    pub fn authenticate(&self, access_token: &str) -> Result<Actor> {
        let t = now();
        // Bound to a local so the lock is released before the slow path below.
        let known = self.verified.lock().get(access_token, t);
        let (user, session) = match known {
            Some(known) => known,
            None => {
                let claims = self.keys.verify_access(access_token)?;
                let found = (claims.sub, claims.sid);
                (self.verified.lock()).insert(access_token.into(), found, claims.exp, t);
                found
            }
        };
        self.live_actor(user, session)
    }

    /// The caller behind a token naming `user` and `session`, if both are still live.
    fn live_actor(&self, user_id: UserId, session_id: SessionId) -> Result<Actor> {
        let view = self.view.read();
        let ended = Error::Unauthenticated(AuthFailure::SessionEnded);
        match view.sessions.get(&session_id) {
            Some(&(user, expires)) if user == user_id && expires > now() => {}
            _ => return Err(ended),
        }
        match view.users.get(&user_id) {
            Some(&(role, false)) => Ok(Actor {
                user_id,
                session_id,
                role,
            }),
            _ => Err(ended),
        }
    }

    /// Issues a stream token for `scope`, bound to the caller's session; returns it with its
    /// expiry.
    pub fn issue_stream_token(
        &self,
        actor: &Actor,
        scope: Scope,
        ttl: Duration,
    ) -> Result<(String, UnixTime)> {
        let t = now();
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let token = self
            .stream_keys
            .issue(actor.user_id, actor.session_id, scope, t, ttl)?;
        Ok((token, t.saturating_add(ttl)))
    }

    /// Resolves a stream token for `scope` to its caller. Like [`Accounts::authenticate`], the
    /// account and session are checked on every call, from memory.
    pub fn authenticate_stream(&self, token: &str, scope: Scope) -> Result<Actor> {
        let claims = self.stream_keys.verify(token, scope)?;
        self.live_actor(claims.sub, claims.sid)
    }

    fn revoke_sessions_where(&self, user: UserId, keep: Option<SessionId>) -> Result<usize> {
        let ids: Vec<SessionId> = self
            .user_sessions
            .scan_prefix(&user)
            .map(|r| r.map(|((_, sid), ())| sid))
            .collect::<Result<_, _>>()?;
        let mut revoked = 0;
        for sid in ids.into_iter().filter(|s| Some(*s) != keep) {
            self.revoke_session(user, sid)?;
            revoked += 1;
        }
        Ok(revoked)
    }

    fn revoke_session(&self, user: UserId, session: SessionId) -> Result<()> {
        let mut view = self.view.write();
        self.store
            .transaction(&[&self.sessions, &self.user_sessions], |tx| {
                tx.table(&self.sessions).remove(&session)?;
                tx.table(&self.user_sessions).remove(&(user, session))?;
                Ok::<_, TxError<Error>>(())
            })
            .map_err(store_tx)?;
        view.sessions.remove(&session);
        Ok(())
    }

    /// Ends the caller's session; its access and refresh tokens stop working.
    pub async fn logout(&self, actor: &Actor) -> Result<()> {
        self.revoke_session(actor.user_id, actor.session_id)?;
        self.store.flush().await?;
        Ok(())
    }

    /// The account behind an id.
    pub fn user(&self, id: UserId) -> Result<User> {
        self.users.get(&id)?.ok_or(Error::NotFound("user"))
    }

    /// The account with this username (any case).
    pub fn user_by_name(&self, username: &str) -> Result<User> {
        let id = self
            .usernames
            .get(&username.to_ascii_lowercase())?
            .ok_or(Error::NotFound("user"))?;
        self.user(id)
    }

    fn modify_user(&self, id: UserId, f: impl Fn(&mut User) -> Result<()>) -> Result<User> {
        let mut view = self.view.write();
        let user = self
            .store
            .transaction(&[&self.users], |tx| {
                let users = tx.table(&self.users);
                let Some(mut user) = users.get(&id)? else {
                    return tx.abort(Error::NotFound("user"));
                };
                if let Err(e) = f(&mut user) {
                    return tx.abort(e);
                }
                users.insert(&id, &user)?;
                Ok(user)
            })
            .map_err(store_tx)?;
        view.users.insert(id, (user.role, user.disabled));
        Ok(user)
    }

    /// Changes the caller's profile.
    pub async fn update_profile(&self, actor: &Actor, change: ProfileChange) -> Result<User> {
        let display_name = change.display_name.map(|d| d.trim().to_owned());
        if let Some(d) = &display_name {
            if d.is_empty() {
                return Err(Error::invalid("display_name", "must not be empty"));
            }
            check_len("display_name", d, MAX_DISPLAY_NAME)?;
        }
        if let Some(b) = &change.bio {
            check_len("bio", b, MAX_BIO)?;
        }
        let user = self.modify_user(actor.user_id, |u| {
            if let Some(d) = &display_name {
                u.display_name = d.clone();
            }
            if let Some(b) = &change.bio {
                u.bio = b.clone();
            }
            Ok(())
        })?;
        self.store.flush().await?;
        Ok(user)
    }

    /// Changes the caller's password after checking the current one; every other session of
    /// the account is revoked (a stolen session does not survive a password change).
    pub async fn change_password(&self, actor: &Actor, current: &str, new: String) -> Result<()> {
        let user = self.user(actor.user_id)?;
        if !password::verify_async(user.password_hash, current.to_owned()).await? {
            return Err(Error::invalid(
                "current_password",
                "the current password is wrong",
            ));
        }
        password::validate(&new)?;
        self.set_password_hash(actor.user_id, password::hash_async(new).await?)?;
        self.revoke_sessions_where(actor.user_id, Some(actor.session_id))?;
        self.store.flush().await?;
        Ok(())
    }

    /// Sets a password without the current one (admin CLI); all sessions are revoked.
    pub async fn reset_password(&self, username: &str, new: String) -> Result<()> {
        let user = self.user_by_name(username)?;
        password::validate(&new)?;
        self.set_password_hash(user.id, password::hash_async(new).await?)?;
        self.revoke_sessions_where(user.id, None)?;
        self.store.flush().await?;
        Ok(())
    }

    fn set_password_hash(&self, id: UserId, hash: String) -> Result<()> {
        self.modify_user(id, |u| {
            u.password_hash = hash.clone();
            Ok(())
        })
        .map(drop)
    }

    /// Users, oldest first.
    pub fn list_users(&self, offset: u64, limit: u64) -> Result<UserPage> {
        let total = self.users.len()? as u64;
        let items = self
            .users
            .iter()
            .skip(offset as usize)
            .take(limit as usize)
            .map(|r| r.map(|(_, u)| u))
            .collect::<Result<_, _>>()?;
        Ok(UserPage { items, total })
    }

    fn enabled_admins(&self) -> Result<usize> {
        let mut n = 0;
        for entry in self.users.iter() {
            let (_, u) = entry?;
            n += usize::from(u.role == Role::Admin && !u.disabled);
        }
        Ok(n)
    }

    /// Changes an account's role or disables it. The last enabled admin cannot be demoted or
    /// disabled: the server would have nobody to administer it.
    pub async fn change_account(&self, id: UserId, change: AccountChange) -> Result<User> {
        let before = self.user(id)?;
        let loses_admin = before.role == Role::Admin
            && !before.disabled
            && (change.role.is_some_and(|r| r != Role::Admin) || change.disabled == Some(true));
        if loses_admin && self.enabled_admins()? <= 1 {
            return Err(Error::Conflict {
                code: "last_admin",
                message: "this is the last enabled admin account".into(),
            });
        }
        let user = self.modify_user(id, |u| {
            if let Some(r) = change.role {
                u.role = r;
            }
            if let Some(d) = change.disabled {
                u.disabled = d;
            }
            Ok(())
        })?;
        if change.disabled == Some(true) {
            self.revoke_sessions_where(id, None)?;
        }
        self.store.flush().await?;
        Ok(user)
    }

    /// Deletes an account: the account, its username, its sessions and its avatar.
    pub async fn delete_user(&self, id: UserId) -> Result<()> {
        let user = self.user(id)?;
        if user.role == Role::Admin && !user.disabled && self.enabled_admins()? <= 1 {
            return Err(Error::Conflict {
                code: "last_admin",
                message: "this is the last enabled admin account".into(),
            });
        }
        self.revoke_sessions_where(id, None)?;
        let folded = user.username.folded();
        {
            let mut view = self.view.write();
            self.store
                .transaction(&[&self.users, &self.usernames, &self.user_settings], |tx| {
                    tx.table(&self.users).remove(&id)?;
                    tx.table(&self.usernames).remove(&folded)?;
                    tx.table(&self.user_settings).remove(&id)?;
                    Ok::<_, TxError<Error>>(())
                })
                .map_err(store_tx)?;
            view.users.remove(&id);
        }
        self.store.flush().await?;
        avatar::remove(&self.settings.avatars_dir, id).await?;
        Ok(())
    }

    /// The preferences of `id` (the defaults when it never set any).
    pub fn user_settings(&self, id: UserId) -> Result<UserSettings> {
        Ok(self.user_settings.get(&id)?.unwrap_or_default())
    }

    /// Replaces the caller's preferences. A maximum bitrate must be one every output format
    /// can honour (`MIN_MAX_BITRATE_KBPS..=MAX_MAX_BITRATE_KBPS`).
    pub async fn set_user_settings(
        &self,
        actor: &Actor,
        settings: UserSettings,
    ) -> Result<UserSettings> {
        if let Some(kbps) = settings.max_bitrate_kbps {
            if !(MIN_MAX_BITRATE_KBPS..=MAX_MAX_BITRATE_KBPS).contains(&kbps) {
                return Err(Error::invalid(
                    "max_bitrate_kbps",
                    format!(
                        "must be null or {MIN_MAX_BITRATE_KBPS} to {MAX_MAX_BITRATE_KBPS} kbps, got {kbps}"
                    ),
                ));
            }
        }
        self.user(actor.user_id)?;
        self.user_settings.insert(&actor.user_id, &settings)?;
        self.store.flush().await?;
        Ok(settings)
    }

    /// Makes an invite code valid for `ttl` that registers an account with `role`.
    pub async fn create_invite(&self, admin: &Actor, role: Role, ttl: Duration) -> Result<Invite> {
        let t = now();
        let invite = Invite {
            code: tokens::random_token(12),
            created_by: admin.user_id,
            created_at: t,
            expires_at: t + ttl.as_secs() as i64,
            role,
            used_by: None,
        };
        self.invites.insert(&invite.code, &invite)?;
        self.store.flush().await?;
        Ok(invite)
    }

    /// Every invite, used or not.
    pub fn list_invites(&self) -> Result<Vec<Invite>> {
        Ok(self
            .invites
            .iter()
            .map(|r| r.map(|(_, i)| i))
            .collect::<Result<_, _>>()?)
    }

    /// Drops expired refresh-token records and sessions. Run periodically: rotation leaves one
    /// spent record per refresh, kept until it expires so reuse is still detected.
    pub fn prune_expired(&self) -> Result<usize> {
        let t = now();
        let mut removed = 0;
        let expired: Vec<String> = self
            .refresh
            .iter()
            .filter_map(|r| match r {
                Ok((k, v)) if v.expires_at <= t => Some(Ok(k)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<_, _>>()?;
        for k in expired {
            self.refresh.remove(&k)?;
            removed += 1;
        }
        let sessions: Vec<Session> = self
            .sessions
            .iter()
            .filter_map(|r| match r {
                Ok((_, s)) if s.expires_at <= t => Some(Ok(s)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<_, _>>()?;
        for s in sessions {
            self.revoke_session(s.user_id, s.id)?;
            removed += 1;
        }
        Ok(removed)
    }

    /// Stores a new avatar for the caller from an uploaded image.
    pub async fn set_avatar(&self, actor: &Actor, image: bytes::Bytes) -> Result<User> {
        avatar::save(&self.settings.avatars_dir, actor.user_id, image).await?;
        let version = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as u64 / 1000;
        let user = self.modify_user(actor.user_id, |u| {
            u.avatar_version = Some(version);
            Ok(())
        })?;
        self.store.flush().await?;
        Ok(user)
    }

    /// Removes the caller's avatar.
    pub async fn remove_avatar(&self, actor: &Actor) -> Result<User> {
        let user = self.modify_user(actor.user_id, |u| {
            u.avatar_version = None;
            Ok(())
        })?;
        self.store.flush().await?;
        avatar::remove(&self.settings.avatars_dir, actor.user_id).await?;
        Ok(user)
    }

    /// A user's avatar as PNG bytes with its version.
    pub async fn avatar(&self, id: UserId) -> Result<(Vec<u8>, u64)> {
        let user = self.user(id)?;
        let version = user.avatar_version.ok_or(Error::NotFound("avatar"))?;
        let bytes = avatar::load(&self.settings.avatars_dir, id).await?;
        Ok((bytes, version))
    }
}
