//! Runs tauri-build: checks tauri.conf.json and ../ui/dist, embeds the
//! icons, and generates the permissions for the app's own commands.

/// Every command of src/bindings.rs.
const COMMANDS: [&str; 25] = [
    "whoami",
    "peers",
    "inbox",
    "waveform",
    "play",
    "stop_playback",
    "watch_recorder",
    "start_recording",
    "finish_recording",
    "send_file",
    "export_message",
    "get_settings",
    "save_settings",
    "devices",
    "hotkey_status",
    "set_active_conversation",
    "read_marks",
    "mark_read",
    "log_dir",
    "channels",
    "create_channel",
    "join_channel",
    "leave_channel",
    "mute_channel",
    "invite_qr",
];

fn main() {
    // Declaring the commands makes them deny-by-default: a window may call
    // one only if a capability grants its `allow-<command>` permission.
    // Keep in step with src/bindings.rs (a unit test checks it).
    let manifest = tauri_build::AppManifest::new().commands(&COMMANDS);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri-build: tauri.conf.json, capabilities/ and ../ui/dist must be valid");
}
