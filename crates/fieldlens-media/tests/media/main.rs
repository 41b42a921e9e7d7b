//! Integration tests of the media link over real QUIC on loopback: a hub endpoint with
//! test seams, clients, raw peers that misbehave, and an impaired network.

mod bad_input;
mod impaired;
mod link;
mod support;
