//! The account page, the audit viewer and the platform console. Each page
//! calls the very API handlers a script would, so it shows what the API
//! would answer this caller, and nothing else.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::routes::audit_dto::EventsQuery;
use crate::routes::identity_dto::PageQuery;
use crate::routes::{audit, auth, me, platform};
use crate::state::AppState;
use crate::ui::frame::{OperatorPage, TenantPage};
use crate::ui::render::{page, to_value};

fn recent() -> ApiQuery<PageQuery> {
    ApiQuery(PageQuery {
        before: None,
        limit: Some(20),
    })
}

/// My account: profile, second factor, sessions, sign-in history,
/// access tokens and notifications.
pub async fn account(State(state): State<AppState>, me: TenantPage) -> Response {
    match account_context(&state, &me).await {
        Ok(context) => page(StatusCode::OK, "account.html", context),
        Err(e) => me.error(e),
    }
}

async fn account_context(state: &AppState, me: &TenantPage) -> Result<Value, ApiError> {
    let s = || State(state.clone());
    let c = || me.caller.clone();
    let Json(signed_in) = auth::me(s(), c()).await?;
    let Json(sessions) = me::list_sessions(s(), c()).await?;
    let Json(history) = me::login_history(s(), c(), recent()).await?;
    let Json(tokens) = me::list_tokens(s(), c()).await?;
    let Json(notifications) = me::notifications(s(), c(), recent()).await?;
    Ok(context! {
        ..me.frame("account"),
        ..context! {
            account => to_value(&signed_in),
            sessions => to_value(&sessions),
            history => to_value(&history),
            tokens => to_value(&tokens),
            notifications => to_value(&notifications),
        }
    })
}

/// The audit viewer: events filtered by time, actor, action, outcome and
/// target, newest first, with the latest signed tree head; the chain is
/// verified on request.
pub async fn audit(
    State(state): State<AppState>,
    me: TenantPage,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
        Err(e) => return me.error(ApiError::bad_request("invalid_query", e.body_text())),
    };
    match audit_context(&state, &me, query).await {
        Ok(context) => page(StatusCode::OK, "audit.html", context),
        Err(e) => me.error(e),
    }
}

async fn audit_context(
    state: &AppState,
    me: &TenantPage,
    query: EventsQuery,
) -> Result<Value, ApiError> {
    let shown = context! {
        from => query.from.clone(),
        to => query.to.clone(),
        actor => query.actor.clone(),
        action => query.action.clone(),
        outcome => query.outcome.clone(),
        target => query.target.clone(),
    };
    let Json(events) =
        audit::events(State(state.clone()), me.caller.clone(), ApiQuery(query)).await?;
    let head = match audit::tree_head(State(state.clone()), me.caller.clone()).await {
        Ok(Json(head)) => Some(head),
        Err(ApiError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    Ok(context! {
        ..me.frame("audit"),
        ..context! { events => to_value(&events), head => to_value(&head), filter => shown }
    })
}

/// The platform console: the tenants (creating, suspending, resuming and
/// destroying them) and the operators (adding one).
pub async fn platform(State(state): State<AppState>, op: OperatorPage) -> Response {
    let context = async {
        let Json(tenants) = platform::list_tenants(State(state.clone()), op.caller.clone()).await?;
        let Json(operators) =
            platform::list_operators(State(state.clone()), op.caller.clone()).await?;
        Ok::<_, ApiError>(context! {
            ..op.frame(),
            ..context! { tenants => to_value(&tenants), operators => to_value(&operators) }
        })
    };
    match context.await {
        Ok(context) => page(StatusCode::OK, "platform.html", context),
        Err(e) => op.error(e),
    }
}
