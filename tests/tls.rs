//! TLS without a proxy: gRPC and HTTP over TLS with a certificate made here (rcgen),
//! mutual TLS, and a certificate replaced on disk served without a restart.

mod common;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};
use rustls::{ClientConfig, RootCertStore};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;
use transcoder::app::RunningApp;
use transcoder::config::Settings;
use transcoder::proto as pb;

const WAIT: Duration = Duration::from_secs(30);

type Ca = CertifiedIssuer<'static, KeyPair>;

fn new_ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A certificate signed by `ca` for localhost and 127.0.0.1.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

fn new_leaf(ca: &Ca, name: &str, usage: ExtendedKeyUsagePurpose) -> Leaf {
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &**ca).unwrap();
    Leaf {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().clone(),
    }
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// The app with TLS from `cert`/`key` in `dir` (and mutual TLS when `client_ca`), claiming
/// paused: these tests need the API only.
async fn start_tls(dir: &Path, client_ca: Option<PathBuf>) -> RunningApp {
    let mut settings = Settings {
        data_dir: dir.join("data"),
        ..Settings::default()
    };
    settings.server.grpc_addr = ([127, 0, 0, 1], 0).into();
    settings.server.http_addr = ([127, 0, 0, 1], 0).into();
    settings.workers.concurrency = 1;
    settings.workers.paused = true;
    settings.server.tls.cert = Some(dir.join("server.crt"));
    settings.server.tls.key = Some(dir.join("server.key"));
    settings.server.tls.client_ca = client_ca;
    RunningApp::start(settings)
        .await
        .expect("the app starts with TLS")
}

fn client_config(ca: &Ca, identity: Option<&Leaf>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let builder = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some(leaf) => builder
            .with_client_auth_cert(
                vec![leaf.der.clone()],
                PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// A gRPC channel over TLS to `addr`, as grpcurl with `-cacert` makes one: the server
/// must show a certificate for `localhost` signed by the client's CA.
async fn tls_channel(addr: SocketAddr, config: Arc<ClientConfig>) -> anyhow::Result<Channel> {
    let connector = tower::service_fn(move |_: http::Uri| {
        let config = config.clone();
        async move {
            let tcp = TcpStream::connect(addr).await?;
            let server = ServerName::try_from("localhost").unwrap();
            let tls = TlsConnector::from(config).connect(server, tcp).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });
    Ok(Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect_with_connector(connector)
        .await?)
}

/// ListProfiles as the test company, over a TLS channel: the number of profiles.
async fn list_profiles(
    app: &RunningApp,
    token: &str,
    config: Arc<ClientConfig>,
) -> anyhow::Result<usize> {
    let channel = tls_channel(app.grpc_addr.unwrap(), config).await?;
    let mut client = transcoder::client::with_token(channel, token)?;
    let profiles = client
        .list_profiles(pb::ListProfilesRequest {
            company_id: common::COMPANY.into(),
        })
        .await?
        .into_inner()
        .profiles;
    Ok(profiles.len())
}

/// An HTTPS client that trusts `ca` (as `curl --cacert`), reaching `localhost` at `addr`.
fn https_client(addr: SocketAddr, ca: &Ca, identity: Option<&Leaf>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_der(ca.der()).unwrap()])
        .resolve("localhost", addr)
        .timeout(Duration::from_secs(10));
    if let Some(leaf) = identity {
        let pem = format!("{}{}", leaf.cert_pem, leaf.key_pem);
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

/// `GET https://localhost/v1/me` with `token`: the company it names.
async fn me(client: &reqwest::Client, addr: SocketAddr, token: &str) -> reqwest::Result<String> {
    let body: serde_json::Value = client
        .get(format!("https://localhost:{}/v1/me", addr.port()))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(body["company_id"].as_str().unwrap_or_default().to_owned())
}

/// The leaf certificate the server at `addr` shows in a fresh handshake.
async fn served_certificate(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> CertificateDer<'static> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("handshake");
    tls.get_ref().1.peer_certificates().unwrap()[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_and_https_are_served_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let ca = new_ca("test CA");
    let server = new_leaf(&ca, "server", ExtendedKeyUsagePurpose::ServerAuth);
    write(dir.path(), "server.crt", &server.cert_pem);
    write(dir.path(), "server.key", &server.key_pem);
    let app = start_tls(dir.path(), None).await;
    let token = common::make_company(&app, common::COMPANY, false).await;
    let trusting = client_config(&ca, None);

    let profiles = list_profiles(&app, &token, trusting.clone()).await.unwrap();
    assert!(profiles > 0, "the system presets are listed");

    // Health over TLS: liveness is its own service name, SERVING while the process runs.
    let channel = tls_channel(app.grpc_addr.unwrap(), trusting.clone())
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    for service in ["", "liveness"] {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "service {service:?}");
    }

    let https = https_client(app.http_addr, &ca, None);
    assert_eq!(
        me(&https, app.http_addr, &token).await.unwrap(),
        common::COMPANY
    );

    // A client that does not trust the CA refuses the server; plain HTTP gets nowhere.
    let stranger = new_ca("another CA");
    let distrustful = https_client(app.http_addr, &stranger, None);
    assert!(me(&distrustful, app.http_addr, &token).await.is_err());
    assert!(
        list_profiles(&app, &token, client_config(&stranger, None))
            .await
            .is_err()
    );
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .get(format!("http://{}/healthz", app.http_addr))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP on the TLS port: {plain:?}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_admits_only_clients_with_a_certificate_from_the_client_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = new_ca("test CA");
    let server = new_leaf(&ca, "server", ExtendedKeyUsagePurpose::ServerAuth);
    write(dir.path(), "server.crt", &server.cert_pem);
    write(dir.path(), "server.key", &server.key_pem);
    let client_ca = new_ca("client CA");
    let client_ca_path = write(dir.path(), "clients.crt", &client_ca.pem());
    let app = start_tls(dir.path(), Some(client_ca_path)).await;
    let token = common::make_company(&app, common::COMPANY, false).await;
    let service = new_leaf(
        &client_ca,
        "billing-service",
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let impostor_ca = new_ca("impostor CA");
    let impostor = new_leaf(
        &impostor_ca,
        "impostor",
        ExtendedKeyUsagePurpose::ClientAuth,
    );

    // Without a certificate, or with one the client CA did not sign: refused.
    for identity in [None, Some(&impostor)] {
        let who = identity.map_or("no certificate", |_| "an impostor's certificate");
        let https = https_client(app.http_addr, &ca, identity);
        let refused = me(&https, app.http_addr, &token).await;
        assert!(refused.is_err(), "HTTPS with {who}: {refused:?}");
        let refused = list_profiles(&app, &token, client_config(&ca, identity)).await;
        assert!(refused.is_err(), "gRPC with {who}: {refused:?}");
    }

    // With the client CA's certificate: in, on both ports (and the token still counts).
    let https = https_client(app.http_addr, &ca, Some(&service));
    assert_eq!(
        me(&https, app.http_addr, &token).await.unwrap(),
        common::COMPANY
    );
    let profiles = list_profiles(&app, &token, client_config(&ca, Some(&service)))
        .await
        .unwrap();
    assert!(profiles > 0);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_certificate_is_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ca = new_ca("test CA");
    let first = new_leaf(&ca, "first", ExtendedKeyUsagePurpose::ServerAuth);
    write(dir.path(), "server.crt", &first.cert_pem);
    write(dir.path(), "server.key", &first.key_pem);
    let app = start_tls(dir.path(), None).await;
    let config = client_config(&ca, None);
    let grpc = app.grpc_addr.unwrap();
    assert_eq!(served_certificate(grpc, config.clone()).await, first.der);

    // Rotated as cert-manager or a mounted secret would: new files moved into place.
    let second = new_leaf(&ca, "second", ExtendedKeyUsagePurpose::ServerAuth);
    let staged = tempfile::tempdir_in(dir.path()).unwrap();
    let cert = write(staged.path(), "server.crt", &second.cert_pem);
    let key = write(staged.path(), "server.key", &second.key_pem);
    std::fs::rename(key, dir.path().join("server.key")).unwrap();
    std::fs::rename(cert, dir.path().join("server.crt")).unwrap();

    let started = tokio::time::Instant::now();
    loop {
        let served = served_certificate(grpc, config.clone()).await;
        if served == second.der {
            break;
        }
        assert_eq!(served, first.der, "only the old or the new certificate");
        assert!(
            started.elapsed() < WAIT,
            "the new certificate is not served after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Both ports share the certificate.
    let mut http_config = (*config).clone();
    http_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    assert_eq!(
        served_certificate(app.http_addr, Arc::new(http_config)).await,
        second.der
    );
    app.shutdown().await;
}
