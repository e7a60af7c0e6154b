//! A stand-in for the desktop portal's GlobalShortcuts
//! (`org.freedesktop.portal.GlobalShortcuts`), for tests on machines with
//! no Wayland desktop: it answers CreateSession and BindShortcuts the way
//! xdg-desktop-portal does (a Request object whose Response signal carries
//! the result), and its `org.hark.FakePortal` interface lets a test press
//! and release the bound shortcut (`Press`, `Release`), which it sends as
//! Activated and Deactivated.
//!
//! Run on a session bus with no portal on it:
//! `DBUS_SESSION_BUS_ADDRESS=... target/debug/examples/fake_portal`; it
//! prints `ready` once it owns `org.freedesktop.portal.Desktop`.
//! `src/portal.rs`'s unit tests use the same code as a module.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ashpd::zbus::message::Header;
use ashpd::zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};
use ashpd::zbus::{self, Connection};

pub const PORTAL_NAME: &str = "org.freedesktop.portal.Desktop";
const PORTAL_PATH: &str = "/org/freedesktop/portal/desktop";
const INTERFACE: &str = "org.freedesktop.portal.GlobalShortcuts";

/// What the portal was asked.
#[derive(Default)]
pub struct Asked {
    /// The last session created.
    pub session: Option<String>,
    /// The shortcuts bound: id and preferred trigger.
    pub shortcuts: Vec<(String, String)>,
}

/// The portal's state, shared with whoever drives it.
pub struct FakePortal {
    asked: Arc<Mutex<Asked>>,
}

impl FakePortal {
    pub fn new(asked: Arc<Mutex<Asked>>) -> FakePortal {
        FakePortal { asked }
    }
}

fn client_part(header: &Header<'_>) -> String {
    let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
    sender.trim_start_matches(':').replace('.', "_")
}

fn text(options: &HashMap<String, OwnedValue>, key: &str) -> String {
    options
        .get(key)
        .and_then(|v| v.downcast_ref::<String>().ok())
        .unwrap_or_default()
}

/// Sends the Request's Response signal and returns the Request's path.
async fn respond(
    connection: &Connection,
    request: &str,
    results: HashMap<&str, Value<'_>>,
) -> zbus::fdo::Result<OwnedObjectPath> {
    connection
        .emit_signal(
            None::<()>,
            request,
            "org.freedesktop.portal.Request",
            "Response",
            &(0u32, results),
        )
        .await?;
    OwnedObjectPath::try_from(request.to_string())
        .map_err(|e| zbus::fdo::Error::Failed(e.to_string()))
}

fn request_path(header: &Header<'_>, options: &HashMap<String, OwnedValue>) -> String {
    let client = client_part(header);
    format!(
        "{PORTAL_PATH}/request/{client}/{}",
        text(options, "handle_token")
    )
}

#[zbus::interface(name = "org.freedesktop.portal.GlobalShortcuts")]
impl FakePortal {
    #[zbus(property)]
    fn version(&self) -> u32 {
        2
    }

    async fn create_session(
        &self,
        options: HashMap<String, OwnedValue>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        let client = client_part(&header);
        let token = text(&options, "session_handle_token");
        let session = format!("{PORTAL_PATH}/session/{client}/{token}");
        if let Ok(mut asked) = self.asked.lock() {
            asked.session = Some(session.clone());
        }
        let results = HashMap::from([("session_handle", Value::from(session.as_str()))]);
        respond(connection, &request_path(&header, &options), results).await
    }

    async fn bind_shortcuts(
        &self,
        _session: OwnedObjectPath,
        shortcuts: Vec<(String, HashMap<String, OwnedValue>)>,
        _parent_window: String,
        options: HashMap<String, OwnedValue>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        let wanted: Vec<(String, String)> = shortcuts
            .iter()
            .map(|(id, info)| (id.clone(), text(info, "preferred_trigger")))
            .collect();
        // The desktop's answer: each shortcut and how it is triggered.
        let bound: Vec<(String, HashMap<&str, Value<'_>>)> = wanted
            .iter()
            .map(|(id, _)| {
                let info = HashMap::from([
                    ("description", Value::from("Push to talk")),
                    ("trigger_description", Value::from("Ctrl+Shift+Space")),
                ]);
                (id.clone(), info)
            })
            .collect();
        if let Ok(mut asked) = self.asked.lock() {
            asked.shortcuts = wanted;
        }
        let results = HashMap::from([("shortcuts", Value::from(bound))]);
        respond(connection, &request_path(&header, &options), results).await
    }
}

/// The test's handle: press and release every bound shortcut.
struct Driver {
    asked: Arc<Mutex<Asked>>,
}

impl Driver {
    async fn edge(&self, connection: &Connection, member: &str) -> zbus::fdo::Result<()> {
        let (session, ids) = match self.asked.lock() {
            Ok(asked) => (asked.session.clone(), asked.shortcuts.clone()),
            Err(_) => (None, Vec::new()),
        };
        let Some(session) = session else {
            return Err(zbus::fdo::Error::Failed("nothing is bound".into()));
        };
        let session = OwnedObjectPath::try_from(session)
            .map_err(|e| zbus::fdo::Error::Failed(e.to_string()))?;
        for (id, _) in ids {
            let options: HashMap<&str, Value<'_>> = HashMap::new();
            let body = (session.clone(), id.as_str(), 0u64, options);
            connection
                .emit_signal(None::<()>, PORTAL_PATH, INTERFACE, member, &body)
                .await?;
        }
        Ok(())
    }
}

#[zbus::interface(name = "org.hark.FakePortal")]
impl Driver {
    async fn press(&self, #[zbus(connection)] connection: &Connection) -> zbus::fdo::Result<()> {
        self.edge(connection, "Activated").await
    }

    async fn release(&self, #[zbus(connection)] connection: &Connection) -> zbus::fdo::Result<()> {
        self.edge(connection, "Deactivated").await
    }

    /// The bound shortcuts as "id=trigger" lines, for the test to check.
    fn bound(&self) -> String {
        let asked = self
            .asked
            .lock()
            .map(|a| a.shortcuts.clone())
            .unwrap_or_default();
        asked
            .iter()
            .map(|(id, trigger)| format!("{id}={trigger}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let asked = Arc::new(Mutex::new(Asked::default()));
    let _connection = zbus::connection::Builder::session()?
        .name(PORTAL_NAME)?
        .serve_at(PORTAL_PATH, FakePortal::new(asked.clone()))?
        .serve_at(PORTAL_PATH, Driver { asked })?
        .build()
        .await?;
    println!("ready");
    std::future::pending::<()>().await;
    Ok(())
}
