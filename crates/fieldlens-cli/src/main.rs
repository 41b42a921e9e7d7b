//! The `fieldlens` command line: serve the hub and act as each of its users.

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

/// fieldlens — remote diagnosis hub for field service.
///
/// Callers are queued and paired with a remote technician, guided through
/// photos that are checked on arrival, and their case ends with an explained
/// fix-remotely-or-send-a-truck decision that a dispatcher reviews.
#[derive(Debug, Parser)]
#[command(name = "fieldlens", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print shell completions, e.g. `fieldlens completions bash > /etc/bash_completion.d/fieldlens`.
    Completions {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "fieldlens",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
