//! Where things stand, for one person: `/c1 status` (ephemeral) and the App Home tab.
//!
//! Both are read from the store when asked for; App Home is republished for the
//! people a change concerns, so it stays current without anyone reopening it.

use serde_json::{json, Value};

use super::notify::duration_text;
use super::services::Services;
use crate::catalog::Provisioner;
use crate::slack::web::methods;
use crate::store::Table;
use crate::templates::Vars;
use crate::workflow::request::{AccessRequest, State};

fn all_requests(services: &Services) -> Vec<AccessRequest> {
    match services
        .store
        .scan_prefix::<AccessRequest>(Table::Requests, "REQ-")
    {
        Ok(rows) => rows.into_iter().map(|(_, v)| v.data).collect(),
        Err(error) => {
            tracing::error!(%error, "cannot read requests");
            Vec::new()
        }
    }
}

fn stage(request: &AccessRequest) -> String {
    match &request.state {
        State::Pending { step } => match request.steps.get(*step) {
            Some(s) => format!(
                "waiting for {} ({} of {} approvals)",
                s.name,
                s.approvals.len(),
                s.quorum.needed(s.approvers.len())
            ),
            None => "pending".to_owned(),
        },
        State::Approved { .. } => "approved · being set up".to_owned(),
        other => other.label().to_owned(),
    }
}

fn item(services: &Services, request: &AccessRequest) -> Vars {
    let names = services.names(request);
    Vars::new()
        .text("request_id", &request.id)
        .text("resource", &names.resource)
        .text("entitlement", &names.entitlement)
        .text("duration", duration_text(request.duration))
        .date("requested_at", request.created_at.timestamp())
        .text("stage", stage(request))
        .mention("requester", &request.requester)
        .text("justification", &request.justification)
}

fn mine(request: &AccessRequest, user: &str) -> bool {
    request.requester == user || request.beneficiary == user
}

fn waiting_on(request: &AccessRequest, user: &str) -> bool {
    request
        .current_step()
        .is_some_and(|(_, step)| step.approvers.contains(user) && !step.approvals.contains(user))
}

fn my_task(services: &Services, request: &AccessRequest, user: &str) -> bool {
    matches!(request.state, State::Approved { .. })
        && services.target(request).is_some_and(|(_, e)| {
            let Provisioner::Manual { assignees } = &e.provisioner;
            assignees.users.iter().any(|u| u.as_str() == user)
        })
}

/// The `/c1 status` answer, as a slash-command ack payload.
pub fn status_message(services: &Services, user: &str) -> Value {
    let open: Vec<Vars> = all_requests(services)
        .iter()
        .filter(|r| {
            mine(r, user) && matches!(r.state, State::Pending { .. } | State::Approved { .. })
        })
        .map(|r| item(services, r))
        .collect();
    let vars = Vars::new()
        .list("open_requests", open)
        .list("active_grants", Vec::new());
    match services.templates().render("status", &vars) {
        Ok(mut message) => {
            message["response_type"] = json!("ephemeral");
            message
        }
        Err(error) => {
            tracing::error!(%error, "cannot render status");
            json!({ "response_type": "ephemeral", "text": "c1bot could not show your status just now." })
        }
    }
}

/// Renders and publishes `user`'s App Home.
pub async fn publish_home(services: &Services, user: &str) {
    let requests = all_requests(services);
    let my_requests: Vec<Vars> = requests
        .iter()
        .filter(|r| mine(r, user))
        .rev()
        .map(|r| item(services, r))
        .collect();
    let to_decide: Vec<Vars> = requests
        .iter()
        .filter(|r| waiting_on(r, user))
        .map(|r| item(services, r))
        .collect();
    let tasks: Vec<Vars> = requests
        .iter()
        .filter(|r| my_task(services, r, user))
        .map(|r| item(services, r))
        .collect();
    let vars = Vars::new()
        .text("command", &services.command)
        .date("updated_at", services.now().timestamp())
        .list("my_requests", my_requests)
        .list("to_decide", to_decide)
        .list("my_tasks", tasks);
    let view = match services.templates().render("home", &vars) {
        Ok(view) => view,
        Err(error) => return tracing::error!(%error, "cannot render App Home"),
    };
    if let Err(error) = services
        .web
        .call(
            methods::VIEWS_PUBLISH,
            json!({ "user_id": user, "view": view }),
        )
        .await
    {
        tracing::warn!(%error, user, "could not publish App Home");
    }
}

/// Republishes App Home for everyone a request concerns, in the background.
pub fn refresh_homes(services: &Services, request: &AccessRequest) {
    let mut people: Vec<String> = vec![request.requester.clone(), request.beneficiary.clone()];
    people.extend(
        request
            .steps
            .iter()
            .flat_map(|s| s.approvers.iter().cloned()),
    );
    people.sort();
    people.dedup();
    let services = services.clone();
    tokio::spawn(async move {
        for person in people {
            publish_home(&services, &person).await;
        }
    });
}
