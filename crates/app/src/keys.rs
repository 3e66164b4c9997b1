//! The round key store: one file per open round's private key, in the data directory and never
//! in the database (so no backup holds one), destroyed when the round closes.

use std::path::{Path, PathBuf};

use uuid::Uuid;

/// Private round keys, one file per round, readable by the server's user only.
pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
        }
    }

    fn path(&self, round: Uuid) -> PathBuf {
        self.dir.join(format!("round-{round}.der"))
    }

    pub fn put(&self, round: Uuid, secret_der: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        std::fs::create_dir_all(&self.dir)?;
        let staged = self.dir.join(format!(".round-{round}.tmp"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&staged)?;
        file.write_all(secret_der)?;
        file.sync_all()?;
        std::fs::rename(&staged, self.path(round))
    }

    pub fn get(&self, round: Uuid) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.path(round)) {
            Ok(der) => Ok(Some(der)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Overwrites the key, then removes it: a closed round can sign nothing ever again.
    pub fn destroy(&self, round: Uuid) -> std::io::Result<()> {
        let path = self.path(round);
        if let Ok(meta) = std::fs::metadata(&path) {
            std::fs::write(&path, vec![0u8; meta.len() as usize])?;
        }
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
