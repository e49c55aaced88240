//! A small static file server for the playground (GET and HEAD only, loopback only).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};

use crate::Result;

pub struct Server {
    pub port: u16,
}

/// Serves `root` on 127.0.0.1:`port` until the process ends.
pub fn serve(root: &Path, port: u16) -> Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| format!("bind 127.0.0.1:{port}: {e}"))?;
    eprintln!("xtask: the playground is at http://127.0.0.1:{port}/ (Ctrl-C stops)");
    accept_loop(listener, root.to_path_buf());
    Ok(())
}

/// Serves `root` from a background thread (port 0 picks a free port).
pub fn spawn(root: &Path, port: u16) -> Result<Server> {
    let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| format!("bind: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let root = root.to_path_buf();
    std::thread::spawn(move || accept_loop(listener, root));
    Ok(Server { port })
}

fn accept_loop(listener: TcpListener, root: PathBuf) {
    for stream in listener.incoming().flatten() {
        let root = root.clone();
        std::thread::spawn(move || {
            let _ = respond(stream, &root);
        });
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("csv") => "text/csv; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

fn respond(mut stream: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut request = String::new();
    BufReader::new(&stream).read_line(&mut request)?;
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let relative = Path::new(path.trim_start_matches('/'));
    let safe = relative.components().all(|c| matches!(c, Component::Normal(_)));
    let mut file = root.join(relative);
    if file.is_dir() {
        file = file.join("index.html");
    }
    let (status, body, kind) = match (method, safe, std::fs::read(&file)) {
        ("GET" | "HEAD", true, Ok(body)) => ("200 OK", body, content_type(&file)),
        ("GET" | "HEAD", _, _) => ("404 Not Found", b"not found".to_vec(), "text/plain"),
        _ => ("405 Method Not Allowed", b"GET only".to_vec(), "text/plain"),
    };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes())?;
    if method != "HEAD" {
        stream.write_all(&body)?;
    }
    stream.flush()
}
