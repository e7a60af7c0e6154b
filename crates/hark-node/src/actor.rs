//! The swarm actor: the one task that owns the libp2p [`Swarm`]. Handles
//! talk to it over a bounded command channel; blocking work (checking and
//! storing a fetched message) runs on the blocking pool and reports back on
//! an internal channel.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use hark_proto::ids::{short_peer, MessageId};
use hark_proto::profile::SignedProfile;
use hark_proto::receipt::{ReceiptKind, SignedReceipt};
use hark_proto::wire::{RefuseReason, Request, Response, MAX_FRAME_BATCH};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, InboundRequestId, OutboundRequestId, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::SwarmEvent;
use libp2p::{gossipsub, mdns, ping, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};

use crate::api::Event;
use crate::behaviour::{Behaviour, BehaviourEvent, PRESENCE_TOPIC};
use crate::handle::Shared;
use crate::incoming::Fetch;
use crate::outgoing::now_ms;
use crate::{Config, StartError};

/// How often `--peer` addresses are redialled while not connected.
const REDIAL_EVERY: Duration = Duration::from_secs(3);

/// How often the signed profile is published on the presence topic.
const PRESENCE_EVERY: Duration = Duration::from_secs(30);

/// How many messages may be fetched at once; further offers wait for the
/// next meeting (the sender offers again).
const MAX_FETCHES: usize = 32;

/// What handles ask of the actor.
#[derive(Debug)]
pub(crate) enum Command {
    /// The addresses the swarm listens on.
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    /// The peers connected now.
    Online(oneshot::Sender<HashSet<PeerId>>),
    /// A new outgoing message is stored: offer it to recipients online.
    Announce {
        id: MessageId,
        recipients: Vec<PeerId>,
    },
    /// Stop: flush the store, close connections, end the task.
    Shutdown(oneshot::Sender<()>),
}

/// What blocking work reports back.
#[derive(Debug)]
enum Internal {
    /// A fetched message was checked; `Ok(true)` if newly stored.
    Fetched {
        id: MessageId,
        from: PeerId,
        sender: PeerId,
        result: Result<bool, String>,
    },
}

/// What an outbound request was for, to route its response.
#[derive(Debug)]
enum Pending {
    Hello,
    Offer,
    Header(MessageId),
    Frames(MessageId),
    Receipt,
}

/// Owns the swarm; see the module docs.
pub(crate) struct SwarmActor {
    swarm: Swarm<Behaviour>,
    shared: Arc<Shared>,
    commands: mpsc::Receiver<Command>,
    internal_tx: mpsc::Sender<Internal>,
    internal_rx: mpsc::Receiver<Internal>,
    requests: HashMap<OutboundRequestId, Pending>,
    fetches: HashMap<MessageId, Fetch>,
    static_peers: Vec<Multiaddr>,
    profile: SignedProfile,
}

impl SwarmActor {
    /// Starts listening and prepares the actor; [`SwarmActor::run`] drives it.
    pub(crate) fn new(
        mut swarm: Swarm<Behaviour>,
        shared: Arc<Shared>,
        commands: mpsc::Receiver<Command>,
        config: &Config,
    ) -> Result<SwarmActor, StartError> {
        for addr in &config.listen {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| StartError::Network(format!("cannot listen on {addr}: {e}")))?;
        }
        let profile = SignedProfile::sign(&shared.identity, &shared.display_name(), now_ms());
        let (internal_tx, internal_rx) = mpsc::channel(MAX_FETCHES);

        Ok(SwarmActor {
            swarm,
            shared,
            commands,
            internal_tx,
            internal_rx,
            requests: HashMap::new(),
            fetches: HashMap::new(),
            static_peers: config.peers.clone(),
            profile,
        })
    }

    /// Runs until shut down or every handle is gone.
    pub(crate) async fn run(mut self) {
        let mut redial = tokio::time::interval(REDIAL_EVERY);
        let mut presence = tokio::time::interval(PRESENCE_EVERY);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown(done)) => {
                        self.shutdown().await;
                        let _ = done.send(());
                        return;
                    }
                    Some(command) => self.on_command(command),
                    None => return self.shutdown().await,
                },
                Some(done) = self.internal_rx.recv() => self.on_internal(done),
                _ = redial.tick() => self.redial(),
                _ = presence.tick() => self.publish_presence(),
            }
        }
    }

    /// Stops in order: no more requests are taken (the loop has ended),
    /// the store is flushed, then connections close as the swarm drops.
    async fn shutdown(&mut self) {
        if let Err(e) = self.shared.store.flush().await {
            tracing::error!(error = %e, "store flush at shutdown failed");
        }
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for peer in peers {
            let _ = self.swarm.disconnect_peer_id(peer);
        }
        tracing::info!("node stopped");
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::ListenAddrs(reply) => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::Online(reply) => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
            Command::Announce { id, recipients } => {
                let online: Vec<PeerId> = recipients
                    .into_iter()
                    .filter(|p| self.swarm.is_connected(p))
                    .collect();
                for peer in online {
                    self.send(&peer, Request::Offer { ids: vec![id] }, Pending::Offer);
                }
            }
            // Handled in `run`, which owns the loop.
            Command::Shutdown(_) => {}
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::debug!(%address, "listening");
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                num_established,
                ..
            } if num_established.get() == 1 => {
                tracing::debug!(peer = %short_peer(&peer_id), "connected");
                let hello = Request::Hello(self.profile.clone());
                self.send(&peer_id, hello, Pending::Hello);
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                tracing::info!(peer = %short_peer(&peer_id), "peer left");
                self.touch_contact(&peer_id);
                self.fetches.retain(|_, f| f.from != peer_id);
                self.shared.emit(Event::PeerOffline {
                    peer_id: peer_id.to_string(),
                });
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(peer = ?peer_id.map(|p| short_peer(&p)), %error, "dial failed");
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            _ => {}
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => self.dial_discovered(found),
            BehaviourEvent::Rr(event) => self.on_rr_event(event),
            BehaviourEvent::Gossipsub(gossipsub::Event::Message { message, .. }) => {
                self.on_presence(&message.data);
            }
            BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result: Err(error),
            }) => {
                // A peer that stops answering pings is gone; closing the
                // connection makes it show as offline.
                tracing::debug!(peer = %short_peer(&peer), %error, "ping failed");
                self.swarm.close_connection(connection);
            }
            _ => {}
        }
    }

    fn dial_discovered(&mut self, found: Vec<(PeerId, Multiaddr)>) {
        let me = *self.swarm.local_peer_id();
        for (peer, addr) in found {
            if peer == me || self.swarm.is_connected(&peer) {
                continue;
            }
            tracing::debug!(peer = %short_peer(&peer), %addr, "found by mDNS");
            let opts = DialOpts::peer_id(peer)
                .addresses(vec![addr])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            let _ = self.swarm.dial(opts);
        }
    }

    /// Dials each `--peer` address whose peer is not connected.
    fn redial(&mut self) {
        for addr in self.static_peers.clone() {
            let peer = addr.iter().find_map(|p| match p {
                Protocol::P2p(id) => Some(id),
                _ => None,
            });
            let opts = match peer {
                Some(peer) if self.swarm.is_connected(&peer) => continue,
                Some(peer) => DialOpts::peer_id(peer)
                    .addresses(vec![addr.clone()])
                    .condition(PeerCondition::DisconnectedAndNotDialing)
                    .build(),
                None if self.swarm.connected_peers().next().is_some() => continue,
                None => DialOpts::unknown_peer_id().address(addr.clone()).build(),
            };
            let _ = self.swarm.dial(opts);
        }
    }

    fn publish_presence(&mut self) {
        let Ok(data) = hark_proto::wire::encode(&hark_proto::wire::Presence {
            profile: self.profile.clone(),
        }) else {
            return;
        };
        let topic = gossipsub::IdentTopic::new(PRESENCE_TOPIC);
        // With no peers subscribed yet this fails; the next tick retries.
        let _ = self.swarm.behaviour_mut().gossipsub.publish(topic, data);
    }

    fn on_presence(&mut self, data: &[u8]) {
        let Ok(presence) = hark_proto::wire::decode::<hark_proto::wire::Presence>(data) else {
            tracing::debug!("dropping a malformed presence message");
            return;
        };
        if let Ok((public, _)) = presence.profile.verify() {
            self.save_profile(&public.peer_id, presence.profile);
        }
    }

    /// Stores a peer's verified profile and tells the UI.
    fn save_profile(&mut self, peer: &PeerId, profile: SignedProfile) {
        let contact = hark_store::Contact {
            profile,
            last_seen_ms: now_ms(),
        };
        if let Err(e) = self.shared.store.put_contact(peer, &contact) {
            tracing::warn!(error = %e, "cannot save a contact");
            return;
        }
        let online = self.swarm.is_connected(peer);
        let info = self.shared.peer_info(peer, &contact, online);
        self.shared.emit(Event::PeerOnline { peer: info });
    }

    fn touch_contact(&mut self, peer: &PeerId) {
        let store = &self.shared.store;
        if let Ok(Some(mut contact)) = store.contact(peer) {
            contact.last_seen_ms = now_ms();
            let _ = store.put_contact(peer, &contact);
        }
    }

    fn send(&mut self, peer: &PeerId, request: Request, pending: Pending) {
        let id = self.swarm.behaviour_mut().rr.send_request(peer, request);
        self.requests.insert(id, pending);
    }

    fn on_rr_event(&mut self, event: request_response::Event<Request, Response>) {
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
            } => {
                self.on_request(peer, request_id, request, channel);
            }
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
                if let Some(Pending::Header(id) | Pending::Frames(id)) =
                    self.requests.remove(&request_id)
                {
                    self.fetches.remove(&id);
                }
            }
            E::InboundFailure { peer, error, .. } => {
                tracing::debug!(peer = %short_peer(&peer), %error, "inbound request failed");
            }
            E::ResponseSent { .. } => {}
        }
    }

    fn respond(&mut self, channel: ResponseChannel<Response>, response: Response) {
        // Fails only if the peer has gone; it will ask again.
        let _ = self
            .swarm
            .behaviour_mut()
            .rr
            .send_response(channel, response);
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
            Request::Receipt(receipt) => self.on_receipt(&peer, &receipt),
        };
        self.respond(channel, response);
    }

    /// Takes a peer's profile (from its request or its response); the peer
    /// id must be the one the connection authenticated.
    fn on_hello(&mut self, peer: &PeerId, profile: SignedProfile, answered: bool) -> Response {
        let Ok((public, _)) = profile.verify() else {
            return Response::Refused(RefuseReason::Malformed);
        };
        if public.peer_id != *peer {
            tracing::warn!(peer = %short_peer(peer), "profile of another peer offered; ignored");
            return Response::Refused(RefuseReason::NotAllowed);
        }
        tracing::info!(peer = %short_peer(peer), "peer joined");
        self.save_profile(peer, profile);

        // Our own hello was answered: offer what this peer still lacks.
        if answered {
            self.offer_pending(peer);
        }
        Response::Hello(self.profile.clone())
    }

    fn offer_pending(&mut self, peer: &PeerId) {
        match self.shared.store.pending_for(peer) {
            Ok(ids) if !ids.is_empty() => {
                tracing::debug!(peer = %short_peer(peer), count = ids.len(), "offering pending");
                self.send(peer, Request::Offer { ids }, Pending::Offer);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot list pending messages"),
        }
    }

    fn on_offer(&mut self, peer: PeerId, ids: Vec<MessageId>) -> Response {
        for id in ids {
            let known = self.shared.store.contains(&id).unwrap_or(false);
            let busy = self.fetches.len() + self.header_requests() >= MAX_FETCHES;
            if known {
                // Stored already: the sender missed our receipt.
                self.send_receipt(&peer, id);
            } else if !self.fetches.contains_key(&id) && !busy {
                self.send(&peer, Request::FetchHeader { id }, Pending::Header(id));
            }
        }
        Response::Ack
    }

    fn header_requests(&self) -> usize {
        self.requests
            .values()
            .filter(|p| matches!(p, Pending::Header(_)))
            .count()
    }

    /// Serves a stored message's header to one of its recipients.
    fn serve_header(&mut self, peer: &PeerId, id: &MessageId) -> Response {
        let record = match self.shared.store.message(id) {
            Ok(Some(record)) => record,
            Ok(None) => return Response::NotFound,
            Err(_) => return Response::Refused(RefuseReason::Busy),
        };
        if !record.recipients.contains(peer) {
            return Response::Refused(RefuseReason::NotAllowed);
        }
        Response::Header {
            header: record.header,
            trailer: record.trailer,
            frame_count: record.frame_count,
        }
    }

    fn serve_frames(&mut self, peer: &PeerId, id: &MessageId, start: u32, max: u32) -> Response {
        let allowed =
            matches!(self.shared.store.message(id), Ok(Some(r)) if r.recipients.contains(peer));
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

    fn on_receipt(&mut self, peer: &PeerId, receipt: &SignedReceipt) -> Response {
        let Ok(receipt) = receipt.verify() else {
            tracing::warn!(peer = %short_peer(peer), "receipt with a bad signature rejected");
            return Response::Refused(RefuseReason::Malformed);
        };
        let store = &self.shared.store;
        match store.mark_delivered(&receipt.id, &receipt.recipient, receipt.at_ms) {
            Ok(true) => {
                tracing::info!(msg = %receipt.id, peer = %short_peer(&receipt.recipient), "message delivered");
                self.shared.emit_message(&receipt.id);
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot record a receipt");
                return Response::Refused(RefuseReason::Busy);
            }
        }
        Response::Ack
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
            (Pending::Header(id) | Pending::Frames(id), other) => {
                tracing::debug!(msg = %id, response = ?other, "fetch refused");
                self.fetches.remove(&id);
            }
            _ => {}
        }
    }

    fn on_header(
        &mut self,
        peer: PeerId,
        id: MessageId,
        header: hark_proto::envelope::SignedHeader,
        trailer: Option<hark_proto::envelope::SignedTrailer>,
        frame_count: u32,
    ) {
        let me = *self.swarm.local_peer_id();
        match Fetch::begin(&me, peer, header, trailer, frame_count) {
            Ok(fetch) if fetch.id == id => {
                let (start, max) = fetch.next_batch();
                self.fetches.insert(id, fetch);
                self.send(
                    &peer,
                    Request::FetchFrames { id, start, max },
                    Pending::Frames(id),
                );
            }
            Ok(_) => tracing::warn!(msg = %id, "peer answered with another message's header"),
            Err(e) => tracing::debug!(msg = %id, error = %e, "not fetching"),
        }
    }

    fn on_frames(&mut self, id: MessageId, frames: Vec<hark_proto::envelope::SealedFrame>) {
        let Some(fetch) = self.fetches.get_mut(&id) else {
            return;
        };
        let from = fetch.from;
        match fetch.add(frames) {
            Ok(false) => {
                let (start, max) = fetch.next_batch();
                self.send(
                    &from,
                    Request::FetchFrames { id, start, max },
                    Pending::Frames(id),
                );
            }
            Ok(true) => self.finish_fetch(id),
            Err(e) => {
                tracing::debug!(msg = %id, error = %e, "fetch abandoned");
                self.fetches.remove(&id);
            }
        }
    }

    /// Checks and stores a complete message off the async threads.
    fn finish_fetch(&mut self, id: MessageId) {
        let Some(fetch) = self.fetches.remove(&id) else {
            return;
        };
        let (shared, done) = (self.shared.clone(), self.internal_tx.clone());
        let from = fetch.from;
        tokio::spawn(async move {
            let sender = from;
            let result = tokio::task::spawn_blocking(move || fetch.finish(&shared))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
            let _ = done
                .send(Internal::Fetched {
                    id,
                    from,
                    sender,
                    result,
                })
                .await;
        });
    }

    fn on_internal(&mut self, done: Internal) {
        let Internal::Fetched {
            id,
            from,
            sender,
            result,
        } = done;
        match result {
            Ok(new) => {
                if new {
                    tracing::info!(msg = %id, from = %short_peer(&sender), "message received");
                    self.shared.emit_message(&id);
                }
                // Stored and flushed: only now is it acknowledged.
                self.send_receipt(&from, id);
            }
            Err(e) => tracing::warn!(msg = %id, error = %e, "fetched message rejected"),
        }
    }

    fn send_receipt(&mut self, peer: &PeerId, id: MessageId) {
        let receipt =
            SignedReceipt::sign(&self.shared.identity, id, ReceiptKind::Delivered, now_ms());
        self.send(peer, Request::Receipt(receipt), Pending::Receipt);
    }
}
