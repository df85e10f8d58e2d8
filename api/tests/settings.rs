//! Settings that would make the saga unsafe stop the API at start, with a message that names
//! them, before it serves anything.

use std::process::Command;

fn start_with(vars: &[(&str, &str)]) -> std::process::Output {
    let mut api = Command::new(env!("CARGO_BIN_EXE_courier-api"));
    api.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        // Nothing listens here: a start that got past the settings would fail differently.
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:9/none")
        .env("TEMPORAL_ADDRESS", "127.0.0.1:9")
        .env("COURIER_API_ADDR", "127.0.0.1:0");
    for (name, value) in vars {
        api.env(name, value);
    }
    api.output().expect("the courier-api binary runs")
}

#[test]
fn a_free_delivery_or_no_compensation_attempts_is_refused_at_start() {
    let out = start_with(&[
        ("COURIER_DELIVERY_FEE_MINOR", "0"),
        ("COURIER_COMPENSATION_ATTEMPTS", "0"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("unsafe saga settings"), "{stderr}");
    assert!(stderr.contains("COURIER_DELIVERY_FEE_MINOR"), "{stderr}");
    assert!(stderr.contains("COURIER_COMPENSATION_ATTEMPTS"), "{stderr}");
}
