//! `hark`: runs a headless Hark node (`hark node`) or talks to a running one
//! (the desktop app's or a headless one) over its control socket.
//!
//! - `main.rs`: argument parsing and exit codes.
//! - `node.rs`: the `node` subcommand.
//! - `client.rs`: every other subcommand, and how results are printed.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod client;
mod node;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use libp2p::Multiaddr;

/// Exit status when no node is running for the data dir (sysexits'
/// EX_UNAVAILABLE), so scripts can tell it from a failed request (1) and a
/// usage error (2).
pub(crate) const EXIT_NO_NODE: u8 = 69;

/// Hark: push-to-talk voice messages on the local network, with no server.
#[derive(Debug, Parser)]
#[command(name = "hark", version, about)]
struct Cli {
    /// Data directory: key, store and control socket
    /// [default: ~/.local/share/hark].
    #[arg(long, global = true, env = "HARK_DATA_DIR")]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a node in the foreground until Ctrl-C.
    Node(node::Args),
    /// Show this node's id, name, safety number and addresses.
    Whoami(client::ListArgs),
    /// List the peers met so far.
    Peers(client::ListArgs),
    /// List sent and received messages.
    Inbox(client::ListArgs),
    /// Send an audio file (WAV or Ogg Opus) as a voice message.
    Send {
        /// Recipient: a peer id or a display name (repeat for several), or
        /// one channel as #name.
        #[arg(long, required = true)]
        to: Vec<String>,
        /// Stream it live, paced as if spoken: recipients online hear it
        /// as it goes. Returns when the whole file has been sent.
        #[arg(long)]
        live: bool,
        /// With --live: leave out this share of frames (0 to 1) from the
        /// live streams, to see recipients repair what they missed.
        #[arg(long, default_value_t = 0.0, requires = "live", value_parser = share)]
        drop_frames: f32,
        /// With --live: give up this many seconds into the file, as Esc
        /// does in the window; listeners stop hearing it and drop it, and
        /// it is removed here. The id is still printed.
        #[arg(long, value_name = "SECONDS", requires = "live", value_parser = seconds)]
        cancel_after: Option<f64>,
        /// The audio file.
        file: PathBuf,
    },
    /// Record from the microphone as a live message: recipients online hear
    /// it as you speak. Prints the message id.
    Record {
        /// Recipient: a peer id or display name (repeatable), or #channel.
        #[arg(long, required = true)]
        to: Vec<String>,
        /// How long to record (up to 1800).
        #[arg(long, default_value_t = 10.0, value_parser = recording_seconds)]
        seconds: f64,
        /// Input device name [default: the system's default input].
        #[arg(long)]
        device: Option<String>,
    },
    /// Write a message to a file: .opus/.ogg (Ogg Opus) or .wav (16-bit).
    Export {
        /// The message id (from `hark inbox`).
        id: String,
        /// Output file.
        out: PathBuf,
    },
    /// Change the name others see; peers online see it at once.
    Rename {
        /// The new display name (1 to 64 characters).
        name: String,
    },
    /// Channels: groups joined with an invite code.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Stop the running node.
    Stop,
}

/// `hark channel ...`
#[derive(Debug, Subcommand)]
pub(crate) enum ChannelCommand {
    /// Make a channel and print its invite code.
    Create {
        /// Its name.
        name: String,
    },
    /// Join a channel with an invite code.
    Join {
        /// The code (hark-channel:...).
        invite: String,
    },
    /// Leave a channel (its messages stay).
    Leave {
        /// Its name or id.
        name: String,
    },
    /// Keep a channel's live messages quiet (they are still kept).
    Mute {
        /// Its name or id.
        name: String,
        /// Unmute instead.
        #[arg(long)]
        off: bool,
    },
    /// List the channels this node is in.
    List(client::ListArgs),
}

/// `--drop-frames`: a share from 0 to 1.
fn share(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a share from 0 to 1")),
    }
}

/// `--cancel-after`: a finite number of seconds, 0 or more.
fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a number of seconds")),
    }
}

/// `record --seconds`: more than 0, at most the 30-minute message limit.
fn recording_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= hark_node::MAX_SECONDS as f64 => Ok(v),
        _ => Err(format!(
            "'{s}' is not a recording length from 0 to {} seconds",
            hark_node::MAX_SECONDS
        )),
    }
}

/// Multiaddr parsing for clap.
pub(crate) fn parse_addr(s: &str) -> Result<Multiaddr, String> {
    s.parse()
        .map_err(|e| format!("'{s}' is not a multiaddr: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(data_dir) = cli.data_dir.or_else(hark_node::Config::default_data_dir) else {
        eprintln!("hark: no home directory found; pass --data-dir");
        return ExitCode::FAILURE;
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hark: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };

    runtime.block_on(async move {
        match cli.command {
            Command::Node(args) => node::run(data_dir, args).await,
            other => client::run(&data_dir, other).await,
        }
    })
}
