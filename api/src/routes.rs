//! The route table: every endpoint of the API, once. A new endpoint is its
//! handler plus one line in [`endpoints`]; the `405` answers with `Allow`,
//! the CORS methods, the OpenAPI document and its tests all follow from it.

use actix_web::HttpRequest;
use actix_web::http::Method;
use utoipa::openapi::path::HttpMethod;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::http::caller::RequiredScopes;
use crate::http::error::{ApiError, method_not_allowed};
use crate::http::{metrics, ops, quotes, resource, webhooks};
use quotes_core::auth::{Scope, Scopes};

/// Every endpoint of the API, in the order the description lists them,
/// with the scopes a token needs for it: a signed-in endpoint needs at
/// least one, which the description, the `403` and the development
/// provider's consent all follow.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(quotes::get_quote).needs(Scope::QuotesRead),
        endpoint!(quotes::put_quote).needs(Scope::QuotesWrite),
        endpoint!(quotes::delete_quote).needs(Scope::QuotesWrite),
        endpoint!(resource::protected_resource),
        endpoint!(webhooks::clerk_webhook).only_when(webhooks::is_configured),
        endpoint!(ops::healthz),
        endpoint!(ops::readyz),
        endpoint!(metrics::prometheus)
            .only_when(metrics::is_served_here)
            .undescribed(),
    ]
}

/// What each signed-in endpoint needs, for the `Caller` extractor.
pub fn required_scopes() -> RequiredScopes {
    RequiredScopes::new(
        endpoints()
            .into_iter()
            .filter(|endpoint| endpoint.signed_in)
            .map(|endpoint| (endpoint.method, endpoint.path, endpoint.scopes))
            .collect(),
    )
}

/// One endpoint: its method and path (read from its handler's description),
/// how to register the handler, and when the path exists at all.
#[derive(Clone)]
pub struct Endpoint {
    /// The path, as written in the description.
    pub path: String,
    /// The one method the handler answers.
    pub method: Method,
    /// Whether the description asks for a bearer token.
    pub signed_in: bool,
    /// The scopes a token must hold (all of them).
    pub scopes: Scopes,
    /// Whether the public description lists it (`/metrics` is for
    /// operators, on an address of their own).
    pub described: bool,
    register: fn(&mut ServiceConfig),
    exists: Option<fn(&HttpRequest) -> bool>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// An [`Endpoint`] for a handler made by actix's route macro and described
/// by `#[utoipa::path]`.
macro_rules! endpoint {
    ($handler:path) => {
        Endpoint::of::<$handler>(|cfg| {
            cfg.service($handler);
        })
    };
}
use endpoint;

impl Endpoint {
    fn of<H: utoipa::Path>(register: fn(&mut ServiceConfig)) -> Self {
        let methods = H::methods();
        let [method] = methods.as_slice() else {
            unreachable!("{}: one method per handler", H::path());
        };
        let signed_in = H::operation()
            .security
            .is_some_and(|requirements| !requirements.is_empty());
        Self {
            path: H::path(),
            method: http_method(method),
            signed_in,
            scopes: Scopes::NONE,
            described: true,
            register,
            exists: None,
        }
    }

    /// A token needs `scope` for this endpoint.
    #[must_use]
    pub fn needs(mut self, scope: Scope) -> Self {
        self.scopes = self.scopes.with(scope);
        self
    }

    /// The public description leaves it out.
    #[must_use]
    pub fn undescribed(mut self) -> Self {
        self.described = false;
        self
    }

    /// The path exists only when `exists` says so (an optional feature):
    /// otherwise every method gets `404`.
    #[must_use]
    pub fn only_when(mut self, exists: fn(&HttpRequest) -> bool) -> Self {
        self.exists = Some(exists);
        self
    }
}

fn http_method(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// Registers every endpoint, then for each path the answer to the methods
/// it does not support: `405` with `Allow`, or `404` while it does not exist.
pub fn configure(cfg: &mut ServiceConfig) {
    let endpoints = endpoints();
    for endpoint in &endpoints {
        (endpoint.register)(cfg);
    }
    for (path, allow, exists) in paths(&endpoints) {
        match exists {
            None => cfg.route(&path, method_not_allowed(allow)),
            Some(exists) => cfg.route(
                &path,
                actix_web::web::to(move |req: HttpRequest| {
                    let error = if exists(&req) {
                        ApiError::MethodNotAllowed {
                            allow: allow.clone().into(),
                        }
                    } else {
                        ApiError::RouteNotFound
                    };
                    async move { Err::<actix_web::HttpResponse, _>(error) }
                }),
            ),
        };
    }
}

/// Each path once, with its `Allow` value (`HEAD` wherever `GET` is) and
/// when it exists.
#[expect(clippy::type_complexity, reason = "a private summary")]
fn paths(endpoints: &[Endpoint]) -> Vec<(String, String, Option<fn(&HttpRequest) -> bool>)> {
    let mut paths: Vec<(String, Vec<Method>, Option<fn(&HttpRequest) -> bool>)> = Vec::new();
    for endpoint in endpoints {
        match paths.iter_mut().find(|(path, ..)| *path == endpoint.path) {
            Some((_, methods, _)) => methods.push(endpoint.method.clone()),
            None => paths.push((
                endpoint.path.clone(),
                vec![endpoint.method.clone()],
                endpoint.exists,
            )),
        }
    }
    paths
        .into_iter()
        .map(|(path, methods, exists)| (path, allow(&methods), exists))
        .collect()
}

/// The `Allow` value for `methods`.
pub fn allow(methods: &[Method]) -> String {
    let mut names = Vec::new();
    for method in methods {
        names.push(method.as_str());
        if *method == Method::GET {
            names.push(Method::HEAD.as_str());
        }
    }
    names.join(", ")
}

/// The methods browsers may call across origins: those of the endpoints
/// that need a signed-in caller (the app's), and `HEAD` with `GET`.
pub fn cors_methods() -> Vec<Method> {
    let signed_in: Vec<Method> = endpoints()
        .into_iter()
        .filter(|endpoint| endpoint.signed_in)
        .map(|endpoint| endpoint.method)
        .collect();
    let mut methods = Vec::new();
    for method in allow(&signed_in).split(", ") {
        if let Ok(method) = Method::from_bytes(method.as_bytes())
            && !methods.contains(&method)
        {
            methods.push(method);
        }
    }
    methods
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_is_allowed_its_own_methods_and_head_with_get() {
        let endpoints = endpoints();
        let paths = paths(&endpoints);
        for (path, allow, _) in &paths {
            let own: Vec<&str> = endpoints
                .iter()
                .filter(|endpoint| endpoint.path == *path)
                .map(|endpoint| endpoint.method.as_str())
                .collect();
            let allowed: Vec<&str> = allow.split(", ").collect();
            for method in &own {
                assert!(allowed.contains(method), "{path}: {allow}");
            }
            assert_eq!(
                allowed.contains(&"HEAD"),
                own.contains(&"GET"),
                "{path}: {allow}"
            );
            assert_eq!(allowed.len(), own.len() + usize::from(own.contains(&"GET")));
        }
        assert_eq!(
            paths.len(),
            endpoints
                .iter()
                .map(|endpoint| &endpoint.path)
                .collect::<std::collections::HashSet<_>>()
                .len()
        );
    }

    #[test]
    fn every_signed_in_endpoint_needs_a_scope_and_no_public_one_does() {
        for endpoint in endpoints() {
            assert_eq!(
                endpoint.signed_in,
                !endpoint.scopes.is_empty(),
                "{endpoint:?}"
            );
        }
    }

    #[test]
    fn browsers_may_call_the_signed_in_endpoints() {
        let methods = cors_methods();
        for method in [Method::GET, Method::HEAD, Method::PUT, Method::DELETE] {
            assert!(methods.contains(&method), "{methods:?}");
        }
        // Webhooks come from servers, never from a page.
        assert!(!methods.contains(&Method::POST), "{methods:?}");
    }
}
