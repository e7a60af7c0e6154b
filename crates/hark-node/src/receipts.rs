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
/// hold) and stores it. A receipt replayed is a duplicate, nothing more.
pub(crate) fn take(shared: &Shared, signed: &SignedReceipt) -> Result<Taken, ReceiptError> {
    let receipt = signed.verify().map_err(|_| ReceiptError::Signature)?;
    let store = &shared.store;
    let Some(record) = store.message(&receipt.id)? else {
        return Err(ReceiptError::UnknownMessage);
    };
    if !record.recipients.contains(&receipt.recipient) || record.sender == receipt.recipient {
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
