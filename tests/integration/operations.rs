//! Operating c1bot: one instance per data directory, metrics.

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_second_instance_on_the_same_data_directory_is_refused() {
    let app = spawn_app().await;

    let error = c1bot::app::start(&app.config)
        .await
        .err()
        .expect("the second instance must not start");

    let message = format!("{error:#}");
    assert!(message.contains("only one instance"), "{message}");
    assert_eq!(
        app.sim.open_connections(),
        2,
        "the first instance keeps serving"
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_envelopes_and_web_api_calls() {
    let app = spawn_app().await;
    let outcome = app
        .sim
        .person("alice")
        .slash("/c1", "help", "general")
        .await;
    assert!(outcome.acked);

    let text = app.bot.as_ref().expect("running").metrics.render();

    assert!(
        text.contains("c1bot_envelopes_total{kind=\"slash_commands\",payload_type=\"\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("c1bot_web_api_calls_total{method=\"auth.test\",result=\"ok\"} 1"),
        "{text}"
    );
    assert!(text.contains("c1bot_ack_latency_seconds_count 1"), "{text}");
    app.stop().await;
}
