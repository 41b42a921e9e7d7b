//! The public API as clients meet it: credentials, validation, idempotency, watching, callbacks, offers.

use fieldlens_e2e::{
    ApiKey, TestHub, available_in_london, case_client, dispatch_client, open_request, tech_client,
    write_config,
};
use fieldlens_proto::v1 as pb;
use tokio_stream::StreamExt;
use tonic::Code;

struct Setup {
    _dir: tempfile::TempDir,
    hub: TestHub,
    tech: ApiKey,
    dispatcher: ApiKey,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let tech = ApiKey::new("alice", "technician");
    let dispatcher = ApiKey::new("dana", "dispatcher");
    let config = write_config(
        dir.path(),
        &[tech.clone(), dispatcher.clone()],
        "[routing]\noffer_timeout_ms = 30000\n",
    );
    let hub = TestHub::start(&dir.path().join("data"), Some(&config)).unwrap();
    Setup {
        _dir: dir,
        hub,
        tech,
        dispatcher,
    }
}

#[tokio::test]
async fn credentials_and_validation_errors_are_precise() {
    let s = setup();
    let channel = s.hub.channel().await;
    let mut anonymous = case_client(&channel, None);

    // Validation names the field.
    let mut bad = open_request("key-valid-001", "toaster", "en-GB", "uk-london");
    let error = anonymous.open_case(bad.clone()).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(
        error.message().starts_with("product.category"),
        "{}",
        error.message()
    );
    bad = open_request("key-valid-001", "washing_machine", "english", "uk-london");
    assert!(
        anonymous
            .open_case(bad)
            .await
            .unwrap_err()
            .message()
            .starts_with("locale")
    );
    let mut no_contact = open_request("key-valid-002", "car", "en-GB", "uk-london");
    no_contact.contact = None;
    assert!(
        anonymous
            .open_case(no_contact)
            .await
            .unwrap_err()
            .message()
            .starts_with("contact")
    );

    let opened = anonymous
        .open_case(open_request("key-valid-003", "car", "en-GB", "uk-london"))
        .await
        .unwrap()
        .into_inner();
    let case_id = opened.case.unwrap().case_id;

    // No credentials, junk credentials, other case's token, wrong role.
    let get = |id: &str| pb::GetCaseRequest { case_id: id.into() };
    assert_eq!(
        anonymous.get_case(get(&case_id)).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let mut junk = case_client(&channel, Some("flc1.junk.junk"));
    assert_eq!(
        junk.get_case(get(&case_id)).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let mut unknown_key = case_client(&channel, Some("not-a-configured-key"));
    assert_eq!(
        unknown_key
            .get_case(get(&case_id))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let other = anonymous
        .open_case(open_request("key-valid-004", "car", "en-GB", "uk-london"))
        .await
        .unwrap()
        .into_inner();
    let mut other_caller = case_client(&channel, Some(&other.caller_token));
    assert_eq!(
        other_caller
            .get_case(get(&case_id))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let mut as_caller_on_dispatch = dispatch_client(&channel, &other.caller_token);
    assert_eq!(
        as_caller_on_dispatch
            .get_queue(pb::GetQueueRequest { limit: 0 })
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let mut tech_on_dispatch = dispatch_client(&channel, &s.tech.key);
    assert_eq!(
        tech_on_dispatch
            .get_queue(pb::GetQueueRequest { limit: 0 })
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );

    // Unknown ids and malformed ids.
    let mut dispatcher = case_client(&channel, Some(&s.dispatcher.key));
    assert_eq!(
        dispatcher
            .get_case(get("c-doesnotexist"))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let error = dispatcher.get_case(get("../etc")).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(error.message().starts_with("case_id"));

    // A dispatcher cannot claim a case that is not triaged.
    let mut dispatch = dispatch_client(&channel, &s.dispatcher.key);
    let error = dispatch
        .claim_case(pb::ClaimCaseRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition, "{error:?}");

    // The hub is still fine after all that.
    let mut caller = case_client(&channel, Some(&opened.caller_token));
    assert_eq!(
        caller
            .get_case(get(&case_id))
            .await
            .unwrap()
            .into_inner()
            .case_id,
        case_id
    );
}

#[tokio::test]
async fn idempotent_open_watch_callback_offer_accept_end() {
    let s = setup();
    let channel = s.hub.channel().await;
    let mut anonymous = case_client(&channel, None);
    let request = open_request("key-idem-0001", "washing_machine", "zh-CN", "uk-london");
    let first = anonymous
        .open_case(request.clone())
        .await
        .unwrap()
        .into_inner();
    let again = anonymous
        .open_case(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(!first.replayed && again.replayed);
    let case_id = first.case.as_ref().unwrap().case_id.clone();
    assert_eq!(again.case.unwrap().case_id, case_id);
    let mut changed = request.clone();
    changed.region = "uk-leeds".into();
    let error = anonymous.open_case(changed).await.unwrap_err();
    assert!(
        error.message().starts_with("idempotency_key"),
        "{}",
        error.message()
    );

    let standing = first.case.unwrap().standing.unwrap();
    assert_eq!((standing.position, standing.waiting_total), (1, 1));

    let mut caller = case_client(&channel, Some(&first.caller_token));
    let mut updates = caller
        .watch_case(pb::WatchCaseRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let initial = updates.next().await.unwrap().unwrap();
    assert_eq!(initial.reason, "initial");
    assert_eq!(initial.case.unwrap().status(), pb::CaseStatus::Queued);

    let callback = caller
        .request_callback(pb::RequestCallbackRequest {
            case_id: case_id.clone(),
            phone: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(callback.callback_requested);
    let error = caller
        .request_callback(pb::RequestCallbackRequest {
            case_id: case_id.clone(),
            phone: "12".into(),
        })
        .await
        .unwrap_err();
    assert!(error.message().starts_with("phone"), "{}", error.message());

    // A technician with the skill and language comes online and gets the offer.
    let mut tech = tech_client(&channel, &s.tech.key);
    let mut offers = tech
        .stream_offers(pb::StreamOffersRequest {})
        .await
        .unwrap()
        .into_inner();
    let presence = tech
        .set_presence(available_in_london(
            "Alice",
            "appliance.washing_machine",
            "zh",
            1,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(presence.available && presence.online);
    let offer = tokio::time::timeout(std::time::Duration::from_secs(30), offers.next())
        .await
        .expect("an offer within 30 s")
        .unwrap()
        .unwrap();
    assert_eq!(offer.case_id, case_id);
    assert!(offer.callback_requested);

    let accepted = tech
        .accept_offer(pb::AcceptOfferRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let session = accepted.session.unwrap();
    assert_eq!(session.alpn, "fieldlens/1");
    assert!(session.token.starts_with("fls1."));
    assert_eq!(session.role(), pb::ParticipantRole::Technician);

    // The caller's watch sees the pairing and gets its own session token.
    let paired = loop {
        let update = updates.next().await.unwrap().unwrap();
        let case = update.case.unwrap();
        if case.status() == pb::CaseStatus::Paired {
            break case;
        }
    };
    let caller_session = paired.session.unwrap();
    assert_eq!(caller_session.role(), pb::ParticipantRole::Caller);
    assert_eq!(caller_session.session_id, session.session_id);
    assert_ne!(caller_session.token, session.token);

    // Accepting twice or ending twice is a precondition failure, not a crash.
    let error = tech
        .accept_offer(pb::AcceptOfferRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);
    tech.end_session(pb::EndSessionRequest {
        case_id: case_id.clone(),
    })
    .await
    .unwrap();
    let error = tech
        .end_session(pb::EndSessionRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);
    let me = tech
        .get_technician(pb::GetTechnicianRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(me.active_case_ids.is_empty());

    let events = caller
        .list_case_events(pb::ListCaseEventsRequest {
            case_id: case_id.clone(),
            after_seq: 0,
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "opened",
            "queued",
            "callback_requested",
            "offered",
            "paired",
            "session_ended"
        ]
    );
    for pair in events.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
}
