//! hark-proto: Hark's identities, message model, wire format and envelope
//! crypto. Pure data and cryptography: no files, sockets or clock reads
//! (callers pass times in as milliseconds since the Unix epoch).
//!
//! Modules:
//! - [`channel`]: channels, their invite codes and membership tags.
//! - [`ids`]: [`MessageId`](ids::MessageId) and short peer names for logs.
//! - [`identity`]: the secret [`Identity`](identity::Identity) (ed25519 +
//!   X25519, key file format), [`PublicIdentity`](identity::PublicIdentity),
//!   domain-separated signatures and safety numbers.
//! - [`profile`]: self-certifying signed display name and agreement key.
//! - [`envelope`]: the encrypted voice message: signed header with HPKE
//!   key wraps, XChaCha20Poly1305 frames, signed trailer; sealing, opening
//!   and key-less verification. The byte-level description is
//!   docs/envelope.md.
//! - [`receipt`]: signed delivered/heard receipts.
//! - [`wire`]: request/response and presence messages with bounded
//!   postcard encoding.
//!
//! A crate-private `suite` module fixes the HPKE ciphersuite.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod channel;
pub mod envelope;
pub mod identity;
pub mod ids;
pub mod profile;
pub mod receipt;
mod suite;
pub mod wire;

pub use libp2p_identity::PeerId;
