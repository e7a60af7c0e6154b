//! The client subcommands: one request to the running node, the answer
//! printed for people or, with `--json`, for scripts.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args as ClapArgs;
use hark_node::api::{ChannelInfo, MessageSummary, PeerInfo, WhoAmI};
use hark_node::control::{Client, ConnectError, Request};
use serde::de::DeserializeOwned;

use crate::Command;

/// Options of the listing subcommands.
#[derive(Debug, ClapArgs)]
pub(crate) struct ListArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(data_dir: &Path, command: Command) -> ExitCode {
    let mut client = match Client::connect(data_dir).await {
        Ok(c) => c,
        Err(ConnectError::NoNode(dir)) => {
            eprintln!("hark: no Hark node is running for {}", dir.display());
            eprintln!(
                "hark: start one with `hark --data-dir {} node`, or open the Hark app",
                dir.display()
            );
            return ExitCode::from(crate::EXIT_NO_NODE);
        }
        Err(e) => {
            eprintln!("hark: {e}");
            return ExitCode::from(crate::EXIT_NO_NODE);
        }
    };

    match execute(&mut client, command).await {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped early (`hark inbox | head -1`) is not a
        // failure of ours; whatever was asked of the node has been done.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hark: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(client: &mut Client, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Whoami(args) => {
            let me: WhoAmI = call(client, &Request::Whoami).await?;
            print(&me, args.json, print_whoami)
        }
        Command::Peers(args) => {
            let peers: Vec<PeerInfo> = call(client, &Request::Peers).await?;
            print(peers.as_slice(), args.json, print_peers)
        }
        Command::Inbox(args) => {
            let inbox: Vec<MessageSummary> = call(client, &Request::Inbox).await?;
            print(inbox.as_slice(), args.json, print_inbox)
        }
        Command::Send {
            to,
            file,
            live,
            drop_frames,
            cancel_after,
        } => {
            let path = absolute(&file)?;
            let longest = hark_node::MAX_SECONDS as f64;
            let cancel_after_ms = cancel_after.map(|s| (s.min(longest) * 1000.0) as u64);
            let request = match live {
                true => Request::SendLive {
                    to,
                    path,
                    drop_ratio: drop_frames,
                    cancel_after_ms,
                },
                false => Request::Send { to, path },
            };
            let id: String = call(client, &request).await?;
            emit(id)
        }
        Command::Export { id, out } => {
            let path = absolute(&out)?;
            let () = call(client, &Request::Export { id, path }).await?;
            Ok(())
        }
        Command::Rename { name } => {
            let () = call(client, &Request::Rename { name }).await?;
            Ok(())
        }
        Command::Channel(command) => channel(client, command).await,
        Command::Record {
            to,
            seconds,
            device,
        } => {
            // `seconds` was checked by the argument parser.
            let millis = (seconds * 1000.0) as u64;
            let request = Request::Record { to, device, millis };
            let recorded: hark_node::Recorded = call(client, &request).await?;
            if let Some(warning) = &recorded.warning {
                eprintln!("hark: {warning}");
            }
            emit(recorded.id)
        }
        Command::Stop => {
            let () = call(client, &Request::Shutdown).await?;
            Ok(())
        }
        Command::Node(_) => anyhow::bail!("`node` runs a node; it is not a request to one"),
    }
}

async fn channel(client: &mut Client, command: crate::ChannelCommand) -> anyhow::Result<()> {
    use crate::ChannelCommand as C;
    let request = match command {
        C::Create { name } => Request::ChannelCreate { name },
        C::Join { invite } => Request::ChannelJoin { invite },
        C::Leave { name } => Request::ChannelLeave { name },
        C::Mute { name, off } => Request::ChannelMute { name, muted: !off },
        C::List(args) => {
            let channels: Vec<ChannelInfo> = call(client, &Request::Channels).await?;
            return print(channels.as_slice(), args.json, print_channels);
        }
    };
    let created = matches!(request, Request::ChannelCreate { .. });
    let value = client.call(&request).await?;
    match serde_json::from_value::<ChannelInfo>(value) {
        // The invite alone, so that a script can pass it on as it is.
        Ok(info) if created => emit(info.invite),
        Ok(info) => emit(format!("#{}", info.name)),
        Err(_) => Ok(()),
    }
}

fn print_channels(channels: &[ChannelInfo]) -> Vec<String> {
    if channels.is_empty() {
        return vec!["in no channel".into()];
    }
    let mut lines = Vec::new();
    for c in channels {
        let muted = if c.muted { "  (muted)" } else { "" };
        let members = match c.members.len() {
            1 => "1 member known".to_string(),
            n => format!("{n} members known"),
        };
        lines.push(format!("#{:<20} {members}{muted}", c.name));
        lines.push(format!("  invite: {}", c.invite));
    }
    lines
}

/// The node runs elsewhere (another working directory): send it absolute
/// paths.
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    Ok(std::path::absolute(path)?)
}

async fn call<T: DeserializeOwned>(client: &mut Client, request: &Request) -> anyhow::Result<T> {
    let value = client.call(request).await?;
    Ok(serde_json::from_value(value)?)
}

fn print<T: serde::Serialize + ?Sized>(
    value: &T,
    json: bool,
    text: fn(&T) -> Vec<String>,
) -> anyhow::Result<()> {
    match json {
        true => emit(serde_json::to_string_pretty(value)?),
        false => emit(text(value).join("\n")),
    }
}

/// Writes `text` and a newline to stdout, returning (not panicking on) a
/// closed pipe.
fn emit(text: String) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

fn print_whoami(me: &WhoAmI) -> Vec<String> {
    let mut lines = vec![
        format!("name:          {}", me.display_name),
        format!("peer id:       {}", me.peer_id),
        format!("safety number: {}", me.safety_number),
        format!("data dir:      {}", me.data_dir),
        format!(
            "carrying:      {} messages for others ({} bytes)",
            me.carrying, me.carrying_bytes
        ),
    ];
    for addr in &me.listen_addrs {
        lines.push(format!("listening:     {addr}"));
    }
    lines
}

fn print_peers(peers: &[PeerInfo]) -> Vec<String> {
    if peers.is_empty() {
        return vec!["no peers met yet".into()];
    }
    let line = |p: &PeerInfo| {
        let state = if p.online { "online " } else { "offline" };
        format!(
            "{state}  {:<20}  {}  {}",
            p.display_name, p.safety_number, p.peer_id
        )
    };
    peers.iter().map(line).collect()
}

fn print_inbox(messages: &[MessageSummary]) -> Vec<String> {
    if messages.is_empty() {
        return vec!["no messages".into()];
    }
    messages.iter().map(inbox_line).collect()
}

fn inbox_line(m: &MessageSummary) -> String {
    let (arrow, who) = match m.direction {
        _ if m.channel.is_some() => (
            "in  ",
            format!("#{}", m.channel.clone().unwrap_or_default()),
        ),
        hark_node::api::Direction::Outgoing => ("to  ", m.to_names.join(", ")),
        hark_node::api::Direction::Incoming => ("from", m.from_name.clone()),
    };
    let state = serde_json::to_value(m.state).ok();
    let state = state.as_ref().and_then(|s| s.as_str()).unwrap_or("?");
    let secs = m.duration_ms as f64 / 1000.0;
    format!("{}  {arrow} {who:<16} {secs:>6.1} s  {state}", m.id)
}
