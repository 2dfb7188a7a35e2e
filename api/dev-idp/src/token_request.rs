//! The token endpoint's request (RFC 6749 §4.1.3, §4.4 and §6, with RFC
//! 8707's `resource`): which grant it asks for, with the parameters that
//! grant needs present and well formed. Who the client is and what the
//! grant is worth are decided elsewhere: client authentication in
//! [`super::clients`], codes in [`super::flow`], refresh tokens in
//! [`super::sessions`].

use super::flow::{CodeExchange, ErrorCode, FlowError, MAX_PARAM_BYTES, is_code_verifier};

/// The parameters of a token request, as sent.
#[derive(Default, Clone, serde::Deserialize)]
pub struct TokenParams {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub client_id: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    /// RFC 8628 §3.4: the device code being polled for.
    pub device_code: Option<String>,
    /// A registered client's secret (`client_secret_post`); never logged.
    pub client_secret: Option<String>,
    /// Narrows the grant: client credentials and refresh (RFC 6749 §3.3).
    pub scope: Option<String>,
    /// RFC 8707: the resource the access token is for.
    pub resource: Option<String>,
}

impl std::fmt::Debug for TokenParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenParams")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// A token request with every parameter its grant needs present and well
/// formed.
#[derive(Debug)]
pub enum TokenRequest<'a> {
    /// `grant_type=authorization_code` (RFC 6749 §4.1.3).
    Code(CodeExchange<'a>),
    /// `grant_type=refresh_token` (RFC 6749 §6), with the API scopes the
    /// new access token is narrowed to, if any.
    Refresh {
        refresh_token: &'a str,
        client_id: &'a str,
        scope: Option<&'a str>,
    },
    /// `grant_type=client_credentials` (RFC 6749 §4.4): a registered
    /// client for itself, with the API scopes it asks for, if any.
    ClientCredentials { scope: Option<&'a str> },
    /// `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC
    /// 8628 §3.4): a poll for the person's answer.
    Device {
        device_code: &'a str,
        client_id: &'a str,
    },
}

/// The device grant's `grant_type` (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

impl TokenParams {
    /// Checks the request for its grant type.
    pub fn parse(&self) -> Result<TokenRequest<'_>, FlowError> {
        use ErrorCode::{InvalidRequest, UnsupportedGrantType};
        let well_formed = |value: &Option<String>| {
            value
                .as_deref()
                .is_none_or(|v| v.len() <= MAX_PARAM_BYTES && !v.chars().any(char::is_control))
        };
        if !(well_formed(&self.scope) && well_formed(&self.resource)) {
            return Err(FlowError::new(
                InvalidRequest,
                "scope and resource must be short and printable",
            ));
        }
        // An empty `scope` asks for nothing in particular, as none does.
        let scope = self
            .scope
            .as_deref()
            .filter(|scope| !scope.trim().is_empty());
        match self.grant_type.as_deref() {
            Some("authorization_code") => self.code_exchange().map(TokenRequest::Code),
            Some("refresh_token") => {
                let (Some(refresh_token), Some(client_id)) =
                    (self.refresh_token.as_deref(), self.client_id.as_deref())
                else {
                    return Err(FlowError::new(
                        InvalidRequest,
                        "refresh_token and client_id are required",
                    ));
                };
                Ok(TokenRequest::Refresh {
                    refresh_token,
                    client_id,
                    scope,
                })
            }
            Some("client_credentials") => Ok(TokenRequest::ClientCredentials { scope }),
            Some(DEVICE_CODE_GRANT) => {
                let (Some(device_code), Some(client_id)) =
                    (self.device_code.as_deref(), self.client_id.as_deref())
                else {
                    return Err(FlowError::new(
                        InvalidRequest,
                        "device_code and client_id are required",
                    ));
                };
                Ok(TokenRequest::Device {
                    device_code,
                    client_id,
                })
            }
            None => Err(FlowError::new(InvalidRequest, "grant_type is required")),
            Some(_) => Err(FlowError::new(
                UnsupportedGrantType,
                "only grant_type=authorization_code, refresh_token, client_credentials and \
                 urn:ietf:params:oauth:grant-type:device_code are supported",
            )),
        }
    }

    fn code_exchange(&self) -> Result<CodeExchange<'_>, FlowError> {
        use ErrorCode::InvalidRequest;
        let (Some(code), Some(redirect_uri), Some(client_id), Some(code_verifier)) = (
            self.code.as_deref(),
            self.redirect_uri.as_deref(),
            self.client_id.as_deref(),
            self.code_verifier.as_deref(),
        ) else {
            return Err(FlowError::new(
                InvalidRequest,
                "code, redirect_uri, client_id and code_verifier are required",
            ));
        };
        if !is_code_verifier(code_verifier) {
            return Err(FlowError::new(
                InvalidRequest,
                "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]",
            ));
        }
        Ok(CodeExchange {
            code,
            redirect_uri,
            client_id,
            code_verifier,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_exchange_needs_every_parameter_and_a_well_formed_verifier() {
        let complete = TokenParams {
            grant_type: Some("authorization_code".to_owned()),
            code: Some("c".to_owned()),
            redirect_uri: Some("http://localhost:5173/cb".to_owned()),
            client_id: Some("spa".to_owned()),
            code_verifier: Some("v".repeat(43)),
            ..TokenParams::default()
        };
        assert!(matches!(complete.parse(), Ok(TokenRequest::Code(_))));
        for params in [
            TokenParams {
                code: None,
                ..complete.clone()
            },
            TokenParams {
                code_verifier: Some("too-short".to_owned()),
                ..complete.clone()
            },
            TokenParams {
                grant_type: None,
                ..complete
            },
        ] {
            assert_eq!(params.parse().unwrap_err().code, ErrorCode::InvalidRequest);
        }
    }

    #[test]
    fn refresh_requests_need_the_token_and_the_client() {
        let refresh = |token: Option<&str>, client: Option<&str>| TokenParams {
            grant_type: Some("refresh_token".to_owned()),
            refresh_token: token.map(str::to_owned),
            client_id: client.map(str::to_owned),
            ..TokenParams::default()
        };
        assert!(matches!(
            refresh(Some("t"), Some("spa")).parse(),
            Ok(TokenRequest::Refresh {
                refresh_token: "t",
                client_id: "spa",
                scope: None,
            })
        ));
        for params in [refresh(None, Some("spa")), refresh(Some("t"), None)] {
            assert_eq!(params.parse().unwrap_err().code, ErrorCode::InvalidRequest);
        }
        let password = TokenParams {
            grant_type: Some("password".to_owned()),
            ..TokenParams::default()
        };
        assert_eq!(
            password.parse().unwrap_err().code,
            ErrorCode::UnsupportedGrantType
        );
    }

    #[test]
    fn client_credentials_need_no_client_id_in_the_form_and_an_empty_scope_is_none() {
        let grant = |scope: Option<&str>| TokenParams {
            grant_type: Some("client_credentials".to_owned()),
            scope: scope.map(str::to_owned),
            ..TokenParams::default()
        };
        assert!(matches!(
            grant(None).parse(),
            Ok(TokenRequest::ClientCredentials { scope: None })
        ));
        assert!(matches!(
            grant(Some(" ")).parse(),
            Ok(TokenRequest::ClientCredentials { scope: None })
        ));
        assert!(matches!(
            grant(Some("quotes:read")).parse(),
            Ok(TokenRequest::ClientCredentials {
                scope: Some("quotes:read")
            })
        ));
        let long = grant(Some(&"x".repeat(MAX_PARAM_BYTES + 1)));
        assert_eq!(long.parse().unwrap_err().code, ErrorCode::InvalidRequest);
        let secret = TokenParams {
            client_secret: Some("hidden".to_owned()),
            ..grant(None)
        };
        assert!(!format!("{secret:?}").contains("hidden"));
    }
}
