//! Wire types and gRPC stubs generated from `proto/fieldlens/v1`; no logic lives here.

#![allow(missing_docs, clippy::all)]

/// Version 1 of the public API (`package fieldlens.v1`).
pub mod v1 {
    tonic::include_proto!("fieldlens.v1");
}

/// Encoded `FileDescriptorSet` of the whole API, for the gRPC reflection service.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("fieldlens_descriptor");
