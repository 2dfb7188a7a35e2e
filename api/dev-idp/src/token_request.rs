//! The token endpoint's request (RFC 6749 §4.1.3 and §6): which grant it
//! asks for, with the parameters that grant needs present and well formed.
//! What the grant is worth is decided elsewhere: codes in [`super::flow`],
//! refresh tokens in [`super::sessions`].

use super::flow::{CodeExchange, ErrorCode, FlowError, is_code_verifier};

/// The parameters of a token request, as sent.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct TokenParams {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub client_id: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
}

/// A token request with every parameter its grant needs present and well
/// formed.
#[derive(Debug)]
pub enum TokenRequest<'a> {
    /// `grant_type=authorization_code` (RFC 6749 §4.1.3).
    Code(CodeExchange<'a>),
    /// `grant_type=refresh_token` (RFC 6749 §6).
    Refresh {
        refresh_token: &'a str,
        client_id: &'a str,
    },
}

impl TokenParams {
    /// Checks the request for its grant type.
    pub fn parse(&self) -> Result<TokenRequest<'_>, FlowError> {
        use ErrorCode::{InvalidRequest, UnsupportedGrantType};
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
                })
            }
            None => Err(FlowError::new(InvalidRequest, "grant_type is required")),
            Some(_) => Err(FlowError::new(
                UnsupportedGrantType,
                "only grant_type=authorization_code and refresh_token are supported",
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
            refresh_token: None,
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
                client_id: "spa"
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
}
