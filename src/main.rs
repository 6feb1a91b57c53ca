//! The `musewave` command: parse the command line, load config, start logging, then hand over
//! to the library.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use musewave::accounts::NewUser;
use musewave::config::{self, Config, LogFormat, Overrides};
use musewave::domain::Role;
use musewave::library::ScanStatus;
use musewave::store::{Store, StoreError};
use musewave::App;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Layer, Registry};

#[derive(Parser)]
#[command(name = "musewave", version = musewave_version(), about = "A self-hosted music streaming server")]
struct Cli {
    /// Configuration file (TOML). Without it, built-in defaults apply.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Data directory (store, uploads, caches); overrides `data.dir`.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve {
        /// Address to listen on; overrides `server.listen`.
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Media folder (repeatable); replaces `library.folders`.
        #[arg(long = "media", value_name = "DIR")]
        media: Vec<PathBuf>,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage accounts (with the server stopped).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Scan the media folders now, with a progress bar and a summary (works while the server
    /// runs: the server does the scan).
    Scan {
        /// Probe every file again, changed or not.
        #[arg(long)]
        full: bool,
    },
    /// Write a consistent backup of the store to FILE (works while the server runs).
    Backup {
        /// Where to write the backup.
        file: PathBuf,
    },
    /// Rebuild the store from a backup FILE (with the server stopped, into an empty store).
    Restore {
        /// The backup to read.
        file: PathBuf,
    },
    /// Ask the server at the configured address (and `server.base_url`) whether it is up:
    /// exits 0 when `/healthz` answers 200 (for container health checks).
    Health {
        /// Ask this URL instead, e.g. http://127.0.0.1:4533/healthz.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration, secrets redacted.
    Check,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account. The password is read from standard input with --password-stdin,
    /// else generated and printed.
    Add {
        /// Login name.
        username: String,
        /// listener, artist or admin.
        #[arg(long, default_value = "listener")]
        role: Role,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (signs the user out everywhere).
    Passwd {
        /// Login name.
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change an account's role.
    Role {
        /// Login name.
        username: String,
        /// listener, artist or admin.
        role: Role,
    },
    /// List accounts.
    List,
}

fn musewave_version() -> &'static str {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (",
        env!("BUILD_GIT_COMMIT"),
        ")"
    )
}

/// The running log filter, replaceable on a configuration reload.
struct LogLevel {
    handle: reload::Handle<EnvFilter, Registry>,
    /// Set when `RUST_LOG` chose the filter: `log.level` is then not used.
    from_env: bool,
}

impl LogLevel {
    fn set(&self, level: &str) {
        if self.from_env {
            tracing::info!("RUST_LOG is set, so log.level is not applied");
            return;
        }
        match EnvFilter::try_new(level) {
            Ok(filter) => match self.handle.reload(filter) {
                Ok(()) => tracing::info!(level, "log level applied"),
                Err(e) => tracing::warn!(error = %e, "cannot change the log level"),
            },
            Err(e) => {
                tracing::warn!(level, error = %e, "log.level is not a valid filter; kept the old one")
            }
        }
    }
}

/// Starts logging; log lines are written on a background thread until the returned guard
/// drops (it flushes them then).
fn init_logging(config: &Config) -> (tracing_appender::non_blocking::WorkerGuard, LogLevel) {
    // RUST_LOG wins over the configured level, so a one-off debugging run needs no edit.
    let (filter, from_env) = match EnvFilter::try_from_default_env() {
        Ok(f) => (f, true),
        Err(_) => (EnvFilter::new(&config.log.level), false),
    };
    let (filter, handle) = reload::Layer::new(filter);
    // A request must not wait for its log line to reach the journal or a terminal. The queue's
    // slots are allocated up front: the default of 128,000 lines holds 4 MB resident, where
    // 16,384 still absorb a long burst while the writer catches up.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(16_384)
        .finish(std::io::stderr());
    // Colours only for a terminal: the journal and log files would store the escape codes.
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(writer);
    let fmt = match config.log.format {
        LogFormat::Json => fmt.json().boxed(),
        LogFormat::Text => fmt.boxed(),
    };
    tracing_subscriber::registry().with(filter).with(fmt).init();
    (guard, LogLevel { handle, from_env })
}

fn read_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false))
    } else {
        Ok((musewave::auth::tokens::random_token(12), true))
    }
}

fn main() -> anyhow::Result<()> {
    musewave::memory::tune_allocator();
    let cli = Cli::parse();
    let mut overrides = Overrides {
        data_dir: cli.data_dir.clone(),
        ..Overrides::default()
    };
    if let Some(Command::Serve { listen, media }) = &cli.command {
        overrides.listen = *listen;
        if !media.is_empty() {
            overrides.media_folders = Some(media.clone());
        }
    }
    let config = config::load(cli.config.as_deref(), std::env::vars(), &overrides)?;
    let source = ConfigSource {
        path: cli.config.clone(),
        overrides,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("while starting the async runtime")?;
    match cli.command.unwrap_or(Command::Serve {
        listen: None,
        media: Vec::new(),
    }) {
        Command::Serve { .. } => {
            let (_logs, level) = init_logging(&config);
            runtime.block_on(serve(config, source, level))
        }
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            print!("{}", config.effective_toml());
            Ok(())
        }
        Command::User { command } => runtime.block_on(user(config, command)),
        Command::Scan { full } => scan(config, full, &runtime),
        Command::Backup { file } => backup(&config, &file),
        Command::Restore { file } => restore(&config, &file),
        Command::Health { url } => health(&config, url.as_deref()),
    }
}

/// Where the configuration came from, to read it again on SIGHUP.
struct ConfigSource {
    path: Option<PathBuf>,
    overrides: Overrides,
}

/// On each SIGHUP: reads the configuration again, applies what can change while running (log
/// level, media folders) and names what needs a restart. A configuration that does not load
/// is reported and the running one kept.
async fn reload_on_hangup(
    mut hangup: tokio::signal::unix::Signal,
    app: App,
    mut current: Config,
    source: ConfigSource,
    level: LogLevel,
) {
    while hangup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the configuration");
        let new = match config::load(source.path.as_deref(), std::env::vars(), &source.overrides) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "the configuration does not load; keeping the running one");
                continue;
            }
        };
        if new.log.level != current.log.level {
            level.set(&new.log.level);
        }
        let restart = app.reload(&current, &new);
        if !restart.is_empty() {
            tracing::warn!(
                keys = restart.join(", "),
                "changed settings take effect after a restart"
            );
        }
        current = new;
    }
}

async fn serve(config: Config, source: ConfigSource, level: LogLevel) -> anyhow::Result<()> {
    raise_open_file_limit();
    let shutdown = shutdown_signal()?;
    // Installed before readiness: SIGHUP's default action would end the process.
    let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("while listening for SIGHUP")?;
    let listen = config.server.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("while binding {listen}"))?;
    let admin_password = std::env::var("MUSEWAVE_ADMIN_PASSWORD").ok();
    let app = App::open(config).await?;
    if let Some(admin) = app.bootstrap_admin(admin_password).await? {
        match admin.generated_password {
            Some(p) => println!(
                "Created the first account: username '{}', password '{}' (shown once; change it after signing in)",
                admin.username, p
            ),
            None => println!(
                "Created the first account '{}' with the password from MUSEWAVE_ADMIN_PASSWORD",
                admin.username
            ),
        }
    }
    let addr = listener.local_addr()?;
    println!(
        "musewave {} listening on http://{addr}/",
        musewave_version()
    );
    std::io::stdout().flush()?;
    let reloader = tokio::spawn(reload_on_hangup(
        hangup,
        app.clone(),
        (*app.config).clone(),
        source,
        level,
    ));
    let result = musewave::run(app, listener, shutdown).await;
    reloader.abort();
    result
}

/// Raises the soft limit on open files to the hard limit. Each stream holds a socket and a file,
/// and recently served files stay open: 500 streams of distinct tracks come close to the soft
/// limit of 1,024 that systemd and most shells start a process with, while the hard limit is
/// usually far higher. Nothing here uses `select(2)`, which the soft limit protects.
fn raise_open_file_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return;
    }
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            tracing::debug!(from = ?limit.current, to = ?limit.maximum, "raised the open file limit")
        }
        Err(e) => {
            tracing::warn!(error = %e, soft = ?limit.current, "could not raise the open file limit")
        }
    }
}

/// `musewave health`: a GET of `/healthz` over plain HTTP/1.1, for health checks where no
/// HTTP client is installed (the container image).
fn health(config: &Config, url: Option<&str>) -> anyhow::Result<()> {
    use std::io::Read;
    let (addr, path) = match url {
        Some(url) => {
            let rest = url
                .strip_prefix("http://")
                .context("only http:// URLs can be checked")?;
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let addr = std::net::ToSocketAddrs::to_socket_addrs(host)
                .with_context(|| format!("while resolving {host}"))?
                .next()
                .with_context(|| format!("{host} has no address"))?;
            (addr, if path.is_empty() { "/" } else { path }.to_owned())
        }
        None => {
            // A wildcard listen address is reached through the loopback of its family.
            let mut addr = config.server.listen;
            if addr.ip().is_unspecified() {
                addr.set_ip(match addr {
                    SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                });
            }
            (addr, format!("{}/healthz", config.server.base_url))
        }
    };
    let timeout = std::time::Duration::from_secs(5);
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("while connecting to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: musewave-health\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head)?;
    let status_line = String::from_utf8_lossy(&head[..n]);
    let status = status_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("no answer")
        .to_owned();
    if status == "200" {
        println!("healthy: http://{addr}{path} answered 200");
        Ok(())
    } else {
        anyhow::bail!("unhealthy: http://{addr}{path} answered {status}")
    }
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called, not when
/// the future is first polled: a SIGTERM arriving right after readiness must still start a
/// graceful shutdown rather than kill the process.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("while listening for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("while listening for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

fn open_store(config: &Config) -> anyhow::Result<Store> {
    match Store::open(
        &musewave::store_path(config),
        &musewave::store_options(config),
        &musewave::store::tables::SCHEMA,
    ) {
        Ok(s) => Ok(s),
        Err(StoreError::Locked { .. }) => anyhow::bail!(
            "the store at {} is in use by a running server; stop it first (or use the admin API)",
            musewave::store_path(config).display()
        ),
        Err(e) => Err(e).context("while opening the store"),
    }
}

async fn user(config: Config, command: UserCommand) -> anyhow::Result<()> {
    // Opening the store first gives the clear "server is running" message before anything else.
    let store = open_store(&config)?;
    let app = App::with_store(config, store).await?;
    let accounts = &app.accounts;
    match command {
        UserCommand::Add {
            username,
            role,
            password_stdin,
        } => {
            let (password, generated) = read_password(password_stdin)?;
            let user = accounts
                .create_user(NewUser {
                    username,
                    password: password.clone(),
                    display_name: None,
                    role,
                })
                .await?;
            println!("created {} ({}, id {})", user.username, user.role, user.id);
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::Passwd {
            username,
            password_stdin,
        } => {
            let (password, generated) = read_password(password_stdin)?;
            accounts.reset_password(&username, password.clone()).await?;
            println!("password of {username} changed; its sessions were signed out");
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::Role { username, role } => {
            let user = accounts.user_by_name(&username)?;
            let user = accounts
                .change_account(
                    user.id,
                    musewave::accounts::AccountChange {
                        role: Some(role),
                        disabled: None,
                    },
                )
                .await?;
            println!("{} is now {}", user.username, user.role);
        }
        UserCommand::List => {
            let page = accounts.list_users(0, u64::MAX)?;
            println!("{:<32} {:<9} {:<8} id", "username", "role", "state");
            for u in page.items {
                let state = if u.disabled { "disabled" } else { "enabled" };
                println!("{:<32} {:<9} {:<8} {}", u.username, u.role, state, u.id);
            }
        }
    }
    app.store.flush().await?;
    Ok(())
}

fn scan(config: Config, full: bool, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} files  {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let progress = |s: &ScanStatus| {
        bar.set_length(s.files_total);
        bar.set_position(s.files_seen);
        bar.set_message(format!(
            "+{} ~{} >{} -{} !{}",
            s.added, s.updated, s.moved, s.removed, s.failed
        ));
    };
    let status = match open_store(&config) {
        Ok(store) => {
            let app = runtime.block_on(App::with_store(config, store))?;
            let library = app.library.clone();
            let worker = std::thread::spawn(move || library.scan_blocking(full));
            while !worker.is_finished() {
                progress(&app.library.status());
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("the scan thread failed"))?
        }
        Err(_) if musewave::store_path(&config).exists() => {
            musewave::control::request_scan(&config.data.dir, full, progress)?
        }
        Err(e) => return Err(e),
    };
    bar.finish_and_clear();
    let secs = if status.files_per_sec > 0.0 {
        status.files_seen as f64 / status.files_per_sec
    } else {
        0.0
    };
    println!(
        "scanned {} files in {secs:.2} s ({:.0} files/s): {} added, {} updated, {} moved, {} removed, {} failed",
        status.files_seen,
        status.files_per_sec,
        status.added,
        status.updated,
        status.moved,
        status.removed,
        status.failed
    );
    for f in &status.failures {
        println!("  skipped {}: {}", f.path, f.reason);
    }
    Ok(())
}

fn backup(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("while creating a file in {}", dir.display()))?;
    let store_path = musewave::store_path(config);
    let how = if store_path.exists() {
        match Store::open(
            &store_path,
            &musewave::store_options(config),
            &musewave::store::tables::SCHEMA,
        ) {
            Ok(store) => {
                let mut w = std::io::BufWriter::new(tmp.as_file_mut());
                let summary = store.export(&mut w)?;
                w.flush()?;
                format!("{} entries", summary.entries)
            }
            Err(StoreError::Locked { .. }) => {
                let mut w = std::io::BufWriter::new(tmp.as_file_mut());
                let bytes = musewave::control::request_backup(&config.data.dir, &mut w)?;
                w.flush()?;
                format!("{bytes} bytes from the running server")
            }
            Err(e) => return Err(e).context("while opening the store"),
        }
    } else {
        anyhow::bail!("there is no store at {}", store_path.display());
    };
    tmp.as_file().sync_all()?;
    tmp.persist(file)
        .with_context(|| format!("while writing {}", file.display()))?;
    println!("backup written to {} ({how})", file.display());
    Ok(())
}

fn restore(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    let input =
        std::fs::File::open(file).with_context(|| format!("while opening {}", file.display()))?;
    std::fs::create_dir_all(&config.data.dir)?;
    let summary = Store::import(
        &musewave::store_path(config),
        &musewave::store_options(config),
        &musewave::store::tables::SCHEMA,
        std::io::BufReader::new(input),
    )
    .map_err(|e| match e {
        StoreError::Locked { .. } => {
            anyhow::anyhow!("the store is in use by a running server; stop it first")
        }
        e => anyhow::Error::new(e).context("while restoring"),
    })?;
    println!(
        "restored {} entries into {}",
        summary.entries,
        musewave::store_path(config).display()
    );
    Ok(())
}
