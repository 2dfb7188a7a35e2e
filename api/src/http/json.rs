//! The JSON body extractor for the API's own requests: `application/json`
//! and nothing else, as the description says. actix's `Json` would also
//! take every `+json` type (`application/merge-patch+json`, say), whose
//! meaning a client may rightly expect to differ.
//!
//! Every body the API reads is a JSON object, and only an object is taken:
//! serde's derive would also read a struct from an array of its fields
//! (`["text"]` for `{"quote": "text"}`). A body type is then a plain
//! `#[derive(Deserialize)]` struct; fields it does not name are ignored.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::quotes::QuoteError;

/// A request body of media type `application/json` (any parameters, such
/// as `charset`) holding a JSON object, read as `T` with the app's
/// [`web::JsonConfig`]. A well-formed body of the wrong shape is an
/// invalid quote, the one body the API reads.
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
        let object = web::Json::<Map<String, Value>>::from_request(req, payload);
        Box::pin(async move {
            let object = object.await?.into_inner();
            T::deserialize(Value::Object(object))
                .map(Self)
                .map_err(|error| {
                    ApiError::InvalidQuote(QuoteError::Shape(error.to_string())).into()
                })
        })
    }
}
