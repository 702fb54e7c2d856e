//! Runs the example site: `BK_ROOM_URL=https://…/live/ PORT=3000 cargo run -p beekeeper-example-verifier`.

use beekeeper_example_verifier::{Gate, app};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let room = std::env::var("BK_ROOM_URL").unwrap_or_default();
    if !room.ends_with('/') {
        return Err("set BK_ROOM_URL to the waiting room's URL, ending in '/'".into());
    }
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let site = std::env::var("SITE_ORIGIN").unwrap_or_else(|_| format!("http://127.0.0.1:{port}"));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {site}");
    axum::serve(listener, app(Gate::new(&room, &site))).await?;
    Ok(())
}
