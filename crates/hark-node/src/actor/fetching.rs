//! Fetching messages: a queue of wanted ids, a few fetches at a time, each
//! going header, frame batches, check, store, receipt.

use hark_proto::envelope::{SealedFrame, SignedHeader, SignedTrailer};
use hark_proto::ids::{short_peer, MessageId};
use hark_proto::wire::Request;
use libp2p::PeerId;

use super::{Internal, Pending, SwarmActor, MAX_FETCHES, MAX_QUEUED};
use crate::incoming::{Fetch, Held};

impl SwarmActor {
    /// Queues message `id` to be fetched from `peer`, unless it is already
    /// queued or under way.
    pub(super) fn want(&mut self, peer: PeerId, id: MessageId) {
        if self.busy.contains(&id) || self.wanted.len() >= MAX_QUEUED {
            return;
        }
        self.busy.insert(id);
        self.wanted.push_back((peer, id));
        self.pump_fetches();
    }

    /// Starts queued fetches while fewer than [`MAX_FETCHES`] run.
    pub(super) fn pump_fetches(&mut self) {
        while self.fetches_running() < MAX_FETCHES {
            let Some((peer, id)) = self.wanted.pop_front() else {
                return;
            };
            if !self.swarm.is_connected(&peer) {
                self.busy.remove(&id);
                continue;
            }
            self.send(&peer, Request::FetchHeader { id }, Pending::Header(id));
        }
    }

    /// Fetches asked for or under way (busy but no longer queued).
    fn fetches_running(&self) -> usize {
        self.busy.len() - self.wanted.len()
    }

    /// Gives up on a fetch; the next offer or reconciliation brings it back.
    pub(super) fn abandon_fetch(&mut self, id: &MessageId) {
        self.fetches.remove(id);
        self.busy.remove(id);
        self.pump_fetches();
    }

    pub(super) fn on_header(
        &mut self,
        peer: PeerId,
        id: MessageId,
        header: SignedHeader,
        trailer: Option<SignedTrailer>,
        frame_count: u32,
    ) {
        let missing = match crate::incoming::held(&self.shared.store, &id, frame_count) {
            Held::Nothing => None,
            Held::Part(missing) => Some(missing),
            // Completed while the header was on its way (a live stream's
            // trailer came in meanwhile): fetching now would bring every
            // frame again, only to be thrown away.
            Held::Whole => {
                tracing::debug!(msg = %id, "whole already; not fetching");
                self.abandon_fetch(&id);
                return;
            }
        };
        let may_carry = self.has_room_for(frame_count);
        let shared = self.shared.clone();
        let for_me = move |h: &hark_proto::envelope::Header| crate::channels::is_for_me(&shared, h);
        match Fetch::begin(
            for_me,
            peer,
            header,
            trailer,
            frame_count,
            may_carry,
            missing,
        ) {
            Ok(fetch) if fetch.id == id => {
                let next = fetch.next_batch();
                self.fetches.insert(id, fetch);
                match next {
                    Some((start, max)) => {
                        let request = Request::FetchFrames { id, start, max };
                        self.send(&peer, request, Pending::Frames(id));
                    }
                    None => self.finish_fetch(id),
                }
            }
            Ok(_) => {
                tracing::warn!(msg = %id, "peer answered with another message's header");
                self.abandon_fetch(&id);
            }
            Err(e) => {
                tracing::debug!(msg = %id, error = %e, "not fetching");
                self.abandon_fetch(&id);
            }
        }
    }

    /// Whether carrying a message of `frame_count` frames stays within the
    /// carry quota. The user's own messages never count against it.
    fn has_room_for(&self, frame_count: u32) -> bool {
        let held = self.shared.store.carried_bytes().unwrap_or(u64::MAX);
        let wanted = Fetch::estimated_bytes(frame_count);
        held.saturating_add(wanted) <= self.carry.quota_bytes
    }

    pub(super) fn on_frames(&mut self, id: MessageId, frames: Vec<SealedFrame>) {
        let Some(fetch) = self.fetches.get_mut(&id) else {
            return;
        };
        let from = fetch.from;
        match fetch.add(frames) {
            Ok(false) => {
                if let Some((start, max)) = fetch.next_batch() {
                    let request = Request::FetchFrames { id, start, max };
                    self.send(&from, request, Pending::Frames(id));
                }
            }
            Ok(true) => self.finish_fetch(id),
            Err(e) => {
                tracing::debug!(msg = %id, error = %e, "fetch abandoned");
                self.abandon_fetch(&id);
            }
        }
    }

    /// Checks and stores a complete message off the async threads; the id
    /// stays busy until the result is in.
    fn finish_fetch(&mut self, id: MessageId) {
        let Some(fetch) = self.fetches.remove(&id) else {
            return;
        };
        let (shared, done) = (self.shared.clone(), self.internal_tx.clone());
        let (from, carried) = (fetch.from, fetch.carried);
        tokio::spawn(async move {
            let checked = tokio::task::spawn_blocking(move || {
                let sender = fetch.sender();
                (sender, fetch.finish(&shared).map_err(|e| e.to_string()))
            })
            .await;
            let (sender, result) = match checked {
                Ok(pair) => pair,
                Err(e) => (from, Err(e.to_string())),
            };
            let fetched = Internal::Fetched {
                id,
                from,
                sender,
                carried,
                result,
            };
            let _ = done.send(fetched).await;
        });
    }

    pub(super) fn on_internal(&mut self, done: Internal) {
        let Internal::Fetched {
            id,
            from,
            sender,
            carried,
            result,
        } = done;
        self.busy.remove(&id);
        self.pump_fetches();
        let new = match result {
            Ok(new) => new,
            Err(e) => {
                tracing::warn!(msg = %id, error = %e, "fetched message not stored");
                self.shared.emit(crate::api::Event::Problem {
                    kind: crate::api::ErrorKind::Storage,
                    message: format!(
                        "a message from {} could not be stored: {e}",
                        short_peer(&sender)
                    ),
                });
                return;
            }
        };

        if carried {
            tracing::debug!(msg = %id, for_sender = %short_peer(&sender), "carrying mail");
            return;
        }
        if new {
            tracing::info!(msg = %id, from = %short_peer(&sender), "message received");
            self.shared.emit_message(&id);
        }
        // Stored and flushed: only now is it acknowledged, to whoever
        // handed it over and to the sender if that was someone else.
        self.send_receipt(&from, id);
        if sender != from && self.swarm.is_connected(&sender) {
            self.send_receipt(&sender, id);
        }
    }
}
