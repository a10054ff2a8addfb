#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::{FixedOffset, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::json;

use super::decide::{Now, TenantResource};
use super::explain::explain;
use super::*;
use crate::authz::{Credential, Denied, Duties, Pending, Principal};
use crate::data::TableSchema;
use crate::data::query::{Predicate, SqlValue};
use crate::data::test_support::table;
use crate::{DepartmentId, GroupId, TenantId, TenantStatus, UserId};

struct World {
    tenant: TenantId,
    table: TableSchema,
}

fn world() -> World {
    World {
        tenant: TenantId::generate(),
        table: table(&[
            json!({"name": "名称", "type": "text"}),
            json!({"name": "工资", "type": "currency"}),
            json!({"name": "身份证", "type": "text"}),
            json!({"name": "状态", "type": "text"}),
        ]),
    }
}

fn now() -> Now {
    Now {
        at: Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap(),
        offset: FixedOffset::east_opt(8 * 3600).unwrap(),
    }
}

fn user(w: &World, id: UserId, admin: bool) -> Principal {
    Principal::TenantUser {
        tenant: w.tenant,
        user: id,
        duties: if admin { Duties::ALL } else { Duties::NONE },
        pending: Pending::Nothing,
        via: Credential::Session,
    }
}

fn active(w: &World) -> TenantResource {
    TenantResource {
        id: w.tenant,
        status: TenantStatus::Active,
    }
}

fn group(name: &str, members: Vec<Member>, policy: GroupPolicy) -> Group {
    Group {
        id: GroupId::generate(),
        name: name.into(),
        builtin: None,
        members,
        policy,
    }
}

fn builtins(member_policy: GroupPolicy) -> Vec<Group> {
    vec![
        Group {
            id: GroupId::generate(),
            name: "管理员".into(),
            builtin: Some(BuiltinGroup::TenantAdmin),
            members: Vec::new(),
            policy: GroupPolicy::default(),
        },
        Group {
            id: GroupId::generate(),
            name: "成员".into(),
            builtin: Some(BuiltinGroup::Member),
            members: Vec::new(),
            policy: member_policy,
        },
    ]
}

fn table_rules(ops: &[Operation]) -> TableRules {
    TableRules {
        operations: Operations::of(ops),
        ..TableRules::default()
    }
}

fn on_table(w: &World, rules: TableRules) -> GroupPolicy {
    GroupPolicy {
        tables: BTreeMap::from([(w.table.id, rules)]),
        ..GroupPolicy::default()
    }
}

fn read(w: &World, who: &Principal, model: &AccessModel) -> Result<TableAccess<ops::Read>, Denied> {
    authorize_table::<ops::Read>(who, active(w), model, w.table.clone(), now())
}

fn field_id(w: &World, name: &str) -> crate::FieldId {
    w.table.field_by_key(name).unwrap().id
}

#[test]
fn nothing_granted_is_denied_and_admins_may_do_everything() {
    let w = world();
    let model = AccessModel::new(builtins(GroupPolicy::default()), [], []);
    let member = user(&w, UserId::generate(), false);
    assert_eq!(read(&w, &member, &model).unwrap_err(), Denied::Forbidden);
    let admin = user(&w, UserId::generate(), true);
    let access = read(&w, &admin, &model).unwrap();
    assert!(access.rows().is_none());
    assert_eq!(access.schema().fields.len(), 4);
    for op in Operation::ALL {
        let e = explain(&admin, active(&w), &model, &w.table, op, None, now());
        assert_eq!(e.denied, None, "{op}");
    }
}

#[test]
fn the_tenant_level_rules_come_first() {
    let w = world();
    let model = AccessModel::new(builtins(BuiltinGroup::initial_member_policy()), [], []);
    let id = UserId::generate();
    let suspended = TenantResource {
        id: w.tenant,
        status: TenantStatus::Suspended,
    };
    let member = user(&w, id, false);
    let r = authorize_table::<ops::Read>(&member, suspended, &model, w.table.clone(), now());
    assert_eq!(r.unwrap_err(), Denied::TenantSuspended);
    let pending = Principal::TenantUser {
        tenant: w.tenant,
        user: id,
        duties: Duties::ALL,
        pending: Pending::PasswordChange,
        via: Credential::Session,
    };
    assert_eq!(
        read(&w, &pending, &model).unwrap_err(),
        Denied::PasswordChangeRequired
    );
    let elsewhere = Principal::TenantUser {
        tenant: TenantId::generate(),
        user: id,
        duties: Duties::ALL,
        pending: Pending::Nothing,
        via: Credential::Session,
    };
    assert_eq!(read(&w, &elsewhere, &model).unwrap_err(), Denied::Forbidden);
    assert_eq!(
        read(&w, &Principal::Anonymous, &model).unwrap_err(),
        Denied::Unauthenticated
    );
}

#[test]
fn a_read_grant_is_not_a_write_grant() {
    let w = world();
    let id = UserId::generate();
    let readers = group(
        "只读",
        vec![Member::User(id)],
        on_table(&w, table_rules(&[Operation::Read])),
    );
    let mut groups = builtins(GroupPolicy::default());
    groups.push(readers);
    let model = AccessModel::new(groups, [], []);
    let who = user(&w, id, false);
    assert!(read(&w, &who, &model).is_ok());
    let update = authorize_table::<ops::Update>(&who, active(&w), &model, w.table.clone(), now());
    assert_eq!(update.unwrap_err(), Denied::Forbidden);
    // Another user is in no group but the member group, which grants nothing.
    assert!(read(&w, &user(&w, UserId::generate(), false), &model).is_err());
}

#[test]
fn hidden_fields_leave_the_visible_schema_and_the_most_open_rule_wins() {
    let w = world();
    let id = UserId::generate();
    let salary = field_id(&w, "工资");
    let card = field_id(&w, "身份证");
    let state = field_id(&w, "状态");
    let mut rules = table_rules(&[Operation::Read, Operation::Update]);
    rules.fields = BTreeMap::from([
        (salary, FieldRule::Hidden),
        (card, FieldRule::Hidden),
        (state, FieldRule::ReadOnly),
    ]);
    let mut groups = builtins(GroupPolicy::default());
    groups.push(group("销售", vec![Member::User(id)], on_table(&w, rules)));
    let model = AccessModel::new(groups.clone(), [], []);
    let who = user(&w, id, false);
    let access =
        authorize_table::<ops::Update>(&who, active(&w), &model, w.table.clone(), now()).unwrap();
    let names: Vec<&str> = access
        .schema()
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["名称", "状态"]);
    assert!(access.schema().field_by_key("工资").is_none());
    assert_eq!(access.full_schema().fields.len(), 4);
    assert!(access.is_hidden(salary) && access.is_read_only(state));
    assert_eq!(
        access.unwritable([salary, state, field_id(&w, "名称")]),
        ["工资", "状态"]
    );

    // A second group showing the salary read-only opens it that far.
    let mut open = table_rules(&[Operation::Read]);
    open.fields = BTreeMap::from([(salary, FieldRule::ReadOnly)]);
    groups.push(group("财务", vec![Member::User(id)], on_table(&w, open)));
    let model = AccessModel::new(groups, [], []);
    let access = read(&w, &who, &model).unwrap();
    assert!(!access.is_hidden(salary) && access.is_read_only(salary));
    // 财务 names no rule for the ID number, so it shows it read-write:
    // rights are a union, and a field not named is read-write.
    assert!(!access.is_hidden(card) && !access.is_read_only(card));
    let e = explain(
        &who,
        active(&w),
        &model,
        &w.table,
        Operation::Read,
        Some(salary),
        now(),
    );
    assert_eq!(e.field, Some((salary, FieldRule::ReadOnly)));
    assert_eq!(e.groups.len(), 3);
}

#[test]
fn row_scopes_are_united_and_all_rows_wins() {
    let w = world();
    let id = UserId::generate();
    let sales = DepartmentId::generate();
    let east = DepartmentId::generate();
    let mut mine = table_rules(&[Operation::Read]);
    mine.rows.read = RowScope::Mine;
    let mut tree = table_rules(&[Operation::Read]);
    tree.rows.read = RowScope::MyDepartmentTree;
    let mut groups = builtins(GroupPolicy::default());
    groups.push(group("本人", vec![Member::User(id)], on_table(&w, mine)));
    groups.push(group(
        "销售部",
        vec![Member::Department {
            id: sales,
            include_subdepartments: true,
        }],
        on_table(&w, tree),
    ));
    let model = AccessModel::new(
        groups.clone(),
        [(sales, None), (east, Some(sales))],
        [(id, east)],
    );
    let access = read(&w, &user(&w, id, false), &model).unwrap();
    let Some(Predicate::Any(parts)) = access.rows() else {
        panic!("a scoped read: {:?}", access.rows());
    };
    assert!(parts.iter().any(|p| matches!(p, Predicate::Compare { value: SqlValue::Text(me), .. } if *me == id.to_string())));
    // The department tree of `east` has one member: named one by one.
    let creators = Predicate::In {
        target: crate::data::table::Target::System(crate::data::table::SystemField::CreatedBy),
        values: vec![SqlValue::Text(id.to_string())],
    };
    assert!(parts.contains(&creators), "{parts:?}");
    // A department too large to list is looked up by the database.
    let crowd: Vec<(UserId, DepartmentId)> = std::iter::once((id, east))
        .chain((0..600).map(|_| (UserId::generate(), east)))
        .collect();
    let model = AccessModel::new(groups.clone(), [(sales, None), (east, Some(sales))], crowd);
    let access = read(&w, &user(&w, id, false), &model).unwrap();
    let Some(Predicate::Any(parts)) = access.rows() else {
        panic!("a scoped read: {:?}", access.rows());
    };
    assert!(
        parts.contains(&Predicate::CreatorInDepartments(vec![east])),
        "{parts:?}"
    );

    // Without sub-departments, membership of `sales` does not reach `east`.
    groups[3].members = vec![Member::Department {
        id: sales,
        include_subdepartments: false,
    }];
    let model = AccessModel::new(
        groups.clone(),
        [(sales, None), (east, Some(sales))],
        [(id, east)],
    );
    let access = read(&w, &user(&w, id, false), &model).unwrap();
    assert!(matches!(access.rows(), Some(Predicate::Any(parts)) if parts.len() == 1));

    // Any group granting all rows lifts the scope.
    groups.push(group(
        "全部",
        vec![Member::User(id)],
        on_table(&w, table_rules(&[Operation::Read])),
    ));
    let model = AccessModel::new(groups, [], []);
    assert!(
        read(&w, &user(&w, id, false), &model)
            .unwrap()
            .rows()
            .is_none()
    );
}

#[test]
fn custom_scopes_bind_me_and_fail_closed() {
    let w = world();
    let id = UserId::generate();
    let mut rules = table_rules(&[Operation::Read, Operation::Delete]);
    rules.rows.read = RowScope::Filter("状态 = '跟进' or created_by = $me".into());
    rules.rows.delete = RowScope::Filter("没有这个字段 = 1".into());
    let mut groups = builtins(GroupPolicy::default());
    groups.push(group("跟进", vec![Member::User(id)], on_table(&w, rules)));
    let model = AccessModel::new(groups, [], []);
    let who = user(&w, id, false);
    let access = read(&w, &who, &model).unwrap();
    let text = format!("{:?}", access.rows());
    assert!(text.contains(&id.to_string()), "{text}");
    let delete =
        authorize_table::<ops::Delete>(&who, active(&w), &model, w.table.clone(), now()).unwrap();
    assert_eq!(
        delete.rows(),
        Some(&Predicate::Any(vec![Predicate::Any(Vec::new())]))
    );
    // Department scopes of a user without a department reach nothing.
    let mut rules = table_rules(&[Operation::Read]);
    rules.rows.read = RowScope::MyDepartment;
    let model = AccessModel::new(
        vec![group("部门", vec![Member::User(id)], on_table(&w, rules))],
        [],
        [],
    );
    let access = read(&w, &who, &model).unwrap();
    assert_eq!(
        access.rows(),
        Some(&Predicate::Any(vec![Predicate::Any(Vec::new())]))
    );
}

#[test]
fn support_access_reads_all_rows_without_sensitive_values_and_writes_nothing() {
    let w = World {
        tenant: TenantId::generate(),
        table: table(&[
            json!({"name": "名称", "type": "text"}),
            json!({"name": "身份证号", "type": "resident_id"}),
            json!({"name": "银行卡", "type": "bank_card"}),
        ]),
    };
    let model = AccessModel::new(builtins(GroupPolicy::default()), [], []);
    let support = Principal::SupportOperator {
        operator: crate::OperatorId::generate(),
        tenant: w.tenant,
    };
    let access = read(&w, &support, &model).unwrap();
    assert!(access.rows().is_none() && access.user().is_none());
    let names: Vec<&str> = access
        .schema()
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["名称"]);
    for denied in [
        authorize_table::<ops::Update>(&support, active(&w), &model, w.table.clone(), now()).err(),
        authorize_table::<ops::Export>(&support, active(&w), &model, w.table.clone(), now()).err(),
        authorize_table::<ops::Create>(&support, active(&w), &model, w.table.clone(), now()).err(),
    ] {
        assert_eq!(denied, Some(Denied::Forbidden));
    }
    let elsewhere = Principal::SupportOperator {
        operator: crate::OperatorId::generate(),
        tenant: TenantId::generate(),
    };
    assert_eq!(read(&w, &elsewhere, &model).unwrap_err(), Denied::Forbidden);
}

#[test]
fn app_grants_reach_every_table_of_the_app_only() {
    let w = world();
    let id = UserId::generate();
    let policy = GroupPolicy {
        apps: BTreeMap::from([(w.table.app, Operations::of(&[Operation::Read]))]),
        ..GroupPolicy::default()
    };
    let model = AccessModel::new(vec![group("应用", vec![Member::User(id)], policy)], [], []);
    let who = user(&w, id, false);
    assert!(read(&w, &who, &model).is_ok());
    let other = World {
        tenant: w.tenant,
        table: table(&[json!({"name": "名称", "type": "text"})]),
    };
    assert_eq!(read(&other, &who, &model).unwrap_err(), Denied::Forbidden);
}

#[test]
fn policies_round_trip_as_json_and_are_checked() {
    let w = world();
    let salary = field_id(&w, "工资");
    let text = json!({
        "all_apps": ["read"],
        "tables": {
            w.table.id.to_string(): {
                "operations": ["update", "export"],
                "fields": {salary.to_string(): "hidden"},
                "rows": {"read": "mine", "update": {"filter": "状态 = '新建'"}}
            }
        }
    });
    let policy: GroupPolicy = serde_json::from_value(text.clone()).unwrap();
    policy.check().unwrap();
    assert_eq!(serde_json::to_value(&policy).unwrap(), text);
    let bad: GroupPolicy = serde_json::from_value(json!({
        "tables": {w.table.id.to_string(): {"rows": {"read": {"filter": "状态 = "}}}}
    }))
    .unwrap();
    assert!(bad.check().is_err());
    assert!(serde_json::from_value::<GroupPolicy>(json!({"all_apps": ["fly"]})).is_err());
    assert!(serde_json::from_value::<GroupPolicy>(json!({"everything": true})).is_err());
}

fn arb_rules() -> impl Strategy<Value = (Vec<Operation>, Vec<u8>, u8)> {
    (
        proptest::sample::subsequence(Operation::ALL.to_vec(), 0..=7),
        proptest::collection::vec(0u8..3, 4),
        0u8..3,
    )
}

fn rule(n: u8) -> FieldRule {
    [FieldRule::Hidden, FieldRule::ReadOnly, FieldRule::ReadWrite][n as usize]
}

proptest! {
    /// Adding a group never takes a right away (the union is monotonic),
    /// and a user is allowed an operation exactly when one of their groups
    /// grants it.
    #[test]
    fn grants_are_a_union(groups in proptest::collection::vec(arb_rules(), 0..4), extra in arb_rules()) {
        let w = world();
        let id = UserId::generate();
        let build = |spec: &(Vec<Operation>, Vec<u8>, u8)| {
            let mut rules = table_rules(&spec.0);
            rules.fields = w.table.fields.iter().zip(&spec.1).map(|(f, r)| (f.id, rule(*r))).collect();
            rules.rows.read = [RowScope::All, RowScope::Mine, RowScope::MyDepartment][spec.2 as usize].clone();
            group("g", vec![Member::User(id)], on_table(&w, rules))
        };
        let before: Vec<Group> = groups.iter().map(build).collect();
        let mut after = before.clone();
        after.push(build(&extra));
        let who = user(&w, id, false);
        let small = AccessModel::new(before.clone(), [], []);
        let large = AccessModel::new(after, [], []);
        for op in Operation::ALL {
            let e1 = explain(&who, active(&w), &small, &w.table, op, None, now());
            let e2 = explain(&who, active(&w), &large, &w.table, op, None, now());
            let granted = groups.iter().any(|g| g.0.contains(&op));
            prop_assert_eq!(e1.denied.is_none(), granted);
            prop_assert!(e1.denied.is_some() || e2.denied.is_none());
        }
        if let (Ok(a), Ok(b)) = (read(&w, &who, &small), read(&w, &who, &large)) {
            for f in &w.table.fields {
                prop_assert!(a.is_hidden(f.id) || !b.is_hidden(f.id));
                prop_assert!(!(b.is_read_only(f.id) && !a.is_read_only(f.id) && !a.is_hidden(f.id)));
            }
            prop_assert!(a.rows().is_some() || b.rows().is_none());
        }
    }
}
