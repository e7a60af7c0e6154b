//! Errors of the store.

use std::path::PathBuf;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Another process holds the database. Retrying helps only once that
    /// process has stopped.
    #[error("the store in {path} is in use by another process")]
    Locked {
        /// The database directory.
        path: PathBuf,
    },
    /// The database was written by a newer Hark. Retrying does not help;
    /// upgrade Hark.
    #[error("the store in {path} has schema version {found}, newer than this Hark ({supported})")]
    NewerSchema {
        /// The database directory.
        path: PathBuf,
        /// Version found on disk.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
    /// An older schema could not be brought up to date. The old data is
    /// left as it was (the version is stamped only after the copy is on
    /// disk); retrying may help if the cause was the disk.
    #[error("cannot update the store in {path} to this Hark's format: {source}")]
    Migrate {
        /// The database directory.
        path: PathBuf,
        /// What failed.
        #[source]
        source: Box<Error>,
    },
    /// The database could not be read or created. Retrying may help if the
    /// cause was transient (disk full, permissions fixed).
    #[error("cannot open the store in {path}: {source}")]
    Db {
        /// The database directory.
        path: PathBuf,
        /// What sled said.
        #[source]
        source: sled::Error,
    },
}

/// A failed store operation. Nothing was changed when one is returned: each
/// operation is a single transaction.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// sled failed (I/O, disk full). Retrying may help once the disk has room.
    #[error("store i/o failed: {0}")]
    Db(#[from] sled::Error),
    /// A stored value did not decode. Retrying does not help; the value is
    /// left as it is for inspection.
    #[error("stored {what} is corrupt: {source}")]
    Corrupt {
        /// Which kind of value.
        what: &'static str,
        /// The decoding error.
        #[source]
        source: postcard::Error,
    },
    /// The disk has too little room left for this write, which was not
    /// made (see `ROOM_MARGIN` in store.rs). Retrying helps once space is
    /// freed; the store itself is unharmed.
    #[error("the disk is full: {free} bytes free, {needed} needed")]
    DiskFull {
        /// Bytes free for this user on the store's file system.
        free: u64,
        /// Bytes this write asked to keep free.
        needed: u64,
    },
    /// Syncing the written data to the disk failed (I/O error, disk full).
    /// What was written may not survive a power cut; retrying may help.
    #[error("store sync failed: {0}")]
    Sync(#[source] std::io::Error),
    /// A value could not be encoded for storage (a bug, not an I/O issue).
    #[error("cannot encode {what}: {source}")]
    Encode {
        /// Which kind of value.
        what: &'static str,
        /// The encoding error.
        #[source]
        source: postcard::Error,
    },
}

impl From<sled::transaction::TransactionError<Error>> for Error {
    fn from(err: sled::transaction::TransactionError<Error>) -> Self {
        match err {
            sled::transaction::TransactionError::Abort(inner) => inner,
            sled::transaction::TransactionError::Storage(db) => Error::Db(db),
        }
    }
}
