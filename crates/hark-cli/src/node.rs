//! `hark node`: a headless node in the foreground.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args as ClapArgs;
use libp2p::Multiaddr;
use tracing_subscriber::EnvFilter;

/// Options of `hark node`.
#[derive(Debug, ClapArgs)]
pub(crate) struct Args {
    /// Address to listen on (repeatable)
    /// [default: /ip4/0.0.0.0/tcp/0 and /ip4/0.0.0.0/udp/0/quic-v1].
    #[arg(long, value_parser = crate::parse_addr)]
    listen: Vec<Multiaddr>,
    /// Peer to dial, and redial while away, where multicast does not reach
    /// (repeatable).
    #[arg(long, value_parser = crate::parse_addr)]
    peer: Vec<Multiaddr>,
    /// Run as the LAN's post office: carry sealed mail for others with a
    /// 4 GiB quota and 60-day expiry (every node carries 256 MiB for 14
    /// days by default).
    #[arg(long)]
    mailbox: bool,
    /// Do not find peers with mDNS.
    #[arg(long)]
    no_mdns: bool,
    /// Write each incoming live message, as it would be played (jitter
    /// buffer, loss concealment), to DIR/<message id>.wav.
    #[arg(long, value_name = "DIR")]
    live_out: Option<PathBuf>,
    /// Set the display name others see (1 to 64 characters, no control
    /// characters; surrounding spaces are dropped).
    #[arg(long, value_parser = display_name)]
    name: Option<String>,
    /// Opus bitrate for new messages, bits per second.
    #[arg(long, default_value_t = hark_node::DEFAULT_BITRATE,
          value_parser = clap::value_parser!(u32).range(6_000..=128_000))]
    bitrate: u32,
    /// Live frames per packet: 1 (each 20 ms frame at once, lowest
    /// latency) or 2 (about a fifth fewer bytes on the wire, but every
    /// other frame 20 ms later and listeners buffer more).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    live_batch: u8,
}

/// `--name`, checked as a rename is, so a bad name is a usage error.
fn display_name(name: &str) -> Result<String, String> {
    hark_node::validate_display_name(name)
        .map(str::to_string)
        .map_err(|e| e.to_string())
}

pub(crate) async fn run(data_dir: PathBuf, args: Args) -> ExitCode {
    init_logging();
    let mut config = hark_node::Config::new(data_dir);
    if !args.listen.is_empty() {
        config.listen = args.listen;
    }
    config.peers = args.peer;
    if args.mailbox {
        config.carry = hark_node::CarryPolicy::MAILBOX;
    }
    config.mdns = !args.no_mdns;
    config.display_name = args.name;
    config.bitrate = args.bitrate;
    config.live_frames_per_write = args.live_batch;
    config.playout = args.live_out.map(hark_node::playout::Sink::Files);

    let node = match hark_node::start(config).await {
        Ok(node) => node,
        Err(e) => {
            eprintln!("hark: {e}");
            return ExitCode::FAILURE;
        }
    };
    announce(&node).await;

    let handle = node.handle();
    tokio::spawn(async move {
        wait_for_signal().await;
        handle.shutdown().await;
    });
    node.wait().await;
    ExitCode::SUCCESS
}

/// Says on stderr who this node is, so a person starting it sees it is up.
async fn announce(node: &hark_node::Node) {
    // Listeners appear a moment after start.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    if let Ok(me) = node.handle().whoami().await {
        eprintln!(
            "hark: node '{}' ({}) is running",
            me.display_name, me.peer_id
        );
        eprintln!("hark: safety number {}", me.safety_number);
        for addr in &me.listen_addrs {
            eprintln!("hark: listening on {addr}");
        }
    }
}

async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn init_logging() {
    let filter = EnvFilter::try_from_env("HARK_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,hark_node=info,hark_cli=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
