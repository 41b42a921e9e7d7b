//! The hub's application layer: applies core's rules to the live state, persists through the store, notifies.
//!
//! All mutable state sits behind one short-held lock: the router, the active
//! (non-final) cases and presence bookkeeping. A mutation validates through
//! the case state machine, writes the case and its new events to the store
//! (atomic, not yet durable) and updates the router, all under the lock; then
//! it releases the lock and waits for [`Store::sync`] before answering. Any
//! request that saw the new state did so after the write, so its own sync
//! covers it: nothing a client was told can be lost, and one fsync serves
//! every request that arrived meanwhile.

use crate::auth::{Authenticator, Principal};
use crate::config::Config;
use crate::error::HubError;
use crate::journal::Journal;
use crate::metrics::Metrics;
use fieldlens_core::event::{Actor, CaseEvent, EventRecord};
use fieldlens_core::intake::{NewCase, ValidationError, check_text, limits};
use fieldlens_core::routing::{
    CallerRequest, Offer, QueueEntryView, Router, Standing, TechnicianProfile, TechnicianView,
};
use fieldlens_core::technician::TechnicianRecord;
use fieldlens_core::token::{Role, SessionClaims, TokenKind, TokenSigner};
use fieldlens_core::{Case, CaseId, CaseStatus, SessionId, TechnicianId, UnixMs};
use fieldlens_guides::GuideLibrary;
use fieldlens_store::{CasePage, CreateOutcome, Scan, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::{Notify, broadcast, watch};

/// Current time in Unix milliseconds.
pub fn now_ms() -> UnixMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as UnixMs)
        .unwrap_or_default()
}

/// How far out of opening order a case listing may meet cases: ids are UUIDv7 minted
/// as a case opens, so newest-first id order is opening order up to clock steps.
const OPENING_ORDER_SLACK_MS: UnixMs = 60_000;

/// Whether a listing that wants only cases opened at or after `since` takes `case`
/// (when it `matches`), skips it, or is past every case it could want.
pub(crate) fn scan_opened_since(case: &Case, since: Option<UnixMs>, matches: bool) -> Scan {
    match since {
        Some(since) if case.opened_at < since.saturating_sub(OPENING_ORDER_SLACK_MS) => Scan::Stop,
        _ if matches => Scan::Take,
        _ => Scan::Skip,
    }
}

/// Where and how participants reach the media endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaInfo {
    /// `host:port` of the QUIC endpoint.
    pub endpoint: String,
    /// TLS server name to present.
    pub server_name: String,
    /// SHA-256 (hex) of the endpoint's certificate, to pin.
    pub certificate_sha256: String,
}

/// A session token handed to one participant.
#[derive(Debug, Clone)]
pub struct SessionGrant {
    /// The session.
    pub session_id: SessionId,
    /// The case.
    pub case_id: CaseId,
    /// The participant's role.
    pub role: Role,
    /// The signed token.
    pub token: String,
    /// When the token lapses.
    pub expires_at: UnixMs,
    /// The technician in the session.
    pub technician: TechnicianId,
    /// When the session began.
    pub created_at: UnixMs,
    /// How to reach the media endpoint.
    pub media: Option<MediaInfo>,
}

/// A case as one principal may see it now.
#[derive(Debug, Clone)]
pub struct CaseSnapshot {
    /// The case.
    pub case: Case,
    /// Queue standing while waiting.
    pub standing: Option<Standing>,
    /// The session token for the reader's role, while a session is live.
    pub session: Option<SessionGrant>,
}

/// The result of opening a case.
#[derive(Debug)]
pub struct Opened {
    /// The case now.
    pub snapshot: CaseSnapshot,
    /// The caller's token.
    pub caller_token: String,
    /// True when the idempotency key had been seen.
    pub replayed: bool,
}

/// A change watchers may care about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// One case changed.
    Case(CaseId),
    /// The queue moved: positions and estimates may have changed.
    Queue,
}

/// An offer as sent to a technician's stream.
#[derive(Debug, Clone)]
pub struct OfferNotice {
    /// The routing decision.
    pub offer: Offer,
    /// The case offered, as it was when offered.
    pub case: Case,
}

/// A technician as the dispatch view shows them.
#[derive(Debug, Clone)]
pub struct TechnicianStatus {
    /// Routing's view.
    pub view: TechnicianView,
    /// Name to show.
    pub display_name: String,
    /// Announced presence since this hub started.
    pub online: bool,
}

/// The queue at one moment.
#[derive(Debug, Clone)]
pub struct QueueSnapshot {
    /// Waiting cases in routing order, each with its estimated remaining wait.
    pub waiting: Vec<(QueueEntryView, Option<i64>)>,
    /// How many wait in all.
    pub waiting_total: usize,
    /// Every known technician.
    pub technicians: Vec<TechnicianStatus>,
    /// Current mean handle time estimate.
    pub mean_handle_time_ms: i64,
}

/// Presence announced by a technician.
#[derive(Debug, Clone)]
pub struct Presence {
    /// Name to show (empty keeps the configured one).
    pub display_name: String,
    /// Skills, languages, regions, capacity.
    pub profile: TechnicianProfile,
    /// Wants offers.
    pub available: bool,
}

/// Filters for listing cases.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Keep only these statuses (empty: all).
    pub statuses: Vec<CaseStatus>,
    /// Keep only this region.
    pub region: Option<String>,
    /// Keep only this priority or higher.
    pub min_priority: Option<fieldlens_core::Priority>,
    /// Keep only cases opened at or after this time.
    pub opened_after: Option<UnixMs>,
    /// Keep only cases whose proposed decision is one of these (empty: all).
    pub decisions: Vec<String>,
    /// Keep only cases opened before this time (a minimum age).
    pub opened_before: Option<UnixMs>,
    /// Keep only cases opened at or after this time (a maximum age).
    pub opened_since: Option<UnixMs>,
}

pub(crate) struct State {
    pub(crate) router: Router,
    pub(crate) active: HashMap<CaseId, Case>,
    last_seen: HashMap<CaseId, UnixMs>,
    watchers: HashMap<CaseId, usize>,
    names: HashMap<TechnicianId, String>,
    online: HashMap<TechnicianId, bool>,
    last_abandon_sweep: UnixMs,
}

/// Settings the hub applies per request.
#[derive(Debug, Clone)]
struct Settings {
    caller_token_ttl_ms: i64,
    session_token_ttl_ms: i64,
    abandon_after_ms: i64,
}

/// The hub: shared by every service and background task.
pub struct Hub {
    pub(crate) state: Mutex<State>,
    journal: Arc<Journal>,
    signer: TokenSigner,
    /// Resolves credentials to principals.
    pub auth: Authenticator,
    settings: Settings,
    /// The guide packs served.
    pub guides: Arc<GuideLibrary>,
    /// The decision table of every guide pack.
    pub triage: crate::triage::TriageTables,
    /// Bounds concurrent photo checks to the CPUs there are.
    pub(crate) check_permits: tokio::sync::Semaphore,
    media: OnceLock<MediaInfo>,
    /// The media endpoint, once started, and the case each media session serves.
    pub(crate) media_link: crate::media::MediaLink,
    changes: broadcast::Sender<Change>,
    offers: broadcast::Sender<OfferNotice>,
    /// Wakes the routing loop.
    pub routing_wake: Notify,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

fn caller_request(case: &Case) -> CallerRequest {
    CallerRequest {
        case_id: case.id.clone(),
        priority: case.priority,
        skills: case.required_skills.clone(),
        language: case.language.clone(),
        region: case.region.clone(),
        enqueued_at_ms: case.enqueued_at.unwrap_or(case.opened_at),
        arrival: case.arrival,
        callback: case.callback_phone.is_some(),
    }
}

impl Hub {
    /// Builds the hub over an open store and rebuilds the live state from it:
    /// waiting cases return to their places, live sessions hold their
    /// technicians' capacity, offers outstanding at shutdown are withdrawn.
    pub fn new(
        config: &Config,
        catalog: crate::config::Catalog,
        store: Arc<dyn Store>,
        token_key: [u8; 32],
    ) -> Result<Self, HubError> {
        let signer = TokenSigner::new(token_key);
        let router = Router::new(config.routing.clone())?;
        let (changes, _) = broadcast::channel(1024);
        let (offers, _) = broadcast::channel(1024);
        let hub = Hub {
            state: Mutex::new(State {
                router,
                active: HashMap::new(),
                last_seen: HashMap::new(),
                watchers: HashMap::new(),
                names: HashMap::new(),
                online: HashMap::new(),
                last_abandon_sweep: 0,
            }),
            auth: Authenticator::new(&config.api_keys, signer.clone()),
            signer,
            journal: Arc::new(Journal::new(store)),
            settings: Settings {
                caller_token_ttl_ms: config.caller_token_ttl_ms,
                session_token_ttl_ms: config.session_token_ttl_ms,
                abandon_after_ms: config.abandon_after_ms,
            },
            guides: Arc::new(catalog.guides),
            triage: catalog.triage,
            check_permits: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            media: OnceLock::new(),
            media_link: Default::default(),
            changes,
            offers,
            routing_wake: Notify::new(),
            metrics: Arc::new(Metrics::new()),
            shutdown: watch::channel(false).0,
        };
        for key in &config.api_keys {
            if let Some(name) = &key.display_name {
                hub.lock()
                    .names
                    .insert(TechnicianId::new(key.id.clone()), name.clone());
            }
        }
        hub.recover()?;
        Ok(hub)
    }

    fn recover(&self) -> Result<(), HubError> {
        let now = now_ms();
        let mut state = self.lock();
        for record in self.store().technicians()? {
            state
                .names
                .entry(record.id.clone())
                .or_insert(record.display_name.clone());
            let profile = TechnicianProfile {
                id: record.id,
                skills: record.skills,
                languages: record.languages,
                regions: record.regions,
                capacity: record.capacity,
            };
            if let Err(error) = state.router.set_presence(profile, false, now) {
                tracing::warn!(%error, "stored technician profile no longer valid; skipped");
            }
        }
        let mut active = self.store().active_cases()?;
        active.sort_by_key(|case| case.arrival);
        let mut requeued = 0;
        for mut case in active {
            if let Some(technician) = case.offered_to.clone() {
                let record =
                    case.append(CaseEvent::OfferExpired { technician }, Actor::System, now)?;
                self.store().update_case(&case, &[record])?;
            }
            if case.status.is_waiting() {
                state.router.enqueue(caller_request(&case))?;
                state.last_seen.insert(case.id.clone(), now);
                requeued += 1;
            } else if let Some(session) = case.session.as_ref().filter(|s| s.ended_at.is_none()) {
                state.router.restore_session(
                    case.id.clone(),
                    session.technician.clone(),
                    session.started_at,
                )?;
            }
            state.active.insert(case.id.clone(), case);
        }
        self.store().sync()?;
        self.metrics.waiting.set(state.router.queue_len() as i64);
        tracing::info!(
            active = state.active.len(),
            requeued,
            "state recovered from store"
        );
        Ok(())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock would be a bug; the state is still
        // the last consistent one because every mutation validates first.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records where the media endpoint listens, once it is bound.
    pub fn set_media(&self, media: MediaInfo) {
        let _ = self.media.set(media);
    }

    /// Tells streams and loops to finish; new mutations are refused.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Resolves when shutdown begins.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    fn check_running(&self) -> Result<(), HubError> {
        if *self.shutdown.borrow() {
            Err(HubError::ShuttingDown)
        } else {
            Ok(())
        }
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.journal.store()
    }

    /// The group-commit journal (its flusher runs on a task of the server's).
    pub fn journal(&self) -> Arc<Journal> {
        Arc::clone(&self.journal)
    }

    /// Waits until every write so far, including any this request observed, is durable.
    pub(crate) async fn durable(&self) -> Result<(), HubError> {
        self.journal.durable().await
    }

    fn notify(&self, change: Change) {
        let _ = self.changes.send(change);
    }

    /// Subscribes to case and queue changes.
    pub fn subscribe_changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// Subscribes to new offers (all technicians; filter by id).
    pub fn subscribe_offers(&self) -> broadcast::Receiver<OfferNotice> {
        self.offers.subscribe()
    }

    /// Writes a case and its new events, keeping the active map in step.
    fn commit(
        &self,
        state: &mut State,
        case: Case,
        records: &[EventRecord],
    ) -> Result<(), HubError> {
        self.store().update_case(&case, records)?;
        self.journal.wrote();
        if case.status.is_final() {
            state.active.remove(&case.id);
            state.last_seen.remove(&case.id);
        } else {
            state.active.insert(case.id.clone(), case);
        }
        Ok(())
    }

    pub(crate) fn load_case(&self, state: &State, id: &CaseId) -> Result<Case, HubError> {
        match state.active.get(id) {
            Some(case) => Ok(case.clone()),
            None => self
                .store()
                .case(id)?
                .ok_or_else(|| HubError::NotFound(format!("case {id} does not exist"))),
        }
    }

    pub(crate) fn visible_case(
        &self,
        state: &State,
        principal: &Principal,
        id: &CaseId,
    ) -> Result<Case, HubError> {
        let case = self.load_case(state, id)?;
        if case.visible_to(&principal.actor()) {
            Ok(case)
        } else {
            Err(HubError::PermissionDenied(format!(
                "these credentials do not give access to case {id}"
            )))
        }
    }

    fn snapshot(
        &self,
        state: &State,
        case: Case,
        principal: &Principal,
        now: UnixMs,
    ) -> CaseSnapshot {
        let standing = state.router.standing(&case.id, now);
        let session = match principal {
            Principal::Caller(_) => self.grant(&case, Role::Caller, case.id.to_string(), now),
            Principal::Technician(id) => self.grant(&case, Role::Technician, id.to_string(), now),
            Principal::Dispatcher(_) => None,
        };
        CaseSnapshot {
            case,
            standing,
            session,
        }
    }

    fn grant(
        &self,
        case: &Case,
        role: Role,
        participant: String,
        now: UnixMs,
    ) -> Option<SessionGrant> {
        let session = case.session.as_ref().filter(|s| s.ended_at.is_none())?;
        if role == Role::Technician && session.technician.as_str() != participant {
            return None;
        }
        let expires_at = now + self.settings.session_token_ttl_ms;
        let token = self.signer.sign(
            TokenKind::Session,
            &SessionClaims {
                session: session.id.clone(),
                case: case.id.clone(),
                role,
                participant,
                exp: expires_at,
            },
        );
        Some(SessionGrant {
            session_id: session.id.clone(),
            case_id: case.id.clone(),
            role,
            token,
            expires_at,
            technician: session.technician.clone(),
            created_at: session.started_at,
            media: self.media.get().cloned(),
        })
    }

    /// Makes every write so far durable (blocking; for shutdown).
    pub fn sync_store(&self) -> Result<(), HubError> {
        Ok(self.store().sync()?)
    }

    /// The signer for media session tokens (the media endpoint verifies with it).
    pub fn token_signer(&self) -> &TokenSigner {
        &self.signer
    }

    // ---- callers -------------------------------------------------------

    /// Opens and queues a case, or returns the one opened earlier with the same key.
    pub async fn open_case(&self, request: NewCase) -> Result<Opened, HubError> {
        self.check_running()?;
        request.validate()?;
        let now = now_ms();
        // A repeated key is found by `create_case`, under the lock, so no look-up first.
        let id = CaseId::new(format!("c-{}", uuid::Uuid::now_v7().simple()));
        let (mut case, opened) = request.clone().open(id.clone(), now)?;
        let arrival = self.store().next_arrival()?;
        let queued = case.append(CaseEvent::Queued { arrival }, Actor::System, now)?;
        let principal = Principal::Caller(id.clone());
        let (snapshot, can_route) = {
            let mut state = self.lock();
            let outcome = self.store().create_case(&case, &[opened, queued])?;
            self.journal.wrote();
            if let CreateOutcome::Existing(existing) = outcome {
                drop(state);
                return self.replay(&existing, &request, now).await;
            }
            state.router.enqueue(caller_request(&case))?;
            state.last_seen.insert(id.clone(), now);
            state.active.insert(id.clone(), case.clone());
            self.metrics.waiting.set(state.router.queue_len() as i64);
            // With nobody free a routing pass could offer nothing; whatever frees a
            // technician (presence, an answer, a session's end) wakes routing itself.
            let can_route = state.router.has_free_technician();
            (self.snapshot(&state, case, &principal, now), can_route)
        };
        self.durable().await?;
        self.metrics.cases_opened.inc();
        if can_route {
            self.routing_wake.notify_one();
        }
        self.notify(Change::Queue);
        Ok(Opened {
            caller_token: self
                .auth
                .caller_token(&id, now + self.settings.caller_token_ttl_ms),
            snapshot,
            replayed: false,
        })
    }

    async fn replay(
        &self,
        id: &CaseId,
        request: &NewCase,
        now: UnixMs,
    ) -> Result<Opened, HubError> {
        let snapshot = {
            let mut state = self.lock();
            let case = self.load_case(&state, id)?;
            let same = case.kind == request.case_kind
                && case.product == request.product
                && case.contact == request.contact
                && case.region == request.region
                && case.locale == request.locale;
            if !same {
                return Err(HubError::Invalid(ValidationError {
                    field: "idempotency_key",
                    problem: format!("was already used for a different request (case {id})"),
                }));
            }
            state.last_seen.insert(id.clone(), now);
            self.snapshot(&state, case, &Principal::Caller(id.clone()), now)
        };
        // The first request may still be waiting for its sync.
        self.durable().await?;
        Ok(Opened {
            caller_token: self
                .auth
                .caller_token(id, now + self.settings.caller_token_ttl_ms),
            snapshot,
            replayed: true,
        })
    }

    /// Reads a case as `principal` may see it.
    pub fn get_case(&self, principal: &Principal, id: &CaseId) -> Result<CaseSnapshot, HubError> {
        let now = now_ms();
        let mut state = self.lock();
        let case = self.visible_case(&state, principal, id)?;
        if matches!(principal, Principal::Caller(_)) && state.last_seen.contains_key(id) {
            state.last_seen.insert(id.clone(), now);
        }
        Ok(self.snapshot(&state, case, principal, now))
    }

    /// Applies events to one case under the lock, with router side effects,
    /// then waits for durability and notifies.
    pub(crate) async fn mutate<F>(
        &self,
        principal: &Principal,
        id: &CaseId,
        change: F,
    ) -> Result<CaseSnapshot, HubError>
    where
        F: FnOnce(&mut State, &mut Case, UnixMs) -> Result<Vec<CaseEvent>, HubError>,
    {
        self.check_running()?;
        let now = now_ms();
        let snapshot = {
            let mut state = self.lock();
            let mut case = self.visible_case(&state, principal, id)?;
            let events = change(&mut state, &mut case, now)?;
            let mut records = Vec::with_capacity(events.len());
            for event in events {
                records.push(case.append(event, principal.actor(), now)?);
            }
            self.commit(&mut state, case.clone(), &records)?;
            self.metrics.waiting.set(state.router.queue_len() as i64);
            self.snapshot(&state, case, principal, now)
        };
        self.durable().await?;
        self.close_media_if_over(&snapshot.case);
        self.routing_wake.notify_one();
        self.notify(Change::Case(id.clone()));
        self.notify(Change::Queue);
        Ok(snapshot)
    }

    /// Cancels a case that has not been triaged; frees a technician it held.
    pub async fn cancel(
        &self,
        principal: &Principal,
        id: &CaseId,
        reason: String,
    ) -> Result<CaseSnapshot, HubError> {
        check_text("reason", &reason, limits::REASON, false)?;
        if matches!(principal, Principal::Technician(_)) {
            return Err(HubError::PermissionDenied(
                "only the caller or a dispatcher can cancel a case".into(),
            ));
        }
        self.mutate(principal, id, |state, case, now| {
            let mut probe = case.clone();
            probe.apply(
                &CaseEvent::Cancelled {
                    reason: reason.clone(),
                },
                now,
            )?;
            if case.status.is_waiting() {
                state.router.remove(id);
            } else if case.live_technician().is_some() {
                state.router.end_session(id, now)?;
            }
            Ok(vec![CaseEvent::Cancelled { reason }])
        })
        .await
    }

    /// Marks a waiting case for callback; it keeps its place.
    pub async fn request_callback(
        &self,
        principal: &Principal,
        id: &CaseId,
        phone: String,
    ) -> Result<CaseSnapshot, HubError> {
        if matches!(principal, Principal::Technician(_)) {
            return Err(HubError::PermissionDenied(
                "only the caller or a dispatcher can ask for a callback".into(),
            ));
        }
        self.mutate(principal, id, |state, case, now| {
            let phone = if phone.is_empty() {
                case.contact.phone.clone()
            } else {
                phone
            };
            let probe = NewCase {
                case_kind: case.kind,
                product: case.product.clone(),
                locale: case.locale.clone(),
                region: case.region.clone(),
                contact: fieldlens_core::Contact {
                    phone: phone.clone(),
                    ..case.contact.clone()
                },
                idempotency_key: case.idempotency_key.clone(),
                priority: case.priority,
                description: String::new(),
            };
            probe.validate().map_err(|e| match e.field {
                "contact.phone" => HubError::Invalid(ValidationError {
                    field: "phone",
                    problem: e.problem,
                }),
                _ => HubError::Invalid(e),
            })?;
            let event = CaseEvent::CallbackRequested { phone };
            case.clone().apply(&event, now)?;
            state.router.set_callback(id, true)?;
            Ok(vec![event])
        })
        .await
    }

    /// Reads a case's events.
    pub fn events(
        &self,
        principal: &Principal,
        id: &CaseId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, HubError> {
        {
            let state = self.lock();
            self.visible_case(&state, principal, id)?;
        }
        Ok(self.store().events(id, after_seq, limit)?)
    }

    /// Counts an open watch stream as the caller's presence.
    pub fn watch_started(&self, principal: &Principal, id: &CaseId) {
        if matches!(principal, Principal::Caller(_)) {
            *self.lock().watchers.entry(id.clone()).or_default() += 1;
        }
    }

    /// Ends what [`Hub::watch_started`] began.
    pub fn watch_ended(&self, principal: &Principal, id: &CaseId) {
        if matches!(principal, Principal::Caller(_)) {
            let now = now_ms();
            let mut state = self.lock();
            if let Some(count) = state.watchers.get_mut(id) {
                *count -= 1;
                if *count == 0 {
                    state.watchers.remove(id);
                }
            }
            if let Some(seen) = state.last_seen.get_mut(id) {
                *seen = now;
            }
        }
    }

    // ---- technicians ---------------------------------------------------

    /// Records a technician's presence; going available lifts a pause.
    pub async fn set_presence(
        &self,
        technician: &TechnicianId,
        presence: Presence,
    ) -> Result<TechnicianStatus, HubError> {
        self.check_running()?;
        let now = now_ms();
        presence.profile.validate()?;
        check_text("display_name", &presence.display_name, 100, false)?;
        let status = {
            let mut state = self.lock();
            if !presence.display_name.is_empty() {
                state
                    .names
                    .insert(technician.clone(), presence.display_name.clone());
            }
            let display_name = state
                .names
                .get(technician)
                .cloned()
                .unwrap_or_else(|| technician.to_string());
            self.store().put_technician(&TechnicianRecord {
                id: technician.clone(),
                display_name,
                skills: presence.profile.skills.clone(),
                languages: presence.profile.languages.clone(),
                regions: presence.profile.regions.clone(),
                capacity: presence.profile.capacity,
                updated_at: now,
            })?;
            self.journal.wrote();
            state
                .router
                .set_presence(presence.profile, presence.available, now)?;
            state.online.insert(technician.clone(), true);
            self.count_available(&state);
            self.technician_status(&state, technician)?
        };
        self.durable().await?;
        self.routing_wake.notify_one();
        self.notify(Change::Queue);
        Ok(status)
    }

    fn technician_status(
        &self,
        state: &State,
        id: &TechnicianId,
    ) -> Result<TechnicianStatus, HubError> {
        let view = state.router.technician_view(id).ok_or_else(|| {
            HubError::NotFound(format!(
                "technician {id} has not announced presence; call SetPresence first"
            ))
        })?;
        Ok(TechnicianStatus {
            display_name: state
                .names
                .get(id)
                .cloned()
                .unwrap_or_else(|| id.to_string()),
            online: state.online.get(id).copied().unwrap_or(false),
            view,
        })
    }

    /// The technician as routing sees them.
    pub fn technician(&self, id: &TechnicianId) -> Result<TechnicianStatus, HubError> {
        self.technician_status(&self.lock(), id)
    }

    /// Offers waiting for this technician's answer, oldest first.
    pub fn pending_offers(&self, technician: &TechnicianId) -> Vec<OfferNotice> {
        let now = now_ms();
        let state = self.lock();
        let mut notices: Vec<OfferNotice> = state
            .router
            .queue_view(now, usize::MAX)
            .into_iter()
            .filter(|entry| entry.offered_to.as_ref() == Some(technician))
            .filter_map(|entry| {
                let case = state.active.get(&entry.request.case_id)?.clone();
                Some(OfferNotice {
                    offer: Offer {
                        case_id: entry.request.case_id.clone(),
                        technician_id: technician.clone(),
                        tier: entry.tier,
                        waited_ms: entry.waited_ms,
                        expires_at: entry.offer_expires_at.unwrap_or(now),
                        priority: entry.request.priority,
                        callback: entry.request.callback,
                    },
                    case,
                })
            })
            .collect();
        notices.sort_by_key(|n| n.offer.expires_at);
        notices
    }

    /// Accepts an offer: pairs the case and creates its media session.
    pub async fn accept(
        &self,
        technician: &TechnicianId,
        id: &CaseId,
    ) -> Result<CaseSnapshot, HubError> {
        let principal = Principal::Technician(technician.clone());
        let snapshot = self
            .mutate(&principal, id, |state, case, now| {
                if case.offered_to.as_ref() != Some(technician) {
                    return Err(HubError::Precondition(format!(
                        "case {id} is not offered to {technician} (it is {})",
                        case.status.as_str()
                    )));
                }
                let event = CaseEvent::Paired {
                    technician: technician.clone(),
                    session: SessionId::new(format!("s-{}", uuid::Uuid::now_v7().simple())),
                };
                case.clone().apply(&event, now)?;
                state.router.accept(id, technician, now)?;
                let waited = now - case.enqueued_at.unwrap_or(case.opened_at);
                self.metrics.time_to_pair.observe(waited as f64 / 1000.0);
                self.metrics.offer_outcome("accepted");
                Ok(vec![event])
            })
            .await?;
        Ok(snapshot)
    }

    /// Declines an offer; the case returns to its place.
    pub async fn decline(
        &self,
        technician: &TechnicianId,
        id: &CaseId,
        reason: String,
    ) -> Result<TechnicianStatus, HubError> {
        check_text("reason", &reason, limits::REASON, false)?;
        let principal = Principal::Technician(technician.clone());
        self.mutate(&principal, id, |state, case, now| {
            let event = CaseEvent::OfferDeclined {
                technician: technician.clone(),
                reason,
            };
            case.clone().apply(&event, now)?;
            state.router.decline(id, technician, now)?;
            self.metrics.offer_outcome("declined");
            Ok(vec![event])
        })
        .await?;
        self.technician(technician)
    }

    /// Ends the live session of a case; frees the technician's capacity.
    pub async fn end_session(
        &self,
        technician: &TechnicianId,
        id: &CaseId,
    ) -> Result<CaseSnapshot, HubError> {
        let principal = Principal::Technician(technician.clone());
        self.mutate(&principal, id, |state, case, now| {
            let started = case
                .session
                .as_ref()
                .filter(|s| s.ended_at.is_none() && &s.technician == technician)
                .map(|s| s.started_at)
                .ok_or_else(|| {
                    HubError::Precondition(format!("{technician} has no live session on case {id}"))
                })?;
            let event = CaseEvent::SessionEnded {
                technician: technician.clone(),
                handle_ms: now - started,
            };
            case.clone().apply(&event, now)?;
            state.router.end_session(id, now)?;
            Ok(vec![event])
        })
        .await
    }

    // ---- routing -------------------------------------------------------

    /// One routing pass: lapse expired offers, mark abandoned callers, make
    /// every offer possible now. Returns when the next pass is due at the latest.
    pub async fn route(&self) -> Option<UnixMs> {
        let now = now_ms();
        let mut notices = Vec::new();
        let mut changed = Vec::new();
        let mut paused_someone = false;
        let next = {
            let mut state = self.lock();
            for expired in state.router.expire_offers(now) {
                self.metrics.offer_outcome("expired");
                let event = CaseEvent::OfferExpired {
                    technician: expired.technician_id.clone(),
                };
                if self.append_system(&mut state, &expired.case_id, event, now) {
                    changed.push(expired.case_id.clone());
                }
                if expired.technician_paused {
                    paused_someone = true;
                    tracing::warn!(technician = %expired.technician_id, missed = expired.missed_offers, "technician paused after missed offers");
                }
            }
            if now - state.last_abandon_sweep >= 1_000 {
                state.last_abandon_sweep = now;
                changed.extend(self.sweep_abandoned(&mut state, now));
            }
            while let Some(offer) = state.router.next_offer(now) {
                let event = CaseEvent::Offered {
                    technician: offer.technician_id.clone(),
                    expires_at: offer.expires_at,
                    tier: offer.tier as u32,
                };
                if !self.append_system(&mut state, &offer.case_id, event, now) {
                    state.router.remove(&offer.case_id);
                    continue;
                }
                self.metrics.offer_outcome("offered");
                let case = state.active.get(&offer.case_id).cloned();
                changed.push(offer.case_id.clone());
                if let Some(case) = case {
                    notices.push(OfferNotice { offer, case });
                }
            }
            self.metrics.waiting.set(state.router.queue_len() as i64);
            if paused_someone {
                self.count_available(&state);
            }
            state.router.next_deadline(now)
        };
        if !changed.is_empty() {
            if let Err(error) = self.durable().await {
                tracing::error!(%error, "routing pass could not be made durable");
                return next;
            }
            for notice in notices {
                let _ = self.offers.send(notice);
            }
            for id in changed {
                self.notify(Change::Case(id));
            }
            self.notify(Change::Queue);
        }
        next
    }

    fn count_available(&self, state: &State) {
        let available = state
            .router
            .technicians()
            .iter()
            .filter(|t| t.available && !t.paused)
            .count();
        self.metrics.technicians_available.set(available as i64);
    }

    /// Appends a system event to an active case; logs and skips on refusal.
    fn append_system(&self, state: &mut State, id: &CaseId, event: CaseEvent, now: UnixMs) -> bool {
        let Some(mut case) = state.active.get(id).cloned() else {
            tracing::error!(case = %id, "routing names a case that is not active");
            return false;
        };
        let result = case
            .append(event, Actor::System, now)
            .map_err(HubError::from)
            .and_then(|record| self.commit(state, case, &[record]));
        match result {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(case = %id, %error, "routing event refused");
                false
            }
        }
    }

    fn sweep_abandoned(&self, state: &mut State, now: UnixMs) -> Vec<CaseId> {
        let limit = self.settings.abandon_after_ms;
        let gone: Vec<CaseId> = state
            .last_seen
            .iter()
            .filter(|(id, seen)| now - **seen > limit && !state.watchers.contains_key(*id))
            .map(|(id, _)| id.clone())
            .filter(|id| {
                state
                    .active
                    .get(id)
                    .is_some_and(|c| c.status.is_waiting() && c.callback_phone.is_none())
            })
            .collect();
        let mut abandoned = Vec::new();
        for id in gone {
            let waited = state
                .active
                .get(&id)
                .map(|c| now - c.enqueued_at.unwrap_or(c.opened_at))
                .unwrap_or_default();
            state.router.remove(&id);
            if self.append_system(state, &id, CaseEvent::Abandoned { waited_ms: waited }, now) {
                tracing::info!(case = %id, waited_ms = waited, "caller abandoned the queue");
                abandoned.push(id);
            }
        }
        abandoned
    }

    // ---- dispatch ------------------------------------------------------

    /// The queue in routing order and the technicians.
    pub fn queue(&self, limit: usize) -> QueueSnapshot {
        let now = now_ms();
        let state = self.lock();
        let mut technicians: Vec<TechnicianStatus> = state
            .router
            .technicians()
            .into_iter()
            .map(|view| TechnicianStatus {
                display_name: state
                    .names
                    .get(&view.id)
                    .cloned()
                    .unwrap_or_else(|| view.id.to_string()),
                online: state.online.get(&view.id).copied().unwrap_or(false),
                view,
            })
            .collect();
        technicians.sort_by(|a, b| a.view.id.cmp(&b.view.id));
        QueueSnapshot {
            waiting: state
                .router
                .queue_view(now, limit)
                .into_iter()
                .map(|entry| {
                    let estimate = state
                        .router
                        .standing(&entry.request.case_id, now)
                        .and_then(|s| s.estimated_wait_ms);
                    (entry, estimate)
                })
                .collect(),
            waiting_total: state.router.queue_len(),
            technicians,
            mean_handle_time_ms: state.router.mean_handle_time_ms(),
        }
    }

    /// Lists cases newest first; a lower bound on the opening time ends the scan there
    /// instead of reading every older case.
    pub fn list_cases(
        &self,
        filter: &CaseFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<CasePage, HubError> {
        let since = filter.opened_after.max(filter.opened_since);
        let keep = |case: &Case| {
            let matches = (filter.statuses.is_empty() || filter.statuses.contains(&case.status))
                && filter.region.as_ref().is_none_or(|r| r == &case.region)
                && filter.min_priority.is_none_or(|p| {
                    case.decision.as_ref().map_or(case.priority, |d| d.priority) >= p
                })
                && since.is_none_or(|t| case.opened_at >= t)
                && filter.opened_before.is_none_or(|t| case.opened_at < t)
                && (filter.decisions.is_empty()
                    || case
                        .decision
                        .as_ref()
                        .is_some_and(|d| filter.decisions.contains(&d.outcome)));
            scan_opened_since(case, since, matches)
        };
        self.store()
            .list_cases(cursor, limit, &keep)
            .map_err(|e| match e {
                fieldlens_store::StoreError::Corrupt {
                    what: "page cursor",
                    detail,
                } => HubError::Invalid(ValidationError {
                    field: "page_token",
                    problem: detail,
                }),
                other => HubError::Store(other),
            })
    }

    /// Claims a triaged case for review.
    pub async fn claim(&self, dispatcher: &str, id: &CaseId) -> Result<CaseSnapshot, HubError> {
        let principal = Principal::Dispatcher(dispatcher.to_owned());
        self.mutate(&principal, id, |_, case, _| {
            if let Some(other) = case.reviewer.as_ref().filter(|r| r.as_str() != dispatcher)
                && case.status == CaseStatus::InReview
            {
                return Err(HubError::Precondition(format!(
                    "case {id} is already claimed by {other}"
                )));
            }
            Ok(vec![CaseEvent::ReviewClaimed {
                dispatcher: dispatcher.to_owned(),
            }])
        })
        .await
    }

    /// Approves (`override_to = None`) or overrides the decision of a case the dispatcher claimed.
    pub async fn decide(
        &self,
        dispatcher: &str,
        id: &CaseId,
        override_to: Option<String>,
        text: String,
    ) -> Result<CaseSnapshot, HubError> {
        check_text(
            if override_to.is_some() {
                "reason"
            } else {
                "comment"
            },
            &text,
            limits::REASON,
            override_to.is_some(),
        )?;
        let principal = Principal::Dispatcher(dispatcher.to_owned());
        self.mutate(&principal, id, |state, case, now| {
            if case.status == CaseStatus::InReview && case.reviewer.as_deref() != Some(dispatcher) {
                return Err(HubError::Precondition(format!(
                    "case {id} is claimed by {}, not {dispatcher}",
                    case.reviewer.as_deref().unwrap_or("nobody")
                )));
            }
            // Closing the case ends a call still going on.
            let mut events = Vec::new();
            let live = case.live_technician().cloned();
            if let Some(technician) = live.clone() {
                let started = case.session.as_ref().map_or(now, |s| s.started_at);
                events.push(CaseEvent::SessionEnded {
                    technician,
                    handle_ms: now - started,
                });
            }
            events.push(match override_to {
                None => CaseEvent::DecisionApproved {
                    dispatcher: dispatcher.to_owned(),
                    comment: text,
                },
                Some(to) => CaseEvent::DecisionOverridden {
                    dispatcher: dispatcher.to_owned(),
                    from: case
                        .decision
                        .as_ref()
                        .map(|d| d.outcome.clone())
                        .unwrap_or_default(),
                    to,
                    reason: text,
                },
            });
            // Check the whole change before touching routing.
            let mut probe = case.clone();
            for event in &events {
                probe.apply(event, now)?;
            }
            if live.is_some() {
                state.router.end_session(id, now)?;
            }
            Ok(events)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldlens_core::case::{CaseKind, Contact, Product};

    fn case_opened_at(opened_at: UnixMs) -> Case {
        let request = NewCase {
            case_kind: CaseKind::Appliance,
            product: Product {
                category: "washing_machine".into(),
                ..Product::default()
            },
            locale: "en-GB".into(),
            region: "uk-london".into(),
            contact: Contact {
                name: "A Caller".into(),
                phone: "+447700900000".into(),
                email: String::new(),
            },
            idempotency_key: "scan-test-key-0001".into(),
            priority: Default::default(),
            description: String::new(),
        };
        request
            .open(CaseId::new("c-scan"), opened_at)
            .expect("valid request")
            .0
    }

    #[test]
    fn a_listing_since_a_time_stops_only_past_the_clock_slack() {
        let since = 1_000_000;
        let scan = |opened_at, matches| {
            scan_opened_since(&case_opened_at(opened_at), Some(since), matches)
        };
        assert_eq!(scan(since + 5, true), Scan::Take);
        assert_eq!(scan(since + 5, false), Scan::Skip);
        // Older than wanted but within the slack: ids may be out of opening order there.
        assert_eq!(scan(since - 1, false), Scan::Skip);
        assert_eq!(scan(since - OPENING_ORDER_SLACK_MS, false), Scan::Skip);
        assert_eq!(scan(since - OPENING_ORDER_SLACK_MS - 1, false), Scan::Stop);
        let no_bound = scan_opened_since(&case_opened_at(5), None, true);
        assert_eq!(no_bound, Scan::Take);
    }
}
