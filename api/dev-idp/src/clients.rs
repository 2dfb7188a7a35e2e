//! Registered clients: the confidential clients of the `DEV_IDP_CLIENTS`
//! setting, each with a secret and the API scopes it may be granted. They
//! alone may use the client-credentials grant (a machine acting for
//! itself), introspect and revoke. Every other `client_id` (the web app,
//! Swagger UI, anything) is a public client: it signs people in with
//! PKCE and has no secret.
//!
//! Secrets are kept as their SHA-256 and compared in constant time; they
//! never appear in `Debug`, in a log line or in an error message.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::grants::ApiScopes;

/// Most registered clients.
pub const MAX_CLIENTS: usize = 64;

/// Longest client id or secret, in bytes.
pub const MAX_CREDENTIAL_BYTES: usize = 256;

/// The registered clients.
#[derive(Clone, Default)]
pub struct Clients {
    clients: Vec<RegisteredClient>,
}

/// A client with a secret.
#[derive(Clone)]
pub struct RegisteredClient {
    id: String,
    secret: [u8; 32],
    scopes: ApiScopes,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.clients.iter().map(|client| &client.id))
            .finish()
    }
}

impl std::fmt::Debug for RegisteredClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredClient")
            .field("id", &self.id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl RegisteredClient {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The API scopes it may be granted.
    pub fn scopes(&self) -> ApiScopes {
        self.scopes
    }
}

impl Clients {
    /// Reads the setting: comma-separated `id:secret:scopes`, where
    /// `scopes` is a space-separated list of API scopes, possibly empty
    /// (`reporter:s3cret:quotes:read,backup:hunter2:quotes:read quotes:write`).
    /// Neither the id nor the secret may hold `:` or `,`. The message of
    /// an error names the client by id, never its secret.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut clients: Vec<RegisteredClient> = Vec::new();
        for (n, entry) in raw
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .enumerate()
        {
            let mut fields = entry.splitn(3, ':');
            let (Some(id), Some(secret), Some(scopes)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(format!(
                    "entry {}: expected id:secret:scopes (scopes may be empty)",
                    n + 1
                ));
            };
            if !is_client_id(id) {
                return Err(format!(
                    "entry {}: a client id is 1 to {MAX_CREDENTIAL_BYTES} visible characters",
                    n + 1
                ));
            }
            if secret.is_empty()
                || secret.len() > MAX_CREDENTIAL_BYTES
                || secret.chars().any(char::is_control)
            {
                return Err(format!(
                    "client {id}: a secret is 1 to {MAX_CREDENTIAL_BYTES} characters"
                ));
            }
            // The error does not echo the field: with a `:` in the secret,
            // it would hold part of it.
            let scopes = ApiScopes::parse(scopes).map_err(|_| {
                format!(
                    "client {id}: its scopes are quotes:read and quotes:write, space-separated \
                     (a secret cannot hold `:` or `,`)"
                )
            })?;
            if clients.iter().any(|client| client.id == id) {
                return Err(format!("client {id} is registered twice"));
            }
            if clients.len() == MAX_CLIENTS {
                return Err(format!("at most {MAX_CLIENTS} clients"));
            }
            clients.push(RegisteredClient {
                id: id.to_owned(),
                secret: sha256(secret),
                scopes,
            });
        }
        Ok(Self { clients })
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Whether `id` is a registered client's, which must then
    /// authenticate.
    pub fn is_registered(&self, id: &str) -> bool {
        self.clients.iter().any(|client| client.id == id)
    }

    /// The client these credentials prove, if any. The secret is compared
    /// in constant time, and as long for an unknown id as for a known one.
    pub fn authenticate(&self, credentials: &Credentials) -> Option<&RegisteredClient> {
        let presented = sha256(&credentials.secret);
        let client = self
            .clients
            .iter()
            .find(|client| client.id == credentials.id);
        let expected = client.map_or([0; 32], |client| client.secret);
        let matches = verify_slices_are_equal(&presented, &expected).is_ok();
        client.filter(|_| matches)
    }
}

/// A client's id and secret, as presented.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The credentials of an `Authorization: Basic` header's value (RFC
    /// 6749 §2.3.1: id and secret form-urlencoded, then joined by `:` and
    /// base64-encoded); `None` for another scheme or anything malformed.
    pub fn from_basic(header: &str) -> Option<Self> {
        let (scheme, encoded) = header.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") || encoded.len() > 4 * MAX_CREDENTIAL_BYTES {
            return None;
        }
        let decoded = STANDARD.decode(encoded.trim()).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        Some(Self {
            id: form_decode(id)?,
            secret: form_decode(secret)?,
        })
    }
}

/// Whether `id` can name a registered client: visible ASCII, short, and
/// free of the setting's separators.
fn is_client_id(id: &str) -> bool {
    (1..=MAX_CREDENTIAL_BYTES).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b',' && b != b':')
}

/// Decodes one `application/x-www-form-urlencoded` value.
fn form_decode(value: &str) -> Option<String> {
    let plus_as_space = value.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

fn sha256(text: &str) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(digest(&SHA256, text.as_bytes()).as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(id: &str, secret: &str) -> Credentials {
        Credentials {
            id: id.to_owned(),
            secret: secret.to_owned(),
        }
    }

    #[test]
    fn the_setting_lists_clients_with_their_scopes() {
        let clients = Clients::parse(
            " reporter:s3cret:quotes:read , backup:hunter2:quotes:read quotes:write,mute:x:",
        )
        .unwrap();
        let reporter = clients
            .authenticate(&credentials("reporter", "s3cret"))
            .unwrap();
        assert_eq!(reporter.scopes().to_string(), "quotes:read");
        let backup = clients
            .authenticate(&credentials("backup", "hunter2"))
            .unwrap();
        assert_eq!(backup.scopes(), ApiScopes::ALL);
        let mute = clients.authenticate(&credentials("mute", "x")).unwrap();
        assert!(mute.scopes().is_empty());
        assert!(Clients::parse("").unwrap().is_empty());
        assert!(clients.is_registered("backup"));
        assert!(!clients.is_registered("quotes-web"));
    }

    #[test]
    fn wrong_secrets_and_unknown_ids_prove_nothing() {
        let clients = Clients::parse("reporter:s3cret:quotes:read").unwrap();
        for (id, secret) in [
            ("reporter", "s3cre"),
            ("reporter", "s3cret "),
            ("reporter", ""),
            ("Reporter", "s3cret"),
            ("quotes-web", "s3cret"),
        ] {
            assert!(
                clients.authenticate(&credentials(id, secret)).is_none(),
                "{id}:{secret}"
            );
        }
    }

    #[test]
    fn bad_settings_are_refused_without_echoing_a_secret() {
        for (raw, secret) in [
            ("reporter:s3cret", "s3cret"),
            ("reporter", ""),
            (":s3cret:", "s3cret"),
            ("reporter::quotes:read", ""),
            ("reporter:top:secret:quotes:read", "top:secret"),
            ("reporter:s3cret:openid", "s3cret"),
            ("a:s3cret:,a:c:", "s3cret"),
            ("sp ace:s3cret:", "s3cret"),
        ] {
            let error = Clients::parse(raw).unwrap_err();
            assert!(
                secret.is_empty() || !error.contains(secret),
                "{raw}: {error}"
            );
        }
        let many = (0..=MAX_CLIENTS)
            .map(|n| format!("c{n}:s:"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(Clients::parse(&many).is_err());
    }

    #[test]
    fn basic_credentials_are_form_decoded_after_base64() {
        let header = format!("Basic {}", STANDARD.encode("my%3Aclient:p%40ss+word"));
        assert_eq!(
            Credentials::from_basic(&header),
            Some(credentials("my:client", "p@ss word"))
        );
        let lower = format!("basic {}", STANDARD.encode("a:b"));
        assert_eq!(Credentials::from_basic(&lower), Some(credentials("a", "b")));
        for bad in [
            "Bearer abc".to_owned(),
            "Basic".to_owned(),
            "Basic !!!".to_owned(),
            format!("Basic {}", STANDARD.encode("no-colon")),
            format!("Basic {}", STANDARD.encode([0xff, b':', b'x'])),
        ] {
            assert_eq!(Credentials::from_basic(&bad), None, "{bad}");
        }
        assert!(!format!("{:?}", credentials("a", "hidden")).contains("hidden"));
        let clients = Clients::parse("a:hidden:").unwrap();
        assert!(!format!("{clients:?}").contains("hidden"));
    }
}
