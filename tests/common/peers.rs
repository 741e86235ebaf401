//! Real peers the tests start: an S3-compatible server (s3s-fs), an HTTP origin, a
//! webhook receiver and an SMTP sink. All listen on 127.0.0.1, port 0.
#![allow(dead_code)]

use aws_sdk_s3::config::{Credentials, Region};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

pub const S3_ACCESS_KEY: &str = "test-access-key";
pub const S3_SECRET_KEY: &str = "test-secret-key-0123456789";

/// s3s-fs behind hyper, with injectable failures: every upload of part 2, or every PUT.
pub struct S3Peer {
    pub addr: SocketAddr,
    pub fail_part_two: Arc<AtomicBool>,
    pub fail_puts: Arc<AtomicBool>,
    /// Milliseconds every upload request (PUT/POST) waits before it is served, so an
    /// upload lasts long enough to kill its worker mid-way. 0 by default.
    pub upload_delay_ms: Arc<AtomicU64>,
    root: tempfile::TempDir,
}

impl S3Peer {
    pub async fn start() -> Self {
        use hyper_util::rt::{TokioExecutor, TokioIo};
        let root = tempfile::tempdir().unwrap();
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(
            S3_ACCESS_KEY,
            S3_SECRET_KEY,
        ));
        let service = builder.build();
        let fail_part_two = Arc::new(AtomicBool::new(false));
        let fail_puts = Arc::new(AtomicBool::new(false));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fail = (fail_part_two.clone(), fail_puts.clone());
        let upload_delay_ms = Arc::new(AtomicU64::new(0));
        let delay = upload_delay_ms.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let service = service.clone();
                let fail = fail.clone();
                let delay = delay.clone();
                tokio::spawn(async move {
                    let handler = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let service = service.clone();
                            let is_put = req.method() == hyper::Method::PUT;
                            let is_upload = is_put || req.method() == hyper::Method::POST;
                            let wait = if is_upload {
                                delay.load(Ordering::SeqCst)
                            } else {
                                0
                            };
                            let part_two = req
                                .uri()
                                .query()
                                .is_some_and(|q| q.split('&').any(|kv| kv == "partNumber=2"));
                            let failing = is_put
                                && (fail.1.load(Ordering::SeqCst)
                                    || (part_two && fail.0.load(Ordering::SeqCst)));
                            async move {
                                if wait > 0 {
                                    tokio::time::sleep(std::time::Duration::from_millis(wait))
                                        .await;
                                }
                                if failing {
                                    let body = "<Error><Code>InternalError</Code><Message>injected</Message></Error>";
                                    let response = hyper::Response::builder()
                                        .status(500)
                                        .body(s3s::Body::from(body.to_owned()))
                                        .unwrap();
                                    return Ok::<_, s3s::HttpError>(response);
                                }
                                hyper::service::Service::call(&service, req).await
                            }
                        },
                    );
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), handler)
                        .await;
                });
            }
        });
        Self {
            addr,
            fail_part_two,
            fail_puts,
            upload_delay_ms,
            root,
        }
    }

    /// Parts s3s-fs still keeps for unfinished multipart uploads.
    pub fn stored_parts(&self) -> usize {
        std::fs::read_dir(self.root.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".upload_id-")
            })
            .count()
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client of our own, to arrange and check objects.
    pub fn client(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                S3_ACCESS_KEY,
                S3_SECRET_KEY,
                None,
                None,
                "test",
            ))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub async fn create_bucket(&self, name: &str) {
        self.client()
            .create_bucket()
            .bucket(name)
            .send()
            .await
            .unwrap();
    }

    pub async fn get(&self, bucket: &str, key: &str) -> Option<(Vec<u8>, Option<String>)> {
        let object = self
            .client()
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        let content_type = object.content_type().map(str::to_owned);
        let bytes = object.body.collect().await.unwrap().into_bytes().to_vec();
        Some((bytes, content_type))
    }
}

/// Points a settings' S3 section at a peer's endpoint.
pub fn use_s3(settings: &mut transcoder::config::Settings, endpoint: &str) {
    settings.s3.endpoint_url = Some(endpoint.to_owned());
    settings.s3.region = Some("us-east-1".into());
    settings.s3.force_path_style = true;
    settings.s3.access_key_id = Some(S3_ACCESS_KEY.into());
    settings.s3.secret_access_key = Some(S3_SECRET_KEY.into());
    settings.s3.max_attempts = 2;
}

/// An HTTP origin with well-behaved and misbehaving routes.
pub struct OriginPeer {
    pub addr: SocketAddr,
    /// Port of a raw listener whose answers declare more bytes than they send.
    pub lying_addr: SocketAddr,
    /// `/flaky.mp4` answers 503 while this is above 0 (counting it down), then the clip.
    pub flaky_failures_left: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct OriginState {
    clip: Arc<Vec<u8>>,
    port: u16,
    flaky_failures_left: Arc<AtomicUsize>,
}

impl OriginPeer {
    pub async fn start(clip: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let flaky_failures_left = Arc::new(AtomicUsize::new(0));
        let state = OriginState {
            clip: Arc::new(std::fs::read(clip).unwrap()),
            port: addr.port(),
            flaky_failures_left: flaky_failures_left.clone(),
        };
        let app = Router::new()
            .route(
                "/clip.mp4",
                get(|State(s): State<OriginState>| async move { (*s.clip).clone() }),
            )
            .route("/flaky.mp4", get(flaky))
            .route("/slow.mp4", get(slow))
            .route("/big.mp4", get(big))
            .route("/loop/{n}", get(redirect_loop))
            .route("/to-forbidden", get(to_forbidden))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            addr,
            lying_addr: start_lying_server().await,
            flaky_failures_left,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// 503 while failures are left to give, then the clip.
async fn flaky(State(s): State<OriginState>) -> Response {
    let failing = s
        .flaky_failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    (*s.clip).clone().into_response()
}

/// Sends the first bytes, then nothing, forever.
async fn slow() -> Response {
    let first = futures::stream::once(async {
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"\x00\x00\x00\x18ftyp"))
    });
    let body = Body::from_stream(futures::StreamExt::chain(first, futures::stream::pending()));
    Response::new(body)
}

/// Ten megabytes, declared up front.
async fn big() -> Response {
    let chunk = bytes::Bytes::from(vec![0u8; 1024 * 1024]);
    let stream =
        futures::stream::iter((0..10).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let mut response = Response::new(Body::from_stream(stream));
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, (10 * 1024 * 1024).into());
    response
}

async fn redirect_loop(UrlPath(n): UrlPath<u32>) -> Response {
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("/loop/{}", n + 1))],
    )
        .into_response()
}

async fn to_forbidden(State(s): State<OriginState>) -> Response {
    let target = format!("http://127.0.0.2:{}/clip.mp4", s.port);
    (StatusCode::FOUND, [(header::LOCATION, target)]).into_response()
}

async fn start_lying_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\nonly ten!!")
                    .await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

/// One request a webhook receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
    pub answered: u16,
}

/// Answers with the given statuses in turn (the last one repeats) and keeps every request.
#[derive(Clone)]
pub struct WebhookPeer {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Vec<u16>>,
    count: Arc<AtomicUsize>,
}

impl WebhookPeer {
    pub async fn start(answers: Vec<u16>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = Self {
            addr: listener.local_addr().unwrap(),
            received: Arc::default(),
            answers: Arc::new(answers),
            count: Arc::default(),
        };
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(peer.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        peer
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }
}

async fn receive(State(peer): State<WebhookPeer>, headers: HeaderMap, body: String) -> StatusCode {
    let n = peer.count.fetch_add(1, Ordering::SeqCst);
    let answered = *peer.answers.get(n).or(peer.answers.last()).unwrap_or(&200);
    peer.received.lock().unwrap().push(Received {
        headers,
        body,
        answered,
    });
    StatusCode::from_u16(answered).unwrap()
}

/// Standard Webhooks verification, written here apart from the server's signer.
pub fn verify_signature(secret: &str, received: &Received) -> bool {
    use base64::Engine;
    use hmac::Mac;
    let b64 = base64::engine::general_purpose::STANDARD;
    let get = |name: &str| {
        received
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let key = b64.decode(secret.trim_start_matches("whsec_")).unwrap();
    let signed = format!(
        "{}.{}.{}",
        get("webhook-id"),
        get("webhook-timestamp"),
        received.body
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(signed.as_bytes());
    let expected = b64.encode(mac.finalize().into_bytes());
    get("webhook-signature")
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|sig| sig == expected)
}

/// An SMTP server that keeps every message it accepts.
#[derive(Clone, Default)]
pub struct SmtpSink {
    pub messages: Arc<Mutex<Vec<String>>>,
    current: Arc<Mutex<Vec<u8>>>,
}

impl mailin_embedded::Handler for SmtpSink {
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.lock().unwrap().extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let message = String::from_utf8_lossy(&std::mem::take(&mut *self.current.lock().unwrap()))
            .into_owned();
        self.messages.lock().unwrap().push(message);
        mailin_embedded::response::OK
    }
}

impl SmtpSink {
    /// Serves on a thread of its own; returns the sink and its `smtp://` URL.
    pub fn start() -> (Self, String) {
        let sink = SmtpSink::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let mut server = mailin_embedded::Server::new(sink.clone());
        server
            .with_name("sink.test")
            .with_ssl(mailin_embedded::SslConfig::None)
            .unwrap()
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            if let Err(e) = server.serve() {
                eprintln!("SMTP sink stopped: {e}");
            }
        });
        (sink, url)
    }
}

pub fn scratch_file(dir: &Path, name: &str, len: usize) -> PathBuf {
    let mut bytes = vec![0u8; len];
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for b in bytes.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Fetches `bucket`/`key` from the S3 peer and checks that `meta` is exactly what exiftool
/// prints for it, key by key, with the keys the seed's postback shows.
pub async fn assert_meta_is_exiftools(
    s3: &S3Peer,
    bucket: &str,
    key: &str,
    meta: &serde_json::Map<String, serde_json::Value>,
) {
    let (bytes, _) = s3.get(bucket, key).await.expect("the object exists");
    let scratch = tempfile::tempdir().unwrap();
    let fetched = scratch.path().join("fetched.mp4");
    std::fs::write(&fetched, bytes).unwrap();
    let expected = transcoder::media::exiftool::read_metadata(&fetched)
        .await
        .unwrap();
    for (name, value) in &expected {
        assert_eq!(meta.get(name), Some(value), "meta.{name}");
    }
    let extra: Vec<_> = meta.keys().filter(|k| !expected.contains_key(*k)).collect();
    assert!(extra.is_empty(), "keys exiftool does not print: {extra:?}");
    for name in [
        "FileSize",
        "FileType",
        "MIMEType",
        "MajorBrand",
        "CompatibleBrands",
        "Duration",
        "ImageWidth",
        "ImageHeight",
        "VideoFrameRate",
        "AvgBitrate",
        "CompressorID",
        "AudioChannels",
        "AudioSampleRate",
        "ImageSize",
        "Megapixels",
        "Rotation",
    ] {
        assert!(meta.contains_key(name), "meta has {name}: {meta:?}");
    }
}
