//! The running Hark node: one libp2p swarm, one store and the audio pipeline
//! behind a cloneable async [`NodeHandle`].
//!
//! - [`start`] locks the data dir ([`data_dir`]), loads or creates the
//!   identity, opens the store, builds the swarm ([`behaviour`]) and spawns
//!   the [`actor`] task that alone owns it.
//! - [`NodeHandle`] ([`handle`]) is how everything else talks to the node:
//!   queries read the store directly; anything touching the network goes to
//!   the actor over a bounded command channel.
//! - [`outgoing`] turns a file into a sealed message; [`incoming`] tracks
//!   messages being fetched from peers; [`export`] opens a stored message
//!   and writes it as Ogg Opus or WAV.
//! - [`live`] streams a message while it is spoken and receives such
//!   streams; [`playout`] plays incoming live messages one at a time.
//! - [`sync`] and [`receipts`]: set reconciliation when peers meet, and
//!   signed receipts travelling by any path.
//! - [`codec`] frames `hark_proto::wire` messages on request-response
//!   streams.
//! - [`control`] serves the node to local clients (the `hark` command) over
//!   a Unix socket in the data dir, and is also the client side.
//! - [`api`] holds the serialisable types both faces see.
//! - `media` adds players' and recorders' calls to [`NodeHandle`]: a
//!   message as samples, its waveform, recorded samples sent.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]
#![deny(missing_docs)]

mod actor;
pub mod api;
mod behaviour;
mod channels;
mod codec;
mod config;
pub mod control;
mod data_dir;
mod export;
mod handle;
mod incoming;
pub mod live;
mod media;
mod outgoing;
pub mod playout;
mod receipts;
mod record;
mod resume;
mod sync;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

pub use config::{CarryPolicy, Config, DEFAULT_BITRATE};
pub use data_dir::socket_path;
pub use handle::NodeHandle;
pub use hark_audio::MAX_SECONDS;
pub use hark_proto::ids::MessageId;
pub use hark_proto::profile::validate_display_name;
pub use media::MAX_WAVEFORM_BUCKETS;
pub use record::{LivePcm, Recorded, Recording};

/// Why a node could not start. None of these leave anything changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Another node runs on this data dir. Stop it, or pick another dir.
    #[error("another Hark node is already using {}{}", path.display(), pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    InUse {
        /// The data dir.
        path: PathBuf,
        /// The process holding it, if it wrote its pid.
        pid: Option<u32>,
    },
    /// The data dir could not be created or locked (permissions, disk).
    #[error("cannot use data dir {}: {source}", path.display())]
    DataDir {
        /// The data dir.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key file could not be read or written.
    #[error("cannot read or write key file {}: {source}", path.display())]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key file exists but is not a Hark key. Not retryable: restore it
    /// from a backup or move it away to start as a new identity.
    #[error("key file {} is not a valid Hark key: {reason}", path.display())]
    BadKeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] hark_store::OpenError),
    /// A store operation at start-up failed.
    #[error("store: {0}")]
    StoreIo(#[from] hark_store::Error),
    /// The swarm could not be built or could not listen.
    #[error("network: {0}")]
    Network(String),
    /// The display name given to start with is empty, too long or has
    /// control characters.
    #[error(transparent)]
    DisplayName(#[from] hark_proto::profile::ProfileError),
    /// The control socket could not be opened.
    #[error("cannot open control socket {}: {source}", path.display())]
    Control {
        /// The socket path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A started node. Drop it only after [`Node::wait`]: dropping does not stop
/// the node's tasks.
#[derive(Debug)]
pub struct Node {
    handle: NodeHandle,
    actor: JoinHandle<()>,
    control: Option<JoinHandle<()>>,
}

/// How many events a slow subscriber may lag behind before it misses some.
const EVENT_BUFFER: usize = 256;

/// How many commands may wait for the actor; senders wait when it is full.
const COMMAND_BUFFER: usize = 64;

/// Starts a node: locks the data dir, loads the identity and store, starts
/// listening and dialing, and serves the control socket.
pub async fn start(config: Config) -> Result<Node, StartError> {
    // The same rule as a rename: a name peers would refuse is never stored.
    let name = config
        .display_name
        .as_deref()
        .map(hark_proto::profile::validate_display_name)
        .transpose()?;
    let dir = data_dir::DataDir::lock(&config.data_dir)?;
    let identity = Arc::new(dir.identity()?);
    let store = hark_store::Store::open(&dir.store_path())?;
    if let Some(name) = name {
        store.set_display_name(name)?;
    }

    let (commands_tx, commands_rx) = mpsc::channel(COMMAND_BUFFER);
    let (events, _) = broadcast::channel(EVENT_BUFFER);
    let swarm = behaviour::build_swarm(&identity, &config)?;
    let shared = Arc::new(handle::Shared::new(identity, store, events, &config, dir));
    // Blocking, like opening the store above: start-up reads the disk.
    resume::finish_interrupted(&shared)?;

    let mut control = swarm.behaviour().stream.new_control();
    let incoming = control
        .accept(live::PROTOCOL)
        .map_err(|e| StartError::Network(e.to_string()))?;
    let context = live::receive::Context {
        shared: shared.clone(),
        commands: commands_tx.clone(),
        playout: config.playout.clone().map(playout::Playout::start),
    };
    tokio::spawn(live::receive::accept_loop(incoming, Arc::new(context)));

    let handle = NodeHandle::new(shared.clone(), commands_tx, control);
    let actor = actor::SwarmActor::new(swarm, shared, commands_rx, &config)?;
    let actor = tokio::spawn(actor.run());

    let control = if config.control_socket {
        Some(control::serve(handle.clone()).await?)
    } else {
        None
    };
    tracing::info!(peer = %hark_proto::ids::short_peer(&handle.peer_id()), "node started");
    Ok(Node {
        handle,
        actor,
        control,
    })
}

impl Node {
    /// A handle for talking to the node.
    pub fn handle(&self) -> NodeHandle {
        self.handle.clone()
    }

    /// Waits until the node has shut down (see [`NodeHandle::shutdown`]),
    /// then stops the control socket. Safe to cancel: the node keeps
    /// running.
    pub async fn wait(self) {
        if let Err(e) = self.actor.await {
            tracing::error!(error = %e, "node task failed");
        }
        if let Some(control) = self.control {
            control.abort();
        }
        let _ = std::fs::remove_file(self.handle.socket_path());
    }
}
