//! Server configuration: built-in defaults, the TOML file, `MUSEWAVE_*` environment variables and
//! command-line overrides, merged in that order and validated into a typed [`Config`].
//!
//! # Layout
//! - [`RawConfig`] is the shape of the file: every key has a default and unknown keys are refused.
//! - [`load`] merges the layers with figment (one provider per file and per environment variable,
//!   so an error can name exactly where a bad value came from), applies [`Overrides`], then
//!   validates with `Config::try_from`.
//! - [`Config`] is what the rest of the server reads: addresses, paths, durations and byte sizes
//!   in their real types.
//! - [`Secret`] wraps values listed in [`SECRET_KEYS`]; they never print.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use figment::error::{Actual, Kind};
use figment::value::{Dict, Map, Tag, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};
use serde::{Deserialize, Serialize};

use crate::media::transcode::{Codec, Spec};

/// Prefix of environment variables read as configuration.
pub const ENV_PREFIX: &str = "MUSEWAVE_";

/// Variables that share [`ENV_PREFIX`] but are not configuration keys; the loader skips them
/// instead of reporting them as unknown keys.
pub const NON_CONFIG_ENV_VARS: &[&str] = &["MUSEWAVE_ADMIN_PASSWORD", "MUSEWAVE_LOG"];

/// Keys (dotted paths) holding secrets. Only these may be read from a file through a `*_FILE`
/// environment variable, and their values are never shown in errors or in
/// [`Config::effective_toml`].
pub const SECRET_KEYS: &[&str] = &["auth.jwt_secret"];

/// Shortest accepted `auth.jwt_secret`, in bytes: an HMAC-SHA256 key shorter than the hash
/// output weakens the signature.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

const MIB: u64 = 1024 * 1024;
const SECS_PER_DAY: u64 = 24 * 60 * 60;

// ---------------------------------------------------------------------------------------------
// Secret
// ---------------------------------------------------------------------------------------------

/// A secret string. `Debug`, `Display` and `Serialize` all print `[redacted]`, so a secret can
/// only leak through an explicit [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// What every formatting of a secret prints instead of its value.
    pub const REDACTED: &'static str = "[redacted]";

    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself; call it only where the value is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::REDACTED)
    }
}

// Serializing redacts too: the only serialization of config is for people to read
// (`effective_toml`), and a redacted value can never be mistaken for a working one.
impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(Self::REDACTED)
    }
}

// ---------------------------------------------------------------------------------------------
// Enums
// ---------------------------------------------------------------------------------------------

/// Who may create an account (`auth.registration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(
    rename_all = "lowercase",
    expecting = "one of \"closed\", \"invite\", \"open\""
)]
pub enum Registration {
    /// Only an admin creates users.
    #[default]
    Closed,
    /// Anyone holding an unused invite code may register.
    Invite,
    /// Anyone may register.
    Open,
}

impl Registration {
    /// Every variant, in the order the docs list them (for CLI help).
    pub const ALL: [Registration; 3] = [
        Registration::Closed,
        Registration::Invite,
        Registration::Open,
    ];

    /// The name used in config files, environment variables and flags.
    pub fn as_str(self) -> &'static str {
        match self {
            Registration::Closed => "closed",
            Registration::Invite => "invite",
            Registration::Open => "open",
        }
    }
}

/// How log lines are written (`log.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", expecting = "one of \"text\", \"json\"")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl LogFormat {
    /// Every variant, in the order the docs list them (for CLI help).
    pub const ALL: [LogFormat; 2] = [LogFormat::Text, LogFormat::Json];

    /// The name used in config files, environment variables and flags.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// A flag or setting named a choice that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value \"{found}\", expected one of: {}", .expected.join(", "))]
pub struct ParseChoiceError {
    /// What was given.
    pub found: String,
    /// The accepted names.
    pub expected: &'static [&'static str],
}

macro_rules! choice_traits {
    ($ty:ty, $names:expr) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = ParseChoiceError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| ParseChoiceError {
                        found: s.to_owned(),
                        expected: $names,
                    })
            }
        }
    };
}

choice_traits!(Registration, &["closed", "invite", "open"]);
choice_traits!(LogFormat, &["text", "json"]);

// ---------------------------------------------------------------------------------------------
// Raw config: the shape of the file
// ---------------------------------------------------------------------------------------------

/// The configuration as written in the TOML file, before validation. Every key has a default
/// and unknown keys are errors, so a typo is reported instead of silently ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    default,
    deny_unknown_fields,
    expecting = "a table of musewave settings"
)]
pub struct RawConfig {
    /// `[server]`
    pub server: RawServer,
    /// `[data]`
    pub data: RawData,
    /// `[library]`
    pub library: RawLibrary,
    /// `[auth]`
    pub auth: RawAuth,
    /// `[access]`
    pub access: RawAccess,
    /// `[log]`
    pub log: RawLog,
    /// `[transcode]`
    pub transcode: RawTranscode,
    /// `[uploads]`
    pub uploads: RawUploads,
    /// `[metrics]`
    pub metrics: RawMetrics,
    /// `[subsonic]`
    pub subsonic: RawSubsonic,
}

/// `[server]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [server] table")]
pub struct RawServer {
    /// `server.listen`: socket address to bind.
    pub listen: String,
    /// `server.drain_timeout_secs`: how long shutdown waits for open requests.
    pub drain_timeout_secs: u64,
    /// `server.max_json_body_bytes`: largest accepted JSON request body.
    pub max_json_body_bytes: u64,
    /// `server.max_image_body_bytes`: largest accepted image upload.
    pub max_image_body_bytes: u64,
    /// `server.base_url`: the path prefix the server is reached under behind a reverse proxy.
    pub base_url: String,
    /// `server.trusted_proxies`: addresses or CIDR ranges whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: "127.0.0.1:4533".to_owned(),
            drain_timeout_secs: 10,
            max_json_body_bytes: MIB,
            max_image_body_bytes: 10 * MIB,
            base_url: String::new(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// `[metrics]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [metrics] table")]
pub struct RawMetrics {
    /// `metrics.enabled`: serve `/metrics` in the Prometheus text format.
    pub enabled: bool,
    /// `metrics.listen`: a separate address for `/metrics`; empty means the main listener.
    pub listen: String,
}

impl Default for RawMetrics {
    fn default() -> Self {
        RawMetrics {
            enabled: true,
            listen: String::new(),
        }
    }
}

/// `[subsonic]` as written; used as is once validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [subsonic] table")]
pub struct RawSubsonic {
    /// `subsonic.legacy_clients`: client names (`c=`) whose XML leaves out OpenSubsonic's
    /// nested elements, which their parsers reject.
    pub legacy_clients: Vec<String>,
}

impl Default for RawSubsonic {
    fn default() -> Self {
        RawSubsonic {
            legacy_clients: vec!["DSub".to_owned()],
        }
    }
}

/// `[subsonic]`, validated.
pub type SubsonicConfig = RawSubsonic;

impl SubsonicConfig {
    /// Whether client name `c` gets the legacy XML (names compare case-insensitively).
    pub fn is_legacy_client(&self, c: &str) -> bool {
        self.legacy_clients
            .iter()
            .any(|l| l.trim().eq_ignore_ascii_case(c.trim()))
    }
}

/// `[metrics]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Whether `/metrics` is served at all.
    pub enabled: bool,
    /// Where: `None` is the main listener (under `server.base_url`), an address is a listener
    /// of its own, so the figures need not be public.
    pub listen: Option<SocketAddr>,
}

/// `[data]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [data] table")]
pub struct RawData {
    /// `data.dir`: where the store, uploads and caches live.
    pub dir: PathBuf,
    /// `data.cache_capacity_mb`: the store's page cache, in MiB.
    pub cache_capacity_mb: u64,
}

impl Default for RawData {
    fn default() -> Self {
        RawData {
            dir: PathBuf::from("./musewave-data"),
            cache_capacity_mb: crate::store::DEFAULT_CACHE_MB,
        }
    }
}

/// `[library]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [library] table")]
pub struct RawLibrary {
    /// `library.folders`: media folders to scan.
    pub folders: Vec<PathBuf>,
    /// `library.artist_separators`: text between artist names in a single artist tag.
    pub artist_separators: Vec<String>,
    /// `library.artist_exceptions`: artist names never split.
    pub artist_exceptions: Vec<String>,
}

impl Default for RawLibrary {
    fn default() -> Self {
        RawLibrary {
            folders: vec![PathBuf::from("./music")],
            artist_separators: [";", " / ", " feat. ", " ft. ", " featuring "]
                .map(String::from)
                .to_vec(),
            artist_exceptions: vec!["AC/DC".into()],
        }
    }
}

/// `[auth]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "an [auth] table")]
pub struct RawAuth {
    /// `auth.registration`: who may create an account.
    pub registration: Registration,
    /// `auth.jwt_secret`: token signing key; absent or empty means generated in the data dir.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_secret: Option<Secret>,
    /// `auth.access_token_ttl_secs`: lifetime of an access token.
    pub access_token_ttl_secs: u64,
    /// `auth.refresh_token_ttl_days`: lifetime of a refresh token.
    pub refresh_token_ttl_days: u64,
    /// `auth.stream_token_ttl_secs`: lifetime of a stream token (audio and artwork URLs).
    pub stream_token_ttl_secs: u64,
    /// `[auth.login_throttle]`
    pub login_throttle: RawLoginThrottle,
}

impl Default for RawAuth {
    fn default() -> Self {
        RawAuth {
            registration: Registration::Closed,
            jwt_secret: None,
            access_token_ttl_secs: 900,
            refresh_token_ttl_days: 30,
            stream_token_ttl_secs: 3600,
            login_throttle: RawLoginThrottle::default(),
        }
    }
}

/// `[auth.login_throttle]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    default,
    deny_unknown_fields,
    expecting = "an [auth.login_throttle] table"
)]
pub struct RawLoginThrottle {
    /// `auth.login_throttle.max_failures_per_user`
    pub max_failures_per_user: u32,
    /// `auth.login_throttle.max_failures_per_client`
    pub max_failures_per_client: u32,
    /// `auth.login_throttle.window_secs`
    pub window_secs: u64,
}

impl Default for RawLoginThrottle {
    fn default() -> Self {
        RawLoginThrottle {
            max_failures_per_user: 5,
            max_failures_per_client: 20,
            window_secs: 900,
        }
    }
}

/// `[access]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "an [access] table")]
pub struct RawAccess {
    /// `access.public`: anonymous users may browse and stream.
    pub public: bool,
}

/// `[log]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [log] table")]
pub struct RawLog {
    /// `log.format`
    pub format: LogFormat,
    /// `log.level`: a tracing `EnvFilter` directive.
    pub level: String,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

/// `[uploads]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "an [uploads] table")]
pub struct RawUploads {
    /// `uploads.max_file_bytes`: largest audio file an artist may upload.
    pub max_file_bytes: u64,
    /// `uploads.max_request_bytes`: largest upload request (an album's files together).
    pub max_request_bytes: u64,
}

impl Default for RawUploads {
    fn default() -> Self {
        RawUploads {
            max_file_bytes: 1024 * MIB,
            max_request_bytes: 4096 * MIB,
        }
    }
}

/// `[uploads]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadsConfig {
    /// Largest audio file, in bytes.
    pub max_file_bytes: u64,
    /// Largest upload request, in bytes.
    pub max_request_bytes: u64,
}

/// `[transcode]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [transcode] table")]
pub struct RawTranscode {
    /// `transcode.max_concurrent`: transcodes running at once; 0 means one per CPU.
    pub max_concurrent: u32,
    /// `transcode.cache_max_mb`: total size of finished transcodes kept, in MiB.
    pub cache_max_mb: u64,
    /// `transcode.default_profile`: the profile whose codec serves `?bitrate=` alone and the
    /// per-user cap on originals.
    pub default_profile: String,
    /// `[transcode.profiles.NAME]`: named qualities for `?quality=NAME`.
    pub profiles: BTreeMap<String, RawProfile>,
}

/// `[transcode.profiles.NAME]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a profile table with format and bitrate_kbps"
)]
pub struct RawProfile {
    /// `format`: `"opus"` (in Ogg) or `"mp3"`.
    pub format: Codec,
    /// `bitrate_kbps`: target bitrate.
    pub bitrate_kbps: u32,
}

impl Default for RawTranscode {
    fn default() -> Self {
        let profile = |format, bitrate_kbps| RawProfile {
            format,
            bitrate_kbps,
        };
        RawTranscode {
            max_concurrent: 0,
            cache_max_mb: 1024,
            default_profile: "mobile".to_owned(),
            profiles: BTreeMap::from([
                ("low".to_owned(), profile(Codec::Opus, 48)),
                ("mobile".to_owned(), profile(Codec::Opus, 96)),
                ("high".to_owned(), profile(Codec::Opus, 160)),
                ("compatible".to_owned(), profile(Codec::Mp3, 192)),
            ]),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validated config
// ---------------------------------------------------------------------------------------------

/// The validated configuration the server runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// HTTP listener and request limits.
    pub server: ServerConfig,
    /// On-disk state.
    pub data: DataConfig,
    /// Media folders.
    pub library: LibraryConfig,
    /// Accounts and tokens.
    pub auth: AuthConfig,
    /// Anonymous access.
    pub access: AccessConfig,
    /// Logging.
    pub log: LogConfig,
    /// Transcoding.
    pub transcode: TranscodeConfig,
    /// Artists' uploads.
    pub uploads: UploadsConfig,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// The Subsonic API.
    pub subsonic: SubsonicConfig,
}

/// `[server]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address the HTTP listener binds.
    pub listen: SocketAddr,
    /// How long a graceful shutdown waits before open streams are cut.
    pub drain_timeout: Duration,
    /// Largest accepted JSON request body, in bytes.
    pub max_json_body_bytes: u64,
    /// Largest accepted image upload (avatars), in bytes.
    pub max_image_body_bytes: u64,
    /// Path prefix every URL is served under: `""` or `/segment[/segment...]`, no trailing
    /// slash.
    pub base_url: String,
    /// Peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// `[data]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataConfig {
    /// Directory for the store, uploads and caches; created if missing.
    pub dir: PathBuf,
    /// The store's page cache, in bytes.
    pub cache_capacity_bytes: u64,
}

/// `[library]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryConfig {
    /// Media folders, never written by musewave; created if missing. Never empty.
    pub folders: Vec<PathBuf>,
    /// Separators between artist names inside one tag value (matched ignoring ASCII case).
    pub artist_separators: Vec<String>,
    /// Artist names that are never split, whatever separators they contain.
    pub artist_exceptions: Vec<String>,
}

/// `[auth]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Who may create an account.
    pub registration: Registration,
    /// Token signing key; `None` means generate one on first run and keep it in the data dir.
    pub jwt_secret: Option<Secret>,
    /// Lifetime of an access token.
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token.
    pub refresh_token_ttl: Duration,
    /// Lifetime of a stream token.
    pub stream_token_ttl: Duration,
    /// Limits on failed logins.
    pub login_throttle: LoginThrottleConfig,
}

/// `[auth.login_throttle]`, validated: failed logins allowed within a sliding window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginThrottleConfig {
    /// Failures allowed for one user name (slows guessing one account's password).
    pub max_failures_per_user: u32,
    /// Failures allowed from one client address (slows trying many accounts).
    pub max_failures_per_client: u32,
    /// The window the failures are counted over.
    pub window: Duration,
}

/// `[access]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessConfig {
    /// Anonymous users may browse and stream.
    pub public: bool,
}

/// `[log]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Line format.
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive; `RUST_LOG` wins when set.
    pub level: String,
}

/// `[transcode]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscodeConfig {
    /// Transcodes allowed to run at once (at least 1).
    pub max_concurrent: usize,
    /// Whether `max_concurrent` was left to the number of CPUs (shown as 0 again).
    pub max_concurrent_auto: bool,
    /// Total size of the transcode cache, in bytes.
    pub cache_max_bytes: u64,
    /// Name of the default profile; always a key of `profiles`.
    pub default_profile: String,
    /// Named qualities; `original` is reserved for the untouched file.
    pub profiles: BTreeMap<String, TranscodeProfile>,
}

impl TranscodeConfig {
    /// The default profile.
    pub fn default_profile(&self) -> TranscodeProfile {
        // Validation guarantees the name is a key; the fallback is never taken.
        self.profiles
            .get(&self.default_profile)
            .copied()
            .unwrap_or(TranscodeProfile {
                codec: Codec::Opus,
                bitrate_kbps: 96,
            })
    }
}

/// A named transcoding quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranscodeProfile {
    /// Output codec.
    pub codec: Codec,
    /// Target bitrate, as the encoder will use it (MP3 rounded to a LAME rate).
    pub bitrate_kbps: u32,
}

/// The profile name that means "the original file, untouched".
pub const ORIGINAL_PROFILE: &str = "original";

fn validate_transcode(raw: RawTranscode) -> Result<TranscodeConfig, ConfigError> {
    let auto = raw.max_concurrent == 0;
    let max_concurrent = if auto {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        raw.max_concurrent as usize
    };
    let cache_max_bytes = raw.cache_max_mb.checked_mul(MIB).ok_or_else(|| {
        invalid(
            "transcode.cache_max_mb",
            format!("{} MiB is too large", raw.cache_max_mb),
        )
    })?;
    let mut profiles = BTreeMap::new();
    for (name, p) in raw.profiles {
        let key = format!("transcode.profiles.{name}");
        let well_formed = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !well_formed {
            return Err(invalid(
                &key,
                "expected a profile name of lowercase letters, digits, '-' and '_'",
            ));
        }
        if name == ORIGINAL_PROFILE {
            return Err(invalid(
                &key,
                "\"original\" is built in (the untouched file) and cannot be redefined",
            ));
        }
        let spec = Spec {
            codec: p.format,
            bitrate_kbps: p.bitrate_kbps,
            offset_secs: 0.0,
        }
        .validate()
        .map_err(|e| invalid(&format!("{key}.bitrate_kbps"), e.to_string()))?;
        profiles.insert(
            name,
            TranscodeProfile {
                codec: spec.codec,
                bitrate_kbps: spec.bitrate_kbps,
            },
        );
    }
    if !profiles.contains_key(&raw.default_profile) {
        return Err(invalid(
            "transcode.default_profile",
            format!(
                "expected the name of a profile ({}), found {:?}",
                profiles.keys().cloned().collect::<Vec<_>>().join(", "),
                raw.default_profile
            ),
        ));
    }
    Ok(TranscodeConfig {
        max_concurrent,
        max_concurrent_auto: auto,
        cache_max_bytes,
        default_profile: raw.default_profile,
        profiles,
    })
}

impl Default for Config {
    /// The built-in defaults, as documented in `config.toml.example`.
    fn default() -> Self {
        // The defaults are checked by the `defaults` test; failing here is a bug in this file.
        Config::try_from(RawConfig::default()).expect("built-in defaults are valid")
    }
}

fn invalid(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_owned(),
        origin: None,
        problem: problem.into(),
    }
}

fn positive<T: Into<u64> + Copy>(key: &str, value: T, what: &str) -> Result<T, ConfigError> {
    if value.into() == 0 {
        Err(invalid(
            key,
            format!("expected {what} greater than 0, found 0"),
        ))
    } else {
        Ok(value)
    }
}

fn non_empty_path(key: &str, path: PathBuf) -> Result<PathBuf, ConfigError> {
    if path.as_os_str().is_empty() {
        Err(invalid(key, "expected a path, found an empty string"))
    } else {
        Ok(path)
    }
}

impl TryFrom<RawConfig> for Config {
    type Error = ConfigError;

    /// Checks every value and converts it to its working type. Errors name the key but not the
    /// source; [`load`] adds the source.
    fn try_from(raw: RawConfig) -> Result<Self, Self::Error> {
        let RawConfig {
            server,
            data,
            library,
            auth,
            access,
            log,
            transcode,
            uploads,
            metrics,
            subsonic,
        } = raw;

        let listen = server.listen.parse::<SocketAddr>().map_err(|_| {
            invalid(
                "server.listen",
                format!(
                    "expected an IP address and port such as \"127.0.0.1:4533\" or \"[::]:4533\" \
                     (host names are not resolved), found {:?}",
                    server.listen
                ),
            )
        })?;
        let server = ServerConfig {
            listen,
            drain_timeout: Duration::from_secs(server.drain_timeout_secs),
            max_json_body_bytes: positive(
                "server.max_json_body_bytes",
                server.max_json_body_bytes,
                "a size in bytes",
            )?,
            max_image_body_bytes: positive(
                "server.max_image_body_bytes",
                server.max_image_body_bytes,
                "a size in bytes",
            )?,
            base_url: validate_base_url(&server.base_url)?,
            trusted_proxies: server
                .trusted_proxies
                .iter()
                .map(|p| parse_proxy(p))
                .collect::<Result<_, _>>()?,
        };

        let metrics = MetricsConfig {
            enabled: metrics.enabled,
            listen: if metrics.listen.trim().is_empty() {
                None
            } else {
                Some(metrics.listen.trim().parse::<SocketAddr>().map_err(|_| {
                    invalid(
                        "metrics.listen",
                        format!(
                            "expected \"\" (the main listener) or an IP address and port such as \
                             \"127.0.0.1:9090\", found {:?}",
                            metrics.listen
                        ),
                    )
                })?)
            },
        };

        let cache_mb = positive(
            "data.cache_capacity_mb",
            data.cache_capacity_mb,
            "a size in MiB",
        )?;
        let data = DataConfig {
            dir: non_empty_path("data.dir", data.dir)?,
            cache_capacity_bytes: cache_mb.checked_mul(MIB).ok_or_else(|| {
                invalid(
                    "data.cache_capacity_mb",
                    format!("{cache_mb} MiB is too large"),
                )
            })?,
        };

        if library.folders.is_empty() {
            return Err(invalid(
                "library.folders",
                "expected at least one folder, found an empty list",
            ));
        }
        let folders = library
            .folders
            .into_iter()
            .map(|f| non_empty_path("library.folders", f))
            .collect::<Result<Vec<_>, _>>()?;
        if library.artist_separators.iter().any(String::is_empty) {
            return Err(invalid(
                "library.artist_separators",
                "expected non-empty separators, found an empty string",
            ));
        }
        let library = LibraryConfig {
            folders,
            artist_separators: library.artist_separators,
            artist_exceptions: library.artist_exceptions,
        };

        // Empty means unset: it is the only way an environment variable (or a secret file left
        // empty) can say so.
        let jwt_secret = auth.jwt_secret.filter(|s| !s.expose().is_empty());
        if let Some(secret) = &jwt_secret {
            if secret.expose().len() < MIN_JWT_SECRET_BYTES {
                return Err(invalid(
                    "auth.jwt_secret",
                    format!(
                        "expected at least {MIN_JWT_SECRET_BYTES} bytes, found {} \
                         (leave it unset to have a strong one generated)",
                        secret.expose().len()
                    ),
                ));
            }
        }
        let refresh_days = positive(
            "auth.refresh_token_ttl_days",
            auth.refresh_token_ttl_days,
            "a number of days",
        )?;
        let throttle = auth.login_throttle;
        let auth = AuthConfig {
            registration: auth.registration,
            jwt_secret,
            access_token_ttl: Duration::from_secs(positive(
                "auth.access_token_ttl_secs",
                auth.access_token_ttl_secs,
                "a number of seconds",
            )?),
            refresh_token_ttl: Duration::from_secs(
                refresh_days.checked_mul(SECS_PER_DAY).ok_or_else(|| {
                    invalid(
                        "auth.refresh_token_ttl_days",
                        format!("{refresh_days} days is too long"),
                    )
                })?,
            ),
            stream_token_ttl: Duration::from_secs(positive(
                "auth.stream_token_ttl_secs",
                auth.stream_token_ttl_secs,
                "a number of seconds",
            )?),
            login_throttle: LoginThrottleConfig {
                max_failures_per_user: positive(
                    "auth.login_throttle.max_failures_per_user",
                    throttle.max_failures_per_user,
                    "a count",
                )?,
                max_failures_per_client: positive(
                    "auth.login_throttle.max_failures_per_client",
                    throttle.max_failures_per_client,
                    "a count",
                )?,
                window: Duration::from_secs(positive(
                    "auth.login_throttle.window_secs",
                    throttle.window_secs,
                    "a number of seconds",
                )?),
            },
        };

        if log.level.trim().is_empty() {
            return Err(invalid(
                "log.level",
                "expected a tracing filter such as \"info\" or \"musewave=debug,info\", found an empty string",
            ));
        }

        Ok(Config {
            server,
            data,
            library,
            auth,
            access: AccessConfig {
                public: access.public,
            },
            log: LogConfig {
                format: log.format,
                level: log.level,
            },
            transcode: validate_transcode(transcode)?,
            uploads: UploadsConfig {
                max_file_bytes: positive(
                    "uploads.max_file_bytes",
                    uploads.max_file_bytes,
                    "a size in bytes",
                )?,
                max_request_bytes: positive(
                    "uploads.max_request_bytes",
                    uploads.max_request_bytes,
                    "a size in bytes",
                )?,
            },
            metrics,
            subsonic,
        })
    }
}

/// `""` or `/a/b`: a leading slash is added and trailing ones dropped, so `music/` and
/// `/music` mean the same.
fn validate_base_url(raw: &str) -> Result<String, ConfigError> {
    let trimmed = raw.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let well_formed = trimmed.split('/').all(|seg| {
        !seg.is_empty()
            && seg != "."
            && seg != ".."
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    });
    if !well_formed {
        return Err(invalid(
            "server.base_url",
            format!(
                "expected a path prefix such as \"/music\" (letters, digits, '-', '.', '_', '~' \
                 between slashes), found {raw:?}"
            ),
        ));
    }
    Ok(format!("/{trimmed}"))
}

/// One `server.trusted_proxies` entry: an address (`10.0.0.1`) or a range (`10.0.0.0/8`).
fn parse_proxy(raw: &str) -> Result<ipnet::IpNet, ConfigError> {
    let text = raw.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| {
            invalid(
                "server.trusted_proxies",
                format!(
                    "expected an IP address or a CIDR range such as \"10.0.0.0/8\", found {raw:?}"
                ),
            )
        })
}

impl From<&Config> for RawConfig {
    /// The file form of a validated config. Paths that are not UTF-8 are converted lossily, as
    /// this form is for showing and TOML cannot hold them anyway.
    fn from(config: &Config) -> Self {
        let lossy = |p: &Path| PathBuf::from(p.to_string_lossy().into_owned());
        RawConfig {
            server: RawServer {
                listen: config.server.listen.to_string(),
                drain_timeout_secs: config.server.drain_timeout.as_secs(),
                max_json_body_bytes: config.server.max_json_body_bytes,
                max_image_body_bytes: config.server.max_image_body_bytes,
                base_url: config.server.base_url.clone(),
                trusted_proxies: config
                    .server
                    .trusted_proxies
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            },
            data: RawData {
                dir: lossy(&config.data.dir),
                cache_capacity_mb: config.data.cache_capacity_bytes / MIB,
            },
            library: RawLibrary {
                folders: config.library.folders.iter().map(|f| lossy(f)).collect(),
                artist_separators: config.library.artist_separators.clone(),
                artist_exceptions: config.library.artist_exceptions.clone(),
            },
            auth: RawAuth {
                registration: config.auth.registration,
                jwt_secret: config.auth.jwt_secret.clone(),
                access_token_ttl_secs: config.auth.access_token_ttl.as_secs(),
                refresh_token_ttl_days: config.auth.refresh_token_ttl.as_secs() / SECS_PER_DAY,
                stream_token_ttl_secs: config.auth.stream_token_ttl.as_secs(),
                login_throttle: RawLoginThrottle {
                    max_failures_per_user: config.auth.login_throttle.max_failures_per_user,
                    max_failures_per_client: config.auth.login_throttle.max_failures_per_client,
                    window_secs: config.auth.login_throttle.window.as_secs(),
                },
            },
            access: RawAccess {
                public: config.access.public,
            },
            log: RawLog {
                format: config.log.format,
                level: config.log.level.clone(),
            },
            transcode: RawTranscode {
                max_concurrent: if config.transcode.max_concurrent_auto {
                    0
                } else {
                    u32::try_from(config.transcode.max_concurrent).unwrap_or(u32::MAX)
                },
                cache_max_mb: config.transcode.cache_max_bytes / MIB,
                default_profile: config.transcode.default_profile.clone(),
                profiles: config
                    .transcode
                    .profiles
                    .iter()
                    .map(|(name, p)| {
                        (
                            name.clone(),
                            RawProfile {
                                format: p.codec,
                                bitrate_kbps: p.bitrate_kbps,
                            },
                        )
                    })
                    .collect(),
            },
            uploads: RawUploads {
                max_file_bytes: config.uploads.max_file_bytes,
                max_request_bytes: config.uploads.max_request_bytes,
            },
            metrics: RawMetrics {
                enabled: config.metrics.enabled,
                listen: config
                    .metrics
                    .listen
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
            },
            subsonic: config.subsonic.clone(),
        }
    }
}

impl Config {
    /// The secret stored under `key` (one of [`SECRET_KEYS`]).
    fn secret(&self, key: &str) -> Option<&Secret> {
        match key {
            "auth.jwt_secret" => self.auth.jwt_secret.as_ref(),
            _ => None,
        }
    }

    /// The effective configuration as TOML, for `musewave config check`. Secrets that are set
    /// show as `"[redacted]"`; unset ones are a comment, so pasting the output into a config file
    /// gives the same configuration rather than a placeholder secret.
    pub fn effective_toml(&self) -> String {
        let body = toml::to_string(&RawConfig::from(self))
            .unwrap_or_else(|e| format!("# the configuration cannot be shown as TOML: {e}\n"));
        let mut out = String::from(
            "# Effective musewave configuration: built-in defaults, config file, MUSEWAVE_*\n\
             # environment variables and command-line flags, merged.\n\n",
        );
        for line in body.lines() {
            out.push_str(line);
            out.push('\n');
            for key in SECRET_KEYS {
                let Some((table, leaf)) = key.rsplit_once('.') else {
                    continue;
                };
                if line == format!("[{table}]") && self.secret(key).is_none() {
                    out.push_str(&format!(
                        "# {leaf} is not set: it is generated on first run and kept in the data dir\n"
                    ));
                }
            }
        }
        out
    }
}

/// Keys a running server takes from a reloaded configuration (SIGHUP); any other change
/// waits for a restart.
pub const RELOADABLE_KEYS: &[&str] = &["log.level", "library.folders"];

fn flatten(value: &toml::Value, prefix: &str, out: &mut BTreeMap<String, toml::Value>) {
    match value {
        toml::Value::Table(table) if !table.is_empty() => {
            for (k, v) in table {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(v, &path, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other.clone());
        }
    }
}

/// The dotted keys whose values differ between two configurations, in order.
pub fn changed_keys(old: &Config, new: &Config) -> Vec<String> {
    let leaves = |c: &Config| {
        let mut out = BTreeMap::new();
        if let Ok(v) = toml::Value::try_from(RawConfig::from(c)) {
            flatten(&v, "", &mut out);
        }
        out
    };
    let (a, b) = (leaves(old), leaves(new));
    let mut keys: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    // Secrets serialize redacted, so they are compared by value.
    for key in SECRET_KEYS {
        if old.secret(key) != new.secret(key) {
            keys.push((*key).to_owned());
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The TOML file at this path.
    File(PathBuf),
    /// This environment variable.
    Env(String),
    /// A command-line flag.
    CommandLine,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::CommandLine => f.write_str("command-line flags"),
        }
    }
}

fn in_origin(origin: &Option<Origin>) -> String {
    origin
        .as_ref()
        .map(|o| format!(" in {o}"))
        .unwrap_or_default()
}

/// Why configuration could not be loaded. `Display` is the message for the operator.
//
// I/O errors are part of the message rather than `source()`: the message is complete on its
// own and a reporter that walks the chain does not print the cause twice.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file given with `--config` is missing or unreadable.
    #[error("cannot read config file {}: {error}", .path.display())]
    UnreadableFile {
        /// The path given.
        path: PathBuf,
        /// What reading it said.
        error: io::Error,
    },
    /// The config file is not valid TOML.
    #[error("config file {} is not valid TOML: {message}", .path.display())]
    InvalidToml {
        /// The file.
        path: PathBuf,
        /// The parser's description, with line and column.
        message: String,
    },
    /// A key that musewave does not know, usually a typo.
    #[error("unknown key '{key}'{}; expected one of: {}", in_origin(.origin), .expected.join(", "))]
    UnknownKey {
        /// Dotted path of the key, e.g. `server.lisen`.
        key: String,
        /// Where it was set.
        origin: Option<Origin>,
        /// The keys valid at that level.
        expected: Vec<&'static str>,
    },
    /// A known key with a value of the wrong type or out of range.
    #[error("invalid value for '{key}'{}: {problem}", in_origin(.origin))]
    InvalidValue {
        /// Dotted path of the key, e.g. `server.listen`.
        key: String,
        /// Where it was set, when known.
        origin: Option<Origin>,
        /// What was expected and what was found (never a secret's value).
        problem: String,
    },
    /// A `*_FILE` variable for a key that is not a secret.
    #[error(
        "environment variable {var} reads '{key}' from a file, but only secrets can be read from \
         a file ({})",
        SECRET_KEYS.join(", ")
    )]
    FileVarNotSecret {
        /// The variable, e.g. `MUSEWAVE_SERVER__LISTEN_FILE`.
        var: String,
        /// The key it would set.
        key: String,
    },
    /// The file named by a `*_FILE` variable cannot be read.
    #[error("cannot read the file named by environment variable {var} ({}): {error}", .path.display())]
    UnreadableSecretFile {
        /// The variable.
        var: String,
        /// The file it names.
        path: PathBuf,
        /// What reading it said.
        error: io::Error,
    },
    /// A secret set both directly and through its `*_FILE` variable.
    #[error("environment variables {var} and {var}_FILE are both set; set only one")]
    ConflictingSecretVars {
        /// The direct variable, e.g. `MUSEWAVE_AUTH__JWT_SECRET`.
        var: String,
    },
}

impl ConfigError {
    fn with_origin(mut self, find: impl FnOnce(&str) -> Option<Origin>) -> Self {
        if let ConfigError::InvalidValue {
            key,
            origin: origin @ None,
            ..
        }
        | ConfigError::UnknownKey {
            key,
            origin: origin @ None,
            ..
        } = &mut self
        {
            *origin = find(key);
        }
        self
    }
}

fn origin_of(metadata: &Metadata) -> Option<Origin> {
    match metadata.source.as_ref()? {
        Source::File(path) => Some(Origin::File(path.clone())),
        Source::Custom(var) => Some(Origin::Env(var.clone())),
        _ => None,
    }
}

/// Serde's names for expected types, said for a person.
fn describe_expected(expected: &str) -> String {
    match expected {
        "u64" => "a whole number, 0 or more".to_owned(),
        "u32" => format!("a whole number from 0 to {}", u32::MAX),
        "a boolean" => "true or false".to_owned(),
        "a sequence" => "a list".to_owned(),
        "path string" => "a path".to_owned(),
        other => other.to_owned(),
    }
}

fn describe_actual(actual: &Actual) -> String {
    match actual {
        Actual::Str(s) => format!("{s:?}"),
        Actual::Bool(b) => b.to_string(),
        Actual::Unsigned(n) => n.to_string(),
        Actual::Signed(n) => n.to_string(),
        Actual::Float(n) => n.to_string(),
        Actual::Char(c) => format!("{c:?}"),
        Actual::Seq => "a list".to_owned(),
        Actual::Map => "a table".to_owned(),
        Actual::Unit | Actual::Option => "nothing".to_owned(),
        other => other.to_string(),
    }
}

impl From<figment::Error> for ConfigError {
    fn from(error: figment::Error) -> Self {
        let key = if error.path.is_empty() {
            "(top level)".to_owned()
        } else {
            error.path.join(".")
        };
        let origin = error.metadata.as_ref().and_then(origin_of);
        let secret = SECRET_KEYS.contains(&key.as_str());
        let found = |actual: &Actual| {
            if secret {
                String::new()
            } else {
                format!(", found {}", describe_actual(actual))
            }
        };
        let problem = match error.kind {
            Kind::UnknownField(_, expected) => {
                return ConfigError::UnknownKey {
                    key,
                    origin,
                    expected: expected.to_vec(),
                };
            }
            Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
                format!(
                    "expected {}{}",
                    describe_expected(&expected),
                    found(&actual)
                )
            }
            Kind::UnknownVariant(variant, expected) => {
                let names: Vec<String> = expected.iter().map(|e| format!("\"{e}\"")).collect();
                let found = if secret {
                    String::new()
                } else {
                    format!(", found {variant:?}")
                };
                format!("expected one of {}{found}", names.join(", "))
            }
            Kind::InvalidLength(len, expected) => format!("expected {expected}, found {len} items"),
            // A custom message may quote the value.
            Kind::Message(_) if secret => "not a valid secret".to_owned(),
            other => other.to_string(),
        };
        ConfigError::InvalidValue {
            key,
            origin,
            problem,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// Values given on the command line; each `Some` replaces whatever the other layers said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--listen`: replaces `server.listen`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir`: replaces `data.dir`.
    pub data_dir: Option<PathBuf>,
    /// `--media-folder` (repeatable): replaces the whole `library.folders` list.
    pub media_folders: Option<Vec<PathBuf>>,
    /// `--log-format`: replaces `log.format`.
    pub log_format: Option<LogFormat>,
    /// `--registration`: replaces `auth.registration`.
    pub registration: Option<Registration>,
}

impl Overrides {
    fn apply(&self, raw: &mut RawConfig) {
        if let Some(listen) = self.listen {
            raw.server.listen = listen.to_string();
        }
        if let Some(dir) = &self.data_dir {
            raw.data.dir = dir.clone();
        }
        if let Some(folders) = &self.media_folders {
            raw.library.folders = folders.clone();
        }
        if let Some(format) = self.log_format {
            raw.log.format = format;
        }
        if let Some(registration) = self.registration {
            raw.auth.registration = registration;
        }
    }

    fn sets(&self, key: &str) -> bool {
        match key {
            "server.listen" => self.listen.is_some(),
            "data.dir" => self.data_dir.is_some(),
            "library.folders" => self.media_folders.is_some(),
            "log.format" => self.log_format.is_some(),
            "auth.registration" => self.registration.is_some(),
            _ => false,
        }
    }
}

/// One source of values: the config file, or a single environment variable. One provider per
/// variable gives each value its own figment metadata, so errors name the exact variable.
struct Layer {
    metadata: Metadata,
    dict: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

fn file_layer(path: &Path) -> Result<Layer, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::UnreadableFile {
        path: path.to_owned(),
        error,
    })?;
    let dict = toml::from_str::<Dict>(&text).map_err(|e| ConfigError::InvalidToml {
        path: path.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    Ok(Layer {
        metadata: Metadata::from("config file", path),
        dict,
    })
}

/// Turns `SERVER__LISTEN` into `["server", "listen"]`.
fn env_key(name: &str) -> Vec<String> {
    name.split("__").map(str::to_ascii_lowercase).collect()
}

fn lookup<'a>(value: &'a toml::Value, path: &[String]) -> Option<&'a toml::Value> {
    path.iter().try_fold(value, |v, seg| v.get(seg.as_str()))
}

/// Environment values are text; read each as the type of its key's default, so `30` is a
/// number for `server.drain_timeout_secs` but stays text for a string key.
fn env_value(
    var: &str,
    key: &[String],
    text: &str,
    defaults: &toml::Value,
) -> Result<Value, ConfigError> {
    let as_text = Value::from(text);
    let value = match lookup(defaults, key) {
        Some(toml::Value::Integer(_)) => {
            as_text.to_num_lossy().map(|n| Value::Num(Tag::Default, n))
        }
        Some(toml::Value::Boolean(_)) => as_text
            .to_bool_lossy()
            .map(|b| Value::Bool(Tag::Default, b)),
        // A list is either one item (the common case: one media folder) or a TOML array.
        Some(toml::Value::Array(_)) if text.trim_start().starts_with('[') => {
            let mut parsed = toml::from_str::<Dict>(&format!("list = {text}")).map_err(|_| {
                ConfigError::InvalidValue {
                    key: key.join("."),
                    origin: Some(Origin::Env(var.to_owned())),
                    problem: format!(
                        "expected one item or a TOML array such as [\"/music\", \"/more music\"], \
                         found {text:?}"
                    ),
                }
            })?;
            parsed.remove("list")
        }
        Some(toml::Value::Array(_)) => Some(Value::from(vec![text])),
        _ => None,
    };
    // Text that does not parse stays text; deserializing then reports it against the key.
    Ok(value.unwrap_or(as_text))
}

fn nest(key: &[String], value: Value) -> Dict {
    let mut value = value;
    for seg in key.iter().skip(1).rev() {
        value = Value::from(Dict::from([(seg.clone(), value)]));
    }
    Dict::from([(key[0].clone(), value)])
}

/// Drops one trailing line ending, as left by `echo secret > file` or an editor.
fn trim_newline(mut contents: String) -> String {
    if contents.ends_with('\n') {
        contents.pop();
        if contents.ends_with('\r') {
            contents.pop();
        }
    }
    contents
}

fn env_layers(
    env: impl IntoIterator<Item = (String, String)>,
    defaults: &toml::Value,
) -> Result<Vec<Layer>, ConfigError> {
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(var, _)| {
            var.starts_with(ENV_PREFIX) && !NON_CONFIG_ENV_VARS.contains(&var.as_str())
        })
        .collect();
    // Sorted so that the outcome never depends on the order the OS lists variables in.
    vars.sort();

    let mut layers = Vec::with_capacity(vars.len());
    for (var, text) in &vars {
        let name = &var[ENV_PREFIX.len()..];
        let (key, value) = match name.strip_suffix("_FILE") {
            Some(stem) => {
                let key = env_key(stem);
                let dotted = key.join(".");
                if !SECRET_KEYS.contains(&dotted.as_str()) {
                    return Err(ConfigError::FileVarNotSecret {
                        var: var.clone(),
                        key: dotted,
                    });
                }
                let direct = format!("{ENV_PREFIX}{stem}");
                if vars.iter().any(|(v, _)| *v == direct) {
                    return Err(ConfigError::ConflictingSecretVars { var: direct });
                }
                let contents = std::fs::read_to_string(text).map_err(|error| {
                    ConfigError::UnreadableSecretFile {
                        var: var.clone(),
                        path: PathBuf::from(text),
                        error,
                    }
                })?;
                (key, Value::from(trim_newline(contents)))
            }
            None => {
                let key = env_key(name);
                let value = env_value(var, &key, text, defaults)?;
                (key, value)
            }
        };
        layers.push(Layer {
            metadata: Metadata::from("environment variable", Source::Custom(var.clone())),
            dict: nest(&key, value),
        });
    }
    Ok(layers)
}

/// Loads the configuration: built-in defaults, then `file` (if given; a missing file is an
/// error), then the `MUSEWAVE_*` variables in `env`, then `overrides`, and validates the result.
///
/// The binary passes `std::env::vars()`; tests pass their own pairs and never touch the process
/// environment.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    overrides: &Overrides,
) -> Result<Config, ConfigError> {
    // Serde defaults fill what no layer sets, so the defaults need no figment layer; their
    // serialized form tells the environment layer which keys are numbers, flags or lists.
    let defaults = toml::Value::try_from(RawConfig::default())
        .expect("the default RawConfig serializes to TOML");

    let mut figment = Figment::new();
    if let Some(path) = file {
        figment = figment.merge(file_layer(path)?);
    }
    for layer in env_layers(env, &defaults)? {
        figment = figment.merge(layer);
    }

    let mut raw: RawConfig = figment.extract()?;
    overrides.apply(&mut raw);
    Config::try_from(raw).map_err(|e| {
        e.with_origin(|key| {
            if overrides.sets(key) {
                Some(Origin::CommandLine)
            } else {
                figment.find_metadata(key).and_then(origin_of)
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn file(contents: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(contents.as_bytes()).unwrap();
        f
    }

    fn load_err(file: Option<&Path>, pairs: &[(&str, &str)]) -> String {
        load(file, env(pairs), &Overrides::default())
            .unwrap_err()
            .to_string()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef-very-secret";

    #[test]
    fn defaults() {
        let config = load(None, env(&[]), &Overrides::default()).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.server.listen, "127.0.0.1:4533".parse().unwrap());
        assert_eq!(config.server.drain_timeout, Duration::from_secs(10));
        assert_eq!(config.server.max_json_body_bytes, 1_048_576);
        assert_eq!(config.server.max_image_body_bytes, 10_485_760);
        assert_eq!(config.data.dir, PathBuf::from("./musewave-data"));
        assert_eq!(config.data.cache_capacity_bytes, 16 * 1024 * 1024);
        assert_eq!(config.library.folders, vec![PathBuf::from("./music")]);
        assert_eq!(config.auth.registration, Registration::Closed);
        assert_eq!(config.auth.jwt_secret, None);
        assert_eq!(config.auth.access_token_ttl, Duration::from_secs(900));
        assert_eq!(config.auth.stream_token_ttl, Duration::from_secs(3600));
        assert_eq!(
            config.auth.refresh_token_ttl,
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(config.auth.login_throttle.max_failures_per_user, 5);
        assert_eq!(config.auth.login_throttle.max_failures_per_client, 20);
        assert_eq!(config.auth.login_throttle.window, Duration::from_secs(900));
        assert!(!config.access.public);
        assert_eq!(config.log.format, LogFormat::Text);
        assert_eq!(config.log.level, "info");
        assert!(config.transcode.max_concurrent >= 1);
        assert_eq!(config.transcode.cache_max_bytes, 1024 * 1024 * 1024);
        assert_eq!(
            config.transcode.default_profile(),
            TranscodeProfile {
                codec: Codec::Opus,
                bitrate_kbps: 96
            }
        );
        assert_eq!(config.transcode.profiles.len(), 4);
    }

    #[test]
    fn transcode_profiles_are_validated() {
        let bad = |toml: &str, needle: &str| {
            let f = file(toml);
            let err = load_err(Some(f.path()), &[]);
            assert!(err.contains(needle), "{err}");
        };
        bad(
            "[transcode]\ndefault_profile = \"nope\"",
            "transcode.default_profile",
        );
        bad(
            "[transcode]\ndefault_profile = \"original\"\n[transcode.profiles.original]\nformat = \"opus\"\nbitrate_kbps = 64",
            "transcode.profiles.original",
        );
        bad(
            "[transcode]\ndefault_profile = \"x\"\n[transcode.profiles.x]\nformat = \"opus\"\nbitrate_kbps = 9000",
            "transcode.profiles.x.bitrate_kbps",
        );
        bad(
            "[transcode]\ndefault_profile = \"x\"\n[transcode.profiles.x]\nformat = \"aac\"\nbitrate_kbps = 96",
            "format",
        );
        let config = load(
            None,
            env(&[
                ("MUSEWAVE_TRANSCODE__MAX_CONCURRENT", "3"),
                ("MUSEWAVE_TRANSCODE__CACHE_MAX_MB", "2"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.transcode.max_concurrent, 3);
        assert_eq!(config.transcode.cache_max_bytes, 2 * 1024 * 1024);
    }

    #[test]
    fn example_file_equals_defaults() {
        let example = include_str!("../config.toml.example");
        let f = file(example);
        let config = load(Some(f.path()), env(&[]), &Overrides::default()).unwrap();
        assert_eq!(config, Config::default());
    }

    fn leaf_keys(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
        match value {
            toml::Value::Table(table) => {
                for (k, v) in table {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaf_keys(v, &path, out);
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }

    #[test]
    fn example_file_documents_every_key() {
        let example = include_str!("../config.toml.example");
        let mut documented = Vec::new();
        leaf_keys(&toml::from_str(example).unwrap(), "", &mut documented);
        let mut known = Vec::new();
        leaf_keys(
            &toml::Value::try_from(RawConfig::default()).unwrap(),
            "",
            &mut known,
        );
        documented.sort();
        known.sort();
        assert_eq!(documented, known);
        // Secrets have no default value, so the example shows them commented out.
        for key in SECRET_KEYS {
            let leaf = key.rsplit('.').next().unwrap();
            assert!(
                example.contains(&format!("# {leaf} = ")),
                "{key} is not documented"
            );
        }
    }

    #[test]
    fn file_overrides_defaults() {
        let f = file(
            r#"
            [server]
            listen = "0.0.0.0:8080"
            drain_timeout_secs = 3

            [library]
            folders = ["/srv/music", "/mnt/more music"]

            [auth]
            registration = "invite"

            [auth.login_throttle]
            window_secs = 60

            [access]
            public = true
            "#,
        );
        let config = load(Some(f.path()), env(&[]), &Overrides::default()).unwrap();
        assert_eq!(config.server.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(config.server.drain_timeout, Duration::from_secs(3));
        assert_eq!(
            config.server.max_json_body_bytes, 1_048_576,
            "unset keys keep defaults"
        );
        assert_eq!(
            config.library.folders,
            vec![
                PathBuf::from("/srv/music"),
                PathBuf::from("/mnt/more music")
            ]
        );
        assert_eq!(config.auth.registration, Registration::Invite);
        assert_eq!(config.auth.login_throttle.window, Duration::from_secs(60));
        assert_eq!(config.auth.login_throttle.max_failures_per_user, 5);
        assert!(config.access.public);
    }

    #[test]
    fn env_overrides_file_and_nests_with_double_underscore() {
        let f = file("[server]\nlisten = \"0.0.0.0:8080\"\n[log]\nlevel = \"debug\"\n");
        let config = load(
            Some(f.path()),
            env(&[
                ("MUSEWAVE_SERVER__LISTEN", "127.0.0.1:9000"),
                ("MUSEWAVE_SERVER__DRAIN_TIMEOUT_SECS", "30"),
                ("MUSEWAVE_AUTH__REGISTRATION", "open"),
                ("MUSEWAVE_AUTH__LOGIN_THROTTLE__MAX_FAILURES_PER_USER", "7"),
                ("MUSEWAVE_ACCESS__PUBLIC", "true"),
                ("MUSEWAVE_LIBRARY__FOLDERS", "/srv/music"),
                ("MUSEWAVE_LOG__FORMAT", "json"),
                // Not ours, or not config: ignored.
                ("MUSEWAVE_ADMIN_PASSWORD", "hunter2"),
                ("MUSEWAVE_LOG", "trace"),
                ("HOME", "/root"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(config.server.drain_timeout, Duration::from_secs(30));
        assert_eq!(config.auth.registration, Registration::Open);
        assert_eq!(config.auth.login_throttle.max_failures_per_user, 7);
        assert!(config.access.public);
        assert_eq!(config.library.folders, vec![PathBuf::from("/srv/music")]);
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(
            config.log.level, "debug",
            "file value survives when env does not set it"
        );
    }

    #[test]
    fn env_list_as_toml_array() {
        let config = load(
            None,
            env(&[("MUSEWAVE_LIBRARY__FOLDERS", r#"["/a", "/b c"]"#)]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            config.library.folders,
            vec![PathBuf::from("/a"), PathBuf::from("/b c")]
        );

        let err = load_err(None, &[("MUSEWAVE_LIBRARY__FOLDERS", "[/a")]);
        assert!(
            err.starts_with(
                "invalid value for 'library.folders' in environment variable MUSEWAVE_LIBRARY__FOLDERS: \
                 expected one item or a TOML array"
            ),
            "{err}"
        );
    }

    #[test]
    fn env_text_stays_text_for_string_keys() {
        // An IPv6 address starts with '[' and a numeric secret looks like a number; both must
        // reach their keys as text.
        let digits = "1".repeat(40);
        let config = load(
            None,
            env(&[
                ("MUSEWAVE_SERVER__LISTEN", "[::1]:4533"),
                ("MUSEWAVE_AUTH__JWT_SECRET", &digits),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.server.listen, "[::1]:4533".parse().unwrap());
        assert_eq!(config.auth.jwt_secret.unwrap().expose(), digits);
    }

    #[test]
    fn overrides_override_env() {
        let f = file("[server]\nlisten = \"0.0.0.0:8080\"\n");
        let overrides = Overrides {
            listen: Some("127.0.0.1:1234".parse().unwrap()),
            data_dir: Some(PathBuf::from("/var/lib/musewave")),
            media_folders: Some(vec![PathBuf::from("/x"), PathBuf::from("/y")]),
            log_format: Some(LogFormat::Json),
            registration: Some(Registration::Invite),
        };
        let config = load(
            Some(f.path()),
            env(&[
                ("MUSEWAVE_SERVER__LISTEN", "127.0.0.1:9000"),
                ("MUSEWAVE_DATA__DIR", "/env/data"),
                ("MUSEWAVE_LIBRARY__FOLDERS", "/env/music"),
                ("MUSEWAVE_LOG__FORMAT", "text"),
                ("MUSEWAVE_AUTH__REGISTRATION", "open"),
            ]),
            &overrides,
        )
        .unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:1234".parse().unwrap());
        assert_eq!(config.data.dir, PathBuf::from("/var/lib/musewave"));
        assert_eq!(
            config.library.folders,
            vec![PathBuf::from("/x"), PathBuf::from("/y")]
        );
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.auth.registration, Registration::Invite);
    }

    #[test]
    fn invalid_override_is_named_as_a_flag() {
        let overrides = Overrides {
            media_folders: Some(vec![]),
            ..Overrides::default()
        };
        let err = load(
            None,
            env(&[("MUSEWAVE_LIBRARY__FOLDERS", "/m")]),
            &overrides,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value for 'library.folders' in command-line flags: \
             expected at least one folder, found an empty list"
        );
    }

    #[test]
    fn secret_from_file() {
        let secret_file = file(&format!("{SECRET}\n"));
        let path = secret_file.path().to_str().unwrap();
        let config = load(
            None,
            env(&[("MUSEWAVE_AUTH__JWT_SECRET_FILE", path)]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            config.auth.jwt_secret.unwrap().expose(),
            SECRET,
            "one trailing newline trimmed"
        );

        let crlf = file(&format!("{SECRET}\r\n"));
        let config = load(
            None,
            env(&[(
                "MUSEWAVE_AUTH__JWT_SECRET_FILE",
                crlf.path().to_str().unwrap(),
            )]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.auth.jwt_secret.unwrap().expose(), SECRET);
    }

    #[test]
    fn secret_file_errors_name_the_variable() {
        let err = load_err(
            None,
            &[("MUSEWAVE_AUTH__JWT_SECRET_FILE", "/nonexistent/jwt")],
        );
        assert!(
            err.starts_with(
                "cannot read the file named by environment variable MUSEWAVE_AUTH__JWT_SECRET_FILE \
                 (/nonexistent/jwt): "
            ),
            "{err}"
        );

        let err = load_err(None, &[("MUSEWAVE_SERVER__LISTEN_FILE", "/etc/hostname")]);
        assert_eq!(
            err,
            "environment variable MUSEWAVE_SERVER__LISTEN_FILE reads 'server.listen' from a file, \
             but only secrets can be read from a file (auth.jwt_secret)"
        );

        let secret_file = file(SECRET);
        let err = load_err(
            None,
            &[
                (
                    "MUSEWAVE_AUTH__JWT_SECRET_FILE",
                    secret_file.path().to_str().unwrap(),
                ),
                ("MUSEWAVE_AUTH__JWT_SECRET", SECRET),
            ],
        );
        assert_eq!(
            err,
            "environment variables MUSEWAVE_AUTH__JWT_SECRET and MUSEWAVE_AUTH__JWT_SECRET_FILE \
             are both set; set only one"
        );
    }

    #[test]
    fn unknown_key_in_file_is_named_with_the_file() {
        let f = file("[server]\nlisen = \"0.0.0.0:80\"\n");
        let err = load_err(Some(f.path()), &[]);
        assert_eq!(
            err,
            format!(
                "unknown key 'server.lisen' in {}; expected one of: listen, drain_timeout_secs, \
                 max_json_body_bytes, max_image_body_bytes, base_url, trusted_proxies",
                f.path().display()
            )
        );

        let f = file("[serve]\nlisten = \"0.0.0.0:80\"\n");
        let err = load_err(Some(f.path()), &[]);
        assert!(
            err.starts_with(&format!("unknown key 'serve' in {};", f.path().display())),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_in_env_is_named_with_the_variable() {
        let f = file("[server]\nlisten = \"0.0.0.0:8080\"\n");
        let err = load_err(
            Some(f.path()),
            &[("MUSEWAVE_SERVER__LISEN", "127.0.0.1:9000")],
        );
        assert!(
            err.starts_with(
                "unknown key 'server.lisen' in environment variable MUSEWAVE_SERVER__LISEN; expected one of: listen,"
            ),
            "{err}"
        );

        let err = load_err(None, &[("MUSEWAVE_AUTH__LOGIN_THROTTLE__WINDOW", "60")]);
        assert!(
            err.starts_with(
                "unknown key 'auth.login_throttle.window' in environment variable \
                 MUSEWAVE_AUTH__LOGIN_THROTTLE__WINDOW;"
            ),
            "{err}"
        );
    }

    #[test]
    fn bad_values_are_named_with_key_source_and_expectation() {
        let f = file("[server]\nlisten = \"nope\"\n");
        assert_eq!(
            load_err(Some(f.path()), &[]),
            format!(
                "invalid value for 'server.listen' in {}: expected an IP address and port such as \
                 \"127.0.0.1:4533\" or \"[::]:4533\" (host names are not resolved), found \"nope\"",
                f.path().display()
            )
        );

        let f = file("[auth]\nregistration = \"sometimes\"\n");
        assert_eq!(
            load_err(Some(f.path()), &[]),
            format!(
                "invalid value for 'auth.registration' in {}: expected one of \"closed\", \
                 \"invite\", \"open\", found \"sometimes\"",
                f.path().display()
            )
        );

        assert_eq!(
            load_err(None, &[("MUSEWAVE_SERVER__DRAIN_TIMEOUT_SECS", "ten")]),
            "invalid value for 'server.drain_timeout_secs' in environment variable \
             MUSEWAVE_SERVER__DRAIN_TIMEOUT_SECS: expected a whole number, 0 or more, found \"ten\""
        );

        assert_eq!(
            load_err(None, &[("MUSEWAVE_ACCESS__PUBLIC", "maybe")]),
            "invalid value for 'access.public' in environment variable MUSEWAVE_ACCESS__PUBLIC: \
             expected true or false, found \"maybe\""
        );

        let f = file("[auth.login_throttle]\nmax_failures_per_user = 0\n");
        assert_eq!(
            load_err(Some(f.path()), &[]),
            format!(
                "invalid value for 'auth.login_throttle.max_failures_per_user' in {}: \
                 expected a count greater than 0, found 0",
                f.path().display()
            )
        );

        let f = file("[log]\nformat = 3\n");
        assert_eq!(
            load_err(Some(f.path()), &[]),
            format!(
                "invalid value for 'log.format' in {}: expected one of \"text\", \"json\", found 3",
                f.path().display()
            )
        );
    }

    #[test]
    fn missing_or_broken_file_is_named() {
        let err = load_err(Some(Path::new("/nonexistent/musewave.toml")), &[]);
        assert!(
            err.starts_with("cannot read config file /nonexistent/musewave.toml: "),
            "{err}"
        );

        let f = file("[server\n");
        let err = load_err(Some(f.path()), &[]);
        assert!(
            err.starts_with(&format!(
                "config file {} is not valid TOML: ",
                f.path().display()
            )),
            "{err}"
        );
    }

    #[test]
    fn secrets_never_print() {
        let secret_file = file(SECRET);
        let config = load(
            None,
            env(&[(
                "MUSEWAVE_AUTH__JWT_SECRET_FILE",
                secret_file.path().to_str().unwrap(),
            )]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(format!("{:?}", config.auth.jwt_secret), "Some([redacted])");
        assert_eq!(
            config.auth.jwt_secret.as_ref().unwrap().to_string(),
            "[redacted]"
        );
        assert!(!format!("{config:?}").contains(SECRET));
        let shown = config.effective_toml();
        assert!(!shown.contains(SECRET));
        assert!(shown.contains("jwt_secret = \"[redacted]\""), "{shown}");

        // A secret too short or of the wrong type is reported without its value.
        let err = load_err(None, &[("MUSEWAVE_AUTH__JWT_SECRET", "short-secret-value")]);
        assert!(err.contains("'auth.jwt_secret' in environment variable MUSEWAVE_AUTH__JWT_SECRET"));
        assert!(!err.contains("short-secret-value"), "{err}");
        let f = file("[auth]\njwt_secret = 123456789\n");
        let err = load_err(Some(f.path()), &[]);
        assert!(
            err.starts_with("invalid value for 'auth.jwt_secret' in "),
            "{err}"
        );
        assert!(!err.contains("123456789"), "{err}");
    }

    #[test]
    fn effective_toml_reparses_to_the_same_config() {
        let defaults = Config::default();
        let shown = defaults.effective_toml();
        assert!(shown.contains("# jwt_secret is not set"), "{shown}");
        let f = file(&shown);
        assert_eq!(
            load(Some(f.path()), env(&[]), &Overrides::default()).unwrap(),
            defaults
        );

        // Every key away from its default, so a key missing from the output would show.
        let f = file(
            r#"
            [server]
            listen = "[::]:80"
            drain_timeout_secs = 0
            max_json_body_bytes = 2
            max_image_body_bytes = 3
            base_url = "/music"
            trusted_proxies = ["10.0.0.0/8", "::1"]
            [metrics]
            enabled = false
            listen = "127.0.0.1:9090"
            [data]
            dir = "/d"
            cache_capacity_mb = 5
            [library]
            folders = ["/a", "/b"]
            [auth]
            registration = "open"
            access_token_ttl_secs = 6
            refresh_token_ttl_days = 7
            stream_token_ttl_secs = 11
            [auth.login_throttle]
            max_failures_per_user = 8
            max_failures_per_client = 9
            window_secs = 10
            [access]
            public = true
            [log]
            format = "json"
            level = "musewave=debug,info"
            [transcode]
            max_concurrent = 2
            cache_max_mb = 12
            default_profile = "tiny"
            [transcode.profiles.tiny]
            format = "mp3"
            bitrate_kbps = 64
            "#,
        );
        let custom = load(Some(f.path()), env(&[]), &Overrides::default()).unwrap();
        let shown = custom.effective_toml();
        let f = file(&shown);
        assert_eq!(
            load(Some(f.path()), env(&[]), &Overrides::default()).unwrap(),
            custom
        );

        // With a secret set the output is still valid TOML.
        let mut with_secret = custom;
        with_secret.auth.jwt_secret = Some(Secret::new(SECRET));
        toml::from_str::<toml::Value>(&with_secret.effective_toml()).unwrap();
    }

    #[test]
    fn base_url_is_normalised_and_checked() {
        let base = |v: &str| {
            load(
                None,
                env(&[("MUSEWAVE_SERVER__BASE_URL", v)]),
                &Overrides::default(),
            )
            .map(|c| c.server.base_url)
        };
        assert_eq!(base("").unwrap(), "");
        assert_eq!(base("/").unwrap(), "");
        assert_eq!(base("/music").unwrap(), "/music");
        assert_eq!(base("music/").unwrap(), "/music");
        assert_eq!(base("/apps/music-box/").unwrap(), "/apps/music-box");
        for bad in ["/a//b", "/a b", "/../x", "/a?b", "http://x/music"] {
            let err = base(bad).unwrap_err().to_string();
            assert!(
                err.starts_with("invalid value for 'server.base_url' in environment variable"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn subsonic_legacy_clients_default_to_dsub_and_can_be_listed() {
        let d = Config::default();
        assert!(d.subsonic.is_legacy_client("DSub"));
        assert!(d.subsonic.is_legacy_client("dsub"));
        assert!(!d.subsonic.is_legacy_client("Symfonium"));
        let config = load(
            None,
            env(&[(
                "MUSEWAVE_SUBSONIC__LEGACY_CLIENTS",
                r#"["DSub", "OldPlayer"]"#,
            )]),
            &Overrides::default(),
        )
        .unwrap();
        assert!(config.subsonic.is_legacy_client("oldplayer"));
    }

    #[test]
    fn trusted_proxies_and_metrics_listen_parse() {
        let config = load(
            None,
            env(&[
                (
                    "MUSEWAVE_SERVER__TRUSTED_PROXIES",
                    r#"["10.0.0.0/8", "192.168.1.7", "::1"]"#,
                ),
                ("MUSEWAVE_METRICS__LISTEN", "127.0.0.1:9090"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        let proxies: Vec<String> = config
            .server
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(proxies, ["10.0.0.0/8", "192.168.1.7/32", "::1/128"]);
        assert_eq!(
            config.metrics.listen,
            Some("127.0.0.1:9090".parse().unwrap())
        );
        assert!(Config::default().metrics.enabled);
        assert_eq!(Config::default().metrics.listen, None);

        let err = load_err(None, &[("MUSEWAVE_SERVER__TRUSTED_PROXIES", "10.0.0.0/33")]);
        assert!(err.contains("'server.trusted_proxies'"), "{err}");
        let err = load_err(None, &[("MUSEWAVE_METRICS__LISTEN", "localhost:9090")]);
        assert!(err.contains("'metrics.listen'"), "{err}");
    }

    #[test]
    fn changed_keys_name_each_difference() {
        let old = Config::default();
        let f = file(
            "[server]\nlisten = \"127.0.0.1:9\"\n[log]\nlevel = \"debug\"\n\
             [transcode.profiles.tiny]\nformat = \"mp3\"\nbitrate_kbps = 64\n\
             [transcode]\ndefault_profile = \"tiny\"\n",
        );
        let mut new = load(Some(f.path()), env(&[]), &Overrides::default()).unwrap();
        new.auth.jwt_secret = Some(Secret::new(SECRET));
        let keys = changed_keys(&old, &new);
        assert!(keys.contains(&"server.listen".to_owned()), "{keys:?}");
        assert!(keys.contains(&"log.level".to_owned()), "{keys:?}");
        assert!(keys.contains(&"auth.jwt_secret".to_owned()), "{keys:?}");
        assert!(
            keys.contains(&"transcode.profiles.tiny.format".to_owned()),
            "{keys:?}"
        );
        assert!(
            keys.contains(&"transcode.profiles.high.format".to_owned()),
            "{keys:?}"
        );
        assert!(
            !keys.contains(&"server.drain_timeout_secs".to_owned()),
            "{keys:?}"
        );
        assert!(changed_keys(&old, &Config::default()).is_empty());
    }

    #[test]
    fn empty_secret_means_generated() {
        let config = load(
            None,
            env(&[("MUSEWAVE_AUTH__JWT_SECRET", "")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.auth.jwt_secret, None);
    }

    #[test]
    fn choices_parse_from_flags() {
        assert_eq!(
            "invite".parse::<Registration>().unwrap(),
            Registration::Invite
        );
        assert_eq!("json".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert_eq!(
            "sometimes".parse::<Registration>().unwrap_err().to_string(),
            "unknown value \"sometimes\", expected one of: closed, invite, open"
        );
        for r in Registration::ALL {
            assert_eq!(r.to_string().parse::<Registration>().unwrap(), r);
        }
    }
}
