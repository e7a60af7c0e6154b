//! Push-to-talk through the desktop portal's GlobalShortcuts
//! (`org.freedesktop.portal.GlobalShortcuts`), for Wayland sessions, where
//! an X11 key grab only sees keys typed into X11 windows.
//!
//! The app asks the portal for one shortcut, [`SHORTCUT_ID`], suggesting
//! the trigger from settings; the desktop may show a dialog and let the
//! user pick another. From then on the portal says when the shortcut goes
//! down (`Activated`) and up (`Deactivated`), whichever window has focus.
//! The session lives as long as the D-Bus connection it was made on.

use ashpd::desktop::global_shortcuts::{BindShortcutsOptions, GlobalShortcuts, NewShortcut};
use ashpd::desktop::{CreateSessionOptions, Session};
use std::collections::HashMap;

use ashpd::zbus::{self, zvariant};
use futures::StreamExt;
use tokio::sync::mpsc;

/// The one shortcut Hark binds.
pub const SHORTCUT_ID: &str = "push-to-talk";

/// Where the portal lives on the session bus, and its interface.
const PORTAL_NAME: &str = "org.freedesktop.portal.Desktop";
const PORTAL_PATH: &str = "/org/freedesktop/portal/desktop";
const INTERFACE: &str = "org.freedesktop.portal.GlobalShortcuts";

/// A push-to-talk key edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The shortcut went down.
    Pressed,
    /// The shortcut went up.
    Released,
}

/// The shortcut bound in a portal session.
pub struct Bound {
    /// Held so the session stays open as long as this does.
    _session: Session<GlobalShortcuts>,
    /// The portal's Activated and Deactivated signals, in the order sent:
    /// one stream, so a quick tap's release never overtakes its press.
    signals: zbus::MessageStream,
    /// The portal's unique bus name: signals from anyone else are forged.
    portal_owner: String,
    /// Changes of the portal's owner: the portal went away or restarted,
    /// and the session with it.
    owner_changes: zbus::MessageStream,
    /// How the desktop says the shortcut is triggered ("Ctrl+Shift+Space"),
    /// when it says.
    pub trigger: Option<String>,
}

/// Asks the portal on `connection` for the push-to-talk shortcut, with
/// `shortcut` (settings' "Ctrl+Shift+Space" form) as the preferred trigger.
/// Fails when there is no GlobalShortcuts portal or the user refused.
pub async fn bind(connection: zbus::Connection, shortcut: &str) -> Result<Bound, ashpd::Error> {
    // Listening before binding: no edge is lost in between.
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(INTERFACE)?
        .path(PORTAL_PATH)?
        .build();
    let signals = zbus::MessageStream::for_match_rule(rule, &connection, None).await?;
    let bus = zbus::fdo::DBusProxy::new(&connection).await?;
    let owner = zbus::names::BusName::try_from(PORTAL_NAME).map_err(zbus::Error::from)?;
    let portal_owner = bus
        .get_name_owner(owner)
        .await
        .map_err(zbus::Error::from)?
        .to_string();
    let owner_rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender("org.freedesktop.DBus")?
        .interface("org.freedesktop.DBus")?
        .member("NameOwnerChanged")?
        .add_arg(PORTAL_NAME)?
        .build();
    let owner_changes = zbus::MessageStream::for_match_rule(owner_rule, &connection, None).await?;

    let portal = GlobalShortcuts::with_connection(connection).await?;
    let session = portal
        .create_session(CreateSessionOptions::default())
        .await?;
    let trigger = xdg_trigger(shortcut);
    let wanted = NewShortcut::new(SHORTCUT_ID, "Push to talk: hold to speak")
        .preferred_trigger(trigger.as_str());
    let request = portal
        .bind_shortcuts(&session, &[wanted], None, BindShortcutsOptions::default())
        .await?;
    let bound = request.response()?;
    let trigger = bound
        .shortcuts()
        .iter()
        .find(|s| s.id() == SHORTCUT_ID)
        .map(|s| s.trigger_description().to_string())
        .filter(|t| !t.is_empty());
    Ok(Bound {
        _session: session,
        signals,
        portal_owner,
        owner_changes,
        trigger,
    })
}

/// The body of Activated and Deactivated: session, shortcut id, timestamp,
/// options.
type EdgeSignal = (
    zvariant::OwnedObjectPath,
    String,
    u64,
    HashMap<String, zvariant::OwnedValue>,
);

impl Bound {
    /// Sends every press and release of our shortcut to `edges`, in order,
    /// until the connection ends or the receiver is gone. Only the portal
    /// itself is listened to: any client on the bus could send a signal
    /// that looks like its own, to start the microphone.
    /// Returns `Ok` when the portal went away.
    pub async fn forward(mut self, edges: mpsc::Sender<Edge>) -> Result<(), ashpd::Error> {
        loop {
            let next = tokio::select! {
                next = self.signals.next() => next,
                _ = self.owner_changes.next() => return Ok(()),
            };
            let Some(message) = next else { break };
            let message = message?;
            let sender = message.header().sender().map(|s| s.to_string());
            if sender.as_deref() != Some(self.portal_owner.as_str()) {
                tracing::warn!(?sender, "a shortcut signal not from the portal ignored");
                continue;
            }
            let edge = match message.header().member().map(|m| m.as_str()) {
                Some("Activated") => Edge::Pressed,
                Some("Deactivated") => Edge::Released,
                _ => continue,
            };
            let Ok((_, id, _, _)) = message.body().deserialize::<EdgeSignal>() else {
                continue;
            };
            if id != SHORTCUT_ID {
                continue;
            }
            if edges.send(edge).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}

/// Settings' shortcut ("Ctrl+Shift+Space") in the form of the XDG
/// shortcuts specification the portal takes ("CTRL+SHIFT+space"):
/// modifiers in capitals, the key as its keysym name.
pub fn xdg_trigger(shortcut: &str) -> String {
    shortcut
        .split('+')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| match part.to_ascii_lowercase().as_str() {
            "ctrl" | "control" => "CTRL".to_string(),
            "shift" => "SHIFT".to_string(),
            "alt" | "option" => "ALT".to_string(),
            "super" | "meta" | "cmd" | "command" | "logo" => "LOGO".to_string(),
            key if key.chars().count() == 1 => key.to_string(),
            "space" => "space".to_string(),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("+")
}

#[cfg(test)]
mod tests {
    //! The portal client against a stand-in for the desktop portal
    //! (`examples/fake_portal.rs`) served on a private bus by a real
    //! `dbus-daemon`.

    use std::process::{Child, Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use ashpd::zbus::zvariant::{OwnedObjectPath, Value};
    use ashpd::zbus::{self, Connection};

    use super::*;

    use crate::fake_portal::{Asked, FakePortal};

    /// A private bus; the daemon is killed on drop.
    struct Bus {
        daemon: Child,
        address: String,
    }

    impl Bus {
        fn start() -> Bus {
            // No service is started on demand: a real xdg-desktop-portal
            // installed here must not answer in place of the stand-in.
            let config =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/test-bus.conf");
            let mut daemon = Command::new("dbus-daemon")
                .arg(format!("--config-file={}", config.display()))
                .args(["--nofork", "--print-address=1"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("dbus-daemon runs (Debian: dbus)");
            let mut line = String::new();
            let stdout = daemon.stdout.take().expect("stdout");
            std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
                .expect("dbus-daemon prints its address");
            Bus {
                daemon,
                address: line.trim().to_string(),
            }
        }

        async fn connect(&self) -> Connection {
            zbus::connection::Builder::address(self.address.as_str())
                .expect("address")
                .build()
                .await
                .expect("connects")
        }
    }

    impl Drop for Bus {
        fn drop(&mut self) {
            let _ = self.daemon.kill();
            let _ = self.daemon.wait();
        }
    }

    async fn serve_portal(bus: &Bus) -> (Connection, Arc<Mutex<Asked>>) {
        let asked = Arc::new(Mutex::new(Asked::default()));
        let portal = FakePortal::new(asked.clone());
        let connection = zbus::connection::Builder::address(bus.address.as_str())
            .expect("address")
            .name(PORTAL_NAME)
            .expect("name")
            .serve_at(PORTAL_PATH, portal)
            .expect("serve")
            .build()
            .await
            .expect("portal connects");
        (connection, asked)
    }

    async fn edge_signal(portal: &Connection, session: &str, id: &str, member: &str) {
        let session = OwnedObjectPath::try_from(session.to_string()).expect("path");
        let options: HashMap<&str, Value<'_>> = HashMap::new();
        portal
            .emit_signal(
                None::<()>,
                PORTAL_PATH,
                INTERFACE,
                member,
                &(session, id, 0u64, options),
            )
            .await
            .expect("signal sent");
    }

    // The shortcut is bound with the trigger from settings, and presses and
    // releases of it come through in order; another shortcut's, and
    // signals forged by another client, do not.
    #[tokio::test]
    async fn binds_and_forwards_press_and_release() {
        let bus = Bus::start();
        let (portal, asked) = serve_portal(&bus).await;

        let bound = bind(bus.connect().await, "Ctrl+Shift+Space")
            .await
            .expect("bound through the portal");
        assert_eq!(bound.trigger.as_deref(), Some("Ctrl+Shift+Space"));
        let (session, shortcuts) = {
            let asked = asked.lock().expect("lock");
            (
                asked.session.clone().expect("a session"),
                asked.shortcuts.clone(),
            )
        };
        assert_eq!(
            shortcuts,
            vec![(SHORTCUT_ID.to_string(), "CTRL+SHIFT+space".to_string())]
        );

        let (tx, mut rx) = mpsc::channel(8);
        let forwarding = tokio::spawn(bound.forward(tx));
        // Were the forged release taken, it would come first.
        let forger = bus.connect().await;
        edge_signal(&forger, &session, SHORTCUT_ID, "Deactivated").await;
        edge_signal(&portal, &session, "another-app-shortcut", "Activated").await;
        edge_signal(&portal, &session, SHORTCUT_ID, "Activated").await;
        edge_signal(&portal, &session, SHORTCUT_ID, "Deactivated").await;

        let limit = Duration::from_secs(5);
        let first = tokio::time::timeout(limit, rx.recv()).await;
        assert_eq!(first.expect("in time"), Some(Edge::Pressed));
        let second = tokio::time::timeout(limit, rx.recv()).await;
        assert_eq!(second.expect("in time"), Some(Edge::Released));

        // The portal leaves the bus: forwarding ends (the app falls back).
        drop(portal);
        let ended = tokio::time::timeout(limit, forwarding).await;
        assert!(
            matches!(ended, Ok(Ok(Ok(())))),
            "forwarding went on: {ended:?}"
        );
    }

    // Without a portal on the bus, binding fails with an error the app can
    // show (and fall back on), not a panic or a hang.
    #[tokio::test]
    async fn no_portal_is_an_error() {
        let bus = Bus::start();
        let result = tokio::time::timeout(
            Duration::from_secs(10),
            bind(bus.connect().await, "Ctrl+Shift+Space"),
        )
        .await
        .expect("does not hang");
        assert!(result.is_err(), "bound without a portal");
    }

    // Settings' shortcut names become the XDG shortcut form.
    #[test]
    fn triggers_in_xdg_form() {
        assert_eq!(xdg_trigger("Ctrl+Shift+Space"), "CTRL+SHIFT+space");
        assert_eq!(xdg_trigger("Alt + F9"), "ALT+F9");
        assert_eq!(xdg_trigger("Super+K"), "LOGO+k");
    }
}
