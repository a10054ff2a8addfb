//! The permission groups' pages: the list, and one group's editor — its
//! name, its members, and its grants as a matrix of tables × operations
//! with each table's field rules and row scopes. The editor's script
//! sends the whole group back with `PUT /api/v1/groups/{id}`, in the
//! shape the API reads (docs/permissions.md).

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use citadel_core::access::{FieldRule, GroupPolicy, Member, Operation, Operations, RowScope};
use minijinja::{Value, context};
use serde::Serialize;

use crate::error::ApiError;
use crate::routes::data_dto::TableView;
use crate::routes::{apps, groups as group_routes, users};
use crate::state::AppState;
use crate::ui::frame::TenantPage;
use crate::ui::pages_tenant_admin::{department_tree, members_by_department};
use crate::ui::render::{page, to_value};

/// The operations whose rows a group can narrow, in the order shown.
const SCOPED: [Operation; 4] = [
    Operation::Read,
    Operation::Update,
    Operation::Delete,
    Operation::Export,
];

/// The row scopes offered, in the order shown.
const SCOPES: [&str; 5] = [
    "all",
    "mine",
    "my_department",
    "my_department_tree",
    "filter",
];

/// The permission groups and creating one.
pub async fn groups(State(state): State<AppState>, me: TenantPage) -> Response {
    match group_routes::list_groups(State(state), me.caller.clone()).await {
        Ok(Json(list)) => {
            let rows: Vec<Value> = list
                .iter()
                .map(|g| {
                    context! {
                        id => g.id.clone(),
                        name => g.name.clone(),
                        description => g.description.clone(),
                        builtin => g.builtin,
                        members => g.members.as_array().map_or(0, Vec::len),
                        updated_at => g.updated_at.clone(),
                    }
                })
                .collect();
            page(
                StatusCode::OK,
                "admin_groups.html",
                context! {
                    ..me.frame("admin"),
                    ..context! { admin_page => "groups", groups => rows }
                },
            )
        }
        Err(e) => me.error(e),
    }
}

/// One group's editor; the built-in administrators' group is shown
/// read-only, as the API keeps it.
pub async fn group(
    State(state): State<AppState>,
    me: TenantPage,
    Path(raw): Path<String>,
) -> Response {
    match group_context(&state, &me, raw).await {
        Ok(context) => page(StatusCode::OK, "admin_group.html", context),
        Err(e) => me.error(e),
    }
}

/// An operation's checkbox in a row of the matrix.
#[derive(Serialize)]
struct Cell {
    op: &'static str,
    granted: bool,
    /// Granted on this table already by its app's row or the all-apps row.
    above: bool,
}

#[derive(Serialize)]
struct FieldEntry {
    id: String,
    name: String,
    kind: String,
    rule: &'static str,
}

#[derive(Serialize)]
struct RowEntry {
    op: &'static str,
    scope: &'static str,
    filter: String,
}

#[derive(Serialize)]
struct TableEntry {
    id: String,
    name: String,
    cells: Vec<Cell>,
    fields: Vec<FieldEntry>,
    rows: Vec<RowEntry>,
    /// Field rules and row scopes that differ from the default.
    narrowed: usize,
}

#[derive(Serialize)]
struct AppEntry {
    id: String,
    name: String,
    cells: Vec<Cell>,
    tables: Vec<TableEntry>,
}

fn cells(granted: Operations, above: Operations) -> Vec<Cell> {
    Operation::ALL
        .into_iter()
        .map(|op| Cell {
            op: op.name(),
            granted: granted.contains(op),
            above: above.contains(op),
        })
        .collect()
}

fn rule_name(rule: FieldRule) -> &'static str {
    match rule {
        FieldRule::Hidden => "hidden",
        FieldRule::ReadOnly => "read_only",
        FieldRule::ReadWrite => "read_write",
    }
}

fn scope_entry(op: Operation, scope: Option<&RowScope>) -> RowEntry {
    let (scope, filter) = match scope {
        None | Some(RowScope::All) => ("all", String::new()),
        Some(RowScope::Mine) => ("mine", String::new()),
        Some(RowScope::MyDepartment) => ("my_department", String::new()),
        Some(RowScope::MyDepartmentTree) => ("my_department_tree", String::new()),
        Some(RowScope::Filter(text)) => ("filter", text.clone()),
    };
    RowEntry {
        op: op.name(),
        scope,
        filter,
    }
}

/// A table's row of the matrix and its rules, as the group has them.
fn table_entry(table: &TableView, policy: &GroupPolicy, above: Operations) -> TableEntry {
    let own = policy
        .tables
        .iter()
        .find(|(id, _)| id.to_string() == table.id)
        .map(|(_, rules)| rules);
    let rules: HashMap<String, FieldRule> = own
        .map(|r| {
            r.fields
                .iter()
                .map(|(f, rule)| (f.to_string(), *rule))
                .collect()
        })
        .unwrap_or_default();
    let text = |f: &serde_json::Value, key: &str| f[key].as_str().unwrap_or_default().to_owned();
    let fields: Vec<FieldEntry> = table
        .fields
        .iter()
        .map(|f| {
            let id = text(f, "id");
            FieldEntry {
                rule: rule_name(rules.get(&id).copied().unwrap_or_default()),
                id,
                name: text(f, "name"),
                kind: text(f, "type"),
            }
        })
        .collect();
    let rows: Vec<RowEntry> = SCOPED
        .into_iter()
        .map(|op| scope_entry(op, own.and_then(|r| r.rows.of(op))))
        .collect();
    let narrowed = fields.iter().filter(|f| f.rule != "read_write").count()
        + rows.iter().filter(|r| r.scope != "all").count();
    TableEntry {
        id: table.id.clone(),
        name: table.name.clone(),
        cells: cells(own.map_or(Operations::NONE, |r| r.operations), above),
        fields,
        rows,
        narrowed,
    }
}

/// The matrix: every app the admin sees, each with its tables.
async fn matrix(
    state: &AppState,
    me: &TenantPage,
    policy: &GroupPolicy,
) -> Result<Vec<AppEntry>, ApiError> {
    let by_app: HashMap<String, Operations> = policy
        .apps
        .iter()
        .map(|(id, ops)| (id.to_string(), *ops))
        .collect();
    let Json(app_list) = apps::list_apps(State(state.clone()), me.caller.clone()).await?;
    let mut entries = Vec::with_capacity(app_list.len());
    for app in app_list {
        let app_ops = by_app.get(&app.id).copied().unwrap_or(Operations::NONE);
        let above = policy.all_apps.union(app_ops);
        let Json(summaries) = apps::list_tables(
            State(state.clone()),
            me.caller.clone(),
            Path(app.id.clone()),
        )
        .await?;
        let mut tables = Vec::with_capacity(summaries.len());
        for summary in summaries {
            let Json(table) =
                apps::get_table(State(state.clone()), me.caller.clone(), Path(summary.id)).await?;
            tables.push(table_entry(&table, policy, above));
        }
        entries.push(AppEntry {
            cells: cells(app_ops, policy.all_apps),
            id: app.id,
            name: app.name,
            tables,
        });
    }
    Ok(entries)
}

fn stored<T: serde::de::DeserializeOwned>(
    what: &str,
    value: &serde_json::Value,
) -> Result<T, ApiError> {
    serde_json::from_value(value.clone())
        .map_err(|e| ApiError::Internal(format!("a group's {what} do not read back: {e}")))
}

async fn group_context(state: &AppState, me: &TenantPage, raw: String) -> Result<Value, ApiError> {
    let Json(group) =
        group_routes::get_group(State(state.clone()), me.caller.clone(), Path(raw)).await?;
    let policy: GroupPolicy = stored("grants", &group.grants)?;
    let members: Vec<Member> = stored("members", &group.members)?;
    let Json(user_list) = users::list_users(State(state.clone()), me.caller.clone()).await?;
    let Json(departments) =
        users::list_departments(State(state.clone()), me.caller.clone()).await?;
    let tree = department_tree(&departments, &members_by_department(&user_list));
    let named: HashSet<String> = members
        .iter()
        .filter_map(|m| match m {
            Member::User(id) => Some(id.to_string()),
            Member::Department { .. } => None,
        })
        .collect();
    let in_group: BTreeMap<String, bool> = members
        .iter()
        .filter_map(|m| match m {
            Member::Department {
                id,
                include_subdepartments,
            } => Some((id.to_string(), *include_subdepartments)),
            Member::User(_) => None,
        })
        .collect();
    let user_choices: Vec<Value> = user_list
        .iter()
        .map(|u| {
            context! {
                id => u.id.clone(),
                login => u.login.clone(),
                display_name => u.display_name.clone(),
                member => named.contains(&u.id),
            }
        })
        .collect();
    let department_choices: Vec<Value> = tree
        .choices
        .iter()
        .map(|d| {
            context! {
                id => d.id.clone(),
                label => d.label.clone(),
                member => in_group.contains_key(&d.id),
                include_subdepartments => in_group.get(&d.id).copied().unwrap_or(false),
            }
        })
        .collect();
    let apps = matrix(state, me, &policy).await?;
    // What the editor does not show (tables in the recycle bin, ids that
    // are gone) is sent back as it was rather than dropped by a save.
    let grants_json =
        serde_json::to_string(&group.grants).map_err(|e| ApiError::Internal(e.to_string()))?;
    let read_only = group.builtin == Some("tenant_admin");
    Ok(context! {
        ..me.frame("admin"),
        ..context! {
            admin_page => "groups",
            group => to_value(&group),
            grants_json => grants_json,
            read_only => read_only,
            all_apps => to_value(cells(policy.all_apps, Operations::NONE)),
            apps => to_value(&apps),
            operations => Operation::ALL.map(Operation::name),
            scopes => SCOPES,
            users => user_choices,
            departments => department_choices,
        }
    })
}
