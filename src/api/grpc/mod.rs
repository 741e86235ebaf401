//! `transcoder.v1.TranscoderService` over tonic: unwrap, call the service, convert back.

mod coalesce;
mod convert;
pub mod status;

pub use coalesce::CoalescedWrites;

use crate::proto as pb;
use crate::proto::transcoder_service_server::TranscoderService;
use crate::service::Service;
use futures::StreamExt;
use std::pin::Pin;
use tonic::{Request, Response, Status};

pub use crate::proto::transcoder_service_server::TranscoderServiceServer;

pub struct GrpcApi {
    service: Service,
}

impl GrpcApi {
    pub fn new(service: Service) -> Self {
        Self { service }
    }

    pub fn into_server(self) -> TranscoderServiceServer<Self> {
        TranscoderServiceServer::new(self)
    }
}

type EventStream = Pin<Box<dyn futures::Stream<Item = Result<pb::JobEvent, Status>> + Send>>;

fn not_yet<T>(rpc: &str) -> Result<Response<T>, Status> {
    Err(status::to_status(crate::error::Error::unimplemented(
        format!("{rpc} is not implemented yet"),
    )))
}

#[tonic::async_trait]
impl TranscoderService for GrpcApi {
    async fn submit_job(
        &self,
        request: Request<pb::SubmitJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let r = request.into_inner();
        let order = convert::order_request(r.order);
        let job = self
            .service
            .submit_job(&r.company_id, order, &r.idempotency_key)
            .await
            .map_err(status::to_status)?;
        Ok(Response::new(convert::job(&job)))
    }

    async fn get_job(
        &self,
        request: Request<pb::GetJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let r = request.into_inner();
        let job = self
            .service
            .get_job(&r.company_id, &r.job_id)
            .await
            .map_err(status::to_status)?;
        let deliveries = self
            .service
            .job_notifications(&job)
            .await
            .map_err(status::to_status)?;
        let mut reply = convert::job(&job);
        reply.notifications = deliveries.iter().map(convert::notification).collect();
        Ok(Response::new(reply))
    }

    async fn list_jobs(
        &self,
        request: Request<pb::ListJobsRequest>,
    ) -> Result<Response<pb::ListJobsResponse>, Status> {
        let r = request.into_inner();
        let state = convert::state_from_proto(r.state).map_err(status::to_status)?;
        let (jobs, next) = self
            .service
            .list_jobs(&r.company_id, r.page_size, &r.page_token, state)
            .await
            .map_err(status::to_status)?;
        Ok(Response::new(pb::ListJobsResponse {
            jobs: jobs.iter().map(convert::job).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn cancel_job(
        &self,
        _: Request<pb::CancelJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        not_yet("CancelJob")
    }

    type WatchJobStream = EventStream;

    async fn watch_job(
        &self,
        request: Request<pb::WatchJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        let r = request.into_inner();
        let events = self
            .service
            .watch_job(&r.company_id, &r.job_id, r.after_sequence)
            .await
            .map_err(status::to_status)?;
        let stream = events.map(|item| item.map(|e| convert::event(&e)).map_err(status::to_status));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn list_profiles(
        &self,
        request: Request<pb::ListProfilesRequest>,
    ) -> Result<Response<pb::ListProfilesResponse>, Status> {
        let r = request.into_inner();
        let profiles = self
            .service
            .list_profiles(&r.company_id)
            .map_err(status::to_status)?;
        Ok(Response::new(pb::ListProfilesResponse {
            profiles: profiles.iter().map(convert::profile).collect(),
        }))
    }

    async fn get_profile(
        &self,
        request: Request<pb::GetProfileRequest>,
    ) -> Result<Response<pb::Profile>, Status> {
        let r = request.into_inner();
        let profile = self
            .service
            .get_profile(&r.company_id, r.profile_id)
            .map_err(status::to_status)?;
        Ok(Response::new(convert::profile(&profile)))
    }

    async fn create_profile(
        &self,
        _: Request<pb::CreateProfileRequest>,
    ) -> Result<Response<pb::Profile>, Status> {
        not_yet("CreateProfile")
    }

    async fn update_profile(
        &self,
        _: Request<pb::UpdateProfileRequest>,
    ) -> Result<Response<pb::Profile>, Status> {
        not_yet("UpdateProfile")
    }

    async fn delete_profile(
        &self,
        _: Request<pb::DeleteProfileRequest>,
    ) -> Result<Response<pb::DeleteProfileResponse>, Status> {
        not_yet("DeleteProfile")
    }

    async fn rotate_webhook_secret(
        &self,
        request: Request<pb::RotateWebhookSecretRequest>,
    ) -> Result<Response<pb::RotateWebhookSecretResponse>, Status> {
        let r = request.into_inner();
        let secret = self
            .service
            .rotate_webhook_secret(&r.company_id)
            .await
            .map_err(status::to_status)?;
        Ok(Response::new(pb::RotateWebhookSecretResponse { secret }))
    }

    async fn get_usage(
        &self,
        _: Request<pb::GetUsageRequest>,
    ) -> Result<Response<pb::GetUsageResponse>, Status> {
        not_yet("GetUsage")
    }
}
