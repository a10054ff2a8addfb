//! Tenant administration: users, the department tree, the security
//! console and the tenant's keys (the permission groups are in
//! `pages_tenant_groups`). Each page reads through the API handlers a
//! script would call, so it shows what the API would answer this caller
//! and is refused where the API would refuse; its forms change things
//! through the API.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use citadel_core::Action;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::routes::dto::{UserView, rfc3339};
use crate::routes::identity_dto::{DepartmentView, HistoryQuery, PageQuery};
use crate::routes::{keys as key_routes, security, users};
use crate::state::AppState;
use crate::ui::frame::TenantPage;
use crate::ui::render::{page, to_value};

/// Entries per list on the security page; a full page offers the next.
const SECURITY_PAGE: u32 = 50;

/// A department in the tree a page draws, with its sub-departments.
#[derive(Serialize)]
pub(super) struct DepartmentNode {
    id: String,
    name: String,
    parent_id: Option<String>,
    /// Users whose department this is (not counting sub-departments).
    members: usize,
    children: Vec<DepartmentNode>,
}

/// A department offered in a select: its path from the top, and the ids
/// on that path, so that a move can leave out the department's own
/// subtree (the API refuses a move under itself).
#[derive(Serialize)]
pub(super) struct DepartmentChoice {
    pub id: String,
    pub label: String,
    pub path_ids: Vec<String>,
}

pub(super) struct DepartmentTree {
    pub roots: Vec<DepartmentNode>,
    /// Every department, in the tree's order.
    pub choices: Vec<DepartmentChoice>,
}

type Children<'a> = HashMap<Option<&'a str>, Vec<&'a DepartmentView>>;

/// The tree of the flat list the API gives (each with its parent's id),
/// siblings by name.
pub(super) fn department_tree(
    list: &[DepartmentView],
    members: &HashMap<&str, usize>,
) -> DepartmentTree {
    let known: HashSet<&str> = list.iter().map(|d| d.id.as_str()).collect();
    let mut children: Children<'_> = HashMap::new();
    for d in list {
        let parent = d
            .parent_id
            .as_deref()
            .filter(|p| known.contains(p) && *p != d.id);
        children.entry(parent).or_default().push(d);
    }
    for siblings in children.values_mut() {
        siblings.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    }
    let mut walk = Walk {
        children: &children,
        members,
        placed: HashSet::new(),
        choices: Vec::new(),
    };
    let mut roots = Vec::new();
    for d in children.get(&None).into_iter().flatten() {
        roots.push(walk.node(d, &[]));
    }
    // The store refuses cycles; should one exist anyway, its departments
    // are shown at the top rather than left out.
    for d in list {
        if !walk.placed.contains(d.id.as_str()) {
            roots.push(walk.node(d, &[]));
        }
    }
    DepartmentTree {
        roots,
        choices: walk.choices,
    }
}

struct Walk<'a, 'm> {
    children: &'m Children<'a>,
    members: &'m HashMap<&'m str, usize>,
    placed: HashSet<&'a str>,
    choices: Vec<DepartmentChoice>,
}

impl<'a> Walk<'a, '_> {
    fn node(&mut self, d: &'a DepartmentView, above: &[&'a DepartmentView]) -> DepartmentNode {
        self.placed.insert(d.id.as_str());
        let mut path = above.to_vec();
        path.push(d);
        self.choices.push(DepartmentChoice {
            id: d.id.clone(),
            label: path
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(" › "),
            path_ids: path.iter().map(|p| p.id.clone()).collect(),
        });
        let mut children = Vec::new();
        for child in self
            .children
            .get(&Some(d.id.as_str()))
            .into_iter()
            .flatten()
        {
            if !self.placed.contains(child.id.as_str()) {
                children.push(self.node(child, &path));
            }
        }
        DepartmentNode {
            id: d.id.clone(),
            name: d.name.clone(),
            parent_id: d.parent_id.clone(),
            members: self.members.get(d.id.as_str()).copied().unwrap_or(0),
            children,
        }
    }
}

/// How many users each department has.
pub(super) fn members_by_department(list: &[UserView]) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for user in list {
        if let Some(d) = user.department_id.as_deref() {
            *counts.entry(d).or_insert(0) += 1;
        }
    }
    counts
}

#[derive(Deserialize, Default)]
pub struct UsersQuery {
    /// The user whose edit panel is open.
    edit: Option<String>,
}

/// The users: the list, a user's edit panel, creating one.
pub async fn users(
    State(state): State<AppState>,
    me: TenantPage,
    query: Result<Query<UsersQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    match users_context(&state, &me, query).await {
        Ok(context) => page(StatusCode::OK, "admin_users.html", context),
        Err(e) => me.error(e),
    }
}

async fn users_context(
    state: &AppState,
    me: &TenantPage,
    query: UsersQuery,
) -> Result<Value, ApiError> {
    let Json(list) = users::list_users(State(state.clone()), me.caller.clone()).await?;
    let Json(departments) =
        users::list_departments(State(state.clone()), me.caller.clone()).await?;
    let tree = department_tree(&departments, &members_by_department(&list));
    let names: HashMap<&str, &str> = tree
        .choices
        .iter()
        .map(|c| (c.id.as_str(), c.label.as_str()))
        .collect();
    let editing = match query.edit.as_deref().filter(|e| !e.is_empty()) {
        Some(id) => Some(
            list.iter()
                .find(|u| u.id == id)
                .ok_or(ApiError::NotFound("user"))?,
        ),
        None => None,
    };
    let self_id = me.caller.session()?.user.to_string();
    Ok(context! {
        ..me.frame("admin"),
        ..context! {
            admin_page => "users",
            users => to_value(&list),
            department_names => to_value(&names),
            departments => to_value(&tree.choices),
            editing => to_value(editing),
            self_id => self_id,
            may_credentials => me.may(Action::AdministerCredentials),
        }
    })
}

/// The department tree: creating, renaming, moving and deleting.
pub async fn departments(State(state): State<AppState>, me: TenantPage) -> Response {
    let listed = async {
        let Json(departments) =
            users::list_departments(State(state.clone()), me.caller.clone()).await?;
        let Json(list) = users::list_users(State(state.clone()), me.caller.clone()).await?;
        Ok::<_, ApiError>((departments, list))
    };
    match listed.await {
        Ok((departments, list)) => {
            let tree = department_tree(&departments, &members_by_department(&list));
            page(
                StatusCode::OK,
                "admin_departments.html",
                context! {
                    ..me.frame("admin"),
                    ..context! {
                        admin_page => "departments",
                        tree => to_value(&tree.roots),
                        departments => to_value(&tree.choices),
                    }
                },
            )
        }
        Err(e) => me.error(e),
    }
}

#[derive(Deserialize, Default)]
pub struct SecurityQuery {
    events_before: Option<String>,
    history_before: Option<String>,
}

/// The security console: the policy and IP bans for security
/// administrators, the security events and everyone's sign-ins for audit
/// administrators; each part shown to whoever holds its duty.
pub async fn security(
    State(state): State<AppState>,
    me: TenantPage,
    query: Result<Query<SecurityQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    match security_context(&state, &me, query).await {
        Ok(context) => page(StatusCode::OK, "admin_security.html", context),
        Err(e) => me.error(e),
    }
}

async fn security_context(
    state: &AppState,
    me: &TenantPage,
    query: SecurityQuery,
) -> Result<Value, ApiError> {
    let s = || State(state.clone());
    let c = || me.caller.clone();
    let reads_audit = me.may(Action::ReadAudit);
    // Without either duty the policy's own read refuses, as the API would.
    let (policy, bans) = if me.may(Action::ManageSecurity) || !reads_audit {
        let Json(policy) = security::get_policy(s(), c()).await?;
        let Json(bans) = security::list_bans(s(), c()).await?;
        (Some(policy), Some(bans))
    } else {
        (None, None)
    };
    let (raw_events, history) = if reads_audit {
        let events_page = PageQuery {
            before: query.events_before.clone(),
            limit: Some(SECURITY_PAGE),
        };
        let Json(events) = security::security_events(s(), c(), ApiQuery(events_page)).await?;
        let history_page = HistoryQuery {
            user_id: None,
            before: query.history_before.clone(),
            limit: Some(SECURITY_PAGE),
        };
        let Json(history) = security::login_history(s(), c(), ApiQuery(history_page)).await?;
        (Some(events), Some(history))
    } else {
        (None, None)
    };
    // People are named by login where this admin may list users; others
    // see their ids, as the API gives them.
    let logins: HashMap<String, String> = if me.may(Action::ManageIdentity) {
        let Json(list) = users::list_users(s(), c()).await?;
        list.into_iter().map(|u| (u.id, u.login)).collect()
    } else {
        HashMap::new()
    };
    let events: Option<Vec<Value>> = raw_events.as_ref().map(|list| {
        list.iter()
            .map(|e| {
                context! {
                    at => e.at.clone(),
                    kind => e.kind.clone(),
                    user_id => e.user_id.clone(),
                    ip => e.ip.clone(),
                    detail => detail_pairs(&e.detail, &logins),
                }
            })
            .collect()
    });
    let full = SECURITY_PAGE as usize;
    let older_events = raw_events
        .as_ref()
        .filter(|e| e.len() >= full)
        .and_then(|e| e.last())
        .map(|e| e.id.clone());
    let older_history = history
        .as_ref()
        .filter(|h| h.len() >= full)
        .and_then(|h| h.last())
        .map(|h| h.id.clone());
    Ok(context! {
        ..me.frame("admin"),
        ..context! {
            admin_page => "security",
            policy => to_value(&policy),
            bans => to_value(&bans),
            events => to_value(&events),
            history => to_value(&history),
            logins => to_value(&logins),
            older_events => older_events,
            older_history => older_history,
            events_before => query.events_before,
            history_before => query.history_before,
        }
    })
}

/// An event's detail as `(key, text)` pairs, people named by login where
/// known (a detail names them by id).
fn detail_pairs(
    detail: &serde_json::Value,
    logins: &HashMap<String, String>,
) -> Vec<(String, String)> {
    let Some(map) = detail.as_object() else {
        return Vec::new();
    };
    map.iter()
        .map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(s) => logins.get(s).unwrap_or(s).clone(),
                other => other.to_string(),
            };
            (key.clone(), text)
        })
        .collect()
}

/// The tenant's keys, what each data key version protects, and rotating
/// the data key.
pub async fn keys(State(state): State<AppState>, me: TenantPage) -> Response {
    match key_routes::key_status(State(state), me.caller.clone()).await {
        Ok(Json(status)) => {
            let versions: Vec<Value> = status
                .keys
                .iter()
                .map(|k| {
                    context! {
                        purpose => k.purpose,
                        version => k.version,
                        state => k.state.clone(),
                        created_at => rfc3339(k.created_at),
                        values => k.values,
                    }
                })
                .collect();
            // Older data key versions still protecting values: the
            // re-encryption after a rotation has not finished.
            let moving = status
                .keys
                .iter()
                .any(|k| k.purpose == "data" && k.state == "previous");
            page(
                StatusCode::OK,
                "admin_keys.html",
                context! {
                    ..me.frame("admin"),
                    ..context! {
                        admin_page => "keys",
                        status => to_value(&status),
                        versions => versions,
                        reencrypting => moving,
                    }
                },
            )
        }
        Err(e) => me.error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn department(id: &str, name: &str, parent: Option<&str>) -> DepartmentView {
        DepartmentView {
            id: id.into(),
            name: name.into(),
            parent_id: parent.map(Into::into),
            created_at: String::new(),
        }
    }

    /// The tree as `name(children),name`; siblings come by name, as code points.
    fn names(nodes: &[DepartmentNode]) -> String {
        let shown: Vec<String> = nodes
            .iter()
            .map(|n| match names(&n.children) {
                below if below.is_empty() => n.name.clone(),
                below => format!("{}({below})", n.name),
            })
            .collect();
        shown.join(",")
    }

    #[test]
    fn the_flat_list_becomes_a_tree_with_paths_for_the_selects() {
        let list = [
            department("3", "华东", Some("2")),
            department("2", "销售部", None),
            department("1", "研发部", None),
            department("4", "上海", Some("3")),
        ];
        let members = HashMap::from([("3", 2)]);
        let tree = department_tree(&list, &members);
        assert_eq!(names(&tree.roots), "研发部,销售部(华东(上海))");
        assert_eq!(tree.roots[1].children[0].members, 2);
        let shanghai = tree.choices.iter().find(|c| c.id == "4").expect("上海");
        assert_eq!(shanghai.label, "销售部 › 华东 › 上海");
        assert_eq!(shanghai.path_ids, ["2", "3", "4"]);
    }

    #[test]
    fn event_details_name_people_by_login() {
        let logins = HashMap::from([("u1".to_owned(), "dave".to_owned())]);
        let detail = serde_json::json!({"by": "u1", "other": "u2", "duties": [], "profile": true});
        assert_eq!(
            detail_pairs(&detail, &logins),
            [
                ("by".to_owned(), "dave".to_owned()),
                ("duties".to_owned(), "[]".to_owned()),
                ("other".to_owned(), "u2".to_owned()),
                ("profile".to_owned(), "true".to_owned()),
            ]
        );
        assert!(detail_pairs(&serde_json::Value::Null, &logins).is_empty());
    }

    #[test]
    fn a_cycle_or_an_unknown_parent_loses_no_department() {
        let list = [
            department("1", "a", Some("2")),
            department("2", "b", Some("1")),
            department("3", "c", Some("9")),
        ];
        let tree = department_tree(&list, &HashMap::new());
        assert_eq!(tree.choices.len(), 3);
        assert_eq!(names(&tree.roots), "c,a(b)");
    }
}
