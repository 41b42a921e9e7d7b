//! Generates Rust code and a descriptor set (for gRPC reflection) from every
//! `.proto` file in `proto/fieldlens/v1`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    let api_dir = proto_root.join("fieldlens/v1");
    let mut protos: Vec<PathBuf> = std::fs::read_dir(&api_dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    protos.sort();
    println!("cargo:rerun-if-changed={}", api_dir.display());
    for proto in &protos {
        println!("cargo:rerun-if-changed={}", proto.display());
    }

    // A vendored protoc keeps the build independent of the machine's packages.
    if std::env::var_os("PROTOC").is_none() {
        set_protoc(protoc_bin_vendored::protoc_bin_path()?);
    }

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("fieldlens_descriptor.bin"))
        // Photo upload chunks are decoded without copying their bytes.
        .bytes(".fieldlens.v1.MediaUploadChunk.data")
        .compile_protos(&protos, &[proto_root])?;
    Ok(())
}

#[allow(unsafe_code)]
fn set_protoc(path: PathBuf) {
    // SAFETY: the build script has no other threads that read the environment.
    unsafe { std::env::set_var("PROTOC", path) };
}
