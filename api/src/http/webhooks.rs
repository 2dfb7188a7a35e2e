//! `POST /webhooks/clerk`: the thin handler that ties a verified Clerk
//! event to the data layer.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::error::PayloadError;
use actix_web::http::header::HeaderValue;
use actix_web::{HttpRequest, HttpResponse, post, web};

use super::error::{ApiError, Problem};
use quotes_core::db::Database;
use quotes_core::store;
use quotes_core::webhooks::{
    Event, MAX_WEBHOOK_BODY_BYTES, SigningSecret, SvixHeaders, WebhookError, verify,
};

/// A Clerk event as Svix delivers it, for the description: only `type`
/// and, for `user.deleted`, `data.id` are read.
#[derive(Debug, utoipa::ToSchema)]
#[schema(example = json!({
    "data": {"deleted": true, "id": "user_29w83sxmDNGwOuEthce5gg56FcC", "object": "user"},
    "object": "event",
    "timestamp": 1_716_883_200_000_i64,
    "type": "user.deleted"
}))]
pub struct ClerkEvent {
    /// The event type: `user.deleted` is acted on, every other type
    /// (`user.created`, `session.ended`, ...) is acknowledged and ignored.
    #[schema(rename = "type", example = "user.deleted")]
    pub kind: String,
    /// The object the event is about; for user events the user, whose `id`
    /// is the user id tokens carry as `sub`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Always `event`.
    #[schema(example = "event")]
    pub object: Option<String>,
    /// When the event happened, in milliseconds since 1970.
    pub timestamp: Option<i64>,
}

/// `POST /webhooks/clerk` took the delivery.
#[derive(Debug, utoipa::IntoResponses)]
#[response(
    status = 204,
    description = "Accepted (acted on, or ignored when the event type does not concern us)."
)]
pub struct EventAccepted;

impl actix_web::Responder for EventAccepted {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        HttpResponse::NoContent().finish()
    }
}

/// The route's own body limit; the rest of the API keeps its 16 KiB.
pub fn payload_config() -> web::PayloadConfig {
    web::PayloadConfig::new(MAX_WEBHOOK_BODY_BYTES)
}

/// `POST /webhooks/clerk`
///
/// The body is taken as raw bytes because the signature covers exactly
/// what was sent. Success and ignored events both answer `204`, so Svix
/// stops retrying; a database outage answers `503`, so it retries.
#[utoipa::path(
    tag = "webhooks",
    operation_id = "clerk_webhook",
    params(
        ("svix-id" = String, Header, description = "Unique id of the delivery."),
        ("svix-timestamp" = String, Header, description = "Unix time the delivery was signed, in seconds."),
        ("svix-signature" = String, Header, description = "Space-separated `v1,<base64 HMAC-SHA256>` signatures of `{svix-id}.{svix-timestamp}.{body}`."),
    ),
    request_body(content = ClerkEvent, content_type = "application/json",
        description = "A Clerk event, signed by Svix."),
    responses(
        EventAccepted,
        (status = BAD_REQUEST, description = "Missing or bad signature, stale timestamp, or not an event; nothing changed.",
            body = Problem, content_type = "application/problem+json"),
        (status = NOT_FOUND, description = "Webhooks are not configured (no CLERK_WEBHOOK_SIGNING_SECRET).",
            body = Problem, content_type = "application/problem+json"),
        (status = PAYLOAD_TOO_LARGE, description = "The body is over 256 KiB.",
            body = Problem, content_type = "application/problem+json"),
        (status = SERVICE_UNAVAILABLE, description = "The database is out of reach; the sender retries.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks/clerk")]
pub async fn clerk_webhook(
    req: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
    secret: Option<web::Data<SigningSecret>>,
    db: web::Data<Database>,
) -> Result<EventAccepted, ApiError> {
    // Without a secret the endpoint does not exist, rather than refusing
    // every delivery.
    let secret = secret.ok_or(ApiError::RouteNotFound)?;
    let body = body.map_err(body_error)?;
    let headers = SvixHeaders::read(|name| req.headers().get(name).map(HeaderValue::as_bytes))?;
    verify(&secret, &headers, &body, unix_now())?;
    let event = Event::parse(&body)?;

    let erased = match &event {
        Event::UserDeleted { user_id } => {
            db.run(async |conn| store::delete_user(conn, user_id).await)
                .await?
        }
        Event::Other { .. } => 0,
    };
    tracing::info!(
        event = event.kind(),
        svix_id = headers.id,
        erased,
        "webhook accepted"
    );
    Ok(EventAccepted)
}

/// Whether webhooks are configured: without a signing secret the
/// endpoint does not exist, rather than refusing every delivery.
pub fn is_configured(req: &HttpRequest) -> bool {
    req.app_data::<web::Data<SigningSecret>>().is_some()
}

#[expect(clippy::needless_pass_by_value, reason = "used with map_err")]
fn body_error(error: actix_web::Error) -> ApiError {
    match error.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => ApiError::PayloadTooLarge {
            limit: MAX_WEBHOOK_BODY_BYTES,
        },
        _ => WebhookError::UnreadableBody.into(),
    }
}

fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    i64::try_from(secs).unwrap_or(i64::MAX)
}
