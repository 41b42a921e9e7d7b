//! `CaseService`: open, read, watch, cancel, callback, events.

use super::{ResponseStream, principal, reply};
use crate::app::{Change, Hub};
use crate::convert;
use fieldlens_proto::v1 as pb;
use fieldlens_proto::v1::case_service_server::CaseService;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tonic::{Request, Response, Status};

/// How often a watch refreshes the estimate even when nothing moved.
const WATCH_REFRESH: Duration = Duration::from_secs(5);

/// The caller-facing service.
#[derive(Debug, Clone)]
pub struct CaseApi {
    /// The hub.
    pub hub: Arc<Hub>,
}

#[tonic::async_trait]
impl CaseService for CaseApi {
    async fn open_case(
        &self,
        request: Request<pb::OpenCaseRequest>,
    ) -> Result<Response<pb::OpenCaseResponse>, Status> {
        let new_case = convert::new_case(request.into_inner())?;
        let opened = self.hub.open_case(new_case).await?;
        Ok(Response::new(pb::OpenCaseResponse {
            case: Some(convert::case_to_wire(&opened.snapshot)),
            caller_token: opened.caller_token,
            replayed: opened.replayed,
        }))
    }

    async fn get_case(
        &self,
        request: Request<pb::GetCaseRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        let principal = principal(&self.hub, &request)?;
        let id = convert::case_id("case_id", &request.get_ref().case_id)?;
        reply(
            self.hub
                .get_case(&principal, &id)
                .map(|s| convert::case_to_wire(&s)),
        )
    }

    type WatchCaseStream = ResponseStream<pb::CaseUpdate>;

    async fn watch_case(
        &self,
        request: Request<pb::WatchCaseRequest>,
    ) -> Result<Response<Self::WatchCaseStream>, Status> {
        let principal = principal(&self.hub, &request)?;
        let id = convert::case_id("case_id", &request.get_ref().case_id)?;
        let mut changes = self.hub.subscribe_changes();
        let first = self.hub.get_case(&principal, &id)?;
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        let hub = Arc::clone(&self.hub);
        let mut shutdown = hub.shutdown_signal();
        hub.watch_started(&principal, &id);
        tokio::spawn(async move {
            let mut last = convert::case_to_wire(&first);
            let mut reason = "initial";
            loop {
                let done = pb::CaseStatus::try_from(last.status)
                    .map(|s| {
                        matches!(
                            s,
                            pb::CaseStatus::Closed
                                | pb::CaseStatus::Cancelled
                                | pb::CaseStatus::Abandoned
                        )
                    })
                    .unwrap_or(true);
                let update = pb::CaseUpdate {
                    case: Some(last.clone()),
                    reason: reason.to_owned(),
                };
                if sender.send(Ok(update)).await.is_err() || done {
                    break;
                }
                // Wait for something that changes what the caller sees.
                let next = loop {
                    let why = tokio::select! {
                        change = changes.recv() => match change {
                            Ok(Change::Case(changed)) if changed == id => "case_changed",
                            Ok(Change::Queue) => "queue_moved",
                            Ok(Change::Case(_)) => continue,
                            Err(RecvError::Lagged(_)) => "queue_moved",
                            Err(RecvError::Closed) => return,
                        },
                        _ = tokio::time::sleep(WATCH_REFRESH) => "refresh",
                        _ = sender.closed() => break None,
                        _ = shutdown.changed() => break None,
                    };
                    match hub.get_case(&principal, &id) {
                        Ok(snapshot) => {
                            let case = convert::case_to_wire(&snapshot);
                            if differs(&last, &case) {
                                break Some((case, why));
                            }
                        }
                        Err(error) => {
                            let _ = sender.send(Err(Status::from(error))).await;
                            break None;
                        }
                    }
                };
                let Some((case, why)) = next else { break };
                last = case;
                reason = why;
            }
            hub.watch_ended(&principal, &id);
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }

    async fn cancel_case(
        &self,
        request: Request<pb::CancelCaseRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        let principal = principal(&self.hub, &request)?;
        let request = request.into_inner();
        let id = convert::case_id("case_id", &request.case_id)?;
        reply(
            self.hub
                .cancel(&principal, &id, request.reason)
                .await
                .map(|s| convert::case_to_wire(&s)),
        )
    }

    async fn request_callback(
        &self,
        request: Request<pb::RequestCallbackRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        let principal = principal(&self.hub, &request)?;
        let request = request.into_inner();
        let id = convert::case_id("case_id", &request.case_id)?;
        reply(
            self.hub
                .request_callback(&principal, &id, request.phone)
                .await
                .map(|s| convert::case_to_wire(&s)),
        )
    }

    type ExportCaseStream = ResponseStream<pb::ExportChunk>;

    async fn export_case(
        &self,
        request: Request<pb::ExportCaseRequest>,
    ) -> Result<Response<Self::ExportCaseStream>, Status> {
        let principal = principal(&self.hub, &request)?;
        let id = convert::case_id("case_id", &request.get_ref().case_id)?;
        let hub = Arc::clone(&self.hub);
        let bundle = tokio::task::spawn_blocking(move || hub.export(&principal, &id))
            .await
            .map_err(|e| Status::internal(e.to_string()))??;
        let sha256 = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&bundle))
        };
        let total = bundle.len() as u64;
        let chunks: Vec<Result<pb::ExportChunk, Status>> = bundle
            .chunks(EXPORT_CHUNK)
            .enumerate()
            .map(|(i, chunk)| {
                Ok(pb::ExportChunk {
                    data: chunk.to_vec(),
                    total_size: if i == 0 { total } else { 0 },
                    sha256: if i == 0 {
                        sha256.clone()
                    } else {
                        String::new()
                    },
                })
            })
            .collect();
        Ok(Response::new(Box::pin(futures::stream::iter(chunks))))
    }

    async fn list_case_events(
        &self,
        request: Request<pb::ListCaseEventsRequest>,
    ) -> Result<Response<pb::ListCaseEventsResponse>, Status> {
        let principal = principal(&self.hub, &request)?;
        let request = request.into_inner();
        let id = convert::case_id("case_id", &request.case_id)?;
        let limit = match request.limit {
            0 => fieldlens_store::MAX_EVENTS_PER_READ,
            n => (n as usize).min(fieldlens_store::MAX_EVENTS_PER_READ),
        };
        reply(
            self.hub
                .events(&principal, &id, request.after_seq, limit)
                .map(|events| pb::ListCaseEventsResponse {
                    events: events.iter().map(convert::event_to_wire).collect(),
                }),
        )
    }
}

/// Largest chunk of an export stream.
const EXPORT_CHUNK: usize = 1024 * 1024;

/// Whether an update is worth sending: status, position, session, or an
/// estimate that moved by more than a second.
fn differs(before: &pb::Case, after: &pb::Case) -> bool {
    let estimate = |c: &pb::Case| {
        c.standing
            .as_ref()
            .map(|s| (s.position, s.waiting_total, s.estimated_wait_ms / 1000))
    };
    before.status != after.status
        || before.callback_requested != after.callback_requested
        || before.technician_id != after.technician_id
        || before.session.as_ref().map(|s| &s.session_id)
            != after.session.as_ref().map(|s| &s.session_id)
        || estimate(before) != estimate(after)
}
