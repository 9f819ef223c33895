//! PostgreSQL counterpart of `crate::seeds`.

/// This module's tables (part of schema version 1, see `schema.rs`).
pub(crate) const DDL: &str = "";
