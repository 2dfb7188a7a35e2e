//! What a client can make a connection cost: every request's head has a
//! deadline (not only a connection's first), an address holds a bounded
//! share of the connections, and idle connections make way for new ones
//! when a worker runs short.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::helpers::{Setup, TestApp, spawn_app_with};

/// Longer than any deadline these tests set: a connection still open
/// then would stay open.
const GENEROUS: Duration = Duration::from_secs(20);

/// A connection to `app` from the loopback address `127.0.0.{host}`.
fn connect_from(app: &TestApp, host: u8) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)), 0);
    socket.bind(&local.into()).unwrap();
    socket.connect(&app.socket_addr().into()).unwrap();
    socket.into()
}

/// Everything the server sends until it closes the connection, or until
/// `within` has passed (then the test fails: the server kept it open).
fn read_to_close(mut stream: TcpStream, within: Duration) -> String {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => {}
        // A reset after the answer is a close too.
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(error) => panic!(
            "the connection stayed open ({error}); read so far: {}",
            String::from_utf8_lossy(&answer)
        ),
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Reads one whole answer to `GET /healthz` (its length is known).
fn read_health(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(GENEROUS)).unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !answer.ends_with(b"{\"status\":\"ok\"}") {
        let read = stream.read(&mut chunk).unwrap();
        assert!(
            read > 0,
            "closed early: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&chunk[..read]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// Asserts an answer the connection layer wrote: its status, the headers
/// every answer of the API carries, and a problem body.
fn assert_connection_answer(answer: &str, status: &str) {
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole answer");
    assert!(head.starts_with(&format!("HTTP/1.1 {status}")), "{answer}");
    let head = head.to_ascii_lowercase();
    for line in [
        "x-content-type-options: nosniff",
        "x-frame-options: deny",
        "referrer-policy: no-referrer",
        "content-type: application/problem+json",
        "connection: close",
    ] {
        assert!(head.contains(line), "{line} in {head}");
    }
    assert!(head.contains("content-security-policy: "), "{head}");
    assert!(head.contains("x-request-id: "), "{head}");
    let problem: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(problem["status"].to_string(), status[..3]);
}

async fn spawn_with_headers_due_in(timeout: Duration) -> TestApp {
    spawn_app_with(Setup {
        configure: Box::new(move |config, _| config.connections.header_timeout = timeout),
        ..Setup::default()
    })
    .await
}

#[tokio::test]
async fn a_second_request_left_half_sent_is_answered_408_and_closed() {
    let app = spawn_with_headers_due_in(Duration::from_secs(1)).await;
    let mut stream = connect_from(&app, 1);
    let answer = tokio::task::spawn_blocking(move || {
        stream.write_all(HEALTH).unwrap();
        assert!(read_health(&mut stream).starts_with("HTTP/1.1 200"));
        // One byte of the next request, then nothing.
        stream.write_all(b"G").unwrap();
        read_to_close(stream, GENEROUS)
    })
    .await
    .unwrap();
    assert_connection_answer(&answer, "408");
    assert!(answer.contains("did not arrive within"), "{answer}");
}

#[tokio::test]
async fn a_head_trickled_a_line_at_a_time_is_cut_off_at_its_deadline() {
    let app = spawn_with_headers_due_in(Duration::from_secs(1)).await;
    let mut stream = connect_from(&app, 1);
    let (answer, lines) = tokio::task::spawn_blocking(move || {
        stream.write_all(HEALTH).unwrap();
        read_health(&mut stream);
        stream.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
        // A header line every 200 ms, each well within any idle timeout,
        // until the server answers.
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let started = Instant::now();
        let mut lines = 0;
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(read) => answer.extend_from_slice(&chunk[..read]),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(started.elapsed() < GENEROUS, "never cut off");
                    if stream.write_all(b"X-Trickle: 1\r\n").is_err() {
                        break;
                    }
                    lines += 1;
                }
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(error) => panic!("{error}"),
            }
        }
        (String::from_utf8_lossy(&answer).into_owned(), lines)
    })
    .await
    .unwrap();
    assert_connection_answer(&answer, "408");
    // The head was still arriving when it was cut: an idle timeout alone
    // would never have fired.
    assert!(lines >= 2, "{lines} lines");
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_without_an_answer() {
    let app = spawn_with_headers_due_in(Duration::from_secs(1)).await;
    let stream = connect_from(&app, 1);
    let answer = tokio::task::spawn_blocking(move || read_to_close(stream, GENEROUS))
        .await
        .unwrap();
    assert_eq!(answer, "");
}

#[tokio::test]
async fn requests_on_one_connection_each_get_their_own_deadline() {
    // A client that sends whole requests, however many and however spaced,
    // is never cut off by the header deadline.
    let app = spawn_with_headers_due_in(Duration::from_secs(1)).await;
    let mut stream = connect_from(&app, 1);
    let pause = tokio::time::sleep(Duration::from_millis(1500));
    for _ in 0..3 {
        stream.write_all(HEALTH).unwrap();
        let mut moved = stream.try_clone().unwrap();
        let answer = tokio::task::spawn_blocking(move || read_health(&mut moved))
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    // Longer idle than the header deadline, shorter than keep-alive: the
    // connection still serves.
    pause.await;
    stream.write_all(HEALTH).unwrap();
    let answer = tokio::task::spawn_blocking(move || read_health(&mut stream))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn thousands_of_half_sent_requests_leave_a_fresh_client_served() {
    const WORKER_HOLDS: usize = 1000;
    let app = spawn_app_with(Setup {
        configure: Box::new(|config, _| {
            config.connections.header_timeout = Duration::from_secs(1);
            // A worker that holds few connections, and no per-address
            // share: the attack fills the worker, and only the deadline
            // can free it.
            config.connections.max_connections = Some(WORKER_HOLDS);
            config.connections.max_per_address = None;
        }),
        ..Setup::default()
    })
    .await;
    let addr = app.socket_addr();
    let (full, worker_full) = std::sync::mpsc::channel();
    let attack = tokio::task::spawn_blocking(move || {
        let mut attackers: Vec<TcpStream> = (0..2 * WORKER_HOLDS)
            .map(|_| {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream.write_all(HEALTH).unwrap();
                stream
            })
            .collect();
        // As the worker takes each one: read its answer, then send the
        // first byte of another request, and nothing more.
        for (sent, stream) in attackers.iter_mut().enumerate() {
            read_health(stream);
            stream.write_all(b"G").unwrap();
            if sent + 1 == WORKER_HOLDS {
                full.send(()).unwrap();
            }
        }
        attackers
    });
    tokio::task::spawn_blocking(move || worker_full.recv().unwrap())
        .await
        .unwrap();

    // The worker is full of them, and more wait to be accepted.
    let fresh = reqwest::Client::builder()
        .timeout(GENEROUS)
        .build()
        .unwrap();
    let response = fresh.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);

    // And every attacking connection was closed: answered 408 if it had
    // begun its second request, closed quietly if it was still idle when
    // the worker ran short.
    let attackers = attack.await.unwrap();
    let answers = tokio::task::spawn_blocking(move || {
        attackers
            .into_iter()
            .map(|stream| read_to_close(stream, GENEROUS))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let timed_out = answers
        .iter()
        .filter(|answer| answer.starts_with("HTTP/1.1 408"))
        .count();
    let quiet = answers.iter().filter(|answer| answer.is_empty()).count();
    assert_eq!(timed_out + quiet, 2 * WORKER_HOLDS);
    assert!(timed_out > 0);
}

#[tokio::test]
async fn an_address_holds_at_most_its_share_of_connections() {
    let app = spawn_app_with(Setup {
        configure: Box::new(|config, _| config.connections.max_per_address = Some(8)),
        ..Setup::default()
    })
    .await;
    let mut held: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut stream = connect_from(&app, 3);
            stream.write_all(HEALTH).unwrap();
            stream
        })
        .collect();
    held = tokio::task::spawn_blocking(move || {
        for stream in &mut held {
            read_health(stream);
        }
        held
    })
    .await
    .unwrap();

    let ninth = connect_from(&app, 3);
    let answer = tokio::task::spawn_blocking(move || read_to_close(ninth, GENEROUS))
        .await
        .unwrap();
    assert_connection_answer(&answer, "429");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"));

    // Another address is served meanwhile.
    let other = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4)))
        .build()
        .unwrap();
    assert_eq!(
        other
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A connection closed gives the address its share back: once the
    // server has closed its end too, the next one from there is served.
    let closing = held.pop().unwrap();
    closing.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(
        tokio::task::spawn_blocking(move || read_to_close(closing, GENEROUS))
            .await
            .unwrap(),
        ""
    );
    let answer = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        loop {
            let mut again = connect_from(&app, 3);
            again.write_all(HEALTH).unwrap();
            let answer = read_to_close_or_health(&mut again);
            // The server may still be dropping its end of the closed one.
            if !answer.starts_with("HTTP/1.1 429") || started.elapsed() > GENEROUS {
                break answer;
            }
            std::thread::yield_now();
        }
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// The answer to `GET /healthz`, or whatever the server said before
/// closing the connection.
fn read_to_close_or_health(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(GENEROUS)).unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !answer.ends_with(b"{\"status\":\"ok\"}") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(read) => answer.extend_from_slice(&chunk[..read]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn idle_connections_make_way_when_a_worker_runs_short() {
    let app = spawn_app_with(Setup {
        configure: Box::new(|config, _| {
            // From 18 open connections on, each new one closes two idle ones.
            config.connections.max_connections = Some(20);
            config.connections.header_timeout = Duration::from_secs(60);
        }),
        ..Setup::default()
    })
    .await;
    // Seventeen idle connections, oldest first, and one busy sending a head.
    let mut idle = Vec::new();
    for _ in 0..17 {
        let mut stream = connect_from(&app, 5);
        stream.write_all(HEALTH).unwrap();
        idle.push(
            tokio::task::spawn_blocking(move || {
                read_health(&mut stream);
                stream
            })
            .await
            .unwrap(),
        );
    }
    let mut busy = connect_from(&app, 6);
    busy.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    // The nineteenth connection: the worker closes two idle ones for it.
    let probe = reqwest::Client::new();
    assert_eq!(
        probe
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let (evicted, kept) = tokio::task::spawn_blocking(move || {
        let mut idle = idle.into_iter();
        let evicted: Vec<String> = idle
            .by_ref()
            .take(2)
            .map(|stream| read_to_close(stream, GENEROUS))
            .collect();
        (evicted, idle.collect::<Vec<_>>())
    })
    .await
    .unwrap();
    // Closed without a word: they had nothing pending.
    assert_eq!(evicted, ["", ""]);
    for stream in &kept {
        stream.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let still_open = matches!(
            (&*stream).read(&mut byte),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock
        );
        assert!(still_open, "a newer idle connection was closed");
    }
    // The busy one was not taken for idle: it finishes its request.
    busy.write_all(b"Host: localhost\r\n\r\n").unwrap();
    let answer = tokio::task::spawn_blocking(move || read_health(&mut busy))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
