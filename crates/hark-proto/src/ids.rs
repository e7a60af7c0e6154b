//! Identifiers: [`MessageId`], short peer names for logs, and the serde
//! representation Hark uses for [`PeerId`] inside its own types.

use std::fmt;
use std::str::FromStr;

use libp2p_identity::PeerId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Random 128-bit identifier of one voice message, chosen by its sender.
///
/// Displayed and parsed as 32 hex characters. In binary formats (postcard)
/// it is 16 raw bytes; in human-readable formats (JSON for the UI) it is the
/// hex string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub [u8; 16]);

impl MessageId {
    /// A fresh id from the operating system's random number generator.
    ///
    /// 128 random bits make collisions between honest senders negligible;
    /// a sender reusing an id only confuses its own messages.
    pub fn random() -> MessageId {
        let mut bytes = [0u8; 16];
        fill_random(&mut bytes);
        MessageId(bytes)
    }

    /// The raw 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

/// Fills `buf` from the OS random number generator.
///
/// Without working OS randomness no key or id could be made safely, so this
/// is treated like an allocation failure: a panic, not an error to handle.
pub(crate) fn fill_random(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the OS random number generator must be available");
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({self})")
    }
}

/// Why a string is not a [`MessageId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseIdError {
    /// The string is not exactly 32 characters long. Retrying the same
    /// string cannot help; the id was probably cut off when copied.
    #[error("a message id has 32 hex characters, got {0}")]
    Length(usize),
    /// A character is not a hex digit. Retrying the same string cannot help.
    #[error("a message id contains only hex digits")]
    NotHex,
}

impl FromStr for MessageId {
    type Err = ParseIdError;

    /// Accepts upper- or lowercase hex; [`Display`](fmt::Display) always
    /// writes lowercase.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 32 {
            return Err(ParseIdError::Length(s.len()));
        }

        let mut bytes = [0u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
            *byte = hex_pair(pair).ok_or(ParseIdError::NotHex)?;
        }
        Ok(MessageId(bytes))
    }
}

/// Two ASCII hex digits to one byte.
fn hex_pair(pair: &[u8]) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16);
    let high = digit(*pair.first()?)?;
    let low = digit(*pair.get(1)?)?;
    u8::try_from(high * 16 + low).ok()
}

impl Serialize for MessageId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for MessageId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            text.parse().map_err(serde::de::Error::custom)
        } else {
            <[u8; 16]>::deserialize(deserializer).map(MessageId)
        }
    }
}

/// The last 8 characters of a peer's base58 id, enough to tell peers apart
/// in logs without flooding them.
pub fn short_peer(peer: &PeerId) -> String {
    let full = peer.to_base58();
    let start = full.len().saturating_sub(8);
    full[start..].to_string()
}

/// Serde representation of a [`PeerId`] in Hark's types: its multihash
/// bytes in binary formats, base58 text in human-readable ones.
///
/// Used as `#[serde(with = "crate::ids::peer_serde")]`. Deserialising
/// from a slice borrows or copies at most the bytes present, so a hostile
/// length prefix cannot make it allocate more than the input.
pub(crate) mod peer_serde {
    use super::*;

    /// Longest multihash a libp2p PeerId can have (identity hash of a
    /// protobuf public key is capped at 42 bytes; sha256 ones are 34).
    const MAX_PEER_ID_BYTES: usize = 64;

    /// Writes the PeerId.
    pub fn serialize<S: Serializer>(peer: &PeerId, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&peer.to_base58())
        } else {
            serializer.serialize_bytes(&peer.to_bytes())
        }
    }

    /// Reads a PeerId, rejecting bytes that are not a valid multihash.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PeerId, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            return text.parse().map_err(serde::de::Error::custom);
        }

        deserializer.deserialize_bytes(PeerBytes)
    }

    /// Visitor accepting a byte string (or a sequence of bytes, for formats
    /// that encode `Vec<u8>` that way).
    struct PeerBytes;

    impl<'de> serde::de::Visitor<'de> for PeerBytes {
        type Value = PeerId;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the bytes of a libp2p PeerId")
        }

        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<PeerId, E> {
            if v.len() > MAX_PEER_ID_BYTES {
                return Err(E::invalid_length(v.len(), &self));
            }
            PeerId::from_bytes(v).map_err(E::custom)
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<PeerId, A::Error> {
            let mut bytes = Vec::new();
            while let Some(b) = seq.next_element::<u8>()? {
                if bytes.len() == MAX_PEER_ID_BYTES {
                    return Err(serde::de::Error::invalid_length(bytes.len() + 1, &self));
                }
                bytes.push(b);
            }
            self.visit_bytes(&bytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Display writes 32 lowercase hex chars and FromStr reads them back.
    #[test]
    fn message_id_hex_round_trip() -> Result<(), ParseIdError> {
        let id = MessageId([
            0x00, 0x01, 0xab, 0xcd, 0xef, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90,
            0xa0, 0xff,
        ]);
        let text = id.to_string();
        assert_eq!(text, "0001abcdef102030405060708090a0ff");
        assert_eq!(text.parse::<MessageId>()?, id);
        assert_eq!(text.to_uppercase().parse::<MessageId>()?, id);
        Ok(())
    }

    // Wrong length and non-hex strings are refused with the matching error.
    #[test]
    fn message_id_parse_rejects_bad_text() {
        assert_eq!("abc".parse::<MessageId>(), Err(ParseIdError::Length(3)));
        let bad = "zz01abcdef102030405060708090a0ff";
        assert_eq!(bad.parse::<MessageId>(), Err(ParseIdError::NotHex));
        // 32 bytes but multi-byte chars: must not panic on char boundaries.
        let wide = "éééééééééééééééé";
        assert_eq!(wide.len(), 32);
        assert_eq!(wide.parse::<MessageId>(), Err(ParseIdError::NotHex));
    }

    // Two random ids differ (a broken RNG would return constants).
    #[test]
    fn random_ids_differ() {
        assert_ne!(MessageId::random(), MessageId::random());
    }

    // postcard stores the id as 16 raw bytes; JSON as the hex string.
    #[test]
    fn message_id_serde_forms() -> Result<(), Box<dyn std::error::Error>> {
        let id = MessageId([7; 16]);
        assert_eq!(postcard::to_allocvec(&id)?, vec![7u8; 16]);
        let json = serde_json::to_string(&id)?;
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<MessageId>(&json)?, id);
        Ok(())
    }

    // short_peer gives the last 8 base58 characters.
    #[test]
    fn short_peer_is_suffix() {
        let peer = PeerId::random();
        let short = short_peer(&peer);
        assert_eq!(short.len(), 8);
        assert!(peer.to_base58().ends_with(&short));
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Holder(#[serde(with = "peer_serde")] PeerId);

    // A PeerId inside a struct round-trips through postcard as bytes.
    #[test]
    fn peer_serde_round_trip() -> Result<(), postcard::Error> {
        let peer = PeerId::random();
        let bytes = postcard::to_allocvec(&Holder(peer))?;
        assert_eq!(bytes[1..], peer.to_bytes()[..]);
        assert_eq!(postcard::from_bytes::<Holder>(&bytes)?, Holder(peer));
        Ok(())
    }

    // Garbage where a PeerId should be is an error, not a panic.
    #[test]
    fn peer_serde_rejects_garbage() {
        assert!(postcard::from_bytes::<Holder>(&[3, 1, 2, 3]).is_err());
        assert!(postcard::from_bytes::<Holder>(&[200, 1]).is_err());
    }
}
