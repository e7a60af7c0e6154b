//! A jitter buffer and an Opus decoder together: one call per 20 ms slot
//! gives the samples to play, so the caller only moves them to the device.

use std::time::Instant;

use super::{Config, JitterBuffer, Playout, Stats};
use crate::codec::{CodecError, Decoder};
use crate::FRAME_SAMPLES;

/// One 20 ms playout slot from [`Player::next_slot`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Slot {
    /// Exactly [`FRAME_SAMPLES`] samples, decoded or concealed.
    pub pcm: Vec<f32>,
    /// The index of the received frame decoded into `pcm`; `None` when the
    /// slot was concealed.
    pub index: Option<u32>,
}

/// Decodes what a [`JitterBuffer`] schedules, concealing what it cannot play.
#[derive(Debug)]
pub struct Player {
    buffer: JitterBuffer,
    decoder: Decoder,
    decode_errors: u64,
}

impl Player {
    /// A player with an empty buffer limited by `config`. Fails only when
    /// libopus cannot create a decoder.
    pub fn new(config: Config) -> Result<Self, CodecError> {
        Ok(Self {
            buffer: JitterBuffer::new(config),
            decoder: Decoder::new()?,
            decode_errors: 0,
        })
    }

    /// Takes a frame as it arrives; see [`JitterBuffer::push`].
    pub fn push(&mut self, index: u32, packet: Vec<u8>, arrived: Instant) {
        self.buffer.push(index, packet, arrived);
    }

    /// Announces the message's last index; see [`JitterBuffer::finish`].
    pub fn finish(&mut self, last_index: u32) {
        self.buffer.finish(last_index);
    }

    /// The next 20 ms of audio: exactly [`FRAME_SAMPLES`] samples, decoded
    /// or concealed. `None` while buffering and after the last frame (play
    /// silence or stop).
    pub fn next_pcm(&mut self, now: Instant) -> Option<Vec<f32>> {
        self.next_slot(now).map(|slot| slot.pcm)
    }

    /// Like [`Player::next_pcm`], and says which received frame filled the
    /// slot (`None` when it was concealed or stretched), so callers can
    /// time a frame from its sender to its playout.
    pub fn next_slot(&mut self, now: Instant) -> Option<Slot> {
        let mut decoded = None;
        let samples = match self.buffer.pop(now)? {
            Playout::Frame(packet) => {
                // Taking a frame moved the buffer's next index just past it.
                decoded = self
                    .buffer
                    .next_index()
                    .and_then(|next| next.checked_sub(1));
                self.decode(&packet)
            }
            // The codec module has no in-band FEC decoding, and its encoder
            // does not put FEC data in packets, so a frame that could be
            // rebuilt from the next packet is concealed with PLC like any
            // other; Recover would need both (libopus decode with fec = 1).
            Playout::Recover { .. } | Playout::Lost | Playout::Stretch => {
                self.decoder.decode_lost()
            }
        };
        Some(Slot {
            pcm: fit_to_frame(samples),
            index: decoded.and_then(|i| u32::try_from(i).ok()),
        })
    }

    /// The buffer's counters.
    pub fn stats(&self) -> Stats {
        self.buffer.stats()
    }

    /// Packets that were not valid Opus and were concealed instead.
    pub fn decode_errors(&self) -> u64 {
        self.decode_errors
    }

    /// The buffer, to inspect it.
    pub fn buffer(&self) -> &JitterBuffer {
        &self.buffer
    }

    /// Decodes a packet; a damaged one is concealed rather than breaking
    /// playback.
    fn decode(&mut self, packet: &[u8]) -> Vec<f32> {
        match self.decoder.decode_packet(packet) {
            Ok(samples) => samples,
            Err(error) => {
                tracing::debug!(%error, "undecodable frame concealed");
                self.decode_errors += 1;
                self.decoder.decode_lost()
            }
        }
    }
}

/// Cuts or pads with silence to one 20 ms frame: a sender that puts other
/// durations in a packet breaks the one-frame-per-index rule, and keeping
/// the slot length keeps playback in step.
fn fit_to_frame(mut samples: Vec<f32>) -> Vec<f32> {
    if samples.len() != FRAME_SAMPLES {
        tracing::debug!(samples = samples.len(), "frame is not 20 ms, fitted");
        samples.resize(FRAME_SAMPLES, 0.0);
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    // A 60 ms packet yields one 20 ms slot; a corrupt packet is concealed
    // and counted; both give exactly 960 samples.
    #[test]
    fn odd_packets_still_fill_one_slot() -> Result<(), CodecError> {
        let mut encoder = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
            .map_err(|e| CodecError::Setup(e.to_string()))?;
        let long = encoder
            .encode_vec_float(&[0.1; 2_880], 4_000)
            .map_err(|e| CodecError::Encode(e.to_string()))?;

        let t0 = Instant::now();
        let mut player = Player::new(Config::default())?;
        player.push(0, long, t0);
        player.push(1, vec![0x03], t0);
        player.finish(1);
        let slot = t0 + Duration::from_millis(20);
        assert_eq!(player.next_pcm(slot).map(|pcm| pcm.len()), Some(960));
        assert_eq!(player.next_pcm(slot).map(|pcm| pcm.len()), Some(960));
        assert_eq!(player.next_pcm(slot), None);
        assert_eq!(player.decode_errors(), 1);
        assert_eq!(player.stats().played, 2);
        Ok(())
    }

    // A slot says which index it decoded: the played frames by number, a
    // missing one (concealed) as none.
    #[test]
    fn slots_name_the_frame_they_decoded() -> Result<(), CodecError> {
        let encoded = crate::codec::encode_pcm(&crate::Pcm::new(vec![0.1; 4 * 960]), 24_000)?;
        let t0 = Instant::now();
        let mut player = Player::new(Config::default())?;
        for i in [0usize, 2, 3] {
            player.push(i as u32, encoded.packets[i].clone(), t0);
        }
        player.finish(3);

        let late = t0 + Duration::from_millis(500);
        let indices: Vec<Option<u32>> = std::iter::from_fn(|| player.next_slot(late))
            .map(|slot| slot.index)
            .collect();
        assert_eq!(indices, vec![Some(0), None, Some(2), Some(3)]);
        Ok(())
    }
}
