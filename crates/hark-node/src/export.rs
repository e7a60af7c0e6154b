//! Opening a stored message and writing it as Ogg Opus or WAV.

use std::fs::File;
use std::io::BufWriter;
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
/// next to `out` under a temporary name and renamed at the end, so a failed
/// export leaves nothing behind.
pub(crate) fn export(shared: &Shared, id: &MessageId, out: &Path) -> Result<(), api::Error> {
    let format = format_of(out)?;
    let (header, trailer, packets) = open(shared, id)?;

    let tmp = out.with_extension("hark-partial");
    let result = write(
        &tmp,
        &format,
        &packets,
        header.codec.pre_skip,
        trailer.sample_count,
    );
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, out).map_err(|e| io_error(out, &e))
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
    path: &Path,
    format: &Format,
    packets: &[Vec<u8>],
    pre_skip: u16,
    sample_count: u64,
) -> Result<(), api::Error> {
    let file = File::create(path).map_err(|e| io_error(path, &e))?;
    let mut w = BufWriter::new(file);
    let failed = |e: &dyn std::fmt::Display| io_error(path, e);

    match format {
        Format::OggOpus => {
            hark_audio::export::write_ogg_opus(&mut w, packets, pre_skip, sample_count)
                .map_err(|e| failed(&e))?;
        }
        Format::Wav => {
            let pcm = hark_audio::codec::decode_packets(packets, pre_skip, sample_count)
                .map_err(|e| failed(&e))?;
            hark_audio::export::write_wav(&mut w, &pcm).map_err(|e| failed(&e))?;
        }
    }
    let file = w.into_inner().map_err(|e| failed(&e.error()))?;
    file.sync_all().map_err(|e| failed(&e))
}

fn io_error(path: &Path, e: &dyn std::fmt::Display) -> api::Error {
    api::Error::new(ErrorKind::BadRequest, format!("{}: {e}", path.display()))
}
