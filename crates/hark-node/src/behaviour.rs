//! The libp2p behaviour Hark runs, and the swarm built around it: TCP (noise,
//! yamux) and QUIC; mDNS, identify and ping; gossipsub for presence;
//! request-response for offers, fetches and receipts; raw streams for live
//! messages; connection limits.

use std::time::Duration;

use hark_proto::identity::Identity;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    connection_limits, gossipsub, identify, mdns, noise, ping, request_response, tcp, yamux, Swarm,
};

use crate::codec::{Codec, PROTOCOL};
use crate::{Config, StartError};

/// Gossipsub topic on which nodes publish their signed profile.
pub(crate) const PRESENCE_TOPIC: &str = "hark/presence/1";

/// Identify's protocol version: peers speaking another major version are
/// still connected but cannot exchange messages.
const IDENTIFY_PROTOCOL: &str = "/hark/1.0.0";

/// Presence messages are one signed profile: a few hundred bytes.
const MAX_GOSSIP_BYTES: usize = 16 * 1024;

/// A fetch of 500 frames is answered in well under a second on a LAN; this
/// only catches peers that went silent.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections stay open while idle so that "online" means reachable now.
const IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// Everything the swarm runs.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
    pub(crate) mdns: Toggle<mdns::tokio::Behaviour>,
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) rr: request_response::Behaviour<Codec>,
    pub(crate) stream: libp2p_stream::Behaviour,
}

/// Builds the swarm for `identity` with the transports and behaviours above.
pub(crate) fn build_swarm(
    identity: &Identity,
    config: &Config,
) -> Result<Swarm<Behaviour>, StartError> {
    let net = |e: &dyn std::fmt::Display| StartError::Network(e.to_string());
    let swarm = libp2p::SwarmBuilder::with_existing_identity(identity.keypair().clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::new().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| net(&e))?
        .with_quic()
        .with_behaviour(|key| behaviour(key, config.mdns))
        .map_err(|e| net(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
        .build();
    Ok(swarm)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn behaviour(key: &libp2p::identity::Keypair, with_mdns: bool) -> Result<Behaviour, BoxError> {
    let peer_id = key.public().to_peer_id();
    let mdns = if with_mdns {
        Some(mdns::tokio::Behaviour::new(
            mdns::Config::default(),
            peer_id,
        )?)
    } else {
        None
    };

    Ok(Behaviour {
        limits: connection_limits::Behaviour::new(limits()),
        identify: identify::Behaviour::new(identify::Config::new(
            IDENTIFY_PROTOCOL.to_string(),
            key.public(),
        )),
        ping: ping::Behaviour::new(ping::Config::new()),
        mdns: mdns.into(),
        gossipsub: gossipsub(key)?,
        rr: request_response::Behaviour::new(
            [(PROTOCOL, request_response::ProtocolSupport::Full)],
            request_response::Config::default().with_request_timeout(REQUEST_TIMEOUT),
        ),
        stream: libp2p_stream::Behaviour::new(),
    })
}

/// A LAN messenger talks to tens of peers, not thousands: cap what a
/// misbehaving host can make us hold.
fn limits() -> connection_limits::ConnectionLimits {
    connection_limits::ConnectionLimits::default()
        .with_max_pending_incoming(Some(64))
        .with_max_pending_outgoing(Some(64))
        .with_max_established(Some(256))
        .with_max_established_per_peer(Some(4))
}

fn gossipsub(key: &libp2p::identity::Keypair) -> Result<gossipsub::Behaviour, BoxError> {
    let config = gossipsub::ConfigBuilder::default()
        .heartbeat_interval(Duration::from_secs(1))
        .validation_mode(gossipsub::ValidationMode::Strict)
        .max_transmit_size(MAX_GOSSIP_BYTES)
        .build()?;
    let mut behaviour =
        gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), config)?;
    behaviour.subscribe(&gossipsub::IdentTopic::new(PRESENCE_TOPIC))?;
    Ok(behaviour)
}
