//! The `fieldlens` command line: serve the hub and act as each of its users.

mod case_cmd;
mod check;
mod client;
mod demo;
mod demo_case;
mod dispatch_cmd;
mod guides_cmd;
mod keys_cmd;
mod loadgen;
mod media_cmd;
mod output;
mod serve;
mod tech_cmd;
mod verify_cmd;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

/// fieldlens — remote diagnosis hub for field service.
///
/// Callers are queued and paired with a remote technician, guided through
/// photos that are checked on arrival, and their case ends with an explained
/// fix-remotely-or-send-a-truck decision that a dispatcher reviews.
///
/// Start a hub with `fieldlens serve`, then act as a caller (`fieldlens case`),
/// a technician (`fieldlens tech`) or a dispatcher (`fieldlens queue`,
/// `fieldlens dispatch`). Client commands find the hub with `--server` or
/// FIELDLENS_SERVER and authenticate with `--api-key`/FIELDLENS_API_KEY
/// (technicians, dispatchers) or `--token`/FIELDLENS_CALLER_TOKEN (callers).
/// Every read command takes `--json`.
#[derive(Debug, Parser)]
#[command(name = "fieldlens", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the hub: gRPC API, metrics, media endpoint, on the embedded store.
    Serve(serve::ServeArgs),
    /// Act as a caller: open a case, follow it, cancel it, ask for a callback.
    #[command(subcommand)]
    Case(case_cmd::CaseCommand),
    /// Act as a technician: go online, see offers, accept, decline, end sessions.
    #[command(subcommand)]
    Tech(tech_cmd::TechCommand),
    /// Join a case's live session as its caller: stream frames, upload photos, read verdicts.
    Caller(media_cmd::CallerArgs),
    /// Look at the queue as a dispatcher.
    #[command(subcommand)]
    Queue(dispatch_cmd::QueueCommand),
    /// Review cases as a dispatcher: list, decision, claim, approve, override, reassign, KPIs.
    #[command(subcommand)]
    Dispatch(dispatch_cmd::DispatchCommand),
    /// Make and hash API keys for the hub's configuration.
    #[command(subcommand)]
    Keys(keys_cmd::KeysCommand),
    /// Measure the hub: OpenCase against the health RPC in the same run.
    Loadgen(loadgen::LoadgenArgs),
    /// Start a hub, walk callers and technicians through queue and pairing, then one case to verified evidence, narrated.
    Demo(demo::DemoArgs),
    /// Check photos for quality: accept or retake, with reasons.
    Check(check::CheckArgs),
    /// Work with guide packs: list, show, lint, render a contact sheet.
    Guides(guides_cmd::GuidesArgs),
    /// Verify an exported case bundle offline: which items, if any, were tampered with.
    Verify(verify_cmd::VerifyArgs),
    /// Print shell completions, e.g. `fieldlens completions bash > /etc/bash_completion.d/fieldlens`.
    Completions {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {
        Command::Serve(args) => return serve::main(args),
        Command::Check(args) => return check::main(args),
        Command::Verify(args) => return verify_cmd::main(args),
        Command::Case(command) => client::block_on(case_cmd::run(command)),
        Command::Tech(command) => client::block_on(tech_cmd::run(command)),
        Command::Caller(args) => client::block_on(media_cmd::run_caller(args)),
        Command::Queue(command) => client::block_on(dispatch_cmd::run_queue(command)),
        Command::Dispatch(command) => client::block_on(dispatch_cmd::run(command)),
        Command::Keys(command) => keys_cmd::run(command),
        Command::Guides(args) => guides_cmd::run(args),
        Command::Loadgen(args) => client::block_on(loadgen::run(args)),
        Command::Demo(args) => client::block_on(demo::run(args)),
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
