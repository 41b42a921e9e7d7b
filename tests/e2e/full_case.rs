//! One case from start to finish through the real binary: open, pair, capture with a retake,
//! findings, triage (re-decided once the photos are in), review with a reassignment and an
//! override, KPIs, export with the CLI, and `fieldlens verify` on the bundle, intact and tampered.

use fieldlens_e2e::walk::walk;
use fieldlens_e2e::{
    ApiKey, Bearer, TestHub, available_in_london, case_client, dispatch_client, fieldlens_bin,
    open_request, tech_client, write_config,
};
use fieldlens_proto::v1 as pb;
use fieldlens_proto::v1::triage_service_client::TriageServiceClient;
use std::process::Command;
use tokio_stream::StreamExt;
use tonic::Code;

fn findings(damage: bool) -> pb::Findings {
    pb::Findings {
        damage: if damage {
            vec![pb::Damage {
                area: "drain_pump".into(),
                severity: pb::Severity::Moderate as i32,
            }]
        } else {
            vec![]
        },
        error_codes: vec![],
        symptoms: vec!["leak".into()],
        remote_fix: None,
        notes: "water under the machine, pump housing wet".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appliance_case_from_opening_to_verified_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let tech = ApiKey::new("tara", "technician");
    let dana = ApiKey::new("dana", "dispatcher");
    let erin = ApiKey::new("erin", "dispatcher");
    let config = write_config(dir.path(), &[tech.clone(), dana.clone(), erin.clone()], "");
    let hub = TestHub::start(&dir.path().join("data"), Some(&config)).unwrap();
    let channel = hub.channel().await;

    // Open a washing machine case under warranty; a technician takes it.
    let mut request = open_request("full-case-0001", "washing_machine", "en-GB", "uk-london");
    request.product.as_mut().unwrap().under_warranty = true;
    let opened = case_client(&channel, None)
        .open_case(request)
        .await
        .unwrap()
        .into_inner();
    let case_id = opened.case.unwrap().case_id;
    let mut technician = tech_client(&channel, &tech.key);
    let mut offers = technician
        .stream_offers(pb::StreamOffersRequest {})
        .await
        .unwrap()
        .into_inner();
    technician
        .set_presence(available_in_london(
            "Tara",
            "appliance.washing_machine",
            "en",
            1,
        ))
        .await
        .unwrap();
    let offer = tokio::time::timeout(std::time::Duration::from_secs(30), offers.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(offer.case_id, case_id);
    technician
        .accept_offer(pb::AcceptOfferRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap();

    // Findings before any photo: the table asks for the required photos first.
    let mut triage =
        TriageServiceClient::with_interceptor(channel.clone(), Bearer(Some(tech.key.clone())));
    let mut triage_as_caller = TriageServiceClient::with_interceptor(
        channel.clone(),
        Bearer(Some(opened.caller_token.clone())),
    );
    let early = triage
        .record_findings(pb::RecordFindingsRequest {
            case_id: case_id.clone(),
            findings: Some(findings(true)),
        })
        .await;
    // Capture has not started: every required step counts as missing.
    let early = early.unwrap().into_inner();
    assert_eq!(
        early.decision.as_ref().unwrap().outcome(),
        pb::Outcome::MoreInfoNeeded
    );
    assert!(!early.decision.unwrap().missing_steps.is_empty());
    assert_eq!(
        triage_as_caller
            .get_decision(pb::GetDecisionRequest {
                case_id: case_id.clone()
            })
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let bad = pb::Findings {
        damage: vec![pb::Damage {
            area: "flux_capacitor".into(),
            severity: pb::Severity::Minor as i32,
        }],
        ..findings(false)
    };
    let error = triage
        .record_findings(pb::RecordFindingsRequest {
            case_id: case_id.clone(),
            findings: Some(bad),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(
        error.message().starts_with("findings.damage[0].area"),
        "{}",
        error.message()
    );

    // The caller captures every required photo (one retake); the case is decided again.
    let walked = walk(
        &channel,
        &opened.caller_token,
        &case_id,
        "washing-machine",
        true,
    )
    .await;
    assert_eq!(walked.retakes, 1);
    let decided = triage
        .record_findings(pb::RecordFindingsRequest {
            case_id: case_id.clone(),
            findings: Some(findings(true)),
        })
        .await
        .unwrap()
        .into_inner();
    let decision = decided.decision.clone().unwrap();
    assert_eq!(
        decision.outcome(),
        pb::Outcome::TruckRollWithParts,
        "{decision:?}"
    );
    assert_eq!(decision.parts, ["drain_pump"]);
    assert!(
        decision
            .fired_rules
            .contains(&"pump_leak_under_warranty".to_string())
    );
    assert!(
        decision
            .trace
            .iter()
            .any(|r| r.matched && r.conditions.iter().all(|c| c.passed))
    );
    assert_eq!(
        decided.case.as_ref().unwrap().status(),
        pb::CaseStatus::Triaged
    );
    technician
        .end_session(pb::EndSessionRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap();

    // Dispatcher review: find it by decision, claim, hand over, override with a reason.
    let mut dispatch = dispatch_client(&channel, &dana.key);
    let listed = dispatch
        .list_cases(pb::ListCasesRequest {
            decisions: vec!["truck_roll_with_parts".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed
            .cases
            .iter()
            .map(|c| c.case_id.as_str())
            .collect::<Vec<_>>(),
        [case_id.as_str()]
    );
    let none = dispatch
        .list_cases(pb::ListCasesRequest {
            decisions: vec!["remote_resolved".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(none.cases.is_empty());
    let error = dispatch
        .list_cases(pb::ListCasesRequest {
            decisions: vec!["teleport".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        error.message().starts_with("decisions"),
        "{}",
        error.message()
    );
    let claimed = dispatch
        .claim_case(pb::ClaimCaseRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (claimed.status(), claimed.reviewer_id.as_str()),
        (pb::CaseStatus::InReview, "dana")
    );
    dispatch
        .reassign_case(pb::ReassignCaseRequest {
            case_id: case_id.clone(),
            to_dispatcher_id: "erin".into(),
            reason: "end of shift".into(),
        })
        .await
        .unwrap();
    let error = dispatch
        .override_decision(pb::OverrideDecisionRequest {
            case_id: case_id.clone(),
            decision: "truck_roll".into(),
            reason: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        error.code(),
        Code::FailedPrecondition,
        "only the reviewer decides: {error:?}"
    );
    let mut erin_dispatch = dispatch_client(&channel, &erin.key);
    let error = erin_dispatch
        .override_decision(pb::OverrideDecisionRequest {
            case_id: case_id.clone(),
            decision: "teleport".into(),
            reason: "x".into(),
        })
        .await
        .unwrap_err();
    assert!(
        error.message().starts_with("decision"),
        "{}",
        error.message()
    );
    let closed = erin_dispatch
        .override_decision(pb::OverrideDecisionRequest {
            case_id: case_id.clone(),
            decision: "truck_roll".into(),
            reason: "the engineer carries this pump in the van".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.status(), pb::CaseStatus::Closed);
    assert_eq!(
        (
            closed.proposed_decision.as_str(),
            closed.final_decision.as_str()
        ),
        ("truck_roll_with_parts", "truck_roll")
    );
    let reviewed =
        TriageServiceClient::with_interceptor(channel.clone(), Bearer(Some(erin.key.clone())))
            .get_decision(pb::GetDecisionRequest {
                case_id: case_id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
    let review = reviewed.review.unwrap();
    assert_eq!(
        (
            review.state.as_str(),
            review.reviewer_id.as_str(),
            review.overridden_from.as_str()
        ),
        ("overridden", "erin", "truck_roll_with_parts")
    );

    let kpis = dispatch
        .get_kpis(pb::GetKpisRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            kpis.cases_opened,
            kpis.cases_triaged,
            kpis.cases_closed,
            kpis.truck_rolls
        ),
        (1, 1, 1, 1)
    );
    assert!(kpis.first_pass_photo_acceptance > 0.5 && kpis.first_pass_photo_acceptance < 1.0);
    assert!(kpis.reshoots.iter().any(|r| r.retakes == 1));
    assert!(
        kpis.time_to_pair_p50_ms >= 0 && kpis.time_to_triage_p50_ms >= kpis.time_to_pair_p50_ms
    );

    // Export with the CLI, verify offline; then tamper with the bundle.
    let bundle = dir.path().join("case.zip");
    let export = Command::new(fieldlens_bin())
        .args([
            "case",
            "export",
            &case_id,
            "--server",
            &hub.url(),
            "--token",
            &dana.key,
            "-o",
        ])
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let verify = Command::new(fieldlens_bin())
        .arg("verify")
        .arg(&bundle)
        .output()
        .unwrap();
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );

    let bytes = std::fs::read(&bundle).unwrap();
    let html = {
        use std::io::Read;
        let mut archive = zip_entries(&bytes);
        let mut text = String::new();
        archive
            .by_name("report.html")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    for section in [
        "truck_roll_with_parts",
        "pump_leak_under_warranty",
        "erin",
        "the engineer carries this pump in the van",
    ] {
        assert!(html.contains(section), "report lacks {section:?}");
    }
    let tampered = dir.path().join("tampered.zip");
    std::fs::write(
        &tampered,
        replace_entry(
            &bytes,
            "report.html",
            html.replace("truck_roll", "remote_resolved").as_bytes(),
        ),
    )
    .unwrap();
    let verify = Command::new(fieldlens_bin())
        .arg("verify")
        .arg(&tampered)
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(1));
    let said = String::from_utf8_lossy(&verify.stdout).to_string()
        + &String::from_utf8_lossy(&verify.stderr);
    assert!(
        said.contains("report.html"),
        "verify must name the changed item: {said}"
    );
}

fn zip_entries(bytes: &[u8]) -> zip::ZipArchive<std::io::Cursor<&[u8]>> {
    zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip")
}

/// The same zip with one entry's content replaced.
fn replace_entry(bytes: &[u8], name: &str, content: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut archive = zip_entries(bytes);
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let entry_name = entry.name().to_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.start_file(
            entry_name.as_str(),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        out.write_all(if entry_name == name { content } else { &data })
            .unwrap();
    }
    out.finish().unwrap().into_inner()
}
