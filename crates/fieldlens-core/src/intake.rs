//! Opening a case: the caller's request, its validation, and what routing derives from it.

use crate::case::{APPLIANCE_CATEGORIES, Case, CaseKind, CaseStatus, Contact, Product};
use crate::event::{Actor, CaseEvent, EventRecord, GENESIS_HASH};
use crate::{CaseId, Priority, UnixMs};
use serde::{Deserialize, Serialize};

/// Limits on what a caller may send; anything longer is refused, not truncated.
pub mod limits {
    /// Brand and model.
    pub const PRODUCT_TEXT: usize = 100;
    /// VIN or serial number.
    pub const SERIAL: usize = 64;
    /// Contact name.
    pub const NAME: usize = 200;
    /// E-mail address.
    pub const EMAIL: usize = 254;
    /// Free-text description.
    pub const DESCRIPTION: usize = 2000;
    /// Region code.
    pub const REGION: usize = 64;
    /// Locale tag.
    pub const LOCALE: usize = 35;
    /// Shortest idempotency key.
    pub const IDEMPOTENCY_MIN: usize = 8;
    /// Longest idempotency key.
    pub const IDEMPOTENCY_MAX: usize = 128;
    /// Product age, months (100 years).
    pub const AGE_MONTHS: u32 = 1200;
    /// Reasons and comments.
    pub const REASON: usize = 1000;
}

/// A request to open a case, as the caller sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCase {
    /// What the case is about.
    pub case_kind: CaseKind,
    /// The product concerned.
    pub product: Product,
    /// BCP 47 locale.
    pub locale: String,
    /// Service region code.
    pub region: String,
    /// How to reach the caller.
    pub contact: Contact,
    /// Client-chosen idempotency key.
    pub idempotency_key: String,
    /// Requested priority.
    pub priority: Priority,
    /// The caller's own words.
    pub description: String,
}

/// A request field that is missing or wrong. `field` uses the API's field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ValidationError {
    /// The offending field, e.g. `product.category`.
    pub field: &'static str,
    /// What is wrong with it, in words a client developer can act on.
    pub problem: String,
}

fn invalid(field: &'static str, problem: impl Into<String>) -> ValidationError {
    ValidationError {
        field,
        problem: problem.into(),
    }
}

/// Checks a free-text field: length in characters and no control characters.
pub fn check_text(
    field: &'static str,
    value: &str,
    max_chars: usize,
    required: bool,
) -> Result<(), ValidationError> {
    if required && value.trim().is_empty() {
        return Err(invalid(field, "is required"));
    }
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(invalid(
            field,
            format!("is {chars} characters long; the limit is {max_chars}"),
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Checks an identifier-like code: lowercase ASCII letters, digits, `-`, `_`, `.`.
pub fn check_code(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(invalid(field, "is required"));
    }
    if value.len() > max {
        return Err(invalid(
            field,
            format!("is {} bytes long; the limit is {max}", value.len()),
        ));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
    {
        return Err(invalid(
            field,
            format!("{value:?} may only hold lowercase letters, digits, '-', '_' and '.'"),
        ));
    }
    Ok(())
}

fn check_phone(field: &'static str, phone: &str) -> Result<(), ValidationError> {
    let digits = phone.strip_prefix('+').unwrap_or("");
    if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            field,
            format!("{phone:?} is not an E.164 number such as +4915123456789"),
        ));
    }
    Ok(())
}

impl NewCase {
    /// Validates every field against the API's rules and limits.
    pub fn validate(&self) -> Result<(), ValidationError> {
        match self.case_kind {
            CaseKind::CarDamage if self.product.category != "car" => {
                return Err(invalid(
                    "product.category",
                    format!(
                        "{:?} does not fit kind car_damage; use \"car\"",
                        self.product.category
                    ),
                ));
            }
            CaseKind::Appliance
                if !APPLIANCE_CATEGORIES.contains(&self.product.category.as_str()) =>
            {
                return Err(invalid(
                    "product.category",
                    format!(
                        "{:?} is not a supported appliance; use one of {}",
                        self.product.category,
                        APPLIANCE_CATEGORIES.join(", ")
                    ),
                ));
            }
            _ => {}
        }
        check_text(
            "product.brand",
            &self.product.brand,
            limits::PRODUCT_TEXT,
            false,
        )?;
        check_text(
            "product.model",
            &self.product.model,
            limits::PRODUCT_TEXT,
            false,
        )?;
        check_text(
            "product.serial_number",
            &self.product.serial_number,
            limits::SERIAL,
            false,
        )?;
        if self.product.age_months > limits::AGE_MONTHS {
            return Err(invalid(
                "product.age_months",
                format!(
                    "{} is more than {}",
                    self.product.age_months,
                    limits::AGE_MONTHS
                ),
            ));
        }
        language_of(&self.locale)?;
        check_code("region", &self.region, limits::REGION)?;
        check_text("contact.name", &self.contact.name, limits::NAME, true)?;
        check_phone("contact.phone", &self.contact.phone)?;
        check_text("contact.email", &self.contact.email, limits::EMAIL, false)?;
        if !self.contact.email.is_empty() && !self.contact.email.contains('@') {
            return Err(invalid("contact.email", "is not an e-mail address"));
        }
        let key = &self.idempotency_key;
        if !(limits::IDEMPOTENCY_MIN..=limits::IDEMPOTENCY_MAX).contains(&key.len())
            || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(invalid(
                "idempotency_key",
                format!(
                    "must be {} to {} printable ASCII characters",
                    limits::IDEMPOTENCY_MIN,
                    limits::IDEMPOTENCY_MAX
                ),
            ));
        }
        check_text("description", &self.description, limits::DESCRIPTION, false)?;
        Ok(())
    }

    /// The skills a technician needs for this case: `car_damage`, or
    /// `appliance.<category>`.
    pub fn required_skills(&self) -> Vec<String> {
        match self.case_kind {
            CaseKind::CarDamage => vec!["car_damage".to_owned()],
            CaseKind::Appliance => vec![format!("appliance.{}", self.product.category)],
        }
    }

    /// Creates the case and its first event (`opened`). The case is validated first.
    pub fn open(self, id: CaseId, at: UnixMs) -> Result<(Case, EventRecord), ValidationError> {
        self.validate()?;
        let language = language_of(&self.locale)?;
        let case = Case {
            id: id.clone(),
            kind: self.case_kind,
            language,
            required_skills: self.required_skills(),
            product: self.product.clone(),
            locale: self.locale.clone(),
            region: self.region.clone(),
            contact: self.contact.clone(),
            priority: self.priority,
            description: self.description.clone(),
            idempotency_key: self.idempotency_key.clone(),
            status: CaseStatus::Opened,
            opened_at: at,
            updated_at: at,
            arrival: 0,
            enqueued_at: None,
            callback_phone: None,
            offered_to: None,
            session: None,
            reviewer: None,
            capture_pack: None,
            decision: None,
            final_decision: None,
            event_count: 0,
            last_event_hash: GENESIS_HASH.to_owned(),
        };
        let mut case = case;
        let record = EventRecord::chained(
            id.clone(),
            1,
            at,
            Actor::Caller { case: id },
            CaseEvent::Opened(self),
            GENESIS_HASH.to_owned(),
        );
        case.event_count = 1;
        case.last_event_hash = record.hash.clone();
        Ok((case, record))
    }
}

/// The ISO 639-1 language of a BCP 47 locale such as `zh-CN` → `zh`.
pub fn language_of(locale: &str) -> Result<String, ValidationError> {
    let problem = || {
        invalid(
            "locale",
            format!("{locale:?} is not a locale such as \"en-GB\" or \"zh-CN\""),
        )
    };
    if locale.is_empty() || locale.len() > limits::LOCALE {
        return Err(problem());
    }
    let mut parts = locale.split(['-', '_']);
    let language = parts.next().unwrap_or_default();
    if !(2..=3).contains(&language.len()) || !language.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(problem());
    }
    if parts.any(|p| p.is_empty() || p.len() > 8 || !p.bytes().all(|b| b.is_ascii_alphanumeric())) {
        return Err(problem());
    }
    Ok(language.to_ascii_lowercase())
}
