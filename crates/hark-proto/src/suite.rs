//! The fixed cryptographic suite: HPKE (RFC 9180) base mode with
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and ChaCha20Poly1305, used to
//! wrap one 32-byte content key per recipient.

use hpke::{Deserializable, OpModeR, OpModeS, Serializable};

/// The HPKE KEM: DHKEM(X25519, HKDF-SHA256), id 0x0020.
pub(crate) type Kem = hpke::kem::X25519HkdfSha256;

/// The HPKE KDF: HKDF-SHA256, id 0x0001.
type Kdf = hpke::kdf::HkdfSha256;

/// The HPKE AEAD: ChaCha20Poly1305, id 0x0003.
type Aead = hpke::aead::ChaCha20Poly1305;

/// The X25519 secret type of the hpke crate.
pub(crate) type AgreementSecret = <Kem as hpke::Kem>::PrivateKey;

/// Length of a DHKEM(X25519) encapsulated key.
pub(crate) const ENCAPPED_LEN: usize = 32;

/// Length of a wrapped 32-byte content key (plus the 16-byte AEAD tag).
pub(crate) const WRAPPED_LEN: usize = 32 + 16;

/// Why wrapping failed: the recipient's X25519 key is a low-order point,
/// so the Diffie-Hellman result would be all zeros (RFC 9180 §7.1.4).
#[derive(Debug)]
pub(crate) struct BadRecipientKey;

/// Seals `key` to `recipient_key`; returns (encapsulated key, ciphertext).
pub(crate) fn wrap(
    recipient_key: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    key: &[u8; 32],
) -> Result<(Vec<u8>, Vec<u8>), BadRecipientKey> {
    let public =
        <Kem as hpke::Kem>::PublicKey::from_bytes(recipient_key).map_err(|_| BadRecipientKey)?;
    let (encapped, wrapped) =
        hpke::single_shot_seal::<Aead, Kdf, Kem>(&OpModeS::Base, &public, info, key, aad)
            .map_err(|_| BadRecipientKey)?;
    Ok((encapped.to_bytes().to_vec(), wrapped))
}

/// Opens a wrapped content key; `None` if anything does not authenticate.
pub(crate) fn unwrap(
    secret: &AgreementSecret,
    encapped: &[u8],
    wrapped: &[u8],
    info: &[u8],
    aad: &[u8],
) -> Option<zeroize::Zeroizing<[u8; 32]>> {
    let encapped = <Kem as hpke::Kem>::EncappedKey::from_bytes(encapped).ok()?;
    let plain = zeroize::Zeroizing::new(
        hpke::single_shot_open::<Aead, Kdf, Kem>(
            &OpModeR::Base,
            secret,
            &encapped,
            info,
            wrapped,
            aad,
        )
        .ok()?,
    );

    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    if plain.len() != key.len() {
        return None;
    }
    key.copy_from_slice(&plain);
    Some(key)
}
