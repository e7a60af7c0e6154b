//! Why opening, running or stopping a device failed, and how cpal's errors
//! map onto that.

use cpal::ErrorKind;

use crate::Pcm;

/// Why a device could not be listed, opened or kept running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// There is no default device in that direction, or no audio system at
    /// all (no ALSA, no sound server). Retrying helps only once a device is
    /// plugged in or the sound server is started.
    #[error("no audio device available")]
    NoDevice,
    /// No device has this name (see [`super::list_inputs`] and
    /// [`super::list_outputs`] for the names that exist). Retrying helps only
    /// if the device is reconnected under the same name.
    #[error("no audio device named {0:?}")]
    NotFound(String),
    /// The device exists but offers nothing this module can use (a sample
    /// format it does not convert, zero channels or rate), or refused the
    /// configuration it advertised. Retrying does not help; pick another device.
    #[error("audio device unsupported: {0}")]
    Unsupported(String),
    /// The operating system refused access to the device (permissions,
    /// privacy settings). Retrying helps once access has been granted.
    #[error("access to the audio device was denied")]
    Denied,
    /// The device went away while in use (unplugged, sound server gone).
    /// Audio captured until then is kept (see [`StopError`]). Retrying with
    /// the same device helps only once it is back; another device may work.
    #[error("the audio device was lost")]
    Lost,
    /// Anything else the audio backend or the resampler reported, with its
    /// message. Retrying may help when the cause is transient (device busy
    /// with another program, resources exhausted).
    #[error("audio backend error: {0}")]
    Backend(String),
}

impl DeviceError {
    /// Maps a cpal error onto the kinds above, keeping cpal's message where
    /// the kind alone would lose it.
    pub(super) fn from_cpal(error: cpal::Error) -> Self {
        match error.kind() {
            ErrorKind::HostUnavailable => Self::NoDevice,
            ErrorKind::PermissionDenied => Self::Denied,
            ErrorKind::DeviceNotAvailable | ErrorKind::StreamInvalidated => Self::Lost,
            ErrorKind::UnsupportedConfig
            | ErrorKind::UnsupportedOperation
            | ErrorKind::InvalidInput => Self::Unsupported(error.to_string()),
            _ => Self::Backend(error.to_string()),
        }
    }
}

/// [`super::Capture::stop`] failed, but the audio captured until the failure
/// is not lost: it is in `captured`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error} (kept {} s of captured audio)", captured.duration().as_secs_f32())]
#[non_exhaustive]
pub struct StopError {
    /// What went wrong, usually [`DeviceError::Lost`]. Whether retrying
    /// helps is documented on each kind.
    #[source]
    pub error: DeviceError,
    /// Everything captured before the failure that had not been returned by
    /// [`super::Capture::read_frames`], at 48 kHz mono.
    pub captured: Pcm,
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each cpal error kind lands on the variant whose retry advice fits it.
    #[test]
    fn cpal_kinds_map_to_device_errors() {
        let map = |kind| DeviceError::from_cpal(cpal::Error::new(kind));
        assert_eq!(map(ErrorKind::DeviceNotAvailable), DeviceError::Lost);
        assert_eq!(map(ErrorKind::StreamInvalidated), DeviceError::Lost);
        assert_eq!(map(ErrorKind::PermissionDenied), DeviceError::Denied);
        assert_eq!(map(ErrorKind::HostUnavailable), DeviceError::NoDevice);
        assert!(matches!(
            map(ErrorKind::UnsupportedConfig),
            DeviceError::Unsupported(_)
        ));
        assert!(matches!(
            map(ErrorKind::DeviceBusy),
            DeviceError::Backend(_)
        ));
    }
}
