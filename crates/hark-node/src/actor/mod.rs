//! The swarm actor: the one task that owns the libp2p [`Swarm`]. Handles
//! talk to it over a bounded command channel; blocking work (checking and
//! storing a fetched message) runs on the blocking pool and reports back on
//! an internal channel.
//!
//! - this file: the loop, connections, discovery, presence;
//! - [`serve`]: answering peers' requests;
//! - [`fetching`]: the queue of messages to fetch and each fetch's steps;
//! - [`syncing`]: set reconciliation when peers meet, and receipts.

mod fetching;
mod serve;
mod syncing;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use hark_proto::ids::{short_peer, MessageId};
use hark_proto::profile::SignedProfile;
use hark_proto::wire::Request;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::OutboundRequestId;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::SwarmEvent;
use libp2p::{gossipsub, mdns, ping, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};

use crate::api::Event;
use crate::behaviour::{Behaviour, BehaviourEvent, PRESENCE_TOPIC};
use crate::handle::Shared;
use crate::incoming::Fetch;
use crate::outgoing::now_ms;
use crate::{CarryPolicy, Config, StartError};

/// How often `--peer` addresses and peers found by mDNS are redialled
/// while not connected.
const REDIAL_EVERY: Duration = Duration::from_secs(3);

/// How often the signed profile is published on the presence topic.
const PRESENCE_EVERY: Duration = Duration::from_secs(30);

/// How often connected peers reconcile again, catching anything an offer
/// or receipt lost on the way.
const SYNC_EVERY: Duration = Duration::from_secs(20);

/// How often expired carried mail is dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Messages fetched at once; the rest wait in the queue.
const MAX_FETCHES: usize = 8;

/// Most messages waiting to be fetched; offers beyond it are dropped and
/// come back at the next reconciliation.
const MAX_QUEUED: usize = 100_000;

/// What handles ask of the actor.
#[derive(Debug)]
pub(crate) enum Command {
    /// The addresses the swarm listens on.
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    /// The peers connected now.
    Online(oneshot::Sender<HashSet<PeerId>>),
    /// A new outgoing message is stored: offer it to recipients online, and
    /// to every other peer as a carrier if a recipient is away.
    Announce {
        id: MessageId,
        recipients: Vec<PeerId>,
    },
    /// The channels we are in changed: tell connected peers.
    ChannelsChanged,
    /// The display name changed: sign a new profile and tell everyone.
    ProfileChanged,
    /// Fetch message `id` (or its missing frames) from `peer`.
    Want { peer: PeerId, id: MessageId },
    /// Send one of our receipts to a peer, if connected (otherwise the next
    /// reconciliation carries it).
    SendReceipt {
        receipt: hark_proto::receipt::SignedReceipt,
        to: PeerId,
    },
    /// Stop: flush the store, close connections, end the task.
    Shutdown(oneshot::Sender<()>),
}

/// What blocking work reports back.
#[derive(Debug)]
pub(crate) enum Internal {
    /// A fetched message was checked; `Ok(true)` if newly stored.
    Fetched {
        id: MessageId,
        from: PeerId,
        sender: PeerId,
        carried: bool,
        result: Result<bool, String>,
    },
}

/// What an outbound request was for, to route its response.
#[derive(Debug)]
pub(crate) enum Pending {
    Hello,
    Offer,
    Header(MessageId),
    Frames(MessageId),
    Receipt,
    Sync,
    FetchReceipts,
    Channels,
}

/// Owns the swarm; see the module docs.
pub(crate) struct SwarmActor {
    swarm: Swarm<Behaviour>,
    shared: Arc<Shared>,
    commands: mpsc::Receiver<Command>,
    internal_tx: mpsc::Sender<Internal>,
    internal_rx: mpsc::Receiver<Internal>,
    requests: HashMap<OutboundRequestId, Pending>,
    /// Messages being fetched, by id.
    fetches: HashMap<MessageId, Fetch>,
    /// Messages waiting to be fetched, and from whom.
    wanted: VecDeque<(PeerId, MessageId)>,
    /// Ids in `wanted` or being fetched (header asked, frames arriving or
    /// being checked), so no message is fetched twice at once.
    busy: HashSet<MessageId>,
    /// Reconciliations this node started, by peer.
    sessions: HashMap<PeerId, crate::sync::Session>,
    static_peers: Vec<Multiaddr>,
    /// Addresses mDNS announced and has not yet expired. One failed dial
    /// (a peer still starting, a handshake cut short) must not hide a peer
    /// until its next announcement minutes later, so these are redialled
    /// like `--peer` addresses.
    discovered: HashMap<PeerId, HashSet<Multiaddr>>,
    profile: SignedProfile,
    carry: CarryPolicy,
}

/// Fails if a pinned TCP port (`/ip4/…/tcp/4001`) cannot be had. libp2p
/// binds its TCP listeners with SO_REUSEPORT, so a second node on a port
/// already in use would start without complaint and the kernel would share
/// incoming connections between the two. A plain bind, dropped at once,
/// tells first (and names the reason, such as an address not on this host).
fn probe_tcp_port(addr: &Multiaddr) -> std::io::Result<()> {
    let mut parts = addr.iter();
    let ip: std::net::IpAddr = match parts.next() {
        Some(Protocol::Ip4(ip)) => ip.into(),
        Some(Protocol::Ip6(ip)) => ip.into(),
        _ => return Ok(()),
    };
    match parts.next() {
        Some(Protocol::Tcp(port)) if port != 0 => std::net::TcpListener::bind((ip, port)).map(drop),
        _ => Ok(()),
    }
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
            let failed = |e: &dyn std::fmt::Display| {
                StartError::Network(format!("cannot listen on {addr}: {e}"))
            };
            probe_tcp_port(addr).map_err(|e| failed(&e))?;
            swarm.listen_on(addr.clone()).map_err(|e| failed(&e))?;
        }
        let profile = SignedProfile::sign(&shared.identity, &shared.display_name(), now_ms());
        let (internal_tx, internal_rx) = mpsc::channel(MAX_FETCHES * 2);

        Ok(SwarmActor {
            swarm,
            shared,
            commands,
            internal_tx,
            internal_rx,
            requests: HashMap::new(),
            fetches: HashMap::new(),
            wanted: VecDeque::new(),
            busy: HashSet::new(),
            sessions: HashMap::new(),
            static_peers: config.peers.clone(),
            discovered: HashMap::new(),
            profile,
            carry: config.carry,
        })
    }

    /// Runs until shut down or every handle is gone.
    pub(crate) async fn run(mut self) {
        let mut redial = tokio::time::interval(REDIAL_EVERY);
        let mut presence = tokio::time::interval(PRESENCE_EVERY);
        let mut resync = tokio::time::interval(SYNC_EVERY);
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
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
                _ = resync.tick() => self.sync_all(),
                _ = sweep.tick() => self.sweep_expired(),
            }
        }
    }

    /// Stops in order: no more requests are taken (the loop has ended),
    /// the store is flushed, then connections close.
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
            Command::Announce { id, recipients } => self.announce(id, &recipients),
            Command::Want { peer, id } => self.want(peer, id),
            Command::ProfileChanged => self.republish_profile(),
            Command::ChannelsChanged => {
                let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
                for peer in peers {
                    self.exchange_channels(&peer);
                }
            }
            Command::SendReceipt { receipt, to } => {
                if self.swarm.is_connected(&to) {
                    self.send(&to, Request::Receipt(receipt), Pending::Receipt);
                }
            }
            // Handled in `run`, which owns the loop.
            Command::Shutdown(_) => {}
        }
    }

    /// Offers a new message to its recipients online; if any is away,
    /// every other connected peer is offered it too, to carry.
    fn announce(&mut self, id: MessageId, recipients: &[PeerId]) {
        let online: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        let someone_away = recipients.iter().any(|r| !online.contains(r));
        for peer in online {
            if recipients.contains(&peer) || someone_away {
                self.send(&peer, Request::Offer { ids: vec![id] }, Pending::Offer);
            }
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
            } => self.on_peer_gone(peer_id),
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(peer = ?peer_id.map(|p| short_peer(&p)), %error, "dial failed");
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            _ => {}
        }
    }

    /// The last connection to `peer` closed: forget what was under way with
    /// it; the next meeting's reconciliation picks it up again.
    fn on_peer_gone(&mut self, peer: PeerId) {
        tracing::info!(peer = %short_peer(&peer), "peer left");
        self.touch_contact(&peer);
        self.sessions.remove(&peer);
        let dropped: Vec<MessageId> = self
            .fetches
            .iter()
            .filter(|(_, f)| f.from == peer)
            .map(|(id, _)| *id)
            .chain(
                self.wanted
                    .iter()
                    .filter(|(from, _)| *from == peer)
                    .map(|(_, id)| *id),
            )
            .collect();
        for id in dropped {
            self.fetches.remove(&id);
            self.busy.remove(&id);
        }
        self.wanted.retain(|(from, _)| *from != peer);
        self.shared.emit(Event::PeerOffline {
            peer_id: peer.to_string(),
        });
        self.pump_fetches();
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => self.dial_discovered(found),
            BehaviourEvent::Mdns(mdns::Event::Expired(gone)) => self.forget_discovered(gone),
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
            if peer == me {
                continue;
            }
            tracing::debug!(peer = %short_peer(&peer), %addr, "found by mDNS");
            self.discovered.entry(peer).or_default().insert(addr);
            self.dial_known(peer);
        }
    }

    fn forget_discovered(&mut self, gone: Vec<(PeerId, Multiaddr)>) {
        for (peer, addr) in gone {
            if let Some(addrs) = self.discovered.get_mut(&peer) {
                addrs.remove(&addr);
                if addrs.is_empty() {
                    self.discovered.remove(&peer);
                }
            }
        }
    }

    /// Dials `peer` at every address mDNS gave for it, unless connected or
    /// a dial is already under way.
    fn dial_known(&mut self, peer: PeerId) {
        if self.swarm.is_connected(&peer) {
            return;
        }
        let Some(addrs) = self.discovered.get(&peer) else {
            return;
        };
        let opts = DialOpts::peer_id(peer)
            .addresses(addrs.iter().cloned().collect())
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        let _ = self.swarm.dial(opts);
    }

    /// Dials each `--peer` address and each peer found by mDNS that is not
    /// connected.
    fn redial(&mut self) {
        let found: Vec<PeerId> = self.discovered.keys().copied().collect();
        for peer in found {
            self.dial_known(peer);
        }
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

    /// Signs a profile with the current name and sends it to every peer
    /// connected (as a hello, which they answer) and on the presence topic.
    fn republish_profile(&mut self) {
        let name = self.shared.display_name();
        self.profile = SignedProfile::sign(&self.shared.identity, &name, now_ms());
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for peer in peers {
            let hello = Request::Hello(self.profile.clone());
            self.send(&peer, hello, Pending::Hello);
        }
        self.publish_presence();
        tracing::info!(
            peers = self.swarm.connected_peers().count(),
            "profile changed"
        );
    }

    /// Stores a peer's verified profile, unless a newer one is stored
    /// (an old announcement replayed must not undo a rename), notes when
    /// the peer was seen, and tells the UI.
    fn save_profile(&mut self, peer: &PeerId, profile: SignedProfile) {
        // An older profile (a clock stepped back, a replay) keeps the stored
        // one, but the peer is still here.
        let stored = self.shared.store.contact(peer).ok().flatten();
        let profile = match stored {
            Some(contact) if self.is_older_than_stored(peer, &profile) => {
                tracing::debug!(peer = %short_peer(peer), "older profile ignored");
                contact.profile
            }
            _ => profile,
        };
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

    fn is_older_than_stored(&self, peer: &PeerId, profile: &SignedProfile) -> bool {
        let issued = |p: &SignedProfile| p.verify().ok().map(|(_, p)| p.issued_at_ms);
        let stored = self.shared.store.contact(peer).ok().flatten();
        match (stored.and_then(|c| issued(&c.profile)), issued(profile)) {
            (Some(stored), Some(offered)) => offered < stored,
            _ => false,
        }
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

    /// Drops carried mail older than the policy's expiry.
    fn sweep_expired(&mut self) {
        let Ok(messages) = self.shared.store.messages() else {
            return;
        };
        let expiry = self.carry.expiry.as_millis() as u64;
        let cutoff = now_ms().saturating_sub(expiry);
        for (id, record) in messages {
            if record.direction == hark_store::Direction::Carried && record.stored_at_ms < cutoff {
                tracing::debug!(msg = %id, "carried mail expired");
                let _ = self.shared.store.delete_message(&id);
            }
        }
    }
}
