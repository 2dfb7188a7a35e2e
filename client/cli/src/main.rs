//! `quotes`: the quotes API from a terminal. `quotes login` signs in with
//! the provider the API names (RFC 9728), by the device grant when the
//! provider has it and otherwise in the browser with PKCE; the other
//! commands use that sign-in, renewing its tokens as needed. See
//! docs/cli.md.

mod failure;
mod oauth;
mod store;
mod tokens;

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use quotes_client::problem::problem;
use quotes_client::types::SaveQuote;
use serde_json::{Value, json};

use crate::failure::Failure;
use crate::store::{Session, Storage, Store};
use crate::tokens::{SharedTokens, Tokens, claims, expiry, unix_now};

/// The API `quotes login` signs in to when none is given or remembered:
/// the one `cargo xtask run` starts.
const DEFAULT_API: &str = "http://127.0.0.1:8080";

/// The client id the command line signs in as, unless told otherwise.
const DEFAULT_CLIENT_ID: &str = "quotes-cli";

const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  refused by the API or the identity provider (the reason and what to do next are printed)
  2  usage: the command line is wrong
  3  not signed in, or the sign-in has ended: run `quotes login`
  4  the API or the identity provider could not be reached

Environment:
  QUOTES_API               the API's address (instead of --api)
  QUOTES_TOKEN             an access token to use as it is, instead of the sign-in (scripts)
  QUOTES_CLIENT_ID         the client id to sign in as (default quotes-cli)
  QUOTES_CONFIG_DIR        where settings are kept (default: the platform's config directory)
  QUOTES_INSECURE_STORAGE  1: keep tokens in a file when no credential store works
  QUOTES_CREDENTIAL_STORE  none: never use the OS credential store (tests, shared machines)";

/// Your favourite quote, from the terminal.
#[derive(Debug, Parser)]
#[command(name = "quotes", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[arg(
        long,
        global = true,
        value_name = "URL",
        help = "The API's address; default: QUOTES_API, else the one signed in to"
    )]
    api: Option<String>,
    /// Answer in JSON on stdout, for scripts.
    #[arg(long, global = true)]
    json: bool,
    #[arg(
        long,
        global = true,
        help = "Where no credential store works, keep the tokens in a file only you can read \
                (also QUOTES_INSECURE_STORAGE=1)"
    )]
    insecure_storage: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign in with the API's identity provider.
    Login {
        /// The API scopes to ask for, space-separated (default: all the
        /// API supports); ask for less when less will do.
        #[arg(long, value_name = "SCOPES")]
        scope: Option<String>,
        /// Print the address instead of opening a browser.
        #[arg(long, env = "QUOTES_NO_BROWSER")]
        no_browser: bool,
        /// Sign in in this machine's browser (authorization code with
        /// PKCE), even when the provider offers the device grant.
        #[arg(long)]
        browser: bool,
        /// The client id registered at the provider.
        #[arg(long, env = "QUOTES_CLIENT_ID", default_value = DEFAULT_CLIENT_ID)]
        client_id: String,
    },
    /// Revoke the sign-in at the provider and forget it here.
    Logout,
    /// Who is signed in: subject, client, scopes and expiry, read from the
    /// access token (decoded here, not verified).
    Whoami,
    /// Print a fresh access token (for curl: -H "Authorization: Bearer $(quotes token)").
    Token,
    /// Show your quote.
    Show,
    /// Save your quote (replacing the one saved).
    Save {
        /// The quote, or `-` to read it from stdin.
        text: String,
    },
    /// Delete your quote.
    Delete {
        /// Do not ask (needed when stdin is not a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "quotes: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let _ = writeln!(std::io::stderr(), "quotes: {failure}");
            if json {
                let (detail, next) = match &failure {
                    Failure::Refused { detail, next } => (detail.clone(), next.clone()),
                    other => (other.to_string(), None),
                };
                out(&json!({
                    "error": failure.kind(),
                    "detail": detail,
                    "next": next,
                    "exit_code": failure.exit_code(),
                }));
            }
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Writes a line to stdout; a closed pipe is not an error worth reporting.
fn say(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

fn out(value: &Value) {
    say(&value.to_string());
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let insecure = cli.insecure_storage
        || std::env::var("QUOTES_INSECURE_STORAGE")
            .is_ok_and(|value| matches!(value.as_str(), "1" | "true" | "yes"));
    let store = Store::open(insecure)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("quotes-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| Failure::refused(format!("cannot start HTTP: {error}")))?;
    let api = cli
        .api
        .clone()
        .or_else(|| {
            std::env::var("QUOTES_API")
                .ok()
                .filter(|api| !api.is_empty())
        })
        .or_else(|| store.remembered_api())
        .map(|api| api.trim_end_matches('/').to_owned());
    let json = cli.json;
    match cli.command {
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "quotes", &mut std::io::stdout());
            Ok(())
        }
        Command::Login {
            scope,
            no_browser,
            browser,
            client_id,
        } => {
            let api = api.unwrap_or_else(|| DEFAULT_API.to_owned());
            let how = Login {
                scope: scope.as_deref(),
                open_browser: !no_browser,
                device_grant: !browser,
                client_id: &client_id,
            };
            login(&store, &http, &api, &how, json).await
        }
        Command::Logout => logout(&store, &http, api.as_deref(), json).await,
        command => {
            // A token of the script's own needs no API to be shown.
            let own_token =
                std::env::var("QUOTES_TOKEN").is_ok_and(|token| !token.trim().is_empty());
            let needs_api = !(own_token && matches!(command, Command::Whoami | Command::Token));
            let api = match api {
                Some(api) => api,
                None if !needs_api => String::new(),
                None => {
                    return Err(Failure::NotSignedIn(
                        "no API is known: run `quotes login --api URL`, or pass --api or QUOTES_API"
                            .to_owned(),
                    ));
                }
            };
            let tokens = Arc::new(Tokens::for_api(&store, &http, &api)?);
            // Renewed here, so a sign-in that has ended says so plainly.
            let access_token = tokens.access_token().await?;
            match command {
                Command::Whoami => whoami(&tokens, &access_token, json).await,
                Command::Token => {
                    if json {
                        out(&json!({ "access_token": access_token }));
                    } else {
                        say(&access_token);
                    }
                    Ok(())
                }
                command => {
                    let client = quotes_client::Client::with_token_source(
                        &api,
                        SharedTokens(Arc::clone(&tokens)),
                    );
                    quote_command(&client, &api, command, json).await
                }
            }
        }
    }
}

/// The API scopes to ask for: those `asked` when the API knows them all,
/// else every one the API supports.
fn api_scopes(asked: Option<&str>, supported: &[String]) -> Result<String, Failure> {
    let Some(asked) = asked else {
        return Ok(supported.join(" "));
    };
    let unknown: Vec<&str> = asked
        .split_whitespace()
        .filter(|scope| !supported.iter().any(|s| s == scope))
        .collect();
    if !unknown.is_empty() {
        return Err(Failure::Usage(format!(
            "the API does not know the scope {}; it supports: {}",
            unknown.join(" "),
            supported.join(" ")
        )));
    }
    Ok(asked.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// How `quotes login` was asked to sign in.
#[derive(Debug)]
struct Login<'a> {
    /// The API scopes asked for; all the API supports when `None`.
    scope: Option<&'a str>,
    open_browser: bool,
    /// Whether to use the device grant when the provider offers it.
    device_grant: bool,
    client_id: &'a str,
}

async fn login(
    store: &Store,
    http: &reqwest::Client,
    api: &str,
    how: &Login<'_>,
    json: bool,
) -> Result<(), Failure> {
    let Login {
        scope,
        open_browser,
        client_id,
        ..
    } = *how;
    store.can_keep_tokens()?;
    let resource = oauth::resource_metadata(http, api).await?;
    let issuer = resource
        .authorization_servers
        .first()
        .ok_or_else(|| Failure::refused(format!("{api} names no authorization server")))?;
    let provider = oauth::provider_metadata(http, issuer).await?;
    let api_scopes = api_scopes(scope, &resource.scopes_supported)?;
    // `openid` for the subject, `offline_access` for a refresh token.
    let full_scope = format!("openid offline_access {api_scopes}");
    let request = oauth::SignInRequest {
        client_id,
        scope: full_scope.trim(),
        resource: &resource.resource,
        open_browser,
    };
    let device_endpoint = provider
        .device_authorization_endpoint
        .as_ref()
        .filter(|_| how.device_grant);
    let answer = if let Some(endpoint) = device_endpoint {
        oauth::device_sign_in(http, &provider, endpoint, &request).await?
    } else if let Some(endpoint) = &provider.authorization_endpoint {
        oauth::loopback_sign_in(http, &provider, endpoint, &request).await?
    } else {
        return Err(Failure::refused(format!(
            "{} offers neither the device grant nor a browser sign-in",
            provider.issuer
        )));
    };
    let mut session = Session {
        api: api.to_owned(),
        issuer: provider.issuer.clone(),
        client_id: client_id.to_owned(),
        scope: answer
            .scope
            .clone()
            .unwrap_or_else(|| request.scope.to_owned()),
        token_endpoint: provider.token_endpoint.clone(),
        revocation_endpoint: provider.revocation_endpoint.clone(),
        access_expires_at: expiry(answer.expires_in, &answer.access_token),
        storage: Storage::CredentialStore,
    };
    let subject = claims(&answer.access_token)
        .and_then(|claims| claims.get("sub").and_then(Value::as_str).map(str::to_owned));
    let why_not_the_store = store.sign_in(
        &mut session,
        &store::Secrets {
            access_token: answer.access_token,
            refresh_token: answer.refresh_token,
        },
    )?;
    let api_granted: Vec<&str> = session
        .scope
        .split_whitespace()
        .filter(|scope| resource.scopes_supported.iter().any(|s| s == scope))
        .collect();
    if json {
        out(&json!({
            "signed_in": true,
            "api": api,
            "subject": subject,
            "client_id": client_id,
            "scope": session.scope,
            "storage": session.storage,
        }));
    } else {
        say(&format!(
            "Signed in to {api} as {} with {}.",
            subject.as_deref().unwrap_or("(unknown subject)"),
            if api_granted.is_empty() {
                "no API scopes".to_owned()
            } else {
                api_granted.join(" ")
            }
        ));
    }
    if let Some(why) = why_not_the_store {
        let _ = writeln!(
            std::io::stderr(),
            "quotes: {why}: the tokens are in a file only you can read instead"
        );
    }
    Ok(())
}

async fn logout(
    store: &Store,
    http: &reqwest::Client,
    api: Option<&str>,
    json: bool,
) -> Result<(), Failure> {
    let Some(session) = api.and_then(|api| store.session(api)) else {
        if json {
            out(&json!({ "signed_out": true, "revoked": false }));
        } else {
            say("Not signed in; nothing to forget.");
        }
        return Ok(());
    };
    let refresh_token = store
        .secrets(&session)
        .and_then(|secrets| secrets.refresh_token);
    let revoked = match (&session.revocation_endpoint, refresh_token) {
        (Some(endpoint), Some(token)) => {
            match oauth::revoke(http, endpoint, &session.client_id, &token).await {
                Ok(()) => true,
                Err(failure) => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "quotes: {failure}; forgetting the sign-in here anyway"
                    );
                    false
                }
            }
        }
        _ => false,
    };
    store.forget()?;
    if json {
        out(&json!({ "signed_out": true, "revoked": revoked }));
    } else if revoked {
        say("Signed out: the provider revoked the sign-in, and it is forgotten here.");
    } else {
        say("Signed out here; the provider was not asked to revoke the sign-in.");
    }
    Ok(())
}

async fn whoami(tokens: &Tokens, access_token: &str, json: bool) -> Result<(), Failure> {
    let claims = claims(access_token).unwrap_or(Value::Null);
    let session = tokens.session().await;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let subject = text("sub");
    let client = text("client_id")
        .or_else(|| text("azp"))
        .or_else(|| session.as_ref().map(|s| s.client_id.clone()));
    let scope = text("scope").or_else(|| session.as_ref().map(|s| s.scope.clone()));
    let expires_at = claims.get("exp").and_then(Value::as_u64);
    let source = if session.is_some() {
        "sign-in"
    } else {
        "QUOTES_TOKEN"
    };
    if json {
        out(&json!({
            "subject": subject,
            "client_id": client,
            "scope": scope,
            "issuer": text("iss"),
            "expires_at": expires_at,
            "source": source,
            "verified": false,
        }));
    } else {
        say(&format!(
            "Subject: {}\nClient:  {}\nScopes:  {}\nExpires: {}\nFrom:    {source} (read from the token, not verified)",
            subject.as_deref().unwrap_or("-"),
            client.as_deref().unwrap_or("-"),
            scope.as_deref().unwrap_or("-"),
            expires_at.map_or_else(
                || "-".to_owned(),
                |exp| format!("in {} s", exp.saturating_sub(unix_now()))
            ),
        ));
    }
    Ok(())
}

async fn quote_command(
    client: &quotes_client::Client,
    api: &str,
    command: Command,
    json: bool,
) -> Result<(), Failure> {
    match command {
        Command::Show => {
            let quote = match client.get_quote().await {
                Ok(quote) => quote.into_inner(),
                Err(error) => return Err(api_failure(api, problem(error).await)),
            };
            if json {
                out(&json!(quote));
            } else {
                say(&quote.quote);
            }
            Ok(())
        }
        Command::Save { text } => {
            let text = if text == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|error| Failure::Usage(format!("cannot read stdin: {error}")))?;
                text
            } else {
                text
            };
            match client.put_quote(&SaveQuote { quote: text }).await {
                Ok(saved) => {
                    let created = saved.status() == reqwest::StatusCode::CREATED;
                    let quote = saved.into_inner();
                    if json {
                        let mut value = json!(quote);
                        value["created"] = json!(created);
                        out(&value);
                    } else {
                        say(if created {
                            "Saved."
                        } else {
                            "Saved (replaced)."
                        });
                    }
                    Ok(())
                }
                Err(error) => Err(api_failure(api, problem(error).await)),
            }
        }
        Command::Delete { yes } => {
            if !yes && !confirm_delete()? {
                if json {
                    out(&json!({ "deleted": false }));
                } else {
                    say("Kept.");
                }
                return Ok(());
            }
            match client.delete_quote().await {
                Ok(_) => {
                    if json {
                        out(&json!({ "deleted": true }));
                    } else {
                        say("Deleted.");
                    }
                    Ok(())
                }
                Err(error) => Err(api_failure(api, problem(error).await)),
            }
        }
        _ => Ok(()),
    }
}

/// Asks on the terminal; refuses when there is nobody to ask.
fn confirm_delete() -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Usage(
            "not deleting without --yes: stdin is not a terminal to ask on".to_owned(),
        ));
    }
    let _ = write!(std::io::stderr(), "Delete your quote? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|error| Failure::Usage(format!("cannot read the answer: {error}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// The API's refusal, with what to do next; no answer at all is the API
/// being out of reach.
fn api_failure(api: &str, problem: quotes_client::types::Problem) -> Failure {
    if problem.type_ == quotes_client::problem::NO_RESPONSE {
        return Failure::unreachable(api, &"no answer");
    }
    if problem.type_ == quotes_client::problem::REQUEST_NOT_SENT {
        return Failure::refused(problem.detail);
    }
    match problem.status {
        401 if std::env::var_os("QUOTES_TOKEN").is_some() => Failure::refused_then(
            problem.detail,
            "QUOTES_TOKEN was refused: set a fresh one, or unset it and run `quotes login`",
        ),
        401 => Failure::refused_then(problem.detail, "run `quotes login`"),
        403 => match problem.missing_scopes.as_deref() {
            Some(missing) if !missing.is_empty() => {
                let missing = missing.join(" ");
                Failure::refused_then(
                    problem.detail,
                    format!(
                        "your token lacks {missing}: run `quotes login --scope \"quotes:read quotes:write\"`"
                    ),
                )
            }
            _ => Failure::refused(problem.detail),
        },
        _ => Failure::refused(problem.detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_missing_scope_says_how_to_get_it() {
        let failure = api_failure(
            "http://api",
            quotes_client::types::Problem {
                type_: "urn:quotes:problem:insufficient-scope".to_owned(),
                title: "Forbidden".to_owned(),
                status: 403,
                detail: "The token lacks quotes:write.".to_owned(),
                missing_scopes: Some(vec!["quotes:write".to_owned()]),
            },
        );
        assert_eq!(failure.exit_code(), failure::REFUSED);
        assert!(failure.to_string().contains(
            "your token lacks quotes:write: run `quotes login --scope \"quotes:read quotes:write\"`"
        ));
    }

    #[test]
    fn no_answer_is_unreachable() {
        let failure = api_failure(
            "http://api",
            quotes_client::types::Problem {
                type_: quotes_client::problem::NO_RESPONSE.to_owned(),
                title: String::new(),
                status: 0,
                detail: String::new(),
                missing_scopes: None,
            },
        );
        assert_eq!(failure.exit_code(), failure::UNREACHABLE);
        assert_eq!(failure.to_string(), "cannot reach http://api: no answer");
    }
}
