//! The node inside the shell: started on Tauri's async runtime, kept as
//! managed state, its events forwarded to the window, stopped on exit.
//! Settings that reach the node later (name, bitrate) go through its
//! handle; it is never restarted.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hark_node::playout::{Sink, Speaker};
use hark_node::{api, Config, Node, NodeHandle, StartError};
use tauri::{AppHandle, Runtime};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::args::Network;
use crate::settings::Settings;
use crate::types::{ApiError, ErrorKind, NodeEvent, Resync};

/// How long stopping waits for the node to close its store and sockets.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The running node, as Tauri's managed state.
pub struct Running {
    data_dir: PathBuf,
    current: Mutex<Current>,
}

struct Current {
    /// Taken by [`Running::stop`].
    handle: Option<NodeHandle>,
    /// Taken by [`Running::stop`].
    node: Option<Node>,
}

impl Running {
    /// Starts the node and waits until it listens. Blocks the calling
    /// thread, which must not be one of the async runtime's own.
    pub fn start(
        data_dir: &Path,
        network: &Network,
        settings: &Settings,
        speaker: Option<Arc<dyn Speaker>>,
    ) -> Result<Running, StartError> {
        let config = config(data_dir, network, settings, speaker)?;
        let node = tauri::async_runtime::block_on(hark_node::start(config))?;
        Ok(Running {
            data_dir: data_dir.to_path_buf(),
            current: Mutex::new(Current {
                handle: Some(node.handle()),
                node: Some(node),
            }),
        })
    }

    /// The data dir the node runs on.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The handle the commands talk to; `unavailable` once the node
    /// stopped (the app is quitting).
    pub fn handle(&self) -> Result<NodeHandle, ApiError> {
        self.lock()
            .handle
            .clone()
            .ok_or_else(|| ApiError::new(ErrorKind::Unavailable, "the node has stopped"))
    }

    /// Sends every node event to the app's windows until the node stops.
    pub fn forward_events<R: Runtime>(&self, app: AppHandle<R>) {
        if let Ok(handle) = self.handle() {
            tauri::async_runtime::spawn(forward(handle.subscribe(), app));
        }
    }

    /// Shuts the node down and waits (bounded) until it has. Blocks; later
    /// calls do nothing.
    pub fn stop(&self) {
        tauri::async_runtime::block_on(self.stop_async());
    }

    async fn stop_async(&self) {
        // Taking the handle out too: the old node's data-dir lock goes
        // only when the last handle to it is dropped.
        let (handle, node) = {
            let mut current = self.lock();
            (current.handle.take(), current.node.take())
        };
        let (Some(handle), Some(node)) = (handle, node) else {
            return;
        };

        handle.shutdown().await;
        if tokio::time::timeout(STOP_TIMEOUT, node.wait())
            .await
            .is_err()
        {
            tracing::warn!("node did not stop within {STOP_TIMEOUT:?}; going on anyway");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The node's configuration from the command line and the settings.
fn config(
    data_dir: &Path,
    network: &Network,
    settings: &Settings,
    speaker: Option<Arc<dyn Speaker>>,
) -> Result<Config, StartError> {
    let mut config = Config::new(data_dir.to_path_buf());
    config.playout = speaker.map(Sink::Speaker);
    config.display_name = settings.display_name.clone();
    config.bitrate = settings.bitrate;
    config.mdns = !network.no_mdns;
    for peer in &network.peers {
        let addr = peer
            .parse()
            .map_err(|e| StartError::Network(format!("--peer {peer}: {e}")))?;
        config.peers.push(addr);
    }
    Ok(config)
}

async fn forward<R: Runtime>(mut events: broadcast::Receiver<api::Event>, app: AppHandle<R>) {
    loop {
        match events.recv().await {
            Ok(event) => {
                crate::desktop::on_node_event(&app, &event);
                emit(&app, NodeEvent::from(event));
            }
            Err(RecvError::Lagged(missed)) => {
                // The window's picture is now incomplete; a full reload is
                // cheaper to get right than guessing what was lost.
                tracing::debug!(missed, "window fell behind the node's events");
                emit(&app, Resync);
            }
            // The node stopped (on exit). When it stopped on its own the
            // window is not told: its next command fails with `unavailable`.
            Err(RecvError::Closed) => return,
        }
    }
}

/// Sends a typed event to the windows.
pub fn emit<R: Runtime, E: tauri_specta::Event + serde::Serialize + Clone>(
    app: &AppHandle<R>,
    event: E,
) {
    // Fails only when the app is exiting; the window is gone then anyway.
    if let Err(e) = event.emit(app) {
        tracing::debug!(error = %e, "could not send an event to the window");
    }
}
