//! What the command line remembers between runs. Non-secret settings
//! (the API's address, and the sign-in's issuer, client, scopes and
//! expiry) go to `config.json` in the config directory (`QUOTES_CONFIG_DIR`,
//! or the platform's: `~/.config/quotes` on Linux). The tokens go to the
//! OS credential store (Keychain, Windows Credential Manager, the Linux
//! kernel's keyutils); where none works, to a file only its owner can
//! read, and only when asked (`--insecure-storage`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::failure::Failure;

/// The credential store's service name.
const SERVICE: &str = "quotes-cli";

/// The settings file, in the config directory.
const CONFIG_FILE: &str = "config.json";

/// The token file, when the credential store cannot be used.
const CREDENTIALS_FILE: &str = "credentials.json";

/// Where the tokens of a sign-in are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    /// The OS credential store.
    CredentialStore,
    /// A file only its owner can read (`--insecure-storage`).
    File,
}

/// A sign-in, as remembered: nothing secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The API signed in to.
    pub api: String,
    pub issuer: String,
    pub client_id: String,
    /// The scope the provider granted.
    pub scope: String,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    /// When the access token expires, in seconds since 1970.
    pub access_expires_at: u64,
    pub storage: Storage,
}

/// The settings file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Config {
    /// The API last signed in to, used when no `--api` is given.
    api: Option<String>,
    session: Option<Session>,
}

/// The tokens of a sign-in.
#[derive(Clone, Serialize, Deserialize)]
pub struct Secrets {
    pub access_token: String,
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

/// The config directory and the way to the tokens.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    /// Whether a file may hold the tokens when the credential store fails.
    insecure_storage: bool,
}

impl Store {
    /// The store in `QUOTES_CONFIG_DIR`, or the platform's config directory.
    pub fn open(insecure_storage: bool) -> Result<Self, Failure> {
        let dir = match std::env::var_os("QUOTES_CONFIG_DIR").filter(|dir| !dir.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => directories::ProjectDirs::from("", "", "quotes")
                .map(|dirs| dirs.config_dir().to_path_buf())
                .ok_or_else(|| {
                    Failure::Usage(
                        "no config directory is known here: set QUOTES_CONFIG_DIR".to_owned(),
                    )
                })?,
        };
        Ok(Self {
            dir,
            insecure_storage,
        })
    }

    /// The API remembered from the last sign-in.
    pub fn remembered_api(&self) -> Option<String> {
        self.load().api
    }

    /// The sign-in to `api`, if there is one.
    pub fn session(&self, api: &str) -> Option<Session> {
        self.load().session.filter(|session| session.api == api)
    }

    /// Keeps a new sign-in: its tokens first, then its description. Says
    /// why the credential store was not used, when the tokens went to the
    /// file instead.
    pub fn sign_in(
        &self,
        session: &mut Session,
        secrets: &Secrets,
    ) -> Result<Option<String>, Failure> {
        let (storage, why_not_the_store) = self.keep_secrets(secrets)?;
        session.storage = storage;
        self.save(&Config {
            api: Some(session.api.clone()),
            session: Some(session.clone()),
        })?;
        Ok(why_not_the_store)
    }

    /// Updates a sign-in after its tokens were renewed.
    pub fn renewed(&self, session: &Session, secrets: &Secrets) -> Result<(), Failure> {
        match session.storage {
            Storage::CredentialStore => self.keyring_set(secrets)?,
            Storage::File => self.file_set(secrets)?,
        }
        self.save(&Config {
            api: Some(session.api.clone()),
            session: Some(session.clone()),
        })
    }

    /// Holds off other `quotes` processes renewing the same sign-in until
    /// the returned file is dropped: a refresh token is spent by its use,
    /// so two renewals with one token would look like a stolen token and
    /// end the sign-in.
    pub fn lock_renewal(&self) -> Result<std::fs::File, Failure> {
        let path = self.dir.join(".renewal.lock");
        let failure = |error: std::io::Error| {
            Failure::refused(format!("cannot lock {}: {error}", path.display()))
        };
        std::fs::create_dir_all(&self.dir).map_err(failure)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(failure)?;
        file.lock().map_err(failure)?;
        Ok(file)
    }

    /// The tokens of `session`.
    pub fn secrets(&self, session: &Session) -> Option<Secrets> {
        let text = match session.storage {
            Storage::CredentialStore => self.entry().ok()?.get_password().ok()?,
            Storage::File => std::fs::read_to_string(self.dir.join(CREDENTIALS_FILE)).ok()?,
        };
        serde_json::from_str(&text).ok()
    }

    /// Forgets the sign-in, and its tokens wherever they are.
    pub fn forget(&self) -> Result<(), Failure> {
        if let Ok(entry) = self.entry() {
            // Nothing there is as good as deleted.
            let _ = entry.delete_credential();
        }
        match std::fs::remove_file(self.dir.join(CREDENTIALS_FILE)) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(self.file_failure(CREDENTIALS_FILE, &error)),
        }
        let api = self.load().api;
        self.save(&Config { api, session: None })
    }

    /// Refuses at once, before a sign-in, when its tokens could be kept
    /// nowhere: the credential store is turned off and no file is allowed.
    pub fn can_keep_tokens(&self) -> Result<(), Failure> {
        if os_store_wanted() || self.insecure_storage {
            return Ok(());
        }
        Err(Failure::refused_then(
            "the credential store is turned off (QUOTES_CREDENTIAL_STORE=none)",
            "run `quotes login --insecure-storage` (or set QUOTES_INSECURE_STORAGE=1) to keep \
             the tokens in a file only you can read",
        ))
    }

    fn keep_secrets(&self, secrets: &Secrets) -> Result<(Storage, Option<String>), Failure> {
        match self.keyring_set(secrets) {
            Ok(()) => {
                // A file left by an earlier sign-in is not needed any more.
                let _ = std::fs::remove_file(self.dir.join(CREDENTIALS_FILE));
                Ok((Storage::CredentialStore, None))
            }
            Err(failure) if self.insecure_storage => {
                self.file_set(secrets)?;
                Ok((Storage::File, Some(failure.to_string())))
            }
            Err(Failure::Refused { detail, .. }) => Err(Failure::refused_then(
                detail,
                "run `quotes login --insecure-storage` (or set QUOTES_INSECURE_STORAGE=1) to \
                 keep the tokens in a file only you can read",
            )),
            Err(other) => Err(other),
        }
    }

    /// The credential store's entry for this config directory, so that two
    /// directories (two accounts, or tests) do not share tokens.
    fn entry(&self) -> keyring::Result<keyring::Entry> {
        if !os_store_wanted() {
            return Err(keyring::Error::NoEntry);
        }
        keyring::Entry::new(SERVICE, &self.dir.display().to_string())
    }

    fn keyring_set(&self, secrets: &Secrets) -> Result<(), Failure> {
        if !os_store_wanted() {
            return Err(Failure::refused(
                "the credential store is turned off (QUOTES_CREDENTIAL_STORE=none)",
            ));
        }
        let text = serde_json::to_string(secrets).unwrap_or_default();
        self.entry()
            .and_then(|entry| entry.set_password(&text))
            .map_err(|error| Failure::refused(format!("no credential store works here ({error})")))
    }

    fn file_set(&self, secrets: &Secrets) -> Result<(), Failure> {
        let text = serde_json::to_string(secrets).unwrap_or_default();
        write_private(&self.dir, CREDENTIALS_FILE, text.as_bytes())
            .map_err(|error| self.file_failure(CREDENTIALS_FILE, &error))
    }

    fn load(&self) -> Config {
        std::fs::read_to_string(self.dir.join(CONFIG_FILE))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    fn save(&self, config: &Config) -> Result<(), Failure> {
        let text = serde_json::to_string_pretty(config).unwrap_or_default();
        write_private(&self.dir, CONFIG_FILE, text.as_bytes())
            .map_err(|error| self.file_failure(CONFIG_FILE, &error))
    }

    fn file_failure(&self, name: &str, error: &std::io::Error) -> Failure {
        Failure::refused(format!(
            "cannot write {}: {error}",
            self.dir.join(name).display()
        ))
    }
}

/// Whether to use the OS credential store: not with
/// `QUOTES_CREDENTIAL_STORE=none` (tests, and machines whose store should
/// not be touched).
fn os_store_wanted() -> bool {
    std::env::var("QUOTES_CREDENTIAL_STORE").map_or(true, |value| value != "none")
}

/// Writes `dir/name` so only its owner can read it, replacing it whole.
fn write_private(dir: &Path, name: &str, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(".{name}.new"));
    let _ = std::fs::remove_file(&temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&temporary, dir.join(name))
}
