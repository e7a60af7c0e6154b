//! The listening side of live messages: one task per incoming stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use hark_proto::envelope::{Header, Opener, SignedHeader, SignedTrailer, MAX_FRAMES};
use hark_proto::ids::{short_peer, MessageId};
use hark_proto::wire::LiveRecord;
use hark_store::{Direction, MessageRecord};
use libp2p::PeerId;
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::actor::Command;
use crate::handle::Shared;
use crate::outgoing::now_ms;
use crate::playout::timing::now_us;
use crate::playout::Playout;

/// A talker silent this long is taken to be gone; what arrived stays
/// stored and the rest is fetched when the message is offered again.
const IDLE_LIMIT: Duration = Duration::from_secs(30);

/// What the stream readers share.
pub(crate) struct Context {
    pub(crate) shared: Arc<Shared>,
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) playout: Option<Playout>,
}

/// Accepts live streams until the node stops.
pub(crate) async fn accept_loop(mut incoming: libp2p_stream::IncomingStreams, ctx: Arc<Context>) {
    while let Some((peer, stream)) = incoming.next().await {
        let span = tracing::debug_span!("live", peer = %short_peer(&peer));
        tokio::spawn(read_stream(peer, stream, ctx.clone()).instrument(span));
    }
}

async fn read_stream(peer: PeerId, mut stream: libp2p::Stream, ctx: Arc<Context>) {
    let Some(LiveRecord::Header(header)) = next_record(&mut stream).await else {
        return tracing::debug!("live stream without a header");
    };
    let Some((parsed, opener)) = accept_header(&ctx, &peer, &header) else {
        return;
    };
    let id = parsed.id;

    // A muted channel's messages are kept, not played.
    let muted = crate::channels::channel_of(&parsed)
        .and_then(|c| ctx.shared.store.channel(&c).ok().flatten())
        .is_some_and(|c| c.muted);
    let playout = if muted { None } else { ctx.playout.as_ref() };
    if let Some(playout) = playout {
        playout.begin(id, parsed.sender).await;
    }
    let mut last_index = None;
    while let Some(record) = next_record(&mut stream).await {
        match record {
            LiveRecord::Frame(frame) if frame.index < MAX_FRAMES => {
                crate::playout::timing::record("recv", &id, frame.index, now_us());
                let Ok(packet) = opener.open_frame(&frame) else {
                    tracing::debug!(msg = %id, index = frame.index, "live frame does not open");
                    continue;
                };
                if ctx
                    .shared
                    .store
                    .put_frames(&id, std::slice::from_ref(&frame))
                    .is_err()
                {
                    break;
                }
                last_index = last_index.max(Some(frame.index));
                if let Some(playout) = playout {
                    playout.frame(id, frame.index, packet, Instant::now()).await;
                }
            }
            LiveRecord::Trailer(trailer) => {
                complete(&ctx, &peer, &header, &trailer).await;
                last_index = trailer_last(&header, &trailer).or(last_index);
                break;
            }
            LiveRecord::Cancelled => {
                if let Some(playout) = playout {
                    playout.cancel(id).await;
                }
                return cancelled(&ctx, &id, &peer).await;
            }
            _ => break,
        }
    }
    if let Some(playout) = playout {
        playout.end(id, last_index).await;
    }
}

/// The talker cancelled: drop what arrived, unless the message is complete
/// here already (then it was finished first, and a cancel cannot take it
/// back). Only an unfinished incoming message sent by `talker`, the peer
/// on the other end of this stream, is dropped.
async fn cancelled(ctx: &Context, id: &MessageId, talker: &PeerId) {
    let shared = ctx.shared.clone();
    let (msg, talker) = (*id, *talker);
    let removed = tokio::task::spawn_blocking(move || -> Result<bool, hark_store::Error> {
        match shared.store.message(&msg)? {
            Some(record)
                if record.trailer.is_none()
                    && record.sender == talker
                    && record.direction == Direction::Incoming =>
            {
                shared.store.delete_message(&msg)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    })
    .await;
    match removed {
        Ok(Ok(true)) => {
            tracing::debug!(msg = %id, "live message cancelled by its talker");
            ctx.shared
                .emit(crate::api::Event::MessageRemoved { id: id.to_string() });
        }
        Ok(Ok(false)) => {}
        Ok(Err(e)) => tracing::warn!(msg = %id, error = %e, "cannot drop a cancelled message"),
        Err(e) => tracing::warn!(msg = %id, error = %e, "dropping a cancelled message failed"),
    }
}

async fn next_record(stream: &mut libp2p::Stream) -> Option<LiveRecord> {
    let read = crate::codec::read_message(stream);
    match tokio::time::timeout(IDLE_LIMIT, read).await {
        Ok(Ok(record)) => Some(record),
        _ => None,
    }
}

/// Checks a live header: signed, streamed by its own sender, for us, not
/// stored complete already. Stores the record so the message shows as
/// arriving.
fn accept_header(ctx: &Context, peer: &PeerId, header: &SignedHeader) -> Option<(Header, Opener)> {
    let shared = &ctx.shared;
    let (opener, parsed) = crate::channels::opener(shared, header)
        .map_err(|e| tracing::debug!(error = %e, "live header refused"))
        .ok()?;
    if parsed.sender != *peer {
        tracing::warn!("live stream of someone else's message refused");
        return None;
    }
    if let Ok(Some(existing)) = shared.store.message(&parsed.id) {
        // Finished already, or a different message under the same id (a
        // peer that learnt the id must not write into, or cancel, someone
        // else's message).
        if existing.trailer.is_some() || existing.header != *header {
            if existing.header != *header {
                tracing::warn!(msg = %parsed.id, "live stream reusing another message's id refused");
            }
            return None;
        }
    }

    let record = MessageRecord {
        header: header.clone(),
        trailer: None,
        direction: Direction::Incoming,
        sender: parsed.sender,
        recipients: receivers(shared, &parsed),
        created_at_ms: parsed.created_at_ms,
        stored_at_ms: now_ms(),
        frame_count: 0,
        sample_count: 0,
        bytes: 0,
        dropped: false,
        channel: crate::channels::channel_of(&parsed),
    };
    if shared.store.begin_message(&parsed.id, &record, &[]).ok()? {
        shared.emit_message(&parsed.id);
    }
    Some((parsed, opener))
}

/// Who a received message is for, as far as this node knows: the
/// recipients of a direct message; the sender and us for a channel one.
pub(crate) fn receivers(shared: &Shared, parsed: &Header) -> Vec<PeerId> {
    match crate::channels::channel_of(parsed) {
        Some(_) => vec![parsed.sender, shared.identity.peer_id()],
        None => parsed.recipients(),
    }
}

fn trailer_last(header: &SignedHeader, trailer: &SignedTrailer) -> Option<u32> {
    let (_, t) = trailer.verify(header).ok()?;
    t.frame_count.checked_sub(1)
}

/// The talker let go: complete the stored message if every frame is here,
/// else fetch the gaps (from the sender, who holds the whole message now).
async fn complete(ctx: &Context, sender: &PeerId, header: &SignedHeader, trailer: &SignedTrailer) {
    let Ok((parsed, t)) = trailer.verify(header) else {
        return tracing::warn!("live trailer does not verify");
    };
    let id = parsed.id;
    let missing = ctx
        .shared
        .store
        .missing_frames(&id, t.frame_count)
        .unwrap_or_default();
    if !missing.is_empty() {
        tracing::debug!(msg = %id, missing = missing.len(), "repairing live message");
        let _ = ctx.commands.send(Command::Want { peer: *sender, id }).await;
        return;
    }

    let shared = ctx.shared.clone();
    let (header, trailer) = (header.clone(), trailer.clone());
    let done = tokio::task::spawn_blocking(move || finalize(&shared, &id, &header, &trailer)).await;
    match done {
        Ok(Ok(())) => {
            tracing::info!(msg = %id, from = %short_peer(sender), "live message received");
            ctx.shared.emit_message(&id);
            let kind = hark_proto::receipt::ReceiptKind::Delivered;
            if let Ok(receipt) = crate::receipts::own(&ctx.shared, id, kind) {
                let _ = ctx
                    .commands
                    .send(Command::SendReceipt {
                        receipt,
                        to: *sender,
                    })
                    .await;
            }
        }
        Ok(Err(e)) => tracing::warn!(msg = %id, error = %e, "live message does not check"),
        Err(e) => tracing::warn!(msg = %id, error = %e, "live message check failed"),
    }
}

/// Checks the whole stored message against its trailer and marks it
/// complete, flushed. Blocking.
pub(crate) fn finalize(
    shared: &Shared,
    id: &MessageId,
    header: &SignedHeader,
    trailer: &SignedTrailer,
) -> Result<(), String> {
    let store = &shared.store;
    let mut record = store
        .message(id)
        .map_err(|e| e.to_string())?
        .ok_or("message vanished")?;
    let (_, t) = trailer.verify(header).map_err(|e| e.to_string())?;
    let frames = store
        .frames(id, 0, t.frame_count)
        .map_err(|e| e.to_string())?;
    hark_proto::envelope::verify_message(header, &frames, trailer).map_err(|e| e.to_string())?;

    record.trailer = Some(trailer.clone());
    record.frame_count = t.frame_count;
    record.sample_count = t.sample_count;
    record.bytes = frames.iter().map(|f| f.ciphertext.len() as u64).sum();
    store
        .update_message(id, &record)
        .map_err(|e| e.to_string())?;
    store.flush_blocking().map_err(|e| e.to_string())
}
