//! The JSON body extractor for the API's own requests: `application/json`
//! and nothing else, as the description says. actix's `Json` would also
//! take every `+json` type (`application/merge-patch+json`, say), whose
//! meaning a client may rightly expect to differ.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A request body of media type `application/json` (any parameters, such
/// as `charset`), read as `T` with the app's [`web::JsonConfig`].
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = matches!(
            req.mime_type(),
            Ok(Some(mime)) if mime.essence_str() == "application/json"
        );
        if !is_json {
            return Box::pin(async { Err(ApiError::UnsupportedMediaType.into()) });
        }
        let body = web::Json::<T>::from_request(req, payload);
        Box::pin(async move { body.await.map(|json| Self(json.into_inner())) })
    }
}
