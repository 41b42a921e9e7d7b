//! `GuideService`: the guide packs, public and read-only.

use crate::app::Hub;
use crate::convert;
use crate::error::{HubError, invalid};
use fieldlens_proto::v1 as pb;
use fieldlens_proto::v1::guide_service_server::GuideService;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The guide service.
#[derive(Debug, Clone)]
pub struct GuideApi {
    /// The hub.
    pub hub: Arc<Hub>,
}

#[tonic::async_trait]
impl GuideService for GuideApi {
    async fn list_packs(
        &self,
        _: Request<pb::ListPacksRequest>,
    ) -> Result<Response<pb::ListPacksResponse>, Status> {
        let packs = self
            .hub
            .guides
            .packs()
            .iter()
            .map(convert::pack_to_wire)
            .collect();
        Ok(Response::new(pb::ListPacksResponse { packs }))
    }

    async fn get_step(
        &self,
        request: Request<pb::GetStepRequest>,
    ) -> Result<Response<pb::GuideStep>, Status> {
        let request = request.into_inner();
        if request.pack_id.is_empty() {
            return Err(invalid("pack_id", "is required").into());
        }
        if request.step_id.is_empty() {
            return Err(invalid("step_id", "is required").into());
        }
        let pack = self
            .hub
            .guides
            .require_pack(&request.pack_id)
            .map_err(HubError::from)?;
        let step = pack
            .require_step(&request.step_id)
            .map_err(HubError::from)?;
        Ok(Response::new(convert::step_to_wire(
            pack,
            step,
            request.include_overlay,
        )))
    }
}
