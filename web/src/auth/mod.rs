//! Who is signed in: the [`AuthProvider`] context and its [`use_auth`]
//! hook. The session (tokens) lives in this component's memory only; a
//! reload signs in again.

pub mod oidc;

use std::rc::Rc;

use yew::platform::spawn_local;
use yew::prelude::*;

use self::oidc::OidcSettings;
use crate::config::{AppConfig, Provider};

/// A signed-in person.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// What to call them.
    pub name: String,
    /// The bearer token for the API.
    pub access_token: String,
    /// Kept for the provider's sign-out.
    pub id_token: Option<String>,
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
    pub sign_in: Callback<()>,
    pub sign_out: Callback<()>,
    /// The API refused the token: back to signed out, with a notice. The
    /// app never signs in again by itself, so a refused token cannot loop.
    pub expired: Callback<()>,
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

fn oidc_settings(config: &AppConfig) -> Option<OidcSettings> {
    match &config.provider {
        Provider::Oidc {
            issuer,
            client_id,
            scopes,
            audience,
        } => Some(OidcSettings {
            issuer: issuer.clone(),
            client_id: client_id.clone(),
            scopes: scopes.clone(),
            audience: audience.clone(),
        }),
        Provider::Clerk { .. } => None,
    }
}

const CLERK_UNSUPPORTED: &str =
    "This build of the app signs in with OpenID Connect only; Clerk is not supported yet.";

/// Provides [`use_auth`] to its children; finishes a sign-in on start when
/// the provider just sent the browser back.
#[function_component]
pub fn AuthProvider(props: &AuthProviderProps) -> Html {
    let status = use_reducer(|| AuthStatus::Working);
    let settings = oidc_settings(&props.config);

    {
        let status = status.dispatcher();
        let settings = settings.clone();
        use_effect_with((), move |()| {
            spawn_local(async move {
                let Some(settings) = settings else {
                    status.dispatch(AuthAction::SignedOut(Some(CLERK_UNSUPPORTED.to_owned())));
                    return;
                };
                match oidc::complete_sign_in(&settings).await {
                    Ok(Some(session)) => status.dispatch(AuthAction::SignedIn(session)),
                    Ok(None) => status.dispatch(AuthAction::SignedOut(None)),
                    Err(message) => status.dispatch(AuthAction::SignedOut(Some(message))),
                }
            });
        });
    }

    let sign_in = {
        let status = status.dispatcher();
        let settings = settings.clone();
        Callback::from(move |()| {
            let status = status.clone();
            let Some(settings) = settings.clone() else {
                status.dispatch(AuthAction::SignedOut(Some(CLERK_UNSUPPORTED.to_owned())));
                return;
            };
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
        Callback::from(move |()| {
            let id_token = match &current {
                AuthStatus::SignedIn(session) => session.id_token.clone(),
                _ => None,
            };
            // Tokens are forgotten first, whatever the provider does.
            dispatcher.dispatch(AuthAction::SignedOut(None));
            let Some(settings) = settings.clone() else {
                return;
            };
            spawn_local(async move {
                if let Some(url) = oidc::sign_out_url(&settings, id_token.as_deref()).await
                    && let Some(window) = web_sys::window()
                {
                    let _ = window.location().assign(&url);
                }
            });
        })
    };

    let expired = {
        let dispatcher = status.dispatcher();
        Callback::from(move |()| {
            dispatcher.dispatch(AuthAction::SignedOut(Some(
                "Your session has ended. Sign in again to continue.".to_owned(),
            )));
        })
    };

    let auth = Auth {
        status: (*status).clone(),
        config: props.config.clone(),
        sign_in,
        sign_out,
        expired,
    };
    html! {
        <ContextProvider<Auth> context={auth}>
            { props.children.clone() }
        </ContextProvider<Auth>>
    }
}
