//! The development provider's HTML: the "sign in as" page, error pages and
//! the signed-out page. Self-contained (inline CSS, no scripts, nothing
//! fetched from elsewhere), readable on a phone, dark when the system is.
//!
//! Everything echoed from a request goes through [`escape`].

use std::fmt::Write;

use super::device::DeviceRequest;
use super::flow::{Authorization, MAX_USER_CHARS};
use super::grants::{ApiScopes, READ, WRITE};

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--text:#1b1f24;--muted:#5b6470;\
--line:#d5d9e0;--accent:#2357d9;--accent-text:#fff;--error:#b42318}\
@media (prefers-color-scheme:dark){:root{--bg:#111418;--card:#1b2027;--text:#e8ebef;\
--muted:#9aa4b1;--line:#343c47;--accent:#6d9bff;--accent-text:#0b0e12;--error:#ff8a80}}\
*{box-sizing:border-box}\
body{margin:0;min-height:100vh;display:grid;place-items:center;padding:1rem;\
background:var(--bg);color:var(--text);font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif}\
main{width:100%;max-width:24rem;background:var(--card);border:1px solid var(--line);\
border-radius:12px;padding:1.5rem}\
h1{font-size:1.25rem;margin:0 0 .25rem}\
p{margin:.25rem 0 1rem;color:var(--muted)}\
label{display:block;font-weight:600;margin-bottom:.25rem}\
input{width:100%;font:inherit;padding:.6rem .7rem;border:1px solid var(--line);border-radius:8px;\
background:var(--bg);color:var(--text)}\
button{display:inline-block;font:inherit;cursor:pointer;border-radius:8px;padding:.55rem .9rem;\
text-decoration:none}\
.primary{width:100%;margin-top:.75rem;border:0;background:var(--accent);color:var(--accent-text);\
font-weight:600}\
.recent-label{margin:1rem 0 0}\
.recent{list-style:none;padding:0;margin:.5rem 0 0;display:flex;flex-wrap:wrap;gap:.5rem}\
.recent button{border:1px solid var(--line);background:transparent;color:var(--text)}\
.error{color:var(--error);font-weight:600}\
fieldset{border:1px solid var(--line);border-radius:8px;margin:1rem 0 0;padding:.5rem .75rem}\
legend{font-weight:600;padding:0 .25rem}\
.scope{display:flex;gap:.5rem;align-items:baseline;font-weight:400;margin:.25rem 0}\
.scope input{width:auto;margin:0}\
code{font-size:.85em;color:var(--muted)}\
small{display:block;margin-top:1rem;color:var(--muted)}\
:focus-visible{outline:2px solid var(--accent);outline-offset:2px}";

/// The pages' `Content-Security-Policy`: their one stylesheet (by hash),
/// no scripts, nothing fetched, never framed. The sign-in form posts here
/// and is then sent on to the app on a loopback address, which the server
/// checks; a source list cannot name `[::1]` (no IPv6 literals in its
/// grammar), so it names the schemes rather than break that address.
pub fn content_security_policy() -> &'static str {
    static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    POLICY.get_or_init(|| {
        let style = quotes_core::digest::csp_hash_source(STYLE);
        format!(
            "default-src 'none'; style-src {style}; base-uri 'none'; \
             form-action 'self' http: https:; frame-ancestors 'none'"
        )
    })
}

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} · quotes dev sign-in</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>\n",
        title = escape(title),
    )
}

/// What each API scope lets a client do, as the consent boxes say it.
const SCOPE_MEANINGS: [(&str, &str); 2] = [
    (READ, "Read your quote"),
    (WRITE, "Change and delete your quote"),
];

/// The "User name" field, and why the name given before was refused.
fn user_field(body: &mut String, error: Option<&str>) {
    let _ = write!(
        body,
        "<label for=\"user\">User name</label>\
         <input id=\"user\" name=\"user\" type=\"text\" required maxlength=\"{MAX_USER_CHARS}\" \
         autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" autofocus{invalid}>",
        invalid = if error.is_some() {
            " aria-invalid=\"true\" aria-describedby=\"user-error\""
        } else {
            ""
        },
    );
    if let Some(error) = error {
        let _ = write!(
            body,
            "<p class=\"error\" id=\"user-error\">{}</p>",
            escape(error)
        );
    }
}

/// The "sign in as" page for a validated request, with a box for each API
/// scope it asks for (`ticked` when it starts ticked). `error` explains
/// why a previous attempt was refused.
pub fn sign_in(
    request: &Authorization,
    recent: &[String],
    ticked: ApiScopes,
    error: Option<&str>,
) -> String {
    let mut body = String::from(
        "<h1>Sign in</h1><p>Development identity provider: choose any user name. \
         There is no password.</p>",
    );
    let _ = write!(
        body,
        "<form method=\"post\" action=\"authorize\">{}",
        hidden_fields(request)
    );
    user_field(&mut body, error);
    body.push_str(&consent(
        &request.client_id,
        request.requested_api_scopes(),
        ticked,
    ));
    // The first submit button is the one Enter presses, so it comes before
    // the recent names.
    body.push_str("<button class=\"primary\" type=\"submit\">Sign in</button>");
    if !recent.is_empty() {
        body.push_str("<p class=\"recent-label\">Recent</p><ul class=\"recent\">");
        for name in recent {
            let name = escape(name);
            let _ = write!(
                body,
                "<li><button type=\"submit\" name=\"pick\" value=\"{name}\" formnovalidate \
                 aria-label=\"Sign in as {name}\">{name}</button></li>",
            );
        }
        body.push_str("</ul>");
    }
    let _ = write!(
        body,
        "</form><small>Signing in to <b>{}</b>; you will return to {}.</small>",
        escape(&request.client_id),
        escape(&request.redirect_uri),
    );
    layout("Sign in", &body)
}

/// A checkbox for each API scope the request asks for, named after it:
/// the person may untick any of them, and only those left ticked are
/// granted. Nothing when it asks for none.
fn consent(client_id: &str, requested: ApiScopes, ticked: ApiScopes) -> String {
    if requested.is_empty() {
        return String::new();
    }
    let mut boxes = format!("<fieldset><legend>Allow {} to</legend>", escape(client_id));
    for (scope, meaning) in SCOPE_MEANINGS {
        if !ApiScopes::among(scope).within(requested) {
            continue;
        }
        let checked = if ApiScopes::among(scope).within(ticked) {
            " checked"
        } else {
            ""
        };
        let id = scope.replace(':', "-");
        let _ = write!(
            boxes,
            "<label class=\"scope\" for=\"{id}\"><input type=\"checkbox\" id=\"{id}\" \
             name=\"{scope}\" value=\"granted\"{checked}><span>{meaning} <code>{scope}</code></span></label>",
        );
    }
    boxes.push_str("</fieldset>");
    boxes
}

/// The request travels through the form unchanged; the POST handler
/// validates it again, as it would any request.
fn hidden_fields(request: &Authorization) -> String {
    let mut fields = String::new();
    let mut field = |name: &str, value: &str| {
        let _ = write!(
            fields,
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(value)
        );
    };
    field("response_type", "code");
    field("client_id", &request.client_id);
    field("redirect_uri", &request.redirect_uri);
    field("scope", &request.scope);
    field("code_challenge", &request.code_challenge);
    field("code_challenge_method", "S256");
    if let Some(state) = &request.state {
        field("state", state);
    }
    if let Some(nonce) = &request.nonce {
        field("nonce", nonce);
    }
    if let Some(resource) = &request.resource {
        field("resource", resource);
    }
    fields
}

/// The device page's first step (RFC 8628 §3.3): enter the code the
/// device shows. `error` says why the last one was refused.
pub fn device_entry(typed: Option<&str>, error: Option<&str>) -> String {
    let mut body = String::from(
        "<h1>Connect a device</h1><p>Enter the code your device or command line shows.</p>\
         <form method=\"get\" action=\"device\">\
         <label for=\"user_code\">Code</label>",
    );
    let _ = write!(
        body,
        "<input id=\"user_code\" name=\"user_code\" type=\"text\" required maxlength=\"16\" \
         autocomplete=\"off\" autocapitalize=\"characters\" spellcheck=\"false\" autofocus \
         placeholder=\"XXXX-XXXX\" value=\"{}\"{invalid}>",
        escape(typed.unwrap_or_default()),
        invalid = if error.is_some() {
            " aria-invalid=\"true\" aria-describedby=\"code-error\""
        } else {
            ""
        },
    );
    if let Some(error) = error {
        let _ = write!(
            body,
            "<p class=\"error\" id=\"code-error\">{}</p>",
            escape(error)
        );
    }
    body.push_str("<button class=\"primary\" type=\"submit\">Continue</button></form>");
    layout("Connect a device", &body)
}

/// The device page's second step: sign in and consent, or deny, for the
/// device authorization under `user_code`.
pub fn device_sign_in(
    user_code: &str,
    request: &DeviceRequest,
    recent: &[String],
    ticked: ApiScopes,
    error: Option<&str>,
) -> String {
    let mut body = format!(
        "<h1>Sign in</h1><p>Development identity provider: choose any user name. \
         There is no password. Check that your device shows <b>{code}</b>.</p>\
         <form method=\"post\" action=\"device\">\
         <input type=\"hidden\" name=\"user_code\" value=\"{code}\">",
        code = escape(user_code),
    );
    user_field(&mut body, error);
    body.push_str(&consent(
        &request.client_id,
        request.requested_api_scopes(),
        ticked,
    ));
    body.push_str(
        "<button class=\"primary\" type=\"submit\">Sign in and allow</button>\
         <button class=\"primary\" type=\"submit\" name=\"deny\" value=\"denied\" \
         formnovalidate>Deny</button>",
    );
    if !recent.is_empty() {
        body.push_str("<p class=\"recent-label\">Recent</p><ul class=\"recent\">");
        for name in recent {
            let name = escape(name);
            let _ = write!(
                body,
                "<li><button type=\"submit\" name=\"pick\" value=\"{name}\" formnovalidate \
                 aria-label=\"Sign in as {name}\">{name}</button></li>",
            );
        }
        body.push_str("</ul>");
    }
    let _ = write!(
        body,
        "</form><small>Signing in to <b>{}</b> on another device.</small>",
        escape(&request.client_id),
    );
    layout("Sign in", &body)
}

/// The device page's last step: the person answered.
pub fn device_done(approved: bool) -> String {
    let (title, text) = if approved {
        (
            "Device connected",
            "Your device is signed in. You may close this window.",
        )
    } else {
        (
            "Request denied",
            "Your device was not given access. You may close this window.",
        )
    };
    layout(title, &format!("<h1>{title}</h1><p>{text}</p>"))
}

/// A request the provider will not act on, explained to the person.
pub fn error(message: &str) -> String {
    let body = format!(
        "<h1>Cannot sign in</h1><p class=\"error\">{}</p>\
         <p>The application that sent you here is misconfigured. This provider only \
         returns to addresses on this machine (localhost, 127.0.0.1 or [::1]).</p>",
        escape(message)
    );
    layout("Cannot sign in", &body)
}

/// Asks the person to confirm signing out, when the app that sent them
/// could not prove it was theirs; the form carries where to return.
pub fn confirm_sign_out(user: &str, back: Option<&str>, state: Option<&str>) -> String {
    let mut body = format!(
        "<h1>Sign out?</h1><p>You are signed in to the development identity provider as \
         <b>{}</b>.</p><form method=\"post\" action=\"logout\">",
        escape(user)
    );
    for (name, value) in [("post_logout_redirect_uri", back), ("state", state)] {
        if let Some(value) = value {
            let _ = write!(
                body,
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                escape(value)
            );
        }
    }
    body.push_str("<button class=\"primary\" type=\"submit\">Sign out</button></form>");
    layout("Sign out?", &body)
}

/// Shown after logout when the client named no place to return to.
pub fn signed_out() -> String {
    layout(
        "Signed out",
        "<h1>You are signed out</h1><p>You can close this page.</p>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_sign_in_page_escapes_what_it_echoes() {
        let request = Authorization {
            client_id: "<script>".to_owned(),
            redirect_uri: "http://localhost/cb?a=\"b\"".to_owned(),
            redirect_url: url::Url::parse("http://localhost/cb").unwrap(),
            state: Some("'><img>".to_owned()),
            nonce: None,
            scope: "openid".to_owned(),
            code_challenge: "c".repeat(43),
            prompt: crate::flow::Prompt::Login,
            resource: Some("\"><x>".to_owned()),
        };
        let page = sign_in(
            &request,
            &["<b>bob</b>".to_owned()],
            ApiScopes::NONE,
            Some("<i>"),
        );
        for raw in [
            "<script>",
            "\"b\"",
            "'><img>",
            "<b>bob</b>",
            "<i>",
            "\"><x>",
        ] {
            assert!(!page.contains(raw), "{raw} is echoed unescaped");
        }
        assert!(page.contains("<label for=\"user\">User name</label>"));
        assert!(page.contains(">Sign in</button>"));
    }

    #[test]
    fn the_page_asks_consent_for_the_api_scopes_requested_only() {
        let request = |scope: &str| Authorization {
            client_id: "reporter".to_owned(),
            redirect_uri: "http://localhost/cb".to_owned(),
            redirect_url: url::Url::parse("http://localhost/cb").unwrap(),
            state: None,
            nonce: None,
            scope: scope.to_owned(),
            code_challenge: "c".repeat(43),
            prompt: crate::flow::Prompt::Login,
            resource: None,
        };
        let read_only = request("openid quotes:read unknown");
        let page = sign_in(&read_only, &[], ApiScopes::ALL, None);
        assert!(page.contains("Allow reporter to"), "{page}");
        assert!(
            page.contains("name=\"quotes:read\" value=\"granted\" checked>"),
            "{page}"
        );
        assert!(!page.contains("name=\"quotes:write\""), "{page}");
        assert!(!page.contains("unknown</code>"), "{page}");

        let both = request("quotes:write quotes:read");
        let page = sign_in(&both, &[], ApiScopes::among(WRITE), None);
        assert!(
            page.contains("name=\"quotes:read\" value=\"granted\">"),
            "{page}"
        );
        assert!(
            page.contains("name=\"quotes:write\" value=\"granted\" checked>"),
            "{page}"
        );

        let page = sign_in(&request("openid profile"), &[], ApiScopes::ALL, None);
        assert!(!page.contains("<fieldset>"), "{page}");
    }

    #[test]
    fn the_device_pages_escape_what_they_echo() {
        let entry = device_entry(Some("<b>"), Some("<i>"));
        assert!(!entry.contains("<b>") && !entry.contains("<i>"), "{entry}");
        assert!(entry.contains("name=\"user_code\""));
        let request = DeviceRequest {
            client_id: "<script>".to_owned(),
            scope: "openid quotes:read".to_owned(),
            resource: None,
        };
        let page = device_sign_in(
            "BCDF-GHJK",
            &request,
            &["<u>".to_owned()],
            ApiScopes::ALL,
            Some("<i>"),
        );
        for raw in ["<script>", "<u>", "<i>"] {
            assert!(!page.contains(raw), "{raw} is echoed unescaped");
        }
        assert!(
            page.contains("name=\"quotes:read\" value=\"granted\" checked>"),
            "{page}"
        );
        assert!(!page.contains("name=\"quotes:write\""), "{page}");
        assert!(page.contains("name=\"deny\""), "{page}");
        assert!(device_done(true).contains("You may close this window"));
    }
}
