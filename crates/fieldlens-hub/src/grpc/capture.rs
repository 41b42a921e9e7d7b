//! `CaptureService`: start capture, progress, photo upload in chunks, push, skip, photo download.

use super::{ResponseStream, principal, reply};
use crate::app::Hub;
use crate::capture::MAX_PHOTO_BYTES;
use crate::convert;
use crate::error::invalid;
use fieldlens_proto::v1 as pb;
use fieldlens_proto::v1::capture_service_server::CaptureService;
use fieldlens_proto::v1::submit_photo_request::Part;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tonic::{Request, Response, Status, Streaming};

/// Largest chunk in either direction.
const MAX_CHUNK: usize = 1024 * 1024;

/// The capture service.
#[derive(Debug, Clone)]
pub struct CaptureApi {
    /// The hub.
    pub hub: Arc<Hub>,
}

#[tonic::async_trait]
impl CaptureService for CaptureApi {
    async fn start_capture(
        &self,
        request: Request<pb::StartCaptureRequest>,
    ) -> Result<Response<pb::CaptureProgress>, Status> {
        let principal = principal(&self.hub, &request)?;
        let id = convert::case_id("case_id", &request.get_ref().case_id)?;
        reply(
            self.hub
                .start_capture(&principal, &id)
                .await
                .map(|v| convert::progress_to_wire(&v)),
        )
    }

    async fn get_capture_progress(
        &self,
        request: Request<pb::GetCaptureProgressRequest>,
    ) -> Result<Response<pb::CaptureProgress>, Status> {
        let principal = principal(&self.hub, &request)?;
        let id = convert::case_id("case_id", &request.get_ref().case_id)?;
        reply(
            self.hub
                .capture_progress(&principal, &id)
                .map(|v| convert::progress_to_wire(&v)),
        )
    }

    async fn submit_photo(
        &self,
        request: Request<Streaming<pb::SubmitPhotoRequest>>,
    ) -> Result<Response<pb::SubmitPhotoResponse>, Status> {
        let principal = principal(&self.hub, &request)?;
        let mut stream = request.into_inner();
        let header = match stream.message().await?.and_then(|m| m.part) {
            Some(Part::Header(header)) => header,
            _ => {
                return Err(
                    invalid("header", "the first message must carry the photo header").into(),
                );
            }
        };
        let id = convert::case_id("header.case_id", &header.case_id)?;
        if header.size == 0 || header.size > MAX_PHOTO_BYTES as u64 {
            return Err(invalid(
                "header.size",
                format!("must be 1 to {MAX_PHOTO_BYTES} bytes"),
            )
            .into());
        }
        if header.sha256.len() != 64
            || !header
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid("header.sha256", "must be 64 lowercase hex digits").into());
        }
        let mut bytes = Vec::with_capacity(header.size as usize);
        while let Some(message) = stream.message().await? {
            match message.part {
                Some(Part::Data(chunk)) => {
                    if chunk.len() > MAX_CHUNK {
                        return Err(invalid(
                            "data",
                            format!("chunks are at most {MAX_CHUNK} bytes"),
                        )
                        .into());
                    }
                    if bytes.len() + chunk.len() > header.size as usize {
                        return Err(invalid(
                            "data",
                            format!("more bytes than the declared size {}", header.size),
                        )
                        .into());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                _ => {
                    return Err(
                        invalid("header", "only the first message may carry a header").into(),
                    );
                }
            }
        }
        if bytes.len() as u64 != header.size {
            return Err(invalid(
                "data",
                format!(
                    "received {} bytes of the declared {}",
                    bytes.len(),
                    header.size
                ),
            )
            .into());
        }
        if hex::encode(Sha256::digest(&bytes)) != header.sha256 {
            return Err(invalid("header.sha256", "does not match the bytes received").into());
        }
        let submitted = self
            .hub
            .submit_photo(
                &principal,
                &id,
                &header.step_id,
                Arc::new(bytes),
                header.sha256,
                None,
            )
            .await?;
        Ok(Response::new(pb::SubmitPhotoResponse {
            report: Some(convert::report_to_wire(&submitted.report)),
            progress: Some(convert::progress_to_wire(&submitted.progress)),
            already_stored: submitted.already_stored,
        }))
    }

    async fn push_step(
        &self,
        request: Request<pb::PushStepRequest>,
    ) -> Result<Response<pb::CaptureProgress>, Status> {
        let principal = principal(&self.hub, &request)?;
        let request = request.into_inner();
        let id = convert::case_id("case_id", &request.case_id)?;
        reply(
            self.hub
                .push_step(&principal, &id, &request.step_id)
                .await
                .map(|v| convert::progress_to_wire(&v)),
        )
    }

    async fn skip_step(
        &self,
        request: Request<pb::SkipStepRequest>,
    ) -> Result<Response<pb::CaptureProgress>, Status> {
        let principal = principal(&self.hub, &request)?;
        let request = request.into_inner();
        let id = convert::case_id("case_id", &request.case_id)?;
        reply(
            self.hub
                .skip_step(&principal, &id, &request.step_id, request.reason)
                .await
                .map(|v| convert::progress_to_wire(&v)),
        )
    }

    type GetPhotoStream = ResponseStream<pb::PhotoData>;

    async fn get_photo(
        &self,
        request: Request<pb::GetPhotoRequest>,
    ) -> Result<Response<Self::GetPhotoStream>, Status> {
        let principal = principal(&self.hub, &request)?;
        let request = request.into_inner();
        let id = convert::case_id("case_id", &request.case_id)?;
        let bytes = self.hub.photo(&principal, &id, &request.sha256)?;
        let chunks: Vec<Result<pb::PhotoData, Status>> = bytes
            .chunks(MAX_CHUNK)
            .map(|c| Ok(pb::PhotoData { data: c.to_vec() }))
            .collect();
        Ok(Response::new(Box::pin(futures::stream::iter(chunks))))
    }
}
