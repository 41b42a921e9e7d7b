//! Signed bearer tokens: a caller's case-scoped token and the short-lived media session tokens.
//!
//! A token is `<kind>.<claims>.<mac>`: the claims are JSON in URL-safe base64,
//! the MAC is HMAC-SHA256 over `<kind>.<claims>` with the hub's secret key. The
//! kind prefix keeps one kind of token from being accepted as another. Only the
//! hub issues and checks tokens, so a symmetric key is enough.

use crate::{CaseId, SessionId, UnixMs};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Longest token accepted; anything longer is refused before decoding.
pub const MAX_TOKEN_LEN: usize = 2048;

/// Which kind of token; the prefix of its text form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A caller's token for one case (`flc1`).
    Caller,
    /// A participant's token for one media session (`fls1`).
    Session,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            TokenKind::Caller => "flc1",
            TokenKind::Session => "fls1",
        }
    }
}

/// What a caller token grants: access to one case until `exp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerClaims {
    /// The case.
    pub case: CaseId,
    /// Expiry, Unix ms.
    pub exp: UnixMs,
}

/// A participant's role in a media session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The customer.
    Caller,
    /// The technician.
    Technician,
}

/// What a session token grants: joining one session in one role until `exp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The session.
    pub session: SessionId,
    /// The case it serves.
    pub case: CaseId,
    /// The participant's role.
    pub role: Role,
    /// Who: the technician id, or the case id for the caller.
    pub participant: String,
    /// Expiry, Unix ms.
    pub exp: UnixMs,
}

/// Claims that expire.
pub trait Expiring {
    /// When the token stops being valid, Unix ms.
    fn expires_at(&self) -> UnixMs;
}

impl Expiring for CallerClaims {
    fn expires_at(&self) -> UnixMs {
        self.exp
    }
}

impl Expiring for SessionClaims {
    fn expires_at(&self) -> UnixMs {
        self.exp
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not of the form `<kind>.<claims>.<mac>`, too long, or undecodable.
    #[error("token is malformed")]
    Malformed,
    /// A token of another kind (e.g. a session token used as a caller token).
    #[error("token is of the wrong kind")]
    WrongKind,
    /// The MAC does not match: forged, altered, or signed with another key.
    #[error("token signature is invalid")]
    BadSignature,
    /// Valid but past its expiry.
    #[error("token expired at {expired_at} (Unix ms)")]
    Expired {
        /// When it expired.
        expired_at: UnixMs,
    },
}

/// Issues and checks tokens with one secret key.
#[derive(Clone)]
pub struct TokenSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(..)")
    }
}

impl TokenSigner {
    /// A signer over a 32-byte secret (generated and kept by the hub).
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn mac(&self, signed_part: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC accepts keys of any length");
        mac.update(signed_part.as_bytes());
        mac
    }

    /// Issues a token of `kind` carrying `claims`.
    pub fn sign<C: Serialize>(&self, kind: TokenKind, claims: &C) -> String {
        let json = serde_json::to_vec(claims).expect("claims serialize");
        let signed_part = format!("{}.{}", kind.prefix(), URL_SAFE_NO_PAD.encode(json));
        let tag = self.mac(&signed_part).finalize().into_bytes();
        format!("{signed_part}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// Checks a token's kind, signature and expiry and returns its claims.
    pub fn verify<C: DeserializeOwned + Expiring>(
        &self,
        kind: TokenKind,
        token: &str,
        now: UnixMs,
    ) -> Result<C, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let (signed_part, tag) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (prefix, payload) = signed_part.split_once('.').ok_or(TokenError::Malformed)?;
        if prefix != kind.prefix() {
            return Err(if prefix.starts_with("fl") {
                TokenError::WrongKind
            } else {
                TokenError::Malformed
            });
        }
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Malformed)?;
        self.mac(signed_part)
            .verify_slice(&tag)
            .map_err(|_| TokenError::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let claims: C = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if claims.expires_at() <= now {
            return Err(TokenError::Expired {
                expired_at: claims.expires_at(),
            });
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: UnixMs) -> CallerClaims {
        CallerClaims {
            case: CaseId::new("c-1"),
            exp,
        }
    }

    #[test]
    fn round_trip_and_expiry() {
        let signer = TokenSigner::new([7; 32]);
        let token = signer.sign(TokenKind::Caller, &claims(1_000));
        let back: CallerClaims = signer.verify(TokenKind::Caller, &token, 999).unwrap();
        assert_eq!(back, claims(1_000));
        assert_eq!(
            signer.verify::<CallerClaims>(TokenKind::Caller, &token, 1_000),
            Err(TokenError::Expired { expired_at: 1_000 })
        );
    }

    #[test]
    fn refuses_other_key_kind_and_tampering() {
        let signer = TokenSigner::new([7; 32]);
        let token = signer.sign(TokenKind::Caller, &claims(1_000));
        let other = TokenSigner::new([8; 32]);
        assert_eq!(
            other.verify::<CallerClaims>(TokenKind::Caller, &token, 0),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            signer.verify::<CallerClaims>(TokenKind::Session, &token, 0),
            Err(TokenError::WrongKind)
        );
        let forged_claims = URL_SAFE_NO_PAD.encode(br#"{"case":"c-2","exp":1000}"#);
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[1] = &forged_claims;
        assert_eq!(
            signer.verify::<CallerClaims>(TokenKind::Caller, &parts.join("."), 0),
            Err(TokenError::BadSignature)
        );
        for junk in [
            "",
            "flc1",
            "flc1..",
            "a.b.c.d",
            &"x".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert!(
                signer
                    .verify::<CallerClaims>(TokenKind::Caller, junk, 0)
                    .is_err()
            );
        }
    }
}
