//! Channel commands: list, create, join by invite code, leave, mute, and
//! the invite as a QR code for a phone or another screen to read.
//!
//! The window names a channel by its id (`#<id>` when it is the open
//! conversation), which stays unique where names may repeat.

use qrcode::render::svg;
use qrcode::QrCode;
use tauri::State;

use crate::node::Running;
use crate::types::{ApiError, ChannelInfo, ErrorKind};

type Reply<T> = Result<T, ApiError>;

/// The channels this node is in.
#[tauri::command]
#[specta::specta]
pub async fn channels(node: State<'_, Running>) -> Reply<Vec<ChannelInfo>> {
    let channels = node.handle()?.channels().await?;
    Ok(channels.into_iter().map(ChannelInfo::from).collect())
}

/// Makes a channel called `name` and joins it.
#[tauri::command]
#[specta::specta]
pub async fn create_channel(node: State<'_, Running>, name: String) -> Reply<ChannelInfo> {
    Ok(node.handle()?.create_channel(name).await?.into())
}

/// Joins the channel an invite code stands for (again is harmless).
#[tauri::command]
#[specta::specta]
pub async fn join_channel(node: State<'_, Running>, invite: String) -> Reply<ChannelInfo> {
    Ok(node
        .handle()?
        .join_channel(invite.trim().to_string())
        .await?
        .into())
}

/// Leaves channel `id`; its messages stay.
#[tauri::command]
#[specta::specta]
pub async fn leave_channel(node: State<'_, Running>, id: String) -> Reply<()> {
    Ok(node.handle()?.leave_channel(id).await?)
}

/// Mutes or unmutes channel `id`'s live messages (they are still kept).
#[tauri::command]
#[specta::specta]
pub async fn mute_channel(node: State<'_, Running>, id: String, muted: bool) -> Reply<ChannelInfo> {
    Ok(node.handle()?.mute_channel(id, muted).await?.into())
}

/// The invite code as a QR code, an SVG document.
#[tauri::command]
#[specta::specta]
pub fn invite_qr(invite: String) -> Reply<String> {
    qr_svg(&invite)
}

fn qr_svg(text: &str) -> Reply<String> {
    let code = QrCode::new(text.as_bytes())
        .map_err(|e| ApiError::new(ErrorKind::BadRequest, format!("no QR code for that: {e}")))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    // An invite-sized text makes an SVG; a text too long for any QR
    // version is a bad request, not a panic.
    #[test]
    fn invite_becomes_svg_and_oversized_text_is_refused() {
        let invite = format!("hark-channel:{}", "A".repeat(90));
        let svg = qr_svg(&invite).expect("an invite fits a QR code");
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");

        let err = qr_svg(&"x".repeat(8000)).expect_err("too long for a QR code");
        assert_eq!(err.kind, ErrorKind::BadRequest);
    }
}
