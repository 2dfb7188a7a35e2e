//! The device authorization grant (RFC 8628), for clients with no browser
//! of their own, such as the `quotes` command line: the client asks for a
//! device code and a short user code, the person enters the user code on
//! the provider's `/device` page (signing in and ticking what the client
//! may do), and the client polls the token endpoint until the person has
//! answered. Plain rules and bounded in-memory state, testable without
//! HTTP; the handlers are in `endpoints`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::flow::{ErrorCode, FlowError};
use super::grants::ApiScopes;

/// How long a device code can be used (`expires_in`).
pub const DEVICE_CODE_LIFETIME: Duration = Duration::from_secs(600);

/// How long a client waits between polls, at first (`interval`).
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// How much a poll that came too early adds to the interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// Most device authorizations waiting for an answer: a client that never
/// polls must not grow the map without end.
pub const MAX_PENDING_DEVICES: usize = 1024;

/// The user code's letters: no vowels (no words), nothing that looks like
/// something else (RFC 8628 §6.1).
const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Letters in a user code (shown as two groups of four).
const USER_CODE_LETTERS: usize = 8;

/// What a device authorization asks for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    pub client_id: String,
    /// As asked for (`openid` when none).
    pub scope: String,
    /// The `resource` named, when it is the provider's one resource.
    pub resource: Option<String>,
}

impl DeviceRequest {
    /// The API scopes it asks for.
    pub fn requested_api_scopes(&self) -> ApiScopes {
        ApiScopes::among(&self.scope)
    }
}

/// The codes of a new device authorization.
#[derive(Debug, Clone)]
pub struct Issued {
    pub device_code: String,
    /// Formatted, `XXXX-XXXX`.
    pub user_code: String,
}

/// Where a device authorization stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Pending,
    Approved { user: String, granted: ApiScopes },
    Denied,
}

#[derive(Debug)]
struct Pending {
    request: DeviceRequest,
    /// Normalized: the letters only.
    user_code: String,
    expires: Instant,
    interval: Duration,
    last_poll: Option<Instant>,
    answer: Answer,
}

/// An approved device authorization, handed to the token endpoint once.
#[derive(Debug, Clone)]
pub struct Approval {
    pub request: DeviceRequest,
    pub user: String,
    pub granted: ApiScopes,
}

/// Device authorizations in progress, by device code.
#[derive(Debug, Default)]
pub struct DeviceState {
    pending: Mutex<HashMap<String, Pending>>,
}

impl DeviceState {
    /// Starts a device authorization for `request`.
    pub fn start(&self, request: DeviceRequest, now: Instant) -> Result<Issued, FlowError> {
        const NO_RANDOMNESS: FlowError =
            FlowError::new(ErrorCode::ServerError, "no randomness available");
        let mut pending = self.lock();
        // Expired ones are kept as long again, to answer `expired_token`.
        pending.retain(|_, entry| entry.expires + DEVICE_CODE_LIFETIME > now);
        if pending.len() >= MAX_PENDING_DEVICES
            && let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, entry)| entry.expires)
                .map(|(code, _)| code.clone())
        {
            pending.remove(&oldest);
        }
        let device_code = random_device_code().ok_or(NO_RANDOMNESS)?;
        // A user code is short: draw again on the rare clash with a live one.
        let user_code = (0..8)
            .filter_map(|_| random_user_code())
            .find(|code| !pending.values().any(|entry| entry.user_code == *code))
            .ok_or(NO_RANDOMNESS)?;
        pending.insert(
            device_code.clone(),
            Pending {
                request,
                user_code: user_code.clone(),
                expires: now + DEVICE_CODE_LIFETIME,
                interval: POLL_INTERVAL,
                last_poll: None,
                answer: Answer::Pending,
            },
        );
        Ok(Issued {
            device_code,
            user_code: format_user_code(&user_code),
        })
    }

    /// The request waiting for an answer under `user_code` (as typed: any
    /// case, with or without the dash or spaces).
    pub fn waiting(&self, user_code: &str, now: Instant) -> Option<DeviceRequest> {
        let code = normalize_user_code(user_code)?;
        self.lock()
            .values()
            .find(|entry| {
                entry.user_code == code && entry.expires > now && entry.answer == Answer::Pending
            })
            .map(|entry| entry.request.clone())
    }

    /// The person's answer for `user_code`: `Some((user, granted))` to
    /// approve, `None` to deny. False when no request waits under it.
    pub fn answer(
        &self,
        user_code: &str,
        approval: Option<(&str, ApiScopes)>,
        now: Instant,
    ) -> bool {
        let Some(code) = normalize_user_code(user_code) else {
            return false;
        };
        let mut pending = self.lock();
        let Some(entry) = pending.values_mut().find(|entry| {
            entry.user_code == code && entry.expires > now && entry.answer == Answer::Pending
        }) else {
            return false;
        };
        entry.answer = match approval {
            Some((user, granted)) => Answer::Approved {
                user: user.to_owned(),
                granted: granted.and(entry.request.requested_api_scopes()),
            },
            None => Answer::Denied,
        };
        true
    }

    /// A poll of the token endpoint with `device_code` by `client_id`
    /// (RFC 8628 §3.4, §3.5): the approval, once, or why not yet or never.
    pub fn poll(
        &self,
        device_code: &str,
        client_id: &str,
        now: Instant,
    ) -> Result<Approval, FlowError> {
        let mut pending = self.lock();
        let Some(entry) = pending.get_mut(device_code) else {
            return Err(FlowError::new(
                ErrorCode::InvalidGrant,
                "the device_code is unknown or was used",
            ));
        };
        if entry.request.client_id != client_id {
            return Err(FlowError::new(
                ErrorCode::InvalidGrant,
                "the device_code was issued to another client_id",
            ));
        }
        if entry.expires <= now {
            pending.remove(device_code);
            return Err(FlowError::new(
                ErrorCode::ExpiredToken,
                "the device_code expired: start again",
            ));
        }
        let too_soon = entry
            .last_poll
            .is_some_and(|last| now.saturating_duration_since(last) < entry.interval);
        entry.last_poll = Some(now);
        match entry.answer.clone() {
            Answer::Denied => {
                pending.remove(device_code);
                Err(FlowError::new(
                    ErrorCode::AccessDenied,
                    "the person denied the request",
                ))
            }
            Answer::Approved { user, granted } => {
                let request = entry.request.clone();
                pending.remove(device_code);
                Ok(Approval {
                    request,
                    user,
                    granted,
                })
            }
            Answer::Pending if too_soon => {
                entry.interval += SLOW_DOWN_STEP;
                Err(FlowError::new(
                    ErrorCode::SlowDown,
                    "polled faster than the interval: wait 5 seconds more between polls",
                ))
            }
            Answer::Pending => Err(FlowError::new(
                ErrorCode::AuthorizationPending,
                "the person has not answered yet",
            )),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `ABCDEFGH` as `ABCD-EFGH`.
pub fn format_user_code(letters: &str) -> String {
    let (first, second) = letters.split_at(letters.len().min(USER_CODE_LETTERS / 2));
    format!("{first}-{second}")
}

/// The letters of a user code as typed, upper case, without dashes and
/// spaces; `None` when it cannot be one.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let letters: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (letters.len() == USER_CODE_LETTERS && letters.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(letters)
}

fn random_user_code() -> Option<String> {
    let mut bytes = [0_u8; USER_CODE_LETTERS];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    // 256 is not a multiple of 20: drawing again on the top values keeps
    // every letter equally likely.
    let mut letters = String::with_capacity(USER_CODE_LETTERS);
    for byte in bytes {
        let mut byte = byte;
        while usize::from(byte) >= 240 {
            let mut again = [0_u8; 1];
            aws_lc_rs::rand::fill(&mut again).ok()?;
            byte = again[0];
        }
        letters.push(char::from(USER_CODE_ALPHABET[usize::from(byte) % 20]));
    }
    Some(letters)
}

/// 32 random bytes, base64url: the device code, opaque to the client.
fn random_device_code() -> Option<String> {
    let mut bytes = [0_u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> DeviceRequest {
        DeviceRequest {
            client_id: "quotes-cli".to_owned(),
            scope: "openid quotes:read quotes:write".to_owned(),
            resource: None,
        }
    }

    #[test]
    fn user_codes_are_eight_unambiguous_letters_typed_in_any_form() {
        let state = DeviceState::default();
        let issued = state.start(request(), Instant::now()).unwrap();
        assert_eq!(issued.user_code.len(), 9);
        assert_eq!(&issued.user_code[4..5], "-");
        let typed = issued.user_code.replace('-', " ").to_lowercase();
        assert_eq!(state.waiting(&typed, Instant::now()), Some(request()));
        assert_eq!(normalize_user_code("AAAA-AAAA"), None);
        assert_eq!(normalize_user_code("BCDF-GHJ"), None);
    }

    #[test]
    fn polls_wait_then_slow_down_then_get_the_approval_once() {
        let state = DeviceState::default();
        let start = Instant::now();
        let issued = state.start(request(), start).unwrap();
        let code = &issued.device_code;
        let error = |at| state.poll(code, "quotes-cli", at).unwrap_err().code;
        assert_eq!(error(start), ErrorCode::AuthorizationPending);
        assert_eq!(error(start + Duration::from_secs(1)), ErrorCode::SlowDown);
        // The interval is now 10 s, counted from the last poll.
        assert_eq!(error(start + Duration::from_secs(6)), ErrorCode::SlowDown);
        assert_eq!(
            error(start + Duration::from_secs(30)),
            ErrorCode::AuthorizationPending
        );
        assert_eq!(
            state.poll(code, "other", start).unwrap_err().code,
            ErrorCode::InvalidGrant
        );
        assert!(state.answer(
            &issued.user_code,
            Some(("alice", ApiScopes::among("quotes:read"))),
            start
        ));
        let approval = state
            .poll(code, "quotes-cli", start + Duration::from_secs(60))
            .unwrap();
        assert_eq!(approval.user, "alice");
        assert_eq!(approval.granted, ApiScopes::among("quotes:read"));
        assert_eq!(
            error(start + Duration::from_secs(90)),
            ErrorCode::InvalidGrant
        );
    }

    #[test]
    fn a_denial_and_an_expiry_end_the_request() {
        let state = DeviceState::default();
        let start = Instant::now();
        let denied = state.start(request(), start).unwrap();
        assert!(state.answer(&denied.user_code, None, start));
        assert!(!state.answer(&denied.user_code, None, start));
        assert_eq!(
            state
                .poll(&denied.device_code, "quotes-cli", start)
                .unwrap_err()
                .code,
            ErrorCode::AccessDenied
        );
        let expired = state.start(request(), start).unwrap();
        let later = start + DEVICE_CODE_LIFETIME;
        assert_eq!(state.waiting(&expired.user_code, later), None);
        assert_eq!(
            state
                .poll(&expired.device_code, "quotes-cli", later)
                .unwrap_err()
                .code,
            ErrorCode::ExpiredToken
        );
    }

    #[test]
    fn the_store_is_bounded() {
        let state = DeviceState::default();
        let now = Instant::now();
        for _ in 0..=MAX_PENDING_DEVICES {
            state.start(request(), now).unwrap();
        }
        assert_eq!(state.lock().len(), MAX_PENDING_DEVICES);
    }
}
