//! The `kintsugi` binary: the only place that chooses a storage backend.

mod coach_cli;
mod config;
mod demo;
mod ohttp_client;
mod relay;
mod respond;
mod transfer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use config::{Database, LogFormat, Settings};
use kintsugi_app::clock::Clock;
use kintsugi_app::{Ctx, signin};
use kintsugi_store::Store;
use kintsugi_store_postgres::PostgresStore;
use kintsugi_store_sqlite::SqliteStore;
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "kintsugi",
    version,
    about = "Kintsugi helps a workplace rebuild trust after it breaks."
)]
struct Cli {
    /// A TOML configuration file (or KINTSUGI_CONFIG). Environment and flags override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log as `text` or `json` lines on stderr (or KINTSUGI_LOG_FORMAT).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Default)]
struct DbArgs {
    /// Data directory: SQLite database, key store, lock file [default: ./kintsugi-data] (KINTSUGI_DATA_DIR)
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://… [default: SQLite in the data directory] (KINTSUGI_DATABASE_URL)
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web UI, the JSON API and the background jobs.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080] (KINTSUGI_LISTEN)
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        #[command(flatten)]
        db: DbArgs,
        /// Also offer a demo organisation with made-up teams and people (KINTSUGI_DEMO)
        #[arg(long)]
        demo: bool,
        /// The address people use, for links in invitations [default: http://LISTEN] (KINTSUGI_PUBLIC_URL)
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
    },
    /// Bring the database schema up to date, then exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Write a consistent snapshot of the SQLite database to FILE, while the server runs.
    Backup {
        /// Where to write the snapshot; must not exist yet.
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Replace the SQLite database with a snapshot made by `backup`. Stop the server first.
    Restore {
        /// A snapshot made by `kintsugi backup`.
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Review a draft apology with the apology coach (advice only), from FILE or `-` for
    /// stdin; `coach eval CORPUS` measures the coach on a labelled corpus.
    Coach(coach_cli::CoachArgs),
    /// Answer a repair's open round anonymously, blinding locally: no served JavaScript involved.
    Respond {
        /// The server's address, e.g. https://trust.example.org
        #[arg(long, value_name = "URL")]
        server: String,
        /// The repair's id; without it, one of your open team health checks.
        #[arg(long, value_name = "ID")]
        repair: Option<String>,
        /// The round's id [default: the repair's open round, or your first open check]
        #[arg(long, value_name = "ID")]
        round: Option<String>,
        /// Sign in with your invitation link (no password needed).
        #[arg(long, value_name = "LINK")]
        invitation: Option<String>,
        /// Sign in with your email; the password comes from KINTSUGI_PASSWORD or standard input.
        #[arg(long, value_name = "EMAIL")]
        email: Option<String>,
        /// communication, expectations, culture, personality, process or other (listening and causes rounds).
        #[arg(long)]
        category: Option<String>,
        /// What you want to say (listening and causes rounds).
        #[arg(long)]
        comment: Option<String>,
        /// 1 to 7 (genuineness rounds).
        #[arg(long)]
        rating: Option<i64>,
        /// An item and its rating, KEY=VALUE, once per item (trust pulses, team health checks).
        #[arg(long = "item", value_name = "KEY=VALUE")]
        items: Vec<String>,
        /// Your key is on a device you lost: get the one replacement this round allows.
        #[arg(long)]
        replace: bool,
        /// Stay until the answer is sealed, and send it again if the server holding it stops.
        #[arg(long)]
        wait: bool,
        /// Send the anonymous requests through this Oblivious HTTP relay (`kintsugi relay`),
        /// encapsulated for the server's gateway, so the server sees only the relay's address.
        #[arg(long, value_name = "URL")]
        relay: Option<String>,
    },
    /// Copy every row of a SQLite database into a fresh PostgreSQL database, then compare
    /// the counts per table. Stop the server first. Round keys stay in the data directory.
    Transfer {
        /// The SQLite database: sqlite://PATH (e.g. sqlite://kintsugi-data/kintsugi.db).
        #[arg(long, value_name = "URL")]
        from: String,
        /// An empty PostgreSQL database: postgres://USER@HOST/DB.
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Run an Oblivious HTTP relay (RFC 9458) in front of a Kintsugi gateway, for a party
    /// other than Kintsugi's operator: it sees addresses, the gateway sees only the relay.
    Relay(relay::RelayArgs),
    /// Print the configuration reference (every setting, its variable and default) as Markdown.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Administration from the command line.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// The table in docs/operating.md, generated from the settings' own documentation.
    Reference,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Print a new one-time link that creates the organisation (only before setup).
    SetupLink {
        /// The address people use [default: http://127.0.0.1:8080]
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
    },
    /// List the organisations on this server.
    Organisations,
    /// Set someone's password, read from standard input (one line).
    SetPassword {
        /// The person's email address.
        email: String,
    },
    /// Team health instruments.
    Instrument {
        #[command(subcommand)]
        command: InstrumentCommand,
    },
}

#[derive(Subcommand)]
enum InstrumentCommand {
    /// Check an instrument file (TOML) and put it in use for an organisation's team health checks.
    Load {
        /// The instrument file, or - for standard input.
        file: PathBuf,
        /// The organisation's id (see `kintsugi admin organisations`); needed when there is more than one.
        #[arg(long, value_name = "ID")]
        organisation: Option<uuid::Uuid>,
    },
}

fn settings(cli: &Cli) -> anyhow::Result<Settings> {
    let db = |d: &DbArgs| {
        vec![
            ("data_dir", d.data_dir.as_ref().map(|p| json!(p))),
            ("database_url", d.database_url.as_ref().map(|u| json!(u))),
        ]
    };
    let mut flags = vec![("log_format", cli.log_format.map(|f| json!(f)))];
    match &cli.command {
        Command::Serve {
            listen,
            db: d,
            demo,
            public_url,
        } => {
            flags.extend(db(d));
            flags.push(("listen", listen.as_ref().map(|l| json!(l))));
            flags.push(("demo", demo.then_some(json!(true))));
            flags.push(("public_url", public_url.as_ref().map(|u| json!(u))));
        }
        Command::Coach { .. }
        | Command::Respond { .. }
        | Command::Transfer { .. }
        | Command::Relay(_)
        | Command::Config { .. } => {}
        Command::Migrate { db: d }
        | Command::Backup { db: d, .. }
        | Command::Restore { db: d, .. }
        | Command::Admin { db: d, .. } => flags.extend(db(d)),
    }
    Settings::load(
        config::config_file(cli.config.clone()).as_deref(),
        config::flags(flags),
    )
}

fn init_logging(settings: &Settings) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&settings.log_level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match settings.log_format {
        LogFormat::Json => fmt.json().boxed(),
        LogFormat::Text => fmt.boxed(),
    };
    // Two filters, both of which must let a line through: `RUST_LOG` (or `log_level`) cannot
    // lift the caps, however specific its directives.
    tracing_subscriber::registry()
        .with(filter)
        .with(log_caps())
        .with(fmt)
        .init();
    tracing::trace!(caps = ?LOG_CAPS, "the libraries' logs are capped at these levels");
}

/// The dependencies whose lines can carry a client address, a path with its parameters, a
/// header or a statement: capped at warnings (statements at nothing), whatever the log level.
/// Their warnings and errors name no address (`axum::serve` logs a connection's address only at
/// trace level). See "Logs, metrics and files" in docs/privacy.md.
const LOG_CAPS: &[(&str, tracing::Level)] = &[
    ("axum", tracing::Level::WARN),
    ("hyper", tracing::Level::WARN),
    ("hyper_util", tracing::Level::WARN),
    ("h2", tracing::Level::WARN),
    ("tower", tracing::Level::WARN),
    ("tower_http", tracing::Level::WARN),
    ("rustls", tracing::Level::WARN),
    ("reqwest", tracing::Level::WARN),
    ("lettre", tracing::Level::WARN),
    ("mio", tracing::Level::WARN),
];

fn log_caps() -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::LevelFilter;
    LOG_CAPS.iter().fold(
        tracing_subscriber::filter::Targets::new()
            .with_default(LevelFilter::TRACE)
            .with_target("sqlx::query", LevelFilter::OFF),
        |caps, (target, level)| caps.with_target(*target, *level),
    )
}

/// Holds the data directory's lock while the process lives: one server per SQLite
/// database, and no restore under a running server.
fn lock_data_dir(dir: &Path) -> anyhow::Result<std::fs::File> {
    config::ensure_dir(dir)?;
    let path = dir.join("kintsugi.lock");
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    config::make_private(&path, false)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(_) => bail!(
            "{} is in use by another kintsugi process; stop it first",
            dir.display()
        ),
    }
}

async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match settings.database().map_err(anyhow::Error::msg)? {
        Database::Sqlite(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                config::ensure_dir(parent)?;
            }
            // 0600 before SQLite opens it; SQLite gives its -wal and -shm the same mode. Files
            // an earlier release made are narrowed too.
            config::make_private(&path, true)?;
            for suffix in ["-wal", "-shm"] {
                let mut journal = path.clone().into_os_string();
                journal.push(suffix);
                config::make_private(Path::new(&journal), false)?;
            }
            Arc::new(SqliteStore::open(&path).await?)
        }
        Database::Postgres(url) => Arc::new(PostgresStore::open(&url).await?),
    })
}

/// The application's context over a store, with the settings the CLI and the server share.
fn context(store: Arc<dyn Store>, settings: &Settings, public_url: &str) -> anyhow::Result<Ctx> {
    let mut app = settings.app(public_url);
    app.key_encryption_key = settings.key_encryption_key()?;
    Ok(Ctx::new(store, app))
}

/// How long running jobs get to finish when the server stops, before they are released.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

async fn serve(settings: Settings) -> anyhow::Result<()> {
    settings.check_smtp_host().await?;
    let database = settings.database().map_err(anyhow::Error::msg)?;
    // The data directory holds the SQLite database and, by default, the key-encryption key.
    if matches!(database, Database::Sqlite(_)) || settings.key_encryption_key.is_none() {
        config::ensure_dir(&settings.data_dir)?;
        config::check_private_dir(&settings.data_dir)?;
    }
    let _lock = match database {
        Database::Sqlite(_) => Some(lock_data_dir(&settings.data_dir)?),
        Database::Postgres(_) => None,
    };
    let store = open_store(&settings).await?;
    // Parse the coach's rules now, off the runtime, so no request waits for it.
    tokio::task::spawn_blocking(kintsugi_core::coach::Coach::default_rules);
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let local = listener.local_addr()?;
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    let ctx = context(store, &settings, &public_url)?;
    match kintsugi_app::keys::import_key_files(&ctx.keys(), &ctx.settings().key_dir).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(keys = n, "round key files moved into the database, sealed"),
        Err(why) => bail!("{why}"),
    }
    if let Err(why) = ctx.keys().check().await {
        tracing::error!("{why}");
    }
    if settings.demo {
        demo::ensure(&ctx, Clock::system()).await?;
        demo::ensure_health(&ctx, Clock::system()).await?;
    }

    if ctx.on_dev_clock() {
        println!(
            "Running on the development clock in {:?}",
            settings.dev_clock
        );
    }
    println!("Kintsugi is serving at http://{local}");
    if settings.public_url.is_some() {
        println!("People reach it at {public_url}");
    }
    if signin::needs_setup(&ctx).await? {
        println!(
            "Set up your organisation: {}",
            signin::setup_link(&ctx, &public_url).await?
        );
    }
    if settings.demo {
        println!(
            "Demo organisation: log in at {public_url}/login as {} (admin), {} (facilitator) or {} (member), password {}",
            demo::ADMIN,
            demo::FACILITATOR,
            demo::MEMBER,
            demo::PASSWORD
        );
    }

    // One signal stops both: axum drains its connections while the job worker stops claiming,
    // lets running jobs finish (or releases them) and stops enqueuing periodic jobs.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown().await;
        let _ = stop.send(true);
    });
    let worker = kintsugi_app::reach::jobs::start(
        ctx.clone(),
        kintsugi_app::jobs::registry(&ctx.settings().jobs),
    );
    let mut worker_stopped = stopped.clone();
    let worker = tokio::spawn(async move {
        let _ = worker_stopped.wait_for(|s| *s).await;
        worker.shutdown(SHUTDOWN_GRACE).await;
    });

    let app = kintsugi_web::router(kintsugi_web::AppState::new(ctx))
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let mut server_stopped = stopped;
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = server_stopped.wait_for(|s| *s).await;
        })
        .await?;
    let _ = worker.await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

fn sqlite_only(settings: &Settings, what: &str) -> anyhow::Result<PathBuf> {
    match settings.database().map_err(anyhow::Error::msg)? {
        Database::Sqlite(path) => Ok(path),
        Database::Postgres(_) => {
            bail!(
                "{what} works on SQLite; for PostgreSQL use pg_dump and pg_restore (see docs/operating.md)"
            )
        }
    }
}

/// `kintsugi transfer`: the URLs are read by the same rules as `database_url`.
async fn transfer(from: &str, to: &str) -> anyhow::Result<()> {
    let parse = |url: &str| {
        Settings {
            database_url: Some(url.to_owned()),
            ..Settings::default()
        }
        .database()
    };
    let sqlite = match parse(from) {
        Ok(Database::Sqlite(path)) => path,
        Ok(Database::Postgres(_)) => bail!("--from must be a SQLite database (sqlite://PATH)"),
        Err(why) => bail!("--from {from:?}: {why}"),
    };
    let postgres = match parse(to) {
        Ok(Database::Postgres(url)) => url,
        _ => bail!("--to must be a PostgreSQL database (postgres://USER@HOST/DB)"),
    };
    if !sqlite.is_file() {
        bail!(
            "--from: there is no SQLite database at {}",
            sqlite.display()
        );
    }
    // No server may write to the source while it is copied.
    let _lock = lock_data_dir(sqlite.parent().unwrap_or(Path::new(".")))?;
    let counted = transfer::run(&sqlite, &postgres).await?;
    println!("{:<28} {:>10}", "table", "rows");
    for c in &counted {
        println!("{:<28} {:>10}", c.table, c.rows);
    }
    let total: i64 = counted.iter().map(|c| c.rows).sum();
    println!(
        "Copied {total} rows in {} tables; the counts match on both sides.",
        counted.len()
    );
    println!(
        "Round keys were copied sealed: start every server with the same key-encryption key \
         (the setting key_encryption_key, or the data directory's key-encryption-key file), \
         or open rounds cannot issue tokens."
    );
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // These two need no settings and no database.
    match &cli.command {
        Command::Coach(args) => return coach_cli::run(args),
        Command::Respond {
            server,
            repair,
            round,
            invitation,
            email,
            category,
            comment,
            rating,
            items,
            replace,
            wait,
            relay,
        } => {
            let r = respond::Respond {
                server: server.clone(),
                repair: repair.clone(),
                round: round.clone(),
                invitation: invitation.clone(),
                email: email.clone(),
                category: category.clone(),
                comment: comment.clone(),
                rating: *rating,
                items: items.clone(),
                replace: *replace,
                wait: *wait,
                relay: relay.clone(),
            };
            return respond::run(r).await;
        }
        Command::Transfer { from, to } => return transfer(from, to).await,
        Command::Relay(args) => return relay::run(args).await,
        Command::Config {
            command: ConfigCommand::Reference,
        } => {
            print!("{}", config::reference());
            return Ok(());
        }
        _ => {}
    }
    let settings = settings(&cli)?;
    init_logging(&settings);
    match cli.command {
        Command::Serve { .. } => serve(settings).await,
        // Handled before settings are read.
        Command::Coach { .. }
        | Command::Respond { .. }
        | Command::Transfer { .. }
        | Command::Relay(_)
        | Command::Config { .. } => Ok(()),
        Command::Migrate { .. } => {
            open_store(&settings).await?;
            println!("The database schema is up to date.");
            Ok(())
        }
        Command::Backup { file, .. } => {
            let path = sqlite_only(&settings, "backup")?;
            if !path.exists() {
                bail!("there is no database at {} to back up", path.display());
            }
            let store = SqliteStore::open(&path).await?;
            store.backup(&file).await?;
            store.close().await;
            // A backup holds what the database holds: the server's user's alone.
            config::make_private(&file, false)?;
            println!("Backed up {} to {}", path.display(), file.display());
            Ok(())
        }
        Command::Restore { file, .. } => {
            let path = sqlite_only(&settings, "restore")?;
            if !file.exists() {
                bail!("there is no backup at {}", file.display());
            }
            let _lock = lock_data_dir(path.parent().unwrap_or(Path::new(".")))?;
            kintsugi_store_sqlite::restore(&file, &path).await?;
            println!("Restored {} from {}", path.display(), file.display());
            Ok(())
        }
        Command::Admin { command, .. } => {
            let store = open_store(&settings).await?;
            let public_url = format!("http://{}", settings.listen);
            admin(context(store, &settings, &public_url)?, command).await
        }
    }
}

/// `kintsugi admin …`: the same services the pages and the API call.
async fn admin(ctx: Ctx, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::SetupLink { public_url } => {
            if !signin::needs_setup(&ctx).await? {
                bail!(
                    "this server already has an organisation; setup links work only before setup"
                );
            }
            let url = public_url.unwrap_or_else(|| ctx.settings().public_url.clone());
            println!(
                "{}",
                signin::setup_link(&ctx, url.trim_end_matches('/')).await?
            );
        }
        AdminCommand::Organisations => {
            for org in ctx.store().list_organisations().await? {
                println!(
                    "{}\t{}{}",
                    org.id,
                    org.name,
                    if org.is_demo { "\t(demo)" } else { "" }
                );
            }
        }
        AdminCommand::SetPassword { email } => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            let person =
                signin::set_password(&ctx, &email, line.trim_end_matches(['\r', '\n'])).await?;
            println!("Password set for {}", person.email);
        }
        AdminCommand::Instrument {
            command: InstrumentCommand::Load { file, organisation },
        } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
                    .context("cannot read the instrument from standard input")?
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?
            };
            let orgs: Vec<_> = ctx
                .store()
                .list_organisations()
                .await?
                .into_iter()
                .filter(|o| organisation.is_none_or(|id| o.id == id))
                .filter(|o| organisation.is_some() || !o.is_demo)
                .collect();
            let org = match orgs.as_slice() {
                [org] => org,
                [] => bail!("no such organisation; see `kintsugi admin organisations`"),
                _ => {
                    bail!("there is more than one organisation; choose one with --organisation ID")
                }
            };
            let (_, parsed) = kintsugi_app::health::load_instrument(&ctx, org.id, None, &text)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            println!(
                "{} ({} items) is now in use for {}",
                parsed.name,
                parsed.items.len(),
                org.name
            );
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
