//! `fieldlens queue` and `fieldlens dispatch`: the dispatcher's commands.

use crate::client::{self, Connection, status_error};
use crate::output;
use clap::{Args, Subcommand};
use fieldlens_proto::v1 as pb;
use serde_json::json;

/// A dispatcher's credentials.
#[derive(Debug, Args)]
pub struct DispatcherAuth {
    /// Dispatcher API key.
    #[arg(long, env = "FIELDLENS_API_KEY", hide_env_values = true)]
    pub api_key: String,
    #[command(flatten)]
    pub connection: Connection,
}

/// Queue commands.
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// The waiting cases in routing order, and every technician's state.
    Show {
        /// Show at most this many waiting cases.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        auth: DispatcherAuth,
    },
}

/// Review commands.
#[derive(Debug, Subcommand)]
pub enum DispatchCommand {
    /// List cases, newest first.
    List {
        /// Only these statuses (repeat), e.g. --status triaged --status in_review.
        #[arg(long = "status")]
        statuses: Vec<String>,
        /// Only this region.
        #[arg(long, default_value = "")]
        region: String,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Continue from a previous page's token.
        #[arg(long, default_value = "")]
        page_token: String,
        #[command(flatten)]
        auth: DispatcherAuth,
    },
    /// Claim a triaged case for review.
    Claim {
        /// The case.
        case_id: String,
        #[command(flatten)]
        auth: DispatcherAuth,
    },
    /// Approve the proposed decision of a case you claimed.
    Approve {
        /// The case.
        case_id: String,
        /// Optional remark.
        #[arg(long, default_value = "")]
        comment: String,
        #[command(flatten)]
        auth: DispatcherAuth,
    },
    /// Replace the proposed decision of a case you claimed.
    Override {
        /// The case.
        case_id: String,
        /// The new decision, e.g. truck_roll.
        #[arg(long)]
        decision: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        auth: DispatcherAuth,
    },
}

fn parse_status(name: &str) -> anyhow::Result<i32> {
    pb::CaseStatus::from_str_name(&format!("CASE_STATUS_{}", name.to_ascii_uppercase()))
        .filter(|s| *s != pb::CaseStatus::Unspecified)
        .map(|s| s as i32)
        .ok_or_else(|| anyhow::anyhow!("--status {name:?}: use opened, queued, offered, paired, capturing, triaged, in_review, closed, cancelled or abandoned"))
}

/// Runs `queue ...`.
pub async fn run_queue(command: QueueCommand) -> anyhow::Result<()> {
    let QueueCommand::Show { limit, auth } = command;
    let mut client = client::dispatch(&auth.connection.server, &auth.api_key).await?;
    let queue = client
        .get_queue(pb::GetQueueRequest { limit })
        .await
        .map_err(status_error)?
        .into_inner();
    if auth.connection.json {
        let waiting: Vec<_> = queue
            .waiting
            .iter()
            .map(|e| {
                json!({
                    "case_id": e.case_id, "position": e.position, "priority": output::priority_name(e.priority),
                    "waited_ms": e.waited_ms, "estimated_wait_ms": e.estimated_wait_ms,
                    "required_skills": e.required_skills, "language": e.language, "region": e.region,
                    "offered_to": e.offered_to, "callback_requested": e.callback_requested,
                })
            })
            .collect();
        let technicians: Vec<_> = queue
            .technicians
            .iter()
            .map(output::technician_json)
            .collect();
        println!(
            "{}",
            json!({
                "waiting_total": queue.waiting_total,
                "mean_handle_time_ms": queue.mean_handle_time_ms,
                "waiting": waiting,
                "technicians": technicians,
            })
        );
        return Ok(());
    }
    println!(
        "{} waiting; mean handle time {}",
        queue.waiting_total,
        output::duration(queue.mean_handle_time_ms)
    );
    for e in &queue.waiting {
        println!(
            "{:>4}. {}  {:<7} waited {:<8} eta {:<8} {} {} {}{}{}",
            e.position,
            e.case_id,
            output::priority_name(e.priority),
            output::duration(e.waited_ms),
            output::duration(e.estimated_wait_ms),
            e.required_skills.join(","),
            e.language,
            e.region,
            if e.offered_to.is_empty() {
                String::new()
            } else {
                format!("  offered to {}", e.offered_to)
            },
            if e.callback_requested {
                "  callback"
            } else {
                ""
            },
        );
    }
    println!("technicians:");
    for t in &queue.technicians {
        println!("  {}", output::technician_line(t));
    }
    Ok(())
}

/// Runs `dispatch ...`.
pub async fn run(command: DispatchCommand) -> anyhow::Result<()> {
    let (auth, reply) = match command {
        DispatchCommand::List {
            statuses,
            region,
            limit,
            page_token,
            auth,
        } => {
            let statuses = statuses
                .iter()
                .map(|s| parse_status(s))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut client = client::dispatch(&auth.connection.server, &auth.api_key).await?;
            let page = client
                .list_cases(pb::ListCasesRequest {
                    statuses,
                    region,
                    page_size: limit,
                    page_token,
                    ..Default::default()
                })
                .await
                .map_err(status_error)?
                .into_inner();
            for case in &page.cases {
                if auth.connection.json {
                    println!("{}", output::case_json(case));
                } else {
                    println!("{}", output::case_line(case));
                }
            }
            if !page.next_page_token.is_empty() && !auth.connection.json {
                println!("more: --page-token {}", page.next_page_token);
            }
            return Ok(());
        }
        DispatchCommand::Claim { case_id, auth } => {
            let mut client = client::dispatch(&auth.connection.server, &auth.api_key).await?;
            let reply = client.claim_case(pb::ClaimCaseRequest { case_id }).await;
            (auth, reply)
        }
        DispatchCommand::Approve {
            case_id,
            comment,
            auth,
        } => {
            let mut client = client::dispatch(&auth.connection.server, &auth.api_key).await?;
            let reply = client
                .approve_decision(pb::ApproveDecisionRequest { case_id, comment })
                .await;
            (auth, reply)
        }
        DispatchCommand::Override {
            case_id,
            decision,
            reason,
            auth,
        } => {
            let mut client = client::dispatch(&auth.connection.server, &auth.api_key).await?;
            let reply = client
                .override_decision(pb::OverrideDecisionRequest {
                    case_id,
                    decision,
                    reason,
                })
                .await;
            (auth, reply)
        }
    };
    let case = reply.map_err(status_error)?.into_inner();
    if auth.connection.json {
        println!("{}", output::case_json(&case));
    } else {
        println!("{}", output::case_line(&case));
    }
    Ok(())
}
