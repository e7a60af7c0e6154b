//! The data dir: created private, locked by one node at a time, holding the
//! identity key file.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hark_proto::identity::Identity;

use crate::StartError;

const LOCK_FILE: &str = "node.lock";
const KEY_FILE: &str = "identity.key";
const STORE_DIR: &str = "store";
const SOCKET_FILE: &str = "control.sock";

/// The data dir, held exclusively while this value lives.
#[derive(Debug)]
pub(crate) struct DataDir {
    path: PathBuf,
    // Held for its lock; released when dropped.
    _lock: File,
}

impl DataDir {
    /// Creates the dir (mode 0700) if needed and takes its lock. A second
    /// node on the same dir fails here with [`StartError::InUse`] before
    /// it touches the store.
    pub(crate) fn lock(path: &Path) -> Result<DataDir, StartError> {
        let io_err = |source| StartError::DataDir {
            path: path.to_path_buf(),
            source,
        };
        // create_dir_all on a file says only "File exists".
        if path.exists() && !path.is_dir() {
            return Err(io_err(std::io::ErrorKind::NotADirectory.into()));
        }
        fs::create_dir_all(path).map_err(io_err)?;
        fs::set_permissions(path, Permissions::from_mode(0o700)).map_err(io_err)?;

        let lock_path = path.join(LOCK_FILE);
        let mut lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .read(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io_err)?;
        if lock.try_lock().is_err() {
            let mut holder = String::new();
            let _ = lock.read_to_string(&mut holder);
            return Err(StartError::InUse {
                path: path.to_path_buf(),
                pid: holder.trim().parse().ok(),
            });
        }

        // Record who holds it, so the error above can name the process.
        lock.set_len(0).map_err(io_err)?;
        write!(lock, "{}", std::process::id()).map_err(io_err)?;
        Ok(DataDir {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    /// The directory itself.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Where sled keeps its files.
    pub(crate) fn store_path(&self) -> PathBuf {
        self.path.join(STORE_DIR)
    }

    /// Where the control socket listens.
    pub(crate) fn socket_path(&self) -> PathBuf {
        socket_path(&self.path)
    }

    /// Loads the identity, creating it (mode 0600) on first start.
    pub(crate) fn identity(&self) -> Result<Identity, StartError> {
        let path = self.path.join(KEY_FILE);
        match fs::read(&path) {
            Ok(bytes) => load_identity(&path, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_identity(&path),
            Err(source) => Err(StartError::KeyFile { path, source }),
        }
    }
}

/// Where the control socket of the node using `data_dir` listens.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
}

fn load_identity(path: &Path, bytes: &[u8]) -> Result<Identity, StartError> {
    // A key readable by others is tightened rather than refused: the user
    // may have copied the dir with a loose umask.
    let meta = fs::metadata(path).map_err(|source| StartError::KeyFile {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "key file was readable by others; setting mode 0600");
        let _ = fs::set_permissions(path, Permissions::from_mode(0o600));
    }

    Identity::from_bytes(bytes).map_err(|e| StartError::BadKeyFile {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn create_identity(path: &Path) -> Result<Identity, StartError> {
    let key_err = |source| StartError::KeyFile {
        path: path.to_path_buf(),
        source,
    };
    let identity = Identity::generate();

    // Write to a temporary file first so a crash never leaves half a key.
    let tmp = path.with_extension("key.tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(key_err)?;
    file.write_all(&identity.to_bytes()).map_err(key_err)?;
    file.sync_all().map_err(key_err)?;
    fs::rename(&tmp, path).map_err(key_err)?;

    tracing::info!("created a new identity");
    Ok(identity)
}
