//! `quotes-api`: parse the configuration, set up logging, migrate, serve.

use std::process::ExitCode;

use clap::Parser;
use quotes_api::Application;
use quotes_api::config::{Cli, Command, Config, LogFormat, database_settings};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => return fail(&one_line(&error.to_string())),
    };
    match cli.command {
        Some(Command::Migrate(args)) => {
            let settings = match database_settings(&args.database) {
                Ok(settings) => settings,
                Err(error) => return fail(&format!("configuration error: {error}")),
            };
            quotes_api::logging::init(LogFormat::Text);
            if args.create_database {
                match quotes_core::db::create_database_if_missing(&settings).await {
                    Ok(true) => tracing::info!("database created"),
                    Ok(false) => {}
                    Err(error) => return fail(&error.to_string()),
                }
            }
            match quotes_core::db::migrate(&settings).await {
                Ok(applied) => {
                    tracing::info!(applied, "migrations applied");
                    ExitCode::SUCCESS
                }
                Err(error) => fail(&error.to_string()),
            }
        }
        Some(Command::DevToken(args)) => dev_token(&args),
        Some(Command::Healthcheck(args)) => healthcheck(&args.bind_addr),
        Some(Command::Openapi) => match quotes_api::openapi::yaml() {
            Ok(yaml) => {
                #[expect(clippy::print_stdout, reason = "the document is this command's output")]
                {
                    print!("{yaml}");
                }
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        },
        Some(Command::Serve(args)) => serve(&args).await,
        None => serve(&cli.serve).await,
    }
}

async fn serve(args: &quotes_api::config::ServeArgs) -> ExitCode {
    let config = match Config::from_args(args) {
        Ok(config) => config,
        Err(error) => return fail(&format!("configuration error: {error}")),
    };
    quotes_api::logging::init(config.log_format);
    let bind_addr = config.bind_addr;
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(error) => return fail(&format!("cannot listen on BIND_ADDR {bind_addr}: {error}")),
    };
    // Its own target, so that a supervisor (or a test) that bound port 0
    // can ask for this one line and read the ports from it.
    tracing::info!(
        target: "quotes_api::listening",
        address = %bind_addr,
        port = app.port(),
        metrics_port = app.metrics_port(),
        "quotes-api listening"
    );
    match app.run().await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => fail(&format!("server error: {error}")),
    }
}

/// Prints a token from the development provider's key.
#[cfg(feature = "dev-idp")]
fn dev_token(args: &quotes_api::config::DevTokenArgs) -> ExitCode {
    use quotes_api::config::{dev_token, dev_token_bind_addr};
    let (bind_addr, token) =
        match dev_token_bind_addr(args).and_then(|addr| Ok((addr, dev_token(args)?))) {
            Ok(parsed) => parsed,
            Err(error) => return fail(&format!("configuration error: {error}")),
        };
    // The default lifetime: `dev-token` has no setting of its own.
    let settings = quotes_api::dev_idp::DevIdpSettings::new(args.dev_idp_key_file.clone());
    let issuer = quotes_api::dev_idp::issuer_for(bind_addr);
    let token = quotes_api::dev_idp::DevIdp::load(&settings, issuer)
        .map_err(|e| e.to_string())
        .and_then(|idp| idp.mint_dev_token(&token).map_err(|e| e.to_string()));
    match token {
        Ok(token) => {
            #[expect(clippy::print_stdout, reason = "the token is this command's output")]
            {
                println!("{token}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => fail(&error),
    }
}

/// A build without the development provider mints nothing.
#[cfg(not(feature = "dev-idp"))]
fn dev_token(_: &quotes_api::config::DevTokenArgs) -> ExitCode {
    fail(&format!("dev-token: {}", quotes_api::config::NO_DEV_IDP))
}

/// `GET /readyz` on the local server over plain TCP, so the smallest
/// container images need no HTTP client.
fn healthcheck(bind_addr: &str) -> ExitCode {
    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
    use std::time::Duration;

    let Ok(mut addr) = bind_addr.parse::<SocketAddr>() else {
        return fail("configuration error: BIND_ADDR: expected an address such as 127.0.0.1:8080");
    };
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            Ipv4Addr::LOCALHOST.into()
        } else {
            Ipv6Addr::LOCALHOST.into()
        });
    }
    let timeout = Duration::from_secs(3);
    let status = TcpStream::connect_timeout(&addr, timeout).and_then(|mut stream| {
        stream.set_read_timeout(Some(timeout))?;
        write!(stream, "GET /readyz HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head)
    });
    match status {
        Ok(head) if head.ends_with(b" 200") => ExitCode::SUCCESS,
        Ok(head) => fail(&format!(
            "not ready: {}",
            String::from_utf8_lossy(&head).trim()
        )),
        Err(error) => fail(&format!("no answer from {addr}: {error}")),
    }
}

/// clap's messages span several lines; operators get one.
fn one_line(message: &str) -> String {
    message
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

fn fail(message: &str) -> ExitCode {
    eprintln!(
        "quotes-api: {}",
        one_line(message).trim_start_matches("error: ")
    );
    ExitCode::from(2)
}
