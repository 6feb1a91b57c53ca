//! musewave: a self-hosted music streaming server.
//!
//! # Layout
//! - [`config`]: defaults -> file -> environment -> flags, validated.
//! - [`store`]: the only code that knows sled: typed tables, key codecs, schema migrations.
//! - [`domain`]: ids and entities, no I/O.
//! - [`auth`]: passwords, tokens, throttling and the permission policy.
//! - [`accounts`]: the account service (users, sessions, invites).
//! - [`catalog`]: tracks, albums, artists, genres and search, served from memory.
//! - [`library`]: the media folders: probing, scanning.
//! - [`media`]: audio files by track id: range decisions, streamed bodies, download counts,
//!   transcoding and its cache.
//! - [`social`]: playlists, follows, likes, ratings, plays, statistics and charts.
//! - [`subsonic`]: the Subsonic API's app passwords, play queues and error codes.
//! - [`http`]: warp filters and handlers, error mapping, OpenAPI, web UI.
//! - [`metrics`]: Prometheus counters and gauges.
//! - [`backup`]: consistent exports of a running server.
//! - [`control`]: the local socket through which the CLI reaches a running server.
//!
//! [`App::open`] prepares everything that needs the data directory; [`run`] serves on a
//! listener the caller bound, until a shutdown future resolves.

pub mod accounts;
pub mod artists;
pub mod auth;
pub mod backup;
pub mod catalog;
pub mod config;
pub mod control;
pub mod domain;
pub mod error;
pub mod http;
pub mod library;
pub mod media;
pub mod memory;
pub mod metrics;
pub mod social;
pub mod store;
pub mod subsonic;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::accounts::Accounts;
use crate::auth::policy::Policy;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::library::Library;
use crate::store::{Store, StoreOptions};

/// Everything a request handler needs, cloned into each filter: one reference count, however
/// many services it holds.
#[derive(Clone)]
pub struct App(Arc<AppInner>);

impl std::ops::Deref for App {
    type Target = AppInner;

    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// The services behind an [`App`].
pub struct AppInner {
    /// The effective configuration.
    pub config: Arc<Config>,
    /// The store.
    pub store: Store,
    /// Accounts and sessions.
    pub accounts: Arc<Accounts>,
    /// The music catalog.
    pub catalog: Arc<Catalog>,
    /// The media folders and their scanner.
    pub library: Arc<Library>,
    /// Album and track pictures.
    pub artwork: Arc<library::artwork::Artwork>,
    /// Audio files and download counts.
    pub media: Arc<media::Media>,
    /// Transcoding slots, profiles and the transcode cache.
    pub transcoder: Arc<media::transcoder::Transcoder>,
    /// Who may do what.
    pub policy: Policy,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Artists' profiles, uploads, albums and tracks.
    pub artists: Arc<artists::Artists>,
    /// Playlists, follows, likes, ratings, plays and statistics.
    pub social: Arc<social::Social>,
    /// Request counters and levels for `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
    /// Players' app passwords and saved play queues (the Subsonic API).
    pub credentials: Arc<subsonic::credentials::Credentials>,
}

/// The first admin account, created on a first run with no users.
#[derive(Debug, Clone)]
pub struct FirstAdmin {
    /// Its username.
    pub username: String,
    /// The generated one-time password, when none was given.
    pub generated_password: Option<String>,
}

/// Store options from config.
pub fn store_options(config: &Config) -> StoreOptions {
    StoreOptions {
        cache_capacity_bytes: config.data.cache_capacity_bytes,
    }
}

/// The store directory inside the data directory.
pub fn store_path(config: &Config) -> PathBuf {
    config.data.dir.join("db")
}

fn create_data_dir(config: &Config) -> anyhow::Result<()> {
    let dir = &config.data.dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("while creating the data directory {}", dir.display()))
}

impl App {
    /// Creates the data and media folders if missing, opens (and migrates) the store, loads
    /// or creates the signing secret, and loads the catalog.
    pub async fn open(config: Config) -> anyhow::Result<App> {
        create_data_dir(&config)?;
        let store = Store::open(
            &store_path(&config),
            &store_options(&config),
            &store::tables::SCHEMA,
        )
        .context("while opening the store")?;
        App::with_store(config, store).await
    }

    /// Builds the app on a store the caller has already opened.
    ///
    /// Commands that must tell "a server holds the store" apart from other failures open the
    /// store themselves and hand it over: opening it twice in one process would race with
    /// sled's background threads releasing the first handle's lock.
    pub async fn with_store(config: Config, store: Store) -> anyhow::Result<App> {
        create_data_dir(&config)?;
        let data_dir = config.data.dir.clone();
        create_media_folders(&config.library.folders);
        let secret = auth::secret::load_or_create(
            &data_dir,
            config.auth.jwt_secret.as_ref().map(|s| s.expose()),
        )?;
        // Web sign-in and Subsonic logins share the same limits.
        let throttle = auth::throttle::Limits {
            per_user: config.auth.login_throttle.max_failures_per_user,
            per_client: config.auth.login_throttle.max_failures_per_client,
            window: config.auth.login_throttle.window,
        };
        let settings = accounts::Settings {
            registration: config.auth.registration.into(),
            access_ttl: config.auth.access_token_ttl,
            refresh_ttl: config.auth.refresh_token_ttl,
            throttle,
            avatars_dir: data_dir.join("avatars"),
        };
        let accounts = Arc::new(Accounts::new(store.clone(), &secret, settings)?);
        let catalog = Arc::new(Catalog::open(store.clone()).context("while loading the catalog")?);
        memory::release_free_heap();
        let library = Arc::new(Library::new(
            catalog.clone(),
            config.library.folders.clone(),
            library::probe::ProbeOptions {
                artist_separators: config.library.artist_separators.clone(),
                artist_exceptions: config.library.artist_exceptions.clone(),
                ..library::probe::ProbeOptions::default()
            },
        ));
        let artwork = Arc::new(library::artwork::Artwork::new(
            data_dir.join("cache").join("art"),
        ));
        let media = Arc::new(media::Media::new(&store).context("while opening the media service")?);
        let transcoder = Arc::new(
            media::transcoder::Transcoder::new(
                config.transcode.clone(),
                data_dir.join("transcodes"),
            )
            .context("while opening the transcode cache")?,
        );
        let policy = Policy {
            public_access: config.access.public,
        };
        let artists = Arc::new(
            artists::Artists::open(
                store.clone(),
                catalog.clone(),
                policy,
                artists::Settings {
                    dir: data_dir.join("uploads"),
                    max_file_bytes: config.uploads.max_file_bytes,
                    max_request_bytes: config.uploads.max_request_bytes,
                    probe: library::probe::ProbeOptions {
                        artist_separators: config.library.artist_separators.clone(),
                        artist_exceptions: config.library.artist_exceptions.clone(),
                        ..library::probe::ProbeOptions::default()
                    },
                },
            )
            .context("while opening the uploads")?,
        );
        let social = Arc::new(
            social::Social::open(
                &store,
                catalog.clone(),
                artists.clone(),
                policy,
                data_dir.join("playlist-covers"),
            )
            .context("while opening playlists and listening data")?,
        );
        let credentials = Arc::new(
            subsonic::credentials::Credentials::open(&store, &secret, throttle)
                .context("while opening the app passwords")?,
        );
        let app = App(Arc::new(AppInner {
            credentials,
            social,
            metrics: Arc::new(metrics::Metrics::new()),
            artists,
            artwork,
            media,
            transcoder,
            catalog,
            library,
            policy,
            config: Arc::new(config),
            store,
            accounts,
            data_dir,
        }));
        Ok(app)
    }

    /// Takes what a running server can change from a reloaded configuration (SIGHUP): the
    /// media folders (created if missing; the watcher follows and a scan takes them in). The
    /// log filter belongs to the process and is swapped by its owner. Returns the keys that
    /// changed from `old` but take a restart, for the caller to report.
    pub fn reload(&self, old: &Config, new: &Config) -> Vec<String> {
        create_media_folders(&new.library.folders);
        if self.library.set_folders(new.library.folders.clone()) {
            tracing::info!(folders = ?new.library.folders, "media folders changed");
        }
        config::changed_keys(old, new)
            .into_iter()
            .filter(|k| !config::RELOADABLE_KEYS.contains(&k.as_str()))
            .collect()
    }

    /// Creates the first admin account when there are no accounts (the server's first run),
    /// with `password` or a generated one.
    pub async fn bootstrap_admin(
        &self,
        password: Option<String>,
    ) -> anyhow::Result<Option<FirstAdmin>> {
        Ok(self
            .accounts
            .bootstrap_admin(password)
            .await
            .context("while creating the first admin account")?
            .map(|(username, generated_password)| FirstAdmin {
                username,
                generated_password,
            }))
    }
}

fn notify_systemd(state: sd_notify::NotifyState<'_>) {
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        if let Err(e) = sd_notify::notify(false, &[state]) {
            tracing::warn!(error = %e, "could not notify systemd");
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; then drains open requests for at
/// most `server.drain_timeout_secs`, stops background work and flushes the store.
pub async fn run(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    // Bound first, so a taken address stops start-up before anything else runs.
    let metrics_listener = match app
        .config
        .metrics
        .listen
        .filter(|_| app.config.metrics.enabled)
    {
        Some(addr) => {
            let l = TcpListener::bind(addr)
                .await
                .with_context(|| format!("while binding the metrics listener {addr}"))?;
            tracing::info!(addr = %addr, "serving /metrics on its own listener");
            Some(l)
        }
        None => None,
    };
    let control = control::listen(app.clone()).context("while opening the control socket")?;
    let pruner = {
        let accounts = app.accounts.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            loop {
                every.tick().await;
                let accounts = accounts.clone();
                match tokio::task::spawn_blocking(move || accounts.prune_expired()).await {
                    Ok(Ok(n)) if n > 0 => tracing::info!(removed = n, "pruned expired sessions"),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "pruning sessions failed"),
                    Err(e) => tracing::warn!(error = %e, "pruning task failed"),
                }
            }
        })
    };
    // The catalog is served while the first scan catches up with the folders.
    app.library.start(false);
    let watcher = library::watch::spawn(app.library.clone());
    let routes = http::routes(&app);
    let server = &app.config.server;
    let options = http::server::ServeOptions {
        base_url: server.base_url.clone(),
        trusted_proxies: server.trusted_proxies.clone().into(),
        metrics: Some(app.metrics.clone()),
        drain: server.drain_timeout,
    };
    let (stop_metrics, metrics_stopped) = tokio::sync::watch::channel(false);
    let metrics_server = match metrics_listener {
        Some(metrics_listener) => {
            let mut stopped = metrics_stopped;
            Some(tokio::spawn(http::server::serve(
                metrics_listener,
                http::metrics_routes(&app),
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
                http::server::ServeOptions {
                    drain: Duration::from_secs(1),
                    ..http::server::ServeOptions::default()
                },
            )))
        }
        None => None,
    };
    notify_systemd(sd_notify::NotifyState::Ready);
    http::server::serve(
        listener,
        routes,
        async {
            shutdown.await;
            tracing::info!("shutting down");
            notify_systemd(sd_notify::NotifyState::Stopping);
        },
        options,
    )
    .await;
    let _ = stop_metrics.send(true);
    if let Some(m) = metrics_server {
        let _ = m.await;
    }
    control.abort();
    pruner.abort();
    watcher.abort();
    let _ = watcher.await;
    let _ = control.await;
    let _ = pruner.await;
    let _ = std::fs::remove_file(app.data_dir.join(control::SOCKET_NAME));
    app.store
        .flush()
        .await
        .context("while flushing the store")?;
    tracing::info!("stopped");
    Ok(())
}

/// Creates missing media folders. One that cannot be created (on a read-only mount, or not
/// mounted yet) is reported by every scan; the server still starts.
fn create_media_folders(folders: &[PathBuf]) {
    for folder in folders {
        if let Err(e) = std::fs::create_dir_all(folder) {
            tracing::warn!(folder = %folder.display(), error = %e, "cannot create a media folder");
        }
    }
}
