//! The master key from a command (an HSM or KMS client) or a passphrase,
//! through the real binary: a right key starts, anything else stops the
//! start with a clear message and leaves nothing half-made.

mod common;

use common::process::{citadel, serve};

const KEY_A: &str =
    "citadel-master-key-v1:1111111111111111111111111111111111111111111111111111111111111111";
const KEY_B: &str =
    "citadel-master-key-v1:2222222222222222222222222222222222222222222222222222222222222222";
const PASSPHRASE: &str = "Seven long words guard the tenant keys";

fn serve_cmd(data: &std::path::Path) -> std::process::Command {
    let mut cmd = citadel();
    cmd.arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"]);
    cmd
}

#[test]
fn a_key_command_supplies_the_key_and_another_key_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let with_key = |key: &str| {
        let mut cmd = serve_cmd(&data);
        cmd.args(["--master-key-cmd", &format!("echo {key}")]);
        cmd
    };
    let first = serve(&mut with_key(KEY_A)).expect("first start with the command's key");
    assert!(
        !first
            .stdout
            .iter()
            .any(|l| l.starts_with("Created master key")),
        "no key file is made when a command supplies the key"
    );
    drop(first);
    assert!(!data.join("master.key").exists());
    serve(&mut with_key(KEY_A)).expect("the same key starts again");

    let err = serve(&mut with_key(KEY_B)).err().expect("another key");
    assert!(err.contains("does not match"), "{err}");
    assert!(
        !err.contains("2222"),
        "the key never appears in messages: {err}"
    );

    let mut failing = serve_cmd(&data);
    failing.args(["--master-key-cmd", "echo token-abc >&2; exit 7"]);
    let err = serve(&mut failing).err().expect("a failing command");
    assert!(err.contains("master key command failed"), "{err}");

    let mut both = serve_cmd(&data);
    both.args(["--master-key-cmd", &format!("echo {KEY_A}")])
        .args(["--master-key-file", "/tmp/x.key"]);
    let err = serve(&mut both).err().expect("two sources");
    assert!(err.contains("one way"), "{err}");
}

#[test]
fn a_passphrase_derives_the_key_and_a_wrong_one_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let with_phrase = |phrase: &str| {
        let mut cmd = serve_cmd(&data);
        cmd.env("CITADEL_MASTER_KEY_PASSPHRASE", phrase);
        cmd
    };
    let err = serve(&mut with_phrase("too short")).err().expect("short");
    assert!(err.contains("at least 16 characters"), "{err}");
    assert!(!data.join("master-key.salt").exists());

    drop(serve(&mut with_phrase(PASSPHRASE)).expect("first start"));
    let salt = std::fs::read_to_string(data.join("master-key.salt")).expect("salt kept");
    assert!(salt.starts_with("citadel-passphrase-salt-v1:"), "{salt}");
    assert!(!data.join("master.key").exists());
    serve(&mut with_phrase(PASSPHRASE)).expect("the same passphrase starts again");

    let err = serve(&mut with_phrase("Seven long words guard the tenant keyz"))
        .err()
        .expect("wrong passphrase");
    assert!(err.contains("does not match"), "{err}");
    assert_eq!(
        std::fs::read_to_string(data.join("master-key.salt")).expect("salt"),
        salt,
        "a refused start leaves the salt alone"
    );

    // From a file, too.
    let phrase_file = tmp.path().join("phrase");
    std::fs::write(&phrase_file, format!("{PASSPHRASE}\n")).expect("write");
    let mut cmd = serve_cmd(&data);
    cmd.arg("--master-key-passphrase-file").arg(&phrase_file);
    serve(&mut cmd).expect("passphrase from a file");
}

#[test]
fn a_directory_set_up_with_a_key_file_refuses_a_passphrase() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    drop(serve(&mut serve_cmd(&data)).expect("first start makes a key file"));
    let mut cmd = serve_cmd(&data);
    cmd.env("CITADEL_MASTER_KEY_PASSPHRASE", PASSPHRASE);
    let err = serve(&mut cmd).err().expect("refused");
    assert!(err.contains("not set up with a passphrase"), "{err}");
    assert!(!data.join("master-key.salt").exists());
}
