//! The audit trail for audit administrators: the search, the CSV export
//! and the verification report. Reads only; the recording is the audit
//! layer's (`crate::audit`).

use axum::body::{Body, Bytes};
use citadel_audit::{AuditError, Outcome, Tamper};
use citadel_core::data::text_input::guard_formula;
use citadel_store::{AuditTrail, EventQuery, StoreError};

use crate::error::ApiError;
use crate::routes::audit_dto::{EventView, EventsQuery, VerifyReport};
use crate::services::transfer::csv_bytes;

/// Most events on one page of the search.
const MOST_PER_PAGE: u32 = 500;

/// Events read per query while exporting.
const EXPORT_PAGE: u32 = 1_000;

fn time_of(field: &'static str, text: &str) -> Result<i64, ApiError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|_| ApiError::BadRequest {
            code: "invalid_field",
            detail: format!("{field}: an RFC 3339 time, e.g. 2026-11-24T08:00:00Z"),
            field: Some(field.into()),
        })
}

/// The store's query from the request's, checked.
pub fn event_query(query: &EventsQuery) -> Result<EventQuery, ApiError> {
    let outcome = query
        .outcome
        .as_deref()
        .map(|o| {
            Outcome::parse(o).ok_or_else(|| ApiError::BadRequest {
                code: "invalid_field",
                detail: "outcome: success, denied or error".into(),
                field: Some("outcome".into()),
            })
        })
        .transpose()?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MOST_PER_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest {
            code: "invalid_field",
            detail: format!("limit: from 1 to {MOST_PER_PAGE}"),
            field: Some("limit".into()),
        });
    }
    for (field, text) in [
        ("actor", &query.actor),
        ("action", &query.action),
        ("target", &query.target),
    ] {
        if text.as_deref().is_some_and(|t| t.chars().count() > 200) {
            return Err(ApiError::BadRequest {
                code: "invalid_field",
                detail: format!("{field}: at most 200 characters"),
                field: Some(field.into()),
            });
        }
    }
    Ok(EventQuery {
        from_ms: query
            .from
            .as_deref()
            .map(|t| time_of("from", t))
            .transpose()?,
        to_ms: query.to.as_deref().map(|t| time_of("to", t)).transpose()?,
        actor_id: query.actor.clone(),
        action: query.action.clone(),
        outcome,
        target: query.target.clone(),
        before: query.before,
        limit,
    })
}

/// A page of events, newest first, and where the next one starts.
pub async fn search(
    trail: &AuditTrail,
    query: &EventQuery,
) -> Result<(Vec<EventView>, Option<u64>), ApiError> {
    let events = trail.search(query).await?;
    let next = (events.len() == query.limit as usize)
        .then(|| events.last().map(|e| e.event.seq))
        .flatten();
    Ok((events.iter().map(EventView::from).collect(), next))
}

fn csv_rows(events: &[EventView]) -> Result<Vec<u8>, ApiError> {
    csv_bytes(events.iter().map(|e| {
        let text = |t: &Option<String>| guard_formula(t.as_deref().unwrap_or("")).into_owned();
        vec![
            e.seq.to_string(),
            e.at.clone(),
            text(&e.actor_id),
            text(&e.actor_name),
            text(&e.actor_ip),
            text(&e.user_agent),
            text(&e.request_id),
            guard_formula(&e.action).into_owned(),
            guard_formula(&e.targets.join(" ")).into_owned(),
            e.outcome.clone(),
            guard_formula(&e.detail).into_owned(),
            e.leaf.clone(),
        ]
    }))
}

const CSV_HEADER: [&str; 12] = [
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "actor_ip",
    "user_agent",
    "request_id",
    "action",
    "targets",
    "outcome",
    "detail",
    "leaf",
];

/// Every event the query matches, newest first, as a streamed CSV body.
/// The first page is read before the answer starts, so a failing query
/// is still a proper error.
pub async fn export_csv(trail: AuditTrail, mut query: EventQuery) -> Result<Body, ApiError> {
    query.limit = EXPORT_PAGE;
    let (first, next) = search(&trail, &query).await?;
    let mut head = "\u{feff}".as_bytes().to_vec();
    head.extend(csv_bytes([CSV_HEADER.map(str::to_owned).to_vec()])?);
    head.extend(csv_rows(&first)?);
    query.before = next;
    let state = (trail, query, Some(Bytes::from(head)));
    let stream = futures_util::stream::unfold(state, |(trail, mut query, pending)| async move {
        if let Some(chunk) = pending {
            return Some((Ok(chunk), (trail, query, None)));
        }
        query.before?;
        let page = match search(&trail, &query).await {
            Ok((page, next)) => {
                query.before = next;
                csv_rows(&page)
            }
            Err(e) => Err(e),
        };
        match page {
            Ok(bytes) => Some((Ok(Bytes::from(bytes)), (trail, query, None))),
            Err(e) => {
                tracing::error!(error = %e, "audit export stopped");
                query.before = None;
                Some((
                    Err(std::io::Error::other("the export failed")),
                    (trail, query, None),
                ))
            }
        }
    });
    Ok(Body::from_stream(stream))
}

/// Checks the whole trail against its signed heads; a log that is not
/// what was signed is a report, not an error.
pub async fn verify(trail: &AuditTrail) -> Result<VerifyReport, ApiError> {
    let bad = |seq: Option<u64>, problem: &str| VerifyReport {
        intact: false,
        events: 0,
        signed_size: 0,
        first_bad_seq: seq,
        problem: Some(problem.to_owned()),
    };
    match trail.verify().await {
        Ok(done) => Ok(VerifyReport {
            intact: true,
            events: done.events,
            signed_size: done.signed_size,
            first_bad_seq: None,
            problem: None,
        }),
        Err(StoreError::Audit(AuditError::Tampered { seq, what })) => {
            Ok(bad(Some(seq), tamper_name(what)))
        }
        Err(StoreError::Audit(AuditError::BadSignature)) => Ok(bad(None, "bad_signature")),
        Err(e) => Err(e.into()),
    }
}

pub fn tamper_name(what: Tamper) -> &'static str {
    match what {
        Tamper::OutOfOrder { .. } => "out_of_order",
        Tamper::LeafChanged => "leaf_changed",
        Tamper::RootChanged { .. } => "root_changed",
        Tamper::Missing { .. } => "missing",
    }
}
