//! The server as an operator meets it: listeners, health, reflection, metrics, config errors, locking, shutdown.

use fieldlens_e2e::{ApiKey, TestHub, fieldlens_bin, http_get, repo_root, write_config};
use std::process::Command;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

#[tokio::test]
async fn health_reflection_and_metrics_answer() {
    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start(&dir.path().join("data"), None).unwrap();
    let channel = hub.channel().await;

    let mut health = HealthClient::new(channel.clone());
    for service in [
        "",
        "fieldlens.v1.CaseService",
        "fieldlens.v1.TechnicianService",
        "fieldlens.v1.DispatchService",
    ] {
        let reply = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("health of {service:?}: {e}"))
            .into_inner();
        assert_eq!(reply.status(), ServingStatus::Serving, "{service:?}");
    }

    // Both reflection versions list our services, so every grpcurl works.
    use tonic_reflection::pb::{v1, v1alpha};
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let mut stream = client
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let reply = stream.message().await.unwrap().unwrap();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        reply.message_response
    else {
        panic!("unexpected reflection reply {reply:?}");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for wanted in [
        "fieldlens.v1.CaseService",
        "fieldlens.v1.TechnicianService",
        "fieldlens.v1.DispatchService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
    }
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "fieldlens.v1.CaseService".into(),
            ),
        ),
    };
    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let mut stream = client
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let reply = stream.message().await.unwrap().unwrap();
    assert!(
        matches!(
            reply.message_response,
            Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(ref f)) if !f.file_descriptor_proto.is_empty()
        ),
        "{reply:?}"
    );

    let (status, body) = http_get(hub.metrics, "/metrics").await.unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("fieldlens_grpc_requests_total"), "{body}");
    assert!(body.contains("fieldlens_cases_waiting"), "{body}");
    assert_eq!(http_get(hub.metrics, "/readyz").await.unwrap().0, 200);
    assert_eq!(http_get(hub.metrics, "/healthz").await.unwrap().0, 200);
}

#[tokio::test]
async fn sigterm_drains_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut hub = TestHub::start(&dir.path().join("data"), None).unwrap();
    let status = hub.terminate();
    assert!(
        status.success(),
        "exit {status:?}; stderr:\n{}",
        hub.stderr()
    );
    assert!(hub.stderr().contains("hub stopped"), "{}", hub.stderr());
}

#[test]
fn bad_config_exits_64_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = [ApiKey::new("alice", "technician")];
    let config = write_config(dir.path(), &keys, "[routing]\noffer_timeout_ms = -5\n");
    let output = Command::new(fieldlens_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("offer_timeout_ms"), "{stderr}");

    std::fs::write(&config, "listen = 5\n").unwrap();
    let output = Command::new(fieldlens_bin())
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("listen"));
}

#[test]
fn second_process_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _first = TestHub::start(&data, None).unwrap();
    let output = Command::new(fieldlens_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--guides-dir")
        .arg(repo_root().join("guides"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("in use by another fieldlens process"),
        "{stderr}"
    );
}
