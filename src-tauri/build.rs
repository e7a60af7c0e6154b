//! Runs tauri-build: checks tauri.conf.json and ../ui/dist, embeds the
//! icons, and generates the permissions for the app's own commands.

fn main() {
    // Declaring the commands makes them deny-by-default: a window may call
    // one only if a capability grants its `allow-<command>` permission.
    let manifest = tauri_build::AppManifest::new().commands(&["whoami", "peers", "inbox"]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri-build: tauri.conf.json, capabilities/ and ../ui/dist must be valid");
}
