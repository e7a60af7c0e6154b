//! The desktop app's settings, kept as `desktop.json` in the data dir, and
//! the per-conversation read marks behind the unread counts
//! (`read-marks.json`). Both are small JSON files written atomically
//! (temporary file, then rename); a damaged file is logged and replaced
//! by defaults rather than stopping the app.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::types::{ApiError, ErrorKind};

/// The bitrates offered in settings, in bits per second.
pub const BITRATES: [u32; 4] = [16_000, 24_000, 32_000, 48_000];

/// The push-to-talk hotkey unless the user picks another.
pub const DEFAULT_HOTKEY: &str = "Ctrl+Shift+Space";

/// Most characters in a display name (the profile's own limit).
const MAX_NAME_CHARS: usize = 64;

/// Bytes above which a settings file is not even read: a damaged or
/// hostile file must not make the app allocate without bound.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// The log levels the settings offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Problems only.
    #[default]
    Warn,
    /// Start, stop and connections.
    Info,
    /// Enough to follow a message through the node.
    Debug,
}

impl LogLevel {
    /// The `tracing` filter directive for this level.
    pub fn directive(self) -> &'static str {
        match self {
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

/// Everything the settings screen changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct Settings {
    /// The name others see; `None` until the first start asks for one.
    pub display_name: Option<String>,
    /// The microphone by name; `None` is the system default.
    pub input_device: Option<String>,
    /// The speakers by name; `None` is the system default.
    pub output_device: Option<String>,
    /// The global push-to-talk shortcut, e.g. "Ctrl+Shift+Space".
    pub hotkey: String,
    /// Opus bitrate of new messages, one of [`BITRATES`].
    pub bitrate: u32,
    /// Start Hark when the user logs in.
    pub start_with_system: bool,
    /// Play a short sound when recording starts and stops.
    pub sounds: bool,
    /// Show a notification for each new incoming message.
    pub notifications: bool,
    /// Silence notifications, the receiving tray icon and live playback.
    pub mute_incoming: bool,
    /// Play live messages through the speakers as they arrive.
    pub auto_play: bool,
    /// How much goes into the log file.
    pub log_level: LogLevel,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            display_name: None,
            input_device: None,
            output_device: None,
            hotkey: DEFAULT_HOTKEY.to_string(),
            bitrate: hark_node::DEFAULT_BITRATE,
            start_with_system: false,
            sounds: true,
            notifications: true,
            mute_incoming: false,
            auto_play: true,
            log_level: LogLevel::Warn,
        }
    }
}

impl Settings {
    /// The settings file in `data_dir`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("desktop.json")
    }

    /// Reads the settings, or the defaults when there are none yet or the
    /// file is damaged.
    pub fn load(data_dir: &Path) -> Settings {
        load_json(&Settings::path(data_dir))
    }

    /// Checks and tidies the settings (trimmed name, known bitrate).
    pub fn validated(mut self) -> Result<Settings, ApiError> {
        self.display_name = match self.display_name.as_deref().map(str::trim) {
            Some("") | None => None,
            Some(name) => Some(check_name(name)?),
        };
        if !BITRATES.contains(&self.bitrate) {
            return Err(bad(format!(
                "bitrate {} is not one of {BITRATES:?}",
                self.bitrate
            )));
        }
        if self.hotkey.trim().is_empty() {
            return Err(bad("the hotkey is empty".into()));
        }
        Ok(self)
    }

    /// Writes the settings atomically.
    pub fn save(&self, data_dir: &Path) -> Result<(), ApiError> {
        save_json(&Settings::path(data_dir), self)
    }
}

/// A display name as the profile accepts it: trimmed, 1 to 64 characters,
/// no control characters.
pub fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(bad(format!("a name has 1 to {MAX_NAME_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("a name cannot hold control characters".into()));
    }
    Ok(name.to_string())
}

/// For each conversation (a peer id), the creation time in milliseconds
/// of the newest message the user has seen. (Declared to specta with
/// integer values so TypeScript sees `number`, not `number | null`: see
/// `types`.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Type)]
pub struct ReadMarks(#[specta(type = BTreeMap<String, i32>)] pub BTreeMap<String, f64>);

impl ReadMarks {
    fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("read-marks.json")
    }

    /// Reads the marks; none when the file is missing or damaged.
    pub fn load(data_dir: &Path) -> ReadMarks {
        load_json(&ReadMarks::path(data_dir))
    }

    /// Moves the mark of `peer` forward to `up_to_ms` (never back).
    pub fn mark(&mut self, peer: &str, up_to_ms: f64) {
        let mark = self.0.entry(peer.to_string()).or_insert(0.0);
        *mark = mark.max(up_to_ms);
    }

    /// Writes the marks atomically.
    pub fn save(&self, data_dir: &Path) -> Result<(), ApiError> {
        save_json(&ReadMarks::path(data_dir), self)
    }
}

fn bad(message: String) -> ApiError {
    ApiError::new(ErrorKind::BadRequest, message)
}

fn load_json<T: DeserializeOwned + Default>(path: &Path) -> T {
    match read_small(path) {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!(path = %path.display(), error = %e, "damaged file; using defaults");
            T::default()
        }),
        Ok(None) => T::default(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read; using defaults");
            T::default()
        }
    }
}

fn read_small(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
        Ok(meta) if meta.len() > MAX_FILE_BYTES => Err(std::io::Error::other(format!(
            "larger than {MAX_FILE_BYTES} bytes"
        ))),
        Ok(_) => std::fs::read(path).map(Some),
    }
}

fn save_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ApiError> {
    let failed = |e: &dyn std::fmt::Display| {
        ApiError::new(ErrorKind::Storage, format!("{}: {e}", path.display()))
    };
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| failed(&e))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes).map_err(|e| failed(&e))?;
    std::fs::rename(&tmp, path).map_err(|e| failed(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Saved settings come back the same; a fresh dir gives the defaults.
    #[test]
    fn round_trip_and_defaults() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        assert_eq!(Settings::load(dir.path()), Settings::default());

        let settings = Settings {
            display_name: Some("Ann".into()),
            bitrate: 32_000,
            ..Settings::default()
        };
        settings.save(dir.path())?;
        assert_eq!(Settings::load(dir.path()), settings);
        Ok(())
    }

    // A damaged or oversized file gives the defaults instead of an error.
    #[test]
    fn damaged_file_gives_defaults() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::write(Settings::path(dir.path()), b"{not json")?;
        assert_eq!(Settings::load(dir.path()), Settings::default());

        std::fs::write(Settings::path(dir.path()), vec![b' '; 100_000])?;
        assert_eq!(Settings::load(dir.path()), Settings::default());
        Ok(())
    }

    // Fields missing from an older file take their defaults.
    #[test]
    fn missing_fields_take_defaults() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::write(Settings::path(dir.path()), br#"{"sounds": false}"#)?;
        let loaded = Settings::load(dir.path());
        assert!(!loaded.sounds);
        assert_eq!(loaded.hotkey, DEFAULT_HOTKEY);
        Ok(())
    }

    // Names are trimmed; empty, too long or control-laden names are refused.
    #[test]
    fn names_are_checked() {
        assert_eq!(check_name("  Ann ").ok(), Some("Ann".to_string()));
        assert!(check_name("   ").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
        assert!(check_name("a\nb").is_err());
    }

    // An unknown bitrate is refused with a bad_request kind.
    #[test]
    fn unknown_bitrate_is_refused() {
        let settings = Settings {
            bitrate: 7,
            ..Settings::default()
        };
        assert_eq!(
            settings.validated().err().map(|e| e.kind),
            Some(ErrorKind::BadRequest)
        );
    }

    // Read marks only move forward.
    #[test]
    fn read_marks_move_forward() {
        let mut marks = ReadMarks::default();
        marks.mark("bob", 20.0);
        marks.mark("bob", 10.0);
        assert_eq!(marks.0.get("bob"), Some(&20.0));
    }
}
