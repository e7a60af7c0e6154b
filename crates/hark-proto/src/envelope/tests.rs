//! Envelope tests: round trips, every rejection path, and proptests.
//!
//! Debug builds of the curve libraries are slow (~9 ms per ed25519 verify),
//! so identities come from a shared pool and header/trailer bit flips are
//! sampled by proptest; the `exhaustive_*` tests (ignored by default) flip
//! every bit and are meant for `cargo test --release -- --ignored`.

use std::sync::OnceLock;

use proptest::prelude::*;

use super::check::check_frames;
use super::*;
use crate::identity::Identity;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// 48 kHz, 20 ms frames, as hark-audio uses.
const CODEC: Codec = Codec {
    sample_rate: 48_000,
    frame_samples: 960,
    pre_skip: 312,
    bitrate: 24_000,
};

/// Six identities shared by all tests (key generation is slow in debug).
fn people() -> &'static [Identity] {
    static POOL: OnceLock<Vec<Identity>> = OnceLock::new();
    POOL.get_or_init(|| (0..6).map(|_| Identity::generate()).collect())
}

/// A sealed message as it would sit in a store.
#[derive(Clone)]
struct Message {
    header: SignedHeader,
    frames: Vec<SealedFrame>,
    trailer: SignedTrailer,
}

/// Seals `packets` from `sender` to `recipients` (as given, no sender added).
fn seal(
    sender: &Identity,
    recipients: &[&Identity],
    packets: &[Vec<u8>],
) -> Result<Message, EnvelopeError> {
    let publics: Vec<_> = recipients.iter().map(|r| r.public()).collect();
    let (mut sealer, header) = Sealer::new(sender, &publics, CODEC, 1_700_000_000_000)?;
    let frames = seal_all(&mut sealer, packets)?;
    let samples = packets.len() as u64 * u64::from(CODEC.frame_samples) - 123;
    let trailer = sealer.finish(samples)?;
    Ok(Message {
        header,
        frames,
        trailer,
    })
}

/// Seals each packet, marking the final one last.
fn seal_all(sealer: &mut Sealer, packets: &[Vec<u8>]) -> Result<Vec<SealedFrame>, EnvelopeError> {
    let n = packets.len();
    packets
        .iter()
        .enumerate()
        .map(|(i, p)| sealer.seal_frame(p, i + 1 == n))
        .collect()
}

/// Three distinct small packets.
fn packets3() -> Vec<Vec<u8>> {
    vec![vec![1; 10], vec![2; 33], vec![3; 7]]
}

/// Opens `msg` completely as `who`.
fn open(who: &Identity, msg: &Message) -> Result<Vec<Vec<u8>>, EnvelopeError> {
    open_message(who, &msg.header, &msg.frames, &msg.trailer).map(|(_, _, p)| p)
}

/// Signs an arbitrary (possibly invalid) header as `signer`.
fn resign(signer: &Identity, header: &Header) -> Result<SignedHeader, postcard::Error> {
    let body = postcard::to_allocvec(header)?;
    let signature = signer.sign(HEADER_CONTEXT, &body);
    Ok(SignedHeader { body, signature })
}

/// Flips bit `bit` of `bytes`.
fn flip(bytes: &mut [u8], bit: usize) {
    bytes[bit / 8] ^= 1 << (bit % 8);
}

// Sender and recipient both open a message and get the packets back.
#[test]
fn round_trip_for_sender_and_recipient() -> TestResult {
    let [alice, bob, ..] = people() else {
        unreachable!()
    };
    let msg = seal(alice, &[alice, bob], &packets3())?;

    for who in [alice, bob] {
        let (header, trailer, packets) = open_message(who, &msg.header, &msg.frames, &msg.trailer)?;
        assert_eq!(packets, packets3());
        assert_eq!(header.sender, alice.peer_id());
        assert_eq!(header.recipients(), vec![alice.peer_id(), bob.peer_id()]);
        assert_eq!(trailer.frame_count, 3);
        assert_eq!(trailer.sample_count, 3 * 960 - 123);
        assert_eq!(trailer.id, header.id);
    }
    Ok(())
}

// Someone not addressed, or a recipient whose key rotated, cannot open it.
#[test]
fn outsiders_are_not_recipients() -> TestResult {
    let [alice, bob, carol, ..] = people() else {
        unreachable!()
    };
    let msg = seal(alice, &[bob], &packets3())?;

    assert_eq!(open(carol, &msg).err(), Some(EnvelopeError::NotARecipient));
    assert_eq!(open(alice, &msg).err(), Some(EnvelopeError::NotARecipient));
    let rotated = bob.with_rotated_agreement_key();
    let err = Opener::new(&rotated, &msg.header).err();
    assert_eq!(err, Some(EnvelopeError::NotARecipient));
    // Anyone can still check completeness without the key.
    let (header, _) = verify_message(&msg.header, &msg.frames, &msg.trailer)?;
    assert_eq!(header.recipients(), vec![bob.peer_id()]);
    Ok(())
}

// Sealer state rules: no frame after last, no finish before last.
#[test]
fn sealer_state_rules() -> TestResult {
    let [alice, bob, ..] = people() else {
        unreachable!()
    };
    let (mut sealer, _) = Sealer::new(alice, &[bob.public()], CODEC, 0)?;
    let first = sealer.seal_frame(b"a", false)?;
    assert_eq!((first.index, first.last), (0, false));
    let big = vec![0; MAX_PACKET_BYTES + 1];
    let err = sealer.seal_frame(&big, false).err();
    assert_eq!(
        err,
        Some(EnvelopeError::PacketTooLarge {
            len: MAX_PACKET_BYTES + 1,
            max: MAX_PACKET_BYTES
        })
    );
    let last = sealer.seal_frame(b"b", true)?;
    assert_eq!((last.index, last.last), (1, true));
    assert_eq!(
        sealer.seal_frame(b"c", false).err(),
        Some(EnvelopeError::AlreadyFinished)
    );
    let too_many = sealer.finish(2 * 960 + 1).err();
    assert_eq!(
        too_many,
        Some(EnvelopeError::SampleCount {
            sample_count: 1921,
            max: 1920
        })
    );

    let (mut open_ended, _) = Sealer::new(alice, &[bob.public()], CODEC, 0)?;
    open_ended.seal_frame(b"a", false)?;
    assert_eq!(open_ended.finish(10).err(), Some(EnvelopeError::Unfinished));
    Ok(())
}

// Recipient lists: empty refused, repeats wrapped once, bad keys named.
#[test]
fn recipient_list_rules() -> TestResult {
    let [alice, bob, ..] = people() else {
        unreachable!()
    };
    let err = Sealer::new(alice, &[], CODEC, 0).err();
    assert_eq!(err, Some(EnvelopeError::RecipientCount(0)));

    let (_, header) = Sealer::new(alice, &[bob.public(), bob.public()], CODEC, 0)?;
    let Audience::Direct(wraps) = header.verify()?.audience else {
        return Err("expected a direct audience".into());
    };
    assert_eq!(wraps.len(), 1);

    // The all-zero X25519 point has low order: HPKE must refuse it.
    let mut broken = bob.public();
    broken.agreement_key = [0; 32];
    let err = Sealer::new(alice, &[broken], CODEC, 0).err();
    assert_eq!(
        err,
        Some(EnvelopeError::BadRecipientKey {
            peer: bob.peer_id()
        })
    );

    let bad_codec = Codec {
        frame_samples: 0,
        ..CODEC
    };
    let err = Sealer::new(alice, &[bob.public()], bad_codec, 0).err();
    assert!(matches!(err, Some(EnvelopeError::Malformed(_))));
    Ok(())
}

// Validly signed headers that break the rules are still refused.
#[test]
fn signed_but_invalid_headers() -> TestResult {
    let [alice, bob, carol, ..] = people() else {
        unreachable!()
    };
    let msg = seal(alice, &[bob, carol], &packets3())?;
    let good = msg.header.verify()?;

    let future = Header {
        version: 2,
        ..good.clone()
    };
    let err = resign(alice, &future)?.verify().err();
    assert_eq!(err, Some(EnvelopeError::UnsupportedVersion(2)));

    let impostor = Header {
        sender: bob.peer_id(),
        ..good.clone()
    };
    let err = resign(alice, &impostor)?.verify().err();
    assert_eq!(err, Some(EnvelopeError::SignerMismatch));

    let Audience::Direct(wraps) = &good.audience else {
        return Err("expected a direct audience".into());
    };
    let mut doubled = wraps.clone();
    doubled.push(wraps[0].clone());
    let repeated = Header {
        audience: Audience::Direct(doubled),
        ..good.clone()
    };
    let err = resign(alice, &repeated)?.verify().err();
    assert!(matches!(err, Some(EnvelopeError::Malformed(_))));

    let nobody = Header {
        audience: Audience::Direct(Vec::new()),
        ..good
    };
    let err = resign(alice, &nobody)?.verify().err();
    assert_eq!(err, Some(EnvelopeError::RecipientCount(0)));
    Ok(())
}

// Swapping two recipients' wraps breaks the signature; re-signed by the
// sender, each recipient's HPKE open fails instead.
#[test]
fn swapped_wraps_do_not_open() -> TestResult {
    let [alice, bob, carol, ..] = people() else {
        unreachable!()
    };
    let msg = seal(alice, &[bob, carol], &packets3())?;
    let mut header = msg.header.verify()?;
    let Audience::Direct(wraps) = &mut header.audience else {
        return Err("expected a direct audience".into());
    };
    let (first, second) = wraps.split_at_mut(1);
    std::mem::swap(&mut first[0].encapped_key, &mut second[0].encapped_key);
    std::mem::swap(&mut first[0].wrapped_key, &mut second[0].wrapped_key);

    let unsigned = SignedHeader {
        body: postcard::to_allocvec(&header)?,
        signature: msg.header.signature.clone(),
    };
    assert_eq!(unsigned.verify().err(), Some(EnvelopeError::BadSignature));

    let resigned = resign(alice, &header)?;
    for who in [bob, carol] {
        assert_eq!(
            Opener::new(who, &resigned).err(),
            Some(EnvelopeError::Unwrap)
        );
    }
    Ok(())
}

// A wrap copied from another message (other id) does not unwrap.
#[test]
fn wrap_from_another_message_does_not_open() -> TestResult {
    let [alice, bob, ..] = people() else {
        unreachable!()
    };
    let one = seal(alice, &[bob], &packets3())?;
    let two = seal(alice, &[bob], &packets3())?;
    let mut header = one.header.verify()?;
    header.audience = two.header.verify()?.audience;
    let spliced = resign(alice, &header)?;
    assert_eq!(
        Opener::new(bob, &spliced).err(),
        Some(EnvelopeError::Unwrap)
    );
    Ok(())
}

// Every single bit flip in every frame ciphertext fails both the AEAD and
// the key-less hash check (cheap enough to be exhaustive).
#[test]
fn every_frame_bit_flip_is_rejected() -> TestResult {
    let [alice, bob, ..] = people() else {
        unreachable!()
    };
    let msg = seal(alice, &[bob], &packets3())?;
    let (opener, _) = Opener::new(bob, &msg.header)?;
    let (_, trailer) = verify_message(&msg.header, &msg.frames, &msg.trailer)?;

    for (i, frame) in msg.frames.iter().enumerate() {
        for bit in 0..frame.ciphertext.len() * 8 {
            let mut frames = msg.frames.clone();
            flip(&mut frames[i].ciphertext, bit);
            let index = frame.index;
            assert_eq!(
                opener.open_frame(&frames[i]),
                Err(EnvelopeError::FrameAuth { index })
            );
            assert_eq!(
                check_frames(&frames, &trailer),
                Err(EnvelopeError::HashMismatch)
            );
        }
    }
    Ok(())
}

// Renumbering a frame or changing its last flag breaks its authentication.
#[test]
fn frame_metadata_is_authenticated() -> TestResult {
    let [alice, bob, ..] = people() else {
        unreachable!()
    };
    let msg = seal(alice, &[bob], &packets3())?;
    let (opener, _) = Opener::new(bob, &msg.header)?;

    let mut renumbered = msg.frames[1].clone();
    renumbered.index = 0;
    assert_eq!(
        opener.open_frame(&renumbered),
        Err(EnvelopeError::FrameAuth { index: 0 })
    );
    let mut fake_end = msg.frames[1].clone();
    fake_end.last = true;
    assert_eq!(
        opener.open_frame(&fake_end),
        Err(EnvelopeError::FrameAuth { index: 1 })
    );
    let mut short = msg.frames[0].clone();
    short.ciphertext.truncate(TAG_BYTES - 1);
    assert_eq!(
        opener.open_frame(&short),
        Err(EnvelopeError::FrameAuth { index: 0 })
    );
    Ok(())
}

// A frame moved into another message with the same key holder fails.
#[test]
fn frame_moved_between_messages_is_rejected() -> TestResult {
    let [alice, bob, ..] = people() else {
        unreachable!()
    };
    let one = seal(alice, &[bob], &packets3())?;
    let two = seal(alice, &[bob], &packets3())?;
    let (opener, _) = Opener::new(bob, &one.header)?;
    assert_eq!(
        opener.open_frame(&two.frames[0]),
        Err(EnvelopeError::FrameAuth { index: 0 })
    );

    let mut mixed = one.clone();
    mixed.frames[0] = two.frames[0].clone();
    let err = verify_message(&mixed.header, &mixed.frames, &mixed.trailer).err();
    assert_eq!(err, Some(EnvelopeError::HashMismatch));
    Ok(())
}

// Dropped, truncated, duplicated, reordered or extra frames are refused.
#[test]
fn frame_sequence_damage() -> TestResult {
    let [alice, bob, ..] = people() else {
        unreachable!()
    };
    let packets: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 20]).collect();
    let msg = seal(alice, &[bob], &packets)?;
    let (_, trailer) = verify_message(&msg.header, &msg.frames, &msg.trailer)?;
    let f = &msg.frames;

    let dropped = [&f[..2], &f[3..]].concat();
    let truncated = f[..4].to_vec();
    let duplicated = [&f[..3], &f[2..]].concat();
    let mut reordered = f.clone();
    reordered.swap(1, 2);
    let mut extra = f.clone();
    extra.push(f[4].clone());

    let check = |frames: &[SealedFrame]| check_frames(frames, &trailer).err();
    assert_eq!(check(&dropped), Some(EnvelopeError::FrameOrder));
    assert_eq!(check(&truncated), Some(EnvelopeError::Truncated));
    assert_eq!(check(&[]), Some(EnvelopeError::Truncated));
    assert_eq!(check(&duplicated), Some(EnvelopeError::FrameOrder));
    assert_eq!(check(&reordered), Some(EnvelopeError::FrameOrder));
    assert_eq!(check(&extra), Some(EnvelopeError::FrameOrder));
    let err = verify_message(&msg.header, &truncated, &msg.trailer).err();
    assert_eq!(err, Some(EnvelopeError::Truncated));
    Ok(())
}

// A trailer only fits the header it was signed with.
#[test]
fn trailer_is_bound_to_its_header() -> TestResult {
    let [alice, bob, ..] = people() else {
        unreachable!()
    };
    let one = seal(alice, &[bob], &packets3())?;
    let two = seal(alice, &[bob], &packets3())?;
    let err = verify_message(&one.header, &one.frames, &two.trailer).err();
    assert_eq!(err, Some(EnvelopeError::BadSignature));

    // Signed for this header but naming another id.
    let mut trailer: Trailer = postcard::from_bytes(&one.trailer.body)?;
    trailer.id = two.header.verify()?.id;
    let body = postcard::to_allocvec(&trailer)?;
    let covered = [&one.header.hash()[..], &body].concat();
    let signature = alice.sign(TRAILER_CONTEXT, &covered);
    let other_id = SignedTrailer { body, signature };
    assert_eq!(
        other_id.verify(&one.header).err(),
        Some(EnvelopeError::IdMismatch)
    );
    let (_, good) = one.trailer.verify(&one.header)?;
    assert_eq!(good.frame_count, 3);
    Ok(())
}

// A sender cannot seal more frames than a receiver accepts: index
// MAX_FRAMES - 1 is the last that seals, and a trailer signed for more
// frames is refused. (Both sides once had their own limit, one frame apart.)
#[test]
fn frame_limit_is_shared_by_sealer_and_checker() -> TestResult {
    let [alice, bob, ..] = people() else {
        unreachable!()
    };
    let (mut sealer, _) = Sealer::new(alice, &[bob.public()], CODEC, 0)?;
    for _ in 0..MAX_FRAMES - 1 {
        sealer.seal_frame(b"x", false)?;
    }
    let at_limit = sealer.seal_frame(b"x", false)?;
    assert_eq!(at_limit.index, MAX_FRAMES - 1);
    assert_eq!(
        sealer.seal_frame(b"x", true).err(),
        Some(EnvelopeError::TooManyFrames { max: MAX_FRAMES })
    );

    let one = seal(alice, &[bob], &packets3())?;
    let mut trailer: Trailer = postcard::from_bytes(&one.trailer.body)?;
    trailer.frame_count = MAX_FRAMES + 1;
    let body = postcard::to_allocvec(&trailer)?;
    let covered = [&one.header.hash()[..], &body].concat();
    let signature = alice.sign(TRAILER_CONTEXT, &covered);
    let long = SignedTrailer { body, signature };
    assert_eq!(
        long.verify(&one.header).err(),
        Some(EnvelopeError::TooManyFrames { max: MAX_FRAMES })
    );
    Ok(())
}

// A message cut off mid-way is taken up from its stored frames and
// finished: it then opens whole, like one sealed in one go. Someone
// else's message, a gap, or frames of another message are refused.
#[test]
fn interrupted_message_resumes_and_finishes() -> TestResult {
    let [alice, bob, carol, ..] = people() else {
        unreachable!()
    };
    let publics = [alice.public(), bob.public()];
    let (mut sealer, header) = Sealer::new(alice, &publics, CODEC, 5)?;
    let stored: Vec<SealedFrame> = packets3()
        .iter()
        .map(|p| sealer.seal_frame(p, false))
        .collect::<Result<_, _>>()?;
    drop(sealer);

    let mut resumed = Sealer::resume(alice, &header, None, &stored)?;
    let last = resumed.seal_frame(&[0; 3], true)?;
    assert_eq!(last.index, 3);
    let trailer = resumed.finish(3 * 960)?;
    let frames = [stored.clone(), vec![last]].concat();
    let (_, _, packets) = open_message(bob, &header, &frames, &trailer)?;
    assert_eq!(packets[..3], packets3()[..]);

    let not_ours = Sealer::resume(carol, &header, None, &stored).err();
    assert!(matches!(not_ours, Some(EnvelopeError::Malformed(_))));
    let gap = [stored[0].clone(), stored[2].clone()];
    let err = Sealer::resume(alice, &header, None, &gap).err();
    assert_eq!(err, Some(EnvelopeError::FrameOrder));
    let other = seal(alice, &[bob], &packets3())?;
    let err = Sealer::resume(alice, &header, None, &other.frames[..1]).err();
    assert_eq!(err, Some(EnvelopeError::FrameAuth { index: 0 }));
    Ok(())
}

// Channel messages open with the channel key and only through for_channel.
#[test]
fn channel_round_trip() -> TestResult {
    let [alice, bob, ..] = people() else {
        unreachable!()
    };
    let channel_id = [5; 16];
    let key = [6; 32];
    let (mut sealer, header) = Sealer::for_channel(alice, channel_id, &key, CODEC, 9)?;
    let frame = sealer.seal_frame(b"hello", true)?;
    let trailer = sealer.finish(960)?;

    let (opener, decoded) = Opener::for_channel(&header, &key)?;
    assert_eq!(opener.open_frame(&frame)?, b"hello".to_vec());
    assert_eq!(decoded.audience, Audience::Channel { channel_id });
    assert!(decoded.recipients().is_empty());
    verify_message(&header, std::slice::from_ref(&frame), &trailer)?;

    let (wrong, _) = Opener::for_channel(&header, &[7; 32])?;
    assert_eq!(
        wrong.open_frame(&frame),
        Err(EnvelopeError::FrameAuth { index: 0 })
    );
    assert_eq!(
        Opener::new(bob, &header).err(),
        Some(EnvelopeError::AudienceMismatch)
    );
    let direct = seal(alice, &[bob], &packets3())?;
    assert_eq!(
        Opener::for_channel(&direct.header, &key).err(),
        Some(EnvelopeError::AudienceMismatch)
    );
    Ok(())
}

// Nonce and AAD layouts are exactly as docs/envelope.md describes.
#[test]
fn nonce_and_aad_layout() {
    let id = crate::ids::MessageId([0xaa; 16]);
    let nonce = frame_nonce(&id, 0x0403_0201);
    assert_eq!(&nonce[..16], &[0xaa; 16]);
    assert_eq!(&nonce[16..], &[1, 2, 3, 4, 0, 0, 0, 0]);

    let aad = frame_aad(&[0x55; 32], 0x0403_0201, true);
    assert_eq!(&aad[..32], &[0x55; 32]);
    assert_eq!(&aad[32..], &[1, 2, 3, 4, 1]);
}

// Any change to the signature changes the header hash frames depend on.
#[test]
fn header_hash_covers_signature() -> TestResult {
    let [alice, bob, ..] = people() else {
        unreachable!()
    };
    let msg = seal(alice, &[bob], &packets3())?;
    let mut other = msg.header.clone();
    other.signature[0] ^= 1;
    assert_ne!(other.hash(), msg.header.hash());
    // Moving a byte from body to signature changes it too.
    let mut shifted = msg.header.clone();
    let byte = shifted.body.pop().ok_or("empty body")?;
    shifted.signature.insert(0, byte);
    assert_ne!(shifted.hash(), msg.header.hash());
    Ok(())
}

/// Random packets: 1..50 of 1..200 bytes.
fn arb_packets() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 1..200), 1..50)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10))]

    // Any packets to 1..4 recipients: every recipient opens them unchanged.
    #[test]
    fn prop_round_trip(packets in arb_packets(), count in 1usize..=4, sender in 0usize..6) {
        let pool = people();
        let recipients: Vec<&Identity> =
            (1..=count).map(|k| &pool[(sender + k) % pool.len()]).collect();
        let msg = seal(&pool[sender], &recipients, &packets)?;
        for who in &recipients {
            prop_assert_eq!(&open(who, &msg)?, &packets);
        }
        let outsider = &pool[(sender + 5) % pool.len()];
        prop_assert_eq!(open(outsider, &msg).err(), Some(EnvelopeError::NotARecipient));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    // Random header, trailer and frame bytes give errors, never panics.
    #[test]
    fn prop_random_envelope_bytes_rejected(
        body in prop::collection::vec(any::<u8>(), 0..400),
        signature in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        let header = SignedHeader { body: body.clone(), signature: signature.clone() };
        prop_assert!(header.verify().is_err());
        let trailer = SignedTrailer { body, signature };
        prop_assert!(trailer.verify(&fixture().header).is_err());
    }
}

/// One message used by the rejection proptests, sealed once.
fn fixture() -> &'static Message {
    static MSG: OnceLock<Message> = OnceLock::new();
    MSG.get_or_init(|| {
        let [alice, bob, carol, ..] = people() else {
            unreachable!()
        };
        let packets: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 30]).collect();
        seal(alice, &[alice, bob, carol], &packets).expect("sealing valid input succeeds")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    // A flipped bit anywhere in the signed header (body or signature) is
    // refused by verification and by every recipient.
    #[test]
    fn prop_header_bit_flip_rejected(pick in any::<prop::sample::Index>()) {
        let msg = fixture();
        let body_bits = msg.header.body.len() * 8;
        let bit = pick.index(body_bits + msg.header.signature.len() * 8);
        let mut header = msg.header.clone();
        if bit < body_bits {
            flip(&mut header.body, bit);
        } else {
            flip(&mut header.signature, bit - body_bits);
            prop_assert_eq!(header.verify().err(), Some(EnvelopeError::BadSignature));
        }
        prop_assert!(verify_message(&header, &msg.frames, &msg.trailer).is_err());
        prop_assert!(Opener::new(&people()[1], &header).is_err());
    }

    // A flipped bit anywhere in the signed trailer is refused.
    #[test]
    fn prop_trailer_bit_flip_rejected(pick in any::<prop::sample::Index>()) {
        let msg = fixture();
        let body_bits = msg.trailer.body.len() * 8;
        let bit = pick.index(body_bits + msg.trailer.signature.len() * 8);
        let mut trailer = msg.trailer.clone();
        if bit < body_bits {
            flip(&mut trailer.body, bit);
        } else {
            flip(&mut trailer.signature, bit - body_bits);
        }
        let err = verify_message(&msg.header, &msg.frames, &trailer).err();
        prop_assert_eq!(err, Some(EnvelopeError::BadSignature));
    }

    // Random edits of the frame list (drop, duplicate, swap, cut) are refused.
    #[test]
    fn prop_frame_list_edits_rejected(edit in 0usize..4, a in 0usize..4, b in 0usize..4) {
        let msg = fixture();
        let mut frames = msg.frames.clone();
        match edit {
            0 => { frames.remove(a); }
            1 => { let copy = frames[a].clone(); frames.insert(b, copy); }
            2 => { prop_assume!(a != b); frames.swap(a, b); }
            _ => frames.truncate(a),
        }
        prop_assert!(verify_message(&msg.header, &frames, &msg.trailer).is_err());
    }
}

// Every bit of header and trailer, exhaustively. Slow in debug builds
// (~9 ms per signature check): run with --release -- --ignored.
#[test]
#[ignore = "exhaustive; run with cargo test --release -- --ignored"]
fn exhaustive_header_and_trailer_bit_flips() {
    let msg = fixture();
    for bit in 0..(msg.header.body.len() + msg.header.signature.len()) * 8 {
        let mut header = msg.header.clone();
        let body_bits = header.body.len() * 8;
        if bit < body_bits {
            flip(&mut header.body, bit);
        } else {
            flip(&mut header.signature, bit - body_bits);
        }
        assert!(
            verify_message(&header, &msg.frames, &msg.trailer).is_err(),
            "header bit {bit}"
        );
    }
    for bit in 0..(msg.trailer.body.len() + msg.trailer.signature.len()) * 8 {
        let mut trailer = msg.trailer.clone();
        let body_bits = trailer.body.len() * 8;
        if bit < body_bits {
            flip(&mut trailer.body, bit);
        } else {
            flip(&mut trailer.signature, bit - body_bits);
        }
        let err = verify_message(&msg.header, &msg.frames, &trailer).err();
        assert_eq!(err, Some(EnvelopeError::BadSignature), "trailer bit {bit}");
    }
}

// Prints what the envelope costs (not a pass/fail check). Run with
// cargo test --release -p hark-proto measure_costs -- --ignored --nocapture
#[test]
#[ignore = "measurement; run in release with --ignored --nocapture"]
fn measure_costs() -> TestResult {
    use std::time::Instant;
    let [alice, bob, ..] = people() else {
        unreachable!()
    };
    // One minute of 20 ms frames of 80 bytes (about 32 kbit/s).
    let packets: Vec<Vec<u8>> = (0..3000u32).map(|i| vec![(i % 251) as u8; 80]).collect();

    let start = Instant::now();
    let msg = seal(alice, &[alice, bob], &packets)?;
    let sealed = start.elapsed();
    let start = Instant::now();
    verify_message(&msg.header, &msg.frames, &msg.trailer)?;
    let verified = start.elapsed();
    let start = Instant::now();
    let opened = open(bob, &msg)?;
    let opened_in = start.elapsed();
    assert_eq!(opened.len(), packets.len());

    let start = Instant::now();
    for _ in 0..100 {
        msg.header.verify()?;
    }
    let header_verify = start.elapsed() / 100;
    eprintln!(
        "1 min message (3000 frames x 80 B, 2 recipients): seal {sealed:?}, \
         verify {verified:?}, open {opened_in:?}; header verify {header_verify:?}; \
         header {} B, trailer {} B, frame overhead {} B",
        msg.header.body.len() + msg.header.signature.len(),
        msg.trailer.body.len() + msg.trailer.signature.len(),
        msg.frames[0].ciphertext.len() - packets[0].len()
    );
    Ok(())
}
