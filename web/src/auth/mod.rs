//! Who is signed in: the [`AuthProvider`] context and its [`use_auth`]
//! hook, the [`Session`] of a signed-in person and the [`TokenSource`] the
//! API's tokens come from. How each provider signs people in is in its own
//! module ([`oidc`], [`clerk`]), with its settings.
//!
//! Tokens live in memory only, never in browser storage. A reload keeps
//! the person signed in all the same: with OpenID Connect through the
//! provider's own session ([`oidc::start`]), with Clerk through
//! clerk-js's.

pub mod clerk;
pub mod oidc;
pub mod oidc_tokens;

use std::rc::Rc;

use yew::platform::spawn_local;
use yew::prelude::*;

use self::clerk::ClerkJs;
use self::oidc_tokens::OidcTokens;
use crate::config::{AppConfig, Provider};
use crate::storage;

/// A signed-in person.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// What to call them.
    pub name: String,
    /// Who they are to the provider (`sub`, Clerk's user id); their unsaved
    /// draft is kept under it.
    pub user_id: String,
    /// Where the API's bearer tokens come from.
    pub token_source: TokenSource,
    /// Kept for the provider's sign-out.
    pub id_token: Option<String>,
}

/// Where bearer tokens come from.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenSource {
    /// The tokens of an OpenID Connect sign-in, in memory, renewed with the
    /// provider's refresh token when it gave one.
    Oidc(OidcTokens),
    /// A session token from Clerk before each call (clerk-js caches and
    /// renews it).
    Clerk(ClerkJs),
}

impl TokenSource {
    /// A token for the next API call; waits for a renewal under way.
    pub async fn token(&self) -> Result<String, String> {
        match self {
            TokenSource::Oidc(tokens) => tokens.access_token().await,
            TokenSource::Clerk(clerk) => clerk.token(false).await,
        }
    }

    /// A token to replace `refused`, which the API refused as expired: a
    /// renewed one, or (Clerk) one fetched past clerk-js's cache.
    pub async fn fresh_token(&self, refused: &str) -> Result<String, String> {
        match self {
            TokenSource::Oidc(tokens) => tokens.fresh_token(refused).await,
            TokenSource::Clerk(clerk) => clerk.token(true).await,
        }
    }

    /// The session is over: no more tokens from here (Clerk's session is
    /// ended by Clerk's own sign-out).
    pub fn end(&self) {
        if let TokenSource::Oidc(tokens) = self {
            tokens.end();
        }
    }
}

/// Where sign-in stands.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthStatus {
    /// Finishing a sign-in, or on the way to the provider.
    Working,
    /// Nobody; `notice` says why when it is not the start.
    SignedOut {
        notice: Option<String>,
    },
    SignedIn(Rc<Session>),
}

/// What changes the status.
#[derive(Debug)]
pub enum AuthAction {
    Working,
    SignedIn(Session),
    SignedOut(Option<String>),
}

impl Reducible for AuthStatus {
    type Action = AuthAction;

    fn reduce(self: Rc<Self>, action: AuthAction) -> Rc<Self> {
        Rc::new(match action {
            AuthAction::Working => AuthStatus::Working,
            AuthAction::SignedIn(session) => AuthStatus::SignedIn(Rc::new(session)),
            AuthAction::SignedOut(notice) => AuthStatus::SignedOut { notice },
        })
    }
}

/// The auth context: the status and what a page may ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct Auth {
    pub status: AuthStatus,
    pub config: Rc<AppConfig>,
    /// Clerk's library, once loaded (its components mount into pages).
    pub clerk: Option<ClerkJs>,
    pub sign_in: Callback<()>,
    pub sign_out: Callback<()>,
    /// The API refused the token even after one renewal (or no token could
    /// be had): back to signed out, with a notice. The app never signs in
    /// again by itself, so a refused token cannot loop.
    pub on_token_refused: Callback<()>,
}

/// The auth context; only inside [`AuthProvider`].
#[hook]
pub fn use_auth() -> Auth {
    use_context::<Auth>().expect("use_auth() is used inside <AuthProvider>")
}

#[derive(Debug, Properties, PartialEq)]
pub struct AuthProviderProps {
    pub config: Rc<AppConfig>,
    pub children: Html,
}

/// The signed-in status Clerk reports now.
fn clerk_status(clerk: &ClerkJs) -> AuthAction {
    match clerk.signed_in_name() {
        Some(name) => AuthAction::SignedIn(Session {
            name,
            user_id: clerk.user_id().unwrap_or_default(),
            token_source: TokenSource::Clerk(clerk.clone()),
            id_token: None,
        }),
        None => AuthAction::SignedOut(None),
    }
}

/// Provides [`use_auth`] to its children; finishes a sign-in on start when
/// the provider just sent the browser back.
#[function_component]
pub fn AuthProvider(props: &AuthProviderProps) -> Html {
    let status = use_reducer(|| AuthStatus::Working);
    let clerk = use_state(|| None::<ClerkJs>);
    let provider = props.config.provider.clone();

    {
        let status = status.dispatcher();
        let clerk_slot = clerk.setter();
        let provider = provider.clone();
        use_effect_with((), move |()| {
            spawn_local(async move {
                match provider {
                    Provider::Oidc(settings) => match oidc::start(&settings).await {
                        oidc::Start::SignedIn(session) => {
                            status.dispatch(AuthAction::SignedIn(session));
                        }
                        oidc::Start::SignedOut(notice) => {
                            status.dispatch(AuthAction::SignedOut(notice));
                        }
                        // The page is leaving; "Signing in…" until it has.
                        oidc::Start::Restoring => {}
                    },
                    Provider::Clerk(settings) => match clerk::start(&settings).await {
                        Ok(loaded) => {
                            let listening = loaded.clone();
                            let dispatcher = status.clone();
                            loaded.on_change(Box::new(move |_| {
                                dispatcher.dispatch(clerk_status(&listening));
                            }));
                            status.dispatch(clerk_status(&loaded));
                            clerk_slot.set(Some(loaded));
                        }
                        Err(message) => status.dispatch(AuthAction::SignedOut(Some(message))),
                    },
                }
            });
        });
    }

    let sign_in = {
        let status = status.dispatcher();
        let provider = provider.clone();
        Callback::from(move |()| {
            // With Clerk, its own sign-in component is on the page.
            let Provider::Oidc(settings) = provider.clone() else {
                return;
            };
            let status = status.clone();
            status.dispatch(AuthAction::Working);
            spawn_local(async move {
                if let Err(message) = oidc::begin_sign_in(&settings).await {
                    status.dispatch(AuthAction::SignedOut(Some(message)));
                }
            });
        })
    };

    let sign_out = {
        let dispatcher = status.dispatcher();
        let current = (*status).clone();
        let clerk = (*clerk).clone();
        Callback::from(move |()| {
            let id_token = match &current {
                AuthStatus::SignedIn(session) => {
                    session.token_source.end();
                    session.id_token.clone()
                }
                _ => None,
            };
            // Tokens, the marker and the draft are forgotten first,
            // whatever the provider does.
            oidc::forget_session();
            storage::forget_draft();
            dispatcher.dispatch(AuthAction::SignedOut(None));
            match provider.clone() {
                Provider::Clerk(_) => {
                    if let Some(clerk) = clerk.clone() {
                        spawn_local(async move { clerk.end_session().await });
                    }
                }
                Provider::Oidc(settings) => spawn_local(async move {
                    if let Some(url) = oidc::sign_out_url(&settings, id_token.as_deref()).await
                        && let Some(window) = web_sys::window()
                    {
                        let _ = window.location().assign(&url);
                    }
                }),
            }
        })
    };

    let on_token_refused = {
        let dispatcher = status.dispatcher();
        let current = (*status).clone();
        Callback::from(move |()| {
            // The tab is signed out now: a reload stays so. The draft is
            // kept for signing in again.
            if let AuthStatus::SignedIn(session) = &current {
                session.token_source.end();
            }
            oidc::forget_session();
            dispatcher.dispatch(AuthAction::SignedOut(Some(
                "Your session has ended. Sign in again to continue.".to_owned(),
            )));
        })
    };

    let auth = Auth {
        status: (*status).clone(),
        config: props.config.clone(),
        clerk: (*clerk).clone(),
        sign_in,
        sign_out,
        on_token_refused,
    };
    html! {
        <ContextProvider<Auth> context={auth}>
            { props.children.clone() }
        </ContextProvider<Auth>>
    }
}
