//! The `hark` command without a node: what a person sees before starting one.

use std::process::Command;

// A client with no node running says how to start one and exits 69.
#[test]
fn client_without_node_says_how_to_start_one() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("whoami")
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);

    assert_eq!(out.status.code(), Some(69), "stderr: {stderr}");
    assert!(
        stderr.contains("no Hark node is running"),
        "stderr: {stderr}"
    );
    assert!(
        stderr.contains("node"),
        "does not say how to start one: {stderr}"
    );
    Ok(())
}

// A malformed address is a usage error (exit 2), not a crash.
#[test]
fn bad_multiaddr_is_a_usage_error() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["node", "--peer", "not-an-address"])
        .output()?;

    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-an-address"));
    Ok(())
}

// Numbers out of range (or not numbers at all: NaN, infinity) are usage
// errors naming the value, before any node is asked.
#[test]
fn out_of_range_numbers_are_usage_errors() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let live = ["send", "--live", "--to", "x", "f.wav"];
    let record = ["record", "--to", "x"];
    let cases = [
        (&live[..], "--drop-frames", "nan"),
        (&live[..], "--drop-frames", "1.5"),
        (&live[..], "--cancel-after", "inf"),
        (&record[..], "--seconds", "0"),
        (&record[..], "--seconds", "-1"),
        (&record[..], "--seconds", "1e9"),
    ];
    for (command, flag, value) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_hark"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(command)
            .arg(format!("{flag}={value}"))
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(value), "{flag} {value}: {stderr}");
    }
    Ok(())
}

// A data dir that is a file is named as such, and the file is left alone.
#[test]
fn data_dir_that_is_a_file_is_refused() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, b"keep me")?;
    let out = Command::new(env!("CARGO_BIN_EXE_hark"))
        .arg("--data-dir")
        .arg(&file)
        .args(["node", "--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0"])
        .output()?;

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not a directory"), "{stderr}");
    assert_eq!(std::fs::read(&file)?, b"keep me");
    Ok(())
}
