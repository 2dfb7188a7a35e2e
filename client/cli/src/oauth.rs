//! Talking to the API's authorization server: discovery (RFC 9728's
//! protected-resource metadata, then the provider's OpenID or RFC 8414
//! document), the device grant (RFC 8628), the authorization-code grant
//! with PKCE over a loopback redirect (RFC 8252) for providers without
//! the device grant, renewal with a refresh token, and revocation.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::failure::{Failure, describe};

/// The device grant's `grant_type`.
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// What the API says of itself (RFC 9728).
#[derive(Debug, Clone, Deserialize)]
pub struct ResourceMetadata {
    pub resource: String,
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
}

/// What the provider says of itself (OpenID Connect Discovery, RFC 8414).
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub token_endpoint: String,
    pub authorization_endpoint: Option<String>,
    pub device_authorization_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
}

/// A token endpoint's answer (RFC 6749 §5.1).
#[derive(Debug, Clone, Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
}

/// A token endpoint's error (RFC 6749 §5.2).
#[derive(Debug, Clone, Deserialize)]
struct OAuthError {
    error: String,
    error_description: Option<String>,
}

/// The device authorization answer (RFC 8628 §3.2).
#[derive(Debug, Clone, Deserialize)]
struct DeviceAuthorization {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_in: u64,
    interval: Option<u64>,
}

/// How to sign in.
#[derive(Debug, Clone)]
pub struct SignInRequest<'a> {
    pub client_id: &'a str,
    pub scope: &'a str,
    pub resource: &'a str,
    pub open_browser: bool,
}

/// GETs `url` as JSON: `None` for a 404, a failure for anything else
/// that is not a 2xx.
async fn get_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<Option<T>, Failure> {
    let response = http
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|error| Failure::unreachable(url, &describe(&error)))?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !response.status().is_success() {
        return Err(Failure::refused(format!(
            "{url} answered {}",
            response.status()
        )));
    }
    response
        .json()
        .await
        .map(Some)
        .map_err(|error| Failure::refused(format!("{url} sent {}", describe(&error))))
}

/// The API's protected-resource metadata.
pub async fn resource_metadata(
    http: &reqwest::Client,
    api: &str,
) -> Result<ResourceMetadata, Failure> {
    let url = format!("{api}/.well-known/oauth-protected-resource");
    get_json(http, &url).await?.ok_or_else(|| {
        Failure::refused(format!(
            "{api} publishes no /.well-known/oauth-protected-resource: is it the quotes API?"
        ))
    })
}

/// The provider's metadata: OpenID discovery, or RFC 8414's.
pub async fn provider_metadata(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<ProviderMetadata, Failure> {
    let issuer = issuer.trim_end_matches('/');
    for document in ["openid-configuration", "oauth-authorization-server"] {
        let url = format!("{issuer}/.well-known/{document}");
        if let Some(metadata) = get_json(http, &url).await? {
            return Ok(metadata);
        }
    }
    Err(Failure::refused(format!(
        "{issuer} publishes no discovery document"
    )))
}

/// POSTs a form to a provider's endpoint and reads the JSON answer, or
/// its OAuth error.
async fn post_form<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> Result<Result<T, OAuthError>, Failure> {
    let response = http
        .post(url)
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .map_err(|error| Failure::unreachable(url, &describe(&error)))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|error| Failure::unreachable(url, &describe(&error)))?;
    if status.is_success() {
        return serde_json::from_slice(&body)
            .map(Ok)
            .map_err(|_| Failure::refused(format!("{url} sent an answer that cannot be read")));
    }
    Ok(Err(serde_json::from_slice(&body).unwrap_or(OAuthError {
        error: format!("http_{}", status.as_u16()),
        error_description: Some(format!("{url} answered {status}")),
    })))
}

fn oauth_failure(error: &OAuthError) -> Failure {
    Failure::refused(format!(
        "the provider refused: {}{}",
        error.error,
        error
            .error_description
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default()
    ))
}

/// Signs in with the device grant: shows the code, opens the browser,
/// polls until the person answers.
pub async fn device_sign_in(
    http: &reqwest::Client,
    provider: &ProviderMetadata,
    endpoint: &str,
    request: &SignInRequest<'_>,
) -> Result<TokenAnswer, Failure> {
    let started: DeviceAuthorization = post_form(
        http,
        endpoint,
        &[
            ("client_id", request.client_id),
            ("scope", request.scope),
            ("resource", request.resource),
        ],
    )
    .await?
    .map_err(|error| oauth_failure(&error))?;
    let mut err = std::io::stderr();
    let _ = std::io::Write::write_fmt(
        &mut err,
        format_args!(
            "To sign in, open {} and enter the code: {}\n",
            started.verification_uri, started.user_code
        ),
    );
    let direct = started
        .verification_uri_complete
        .clone()
        .unwrap_or_else(|| started.verification_uri.clone());
    if let Some(complete) = &started.verification_uri_complete {
        let _ = std::io::Write::write_fmt(
            &mut err,
            format_args!("(or open {complete}, where the code is filled in)\n"),
        );
    }
    if request.open_browser {
        open_browser(&direct);
    }
    let mut interval = Duration::from_secs(started.interval.unwrap_or(5).max(1));
    let deadline = Instant::now() + Duration::from_secs(started.expires_in);
    let spinner = spinner();
    loop {
        // Waits out the interval, the spinner counting down meanwhile.
        let next_poll = Instant::now() + interval;
        while Instant::now() < next_poll {
            if let Some(spinner) = &spinner {
                let left = deadline.saturating_duration_since(Instant::now()).as_secs();
                spinner.set_message(format!(
                    "waiting for you to approve {} ({}:{:02} left)",
                    started.user_code,
                    left / 60,
                    left % 60
                ));
            }
            let step = next_poll
                .saturating_duration_since(Instant::now())
                .min(Duration::from_secs(1));
            tokio::time::sleep(step).await;
        }
        let answer = post_form::<TokenAnswer>(
            http,
            &provider.token_endpoint,
            &[
                ("grant_type", DEVICE_CODE_GRANT),
                ("device_code", &started.device_code),
                ("client_id", request.client_id),
            ],
        )
        .await;
        let outcome = match answer {
            Ok(Ok(tokens)) => Some(Ok(tokens)),
            Ok(Err(error)) => match error.error.as_str() {
                "authorization_pending" => None,
                "slow_down" => {
                    interval += Duration::from_secs(5);
                    None
                }
                "access_denied" => Some(Err(Failure::refused("the sign-in was denied"))),
                "expired_token" => Some(Err(Failure::refused_then(
                    "the code expired before it was entered",
                    "run `quotes login` again",
                ))),
                _ => Some(Err(oauth_failure(&error))),
            },
            Err(failure) => Some(Err(failure)),
        };
        if let Some(outcome) = outcome {
            if let Some(spinner) = spinner {
                spinner.finish_and_clear();
            }
            return outcome;
        }
        if Instant::now() >= deadline {
            return Err(Failure::refused_then(
                "the code expired before it was entered",
                "run `quotes login` again",
            ));
        }
    }
}

/// A spinner on a terminal; nothing when stderr is a pipe or a file.
fn spinner() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(120));
    Some(spinner)
}

/// Opens `url` in the browser, when there is a display to show it on.
fn open_browser(url: &str) {
    let has_display = !cfg!(target_os = "linux")
        || std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if has_display && webbrowser::open(url).is_err() {
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!("(could not open a browser: open the address yourself)\n"),
        );
    }
}

/// Signs in with the authorization code and PKCE, the browser coming
/// back to a one-time listener on 127.0.0.1 (RFC 8252 §7.3).
pub async fn loopback_sign_in(
    http: &reqwest::Client,
    provider: &ProviderMetadata,
    authorization_endpoint: &str,
    request: &SignInRequest<'_>,
) -> Result<TokenAnswer, Failure> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|error| Failure::refused(format!("cannot listen on 127.0.0.1: {error}")))?;
    let port = listener
        .local_addr()
        .map_err(|error| Failure::refused(format!("cannot listen on 127.0.0.1: {error}")))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let verifier = random_token().ok_or_else(|| Failure::refused("no randomness available"))?;
    let state = random_token().ok_or_else(|| Failure::refused("no randomness available"))?;
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    let mut url = url::Url::parse(authorization_endpoint).map_err(|_| {
        Failure::refused(format!(
            "the provider's authorization_endpoint is not a URL: {authorization_endpoint}"
        ))
    })?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", request.client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", request.scope)
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("resource", request.resource);
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!("To sign in, open {url}\n"),
    );
    if request.open_browser {
        open_browser(url.as_str());
    }
    let spinner = spinner();
    if let Some(spinner) = &spinner {
        spinner.set_message("waiting for the browser to come back");
    }
    let callback = tokio::time::timeout(Duration::from_secs(600), receive_callback(&listener))
        .await
        .map_err(|_| {
            Failure::refused_then(
                "nobody signed in within 10 minutes",
                "run `quotes login` again",
            )
        })?;
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    let query: Vec<(String, String)> = callback?;
    let value = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    if value("state") != Some(state.as_str()) {
        return Err(Failure::refused("the browser came back with another state"));
    }
    if let Some(error) = value("error") {
        return Err(oauth_failure(&OAuthError {
            error: error.to_owned(),
            error_description: value("error_description").map(str::to_owned),
        }));
    }
    let code =
        value("code").ok_or_else(|| Failure::refused("the browser came back without a code"))?;
    post_form(
        http,
        &provider.token_endpoint,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri),
            ("client_id", request.client_id),
            ("code_verifier", &verifier),
            ("resource", request.resource),
        ],
    )
    .await?
    .map_err(|error| oauth_failure(&error))
}

/// Waits for the browser's request to `/callback` and answers it; its
/// query parameters.
async fn receive_callback(
    listener: &tokio::net::TcpListener,
) -> Result<Vec<(String, String)>, Failure> {
    loop {
        let (mut stream, _) = listener
            .accept()
            .await
            .map_err(|error| Failure::refused(format!("the loopback listener failed: {error}")))?;
        let mut buffer = vec![0_u8; 8192];
        let mut read = 0;
        while read < buffer.len() {
            match stream.read(&mut buffer[read..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
            if buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        let head = String::from_utf8_lossy(&buffer[..read]);
        let target = head
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("GET "))
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_default();
        let Some(query) = target.strip_prefix("/callback?") else {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
            continue;
        };
        let page = "<!doctype html><meta charset=utf-8><title>quotes</title>\
                    <p>You may close this window and return to the terminal.</p>";
        let _ = stream
            .write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                )
                .as_bytes(),
            )
            .await;
        return Ok(url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect());
    }
}

/// Renews with a refresh token. `Ok(Err(..))` is the provider's refusal:
/// the sign-in has ended.
pub async fn refresh(
    http: &reqwest::Client,
    token_endpoint: &str,
    client_id: &str,
    refresh_token: &str,
) -> Result<Result<TokenAnswer, String>, Failure> {
    let answer = post_form::<TokenAnswer>(
        http,
        token_endpoint,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ],
    )
    .await?;
    Ok(answer.map_err(|error| error.error))
}

/// Revokes a refresh token (RFC 7009); whether the provider accepted.
pub async fn revoke(
    http: &reqwest::Client,
    endpoint: &str,
    client_id: &str,
    refresh_token: &str,
) -> Result<(), Failure> {
    let response = http
        .post(endpoint)
        .form(&[
            ("token", refresh_token),
            ("token_type_hint", "refresh_token"),
            ("client_id", client_id),
        ])
        .send()
        .await
        .map_err(|error| Failure::unreachable(endpoint, &describe(&error)))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(Failure::refused(format!(
            "{endpoint} refused to revoke the token ({})",
            response.status()
        )))
    }
}

/// 32 random bytes, base64url: a PKCE verifier or a state.
fn random_token() -> Option<String> {
    let mut bytes = [0_u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}
