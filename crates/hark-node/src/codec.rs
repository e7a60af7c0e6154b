//! Frames Hark's wire messages on request-response streams: an
//! unsigned-varint length, then the postcard body (`hark_proto::wire`).

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use hark_proto::wire::{self, Request, Response, MAX_WIRE_BYTES};
use libp2p::StreamProtocol;

/// The protocol name for fetching messages, offers and receipts.
pub(crate) const PROTOCOL: StreamProtocol = StreamProtocol::new("/hark/msg/1");

/// Stateless codec for `/hark/msg/1`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Codec;

impl libp2p::request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_message(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_message(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Request,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_message(io, &req).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Response,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_message(io, &res).await
    }
}

pub(crate) async fn read_message<T, M>(io: &mut T) -> io::Result<M>
where
    T: AsyncRead + Unpin + Send,
    M: serde::de::DeserializeOwned,
{
    let len = unsigned_varint::aio::read_usize(&mut *io)
        .await
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;

    // The length comes from the peer: check it before allocating.
    if len > MAX_WIRE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("wire message of {len} bytes exceeds the limit"),
        ));
    }
    let mut body = vec![0; len];
    io.read_exact(&mut body).await?;

    wire::decode(&body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

pub(crate) async fn write_message<T, M>(io: &mut T, message: &M) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
    M: serde::Serialize,
{
    let body = wire::encode(message).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut prefix = unsigned_varint::encode::usize_buffer();
    let prefix = unsigned_varint::encode::usize(body.len(), &mut prefix);

    io.write_all(prefix).await?;
    io.write_all(&body).await?;
    io.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::Cursor;
    use hark_proto::ids::MessageId;

    // A request written by the codec reads back identically.
    #[tokio::test]
    async fn request_round_trips() -> Result<(), Box<dyn std::error::Error>> {
        let request = Request::FetchFrames {
            id: MessageId::random(),
            start: 7,
            max: 500,
        };
        let mut buf = Cursor::new(Vec::new());
        write_message(&mut buf, &request).await?;

        buf.set_position(0);
        let back: Request = read_message(&mut buf).await?;
        assert_eq!(back, request);
        Ok(())
    }

    // A length prefix above the limit is refused before any allocation.
    #[tokio::test]
    async fn oversized_length_is_refused() {
        let mut prefix = unsigned_varint::encode::usize_buffer();
        let prefix = unsigned_varint::encode::usize(MAX_WIRE_BYTES + 1, &mut prefix);
        let mut buf = Cursor::new(prefix.to_vec());

        let err = read_message::<_, Request>(&mut buf).await.err();
        assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::InvalidData));
    }

    // A body cut short is an error, not a hang or a panic.
    #[tokio::test]
    async fn truncated_body_is_an_error() -> Result<(), Box<dyn std::error::Error>> {
        let mut buf = Cursor::new(Vec::new());
        write_message(
            &mut buf,
            &Request::Offer {
                ids: vec![MessageId::random()],
            },
        )
        .await?;
        let mut bytes = buf.into_inner();
        bytes.truncate(bytes.len() - 3);

        let result = read_message::<_, Request>(&mut Cursor::new(bytes)).await;
        assert!(result.is_err());
        Ok(())
    }
}
