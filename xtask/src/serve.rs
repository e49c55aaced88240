//! A small static file server for the playground (GET and HEAD only, loopback only). A file with
//! an up-to-date gzip twin `FILE.gz` (the wasm, written by `write_gzip`) goes out compressed to
//! clients that accept gzip, as a static host with precompression would send it.

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

/// Writes `path.gz` next to `path` (gzip level 9); returns its size in bytes.
pub fn write_gzip(path: &Path) -> Result<u64> {
    let body = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&body).map_err(|e| e.to_string())?;
    let packed = encoder.finish().map_err(|e| e.to_string())?;
    let target = gzip_twin(path);
    std::fs::write(&target, &packed).map_err(|e| format!("{}: {e}", target.display()))?;
    Ok(packed.len() as u64)
}

fn gzip_twin(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    PathBuf::from(name)
}

/// `path.gz` when it exists and is not older than `path`.
fn fresh_gzip(path: &Path) -> Option<Vec<u8>> {
    let twin = gzip_twin(path);
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&twin)? >= modified(path)? { std::fs::read(twin).ok() } else { None }
}

fn respond(mut stream: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(&stream);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut accepts_gzip = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            accepts_gzip |= name.trim().eq_ignore_ascii_case("accept-encoding") && value.contains("gzip");
        }
    }
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let relative = Path::new(path.trim_start_matches('/'));
    let safe = relative.components().all(|c| matches!(c, Component::Normal(_)));
    let mut file = root.join(relative);
    if file.is_dir() {
        file = file.join("index.html");
    }
    let gzipped = (safe && accepts_gzip).then(|| fresh_gzip(&file)).flatten();
    let encoding = if gzipped.is_some() { "Content-Encoding: gzip\r\n" } else { "" };
    let (status, body, kind) = match (method, safe, gzipped.map(Ok).unwrap_or_else(|| std::fs::read(&file))) {
        ("GET" | "HEAD", true, Ok(body)) => ("200 OK", body, content_type(&file)),
        ("GET" | "HEAD", _, _) => ("404 Not Found", b"not found".to_vec(), "text/plain"),
        _ => ("405 Method Not Allowed", b"GET only".to_vec(), "text/plain"),
    };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n{encoding}Vary: Accept-Encoding\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes())?;
    if method != "HEAD" {
        stream.write_all(&body)?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn get(port: u16, path: &str, extra: &str) -> (String, Vec<u8>) {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n").unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).unwrap();
        let split = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        (String::from_utf8_lossy(&reply[..split]).into_owned(), reply[split + 4..].to_vec())
    }

    /// The gzip twin goes only to clients that accept it, only while it is fresh, and decodes to
    /// the file; paths out of the root are refused.
    #[test]
    fn serves_files_and_their_gzip_twins() {
        let root = std::env::temp_dir().join(format!("xtask-serve-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let body: Vec<u8> = (0..100_000u32).map(|i| (i % 7) as u8).collect();
        std::fs::write(root.join("m.wasm"), &body).unwrap();
        let packed = write_gzip(&root.join("m.wasm")).unwrap();
        assert!(packed < body.len() as u64 / 10, "{packed}");
        let server = spawn(&root, 0).unwrap();

        let (head, plain) = get(server.port, "/m.wasm", "");
        assert!(head.contains("200 OK") && head.contains("application/wasm") && !head.contains("gzip"), "{head}");
        assert_eq!(plain, body);
        let (head, zipped) = get(server.port, "/m.wasm?v=1", "Accept-Encoding: gzip, deflate, br\r\n");
        assert!(head.contains("Content-Encoding: gzip") && head.contains("application/wasm"), "{head}");
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&zipped[..]).read_to_end(&mut unpacked).unwrap();
        assert_eq!(unpacked, body);

        // A newer file makes its twin stale: the plain bytes go out.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(root.join("m.wasm"), b"new").unwrap();
        let (head, plain) = get(server.port, "/m.wasm", "Accept-Encoding: gzip\r\n");
        assert!(!head.contains("Content-Encoding"), "{head}");
        assert_eq!(plain, b"new");
        let (head, _) = get(server.port, "/../etc/passwd", "");
        assert!(head.contains("404"), "{head}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
