//! `zkedge dashboard` in a real browser: Debian's Chromium, headless, driven through
//! chromedriver (WebDriver). The page verifies every proof with the WASM verifier, and its
//! verdicts must be `zkedge verify`'s: a proof over a ceremony's SRS shows valid, a tampered
//! one invalid, one over the development SRS valid with the insecure-SRS warning, and a job
//! proven by a `zkedge worker` through a real nats-server (`--nats`) valid; a proof and bundle
//! picked by hand are checked too. A screenshot is saved to target/browser/.
//!
//! Needs the WASM verifier and Chromium: `cargo xtask browser` builds, installs and runs it
//! (`cargo xtask test` does); plain `cargo test` skips it.

mod common;

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{free_port, nats::Server, path, snarkjs::ceremony, zkedge};
use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

/// Kills a child process when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn setup(model: &Path, keys: &Path, srs: Option<&Path>) {
    let mut args = vec!["setup", "--model", path(model), "--out", path(keys)];
    if let Some(srs) = srs {
        args.extend(["--srs", path(srs)]);
    }
    let (code, _, err) = zkedge(&args);
    assert_eq!(code, 0, "{err}");
}

fn prove(model: &Path, keys: &Path, input: &Path, out: &Path) {
    let (code, _, err) = zkedge(&[
        "prove",
        "--model",
        path(model),
        "--keys",
        path(keys),
        "--input",
        path(input),
        "--out",
        path(out),
    ]);
    assert_eq!(code, 0, "{err}");
}

/// `zkedge verify`'s verdict on `proof` with `keys` (the dev SRS allowed, as the page does).
fn cli_verdict(keys: &Path, proof: &Path) -> &'static str {
    let (code, _, _) = zkedge(&[
        "verify",
        "--keys",
        path(keys),
        "--proof",
        path(proof),
        "--allow-insecure-dev-srs",
    ]);
    if code == 0 {
        "valid"
    } else {
        "invalid"
    }
}

/// Starts `zkedge dashboard` and reads the address it prints.
fn dashboard(keys: &[&Path], proofs: &Path, nats: &str, wasm: &Path) -> (Reaped, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zkedge"));
    cmd.args(["dashboard", "--nats", nats]);
    for k in keys {
        cmd.arg("--keys").arg(k);
    }
    let mut child = cmd
        .arg("--proofs")
        .arg(proofs)
        .arg("--wasm")
        .arg(wasm)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("zkedge dashboard starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("dashboard on ")
        .unwrap_or_else(|| panic!("dashboard printed {line:?}"))
        .to_owned();
    (Reaped(child), url)
}

#[test]
#[ignore = "needs the WASM verifier and Chromium: run by `cargo xtask browser`"]
fn the_page_verifies_proofs_in_the_browser_as_zkedge_verify_does() {
    let wasm = PathBuf::from(
        std::env::var("ZKEDGE_WASM_PKG")
            .expect("ZKEDGE_WASM_PKG: the WASM verifier's folder (cargo xtask browser sets it)"),
    );
    let dir = std::env::temp_dir().join(format!("zkedge-dashboard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let proofs = dir.join("proofs");
    std::fs::create_dir_all(&proofs).unwrap();
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/models/italy-power-demand.json");
    let input = dir.join("input.json");
    let values: Vec<String> = (0..24)
        .map(|i| format!("{}", (i as f64 * 0.3).sin()))
        .collect();
    std::fs::write(&input, format!("{{\"values\": [{}]}}", values.join(","))).unwrap();

    let (_, ptau) = ceremony(common::snarkjs::POWER);
    let (real, dev) = (dir.join("keys-ceremony"), dir.join("keys-dev"));
    setup(&model, &real, Some(&ptau));
    setup(&model, &dev, None);
    prove(&model, &real, &input, &proofs.join("lamppost7-1.zkp"));
    prove(&model, &dev, &input, &proofs.join("bridge2-1.zkp"));
    // One transcript byte changed, near the end (an opening's evaluation): still a well-formed
    // file, which only the verifier can refuse.
    let mut bytes = std::fs::read(proofs.join("lamppost7-1.zkp")).unwrap();
    let at = bytes.len() - 40;
    bytes[at] ^= 0x01;
    std::fs::write(proofs.join("lamppost7-2.zkp"), &bytes).unwrap();

    // A job through the cluster: submitted, proven by a worker, stored in JetStream.
    let nats = Server::new(&dir);
    let other = dir.join("input2.json");
    let values: Vec<String> = (0..24)
        .map(|i| format!("{}", (i as f64 * 0.3).cos()))
        .collect();
    std::fs::write(&other, format!("{{\"values\": [{}]}}", values.join(","))).unwrap();
    let (code, id, err) = zkedge(&[
        "submit",
        "--nats",
        &nats.url(),
        "--model",
        path(&model),
        "--input",
        path(&other),
    ]);
    assert_eq!(code, 0, "{err}");
    let id = id.trim().to_owned();
    let job_file = format!("job-{}.zkp", &id[..16]);
    let fetched = dir.join(&job_file);
    {
        let _worker = Reaped(
            Command::new(env!("CARGO_BIN_EXE_zkedge"))
                .args(["worker", "--nats", &nats.url(), "--keys", path(&real)])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(120);
        while zkedge(&["fetch", "--nats", &nats.url(), &id, "--out", path(&fetched)]).0 != 0 {
            assert!(
                Instant::now() < deadline,
                "the worker did not prove job {id}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    let expected = [
        ("lamppost7-1.zkp", &real, "valid", "0"),
        ("bridge2-1.zkp", &dev, "valid", "1"),
        ("lamppost7-2.zkp", &real, "invalid", "0"),
        (job_file.as_str(), &real, "valid", "0"),
    ];
    for (file, keys, verdict, _) in &expected {
        let on_disk = if *file == job_file {
            fetched.clone()
        } else {
            proofs.join(file)
        };
        assert_eq!(
            cli_verdict(keys, &on_disk),
            *verdict,
            "zkedge verify on {file}"
        );
    }

    let (_server, url) = dashboard(&[&real, &dev], &proofs, &nats.url(), &wasm);
    let port = free_port();
    let _driver = Reaped(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver) starts"),
    );
    let screenshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/browser");
    std::fs::create_dir_all(&screenshot).unwrap();
    let profile = dir.join("chromium-profile");

    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut caps = serde_json::Map::new();
            caps.insert(
                "goog:chromeOptions".into(),
                serde_json::json!({
                    "binary": "/usr/bin/chromium",
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--window-size=1400,900",
                        format!("--user-data-dir={}", profile.display()),
                    ],
                }),
            );
            let deadline = Instant::now() + Duration::from_secs(20);
            let client = loop {
                match ClientBuilder::new(HttpConnector::new())
                    .capabilities(caps.clone())
                    .connect(&format!("http://127.0.0.1:{port}"))
                    .await
                {
                    Ok(c) => break c,
                    Err(e) if Instant::now() < deadline => {
                        let _ = e;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(e) => panic!("no WebDriver session on chromedriver: {e}"),
                }
            };
            client.goto(&url).await.unwrap();

            // Every row gets its verdict from the WASM verifier.
            let deadline = Instant::now() + Duration::from_secs(120);
            for (file, _, verdict, insecure) in &expected {
                let css = format!("tr[data-file=\"{file}\"]");
                let row = loop {
                    if let Ok(row) = client.find(Locator::Css(&css)).await {
                        let v = row.attr("data-verdict").await.unwrap();
                        if v.as_deref().is_some_and(|v| v != "pending") {
                            break row;
                        }
                    }
                    let status = client
                        .find(Locator::Id("status"))
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap();
                    assert!(Instant::now() < deadline, "no verdict for {file}: {status}");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                };
                let text = row.text().await.unwrap();
                println!("{file}: {text}");
                assert_eq!(
                    row.attr("data-verdict").await.unwrap().as_deref(),
                    Some(*verdict),
                    "{file}: {text}"
                );
                assert_eq!(
                    row.attr("data-insecure").await.unwrap().as_deref(),
                    Some(*insecure),
                    "{file}: {text}"
                );
            }
            // The chart holds the results that verified over the ceremony's SRS (the folder's
            // and the cluster's): not the tampered one, not the one over the dev SRS.
            let figure = client
                .find(Locator::Css("figure[data-model=\"italy-power-demand\"]"))
                .await
                .unwrap();
            assert_eq!(
                figure.attr("data-points").await.unwrap().as_deref(),
                Some("2")
            );
            let circles = figure.find_all(Locator::Css("svg circle")).await.unwrap();
            assert_eq!(circles.len(), 2);
            let png = client.screenshot().await.unwrap();
            std::fs::write(screenshot.join("dashboard.png"), png).unwrap();

            // By hand: the tampered proof with its bundle, then the valid one.
            for (file, verdict) in [("lamppost7-2.zkp", "invalid"), ("lamppost7-1.zkp", "valid")] {
                client
                    .find(Locator::Id("bundle-file"))
                    .await
                    .unwrap()
                    .send_keys(path(&real.join("verifier.zkv")))
                    .await
                    .unwrap();
                client
                    .find(Locator::Id("proof-file"))
                    .await
                    .unwrap()
                    .send_keys(path(&proofs.join(file)))
                    .await
                    .unwrap();
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    let manual = client.find(Locator::Id("manual")).await.unwrap();
                    let got = manual.attr("data-verdict").await.unwrap();
                    if got.as_deref() == Some(verdict) {
                        println!("by hand, {file}: {}", manual.text().await.unwrap());
                        break;
                    }
                    assert!(Instant::now() < deadline, "by hand, {file}: {got:?}");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
            client.close().await.unwrap();
        });
}
