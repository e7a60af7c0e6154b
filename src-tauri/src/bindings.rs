//! The typed interface between Rust and the window: every command and
//! event registered once here, for the invoke handler and for the
//! TypeScript bindings in `ui/src/bindings.ts`, which are generated from
//! this list (never edited by hand). A unit test fails when the committed
//! file is stale; `HARK_WRITE_BINDINGS=1 cargo test -p hark-desktop
//! bindings` rewrites it.

use tauri_specta::{collect_commands, collect_events, Builder};

use crate::channels::*;
use crate::commands::*;
use crate::types::{NodeEvent, Notice, Resync, SettingsChanged};

/// Where the generated bindings live, from this crate's manifest dir.
#[cfg(test)]
pub const BINDINGS_PATH: &str = "../ui/src/bindings.ts";

/// The app's commands and events for runtime `$runtime` (a path): the
/// command macro needs a concrete runtime for the generic commands.
macro_rules! app_builder {
    ($runtime:path) => {
        Builder::<$runtime>::new()
            .commands(collect_commands![
                whoami,
                peers,
                inbox,
                waveform,
                play,
                stop_playback,
                watch_recorder,
                start_recording::<$runtime>,
                finish_recording::<$runtime>,
                send_file::<$runtime>,
                export_message::<$runtime>,
                get_settings,
                save_settings::<$runtime>,
                devices,
                hotkey_status,
                set_active_conversation,
                read_marks,
                mark_read,
                log_dir,
                channels,
                create_channel,
                join_channel,
                leave_channel,
                mute_channel,
                invite_qr,
            ])
            .events(collect_events![NodeEvent, Resync, Notice, SettingsChanged])
            .constant("MAX_WAVEFORM_BUCKETS", hark_node::MAX_WAVEFORM_BUCKETS)
            .constant("BITRATES", crate::settings::BITRATES)
    };
}

/// The commands and events of the app.
pub fn builder() -> Builder<tauri::Wry> {
    app_builder!(tauri::Wry)
}

/// The same for Tauri's mock runtime, in unit tests.
#[cfg(test)]
pub fn mock_builder() -> Builder<tauri::test::MockRuntime> {
    app_builder!(tauri::test::MockRuntime)
}

/// The bindings as TypeScript text.
pub fn typescript() -> Result<String, specta_typescript::Error> {
    // One file per call: tests generate the bindings in parallel threads of
    // one process, and a shared name let one remove what another read.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = tempfile_dir().join(format!("bindings-{}-{n}.ts", std::process::id()));
    builder().export(
        specta_typescript::Typescript::default()
            .header("// Generated from src-tauri (bindings.rs) by tauri-specta: do not edit."),
        &path,
    )?;
    let text = std::fs::read_to_string(&path);
    let _ = std::fs::remove_file(&path);
    Ok(text?)
}

fn tempfile_dir() -> std::path::PathBuf {
    std::env::temp_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The committed ui/src/bindings.ts is what the Rust side generates now.
    #[test]
    fn bindings_are_current() -> Result<(), Box<dyn std::error::Error>> {
        let generated = typescript()?;
        assert!(generated.contains("whoami"), "bindings lack the commands");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(BINDINGS_PATH);
        if std::env::var_os("HARK_WRITE_BINDINGS").is_some() {
            std::fs::write(&path, &generated)?;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale: run HARK_WRITE_BINDINGS=1 cargo test -p hark-desktop bindings",
            path.display()
        );
        Ok(())
    }

    // build.rs declares (and capabilities/main.json allows) every command
    // the bindings register; a missing one would be refused at run time.
    #[test]
    fn every_command_is_permitted() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let build = std::fs::read_to_string(dir.join("build.rs"))?;
        let capability = std::fs::read_to_string(dir.join("capabilities/main.json"))?;
        let generated = typescript()?;
        // Each call reads `__TAURI_INVOKE("name"` or `__TAURI_INVOKE<T>("name"`.
        let invoked: Vec<&str> = generated
            .split("__TAURI_INVOKE")
            .skip(2)
            .filter_map(|rest| rest.split("(\"").nth(1)?.split('"').next())
            .collect();
        assert!(invoked.len() >= 19, "found only {invoked:?}");
        for command in invoked {
            assert!(
                build.contains(&format!("\"{command}\"")),
                "build.rs lacks {command}"
            );
            let permission = format!("allow-{}", command.replace('_', "-"));
            assert!(
                capability.contains(&permission),
                "main.json lacks {permission}"
            );
        }
        Ok(())
    }
}
