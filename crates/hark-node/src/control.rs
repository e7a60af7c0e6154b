//! The local control socket: how the `hark` command (and any script) talks
//! to a running node, whether it runs headless or inside the desktop app.
//!
//! A Unix socket `control.sock` in the data dir, mode 0600 inside a 0700
//! dir, so only the user reaches it. One JSON object per line each way: a
//! [`Request`], then a [`Reply`]. A connection may carry several requests.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

use crate::api::{self, ErrorKind};
use crate::{NodeHandle, StartError};

/// A request line is a command and a path or two: far below this.
const MAX_LINE: usize = 64 * 1024;

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// [`NodeHandle::whoami`].
    Whoami,
    /// [`NodeHandle::peers`].
    Peers,
    /// [`NodeHandle::inbox`].
    Inbox,
    /// [`NodeHandle::send_file`]; `path` must be absolute.
    Send {
        /// Peer ids or display names.
        to: Vec<String>,
        /// The audio file.
        path: PathBuf,
    },
    /// [`NodeHandle::send_live_file`]; `path` must be absolute.
    SendLive {
        /// Peer ids or display names.
        to: Vec<String>,
        /// The audio file.
        path: PathBuf,
        /// Share of frames left out of the live streams (fault injection).
        #[serde(default)]
        drop_ratio: f32,
        /// Cancel the message this many milliseconds into the file.
        #[serde(default)]
        cancel_after_ms: Option<u64>,
    },
    /// [`NodeHandle::export`]; `path` must be absolute.
    Export {
        /// Message id.
        id: String,
        /// Where to write.
        path: PathBuf,
    },
    /// [`NodeHandle::mark_heard`].
    MarkHeard {
        /// Message id.
        id: String,
    },
    /// [`NodeHandle::record`].
    Record {
        /// Peer ids, display names, or one `#channel`.
        to: Vec<String>,
        /// Input device name; `None`: the default input.
        #[serde(default)]
        device: Option<String>,
        /// How long to record, in milliseconds.
        millis: u64,
    },
    /// [`NodeHandle::set_display_name`].
    Rename {
        /// The new display name.
        name: String,
    },
    /// [`NodeHandle::channels`].
    Channels,
    /// [`NodeHandle::create_channel`].
    ChannelCreate {
        /// Channel name.
        name: String,
    },
    /// [`NodeHandle::join_channel`].
    ChannelJoin {
        /// Invite code.
        invite: String,
    },
    /// [`NodeHandle::leave_channel`].
    ChannelLeave {
        /// Channel name or id.
        name: String,
    },
    /// [`NodeHandle::mute_channel`].
    ChannelMute {
        /// Channel name or id.
        name: String,
        /// Mute (true) or unmute.
        muted: bool,
    },
    /// [`NodeHandle::shutdown`].
    Shutdown,
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// It worked; the value is the method's result as JSON.
    Ok(serde_json::Value),
    /// It failed.
    Error(api::Error),
}

/// Starts serving `handle` on the data dir's control socket.
pub(crate) async fn serve(handle: NodeHandle) -> Result<JoinHandle<()>, StartError> {
    let path = handle.socket_path();
    let listener = bind(&path).map_err(|source| StartError::Control { path, source })?;
    Ok(tokio::spawn(accept_loop(listener, handle)))
}

fn bind(path: &Path) -> std::io::Result<UnixListener> {
    // We hold the data dir's lock, so a socket file left here is stale.
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

async fn accept_loop(listener: UnixListener, handle: NodeHandle) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve_client(stream, handle.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "control socket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve_client(stream: UnixStream, handle: NodeHandle) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let reply = if line.len() > MAX_LINE {
            Reply::Error(api::Error::new(ErrorKind::BadRequest, "request too long"))
        } else {
            answer(&handle, &line).await
        };
        let Ok(mut out) = serde_json::to_vec(&reply) else {
            return;
        };
        out.push(b'\n');
        if write.write_all(&out).await.is_err() {
            return;
        }
    }
}

async fn answer(handle: &NodeHandle, line: &str) -> Reply {
    let request: Request = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => return Reply::Error(api::Error::new(ErrorKind::BadRequest, e.to_string())),
    };
    let result = match request {
        Request::Whoami => json(handle.whoami().await),
        Request::Peers => json(handle.peers().await),
        Request::Inbox => json(handle.inbox().await),
        Request::Send { to, path } => json(handle.send_file(to, path).await),
        Request::SendLive {
            to,
            path,
            drop_ratio,
            cancel_after_ms,
        } => {
            let cancel_after = cancel_after_ms.map(std::time::Duration::from_millis);
            json(
                handle
                    .send_live_file(to, path, drop_ratio, cancel_after)
                    .await,
            )
        }
        Request::Export { id, path } => json(handle.export(id, path).await),
        Request::MarkHeard { id } => json(handle.mark_heard(id).await),
        Request::Record { to, device, millis } => {
            let duration = std::time::Duration::from_millis(millis.min(30 * 60 * 1000));
            json(handle.record(to, device, duration).await)
        }
        Request::Channels => json(handle.channels().await),
        Request::ChannelCreate { name } => json(handle.create_channel(name).await),
        Request::ChannelJoin { invite } => json(handle.join_channel(invite).await),
        Request::ChannelLeave { name } => json(handle.leave_channel(name).await),
        Request::ChannelMute { name, muted } => json(handle.mute_channel(name, muted).await),
        Request::Rename { name } => json(handle.set_display_name(&name).await),
        Request::Shutdown => {
            // Answer first: the node is gone once shutdown returns.
            let handle = handle.clone();
            tokio::spawn(async move { handle.shutdown().await });
            Ok(serde_json::Value::Null)
        }
    };
    match result {
        Ok(value) => Reply::Ok(value),
        Err(e) => Reply::Error(e),
    }
}

fn json<T: Serialize>(result: Result<T, api::Error>) -> Result<serde_json::Value, api::Error> {
    let value = result?;
    serde_json::to_value(value).map_err(|e| api::Error::new(ErrorKind::Internal, e.to_string()))
}

/// Why a client could not reach a node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// No node serves this data dir. Start one (`hark node` or the app).
    #[error("no Hark node is running for {}", .0.display())]
    NoNode(PathBuf),
    /// The socket exists but could not be used (permissions?).
    #[error("cannot reach the node at {}: {source}", path.display())]
    Io {
        /// The socket.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A client connection to a node's control socket.
#[derive(Debug)]
pub struct Client {
    lines: tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
    write: tokio::net::unix::OwnedWriteHalf,
}

impl Client {
    /// Connects to the node using `data_dir`.
    pub async fn connect(data_dir: &Path) -> Result<Client, ConnectError> {
        let path = crate::socket_path(data_dir);
        let stream = match UnixStream::connect(&path).await {
            Ok(s) => s,
            Err(e) if is_absent(&e) => return Err(ConnectError::NoNode(data_dir.to_path_buf())),
            Err(source) => return Err(ConnectError::Io { path, source }),
        };
        let (read, write) = stream.into_split();
        Ok(Client {
            lines: BufReader::new(read).lines(),
            write,
        })
    }

    /// Sends one request and waits for its reply. Not safe to cancel: a
    /// cancelled call leaves its reply unread on the connection.
    pub async fn call(&mut self, request: &Request) -> Result<serde_json::Value, api::Error> {
        let lost = |e: &dyn std::fmt::Display| {
            api::Error::new(ErrorKind::Unavailable, format!("lost the node: {e}"))
        };
        let mut line = serde_json::to_vec(request).map_err(|e| lost(&e))?;
        line.push(b'\n');
        self.write.write_all(&line).await.map_err(|e| lost(&e))?;

        let reply = self.lines.next_line().await.map_err(|e| lost(&e))?;
        let reply = reply.ok_or_else(|| lost(&"connection closed"))?;
        match serde_json::from_str(&reply).map_err(|e| lost(&e))? {
            Reply::Ok(value) => Ok(value),
            Reply::Error(e) => Err(e),
        }
    }
}

fn is_absent(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // The JSON shape scripts rely on stays as documented.
    #[test]
    fn request_and_reply_shapes() -> Result<(), serde_json::Error> {
        let send: Request = serde_json::from_str(r#"{"cmd":"send","to":["bob"],"path":"/a.wav"}"#)?;
        assert_eq!(
            send,
            Request::Send {
                to: vec!["bob".into()],
                path: "/a.wav".into()
            }
        );

        let reply = Reply::Error(api::Error::new(ErrorKind::BadInput, "x.wav: empty file"));
        let text = serde_json::to_string(&reply)?;
        assert_eq!(
            text,
            r#"{"error":{"kind":"bad_input","message":"x.wav: empty file"}}"#
        );
        Ok(())
    }

    // Clients get a "no node" error, not an I/O error, when none runs.
    #[tokio::test]
    async fn connect_without_node() -> Result<(), std::io::Error> {
        let dir = tempfile::tempdir()?;
        let result = Client::connect(dir.path()).await;
        assert!(matches!(result, Err(ConnectError::NoNode(_))));
        Ok(())
    }
}
