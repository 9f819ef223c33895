//! PostgreSQL counterpart of `crate::jobs`.
