//! User -> object relations with exact counts: likes, saves and follows.
//!
//! A toggle is one transaction over the relation's four trees, so a count never drifts from
//! the rows it counts. Toggles of one object are also serialised by a striped lock before the
//! transaction: a hundred clients liking one track would otherwise all collide on its counter
//! and spend their time in sled's retries.

use parking_lot::Mutex;
use uuid::Uuid;

use crate::domain::{now, UnixTime, UserId};
use crate::error::{Error, Result};
use crate::store::tables::RelationDefs;
use crate::store::{Store, Table, TxError};

/// Stripes of the per-object lock; a power of two.
const STRIPES: usize = 64;

/// One relation's tables.
pub struct Relation {
    store: Store,
    by_user: Table<(UserId, Uuid), i64>,
    by_time: Table<(UserId, i64, Uuid), ()>,
    by_object: Table<(Uuid, UserId), i64>,
    counts: Table<Uuid, u64>,
    stripes: Box<[Mutex<()>]>,
}

/// A page of a relation, newest first.
#[derive(Debug, Clone)]
pub struct RelationPage<T> {
    /// The items with the time the relation began.
    pub items: Vec<(T, UnixTime)>,
    /// How many there are in all.
    pub total: u64,
}

fn stripe_of(id: &Uuid) -> usize {
    (id.as_u128() as usize) & (STRIPES - 1)
}

impl Relation {
    /// Opens the relation's trees.
    pub fn open(store: &Store, defs: RelationDefs) -> Result<Self> {
        Ok(Self {
            store: store.clone(),
            by_user: store.table(defs.by_user)?,
            by_time: store.table(defs.by_time)?,
            by_object: store.table(defs.by_object)?,
            counts: store.table(defs.counts)?,
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        })
    }

    /// Makes `user` relate to `object` (`on`) or not, and returns the object's count after.
    /// Setting what is already set changes nothing. Blocking: call from a blocking task.
    pub fn set(&self, user: UserId, object: Uuid, on: bool) -> Result<u64> {
        let t = now();
        let _one_at_a_time = self.stripes[stripe_of(&object)].lock();
        self.store
            .transaction(
                &[&self.by_user, &self.by_time, &self.by_object, &self.counts],
                |tx| {
                    let by_user = tx.table(&self.by_user);
                    let counts = tx.table(&self.counts);
                    let count = counts.get(&object)?.unwrap_or(0);
                    let since = by_user.get(&(user, object))?;
                    let count = match (since, on) {
                        (Some(_), true) | (None, false) => return Ok(count),
                        (None, true) => {
                            by_user.insert(&(user, object), &t)?;
                            tx.table(&self.by_time).insert(&(user, t, object), &())?;
                            tx.table(&self.by_object).insert(&(object, user), &t)?;
                            count + 1
                        }
                        (Some(since), false) => {
                            by_user.remove(&(user, object))?;
                            tx.table(&self.by_time).remove(&(user, since, object))?;
                            tx.table(&self.by_object).remove(&(object, user))?;
                            count.saturating_sub(1)
                        }
                    };
                    if count == 0 {
                        counts.remove(&object)?;
                    } else {
                        counts.insert(&object, &count)?;
                    }
                    Ok::<_, TxError<Error>>(count)
                },
            )
            .map_err(TxError::flatten)
    }

    /// Whether `user` relates to `object`.
    pub fn contains(&self, user: UserId, object: Uuid) -> Result<bool> {
        Ok(self.by_user.contains(&(user, object))?)
    }

    /// Since when `user` relates to `object`, if they do (a Subsonic `starred` date).
    pub fn since(&self, user: UserId, object: Uuid) -> Result<Option<UnixTime>> {
        Ok(self.by_user.get(&(user, object))?)
    }

    /// Everything `user` relates to with the time it began, unless there are more than `max`.
    pub fn of_user_upto(
        &self,
        user: UserId,
        max: usize,
    ) -> Result<Option<std::collections::HashMap<Uuid, UnixTime>>> {
        let mut out = std::collections::HashMap::new();
        for r in self.by_user.scan_prefix(&user) {
            let ((_, object), since) = r?;
            if out.len() == max {
                return Ok(None);
            }
            out.insert(object, since);
        }
        Ok(Some(out))
    }

    /// How many users relate to `object`.
    pub fn count(&self, object: Uuid) -> Result<u64> {
        Ok(self.counts.get(&object)?.unwrap_or(0))
    }

    /// How many objects `user` relates to.
    pub fn count_of_user(&self, user: UserId) -> Result<u64> {
        let mut n = 0;
        for key in self.by_user.scan_prefix_keys(&user) {
            key?;
            n += 1;
        }
        Ok(n)
    }

    /// What `user` relates to, newest first.
    pub fn of_user(&self, user: UserId, offset: u64, limit: u64) -> Result<RelationPage<Uuid>> {
        let total = self.count_of_user(user)?;
        let items = self
            .by_time
            .scan_prefix_keys(&user)
            .rev()
            .skip(offset as usize)
            .take(limit as usize)
            .map(|k| k.map(|(_, t, object)| (object, t)))
            .collect::<Result<_, _>>()?;
        Ok(RelationPage { items, total })
    }

    /// Every object `user` relates to (for feeds and now-playing), unordered.
    pub fn all_of_user(&self, user: UserId) -> Result<Vec<Uuid>> {
        Ok(self
            .by_user
            .scan_prefix_keys(&user)
            .map(|k| k.map(|(_, object)| object))
            .collect::<Result<_, _>>()?)
    }

    /// The users relating to `object`, in id order.
    pub fn of_object(&self, object: Uuid, offset: u64, limit: u64) -> Result<RelationPage<UserId>> {
        let total = self.count(object)?;
        let items = self
            .by_object
            .scan_prefix(&object)
            .skip(offset as usize)
            .take(limit as usize)
            .map(|r| r.map(|((_, user), t)| (user, t)))
            .collect::<Result<_, _>>()?;
        Ok(RelationPage { items, total })
    }

    /// Removes every relation to `object` (when it is deleted).
    pub fn forget_object(&self, object: Uuid) -> Result<()> {
        let users: Vec<UserId> = self
            .by_object
            .scan_prefix_keys(&object)
            .map(|k| k.map(|(_, u)| u))
            .collect::<Result<_, _>>()?;
        for user in users {
            self.set(user, object, false)?;
        }
        Ok(())
    }
}
