//! The tonic services: thin adapters from wire requests to [`Hub`](crate::app::Hub) calls.

pub mod capture;
pub mod cases;
pub mod dispatch;
pub mod guides;
pub mod technicians;
pub mod triage;

use crate::app::{Hub, now_ms};
use crate::auth::Principal;
use crate::error::HubError;
use std::pin::Pin;
use std::sync::Arc;
use tonic::{Request, Status};

/// A server stream as the generated traits want it.
pub type ResponseStream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send>>;

/// Authenticates a request against the hub's credentials.
pub fn principal<T>(hub: &Arc<Hub>, request: &Request<T>) -> Result<Principal, Status> {
    hub.auth
        .authenticate(request.metadata(), now_ms())
        .map_err(Status::from)
}

/// Converts a hub result for tonic.
pub fn reply<T>(result: Result<T, HubError>) -> Result<tonic::Response<T>, Status> {
    result.map(tonic::Response::new).map_err(Status::from)
}
