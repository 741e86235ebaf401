//! `transcoder.v1.TranscoderService` over tonic: unwrap, call the service, convert back.

mod coalesce;
mod convert;
/// A wire order as the domain request SubmitJob validates (public for tools and fuzzing).
pub use convert::order_request;
mod convert_media;
mod convert_profile;
mod convert_storyboard;
pub mod status;

pub use coalesce::CoalescedWrites;

use crate::auth::Rejection;
use crate::domain::{Caller, ProfileId};
use crate::error::Error;
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

/// The authenticated caller (put there by the auth layer), acting for the request's
/// `company_id`: empty means the caller's own, another company's is PERMISSION_DENIED.
fn caller<T>(request: &Request<T>, company_id: impl FnOnce(&T) -> &str) -> Result<Caller, Status> {
    let caller = request
        .extensions()
        .get::<Caller>()
        .ok_or_else(|| status::to_status(Error::unauthenticated("no API token was checked")))?;
    caller
        .acting_for(company_id(request.get_ref()))
        .cloned()
        .map_err(status::to_status)
}

/// gRPC's answer to a request without a valid token; health and reflection stay open.
#[derive(Clone)]
pub struct GrpcRejection;

impl Rejection for GrpcRejection {
    type Body = tonic::body::Body;

    fn is_open(&self, path: &str) -> bool {
        path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.")
    }

    fn reject(&self, error: Error) -> http::Response<Self::Body> {
        status::to_status(error).into_http()
    }
}

#[tonic::async_trait]
impl TranscoderService for GrpcApi {
    async fn submit_job(
        &self,
        request: Request<pb::SubmitJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let caller = caller(&request, |r| &r.company_id)?;
        let r = request.into_inner();
        let order = convert::order_request(r.order);
        let job = self
            .service
            .submit_job(&caller, order, &r.idempotency_key)
            .await
            .map_err(status::to_status)?;
        Ok(Response::new(convert::job(&job)))
    }

    async fn get_job(
        &self,
        request: Request<pb::GetJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let caller = caller(&request, |r| &r.company_id)?;
        let r = request.into_inner();
        let job = self
            .service
            .get_job(&caller, &r.job_id)
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
        let caller = caller(&request, |r| &r.company_id)?;
        let r = request.into_inner();
        let state = convert::state_from_proto(r.state).map_err(status::to_status)?;
        let (jobs, next) = self
            .service
            .list_jobs(&caller, r.page_size, &r.page_token, state)
            .await
            .map_err(status::to_status)?;
        Ok(Response::new(pb::ListJobsResponse {
            jobs: jobs.iter().map(convert::job).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn cancel_job(
        &self,
        request: Request<pb::CancelJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let caller = caller(&request, |r| &r.company_id)?;
        let job = self
            .service
            .cancel_job(&caller, &request.get_ref().job_id)
            .await
            .map_err(status::to_status)?;
        Ok(Response::new(convert::job(&job)))
    }

    type WatchJobStream = EventStream;

    async fn watch_job(
        &self,
        request: Request<pb::WatchJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        let caller = caller(&request, |r| &r.company_id)?;
        let r = request.into_inner();
        let events = self
            .service
            .watch_job(&caller, &r.job_id, r.after_sequence)
            .await
            .map_err(status::to_status)?;
        let stream = events.map(|item| item.map(|e| convert::event(&e)).map_err(status::to_status));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn list_profiles(
        &self,
        request: Request<pb::ListProfilesRequest>,
    ) -> Result<Response<pb::ListProfilesResponse>, Status> {
        let caller = caller(&request, |r| &r.company_id)?;
        let profiles = self
            .service
            .list_profiles(&caller)
            .await
            .map_err(status::to_status)?;
        Ok(Response::new(pb::ListProfilesResponse {
            profiles: profiles.iter().map(convert::profile).collect(),
        }))
    }

    async fn get_profile(
        &self,
        request: Request<pb::GetProfileRequest>,
    ) -> Result<Response<pb::Profile>, Status> {
        let caller = caller(&request, |r| &r.company_id)?;
        let profile = self
            .service
            .get_profile(&caller, ProfileId(request.get_ref().profile_id))
            .await
            .map_err(status::to_status)?;
        Ok(Response::new(convert::profile(&profile)))
    }

    async fn create_profile(
        &self,
        request: Request<pb::CreateProfileRequest>,
    ) -> Result<Response<pb::Profile>, Status> {
        let caller = caller(&request, |r| &r.company_id)?;
        let (_, draft) =
            convert::profile_draft(request.into_inner().profile).map_err(status::to_status)?;
        let profile = self
            .service
            .create_profile(&caller, draft)
            .await
            .map_err(status::to_status)?;
        Ok(Response::new(convert::profile(&profile)))
    }

    async fn update_profile(
        &self,
        request: Request<pb::UpdateProfileRequest>,
    ) -> Result<Response<pb::Profile>, Status> {
        let caller = caller(&request, |r| &r.company_id)?;
        let (id, draft) =
            convert::profile_draft(request.into_inner().profile).map_err(status::to_status)?;
        let profile = self
            .service
            .update_profile(&caller, id, draft)
            .await
            .map_err(status::to_status)?;
        Ok(Response::new(convert::profile(&profile)))
    }

    async fn delete_profile(
        &self,
        request: Request<pb::DeleteProfileRequest>,
    ) -> Result<Response<pb::DeleteProfileResponse>, Status> {
        let caller = caller(&request, |r| &r.company_id)?;
        self.service
            .delete_profile(&caller, ProfileId(request.get_ref().profile_id))
            .await
            .map_err(status::to_status)?;
        Ok(Response::new(pb::DeleteProfileResponse {}))
    }

    async fn rotate_webhook_secret(
        &self,
        request: Request<pb::RotateWebhookSecretRequest>,
    ) -> Result<Response<pb::RotateWebhookSecretResponse>, Status> {
        let caller = caller(&request, |r| &r.company_id)?;
        let secret = self
            .service
            .rotate_webhook_secret(&caller)
            .await
            .map_err(status::to_status)?;
        Ok(Response::new(pb::RotateWebhookSecretResponse { secret }))
    }

    async fn get_usage(
        &self,
        request: Request<pb::GetUsageRequest>,
    ) -> Result<Response<pb::GetUsageResponse>, Status> {
        let caller = caller(&request, |r| &r.company_id)?;
        let r = request.into_inner();
        let from = convert::time_from_proto(r.from, "from").map_err(status::to_status)?;
        let to = convert::time_from_proto(r.to, "to").map_err(status::to_status)?;
        let usage = self
            .service
            .usage(&caller, from, to)
            .await
            .map_err(status::to_status)?;
        Ok(Response::new(convert::usage(&usage)))
    }
}
