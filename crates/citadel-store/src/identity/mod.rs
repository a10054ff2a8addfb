//! The identity part of a tenant's database: accounts and departments,
//! credentials (sessions, tokens, second factors), and the sign-in log
//! with its security events, notifications, bans and policy.

mod credentials;
mod departments;
pub(crate) mod guards;
mod signin_log;
mod users;

pub use guards::GuardCache;
pub(crate) use users::insert_user;

/// Maps a unique-constraint violation to a conflict that says what clashed.
pub(crate) fn conflict_on_unique(what: &str) -> impl FnOnce(sqlx::Error) -> crate::StoreError + '_ {
    move |e| match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            crate::StoreError::Conflict(what.to_owned())
        }
        other => other.into(),
    }
}

/// The newest-first page bounds as SQL parameters: no cursor means "from
/// the newest"; ids are time-ordered UUIDs, so they order by time.
pub(crate) fn page_bounds(page: &crate::records::Page) -> (String, i64) {
    let before = page.before.map_or_else(
        || "ffffffff-ffff-ffff-ffff-ffffffffffff".to_owned(),
        |id| id.to_string(),
    );
    (before, i64::from(page.limit.clamp(1, 500)))
}
