//! A map whose entries count only while fresh: what every request reads
//! and rarely changes (a tenant's registry row, its bans and policy, a
//! table's schema) is kept for a moment. Changes made through this process
//! forget their entry at once; another process's (the `citadel tenant`
//! command, another node) are seen when the entry goes stale.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long registry rows, bans and policies are kept.
pub(crate) const FRESH_FOR: Duration = Duration::from_secs(1);

/// Entries beyond this many make a put sweep out the stale ones first.
const SWEEP_ABOVE: usize = 4096;

pub(crate) struct FreshMap<K, V> {
    entries: Mutex<Entries<K, V>>,
    fresh_for: Duration,
}

struct Entries<K, V> {
    map: HashMap<K, (V, Instant)>,
    /// Bumped by every forget, so a value read before a change cannot be
    /// kept after the change forgot its key.
    generation: u64,
}

/// Taken before reading a value from the database; the value is kept only
/// if nothing was forgotten in between.
#[derive(Clone, Copy)]
pub(crate) struct Reading {
    generation: u64,
    began: Instant,
}

impl<K, V> Default for FreshMap<K, V> {
    fn default() -> Self {
        Self::new(FRESH_FOR)
    }
}

impl<K, V> FreshMap<K, V> {
    pub(crate) fn new(fresh_for: Duration) -> Self {
        Self {
            entries: Mutex::new(Entries {
                map: HashMap::new(),
                generation: 0,
            }),
            fresh_for,
        }
    }
}

impl<K: Eq + Hash, V: Clone> FreshMap<K, V> {
    fn lock(&self) -> MutexGuard<'_, Entries<K, V>> {
        // One map operation per critical section: nothing is left
        // half-changed by a panic elsewhere.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.lock()
            .map
            .get(key)
            .filter(|(_, read_at)| read_at.elapsed() < self.fresh_for)
            .map(|(value, _)| value.clone())
    }

    /// Call before reading what will be put.
    pub(crate) fn reading(&self) -> Reading {
        Reading {
            generation: self.lock().generation,
            began: Instant::now(),
        }
    }

    /// Keeps `value` unless something was forgotten since `reading`; its
    /// age counts from when the reading began.
    pub(crate) fn put(&self, key: K, value: V, reading: Reading) {
        let mut entries = self.lock();
        if entries.generation != reading.generation {
            return;
        }
        if entries.map.len() > SWEEP_ABOVE {
            let fresh_for = self.fresh_for;
            entries.map.retain(|_, (_, at)| at.elapsed() < fresh_for);
        }
        entries.map.insert(key, (value, reading.began));
    }

    pub(crate) fn forget(&self, key: &K) {
        let mut entries = self.lock();
        entries.generation += 1;
        entries.map.remove(key);
    }

    /// Forgets every entry whose key matches.
    pub(crate) fn forget_where(&self, matches: impl Fn(&K) -> bool) {
        let mut entries = self.lock();
        entries.generation += 1;
        entries.map.retain(|key, _| !matches(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let map: FreshMap<u8, &str> = FreshMap::default();
        map.put(1, "one", map.reading());
        map.put(2, "two", map.reading());
        assert_eq!(map.get(&1), Some("one"));
        map.forget(&1);
        assert_eq!(map.get(&1), None);
        assert_eq!(map.get(&2), Some("two"));
        map.forget_where(|k| *k == 2);
        assert_eq!(map.get(&2), None);
        let mut old = map.reading();
        old.began = Instant::now().checked_sub(FRESH_FOR).expect("clock");
        map.put(3, "three", old);
        assert_eq!(map.get(&3), None, "an entry read too long ago is stale");
    }

    #[test]
    fn a_value_read_before_a_forget_is_not_kept() {
        let map: FreshMap<u8, &str> = FreshMap::default();
        let reading = map.reading();
        map.forget(&9);
        map.put(1, "read before the change", reading);
        assert_eq!(map.get(&1), None);
        map.put(1, "read after", map.reading());
        assert_eq!(map.get(&1), Some("read after"));
    }
}
