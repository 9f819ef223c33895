//! PostgreSQL counterpart of `crate::reports`.

/// This module's tables (part of schema version 1, see `schema.rs`).
pub(crate) const DDL: &str = "";
