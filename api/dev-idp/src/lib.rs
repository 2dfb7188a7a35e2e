//! A small OpenID Connect provider for development, hosted by the API
//! itself under `/dev-idp`, so the whole system runs with no account
//! anywhere.
//!
//! It exists only in a build of `quotes-api` with the `dev-idp` feature
//! (`cargo xtask run`, the tests and the development compose file turn it
//! on; a release build leaves it out). Even then it is off unless asked for
//! (`--dev-idp` / `DEV_IDP=1`), refuses to run on anything but a loopback
//! address, and says so loudly at start. The API verifies its tokens like
//! any provider's: discovery, then the JWKS, over HTTP, with no special
//! case in the verifier.
//!
//! Browsers sign in through the authorization-code flow with PKCE
//! ([`flow`] holds its rules, `endpoints` its handlers, `page` its
//! HTML, `routes` where they are): the "sign in as" page asks only for a user name.
//! The token endpoint's request is read in [`token_request`]. A sign-in
//! also starts a browser session, which lets an app ask again with
//! `prompt=none` and no page, and every code exchange starts a family of
//! rotating refresh tokens ([`sessions`] holds both).
//!
//! Devices without a browser of their own (the `quotes` command line)
//! sign in with the device grant ([`device`]): the person enters a short
//! code on the provider's `/device` page, which leads into the same sign-in
//! and consent.
//!
//! It issues what real providers do: access tokens are RFC 9068 JWTs
//! (`typ: at+jwt`, shapes in [`claims`]) carrying the API scopes
//! (`quotes:read`, `quotes:write`; [`grants`]) the person left ticked on
//! the sign-in page, bound to the API (`aud`) when the request names it as
//! its RFC 8707 `resource`. Registered clients ([`clients`]) get tokens for
//! themselves with the client-credentials grant, and may introspect (RFC
//! 7662) and revoke (RFC 7009) tokens; revoked access tokens are kept in
//! a bounded set until they expire (`revoked`).

pub mod claims;
pub mod clients;
pub mod device;
mod endpoints;
pub mod flow;
pub mod grants;
mod page;
mod provider;
mod revoked;
mod routes;
pub mod sessions;
mod settings;
pub mod token_request;

pub use self::claims::{AccessGrant, ClerkSession, DEV_TOKEN_CLIENT, DevToken, Organization};
pub use self::clients::Clients;
pub use self::endpoints::OwnErrorFormat;
pub use self::grants::{ApiScopes, Resource};
pub use self::provider::{ACCESS_TOKEN_TYPE, DevIdp, TokenResponse};
pub use self::routes::routes;
pub use self::settings::{
    DevIdpError, DevIdpSettings, MAX_TOKEN_LIFETIME, PATH, TOKEN_LIFETIME, issuer_for,
};
