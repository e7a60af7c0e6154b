//! [`NodeHandle`]: the cloneable way into a running node, and the state its
//! clones share.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use hark_proto::identity::{Identity, PublicIdentity};
use hark_proto::ids::MessageId;
use hark_store::{Contact, MessageRecord, Store};
use libp2p::PeerId;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::actor::Command;
use crate::api::{self, ErrorKind, Event, MessageState, MessageSummary, PeerInfo, WhoAmI};
use crate::data_dir::DataDir;
use crate::outgoing::Target;
use crate::Config;

/// What every clone of the handle, and the actor, can reach without going
/// through the actor: the identity, the store (thread-safe) and the event
/// channel.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) identity: Arc<Identity>,
    pub(crate) store: Store,
    pub(crate) events: broadcast::Sender<Event>,
    /// Opus bitrate of new messages; settings may change it at any time.
    pub(crate) bitrate: std::sync::atomic::AtomicU32,
    /// Live frames per write (see `Config::live_frames_per_write`).
    pub(crate) live_batch: usize,
    pub(crate) dir: DataDir,
}

impl Shared {
    pub(crate) fn new(
        identity: Arc<Identity>,
        store: Store,
        events: broadcast::Sender<Event>,
        config: &Config,
        dir: DataDir,
    ) -> Shared {
        Shared {
            identity,
            store,
            events,
            bitrate: std::sync::atomic::AtomicU32::new(config.bitrate),
            live_batch: usize::from(config.live_frames_per_write.clamp(1, 4)),
            dir,
        }
    }

    /// Opus bitrate of new messages.
    pub(crate) fn bitrate(&self) -> u32 {
        self.bitrate.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// This node's display name: the stored one, else the login name.
    pub(crate) fn display_name(&self) -> String {
        if let Ok(Some(name)) = self.store.display_name() {
            return name;
        }
        std::env::var("USER")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| "Hark user".to_string())
    }

    /// The name to show for `peer`: ours, a contact's, or a short id.
    pub(crate) fn name_of(&self, peer: &PeerId) -> String {
        if *peer == self.identity.peer_id() {
            return self.display_name();
        }
        // Contacts are stored only after their profile verified.
        let contact = self.store.contact(peer).ok().flatten();
        contact
            .and_then(|c| c.profile.stored_display_name())
            .unwrap_or_else(|| hark_proto::ids::short_peer(peer))
    }

    /// Sends an event to every subscriber; having none is fine.
    pub(crate) fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// The inbox line for a stored message.
    pub(crate) fn summary(&self, id: &MessageId, record: &MessageRecord) -> MessageSummary {
        let to: Vec<&PeerId> = record
            .recipients
            .iter()
            .filter(|p| **p != record.sender)
            .collect();
        MessageSummary {
            id: id.to_string(),
            direction: match record.direction {
                hark_store::Direction::Outgoing => api::Direction::Outgoing,
                // Carried mail is not listed (see `inbox`); were it, it
                // came in from a peer.
                hark_store::Direction::Incoming | hark_store::Direction::Carried => {
                    api::Direction::Incoming
                }
            },
            from: record.sender.to_string(),
            from_name: self.name_of(&record.sender),
            to: to.iter().map(|p| p.to_string()).collect(),
            to_names: to.iter().map(|p| self.name_of(p)).collect(),
            channel: record.channel.and_then(|id| {
                let found = self.store.channel(&id).ok().flatten();
                found.map(|c| c.channel.name)
            }),
            channel_id: record.channel.map(|id| hark_proto::channel::hex(&id)),
            created_at_ms: record.created_at_ms,
            duration_ms: record.sample_count * 1000 / u64::from(hark_audio::SAMPLE_RATE),
            state: self.state_of(id, record),
        }
    }

    fn state_of(&self, id: &MessageId, record: &MessageRecord) -> MessageState {
        if record.direction == hark_store::Direction::Incoming {
            return match record.trailer {
                Some(_) => MessageState::Received,
                None => MessageState::Receiving,
            };
        }
        // The least advanced recipient sets the state: "delivered" means
        // everyone has it, "heard" that everyone played it.
        let deliveries = self.store.deliveries(id).unwrap_or_default();
        let least = deliveries.iter().map(|(_, d)| d.rank()).min();
        let any = deliveries.iter().any(|(_, d)| d.rank() > 0);
        match least {
            Some(0) if any => MessageState::Sent,
            Some(0) => MessageState::Queued,
            Some(1) => MessageState::Delivered,
            Some(_) => MessageState::Heard,
            // Nobody to deliver to: a channel with no member known yet.
            None if record.channel.is_some() => MessageState::Sent,
            // A direct message without delivery rows was not stored whole
            // (the store failed mid-way): it is not delivered.
            None if record.recipients.len() > 1 => MessageState::Queued,
            None => MessageState::Delivered,
        }
    }

    /// Emits the current summary of message `id`.
    pub(crate) fn emit_message(&self, id: &MessageId) {
        if let Ok(Some(record)) = self.store.message(id) {
            let message = self.summary(id, &record);
            self.emit(Event::Message { message });
        }
    }

    /// The peer list line for a contact.
    pub(crate) fn peer_info(&self, peer: &PeerId, contact: &Contact, online: bool) -> PeerInfo {
        let verified = contact.profile.verify().ok();
        PeerInfo {
            peer_id: peer.to_string(),
            display_name: verified
                .as_ref()
                .map(|(_, p)| p.display_name.clone())
                .unwrap_or_else(|| hark_proto::ids::short_peer(peer)),
            safety_number: verified
                .map(|(public, _)| public.safety_number().to_string())
                .unwrap_or_default(),
            online,
            last_seen_ms: contact.last_seen_ms,
        }
    }
}

/// The way into a running node. Cheap to clone. Every method is safe to
/// cancel: a cancelled call may still complete inside the node (a message
/// being sent is still sent), but leaves nothing half-done.
#[derive(Clone)]
pub struct NodeHandle {
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
    control: libp2p_stream::Control,
}

impl std::fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHandle")
            .field("peer", &self.peer_id())
            .finish_non_exhaustive()
    }
}

impl NodeHandle {
    pub(crate) fn new(
        shared: Arc<Shared>,
        commands: mpsc::Sender<Command>,
        control: libp2p_stream::Control,
    ) -> NodeHandle {
        NodeHandle {
            shared,
            commands,
            control,
        }
    }

    /// Opus bitrate for new messages, bits per second.
    pub(crate) fn bitrate(&self) -> u32 {
        self.shared.bitrate()
    }

    /// Sets the Opus bitrate of messages recorded or sent from now on
    /// (bits per second, 6,000 to 510,000: what Opus accepts).
    pub fn set_bitrate(&self, bitrate: u32) -> Result<(), api::Error> {
        if !(6_000..=510_000).contains(&bitrate) {
            return Err(api::Error::new(
                ErrorKind::BadRequest,
                format!("{bitrate} bit/s is outside Opus's 6000 to 510000"),
            ));
        }
        self.shared
            .bitrate
            .store(bitrate, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Changes the name others see: stored, signed into a new profile, and
    /// told to every peer connected now (others get it when they meet us).
    pub async fn set_display_name(&self, name: &str) -> Result<(), api::Error> {
        let name = hark_proto::profile::validate_display_name(name)
            .map_err(|e| api::Error::new(ErrorKind::BadRequest, e.to_string()))?;
        self.shared.store.set_display_name(name).map_err(storage)?;
        self.shared.store.flush().await.map_err(storage)?;
        self.tell(Command::ProfileChanged).await
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.shared.identity.peer_id()
    }

    /// Where this node's control socket listens.
    pub fn socket_path(&self) -> PathBuf {
        self.shared.dir.socket_path()
    }

    /// Who this node is and where it listens.
    pub async fn whoami(&self) -> Result<WhoAmI, api::Error> {
        let addrs = self.ask(Command::ListenAddrs).await?;
        let me = self.peer_id();
        let messages = self.shared.store.messages().map_err(storage)?;
        let carried = messages
            .iter()
            .filter(|(_, r)| r.direction == hark_store::Direction::Carried && !r.dropped);
        let (carrying, carrying_bytes) =
            carried.fold((0, 0), |(n, b), (_, r)| (n + 1, b + r.bytes));
        Ok(WhoAmI {
            peer_id: me.to_string(),
            display_name: self.shared.display_name(),
            safety_number: self.shared.identity.public().safety_number().to_string(),
            listen_addrs: addrs.iter().map(|a| format!("{a}/p2p/{me}")).collect(),
            data_dir: self.shared.dir.path().display().to_string(),
            carrying,
            carrying_bytes,
        })
    }

    /// Every peer met so far, online ones first, then by name.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, api::Error> {
        let online: HashSet<PeerId> = self.ask(Command::Online).await?;
        let contacts = self.shared.store.contacts().map_err(storage)?;
        let mut peers: Vec<PeerInfo> = contacts
            .iter()
            .map(|(peer, c)| self.shared.peer_info(peer, c, online.contains(peer)))
            .collect();

        peers.sort_by(|a, b| {
            (!a.online, a.display_name.to_lowercase())
                .cmp(&(!b.online, b.display_name.to_lowercase()))
        });
        Ok(peers)
    }

    /// Every stored message, newest first.
    pub async fn inbox(&self) -> Result<Vec<MessageSummary>, api::Error> {
        let messages = self.shared.store.messages().map_err(storage)?;
        let mut out: Vec<MessageSummary> = messages
            .iter()
            .filter(|(_, record)| record.direction != hark_store::Direction::Carried)
            .map(|(id, record)| self.shared.summary(id, record))
            .collect();
        out.sort_by(|a, b| b.created_at_ms.cmp(&a.created_at_ms).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Imports an audio file (WAV or Ogg Opus), encodes, seals it for `to`
    /// (peer ids or display names of known peers) and stores it; peers
    /// online get it at once, the others when they are next seen. Returns
    /// the new message's id once it is stored on disk.
    pub async fn send_file(&self, to: Vec<String>, path: PathBuf) -> Result<String, api::Error> {
        self.send_sealed(to, move |shared, target| {
            crate::outgoing::seal_file(shared, target, &path)
        })
        .await
    }

    /// The common end of every stored send: resolves `to`, seals on the
    /// blocking pool with `seal`, stores (flushed), tells the UI and offers
    /// the message. Returns its id.
    pub(crate) async fn send_sealed<F>(
        &self,
        to: Vec<String>,
        seal: F,
    ) -> Result<String, api::Error>
    where
        F: FnOnce(&Shared, &Target) -> Result<crate::outgoing::Sealed, api::Error> + Send + 'static,
    {
        let target = self.resolve(&to)?;
        let shared = self.shared.clone();
        let sealed = tokio::task::spawn_blocking(move || seal(&shared, &target))
            .await
            .map_err(|e| api::Error::new(ErrorKind::Internal, e.to_string()))??;

        let id = crate::outgoing::store(&self.shared, &sealed).await?;
        self.shared.emit_message(&id);
        let recipients = sealed.recipients.clone();
        self.tell(Command::Announce { id, recipients }).await?;
        Ok(id.to_string())
    }

    /// The state shared with the actor, for sibling modules.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Starts a live message to `to`: frames pushed into the returned
    /// sender go to every recipient online as they come, and are stored.
    /// Call [`LiveSender::finish`](crate::live::LiveSender::finish) when
    /// the talker lets go, then [`NodeHandle::announce`] with its id.
    pub async fn start_live(
        &self,
        to: Vec<String>,
        pre_skip: u16,
    ) -> Result<crate::live::LiveSender, api::Error> {
        self.start_live_at(to, pre_skip, self.bitrate()).await
    }

    /// [`NodeHandle::start_live`] for packets encoded at `bitrate` (read
    /// once by the caller: settings may change it meanwhile).
    pub(crate) async fn start_live_at(
        &self,
        to: Vec<String>,
        pre_skip: u16,
        bitrate: u32,
    ) -> Result<crate::live::LiveSender, api::Error> {
        let target = self.resolve(&to)?;
        let online: Vec<PeerId> = self.ask(Command::Online).await?.into_iter().collect();
        let codec = crate::outgoing::codec(pre_skip, bitrate);
        let shared = self.shared.clone();
        crate::live::LiveSender::start(shared, self.control.clone(), &target, codec, &online).await
    }

    /// Offers a finished live message to its recipients who did not get it
    /// whole (they fetch what they lack).
    pub async fn announce(&self, id: MessageId) -> Result<(), api::Error> {
        let record = self.shared.store.message(&id).map_err(storage)?;
        let Some(record) = record else {
            return Err(api::Error::new(
                ErrorKind::NotFound,
                format!("no message {id}"),
            ));
        };
        let me = self.peer_id();
        let recipients = record.recipients.into_iter().filter(|p| *p != me).collect();
        self.tell(Command::Announce { id, recipients }).await
    }

    /// Streams an audio file live, paced as if spoken (one 20 ms frame
    /// every 20 ms), to `to`; returns the message id when it is done.
    /// `drop_ratio` leaves that share of frames out of the live streams
    /// (fault injection: recipients repair them from the stored message).
    /// With `cancel_after`, the talker gives up that far into the file, as
    /// Esc does in the window: the message is removed everywhere it went.
    /// Safe to cancel: the message is then left unfinished at both ends.
    pub async fn send_live_file(
        &self,
        to: Vec<String>,
        path: PathBuf,
        drop_ratio: f32,
        cancel_after: Option<std::time::Duration>,
    ) -> Result<String, api::Error> {
        let bitrate = self.shared.bitrate();
        let encoded =
            tokio::task::spawn_blocking(move || crate::outgoing::encode_file(&path, bitrate))
                .await
                .map_err(|e| api::Error::new(ErrorKind::Internal, e.to_string()))??;

        let live = self.start_live_at(to, encoded.pre_skip, bitrate).await?;
        let mut live = live.with_drop_ratio(drop_ratio);
        let mut pace = tokio::time::interval(std::time::Duration::from_millis(20));
        pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let last = encoded.packets.len().saturating_sub(1);
        let frame = std::time::Duration::from_millis(20);
        for (i, packet) in encoded.packets.iter().enumerate() {
            if cancel_after.is_some_and(|after| frame * i as u32 >= after) {
                let id = live.id();
                live.cancel().await?;
                return Ok(id.to_string());
            }
            pace.tick().await;
            live.push(packet, i == last).await?;
        }

        let id = live.finish(encoded.sample_count).await?;
        self.announce(id).await?;
        Ok(id.to_string())
    }

    /// Writes message `id` to `out`: Ogg Opus for `.opus`/`.ogg`, 16-bit WAV
    /// for `.wav`. Nothing is left at `out` if it fails.
    pub async fn export(&self, id: String, out: PathBuf) -> Result<(), api::Error> {
        let id: MessageId = id.parse().map_err(|_| {
            api::Error::new(ErrorKind::BadRequest, format!("'{id}' is not a message id"))
        })?;
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || crate::export::export(&shared, &id, &out))
            .await
            .map_err(|e| api::Error::new(ErrorKind::Internal, e.to_string()))?
    }

    /// Records that the user played message `id` (an incoming one) and
    /// tells its sender with a signed "heard" receipt, now if connected,
    /// else at the next meeting. Calling it again changes nothing.
    pub async fn mark_heard(&self, id: String) -> Result<(), api::Error> {
        let id: MessageId = id.parse().map_err(|_| {
            api::Error::new(ErrorKind::BadRequest, format!("'{id}' is not a message id"))
        })?;
        let record = self.shared.store.message(&id).map_err(storage)?;
        let Some(record) = record.filter(|r| r.direction == hark_store::Direction::Incoming) else {
            return Err(api::Error::new(
                ErrorKind::NotFound,
                format!("no received message {id}"),
            ));
        };

        let kind = hark_proto::receipt::ReceiptKind::Heard;
        let receipt = crate::receipts::own(&self.shared, id, kind).map_err(storage)?;
        self.shared.store.flush().await.map_err(storage)?;
        self.tell(Command::SendReceipt {
            receipt,
            to: record.sender,
        })
        .await
    }

    /// Makes a new channel and joins it; share its invite code.
    /// A name already used by one of our channels is refused: `#name`
    /// would otherwise pick one of the two without saying which.
    pub async fn create_channel(&self, name: String) -> Result<api::ChannelInfo, api::Error> {
        let channel = hark_proto::channel::Channel::create(&name)
            .map_err(|e| api::Error::new(ErrorKind::BadInvite, e.to_string()))?;
        let ours = self.shared.store.channels().map_err(storage)?;
        if ours
            .iter()
            .any(|c| crate::channels::same_name(&c.channel.name, &channel.name))
        {
            let taken = format!("you are already in a channel called '{}'", channel.name);
            return Err(api::Error::new(ErrorKind::BadRequest, taken));
        }
        self.join(channel).await
    }

    /// Joins a channel from its invite code (joining again is harmless).
    pub async fn join_channel(&self, invite: String) -> Result<api::ChannelInfo, api::Error> {
        let channel = hark_proto::channel::Channel::from_invite(&invite)
            .map_err(|e| api::Error::new(ErrorKind::BadInvite, e.to_string()))?;
        self.join(channel).await
    }

    async fn join(
        &self,
        channel: hark_proto::channel::Channel,
    ) -> Result<api::ChannelInfo, api::Error> {
        let existing = self.shared.store.channel(&channel.id).map_err(storage)?;
        let record = existing.unwrap_or_else(|| crate::channels::record(channel));
        self.shared.store.put_channel(&record).map_err(storage)?;
        self.shared.store.flush().await.map_err(storage)?;
        self.tell(Command::ChannelsChanged).await?;
        Ok(crate::channels::info(&self.shared, &record))
    }

    /// Leaves a channel (by name or id); its messages stay in the inbox.
    pub async fn leave_channel(&self, name: String) -> Result<(), api::Error> {
        let record = self.channel_named(&name)?;
        self.shared
            .store
            .remove_channel(&record.channel.id)
            .map_err(storage)?;
        self.shared.store.flush().await.map_err(storage)
    }

    /// Mutes or unmutes a channel's live messages (they are still kept).
    pub async fn mute_channel(
        &self,
        name: String,
        muted: bool,
    ) -> Result<api::ChannelInfo, api::Error> {
        let mut record = self.channel_named(&name)?;
        record.muted = muted;
        self.shared.store.put_channel(&record).map_err(storage)?;
        Ok(crate::channels::info(&self.shared, &record))
    }

    /// The channels this node is in.
    pub async fn channels(&self) -> Result<Vec<api::ChannelInfo>, api::Error> {
        let records = self.shared.store.channels().map_err(storage)?;
        Ok(records
            .iter()
            .map(|r| crate::channels::info(&self.shared, r))
            .collect())
    }

    fn channel_named(&self, name: &str) -> Result<hark_store::ChannelRecord, api::Error> {
        crate::channels::find(&self.shared, name, ErrorKind::NotFound)
    }

    /// Live events: peers coming and going, messages stored or changing
    /// state. A subscriber that falls more than 256 events behind misses
    /// the oldest (it sees `Lagged`) and should re-read the lists.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// Stops the node in order: no new work, store flushed, peers closed.
    /// Returns when the node has stopped; calling it again is harmless.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Whom `to` names: one channel (`#name`), or people (peer ids or
    /// display names).
    pub(crate) fn resolve(&self, to: &[String]) -> Result<Target, api::Error> {
        if to.is_empty() {
            return Err(api::Error::new(ErrorKind::BadRequest, "no recipient given"));
        }
        let channel = to.iter().find(|t| t.trim().starts_with('#'));
        if let Some(name) = channel {
            if to.len() > 1 {
                let msg = "send to one channel, or to people, not both";
                return Err(api::Error::new(ErrorKind::BadRequest, msg));
            }
            let record = crate::channels::find(&self.shared, name, ErrorKind::UnknownRecipient)?;
            let members = self
                .shared
                .store
                .members(&record.channel.id)
                .map_err(storage)?;
            return Ok(Target::Channel { record, members });
        }
        self.resolve_people(to).map(Target::Direct)
    }

    /// Finds the public identities of the people named in `to`.
    fn resolve_people(&self, to: &[String]) -> Result<Vec<PublicIdentity>, api::Error> {
        let contacts = self.shared.store.contacts().map_err(storage)?;
        let known: Vec<(PublicIdentity, String)> = contacts
            .iter()
            .filter_map(|(_, c)| c.profile.verify().ok())
            .map(|(public, profile)| (public, profile.display_name))
            .collect();
        let mut picked: Vec<PublicIdentity> = Vec::with_capacity(to.len());
        for name in to {
            let public = pick(&known, name)?;
            // `--to Bob --to bob` names one person once.
            if !picked.iter().any(|p| p.peer_id == public.peer_id) {
                picked.push(public);
            }
        }
        Ok(picked)
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, api::Error> {
        let (tx, rx) = oneshot::channel();
        self.tell(make(tx)).await?;
        rx.await.map_err(|_| unavailable())
    }

    async fn tell(&self, command: Command) -> Result<(), api::Error> {
        self.commands.send(command).await.map_err(|_| unavailable())
    }
}

/// Picks the one known peer whose id or display name (case-insensitive)
/// is `name`.
fn pick(known: &[(PublicIdentity, String)], name: &str) -> Result<PublicIdentity, api::Error> {
    let wanted = name.trim();
    if let Some((public, _)) = known.iter().find(|(p, _)| p.peer_id.to_string() == wanted) {
        return Ok(public.clone());
    }

    let matches: Vec<&PublicIdentity> = known
        .iter()
        .filter(|(_, n)| crate::channels::same_name(n, wanted))
        .map(|(p, _)| p)
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(api::Error::new(
            ErrorKind::UnknownRecipient,
            format!("no known peer is called or has the id '{wanted}'"),
        )),
        _ => Err(api::Error::new(
            ErrorKind::AmbiguousRecipient,
            format!(
                "{} peers are called '{wanted}'; use one of their ids: {}",
                matches.len(),
                matches
                    .iter()
                    .map(|p| p.peer_id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// A store error as the UI sees it.
///
/// The store refuses writes that would nearly fill the disk, and sled is
/// then unharmed: freeing space is enough. Known shortcoming: a write that
/// still meets a full disk (other programs filling it between the check
/// and the write) leaves sled 0.34 failing every later write, and reads
/// too once its flusher has failed, until the node restarts; so that
/// message says to restart. Reopening the store in place would need every
/// holder of it (actor, handle, desktop) to let go first.
pub(crate) fn storage(e: hark_store::Error) -> api::Error {
    if let hark_store::Error::DiskFull { .. } = e {
        let full = "the disk is full: nothing was stored; free some space and try again";
        return api::Error::new(ErrorKind::Storage, full);
    }
    // The raw OS error says "StorageFull"; people need to know what to do.
    let text = e.to_string();
    if text.contains("No space left on device") {
        let full = "the disk is full: nothing was stored; free some space, then restart Hark";
        return api::Error::new(ErrorKind::Storage, full);
    }
    api::Error::new(ErrorKind::Storage, text)
}

fn unavailable() -> api::Error {
    api::Error::new(ErrorKind::Unavailable, "the node is shutting down")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<(PublicIdentity, String)> {
        ["Bob", "Carol", "carol", "Çarol 🎤"]
            .iter()
            .map(|n| (Identity::generate().public(), n.to_string()))
            .collect()
    }

    // A peer is found by id or by its name, ignoring case.
    #[test]
    fn pick_by_id_or_name() -> Result<(), api::Error> {
        let known = known();
        let bob = &known[0].0;
        assert_eq!(pick(&known, &bob.peer_id.to_string())?.peer_id, bob.peer_id);
        assert_eq!(pick(&known, " BOB ")?.peer_id, bob.peer_id);

        // Case is ignored beyond ASCII too.
        let cedilla = &known[3].0;
        assert_eq!(pick(&known, "çAROL 🎤")?.peer_id, cedilla.peer_id);
        Ok(())
    }

    // Unknown and ambiguous names are errors of their own kinds.
    #[test]
    fn pick_unknown_and_ambiguous() {
        let known = known();
        assert_eq!(
            pick(&known, "dave").err().map(|e| e.kind),
            Some(ErrorKind::UnknownRecipient)
        );
        let ambiguous = pick(&known, "CAROL").err();
        assert_eq!(
            ambiguous.as_ref().map(|e| e.kind),
            Some(ErrorKind::AmbiguousRecipient)
        );
        // The error lists the ids to choose from.
        let text = ambiguous.map(|e| e.message).unwrap_or_default();
        assert!(text.contains(&known[1].0.peer_id.to_string()), "{text}");
        assert!(text.contains(&known[2].0.peer_id.to_string()), "{text}");
    }
}
