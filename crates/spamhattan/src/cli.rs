//! The command line. Flags that also exist in the config file win over it; `SPAMHATTAN_*`
//! environment variables sit between the two.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "spamhattan",
    version,
    about = "A spamtrap honeypot: an MX for trap domains that keeps every message as evidence, never relays and never sends mail."
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "SPAMHATTAN_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Options every command shares: where the config and the data are.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// TOML configuration file.
    #[arg(long, env = "SPAMHATTAN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where messages, the index and the TLS certificate live (default ./spamhattan-data).
    #[arg(long, env = "SPAMHATTAN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep the store in PostgreSQL (`[store] postgres_url`): a libpq connection string or
    /// `postgresql://` URL. The environment variable keeps a password out of the config file.
    #[arg(long, env = "SPAMHATTAN_POSTGRES_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
}

/// Options of `serve` and `config check`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub common: Common,
    /// SMTP listener with STARTTLS (repeatable; default 127.0.0.1:2525).
    #[arg(long, env = "SPAMHATTAN_SMTP_LISTEN", value_delimiter = ',')]
    pub smtp_listen: Vec<String>,
    /// Implicit-TLS listener, port 465 style (repeatable).
    #[arg(long, env = "SPAMHATTAN_SMTPS_LISTEN", value_delimiter = ',')]
    pub smtps_listen: Vec<String>,
    /// A trap domain to accept mail for; `*.example.org` includes subdomains (repeatable).
    #[arg(long, env = "SPAMHATTAN_TRAP_DOMAINS", value_delimiter = ',')]
    pub trap_domain: Vec<String>,
    /// The name the trap announces (banner, EHLO, certificate).
    #[arg(long, env = "SPAMHATTAN_HOSTNAME")]
    pub hostname: Option<String>,
    /// HTTP listener for the console, the REST API, metrics, TAXII 2.1 and `/feeds/`
    /// (default 127.0.0.1:8025; `off` for none).
    #[arg(long, env = "SPAMHATTAN_HTTP_LISTEN")]
    pub http_listen: Option<String>,
    /// Public listener for the bait pages that hand out seed addresses (`[bait] listen`;
    /// default off).
    #[arg(long, env = "SPAMHATTAN_BAIT_LISTEN")]
    pub bait_listen: Option<String>,
    /// Started as root: bind every socket, then run as this user (`[trap] user`).
    #[arg(long, env = "SPAMHATTAN_USER")]
    pub user: Option<String>,
}

/// Options of `collector`.
#[derive(Debug, Clone, Args)]
pub struct CollectorArgs {
    #[command(flatten)]
    pub common: Common,
    /// The name this collector gives itself on the bus and in the console.
    #[arg(long, env = "SPAMHATTAN_HOSTNAME")]
    pub hostname: Option<String>,
    /// HTTP listener for the console, the REST API, metrics, TAXII 2.1 and `/feeds/`
    /// (default 127.0.0.1:8025; `off` for none).
    #[arg(long, env = "SPAMHATTAN_HTTP_LISTEN")]
    pub http_listen: Option<String>,
    /// Started as root: bind every socket, then run as this user (`[trap] user`).
    #[arg(long, env = "SPAMHATTAN_USER")]
    pub user: Option<String>,
}

/// Options of `domains`.
#[derive(Debug, Clone, Args)]
pub struct DomainsArgs {
    #[command(flatten)]
    pub common: Common,
    /// Trap domains given to `serve` on its command line (as in `serve`; repeatable), listed
    /// as active next to the config file's.
    #[arg(long, env = "SPAMHATTAN_TRAP_DOMAINS", value_delimiter = ',')]
    pub trap_domain: Vec<String>,
    /// Statistics over the last N days (1 to 366).
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// One JSON object per domain, per line.
    #[arg(long)]
    pub json: bool,
}

/// Options of the hidden `analysis-sandbox`.
#[derive(Debug, Clone, Args)]
pub struct SandboxArgs {
    /// Apply the sandbox, try what it must refuse, print the outcomes as JSON and exit.
    #[arg(long)]
    pub probe: bool,
    /// Probe without applying the sandbox (the control run).
    #[arg(long, requires = "probe")]
    pub no_sandbox: bool,
    /// Probe: a TCP address (`IP:PORT`) to connect to.
    #[arg(long, requires = "probe")]
    pub connect: Option<String>,
    /// Probe: a directory to create a file in.
    #[arg(long, requires = "probe")]
    pub write_dir: Option<PathBuf>,
    /// Probe: a file to read.
    #[arg(long, default_value = "/etc/hostname")]
    pub read: PathBuf,
    /// Probe: the memory limit (`RLIMIT_AS`) to apply, in MiB.
    #[arg(long, default_value_t = 1024)]
    pub memory_limit_mb: u64,
}

/// Options of `export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub common: Common,
    /// stix, misp, csv-urls, csv-payloads, csv-iocs, txt-urls, txt-domains, txt-ips,
    /// txt-sha256, hosts, rpz, jsonl.
    #[arg(long)]
    pub format: String,
    /// The audience whose TLP ceiling and filters apply (`[[feeds.audience]]`); default `local`
    /// (everything) when none is configured.
    #[arg(long)]
    pub audience: Option<String>,
    /// A delta: only what changed since this RFC 3339 time or age (`90m`, `12h`, `7d`).
    #[arg(long)]
    pub since: Option<String>,
    /// Output file (`-` for stdout); for `misp`, a directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Only this campaign (a per-campaign STIX bundle, MISP event, list...).
    #[arg(long)]
    pub campaign: Option<i64>,
}

/// Options of `submit`.
#[derive(Debug, Clone, Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub common: Common,
    /// The connector's `name`.
    #[arg(long)]
    pub connector: String,
    /// Print the requests (one JSON object per line, keys redacted) instead of sending them;
    /// the cursor does not move.
    #[arg(long)]
    pub dry_run: bool,
    /// At most this many indicators in this pass.
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the trap.
    Serve(ServeArgs),
    /// Run a sensor: the trap and its spool, forwarding every capture to NATS JetStream
    /// (`[sensor]`, `[bus]`; docs/DEPLOYMENT.md).
    Sensor(ServeArgs),
    /// Run a collector: consume the sensors' captures from NATS JetStream, store, analyse,
    /// serve the console and feeds (`[collector]`, `[bus]`).
    Collector(CollectorArgs),
    /// Export intel feeds (STIX 2.1, MISP, CSV, text lists, RPZ, JSON lines) for an audience.
    Export(ExportArgs),
    /// Push indicators and samples to one submission connector (`[[feeds.connector]]`), once.
    Submit(SubmitArgs),
    /// Fill a scratch store with synthetic campaigns and indicators (feed benchmark).
    #[command(hide = true)]
    FeedsBenchFill {
        dir: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        indicators: usize,
        #[arg(long, default_value_t = 10_000)]
        campaigns: usize,
    },
    /// Fill a scratch store with synthetic analysed messages (console benchmark).
    #[command(hide = true)]
    ConsoleBenchFill {
        dir: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        messages: usize,
    },
    /// The sandboxed analysis child, started by `serve` and `worker` (not by hand): engine
    /// config and jobs on stdin, reports on stdout (`crates/spamhattan/src/sandbox/`).
    #[command(hide = true)]
    AnalysisSandbox(SandboxArgs),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Inspect captured messages.
    #[command(subcommand)]
    Messages(MessagesCommand),
    /// Inspect and check the store.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Analyse mail files offline (no store, no network): one JSON report per file, per line.
    Analyze(AnalyzeArgs),
    /// Run the analysis workers on the store's queue (as `serve` does), or drain it and exit.
    Worker {
        #[command(flatten)]
        common: Common,
        /// Exit when the queue is empty (for imports and scripts).
        #[arg(long)]
        until_idle: bool,
    },
    /// Queue stored messages for analysis again (after a rule update) and analyse them.
    Reanalyze {
        #[command(flatten)]
        common: Common,
        /// Only messages received since: RFC 3339 time or an age such as `90m`, `12h`, `7d`.
        #[arg(long)]
        since: Option<String>,
        /// Only queue the jobs (a running `serve` or `worker` analyses them).
        #[arg(long)]
        queue_only: bool,
    },
    /// Indicators indexed from the reports.
    #[command(subcommand)]
    Indicators(IndicatorsCommand),
    /// Campaigns: messages grouped as one sending operation.
    #[command(subcommand)]
    Campaigns(CampaignsCommand),
    /// Alerts raised by the early-warning rules, with their delivery state.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Trap domains: state today (new, aging, active, retired), sector, dates, and what each
    /// received (messages, verdicts, campaigns, sensors, first message after activation).
    Domains(DomainsArgs),
    /// Seed addresses: mint them for manual seeding, see which received mail.
    #[command(subcommand)]
    Seeds(SeedsCommand),
    /// Bait-page visitors that harvested seed addresses, and what they did with them.
    #[command(subcommand)]
    Harvesters(HarvestersCommand),
    /// Console users who log in with a password.
    #[command(subcommand)]
    Users(UsersCommand),
    /// API tokens for automation (`Authorization: Bearer <token>`).
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Import .eml files, directories, mbox files and Maildirs as sightings with source `import`.
    Import {
        #[command(flatten)]
        common: Common,
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

/// Options of `analyze`.
#[derive(Debug, Clone, Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub common: Common,
    /// Files or directories (recursively). Each file is one message (.eml).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Treat each file as a sample (an attachment), not as a mail: `artifacts[0]` is the file.
    #[arg(long)]
    pub object: bool,
    /// Print counts (reports, anomalies, URLs, attachments by type, verdicts) to stderr at the end.
    #[arg(long)]
    pub summary: bool,
    /// Do not print the reports (with --summary: only the counts).
    #[arg(long)]
    pub quiet: bool,
    /// Analysis threads (default: the number of cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum IndicatorsCommand {
    /// Indicators, most recently seen first, one JSON object per line.
    List {
        #[command(flatten)]
        common: Common,
        /// url, domain, ip, email, md5, sha1, sha256, filename or yara.
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// One indicator: first/last seen, count and the sightings it appeared in.
    Show {
        #[command(flatten)]
        common: Common,
        kind: String,
        value: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CampaignsCommand {
    /// Campaigns, most recently active first (a table; `--json`: one object per line).
    List {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Only campaigns with at least this many messages.
        #[arg(long, default_value_t = 1)]
        min_messages: u64,
        /// Only campaigns active since: RFC 3339 time or an age such as `90m`, `12h`, `7d`.
        #[arg(long)]
        since: Option<String>,
        /// Include campaigns merged into others.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// One campaign: its record, merge history and messages (JSON).
    Show {
        #[command(flatten)]
        common: Common,
        id: i64,
        /// Messages listed at most.
        #[arg(long, default_value_t = 100)]
        messages: usize,
    },
    /// Fold campaign FROM into campaign INTO (history is kept).
    Merge {
        #[command(flatten)]
        common: Common,
        from: i64,
        into: i64,
    },
    /// Set a campaign's analyst label (and, with --notes, its notes).
    Label {
        #[command(flatten)]
        common: Common,
        id: i64,
        text: String,
        #[arg(long)]
        notes: Option<String>,
    },
    /// Every campaign with its fields and the SHA-256 ids of its messages, one JSON object per
    /// line.
    Export {
        #[command(flatten)]
        common: Common,
        /// JSON lines (the only format; accepted for clarity in scripts).
        #[arg(long)]
        json: bool,
        /// Include campaigns merged into others (their messages are listed under the
        /// campaign they were merged into).
        #[arg(long)]
        all: bool,
    },
    /// Measure the cost of assigning a message as campaigns grow, on a scratch store in DIR
    /// (must be empty or new). Prints a Markdown table.
    Bench {
        dir: PathBuf,
        /// Campaign counts to measure at, ascending.
        #[arg(long, value_delimiter = ',', default_value = "10,10000,100000")]
        sizes: Vec<usize>,
        /// Messages clustered and timed at each size.
        #[arg(long, default_value_t = 2000)]
        probes: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum SeedsCommand {
    /// Mint seed addresses for manual seeding (a forum post, a paste site, a WHOIS record, a
    /// leaked-list canary); prints one address per line.
    Mint {
        #[command(flatten)]
        common: Common,
        /// Where the seeds will be posted: shown with every message they receive.
        #[arg(long)]
        label: String,
        /// The trap domain (or a subdomain of a `*.` one); default: the first configured
        /// domain that is active or aging today.
        #[arg(long)]
        domain: Option<String>,
        /// How many seeds (1 to 1000).
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// Trap domains given to `serve` on its command line (as in `serve`; repeatable).
        #[arg(long, env = "SPAMHATTAN_TRAP_DOMAINS", value_delimiter = ',')]
        trap_domain: Vec<String>,
        /// One JSON record per line instead of the addresses.
        #[arg(long)]
        json: bool,
    },
    /// Seeds, newest first (a table; `--json`: one object per line).
    List {
        #[command(flatten)]
        common: Common,
        /// Only seeds with this exact label.
        #[arg(long)]
        label: Option<String>,
        /// Only seeds that received mail.
        #[arg(long)]
        hit: bool,
        /// At most this many (capped at 500).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// One seed by address, token or id: where it went and the mail that came back.
    Show {
        #[command(flatten)]
        common: Common,
        key: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum HarvestersCommand {
    /// Bait-page visitors, latest visit first (a table; `--json`: one object per line).
    List {
        #[command(flatten)]
        common: Common,
        /// At most this many (capped at 500).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// One visitor: its visits, seeds, the campaigns and networks that mailed them, and how
    /// soon after the visit.
    Show {
        #[command(flatten)]
        common: Common,
        ip: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Alerts, newest first (a table; `--json`: one object per line with delivery states).
    List {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Only alerts raised since: RFC 3339 time or an age such as `90m`, `12h`, `7d`.
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Queue deliveries that a receiver refused for good (4xx) again, after fixing it.
    Redeliver {
        #[command(flatten)]
        common: Common,
        /// Only deliveries to this receiver.
        #[arg(long)]
        receiver: Option<String>,
    },
}

/// What an account may do: `admin` changes things, `reader` only reads.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Reader,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user, or give an existing one a new role and password (which ends its
    /// sessions). The password is one line on standard input, 12 characters at least.
    Add {
        #[command(flatten)]
        common: Common,
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Users, one JSON object per line (never a password hash).
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Remove a user and end its sessions.
    Remove {
        #[command(flatten)]
        common: Common,
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token and print it on standard output, once; the store keeps only its digest.
    Create {
        #[command(flatten)]
        common: Common,
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Tokens, one JSON object per line, with when each was last used (never the token).
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Revoke a token: requests with it get 401 from now on.
    Revoke {
        #[command(flatten)]
        common: Common,
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the resolved configuration, or the reason it is invalid.
    Check(ServeArgs),
}

#[derive(Debug, Subcommand)]
pub enum MessagesCommand {
    /// List sightings, newest first.
    List {
        #[command(flatten)]
        common: Common,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Print the analysis report of a sighting (UUID) or the newest one of a message (SHA-256).
    Report {
        #[command(flatten)]
        common: Common,
        id: String,
    },
    /// Write a message's exact raw bytes to stdout.
    Raw {
        #[command(flatten)]
        common: Common,
        /// The message id (SHA-256 of the raw bytes).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Counts and where the space goes.
    Stats {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        json: bool,
    },
    /// Check every blob against its hash and every sighting against its blob (exit 1 on problems).
    Verify {
        #[command(flatten)]
        common: Common,
    },
    /// Apply the retention budgets now.
    Prune {
        #[command(flatten)]
        common: Common,
    },
}
