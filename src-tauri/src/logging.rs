//! Logs: to stderr and to a daily-rotated file in `<data dir>/logs`
//! (seven files kept), at a level the settings can change while running.
//! `RUST_LOG`, when set, wins over the settings.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

use crate::settings::LogLevel;

/// Log files kept before the oldest is deleted.
const KEEP_FILES: usize = 7;

/// Changes the log level of the running app.
pub struct LogControl {
    filter: reload::Handle<EnvFilter, Registry>,
    dir: PathBuf,
    from_env: bool,
    /// Flushes the file writer when dropped (at exit).
    _guard: Option<WorkerGuard>,
}

impl LogControl {
    /// Applies `level`, unless `RUST_LOG` fixed the level at start.
    pub fn set_level(&self, level: LogLevel) {
        if self.from_env {
            return;
        }
        if let Err(e) = self.filter.reload(filter_for(level)) {
            tracing::warn!(error = %e, "cannot change the log level");
        }
    }

    /// The folder holding the log files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Starts logging to stderr and to `<data_dir>/logs/hark-desktop.YYYY-MM-DD.log`
/// (a new file each day, the last seven kept).
/// Without a writable log folder only stderr is used.
pub fn init(data_dir: &Path, level: LogLevel) -> LogControl {
    let env = EnvFilter::try_from_default_env().ok();
    let from_env = env.is_some();
    let (filter, handle) = reload::Layer::new(env.unwrap_or_else(|| filter_for(level)));

    let dir = data_dir.join("logs");
    let file = open_file(&dir);
    let (file_layer, guard) = match file {
        Some((writer, guard)) => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(writer),
            ),
            Some(guard),
        ),
        None => (None, None),
    };
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);

    // Fails only if a subscriber is already set (a second init in tests).
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file_layer)
        .try_init();
    LogControl {
        filter: handle,
        dir,
        from_env,
        _guard: guard,
    }
}

fn open_file(dir: &Path) -> Option<(tracing_appender::non_blocking::NonBlocking, WorkerGuard)> {
    // The appender prunes old files by listing the folder: it must exist.
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("hark-desktop: no log file in {}: {e}", dir.display());
        return None;
    }
    let appender = Builder::new()
        .rotation(Rotation::DAILY)
        .filename_prefix("hark-desktop")
        .filename_suffix("log")
        .max_log_files(KEEP_FILES)
        .build(dir);
    match appender {
        Ok(appender) => Some(tracing_appender::non_blocking(appender)),
        Err(e) => {
            eprintln!("hark-desktop: no log file in {}: {e}", dir.display());
            None
        }
    }
}

fn filter_for(level: LogLevel) -> EnvFilter {
    // The webview's own crates are noisy at debug; keep them at warn.
    EnvFilter::new(format!(
        "warn,hark_desktop={0},hark_node={0},hark_audio={0}",
        level.directive()
    ))
}
