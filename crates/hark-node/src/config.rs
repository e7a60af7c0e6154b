//! How a node is set up: where it keeps its data, where it listens, whom it
//! dials.

use std::path::PathBuf;

use libp2p::Multiaddr;

/// Bitrate of new voice messages unless the user picks another.
pub const DEFAULT_BITRATE: u32 = 24_000;

/// Settings for [`crate::start`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory holding the key file, the store and the control socket.
    pub data_dir: PathBuf,
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start and to redial while they are away, for
    /// networks where multicast (mDNS) does not reach.
    pub peers: Vec<Multiaddr>,
    /// Whether to find peers with mDNS.
    pub mdns: bool,
    /// Carry mail for others with a larger quota (a later issue; accepted
    /// now so scripts can pass it).
    pub mailbox: bool,
    /// Display name to set (kept in the store); `None` keeps the stored one.
    pub display_name: Option<String>,
    /// Opus bitrate for new messages, in bits per second.
    pub bitrate: u32,
    /// Whether to serve the local control socket.
    pub control_socket: bool,
}

impl Config {
    /// Defaults: listen on every interface over TCP and QUIC on free ports,
    /// mDNS on, 24 kbit/s, control socket on.
    pub fn new(data_dir: PathBuf) -> Config {
        let listen = ["/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"]
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        Config {
            data_dir,
            listen,
            peers: Vec::new(),
            mdns: true,
            mailbox: false,
            display_name: None,
            bitrate: DEFAULT_BITRATE,
            control_socket: true,
        }
    }

    /// The XDG data dir for Hark (`~/.local/share/hark` on Linux).
    pub fn default_data_dir() -> Option<PathBuf> {
        let dirs = directories::ProjectDirs::from("net", "hark", "hark")?;
        Some(dirs.data_dir().to_path_buf())
    }
}
