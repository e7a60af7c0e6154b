//! Receipts: signing our own (once per message and kind, then reused so
//! every peer sees the same bytes), and accepting others' after checking
//! them against the message they acknowledge.

use hark_proto::ids::{short_peer, MessageId};
use hark_proto::receipt::{ReceiptKind, SignedReceipt};
use hark_store::{ReceiptOutcome, StoredReceipt};

use crate::handle::Shared;
use crate::outgoing::now_ms;
use crate::sync::receipt_item;

/// Why a receipt was not taken. Forged or misplaced receipts are dropped;
/// the sender keeps the message pending.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReceiptError {
    #[error("bad signature")]
    Signature,
    #[error("message unknown here")]
    UnknownMessage,
    #[error("signed by {0}, who is not a recipient")]
    NotRecipient(String),
    #[error("store: {0}")]
    Store(#[from] hark_store::Error),
}

/// What taking a receipt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Taken {
    pub(crate) id: MessageId,
    pub(crate) outcome: ReceiptOutcome,
}

/// Checks a receipt (signature, signer is a recipient of a message we
/// hold, or a known member of its channel) and stores it. A receipt
/// replayed is a duplicate, nothing more.
pub(crate) fn take(shared: &Shared, signed: &SignedReceipt) -> Result<Taken, ReceiptError> {
    let receipt = signed.verify().map_err(|_| ReceiptError::Signature)?;
    let store = &shared.store;
    // Known shortcoming: a receipt for a message this node never held is
    // dropped, since a receipt does not name the message's sender and so
    // could not be passed on to the right peer. A message delivered
    // directly was never carried, so its "heard" receipt reaches the
    // sender only when the recipient and the sender meet again.
    let Some(record) = store.message(&receipt.id)? else {
        return Err(ReceiptError::UnknownMessage);
    };
    // A channel message's copy names only the members its holder knew of
    // (a member's own copy names just itself), so any member known here
    // may acknowledge it too; otherwise the receipt would be refused at
    // every meeting and offered again at the next.
    let member = match record.channel {
        Some(channel) => store.is_member(&channel, &receipt.recipient)?,
        None => false,
    };
    let addressed = record.recipients.contains(&receipt.recipient) || member;
    if !addressed || record.sender == receipt.recipient {
        return Err(ReceiptError::NotRecipient(short_peer(&receipt.recipient)));
    }

    let stored = StoredReceipt {
        key: receipt_item(
            &receipt.id,
            &receipt.recipient,
            receipt.kind == ReceiptKind::Heard,
        ),
        id: receipt.id,
        recipient: receipt.recipient,
        heard: receipt.kind == ReceiptKind::Heard,
        at_ms: receipt.at_ms,
        signed: signed.clone(),
    };
    let outcome = store.record_receipt(&stored)?;
    Ok(Taken {
        id: receipt.id,
        outcome,
    })
}

/// Our receipt of `kind` for message `id`: the stored one if we signed it
/// before, else a new one, stored (and flushed by the caller).
pub(crate) fn own(
    shared: &Shared,
    id: MessageId,
    kind: ReceiptKind,
) -> Result<SignedReceipt, hark_store::Error> {
    let me = shared.identity.peer_id();
    let heard = kind == ReceiptKind::Heard;
    let existing = shared.store.receipts_for(&id)?;
    if let Some(r) = existing
        .iter()
        .find(|r| r.recipient == me && r.heard == heard)
    {
        return Ok(r.signed.clone());
    }

    let at_ms = now_ms();
    let signed = SignedReceipt::sign(&shared.identity, id, kind, at_ms);
    let stored = StoredReceipt {
        key: receipt_item(&id, &me, heard),
        id,
        recipient: me,
        heard,
        at_ms,
        signed: signed.clone(),
    };
    shared.store.record_receipt(&stored)?;
    Ok(signed)
}

/// Whether every recipient of a message has said it has it: a carrier can
/// then drop its copy.
pub(crate) fn all_delivered(shared: &Shared, id: &MessageId) -> Result<bool, hark_store::Error> {
    let Some(record) = shared.store.message(id)? else {
        return Ok(false);
    };
    let receipts = shared.store.receipts_for(id)?;
    let others = record.recipients.iter().filter(|p| **p != record.sender);
    Ok(others.clone().count() > 0
        && others
            .into_iter()
            .all(|p| receipts.iter().any(|r| r.recipient == *p)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hark_proto::envelope::{Codec, Sealer};
    use hark_proto::identity::Identity;
    use hark_store::{Delivery, Direction, MessageRecord, Store};

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// Alice's node with one message to Bob stored, pending (in `channel`
    /// if given).
    fn alice_with_message(
        dir: &std::path::Path,
        bob: &Identity,
        channel: Option<[u8; 16]>,
    ) -> Result<(Shared, MessageId), Box<dyn std::error::Error>> {
        let alice = Identity::generate();
        let data = crate::data_dir::DataDir::lock(dir)?;
        let store = Store::open(&data.store_path())?;
        let codec = Codec {
            sample_rate: 48_000,
            frame_samples: 960,
            pre_skip: 312,
            bitrate: 24_000,
        };
        let (mut sealer, header) = Sealer::new(&alice, &[alice.public(), bob.public()], codec, 1)?;
        let frame = sealer.seal_frame(&[7; 40], true)?;
        let id = sealer.id();
        let trailer = sealer.finish(960)?;
        let record = MessageRecord {
            header,
            trailer: Some(trailer),
            direction: Direction::Outgoing,
            sender: alice.peer_id(),
            recipients: vec![alice.peer_id(), bob.peer_id()],
            created_at_ms: 1,
            stored_at_ms: 1,
            frame_count: 1,
            sample_count: 960,
            bytes: 56,
            dropped: false,
            channel,
        };
        store.insert_message(&id, &record, &[frame], &[bob.peer_id()])?;

        let config = crate::Config::new(dir.to_path_buf());
        let (events, _) = tokio::sync::broadcast::channel(8);
        Ok((
            Shared::new(Arc::new(alice), store, events, &config, data),
            id,
        ))
    }

    // Bob's receipt moves the message to delivered; the same receipt again
    // changes nothing.
    #[test]
    fn receipt_from_the_recipient_is_taken_once() -> TestResult {
        let dir = tempfile::tempdir()?;
        let bob = Identity::generate();
        let (alice, id) = alice_with_message(dir.path(), &bob, None)?;
        let receipt = SignedReceipt::sign(&bob, id, ReceiptKind::Delivered, 5);

        assert_eq!(take(&alice, &receipt)?.outcome, ReceiptOutcome::Advanced);
        assert_eq!(take(&alice, &receipt)?.outcome, ReceiptOutcome::Duplicate);
        let state = alice.store.deliveries(&id)?;
        assert_eq!(
            state,
            vec![(bob.peer_id(), Delivery::Delivered { at_ms: 5 })]
        );
        Ok(())
    }

    // A receipt signed by someone who is not a recipient, or with a
    // tampered body, or for another message, is refused and changes nothing.
    #[test]
    fn forged_receipts_are_refused() -> TestResult {
        let dir = tempfile::tempdir()?;
        let bob = Identity::generate();
        let (alice, id) = alice_with_message(dir.path(), &bob, None)?;

        let mallory = SignedReceipt::sign(&Identity::generate(), id, ReceiptKind::Delivered, 5);
        assert!(matches!(
            take(&alice, &mallory),
            Err(ReceiptError::NotRecipient(_))
        ));
        let mut tampered = SignedReceipt::sign(&bob, id, ReceiptKind::Delivered, 5);
        if let Some(byte) = tampered.body.last_mut() {
            *byte ^= 1;
        }
        assert!(matches!(
            take(&alice, &tampered),
            Err(ReceiptError::Signature)
        ));
        let other = SignedReceipt::sign(&bob, MessageId::random(), ReceiptKind::Delivered, 5);
        assert!(matches!(
            take(&alice, &other),
            Err(ReceiptError::UnknownMessage)
        ));

        let state = alice.store.deliveries(&id)?;
        assert_eq!(state, vec![(bob.peer_id(), Delivery::Pending)]);
        Ok(())
    }

    // In a channel, a receipt from any member this node knows of is taken
    // (its copy may not name them); one from a stranger still is not.
    #[test]
    fn channel_members_receipts_are_taken() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (bob, carol) = (Identity::generate(), Identity::generate());
        let channel = [9; 16];
        let (alice, id) = alice_with_message(dir.path(), &bob, Some(channel))?;
        alice.store.add_member(&channel, &carol.peer_id())?;

        let from_carol = SignedReceipt::sign(&carol, id, ReceiptKind::Delivered, 5);
        assert_eq!(take(&alice, &from_carol)?.outcome, ReceiptOutcome::Stored);
        let stranger = SignedReceipt::sign(&Identity::generate(), id, ReceiptKind::Delivered, 5);
        assert!(matches!(
            take(&alice, &stranger),
            Err(ReceiptError::NotRecipient(_))
        ));
        Ok(())
    }
}
