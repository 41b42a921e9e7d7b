//! `fieldlens tech`: the technician's commands.

use crate::client::{self, Connection, status_error};
use crate::output;
use clap::{Args, Subcommand};
use fieldlens_proto::v1 as pb;
use tokio_stream::StreamExt;

/// Technician commands; each needs a technician API key.
#[derive(Debug, Subcommand)]
pub enum TechCommand {
    /// Announce skills, languages, regions and capacity, and go available.
    #[command(
        after_help = "Example:\n  fieldlens tech online --skill car_damage --skill appliance.washing_machine \\\n    --language en --language zh --region uk-london --capacity 2"
    )]
    Online(OnlineArgs),
    /// Stop receiving offers (sessions in progress continue).
    Away(TechAuth),
    /// Show yourself as the hub sees you.
    Status(TechAuth),
    /// List offers waiting for your answer; `--watch` keeps streaming new ones.
    Offers {
        #[command(flatten)]
        auth: TechAuth,
        /// Keep the stream open and print offers as they arrive.
        #[arg(long)]
        watch: bool,
    },
    /// Accept an offer: pairs the case and prints the media session.
    Accept {
        /// The offered case.
        case_id: String,
        #[command(flatten)]
        auth: TechAuth,
    },
    /// Record findings on a case you serve; the case's decision table proposes a decision.
    #[command(
        after_help = "Example:\n  fieldlens tech findings c-0192... --error-code E18 --symptom no_drain \\\n    --fix clean_drain_filter:not_resolved --damage drain_pump:moderate --notes 'pump hums'"
    )]
    Findings {
        /// The case.
        case_id: String,
        /// A damaged area or faulty part with its severity, AREA:minor|moderate|severe (repeat).
        #[arg(long = "damage")]
        damage: Vec<String>,
        /// An error code the product showed (repeat).
        #[arg(long = "error-code")]
        error_codes: Vec<String>,
        /// An observed symptom from the pack's vocabulary (repeat).
        #[arg(long = "symptom")]
        symptoms: Vec<String>,
        /// The remote fix tried, ACTION:resolved|partly_resolved|not_resolved.
        #[arg(long)]
        fix: Option<String>,
        /// Free notes.
        #[arg(long, default_value = "")]
        notes: String,
        #[command(flatten)]
        auth: TechAuth,
    },
    /// Decline an offer; the caller goes back to their place.
    Decline {
        /// The offered case.
        case_id: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        auth: TechAuth,
    },
    /// Take a case and join its live session: see the caller's video, push steps, ask for photos.
    Live(Box<crate::media_cmd::TechLiveArgs>),
    /// End the live session of a case, freeing your capacity.
    End {
        /// The case.
        case_id: String,
        #[command(flatten)]
        auth: TechAuth,
    },
}

/// A technician's credentials.
#[derive(Debug, Args)]
pub struct TechAuth {
    /// Technician API key.
    #[arg(long, env = "FIELDLENS_API_KEY", hide_env_values = true)]
    pub api_key: String,
    #[command(flatten)]
    pub connection: Connection,
}

/// Presence to announce.
#[derive(Debug, Args)]
pub struct OnlineArgs {
    /// A skill, e.g. car_damage or appliance.refrigerator (repeat for several).
    #[arg(long = "skill", required = true)]
    skills: Vec<String>,
    /// A language spoken, ISO 639-1 (repeat for several).
    #[arg(long = "language", required = true)]
    languages: Vec<String>,
    /// A region served (repeat for several).
    #[arg(long = "region", required = true)]
    regions: Vec<String>,
    /// Sessions at once.
    #[arg(long, default_value_t = 1)]
    capacity: u32,
    /// Name shown to callers and dispatchers.
    #[arg(long, default_value = "")]
    name: String,
    #[command(flatten)]
    auth: TechAuth,
}

fn print_technician(t: &pb::Technician, json: bool) {
    if json {
        println!("{}", output::technician_json(t));
    } else {
        println!("{}", output::technician_line(t));
    }
}

/// Runs a technician command.
pub async fn run(command: TechCommand) -> anyhow::Result<()> {
    match command {
        TechCommand::Online(args) => online(args).await,
        TechCommand::Live(args) => crate::media_cmd::run_tech_live(*args).await,
        TechCommand::Away(auth) => {
            let mut client = client::technicians(&auth.connection.server, &auth.api_key).await?;
            let current = client
                .get_technician(pb::GetTechnicianRequest {})
                .await
                .map_err(status_error)?
                .into_inner();
            let t = client
                .set_presence(pb::SetPresenceRequest {
                    display_name: String::new(),
                    skills: current.skills,
                    languages: current.languages,
                    regions: current.regions,
                    capacity: current.capacity,
                    available: false,
                })
                .await
                .map_err(status_error)?
                .into_inner();
            print_technician(&t, auth.connection.json);
            Ok(())
        }
        TechCommand::Status(auth) => {
            let mut client = client::technicians(&auth.connection.server, &auth.api_key).await?;
            let t = client
                .get_technician(pb::GetTechnicianRequest {})
                .await
                .map_err(status_error)?
                .into_inner();
            print_technician(&t, auth.connection.json);
            Ok(())
        }
        TechCommand::Offers { auth, watch } => {
            let mut client = client::technicians(&auth.connection.server, &auth.api_key).await?;
            let print = |offer: &pb::Offer| {
                if auth.connection.json {
                    println!("{}", output::offer_json(offer));
                } else {
                    println!("{}", output::offer_line(offer));
                }
            };
            if watch {
                let mut stream = client
                    .stream_offers(pb::StreamOffersRequest {})
                    .await
                    .map_err(status_error)?
                    .into_inner();
                while let Some(offer) = stream.next().await {
                    print(&offer.map_err(status_error)?);
                }
            } else {
                let offers = client
                    .list_offers(pb::ListOffersRequest {})
                    .await
                    .map_err(status_error)?
                    .into_inner()
                    .offers;
                if offers.is_empty() && !auth.connection.json {
                    println!("no offers waiting");
                }
                offers.iter().for_each(print);
            }
            Ok(())
        }
        TechCommand::Accept { case_id, auth } => {
            let mut client = client::technicians(&auth.connection.server, &auth.api_key).await?;
            let reply = client
                .accept_offer(pb::AcceptOfferRequest { case_id })
                .await
                .map_err(status_error)?
                .into_inner();
            let case = reply.case.unwrap_or_default();
            if auth.connection.json {
                let mut value = output::case_json(&case);
                value["session"] = reply.session.as_ref().map(output::session_json).into();
                println!("{value}");
            } else {
                println!("{}", output::case_line(&case));
                if let Some(session) = reply.session {
                    println!(
                        "session {} at {} — pin sha256 {} — token:\n{}",
                        session.session_id,
                        session.media_endpoint,
                        session.certificate_sha256,
                        session.token
                    );
                }
            }
            Ok(())
        }
        TechCommand::Decline {
            case_id,
            reason,
            auth,
        } => {
            let mut client = client::technicians(&auth.connection.server, &auth.api_key).await?;
            let t = client
                .decline_offer(pb::DeclineOfferRequest { case_id, reason })
                .await
                .map_err(status_error)?
                .into_inner();
            print_technician(&t, auth.connection.json);
            Ok(())
        }
        TechCommand::Findings {
            case_id,
            damage,
            error_codes,
            symptoms,
            fix,
            notes,
            auth,
        } => {
            let damage = damage
                .iter()
                .map(|d| {
                    let (area, severity) = d
                        .split_once(':')
                        .ok_or_else(|| anyhow::anyhow!("--damage {d:?}: use AREA:SEVERITY"))?;
                    let severity = match severity {
                        "minor" => pb::Severity::Minor,
                        "moderate" => pb::Severity::Moderate,
                        "severe" => pb::Severity::Severe,
                        other => anyhow::bail!(
                            "--damage {d:?}: severity {other:?} is not minor, moderate or severe"
                        ),
                    };
                    Ok(pb::Damage {
                        area: area.to_owned(),
                        severity: severity as i32,
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let remote_fix = fix
                .map(|f| {
                    let (action, outcome) = f.split_once(':').ok_or_else(|| anyhow::anyhow!("--fix {f:?}: use ACTION:OUTCOME"))?;
                    let outcome = match outcome {
                        "resolved" => pb::FixOutcome::Resolved,
                        "partly_resolved" => pb::FixOutcome::PartlyResolved,
                        "not_resolved" => pb::FixOutcome::NotResolved,
                        other => anyhow::bail!("--fix {f:?}: outcome {other:?} is not resolved, partly_resolved or not_resolved"),
                    };
                    Ok(pb::RemoteFix { action: action.to_owned(), outcome: outcome as i32 })
                })
                .transpose()?;
            let channel = client::channel(&auth.connection.server).await?;
            let mut triage = pb::triage_service_client::TriageServiceClient::with_interceptor(
                channel,
                client::Bearer::new(Some(&auth.api_key))?,
            );
            let result = triage
                .record_findings(pb::RecordFindingsRequest {
                    case_id,
                    findings: Some(pb::Findings {
                        damage,
                        error_codes,
                        symptoms,
                        remote_fix,
                        notes,
                    }),
                })
                .await
                .map_err(status_error)?
                .into_inner();
            output::print_triage(&result, auth.connection.json);
            Ok(())
        }
        TechCommand::End { case_id, auth } => {
            let mut client = client::technicians(&auth.connection.server, &auth.api_key).await?;
            let case = client
                .end_session(pb::EndSessionRequest { case_id })
                .await
                .map_err(status_error)?
                .into_inner();
            if auth.connection.json {
                println!("{}", output::case_json(&case));
            } else {
                println!("{}", output::case_line(&case));
            }
            Ok(())
        }
    }
}

async fn online(args: OnlineArgs) -> anyhow::Result<()> {
    let mut client = client::technicians(&args.auth.connection.server, &args.auth.api_key).await?;
    let t = client
        .set_presence(pb::SetPresenceRequest {
            display_name: args.name,
            skills: args.skills,
            languages: args.languages,
            regions: args.regions,
            capacity: args.capacity,
            available: true,
        })
        .await
        .map_err(status_error)?
        .into_inner();
    print_technician(&t, args.auth.connection.json);
    Ok(())
}
