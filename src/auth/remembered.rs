//! Checks that passed, remembered until a deadline so that a client repeating the same
//! credentials with every request is checked once: a verified access token, a Subsonic token
//! that matched an app password.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

/// At most `max` entries, each valid until its deadline. When full, the expired ones go, and if
/// that frees nothing the map starts over: a flood of distinct credentials then costs each
/// legitimate client one more full check, never memory.
pub struct Remembered<K, V, T> {
    entries: HashMap<K, (V, T)>,
    max: usize,
}

impl<K: Hash + Eq, V: Copy, T: Ord + Copy> Remembered<K, V, T> {
    /// An empty map holding up to `max` entries.
    pub fn new(max: usize) -> Self {
        Self {
            entries: HashMap::new(),
            max,
        }
    }

    /// What was remembered for `key`, if its deadline is after `now`.
    pub fn get<Q>(&self, key: &Q, now: T) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.entries.get(key) {
            Some(&(value, until)) if now < until => Some(value),
            _ => None,
        }
    }

    /// Remembers `value` for `key` until `until`.
    pub fn insert(&mut self, key: K, value: V, until: T, now: T) {
        if self.entries.len() >= self.max {
            self.entries.retain(|_, &mut (_, until)| now < until);
            if self.entries.len() >= self.max {
                self.entries.clear();
            }
        }
        self.entries.insert(key, (value, until));
    }

    /// Forgets the entries whose key `forget` picks.
    pub fn forget(&mut self, mut forget: impl FnMut(&K) -> bool) {
        self.entries.retain(|key, _| !forget(key));
    }

    /// Entries held, expired or not.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_stay_bounded() {
        let mut r: Remembered<Box<str>, u32, i64> = Remembered::new(4096);
        r.insert("a.b.c".into(), 7, 1_000, 100);
        assert_eq!(r.get("a.b.c", 999), Some(7));
        assert_eq!(r.get("a.b.c", 1_000), None, "expired: checked again");
        assert_eq!(r.get("a.b.d", 999), None);
        for i in 0..4096 + 10 {
            r.insert(format!("t{i}").into(), 1, 2_000, 100);
        }
        assert!(r.len() <= 4096);
        // The newest is always kept.
        assert_eq!(r.get("t4105", 100), Some(1));
        assert_eq!(r.get("t4099", 100), Some(1));
        r.forget(|k| k.starts_with("t410"));
        assert_eq!(r.get("t4105", 100), None);
        assert_eq!(r.get("t4099", 100), Some(1));
    }
}
