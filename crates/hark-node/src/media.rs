//! Audio in and out of a running node for players and recorders: a stored
//! message as samples, its waveform, and recorded samples sent as a message.
//!
//! Both work on the stored packets directly: a message is opened and
//! decoded in memory, a recording is encoded from its float samples (no
//! file, no 16-bit rounding on the way).

use hark_audio::Pcm;
use hark_proto::ids::MessageId;

use crate::api::{self, ErrorKind};
use crate::NodeHandle;

/// Most waveform buckets a caller may ask for: far more than any screen
/// shows, small enough that a bad request cannot allocate much.
pub const MAX_WAVEFORM_BUCKETS: usize = 1024;

impl NodeHandle {
    /// Decodes stored message `id` to 48 kHz mono samples, exactly as long
    /// as the sender recorded it.
    pub async fn message_pcm(&self, id: String) -> Result<Pcm, api::Error> {
        let id: MessageId = id.parse().map_err(|_| {
            api::Error::new(ErrorKind::BadRequest, format!("'{id}' is not a message id"))
        })?;
        let shared = self.shared().clone();
        tokio::task::spawn_blocking(move || {
            let (header, trailer, packets) = crate::export::open(&shared, &id)?;
            let pre_skip = header.codec.pre_skip;
            hark_audio::codec::decode_packets(&packets, pre_skip, trailer.sample_count)
                .map_err(|e| api::Error::new(ErrorKind::Internal, format!("message {id}: {e}")))
        })
        .await
        .map_err(|e| api::Error::new(ErrorKind::Internal, e.to_string()))?
    }

    /// The loudness outline of message `id`: the peak of each of `buckets`
    /// equal slices, in `0.0..=1.0`. `buckets` must be 1 to
    /// [`MAX_WAVEFORM_BUCKETS`].
    pub async fn waveform(&self, id: String, buckets: usize) -> Result<Vec<f32>, api::Error> {
        if !(1..=MAX_WAVEFORM_BUCKETS).contains(&buckets) {
            return Err(api::Error::new(
                ErrorKind::BadRequest,
                format!("a waveform has 1 to {MAX_WAVEFORM_BUCKETS} buckets, not {buckets}"),
            ));
        }
        let pcm = self.message_pcm(id).await?;
        Ok(peaks(&pcm.samples, buckets))
    }

    /// Sends recorded samples (48 kHz mono) to `to`, like
    /// [`NodeHandle::send_file`], and returns the new message's id.
    pub async fn send_pcm(&self, to: Vec<String>, pcm: Pcm) -> Result<String, api::Error> {
        if pcm.samples.is_empty() {
            return Err(api::Error::new(
                ErrorKind::BadInput,
                "the recording is empty",
            ));
        }
        self.send_sealed(to, move |shared, target| {
            let bitrate = shared.bitrate();
            let encoded = hark_audio::codec::encode_pcm(&pcm, bitrate)
                .map_err(|e| api::Error::new(ErrorKind::BadInput, format!("recording: {e}")))?;
            crate::outgoing::seal_encoded(shared, target, &encoded, bitrate)
        })
        .await
    }
}

/// The peak absolute sample of each of `buckets` near-equal slices. A clip
/// shorter than `buckets` gives zeros for the slices past its end.
pub(crate) fn peaks(samples: &[f32], buckets: usize) -> Vec<f32> {
    (0..buckets)
        .map(|b| {
            let start = b * samples.len() / buckets;
            let end = ((b + 1) * samples.len() / buckets).max(start);
            let slice = samples.get(start..end).unwrap_or_default();
            slice.iter().fold(0f32, |m, s| m.max(s.abs())).min(1.0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each bucket holds the loudest sample of its slice, sign ignored.
    #[test]
    fn peaks_per_bucket() {
        let samples = [0.1, -0.5, 0.2, 0.3, -0.9, 0.0];
        assert_eq!(peaks(&samples, 3), vec![0.5, 0.3, 0.9]);
    }

    // More buckets than samples: no panic, and the loud sample still shows.
    #[test]
    fn peaks_of_a_tiny_clip() {
        let out = peaks(&[0.0, 0.8], 4);
        assert_eq!(out.len(), 4);
        assert!(out.contains(&0.8));
    }

    // Samples beyond full scale are clipped to 1.0.
    #[test]
    fn peaks_clip_at_one() {
        assert_eq!(peaks(&[2.0, -3.0], 1), vec![1.0]);
    }
}
