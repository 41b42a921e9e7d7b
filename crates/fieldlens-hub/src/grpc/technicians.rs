//! `TechnicianService`: presence, offers, accept, decline, end session.

use super::{ResponseStream, principal, reply};
use crate::app::Hub;
use crate::auth::Authenticator;
use crate::convert;
use fieldlens_proto::v1 as pb;
use fieldlens_proto::v1::technician_service_server::TechnicianService;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tonic::{Request, Response, Status};

/// The technician-facing service.
#[derive(Debug, Clone)]
pub struct TechnicianApi {
    /// The hub.
    pub hub: Arc<Hub>,
}

impl TechnicianApi {
    fn technician<T>(&self, request: &Request<T>) -> Result<fieldlens_core::TechnicianId, Status> {
        Ok(Authenticator::technician(principal(&self.hub, request)?)?)
    }
}

#[tonic::async_trait]
impl TechnicianService for TechnicianApi {
    async fn set_presence(
        &self,
        request: Request<pb::SetPresenceRequest>,
    ) -> Result<Response<pb::Technician>, Status> {
        let technician = self.technician(&request)?;
        let presence = convert::presence(&technician, request.into_inner());
        reply(
            self.hub
                .set_presence(&technician, presence)
                .await
                .map(|s| convert::technician_to_wire(&s)),
        )
    }

    async fn get_technician(
        &self,
        request: Request<pb::GetTechnicianRequest>,
    ) -> Result<Response<pb::Technician>, Status> {
        let technician = self.technician(&request)?;
        reply(
            self.hub
                .technician(&technician)
                .map(|s| convert::technician_to_wire(&s)),
        )
    }

    type StreamOffersStream = ResponseStream<pb::Offer>;

    async fn stream_offers(
        &self,
        request: Request<pb::StreamOffersRequest>,
    ) -> Result<Response<Self::StreamOffersStream>, Status> {
        let technician = self.technician(&request)?;
        // Subscribe before reading pending offers so none falls in between.
        let mut offers = self.hub.subscribe_offers();
        let pending = self.hub.pending_offers(&technician);
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        let mut shutdown = self.hub.shutdown_signal();
        tokio::spawn(async move {
            let mut sent = HashSet::new();
            for notice in pending {
                sent.insert((notice.offer.case_id.clone(), notice.offer.expires_at));
                if sender
                    .send(Ok(convert::offer_to_wire(&notice)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            loop {
                tokio::select! {
                    notice = offers.recv() => match notice {
                        Ok(notice) if notice.offer.technician_id == technician => {
                            if sent.insert((notice.offer.case_id.clone(), notice.offer.expires_at))
                                && sender.send(Ok(convert::offer_to_wire(&notice))).await.is_err()
                            {
                                return;
                            }
                        }
                        Ok(_) | Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => return,
                    },
                    _ = sender.closed() => return,
                    _ = shutdown.changed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }

    async fn list_offers(
        &self,
        request: Request<pb::ListOffersRequest>,
    ) -> Result<Response<pb::ListOffersResponse>, Status> {
        let technician = self.technician(&request)?;
        let offers = self
            .hub
            .pending_offers(&technician)
            .iter()
            .map(convert::offer_to_wire)
            .collect();
        Ok(Response::new(pb::ListOffersResponse { offers }))
    }

    async fn accept_offer(
        &self,
        request: Request<pb::AcceptOfferRequest>,
    ) -> Result<Response<pb::AcceptOfferResponse>, Status> {
        let technician = self.technician(&request)?;
        let id = convert::case_id("case_id", &request.get_ref().case_id)?;
        let snapshot = self.hub.accept(&technician, &id).await?;
        Ok(Response::new(pb::AcceptOfferResponse {
            session: snapshot.session.as_ref().map(convert::session_to_wire),
            case: Some(convert::case_to_wire(&snapshot)),
        }))
    }

    async fn decline_offer(
        &self,
        request: Request<pb::DeclineOfferRequest>,
    ) -> Result<Response<pb::Technician>, Status> {
        let technician = self.technician(&request)?;
        let request = request.into_inner();
        let id = convert::case_id("case_id", &request.case_id)?;
        reply(
            self.hub
                .decline(&technician, &id, request.reason)
                .await
                .map(|s| convert::technician_to_wire(&s)),
        )
    }

    async fn end_session(
        &self,
        request: Request<pb::EndSessionRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        let technician = self.technician(&request)?;
        let id = convert::case_id("case_id", &request.get_ref().case_id)?;
        reply(
            self.hub
                .end_session(&technician, &id)
                .await
                .map(|s| convert::case_to_wire(&s)),
        )
    }
}
