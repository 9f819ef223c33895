//! Publication: every audience's feeds written to `<publish_dir>/<audience>/`, each replaced
//! atomically so a reader (the `/feeds/` handler, a web server, rsync) never sees half a file.
//!
//! A file format is written to a temporary name, synced, and renamed over the old file. The
//! MISP feed is a directory: it is written as `misp.<serial>/` and the `misp` symlink is
//! swapped to it with one rename, then older directories are removed. Full snapshots only;
//! deltas are `spamhattan export --since` and TAXII `added_after`.

use super::{Feeds, export};
use anyhow::{Context, Result};
use feeds::intel::{Audience, Format, Target};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// One publication's outcome, per audience and format.
#[derive(Debug, Clone)]
pub struct Published {
    pub audience: String,
    pub format: Format,
    pub stats: super::ExportStats,
}

/// The audiences published: the configured ones, or `local` (everything) when none is.
fn audiences(feeds: &Feeds) -> Vec<Audience> {
    if feeds.settings.audiences.is_empty() {
        vec![Audience::local(feeds::intel::Tlp::Red)]
    } else {
        feeds.settings.audiences.clone()
    }
}

/// Publishes every format of every audience once.
pub fn publish_all(store: &store::Store, feeds: &Feeds) -> Result<Vec<Published>> {
    let serial = store
        .next_feed_serial()
        .context("cannot take a publication serial")?;
    let mut out = Vec::new();
    for audience in audiences(feeds) {
        let dir = feeds.settings.publish_dir.join(&audience.name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        for format in audience.formats.clone() {
            let meta = feeds.meta(audience.clone(), None, serial);
            let stats = publish_one(store, feeds, &meta, format, &dir)
                .with_context(|| format!("cannot publish {format} for {}", audience.name))?;
            out.push(Published {
                audience: audience.name.clone(),
                format,
                stats,
            });
        }
    }
    Ok(out)
}

fn publish_one(
    store: &store::Store,
    feeds: &Feeds,
    meta: &feeds::intel::FeedMeta,
    format: Format,
    dir: &Path,
) -> Result<super::ExportStats> {
    if format.is_directory() {
        let name = format!("{}.{}", format.file_name(), meta.serial);
        let target = dir.join(&name);
        if target.exists() {
            std::fs::remove_dir_all(&target)?;
        }
        std::fs::create_dir_all(&target)?;
        let stats = export(
            store,
            feeds,
            meta,
            format,
            Target::Dir(target.clone()),
            None,
        )?;
        sync_dir(&target)?;
        let link_tmp = dir.join(format!(".{}.link", format.file_name()));
        let _ = std::fs::remove_file(&link_tmp);
        std::os::unix::fs::symlink(&name, &link_tmp)?;
        let link = dir.join(format.file_name());
        if link.is_dir() && !link.is_symlink() {
            // A real directory from a manual export: move it aside once.
            std::fs::remove_dir_all(&link)?;
        }
        std::fs::rename(&link_tmp, &link)?;
        sync_dir(dir)?;
        remove_old_generations(dir, format.file_name(), &name);
        return Ok(stats);
    }
    let final_path = dir.join(format.file_name());
    let tmp = dir.join(format!(".{}.tmp", format.file_name()));
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let handle = file.try_clone()?;
    let stats = export(
        store,
        feeds,
        meta,
        format,
        Target::File(Box::new(file)),
        None,
    )?;
    handle.sync_all()?;
    std::fs::rename(&tmp, &final_path)?;
    sync_dir(dir)?;
    Ok(stats)
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Removes `misp.<serial>` directories other than the current one.
fn remove_old_generations(dir: &Path, base: &str, current: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!("{base}.");
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name != current
            && name.starts_with(&prefix)
            && name[prefix.len()..].bytes().all(|b| b.is_ascii_digit())
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Publishes every `refresh` until `shutdown` resolves; each round runs on a blocking thread
/// and a failed round is logged and retried at the next tick.
pub async fn run_scheduler(
    store: store::Store,
    feeds: Arc<Feeds>,
    refresh: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (s, f) = (store.clone(), feeds.clone());
        let started = std::time::Instant::now();
        match tokio::task::spawn_blocking(move || publish_all(&s, &f)).await {
            Ok(Ok(done)) => {
                crate::metrics::feeds_published(done.iter().map(|p| p.format), started.elapsed());
                for p in &done {
                    tracing::debug!(
                        audience = %p.audience,
                        format = %p.format,
                        indicators = p.stats.indicators,
                        campaigns = p.stats.campaigns,
                        "feed file published"
                    );
                }
                let indicators: u64 = done.iter().map(|p| p.stats.indicators).sum();
                tracing::info!(
                    files = done.len(),
                    indicators,
                    ms = started.elapsed().as_millis() as u64,
                    "feeds published"
                );
            }
            Ok(Err(e)) => {
                crate::metrics::feeds_failed(started.elapsed());
                tracing::warn!(error = format!("{e:#}"), "feed publication failed");
            }
            Err(e) => {
                crate::metrics::feeds_failed(started.elapsed());
                tracing::warn!(error = %e, "feed publication task failed");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(refresh) => {}
            _ = shutdown.changed() => return,
        }
    }
}
