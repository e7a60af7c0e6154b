//! How a node is set up: where it keeps its data, where it listens, whom it
//! dials.

use std::path::PathBuf;
use std::time::Duration;

use libp2p::Multiaddr;

/// Bitrate of new voice messages unless the user picks another.
pub const DEFAULT_BITRATE: u32 = 24_000;

/// How much mail for others a node carries, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarryPolicy {
    /// Most bytes of sealed frames held for others; new mail beyond it is
    /// not taken. The user's own messages never count against it.
    pub quota_bytes: u64,
    /// Carried mail older than this (by this node's clock) is dropped.
    pub expiry: Duration,
}

impl CarryPolicy {
    /// What every node carries by default.
    pub const DEFAULT: CarryPolicy = CarryPolicy {
        quota_bytes: 256 << 20,
        expiry: Duration::from_secs(14 * 24 * 3600),
    };

    /// What `--mailbox`, the LAN's always-on post office, carries.
    pub const MAILBOX: CarryPolicy = CarryPolicy {
        quota_bytes: 4 << 30,
        expiry: Duration::from_secs(60 * 24 * 3600),
    };
}

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
    /// How much mail for others this node carries (see
    /// [`CarryPolicy::MAILBOX`] for an always-on post office).
    pub carry: CarryPolicy,
    /// Display name to set (kept in the store); `None` keeps the stored one.
    pub display_name: Option<String>,
    /// Opus bitrate for new messages, in bits per second.
    pub bitrate: u32,
    /// Live frames sent per write (the node clamps it to 1 to 4; `hark
    /// node --live-batch` offers 1 and 2, the ones measured): 1 sends each 20 ms frame as
    /// soon as it is encoded; 2 halves the per-packet overhead on the
    /// wire but holds every other frame back 20 ms (docs/benchmarks.md).
    pub live_frames_per_write: u8,
    /// Whether to serve the local control socket.
    pub control_socket: bool,
    /// Where incoming live messages are played; `None` plays nothing (they
    /// are still received and stored).
    pub playout: Option<crate::playout::Sink>,
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
            carry: CarryPolicy::DEFAULT,
            display_name: None,
            bitrate: DEFAULT_BITRATE,
            live_frames_per_write: 1,
            control_socket: true,
            playout: None,
        }
    }

    /// The XDG data dir for Hark (`~/.local/share/hark` on Linux).
    pub fn default_data_dir() -> Option<PathBuf> {
        let dirs = directories::ProjectDirs::from("net", "hark", "hark")?;
        Some(dirs.data_dir().to_path_buf())
    }
}
