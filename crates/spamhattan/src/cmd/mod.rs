//! One file per subcommand; `run` dispatches.

mod accounts;
mod alerts;
mod analyze;
mod bench_fill;
mod campaign_bench;
mod campaigns;
mod collector;
mod config_check;
mod console_bench;
mod domains;
mod export;
mod feeds_bench;
mod import;
mod indicators;
mod messages;
mod seeds;
mod sensor;
mod serve;
mod serve_bait;
mod store;
mod submit;
mod worker;

use crate::cli::{
    AlertsCommand, Cli, CollectorArgs, Command, Common, ConfigCommand, IndicatorsCommand,
    MessagesCommand, ServeArgs, StoreCommand,
};
use crate::config::{self, Config, Overrides};
use anyhow::Result;
use std::process::ExitCode;

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(&resolve_serve(&args)?),
        Command::Sensor(args) => sensor::run(&resolve_serve(&args)?),
        Command::Collector(args) => collector::run(&resolve_collector(&args)?),
        Command::Export(args) => export::run(&resolve(&args.common)?, &args),
        Command::Submit(args) => submit::run(&resolve(&args.common)?, &args),
        Command::FeedsBenchFill {
            dir,
            indicators,
            campaigns,
        } => feeds_bench::run(&dir, indicators, campaigns),
        Command::ConsoleBenchFill { dir, messages } => console_bench::run(&dir, messages),
        Command::AnalysisSandbox(args) => crate::sandbox::child::run(&args),
        Command::Config(ConfigCommand::Check(args)) => config_check::run(&args),
        Command::Messages(MessagesCommand::List {
            common,
            json,
            limit,
        }) => messages::list(&resolve(&common)?, json, limit),
        Command::Messages(MessagesCommand::Raw { common, id }) => {
            messages::raw(&resolve(&common)?, &id)
        }
        Command::Messages(MessagesCommand::Report { common, id }) => {
            messages::report(&resolve(&common)?, &id)
        }
        Command::Analyze(args) => analyze::run(&resolve(&args.common)?, &args),
        Command::Worker { common, until_idle } => worker::run(&resolve(&common)?, until_idle),
        Command::Reanalyze {
            common,
            since,
            queue_only,
        } => worker::reanalyze(&resolve(&common)?, since.as_deref(), queue_only),
        Command::Indicators(IndicatorsCommand::List {
            common,
            kind,
            limit,
        }) => indicators::list(&resolve(&common)?, kind.as_deref(), limit),
        Command::Indicators(IndicatorsCommand::Show {
            common,
            kind,
            value,
        }) => indicators::show(&resolve(&common)?, &kind, &value),
        Command::Store(StoreCommand::Stats { common, json }) => {
            store::stats(&resolve(&common)?, json)
        }
        Command::Store(StoreCommand::Verify { common }) => store::verify(&resolve(&common)?),
        Command::Store(StoreCommand::Prune { common }) => store::prune(&resolve(&common)?),
        Command::Import { common, paths } => import::run(&resolve(&common)?, &paths),
        Command::Campaigns(c) => campaigns::run(c),
        Command::Seeds(c) => seeds::run(c),
        Command::Harvesters(c) => seeds::harvesters(c),
        Command::Users(c) => accounts::users(c),
        Command::Tokens(c) => accounts::tokens(c),
        Command::Alerts(AlertsCommand::List {
            common,
            limit,
            since,
            json,
        }) => alerts::list(&resolve(&common)?, limit, since.as_deref(), json),
        Command::Domains(args) => {
            let mut o = overrides(&args.common);
            o.trap_domains = args.trap_domain.clone();
            domains::run(&config::resolve(&o)?, &args)
        }
        Command::Alerts(AlertsCommand::Redeliver { common, receiver }) => {
            alerts::redeliver(&resolve(&common)?, receiver.as_deref())
        }
    }
}

fn overrides(common: &Common) -> Overrides {
    Overrides {
        config: common.config.clone(),
        data_dir: common.data_dir.clone(),
        postgres_url: common.postgres_url.clone(),
        ..Overrides::default()
    }
}

pub(crate) fn resolve(common: &Common) -> Result<Config> {
    config::resolve(&overrides(common))
}

pub(crate) fn resolve_serve(args: &ServeArgs) -> Result<Config> {
    let mut o = overrides(&args.common);
    o.hostname = args.hostname.clone();
    o.trap_domains = args.trap_domain.clone();
    o.smtp_listen = args.smtp_listen.clone();
    o.smtps_listen = args.smtps_listen.clone();
    o.http_listen = args.http_listen.clone();
    o.bait_listen = args.bait_listen.clone();
    o.user = args.user.clone();
    config::resolve(&o)
}

pub(crate) fn resolve_collector(args: &CollectorArgs) -> Result<Config> {
    let mut o = overrides(&args.common);
    o.hostname = args.hostname.clone();
    o.http_listen = args.http_listen.clone();
    o.user = args.user.clone();
    config::resolve(&o)
}

/// Builds the analysis engine of a resolved config, with the reason if a rule file is bad.
pub(crate) fn build_engine(cfg: &Config) -> Result<analysis::Engine> {
    analysis::Engine::new(cfg.analysis.engine.clone())
        .map_err(|e| anyhow::anyhow!("cannot build the analysis engine: {e}"))
}

/// Opens the store of a resolved config, with the reason in one line if it cannot be.
pub(crate) fn open_store(cfg: &Config) -> Result<::store::Store> {
    config::prepare_data_dir(&cfg.data_dir)?;
    ::store::Store::open(cfg.store.clone())
        .map_err(|e| anyhow::anyhow!("cannot open the store in {}: {e}", cfg.data_dir.display()))
}
