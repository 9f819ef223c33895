//! Console accounts: users, API tokens and login sessions (schema v8).
//!
//! The store keeps no secret in a form that could be replayed: passwords arrive already
//! hashed (argon2id PHC strings, made by the `web` crate), and tokens and session ids are
//! looked up by their SHA-256 digest. The digest is enough for those two because they are
//! 256-bit random values; a password needs the slow hash because people choose it.
//!
//! These writes go through the job connection (like the feed state), not the capture writer:
//! they are rare, small and must not queue behind a burst of mail. On PostgreSQL they run on a
//! pooled connection, mirrored in `pg/accounts.rs`.

use crate::error::{Result, StoreError};
use crate::pg::accounts as pg;
use crate::{Store, Timestamp, unix_nanos};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

/// Longest user or token name accepted. Names show up in logs and the console.
pub const MAX_ACCOUNT_NAME: usize = 64;

/// What an account may do in the console and API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything a reader may, plus changes (annotations, redelivery, accounts).
    Admin,
    /// Read everything, change nothing.
    Reader,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reader => "reader",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "reader" => Some(Role::Reader),
            _ => None,
        }
    }
}

/// A console user, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub name: String,
    pub role: Role,
    pub created_at: Timestamp,
}

/// An API token's record (the token itself is shown once, at creation, and never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Token {
    pub name: String,
    pub role: Role,
    pub created_at: Timestamp,
    pub last_used: Option<Timestamp>,
}

/// A live login session: whose it is and the CSRF token its forms must echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    pub user: String,
    pub role: Role,
    pub csrf: String,
    pub expires_at: Timestamp,
}

/// Checks a user or token name: 1 to [`MAX_ACCOUNT_NAME`] bytes of `[A-Za-z0-9._@-]`.
pub fn valid_account_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_ACCOUNT_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

fn check_name(name: &str) -> Result<()> {
    if valid_account_name(name) {
        Ok(())
    } else {
        Err(StoreError::invalid(format!(
            "account name {name:?}: use 1 to {MAX_ACCOUNT_NAME} characters of A-Z a-z 0-9 . _ - @"
        )))
    }
}

fn role_of(s: String) -> rusqlite::Result<Role> {
    Role::parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown role {s:?}").into(),
        )
    })
}

/// Any i64 of nanoseconds is within `time`'s range (years 1677 to 2262), so this cannot fail.
pub(crate) fn ts(nanos: i64) -> Timestamp {
    Timestamp::from_unix_timestamp_nanos(i128::from(nanos)).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl Store {
    /// Creates the user or replaces its role and password hash. Returns `true` when created.
    /// Replacing a password ends the user's sessions.
    pub fn put_user(&self, name: &str, role: Role, password_hash: &str) -> Result<bool> {
        check_name(name)?;
        let now = unix_nanos(model::now());
        self.on_mut(
            |c| {
                let tx = c.transaction()?;
                let existed = tx
                    .query_row("SELECT 1 FROM users WHERE name = ?1", [name], |_| Ok(()))
                    .optional()?
                    .is_some();
                tx.execute(
                    "INSERT INTO users (name, role, password_hash, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?4)
                     ON CONFLICT(name) DO UPDATE SET role = ?2, password_hash = ?3,
                                                     updated_at = ?4",
                    (name, role.as_str(), password_hash, now),
                )?;
                tx.execute("DELETE FROM web_sessions WHERE user = ?1", [name])?;
                tx.commit()?;
                Ok(!existed)
            },
            |c| pg::put_user(c, name, role, password_hash, now),
        )
    }

    /// The user and its password hash, for a login check.
    pub fn user_with_hash(&self, name: &str) -> Result<Option<(User, String)>> {
        self.on(
            |c| {
                Ok(c.prepare_cached(
                    "SELECT name, role, created_at, password_hash FROM users WHERE name = ?1",
                )?
                .query_row([name], |r| {
                    Ok((
                        User {
                            name: r.get(0)?,
                            role: role_of(r.get(1)?)?,
                            created_at: ts(r.get(2)?),
                        },
                        r.get::<_, String>(3)?,
                    ))
                })
                .optional()?)
            },
            |c| pg::user_with_hash(c, name),
        )
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>> {
        self.on(
            |c| {
                let mut stmt =
                    c.prepare("SELECT name, role, created_at FROM users ORDER BY name")?;
                let rows = stmt.query_map([], |r| {
                    Ok(User {
                        name: r.get(0)?,
                        role: role_of(r.get(1)?)?,
                        created_at: ts(r.get(2)?),
                    })
                })?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            },
            pg::users,
        )
    }

    /// Removes a user and ends its sessions. Returns `false` when there was no such user.
    pub fn remove_user(&self, name: &str) -> Result<bool> {
        self.on_mut(
            |c| {
                let tx = c.transaction()?;
                let n = tx.execute("DELETE FROM users WHERE name = ?1", [name])?;
                tx.execute("DELETE FROM web_sessions WHERE user = ?1", [name])?;
                tx.commit()?;
                Ok(n > 0)
            },
            |c| pg::remove_user(c, name),
        )
    }

    /// Records a new API token by its SHA-256 digest. Names are unique.
    pub fn create_token(&self, name: &str, role: Role, digest: &[u8; 32]) -> Result<()> {
        check_name(name)?;
        let now = unix_nanos(model::now());
        let created = self.on_mut(
            |c| {
                let n = c.execute(
                    "INSERT INTO api_tokens (name, role, digest, created_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT DO NOTHING",
                    (name, role.as_str(), &digest[..], now),
                )?;
                Ok(n > 0)
            },
            |c| pg::create_token(c, name, role, digest, now),
        )?;
        if !created {
            return Err(StoreError::invalid(format!(
                "a token named {name:?} exists; revoke it first"
            )));
        }
        Ok(())
    }

    /// The token with this digest, if any. Does not record the use (see [`Store::touch_token`]).
    pub fn token_by_digest(&self, digest: &[u8; 32]) -> Result<Option<Token>> {
        self.on(
            |c| token_row(c, "digest = ?1", &digest[..]),
            |c| pg::token_by_digest(c, digest),
        )
    }

    /// Notes that a token was used at `at` (shown in `tokens list`).
    pub fn touch_token(&self, name: &str, at: Timestamp) -> Result<()> {
        let at = unix_nanos(at);
        self.on_mut(
            |c| {
                c.execute(
                    "UPDATE api_tokens SET last_used = ?2 WHERE name = ?1",
                    (name, at),
                )?;
                Ok(())
            },
            |c| pg::touch_token(c, name, at),
        )
    }

    /// Every token, by name.
    pub fn tokens(&self) -> Result<Vec<Token>> {
        self.on(
            |c| {
                let mut stmt = c.prepare(
                    "SELECT name, role, created_at, last_used FROM api_tokens ORDER BY name",
                )?;
                let rows = stmt.query_map([], token_from_row)?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            },
            pg::tokens,
        )
    }

    /// Deletes a token. Returns `false` when there was no such token.
    pub fn revoke_token(&self, name: &str) -> Result<bool> {
        self.on_mut(
            |c| Ok(c.execute("DELETE FROM api_tokens WHERE name = ?1", [name])? > 0),
            |c| pg::revoke_token(c, name),
        )
    }

    /// Starts a login session for an existing user.
    pub fn create_web_session(
        &self,
        digest: &[u8; 32],
        user: &str,
        csrf: &str,
        expires_at: Timestamp,
    ) -> Result<()> {
        let now = unix_nanos(model::now());
        let expires_at = unix_nanos(expires_at);
        self.on_mut(
            |c| {
                // Expired sessions go whenever a new one starts: the table stays small without a
                // timer.
                c.execute("DELETE FROM web_sessions WHERE expires_at <= ?1", [now])?;
                c.execute(
                    "INSERT INTO web_sessions (digest, user, csrf, created_at, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    (&digest[..], user, csrf, now, expires_at),
                )?;
                Ok(())
            },
            |c| pg::create_web_session(c, digest, user, csrf, now, expires_at),
        )
    }

    /// The live session with this digest at `now`, with its user's current role. A session
    /// of a removed user, or past its expiry, is none.
    pub fn web_session(&self, digest: &[u8; 32], now: Timestamp) -> Result<Option<WebSession>> {
        let now = unix_nanos(now);
        self.on(
            |c| {
                Ok(c.prepare_cached(
                    "SELECT s.user, u.role, s.csrf, s.expires_at FROM web_sessions s
                     JOIN users u ON u.name = s.user
                     WHERE s.digest = ?1 AND s.expires_at > ?2",
                )?
                .query_row((&digest[..], now), |r| {
                    Ok(WebSession {
                        user: r.get(0)?,
                        role: role_of(r.get(1)?)?,
                        csrf: r.get(2)?,
                        expires_at: ts(r.get(3)?),
                    })
                })
                .optional()?)
            },
            |c| pg::web_session(c, digest, now),
        )
    }

    /// Ends a session (logout).
    pub fn delete_web_session(&self, digest: &[u8; 32]) -> Result<()> {
        self.on_mut(
            |c| {
                c.execute("DELETE FROM web_sessions WHERE digest = ?1", [&digest[..]])?;
                Ok(())
            },
            |c| pg::delete_web_session(c, digest),
        )
    }
}

fn token_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Token> {
    Ok(Token {
        name: r.get(0)?,
        role: role_of(r.get(1)?)?,
        created_at: ts(r.get(2)?),
        last_used: r.get::<_, Option<i64>>(3)?.map(ts),
    })
}

fn token_row(c: &Connection, filter: &str, value: &[u8]) -> Result<Option<Token>> {
    Ok(c.prepare_cached(&format!(
        "SELECT name, role, created_at, last_used FROM api_tokens WHERE {filter}"
    ))?
    .query_row([value], token_from_row)
    .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreConfig;

    /// SQLite in a temporary directory, or under `SPAMHATTAN_TEST_POSTGRES` (as in
    /// `tests/common`) a PostgreSQL schema of its own.
    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = StoreConfig::new(dir.path());
        if let Ok(url) = std::env::var("SPAMHATTAN_TEST_POSTGRES")
            && !url.is_empty()
        {
            let mut pg = crate::PgConfig::new(url);
            pg.schema = Some(format!("t_{}", uuid::Uuid::new_v4().simple()));
            cfg.postgres = Some(pg);
        }
        let store = Store::open(cfg).expect("open");
        (dir, store)
    }

    #[test]
    fn a_new_password_ends_the_users_sessions() {
        let (_d, s) = store();
        assert!(s.put_user("ana", Role::Admin, "$argon2id$x").expect("put"));
        let later = model::now() + time::Duration::hours(1);
        s.create_web_session(&[1; 32], "ana", "csrf", later)
            .expect("session");
        assert_eq!(
            s.web_session(&[1; 32], model::now())
                .expect("read")
                .map(|w| w.role),
            Some(Role::Admin)
        );
        assert!(!s.put_user("ana", Role::Reader, "$argon2id$y").expect("put"));
        assert_eq!(s.web_session(&[1; 32], model::now()).expect("read"), None);
        let (user, hash) = s.user_with_hash("ana").expect("read").expect("user");
        assert_eq!((user.role, hash.as_str()), (Role::Reader, "$argon2id$y"));
    }

    #[test]
    fn expired_sessions_and_removed_users_do_not_authenticate() {
        let (_d, s) = store();
        s.put_user("bo", Role::Reader, "h").expect("put");
        let now = model::now();
        s.create_web_session(&[2; 32], "bo", "c", now + time::Duration::seconds(5))
            .expect("session");
        assert!(s.web_session(&[2; 32], now).expect("read").is_some());
        assert!(
            s.web_session(&[2; 32], now + time::Duration::seconds(6))
                .expect("read")
                .is_none()
        );
        assert!(s.remove_user("bo").expect("remove"));
        assert!(s.web_session(&[2; 32], now).expect("read").is_none());
    }

    #[test]
    fn token_names_are_unique_and_checked() {
        let (_d, s) = store();
        s.create_token("siem", Role::Reader, &[3; 32])
            .expect("token");
        assert!(s.create_token("siem", Role::Admin, &[4; 32]).is_err());
        assert!(s.create_token("bad name", Role::Admin, &[5; 32]).is_err());
        assert_eq!(
            s.token_by_digest(&[3; 32]).expect("read").map(|t| t.role),
            Some(Role::Reader)
        );
        assert!(s.revoke_token("siem").expect("revoke"));
        assert!(s.token_by_digest(&[3; 32]).expect("read").is_none());
    }
}
