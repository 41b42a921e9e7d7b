//! The QUIC media link: an IO-free protocol core, the hub endpoint and a client on quinn.
