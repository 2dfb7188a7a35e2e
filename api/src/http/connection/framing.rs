//! Where a connection stands in its stream of requests, followed from the
//! bytes the client sends: in a request's head, in its body, or between
//! requests. The server's own parser does the real work; this one only
//! finds the boundaries, so that every request's head can be given a
//! deadline from its first byte (the HTTP/1 dispatcher only times the
//! first request of a connection) and idle connections can be told from
//! busy ones.
//!
//! It reads each byte once: the end of a head is searched for in the new
//! bytes only, and a head is parsed once, when it is complete. Whatever it
//! cannot follow (a malformed head, framing it does not know) makes it
//! stop following and keep the deadline it had: the server refuses such
//! requests and closes the connection, and if it did not, the deadline
//! would.

/// Longest head followed, in bytes; the server refuses longer ones (431).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Most header fields parsed in a head, as many as the server accepts.
const MAX_HEADERS: usize = 96;

/// The part of the request stream the next byte belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Between requests: nothing of the next one has arrived.
    Idle,
    /// A request head is arriving.
    Head,
    /// A request body is arriving.
    Body,
    /// Not followed any more (see the module's comment).
    Lost,
}

/// A request stream, as far as it has been read.
#[derive(Debug)]
pub struct Framing {
    state: State,
    /// The head read so far, when it came in more than one read.
    head: Vec<u8>,
    /// Whether the head has started (its leading empty lines, which a
    /// server ignores, do not count).
    head_started: bool,
    /// Heads started since the connection opened, the first included.
    heads: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Head,
    /// A body of known length: bytes still to come.
    Length(u64),
    Chunked(Chunk),
    Lost,
}

/// Where a chunked body stands (RFC 9112 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk's size, in hex.
    Size { value: u64, digits: u8 },
    /// After the size: extensions, to the end of the line.
    SizeLine { value: u64 },
    /// Inside a chunk: bytes still to come.
    Data(u64),
    /// After a chunk's data, to the end of its line.
    DataEnd,
    /// After the last chunk: trailer fields, to an empty line.
    Trailer { line_bytes: usize },
}

impl Default for Framing {
    /// A new connection: its first request's head is awaited at once.
    fn default() -> Self {
        Self {
            state: State::Head,
            head: Vec::new(),
            head_started: false,
            heads: 1,
        }
    }
}

impl Framing {
    /// The part of the stream the next byte belongs to.
    pub fn phase(&self) -> Phase {
        match self.state {
            State::Idle => Phase::Idle,
            State::Head => Phase::Head,
            State::Length(_) | State::Chunked(_) => Phase::Body,
            State::Lost => Phase::Lost,
        }
    }

    /// How many heads have started: a change while in [`Phase::Head`]
    /// means a new request began (and its deadline with it). A new
    /// connection counts as one: its first head is awaited from the start.
    pub fn heads(&self) -> u64 {
        self.heads
    }

    /// Whether a part of a request has arrived that is not complete yet:
    /// a head begun, or a body. A connection that sent nothing, or only
    /// whole requests, has not.
    pub fn mid_request(&self) -> bool {
        match self.state {
            State::Head => self.head_started,
            State::Length(_) | State::Chunked(_) | State::Lost => true,
            State::Idle => false,
        }
    }

    /// Follows `bytes`, just read from the client.
    pub fn read(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let used = match self.state {
                State::Idle => {
                    // Stray line ends between requests (RFC 9112 §2.2) do
                    // not start one.
                    let blank = bytes
                        .iter()
                        .take_while(|b| matches!(b, b'\r' | b'\n'))
                        .count();
                    if blank < bytes.len() {
                        self.state = State::Head;
                        self.heads += 1;
                    }
                    blank
                }
                State::Head => self.read_head(bytes),
                State::Length(left) => {
                    let used = usize::try_from(left).map_or(bytes.len(), |l| l.min(bytes.len()));
                    let left = left - used as u64;
                    self.state = if left == 0 {
                        State::Idle
                    } else {
                        State::Length(left)
                    };
                    used
                }
                State::Chunked(chunk) => self.read_chunked(chunk, bytes),
                State::Lost => bytes.len(),
            };
            bytes = &bytes[used..];
        }
    }

    /// Reads head bytes; answers how many belonged to the head.
    fn read_head(&mut self, bytes: &[u8]) -> usize {
        let mut skipped = 0;
        if !self.head_started {
            // RFC 9112 §2.2: empty lines before the request line are ignored.
            skipped = bytes
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            if skipped == bytes.len() {
                return skipped;
            }
            self.head_started = true;
        }
        let bytes = &bytes[skipped..];
        if self.head.is_empty() {
            // The usual case: the whole head in one read, parsed in place.
            if let Some(end) = head_end(bytes, 0) {
                self.state = framing_of(&bytes[..end]);
                self.head_started = false;
                return skipped + end;
            }
            self.keep_head(bytes);
            return skipped + bytes.len();
        }
        let from = self.head.len().saturating_sub(3);
        let had = self.head.len();
        self.keep_head(bytes);
        if self.state == State::Lost {
            return skipped + bytes.len();
        }
        match head_end(&self.head, from) {
            Some(end) => {
                self.state = framing_of(&self.head[..end]);
                self.head.clear();
                self.head_started = false;
                skipped + (end - had)
            }
            None => skipped + bytes.len(),
        }
    }

    /// Keeps a part of a head until the rest comes, up to the limit.
    fn keep_head(&mut self, bytes: &[u8]) {
        if self.head.len() + bytes.len() > MAX_HEAD_BYTES {
            self.head = Vec::new();
            self.state = State::Lost;
        } else {
            self.head.extend_from_slice(bytes);
        }
    }

    /// Reads chunked-body bytes; answers how many were used.
    fn read_chunked(&mut self, chunk: Chunk, bytes: &[u8]) -> usize {
        let mut used = 0;
        let mut chunk = chunk;
        while used < bytes.len() {
            let byte = bytes[used];
            chunk = match chunk {
                Chunk::Size { value, digits } => match hex_digit(byte) {
                    Some(digit) if digits < 16 => Chunk::Size {
                        value: value << 4 | u64::from(digit),
                        digits: digits + 1,
                    },
                    Some(_) => return self.lose(bytes.len()),
                    None if digits == 0 => return self.lose(bytes.len()),
                    None if byte == b'\n' => end_of_size_line(value),
                    None => Chunk::SizeLine { value },
                },
                Chunk::SizeLine { value } => {
                    if byte == b'\n' {
                        end_of_size_line(value)
                    } else {
                        Chunk::SizeLine { value }
                    }
                }
                Chunk::Data(left) => {
                    let take = usize::try_from(left)
                        .map_or(bytes.len() - used, |l| l.min(bytes.len() - used));
                    used += take;
                    let left = left - take as u64;
                    chunk = if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    };
                    continue;
                }
                Chunk::DataEnd => {
                    if byte == b'\n' {
                        Chunk::Size {
                            value: 0,
                            digits: 0,
                        }
                    } else {
                        Chunk::DataEnd
                    }
                }
                Chunk::Trailer { line_bytes } => match byte {
                    b'\n' if line_bytes == 0 => {
                        self.state = State::Idle;
                        return used + 1;
                    }
                    b'\n' => Chunk::Trailer { line_bytes: 0 },
                    b'\r' => Chunk::Trailer { line_bytes },
                    _ => Chunk::Trailer {
                        line_bytes: line_bytes + 1,
                    },
                },
            };
            used += 1;
        }
        self.state = State::Chunked(chunk);
        used
    }

    fn lose(&mut self, used: usize) -> usize {
        self.state = State::Lost;
        used
    }
}

/// After a chunk's size line: its data, or the trailer after the last one.
fn end_of_size_line(value: u64) -> Chunk {
    if value == 0 {
        Chunk::Trailer { line_bytes: 0 }
    } else {
        Chunk::Data(value)
    }
}

fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|digit| u8::try_from(digit).ok())
}

/// Where the head in `bytes` ends (just past its empty line), searching
/// from `from`: an empty line is a line feed followed by another, with or
/// without a carriage return between them.
fn head_end(bytes: &[u8], from: usize) -> Option<usize> {
    memchr::memchr_iter(b'\n', &bytes[from..])
        .map(|at| from + at)
        .find_map(|at| match bytes.get(at + 1..) {
            Some([b'\n', ..]) => Some(at + 2),
            Some([b'\r', b'\n', ..]) => Some(at + 3),
            _ => None,
        })
}

/// How the body of the request whose head is `head` is framed (RFC 9112
/// §6.3): chunked when the last transfer coding is, else its
/// `Content-Length`, else none.
fn framing_of(head: &[u8]) -> State {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    if !matches!(request.parse(head), Ok(httparse::Status::Complete(_))) {
        return State::Lost;
    }
    let mut length = None;
    let mut chunked = false;
    for header in request.headers.iter() {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = header.value.rsplit(|b| *b == b',').next().unwrap_or(b"");
            chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
            if !chunked {
                // A request body must end in chunked if it is encoded at
                // all; the server refuses anything else.
                return State::Lost;
            }
        } else if header.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value.trim_ascii())
                .ok()
                .and_then(|value| value.parse::<u64>().ok());
            match (length, value) {
                (_, None) => return State::Lost,
                (Some(seen), Some(value)) if seen != value => return State::Lost,
                (_, value) => length = value,
            }
        }
    }
    if chunked {
        State::Chunked(Chunk::Size {
            value: 0,
            digits: 0,
        })
    } else {
        match length {
            None | Some(0) => State::Idle,
            Some(length) => State::Length(length),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `stream` in pieces of `step` bytes; answers the phases after
    /// each piece and the number of heads started.
    fn follow(stream: &[u8], step: usize) -> (Vec<Phase>, u64) {
        let mut framing = Framing::default();
        let phases = stream
            .chunks(step)
            .map(|piece| {
                framing.read(piece);
                framing.phase()
            })
            .collect();
        (phases, framing.heads())
    }

    fn end_phase(stream: &[u8]) -> (Phase, u64) {
        let (phases, heads) = follow(stream, stream.len());
        (phases[phases.len() - 1], heads)
    }

    #[test]
    fn a_connection_waits_for_a_head_until_one_is_complete() {
        assert_eq!(Framing::default().phase(), Phase::Head);
        assert_eq!(
            end_phase(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
            (Phase::Idle, 1)
        );
        assert_eq!(
            end_phase(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"),
            (Phase::Head, 1)
        );
        // Bare line feeds end a head too.
        assert_eq!(end_phase(b"GET / HTTP/1.1\nHost: x\n\n"), (Phase::Idle, 1));
    }

    #[test]
    fn the_first_byte_after_a_request_starts_the_next_head() {
        assert_eq!(
            end_phase(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nG"),
            (Phase::Head, 2)
        );
        assert_eq!(
            end_phase(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            (Phase::Idle, 2)
        );
    }

    #[test]
    fn a_head_is_followed_whatever_the_pieces_it_comes_in() {
        let stream = b"PUT /me/quote HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET";
        for step in 1..stream.len() {
            let (phases, heads) = follow(stream, step);
            assert_eq!(phases[phases.len() - 1], Phase::Head, "step {step}");
            assert_eq!(heads, 2, "step {step}");
        }
        let (phases, _) = follow(&stream[..stream.len() - 3], 1);
        assert_eq!(phases[phases.len() - 1], Phase::Idle);
        assert_eq!(phases[phases.len() - 2], Phase::Body);
    }

    #[test]
    fn empty_lines_begin_no_request() {
        let mut framing = Framing::default();
        framing.read(b"\r\n\r\n");
        assert_eq!(
            (framing.phase(), framing.mid_request()),
            (Phase::Head, false)
        );
        framing.read(b"GET / HTTP/1.1\r\n");
        assert_eq!(
            (framing.phase(), framing.mid_request()),
            (Phase::Head, true)
        );
        framing.read(b"\r\n\r\n\r\n");
        assert_eq!(
            (framing.phase(), framing.mid_request()),
            (Phase::Idle, false)
        );
        assert_eq!(framing.heads(), 1);
        framing.read(b"\nG");
        assert_eq!(
            (framing.phase(), framing.mid_request()),
            (Phase::Head, true)
        );
        assert_eq!(framing.heads(), 2);
    }

    #[test]
    fn chunked_bodies_end_after_their_last_chunk_and_trailer() {
        let stream = b"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
                       5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: t\r\n\r\nG";
        for step in 1..stream.len() {
            let (phases, heads) = follow(stream, step);
            assert_eq!(phases[phases.len() - 1], Phase::Head, "step {step}");
            assert_eq!(heads, 2, "step {step}");
            if step < 20 {
                assert!(phases.contains(&Phase::Body), "step {step}");
            }
        }
        assert_eq!(
            end_phase(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            (Phase::Idle, 1)
        );
    }

    #[test]
    fn what_cannot_be_followed_is_lost_never_misread() {
        for stream in [
            &b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"\x00\x01\x02 garbage\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
        ] {
            assert_eq!(
                end_phase(stream).0,
                Phase::Lost,
                "{}",
                String::from_utf8_lossy(stream)
            );
        }
        let mut framing = Framing::default();
        framing.read(b"GET / HTTP/1.1\r\nX: ");
        framing.read(&vec![b'a'; MAX_HEAD_BYTES]);
        assert_eq!(framing.phase(), Phase::Lost);
    }

    #[test]
    fn a_body_of_known_length_is_skipped() {
        let mut framing = Framing::default();
        framing.read(b"PUT / HTTP/1.1\r\nContent-Length: 10\r\n\r\n01234");
        assert_eq!(framing.phase(), Phase::Body);
        framing.read(b"56789");
        assert_eq!(framing.phase(), Phase::Idle);
        assert_eq!(framing.heads(), 1);
    }
}
