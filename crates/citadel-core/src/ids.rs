use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::CoreError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered (v7) id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn parse(s: &str) -> Result<Self, CoreError> {
                Uuid::try_parse(s)
                    .map(Self)
                    .map_err(|_| CoreError::InvalidId(concat!(stringify!($name), " must be a UUID")))
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// 32 lowercase hex digits: safe inside SQL identifiers and file names.
            pub fn simple(&self) -> String {
                self.0.simple().to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = CoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

uuid_id!(
    /// A tenant. Also names its storage: `tenants/<id>/`, schema `t_<simple>`.
    TenantId
);
uuid_id!(
    /// A user inside one tenant.
    UserId
);
uuid_id!(
    /// A platform operator: a separate population from tenant users.
    OperatorId
);
uuid_id!(
    /// A department in a tenant's department tree.
    DepartmentId
);
uuid_id!(
    /// A session's public name, for listing and revoking it; the cookie's
    /// secret token is never shown again.
    SessionId
);
uuid_id!(
    /// A personal access token's public name.
    TokenId
);
uuid_id!(
    /// An entry of a tenant's logs and lists: IP bans, security events,
    /// notifications.
    EntryId
);

uuid_id!(
    /// An app (应用): a named group of tables.
    AppId
);
uuid_id!(
    /// A user-defined table (业务对象). Names its physical table `t_<simple>`.
    TableId
);
uuid_id!(
    /// A field of a user-defined table. Names its column `f_<simple>`.
    FieldId
);
uuid_id!(
    /// A saved view of a table.
    ViewId
);
uuid_id!(
    /// A permission group (权限组) of a tenant.
    GroupId
);

/// A record of a user-defined table: the physical row id. Record ids are
/// only meaningful together with their table.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordId(pub i64);

impl RecordId {
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        s.parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Self)
            .ok_or(CoreError::InvalidId("RecordId must be a positive integer"))
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id = TenantId::generate();
        assert_eq!(TenantId::parse(&id.to_string()), Ok(id));
        assert_eq!(id.simple().len(), 32);
        assert!(id.simple().bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(TenantId::parse("t_1; DROP TABLE x").is_err());
        assert!(UserId::parse("").is_err());
    }
}
