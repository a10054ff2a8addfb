//! When a server-side session ends by itself.

use std::time::Duration;

/// Idle and absolute lifetimes of sessions (等保: sessions that end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Ends after this long without a request.
    pub idle: Duration,
    /// Ends this long after sign-in, however active.
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 60 * 60),
        }
    }
}

/// Last-seen times are written at most this often, so that a busy session
/// does not turn every read request into a write.
pub const TOUCH_INTERVAL_MS: i64 = 60_000;

impl SessionPolicy {
    /// Whether a session created at `created_ms` and last used at
    /// `last_seen_ms` is still valid at `now_ms` (all Unix milliseconds).
    pub fn is_live(&self, created_ms: i64, last_seen_ms: i64, now_ms: i64) -> bool {
        let idle = i64::try_from(self.idle.as_millis()).unwrap_or(i64::MAX);
        let absolute = i64::try_from(self.absolute.as_millis()).unwrap_or(i64::MAX);
        now_ms.saturating_sub(last_seen_ms) < idle && now_ms.saturating_sub(created_ms) < absolute
    }

    /// Whether the last-seen time is worth writing again: after a minute,
    /// or after half the idle limit if that is shorter (else an active
    /// session would end at the idle limit anyway).
    pub fn needs_touch(&self, last_seen_ms: i64, now_ms: i64) -> bool {
        let idle = i64::try_from(self.idle.as_millis()).unwrap_or(i64::MAX);
        now_ms.saturating_sub(last_seen_ms) >= TOUCH_INTERVAL_MS.min(idle / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_and_absolute_limits() {
        let p = SessionPolicy::default();
        let min = 60_000;
        assert!(p.is_live(0, 0, 29 * min));
        assert!(!p.is_live(0, 0, 30 * min), "idle for 30 minutes");
        assert!(p.is_live(0, 11 * 60 * min, 11 * 60 * min + 1));
        assert!(
            !p.is_live(0, 12 * 60 * min - 1, 12 * 60 * min),
            "12 hours after sign-in"
        );
        assert!(!p.needs_touch(0, 59_999));
        assert!(p.needs_touch(0, 60_000));
        let short = SessionPolicy {
            idle: std::time::Duration::from_secs(60),
            ..p
        };
        assert!(!short.needs_touch(0, 29_999));
        assert!(
            short.needs_touch(0, 30_000),
            "activity must outrun the idle limit"
        );
    }
}
