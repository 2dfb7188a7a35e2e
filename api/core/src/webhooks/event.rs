//! What a verified delivery asks of us: the Clerk events we act on.

use serde::Deserialize;

use super::signature::WebhookError;
use crate::auth::is_valid_subject;

/// What a verified delivery asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The user is gone from Clerk: erase what we keep for them.
    UserDeleted { user_id: String },
    /// Anything else (`user.created`, `session.ended`, ...): acknowledged, ignored.
    Other { kind: String },
}

#[derive(Deserialize)]
struct RawEvent {
    #[serde(rename = "type")]
    kind: String,
    // Its shape depends on the type; only `user.deleted` looks inside.
    #[serde(default)]
    data: serde_json::Value,
}

impl Event {
    /// Reads a verified body: a JSON object with a string `type`, and for
    /// `user.deleted` a non-empty string `data.id`.
    pub fn parse(body: &[u8]) -> Result<Self, WebhookError> {
        let raw: RawEvent = serde_json::from_slice(body).map_err(|_| {
            WebhookError::NotAnEvent("expected a JSON object with a string \"type\"")
        })?;
        match raw.kind.as_str() {
            "user.deleted" => {
                let user_id = raw
                    .data
                    .get("id")
                    .and_then(serde_json::Value::as_str)
                    .filter(|id| is_valid_subject(id))
                    .map(str::to_owned)
                    .ok_or(WebhookError::NotAnEvent(
                        "user.deleted needs a string \"data.id\" of 1 to 255 characters without control characters",
                    ))?;
                Ok(Self::UserDeleted { user_id })
            }
            _ => Ok(Self::Other { kind: raw.kind }),
        }
    }

    /// The event's `type`, for the log.
    pub fn kind(&self) -> &str {
        match self {
            Self::UserDeleted { .. } => "user.deleted",
            Self::Other { kind } => kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_from_the_body() {
        assert_eq!(
            Event::parse(br#"{"type":"user.deleted","data":{"id":"user_2x","deleted":true}}"#),
            Ok(Event::UserDeleted {
                user_id: "user_2x".to_owned()
            })
        );
        assert_eq!(
            Event::parse(br#"{"type":"user.created","data":{"id":"user_2x"}}"#),
            Ok(Event::Other {
                kind: "user.created".to_owned()
            })
        );
        for bad in [
            &b"not json"[..],
            br#"["user.deleted"]"#,
            br#"{"data":{"id":"user_2x"}}"#,
            br#"{"type":"user.deleted","data":{}}"#,
            br#"{"type":"user.deleted","data":{"id":""}}"#,
            br#"{"type":"user.deleted","data":{"id":"user_\u0000x"}}"#,
            br#"{"type":"user.deleted","data":{"id":"user_\nx"}}"#,
        ] {
            assert!(
                Event::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
