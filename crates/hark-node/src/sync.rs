//! Catching up by set reconciliation: when two peers meet, they run
//! negentropy over the messages and receipts they have in common scope,
//! learning in a few round trips exactly what each lacks, however many
//! messages were missed.
//!
//! The set node X offers peer Y holds, for each message X stores:
//! - the message, if Y takes part in it (sender or recipient) and X still
//!   has its frames, or if X sent it and some recipient still lacks it (Y
//!   may carry it);
//! - every receipt X holds for it, if Y takes part in it or X sent it.
//!
//! So a carrier hands mail only to its addressees, a sender hands pending
//! mail to anyone, and receipts flow back towards senders by any path.
//! Items carry the sender's timestamp from the signed header (receipts that
//! of their message), which is the same at every peer: no clocks need to
//! agree.

use hark_proto::ids::MessageId;
use hark_store::{Direction, MessageRecord, Store};
use libp2p::PeerId;
use negentropy::{Id, Negentropy, NegentropyStorageVector};

/// Largest negentropy message; keeps each round far below the wire limit.
pub(crate) const FRAME_LIMIT: u64 = 60_000;

const MESSAGE_TAG: u8 = 1;
const RECEIPT_TAG: u8 = 2;

/// What a reconciliation item stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    /// A message, by id.
    Message(MessageId),
    /// A receipt, by its reconciliation key (tag byte first).
    Receipt([u8; 32]),
}

impl Item {
    /// The 32-byte negentropy id.
    pub(crate) fn to_id(self) -> [u8; 32] {
        match self {
            Item::Message(id) => {
                let mut out = [0u8; 32];
                out[0] = MESSAGE_TAG;
                out[1..17].copy_from_slice(&id.0);
                out
            }
            Item::Receipt(key) => key,
        }
    }

    /// Reads a negentropy id back; `None` for ids no Hark node makes.
    pub(crate) fn from_id(bytes: &[u8; 32]) -> Option<Item> {
        match bytes[0] {
            MESSAGE_TAG => {
                let id: [u8; 16] = bytes[1..17].try_into().ok()?;
                Some(Item::Message(MessageId(id)))
            }
            RECEIPT_TAG => Some(Item::Receipt(*bytes)),
            _ => None,
        }
    }
}

/// The reconciliation key of a receipt: one per message, signer and kind,
/// so a receipt signed again (another time, another signature) is the same
/// item and never an endless difference between two peers.
pub(crate) fn receipt_item(id: &MessageId, recipient: &PeerId, heard: bool) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key("hark v1 receipt item");
    hasher.update(&id.0);
    hasher.update(&recipient.to_bytes());
    hasher.update(&[u8::from(heard)]);
    let mut key = *hasher.finalize().as_bytes();
    key[0] = RECEIPT_TAG;
    key
}

/// Whether `peer` takes part in a message (sent it, is a recipient, or is
/// known to be in its channel).
pub(crate) fn takes_part(store: &Store, record: &MessageRecord, peer: &PeerId) -> bool {
    let member = record
        .channel
        .is_some_and(|c| store.is_member(&c, peer).unwrap_or(false));
    record.sender == *peer || record.recipients.contains(peer) || member
}

/// The items `me` reconciles with `peer`, with their timestamps.
pub(crate) fn items_for(
    store: &Store,
    me: &PeerId,
    peer: &PeerId,
) -> Result<Vec<(u64, Item)>, hark_store::Error> {
    let mut items = Vec::new();
    for (id, record) in store.messages()? {
        let peer_in = takes_part(store, &record, peer);
        let mine = record.sender == *me;
        let has_frames = !record.dropped && record.trailer.is_some();
        let pending = mine && has_pending(store, &id)?;

        if has_frames && (peer_in || pending) {
            items.push((record.created_at_ms, Item::Message(id)));
        }
        if peer_in || mine {
            // The message's own timestamp: the same at every peer.
            for receipt in store.receipts_for(&id)? {
                items.push((record.created_at_ms, Item::Receipt(receipt.key)));
            }
        }
    }
    Ok(items)
}

fn has_pending(store: &Store, id: &MessageId) -> Result<bool, hark_store::Error> {
    let deliveries = store.deliveries(id)?;
    Ok(deliveries
        .iter()
        .any(|(_, d)| *d == hark_store::Delivery::Pending))
}

/// Sealed negentropy storage over `items`.
pub(crate) fn storage(items: &[(u64, Item)]) -> Result<NegentropyStorageVector, negentropy::Error> {
    let mut storage = NegentropyStorageVector::with_capacity(items.len());
    for (timestamp, item) in items {
        storage.insert(*timestamp, Id::from_byte_array(item.to_id()))?;
    }
    storage.seal()?;
    Ok(storage)
}

/// An initiator's side of one reconciliation.
pub(crate) type Session = Negentropy<'static, NegentropyStorageVector>;

/// Starts a reconciliation: the session and its first message.
pub(crate) fn initiate(items: &[(u64, Item)]) -> Result<(Session, Vec<u8>), negentropy::Error> {
    let mut session = Negentropy::owned(storage(items)?, FRAME_LIMIT)?;
    let first = session.initiate()?;
    Ok((session, first))
}

/// Answers one round as the responder (stateless between rounds).
pub(crate) fn respond(items: &[(u64, Item)], round: &[u8]) -> Result<Vec<u8>, negentropy::Error> {
    let mut responder = Negentropy::owned(storage(items)?, FRAME_LIMIT)?;
    responder.reconcile(round)
}

/// What one initiator round found: items only we have, items only the
/// peer has, and the next message to send (`None`: done).
pub(crate) struct Round {
    pub(crate) have: Vec<Item>,
    pub(crate) need: Vec<Item>,
    pub(crate) next: Option<Vec<u8>>,
}

/// Takes the responder's answer.
pub(crate) fn advance(session: &mut Session, answer: &[u8]) -> Result<Round, negentropy::Error> {
    let (mut have, mut need) = (Vec::new(), Vec::new());
    let next = session.reconcile_with_ids(answer, &mut have, &mut need)?;
    let read = |ids: Vec<Id>| {
        ids.iter()
            .filter_map(|id| Item::from_id(id.as_bytes()))
            .collect()
    };
    Ok(Round {
        have: read(have),
        need: read(need),
        next,
    })
}

/// Whether a stored message is mail this node carries.
pub(crate) fn is_carried(record: &MessageRecord) -> bool {
    record.direction == Direction::Carried
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> Item {
        Item::Message(MessageId([n; 16]))
    }

    // Ids survive the trip through negentropy's 32-byte form.
    #[test]
    fn item_ids_round_trip() {
        let receipt = {
            let mut key = [7u8; 32];
            key[0] = RECEIPT_TAG;
            Item::Receipt(key)
        };
        for item in [id(3), receipt] {
            assert_eq!(Item::from_id(&item.to_id()), Some(item));
        }
        assert_eq!(Item::from_id(&[9u8; 32]), None);
    }

    // Two sets that differ in a few of 1,000 items reconcile to exactly
    // those differences.
    #[test]
    fn reconciliation_finds_exact_difference() -> Result<(), negentropy::Error> {
        let common: Vec<(u64, Item)> = (0..250u8)
            .flat_map(|a| {
                (0..4u8).map(move |b| {
                    (
                        u64::from(a) * 10 + u64::from(b),
                        Item::Message(MessageId([a, b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
                    )
                })
            })
            .collect();
        let mut ours = common.clone();
        ours.push((5, id(200)));
        let mut theirs = common;
        theirs.push((6, id(201)));
        theirs.push((7, id(202)));

        let (mut session, mut message) = initiate(&ours)?;
        let (mut have, mut need) = (Vec::new(), Vec::new());
        let mut rounds = 0;
        loop {
            rounds += 1;
            let answer = respond(&theirs, &message)?;
            let round = advance(&mut session, &answer)?;
            have.extend(round.have);
            need.extend(round.need);
            match round.next {
                Some(next) => message = next,
                None => break,
            }
        }
        need.sort_by_key(|i| i.to_id());
        assert_eq!(have, vec![id(200)]);
        assert_eq!(need, vec![id(201), id(202)]);
        assert!(rounds <= 4, "{rounds} rounds");
        Ok(())
    }
}
