//! SPDY/3.1 framing, the server's side, as much of it as kubectl's
//! port-forward, exec and attach use (client-go's httpstream/spdy over moby/spdystream).
//!
//! A frame is 8 bytes of header then its payload. Control frames: the
//! high bit set, version 3, a type; then flags and a 24-bit length. Data
//! frames: a 31-bit stream id, flags (FIN 0x01) and the length. The
//! header blocks of SYN_STREAM and SYN_REPLY are zlib-compressed, one
//! compression stream per direction for the whole connection, primed
//! with the SPDY/3 dictionary (section 2.6.10.1 of the draft): the
//! client's compressor references it, so our inflater starts with it as
//! its history; our deflater does not use it (a zlib stream without the
//! dictionary flag is read fine by Go's `zlib.NewReaderDict`).
//! spdystream does no flow control, so neither do we (WINDOW_UPDATE and
//! SETTINGS are read and ignored).
//!
//! A stream is refused with RST_STREAM, as spdystream refuses one:
//! PROTOCOL_ERROR for an id below one already taken (its
//! `validateStreamId`), CANCEL for one the server will not serve (what
//! `Stream.Reset` sends when apimachinery's stream handler says no).

use anyhow::{Result, bail};
use flate2::{Compress, Compression, FlushCompress};
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::inflate_flags::{
    TINFL_FLAG_HAS_MORE_INPUT, TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
};
use miniz_oxide::inflate::core::{DecompressorOxide, decompress};

const VERSION: u16 = 3;
const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
pub const FLAG_FIN: u8 = 0x01;

/// The largest frame read: far more than spdystream writes (its data
/// frames are at most 32 KiB).
const MAX_FRAME: usize = 16 * 1024 * 1024;

/// A frame from the client, as far as port-forward cares.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    SynStream {
        stream: u32,
        fin: bool,
        headers: Vec<(String, String)>,
    },
    Data {
        stream: u32,
        fin: bool,
        data: Vec<u8>,
    },
    RstStream {
        stream: u32,
    },
    /// A SYN_STREAM whose id is below one the client already used: to
    /// be refused with [`Reset::ProtocolError`], never served.
    InvalidStream {
        stream: u32,
    },
    Ping(u32),
    GoAway,
    /// SETTINGS, WINDOW_UPDATE, HEADERS, NOOP...: nothing to do.
    Other,
}

/// Reads frames off a byte stream (WebSocket messages cut it anywhere).
pub struct Reader {
    buf: Vec<u8>,
    inflater: Inflater,
    /// The lowest stream id a new stream may have (spdystream's
    /// `receivedStreamId`): ids only go up, by two.
    next_stream: u32,
}

impl Reader {
    pub fn new() -> Reader {
        Reader {
            buf: Vec::new(),
            inflater: Inflater::new(),
            next_stream: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, if the bytes pushed hold one.
    pub fn next(&mut self) -> Result<Option<Frame>> {
        if self.buf.len() < 8 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([0, self.buf[5], self.buf[6], self.buf[7]]) as usize;
        if len > MAX_FRAME {
            bail!("a SPDY frame of {len} bytes");
        }
        if self.buf.len() < 8 + len {
            return Ok(None);
        }
        let head: [u8; 8] = self.buf[..8].try_into().expect("8 bytes");
        let payload: Vec<u8> = self.buf[8..8 + len].to_vec();
        self.buf.drain(..8 + len);
        let flags = head[4];
        let first = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        if first & 0x8000_0000 == 0 {
            return Ok(Some(Frame::Data {
                stream: first & 0x7fff_ffff,
                fin: flags & FLAG_FIN != 0,
                data: payload,
            }));
        }
        let version = ((first >> 16) & 0x7fff) as u16;
        if version != VERSION {
            bail!("SPDY version {version}, not 3");
        }
        let word = |at: usize| -> Result<u32> {
            match payload.get(at..at + 4) {
                Some(b) => Ok(u32::from_be_bytes(b.try_into().expect("4 bytes"))),
                None => bail!("a short SPDY control frame"),
            }
        };
        Ok(Some(match (first & 0xffff) as u16 {
            SYN_STREAM => {
                // Stream id, associated stream id, priority and slot.
                let stream = word(0)? & 0x7fff_ffff;
                let Some(block) = payload.get(10..) else {
                    bail!("a short SYN_STREAM");
                };
                // Inflated even when the stream is refused: the header
                // blocks are one compression stream.
                let headers = parse_headers(&self.inflater.inflate(block)?)?;
                if stream < self.next_stream {
                    return Ok(Some(Frame::InvalidStream { stream }));
                }
                self.next_stream = stream.saturating_add(2);
                Frame::SynStream {
                    stream,
                    fin: flags & FLAG_FIN != 0,
                    headers,
                }
            }
            RST_STREAM => Frame::RstStream {
                stream: word(0)? & 0x7fff_ffff,
            },
            PING => Frame::Ping(word(0)?),
            GOAWAY => Frame::GoAway,
            _ => Frame::Other,
        }))
    }
}

/// Writes frames (each into a buffer of its own: one WebSocket message).
pub struct Writer {
    deflater: Compress,
}

impl Writer {
    pub fn new() -> Writer {
        Writer {
            deflater: Compress::new(Compression::default(), true),
        }
    }

    /// SYN_REPLY with no headers: the stream is accepted (`fin`: and
    /// at once closed, how a stream is refused).
    pub fn syn_reply(&mut self, stream: u32, fin: bool) -> Result<Vec<u8>> {
        // The header block: zero name/value pairs.
        let block = self.deflate(&0u32.to_be_bytes())?;
        let mut payload = stream.to_be_bytes().to_vec();
        payload.extend_from_slice(&block);
        Ok(control(SYN_REPLY, if fin { FLAG_FIN } else { 0 }, &payload))
    }

    /// One compressed header block, flushed to a byte boundary so the
    /// client can read it whole (its inflater keeps the stream's state).
    fn deflate(&mut self, block: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(block.len() + 64);
        let before = self.deflater.total_in();
        loop {
            let consumed = (self.deflater.total_in() - before) as usize;
            self.deflater
                .compress_vec(&block[consumed..], &mut out, FlushCompress::Sync)?;
            // A sync flush is complete when input is used up and there
            // was room left in the output.
            if (self.deflater.total_in() - before) as usize == block.len()
                && out.len() < out.capacity()
            {
                return Ok(out);
            }
            out.reserve(64);
        }
    }
}

/// The client's PING, echoed (spdystream's client ends the connection
/// when its pings go unanswered).
pub fn ping(id: u32) -> Vec<u8> {
    control(PING, 0, &id.to_be_bytes())
}

/// RST_STREAM's status codes, those the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    ProtocolError = 1,
    Cancel = 5,
}

/// RST_STREAM: the stream is refused or given up, both ways.
pub fn reset(stream: u32, status: Reset) -> Vec<u8> {
    let mut payload = (stream & 0x7fff_ffff).to_be_bytes().to_vec();
    payload.extend_from_slice(&(status as u32).to_be_bytes());
    control(RST_STREAM, 0, &payload)
}

/// GOAWAY: no stream past `last` will be taken (status 0, OK); what
/// the server sends before it closes the connection.
pub fn goaway(last: u32) -> Vec<u8> {
    let mut payload = (last & 0x7fff_ffff).to_be_bytes().to_vec();
    payload.extend_from_slice(&0u32.to_be_bytes());
    control(GOAWAY, 0, &payload)
}

/// A data frame (`fin`: the stream's last, and its half close).
pub fn data(stream: u32, fin: bool, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + data.len());
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.push(if fin { FLAG_FIN } else { 0 });
    out.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(data);
    out
}

fn control(kind: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&(0x8000 | VERSION).to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.push(flags);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(payload);
    out
}

/// SPDY/3's header block: a count, then (name, value) with 32-bit
/// lengths. Several values of one name are NUL-separated: the first is
/// kept.
fn parse_headers(block: &[u8]) -> Result<Vec<(String, String)>> {
    let count = match block.get(..4) {
        Some(b) => u32::from_be_bytes(b.try_into().expect("4 bytes")),
        None => bail!("a short SPDY header block"),
    };
    let mut at = 4;
    let mut take = || -> Result<&[u8]> {
        let Some(len) = block.get(at..at + 4) else {
            bail!("a short SPDY header block");
        };
        let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
        let Some(bytes) = block.get(at + 4..at + 4 + len) else {
            bail!("a short SPDY header block");
        };
        at += 4 + len;
        Ok(bytes)
    };
    let mut headers = Vec::new();
    for _ in 0..count.min(1024) {
        let name = String::from_utf8_lossy(take()?).to_ascii_lowercase();
        let value = String::from_utf8_lossy(take()?).into_owned();
        let first = value.split('\0').next().unwrap_or_default().to_string();
        headers.push((name, first));
    }
    Ok(headers)
}

/// The client's header compression stream, inflated with the SPDY/3
/// dictionary as the history its first references point into. miniz's
/// inflater cannot be given a dictionary, but with a non-wrapping output
/// buffer it resolves back references into whatever precedes the output
/// position: the dictionary is put there.
struct Inflater {
    state: Box<DecompressorOxide>,
    /// The dictionary then everything inflated, its last 32 KiB at least
    /// (deflate's window).
    window: Vec<u8>,
    /// Bytes of the zlib header still to skip (2, then 4 for the
    /// dictionary's checksum when its flag is set).
    header: Vec<u8>,
    header_done: bool,
}

const WINDOW: usize = 32 * 1024;

impl Inflater {
    fn new() -> Inflater {
        Inflater {
            state: Box::default(),
            window: DICTIONARY.to_vec(),
            header: Vec::new(),
            header_done: false,
        }
    }

    fn inflate(&mut self, mut input: &[u8]) -> Result<Vec<u8>> {
        if !self.header_done {
            while self.header.len() < 2 && !input.is_empty() {
                self.header.push(input[0]);
                input = &input[1..];
            }
            if self.header.len() >= 2 {
                let wanted = if self.header[1] & 0x20 != 0 { 6 } else { 2 };
                while self.header.len() < wanted && !input.is_empty() {
                    self.header.push(input[0]);
                    input = &input[1..];
                }
                self.header_done = self.header.len() == wanted;
            }
        }
        let start = self.window.len();
        loop {
            let at = self.window.len();
            self.window.resize(at + 4096, 0);
            let (status, read, written) = decompress(
                &mut self.state,
                input,
                &mut self.window,
                at,
                TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF | TINFL_FLAG_HAS_MORE_INPUT,
            );
            self.window.truncate(at + written);
            input = &input[read..];
            match status {
                TINFLStatus::HasMoreOutput => continue,
                TINFLStatus::NeedsMoreInput | TINFLStatus::Done => break,
                failed => bail!("inflating a SPDY header block: {failed:?}"),
            }
        }
        let out = self.window[start..].to_vec();
        if self.window.len() > 4 * WINDOW {
            self.window.drain(..self.window.len() - WINDOW);
        }
        Ok(out)
    }
}

/// SPDY/3's header compression dictionary (draft-mbelshe-httpbis-spdy-00,
/// 2.6.10.1).
const DICTIONARY: &[u8] = b"\x00\x00\x00\x07options\x00\x00\x00\x04head\x00\x00\x00\x04post\
\x00\x00\x00\x03put\x00\x00\x00\x06delete\x00\x00\x00\x05trace\x00\x00\x00\x06accept\
\x00\x00\x00\x0eaccept-charset\x00\x00\x00\x0faccept-encoding\x00\x00\x00\x0faccept-language\
\x00\x00\x00\x0daccept-ranges\x00\x00\x00\x03age\x00\x00\x00\x05allow\x00\x00\x00\x0dauthorization\
\x00\x00\x00\x0dcache-control\x00\x00\x00\x0aconnection\x00\x00\x00\x0ccontent-base\
\x00\x00\x00\x10content-encoding\x00\x00\x00\x10content-language\x00\x00\x00\x0econtent-length\
\x00\x00\x00\x10content-location\x00\x00\x00\x0bcontent-md5\x00\x00\x00\x0dcontent-range\
\x00\x00\x00\x0ccontent-type\x00\x00\x00\x04date\x00\x00\x00\x04etag\x00\x00\x00\x06expect\
\x00\x00\x00\x07expires\x00\x00\x00\x04from\x00\x00\x00\x04host\x00\x00\x00\x08if-match\
\x00\x00\x00\x11if-modified-since\x00\x00\x00\x0dif-none-match\x00\x00\x00\x08if-range\
\x00\x00\x00\x13if-unmodified-since\x00\x00\x00\x0dlast-modified\x00\x00\x00\x08location\
\x00\x00\x00\x0cmax-forwards\x00\x00\x00\x06pragma\x00\x00\x00\x12proxy-authenticate\
\x00\x00\x00\x13proxy-authorization\x00\x00\x00\x05range\x00\x00\x00\x07referer\
\x00\x00\x00\x0bretry-after\x00\x00\x00\x06server\x00\x00\x00\x02te\x00\x00\x00\x07trailer\
\x00\x00\x00\x11transfer-encoding\x00\x00\x00\x07upgrade\x00\x00\x00\x0auser-agent\
\x00\x00\x00\x04vary\x00\x00\x00\x03via\x00\x00\x00\x07warning\x00\x00\x00\x10www-authenticate\
\x00\x00\x00\x06method\x00\x00\x00\x03get\x00\x00\x00\x06status\x00\x00\x00\x06200 OK\
\x00\x00\x00\x07version\x00\x00\x00\x08HTTP/1.1\x00\x00\x00\x03url\x00\x00\x00\x06public\
\x00\x00\x00\x0aset-cookie\x00\x00\x00\x0akeep-alive\x00\x00\x00\x06origin100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

/// The client's side, for the sessions' tests: SYN_STREAMs as a client
/// writes them, and the server's frames taken apart.
#[cfg(test)]
pub mod client {
    use super::*;

    /// A client's header compression stream.
    pub struct Client {
        deflater: Compress,
    }

    impl Client {
        pub fn new() -> Client {
            Client {
                deflater: Compress::new(Compression::default(), true),
            }
        }

        /// SYN_STREAM for `stream` with `headers`.
        pub fn syn_stream(&mut self, stream: u32, headers: &[(&str, &str)]) -> Vec<u8> {
            syn_stream(stream, &go_like_block(headers, &mut self.deflater))
        }
    }

    /// A header block compressed the way Go's framer does it: zlib with
    /// the dictionary (flate2's own deflater, given the dictionary).
    pub fn go_like_block(headers: &[(&str, &str)], deflater: &mut Compress) -> Vec<u8> {
        let mut block = (headers.len() as u32).to_be_bytes().to_vec();
        for (name, value) in headers {
            block.extend_from_slice(&(name.len() as u32).to_be_bytes());
            block.extend_from_slice(name.as_bytes());
            block.extend_from_slice(&(value.len() as u32).to_be_bytes());
            block.extend_from_slice(value.as_bytes());
        }
        let mut out = Vec::with_capacity(block.len() + 128);
        deflater
            .compress_vec(&block, &mut out, FlushCompress::Sync)
            .unwrap();
        out
    }

    pub fn syn_stream(stream: u32, block: &[u8]) -> Vec<u8> {
        let mut payload = stream.to_be_bytes().to_vec();
        payload.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        payload.extend_from_slice(block);
        control(SYN_STREAM, 0, &payload)
    }

    /// A frame of the server's, as a test looks at it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Seen {
        Reply {
            stream: u32,
            fin: bool,
        },
        Data {
            stream: u32,
            fin: bool,
            data: Vec<u8>,
        },
        Reset {
            stream: u32,
            status: u32,
        },
        GoAway,
        Other(u16),
    }

    /// Takes the whole frames off the front of `bytes`.
    pub fn frames(bytes: &mut Vec<u8>) -> Vec<Seen> {
        let mut out = Vec::new();
        while bytes.len() >= 8 {
            let len = u32::from_be_bytes([0, bytes[5], bytes[6], bytes[7]]) as usize;
            if bytes.len() < 8 + len {
                break;
            }
            let frame: Vec<u8> = bytes.drain(..8 + len).collect();
            let first = u32::from_be_bytes(frame[..4].try_into().unwrap());
            let fin = frame[4] & FLAG_FIN != 0;
            let word = |at: usize| u32::from_be_bytes(frame[8 + at..12 + at].try_into().unwrap());
            out.push(if first & 0x8000_0000 == 0 {
                Seen::Data {
                    stream: first,
                    fin,
                    data: frame[8..].to_vec(),
                }
            } else {
                match (first & 0xffff) as u16 {
                    SYN_REPLY => Seen::Reply {
                        stream: word(0) & 0x7fff_ffff,
                        fin,
                    },
                    RST_STREAM => Seen::Reset {
                        stream: word(0),
                        status: word(4),
                    },
                    GOAWAY => Seen::GoAway,
                    other => Seen::Other(other),
                }
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::client::{Client, Seen, go_like_block, syn_stream};
    use super::*;
    use flate2::Decompress;

    #[test]
    fn the_dictionary_is_spdy_3s() {
        // moby/spdystream's headerDictionary: 1423 bytes, this digest.
        use sha2::Digest as _;
        assert_eq!(DICTIONARY.len(), 1423);
        assert_eq!(
            hex::encode(sha2::Sha256::digest(DICTIONARY)),
            "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"
        );
    }

    #[test]
    fn header_blocks_inflate_across_frames_cut_anywhere() {
        // Two blocks of one compression stream (the second refers back
        // into the first), frames cut in pieces of 7 bytes.
        let mut deflater = Compress::new(Compression::default(), true);
        let first = go_like_block(
            &[
                ("streamtype", "error"),
                ("port", "8080"),
                ("requestid", "0"),
            ],
            &mut deflater,
        );
        let second = go_like_block(
            &[("streamtype", "data"), ("port", "8080"), ("requestid", "0")],
            &mut deflater,
        );
        let mut wire = syn_stream(1, &first);
        wire.extend(syn_stream(3, &second));
        wire.extend(data(3, true, b"hello"));
        let mut reader = Reader::new();
        let mut frames = Vec::new();
        for byte in wire.chunks(7) {
            reader.push(byte);
            while let Some(frame) = reader.next().unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(frames.len(), 3);
        assert_eq!(
            frames[0],
            Frame::SynStream {
                stream: 1,
                fin: false,
                headers: vec![
                    ("streamtype".into(), "error".into()),
                    ("port".into(), "8080".into()),
                    ("requestid".into(), "0".into())
                ]
            }
        );
        let Frame::SynStream { headers, .. } = &frames[1] else {
            panic!("{:?}", frames[1]);
        };
        assert_eq!(headers[0], ("streamtype".into(), "data".into()));
        assert_eq!(
            frames[2],
            Frame::Data {
                stream: 3,
                fin: true,
                data: b"hello".to_vec()
            }
        );
    }

    #[test]
    fn references_into_the_dictionary_resolve() {
        // What Go's deflater with the dictionary writes: deflate with
        // the dictionary as history. Made here by deflating the
        // dictionary, a sync flush, then the block, and keeping only
        // what follows the flush, behind a zlib header with FDICT set.
        let mut deflater = Compress::new(Compression::best(), false);
        let mut primed = Vec::with_capacity(4096);
        deflater
            .compress_vec(DICTIONARY, &mut primed, FlushCompress::Sync)
            .unwrap();
        let block = b"\x00\x00\x00\x01\x00\x00\x00\x0ccontent-type\x00\x00\x00\x0daccept-ranges";
        let mut tail = Vec::with_capacity(4096);
        deflater
            .compress_vec(block, &mut tail, FlushCompress::Sync)
            .unwrap();
        // Shorter than the block: it points into the dictionary.
        assert!(tail.len() < block.len(), "{} bytes", tail.len());
        let mut stream = vec![0x78, 0xbb, 0xe3, 0xc6, 0xa7, 0xc2];
        stream.extend_from_slice(&tail);
        let mut inflater = Inflater::new();
        let (head, rest) = stream.split_at(3);
        let mut out = inflater.inflate(head).unwrap();
        out.extend(inflater.inflate(rest).unwrap());
        assert_eq!(out, block);
        assert_eq!(
            parse_headers(&out).unwrap(),
            [("content-type".to_string(), "accept-ranges".to_string())]
        );
    }

    #[test]
    fn replies_inflate_as_a_zlib_stream() {
        let mut writer = Writer::new();
        let mut inflate = Decompress::new(true);
        for stream in [1u32, 3, 5] {
            let frame = writer.syn_reply(stream, false).unwrap();
            assert_eq!(&frame[..4], &[0x80, 0x03, 0x00, 0x02]);
            let len = u32::from_be_bytes([0, frame[5], frame[6], frame[7]]) as usize;
            assert_eq!(frame.len(), 8 + len);
            assert_eq!(&frame[8..12], &stream.to_be_bytes());
            let mut out = Vec::with_capacity(64);
            inflate
                .decompress_vec(&frame[12..], &mut out, flate2::FlushDecompress::Sync)
                .unwrap();
            assert_eq!(out, [0, 0, 0, 0]);
        }
        assert_eq!(ping(7), control(PING, 0, &[0, 0, 0, 7]));
    }

    #[test]
    fn a_stream_id_below_one_taken_is_invalid_and_refused_with_protocol_error() {
        let mut client = Client::new();
        let mut wire = client.syn_stream(3, &[("streamtype", "error")]);
        // Again, and lower: both invalid (spdystream's validateStreamId).
        wire.extend(client.syn_stream(3, &[("streamtype", "data")]));
        wire.extend(client.syn_stream(1, &[("streamtype", "data")]));
        // Higher again: taken, its header block still read right after
        // the refused ones' (one compression stream).
        wire.extend(client.syn_stream(5, &[("streamtype", "data"), ("port", "80")]));
        let mut reader = Reader::new();
        reader.push(&wire);
        let mut frames = Vec::new();
        while let Some(frame) = reader.next().unwrap() {
            frames.push(frame);
        }
        assert!(matches!(frames[0], Frame::SynStream { stream: 3, .. }));
        assert_eq!(frames[1], Frame::InvalidStream { stream: 3 });
        assert_eq!(frames[2], Frame::InvalidStream { stream: 1 });
        assert_eq!(
            frames[3],
            Frame::SynStream {
                stream: 5,
                fin: false,
                headers: vec![
                    ("streamtype".into(), "data".into()),
                    ("port".into(), "80".into())
                ]
            }
        );
        let mut sent = reset(3, Reset::ProtocolError);
        sent.extend(reset(7, Reset::Cancel));
        assert_eq!(
            client::frames(&mut sent),
            [
                Seen::Reset {
                    stream: 3,
                    status: 1
                },
                Seen::Reset {
                    stream: 7,
                    status: 5
                }
            ]
        );
    }
}
