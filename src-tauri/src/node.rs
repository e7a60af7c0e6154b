//! The node inside the shell: started on Tauri's async runtime, kept as
//! managed state, its events forwarded to the window, restarted when a
//! setting it reads only at start changes, stopped on exit.

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

/// How often a restart tries to take the data dir again, 100 ms apart.
const RESTART_TRIES: u32 = 50;

/// How long stopping waits for the node to close its store and sockets.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The running node, as Tauri's managed state.
pub struct Running {
    data_dir: PathBuf,
    network: Network,
    /// Where live messages are played (kept for restarts).
    speaker: Option<Arc<dyn Speaker>>,
    current: Mutex<Current>,
}

struct Current {
    /// `None` while a restart is under way.
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
        let config = config(data_dir, network, settings, speaker.clone())?;
        let node = tauri::async_runtime::block_on(hark_node::start(config))?;
        Ok(Running {
            data_dir: data_dir.to_path_buf(),
            network: network.clone(),
            speaker,
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

    /// The handle the commands talk to (the newest, after a restart);
    /// `unavailable` while the node restarts or after it stopped.
    pub fn handle(&self) -> Result<NodeHandle, ApiError> {
        self.lock()
            .handle
            .clone()
            .ok_or_else(|| ApiError::new(ErrorKind::Unavailable, "the node is restarting"))
    }

    /// Sends every node event to the app's windows until the node stops.
    pub fn forward_events<R: Runtime>(&self, app: AppHandle<R>) {
        if let Ok(handle) = self.handle() {
            tauri::async_runtime::spawn(forward(handle.subscribe(), app));
        }
    }

    /// Stops the node and starts it again with `settings`: the display
    /// name and bitrate are read only at start.
    ///
    /// Known shortcoming: the node signs its profile once at start and
    /// offers no way to change the name of a running node, so a restart is
    /// how a new name reaches peers. Peers see Hark go offline and come
    /// back; transfers under way start over when the peers reconnect.
    pub async fn restart<R: Runtime>(
        &self,
        settings: &Settings,
        app: AppHandle<R>,
    ) -> Result<(), StartError> {
        self.stop_async().await;
        let config = config(
            &self.data_dir,
            &self.network,
            settings,
            self.speaker.clone(),
        )?;
        let node = start_when_free(config).await?;
        *self.lock() = Current {
            handle: Some(node.handle()),
            node: Some(node),
        };
        self.forward_events(app.clone());
        emit(&app, Resync);
        Ok(())
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

/// Starts a node, waiting (bounded) for the previous one's data-dir lock:
/// commands still running when it stopped may hold its last handles for
/// a moment.
async fn start_when_free(config: Config) -> Result<Node, StartError> {
    let mut tries = 0;
    loop {
        match hark_node::start(config.clone()).await {
            Err(StartError::InUse { .. }) if tries < RESTART_TRIES => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            result => return result,
        }
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
            // The node stopped (on exit or for a restart, which forwards
            // from the new node). When it stopped on its own the window is
            // not told: its next command fails with `unavailable`.
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
