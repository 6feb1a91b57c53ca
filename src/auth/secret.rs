//! The server's token-signing secret: from config when given, else generated on first run and
//! kept in the data directory, readable by the server's user only.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rand::RngCore;

/// File name of the generated secret inside the data directory.
pub const FILE_NAME: &str = "jwt_secret";

/// Loads the signing secret, generating and saving a new one when none exists.
pub fn load_or_create(data_dir: &Path, configured: Option<&str>) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    if let Some(secret) = configured {
        anyhow::ensure!(
            secret.len() >= 32,
            "auth.jwt_secret must be at least 32 characters"
        );
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join(FILE_NAME);
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut file) => {
            let mut secret = vec![0u8; 64];
            rand::rngs::OsRng.fill_bytes(&mut secret);
            file.write_all(&secret)
                .and_then(|()| file.sync_all())
                .with_context(|| format!("while writing {}", path.display()))?;
            Ok(secret)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let mut file = std::fs::File::open(&path)
                .with_context(|| format!("while opening {}", path.display()))?;
            let mode = file.metadata()?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    "the token secret is readable by other users; fixing its mode to 0600"
                );
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            }
            let mut secret = Vec::new();
            file.read_to_end(&mut secret)?;
            anyhow::ensure!(
                secret.len() >= 32,
                "{} is too short to be a signing secret; delete it to generate a new one",
                path.display()
            );
            Ok(secret)
        }
        Err(e) => Err(e).with_context(|| format!("while creating {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(dir.path(), None).unwrap();
        let b = load_or_create(dir.path(), None).unwrap();
        assert_eq!(a, b);
        let mode = std::fs::metadata(dir.path().join(FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn configured_secret_wins_and_must_be_long() {
        let dir = tempfile::tempdir().unwrap();
        let s = "x".repeat(40);
        assert_eq!(load_or_create(dir.path(), Some(&s)).unwrap(), s.as_bytes());
        assert!(load_or_create(dir.path(), Some("short")).is_err());
        assert!(!dir.path().join(FILE_NAME).exists());
    }
}
