//! Who is calling: caller tokens for one case, API keys (stored hashed) for technicians and dispatchers.

use crate::config::{ApiKeyConfig, KeyRole};
use crate::error::HubError;
use fieldlens_core::token::{CallerClaims, TokenKind, TokenSigner};
use fieldlens_core::{Actor, CaseId, TechnicianId, UnixMs};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tonic::metadata::MetadataMap;

/// An authenticated principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Holder of a caller token for one case.
    Caller(CaseId),
    /// A technician (API key).
    Technician(TechnicianId),
    /// A dispatcher (API key).
    Dispatcher(String),
}

impl Principal {
    /// The actor recorded in events caused by this principal.
    pub fn actor(&self) -> Actor {
        match self {
            Principal::Caller(case) => Actor::Caller { case: case.clone() },
            Principal::Technician(id) => Actor::Technician { id: id.clone() },
            Principal::Dispatcher(id) => Actor::Dispatcher { id: id.clone() },
        }
    }
}

/// A configured key's identity.
#[derive(Debug, Clone)]
struct KeyEntry {
    id: String,
    role: KeyRole,
}

/// Resolves bearer credentials to principals.
#[derive(Debug)]
pub struct Authenticator {
    keys: HashMap<[u8; 32], KeyEntry>,
    signer: TokenSigner,
}

/// SHA-256 of an API key, as configured.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl Authenticator {
    /// Builds the key table from configuration (hashes already validated).
    pub fn new(keys: &[ApiKeyConfig], signer: TokenSigner) -> Self {
        let keys = keys
            .iter()
            .filter_map(|key| {
                let digest: [u8; 32] = hex::decode(&key.sha256).ok()?.try_into().ok()?;
                Some((
                    digest,
                    KeyEntry {
                        id: key.id.clone(),
                        role: key.role,
                    },
                ))
            })
            .collect();
        Self { keys, signer }
    }

    /// The principal behind the request's `authorization: Bearer ...` header.
    pub fn authenticate(&self, metadata: &MetadataMap, now: UnixMs) -> Result<Principal, HubError> {
        let header = metadata
            .get("authorization")
            .ok_or_else(|| {
                HubError::Unauthenticated("missing `authorization: Bearer <token>` metadata".into())
            })?
            .to_str()
            .map_err(|_| HubError::Unauthenticated("authorization header is not ASCII".into()))?;
        let credential = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                HubError::Unauthenticated("authorization must be `Bearer <token>`".into())
            })?
            .trim();
        if credential.starts_with("flc1.") {
            let claims: CallerClaims = self
                .signer
                .verify(TokenKind::Caller, credential, now)
                .map_err(|e| HubError::Unauthenticated(format!("caller token refused: {e}")))?;
            return Ok(Principal::Caller(claims.case));
        }
        match self.keys.get(&hash_key(credential)) {
            Some(KeyEntry {
                id,
                role: KeyRole::Technician,
            }) => Ok(Principal::Technician(TechnicianId::new(id.clone()))),
            Some(KeyEntry {
                id,
                role: KeyRole::Dispatcher,
            }) => Ok(Principal::Dispatcher(id.clone())),
            None => Err(HubError::Unauthenticated("unknown API key".into())),
        }
    }

    /// Issues a caller token for `case`.
    pub fn caller_token(&self, case: &CaseId, expires_at: UnixMs) -> String {
        self.signer.sign(
            TokenKind::Caller,
            &CallerClaims {
                case: case.clone(),
                exp: expires_at,
            },
        )
    }

    /// Requires a technician.
    pub fn technician(principal: Principal) -> Result<TechnicianId, HubError> {
        match principal {
            Principal::Technician(id) => Ok(id),
            _ => Err(HubError::PermissionDenied(
                "this call needs a technician API key".into(),
            )),
        }
    }

    /// Requires a dispatcher.
    pub fn dispatcher(principal: Principal) -> Result<String, HubError> {
        match principal {
            Principal::Dispatcher(id) => Ok(id),
            _ => Err(HubError::PermissionDenied(
                "this call needs a dispatcher API key".into(),
            )),
        }
    }
}
