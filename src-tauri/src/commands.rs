//! The Tauri commands the window calls. Each asks the node and hands back
//! its answer, or its `api::Error`, which the window receives as
//! `{kind, message}`.

use hark_node::api;
use tauri::State;

use crate::node::Running;

/// Who this node is: name, peer id, safety number, addresses.
#[tauri::command]
pub async fn whoami(node: State<'_, Running>) -> Result<api::WhoAmI, api::Error> {
    node.handle().whoami().await
}

/// Every peer this node knows of, online or not.
#[tauri::command]
pub async fn peers(node: State<'_, Running>) -> Result<Vec<api::PeerInfo>, api::Error> {
    node.handle().peers().await
}

/// Every message sent or received, as one-line summaries.
#[tauri::command]
pub async fn inbox(node: State<'_, Running>) -> Result<Vec<api::MessageSummary>, api::Error> {
    node.handle().inbox().await
}
