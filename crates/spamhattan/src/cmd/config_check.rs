//! `spamhattan config check`: print the resolved configuration or why it is invalid.

use crate::cli::ServeArgs;
use anyhow::Result;
use std::process::ExitCode;

pub fn run(args: &ServeArgs) -> Result<ExitCode> {
    match super::resolve_serve(args) {
        Ok(cfg) => {
            if cfg.trap.domains.is_empty() {
                eprintln!(
                    "warning: no trap domain configured; serve will refuse to start (give --trap-domain)"
                );
            }
            print!("{}", cfg.to_toml()?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("spamhattan: invalid configuration: {e:#}");
            Ok(ExitCode::from(1))
        }
    }
}
