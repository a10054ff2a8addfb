use super::*;

const T0: i64 = 1_795_000_000_000;

fn failed_login<'a>(login: &'a str, ip: &'a str, at_ms: i64) -> Observed<'a> {
    Observed {
        at_ms,
        action: "auth.login",
        outcome: "denied",
        actor_id: None,
        actor_ip: Some(ip),
        login: Some(login),
        reason: Some("invalid_credentials"),
        escalation: false,
        integrity_failure: false,
    }
}

fn kinds(alerts: &[Alert]) -> Vec<AlertKind> {
    alerts.iter().map(|a| a.kind).collect()
}

#[test]
fn failed_sign_ins_alert_once_per_window_for_an_account_and_an_address() {
    let tenant = TenantId::generate();
    let policy = AuditPolicy {
        failed_logins_per_account: 3,
        failed_logins_per_address: 5,
        ..AuditPolicy::default()
    };
    let mut windows = AlertWindows::default();
    let mut raised = Vec::new();
    for n in 0..6 {
        // Two accounts from one address: the account count reaches 3 on
        // the fifth attempt (alice), the address count 5 on the fifth too.
        let login = if n % 2 == 0 { "alice" } else { "bob" };
        raised.push(kinds(&windows.observe(
            tenant,
            &policy,
            &failed_login(login, "192.0.2.7", T0 + n * 1_000),
        )));
    }
    assert_eq!(
        raised,
        vec![
            vec![],
            vec![],
            vec![],
            vec![],
            vec![
                AlertKind::FailedLoginsForAccount,
                AlertKind::FailedLoginsFromAddress
            ],
            vec![AlertKind::FailedLoginsForAccount],
        ]
    );
    // Another tenant counts apart; a new window starts over.
    let other = TenantId::generate();
    assert!(
        windows
            .observe(other, &policy, &failed_login("alice", "192.0.2.7", T0))
            .is_empty()
    );
    let later = T0 + 16 * 60_000;
    for n in 0..2 {
        assert!(
            windows
                .observe(
                    tenant,
                    &policy,
                    &failed_login("alice", "192.0.2.8", later + n)
                )
                .is_empty()
        );
    }
    assert_eq!(
        kinds(&windows.observe(
            tenant,
            &policy,
            &failed_login("alice", "192.0.2.8", later + 3)
        )),
        vec![AlertKind::FailedLoginsForAccount]
    );
    // A right password, or a sign-in refused for another reason, counts
    // nothing.
    let mut ok = failed_login("carol", "192.0.2.9", T0);
    ok.outcome = "success";
    let mut banned = failed_login("carol", "192.0.2.9", T0);
    banned.reason = Some("ip_banned");
    for _ in 0..10 {
        assert!(windows.observe(tenant, &policy, &ok).is_empty());
        assert!(windows.observe(tenant, &policy, &banned).is_empty());
    }
}

#[test]
fn downloads_escalations_off_hours_and_integrity_failures_alert() {
    let tenant = TenantId::generate();
    let policy = AuditPolicy {
        downloads_per_minute: 3,
        working_hours: Some(WorkingHours {
            start_hour: 9,
            end_hour: 18,
            weekdays_only: true,
            utc_offset_minutes: 480,
        }),
        ..AuditPolicy::default()
    };
    let mut windows = AlertWindows::default();
    let export = |at_ms| Observed {
        at_ms,
        action: "record.export",
        outcome: "success",
        actor_id: Some("u1"),
        actor_ip: Some("192.0.2.7"),
        login: None,
        reason: None,
        escalation: false,
        integrity_failure: false,
    };
    let counts: Vec<usize> = (0..4)
        .map(|n| windows.observe(tenant, &policy, &export(T0 + n)).len())
        .collect();
    assert_eq!(counts, vec![0, 0, 1, 0]);
    let mut granted = export(T0);
    granted.action = "user.update";
    granted.escalation = true;
    assert_eq!(
        kinds(&windows.observe(tenant, &policy, &granted)),
        vec![AlertKind::PermissionEscalation]
    );
    granted.outcome = "denied";
    assert!(windows.observe(tenant, &policy, &granted).is_empty());
    // 2026-11-24 (a Tuesday) 02:00 UTC is 10:00 in Beijing: working time;
    // 12:00 UTC is 20:00: not; Saturday 2026-11-28 03:00 UTC is not either.
    let sign_in = |at_ms| Observed {
        action: "auth.login",
        login: Some("alice"),
        ..export(at_ms)
    };
    let tuesday_10 = 1_795_485_600_000;
    assert!(
        windows
            .observe(tenant, &policy, &sign_in(tuesday_10))
            .is_empty()
    );
    for outside in [
        tuesday_10 + 10 * 3_600_000,
        tuesday_10 + 4 * 86_400_000 + 3_600_000,
    ] {
        assert_eq!(
            kinds(&windows.observe(tenant, &policy, &sign_in(outside))),
            vec![AlertKind::OutsideWorkingHours]
        );
    }
    let mut broken = export(T0);
    broken.action = "record.read";
    broken.outcome = "error";
    broken.integrity_failure = true;
    assert!(broken.may_alert());
    assert_eq!(
        kinds(&windows.observe(tenant, &policy, &broken)),
        vec![AlertKind::IntegrityFailure]
    );
    let mut plain = export(T0);
    plain.action = "record.update";
    assert!(!plain.may_alert());
}

#[test]
fn policies_that_switch_protection_off_are_refused() {
    assert!(AuditPolicy::default().validate().is_ok());
    let bad = [
        AuditPolicy {
            retention_days: 179,
            ..AuditPolicy::default()
        },
        AuditPolicy {
            failed_logins_per_account: 0,
            ..AuditPolicy::default()
        },
        AuditPolicy {
            downloads_per_minute: 0,
            ..AuditPolicy::default()
        },
        AuditPolicy {
            webhook_url: Some("http://hooks.example.com/x".into()),
            ..AuditPolicy::default()
        },
        AuditPolicy {
            working_hours: Some(WorkingHours {
                start_hour: 18,
                end_hour: 9,
                weekdays_only: false,
                utc_offset_minutes: 480,
            }),
            ..AuditPolicy::default()
        },
    ];
    for policy in bad {
        assert!(policy.validate().is_err(), "{policy:?}");
    }
    for url in [
        "https://hooks.example.com/citadel",
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
    ] {
        let policy = AuditPolicy {
            webhook_url: Some(url.into()),
            ..AuditPolicy::default()
        };
        assert!(policy.validate().is_ok(), "{url}");
    }
}
