//! A real HTTP server on loopback that serves STACK and CHANGE_SET payloads the way a
//! presigned S3 URL does, and misbehaves on request.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server answers for a path.
#[derive(Clone)]
pub enum Reply {
    /// 200 with this body.
    Body(Vec<u8>),
    /// This status and a short body.
    Status(u16),
    /// 200 with a body of this many bytes.
    Huge(usize),
    /// Headers, then nothing for this long.
    Stall(Duration),
}

pub struct PayloadServer {
    port: u16,
    replies: Arc<Mutex<HashMap<String, Reply>>>,
}

impl PayloadServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("local address").port();
        let replies: Arc<Mutex<HashMap<String, Reply>>> = Arc::default();
        let shared = Arc::clone(&replies);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let replies = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &replies));
            }
        });
        PayloadServer { port, replies }
    }

    /// Serves `reply` at `path`; returns the URL.
    pub fn serve(&self, path: &str, reply: Reply) -> String {
        self.replies.lock().unwrap().insert(path.to_owned(), reply);
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

fn serve(stream: TcpStream, replies: &Mutex<HashMap<String, Reply>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Routed by path: a presigned URL's query (its signature) does not choose the reply.
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/").to_owned();
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let reply = replies.lock().unwrap().get(&path).cloned().unwrap_or(Reply::Status(404));
    let mut stream = stream;
    let _ = match reply {
        Reply::Body(body) => write_response(&mut stream, 200, &body),
        Reply::Status(status) => write_response(&mut stream, status, b"<Error/>"),
        Reply::Huge(size) => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n");
            let chunk = vec![b' '; 64 * 1024];
            stream
                .write_all(head.as_bytes())
                .and_then(|()| (0..size.div_ceil(chunk.len())).try_for_each(|_| stream.write_all(&chunk)))
        }
        Reply::Stall(duration) => {
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{";
            let _ = stream.write_all(head.as_bytes());
            std::thread::sleep(duration);
            Ok(())
        }
    };
}

fn write_response(stream: &mut TcpStream, status: u16, body: &[u8]) -> std::io::Result<()> {
    let head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)
}
