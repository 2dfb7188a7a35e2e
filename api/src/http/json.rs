//! The JSON body extractor for the API's own requests: `application/json`
//! and nothing else, as the description says. actix's `Json` would also
//! take every `+json` type (`application/merge-patch+json`, say), whose
//! meaning a client may rightly expect to differ.
//!
//! Every body the API reads is a JSON object, and only an object is taken:
//! serde's derive would also read a struct from an array of its fields
//! (`["text"]` for `{"quote": "text"}`). A body type is then a plain
//! `#[derive(Deserialize)]` struct; fields it does not name are ignored.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde::de::{Deserialize, DeserializeOwned, Deserializer, MapAccess, Visitor};

use super::error::ApiError;

/// A request body of media type `application/json` (any parameters, such
/// as `charset`) holding a JSON object, read as `T` in one pass with the
/// app's [`web::JsonConfig`] (its size limit and error mapping: a
/// well-formed body of the wrong shape is an invalid quote, the one body
/// the API reads).
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
        let body = web::Json::<Object<T>>::from_request(req, payload);
        Box::pin(async move { Ok(Self(body.await?.into_inner().0)) })
    }
}

/// `T`, read only from a JSON object.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(ObjectsOnly(deserializer)).map(Object)
    }
}

/// A deserializer whose top-level value must be an object: what `T` asks
/// for is passed on with a visitor that refuses anything else. The values
/// inside are read by the wrapped deserializer as they are.
struct ObjectsOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectsOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(MapsOnly(visitor, PhantomData))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_struct(name, fields, MapsOnly(visitor, PhantomData))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// Passes a map on to `V`; anything else is the wrong type.
struct MapsOnly<'de, V>(V, PhantomData<&'de ()>);

impl<'de, V: Visitor<'de>> Visitor<'de> for MapsOnly<'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Body {
        quote: String,
    }

    fn read(json: &str) -> Result<Body, serde_json::Error> {
        serde_json::from_str::<Object<Body>>(json).map(|object| object.0)
    }

    #[test]
    fn only_an_object_is_read() {
        assert_eq!(
            read(r#"{"quote": "text", "other": [1]}"#).unwrap(),
            Body {
                quote: "text".to_owned()
            }
        );
        for wrong in [r#"["text"]"#, r#""text""#, "1", "null"] {
            let error = read(wrong).unwrap_err();
            assert!(error.is_data(), "{wrong}: {error}");
            assert!(error.to_string().contains("a JSON object"), "{error}");
        }
        assert!(read(r#"{"quote": 1}"#).unwrap_err().is_data());
        assert!(read(r#"{"quote": "#).unwrap_err().is_eof());
    }
}
