//! The [`Store`]: typed, transactional access to the sled trees.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hark_proto::envelope::SealedFrame;
use hark_proto::ids::MessageId;
use libp2p_identity::PeerId;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

use crate::groups::{self, group_key, group_of};
use crate::record::{decode, encode};
use crate::{
    ChannelRecord, Contact, Delivery, Direction, Error, MessageRecord, OpenError, StoredReceipt,
};

/// The schema this build writes and reads. Bump it, and add a migration in
/// [`Store::migrate`], whenever a stored type changes shape.
///
/// 1: one `frames` key per frame. 2: frames in groups of 50 in
/// `frame_groups` (see `groups.rs`).
pub const SCHEMA_VERSION: u32 = 2;

/// Version 1's tree of single frames, read once by the migration.
const V1_FRAMES: &str = "frames";

const SCHEMA_KEY: &[u8] = b"schema_version";
const DISPLAY_NAME_KEY: &[u8] = b"display_name";

/// Hark's database. Cheap to clone; safe to use from many threads.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    /// Where the files behind `db` are, to sync them after sled's flush.
    files: Arc<Files>,
    meta: sled::Tree,
    messages: sled::Tree,
    /// Frame groups: id ‖ group -> up to 50 frames.
    frames: sled::Tree,
    delivery: sled::Tree,
    pending: sled::Tree,
    receipts: sled::Tree,
    receipt_keys: sled::Tree,
    contacts: sled::Tree,
    channels: sled::Tree,
    members: sled::Tree,
}

/// What storing a receipt changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// This receipt was stored already; nothing changed.
    Duplicate,
    /// Stored; no outgoing delivery state moved (not our message, or an
    /// older state than the one known).
    Stored,
    /// Stored, and the delivery state of our outgoing message moved on.
    Advanced,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the database in `dir` and checks its schema.
    pub fn open(dir: &Path) -> Result<Store, OpenError> {
        let db_err = |source| OpenError::Db {
            path: dir.to_path_buf(),
            source,
        };
        let db = open_db(dir)?;
        let files = Files::open(dir).map_err(|e| db_err(sled::Error::Io(e)))?;
        let tree = |name: &str| db.open_tree(name).map_err(db_err);
        let store = Store {
            files: Arc::new(files),
            meta: tree("meta")?,
            messages: tree("messages")?,
            frames: tree("frame_groups")?,
            delivery: tree("delivery")?,
            pending: tree("pending")?,
            receipts: tree("receipts")?,
            receipt_keys: tree("receipt_keys")?,
            contacts: tree("contacts")?,
            channels: tree("channels")?,
            members: tree("members")?,
            db,
        };

        store.migrate(dir)?;
        Ok(store)
    }

    /// Brings an older schema up to [`SCHEMA_VERSION`] and refuses a newer one.
    fn migrate(&self, dir: &Path) -> Result<(), OpenError> {
        let db_err = |source| OpenError::Db {
            path: dir.to_path_buf(),
            source,
        };
        let found = self.meta.get(SCHEMA_KEY).map_err(db_err)?;
        let found = found.and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok());

        match found.map(u32::from_be_bytes) {
            // A new database: stamp it.
            None => self.stamp().map_err(db_err),
            Some(v) if v > SCHEMA_VERSION => Err(OpenError::NewerSchema {
                path: dir.to_path_buf(),
                found: v,
                supported: SCHEMA_VERSION,
            }),
            Some(1) => self.group_v1_frames().map_err(|e| OpenError::Migrate {
                path: dir.to_path_buf(),
                source: Box::new(e),
            }),
            Some(_) => self.drop_v1_frames().map_err(db_err),
        }
    }

    fn stamp(&self) -> Result<(), sled::Error> {
        let v = SCHEMA_VERSION.to_be_bytes();
        self.meta.insert(SCHEMA_KEY, &v)?;
        Ok(())
    }

    /// Version 1 to 2: copies every single-frame key into its group, stamps
    /// version 2 once that is on disk, then drops the old tree. A crash
    /// before the stamp redoes the copy (it overwrites with the same
    /// groups); a crash after it leaves only the old tree to drop.
    fn group_v1_frames(&self) -> Result<(), Error> {
        let old = self.db.open_tree(V1_FRAMES)?;
        // Keys are id ‖ index, so each message's frames come together.
        let mut message: Option<(MessageId, Vec<SealedFrame>)> = None;
        for item in old.iter() {
            let (key, value) = item?;
            let Some(id) = key.get(..16).and_then(|k| <[u8; 16]>::try_from(k).ok()) else {
                continue;
            };
            let frame: SealedFrame = decode(&value, "frame")?;
            match &mut message {
                Some((current, frames)) if current.0 == id => frames.push(frame),
                _ => {
                    if let Some((done, frames)) = message.replace((MessageId(id), vec![frame])) {
                        self.put_groups(&done, &frames)?;
                    }
                }
            }
        }
        if let Some((done, frames)) = message {
            self.put_groups(&done, &frames)?;
        }

        self.flush_blocking()?;
        self.stamp()?;
        self.flush_blocking()?;
        self.drop_v1_frames()?;
        Ok(())
    }

    /// Writes one migrated message's frames as groups.
    fn put_groups(&self, id: &MessageId, frames: &[SealedFrame]) -> Result<(), Error> {
        for (key, value) in groups::values(id, frames)? {
            self.frames.insert(key, value)?;
        }
        Ok(())
    }

    fn drop_v1_frames(&self) -> Result<(), sled::Error> {
        if self
            .db
            .tree_names()
            .iter()
            .any(|n| n == V1_FRAMES.as_bytes())
        {
            self.db.drop_tree(V1_FRAMES)?;
        }
        Ok(())
    }

    /// Writes everything changed so far to disk and syncs it: returns once
    /// it would survive a power cut (see the crate docs). Needs a tokio
    /// runtime: the sync runs on its blocking pool.
    pub async fn flush(&self) -> Result<(), Error> {
        self.db.flush_async().await?;
        let files = self.files.clone();
        tokio::task::spawn_blocking(move || files.sync())
            .await
            .map_err(|e| Error::Sync(std::io::Error::other(e)))?
    }

    /// Writes everything changed so far to disk and syncs it, blocking the
    /// thread.
    pub fn flush_blocking(&self) -> Result<(), Error> {
        self.db.flush()?;
        self.files.sync()
    }

    /// Stores a whole message with its frames, and marks it pending for
    /// `pending_for` (outgoing messages: every recipient but this node).
    /// All or nothing. Returns `false`, changing nothing, if a message with
    /// this id is already stored: a message is kept exactly once.
    /// Frames go in groups of 50 (one key per second of audio), which keeps
    /// the transaction small even for a thirty-minute message.
    pub fn insert_message(
        &self,
        id: &MessageId,
        record: &MessageRecord,
        frames: &[SealedFrame],
        pending_for: &[PeerId],
    ) -> Result<bool, Error> {
        let record_bytes = encode(record, "message")?;
        let size: usize = frames.iter().map(|f| f.ciphertext.len()).sum();
        self.files.ensure_room((size + record_bytes.len()) as u64)?;
        let frame_bytes = groups::values(id, frames)?;

        let trees = (&self.messages, &self.frames, &self.delivery, &self.pending);
        let inserted = trees.transaction(|(messages, frames, delivery, pending)| {
            if messages.get(id.0)?.is_some() {
                return Ok(false);
            }
            messages.insert(&id.0, record_bytes.as_slice())?;
            for (key, bytes) in &frame_bytes {
                frames.insert(key.as_slice(), bytes.as_slice())?;
            }
            for peer in pending_for {
                put_delivery(delivery, id, peer, &Delivery::Pending)?;
                pending.insert(pending_key(peer, id), &[])?;
            }
            Ok(true)
        })?;
        Ok(inserted)
    }

    /// Stores the record of a message whose frames are still coming (live:
    /// `trailer` is `None`), pending for `pending_for`. Returns `false`,
    /// changing nothing, if the id is stored already.
    pub fn begin_message(
        &self,
        id: &MessageId,
        record: &MessageRecord,
        pending_for: &[PeerId],
    ) -> Result<bool, Error> {
        self.insert_message(id, record, &[], pending_for)
    }

    /// Adds frames to a message (a frame stored already is overwritten with
    /// the same bytes; callers check frames before storing them). Each
    /// group is updated atomically, so frames of one group stored at once
    /// from two tasks (a live stream and a repair) are both kept.
    pub fn put_frames(&self, id: &MessageId, frames: &[SealedFrame]) -> Result<(), Error> {
        let size: usize = frames.iter().map(|f| f.ciphertext.len()).sum();
        self.files.ensure_room(size as u64)?;
        for (group, run) in groups::split(frames) {
            self.merge_group(&group_key(id, group), &run)?;
        }
        Ok(())
    }

    fn merge_group(&self, key: &[u8], run: &[SealedFrame]) -> Result<(), Error> {
        loop {
            let stored = self.frames.get(key)?;
            let merged = groups::merge(stored.as_deref(), run)?;
            let swapped = self.frames.compare_and_swap(key, stored, Some(merged))?;
            if swapped.is_ok() {
                return Ok(());
            }
        }
    }

    /// Indices below `count` with no frame stored, in order.
    pub fn missing_frames(&self, id: &MessageId, count: u32) -> Result<Vec<u32>, Error> {
        let mut missing = Vec::new();
        let mut expected = 0u32;
        for frame in self.frames(id, 0, count)? {
            missing.extend(expected..frame.index);
            expected = frame.index + 1;
        }
        missing.extend(expected..count);
        Ok(missing)
    }

    /// Replaces a message's record (e.g. when its trailer arrives).
    pub fn update_message(&self, id: &MessageId, record: &MessageRecord) -> Result<(), Error> {
        self.messages.insert(id.0, encode(record, "message")?)?;
        Ok(())
    }

    /// Whether a message with this id is stored.
    pub fn contains(&self, id: &MessageId) -> Result<bool, Error> {
        Ok(self.messages.contains_key(id.0)?)
    }

    /// The stored record of a message.
    pub fn message(&self, id: &MessageId) -> Result<Option<MessageRecord>, Error> {
        let bytes = self.messages.get(id.0)?;
        bytes.map(|b| decode(&b, "message")).transpose()
    }

    /// Every stored message, in id order.
    pub fn messages(&self) -> Result<Vec<(MessageId, MessageRecord)>, Error> {
        let mut all = Vec::new();
        for item in self.messages.iter() {
            let (key, value) = item?;
            let Ok(id) = <[u8; 16]>::try_from(key.as_ref()) else {
                tracing::warn!(len = key.len(), "skipping a message key of the wrong size");
                continue;
            };
            all.push((MessageId(id), decode(&value, "message")?));
        }
        Ok(all)
    }

    /// Up to `max` sealed frames of a message, from index `start` on.
    pub fn frames(&self, id: &MessageId, start: u32, max: u32) -> Result<Vec<SealedFrame>, Error> {
        let end = start.saturating_add(max);
        if end == start {
            return Ok(Vec::new());
        }
        let range = group_key(id, group_of(start))..=group_key(id, group_of(end - 1));
        let mut out = Vec::new();
        for item in self.frames.range(range) {
            let (_, value) = item?;
            let run = groups::decode_group(&value)?;
            out.extend(run.into_iter().filter(|f| (start..end).contains(&f.index)));
        }
        Ok(out)
    }

    /// Stores a verified receipt and, for an outgoing message, moves that
    /// recipient's delivery state forward (never back). The caller has
    /// checked the signature and that the signer is a recipient.
    pub fn record_receipt(&self, receipt: &StoredReceipt) -> Result<ReceiptOutcome, Error> {
        let bytes = encode(receipt, "receipt")?;
        let key = receipt_store_key(receipt);
        let new_state = if receipt.heard {
            Delivery::Heard {
                at_ms: receipt.at_ms,
            }
        } else {
            Delivery::Delivered {
                at_ms: receipt.at_ms,
            }
        };

        let trees = (
            &self.receipts,
            &self.receipt_keys,
            &self.delivery,
            &self.pending,
        );
        let outcome = trees.transaction(|(receipts, keys, delivery, pending)| {
            if receipts.get(&key)?.is_some() {
                return Ok(ReceiptOutcome::Duplicate);
            }
            receipts.insert(key.as_slice(), bytes.as_slice())?;
            keys.insert(&receipt.key, key.as_slice())?;

            let dkey = delivery_key(&receipt.id, &receipt.recipient);
            let Some(current) = delivery.get(&dkey)? else {
                return Ok(ReceiptOutcome::Stored);
            };
            let current: Delivery = decode(&current, "delivery").map_err(abort)?;
            if current.rank() >= new_state.rank() {
                return Ok(ReceiptOutcome::Stored);
            }
            put_delivery(delivery, &receipt.id, &receipt.recipient, &new_state)?;
            pending.remove(pending_key(&receipt.recipient, &receipt.id))?;
            Ok(ReceiptOutcome::Advanced)
        })?;
        Ok(outcome)
    }

    /// Every receipt held for message `id`.
    pub fn receipts_for(&self, id: &MessageId) -> Result<Vec<StoredReceipt>, Error> {
        let mut out = Vec::new();
        for item in self.receipts.scan_prefix(id.0) {
            let (_, value) = item?;
            out.push(decode(&value, "receipt")?);
        }
        Ok(out)
    }

    /// The receipt with reconciliation key `key`, if held.
    pub fn receipt_by_key(&self, key: &[u8; 32]) -> Result<Option<StoredReceipt>, Error> {
        let Some(store_key) = self.receipt_keys.get(key)? else {
            return Ok(None);
        };
        let bytes = self.receipts.get(store_key)?;
        bytes.map(|b| decode(&b, "receipt")).transpose()
    }

    /// Drops the frames of a carried message, keeping its record as a
    /// tombstone (see [`MessageRecord::dropped`]). Returns whether it did.
    pub fn drop_frames(&self, id: &MessageId) -> Result<bool, Error> {
        let Some(mut record) = self.message(id)? else {
            return Ok(false);
        };
        if record.dropped {
            return Ok(false);
        }
        record.dropped = true;
        record.bytes = 0;
        let record_bytes = encode(&record, "message")?;
        let frame_keys = self.frame_keys(id)?;

        let trees = (&self.messages, &self.frames);
        trees.transaction(|(messages, frames)| {
            messages.insert(&id.0, record_bytes.as_slice())?;
            for key in &frame_keys {
                frames.remove(key.as_ref())?;
            }
            Ok(())
        })?;
        Ok(true)
    }

    /// Removes a message, its frames, delivery states and receipts.
    pub fn delete_message(&self, id: &MessageId) -> Result<(), Error> {
        let frame_keys = self.frame_keys(id)?;
        let deliveries = self.deliveries(id)?;
        let receipts = self.receipts_for(id)?;

        let trees = (&self.messages, &self.frames, &self.delivery, &self.pending);
        trees.transaction(|(messages, frames, delivery, pending)| {
            messages.remove(&id.0)?;
            for key in &frame_keys {
                frames.remove(key.as_ref())?;
            }
            for (peer, _) in &deliveries {
                delivery.remove(delivery_key(id, peer))?;
                pending.remove(pending_key(peer, id))?;
            }
            Ok(())
        })?;
        for receipt in receipts {
            self.receipts.remove(receipt_store_key(&receipt))?;
            self.receipt_keys.remove(receipt.key)?;
        }
        Ok(())
    }

    fn frame_keys(&self, id: &MessageId) -> Result<Vec<sled::IVec>, Error> {
        let keys = self.frames.scan_prefix(id.0).keys();
        Ok(keys.collect::<Result<Vec<_>, _>>()?)
    }

    /// Bytes of carried mail held (frames of undropped carried messages).
    pub fn carried_bytes(&self) -> Result<u64, Error> {
        let all = self.messages()?;
        let carried = all
            .iter()
            .filter(|(_, r)| r.direction == Direction::Carried);
        Ok(carried.map(|(_, r)| r.bytes).sum())
    }

    /// Delivery state of an outgoing message, per recipient.
    pub fn deliveries(&self, id: &MessageId) -> Result<Vec<(PeerId, Delivery)>, Error> {
        let mut out = Vec::new();
        for item in self.delivery.scan_prefix(id.0) {
            let (key, value) = item?;
            let Ok(peer) = PeerId::from_bytes(&key[16..]) else {
                tracing::warn!("skipping a delivery entry with a bad peer id");
                continue;
            };
            out.push((peer, decode(&value, "delivery")?));
        }
        Ok(out)
    }

    /// Ids of the outgoing messages `peer` has not acknowledged yet.
    pub fn pending_for(&self, peer: &PeerId) -> Result<Vec<MessageId>, Error> {
        let prefix = peer_prefix(peer);
        let mut out = Vec::new();
        for item in self.pending.scan_prefix(&prefix) {
            let (key, _) = item?;
            let Ok(id) = <[u8; 16]>::try_from(&key[prefix.len()..]) else {
                continue;
            };
            out.push(MessageId(id));
        }
        Ok(out)
    }

    /// Saves (or replaces) what we know of a peer.
    pub fn put_contact(&self, peer: &PeerId, contact: &Contact) -> Result<(), Error> {
        self.contacts
            .insert(peer.to_bytes(), encode(contact, "contact")?)?;
        Ok(())
    }

    /// What we know of one peer.
    pub fn contact(&self, peer: &PeerId) -> Result<Option<Contact>, Error> {
        let bytes = self.contacts.get(peer.to_bytes())?;
        bytes.map(|b| decode(&b, "contact")).transpose()
    }

    /// Every peer met so far.
    pub fn contacts(&self) -> Result<Vec<(PeerId, Contact)>, Error> {
        let mut out = Vec::new();
        for item in self.contacts.iter() {
            let (key, value) = item?;
            let Ok(peer) = PeerId::from_bytes(&key) else {
                tracing::warn!("skipping a contact with a bad peer id");
                continue;
            };
            out.push((peer, decode(&value, "contact")?));
        }
        Ok(out)
    }

    /// Saves (or replaces) a channel this node is in.
    pub fn put_channel(&self, record: &ChannelRecord) -> Result<(), Error> {
        self.channels
            .insert(record.channel.id, encode(record, "channel")?)?;
        Ok(())
    }

    /// Every channel this node is in.
    pub fn channels(&self) -> Result<Vec<ChannelRecord>, Error> {
        let mut out = Vec::new();
        for item in self.channels.iter() {
            let (_, value) = item?;
            out.push(decode(&value, "channel")?);
        }
        Ok(out)
    }

    /// One channel by id.
    pub fn channel(&self, id: &[u8; 16]) -> Result<Option<ChannelRecord>, Error> {
        let bytes = self.channels.get(id)?;
        bytes.map(|b| decode(&b, "channel")).transpose()
    }

    /// Leaves a channel: forgets it and its members (its messages stay).
    pub fn remove_channel(&self, id: &[u8; 16]) -> Result<(), Error> {
        self.channels.remove(id)?;
        for key in self.members.scan_prefix(id).keys() {
            self.members.remove(key?)?;
        }
        Ok(())
    }

    /// Records that `peer` proved to be in channel `id`; true if it was
    /// not known to be.
    pub fn add_member(&self, id: &[u8; 16], peer: &PeerId) -> Result<bool, Error> {
        let mut key = id.to_vec();
        key.extend_from_slice(&peer.to_bytes());
        Ok(self.members.insert(key, &[])?.is_none())
    }

    /// The peers known to be in channel `id`.
    pub fn members(&self, id: &[u8; 16]) -> Result<Vec<PeerId>, Error> {
        let mut out = Vec::new();
        for key in self.members.scan_prefix(id).keys() {
            if let Ok(peer) = PeerId::from_bytes(&key?[16..]) {
                out.push(peer);
            }
        }
        Ok(out)
    }

    /// Whether `peer` is known to be in channel `id`.
    pub fn is_member(&self, id: &[u8; 16], peer: &PeerId) -> Result<bool, Error> {
        let mut key = id.to_vec();
        key.extend_from_slice(&peer.to_bytes());
        Ok(self.members.contains_key(key)?)
    }

    /// The user's display name, if one was set.
    pub fn display_name(&self) -> Result<Option<String>, Error> {
        let bytes = self.meta.get(DISPLAY_NAME_KEY)?;
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Sets the user's display name.
    pub fn set_display_name(&self, name: &str) -> Result<(), Error> {
        self.meta.insert(DISPLAY_NAME_KEY, name.as_bytes())?;
        Ok(())
    }
}

/// How long opening waits for a lock held by a database of this process
/// that was just dropped: sled's background flusher keeps the file locked
/// until it next wakes up (within its flush interval, 500 ms by default).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// sled's files, opened again to `fsync` them. sled's own flush writes
/// its log with `pwrite` and then `sync_file_range` on the written range:
/// the pages reach the disk, but neither the drive's write cache nor the
/// file's size is synced, so a message acknowledged after sled's flush
/// alone could be lost to a power cut (sled's background flusher
/// `fsync`s only every 500 ms).
#[derive(Debug)]
struct Files {
    /// The store's directory.
    dir: PathBuf,
    /// sled's log, `db`: every write lands there.
    log: std::fs::File,
}

/// Free space kept back from the store's writes, beyond twice the bytes
/// being written: room for sled to open a new 512 KiB log segment and for
/// the small writes (receipts, contacts) that follow.
const ROOM_MARGIN: u64 = 1024 * 1024;

impl Files {
    /// Refuses a write of `bytes` that would leave less than
    /// [`ROOM_MARGIN`] free on the store's disk. sled 0.34 fails for good
    /// (every later write, and reads once its flusher has failed) after
    /// one write meets a full disk, until the process restarts; refusing
    /// here first keeps it working. A file system that cannot say how much
    /// room it has is not checked.
    fn ensure_room(&self, bytes: u64) -> Result<(), Error> {
        let Ok(free) = fs4::available_space(&self.dir) else {
            return Ok(());
        };
        let needed = ROOM_MARGIN + 2 * bytes;
        if free < needed {
            return Err(Error::DiskFull { free, needed });
        }
        Ok(())
    }

    /// Opens the log and makes the directory's entries durable once, so a
    /// store created just before a power cut still has its files after it.
    fn open(dir: &Path) -> std::io::Result<Files> {
        let log = std::fs::File::open(dir.join("db"))?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(Files {
            dir: dir.to_path_buf(),
            log,
        })
    }

    /// `fdatasync`s the log, then any blob files (log items over a quarter
    /// of a segment are written to files of their own under `blobs/`, which
    /// sled never syncs) and their directory.
    fn sync(&self) -> Result<(), Error> {
        self.log.sync_data().map_err(Error::Sync)?;
        self.sync_blobs().map_err(Error::Sync)
    }

    fn sync_blobs(&self) -> std::io::Result<()> {
        let dir = self.dir.join("blobs");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut any = false;
        for entry in entries {
            // sled removes blobs it no longer needs at any time.
            match std::fs::File::open(entry?.path()) {
                Ok(blob) => blob.sync_data()?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
            any = true;
        }
        if any {
            std::fs::File::open(&dir)?.sync_all()?;
        }
        Ok(())
    }
}

/// sled's page cache. Its default is 1 GiB, far more than a messenger
/// needs hot: what is read again is mostly recent messages, and a voice
/// message is fetched from disk once per play or export.
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// Opens the sled database, waiting (bounded) while its lock is held.
/// Another process holding it for longer is reported as
/// [`OpenError::Locked`]; the data dir's own lock file normally says so
/// before this is reached. The wait sleeps the calling thread (up to
/// [`LOCK_WAIT`]), also when called from async code.
fn open_db(dir: &Path) -> Result<sled::Db, OpenError> {
    let started = std::time::Instant::now();
    loop {
        let config = sled::Config::new().path(dir).cache_capacity(CACHE_BYTES);
        match config
            .open()
            .map_err(|source| classify_open_error(dir, source))
        {
            Err(OpenError::Locked { .. }) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            result => return result,
        }
    }
}

/// sled reports a held lock as an I/O error; name it for what it is.
fn classify_open_error(dir: &Path, source: sled::Error) -> OpenError {
    if let sled::Error::Io(io) = &source {
        // sled wraps the flock error in a new io::Error of kind Other whose
        // only trace of WouldBlock is its text.
        let held = io.kind() == std::io::ErrorKind::WouldBlock
            || io.raw_os_error() == Some(11)
            || io.to_string().contains("could not acquire lock");
        if held {
            return OpenError::Locked {
                path: dir.to_path_buf(),
            };
        }
    }
    OpenError::Db {
        path: dir.to_path_buf(),
        source,
    }
}

fn abort(err: Error) -> ConflictableTransactionError<Error> {
    ConflictableTransactionError::Abort(err)
}

fn put_delivery(
    tree: &TransactionalTree,
    id: &MessageId,
    peer: &PeerId,
    state: &Delivery,
) -> Result<(), ConflictableTransactionError<Error>> {
    let bytes = encode(state, "delivery").map_err(abort)?;
    tree.insert(delivery_key(id, peer), bytes)?;
    Ok(())
}

/// Receipts sort by message, then signer, then kind.
fn receipt_store_key(receipt: &StoredReceipt) -> Vec<u8> {
    let mut key = delivery_key(&receipt.id, &receipt.recipient);
    key.push(u8::from(receipt.heard));
    key
}

fn delivery_key(id: &MessageId, peer: &PeerId) -> Vec<u8> {
    let mut key = id.0.to_vec();
    key.extend_from_slice(&peer.to_bytes());
    key
}

/// Peer ids vary in length, so the pending index prefixes them with it.
fn peer_prefix(peer: &PeerId) -> Vec<u8> {
    let bytes = peer.to_bytes();
    let mut key = Vec::with_capacity(1 + bytes.len() + 16);
    key.push(bytes.len() as u8);
    key.extend_from_slice(&bytes);
    key
}

fn pending_key(peer: &PeerId, id: &MessageId) -> Vec<u8> {
    let mut key = peer_prefix(peer);
    key.extend_from_slice(&id.0);
    key
}
