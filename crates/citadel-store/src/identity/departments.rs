//! The department tree. Creations and moves are decided by
//! `citadel_core::department` (no cycles, at most 32 levels) on the whole
//! tree read inside the transaction that writes, so two concurrent moves
//! cannot build a cycle between them. A department with members or
//! sub-departments cannot be deleted.

use citadel_core::department::{DepartmentTree, TreeError};
use citadel_core::{DepartmentId, DisplayName};
use sqlx::Row;

use crate::StoreError;
use crate::db::{BeginWrite, now_millis, on_pool, write_on_pool};
use crate::records::DepartmentRecord;
use crate::tenant_db::TenantDb;

fn tree_error(e: TreeError) -> StoreError {
    match e {
        TreeError::UnknownParent => StoreError::NotFound("parent department"),
        TreeError::Cycle => StoreError::Conflict(
            "a department cannot be moved under itself or its own sub-department".into(),
        ),
        TreeError::TooDeep => StoreError::Conflict(format!(
            "the department tree would be deeper than {} levels",
            citadel_core::department::MAX_DEPTH
        )),
    }
}

const TREE_CHANGED: &str = "the department tree changed meanwhile; try again";
/// Serialisation failures retried before the conflict reaches the caller.
const ATTEMPTS: usize = 5;

/// A concurrent change to the tree made PostgreSQL give up a serializable
/// transaction: it is tried again (see `retrying`).
fn tree_changed(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("40001") => {
            StoreError::Conflict(TREE_CHANGED.into())
        }
        other => other.into(),
    }
}

fn is_tree_changed(result: &Result<(), StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict(m)) if m == TREE_CHANGED)
}

/// Reads every (id, parent) link inside transaction `$tx`.
macro_rules! read_tree {
    ($tx:expr) => {{
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT id, parent_id FROM departments")
                .fetch_all(&mut *$tx)
                .await
                .map_err(tree_changed)?;
        let mut links = Vec::with_capacity(rows.len());
        for (id, parent) in rows {
            links.push((
                DepartmentId::parse(&id)?,
                parent.map(|p| DepartmentId::parse(&p)).transpose()?,
            ));
        }
        DepartmentTree::new(links)
    }};
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

    pub async fn create_department(
        &self,
        name: &DisplayName,
        parent: Option<DepartmentId>,
    ) -> Result<DepartmentRecord, StoreError> {
        let record = DepartmentRecord {
            id: DepartmentId::generate(),
            name: name.clone(),
            parent,
            created_at: now_millis(),
        };
        let mut result = Err(StoreError::Conflict(TREE_CHANGED.into()));
        for _ in 0..ATTEMPTS {
            result = self.insert_department(&record).await;
            if !is_tree_changed(&result) {
                break;
            }
        }
        result.map(|()| record)
    }

    async fn insert_department(&self, record: &DepartmentRecord) -> Result<(), StoreError> {
        let parent = record.parent;
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin_serializable().await?;
            read_tree!(tx).check_new(parent).map_err(tree_error)?;
            sqlx::query(
                "INSERT INTO departments (id, name, parent_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(record.id.to_string())
            .bind(record.name.as_str())
            .bind(record.parent.map(|p| p.to_string()))
            .bind(record.created_at)
            .execute(&mut *tx)
            .await
            .map_err(tree_changed)?;
            tx.commit().await.map_err(tree_changed)?;
            Ok(())
        })
    }

    /// Renames and/or moves a department (with its subtree). A move under
    /// itself or one of its descendants, or one that would make the tree
    /// too deep, is refused with a conflict.
    pub async fn update_department(
        &self,
        id: DepartmentId,
        name: Option<&DisplayName>,
        parent: Option<Option<DepartmentId>>,
    ) -> Result<(), StoreError> {
        let Some(new_parent) = parent else {
            return self.rename_department(id, name).await;
        };
        let mut result = Err(StoreError::Conflict(TREE_CHANGED.into()));
        for _ in 0..ATTEMPTS {
            result = self.move_department(id, name, new_parent).await;
            if !is_tree_changed(&result) {
                break;
            }
        }
        // A move changes who is below whom: department memberships and
        // department-tree row scopes.
        self.access_changed();
        result
    }

    /// A rename leaves the tree alone and needs none of its checks.
    async fn rename_department(
        &self,
        id: DepartmentId,
        name: Option<&DisplayName>,
    ) -> Result<(), StoreError> {
        let found = write_on_pool!(&self.pool, |p| {
            sqlx::query(
                "UPDATE departments SET name = COALESCE($1, name), updated_at = $2 WHERE id = $3",
            )
            .bind(name.map(|n| n.as_str().to_owned()))
            .bind(now_millis())
            .bind(id.to_string())
            .execute(p)
            .await?
            .rows_affected()
        });
        if found == 0 {
            return Err(StoreError::NotFound("department"));
        }
        Ok(())
    }

    async fn move_department(
        &self,
        id: DepartmentId,
        name: Option<&DisplayName>,
        new_parent: Option<DepartmentId>,
    ) -> Result<(), StoreError> {
        write_on_pool!(&self.pool, |p| {
            let mut tx = p.begin_serializable().await?;
            let tree = read_tree!(tx);
            if !tree.contains(id) {
                return Err(StoreError::NotFound("department"));
            }
            tree.check_move(id, new_parent).map_err(tree_error)?;
            sqlx::query(
                "UPDATE departments SET name = COALESCE($1, name), parent_id = $2, \
                   updated_at = $3 WHERE id = $4",
            )
            .bind(name.map(|n| n.as_str().to_owned()))
            .bind(new_parent.map(|p| p.to_string()))
            .bind(now_millis())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(tree_changed)?;
            tx.commit().await.map_err(tree_changed)?;
            Ok(())
        })
    }

    /// Deletes an empty department (no members, no sub-departments).
    pub async fn delete_department(&self, id: DepartmentId) -> Result<(), StoreError> {
        write_on_pool!(&self.pool, |p| {
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
