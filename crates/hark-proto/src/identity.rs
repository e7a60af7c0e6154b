//! Long-term identities: the secret [`Identity`] kept in the key file, the
//! [`PublicIdentity`] peers learn from profiles, domain-separated signatures
//! and the human-comparable [`SafetyNumber`].

use std::fmt;

use hpke::{Deserializable, Kem as _, Serializable};
use libp2p_identity::{Keypair, PeerId, PublicKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::suite::{AgreementSecret, Kem};

/// Magic bytes opening a key file.
const KEY_FILE_MAGIC: &[u8; 6] = b"HARKID";

/// Key file layout version written by [`Identity::to_bytes`].
const KEY_FILE_VERSION: u8 = 1;

/// Length of the checksum closing a key file.
const CHECKSUM_LEN: usize = 16;

/// Total key file length: magic, version, two 32-byte secrets, checksum.
const KEY_FILE_LEN: usize = KEY_FILE_MAGIC.len() + 1 + 32 + 32 + CHECKSUM_LEN;

/// blake3 derive_key context for the key file checksum.
const CHECKSUM_CONTEXT: &str = "hark v1 key file checksum";

/// blake3 derive_key context for safety numbers.
const SAFETY_CONTEXT: &str = "hark v1 safety number";

/// A node's long-term secret identity: an ed25519 signing keypair (which
/// also names the node on the network as its [`PeerId`]) and an X25519
/// agreement secret that voice message keys are wrapped to.
///
/// `Debug` shows only the PeerId; the secrets are wiped from memory on drop
/// by the underlying key types.
#[derive(Clone)]
pub struct Identity {
    /// ed25519 keypair; libp2p uses it for the swarm.
    keypair: Keypair,
    /// X25519 secret for HPKE (RFC 9180) key unwrapping.
    agreement: AgreementSecret,
    /// Public half of `agreement`, cached.
    agreement_public: [u8; 32],
}

/// Why key file bytes could not be read as an [`Identity`].
///
/// None of these get better by retrying with the same bytes: the file is
/// damaged, truncated, from another program, or from a newer Hark.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file does not have the exact length of a version 1 key file,
    /// usually because it was truncated.
    #[error("key file has {actual} bytes, expected {expected}")]
    Length {
        /// Bytes expected.
        expected: usize,
        /// Bytes found.
        actual: usize,
    },
    /// The file does not start with "HARKID": it is not a Hark key file.
    #[error("not a Hark key file (bad magic)")]
    Magic,
    /// The file was written by a Hark that uses a layout this one does not
    /// know; upgrading Hark may help.
    #[error("unsupported key file version {0}")]
    Version(u8),
    /// The checksum does not match: some bytes were changed on disk. The
    /// keys inside cannot be trusted; restore the file from a backup.
    #[error("key file checksum mismatch (file corrupted)")]
    Checksum,
    /// The checksum matched but a key inside was rejected by its library.
    #[error("key file holds an invalid key: {0}")]
    Key(String),
}

impl Identity {
    /// A fresh identity from the operating system's random number generator.
    pub fn generate() -> Identity {
        let keypair = Keypair::generate_ed25519();
        let (agreement, _) = Kem::gen_keypair();
        Identity::from_parts(keypair, agreement)
    }

    /// Builds the identity and caches the agreement public key.
    fn from_parts(keypair: Keypair, agreement: AgreementSecret) -> Identity {
        let public = Kem::sk_to_pk(&agreement);
        let mut agreement_public = [0u8; 32];
        agreement_public.copy_from_slice(&public.to_bytes());
        Identity {
            keypair,
            agreement,
            agreement_public,
        }
    }

    /// The key file form: "HARKID", version byte 1, ed25519 secret (32
    /// bytes), X25519 secret (32 bytes), then the first 16 bytes of a blake3
    /// derive_key checksum over everything before it.
    ///
    /// The result holds secrets: write it to a private file and drop it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(KEY_FILE_LEN);
        out.extend_from_slice(KEY_FILE_MAGIC);
        out.push(KEY_FILE_VERSION);
        out.extend_from_slice(self.ed25519_secret().as_ref());
        out.extend_from_slice(&self.agreement.to_bytes());

        let checksum = key_file_checksum(&out);
        out.extend_from_slice(&checksum);
        out
    }

    /// The 32-byte ed25519 secret, wiped when the returned value drops.
    fn ed25519_secret(&self) -> Zeroizing<[u8; 32]> {
        let pair = self
            .keypair
            .clone()
            .try_into_ed25519()
            .expect("an Identity is only ever built around an ed25519 keypair");
        let mut secret = Zeroizing::new([0u8; 32]);
        secret.copy_from_slice(pair.secret().as_ref());
        secret
    }

    /// Reads a key file written by [`Identity::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Identity, KeyFileError> {
        let body = check_key_file(bytes)?;
        let (ed_secret, x_secret) = body.split_at(32);

        let mut ed_copy = Zeroizing::new(<[u8; 32]>::try_from(ed_secret).map_err(key_err)?);
        let keypair = Keypair::ed25519_from_bytes(&mut ed_copy[..]).map_err(key_err)?;
        let agreement = AgreementSecret::from_bytes(x_secret).map_err(key_err)?;
        Ok(Identity::from_parts(keypair, agreement))
    }

    /// This node's network name, derived from the signing key.
    pub fn peer_id(&self) -> PeerId {
        self.keypair.public().to_peer_id()
    }

    /// The ed25519 keypair, for the libp2p swarm.
    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }

    /// The X25519 public key that message keys are wrapped to.
    pub fn agreement_public(&self) -> [u8; 32] {
        self.agreement_public
    }

    /// Same signing key, fresh agreement key: a rotated identity.
    #[cfg(test)]
    pub(crate) fn with_rotated_agreement_key(&self) -> Identity {
        Identity::from_parts(self.keypair.clone(), Kem::gen_keypair().0)
    }

    /// The HPKE secret, for unwrapping content keys.
    pub(crate) fn agreement_secret(&self) -> &AgreementSecret {
        &self.agreement
    }

    /// What peers may know about this identity.
    pub fn public(&self) -> PublicIdentity {
        PublicIdentity {
            peer_id: self.peer_id(),
            signing_key: self.keypair.public().encode_protobuf(),
            agreement_key: self.agreement_public,
        }
    }

    /// Signs `context || 0x00 || bytes` with the ed25519 key.
    ///
    /// The context names what is signed (e.g. "hark/v1/header"), so a
    /// signature made for one purpose cannot be replayed as another.
    /// Contexts must not contain a NUL byte, or the separation is lost.
    pub fn sign(&self, context: &str, bytes: &[u8]) -> Vec<u8> {
        sign_with(&self.keypair, context, bytes)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("peer_id", &self.peer_id())
            .finish_non_exhaustive()
    }
}

/// Checks magic, version, length and checksum; returns the 64 secret bytes.
///
/// Magic and version come first so that a file from a newer Hark (whose
/// layout may have another length) is reported as such, not as truncated.
fn check_key_file(bytes: &[u8]) -> Result<&[u8], KeyFileError> {
    let prefix_len = KEY_FILE_MAGIC.len() + 1;
    let length_err = KeyFileError::Length {
        expected: KEY_FILE_LEN,
        actual: bytes.len(),
    };
    let prefix = bytes.get(..prefix_len).ok_or(length_err.clone())?;
    if prefix[..KEY_FILE_MAGIC.len()] != KEY_FILE_MAGIC[..] {
        return Err(KeyFileError::Magic);
    }
    if prefix[KEY_FILE_MAGIC.len()] != KEY_FILE_VERSION {
        return Err(KeyFileError::Version(prefix[KEY_FILE_MAGIC.len()]));
    }

    if bytes.len() != KEY_FILE_LEN {
        return Err(length_err);
    }
    let (covered, checksum) = bytes.split_at(KEY_FILE_LEN - CHECKSUM_LEN);
    if key_file_checksum(covered)[..] != checksum[..] {
        return Err(KeyFileError::Checksum);
    }
    Ok(&covered[prefix_len..])
}

/// First [`CHECKSUM_LEN`] bytes of the keyed blake3 checksum.
fn key_file_checksum(covered: &[u8]) -> [u8; CHECKSUM_LEN] {
    let full = blake3::derive_key(CHECKSUM_CONTEXT, covered);
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&full[..CHECKSUM_LEN]);
    out
}

/// Maps a key library error to [`KeyFileError::Key`].
fn key_err(e: impl fmt::Display) -> KeyFileError {
    KeyFileError::Key(e.to_string())
}

/// [`Identity::sign`] for holders of just the keypair (a `Sealer`).
pub(crate) fn sign_with(keypair: &Keypair, context: &str, bytes: &[u8]) -> Vec<u8> {
    debug_assert!(!context.contains('\0'), "signing contexts contain no NUL");
    keypair
        .sign(&signed_message(context, bytes))
        .expect("ed25519 signing cannot fail; only RSA keys report errors")
}

/// The exact bytes an ed25519 signature covers: `context || 0x00 || bytes`.
pub(crate) fn signed_message(context: &str, bytes: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(context.len() + 1 + bytes.len());
    message.extend_from_slice(context.as_bytes());
    message.push(0);
    message.extend_from_slice(bytes);
    message
}

/// Decodes a protobuf-encoded libp2p public key; `None` for garbage or
/// unsupported key types.
pub(crate) fn decode_signing_key(signing_key: &[u8]) -> Option<PublicKey> {
    PublicKey::try_decode_protobuf(signing_key).ok()
}

/// Checks a domain-separated signature by a protobuf-encoded key.
pub(crate) fn verify_with(key: &PublicKey, context: &str, bytes: &[u8], sig: &[u8]) -> bool {
    !context.contains('\0') && key.verify(&signed_message(context, bytes), sig)
}

/// What peers know about an identity: its PeerId, its signing key and the
/// X25519 key to wrap message keys to.
///
/// Only trustworthy once obtained from a verified
/// [`SignedProfile`](crate::profile::SignedProfile), which proves that
/// `peer_id` is derived from `signing_key` and that the key holder chose
/// `agreement_key`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PublicIdentity {
    /// Network name, derived from `signing_key`.
    #[serde(with = "crate::ids::peer_serde")]
    pub peer_id: PeerId,
    /// Protobuf-encoded libp2p (ed25519) public key.
    pub signing_key: Vec<u8>,
    /// X25519 public key for HPKE key wrapping.
    pub agreement_key: [u8; 32],
}

impl PublicIdentity {
    /// True if `sig` is this identity's signature of `context || 0 || bytes`
    /// and `signing_key` really belongs to `peer_id`.
    pub fn verify(&self, context: &str, bytes: &[u8], sig: &[u8]) -> bool {
        let Some(key) = decode_signing_key(&self.signing_key) else {
            return false;
        };
        key.to_peer_id() == self.peer_id && verify_with(&key, context, bytes, sig)
    }

    /// The number two people compare (read aloud, side by side) to confirm
    /// they hold the same keys for this identity.
    pub fn safety_number(&self) -> SafetyNumber {
        SafetyNumber::derive(&self.signing_key, &self.agreement_key)
    }
}

/// 20 decimal digits in four groups of five ("12345 67890 12345 67890"),
/// derived with blake3 from an identity's signing and agreement keys.
///
/// About 66 bits: enough that an attacker cannot grind a key pair whose
/// number matches a victim's, not a cryptographic hash to store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SafetyNumber(String);

impl SafetyNumber {
    /// blake3 derive_key over `len(signing_key) as u32 LE || signing_key ||
    /// agreement_key`; each 8-byte chunk of the first 32 output bytes, read
    /// as a little-endian u64 modulo 100 000, gives one group of 5 digits.
    fn derive(signing_key: &[u8], agreement_key: &[u8; 32]) -> SafetyNumber {
        let mut hasher = blake3::Hasher::new_derive_key(SAFETY_CONTEXT);
        hasher.update(&(signing_key.len() as u32).to_le_bytes());
        hasher.update(signing_key);
        hasher.update(agreement_key);
        let digest = hasher.finalize();

        let groups: Vec<String> = digest.as_bytes()[..32]
            .chunks_exact(8)
            .map(|chunk| {
                let word = u64::from_le_bytes(chunk.try_into().expect("chunks_exact(8)"));
                format!("{:05}", word % 100_000)
            })
            .collect();
        SafetyNumber(groups.join(" "))
    }

    /// The digits with their spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SafetyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A key file read back gives the same peer id, agreement key and signer.
    #[test]
    fn key_file_round_trip() -> Result<(), KeyFileError> {
        let id = Identity::generate();
        let bytes = id.to_bytes();
        assert_eq!(bytes.len(), KEY_FILE_LEN);
        assert_eq!(&bytes[..7], b"HARKID\x01");

        let back = Identity::from_bytes(&bytes)?;
        assert_eq!(back.peer_id(), id.peer_id());
        assert_eq!(back.public(), id.public());
        assert_eq!(back.to_bytes(), bytes);
        Ok(())
    }

    // Each damaged key file gives its own error, never a panic.
    #[test]
    fn key_file_damage_is_reported() {
        let good = Identity::generate().to_bytes();

        let short = &good[..good.len() - 1];
        let err = Identity::from_bytes(short).err();
        assert_eq!(
            err,
            Some(KeyFileError::Length {
                expected: KEY_FILE_LEN,
                actual: KEY_FILE_LEN - 1
            })
        );

        let mut magic = good.clone();
        magic[0] = b'X';
        assert_eq!(
            Identity::from_bytes(&magic).err(),
            Some(KeyFileError::Magic)
        );

        let mut version = good.clone();
        version[6] = 2;
        assert_eq!(
            Identity::from_bytes(&version).err(),
            Some(KeyFileError::Version(2))
        );

        let mut secret = good.clone();
        secret[20] ^= 1;
        assert_eq!(
            Identity::from_bytes(&secret).err(),
            Some(KeyFileError::Checksum)
        );
    }

    // A newer layout of another length is reported as a version problem,
    // and short garbage never panics.
    #[test]
    fn key_file_prefix_checks() {
        let mut newer = b"HARKID\x02".to_vec();
        newer.extend_from_slice(&[0; 100]);
        assert_eq!(
            Identity::from_bytes(&newer).err(),
            Some(KeyFileError::Version(2))
        );
        for len in 0..KEY_FILE_LEN + 2 {
            assert!(Identity::from_bytes(&vec![0x48; len]).is_err());
        }
        let empty = Identity::from_bytes(&[]).err();
        assert_eq!(
            empty,
            Some(KeyFileError::Length {
                expected: KEY_FILE_LEN,
                actual: 0
            })
        );
    }

    // Debug output names the peer but never the secret bytes.
    #[test]
    fn debug_redacts_secrets() {
        let id = Identity::generate();
        let shown = format!("{id:?}");
        assert!(shown.contains(&id.peer_id().to_base58()));
        let secret_hex: String = id
            .ed25519_secret()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!shown.contains(&secret_hex));
        assert!(!shown.contains(&format!("{:?}", &id.ed25519_secret()[..])));
    }

    // A signature verifies only for the same context and bytes.
    #[test]
    fn signatures_are_domain_separated() {
        let id = Identity::generate();
        let public = id.public();
        let sig = id.sign("hark/v1/test", b"payload");
        assert!(public.verify("hark/v1/test", b"payload", &sig));
        assert!(!public.verify("hark/v1/other", b"payload", &sig));
        assert!(!public.verify("hark/v1/test", b"payloae", &sig));
        // Moving the boundary between context and bytes breaks it too.
        assert!(!public.verify("hark/v1/tes", b"t\0payload", &sig));
    }

    // verify refuses a key that does not belong to the claimed peer.
    #[test]
    fn verify_checks_peer_binding() {
        let id = Identity::generate();
        let mut public = id.public();
        let sig = id.sign("ctx", b"x");
        public.peer_id = Identity::generate().peer_id();
        assert!(!public.verify("ctx", b"x", &sig));
        public.signing_key = vec![1, 2, 3];
        assert!(!public.verify("ctx", b"x", &sig));
    }

    // Safety numbers are 4 groups of 5 digits, stable, and key-dependent.
    #[test]
    fn safety_number_shape() {
        let public = Identity::generate().public();
        let number = public.safety_number();
        let text = number.to_string();
        assert_eq!(text.len(), 23);
        let groups: Vec<&str> = text.split(' ').collect();
        assert_eq!(groups.len(), 4);
        assert!(groups
            .iter()
            .all(|g| g.len() == 5 && g.chars().all(|c| c.is_ascii_digit())));
        assert_eq!(public.safety_number(), number);

        let mut rotated = public.clone();
        rotated.agreement_key[0] ^= 1;
        assert_ne!(rotated.safety_number(), number);
    }

    // Fixed keys give a pinned number, so the derivation cannot drift silently
    // (value recorded from this implementation, not an external vector).
    #[test]
    fn safety_number_known_answer() {
        let number = SafetyNumber::derive(&[1, 2, 3], &[9; 32]);
        assert_eq!(number.as_str(), "93752 29372 97538 53766");
        let other = SafetyNumber::derive(&[1, 2], &[9; 32]);
        assert_ne!(number, other);
    }
}
