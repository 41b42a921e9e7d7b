//! `DispatchService`: the queue, case lists, review claims and decisions.

use super::{principal, reply};
use crate::app::{CaseFilter, Hub};
use crate::auth::Authenticator;
use crate::convert;
use crate::error::invalid;
use fieldlens_core::intake::check_code;
use fieldlens_proto::v1 as pb;
use fieldlens_proto::v1::dispatch_service_server::DispatchService;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The dispatcher-facing service.
#[derive(Debug, Clone)]
pub struct DispatchApi {
    /// The hub.
    pub hub: Arc<Hub>,
}

impl DispatchApi {
    fn dispatcher<T>(&self, request: &Request<T>) -> Result<String, Status> {
        Ok(Authenticator::dispatcher(principal(&self.hub, request)?)?)
    }
}

#[tonic::async_trait]
impl DispatchService for DispatchApi {
    async fn get_queue(
        &self,
        request: Request<pb::GetQueueRequest>,
    ) -> Result<Response<pb::QueueSnapshot>, Status> {
        self.dispatcher(&request)?;
        let limit = match request.get_ref().limit {
            0 => 100,
            n if n > 10_000 => return Err(invalid("limit", "must be at most 10000").into()),
            n => n as usize,
        };
        let queue = self.hub.queue(limit);
        Ok(Response::new(pb::QueueSnapshot {
            waiting: queue
                .waiting
                .iter()
                .map(|(entry, estimate)| pb::QueueEntry {
                    case_id: entry.request.case_id.to_string(),
                    priority: convert::priority_to_wire(entry.request.priority) as i32,
                    position: entry.position as u32,
                    waited_ms: entry.waited_ms,
                    estimated_wait_ms: estimate.unwrap_or(-1),
                    required_skills: entry.request.skills.clone(),
                    language: entry.request.language.clone(),
                    region: entry.request.region.clone(),
                    offered_to: entry
                        .offered_to
                        .as_ref()
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    callback_requested: entry.request.callback,
                })
                .collect(),
            waiting_total: queue.waiting_total as u32,
            technicians: queue
                .technicians
                .iter()
                .map(convert::technician_to_wire)
                .collect(),
            mean_handle_time_ms: queue.mean_handle_time_ms,
        }))
    }

    async fn list_cases(
        &self,
        request: Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesResponse>, Status> {
        self.dispatcher(&request)?;
        let request = request.into_inner();
        let statuses = request
            .statuses
            .iter()
            .map(|s| convert::status("statuses", *s))
            .collect::<Result<Vec<_>, _>>()?;
        if !request.region.is_empty() {
            check_code("region", &request.region, 64).map_err(crate::error::HubError::from)?;
        }
        let decisions = request
            .decisions
            .iter()
            .map(|d| crate::triage::outcome("decisions", d).map(|o| o.as_str().to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        if request.min_age_ms < 0 || request.max_age_ms < 0 {
            return Err(invalid("min_age_ms", "ages cannot be negative").into());
        }
        let now = crate::app::now_ms();
        let filter = CaseFilter {
            decisions,
            opened_before: Some(now - request.min_age_ms).filter(|_| request.min_age_ms > 0),
            opened_since: Some(now - request.max_age_ms).filter(|_| request.max_age_ms > 0),
            statuses,
            region: Some(request.region).filter(|r| !r.is_empty()),
            min_priority: match request.min_priority {
                0 => None,
                p => Some(convert::priority("min_priority", p)?),
            },
            opened_after: Some(request.opened_after_unix_ms).filter(|t| *t > 0),
        };
        let limit = match request.page_size {
            0 => 100,
            n if n > 1000 => return Err(invalid("page_size", "must be at most 1000").into()),
            n => n as usize,
        };
        let cursor = Some(request.page_token.as_str()).filter(|t| !t.is_empty());
        let page = self.hub.list_cases(&filter, cursor, limit)?;
        Ok(Response::new(pb::ListCasesResponse {
            cases: page
                .cases
                .into_iter()
                .map(|case| {
                    convert::case_to_wire(&crate::app::CaseSnapshot {
                        case,
                        standing: None,
                        session: None,
                    })
                })
                .collect(),
            next_page_token: page.next.unwrap_or_default(),
        }))
    }

    async fn reassign_case(
        &self,
        request: Request<pb::ReassignCaseRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        let dispatcher = self.dispatcher(&request)?;
        let request = request.into_inner();
        let id = convert::case_id("case_id", &request.case_id)?;
        reply(
            self.hub
                .reassign(&dispatcher, &id, request.to_dispatcher_id, request.reason)
                .await
                .map(|s| convert::case_to_wire(&s)),
        )
    }

    async fn get_kpis(
        &self,
        request: Request<pb::GetKpisRequest>,
    ) -> Result<Response<pb::Kpis>, Status> {
        self.dispatcher(&request)?;
        let request = request.into_inner();
        let now = crate::app::now_ms();
        let to = if request.to_unix_ms == 0 {
            now
        } else {
            request.to_unix_ms
        };
        let from = if request.from_unix_ms == 0 {
            to - 86_400_000
        } else {
            request.from_unix_ms
        };
        if from >= to {
            return Err(invalid("from_unix_ms", "must be before to_unix_ms").into());
        }
        let hub = Arc::clone(&self.hub);
        let kpis = tokio::task::spawn_blocking(move || hub.kpis(from, to))
            .await
            .map_err(|e| Status::internal(e.to_string()))??;
        use crate::triage::Kpis;
        Ok(Response::new(pb::Kpis {
            from_unix_ms: kpis.from,
            to_unix_ms: kpis.to,
            cases_opened: kpis.opened,
            cases_triaged: kpis.triaged,
            cases_closed: kpis.closed,
            truck_rolls: kpis.truck_rolls,
            truck_rolls_avoided: kpis.truck_rolls_avoided,
            truck_roll_avoidance_rate: kpis.avoidance_rate(),
            first_pass_photo_acceptance: kpis.first_pass_rate(),
            reshoots: kpis
                .reshoots
                .iter()
                .map(|r| pb::StepReshoots {
                    pack_id: r.pack.clone(),
                    step_id: r.step.clone(),
                    photos: r.photos,
                    retakes: r.retakes,
                })
                .collect(),
            time_to_pair_p50_ms: Kpis::percentile(&kpis.time_to_pair, 0.5),
            time_to_pair_p90_ms: Kpis::percentile(&kpis.time_to_pair, 0.9),
            time_to_triage_p50_ms: Kpis::percentile(&kpis.time_to_triage, 0.5),
            time_to_triage_p90_ms: Kpis::percentile(&kpis.time_to_triage, 0.9),
        }))
    }

    async fn claim_case(
        &self,
        request: Request<pb::ClaimCaseRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        let dispatcher = self.dispatcher(&request)?;
        let id = convert::case_id("case_id", &request.get_ref().case_id)?;
        reply(
            self.hub
                .claim(&dispatcher, &id)
                .await
                .map(|s| convert::case_to_wire(&s)),
        )
    }

    async fn approve_decision(
        &self,
        request: Request<pb::ApproveDecisionRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        let dispatcher = self.dispatcher(&request)?;
        let request = request.into_inner();
        let id = convert::case_id("case_id", &request.case_id)?;
        reply(
            self.hub
                .decide(&dispatcher, &id, None, request.comment)
                .await
                .map(|s| convert::case_to_wire(&s)),
        )
    }

    async fn override_decision(
        &self,
        request: Request<pb::OverrideDecisionRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        let dispatcher = self.dispatcher(&request)?;
        let request = request.into_inner();
        let id = convert::case_id("case_id", &request.case_id)?;
        crate::triage::outcome("decision", &request.decision)?;
        reply(
            self.hub
                .decide(&dispatcher, &id, Some(request.decision), request.reason)
                .await
                .map(|s| convert::case_to_wire(&s)),
        )
    }
}
