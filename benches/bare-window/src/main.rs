//! A bare Tauri window: the baseline the desktop footprint is measured
//! against.

fn main() {
    tauri::Builder::default()
        .run(tauri::generate_context!())
        .expect("the bare window runs");
}
