//! `sqlx::migrate!` embeds `migrations/` when this crate compiles; Cargo does not know that, so
//! without this a migration added after the last build would not be embedded (what sqlx advises).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
