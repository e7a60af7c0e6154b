//! The client subcommands: one request to the running node, the answer
//! printed for people or, with `--json`, for scripts.

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
            print(&peers, args.json, print_peers)
        }
        Command::Inbox(args) => {
            let inbox: Vec<MessageSummary> = call(client, &Request::Inbox).await?;
            print(&inbox, args.json, print_inbox)
        }
        Command::Send {
            to,
            file,
            live,
            drop_frames,
            cancel_after,
        } => {
            let path = absolute(&file)?;
            let cancel_after_ms = cancel_after.map(|s| (s.clamp(0.0, 1800.0) * 1000.0) as u64);
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
            println!("{id}");
            Ok(())
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
            let millis = (seconds.clamp(0.0, 1800.0) * 1000.0) as u64;
            let request = Request::Record { to, device, millis };
            let recorded: hark_node::Recorded = call(client, &request).await?;
            if let Some(warning) = &recorded.warning {
                eprintln!("hark: {warning}");
            }
            println!("{}", recorded.id);
            Ok(())
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
            return print(&channels, args.json, print_channels);
        }
    };
    let value = client.call(&request).await?;
    if let Ok(info) = serde_json::from_value::<ChannelInfo>(value) {
        println!("#{}  {}", info.name, info.invite);
    }
    Ok(())
}

fn print_channels(channels: &Vec<ChannelInfo>) {
    if channels.is_empty() {
        println!("in no channel");
    }
    for c in channels {
        let muted = if c.muted { "  (muted)" } else { "" };
        println!("#{:<20} {} members known{muted}", c.name, c.members.len());
        println!("  invite: {}", c.invite);
    }
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

fn print<T: serde::Serialize>(value: &T, json: bool, text: fn(&T)) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        text(value);
    }
    Ok(())
}

fn print_whoami(me: &WhoAmI) {
    println!("name:          {}", me.display_name);
    println!("peer id:       {}", me.peer_id);
    println!("safety number: {}", me.safety_number);
    println!("data dir:      {}", me.data_dir);
    println!(
        "carrying:      {} messages for others ({} bytes)",
        me.carrying, me.carrying_bytes
    );
    for addr in &me.listen_addrs {
        println!("listening:     {addr}");
    }
}

fn print_peers(peers: &Vec<PeerInfo>) {
    if peers.is_empty() {
        println!("no peers met yet");
    }
    for p in peers {
        let state = if p.online { "online " } else { "offline" };
        println!(
            "{state}  {:<20}  {}  {}",
            p.display_name, p.safety_number, p.peer_id
        );
    }
}

fn print_inbox(messages: &Vec<MessageSummary>) {
    if messages.is_empty() {
        println!("no messages");
    }
    for m in messages {
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
        println!("{}  {arrow} {who:<16} {secs:>6.1} s  {state}", m.id);
    }
}
