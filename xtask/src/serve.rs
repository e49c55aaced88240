//! The playground's dev server: axum over tokio, files through tower-http's `ServeDir` (GET and
//! HEAD, byte ranges, conditional requests, MIME types, and a precompressed `FILE.gz` twin — the
//! wasm's, written by `write_gzip` — for clients that accept gzip, as a static host with
//! precompression would send it), bound to loopback only. A twin older than its file is never
//! sent: a layer drops the request's Accept-Encoding for it, so a stale .gz cannot hide a rebuild.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::header::{ACCEPT_ENCODING, CACHE_CONTROL};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::Result;

/// Zopfli's iterations per block.
const ITERATIONS: u64 = 5;
/// The bytes compressed as one deflate part (block-split on its own; C Zopfli's master block).
const MASTER_BLOCK: usize = 1_000_000;

pub struct Server {
    pub port: u16,
}

/// Serves `root` on 127.0.0.1:`port` until the process ends.
pub fn serve(root: &Path, port: u16) -> Result<()> {
    let listener = bind(port)?;
    eprintln!("xtask: the playground is at http://127.0.0.1:{port}/ (Ctrl-C stops)");
    run(listener, root.to_path_buf())
}

/// Serves `root` from a background thread (port 0 picks a free port).
pub fn spawn(root: &Path, port: u16) -> Result<Server> {
    let listener = bind(port)?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let root = root.to_path_buf();
    std::thread::spawn(move || run(listener, root));
    Ok(Server { port })
}

fn bind(port: u16) -> Result<std::net::TcpListener> {
    let listener =
        std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|e| format!("bind 127.0.0.1:{port}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    Ok(listener)
}

fn run(listener: std::net::TcpListener, root: PathBuf) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_io()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
        axum::serve(listener, app(root)).await.map_err(|e| format!("the server stopped: {e}"))
    })
}

fn app(root: PathBuf) -> Router {
    Router::new()
        .fallback_service(ServeDir::new(&root).precompressed_gzip())
        .layer(SetResponseHeaderLayer::overriding(CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .layer(axum::middleware::map_request_with_state(root, drop_stale_gzip))
}

/// Removes Accept-Encoding from a request whose file has no gzip twin at least as new as itself.
async fn drop_stale_gzip(State(root): State<PathBuf>, mut request: Request) -> Request {
    let mut file = root.join(request.uri().path().trim_start_matches('/'));
    if file.is_dir() {
        file = file.join("index.html");
    }
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let fresh = matches!((modified(&gzip_twin(&file)), modified(&file)), (Some(twin), Some(body)) if twin >= body);
    if !fresh {
        request.headers_mut().remove(ACCEPT_ENCODING);
    }
    request
}

/// Writes `path.gz` next to `path` — gzip's format, compressed by Zopfli in parts of one master
/// block each, as C Zopfli does (five iterations: the page's wasm 16.0 MB → 2.952 MB in ~30 s,
/// against 3.007 MB from `zopfli::compress`, which splits all 16 MB into at most 16 blocks, and
/// 3.09 MB at gzip level 9) — and returns its size in bytes. A twin that
/// already inflates to `path`'s bytes is kept (only its time is renewed, so it stays fresh).
pub fn write_gzip(path: &Path) -> Result<u64> {
    let body = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let target = gzip_twin(path);
    if let Ok(old) = std::fs::read(&target)
        && inflate(&old).as_deref() == Some(&body[..])
    {
        let file =
            std::fs::File::options().write(true).open(&target).map_err(|e| format!("{}: {e}", target.display()))?;
        file.set_modified(std::time::SystemTime::now()).map_err(|e| format!("{}: {e}", target.display()))?;
        return Ok(old.len() as u64);
    }
    let options =
        zopfli::Options { iteration_count: std::num::NonZeroU64::new(ITERATIONS).expect("> 0"), ..Default::default() };
    let mut encoder =
        zopfli::GzipEncoder::new(options, zopfli::BlockType::Dynamic, Vec::new()).map_err(|e| e.to_string())?;
    // One write per master block, as C Zopfli splits its input: `zopfli::compress` hands a slice
    // to its encoder in one write, which then splits all 16 MB into at most 16 blocks.
    for block in body.chunks(MASTER_BLOCK) {
        encoder.write_all(block).map_err(|e| e.to_string())?;
    }
    let packed = encoder.finish().map_err(|e| e.to_string())?;
    // Written beside the target, then renamed: a stopped build leaves no half twin.
    let partial = target.with_extension("gz.partial");
    std::fs::write(&partial, &packed).map_err(|e| format!("{}: {e}", partial.display()))?;
    std::fs::rename(&partial, &target).map_err(|e| format!("{}: {e}", target.display()))?;
    Ok(packed.len() as u64)
}

/// The bytes a gzip stream inflates to, or None if it is not one.
fn inflate(packed: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(packed), &mut out).ok()?;
    Some(out)
}

fn gzip_twin(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    fn get(port: u16, path: &str, extra: &str) -> (String, Vec<u8>) {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n").unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).unwrap();
        let split = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        // Header names compared case-insensitively (HTTP/1.1 says they are; hyper sends lower case).
        (String::from_utf8_lossy(&reply[..split]).to_lowercase(), reply[split + 4..].to_vec())
    }

    /// Input past one master block is written in parts that still reference across the part
    /// boundary (the window carries over) and inflates to the same bytes.
    #[test]
    fn a_twin_of_several_blocks_inflates_to_its_file() {
        let root = std::env::temp_dir().join(format!("xtask-blocks-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        // A 20 KB random phrase repeated (inside deflate's 32 KB window): only back-references across blocks compress it.
        let mut state = 7u64;
        let phrase: Vec<u8> = (0..20_000)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 56) as u8
            })
            .collect();
        let body: Vec<u8> = phrase.iter().copied().cycle().take(MASTER_BLOCK + 200_000).collect();
        std::fs::write(root.join("big.wasm"), &body).unwrap();
        let packed = write_gzip(&root.join("big.wasm")).unwrap();
        assert_eq!(inflate(&std::fs::read(root.join("big.wasm.gz")).unwrap()).unwrap(), body);
        assert!(packed < 3 * phrase.len() as u64 / 2, "{packed} bytes for {} repeats", body.len() / phrase.len());
        std::fs::remove_dir_all(&root).unwrap();
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
        // Rewriting the same bytes keeps the twin (and renews its time); other bytes replace it.
        let twin = root.join("m.wasm.gz");
        let before = std::fs::read(&twin).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(root.join("m.wasm"), &body).unwrap();
        assert_eq!(write_gzip(&root.join("m.wasm")).unwrap(), packed);
        assert_eq!(std::fs::read(&twin).unwrap(), before);
        let modified = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
        assert!(modified(&twin) >= modified(&root.join("m.wasm")));
        let server = spawn(&root, 0).unwrap();

        let (head, plain) = get(server.port, "/m.wasm", "");
        assert!(head.contains("200 ok") && head.contains("application/wasm") && !head.contains("gzip"), "{head}");
        assert_eq!(plain, body);
        let (head, zipped) = get(server.port, "/m.wasm?v=1", "Accept-Encoding: gzip, deflate, br\r\n");
        assert!(head.contains("content-encoding: gzip") && head.contains("application/wasm"), "{head}");
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&zipped[..]).read_to_end(&mut unpacked).unwrap();
        assert_eq!(unpacked, body);

        // A newer file makes its twin stale: the plain bytes go out.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(root.join("m.wasm"), b"new").unwrap();
        let (head, plain) = get(server.port, "/m.wasm", "Accept-Encoding: gzip\r\n");
        assert!(!head.contains("content-encoding"), "{head}");
        assert_eq!(plain, b"new");
        let (head, _) = get(server.port, "/../etc/passwd", "");
        assert!(head.contains("404"), "{head}");
        // What the crate brings beyond the old loop: byte ranges, and the no-cache header kept.
        let (head, part) = get(server.port, "/m.wasm", "Range: bytes=0-1\r\n");
        assert!(head.contains("206") && head.contains("cache-control: no-cache"), "{head}");
        assert_eq!(part, b"ne");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
