//! The `quotes` binary end to end: a real API with its development
//! provider on a random port and a fresh database, the real binary with a
//! config directory of its own, and the test playing the person who
//! enters the user code on the provider's page.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use quotes_api::dev_idp::{Clients, DevIdp, DevIdpSettings, issuer_for};
use quotes_test_support::{TestDatabase, free_port, test_config, unique, wait_until_ready};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// A registered client of the provider, which may introspect tokens.
const INTROSPECTOR: (&str, &str) = ("backup", "hunter2");

/// The API on a random loopback port, stopped when dropped.
struct Api {
    url: String,
    settings: DevIdpSettings,
    handle: actix_web::dev::ServerHandle,
    _database: TestDatabase,
}

impl Api {
    /// The API, its provider's tokens living `token_ttl`.
    async fn start(token_ttl: Duration) -> Self {
        let database = TestDatabase::create().await;
        let settings = DevIdpSettings {
            token_ttl,
            clients: Clients::parse("backup:hunter2:quotes:read quotes:write").unwrap(),
            ..DevIdpSettings::new(
                std::env::temp_dir().join(format!("{}.pem", unique("quotes-cli-dev-idp"))),
            )
        };
        let mut config = test_config(&database.url(), "");
        config.dev_idp = Some(settings.clone());
        config.metrics = quotes_api::config::MetricsConfig::default();
        let app = Box::pin(quotes_api::Application::build(config))
            .await
            .unwrap();
        let url = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        tokio::spawn(app.run());
        wait_until_ready(&format!("{url}/readyz"), Duration::from_secs(15)).await;
        Self {
            url,
            settings,
            handle,
            _database: database,
        }
    }

    /// A token for `user` as `quotes-api dev-token` prints it.
    fn dev_token(&self, user: &str) -> String {
        let address = self.url.trim_start_matches("http://").parse().unwrap();
        DevIdp::load(&self.settings, issuer_for(address))
            .unwrap()
            .mint(user)
            .unwrap()
    }

    /// What introspection says of `token`.
    async fn introspect(&self, token: &str) -> Value {
        reqwest::Client::new()
            .post(format!("{}/dev-idp/introspect", self.url))
            .basic_auth(INTROSPECTOR.0, Some(INTROSPECTOR.1))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        let _ = std::fs::remove_file(&self.settings.key_file);
    }
}

/// A config directory of the test's own, removed when dropped.
struct ConfigDir(PathBuf);

impl ConfigDir {
    fn new() -> Self {
        Self(std::env::temp_dir().join(unique("quotes-cli-config")))
    }
}

impl Drop for ConfigDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `quotes` binary with `dir` as its config directory, tokens kept
/// in a file there (never in the credential store of whoever runs the
/// tests), and nothing from their environment.
fn quotes(dir: &Path, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_quotes"));
    command
        .args(args)
        .arg("--insecure-storage")
        .env("QUOTES_CONFIG_DIR", dir)
        .env("QUOTES_CREDENTIAL_STORE", "none")
        .env_remove("QUOTES_TOKEN")
        .env_remove("QUOTES_API")
        .env_remove("QUOTES_CLIENT_ID")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

async fn run(dir: &Path, args: &[&str]) -> Output {
    quotes(dir, args).output().await.unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}\n{}", stdout(output), stderr(output)))
}

/// `quotes login` as a person does it: the command prints a code, the
/// person enters it on the provider's page, signs in as `user` and
/// leaves every box the page shows ticked.
async fn login(api: &Api, dir: &Path, extra: &[&str], user: &str) -> Output {
    let mut args = vec!["--api", &api.url, "login", "--no-browser"];
    args.extend_from_slice(extra);
    let mut login = Running::start(dir, &args);
    let user_code = login.user_code().await;
    approve(api, &user_code, user).await;
    let (output, rest) = login.finish().await;
    assert_eq!(output.status.code(), Some(0), "{}\n{rest}", stdout(&output));
    output
}

/// A `quotes` command running, read as it writes to standard error.
struct Running {
    child: tokio::process::Child,
    stderr: tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
}

impl Running {
    fn start(dir: &Path, args: &[&str]) -> Self {
        let mut child = quotes(dir, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        Self { child, stderr }
    }

    /// What `find` makes of the first line of standard error it accepts.
    async fn until<T>(&mut self, what: &str, find: impl Fn(&str) -> Option<T>) -> T {
        loop {
            let line = self
                .stderr
                .next_line()
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("quotes printed no {what}"));
            if let Some(found) = find(&line) {
                return found;
            }
        }
    }

    /// The code `quotes login` asks the person to enter.
    async fn user_code(&mut self) -> String {
        self.until("code", |line| {
            line.split_once("enter the code: ")
                .map(|(_, code)| code.trim().to_owned())
        })
        .await
    }

    /// How the command ended, and the rest of its standard error.
    async fn finish(self) -> (Output, String) {
        let mut rest = String::new();
        self.stderr
            .into_inner()
            .read_to_string(&mut rest)
            .await
            .unwrap();
        (self.child.wait_with_output().await.unwrap(), rest)
    }
}

/// The person's part: the device page, then its form, sent as the
/// browser sends it from the provider's own page.
async fn approve(api: &Api, user_code: &str, user: &str) {
    answer(api, user_code, user, true).await;
}

/// The person's part, allowing or denying.
async fn answer(api: &Api, user_code: &str, user: &str, allow: bool) {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let page = browser
        .get(format!("{}/dev-idp/device", api.url))
        .query(&[("user_code", user_code)])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let mut form = vec![("user_code", user_code), ("user", user)];
    if !allow {
        form.push(("deny", "denied"));
    }
    for scope in ["quotes:read", "quotes:write"] {
        if page.contains(&format!("name=\"{scope}\" value=\"granted\" checked")) {
            form.push((scope, "granted"));
        }
    }
    let answer = browser
        .post(format!("{}/dev-idp/device", api.url))
        .header("origin", &api.url)
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("You may close this window")
    );
}

#[tokio::test]
async fn a_device_sign_in_saves_shows_and_deletes_a_quote() {
    let api = Api::start(Duration::from_secs(3600)).await;
    let dir = ConfigDir::new();
    let signed_in = login(&api, &dir.0, &[], "cli_carol").await;
    assert!(stdout(&signed_in).contains("as cli_carol with quotes:read quotes:write"));

    // The API is remembered: no --api from here on.
    let saved = run(&dir.0, &["save", "--json", "Talk is cheap."]).await;
    assert_eq!(saved.status.code(), Some(0), "{}", stderr(&saved));
    assert_eq!(json(&saved)["created"], true);
    assert_eq!(json(&saved)["quote"], "Talk is cheap.");

    let shown = run(&dir.0, &["show", "--json"]).await;
    assert_eq!(shown.status.code(), Some(0), "{}", stderr(&shown));
    assert_eq!(json(&shown)["quote"], "Talk is cheap.");
    let shown = run(&dir.0, &["show"]).await;
    assert_eq!(stdout(&shown), "Talk is cheap.\n");

    let who = run(&dir.0, &["whoami", "--json"]).await;
    let who = json(&who);
    assert_eq!(who["subject"], "cli_carol");
    assert_eq!(who["client_id"], "quotes-cli");
    assert_eq!(who["scope"], "quotes:read quotes:write");

    // A token far from its expiry is used as it is.
    let first = stdout(&run(&dir.0, &["token"]).await);
    let second = stdout(&run(&dir.0, &["token"]).await);
    assert_eq!(first, second);

    // Nobody to ask: no deletion without --yes.
    let refused = run(&dir.0, &["delete"]).await;
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let deleted = run(&dir.0, &["delete", "--yes", "--json"]).await;
    assert_eq!(deleted.status.code(), Some(0), "{}", stderr(&deleted));
    assert_eq!(json(&deleted)["deleted"], true);
    let gone = run(&dir.0, &["show", "--json"]).await;
    assert_eq!(gone.status.code(), Some(1));
    assert_eq!(json(&gone)["error"], "refused");
}

#[tokio::test]
async fn a_read_only_sign_in_is_refused_a_save_and_told_what_to_do() {
    let api = Api::start(Duration::from_secs(3600)).await;
    let dir = ConfigDir::new();
    let signed_in = login(&api, &dir.0, &["--scope", "quotes:read"], "cli_rita").await;
    assert!(
        stdout(&signed_in).contains("with quotes:read."),
        "{}",
        stdout(&signed_in)
    );

    let refused = run(&dir.0, &["save", "Read only."]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains(
            "your token lacks quotes:write: run `quotes login --scope \"quotes:read quotes:write\"`"
        ),
        "{}",
        stderr(&refused)
    );
    // Reading is allowed: there is just nothing to read yet.
    let nothing = run(&dir.0, &["show"]).await;
    assert_eq!(nothing.status.code(), Some(1));
    assert!(!stderr(&nothing).contains("lacks"), "{}", stderr(&nothing));
}

#[tokio::test]
async fn quotes_token_overrides_the_sign_in_and_without_either_exit_3() {
    let api = Api::start(Duration::from_secs(3600)).await;
    let dir = ConfigDir::new();

    let anonymous = run(&dir.0, &["--api", &api.url, "show"]).await;
    assert_eq!(anonymous.status.code(), Some(3));
    assert!(
        stderr(&anonymous).contains("quotes login"),
        "{}",
        stderr(&anonymous)
    );

    let token = api.dev_token("cli_script");
    let saved = quotes(&dir.0, &["--api", &api.url, "save", "-"])
        .env("QUOTES_TOKEN", &token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let saved = {
        let mut saved = saved;
        let mut stdin = saved.stdin.take().unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut stdin, b"From a pipe.\n")
            .await
            .unwrap();
        drop(stdin);
        saved.wait_with_output().await.unwrap()
    };
    assert_eq!(saved.status.code(), Some(0), "{}", stderr(&saved));
    let shown = quotes(&dir.0, &["show", "--json"])
        .env("QUOTES_API", &api.url)
        .env("QUOTES_TOKEN", &token)
        .output()
        .await
        .unwrap();
    assert_eq!(json(&shown)["quote"], "From a pipe.");
}

#[tokio::test]
async fn an_unreachable_api_exits_4_with_one_line_naming_it() {
    let dir = ConfigDir::new();
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let shown = quotes(&dir.0, &["--api", &nowhere, "show"])
        .env("QUOTES_TOKEN", "any")
        .output()
        .await
        .unwrap();
    assert_eq!(shown.status.code(), Some(4), "{}", stderr(&shown));
    assert_eq!(stderr(&shown).lines().count(), 1, "{}", stderr(&shown));
    assert!(stderr(&shown).contains(&nowhere), "{}", stderr(&shown));

    let login = run(&dir.0, &["--api", &nowhere, "login", "--no-browser"]).await;
    assert_eq!(login.status.code(), Some(4), "{}", stderr(&login));
    assert!(stderr(&login).contains(&nowhere), "{}", stderr(&login));
}

#[tokio::test]
async fn logout_revokes_the_sign_in_at_the_provider() {
    let api = Api::start(Duration::from_secs(3600)).await;
    let dir = ConfigDir::new();
    login(&api, &dir.0, &[], "cli_lou").await;
    let token = stdout(&run(&dir.0, &["token"]).await).trim().to_owned();
    assert_eq!(api.introspect(&token).await["active"], true);

    let out = run(&dir.0, &["logout", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["revoked"], true);
    // Revoking the refresh token revoked what it issued.
    assert_eq!(api.introspect(&token).await["active"], false);
    let after = run(&dir.0, &["show"]).await;
    assert_eq!(after.status.code(), Some(3), "{}", stderr(&after));
}

#[tokio::test]
async fn an_access_token_near_its_expiry_is_renewed_on_the_next_command() {
    // Two seconds is within the renewal margin from the start.
    let api = Api::start(Duration::from_secs(2)).await;
    let dir = ConfigDir::new();
    login(&api, &dir.0, &[], "cli_remy").await;
    let first = stdout(&run(&dir.0, &["token"]).await);
    let second = run(&dir.0, &["token"]).await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let second = stdout(&second);
    assert_ne!(first, second);
    let saved = run(&dir.0, &["save", "Renewed."]).await;
    assert_eq!(saved.status.code(), Some(0), "{}", stderr(&saved));

    // Commands renewing at once take turns: none spends a refresh token
    // another has spent, which would end the sign-in.
    let together: Vec<Output> =
        futures_util::future::join_all((0..4).map(|_| run(&dir.0, &["token"]))).await;
    for output in &together {
        assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    }
    let after = run(&dir.0, &["show"]).await;
    assert_eq!(after.status.code(), Some(0), "{}", stderr(&after));
}

#[tokio::test]
async fn completions_are_printed_for_bash() {
    let dir = ConfigDir::new();
    let out = run(&dir.0, &["completions", "bash"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("quotes"), "{}", stdout(&out));
}

#[tokio::test]
async fn login_in_the_browser_comes_back_to_a_loopback_listener() {
    let api = Api::start(Duration::from_secs(3600)).await;
    let dir = ConfigDir::new();
    let mut login = Running::start(
        &dir.0,
        &["--api", &api.url, "login", "--no-browser", "--browser"],
    );
    let authorize = login
        .until("address", |line| {
            line.strip_prefix("To sign in, open ")
                .map(|address| url::Url::parse(address.trim()).unwrap())
        })
        .await;
    let query: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    let value = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap()
    };
    assert_eq!(value("code_challenge_method"), "S256");
    assert_eq!(value("resource"), api.url);
    assert!(value("redirect_uri").starts_with("http://127.0.0.1:"));

    // The person's browser: the page, then its form, then the redirect.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser.get(authorize.clone()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let mut form = query.clone();
    form.push(("user".to_owned(), "cli_bea".to_owned()));
    form.push(("quotes:read".to_owned(), "granted".to_owned()));
    form.push(("quotes:write".to_owned(), "granted".to_owned()));
    let signed_in = browser
        .post(format!("{}/dev-idp/authorize", api.url))
        .header("origin", &api.url)
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let back = signed_in.headers()["location"].to_str().unwrap().to_owned();
    let landed = browser.get(back).send().await.unwrap();
    assert_eq!(landed.status(), 200);
    assert!(
        landed
            .text()
            .await
            .unwrap()
            .contains("You may close this window")
    );

    let (output, _) = login.finish().await;
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout(&output).contains("as cli_bea"),
        "{}",
        stdout(&output)
    );
    let saved = run(&dir.0, &["save", "Through the browser."]).await;
    assert_eq!(saved.status.code(), Some(0), "{}", stderr(&saved));
}

#[tokio::test]
async fn login_refuses_at_once_when_the_tokens_could_be_kept_nowhere() {
    let dir = ConfigDir::new();
    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_quotes"))
        .args(["--api", "http://127.0.0.1:9", "login", "--no-browser"])
        .env("QUOTES_CONFIG_DIR", &dir.0)
        .env("QUOTES_CREDENTIAL_STORE", "none")
        .env_remove("QUOTES_INSECURE_STORAGE")
        .output()
        .await
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("--insecure-storage"),
        "{}",
        stderr(&refused)
    );
}

#[tokio::test]
async fn a_denied_login_exits_1_and_signs_nobody_in() {
    let api = Api::start(Duration::from_secs(3600)).await;
    let dir = ConfigDir::new();
    let mut login = Running::start(&dir.0, &["--api", &api.url, "login", "--no-browser"]);
    let user_code = login.user_code().await;
    answer(&api, &user_code, "cli_dan", false).await;
    let (output, rest) = login.finish().await;
    assert_eq!(output.status.code(), Some(1), "{rest}");
    assert!(rest.contains("denied"), "{rest}");
    let after = run(&dir.0, &["show"]).await;
    assert_eq!(after.status.code(), Some(3));

    // A script's own token needs no API to be shown.
    let who = quotes(&dir.0, &["whoami", "--json"])
        .env("QUOTES_TOKEN", api.dev_token("cli_script"))
        .output()
        .await
        .unwrap();
    assert_eq!(json(&who)["subject"], "cli_script");
    assert_eq!(json(&who)["source"], "QUOTES_TOKEN");
}
