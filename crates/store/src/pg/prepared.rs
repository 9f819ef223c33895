//! Statements prepared once per connection, and a transaction that uses them.
//!
//! The `postgres` client runs a `&str` statement as two round trips: prepare (parse, describe,
//! plan) and execute. The analysis path runs about thirty statements per message, most of
//! them serially (the report save and the clustering step hold the feeds' clock lock), so on
//! a busy 2-core host the round trips, not the server's work, bounded analysis on PostgreSQL
//! (`docs/PERFORMANCE.md`). A pooled connection therefore keeps the statements it prepared,
//! keyed by their SQL text, and the hot paths execute them by name: one round trip each.
//!
//! The cache is bounded ([`MAX_PREPARED`]) and only the paths that opt in use it. A cached
//! statement lives as long as its connection: a connection that broke (a server restart) is
//! dropped from the pool with its statements, and the next one prepares them again.
//! Statements prepared inside a transaction that rolls back stay valid (prepared statements
//! are not transactional).

use crate::error::Result;
use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row, Statement, Transaction};
use std::collections::HashMap;

/// A connection's prepared statements, by SQL text.
#[derive(Default)]
pub(crate) struct Prepared(HashMap<String, Statement>);

/// Statements one connection keeps prepared at most. The analysis path uses a few dozen; a
/// caller that would prepare SQL built from data (it should not) empties the cache instead of
/// growing it without bound.
const MAX_PREPARED: usize = 256;

/// Statement parameters, as the `postgres` client takes them.
pub(crate) type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl Prepared {
    /// `sql` prepared on `c`'s connection, preparing it the first time.
    pub(crate) fn statement(&mut self, c: &mut impl GenericClient, sql: &str) -> Result<Statement> {
        if let Some(s) = self.0.get(sql) {
            return Ok(s.clone());
        }
        let s = c.prepare(sql)?;
        if self.0.len() >= MAX_PREPARED {
            self.0.clear();
        }
        self.0.insert(sql.to_owned(), s.clone());
        Ok(s)
    }
}

/// A pooled connection: the client and what it prepared.
pub(crate) struct Conn {
    pub(crate) client: Client,
    pub(crate) prepared: Prepared,
}

impl Conn {
    pub(crate) fn new(client: Client) -> Conn {
        Conn {
            client,
            prepared: Prepared::default(),
        }
    }

    /// A transaction executing the connection's prepared statements.
    pub(crate) fn transaction(&mut self) -> Result<Tx<'_>> {
        Ok(Tx {
            tx: self.client.transaction()?,
            prepared: &mut self.prepared,
            clock: None,
        })
    }

    /// One statement outside a transaction, prepared once.
    pub(crate) fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>> {
        let s = self.prepared.statement(&mut self.client, sql)?;
        Ok(self.client.query(&s, params)?)
    }

    /// [`Conn::query`] for at most one row.
    pub(crate) fn query_opt(&mut self, sql: &str, params: Params<'_>) -> Result<Option<Row>> {
        let s = self.prepared.statement(&mut self.client, sql)?;
        Ok(self.client.query_opt(&s, params)?)
    }

    /// [`Conn::query`] for a row count.
    pub(crate) fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64> {
        let s = self.prepared.statement(&mut self.client, sql)?;
        Ok(self.client.execute(&s, params)?)
    }
}

/// A transaction on a pooled connection; its statements are the connection's prepared ones.
pub(crate) struct Tx<'a> {
    pub(crate) tx: Transaction<'a>,
    prepared: &'a mut Prepared,
    /// The feeds' change clock as this transaction last read or advanced it (`intel.rs`).
    pub(crate) clock: Option<i64>,
}

impl<'a> Tx<'a> {
    pub(crate) fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }

    fn statement(&mut self, sql: &str) -> Result<Statement> {
        self.prepared.statement(&mut self.tx, sql)
    }

    pub(crate) fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64> {
        let s = self.statement(sql)?;
        Ok(self.tx.execute(&s, params)?)
    }

    pub(crate) fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>> {
        let s = self.statement(sql)?;
        Ok(self.tx.query(&s, params)?)
    }

    pub(crate) fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row> {
        let s = self.statement(sql)?;
        Ok(self.tx.query_one(&s, params)?)
    }

    pub(crate) fn query_opt(&mut self, sql: &str, params: Params<'_>) -> Result<Option<Row>> {
        let s = self.statement(sql)?;
        Ok(self.tx.query_opt(&s, params)?)
    }
}

/// Running read statements, prepared once in a [`Tx`] and as plain `&str` statements on a
/// [`Client`]: code shared by the clustering step and the console (`campaign_read.rs`) is
/// written once over this.
pub(crate) trait Statements {
    fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>>;
    fn query_opt(&mut self, sql: &str, params: Params<'_>) -> Result<Option<Row>>;
    fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row>;
}

impl Statements for Tx<'_> {
    fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>> {
        Tx::query(self, sql, params)
    }
    fn query_opt(&mut self, sql: &str, params: Params<'_>) -> Result<Option<Row>> {
        Tx::query_opt(self, sql, params)
    }
    fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row> {
        Tx::query_one(self, sql, params)
    }
}

/// Plain statements (two round trips each) on a client without a cache.
macro_rules! uncached {
    ($t:ty) => {
        impl Statements for $t {
            fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>> {
                Ok(GenericClient::query(self, sql, params)?)
            }
            fn query_opt(&mut self, sql: &str, params: Params<'_>) -> Result<Option<Row>> {
                Ok(GenericClient::query_opt(self, sql, params)?)
            }
            fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row> {
                Ok(GenericClient::query_one(self, sql, params)?)
            }
        }
    };
}
uncached!(Client);
