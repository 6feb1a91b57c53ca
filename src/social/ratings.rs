//! Ratings of tracks and albums: 1 to 5 stars with an optional short review, and per item an
//! exact count and sum, so the average is one read.

use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::model::{Rating, RatingTotals};
use crate::domain::{now, UserId};
use crate::error::{Error, Result};
use crate::store::{Key, Store, Table, TableDef, TxError};

/// Longest review, in characters.
pub const MAX_REVIEW_CHARS: usize = 2000;

/// The ratings of one kind of item.
pub struct Ratings<I> {
    store: Store,
    by_user: Table<(UserId, I), Rating>,
    by_item: Table<(I, UserId), Rating>,
    totals: Table<I, RatingTotals>,
    // Ratings of one kind are rare next to plays: one lock keeps each item's totals free of
    // transaction retries.
    lock: Mutex<()>,
}

/// An item's average and count.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// Mean stars, `None` before the first rating.
    pub average: Option<f64>,
    /// Ratings.
    pub count: u64,
}

impl From<RatingTotals> for Summary {
    fn from(t: RatingTotals) -> Self {
        Summary {
            average: (t.count > 0).then(|| t.stars as f64 / t.count as f64),
            count: t.count,
        }
    }
}

/// Checks stars and review.
pub fn validate(stars: u8, review: Option<&str>) -> Result<()> {
    if !(1..=5).contains(&stars) {
        return Err(Error::invalid("stars", "must be between 1 and 5"));
    }
    if review.is_some_and(|r| r.chars().count() > MAX_REVIEW_CHARS) {
        return Err(Error::invalid(
            "review",
            format!("must be at most {MAX_REVIEW_CHARS} characters"),
        ));
    }
    Ok(())
}

impl<I> Ratings<I>
where
    I: Key + Copy + Serialize + DeserializeOwned,
    (UserId, I): Key,
    (I, UserId): Key + crate::store::KeyPrefix<I>,
{
    /// Opens the three trees of one kind.
    pub fn open(
        store: &Store,
        by_user: TableDef<(UserId, I), Rating>,
        by_item: TableDef<(I, UserId), Rating>,
        totals: TableDef<I, RatingTotals>,
    ) -> Result<Self> {
        Ok(Self {
            store: store.clone(),
            by_user: store.table(by_user)?,
            by_item: store.table(by_item)?,
            totals: store.table(totals)?,
            lock: Mutex::new(()),
        })
    }

    /// Sets (`Some`) or removes (`None`) `user`'s rating of `item`; returns the new summary.
    /// Blocking.
    pub fn set(
        &self,
        user: UserId,
        item: I,
        rating: Option<(u8, Option<String>)>,
    ) -> Result<Summary> {
        if let Some((stars, review)) = &rating {
            validate(*stars, review.as_deref())?;
        }
        let new = rating.map(|(stars, review)| Rating {
            stars,
            review: review.filter(|r| !r.trim().is_empty()),
            rated_at: now(),
        });
        let _one_at_a_time = self.lock.lock();
        self.store
            .transaction(&[&self.by_user, &self.by_item, &self.totals], |tx| {
                let by_user = tx.table(&self.by_user);
                let by_item = tx.table(&self.by_item);
                let totals = tx.table(&self.totals);
                let mut sum = totals.get(&item)?.unwrap_or_default();
                if let Some(old) = by_user.get(&(user, item))? {
                    sum.count = sum.count.saturating_sub(1);
                    sum.stars = sum.stars.saturating_sub(u64::from(old.stars));
                }
                match &new {
                    Some(r) => {
                        by_user.insert(&(user, item), r)?;
                        by_item.insert(&(item, user), r)?;
                        sum.count += 1;
                        sum.stars += u64::from(r.stars);
                    }
                    None => {
                        by_user.remove(&(user, item))?;
                        by_item.remove(&(item, user))?;
                    }
                }
                if sum.count == 0 {
                    totals.remove(&item)?;
                } else {
                    totals.insert(&item, &sum)?;
                }
                Ok::<_, TxError<Error>>(Summary::from(sum))
            })
            .map_err(TxError::flatten)
    }

    /// The item's average and count.
    pub fn summary(&self, item: I) -> Result<Summary> {
        Ok(self.totals.get(&item)?.unwrap_or_default().into())
    }

    /// `user`'s own rating of `item`.
    pub fn of_user(&self, user: UserId, item: I) -> Result<Option<Rating>> {
        Ok(self.by_user.get(&(user, item))?)
    }

    /// Every rating `user` gave, unless there are more than `max`.
    pub fn of_user_upto(&self, user: UserId, max: usize) -> Result<Option<Vec<(I, Rating)>>>
    where
        (UserId, I): crate::store::KeyPrefix<UserId>,
    {
        let mut out = Vec::new();
        for r in self.by_user.scan_prefix(&user) {
            let ((_, item), rating) = r?;
            if out.len() == max {
                return Ok(None);
            }
            out.push((item, rating));
        }
        Ok(Some(out))
    }

    /// Every rating `user` gave, by item id.
    pub fn all_of_user(&self, user: UserId) -> Result<Vec<(I, Rating)>>
    where
        (UserId, I): crate::store::KeyPrefix<UserId>,
    {
        self.by_user
            .scan_prefix(&user)
            .map(|r| {
                r.map(|((_, item), rating)| (item, rating))
                    .map_err(Error::from)
            })
            .collect()
    }

    /// The item's ratings, by user id, with the total.
    pub fn of_item(
        &self,
        item: I,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<(UserId, Rating)>, u64)> {
        let total = self.summary(item)?.count;
        let items = self
            .by_item
            .scan_prefix(&item)
            .skip(offset as usize)
            .take(limit as usize)
            .map(|r| r.map(|((_, u), rating)| (u, rating)))
            .collect::<Result<_, _>>()?;
        Ok((items, total))
    }
}
