//! The node inside the shell: started on Tauri's async runtime, kept as
//! managed state, its events forwarded to the window, stopped on exit.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hark_node::{api, Config, Node, NodeHandle, StartError};
use serde::Serialize;
use tauri::{AppHandle, Emitter};
use tokio::sync::broadcast::{self, error::RecvError};

/// The window event carrying one `api::Event` as its payload.
pub const EVENT: &str = "hark://event";

/// The window event telling the window it missed events and must reload.
pub const RESYNC: &str = "hark://resync";

/// How long exiting waits for the node to close its store and sockets.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The running node, as Tauri's managed state.
pub struct Running {
    handle: NodeHandle,
    /// Taken once, by [`Running::stop`].
    node: Mutex<Option<Node>>,
}

impl Running {
    /// Starts the node and waits until it listens. Blocks the calling
    /// thread, which must not be one of the async runtime's own.
    pub fn start(config: Config) -> Result<Running, StartError> {
        let node = tauri::async_runtime::block_on(hark_node::start(config))?;
        Ok(Running {
            handle: node.handle(),
            node: Mutex::new(Some(node)),
        })
    }

    /// The handle the commands talk to.
    pub fn handle(&self) -> &NodeHandle {
        &self.handle
    }

    /// Sends every node event to the app's windows until the node stops.
    pub fn forward_events(&self, app: AppHandle) {
        tauri::async_runtime::spawn(forward(self.handle.subscribe(), app));
    }

    /// Shuts the node down and waits (bounded) until it has. Later calls
    /// do nothing.
    pub fn stop(&self) {
        let node = self
            .node
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(node) = node else { return };

        let handle = self.handle.clone();
        tauri::async_runtime::block_on(async move {
            handle.shutdown().await;
            if tokio::time::timeout(STOP_TIMEOUT, node.wait())
                .await
                .is_err()
            {
                tracing::warn!("node did not stop within {STOP_TIMEOUT:?}; exiting anyway");
            }
        });
    }
}

async fn forward(mut events: broadcast::Receiver<api::Event>, app: AppHandle) {
    loop {
        match events.recv().await {
            Ok(event) => emit(&app, EVENT, event),
            Err(RecvError::Lagged(missed)) => {
                // The window's picture is now incomplete; a full reload is
                // cheaper to get right than guessing what was lost.
                tracing::debug!(missed, "window fell behind the node's events");
                emit(&app, RESYNC, ());
            }
            // The node stopped. When it stopped on its own rather than on
            // exit, the window is not told: it keeps its last picture and
            // its next command fails with `unavailable` in its error line.
            Err(RecvError::Closed) => return,
        }
    }
}

fn emit(app: &AppHandle, name: &str, payload: impl Serialize + Clone) {
    // Fails only when the app is exiting; the window is gone then anyway.
    if let Err(e) = app.emit(name, payload) {
        tracing::debug!(error = %e, name, "could not send an event to the window");
    }
}
