//! Self-certifying profiles: a display name and agreement key, signed by
//! the identity's ed25519 key. Peers exchange them in `Hello` and presence.

use serde::{Deserialize, Serialize};

use crate::identity::{decode_signing_key, verify_with, Identity, PublicIdentity};

/// Signature context for profiles.
pub const PROFILE_CONTEXT: &str = "hark/v1/profile";

/// Longest display name, in Unicode scalar values, after trimming.
pub const MAX_NAME_CHARS: usize = 64;

/// What a peer says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Name shown to others: 1..=64 chars, trimmed, no control characters.
    pub display_name: String,
    /// X25519 key that voice message keys are wrapped to.
    pub agreement_key: [u8; 32],
    /// When the profile was signed (ms since the Unix epoch, sender's
    /// clock). Lets peers keep the newest profile of an identity.
    pub issued_at_ms: u64,
}

/// A [`Profile`] as sent: the postcard body with the signing key and an
/// ed25519 signature over `"hark/v1/profile" || 0x00 || body`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignedProfile {
    /// Protobuf-encoded libp2p public key; the PeerId is derived from it.
    pub signing_key: Vec<u8>,
    /// postcard-encoded [`Profile`].
    pub body: Vec<u8>,
    /// ed25519 signature, see the type docs.
    pub signature: Vec<u8>,
}

/// Why a [`SignedProfile`] was rejected. Retrying with the same bytes never
/// helps: the sender must send a different profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The signing key is not a protobuf-encoded libp2p key this build
    /// supports (only ed25519).
    #[error("profile signing key is not a supported public key")]
    BadKey,
    /// The signature does not match the body and key: forged or damaged.
    #[error("profile signature does not verify")]
    BadSignature,
    /// The signed body is not a postcard `Profile` (or has trailing bytes).
    #[error("profile body is malformed: {0}")]
    Malformed(String),
    /// The display name breaks the rules of [`validate_display_name`].
    #[error("invalid display name: {0}")]
    DisplayName(&'static str),
}

/// Checks a display name: trimmed, 1..=64 chars, no control characters.
/// Returns the trimmed name. The UI should call this before
/// [`SignedProfile::sign`], which trims but does not refuse.
pub fn validate_display_name(name: &str) -> Result<&str, ProfileError> {
    let trimmed = name.trim();
    let chars = trimmed.chars().count();
    if chars == 0 {
        return Err(ProfileError::DisplayName("empty"));
    }
    if chars > MAX_NAME_CHARS {
        return Err(ProfileError::DisplayName("longer than 64 characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ProfileError::DisplayName("contains control characters"));
    }
    Ok(trimmed)
}

impl SignedProfile {
    /// Signs a profile naming `identity`'s current agreement key.
    ///
    /// The name is trimmed. An invalid name (empty, too long, control
    /// characters) still produces a profile, which every peer will reject;
    /// check it first with [`validate_display_name`].
    pub fn sign(identity: &Identity, display_name: &str, now_ms: u64) -> SignedProfile {
        let profile = Profile {
            display_name: display_name.trim().to_string(),
            agreement_key: identity.agreement_public(),
            issued_at_ms: now_ms,
        };
        let body = postcard::to_allocvec(&profile)
            .expect("postcard encodes a String, an array and a u64 into a Vec without fail");

        SignedProfile {
            signing_key: identity.keypair().public().encode_protobuf(),
            signature: identity.sign(PROFILE_CONTEXT, &body),
            body,
        }
    }

    /// The display name as the profile states it, without checking the
    /// signature: only for profiles that were verified before they were
    /// stored (listing names must not cost a signature check each).
    pub fn stored_display_name(&self) -> Option<String> {
        let profile: Profile = crate::wire::decode_exact(&self.body).ok()?;
        Some(profile.display_name)
    }

    /// Checks the signature and the name; returns the self-certified public
    /// identity (PeerId derived from `signing_key`) and the profile.
    pub fn verify(&self) -> Result<(PublicIdentity, Profile), ProfileError> {
        let key = decode_signing_key(&self.signing_key).ok_or(ProfileError::BadKey)?;
        if !verify_with(&key, PROFILE_CONTEXT, &self.body, &self.signature) {
            return Err(ProfileError::BadSignature);
        }

        let profile: Profile = crate::wire::decode_exact(&self.body)
            .map_err(|e| ProfileError::Malformed(e.to_string()))?;
        if validate_display_name(&profile.display_name)? != profile.display_name {
            return Err(ProfileError::DisplayName("not trimmed"));
        }

        let public = PublicIdentity {
            peer_id: key.to_peer_id(),
            signing_key: self.signing_key.clone(),
            agreement_key: profile.agreement_key,
        };
        Ok((public, profile))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A signed profile verifies to the signer's public identity and the trimmed name.
    #[test]
    fn sign_and_verify() -> Result<(), ProfileError> {
        let id = Identity::generate();
        let signed = SignedProfile::sign(&id, "  Ada  ", 1_700_000_000_000);
        let (public, profile) = signed.verify()?;
        assert_eq!(public, id.public());
        assert_eq!(profile.display_name, "Ada");
        assert_eq!(profile.issued_at_ms, 1_700_000_000_000);
        Ok(())
    }

    // Names that are empty, too long or hold control characters are refused.
    #[test]
    fn bad_names_are_refused() {
        let id = Identity::generate();
        let long = "x".repeat(65);
        for name in ["   ", long.as_str(), "bell\u{7}", "new\nline"] {
            let err = SignedProfile::sign(&id, name, 0).verify().err();
            assert!(
                matches!(err, Some(ProfileError::DisplayName(_))),
                "{name:?}"
            );
        }
        let ok = "é".repeat(64);
        assert_eq!(validate_display_name(&ok), Ok(ok.as_str()));
    }

    // A body re-signed by nobody, or a swapped key, fails the signature check.
    #[test]
    fn tampering_is_detected() {
        let id = Identity::generate();
        let signed = SignedProfile::sign(&id, "Ada", 5);

        let mut other_key = signed.clone();
        other_key.signing_key = Identity::generate().keypair().public().encode_protobuf();
        assert_eq!(other_key.verify().err(), Some(ProfileError::BadSignature));

        let mut garbage_key = signed.clone();
        garbage_key.signing_key = vec![0xff; 10];
        assert_eq!(garbage_key.verify().err(), Some(ProfileError::BadKey));

        let mut body = signed;
        let last = body.body.len() - 1;
        body.body[last] ^= 1;
        assert_eq!(body.verify().err(), Some(ProfileError::BadSignature));
    }

    // A validly signed but untrimmed or trailing-garbage body is refused.
    #[test]
    fn signed_but_malformed_body() -> Result<(), postcard::Error> {
        let id = Identity::generate();
        let raw = |profile: &Profile, extra: &[u8]| -> Result<SignedProfile, postcard::Error> {
            let mut body = postcard::to_allocvec(profile)?;
            body.extend_from_slice(extra);
            Ok(SignedProfile {
                signing_key: id.keypair().public().encode_protobuf(),
                signature: id.sign(PROFILE_CONTEXT, &body),
                body,
            })
        };
        let profile = Profile {
            display_name: " Ada".into(),
            agreement_key: id.agreement_public(),
            issued_at_ms: 1,
        };
        let untrimmed = raw(&profile, &[])?.verify().err();
        assert_eq!(untrimmed, Some(ProfileError::DisplayName("not trimmed")));

        let trimmed = Profile {
            display_name: "Ada".into(),
            ..profile
        };
        let trailing = raw(&trimmed, &[0])?.verify().err();
        assert!(matches!(trailing, Some(ProfileError::Malformed(_))));
        Ok(())
    }
}
