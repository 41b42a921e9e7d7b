//! `fieldlens case`: the caller's commands.

use crate::client::{self, Connection, status_error};
use crate::output;
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use fieldlens_proto::v1 as pb;
use tokio_stream::StreamExt;

/// Caller commands. All but `open` need the caller token that `open` prints
/// (`--token` or FIELDLENS_CALLER_TOKEN); a dispatcher API key works too.
#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Open a case and join the queue. Prints the case id and the caller token.
    #[command(
        after_help = "Example:\n  fieldlens case open --kind appliance --category washing_machine \\\n    --brand Bosch --model WAN28281GB --region uk-london --locale en-GB \\\n    --name 'Sam Lee' --phone +447700900123 --description 'E18, water stays in the drum'"
    )]
    Open(OpenArgs),
    /// Show a case: status, queue position, estimated wait, session.
    Status(CaseRef),
    /// Follow a case as it moves through the queue, until it ends (Ctrl-C to stop).
    Watch(CaseRef),
    /// Cancel a case that has not been triaged.
    Cancel {
        #[command(flatten)]
        case: CaseRef,
        /// Why, in a few words.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Ask to be called back instead of waiting; the place in the queue is kept.
    Callback {
        #[command(flatten)]
        case: CaseRef,
        /// Number to call (E.164); defaults to the case's contact phone.
        #[arg(long, default_value = "")]
        phone: String,
    },
    /// Show the case's hash-chained event log.
    Events(CaseRef),
    /// Write the case's evidence bundle (photos, events, HTML report, manifest) to a zip;
    /// check it later with `fieldlens verify`.
    Export {
        #[command(flatten)]
        case: CaseRef,
        /// Where to write the zip.
        #[arg(short, long)]
        output: std::path::PathBuf,
    },
}

/// A case and the credential to read it.
#[derive(Debug, Args)]
pub struct CaseRef {
    /// The case id, e.g. c-0192b4e1...
    pub case_id: String,
    /// Caller token (from `case open`) or a dispatcher API key.
    #[arg(long, env = "FIELDLENS_CALLER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[command(flatten)]
    pub connection: Connection,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    CarDamage,
    Appliance,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PriorityArg {
    Normal,
    High,
    Urgent,
}

/// What `case open` sends.
#[derive(Debug, Args)]
pub struct OpenArgs {
    /// What the case is about.
    #[arg(long, value_enum)]
    kind: Kind,
    /// `car` for car_damage; washing_machine, refrigerator, dishwasher or air_conditioner.
    #[arg(long)]
    category: String,
    /// Manufacturer.
    #[arg(long, default_value = "")]
    brand: String,
    /// Model name or number.
    #[arg(long, default_value = "")]
    model: String,
    /// VIN or serial number.
    #[arg(long, default_value = "")]
    serial: String,
    /// Months since purchase or first registration.
    #[arg(long, default_value_t = 0)]
    age_months: u32,
    /// The product is under warranty.
    #[arg(long)]
    warranty: bool,
    /// The caller's locale; its language decides who can serve them.
    #[arg(long, default_value = "en-GB")]
    locale: String,
    /// Service region code, e.g. uk-london.
    #[arg(long)]
    region: String,
    /// The caller's name.
    #[arg(long)]
    name: String,
    /// The caller's phone, E.164 (e.g. +447700900123).
    #[arg(long)]
    phone: String,
    /// The caller's e-mail.
    #[arg(long, default_value = "")]
    email: String,
    /// Routing priority.
    #[arg(long, value_enum, default_value = "normal")]
    priority: PriorityArg,
    /// The problem in the caller's words.
    #[arg(long, default_value = "")]
    description: String,
    /// Idempotency key; repeat it to retry safely. Random when omitted.
    #[arg(long)]
    idempotency_key: Option<String>,
    #[command(flatten)]
    connection: Connection,
}

/// Runs a caller command.
pub async fn run(command: CaseCommand) -> anyhow::Result<()> {
    match command {
        CaseCommand::Open(args) => open(args).await,
        CaseCommand::Status(case) => {
            let mut client = client::cases(&case.connection.server, case.token.as_deref()).await?;
            let reply = client
                .get_case(pb::GetCaseRequest {
                    case_id: case.case_id.clone(),
                })
                .await
                .map_err(status_error)?
                .into_inner();
            print_case(&reply, case.connection.json);
            Ok(())
        }
        CaseCommand::Watch(case) => watch(case).await,
        CaseCommand::Cancel { case, reason } => {
            let mut client = client::cases(&case.connection.server, case.token.as_deref()).await?;
            let reply = client
                .cancel_case(pb::CancelCaseRequest {
                    case_id: case.case_id.clone(),
                    reason,
                })
                .await
                .map_err(status_error)?
                .into_inner();
            print_case(&reply, case.connection.json);
            Ok(())
        }
        CaseCommand::Callback { case, phone } => {
            let mut client = client::cases(&case.connection.server, case.token.as_deref()).await?;
            let reply = client
                .request_callback(pb::RequestCallbackRequest {
                    case_id: case.case_id.clone(),
                    phone,
                })
                .await
                .map_err(status_error)?
                .into_inner();
            print_case(&reply, case.connection.json);
            Ok(())
        }
        CaseCommand::Export { case, output } => {
            use sha2::Digest;
            let mut client = client::cases(&case.connection.server, case.token.as_deref()).await?;
            let mut stream = client
                .export_case(pb::ExportCaseRequest {
                    case_id: case.case_id.clone(),
                })
                .await
                .map_err(status_error)?
                .into_inner();
            let (mut bytes, mut expected) = (Vec::new(), None);
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(status_error)?;
                if !chunk.sha256.is_empty() {
                    expected = Some(chunk.sha256.clone());
                }
                bytes.extend_from_slice(&chunk.data);
            }
            let actual = hex::encode(sha2::Sha256::digest(&bytes));
            anyhow::ensure!(
                expected.as_deref() == Some(actual.as_str()),
                "the bundle was damaged in transit"
            );
            std::fs::write(&output, &bytes)
                .with_context(|| format!("writing {}", output.display()))?;
            if case.connection.json {
                println!(
                    "{}",
                    serde_json::json!({"file": output.display().to_string(), "bytes": bytes.len(), "sha256": actual})
                );
            } else {
                println!(
                    "wrote {} ({} bytes, sha256 {actual})",
                    output.display(),
                    bytes.len()
                );
            }
            Ok(())
        }
        CaseCommand::Events(case) => {
            let mut client = client::cases(&case.connection.server, case.token.as_deref()).await?;
            let reply = client
                .list_case_events(pb::ListCaseEventsRequest {
                    case_id: case.case_id.clone(),
                    after_seq: 0,
                    limit: 0,
                })
                .await
                .map_err(status_error)?
                .into_inner();
            for event in &reply.events {
                if case.connection.json {
                    println!("{}", output::event_json(event));
                } else {
                    println!(
                        "{:>3}  {}  {:<20} {:<28} {}",
                        event.seq, event.at_unix_ms, event.kind, event.actor, event.detail_json
                    );
                }
            }
            Ok(())
        }
    }
}

fn print_case(case: &pb::Case, json: bool) {
    if json {
        println!("{}", output::case_json(case));
    } else {
        println!("{}", output::case_line(case));
        if let Some(session) = &case.session {
            println!(
                "  session {} at {} (pin sha256 {}), token valid until {}",
                session.session_id,
                session.media_endpoint,
                session.certificate_sha256,
                session.token_expires_at_unix_ms
            );
        }
    }
}

async fn open(args: OpenArgs) -> anyhow::Result<()> {
    let mut client = client::cases(&args.connection.server, None).await?;
    let request = pb::OpenCaseRequest {
        kind: match args.kind {
            Kind::CarDamage => pb::CaseKind::CarDamage,
            Kind::Appliance => pb::CaseKind::Appliance,
        } as i32,
        product: Some(pb::Product {
            category: args.category,
            brand: args.brand,
            model: args.model,
            serial_number: args.serial,
            age_months: args.age_months,
            under_warranty: args.warranty,
        }),
        locale: args.locale,
        region: args.region,
        contact: Some(pb::Contact {
            name: args.name,
            phone: args.phone,
            email: args.email,
        }),
        idempotency_key: args
            .idempotency_key
            .unwrap_or_else(|| format!("cli-{}", uuid::Uuid::new_v4().simple())),
        priority: match args.priority {
            PriorityArg::Normal => pb::Priority::Normal,
            PriorityArg::High => pb::Priority::High,
            PriorityArg::Urgent => pb::Priority::Urgent,
        } as i32,
        description: args.description,
    };
    let reply = client
        .open_case(request)
        .await
        .map_err(status_error)?
        .into_inner();
    let case = reply.case.unwrap_or_default();
    if args.connection.json {
        let mut value = output::case_json(&case);
        value["caller_token"] = reply.caller_token.into();
        value["replayed"] = reply.replayed.into();
        println!("{value}");
    } else {
        println!("{}", output::case_line(&case));
        println!("caller token (keep it secret; export FIELDLENS_CALLER_TOKEN=...):");
        println!("{}", reply.caller_token);
    }
    Ok(())
}

async fn watch(case: CaseRef) -> anyhow::Result<()> {
    let mut client = client::cases(&case.connection.server, case.token.as_deref()).await?;
    let mut stream = client
        .watch_case(pb::WatchCaseRequest {
            case_id: case.case_id.clone(),
        })
        .await
        .map_err(status_error)?
        .into_inner();
    while let Some(update) = stream.next().await {
        let update = update.map_err(status_error)?;
        let Some(snapshot) = update.case else {
            continue;
        };
        if case.connection.json {
            let mut value = output::case_json(&snapshot);
            value["reason"] = update.reason.into();
            println!("{value}");
        } else {
            println!("[{}] {}", update.reason, output::case_line(&snapshot));
        }
    }
    Ok(())
}
