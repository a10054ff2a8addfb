//! The department tree. Moves that would make a department its own
//! ancestor are refused; a department with members or sub-departments
//! cannot be deleted.

use citadel_core::{DepartmentId, DisplayName};
use sqlx::Row;

use crate::StoreError;
use crate::db::{BeginWrite, now_millis, on_pool};
use crate::records::DepartmentRecord;
use crate::tenant_db::TenantDb;

/// Deeper trees are refused: it bounds the ancestor walk and no real
/// organisation needs more.
pub const MAX_DEPTH: usize = 32;

fn parent_missing(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            StoreError::NotFound("parent department")
        }
        other => other.into(),
    }
}

impl TenantDb {
    pub async fn list_departments(&self) -> Result<Vec<DepartmentRecord>, StoreError> {
        on_pool!(&self.pool, |p| {
            sqlx::query("SELECT id, name, parent_id, created_at FROM departments ORDER BY name, id")
                .fetch_all(p)
                .await?
                .into_iter()
                .map(|row| {
                    Ok(DepartmentRecord {
                        id: DepartmentId::parse(&row.try_get::<String, _>("id")?)?,
                        name: DisplayName::parse(&row.try_get::<String, _>("name")?)?,
                        parent: row
                            .try_get::<Option<String>, _>("parent_id")?
                            .map(|p| DepartmentId::parse(&p))
                            .transpose()?,
                        created_at: row.try_get("created_at")?,
                    })
                })
                .collect()
        })
    }

    async fn parent_of(
        &self,
        id: DepartmentId,
    ) -> Result<Option<Option<DepartmentId>>, StoreError> {
        let row: Option<Option<String>> = on_pool!(&self.pool, |p| {
            sqlx::query_scalar("SELECT parent_id FROM departments WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(p)
                .await?
        });
        row.map(|parent| parent.map(|p| DepartmentId::parse(&p)).transpose())
            .transpose()
            .map_err(Into::into)
    }

    /// The chain from `start` up to the root, `start` first; refuses a
    /// chain deeper than [`MAX_DEPTH`].
    async fn ancestors(&self, start: DepartmentId) -> Result<Vec<DepartmentId>, StoreError> {
        let mut chain = vec![start];
        let mut current = start;
        loop {
            match self.parent_of(current).await? {
                None => return Err(StoreError::NotFound("parent department")),
                Some(None) => return Ok(chain),
                Some(Some(parent)) => {
                    if chain.len() >= MAX_DEPTH || chain.contains(&parent) {
                        return Err(StoreError::Conflict(
                            "the department tree would be too deep".into(),
                        ));
                    }
                    chain.push(parent);
                    current = parent;
                }
            }
        }
    }

    pub async fn create_department(
        &self,
        name: &DisplayName,
        parent: Option<DepartmentId>,
    ) -> Result<DepartmentRecord, StoreError> {
        if let Some(parent) = parent {
            self.ancestors(parent).await?;
        }
        let record = DepartmentRecord {
            id: DepartmentId::generate(),
            name: name.clone(),
            parent,
            created_at: now_millis(),
        };
        on_pool!(&self.pool, |p| {
            sqlx::query(
                "INSERT INTO departments (id, name, parent_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(record.id.to_string())
            .bind(record.name.as_str())
            .bind(record.parent.map(|p| p.to_string()))
            .bind(record.created_at)
            .execute(p)
            .await
            .map_err(parent_missing)?
            .rows_affected()
        });
        Ok(record)
    }

    /// Renames and/or moves a department. A move under itself or one of its
    /// descendants is refused with a conflict.
    pub async fn update_department(
        &self,
        id: DepartmentId,
        name: Option<&DisplayName>,
        parent: Option<Option<DepartmentId>>,
    ) -> Result<(), StoreError> {
        if self.parent_of(id).await?.is_none() {
            return Err(StoreError::NotFound("department"));
        }
        if let Some(Some(new_parent)) = parent
            && self.ancestors(new_parent).await?.contains(&id)
        {
            return Err(StoreError::Conflict(
                "a department cannot be moved under itself or its own sub-department".into(),
            ));
        }
        on_pool!(&self.pool, |p| {
            sqlx::query(
                "UPDATE departments SET name = COALESCE($1, name), \
                   parent_id = CASE WHEN $2 THEN $3 ELSE parent_id END, updated_at = $4 \
                 WHERE id = $5",
            )
            .bind(name.map(|n| n.as_str().to_owned()))
            .bind(parent.is_some())
            .bind(parent.flatten().map(|p| p.to_string()))
            .bind(now_millis())
            .bind(id.to_string())
            .execute(p)
            .await
            .map_err(parent_missing)?
            .rows_affected()
        });
        Ok(())
    }

    /// Deletes an empty department (no members, no sub-departments).
    pub async fn delete_department(&self, id: DepartmentId) -> Result<(), StoreError> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let in_use: i64 = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM users WHERE department_id = $1) + \
                        (SELECT COUNT(*) FROM departments WHERE parent_id = $1)",
            )
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?;
            if in_use > 0 {
                return Err(StoreError::Conflict(
                    "the department still has members or sub-departments".into(),
                ));
            }
            // A member added since the count makes the foreign key refuse.
            let deleted = sqlx::query("DELETE FROM departments WHERE id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(|e| match e {
                    sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
                        StoreError::Conflict(
                            "the department still has members or sub-departments".into(),
                        )
                    }
                    other => other.into(),
                })?
                .rows_affected();
            if deleted == 0 {
                return Err(StoreError::NotFound("department"));
            }
            tx.commit().await?;
            Ok(())
        })
    }
}
