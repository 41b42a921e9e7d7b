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
        /// Only cases with this proposed decision (repeat), e.g. truck_roll_with_parts.
        #[arg(long = "decision")]
        decisions: Vec<String>,
        /// Only cases opened at least this many minutes ago.
        #[arg(long, default_value_t = 0)]
        min_age_minutes: i64,
        /// Only cases opened at most this many minutes ago.
        #[arg(long, default_value_t = 0)]
        max_age_minutes: i64,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Continue from a previous page's token.
        #[arg(long, default_value = "")]
        page_token: String,
        #[command(flatten)]
        auth: DispatcherAuth,
    },
    /// Show a case's decision: outcome, reasons, parts, the rules that matched, the review.
    Decision {
        /// The case.
        case_id: String,
        #[command(flatten)]
        auth: DispatcherAuth,
    },
    /// Hand a claimed case's review to another dispatcher.
    Reassign {
        /// The case.
        case_id: String,
        /// The dispatcher who takes it over.
        #[arg(long)]
        to: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        auth: DispatcherAuth,
    },
    /// Key figures over the last hours: truck rolls avoided, first-pass photo acceptance,
    /// re-shoots per guide step, time to pair, time to triage.
    Kpis {
        /// Window length in hours, ending now.
        #[arg(long, default_value_t = 24)]
        hours: i64,
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
        DispatchCommand::Decision { case_id, auth } => {
            let channel = client::channel(&auth.connection.server).await?;
            let mut triage = pb::triage_service_client::TriageServiceClient::with_interceptor(
                channel,
                client::Bearer::new(Some(&auth.api_key))?,
            );
            let result = triage
                .get_decision(pb::GetDecisionRequest { case_id })
                .await
                .map_err(status_error)?
                .into_inner();
            output::print_triage(&result, auth.connection.json);
            return Ok(());
        }
        DispatchCommand::Kpis { hours, auth } => return kpis(hours, auth).await,
        DispatchCommand::Reassign {
            case_id,
            to,
            reason,
            auth,
        } => {
            let mut client = client::dispatch(&auth.connection.server, &auth.api_key).await?;
            let reply = client
                .reassign_case(pb::ReassignCaseRequest {
                    case_id,
                    to_dispatcher_id: to,
                    reason,
                })
                .await;
            (auth, reply)
        }
        DispatchCommand::List {
            statuses,
            region,
            decisions,
            min_age_minutes,
            max_age_minutes,
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
                    decisions,
                    min_age_ms: min_age_minutes * 60_000,
                    max_age_ms: max_age_minutes * 60_000,
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

async fn kpis(hours: i64, auth: DispatcherAuth) -> anyhow::Result<()> {
    anyhow::ensure!(hours > 0, "--hours must be at least 1");
    let mut client = client::dispatch(&auth.connection.server, &auth.api_key).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let k = client
        .get_kpis(pb::GetKpisRequest {
            from_unix_ms: now - hours * 3_600_000,
            to_unix_ms: now,
        })
        .await
        .map_err(status_error)?
        .into_inner();
    if auth.connection.json {
        println!(
            "{}",
            json!({
                "from_unix_ms": k.from_unix_ms, "to_unix_ms": k.to_unix_ms, "cases_opened": k.cases_opened,
                "cases_triaged": k.cases_triaged, "cases_closed": k.cases_closed, "truck_rolls": k.truck_rolls,
                "truck_rolls_avoided": k.truck_rolls_avoided, "truck_roll_avoidance_rate": k.truck_roll_avoidance_rate,
                "first_pass_photo_acceptance": k.first_pass_photo_acceptance,
                "reshoots": k.reshoots.iter().map(|r| json!({"pack_id": r.pack_id, "step_id": r.step_id, "photos": r.photos, "retakes": r.retakes})).collect::<Vec<_>>(),
                "time_to_pair_p50_ms": k.time_to_pair_p50_ms, "time_to_pair_p90_ms": k.time_to_pair_p90_ms,
                "time_to_triage_p50_ms": k.time_to_triage_p50_ms, "time_to_triage_p90_ms": k.time_to_triage_p90_ms,
            })
        );
        return Ok(());
    }
    println!(
        "last {hours} h: {} cases opened, {} triaged, {} closed",
        k.cases_opened, k.cases_triaged, k.cases_closed
    );
    println!(
        "truck rolls avoided: {} of {} decided ({:.0}%)",
        k.truck_rolls_avoided,
        k.truck_rolls + k.truck_rolls_avoided,
        100.0 * k.truck_roll_avoidance_rate
    );
    println!(
        "photos accepted first time: {:.0}%",
        100.0 * k.first_pass_photo_acceptance
    );
    println!(
        "time to pair p50 {} p90 {}; time to triage p50 {} p90 {}",
        output::duration(k.time_to_pair_p50_ms),
        output::duration(k.time_to_pair_p90_ms),
        output::duration(k.time_to_triage_p50_ms),
        output::duration(k.time_to_triage_p90_ms)
    );
    for r in k.reshoots.iter().filter(|r| r.retakes > 0).take(10) {
        println!(
            "  re-shot {:>3}× of {:>3}  {}/{}",
            r.retakes, r.photos, r.pack_id, r.step_id
        );
    }
    Ok(())
}
