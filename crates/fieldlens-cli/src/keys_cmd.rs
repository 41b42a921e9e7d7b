//! `fieldlens keys`: make API keys and the hashes the hub's configuration stores.

use clap::{Subcommand, ValueEnum};
use sha2::{Digest, Sha256};

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new random key and print it with the config entry that accepts it.
    New {
        /// The technician or dispatcher id the key stands for.
        #[arg(long)]
        id: String,
        /// What the key may do.
        #[arg(long, value_enum)]
        role: Role,
    },
    /// Print the SHA-256 of a key, as the config's `sha256` field wants it.
    Hash {
        /// The key.
        key: String,
    },
}

/// Key roles.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Role {
    /// Presence, offers, sessions.
    Technician,
    /// Queue, review, decisions.
    Dispatcher,
}

/// Lowercase hex SHA-256 of a key.
pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A fresh random key.
pub fn generate() -> String {
    let mut bytes = [0u8; 24];
    rand::fill(&mut bytes);
    format!("flk_{}", hex::encode(bytes))
}

/// Runs a key command.
pub fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Hash { key } => println!("{}", hash(&key)),
        KeysCommand::New { id, role } => {
            let key = generate();
            let role = match role {
                Role::Technician => "technician",
                Role::Dispatcher => "dispatcher",
            };
            println!("# key for {id} (give it to them; it is not stored anywhere):");
            println!("# {key}");
            println!(
                "[[auth.api_keys]]\nid = \"{id}\"\nrole = \"{role}\"\nsha256 = \"{}\"",
                hash(&key)
            );
        }
    }
    Ok(())
}
