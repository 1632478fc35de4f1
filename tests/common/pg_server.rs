//! A real PostgreSQL server for the tests that run on a shared store, and a fresh database on
//! it for each test. `.ci/run` starts one server for every test binary and names it in
//! `TRIBUTARY_TEST_POSTGRES`; run locally without it, each test binary starts its own from
//! Debian's `postgresql` package on a loopback port, in a temporary folder, and the server
//! stops when the test binary exits (its parent-death signal). Without PostgreSQL installed
//! the tests that need it are skipped with a message, except under `CI=true`.
//!
//! Shared by the library's unit tests (`src/store/tests.rs` includes it) and the end-to-end
//! tests.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The environment variable naming a server to use: a URL of its `postgres` database.
const SERVER_VARIABLE: &str = "TRIBUTARY_TEST_POSTGRES";

/// Creates a new, empty database on the test server and returns its URL; `None` (after saying why)
/// when there is no PostgreSQL here and the tests are not run by CI.
pub fn fresh_database() -> Option<String> {
    static SERVER: OnceLock<Option<String>> = OnceLock::new();
    let server = SERVER.get_or_init(server).as_deref()?;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let admin = server.to_owned();
    let create = format!("CREATE DATABASE {name}");
    // Off the caller's thread: the blocking client cannot run inside a Tokio runtime.
    std::thread::spawn(move || {
        let mut client =
            postgres::Client::connect(&admin, postgres::NoTls).expect("connect to the test server");
        client.batch_execute(&create).expect("create a database");
    })
    .join()
    .expect("the database is created");
    Some(format!("{}/{name}", base(server)))
}

/// Returns `url` without its database path.
fn base(url: &str) -> &str {
    url.rsplit_once('/').map_or(url, |(base, _)| base)
}

/// Gets the server's admin URL: the one CI names, or one started here.
fn server() -> Option<String> {
    if let Ok(url) = std::env::var(SERVER_VARIABLE) {
        return Some(url);
    }
    let Some(bin) = binaries() else {
        assert!(
            std::env::var("CI").is_err(),
            "PostgreSQL is not installed (Debian's postgresql package); CI must have it"
        );
        eprintln!("skipped: PostgreSQL is not installed (Debian's postgresql package)");
        return None;
    };
    Some(start(&bin))
}

/// Finds the folder of `initdb` and `postgres`: on the PATH, or where Debian puts the newest.
fn binaries() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| dir.join("initdb").is_file()));
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
            .filter(|bin| bin.join("initdb").is_file())
            .collect();
        versions.sort();
        versions.pop()
    })
}

/// Starts a server of this process's own and returns its admin URL.
fn start(bin: &Path) -> String {
    let root = std::env::temp_dir().join(format!("tributary-pg-{}", std::process::id()));
    remove_stale_servers();
    let data = root.join("data");
    std::fs::create_dir_all(&root).expect("a folder for the server");
    let owner = server_owner();
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&root, Some(uid), Some(gid)).expect("give the folder away");
    }
    let initdb = as_owner(Command::new(bin.join("initdb")), owner)
        .args([
            "--auth=trust",
            "--username=postgres",
            "--encoding=UTF8",
            "--no-locale",
            "-D",
        ])
        .arg(&data)
        .stdout(Stdio::null())
        .status()
        .expect("run initdb");
    assert!(initdb.success(), "initdb failed");
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().expect("its address").port()
    };
    let mut postgres = as_owner(Command::new(bin.join("postgres")), owner);
    postgres
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(&root)
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=400",
        ])
        // A test's database is thrown away: durability would only slow the tests.
        .args([
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // The server stops when the thread that started it ends: one that lives as long as the
    // process.
    std::thread::spawn(move || {
        // SAFETY: prctl is async-signal-safe, and is all that runs between fork and exec.
        let mut child = unsafe {
            postgres.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT);
                Ok(())
            })
        }
        .spawn()
        .expect("start postgres");
        let _ = child.wait();
    });
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let deadline = Instant::now() + Duration::from_secs(30);
    let probe = url.clone();
    while std::thread::spawn({
        let probe = probe.clone();
        move || postgres::Client::connect(&probe, postgres::NoTls).is_err()
    })
    .join()
    .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "postgres did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    url
}

/// Finds the user the server runs as: `postgres` when the tests run as root, who may not run it.
fn server_owner() -> Option<(u32, u32)> {
    // SAFETY: getuid cannot fail.
    if unsafe { libc::getuid() } != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|line| line.starts_with("postgres:"))?;
    let fields: Vec<&str> = line.split(':').collect();
    Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?))
}

/// Sets `command` to run as `owner` when there is one.
fn as_owner(mut command: Command, owner: Option<(u32, u32)>) -> Command {
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid).env("HOME", "/tmp");
    }
    command
}

/// Removes the folders of servers whose test process is gone.
fn remove_stale_servers() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("tributary-pg-") else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
