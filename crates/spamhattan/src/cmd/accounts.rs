//! `spamhattan users add|list|remove` and `spamhattan tokens create|list|revoke`: console
//! accounts and API tokens, written straight into the store (they work while `serve` runs).

use crate::cli::{RoleArg, TokensCommand, UsersCommand};
use ::store::Role;
use anyhow::{Context, Result, bail};
use std::io::{BufRead, IsTerminal, Read, Write};
use std::process::ExitCode;
use time::format_description::well_known::Rfc3339;
use web::login::password::{self, MAX_PASSWORD_BYTES};

impl RoleArg {
    fn role(self) -> Role {
        match self {
            RoleArg::Admin => Role::Admin,
            RoleArg::Reader => Role::Reader,
        }
    }
}

pub fn users(c: UsersCommand) -> Result<ExitCode> {
    match c {
        UsersCommand::Add { common, name, role } => {
            let cfg = super::resolve(&common)?;
            check_name(&name)?;
            let pw = read_password(&name)?;
            password::check_new(&pw).map_err(|e| anyhow::anyhow!("{e}; nothing changed"))?;
            let hash = password::hash(&pw).context("cannot hash the password")?;
            let store = super::open_store(&cfg)?;
            let created = store.put_user(&name, role.role(), &hash)?;
            eprintln!(
                "{} user {name} ({})",
                if created { "created" } else { "updated" },
                role.role().as_str()
            );
        }
        UsersCommand::List { common } => {
            let store = super::open_store(&super::resolve(&common)?)?;
            let mut out = std::io::stdout().lock();
            for u in store.users()? {
                let line = serde_json::json!({
                    "name": u.name,
                    "role": u.role,
                    "created_at": u.created_at.format(&Rfc3339)?,
                });
                writeln!(out, "{line}")?;
            }
        }
        UsersCommand::Remove { common, name } => {
            let store = super::open_store(&super::resolve(&common)?)?;
            if !store.remove_user(&name)? {
                bail!("no user named {name:?}");
            }
            eprintln!("removed user {name}; its sessions have ended");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn tokens(c: TokensCommand) -> Result<ExitCode> {
    match c {
        TokensCommand::Create { common, name, role } => {
            check_name(&name)?;
            let store = super::open_store(&super::resolve(&common)?)?;
            let token = web::login::new_api_token().context("cannot make a random token")?;
            store.create_token(&name, role.role(), &web::principal::digest(&token))?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{token}")?;
            out.flush()?;
            eprintln!(
                "created token {name} ({}); it is shown only now: send it as `Authorization: Bearer <token>`",
                role.role().as_str()
            );
        }
        TokensCommand::List { common } => {
            let store = super::open_store(&super::resolve(&common)?)?;
            let mut out = std::io::stdout().lock();
            for t in store.tokens()? {
                let line = serde_json::json!({
                    "name": t.name,
                    "role": t.role,
                    "created_at": t.created_at.format(&Rfc3339)?,
                    "last_used": t.last_used.map(|l| l.format(&Rfc3339)).transpose()?,
                });
                writeln!(out, "{line}")?;
            }
        }
        TokensCommand::Revoke { common, name } => {
            let store = super::open_store(&super::resolve(&common)?)?;
            if !store.revoke_token(&name)? {
                bail!("no token named {name:?}");
            }
            eprintln!("revoked token {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check_name(name: &str) -> Result<()> {
    if !::store::valid_account_name(name) {
        bail!(
            "name {name:?}: use 1 to {} characters of A-Z a-z 0-9 . _ - @",
            ::store::MAX_ACCOUNT_NAME
        );
    }
    Ok(())
}

/// One line from standard input: a pipe (`echo pw | spamhattan users add ...`) or the
/// terminal, with echo off. Reads at most one byte past the limit, so a huge input is
/// refused without being held in memory.
fn read_password(name: &str) -> Result<String> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    if terminal {
        eprint!("password for {name}: ");
        let _ = std::io::stderr().flush();
        set_echo(false);
    }
    let mut line = Vec::new();
    let read = stdin
        .lock()
        .take(MAX_PASSWORD_BYTES as u64 + 3)
        .read_until(b'\n', &mut line);
    if terminal {
        set_echo(true);
        eprintln!();
    }
    read.context("cannot read the password from standard input")?;
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    if line.is_empty() {
        bail!(
            "no password on standard input (one line, e.g. `echo \"$PW\" | spamhattan users add {name} --role ...`)"
        );
    }
    if line.len() > MAX_PASSWORD_BYTES {
        bail!("the password is longer than {MAX_PASSWORD_BYTES} bytes; nothing changed");
    }
    String::from_utf8(line).context("the password is not UTF-8")
}

/// Terminal echo on or off through `stty` (best effort: without it the password shows).
fn set_echo(on: bool) {
    let _ = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status();
}

/// The console's settings from `[http]`.
pub(crate) fn console_settings(cfg: &crate::config::Config) -> web::ConsoleSettings {
    web::ConsoleSettings {
        secure_cookies: cfg.feeds.secure_cookies,
        ..web::ConsoleSettings::default()
    }
}

/// The console listener's TLS configuration, when `[http] tls_cert`/`tls_key` are set.
pub(crate) fn console_tls(
    cfg: &crate::config::Config,
) -> Result<Option<std::sync::Arc<web::tls::ServerConfig>>> {
    cfg.feeds
        .http_tls
        .as_ref()
        .map(|t| web::tls::server_config(&t.cert, &t.key).context("http.tls_cert/tls_key"))
        .transpose()
}

/// First start: with no user, nobody can log in (there is no default password, ever), so
/// say how to create one, in the log and as one plain line on stderr.
pub(crate) fn announce_first_user(store: &::store::Store) {
    match store.users() {
        Ok(users) if users.is_empty() => {
            tracing::warn!("the console has no user yet; nobody can log in");
            eprintln!(
                "spamhattan: no console user yet: create one with `spamhattan users add NAME --role admin` (password on standard input)"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot list console users"),
    }
}
