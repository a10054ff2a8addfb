//! The rules of the department tree: no cycles, at most [`MAX_DEPTH`]
//! levels. Pure: the store hands in the tree as (id, parent) pairs.

use std::collections::HashMap;

use crate::DepartmentId;

/// No real organisation needs more levels; the bound keeps walks short.
pub const MAX_DEPTH: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeError {
    /// The parent does not exist.
    UnknownParent,
    /// The department would end up under itself.
    Cycle,
    /// The tree would be deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// The tree as parent links.
pub struct DepartmentTree {
    parent: HashMap<DepartmentId, Option<DepartmentId>>,
}

impl DepartmentTree {
    pub fn new(links: impl IntoIterator<Item = (DepartmentId, Option<DepartmentId>)>) -> Self {
        Self {
            parent: links.into_iter().collect(),
        }
    }

    pub fn contains(&self, id: DepartmentId) -> bool {
        self.parent.contains_key(&id)
    }

    /// Levels from `id` up to its root, `id` included (a root has depth 1);
    /// `None` for an unknown id or a chain that loops or runs too deep.
    fn depth(&self, id: DepartmentId) -> Option<usize> {
        let mut current = id;
        for depth in 1..=MAX_DEPTH + 1 {
            match self.parent.get(&current)? {
                None => return Some(depth),
                Some(up) => current = *up,
            }
        }
        None
    }

    /// Levels of the subtree rooted at `id`, `id` included.
    fn height(&self, id: DepartmentId) -> usize {
        let mut children: HashMap<DepartmentId, Vec<DepartmentId>> = HashMap::new();
        for (child, parent) in &self.parent {
            if let Some(parent) = parent {
                children.entry(*parent).or_default().push(*child);
            }
        }
        let mut level = vec![id];
        let mut height = 0;
        // Bounded: a well-formed tree is at most MAX_DEPTH deep.
        while !level.is_empty() && height <= MAX_DEPTH {
            height += 1;
            level = level
                .iter()
                .flat_map(|d| children.get(d).cloned().unwrap_or_default())
                .collect();
        }
        height
    }

    /// Whether a new department may be created under `parent`.
    pub fn check_new(&self, parent: Option<DepartmentId>) -> Result<(), TreeError> {
        let Some(parent) = parent else {
            return Ok(());
        };
        match self.depth(parent) {
            None if !self.contains(parent) => Err(TreeError::UnknownParent),
            Some(depth) if depth < MAX_DEPTH => Ok(()),
            _ => Err(TreeError::TooDeep),
        }
    }

    /// Whether `id` (with its whole subtree) may move under `new_parent`
    /// (`None`: to the top).
    pub fn check_move(
        &self,
        id: DepartmentId,
        new_parent: Option<DepartmentId>,
    ) -> Result<(), TreeError> {
        let Some(parent) = new_parent else {
            return if self.height(id) <= MAX_DEPTH {
                Ok(())
            } else {
                Err(TreeError::TooDeep)
            };
        };
        if !self.contains(parent) {
            return Err(TreeError::UnknownParent);
        }
        let mut current = Some(parent);
        for _ in 0..=MAX_DEPTH {
            match current {
                Some(up) if up == id => return Err(TreeError::Cycle),
                Some(up) => current = self.parent.get(&up).copied().flatten(),
                None => break,
            }
        }
        let depth = self.depth(parent).ok_or(TreeError::TooDeep)?;
        if depth + self.height(id) > MAX_DEPTH {
            return Err(TreeError::TooDeep);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<DepartmentId> {
        (0..n).map(|_| DepartmentId::generate()).collect()
    }

    fn tree_of(chains: &[&[DepartmentId]]) -> DepartmentTree {
        DepartmentTree::new(chains.iter().flat_map(|c| {
            c.iter()
                .enumerate()
                .map(|(i, d)| (*d, if i == 0 { None } else { Some(c[i - 1]) }))
        }))
    }

    #[test]
    fn cycles_are_refused() {
        let c = chain(3);
        let t = tree_of(&[&c]);
        assert_eq!(t.check_move(c[0], Some(c[2])), Err(TreeError::Cycle));
        assert_eq!(t.check_move(c[0], Some(c[0])), Err(TreeError::Cycle));
        assert_eq!(t.check_move(c[1], Some(c[2])), Err(TreeError::Cycle));
        assert_eq!(t.check_move(c[2], None), Ok(()));
        assert_eq!(
            t.check_move(c[2], Some(DepartmentId::generate())),
            Err(TreeError::UnknownParent)
        );
    }

    #[test]
    fn depth_counts_the_moved_subtree() {
        let deep = chain(MAX_DEPTH);
        let other = chain(2);
        let t = tree_of(&[&deep, &other]);
        assert_eq!(t.check_new(Some(deep[MAX_DEPTH - 2])), Ok(()));
        assert_eq!(
            t.check_new(Some(deep[MAX_DEPTH - 1])),
            Err(TreeError::TooDeep)
        );
        assert_eq!(
            t.check_new(Some(DepartmentId::generate())),
            Err(TreeError::UnknownParent)
        );
        // A two-level subtree fits under level 30, not under level 31.
        assert_eq!(t.check_move(other[0], Some(deep[MAX_DEPTH - 3])), Ok(()));
        assert_eq!(
            t.check_move(other[0], Some(deep[MAX_DEPTH - 2])),
            Err(TreeError::TooDeep)
        );
    }
}
