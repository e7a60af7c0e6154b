//! Opening a stored message and writing it as Ogg Opus or WAV.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use hark_proto::ids::MessageId;

use crate::api::{self, ErrorKind};
use crate::handle::{storage, Shared};

/// The formats a message can be exported to, chosen by file extension.
enum Format {
    OggOpus,
    Wav,
}

/// Opens message `id` and writes it to `out`. Blocking. The file is written
/// beside `out` under a fresh temporary name and renamed at the end, so a
/// failed export leaves nothing behind and two exports at once cannot
/// write into each other's file.
pub(crate) fn export(shared: &Shared, id: &MessageId, out: &Path) -> Result<(), api::Error> {
    let format = format_of(out)?;
    let (header, trailer, packets) = open(shared, id)?;

    let folder = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".hark-export-")
        .tempfile_in(folder)
        .map_err(|e| io_error(out, &e))?;
    let codec = &header.codec;
    write(
        tmp.as_file_mut(),
        &format,
        &packets,
        codec.pre_skip,
        trailer.sample_count,
    )
    .map_err(|e| io_error(out, &e))?;
    // On failure the temporary file is removed when `tmp` drops.
    tmp.persist(out).map_err(|e| io_error(out, &e.error))?;
    Ok(())
}

fn format_of(out: &Path) -> Result<Format, api::Error> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("opus") | Some("ogg") => Ok(Format::OggOpus),
        Some("wav") => Ok(Format::Wav),
        _ => Err(api::Error::new(
            ErrorKind::BadRequest,
            format!("{}: export to .opus, .ogg or .wav", out.display()),
        )),
    }
}

type Opened = (
    hark_proto::envelope::Header,
    hark_proto::envelope::Trailer,
    Vec<Vec<u8>>,
);

/// Loads and decrypts a whole stored message.
pub(crate) fn open(shared: &Shared, id: &MessageId) -> Result<Opened, api::Error> {
    let store = &shared.store;
    let record = store
        .message(id)
        .map_err(storage)?
        .ok_or_else(|| api::Error::new(ErrorKind::NotFound, format!("no message {id}")))?;
    let Some(trailer) = &record.trailer else {
        return Err(api::Error::new(
            ErrorKind::NotFound,
            format!("message {id} is still arriving"),
        ));
    };
    let frames = store.frames(id, 0, record.frame_count).map_err(storage)?;

    crate::channels::open_message(shared, &record.header, &frames, trailer).map_err(|e| {
        api::Error::new(
            ErrorKind::Internal,
            format!("message {id} cannot be opened: {e}"),
        )
    })
}

fn write(
    file: &mut File,
    format: &Format,
    packets: &[Vec<u8>],
    pre_skip: u16,
    sample_count: u64,
) -> Result<(), String> {
    let mut w = BufWriter::new(&mut *file);
    match format {
        Format::OggOpus => {
            hark_audio::export::write_ogg_opus(&mut w, packets, pre_skip, sample_count)
                .map_err(|e| e.to_string())?;
        }
        Format::Wav => {
            let pcm = hark_audio::codec::decode_packets(packets, pre_skip, sample_count)
                .map_err(|e| e.to_string())?;
            hark_audio::export::write_wav(&mut w, &pcm).map_err(|e| e.to_string())?;
        }
    }
    w.flush().map_err(|e| e.to_string())?;
    drop(w);
    file.sync_all().map_err(|e| e.to_string())
}

fn io_error(path: &Path, e: &dyn std::fmt::Display) -> api::Error {
    api::Error::new(ErrorKind::BadRequest, format!("{}: {e}", path.display()))
}
