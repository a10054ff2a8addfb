use super::*;

fn user(tenant: TenantId, must_change_password: bool) -> Principal {
    Principal::TenantUser {
        tenant,
        user: UserId::generate(),
        duties: Duties::NONE,
        pending: if must_change_password {
            Pending::PasswordChange
        } else {
            Pending::Nothing
        },
        via: Credential::Session,
    }
}

fn tenant_user(tenant: TenantId, admin: bool, pending: Pending, via: Credential) -> Principal {
    Principal::TenantUser {
        tenant,
        user: UserId::generate(),
        duties: if admin { Duties::ALL } else { Duties::NONE },
        pending,
        via,
    }
}

fn active(id: TenantId) -> Resource {
    Resource::Tenant {
        id,
        status: TenantStatus::Active,
    }
}

#[test]
fn members_use_data_and_admins_shape_it() {
    let (a, b) = (TenantId::generate(), TenantId::generate());
    let member = tenant_user(a, false, Pending::Nothing, Credential::AccessToken);
    let admin = tenant_user(a, true, Pending::Nothing, Credential::AccessToken);
    for action in [Action::ReadData, Action::WriteData] {
        assert!(authorize(&member, action, active(a)).is_ok(), "{action:?}");
        assert_eq!(
            authorize(&member, action, active(b)),
            Err(Denied::Forbidden)
        );
    }
    assert_eq!(
        authorize(&member, Action::ManageSchema, active(a)),
        Err(Denied::Forbidden)
    );
    assert!(authorize(&admin, Action::ManageSchema, active(a)).is_ok());
    let suspended = Resource::Tenant {
        id: a,
        status: TenantStatus::Suspended,
    };
    assert_eq!(
        authorize(&admin, Action::ReadData, suspended),
        Err(Denied::TenantSuspended)
    );
    let changing = tenant_user(a, true, Pending::PasswordChange, Credential::Session);
    assert_eq!(
        authorize(&changing, Action::ReadData, active(a)),
        Err(Denied::PasswordChangeRequired)
    );
    // Housekeeping is the server's own, never a user's or operator's.
    assert!(
        authorize(
            &Principal::LocalAdministrator,
            Action::MaintainTenantData,
            active(a)
        )
        .is_ok()
    );
    assert_eq!(
        authorize(&admin, Action::MaintainTenantData, active(a)),
        Err(Denied::Forbidden)
    );
    let operator = Principal::Operator {
        id: crate::OperatorId::generate(),
    };
    for action in [
        Action::ReadData,
        Action::WriteData,
        Action::ManageSchema,
        Action::MaintainTenantData,
    ] {
        assert_eq!(
            authorize(&operator, action, active(a)),
            Err(Denied::Forbidden),
            "{action:?}"
        );
    }
}

#[test]
fn tenant_users_reach_only_their_own_tenant() {
    let (a, b) = (TenantId::generate(), TenantId::generate());
    let scope = authorize(&user(a, false), Action::TenantSelf, active(a)).map(Allowed::into_tenant);
    assert_eq!(scope.ok().flatten().map(|s| s.tenant()), Some(a));
    assert_eq!(
        authorize(&user(a, false), Action::TenantSelf, active(b)),
        Err(Denied::Forbidden)
    );
    assert_eq!(
        authorize(&user(a, false), Action::ManageTenants, Resource::Platform),
        Err(Denied::Forbidden)
    );
}

#[test]
fn suspended_tenants_refuse_everything() {
    let a = TenantId::generate();
    let suspended = Resource::Tenant {
        id: a,
        status: TenantStatus::Suspended,
    };
    assert_eq!(
        authorize(&user(a, false), Action::TenantSelf, suspended),
        Err(Denied::TenantSuspended)
    );
    assert_eq!(
        authorize(&Principal::Anonymous, Action::TenantLogin, suspended),
        Err(Denied::TenantSuspended)
    );
}

#[test]
fn signing_in_grants_only_the_narrow_scopes() {
    let a = TenantId::generate();
    for action in [Action::TenantLogin, Action::AuthenticateSession] {
        let allowed = authorize(&Principal::Anonymous, action, active(a));
        assert!(
            matches!(allowed, Ok(Allowed::TenantAuth(ref s)) if s.tenant() == a),
            "{allowed:?}"
        );
    }
    for action in [
        Action::OperatorLogin,
        Action::BootstrapOperator,
        Action::AuthenticateSession,
    ] {
        let allowed = authorize(&Principal::Anonymous, action, Resource::Platform);
        assert!(
            matches!(allowed, Ok(Allowed::OperatorAuth(_))),
            "{action:?}: {allowed:?}"
        );
    }
    assert_eq!(
        authorize(
            &Principal::Anonymous,
            Action::IssueBootstrapToken,
            Resource::Platform
        ),
        Err(Denied::Forbidden)
    );
    assert!(matches!(
        authorize(
            &Principal::LocalAdministrator,
            Action::IssueBootstrapToken,
            Resource::Platform
        ),
        Ok(Allowed::Platform(_))
    ));
    let op = Principal::Operator {
        id: OperatorId::generate(),
    };
    assert!(matches!(
        authorize(&op, Action::OperatorSelf, Resource::Platform),
        Ok(Allowed::OperatorAuth(_))
    ));
    assert_eq!(
        authorize(&op, Action::OperatorLogin, Resource::Platform),
        Err(Denied::Forbidden)
    );
}

#[test]
fn operators_manage_tenants_but_never_read_them() {
    let op = Principal::Operator {
        id: OperatorId::generate(),
    };
    assert!(matches!(
        authorize(&op, Action::ManageTenants, Resource::Platform),
        Ok(Allowed::Platform(_))
    ));
    let a = TenantId::generate();
    for action in [
        Action::TenantSelf,
        Action::TenantLogin,
        Action::ChangeOwnPassword,
    ] {
        assert_eq!(authorize(&op, action, active(a)), Err(Denied::Forbidden));
    }
    assert_eq!(
        authorize(
            &Principal::Anonymous,
            Action::ManageTenants,
            Resource::Platform
        ),
        Err(Denied::Unauthenticated)
    );
}

#[test]
fn a_forced_password_change_blocks_all_but_itself() {
    let a = TenantId::generate();
    assert!(authorize(&user(a, true), Action::ChangeOwnPassword, active(a)).is_ok());
    assert!(authorize(&user(a, true), Action::TenantSelf, active(a)).is_ok());
    let admin = tenant_user(a, true, Pending::PasswordChange, Credential::Session);
    for action in [Action::ManageOwnCredentials, Action::ManageIdentity] {
        assert_eq!(
            authorize(&admin, action, active(a)),
            Err(Denied::PasswordChangeRequired)
        );
    }
}

#[test]
fn a_required_second_factor_allows_only_enrolment() {
    let a = TenantId::generate();
    let admin = tenant_user(a, true, Pending::TotpEnrolment, Credential::Session);
    for action in [
        Action::ManageOwnCredentials,
        Action::TenantSelf,
        Action::ChangeOwnPassword,
    ] {
        assert!(authorize(&admin, action, active(a)).is_ok(), "{action:?}");
    }
    assert_eq!(
        authorize(&admin, Action::ManageIdentity, active(a)),
        Err(Denied::TotpEnrolmentRequired)
    );
}

#[test]
fn identity_management_is_for_admins() {
    let a = TenantId::generate();
    let member = tenant_user(a, false, Pending::Nothing, Credential::Session);
    let admin = tenant_user(a, true, Pending::Nothing, Credential::Session);
    for action in [Action::ManageIdentity, Action::AdministerCredentials] {
        assert_eq!(
            authorize(&member, action, active(a)),
            Err(Denied::Forbidden)
        );
        assert!(authorize(&admin, action, active(a)).is_ok());
    }
    let b = TenantId::generate();
    assert_eq!(
        authorize(&admin, Action::ManageIdentity, active(b)),
        Err(Denied::Forbidden),
        "an admin of one tenant is nobody in another"
    );
}

#[test]
fn each_duty_opens_only_its_own_administration() {
    let a = TenantId::generate();
    let holder = |duties: Duties| Principal::TenantUser {
        tenant: a,
        user: UserId::generate(),
        duties,
        pending: Pending::Nothing,
        via: Credential::Session,
    };
    let system = holder(Duties::SYSTEM);
    let security = holder(Duties {
        security: true,
        ..Duties::NONE
    });
    let audit = holder(Duties {
        audit: true,
        ..Duties::NONE
    });
    let administration = [
        Action::ManageIdentity,
        Action::AdministerCredentials,
        Action::ManageSchema,
        Action::ManageSecurity,
        Action::ReadAudit,
    ];
    for (who, allowed) in [
        (
            &system,
            &[
                Action::ManageIdentity,
                Action::AdministerCredentials,
                Action::ManageSchema,
            ][..],
        ),
        (&security, &[Action::ManageSecurity][..]),
        (&audit, &[Action::ReadAudit][..]),
    ] {
        for action in administration {
            assert_eq!(
                authorize(who, action, active(a)).is_ok(),
                allowed.contains(&action),
                "{who:?} {action:?}"
            );
        }
    }
    assert!(!Duties::SYSTEM.combined() && Duties::ALL.combined());
    let all = holder(Duties::ALL);
    for action in administration {
        assert!(authorize(&all, action, active(a)).is_ok(), "{action:?}");
    }
}

#[test]
fn access_tokens_never_manage_credentials() {
    let a = TenantId::generate();
    let script = tenant_user(a, true, Pending::Nothing, Credential::AccessToken);
    for action in [
        Action::ManageOwnCredentials,
        Action::ChangeOwnPassword,
        Action::AdministerCredentials,
    ] {
        assert_eq!(
            authorize(&script, action, active(a)),
            Err(Denied::SessionRequired)
        );
    }
    assert!(authorize(&script, Action::TenantSelf, active(a)).is_ok());
    assert!(authorize(&script, Action::ManageIdentity, active(a)).is_ok());
}

#[test]
fn mismatched_action_and_resource_is_denied() {
    let a = TenantId::generate();
    assert_eq!(
        authorize(
            &Principal::LocalAdministrator,
            Action::ManageTenants,
            active(a)
        ),
        Err(Denied::Forbidden)
    );
    assert_eq!(
        authorize(
            &Principal::Anonymous,
            Action::TenantLogin,
            Resource::Platform
        ),
        Err(Denied::Forbidden)
    );
}

#[test]
fn support_access_reads_one_tenants_data_and_nothing_else() {
    let (a, b) = (TenantId::generate(), TenantId::generate());
    let support = Principal::SupportOperator {
        operator: OperatorId::generate(),
        tenant: a,
    };
    assert!(authorize(&support, Action::ReadData, active(a)).is_ok());
    assert_eq!(
        authorize(&support, Action::ReadData, active(b)),
        Err(Denied::Forbidden)
    );
    let suspended = Resource::Tenant {
        id: a,
        status: TenantStatus::Suspended,
    };
    assert_eq!(
        authorize(&support, Action::ReadData, suspended),
        Err(Denied::TenantSuspended)
    );
    for action in [
        Action::WriteData,
        Action::ManageSchema,
        Action::ManageIdentity,
        Action::ManageSecurity,
        Action::ReadAudit,
        Action::AdministerCredentials,
        Action::TenantSelf,
        Action::MaintainTenantData,
    ] {
        assert_eq!(
            authorize(&support, action, active(a)),
            Err(Denied::Forbidden),
            "{action:?}"
        );
    }
    assert_eq!(
        authorize(&support, Action::ManageTenants, Resource::Platform),
        Err(Denied::Forbidden)
    );
}

#[test]
fn audit_logs_are_read_by_their_own_auditors_and_verified_from_the_machine() {
    let a = TenantId::generate();
    let op = Principal::Operator {
        id: OperatorId::generate(),
    };
    // Operators read the platform's own events, never a tenant's.
    assert!(matches!(
        authorize(&op, Action::ReadPlatformAudit, Resource::Platform),
        Ok(Allowed::Platform(_))
    ));
    assert_eq!(
        authorize(&op, Action::ReadAudit, active(a)),
        Err(Denied::Forbidden)
    );
    assert_eq!(
        authorize(
            &user(a, false),
            Action::ReadPlatformAudit,
            Resource::Platform
        ),
        Err(Denied::Forbidden)
    );
    assert_eq!(
        authorize(
            &Principal::Anonymous,
            Action::ReadPlatformAudit,
            Resource::Platform
        ),
        Err(Denied::Unauthenticated)
    );
    // Verification from the machine reaches suspended tenants too; nobody
    // else verifies through this action.
    let suspended = Resource::Tenant {
        id: a,
        status: TenantStatus::Suspended,
    };
    assert!(matches!(
        authorize(
            &Principal::LocalAdministrator,
            Action::VerifyAuditLog,
            suspended
        ),
        Ok(Allowed::Tenant(_))
    ));
    for who in [op, user(a, false), Principal::Anonymous] {
        assert_eq!(
            authorize(&who, Action::VerifyAuditLog, active(a)),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            authorize(&who, Action::VerifyAuditLog, Resource::Platform),
            Err(Denied::Forbidden)
        );
    }
}
