//! The activity channel: one line per request, edited in place through its life; a
//! channel c1bot cannot post to never holds the request up.

use std::time::Duration;

use crate::grants::{advance, app_with, approved_request};
use crate::helpers::eventually;
use crate::requests::{dm_containing, WAIT};

#[tokio::test]
async fn one_line_per_request_is_posted_and_edited_as_it_moves_on() {
    let app = app_with(|c| c.activity.channel = Some("C0SECURITY".into())).await;
    let line = || {
        let lines: Vec<_> = app
            .sim
            .messages_in("C0SECURITY")
            .into_iter()
            .filter(|m| m.visible_text().contains("REQ-1001"))
            .collect();
        assert!(
            lines.len() <= 1,
            "one line per request, edited in place: {lines:?}"
        );
        lines.first().map(|m| m.visible_text()).unwrap_or_default()
    };
    let stage_is = |wanted: &'static str| {
        let line = &line;
        async move {
            eventually(
                WAIT,
                &format!("the activity line reads {wanted:?}"),
                || async { line().contains(wanted) },
            )
            .await
        }
    };
    crate::requests::request(
        &app,
        "alice",
        "AWS production",
        "ReadOnly",
        "4 h",
        "secret incident 4711",
    )
    .await;
    stage_is("waiting for Team lead").await;
    assert!(
        !line().contains("secret incident"),
        "reasons stay out unless configured"
    );
    assert!(line().contains("<@U0ALICE001>") && line().contains("4 h"));
    app.sim
        .person("bob")
        .click("Approve")
        .await
        .expect("bob approves");
    stage_is("approved, being granted").await;
    let carol = app.sim.person("carol");
    dm_containing(&carol, "Grant *ReadOnly*").await;
    carol.click("Mark complete").await.expect("carol grants");
    stage_is("active").await;
    advance(&app, Duration::from_secs(4 * 3600 + 1));
    stage_is("being revoked").await;
    dm_containing(&carol, "from <@U0ALICE001>: expired").await;
    carol.click("Mark complete").await.expect("carol revokes");
    stage_is("revoked").await;
    app.stop().await;
}

#[tokio::test]
async fn a_channel_c1bot_cannot_post_to_does_not_affect_the_request() {
    let app = app_with(|c| c.activity.channel = Some("C0NOSUCH01".into())).await;
    approved_request(&app).await;
    dm_containing(&app.sim.person("alice"), "Approved").await;
    dm_containing(&app.sim.person("carol"), "Grant *ReadOnly*").await;
    eventually(
        WAIT,
        "the post was tried and Slack said channel_not_found",
        || async {
            app.sim.calls_to("chat.postMessage").iter().any(|c| {
                c.args["channel"] == "C0NOSUCH01" && c.error.as_deref() == Some("channel_not_found")
            })
        },
    )
    .await;
    app.stop().await;
}
