//! PostgreSQL counterpart of `crate::domain_report`: nothing to do here. The report adds up
//! `Store::domain_stats` rows and asks `Store::domain_first_since`, both of which run on
//! either backend (`pg/domains.rs`).

/// This module's tables (part of schema version 1, see `schema.rs`): none.
pub(crate) const DDL: &str = "";
