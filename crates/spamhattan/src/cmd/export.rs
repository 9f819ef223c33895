//! `spamhattan export`: one feed format for one audience, to a file, stdout or (MISP) a
//! directory.

use crate::cli::ExportArgs;
use crate::config::Config;
use crate::intel::{Feeds, export};
use anyhow::{Context, Result, bail};
use feeds::intel::{Format, Target};
use std::process::ExitCode;

pub fn run(cfg: &Config, args: &ExportArgs) -> Result<ExitCode> {
    let Some(format) = Format::parse(&args.format) else {
        bail!(
            "unknown format {:?} (known: {})",
            args.format,
            Format::ALL.map(|f| f.as_str()).join(", ")
        );
    };
    let audience = cfg.feeds.audience(args.audience.as_deref())?;
    if !audience.formats.contains(&format) {
        bail!("audience {:?} does not receive {format}", audience.name);
    }
    let since = args
        .since
        .as_deref()
        .map(crate::cmd::worker::parse_since)
        .transpose()?;
    let store = super::open_store(cfg)?;
    let feeds = Feeds::prepare(cfg, &store)?;
    let serial = store.next_feed_serial()?;
    let meta = feeds.meta(audience, since, serial);
    let target = if format.is_directory() {
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
        Target::Dir(args.out.clone())
    } else if args.out.as_os_str() == "-" {
        Target::File(Box::new(std::io::stdout()))
    } else {
        Target::File(Box::new(
            std::fs::File::create(&args.out)
                .with_context(|| format!("cannot create {}", args.out.display()))?,
        ))
    };
    let stats = export(&store, &feeds, &meta, format, target, args.campaign)?;
    eprintln!(
        "spamhattan: exported {} indicators of {} campaigns as {format} for {}",
        stats.indicators, stats.campaigns, meta.audience.name
    );
    store.close()?;
    Ok(ExitCode::SUCCESS)
}
