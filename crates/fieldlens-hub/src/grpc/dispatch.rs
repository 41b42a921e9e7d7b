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
        let filter = CaseFilter {
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
        check_code("decision", &request.decision, 64).map_err(crate::error::HubError::from)?;
        reply(
            self.hub
                .decide(&dispatcher, &id, Some(request.decision), request.reason)
                .await
                .map(|s| convert::case_to_wire(&s)),
        )
    }
}
