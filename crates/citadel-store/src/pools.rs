//! Open tenant databases, opened lazily and dropped when idle or when too
//! many are open, least recently used first: a thousand tenants must not
//! hold a thousand pools (each SQLite connection is an OS thread).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use citadel_core::TenantId;

use crate::audit::AuditTrail;
use crate::db::DbPool;

/// An open tenant: its database and its audit trail, opened and closed
/// together.
#[derive(Clone)]
pub(crate) struct OpenTenant {
    pub pool: DbPool,
    pub audit: AuditTrail,
}

impl OpenTenant {
    /// Closes the trail first (its last events and head), then the
    /// database.
    pub async fn close(&self) {
        self.audit.close().await;
        self.pool.close().await;
    }
}

pub(crate) struct TenantPools {
    state: Mutex<State>,
    max_open: usize,
}

#[derive(Default)]
struct State {
    open: HashMap<TenantId, Entry>,
    /// Tenants being destroyed by this process: no pool may be opened for
    /// them again, whatever a request that passed its checks earlier does.
    /// Kept under the same lock as `open`, so a check and an insert cannot
    /// straddle the start of a destroy.
    destroying: HashSet<TenantId>,
    /// Pools whose closing a destroy began but did not see through (its
    /// future was dropped): the next destroy of that tenant finishes
    /// closing them before it touches the files.
    closing: HashMap<TenantId, OpenTenant>,
}

struct Entry {
    pool: OpenTenant,
    last_used: Instant,
}

impl TenantPools {
    pub fn new(max_open: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            max_open: max_open.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section is a single map operation, so a panic
        // elsewhere cannot leave the state inconsistent: recover.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks a tenant as being destroyed and takes its pool out of the
    /// cache (to be closed by the caller); `Err` if a destroy is already
    /// running.
    pub fn begin_destroy(&self, id: TenantId) -> Result<Option<OpenTenant>, ()> {
        let mut state = self.lock();
        if !state.destroying.insert(id) {
            return Err(());
        }
        Ok(state
            .open
            .remove(&id)
            .map(|e| e.pool)
            .or_else(|| state.closing.remove(&id)))
    }

    /// Keeps a pool whose closing was abandoned, for the next destroy.
    pub fn still_closing(&self, id: TenantId, pool: OpenTenant) {
        self.lock().closing.insert(id, pool);
    }

    /// Clears the mark once the destroy has finished or failed.
    pub fn end_destroy(&self, id: TenantId) {
        self.lock().destroying.remove(&id);
    }

    pub fn is_destroying(&self, id: TenantId) -> bool {
        self.lock().destroying.contains(&id)
    }

    pub fn get(&self, id: TenantId) -> Option<OpenTenant> {
        let mut state = self.lock();
        state.open.get_mut(&id).map(|e| {
            e.last_used = Instant::now();
            e.pool.clone()
        })
    }

    /// Keeps `pool` for `id`, unless another task opened one meanwhile, in
    /// which case that one is returned and `pool` is dropped; `None` if the
    /// tenant is being destroyed. Evicted pools are only dropped from the
    /// cache: requests still holding them finish, and the connections close
    /// with the last handle.
    pub fn insert(&self, id: TenantId, pool: OpenTenant) -> Option<OpenTenant> {
        let mut state = self.lock();
        if state.destroying.contains(&id) {
            return None;
        }
        if let Some(e) = state.open.get_mut(&id) {
            e.last_used = Instant::now();
            return Some(e.pool.clone());
        }
        while state.open.len() >= self.max_open {
            let Some(oldest) = state
                .open
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| *k)
            else {
                break;
            };
            state.open.remove(&oldest);
        }
        state.open.insert(
            id,
            Entry {
                pool: pool.clone(),
                last_used: Instant::now(),
            },
        );
        Some(pool)
    }

    /// Removes a tenant's pool and waits for its connections to close, for
    /// suspension.
    pub async fn evict(&self, id: TenantId) {
        let removed = self.lock().open.remove(&id);
        if let Some(e) = removed {
            e.pool.close().await;
        }
    }

    /// Drops pools unused for `idle`; returns how many.
    pub fn drop_idle(&self, idle: Duration) -> usize {
        let mut state = self.lock();
        let before = state.open.len();
        state.open.retain(|_, e| e.last_used.elapsed() < idle);
        before - state.open.len()
    }

    pub fn open_count(&self) -> usize {
        self.lock().open.len()
    }

    /// Takes every open tenant out of the cache and closes it (its audit
    /// trail's last events and head, then its database), for shutdown.
    pub async fn close_all(&self) {
        let open: Vec<OpenTenant> = self.lock().open.drain().map(|(_, e)| e.pool).collect();
        for tenant in open {
            tenant.close().await;
        }
    }
}
