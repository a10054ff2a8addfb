//! The real `citadel` binary as a child process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub fn citadel() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_citadel"));
    cmd.env_remove("RUST_LOG");
    for (key, _) in std::env::vars() {
        if key.starts_with("CITADEL_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Runs a one-shot command (no stdin) and returns its output.
pub fn run(args: &[&str]) -> Output {
    citadel()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run citadel")
}

pub struct Served {
    pub child: Child,
    pub base: String,
    pub stdout: Vec<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `citadel <args>` and waits for its "listening" line. Returns the
/// process and everything it printed up to that line, or the failure output
/// if it exits first.
pub fn serve(cmd: &mut Command) -> Result<Served, String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                let found = line
                    .strip_prefix("Citadel listening on ")
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_owned);
                lines.push(line);
                if let Some(base) = found {
                    // Keep draining so the child never blocks on a full pipe.
                    std::thread::spawn(move || while rx.recv().is_ok() {});
                    return Ok(Served {
                        child,
                        base,
                        stdout: lines,
                    });
                }
            }
            Err(_) => {
                let _ = child.kill();
                let output = child.wait_with_output().expect("wait");
                return Err(format!(
                    "{}{}",
                    lines.join("\n"),
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
    }
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}
