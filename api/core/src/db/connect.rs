//! Opening one connection: TLS the way hosted Postgres (Neon and friends)
//! expects, made with tokio-postgres directly and then wrapped by
//! diesel-async, and the session settings every connection gets.

use std::sync::Arc;

use diesel::ConnectionError;
use diesel::connection::CacheSize;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::future::Either;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_postgres::config::SslMode;

use super::settings::{DatabaseSettings, DatabaseUrl, PoolMode, TlsMode};

/// Shown to Postgres operators in `pg_stat_activity`.
const APPLICATION_NAME: &str = "quotes-api";

/// Opens one connection with the configured TLS mode and session settings.
pub async fn connect(settings: &DatabaseSettings) -> Result<AsyncPgConnection, ConnectionError> {
    let url = &settings.url;
    let mut config = url.config.clone();
    config
        .application_name(APPLICATION_NAME)
        .connect_timeout(settings.connect_timeout);
    match url.tls {
        TlsMode::Disable => {
            config.ssl_mode(SslMode::Disable);
            let (client, connection) = config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(bad_connection)?;
            set_up(settings, client, connection).await
        }
        mode => {
            config.ssl_mode(if mode == TlsMode::Prefer {
                SslMode::Prefer
            } else {
                SslMode::Require
            });
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(url)?);
            let (client, connection) = config.connect(tls).await.map_err(bad_connection)?;
            set_up(settings, client, connection).await
        }
    }
}

/// A failed connection, with every cause it has: tokio-postgres says
/// "error performing TLS handshake", and its source says why (an unknown
/// issuer, a certificate for another name).
#[expect(clippy::needless_pass_by_value, reason = "used with map_err")]
fn bad_connection(error: tokio_postgres::Error) -> ConnectionError {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ConnectionError::BadConnection(message)
}

/// Wraps an open connection for diesel and gives it the session settings
/// the pool mode allows.
async fn set_up<S>(
    settings: &DatabaseSettings,
    client: tokio_postgres::Client,
    mut connection: tokio_postgres::Connection<tokio_postgres::Socket, S>,
) -> Result<AsyncPgConnection, ConnectionError>
where
    S: tokio_postgres::tls::TlsStream + Unpin + Send + 'static,
{
    match settings.pool_mode {
        PoolMode::Session => {
            let mut conn =
                AsyncPgConnection::try_from_client_and_connection(client, connection).await?;
            // A session setting rather than a startup option, because
            // connection poolers such as PgBouncer refuse unknown startup
            // options.
            conn.batch_execute(&format!(
                "SET statement_timeout = {}",
                settings.statement_timeout.as_millis()
            ))
            .await
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        // The server connection behind this one changes between
        // transactions: a statement prepared in one would be missing (or,
        // worse, another client's) in the next. So statements are prepared
        // and closed inside the transaction that uses them, the timeout is
        // set per transaction (`Database::run`), and diesel's own set-up
        // statements (`SET TIME ZONE`, `SET CLIENT_ENCODING`, which PgBouncer
        // then carries to every server connection this client gets) run in
        // a transaction of their own.
        PoolMode::Transaction => {
            let begin = client.batch_execute("BEGIN");
            // The connection has to be driven for `BEGIN` to be answered;
            // it is handed on to diesel, still open, once it is.
            match futures_util::future::select(std::pin::pin!(begin), &mut connection).await {
                Either::Left((begun, _)) => {
                    begun.map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
                }
                Either::Right(_) => {
                    return Err(ConnectionError::BadConnection(
                        "the connection closed while it was being set up".to_owned(),
                    ));
                }
            }
            let mut conn =
                AsyncPgConnection::try_from_client_and_connection(client, connection).await?;
            conn.batch_execute("COMMIT")
                .await
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
            conn.set_prepared_statement_cache_size(CacheSize::Disabled);
            Ok(conn)
        }
    }
}

/// The statement timeout as a transaction's own setting, for work behind a
/// transaction-mode pooler, where a session setting would not follow.
pub(super) fn local_timeout(settings: &DatabaseSettings) -> String {
    format!(
        "SET LOCAL statement_timeout = {}",
        settings.statement_timeout.as_millis()
    )
}

fn tls_config(url: &DatabaseUrl) -> Result<rustls::ClientConfig, ConnectionError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
    let config = match url.tls {
        TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
        TlsMode::VerifyCa | TlsMode::VerifyFull => {
            let mut roots = rustls::RootCertStore::empty();
            if url.roots.is_empty() {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            } else {
                let (_, ignored) = roots.add_parsable_certificates(url.roots.iter().cloned());
                if roots.is_empty() {
                    return Err(ConnectionError::BadConnection(format!(
                        "sslrootcert holds no usable certificate ({ignored} ignored)"
                    )));
                }
            }
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
            if url.tls == TlsMode::VerifyFull {
                builder.with_webpki_verifier(webpki).with_no_client_auth()
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
                    .with_no_client_auth()
            }
        }
    };
    Ok(config)
}

/// `sslmode=require`: encrypted, but (as in libpq) the certificate is not checked.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain must reach a trusted root; the name may differ.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                NotValidForName | NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
