//! `TriageService`: findings in, explained decision out.

use super::{principal, reply};
use crate::app::Hub;
use crate::auth::Authenticator;
use crate::convert;
use crate::error::invalid;
use fieldlens_proto::v1 as pb;
use fieldlens_proto::v1::triage_service_server::TriageService;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The triage service.
#[derive(Debug, Clone)]
pub struct TriageApi {
    /// The hub.
    pub hub: Arc<Hub>,
}

#[tonic::async_trait]
impl TriageService for TriageApi {
    async fn record_findings(
        &self,
        request: Request<pb::RecordFindingsRequest>,
    ) -> Result<Response<pb::TriageResult>, Status> {
        let technician = Authenticator::technician(principal(&self.hub, &request)?)?;
        let request = request.into_inner();
        let id = convert::case_id("case_id", &request.case_id)?;
        let findings = convert::findings(
            request
                .findings
                .ok_or_else(|| invalid("findings", "is required"))?,
        )?;
        reply(
            self.hub
                .record_findings(&technician, &id, findings)
                .await
                .map(|v| convert::triage_to_wire(&v)),
        )
    }

    async fn get_decision(
        &self,
        request: Request<pb::GetDecisionRequest>,
    ) -> Result<Response<pb::TriageResult>, Status> {
        let principal = principal(&self.hub, &request)?;
        let id = convert::case_id("case_id", &request.get_ref().case_id)?;
        reply(
            self.hub
                .decision(&principal, &id)
                .map(|v| convert::triage_to_wire(&v)),
        )
    }
}
