//! App Home kept live by what commits: a change to a request republishes the open
//! Home of everyone it concerns, without their reopening it (the subscription to
//! committed changes, `app::shared::consequences`).

use crate::campaign_home::home_now;
use crate::helpers::{eventually, spawn_app};
use crate::requests::{dm_containing, request, WAIT};

#[tokio::test]
async fn an_approvers_open_home_follows_a_request_from_submitted_to_decided() {
    let app = spawn_app().await;
    let (bob, frank) = (app.sim.person("bob"), app.sim.person("frank"));
    bob.open_app_home().await;
    eventually(WAIT, "bob's App Home is published", || async {
        home_now(&bob).contains("_Nothing is waiting for your decision._")
    })
    .await;

    request(
        &app,
        "alice",
        "AWS production",
        "ReadOnly",
        "1 h",
        "live home",
    )
    .await;
    eventually(WAIT, "bob's open Home lists the new request", || async {
        home_now(&bob).contains("live home")
    })
    .await;

    dm_containing(&frank, "live home").await;
    frank.click("Approve").await.expect("frank approves");
    eventually(
        WAIT,
        "bob's open Home drops the decided request",
        || async {
            let home = home_now(&bob);
            !home.contains("live home") && home.contains("_Nothing is waiting for your decision._")
        },
    )
    .await;
    app.stop().await;
}
