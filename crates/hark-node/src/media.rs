//! Audio in and out of a running node for players and recorders: a stored
//! message as samples, its waveform, and recorded samples sent as a message.
//!
//! Known shortcoming: these go through a WAV file in the data dir because
//! this module sees only `NodeHandle`'s public methods (`export`,
//! `send_file`). Each call therefore writes and reads the audio once more
//! than needed, and a recording is stored as 16-bit PCM before it is
//! encoded. Direct access to the store (`export::open`) and to
//! `outgoing::seal_packets` would remove the detour.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use hark_audio::Pcm;

use crate::api::{self, ErrorKind};
use crate::NodeHandle;

/// Most waveform buckets a caller may ask for: far more than any screen
/// shows, small enough that a bad request cannot allocate much.
pub const MAX_WAVEFORM_BUCKETS: usize = 1024;

/// Tells the temporary files of concurrent calls apart.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

impl NodeHandle {
    /// Decodes stored message `id` to 48 kHz mono samples, exactly as long
    /// as the sender recorded it.
    pub async fn message_pcm(&self, id: String) -> Result<Pcm, api::Error> {
        let temp = TempWav::new(&self.data_dir().await?);
        self.export(id, temp.path.clone()).await?;

        let path = temp.path.clone();
        let imported = tokio::task::spawn_blocking(move || hark_audio::import::read_file(&path))
            .await
            .map_err(|e| api::Error::new(ErrorKind::Internal, e.to_string()))?
            .map_err(|e| api::Error::new(ErrorKind::Internal, format!("decoded message: {e}")))?;
        Ok(imported.pcm)
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
        let temp = TempWav::new(&self.data_dir().await?);
        let path = temp.path.clone();
        tokio::task::spawn_blocking(move || write_wav(&path, &pcm))
            .await
            .map_err(|e| api::Error::new(ErrorKind::Internal, e.to_string()))??;

        self.send_file(to, temp.path.clone()).await
    }

    async fn data_dir(&self) -> Result<PathBuf, api::Error> {
        Ok(PathBuf::from(self.whoami().await?.data_dir))
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

fn write_wav(path: &Path, pcm: &Pcm) -> Result<(), api::Error> {
    let failed = |e: &dyn std::fmt::Display| {
        api::Error::new(ErrorKind::Storage, format!("{}: {e}", path.display()))
    };
    let file = std::fs::File::create(path).map_err(|e| failed(&e))?;
    let mut w = std::io::BufWriter::new(file);
    hark_audio::export::write_wav(&mut w, pcm).map_err(|e| failed(&e))?;
    w.into_inner().map_err(|e| failed(&e.error()))?;
    Ok(())
}

/// A WAV file name in the data dir, removed when dropped.
struct TempWav {
    path: PathBuf,
}

impl TempWav {
    fn new(dir: &Path) -> TempWav {
        let n = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
        let name = format!(".media-{}-{n}.wav", std::process::id());
        TempWav {
            path: dir.join(name),
        }
    }
}

impl Drop for TempWav {
    fn drop(&mut self) {
        // Missing is fine: the call failed before writing it.
        let _ = std::fs::remove_file(&self.path);
    }
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
