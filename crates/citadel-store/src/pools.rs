//! Open tenant databases, opened lazily and dropped when idle or when too
//! many are open, least recently used first: a thousand tenants must not
//! hold a thousand pools (each SQLite connection is an OS thread).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use citadel_core::TenantId;

use crate::db::DbPool;

pub(crate) struct TenantPools {
    open: Mutex<HashMap<TenantId, Entry>>,
    max_open: usize,
}

struct Entry {
    pool: DbPool,
    last_used: Instant,
}

impl TenantPools {
    pub fn new(max_open: usize) -> Self {
        Self {
            open: Mutex::new(HashMap::new()),
            max_open: max_open.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, Entry>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (every critical section is a single insert/remove), so recover.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn get(&self, id: TenantId) -> Option<DbPool> {
        let mut open = self.lock();
        open.get_mut(&id).map(|e| {
            e.last_used = Instant::now();
            e.pool.clone()
        })
    }

    /// Keeps `pool` for `id`, unless another task opened one meanwhile, in
    /// which case that one is returned and `pool` is dropped. Evicted pools
    /// are only dropped from the cache: requests still holding them finish,
    /// and the connections close with the last handle.
    pub fn insert(&self, id: TenantId, pool: DbPool) -> DbPool {
        let mut open = self.lock();
        if let Some(e) = open.get_mut(&id) {
            e.last_used = Instant::now();
            return e.pool.clone();
        }
        while open.len() >= self.max_open {
            let Some(oldest) = open
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| *k)
            else {
                break;
            };
            open.remove(&oldest);
        }
        open.insert(
            id,
            Entry {
                pool: pool.clone(),
                last_used: Instant::now(),
            },
        );
        pool
    }

    /// Removes a tenant's pool and waits for its connections to close, for
    /// suspension and destruction.
    pub async fn evict(&self, id: TenantId) {
        let removed = self.lock().remove(&id);
        if let Some(e) = removed {
            e.pool.close().await;
        }
    }

    /// Drops pools unused for `idle`; returns how many.
    pub fn drop_idle(&self, idle: Duration) -> usize {
        let mut open = self.lock();
        let before = open.len();
        open.retain(|_, e| e.last_used.elapsed() < idle);
        before - open.len()
    }

    pub fn open_count(&self) -> usize {
        self.lock().len()
    }
}
