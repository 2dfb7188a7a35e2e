//! Serving the single-page app's static bundle (`--web-dir`), and the
//! `config.json` it reads at start, written from this server's own settings.
//!
//! The API's routes come first: files are only looked at for paths no
//! route claims. A path that names no file gets `index.html` when the
//! browser asks for a page (so the app's own addresses survive a reload),
//! and the API's problem+json 404 otherwise.

use std::path::{Path, PathBuf};

use actix_files::NamedFile;
use actix_web::http::Method;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::Config;
use crate::error::ApiError;

/// OAuth client id the app uses with an OpenID provider.
pub const CLIENT_ID: &str = "quotes-web";

/// Scopes the app asks an OpenID provider for.
pub const SCOPES: &str = "openid profile";

/// Settings of `--web-dir`.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The bundle: `index.html` and its files.
    pub dir: PathBuf,
    /// Clerk's publishable key, when Clerk is the provider.
    pub clerk_publishable_key: Option<String>,
}

/// What the server knows when it serves the bundle.
#[derive(Debug)]
pub struct WebApp {
    dir: PathBuf,
    /// `config.json` without `api_base`, which is the request's origin.
    provider: Value,
}

impl WebApp {
    /// The app for `config`, whose issuer is final (the development
    /// provider's names the port actually bound).
    pub fn new(web: &WebConfig, config: &Config) -> Self {
        let provider = if config.dev_idp.is_none()
            && let Some(key) = &web.clerk_publishable_key
        {
            json!({ "kind": "clerk", "publishable_key": key })
        } else {
            let mut provider = json!({
                "kind": "oidc",
                "issuer": config.auth.issuer,
                "client_id": CLIENT_ID,
                "scopes": SCOPES,
            });
            if config.dev_idp.is_none()
                && let Some(audience) = config.auth.audiences.first()
            {
                provider["audience"] = json!(audience);
            }
            provider
        };
        Self {
            dir: web.dir.clone(),
            provider,
        }
    }
}

/// `config.json` as the app reads it.
#[derive(Debug, Serialize)]
struct AppConfig<'a> {
    api_base: String,
    provider: &'a Value,
}

/// Routes that must come before the API's catch-all scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/config.json", web::get().to(config_json));
}

/// `GET /config.json`: the API is this origin; the provider is the one
/// this server trusts.
async fn config_json(req: HttpRequest, app: web::Data<WebApp>) -> HttpResponse {
    let info = req.connection_info();
    let body = AppConfig {
        api_base: format!("{}://{}", info.scheme(), info.host()),
        provider: &app.provider,
    };
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .json(body)
}

/// The API's fallback: a file of the bundle, `index.html` for pages, or
/// the API's 404.
pub async fn fallback(
    req: HttpRequest,
    app: Option<web::Data<WebApp>>,
) -> Result<HttpResponse, ApiError> {
    let Some(app) = app else {
        return Err(ApiError::RouteNotFound);
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Err(ApiError::RouteNotFound);
    }
    if let Some(path) = file_path(&app.dir, req.path())
        && path.is_file()
        && let Ok(file) = NamedFile::open_async(&path).await
    {
        return Ok(file.into_response(&req));
    }
    if accepts_html(&req) {
        let index = app.dir.join("index.html");
        if let Ok(file) = NamedFile::open_async(&index).await {
            let mut response = file.into_response(&req);
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-cache"),
            );
            return Ok(response);
        }
    }
    Err(ApiError::RouteNotFound)
}

/// The file `request_path` names inside `dir`, or `None` when it would
/// leave it, name a hidden file, or needs decoding (the bundle's names
/// need none).
pub fn file_path(dir: &Path, request_path: &str) -> Option<PathBuf> {
    let mut path = dir.to_path_buf();
    let mut segments = 0;
    for segment in request_path.split('/').filter(|s| !s.is_empty()) {
        let plain = segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !plain || segment.starts_with('.') {
            return None;
        }
        path.push(segment);
        segments += 1;
    }
    if segments == 0 {
        path.push("index.html");
    }
    Some(path)
}

fn accepts_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::file_path;

    #[test]
    fn paths_stay_inside_the_bundle() {
        let dir = Path::new("/srv/web");
        assert_eq!(
            file_path(dir, "/"),
            Some(dir.join("index.html")),
            "the root is the app"
        );
        assert_eq!(
            file_path(dir, "/quotes_web.js"),
            Some(dir.join("quotes_web.js"))
        );
        for refused in [
            "/../etc/passwd",
            "/a/../../x",
            "/.env",
            "/%2e%2e/secret",
            "/a\\..\\b",
            "/./index.html",
        ] {
            assert_eq!(file_path(dir, refused), None, "{refused}");
        }
    }
}
