//! Hark's durable state, kept in one sled database per data dir.
//!
//! - [`Store`] opens the database, checks the schema version and offers
//!   typed operations; every change that must not be half-done (a message
//!   with all its frames and its delivery list) is one sled transaction.
//! - [`record`] holds the stored record types.
//! - [`error`] holds [`OpenError`] and [`Error`].
//!
//! Trees: `meta` (schema version, settings), `messages` (id -> record),
//! `frame_groups` (id ‖ group -> up to 50 sealed frames, see `groups.rs`),
//! `delivery` (id ‖ peer -> state),
//! `pending` (peer ‖ id -> ()), an index of what each peer still lacks,
//! `receipts` (id ‖ recipient ‖ kind -> verified receipt), `receipt_keys`
//! (reconciliation key -> receipts key), `contacts` (peer -> signed
//! profile and last contact), `channels` (id -> channel and settings) and
//! `members` (channel id ‖ peer -> ()), the peers known to be in a channel.
//!
//! Durability: when [`Store::flush`] returns, sled has written its log and
//! synced the range (`sync_file_range`), and the store has `fdatasync`ed
//! sled's files itself, which also flushes the drive's cache and the file's
//! size: what was flushed survives the process being killed and, on a drive
//! that honours cache flushes, a power cut (see `docs/architecture.md`).

#![cfg_attr(not(test), deny(clippy::unwrap_used))]
#![deny(missing_docs)]

mod error;
mod groups;
pub mod record;
mod store;

pub use error::{Error, OpenError};
pub use record::{ChannelRecord, Contact, Delivery, Direction, MessageRecord, StoredReceipt};
pub use store::{ReceiptOutcome, Store, SCHEMA_VERSION};
