//! Throttling of failed sign-ins per client address, across accounts: an
//! attacker spraying one password over many logins is slowed down even
//! though no single account reaches its lockout threshold.
//!
//! An attempt is counted as a failure when it starts and forgiven when it
//! turns out not to be one, so a burst of parallel guesses cannot all pass
//! the check while their password hashes are still running. IPv6 clients
//! are counted per /64, the block one subscriber usually holds, so
//! rotating addresses inside it does not help.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

/// The address a client is counted under.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        },
        v4 => v4,
    }
}

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
        let w = self.windows.get(&key(ip))?;
        let ends = w.started_ms.saturating_add(self.policy.window_ms);
        (w.failures >= self.policy.max_failures && now_ms < ends).then(|| ends - now_ms)
    }

    /// Starts an attempt: refuses it (with the wait in milliseconds) if
    /// `ip` failed too often, else counts it as a failure until forgiven.
    /// One call, so parallel attempts cannot all pass the check first.
    pub fn begin_attempt(&mut self, ip: IpAddr, now_ms: i64) -> Result<(), i64> {
        if let Some(wait) = self.retry_after_ms(ip, now_ms) {
            return Err(wait);
        }
        self.record_failure(ip, now_ms);
        Ok(())
    }

    pub fn record_failure(&mut self, ip: IpAddr, now_ms: i64) {
        if self.windows.len() >= PRUNE_AT {
            let window = self.policy.window_ms;
            self.windows
                .retain(|_, w| now_ms < w.started_ms.saturating_add(window));
        }
        let window = self.policy.window_ms;
        let w = self.windows.entry(key(ip)).or_insert(Window {
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

    /// Takes back one failure counted for an attempt that did not fail.
    pub fn forgive(&mut self, ip: IpAddr) {
        if let Some(w) = self.windows.get_mut(&key(ip)) {
            w.failures = w.failures.saturating_sub(1);
        }
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
        t.record_failure(a, 1002);
        t.record_failure(a, 1003);
        assert!(t.retry_after_ms(a, 1004).is_some());
        t.forgive(a);
        assert_eq!(t.retry_after_ms(a, 1004), None, "a forgiven attempt");
        assert_eq!(t.begin_attempt(a, 1005), Ok(()));
        assert_eq!(t.begin_attempt(a, 1006), Err(994), "counted when it began");
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let mut t = IpThrottle::new(ThrottlePolicy {
            max_failures: 2,
            window_ms: 1000,
        });
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let other_64: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        t.record_failure(one, 0);
        t.record_failure(same_64, 0);
        assert!(t.retry_after_ms(one, 1).is_some());
        assert!(t.retry_after_ms(same_64, 1).is_some());
        assert_eq!(t.retry_after_ms(other_64, 1), None);
        let v4: IpAddr = "192.0.2.1".parse().expect("ip");
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        t.record_failure(v4, 0);
        t.record_failure(mapped, 0);
        assert!(
            t.retry_after_ms(v4, 1).is_some(),
            "mapped IPv4 is the same client"
        );
    }
}
