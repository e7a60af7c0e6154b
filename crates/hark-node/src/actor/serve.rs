//! Answering peers: hellos, offers, header and frame fetches, receipts and
//! reconciliation rounds.

use hark_proto::ids::{short_peer, MessageId};
use hark_proto::profile::SignedProfile;
use hark_proto::receipt::SignedReceipt;
use hark_proto::wire::{RefuseReason, Request, Response, MAX_FRAME_BATCH, MAX_RECEIPT_BATCH};
use hark_store::MessageRecord;
use libp2p::request_response::{self, InboundRequestId, ResponseChannel};
use libp2p::PeerId;

use super::{Pending, SwarmActor};

impl SwarmActor {
    pub(super) fn on_rr_event(&mut self, event: request_response::Event<Request, Response>) {
        use request_response::{Event as E, Message as M};
        match event {
            E::Message {
                peer,
                message:
                    M::Request {
                        request,
                        channel,
                        request_id,
                    },
                ..
            } => self.on_request(peer, request_id, request, channel),
            E::Message {
                peer,
                message:
                    M::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(pending) = self.requests.remove(&request_id) {
                    self.on_response(peer, pending, response);
                }
            }
            E::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                tracing::debug!(peer = %short_peer(&peer), %error, "request failed");
                if let Some(pending) = self.requests.remove(&request_id) {
                    self.on_request_failed(peer, pending);
                }
            }
            E::InboundFailure { peer, error, .. } => {
                tracing::debug!(peer = %short_peer(&peer), %error, "inbound request failed");
            }
            E::ResponseSent { .. } => {}
        }
    }

    fn on_request(
        &mut self,
        peer: PeerId,
        request_id: InboundRequestId,
        request: Request,
        channel: ResponseChannel<Response>,
    ) {
        let span = tracing::debug_span!("request", peer = %short_peer(&peer), id = %request_id);
        let _guard = span.enter();
        let response = match request {
            Request::Hello(profile) => self.on_hello(&peer, profile, false),
            Request::Offer { ids } => self.on_offer(peer, ids),
            Request::FetchHeader { id } => self.serve_header(&peer, &id),
            Request::FetchFrames { id, start, max } => self.serve_frames(&peer, &id, start, max),
            Request::Receipt(receipt) => self.on_receipts(&peer, vec![receipt]),
            Request::Receipts(receipts) => self.on_receipts(&peer, receipts),
            Request::FetchReceipts { keys } => self.serve_receipts(keys),
            Request::Sync { round } => self.answer_sync(&peer, &round),
            Request::Channels { tags } => {
                crate::channels::learn_members(&self.shared, &peer, &tags);
                let tags = crate::channels::my_tags(&self.shared);
                Response::Channels { tags }
            }
        };
        // Fails only if the peer has gone; it will ask again.
        let _ = self
            .swarm
            .behaviour_mut()
            .rr
            .send_response(channel, response);
    }

    fn on_response(&mut self, peer: PeerId, pending: Pending, response: Response) {
        match (pending, response) {
            (Pending::Hello, Response::Hello(profile)) => {
                self.on_hello(&peer, profile, true);
            }
            (
                Pending::Header(id),
                Response::Header {
                    header,
                    trailer,
                    frame_count,
                },
            ) => {
                self.on_header(peer, id, header, trailer, frame_count);
            }
            (Pending::Frames(id), Response::Frames(frames)) => self.on_frames(id, frames),
            (Pending::Sync, Response::Sync { round }) => self.continue_sync(peer, &round),
            (Pending::FetchReceipts, Response::Receipts(receipts)) => {
                self.on_receipts(&peer, receipts);
            }
            (Pending::Channels, Response::Channels { tags }) => {
                crate::channels::learn_members(&self.shared, &peer, &tags);
                // Now we know the channels we share: reconcile them too.
                self.start_sync(&peer);
            }
            // Offers and receipts are answered with a bare acknowledgement.
            (Pending::Offer | Pending::Receipt, Response::Ack) => {}
            (pending, other) => {
                tracing::debug!(?pending, response = ?other, "request not served");
                self.on_request_failed(peer, pending);
            }
        }
    }

    fn on_request_failed(&mut self, peer: PeerId, pending: Pending) {
        match pending {
            Pending::Header(id) | Pending::Frames(id) => self.abandon_fetch(&id),
            Pending::Sync => {
                self.sessions.remove(&peer);
            }
            _ => {}
        }
    }

    /// Takes a peer's profile (from its request or its response); the peer
    /// id must be the one the connection authenticated.
    fn on_hello(&mut self, peer: &PeerId, profile: SignedProfile, answered: bool) -> Response {
        let (public, _) = match profile.verify() {
            Ok(verified) => verified,
            Err(e) => {
                // Such a peer stays nameless here: say why, once per hello.
                tracing::warn!(peer = %short_peer(peer), error = %e, "profile refused");
                return Response::Refused(RefuseReason::Malformed);
            }
        };
        if public.peer_id != *peer {
            tracing::warn!(peer = %short_peer(peer), "profile of another peer offered; ignored");
            return Response::Refused(RefuseReason::NotAllowed);
        }
        self.save_profile(peer, profile);

        // Our own hello was answered: offer what this peer still lacks and
        // reconcile the rest. (Both sides say hello, so this is the one
        // place per connection to log the meeting.)
        if answered {
            tracing::info!(peer = %short_peer(peer), "peer joined");
            self.offer_pending(peer);
            self.exchange_channels(peer);
            self.start_sync(peer);
        }
        Response::Hello(self.profile.clone())
    }

    /// Shows `peer` which channels we are in (tags only it can check).
    pub(super) fn exchange_channels(&mut self, peer: &PeerId) {
        let tags = crate::channels::my_tags(&self.shared);
        self.send(peer, Request::Channels { tags }, Pending::Channels);
    }

    fn offer_pending(&mut self, peer: &PeerId) {
        match self.shared.store.pending_for(peer) {
            Ok(ids) if !ids.is_empty() => {
                tracing::debug!(peer = %short_peer(peer), count = ids.len(), "offering pending");
                for chunk in ids.chunks(1000) {
                    let ids = chunk.to_vec();
                    self.send(peer, Request::Offer { ids }, Pending::Offer);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot list pending messages"),
        }
    }

    fn on_offer(&mut self, peer: PeerId, ids: Vec<MessageId>) -> Response {
        for id in ids {
            match self.shared.store.message(&id) {
                // Part of it (a live message we missed the end of): fetch
                // the rest. All of it: if it is ours to acknowledge, the
                // sender may have missed our receipt.
                Ok(Some(record)) if record.trailer.is_none() => self.want(peer, id),
                Ok(Some(record)) => {
                    if record.direction == hark_store::Direction::Incoming {
                        self.send_receipt(&peer, id);
                    }
                }
                Ok(None) => self.want(peer, id),
                Err(e) => tracing::warn!(error = %e, "store read failed"),
            }
        }
        Response::Ack
    }

    /// A message is handed to a peer that takes part in it, and by its
    /// sender to anyone (who may carry it). A carrier hands it only to its
    /// addressees.
    fn may_serve(&self, peer: &PeerId, record: &MessageRecord) -> bool {
        let me = self.shared.identity.peer_id();
        let takes_part = crate::sync::takes_part(&self.shared.store, record, peer);
        !record.dropped && (takes_part || record.sender == me)
    }

    fn serve_header(&mut self, peer: &PeerId, id: &MessageId) -> Response {
        let record = match self.shared.store.message(id) {
            Ok(Some(record)) => record,
            Ok(None) => return Response::NotFound,
            Err(_) => return Response::Refused(RefuseReason::Busy),
        };
        if !self.may_serve(peer, &record) {
            return Response::Refused(RefuseReason::NotAllowed);
        }
        Response::Header {
            header: record.header,
            trailer: record.trailer,
            frame_count: record.frame_count,
        }
    }

    fn serve_frames(&mut self, peer: &PeerId, id: &MessageId, start: u32, max: u32) -> Response {
        let allowed = match self.shared.store.message(id) {
            Ok(Some(record)) => self.may_serve(peer, &record),
            _ => false,
        };
        if !allowed {
            return Response::NotFound;
        }
        match self
            .shared
            .store
            .frames(id, start, max.min(MAX_FRAME_BATCH))
        {
            Ok(frames) => Response::Frames(frames),
            Err(_) => Response::Refused(RefuseReason::Busy),
        }
    }

    fn serve_receipts(&mut self, keys: Vec<[u8; 32]>) -> Response {
        let mut out = Vec::new();
        for key in keys.iter().take(MAX_RECEIPT_BATCH) {
            if let Ok(Some(receipt)) = self.shared.store.receipt_by_key(key) {
                out.push(receipt.signed);
            }
        }
        Response::Receipts(out)
    }

    /// Takes receipts from any peer: each is checked on its own.
    fn on_receipts(&mut self, peer: &PeerId, receipts: Vec<SignedReceipt>) -> Response {
        if receipts.len() > MAX_RECEIPT_BATCH {
            return Response::Refused(RefuseReason::TooLarge);
        }
        for signed in receipts {
            self.take_receipt(peer, &signed);
        }
        Response::Ack
    }
}
