//! Channels: groups that anyone can make and join with an invite code. A
//! channel is an id, a name and a 32-byte key; its messages are sealed
//! under a content key derived from the channel key (see
//! [`crate::envelope::Sealer::for_channel`]), so every member can open them
//! and nobody else can.
//!
//! The invite code carries the key: whoever has the code is a member.
//! Members prove membership to each other without showing the key, with a
//! [`member_tag`] bound to their own peer id.

use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};

/// What an invite code starts with.
pub const INVITE_PREFIX: &str = "hark-channel:";

/// Longest channel name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A channel as its members know it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Random id, the same for every member.
    pub id: [u8; 16],
    /// Display name (chosen by whoever made it).
    pub name: String,
    /// The channel key. Secret: never logged.
    pub key: [u8; 32],
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("id", &hex(&self.id))
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Why an invite code or name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InviteError {
    /// It does not start with [`INVITE_PREFIX`] or is not valid base32.
    #[error("not a Hark channel invite")]
    NotAnInvite,
    /// It decodes but is not a channel this version understands.
    #[error("the invite is damaged or from a newer Hark")]
    Malformed,
    /// The channel name is empty, too long or has control characters.
    #[error("a channel name has 1 to 64 characters, no control characters and no leading '#'")]
    BadName,
}

#[derive(Serialize, Deserialize)]
struct Invite {
    version: u8,
    id: [u8; 16],
    key: [u8; 32],
    name: String,
}

impl Channel {
    /// A new channel with a fresh id and key.
    pub fn create(name: &str) -> Result<Channel, InviteError> {
        let name = check_name(name)?;
        let mut id = [0u8; 16];
        let mut key = [0u8; 32];
        getrandom::fill(&mut id).map_err(|_| InviteError::Malformed)?;
        getrandom::fill(&mut key).map_err(|_| InviteError::Malformed)?;
        Ok(Channel { id, name, key })
    }

    /// The invite code: share it (as text or a QR code) to let someone in.
    pub fn invite(&self) -> String {
        let invite = Invite {
            version: 1,
            id: self.id,
            key: self.key,
            name: self.name.clone(),
        };
        let bytes = postcard::to_allocvec(&invite).unwrap_or_default();
        let code = data_encoding::BASE32_NOPAD.encode(&bytes).to_lowercase();
        format!("{INVITE_PREFIX}{code}")
    }

    /// Reads an invite code. Case does not matter, and the code may sit
    /// among other words (a pasted line such as `#Team  hark-channel:…`):
    /// the first word that starts with [`INVITE_PREFIX`] is taken.
    pub fn from_invite(text: &str) -> Result<Channel, InviteError> {
        let has_prefix = |w: &&str| {
            w.get(..INVITE_PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(INVITE_PREFIX))
        };
        let code = text
            .split_whitespace()
            .find(has_prefix)
            .unwrap_or(text.trim());
        let body = code
            .get(..INVITE_PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(INVITE_PREFIX))
            .map(|_| &code[INVITE_PREFIX.len()..])
            .ok_or(InviteError::NotAnInvite)?;
        let bytes = data_encoding::BASE32_NOPAD
            .decode(body.to_uppercase().as_bytes())
            .map_err(|_| InviteError::NotAnInvite)?;
        let invite: Invite = postcard::from_bytes(&bytes).map_err(|_| InviteError::Malformed)?;
        if invite.version != 1 {
            return Err(InviteError::Malformed);
        }
        let name = check_name(&invite.name)?;
        Ok(Channel {
            id: invite.id,
            name,
            key: invite.key,
        })
    }

    /// This member's tag for `peer` (see [`member_tag`]).
    pub fn member_tag(&self, peer: &PeerId) -> [u8; 32] {
        member_tag(&self.key, peer)
    }

    /// The id as 32 hex characters.
    pub fn id_hex(&self) -> String {
        hex(&self.id)
    }
}

/// Proof that `peer` knows a channel's key, bound to that peer so it cannot
/// be replayed by another: a keyed BLAKE3 hash of the peer id under a key
/// derived from the channel key. A member checks a tag by computing it.
pub fn member_tag(channel_key: &[u8; 32], peer: &PeerId) -> [u8; 32] {
    let tag_key = blake3::derive_key("hark v1 channel member tag", channel_key);
    *blake3::keyed_hash(&tag_key, &peer.to_bytes()).as_bytes()
}

fn check_name(name: &str) -> Result<String, InviteError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(InviteError::BadName);
    }
    // `--to '#name'` names a channel; a name that itself began with '#'
    // could never be reached that way.
    if name.starts_with('#') {
        return Err(InviteError::BadName);
    }
    Ok(name.to_string())
}

/// Lower-case hex of `bytes`, as channel ids are shown.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // An invite code brings back the same channel; damaged codes are refused.
    #[test]
    fn invite_round_trip_and_damage() -> Result<(), InviteError> {
        let channel = Channel::create("  Team Radio ")?;
        assert_eq!(channel.name, "Team Radio");
        let code = channel.invite();
        assert!(code.starts_with(INVITE_PREFIX));
        assert_eq!(
            Channel::from_invite(&format!(" {} ", code.to_uppercase()))?,
            channel
        );

        assert_eq!(Channel::from_invite("hello"), Err(InviteError::NotAnInvite));
        let cut = &code[..code.len() - 10];
        assert!(Channel::from_invite(cut).is_err());
        assert_eq!(Channel::create("\u{7}bell"), Err(InviteError::BadName));
        assert_eq!(Channel::create("#Hash"), Err(InviteError::BadName));

        // A whole pasted line works: the code is found among the words.
        let line = format!("#Team Radio  {code}");
        assert_eq!(Channel::from_invite(&line)?, channel);
        Ok(())
    }

    // A tag proves the key for one peer only.
    #[test]
    fn member_tag_is_bound_to_key_and_peer() {
        let (a, b) = (PeerId::random(), PeerId::random());
        let one = Channel::create("one").expect("valid name");
        let two = Channel::create("two").expect("valid name");
        assert_eq!(one.member_tag(&a), member_tag(&one.key, &a));
        assert_ne!(one.member_tag(&a), one.member_tag(&b));
        assert_ne!(one.member_tag(&a), two.member_tag(&a));
    }

    // The key never shows in debug output.
    #[test]
    fn debug_hides_the_key() {
        let channel = Channel {
            id: [1; 16],
            name: "n".into(),
            key: [0xab; 32],
        };
        assert!(!format!("{channel:?}").contains("abab"));
    }
}
