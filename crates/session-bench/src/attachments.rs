//! Attachment rows: a 20 MB file sent through the swarms over 3-hop paths (upload and download
//! throughput, time to first byte, storage bytes per payload byte), each against the same run's
//! raw onion-request throughput with the same payload size and parallelism.

use std::future::Future as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use session_client::attachments::{Attachments, Progress, CHUNK_BYTES, PARALLEL};
use session_client::OnionClient;
use session_crypto::{Ed25519PublicKey, OsRng, RngCore};
use session_testnet::client::TestAccount;
use session_testnet::{Testnet, TestnetConfig};
use session_wire::rpc::{FetchBlobParams, Request, StoreBlobParams};

use crate::measure::Row;
use crate::suite::Error;

/// The file size of the rows.
const FILE_BYTES: usize = 20_000_000;

/// Runs the attachment rows alone, on a network of their own.
pub async fn run_alone() -> Result<Vec<Row>, Error> {
    let runner = session_testnet::program::self_runner()?;
    eprintln!("starting a 12-node network (one process per node)...");
    let net = Testnet::start(TestnetConfig {
        runner,
        ..TestnetConfig::default()
    })
    .await?;
    let rows = rows(&net).await;
    net.shutdown().await;
    rows
}

/// The rows, on a running network.
pub async fn rows(net: &Testnet) -> Result<Vec<Row>, Error> {
    let dir = tempfile::tempdir()?;
    let client = OnionClient::connect(net.client_config()).await?;
    let account = TestAccount::from_byte(201);
    let mut data = vec![0u8; FILE_BYTES];
    OsRng.fill_bytes(&mut data);

    eprintln!("raw onion requests of {CHUNK_BYTES} bytes...");
    let (raw_up, raw_names) = raw_stores(&client, FILE_BYTES.div_ceil(CHUNK_BYTES)).await?;
    let raw_down = raw_fetches(&client, &raw_names).await?;

    eprintln!("a {} MB attachment up and down...", FILE_BYTES / 1_000_000);
    let started = Instant::now();
    let manifest = Attachments::new(&client, dir.path().join("up"))
        .upload(
            &account.keys,
            &data,
            "bench.bin",
            "application/octet-stream",
            &|_| {},
        )
        .await?;
    let up = mbps(FILE_BYTES, started.elapsed());
    let first = Mutex::new(None);
    let started = Instant::now();
    let progress = |p: Progress| {
        if p.done > 0 {
            if let Ok(mut f) = first.lock() {
                f.get_or_insert_with(|| started.elapsed());
            }
        }
    };
    let got = Attachments::new(&client, dir.path().join("down"))
        .download(&manifest, &progress)
        .await?;
    let down = mbps(FILE_BYTES, started.elapsed());
    if got.data != data {
        return Err("the downloaded file differs".into());
    }
    let ttfb = first
        .into_inner()
        .ok()
        .flatten()
        .ok_or("no chunk arrived")?
        .as_secs_f64()
        * 1000.0;
    let one_raw_ms = CHUNK_BYTES as f64 / 1e6 / raw_down * 1000.0 * PARALLEL as f64;

    let stored = blob_bytes(net)?;
    let encrypted = session_crypto::attachment::encrypted_size(FILE_BYTES) as f64;
    // Raw chunks are held too: subtract them (each was stored on its swarm like the file's).
    let raw_bytes = raw_names.len() as f64 * CHUNK_BYTES as f64;
    let per_payload = (stored - raw_bytes * members(net)) / FILE_BYTES as f64;
    let row = |name: String,
               median: f64,
               unit: &str,
               reference_name: &str,
               reference: f64,
               ratio: f64,
               target: &str,
               meets: bool| Row {
        name,
        median,
        p99: None,
        unit: unit.into(),
        reference_name: reference_name.into(),
        reference,
        reference_unit: unit.into(),
        ratio,
        target: target.into(),
        meets_target: meets,
    };
    let raw_name = format!("raw onion requests, {CHUNK_BYTES} B payloads, {PARALLEL} at once");
    Ok(vec![
        row(
            "attachment upload, 20 MB through 3-hop paths".into(),
            up,
            "MB/s",
            &format!("{raw_name} (store_blob)"),
            raw_up,
            up / raw_up,
            "-",
            true,
        ),
        row(
            "attachment download, 20 MB, verified and decrypted".into(),
            down,
            "MB/s",
            &format!("{raw_name} (fetch_blob)"),
            raw_down,
            down / raw_down,
            "-",
            true,
        ),
        row(
            "attachment time to first verified chunk".into(),
            ttfb,
            "ms",
            "one raw fetch at the raw throughput",
            one_raw_ms,
            one_raw_ms / ttfb,
            "-",
            true,
        ),
        row(
            "attachment storage bytes per payload byte (whole network)".into(),
            per_payload,
            "B/B",
            "ciphertext bytes per payload byte x swarm size",
            encrypted / FILE_BYTES as f64 * members(net),
            encrypted / FILE_BYTES as f64 * members(net) / per_payload,
            "-",
            true,
        ),
    ])
}

fn mbps(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9)
}

/// Members per swarm of the network (all swarms have the same size in these runs).
fn members(net: &Testnet) -> f64 {
    net.swarm_members_for(&[0u8; 32]).len() as f64
}

/// Bytes of blob data on every node, read from their databases.
fn blob_bytes(net: &Testnet) -> Result<f64, Error> {
    let mut total = 0i64;
    for entry in std::fs::read_dir(net.base_dir())? {
        let path = entry?.path().join(session_node::blobs::BLOB_DATABASE_FILE);
        if path.exists() {
            let conn = rusqlite::Connection::open(&path)?;
            total += conn.query_row("SELECT COALESCE(SUM(size), 0) FROM blobs", [], |r| {
                r.get::<_, i64>(0)
            })?;
        }
    }
    Ok(total as f64)
}

/// `count` random payloads of a chunk's size stored by plain onion requests, `PARALLEL` at a
/// time: MB/s and the names.
async fn raw_stores(client: &OnionClient, count: usize) -> Result<(f64, Vec<[u8; 32]>), Error> {
    let payloads: Vec<Vec<u8>> = (0..count)
        .map(|_| {
            let mut p = vec![0u8; CHUNK_BYTES];
            OsRng.fill_bytes(&mut p);
            p
        })
        .collect();
    let names: Vec<[u8; 32]> = payloads
        .iter()
        .map(|p| session_wire::blob_name(p))
        .collect();
    let started = Instant::now();
    parallel(count, |i| {
        let (payload, name) = (&payloads[i], names[i]);
        async move {
            let data = STANDARD.encode(payload);
            let build = |_: u64, _: &Ed25519PublicKey| {
                Request::StoreBlob(StoreBlobParams {
                    name: session_wire::blob_name_hex_of(&name),
                    data: data.clone(),
                    ttl: None,
                })
            };
            client.request_keyed(&name, &[], build).await.map(|_| ())
        }
    })
    .await?;
    Ok((mbps(count * CHUNK_BYTES, started.elapsed()), names))
}

/// The same payloads fetched back by plain onion requests (no check, no decryption): MB/s.
async fn raw_fetches(client: &OnionClient, names: &[[u8; 32]]) -> Result<f64, Error> {
    let started = Instant::now();
    parallel(names.len(), |i| {
        let name = names[i];
        async move {
            let build = |_: u64, _: &Ed25519PublicKey| {
                Request::FetchBlob(FetchBlobParams {
                    name: session_wire::blob_name_hex_of(&name),
                })
            };
            client.request_keyed(&name, &[], build).await.map(|_| ())
        }
    })
    .await?;
    Ok(mbps(names.len() * CHUNK_BYTES, started.elapsed()))
}

/// Runs `job(0..count)` with `PARALLEL` workers on this task.
async fn parallel<F, Fut>(count: usize, job: F) -> Result<(), Error>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), session_client::ClientError>>,
{
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(None);
    let worker = || async {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= count {
                return;
            }
            if let Err(e) = job(i).await {
                if let Ok(mut f) = failed.lock() {
                    f.get_or_insert(e.to_string());
                }
                return;
            }
        }
    };
    let workers: Vec<_> = (0..PARALLEL).map(|_| Box::pin(worker())).collect();
    let mut workers = workers;
    std::future::poll_fn(move |cx| {
        workers.retain_mut(|w| w.as_mut().poll(cx).is_pending());
        if workers.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    match failed.into_inner().ok().flatten() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
