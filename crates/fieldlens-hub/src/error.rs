//! Hub errors and the one place where domain errors become gRPC statuses.

use fieldlens_core::TransitionError;
use fieldlens_core::ValidationError;
use fieldlens_core::routing::RoutingError;
use fieldlens_store::StoreError;
use tonic::{Code, Status};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// A request field is missing or wrong (INVALID_ARGUMENT).
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// A request field is wrong; the field is named by path (INVALID_ARGUMENT).
    #[error("{field}: {problem}")]
    InvalidInput {
        /// The field's path, e.g. `findings.damage[2].area`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// No such case, offer or technician (NOT_FOUND).
    #[error("{0}")]
    NotFound(String),
    /// The case's state does not allow the request (FAILED_PRECONDITION).
    #[error("{0}")]
    Transition(#[from] TransitionError),
    /// Routing refused the request, e.g. no live offer (FAILED_PRECONDITION).
    #[error("{0}")]
    Routing(#[from] RoutingError),
    /// The request is valid but cannot be done now (FAILED_PRECONDITION).
    #[error("{0}")]
    Precondition(String),
    /// Missing or invalid credentials (UNAUTHENTICATED).
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials that do not allow this (PERMISSION_DENIED).
    #[error("{0}")]
    PermissionDenied(String),
    /// The hub is shutting down (UNAVAILABLE).
    #[error("the hub is shutting down")]
    ShuttingDown,
    /// Storage failed (INTERNAL); the request had no effect.
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl From<HubError> for Status {
    fn from(error: HubError) -> Status {
        let code = match &error {
            HubError::Invalid(_) | HubError::InvalidInput { .. } => Code::InvalidArgument,
            HubError::NotFound(_) => Code::NotFound,
            HubError::Transition(_) | HubError::Routing(_) | HubError::Precondition(_) => {
                Code::FailedPrecondition
            }
            HubError::Unauthenticated(_) => Code::Unauthenticated,
            HubError::PermissionDenied(_) => Code::PermissionDenied,
            HubError::ShuttingDown => Code::Unavailable,
            HubError::Store(_) => {
                tracing::error!(%error, "storage failure");
                Code::Internal
            }
        };
        Status::new(code, error.to_string())
    }
}

/// Shorthand for an invalid field.
pub fn invalid(field: &'static str, problem: impl Into<String>) -> HubError {
    HubError::Invalid(ValidationError {
        field,
        problem: problem.into(),
    })
}
