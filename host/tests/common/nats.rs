//! A real nats-server (JetStream with file storage, the MQTT gateway) for the tests: Debian's
//! nats-server, which `cargo xtask test` installs.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use super::free_port;

/// A program from PATH (or Debian's sbin), or a panic saying how to install it.
pub fn tool(name: &str) -> PathBuf {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/usr/bin"])
    {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is not installed: `cargo xtask test` installs it (apt-get install nats-server mosquitto-clients)");
}

/// A nats-server with JetStream and the MQTT gateway, its store in `dir`.
pub struct Server {
    child: Option<Child>,
    conf: PathBuf,
    port: u16,
    /// Its MQTT gateway's port.
    pub mqtt: u16,
}

impl Server {
    /// Starts one, its store and configuration in `dir`.
    pub fn new(dir: &Path) -> Self {
        let (port, mqtt) = (free_port(), free_port());
        let conf = dir.join("nats.conf");
        let store = dir.join("jetstream");
        std::fs::write(
            &conf,
            format!(
                "server_name: zkedge_test\nlisten: 127.0.0.1:{port}\n\
                 jetstream {{ store_dir: \"{}\" }}\nmqtt {{ listen: 127.0.0.1:{mqtt} }}\n",
                store.display()
            ),
        )
        .unwrap();
        let mut server = Server {
            child: None,
            conf,
            port,
            mqtt,
        };
        server.start();
        server
    }

    /// Its client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on the same ports and store.
    pub fn start(&mut self) {
        let child = Command::new(tool("nats-server"))
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < until, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILLs it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
