//! PostgreSQL counterpart of `crate::accounts`: users, API tokens and login sessions, with the
//! same rules (unique user and token names, digests only, sessions ended by a new password or
//! the user's removal, expired sessions never authenticate).

use crate::accounts::{Role, Token, User, WebSession, ts};
use crate::error::{Result, StoreError};
use postgres::{Client, GenericClient, Row};

/// This module's tables (part of schema version 1, see `schema.rs`), SQLite's v8. The session's
/// user column is `username`: `user` is a reserved word in PostgreSQL.
pub(crate) const DDL: &str = "
    CREATE TABLE users (
        name          TEXT PRIMARY KEY,
        role          TEXT NOT NULL,     -- admin | reader
        password_hash TEXT NOT NULL,     -- argon2id PHC string
        created_at    BIGINT NOT NULL,
        updated_at    BIGINT NOT NULL
    );
    CREATE TABLE api_tokens (
        id         BIGSERIAL PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        role       TEXT NOT NULL,
        digest     BYTEA NOT NULL UNIQUE,  -- SHA-256 of the token
        created_at BIGINT NOT NULL,
        last_used  BIGINT
    );
    CREATE TABLE web_sessions (
        digest     BYTEA PRIMARY KEY,      -- SHA-256 of the cookie value
        username   TEXT NOT NULL,
        csrf       TEXT NOT NULL,          -- the session's CSRF token (forms echo it)
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX web_sessions_by_user ON web_sessions(username);
";

/// A stored role; an unknown one is a corrupt row, not a panic.
fn role(r: &Row, i: usize) -> Result<Role> {
    let s: String = r.try_get(i)?;
    Role::parse(&s).ok_or_else(|| StoreError::corrupt(format!("unknown role {s:?}")))
}

/// Creates the user or replaces its role and password hash, ending its sessions. `true` when
/// created: decided by the upsert itself (`xmax = 0` on a fresh row), so two collectors racing
/// to create one name cannot both say "created".
pub(crate) fn put_user(
    c: &mut Client,
    name: &str,
    role: Role,
    password_hash: &str,
    now: i64,
) -> Result<bool> {
    let mut tx = c.transaction()?;
    let created: bool = tx
        .query_one(
            "INSERT INTO users (name, role, password_hash, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (name) DO UPDATE SET role = $2, password_hash = $3, updated_at = $4
             RETURNING (xmax = 0)",
            &[&name, &role.as_str(), &password_hash, &now],
        )?
        .try_get(0)?;
    tx.execute("DELETE FROM web_sessions WHERE username = $1", &[&name])?;
    tx.commit()?;
    Ok(created)
}

/// The user and its password hash, for a login check.
pub(crate) fn user_with_hash(
    c: &mut impl GenericClient,
    name: &str,
) -> Result<Option<(User, String)>> {
    let row = c.query_opt(
        "SELECT name, role, created_at, password_hash FROM users WHERE name = $1",
        &[&name],
    )?;
    row.map(|r| Ok((user(&r)?, r.try_get(3)?))).transpose()
}

fn user(r: &Row) -> Result<User> {
    Ok(User {
        name: r.try_get(0)?,
        role: role(r, 1)?,
        created_at: ts(r.try_get(2)?),
    })
}

/// Every user, by name.
pub(crate) fn users(c: &mut impl GenericClient) -> Result<Vec<User>> {
    c.query(
        "SELECT name, role, created_at FROM users ORDER BY name",
        &[],
    )?
    .iter()
    .map(user)
    .collect()
}

/// Removes a user and ends its sessions; `false` when there was no such user.
pub(crate) fn remove_user(c: &mut Client, name: &str) -> Result<bool> {
    let mut tx = c.transaction()?;
    let n = tx.execute("DELETE FROM users WHERE name = $1", &[&name])?;
    tx.execute("DELETE FROM web_sessions WHERE username = $1", &[&name])?;
    tx.commit()?;
    Ok(n > 0)
}

/// Records a token by its digest; `false` when its name (or digest) is taken.
pub(crate) fn create_token(
    c: &mut impl GenericClient,
    name: &str,
    role: Role,
    digest: &[u8; 32],
    now: i64,
) -> Result<bool> {
    let n = c.execute(
        "INSERT INTO api_tokens (name, role, digest, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
        &[&name, &role.as_str(), &digest.as_slice(), &now],
    )?;
    Ok(n > 0)
}

fn token(r: &Row) -> Result<Token> {
    Ok(Token {
        name: r.try_get(0)?,
        role: role(r, 1)?,
        created_at: ts(r.try_get(2)?),
        last_used: r.try_get::<_, Option<i64>>(3)?.map(ts),
    })
}

/// The token with this digest, if any.
pub(crate) fn token_by_digest(
    c: &mut impl GenericClient,
    digest: &[u8; 32],
) -> Result<Option<Token>> {
    c.query_opt(
        "SELECT name, role, created_at, last_used FROM api_tokens WHERE digest = $1",
        &[&digest.as_slice()],
    )?
    .as_ref()
    .map(token)
    .transpose()
}

/// Notes that a token was used at `at`.
pub(crate) fn touch_token(c: &mut impl GenericClient, name: &str, at: i64) -> Result<()> {
    c.execute(
        "UPDATE api_tokens SET last_used = $2 WHERE name = $1",
        &[&name, &at],
    )?;
    Ok(())
}

/// Every token, by name.
pub(crate) fn tokens(c: &mut impl GenericClient) -> Result<Vec<Token>> {
    c.query(
        "SELECT name, role, created_at, last_used FROM api_tokens ORDER BY name",
        &[],
    )?
    .iter()
    .map(token)
    .collect()
}

/// Deletes a token; `false` when there was no such token.
pub(crate) fn revoke_token(c: &mut impl GenericClient, name: &str) -> Result<bool> {
    Ok(c.execute("DELETE FROM api_tokens WHERE name = $1", &[&name])? > 0)
}

/// Starts a login session, dropping expired ones (the table stays small without a timer).
pub(crate) fn create_web_session(
    c: &mut impl GenericClient,
    digest: &[u8; 32],
    user: &str,
    csrf: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    c.execute("DELETE FROM web_sessions WHERE expires_at <= $1", &[&now])?;
    c.execute(
        "INSERT INTO web_sessions (digest, username, csrf, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[&digest.as_slice(), &user, &csrf, &now, &expires_at],
    )?;
    Ok(())
}

/// The live session with this digest at `now`, with its user's current role.
pub(crate) fn web_session(
    c: &mut impl GenericClient,
    digest: &[u8; 32],
    now: i64,
) -> Result<Option<WebSession>> {
    let row = c.query_opt(
        "SELECT s.username, u.role, s.csrf, s.expires_at FROM web_sessions s
         JOIN users u ON u.name = s.username
         WHERE s.digest = $1 AND s.expires_at > $2",
        &[&digest.as_slice(), &now],
    )?;
    row.map(|r| {
        Ok(WebSession {
            user: r.try_get(0)?,
            role: role(&r, 1)?,
            csrf: r.try_get(2)?,
            expires_at: ts(r.try_get(3)?),
        })
    })
    .transpose()
}

/// Ends a session (logout).
pub(crate) fn delete_web_session(c: &mut impl GenericClient, digest: &[u8; 32]) -> Result<()> {
    c.execute(
        "DELETE FROM web_sessions WHERE digest = $1",
        &[&digest.as_slice()],
    )?;
    Ok(())
}
