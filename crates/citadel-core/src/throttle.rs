//! Throttling of failed sign-ins per client address, across accounts: an
//! attacker spraying one password over many logins is slowed down even
//! though no single account reaches its lockout threshold.

use std::collections::HashMap;
use std::net::IpAddr;

/// How many failures one address may make in one window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub max_failures: u32,
    pub window_ms: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            max_failures: 20,
            window_ms: 15 * 60 * 1000,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Window {
    started_ms: i64,
    failures: u32,
}

/// Failure counts per address in fixed windows. Pure: the caller supplies
/// the time and holds the lock.
#[derive(Debug, Default)]
pub struct IpThrottle {
    policy: ThrottlePolicy,
    windows: HashMap<IpAddr, Window>,
}

/// Bounds memory when many addresses fail: expired windows are dropped
/// once the map grows past this.
const PRUNE_AT: usize = 100_000;

impl IpThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            windows: HashMap::new(),
        }
    }

    /// How long `ip` must wait before trying again, in milliseconds, or
    /// `None` if it may try now.
    pub fn retry_after_ms(&self, ip: IpAddr, now_ms: i64) -> Option<i64> {
        let w = self.windows.get(&ip)?;
        let ends = w.started_ms.saturating_add(self.policy.window_ms);
        (w.failures >= self.policy.max_failures && now_ms < ends).then(|| ends - now_ms)
    }

    pub fn record_failure(&mut self, ip: IpAddr, now_ms: i64) {
        if self.windows.len() >= PRUNE_AT {
            let window = self.policy.window_ms;
            self.windows
                .retain(|_, w| now_ms < w.started_ms.saturating_add(window));
        }
        let window = self.policy.window_ms;
        let w = self.windows.entry(ip).or_insert(Window {
            started_ms: now_ms,
            failures: 0,
        });
        if now_ms >= w.started_ms.saturating_add(window) {
            *w = Window {
                started_ms: now_ms,
                failures: 0,
            };
        }
        w.failures = w.failures.saturating_add(1);
    }

    /// Forgets everything about `ip` (an admin lifted its ban).
    pub fn forget(&mut self, ip: IpAddr) {
        self.windows.remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_after_the_limit_until_the_window_ends() {
        let policy = ThrottlePolicy {
            max_failures: 3,
            window_ms: 1000,
        };
        let mut t = IpThrottle::new(policy);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        for now in [0, 10, 20] {
            assert_eq!(t.retry_after_ms(a, now), None);
            t.record_failure(a, now);
        }
        assert_eq!(t.retry_after_ms(a, 30), Some(970));
        assert_eq!(t.retry_after_ms(b, 30), None, "other addresses are free");
        assert_eq!(t.retry_after_ms(a, 1000), None, "the window ended");
        t.record_failure(a, 1000);
        assert_eq!(t.retry_after_ms(a, 1001), None, "a fresh window");
    }
}
