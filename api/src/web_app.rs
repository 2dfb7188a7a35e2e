//! Serving the single-page app's static bundle (`--web-dir`), and the
//! `config.json` it reads at start, written from this server's own settings.
//!
//! The API's routes come first: files are only looked at for paths no
//! route claims. A path that names no file gets `index.html` when the
//! browser asks for a page (so the app's own addresses survive a reload),
//! and the API's problem+json 404 otherwise.
//!
//! Every file goes out with a `Content-Security-Policy` made for the app:
//! its own scripts (the inline boot script by hash), WebAssembly, and the
//! identity provider it talks to; never framed.
//!
//! Files are sent as the build left them, never compressed here: a file's
//! brotli or gzip twin beside it (`x.wasm.br`, `x.wasm.gz`) goes out
//! instead when the browser accepts it, so serving costs no CPU whoever
//! asks. A name with a content hash in it (`x.0123456789abcdef.wasm`)
//! never changes its bytes, so it is cached for a year as immutable;
//! anything else (`index.html`, `config.json`) is revalidated each time.

use std::path::{Path, PathBuf};

use actix_files::NamedFile;
use actix_web::http::Method;
use actix_web::http::header::{
    self, AcceptEncoding, CacheControl, CacheDirective, ContentEncoding, Encoding, Header,
    HeaderValue,
};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::{Value, json};

use crate::http::error::ApiError;
use crate::http::proxies::TrustedProxies;
use quotes_core::auth::{AuthSettings, clerk};

/// OAuth client id the app uses with an OpenID provider.
pub const CLIENT_ID: &str = "quotes-web";

/// Scopes the app asks an OpenID provider for.
pub const SCOPES: &str = "openid profile quotes:read quotes:write";

/// Settings of `--web-dir`.
#[derive(Debug, Clone)]
pub struct WebAppSettings {
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
    /// The bundle's `Content-Security-Policy`.
    policy: HeaderValue,
    /// Peers whose forwarded headers are believed.
    trusted_proxies: TrustedProxies,
    /// The server's address, named when a request has no `Host`.
    bound: std::net::SocketAddr,
}

impl WebApp {
    /// The app signing in with the provider `auth` trusts, whose issuer is
    /// final (the development provider's names the port actually bound),
    /// served on `bound`. Forwarded headers are believed from
    /// `trusted_proxies` only.
    pub fn new(
        web: &WebAppSettings,
        auth: &AuthSettings,
        trusted_proxies: TrustedProxies,
        bound: std::net::SocketAddr,
    ) -> Self {
        let provider = if let Some(key) = &web.clerk_publishable_key {
            json!({ "kind": "clerk", "publishable_key": key })
        } else {
            let mut provider = json!({
                "kind": "oidc",
                "issuer": auth.issuer,
                "client_id": CLIENT_ID,
                "scopes": SCOPES,
            });
            if let Some(audience) = auth.audiences.first() {
                provider["audience"] = json!(audience);
            }
            provider
        };
        let clerk_frontend_api = provider["publishable_key"]
            .as_str()
            .and_then(|key| clerk::frontend_api_from_publishable_key(key).ok());
        let boot_scripts = std::fs::read_to_string(web.dir.join("index.html"))
            .map(|html| inline_script_hashes(&html))
            .unwrap_or_default();
        let policy =
            content_security_policy(&boot_scripts, clerk_frontend_api.as_deref(), &auth.issuer);
        Self {
            dir: web.dir.clone(),
            provider,
            policy: HeaderValue::from_str(&policy).unwrap_or_else(|_| {
                HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'")
            }),
            trusted_proxies,
            bound,
        }
    }

    /// The API's origin as the browser sees it. Forwarded headers say so
    /// only when they come from a trusted proxy; otherwise anybody could
    /// point the app at a host of their choosing through a cache or a
    /// misrouted request, so the request's own `Host` is used.
    fn api_base(&self, req: &HttpRequest) -> String {
        if self.trusted_proxies.is_peer(req) {
            let info = req.connection_info();
            return format!("{}://{}", info.scheme(), info.host());
        }
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .filter(|host| is_plain_host(host))
            .map_or_else(|| self.bound.to_string(), str::to_owned);
        format!("http://{host}")
    }

    /// Adds the bundle's security headers to one of its responses.
    fn secure(&self, mut response: HttpResponse) -> HttpResponse {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, self.policy.clone());
        response
    }
}

/// A `Host` value fit to be echoed: a name or address and a port, nothing else.
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// `'sha256-…'` sources for the inline scripts of `index.html` (the
/// module that starts the app), so that no other inline script runs.
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        rest = &rest[start..];
        let Some(open_end) = rest.find('>') else {
            break;
        };
        let opening = &rest[..open_end];
        let body_and_rest = &rest[open_end + 1..];
        let Some(close) = body_and_rest.find("</script>") else {
            break;
        };
        if !opening.contains("src=") {
            hashes.push(quotes_core::digest::csp_hash_source(
                &body_and_rest[..close],
            ));
        }
        rest = &body_and_rest[close..];
    }
    hashes
}

/// The bundle's policy. With Clerk, its script, API and images come from
/// the Frontend API (and its bot check from Cloudflare), as Clerk's own
/// guide lists; with an OpenID provider, the app reads the discovery
/// document and calls the token endpoint, which may sit on another https
/// origin than the issuer (Cognito's does).
pub fn content_security_policy(
    boot_scripts: &[String],
    clerk_frontend_api: Option<&str>,
    issuer: &str,
) -> String {
    let boot = boot_scripts.join(" ");
    let common = "default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self'; \
                  frame-ancestors 'none'";
    if let Some(fapi) = clerk_frontend_api {
        return format!(
            "{common}; script-src 'self' 'wasm-unsafe-eval' {boot} {fapi} \
             https://challenges.cloudflare.com; connect-src 'self' {fapi}; \
             img-src 'self' data: https://img.clerk.com; style-src 'self' 'unsafe-inline'; \
             worker-src 'self' blob:; frame-src https://challenges.cloudflare.com"
        );
    }
    let issuer_origin = url::Url::parse(issuer)
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_default();
    format!(
        "{common}; script-src 'self' 'wasm-unsafe-eval' {boot}; \
         connect-src 'self' {issuer_origin} https:; img-src 'self' data:; \
         style-src 'self'"
    )
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
    let body = AppConfig {
        api_base: app.api_base(&req),
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
        && let Some(response) = serve_file(&req, &path).await
    {
        return Ok(app.secure(response));
    }
    if accepts_html(&req)
        && let Some(response) = serve_file(&req, &app.dir.join("index.html")).await
    {
        return Ok(app.secure(response));
    }
    Err(ApiError::RouteNotFound)
}

/// How long a fingerprinted file may be kept: a year, the most caches honour.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `path`, or its compressed twin the request accepts, with its type,
/// `Vary` and the caching its name allows.
async fn serve_file(req: &HttpRequest, path: &Path) -> Option<HttpResponse> {
    let name = path.file_name()?.to_str()?;
    let content_type = actix_files::file_extension_to_mime(
        path.extension().and_then(|ext| ext.to_str()).unwrap_or(""),
    );
    let (file, encoding) = match precompressed(req, path).await {
        Some((file, encoding)) => (file, Some(encoding)),
        None => (NamedFile::open_async(path).await.ok()?, None),
    };
    // The type is the original's; so is the disposition (inline), which
    // NamedFile would otherwise take from the twin's `.br` (a download).
    let mut file = file
        .set_content_type(content_type)
        .disable_content_disposition();
    if let Some(encoding) = encoding {
        file = file.set_content_encoding(encoding);
    }
    let mut response = file.into_response(req);
    let headers = response.headers_mut();
    let caching = if is_fingerprinted(name) {
        IMMUTABLE
    } else {
        "no-cache"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(caching));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    Some(response)
}

/// The compressed twin of `path` the request prefers, if there is one:
/// brotli, then gzip, by the weights of `Accept-Encoding`.
async fn precompressed(req: &HttpRequest, path: &Path) -> Option<(NamedFile, ContentEncoding)> {
    let accepted = AcceptEncoding::parse(req).ok()?;
    let twins = [
        (Encoding::brotli(), "br", ContentEncoding::Brotli),
        (Encoding::gzip(), "gz", ContentEncoding::Gzip),
    ];
    let mut offered = vec![Encoding::identity()];
    for (encoding, suffix, _) in &twins {
        if twin(path, suffix).is_file() {
            offered.push(encoding.clone());
        }
    }
    let chosen = accepted.negotiate(offered.iter())?;
    let (_, suffix, content_encoding) = twins.into_iter().find(|(e, ..)| *e == chosen)?;
    let file = NamedFile::open_async(twin(path, suffix)).await.ok()?;
    Some((file, content_encoding))
}

fn twin(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// Whether a file name carries its content's hash: `stem.<16 hex>.ext`,
/// as `cargo xtask web` names every file but `index.html`.
pub fn is_fingerprinted(name: &str) -> bool {
    let mut parts = name.rsplit('.');
    let (Some(_ext), Some(hash), Some(stem)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !stem.is_empty()
        && hash.len() == 16
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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

    use super::{content_security_policy, file_path, inline_script_hashes, is_fingerprinted};

    #[test]
    fn only_content_hashed_names_count_as_fingerprinted() {
        assert!(is_fingerprinted("quotes_web_bg.0123456789abcdef.wasm"));
        assert!(is_fingerprinted("a.b.0123456789abcdef.js"));
        for name in [
            "index.html",
            "quotes_web.js",
            "x.0123456789ABCDEF.js",
            "x.0123456789abcde.js",
            ".0123456789abcdef.js",
            "0123456789abcdef.js",
        ] {
            assert!(!is_fingerprinted(name), "{name}");
        }
    }

    #[test]
    fn inline_scripts_are_allowed_by_hash_and_files_by_origin() {
        let html = "<script type=\"module\">boot()</script><script src=\"x.js\"></script>";
        // printf 'boot()' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            inline_script_hashes(html),
            ["'sha256-MeZS89WlF0u+o0hCvHTBt4q1WHU+U+sJKgbdRUc36mY='"]
        );
        let oidc = content_security_policy(&[], None, "http://127.0.0.1:8080/dev-idp");
        assert!(
            oidc.contains("connect-src 'self' http://127.0.0.1:8080 https:"),
            "{oidc}"
        );
        assert!(oidc.contains("frame-ancestors 'none'"), "{oidc}");
        let clerk = content_security_policy(
            &[],
            Some("https://clerk.example.com"),
            "https://clerk.example.com",
        );
        assert!(
            clerk.contains("script-src 'self' 'wasm-unsafe-eval'  https://clerk.example.com"),
            "{clerk}"
        );
        assert!(
            clerk.contains("connect-src 'self' https://clerk.example.com;"),
            "{clerk}"
        );
    }

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
