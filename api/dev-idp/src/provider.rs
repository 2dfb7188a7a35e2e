//! The provider itself: its signing key (kept in a file so tokens survive
//! restarts), the tokens it mints (shaped in [`super::claims`]), its
//! registered clients, and the state of sign-ins: codes in progress
//! ([`FlowState`]), browser sessions and refresh-token families
//! ([`Sessions`]), revoked access tokens ([`Revoked`]). Its methods tie
//! them together for the handlers.

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::claims::{
    AccessClaims, AccessGrant, Actor, CLERK_CAT, ClerkClaims, ClerkSession, DevToken, IdClaims,
    Lifetime,
};
use super::clients::{Clients, Credentials, RegisteredClient};
use super::device::{Approval, DeviceRequest, DeviceState, Issued};
use super::flow::{
    Authorization, AuthorizeError, AuthorizeParams, CodeExchange, CodeRefused, ErrorCode,
    FlowError, FlowState,
};
use super::grants::{ApiScopes, Resource, answered_scope};
use super::revoked::Revoked;
use super::sessions::{AccessTokenId, FamilyId, FamilyStart, NewSession, Sessions};
use super::settings::{DevIdpError, DevIdpSettings, PATH};
use super::token_request::{TokenParams, TokenRequest};

/// The `typ` of an access token's header (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Longest token introspection or revocation reads, in bytes (as the API).
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The provider: one signing key and the issuer it signs for.
pub struct DevIdp {
    issuer: String,
    /// The port the API is bound to, the only one the provider answers on.
    port: u16,
    kid: String,
    key: EncodingKey,
    /// How long the tokens it signs live.
    token_ttl: Duration,
    pub(super) jwk: Jwk,
    /// The one resource its access tokens are for: the API (none when the
    /// issuer names no origin, as for a key file being made).
    resource: Option<Resource>,
    /// The clients with a secret.
    clients: Clients,
    /// Codes waiting to be exchanged and recent user names.
    pub(super) flow: FlowState,
    /// Browser sessions and refresh-token families.
    sessions: Sessions,
    /// Device authorizations waiting for the person (RFC 8628).
    devices: DeviceState,
    /// Access tokens revoked before their time.
    revoked: Revoked,
}

impl std::fmt::Debug for DevIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIdp")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .field("resource", &self.resource)
            .field("clients", &self.clients)
            .finish_non_exhaustive()
    }
}

/// The token endpoint's answer (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// For a person's sign-in; a machine (client credentials) gets none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub token_type: &'static str,
    pub expires_in: u64,
    /// What was granted: the OpenID scopes asked for and the API scopes.
    pub scope: String,
    /// Opaque; spent by its use, which answers the next one (RFC 6749 §6).
    /// None for client credentials (RFC 6749 §4.4.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// What the token endpoint issues tokens for.
#[derive(Debug)]
pub struct Issuance {
    pub access: AccessGrant,
    /// The answer's `scope`.
    pub scope: String,
    /// The person signed in, for an ID token; none for a machine.
    pub person: Option<Person>,
    pub refresh_token: Option<String>,
    /// The refresh family the access token is issued with, which revoking
    /// revokes it too.
    pub family: Option<FamilyId>,
}

/// Whom an ID token speaks of, and for which client request.
#[derive(Debug)]
pub struct Person {
    pub user: String,
    /// The authorization request's, for the first ID token only (OpenID
    /// Connect Core §12.2 leaves it out of refreshed ones).
    pub nonce: Option<String>,
}

/// A sign-in from the page: the code to send the browser back with, and
/// the session it started.
#[derive(Debug)]
pub struct SignIn {
    pub code: String,
    pub session: NewSession,
}

/// RFC 7662 §2.2: what introspection says of a token.
#[derive(Debug, Serialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub token: Option<ActiveToken>,
}

/// What introspection says of an active access token.
#[derive(Debug, Serialize)]
pub struct ActiveToken {
    #[serde(flatten)]
    pub claims: AccessClaims,
    pub token_type: &'static str,
}

const NO_RANDOMNESS: FlowError = FlowError::new(ErrorCode::ServerError, "no randomness available");

const UNKNOWN_CLIENT: FlowError = FlowError::new(
    ErrorCode::InvalidClient,
    "client authentication failed: unknown client_id or wrong client_secret",
);

const OTHER_RESOURCE: FlowError = FlowError::new(
    ErrorCode::InvalidTarget,
    "the only resource served is the API itself",
);

impl DevIdp {
    /// Loads the key from `config.key_file`, creating it when missing.
    pub fn load_or_create(config: &DevIdpSettings, issuer: String) -> Result<Self, DevIdpError> {
        let path = &config.key_file;
        let pem = match std::fs::read(path) {
            Ok(pem) => pem,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let pem = generate_pem()?;
                write_private(path, &pem).map_err(|e| key_file_error(path, &e))?;
                tracing::info!(path = %path.display(), "generated a development signing key");
                pem
            }
            Err(error) => return Err(key_file_error(path, &error)),
        };
        Self::from_pem(&pem, issuer, config)
    }

    /// Loads an existing key, for `quotes-api dev-token`.
    pub fn load(config: &DevIdpSettings, issuer: String) -> Result<Self, DevIdpError> {
        let path = &config.key_file;
        let pem = std::fs::read(path).map_err(|e| DevIdpError::KeyFile {
            path: path.display().to_string(),
            message: format!("{e}; start `quotes-api --dev-idp` once to create it"),
        })?;
        Self::from_pem(&pem, issuer, config)
    }

    fn from_pem(pem: &[u8], issuer: String, config: &DevIdpSettings) -> Result<Self, DevIdpError> {
        let key_error = |message: String| DevIdpError::KeyFile {
            path: config.key_file.display().to_string(),
            message,
        };
        let key = EncodingKey::from_ec_pem(pem)
            .map_err(|e| key_error(format!("not a P-256 private key ({e})")))?;
        let mut jwk =
            Jwk::from_encoding_key(&key, Algorithm::ES256).map_err(|e| key_error(e.to_string()))?;
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| key_error(e.to_string()))?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        // An issuer from `issuer_for` always names one; without it (a key
        // file being made, say) the provider answers nobody.
        let port = url::Url::parse(&issuer)
            .ok()
            .and_then(|url| url.port_or_known_default())
            .unwrap_or(0);
        // Unless set, the API's origin: the issuer without the provider's path.
        let resource = config
            .resource
            .clone()
            .or_else(|| Resource::new(issuer.strip_suffix(PATH).unwrap_or(&issuer)).ok());
        Ok(Self {
            issuer,
            port,
            kid,
            key,
            token_ttl: config.token_ttl,
            jwk,
            resource,
            clients: config.clients.clone(),
            flow: FlowState::default(),
            sessions: Sessions::default(),
            devices: DeviceState::default(),
            revoked: Revoked::default(),
        })
    }

    /// The issuer this provider signs for.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The resource its access tokens are for, as their `aud` names it.
    pub fn resource(&self) -> Option<&str> {
        self.resource.as_ref().map(Resource::name)
    }

    /// Validates an authorization request against this provider: its port
    /// and its resource.
    pub(super) fn validate(
        &self,
        params: &AuthorizeParams,
    ) -> Result<Authorization, AuthorizeError> {
        params.validate(self.port, self.resource.as_ref())
    }

    /// The audience of a grant whose requests named `requested` resources:
    /// the API when one did, none when none did; `invalid_target` for any
    /// other resource.
    fn audience<const N: usize>(
        &self,
        requested: [Option<&str>; N],
    ) -> Result<Option<String>, FlowError> {
        match &self.resource {
            Some(resource) => resource.audience(requested).map_err(|_| OTHER_RESOURCE),
            None if requested.iter().all(Option::is_none) => Ok(None),
            None => Err(OTHER_RESOURCE),
        }
    }

    /// The port the provider answers on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether `host` (a `Host` header) names this machine on our port.
    /// Anything else means the request did not come from a page of this
    /// machine (DNS rebinding, or another container's name for us).
    pub fn answers_to(&self, host: &str) -> bool {
        let port = self.port;
        ["localhost", "127.0.0.1", "[::1]"].iter().any(|name| {
            host.eq_ignore_ascii_case(&format!("{name}:{port}"))
                || (port == 80 && host.eq_ignore_ascii_case(name))
        })
    }

    /// What `quotes-api dev-token USER` prints: an access token for `user`
    /// with both API scopes, for the client `dev-token`.
    pub fn mint(&self, user: &str) -> Result<String, jsonwebtoken::errors::Error> {
        self.mint_access(&AccessGrant::dev_token(user))
            .map(|(token, _)| token)
    }

    /// What `quotes-api dev-token` prints.
    pub fn mint_dev_token(&self, token: &DevToken) -> Result<String, jsonwebtoken::errors::Error> {
        match token {
            DevToken::Access(grant) => self.mint_access(grant).map(|(token, _)| token),
            DevToken::ClerkSession(session) => self.mint_clerk_session(session),
        }
    }

    /// An access token (RFC 9068) worth `grant`, and its `jti` and `exp`.
    pub fn mint_access(
        &self,
        grant: &AccessGrant,
    ) -> Result<(String, AccessTokenId), jsonwebtoken::errors::Error> {
        let jti = random_id().ok_or_else(|| {
            jsonwebtoken::errors::Error::from(jsonwebtoken::errors::ErrorKind::Signing(
                "no randomness available".to_owned(),
            ))
        })?;
        let claims = AccessClaims::new(&self.issuer, grant, jti, self.lifetime());
        let mut header = self.header();
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        let token = jsonwebtoken::encode(&header, &claims, &self.key)?;
        Ok((token, (claims.jti, claims.exp)))
    }

    /// An ID token for `user`, addressed to `client_id` and carrying the
    /// client's `nonce`, so the client can tell it asked for this one.
    pub fn mint_id_token(
        &self,
        user: &str,
        client_id: &str,
        nonce: Option<&str>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let at = self.lifetime();
        let claims = IdClaims {
            iss: &self.issuer,
            sub: user,
            name: user,
            iat: at.now,
            nbf: at.now,
            exp: at.now.saturating_add(at.ttl),
            aud: client_id,
            nonce,
        };
        jsonwebtoken::encode(&self.header(), &claims, &self.key)
    }

    /// A token shaped as Clerk's session tokens (version 2), for tests of
    /// that shape: header `cat`, claims `v`, `sid`, `azp`, and `o` and
    /// `act` when the session has them.
    pub fn mint_clerk_session(
        &self,
        session: &ClerkSession,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let at = self.lifetime();
        let sid = random_id().map_or_else(String::new, |id| format!("sess_{id}"));
        let claims = ClerkClaims {
            iss: &self.issuer,
            sub: &session.user,
            iat: at.now,
            nbf: at.now,
            exp: at.now.saturating_add(at.ttl),
            v: 2,
            sid,
            azp: &session.authorized_party,
            o: session.organization.as_ref(),
            act: session.actor.as_deref().map(|sub| Actor { sub }),
        };
        let mut header = self.header();
        header.extras.insert("cat", CLERK_CAT);
        jsonwebtoken::encode(&header, &claims, &self.key)
    }

    /// Signs `user` in from the page: starts a browser session (replacing
    /// the one the browser's cookie values `previous` name) and issues a
    /// code in it, worth the API scopes the person left ticked.
    pub(super) fn sign_in(
        &self,
        request: Authorization,
        user: &str,
        granted: ApiScopes,
        previous: &[&str],
        address: IpAddr,
        now: Instant,
    ) -> Result<SignIn, FlowError> {
        let session = self
            .sessions
            .start(user, previous, address, now)
            .ok_or(NO_RANDOMNESS)?;
        let code = self.flow.issue(request, user, granted, Some(session.key))?;
        Ok(SignIn { code, session })
    }

    /// `prompt=none`: a code for the user of the live session among the
    /// browser's cookie values `ids`, worth the API scopes requested (no
    /// page, so nothing to untick), or `login_required`.
    pub(super) fn sign_in_silently(
        &self,
        request: Authorization,
        ids: &[&str],
        now: Instant,
    ) -> Result<String, FlowError> {
        let signed_in = self.sessions.find(ids, now).ok_or(FlowError::new(
            ErrorCode::LoginRequired,
            "nobody is signed in at the provider in this browser",
        ))?;
        let granted = request.requested_api_scopes();
        self.flow
            .issue(request, &signed_in.user, granted, Some(signed_in.key))
    }

    /// The user of the live session among the browser's cookie values
    /// `ids`, if any.
    pub(super) fn session_user(&self, ids: &[&str], now: Instant) -> Option<String> {
        self.sessions.find(ids, now).map(|signed_in| signed_in.user)
    }

    /// The subject of an ID token this provider signed, expired or not
    /// (OpenID Connect RP-Initiated Logout §2: a hint may have expired);
    /// `None` for anything else.
    pub(super) fn id_token_subject(&self, token: &str) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Subject {
            sub: String,
        }
        let key = jsonwebtoken::DecodingKey::from_jwk(&self.jwk).ok()?;
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.set_issuer(&[&self.issuer]);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["iss", "sub"]);
        jsonwebtoken::decode::<Subject>(token, &key, &validation)
            .ok()
            .map(|data| data.claims.sub)
    }

    /// Logout: ends the sessions the browser's cookie values `ids` name,
    /// the refresh families started in them, and the access tokens those
    /// issued.
    pub(super) fn sign_out(&self, ids: &[&str]) {
        let access_tokens = self.sessions.end(ids);
        self.forget_access_tokens(&access_tokens);
    }

    /// The registered client `credentials` prove, if any were presented;
    /// `invalid_client` when they prove none.
    pub(super) fn authenticate(
        &self,
        credentials: Option<&Credentials>,
    ) -> Result<Option<&RegisteredClient>, FlowError> {
        credentials
            .map(|credentials| self.clients.authenticate(credentials).ok_or(UNKNOWN_CLIENT))
            .transpose()
    }

    /// Whether `client_id` is a registered client (one with a secret).
    pub(super) fn is_registered(&self, client_id: &str) -> bool {
        self.clients.is_registered(client_id)
    }

    /// A code or refresh token is spent by the client it was issued to:
    /// a registered client proves it is that one, any other client only
    /// names itself.
    fn check_client(
        &self,
        client_id: &str,
        authenticated: Option<&RegisteredClient>,
    ) -> Result<(), FlowError> {
        match authenticated {
            Some(client) if client.id() != client_id => Err(FlowError::new(
                ErrorCode::InvalidClient,
                "client_id is not the authenticated client's",
            )),
            None if self.clients.is_registered(client_id) => Err(FlowError::new(
                ErrorCode::InvalidClient,
                "this client has a secret: authenticate with it",
            )),
            _ => Ok(()),
        }
    }

    /// The token endpoint's rules: a code starts a refresh-token family
    /// (and a replayed code revokes it), a refresh token is spent for the
    /// next of its family, a registered client gets a token for itself.
    /// `client` is the client that authenticated, if any; `address` is the
    /// client's.
    pub(super) fn grant(
        &self,
        params: &TokenParams,
        client: Option<&RegisteredClient>,
        address: IpAddr,
        now: Instant,
    ) -> Result<Issuance, FlowError> {
        let request = params.parse()?;
        // Checked before anything is spent.
        let resource = params.resource.as_deref();
        self.audience([resource])?;
        match request {
            TokenRequest::Code(exchange) => {
                self.check_client(exchange.client_id, client)?;
                self.redeem_code(&exchange, resource, address, now)
            }
            TokenRequest::Refresh {
                refresh_token,
                client_id,
                scope,
            } => {
                self.check_client(client_id, client)?;
                self.renew(refresh_token, client_id, scope, resource, now)
            }
            TokenRequest::Device {
                device_code,
                client_id,
            } => {
                self.check_client(client_id, client)?;
                let approval = self.devices.poll(device_code, client_id, now)?;
                self.approved_device(approval, resource, address, now)
            }
            TokenRequest::ClientCredentials { scope } => {
                let client = client.ok_or(FlowError::new(
                    ErrorCode::InvalidClient,
                    "client_credentials is for registered clients: authenticate with \
                     client_secret_basic or client_secret_post",
                ))?;
                self.machine(client, scope, resource)
            }
        }
    }

    /// A code for the tokens of its sign-in, which start a refresh family.
    fn redeem_code(
        &self,
        exchange: &CodeExchange<'_>,
        resource: Option<&str>,
        address: IpAddr,
        now: Instant,
    ) -> Result<Issuance, FlowError> {
        let grant = match self.flow.redeem(exchange) {
            Ok(grant) => grant,
            Err(CodeRefused::Invalid(error)) => return Err(error),
            Err(CodeRefused::Replayed(family)) => {
                if let Some(family) = family {
                    let access_tokens = self.sessions.revoke_family(&family);
                    self.forget_access_tokens(&access_tokens);
                }
                tracing::warn!("an authorization code was presented twice");
                return Err(FlowError::new(
                    ErrorCode::InvalidGrant,
                    "the code was used before, so the tokens it was exchanged for are revoked",
                ));
            }
        };
        let request = grant.authorization;
        let audience = self.audience([request.resource.as_deref(), resource])?;
        let scope = answered_scope(&request.scope, grant.granted);
        let (refresh_token, family) = self
            .sessions
            .open_family(
                FamilyStart {
                    user: &grant.user,
                    client_id: &request.client_id,
                    scope: &scope,
                    audience: audience.as_deref(),
                    session: grant.session,
                    address,
                },
                now,
            )
            .ok_or(NO_RANDOMNESS)?;
        self.flow.started_family(exchange.code, family);
        Ok(Issuance {
            access: AccessGrant {
                subject: grant.user.clone(),
                client_id: request.client_id,
                scopes: grant.granted,
                audience,
            },
            scope,
            person: Some(Person {
                user: grant.user,
                nonce: request.nonce,
            }),
            refresh_token: Some(refresh_token),
            family: Some(family),
        })
    }

    /// Starts a device authorization (RFC 8628 §3.1) for `client_id`,
    /// asking for `scope`, bound to `resource` when named. `client` is
    /// the client that authenticated, if any.
    pub(super) fn start_device(
        &self,
        client_id: Option<&str>,
        client: Option<&RegisteredClient>,
        scope: Option<&str>,
        resource: Option<&str>,
        now: Instant,
    ) -> Result<Issued, FlowError> {
        let client_id = super::flow::client_id(client_id).ok_or(FlowError::new(
            ErrorCode::InvalidRequest,
            "client_id is required, short and printable",
        ))?;
        self.check_client(client_id, client)?;
        let printable = |value: Option<&str>| {
            value.is_none_or(|v| {
                v.len() <= super::flow::MAX_PARAM_BYTES && !v.chars().any(char::is_control)
            })
        };
        if !(printable(scope) && printable(resource)) {
            return Err(FlowError::new(
                ErrorCode::InvalidRequest,
                "scope and resource must be short and printable",
            ));
        }
        self.audience([resource])?;
        let scope = scope
            .filter(|scope| !scope.trim().is_empty())
            .unwrap_or("openid");
        self.devices.start(
            DeviceRequest {
                client_id: client_id.to_owned(),
                scope: scope.to_owned(),
                resource: resource.map(str::to_owned),
            },
            now,
        )
    }

    /// The device authorization waiting under `user_code`, if any.
    pub(super) fn waiting_device(&self, user_code: &str, now: Instant) -> Option<DeviceRequest> {
        self.devices.waiting(user_code, now)
    }

    /// The person's answer to the device authorization under `user_code`:
    /// signed in as `user` granting `granted`, or denied (`None`). False
    /// when nothing waits under it any more.
    pub(super) fn answer_device(
        &self,
        user_code: &str,
        approval: Option<(&str, ApiScopes)>,
        now: Instant,
    ) -> bool {
        if let Some((user, _)) = approval {
            self.flow.remember_user(user);
        }
        self.devices.answer(user_code, approval, now)
    }

    /// An approved device authorization's tokens, which start a refresh
    /// family as a code's do.
    fn approved_device(
        &self,
        approval: Approval,
        resource: Option<&str>,
        address: IpAddr,
        now: Instant,
    ) -> Result<Issuance, FlowError> {
        let request = approval.request;
        let audience = self.audience([request.resource.as_deref(), resource])?;
        let scope = answered_scope(&request.scope, approval.granted);
        let (refresh_token, family) = self
            .sessions
            .open_family(
                FamilyStart {
                    user: &approval.user,
                    client_id: &request.client_id,
                    scope: &scope,
                    audience: audience.as_deref(),
                    session: None,
                    address,
                },
                now,
            )
            .ok_or(NO_RANDOMNESS)?;
        Ok(Issuance {
            access: AccessGrant {
                subject: approval.user.clone(),
                client_id: request.client_id,
                scopes: approval.granted,
                audience,
            },
            scope,
            person: Some(Person {
                user: approval.user,
                nonce: None,
            }),
            refresh_token: Some(refresh_token),
            family: Some(family),
        })
    }

    /// A refresh token for the next of its family, with the family's
    /// scope and audience. RFC 6749 §6 and §3.3: a narrower `scope` may be
    /// asked for; more than the family's is ignored.
    fn renew(
        &self,
        refresh_token: &str,
        client_id: &str,
        scope: Option<&str>,
        resource: Option<&str>,
        now: Instant,
    ) -> Result<Issuance, FlowError> {
        let renewal = self.sessions.rotate(refresh_token, client_id, now)?;
        let family_scopes = ApiScopes::among(&renewal.scope);
        let scopes = scope.map_or(family_scopes, |asked| {
            family_scopes.and(ApiScopes::among(asked))
        });
        let audience = match renewal.audience {
            Some(bound) => Some(bound),
            None => self.audience([resource])?,
        };
        Ok(Issuance {
            scope: answered_scope(&renewal.scope, scopes),
            access: AccessGrant {
                subject: renewal.user.clone(),
                client_id: renewal.client_id,
                scopes,
                audience,
            },
            person: Some(Person {
                user: renewal.user,
                nonce: None,
            }),
            refresh_token: Some(renewal.refresh_token),
            family: Some(renewal.family),
        })
    }

    /// Client credentials: a token for the registered `client` itself,
    /// with the API scopes it asks for among those it is registered for
    /// (all of them when it names none).
    fn machine(
        &self,
        client: &RegisteredClient,
        scope: Option<&str>,
        resource: Option<&str>,
    ) -> Result<Issuance, FlowError> {
        let scopes = match scope {
            None => client.scopes(),
            Some(asked) => ApiScopes::parse(asked)
                .ok()
                .filter(|asked| asked.within(client.scopes()))
                .ok_or(FlowError::new(
                    ErrorCode::InvalidScope,
                    "scope must list API scopes this client is registered for",
                ))?,
        };
        let audience = self.audience([resource])?;
        Ok(Issuance {
            access: AccessGrant {
                subject: client.id().to_owned(),
                client_id: client.id().to_owned(),
                scopes,
                audience,
            },
            scope: scopes.to_string(),
            person: None,
            refresh_token: None,
            family: None,
        })
    }

    /// The tokens a grant is worth. An access token for a user is shaped
    /// as what `dev-token` prints, so the API treats both alike.
    pub(super) fn tokens_for(
        &self,
        issuance: Issuance,
    ) -> Result<TokenResponse, jsonwebtoken::errors::Error> {
        let (access_token, id) = self.mint_access(&issuance.access)?;
        if let Some(family) = &issuance.family {
            self.sessions.issued_with(family, id);
        }
        let id_token = issuance
            .person
            .map(|person| {
                self.mint_id_token(
                    &person.user,
                    &issuance.access.client_id,
                    person.nonce.as_deref(),
                )
            })
            .transpose()?;
        Ok(TokenResponse {
            access_token,
            id_token,
            token_type: "Bearer",
            expires_in: self.token_ttl.as_secs(),
            scope: issuance.scope,
            refresh_token: issuance.refresh_token,
        })
    }

    /// RFC 7662: what is known of `token` at `now` (seconds since 1970).
    /// Active only for an access token of this provider that has not
    /// expired and was not revoked.
    pub(super) fn introspect(&self, token: &str, now: u64) -> Introspection {
        let claims = self
            .access_claims(token)
            .filter(|claims| claims.nbf <= now && now < claims.exp)
            .filter(|claims| !self.revoked.contains(&claims.jti));
        Introspection {
            active: claims.is_some(),
            token: claims.map(|claims| ActiveToken {
                claims,
                token_type: "Bearer",
            }),
        }
    }

    /// RFC 7009: revokes `token`: a refresh token with its family (and the
    /// access tokens the family issued), or an access token until it
    /// expires. Anything else is not ours, and there is nothing to do.
    /// `temporarily_unavailable` when no more revocations can be kept.
    /// `public_client`: a client without a secret, which may revoke only
    /// the refresh tokens issued to it (RFC 7009 §2.1), as a command line
    /// does when signing out.
    pub(super) fn revoke(
        &self,
        token: &str,
        public_client: Option<&str>,
        now: u64,
    ) -> Result<(), FlowError> {
        const FULL: FlowError = FlowError::new(
            ErrorCode::TemporarilyUnavailable,
            "too many tokens are revoked at once; try again later",
        );
        if let Some(revoked) = self.sessions.revoke(token, public_client, |access_tokens| {
            self.revoked.revoke(access_tokens, now)
        }) {
            return revoked.map_err(|_| FULL);
        }
        if public_client.is_some() {
            return Ok(());
        }
        if let Some(claims) = self.access_claims(token) {
            self.revoked
                .revoke(&[(claims.jti, claims.exp)], now)
                .map_err(|_| FULL)?;
        }
        Ok(())
    }

    /// The claims of an access token this provider signed, expired or not.
    fn access_claims(&self, token: &str) -> Option<AccessClaims> {
        if token.len() > MAX_TOKEN_BYTES {
            return None;
        }
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE)
            || header.kid.as_ref() != Some(&self.kid)
        {
            return None;
        }
        let key = jsonwebtoken::DecodingKey::from_jwk(&self.jwk).ok()?;
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.set_issuer(&[&self.issuer]);
        // The times are checked by the caller, against its clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["iss", "sub", "exp"]);
        jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
            .ok()
            .map(|data| data.claims)
    }

    /// Revokes the access tokens of a family revoked without a client to
    /// tell (logout, a replayed code): when none can be kept, it is said
    /// in the log.
    fn forget_access_tokens(&self, access_tokens: &[AccessTokenId]) {
        if self.revoked.revoke(access_tokens, unix_now()).is_err() {
            tracing::warn!(
                count = access_tokens.len(),
                "too many tokens are revoked at once: these access tokens stay valid at \
                 introspection until they expire"
            );
        }
    }

    fn lifetime(&self) -> Lifetime {
        Lifetime {
            now: unix_now(),
            ttl: self.token_ttl.as_secs(),
        }
    }

    fn header(&self) -> Header {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        header
    }
}

/// Seconds since 1970.
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// 128 random bits, base64url: a `jti` or a session id.
fn random_id() -> Option<String> {
    let mut bytes = [0_u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

fn key_file_error(path: &Path, error: &std::io::Error) -> DevIdpError {
    DevIdpError::KeyFile {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

fn generate_pem() -> Result<Vec<u8>, DevIdpError> {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| DevIdpError::KeyGeneration)?;
    let body = STANDARD.encode(pkcs8.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem.into_bytes())
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents)
}
