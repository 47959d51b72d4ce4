//! A connection in memory, for tests of the conversation: the server's side
//! is a script of byte pieces (each read returns at most one, so replies can
//! be cut anywhere), and everything the client writes is recorded. Like the
//! scripted stream in Symfony Mailer's SMTP tests, it replays; it does not
//! listen, so a test lists the server's replies in the order they are read.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::time::Duration;

use super::stream::{TlsFailure, Transport};

enum Piece {
    Bytes(Vec<u8>),
    /// The server says nothing more, for as long as the client waits.
    Silence,
}

/// What the client did, kept beyond the session (which owns the stream).
#[derive(Default)]
pub struct Record {
    /// Everything the client wrote, in order.
    pub written: Vec<u8>,
    /// The size of each write (one write per pipelined batch).
    pub writes: Vec<usize>,
    pub encrypted: bool,
}

impl Record {
    /// What the client wrote, as text.
    pub fn said(&self) -> String {
        String::from_utf8_lossy(&self.written).into_owned()
    }
}

#[derive(Default)]
pub struct Scripted {
    incoming: VecDeque<Piece>,
    record: Rc<RefCell<Record>>,
    /// Writes fail once this many bytes were taken (the server hung up).
    pub hang_up_after: Option<usize>,
    /// How STARTTLS goes: `None` succeeds.
    pub tls_failure: Option<TlsFailure>,
}

impl Scripted {
    /// A server that sends `replies`, each piece as one read.
    pub fn new(replies: &[&str]) -> Self {
        let mut scripted = Scripted::default();
        for reply in replies {
            scripted.then(reply);
        }
        scripted
    }

    /// Then `bytes`, as one read.
    pub fn then(&mut self, bytes: &str) -> &mut Self {
        self.incoming.push_back(Piece::Bytes(bytes.as_bytes().to_vec()));
        self
    }

    /// Then nothing, for ever.
    pub fn then_silence(&mut self) -> &mut Self {
        self.incoming.push_back(Piece::Silence);
        self
    }

    /// What the client does, readable after the session is gone.
    pub fn record(&self) -> Rc<RefCell<Record>> {
        self.record.clone()
    }
}

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.incoming.front_mut() {
            // the script is over: the server closed the connection
            None => Ok(0),
            Some(Piece::Silence) => Err(io::Error::new(io::ErrorKind::WouldBlock, "silence")),
            Some(Piece::Bytes(bytes)) => {
                let n = bytes.len().min(buf.len());
                buf[..n].copy_from_slice(&bytes[..n]);
                bytes.drain(..n);
                if bytes.is_empty() {
                    self.incoming.pop_front();
                }
                Ok(n)
            }
        }
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut record = self.record.borrow_mut();
        if self.hang_up_after.is_some_and(|limit| record.written.len() + buf.len() > limit) {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the server hung up"));
        }
        record.written.extend_from_slice(buf);
        record.writes.push(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Scripted {
    fn set_read_timeout(&mut self, _: Duration) -> io::Result<()> {
        Ok(())
    }

    fn set_write_timeout(&mut self, _: Duration) -> io::Result<()> {
        Ok(())
    }

    fn start_tls(&mut self, _host: &str, _verify: bool, _timeout: Duration) -> Result<(), TlsFailure> {
        if let Some(failure) = self.tls_failure.clone() {
            return Err(failure);
        }
        self.record.borrow_mut().encrypted = true;
        Ok(())
    }

    fn tls_description(&self) -> Option<String> {
        self.record.borrow().encrypted.then(|| "scripted TLS".to_owned())
    }
}
