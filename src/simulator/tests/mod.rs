//! Black-box tests of the simulator over real HTTP (reqwest) and websockets
//! (tokio-tungstenite as a client), with a tiny scripted "bot" in `harness`.

mod harness;
mod history;
mod people;
mod socket;
mod web;
