//! A small supervisor for the fault-injection suite: Courier's worker, API and the payment sandbox
//! as separate OS processes (the binaries `cargo test --workspace` built), beside a Postgres
//! cluster and a Temporal dev server of their own (state in a file), each of which can be killed
//! with `SIGKILL` and started again on the same port and data.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// The repository's root (`tests/` is one of its members).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

/// Where cargo put the workspace's binaries for the running test (`target/<profile>`).
fn bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/<test binary>
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .context("the test binary lives in target/<profile>/deps")
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Whether something accepts connections on the port.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// Waits (with [`crate::wait_until`]) until `ready` holds, or fails naming `what` at `deadline`.
pub async fn until(
    what: &str,
    deadline: Duration,
    mut ready: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let ready = crate::wait_until(deadline, || {
        let now = ready();
        async move { Ok(now) }
    })
    .await?;
    if !ready {
        bail!("{what} not ready within {deadline:?}");
    }
    Ok(())
}

/// One supervised program: how to start it, and its running process.
pub struct Service {
    pub name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    pub port: u16,
    child: Option<Child>,
    pub kills: u32,
}

impl Service {
    /// A binary of this workspace (`courier-worker`, `courier-api`, `payment-sandbox`), logging
    /// to `<logs>/<name>.log`.
    pub fn workspace_binary(
        binary: &str,
        name: &'static str,
        port: u16,
        env: Vec<(String, String)>,
        logs: &Path,
    ) -> anyhow::Result<Self> {
        let program = bin_dir()?.join(binary);
        if !program.exists() {
            bail!(
                "{} is missing: build the workspace first (scripts/test does)",
                program.display()
            );
        }
        Ok(Self::new(name, program, Vec::new(), env, port, logs))
    }

    pub fn new(
        name: &'static str,
        program: PathBuf,
        args: Vec<String>,
        env: Vec<(String, String)>,
        port: u16,
        logs: &Path,
    ) -> Self {
        Self {
            name,
            program,
            args,
            env,
            log: logs.join(format!("{name}.log")),
            port,
            child: None,
            kills: 0,
        }
    }

    /// Starts the program (appending to its log) and waits until it listens on its port.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.program.display()))?;
        self.child = Some(child);
        let port = self.port;
        let name = self.name;
        let started = until(name, Duration::from_secs(120), || {
            listening(port) || self.exited()
        })
        .await;
        if self.exited() || started.is_err() {
            bail!(
                "{name} did not come up; the end of {}:\n{}",
                self.log.display(),
                tail(&self.log)
            );
        }
        Ok(())
    }

    fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_some())
    }

    /// `SIGKILL`: no goodbye, no cleanup, as a crash or an OOM kill.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
            self.kills += 1;
        }
        Ok(())
    }

    pub async fn kill_and_restart(&mut self) -> anyhow::Result<()> {
        self.kill()?;
        let port = self.port;
        until(
            "the old process's port to close",
            Duration::from_secs(30),
            || !listening(port),
        )
        .await?;
        self.start().await
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// A Postgres cluster of the suite's own (trust authentication on loopback), run as the
/// `postgres` user when the tests run as root, as `scripts/setup` does.
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    pub port: u16,
    pub restarts: u32,
}

impl Postgres {
    pub fn init(dir: &Path, port: u16) -> anyhow::Result<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .context("PostgreSQL is installed (scripts/setup installs it)")?
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .max()
            .context("a PostgreSQL with initdb")?;
        let data = dir.join("postgres");
        std::fs::create_dir_all(&data)?;
        let log = dir.join("postgres.log");
        std::fs::write(&log, "")?;
        let pg = Self {
            bin,
            data,
            log,
            port,
            restarts: 0,
        };
        if as_root() {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(dir))?;
        }
        run(pg.command("initdb").arg("-D").arg(&pg.data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]))?;
        Ok(pg)
    }

    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    pub fn start(&self) -> anyhow::Result<()> {
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off",
                self.port,
                self.data.display()
            ))
            .arg("start"))
    }

    /// Stops the server without a shutdown checkpoint (as a crash would), then starts it.
    pub fn crash_and_restart(&mut self) -> anyhow::Result<()> {
        run(self.command("pg_ctl").arg("-D").arg(&self.data).args([
            "-m",
            "immediate",
            "-w",
            "stop",
        ]))?;
        self.restarts += 1;
        self.start()
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let out = command.output().with_context(|| format!("{command:?}"))?;
    if !out.status.success() {
        bail!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A Temporal dev server with its state in a file (so a killed server comes back with every
/// workflow), started with the flags `scripts/lib.sh` gives every dev server of Courier's.
pub fn temporal_dev_server(dir: &Path, port: u16) -> anyhow::Result<Service> {
    let root = repo_root();
    let flags = Command::new("bash")
        .arg("-c")
        .arg("source scripts/lib.sh && printf '%s\\n' \"$temporal\" \"${temporal_dev_flags[@]}\"")
        .current_dir(&root)
        .output()?;
    if !flags.status.success() {
        bail!(
            "reading scripts/lib.sh: {}",
            String::from_utf8_lossy(&flags.stderr)
        );
    }
    let mut lines = String::from_utf8(flags.stdout)?
        .lines()
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .into_iter();
    let program = PathBuf::from(lines.next().context("the temporal binary's path")?);
    if !program.exists() {
        bail!("{} is missing: run scripts/setup", program.display());
    }
    let mut args: Vec<String> = [
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--headless",
        "--log-level",
        "warn",
        "--port",
    ]
    .map(str::to_owned)
    .to_vec();
    args.push(port.to_string());
    args.push("--db-filename".to_owned());
    args.push(dir.join("temporal.db").display().to_string());
    args.extend(lines);
    Ok(Service::new(
        "temporal",
        program,
        args,
        Vec::new(),
        port,
        dir,
    ))
}
