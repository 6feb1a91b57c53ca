//! Login throttling: after too many failed logins for one username or from one client, further
//! attempts are refused for the rest of the window, whatever the password.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Past this many tracked keys, expired windows are dropped so memory stays bounded under a
/// spray of random usernames.
const PRUNE_AT: usize = 10_000;

/// Limits for [`LoginThrottle`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures allowed per username within a window.
    pub per_user: u32,
    /// Failures allowed per client address within a window.
    pub per_client: u32,
    /// Length of the window, counted from the first failure.
    pub window: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

#[derive(Debug)]
struct Counter<K> {
    limit: u32,
    windows: Mutex<HashMap<K, Window>>,
}

impl<K: Eq + Hash + Clone> Counter<K> {
    fn new(limit: u32) -> Self {
        Self {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn retry_after(&self, key: &K, now: Instant, window: Duration) -> Option<Duration> {
        let windows = self.windows.lock();
        let w = windows.get(key)?;
        let ends = w.started + window;
        (w.failures >= self.limit && now < ends).then(|| ends - now)
    }

    fn fail(&self, key: &K, now: Instant, window: Duration) {
        let mut windows = self.windows.lock();
        if windows.len() >= PRUNE_AT {
            windows.retain(|_, w| now < w.started + window);
        }
        let w = windows.entry(key.clone()).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now >= w.started + window {
            *w = Window {
                started: now,
                failures: 0,
            };
        }
        w.failures += 1;
    }

    fn clear(&self, key: &K) {
        self.windows.lock().remove(key);
    }
}

/// Counts failed logins per folded username and per client address.
#[derive(Debug)]
pub struct LoginThrottle {
    window: Duration,
    users: Counter<String>,
    clients: Counter<IpAddr>,
}

impl LoginThrottle {
    /// A throttle with the given limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            window: limits.window,
            users: Counter::new(limits.per_user),
            clients: Counter::new(limits.per_client),
        }
    }

    /// `Some(wait)` when this attempt must be refused.
    pub fn check(&self, username: &str, client: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let user = self
            .users
            .retry_after(&username.to_owned(), now, self.window);
        let client = self.clients.retry_after(&client, now, self.window);
        user.max(client)
    }

    /// Records a failed attempt.
    pub fn failed(&self, username: &str, client: IpAddr) {
        let now = Instant::now();
        self.users.fail(&username.to_owned(), now, self.window);
        self.clients.fail(&client, now, self.window);
    }

    /// A successful login clears the username's count (not the client's: one client guessing
    /// many accounts stays throttled).
    pub fn succeeded(&self, username: &str) {
        self.users.clear(&username.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(per_user: u32, per_client: u32) -> LoginThrottle {
        LoginThrottle::new(Limits {
            per_user,
            per_client,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn user_is_throttled_after_limit() {
        let t = throttle(3, 100);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(t.check("alice", ip).is_none());
            t.failed("alice", ip);
        }
        let wait = t.check("alice", ip).expect("throttled");
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(50));
        assert!(t.check("bob", ip).is_none());
    }

    #[test]
    fn client_is_throttled_across_usernames() {
        let t = throttle(100, 2);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        t.failed("a", ip);
        t.failed("b", ip);
        assert!(t.check("c", ip).is_some());
        assert!(t.check("c", "10.0.0.2".parse().unwrap()).is_none());
    }

    #[test]
    fn success_clears_the_user_count() {
        let t = throttle(2, 100);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        t.failed("alice", ip);
        t.succeeded("alice");
        t.failed("alice", ip);
        assert!(t.check("alice", ip).is_none());
    }
}
