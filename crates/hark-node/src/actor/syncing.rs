//! Reconciliation when peers meet (and every few seconds while they stay
//! connected), and receipts moving between peers.

use hark_proto::ids::{short_peer, MessageId};
use hark_proto::receipt::{ReceiptKind, SignedReceipt};
use hark_proto::wire::{RefuseReason, Request, Response, MAX_RECEIPT_BATCH};
use hark_store::ReceiptOutcome;
use libp2p::PeerId;

use super::{Pending, SwarmActor};
use crate::receipts::{self, ReceiptError};
use crate::sync::{self, Item};

impl SwarmActor {
    /// Starts reconciling with `peer`. Of two peers only the one with the
    /// smaller id starts, so each meeting runs one reconciliation.
    pub(super) fn start_sync(&mut self, peer: &PeerId) {
        let me = *self.swarm.local_peer_id();
        if me > *peer || self.sessions.contains_key(peer) {
            return;
        }
        let items = match sync::items_for(&self.shared.store, &me, peer) {
            Ok(items) => items,
            Err(e) => return tracing::warn!(error = %e, "cannot list items to reconcile"),
        };
        match sync::initiate(&items) {
            Ok((session, round)) => {
                tracing::debug!(peer = %short_peer(peer), items = items.len(), "reconciling");
                self.sessions.insert(*peer, session);
                self.send(peer, Request::Sync { round }, Pending::Sync);
            }
            Err(e) => tracing::warn!(error = %e, "cannot start reconciliation"),
        }
    }

    /// Reconciles again with every connected peer.
    pub(super) fn sync_all(&mut self) {
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for peer in peers {
            self.start_sync(&peer);
        }
    }

    /// One responder round: stateless, answered from our current set.
    pub(super) fn answer_sync(&mut self, peer: &PeerId, round: &[u8]) -> Response {
        let me = *self.swarm.local_peer_id();
        let Ok(items) = sync::items_for(&self.shared.store, &me, peer) else {
            return Response::Refused(RefuseReason::Busy);
        };
        match sync::respond(&items, round) {
            Ok(round) => Response::Sync { round },
            Err(e) => {
                tracing::debug!(peer = %short_peer(peer), error = %e, "bad reconciliation round");
                Response::Refused(RefuseReason::Malformed)
            }
        }
    }

    /// Takes the responder's answer: acts on what each side lacks, then
    /// sends the next round or ends.
    pub(super) fn continue_sync(&mut self, peer: PeerId, answer: &[u8]) {
        let Some(session) = self.sessions.get_mut(&peer) else {
            return;
        };
        let round = match sync::advance(session, answer) {
            Ok(round) => round,
            Err(e) => {
                tracing::debug!(peer = %short_peer(&peer), error = %e, "reconciliation failed");
                self.sessions.remove(&peer);
                return;
            }
        };

        self.give(&peer, &round.have);
        self.take(&peer, &round.need);
        match round.next {
            Some(next) => self.send(&peer, Request::Sync { round: next }, Pending::Sync),
            None => {
                self.sessions.remove(&peer);
            }
        }
    }

    /// Offers `peer` the messages and hands it the receipts it lacks.
    fn give(&mut self, peer: &PeerId, items: &[Item]) {
        let (mut ids, mut receipts) = (Vec::new(), Vec::new());
        for item in items {
            match item {
                Item::Message(id) => ids.push(*id),
                Item::Receipt(key) => {
                    if let Ok(Some(r)) = self.shared.store.receipt_by_key(key) {
                        receipts.push(r.signed);
                    }
                }
            }
        }
        for chunk in ids.chunks(1000) {
            self.send(
                peer,
                Request::Offer {
                    ids: chunk.to_vec(),
                },
                Pending::Offer,
            );
        }
        for chunk in receipts.chunks(MAX_RECEIPT_BATCH) {
            self.send(peer, Request::Receipts(chunk.to_vec()), Pending::Receipt);
        }
    }

    /// Queues the messages and asks for the receipts `peer` has and we lack.
    fn take(&mut self, peer: &PeerId, items: &[Item]) {
        let mut keys = Vec::new();
        for item in items {
            match item {
                Item::Message(id) => self.want(*peer, *id),
                Item::Receipt(key) => keys.push(*key),
            }
        }
        for chunk in keys.chunks(MAX_RECEIPT_BATCH) {
            let keys = chunk.to_vec();
            self.send(
                peer,
                Request::FetchReceipts { keys },
                Pending::FetchReceipts,
            );
        }
    }

    /// Checks and keeps one receipt, from whichever peer brought it.
    pub(super) fn take_receipt(&mut self, from: &PeerId, signed: &SignedReceipt) {
        let taken = match receipts::take(&self.shared, signed) {
            Ok(taken) => taken,
            Err(ReceiptError::UnknownMessage) => return,
            Err(e) => {
                return tracing::warn!(peer = %short_peer(from), error = %e, "receipt rejected");
            }
        };
        if taken.outcome == ReceiptOutcome::Duplicate {
            return;
        }
        if taken.outcome == ReceiptOutcome::Advanced {
            tracing::info!(msg = %taken.id, "message delivered");
            self.shared.emit_message(&taken.id);
        }
        self.drop_if_delivered(&taken.id);
    }

    /// A carrier drops its copy once every recipient has the message; the
    /// record stays as a tombstone so it is not carried again.
    fn drop_if_delivered(&mut self, id: &MessageId) {
        let store = &self.shared.store;
        let carried = matches!(store.message(id), Ok(Some(r)) if sync::is_carried(&r));
        if carried && receipts::all_delivered(&self.shared, id).unwrap_or(false) {
            tracing::debug!(msg = %id, "carried mail delivered; dropping its frames");
            let _ = store.drop_frames(id);
        }
    }

    /// Sends our delivered receipt for `id` to `peer`.
    pub(super) fn send_receipt(&mut self, peer: &PeerId, id: MessageId) {
        match receipts::own(&self.shared, id, ReceiptKind::Delivered) {
            Ok(receipt) => self.send(peer, Request::Receipt(receipt), Pending::Receipt),
            Err(e) => tracing::warn!(error = %e, "cannot sign a receipt"),
        }
    }
}
