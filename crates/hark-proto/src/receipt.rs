//! Signed receipts: a recipient tells the sender a message was delivered
//! to its device or heard by its user.

use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};

use crate::envelope::EnvelopeError;
use crate::identity::{decode_signing_key, verify_with, Identity};
use crate::ids::MessageId;

/// Signature context of receipts.
pub const RECEIPT_CONTEXT: &str = "hark/v1/receipt";

/// What happened to the message at the recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ReceiptKind {
    /// The complete message is stored on the recipient's device.
    Delivered,
    /// The recipient played it.
    Heard,
}

/// A recipient's statement about one message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Receipt {
    /// The message.
    pub id: MessageId,
    /// Who sends the receipt; equals the PeerId of the signing key.
    #[serde(with = "crate::ids::peer_serde")]
    pub recipient: PeerId,
    /// Delivered or heard.
    pub kind: ReceiptKind,
    /// Recipient's clock (ms since the Unix epoch).
    pub at_ms: u64,
}

/// A [`Receipt`] as sent: signing key, postcard body and a signature over
/// `"hark/v1/receipt" || 0x00 || body`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignedReceipt {
    /// Protobuf-encoded libp2p public key of the recipient.
    pub signing_key: Vec<u8>,
    /// postcard-encoded [`Receipt`].
    pub body: Vec<u8>,
    /// ed25519 signature, see the type docs.
    pub signature: Vec<u8>,
}

impl SignedReceipt {
    /// Signs a receipt by `identity` for message `id`.
    pub fn sign(
        identity: &Identity,
        id: MessageId,
        kind: ReceiptKind,
        at_ms: u64,
    ) -> SignedReceipt {
        let receipt = Receipt {
            id,
            recipient: identity.peer_id(),
            kind,
            at_ms,
        };
        let body = postcard::to_allocvec(&receipt)
            .expect("postcard encodes fixed-size fields and a PeerId into a Vec without fail");

        SignedReceipt {
            signing_key: identity.keypair().public().encode_protobuf(),
            signature: identity.sign(RECEIPT_CONTEXT, &body),
            body,
        }
    }

    /// Checks the signature and that `recipient` is the signer.
    ///
    /// The caller still has to check that the recipient was addressed by
    /// the message (`Header::recipients`); a valid receipt from a stranger
    /// proves only that the stranger signed it.
    pub fn verify(&self) -> Result<Receipt, EnvelopeError> {
        let key = decode_signing_key(&self.signing_key)
            .ok_or_else(|| EnvelopeError::Malformed("receipt signing key".into()))?;
        if !verify_with(&key, RECEIPT_CONTEXT, &self.body, &self.signature) {
            return Err(EnvelopeError::BadSignature);
        }

        let receipt: Receipt = crate::wire::decode_exact(&self.body)
            .map_err(|e| EnvelopeError::Malformed(format!("receipt: {e}")))?;
        if receipt.recipient != key.to_peer_id() {
            return Err(EnvelopeError::SignerMismatch);
        }
        Ok(receipt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A signed receipt verifies to the same fields, with the signer as recipient.
    #[test]
    fn sign_and_verify() -> Result<(), EnvelopeError> {
        let id = Identity::generate();
        let msg = MessageId([3; 16]);
        let receipt = SignedReceipt::sign(&id, msg, ReceiptKind::Heard, 42).verify()?;
        assert_eq!(
            receipt,
            Receipt {
                id: msg,
                recipient: id.peer_id(),
                kind: ReceiptKind::Heard,
                at_ms: 42
            }
        );
        Ok(())
    }

    // A receipt naming someone else as recipient is refused even if signed.
    #[test]
    fn recipient_must_be_signer() -> Result<(), postcard::Error> {
        let signer = Identity::generate();
        let receipt = Receipt {
            id: MessageId([1; 16]),
            recipient: Identity::generate().peer_id(),
            kind: ReceiptKind::Delivered,
            at_ms: 1,
        };
        let body = postcard::to_allocvec(&receipt)?;
        let forged = SignedReceipt {
            signing_key: signer.keypair().public().encode_protobuf(),
            signature: signer.sign(RECEIPT_CONTEXT, &body),
            body,
        };
        assert_eq!(forged.verify(), Err(EnvelopeError::SignerMismatch));
        Ok(())
    }

    // Flipped bits across every field of body and signature are caught.
    // Sampled (one bit in every fifth byte, rotating through bit positions):
    // an ed25519 verify costs ~9 ms in a debug build.
    #[test]
    fn tampering_is_detected() {
        let id = Identity::generate();
        let good = SignedReceipt::sign(&id, MessageId([9; 16]), ReceiptKind::Delivered, 7);
        let body_bits = good.body.len() * 8;
        let all_bits = body_bits + good.signature.len() * 8;
        for bit in (0..all_bits).step_by(41) {
            let mut bad = good.clone();
            let (field, at) = if bit < body_bits {
                (&mut bad.body, bit)
            } else {
                (&mut bad.signature, bit - body_bits)
            };
            field[at / 8] ^= 1 << (at % 8);
            assert_eq!(bad.verify(), Err(EnvelopeError::BadSignature), "bit {bit}");
        }
    }
}
