//! PostgreSQL counterpart of `crate::query`.
