//! The talking side of a live message.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hark_proto::envelope::{Codec, SealedFrame, Sealer, SignedHeader};
use hark_proto::ids::{short_peer, MessageId};
use hark_proto::wire::LiveRecord;
use hark_store::{Direction, MessageRecord};
use libp2p::PeerId;
use tokio::sync::mpsc;

use crate::api::{self, ErrorKind, Event};
use crate::handle::{storage, Shared};
use crate::outgoing::{now_ms, Target};
use crate::playout::timing;

/// Frames a writer may fall behind before its recipient is dropped from
/// the live stream (it repairs from the stored message afterwards): about
/// five seconds of speech.
const WRITER_BACKLOG: usize = 256;

/// How long opening a stream to a recipient may take before it is given up
/// for this message.
const OPEN_TIMEOUT: Duration = Duration::from_secs(2);

/// One message being spoken: seals each frame, stores it, and sends it to
/// every recipient online. Not `Clone`: one talker at a time per message.
pub struct LiveSender {
    shared: Arc<Shared>,
    control: libp2p_stream::Control,
    /// `None` once finished.
    sealer: Option<Sealer>,
    header: SignedHeader,
    id: MessageId,
    recipients: Vec<PeerId>,
    record: MessageRecord,
    writers: HashMap<PeerId, mpsc::Sender<LiveRecord>>,
    sent: Vec<SealedFrame>,
    events: tokio::sync::broadcast::Receiver<Event>,
    /// Fault injection for tests and demos: the share of frames left out of
    /// the live streams (they are still stored and repaired later).
    drop_ratio: f32,
}

impl LiveSender {
    /// Starts a live message for `recipients` (and this node): stores its
    /// header and opens streams to the recipients online.
    pub(crate) async fn start(
        shared: Arc<Shared>,
        control: libp2p_stream::Control,
        target: &Target,
        codec: Codec,
        online: &[PeerId],
    ) -> Result<LiveSender, api::Error> {
        let pressed_us = timing::now_us();
        let me = shared.identity.peer_id();
        let created_at_ms = now_ms();
        let (sealer, header, others) = target.sealer(&shared, codec, created_at_ms)?;

        let id = sealer.id();
        timing::record("start", &id, 0, pressed_us);
        let record = MessageRecord {
            header: header.clone(),
            trailer: None,
            direction: Direction::Outgoing,
            sender: me,
            recipients: std::iter::once(me).chain(others.iter().copied()).collect(),
            created_at_ms,
            stored_at_ms: created_at_ms,
            frame_count: 0,
            sample_count: 0,
            bytes: 0,
            dropped: false,
            channel: target.channel_id(),
        };
        shared
            .store
            .begin_message(&id, &record, &others)
            .map_err(storage)?;

        let events = shared.events.subscribe();
        let mut sender = LiveSender {
            shared,
            control,
            sealer: Some(sealer),
            header,
            id,
            recipients: others,
            record,
            writers: HashMap::new(),
            sent: Vec::new(),
            events,
            drop_ratio: 0.0,
        };
        let live: Vec<PeerId> = online
            .iter()
            .filter(|p| sender.recipients.contains(p))
            .copied()
            .collect();
        for peer in live {
            sender.add_writer(peer);
        }
        tracing::debug!(msg = %id, live_to = sender.writers.len(), "live message started");
        Ok(sender)
    }

    /// Leaves out this share of frames from the live streams (0.0 to 1.0),
    /// to show that recipients repair what they missed.
    pub fn with_drop_ratio(mut self, ratio: f32) -> LiveSender {
        self.drop_ratio = ratio.clamp(0.0, 1.0);
        self
    }

    /// The message's id.
    pub fn id(&self) -> MessageId {
        self.id
    }

    /// Seals, stores and sends one Opus packet. Safe to cancel between
    /// calls; a cancelled call may have stored the frame without sending.
    pub async fn push(&mut self, packet: &[u8], last: bool) -> Result<(), api::Error> {
        let pushed_us = timing::now_us();
        self.add_late_joiners();
        let sealer = self.sealer.as_mut().ok_or_else(finished)?;
        let frame = sealer
            .seal_frame(packet, last)
            .map_err(|e| api::Error::new(ErrorKind::Internal, e.to_string()))?;
        timing::record("send", &self.id, frame.index, pushed_us);
        self.shared
            .store
            .put_frames(&self.id, std::slice::from_ref(&frame))
            .map_err(storage)?;

        if !self.left_out(frame.index) {
            self.fan_out(LiveRecord::Frame(frame.clone()));
        }
        self.sent.push(frame);
        Ok(())
    }

    /// A fixed pseudo-random pick so a given ratio leaves out the same
    /// share on every run.
    fn left_out(&self, index: u32) -> bool {
        if self.drop_ratio <= 0.0 {
            return false;
        }
        let hash = blake3::hash(&[&self.id.0[..], &index.to_le_bytes()].concat());
        let roll = u16::from_le_bytes([hash.as_bytes()[0], hash.as_bytes()[1]]);
        f32::from(roll) / 65536.0 < self.drop_ratio
    }

    /// Ends the message: signs the trailer, completes the stored message
    /// (flushed), sends the trailer live, and offers the message to
    /// recipients who were not listening. Returns the message id.
    pub async fn finish(mut self, sample_count: u64) -> Result<MessageId, api::Error> {
        let sealer = self.sealer.take().ok_or_else(finished)?;
        let trailer = sealer
            .finish(sample_count)
            .map_err(|e| api::Error::new(ErrorKind::Internal, e.to_string()))?;
        self.record.trailer = Some(trailer.clone());
        self.record.frame_count = self.sent.len() as u32;
        self.record.sample_count = sample_count;
        self.record.bytes = self.sent.iter().map(|f| f.ciphertext.len() as u64).sum();

        let store = &self.shared.store;
        store
            .update_message(&self.id, &self.record)
            .map_err(storage)?;
        store.flush().await.map_err(storage)?;
        self.fan_out(LiveRecord::Trailer(trailer));
        self.shared.emit_message(&self.id);
        tracing::debug!(msg = %self.id, frames = self.sent.len(), "live message finished");
        Ok(self.id)
    }

    /// Abandons the message: listeners are told to drop it, and it is
    /// removed here, with its frames and its place in the outbox. What
    /// listeners already heard cannot be unheard; nothing of it is kept.
    pub async fn cancel(mut self) -> Result<(), api::Error> {
        self.sealer = None;
        self.fan_out(LiveRecord::Cancelled);
        let shared = self.shared.clone();
        let id = self.id;
        tokio::task::spawn_blocking(move || shared.store.delete_message(&id))
            .await
            .map_err(|e| api::Error::new(ErrorKind::Internal, e.to_string()))?
            .map_err(storage)?;
        self.shared
            .emit(Event::MessageRemoved { id: id.to_string() });
        tracing::debug!(msg = %id, frames = self.sent.len(), "live message cancelled");
        Ok(())
    }

    /// Recipients who came online since the start get a stream too, with
    /// everything said so far first.
    fn add_late_joiners(&mut self) {
        let mut joined = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            if let Event::PeerOnline { peer } = event {
                if let Ok(peer) = peer.peer_id.parse::<PeerId>() {
                    joined.push(peer);
                }
            }
        }
        for peer in joined {
            if self.recipients.contains(&peer) && !self.writers.contains_key(&peer) {
                tracing::debug!(msg = %self.id, peer = %short_peer(&peer), "late joiner");
                self.add_writer(peer);
            }
        }
    }

    fn add_writer(&mut self, peer: PeerId) {
        let (tx, rx) = mpsc::channel(WRITER_BACKLOG + self.sent.len());
        let backlog = std::iter::once(LiveRecord::Header(self.header.clone()))
            .chain(self.sent.iter().cloned().map(LiveRecord::Frame));
        for record in backlog {
            // Sized above to hold the whole backlog.
            let _ = tx.try_send(record);
        }
        let batch = self.shared.live_batch;
        tokio::spawn(write_stream(self.control.clone(), peer, self.id, rx, batch));
        self.writers.insert(peer, tx);
    }

    /// Queues a record for every writer; a writer too far behind is
    /// dropped (its recipient repairs from the stored message later).
    fn fan_out(&mut self, record: LiveRecord) {
        self.writers
            .retain(|peer, tx| match tx.try_send(record.clone()) {
                Ok(()) => true,
                Err(_) => {
                    tracing::debug!(peer = %short_peer(peer), "live writer fell behind; dropped");
                    false
                }
            });
    }
}

fn finished() -> api::Error {
    api::Error::new(
        ErrorKind::BadRequest,
        "the live message is finished already",
    )
}

/// Writes one recipient's live stream until the trailer, a cancel or an
/// error. Frames leave in writes of `batch` (see [`Batching`]); records
/// already waiting (a late joiner's backlog) go out together.
async fn write_stream(
    mut control: libp2p_stream::Control,
    peer: PeerId,
    id: MessageId,
    mut records: mpsc::Receiver<LiveRecord>,
    batch: usize,
) {
    let open = control.open_stream(peer, super::PROTOCOL);
    let mut stream = match tokio::time::timeout(OPEN_TIMEOUT, open).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            return tracing::debug!(peer = %short_peer(&peer), error = %e, "no live stream")
        }
        Err(_) => return tracing::debug!(peer = %short_peer(&peer), "live stream open timed out"),
    };

    let mut out = Batching::new(batch);
    loop {
        let next = match out.holding() {
            false => records.recv().await,
            // A frame waits for its partner only so long: a talker whose
            // device stalls must not hold the listener back.
            true => match tokio::time::timeout(BATCH_WAIT, records.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    if out.write(&mut stream, &id).await.is_err() {
                        return;
                    }
                    continue;
                }
            },
        };
        let Some(record) = next else { break };
        let done = matches!(record, LiveRecord::Trailer(_) | LiveRecord::Cancelled);
        if let Err(e) = out.add(&record) {
            tracing::warn!(msg = %id, error = %e, "live record not encodable");
            return;
        }
        let waiting = !records.is_empty() && out.bytes() < COALESCE_BYTES;
        let hold = matches!(record, LiveRecord::Frame(_)) && !out.full();
        if !done && (waiting || hold) {
            continue;
        }
        if let Err(e) = out.write(&mut stream, &id).await {
            tracing::debug!(msg = %id, peer = %short_peer(&peer), error = %e, "live stream broke");
            return;
        }
        if done {
            break;
        }
    }
    let _ = out.write(&mut stream, &id).await;
    let _ = futures::AsyncWriteExt::close(&mut stream).await;
}

/// Longest a frame is held back waiting for the next one to share its
/// write: two frame lengths.
const BATCH_WAIT: Duration = Duration::from_millis(40);

/// Most bytes gathered from records already waiting before they are
/// written.
const COALESCE_BYTES: usize = 16 * 1024;

/// Records encoded and waiting to be written together. Over TCP each
/// write of a frame becomes one segment, which carries about 100 bytes of
/// headers (TCP/IP, Noise, yamux) for 60 to 80 bytes of frame; writing
/// two frames at once halves that overhead at the price of holding every
/// other frame back one frame length (see docs/benchmarks.md).
struct Batching {
    batch: usize,
    bytes: Vec<u8>,
    /// Indices of the frames in `bytes`, for the timing hook.
    frames: Vec<u32>,
}

impl Batching {
    fn new(batch: usize) -> Batching {
        Batching {
            batch: batch.max(1),
            bytes: Vec::new(),
            frames: Vec::new(),
        }
    }

    /// Frames are waiting for more to join them.
    fn holding(&self) -> bool {
        !self.frames.is_empty() && !self.full()
    }

    fn full(&self) -> bool {
        self.frames.len() >= self.batch
    }

    fn bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Appends one record as its varint length and body (the framing
    /// `codec::read_message` reads).
    fn add(&mut self, record: &LiveRecord) -> Result<(), hark_proto::wire::WireError> {
        let body = hark_proto::wire::encode(record)?;
        let mut prefix = unsigned_varint::encode::usize_buffer();
        self.bytes
            .extend_from_slice(unsigned_varint::encode::usize(body.len(), &mut prefix));
        self.bytes.extend_from_slice(&body);
        if let LiveRecord::Frame(frame) = record {
            self.frames.push(frame.index);
        }
        Ok(())
    }

    /// Writes what is gathered in one write, and flushes, so it leaves as
    /// one transport segment. (Length and body written apart became two
    /// segments over TCP+yamux: about 100 bytes more per frame.)
    async fn write(&mut self, stream: &mut libp2p::Stream, id: &MessageId) -> std::io::Result<()> {
        use futures::AsyncWriteExt;

        if self.bytes.is_empty() {
            return Ok(());
        }
        stream.write_all(&self.bytes).await?;
        stream.flush().await?;
        if timing::enabled() {
            let now = timing::now_us();
            for index in &self.frames {
                timing::record("wire", id, *index, now);
            }
        }
        self.bytes.clear();
        self.frames.clear();
        Ok(())
    }
}
