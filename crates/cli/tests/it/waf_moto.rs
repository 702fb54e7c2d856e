//! The per-client limit (`init --waf`) against moto: `deploy` puts a web ACL on the stage whose two
//! rate-based rules count per IP address (the visitor routes at the profile's limit, `/client-check`
//! apart at ten times it, each refusing with 429 and `Retry-After`), changes the rules only when the
//! limit changed, removes the ACL when the profile turns it off, and `destroy` leaves none. moto keeps
//! the rules as given and enforces nothing; what AWS WAF does with them is AWS's part.

use crate::common::api_checks::api_id;
use crate::common::{Aws, Room, stderr};
use aws_sdk_wafv2::types::{
    PositionalConstraint, RateBasedStatementAggregateKeyType, Scope, Statement, WebAcl,
};

/// The profile's web ACL and its lock token (which changes with every update), if it exists.
async fn acl(aws: &Aws, room: &Room) -> Option<(WebAcl, String)> {
    let name = format!("{}acl", room.prefix());
    let listed = aws
        .waf()
        .list_web_acls()
        .scope(Scope::Regional)
        .send()
        .await
        .unwrap();
    let summary = listed
        .web_acls()
        .iter()
        .find(|a| a.name() == Some(name.as_str()))?;
    let got = aws
        .waf()
        .get_web_acl()
        .name(&name)
        .scope(Scope::Regional)
        .id(summary.id().unwrap())
        .send()
        .await
        .unwrap();
    Some((
        got.web_acl().unwrap().clone(),
        got.lock_token().unwrap().to_string(),
    ))
}

/// The byte match of a rule's scope-down statement, and whether it is negated.
fn scope_of(statement: &Statement) -> (String, bool) {
    let (matched, negated) = match statement.not_statement() {
        Some(not) => (not.statement().unwrap(), true),
        None => (statement, false),
    };
    let bm = matched.byte_match_statement().unwrap();
    assert_eq!(bm.positional_constraint(), &PositionalConstraint::EndsWith);
    assert!(bm.field_to_match().unwrap().uri_path().is_some());
    let path = String::from_utf8(bm.search_string().as_ref().to_vec()).unwrap();
    (path, negated)
}

/// (rule name, limit, what it counts) of every rule, each checked for what every rule must be.
fn rules(acl: &WebAcl) -> Vec<(String, i64, (String, bool))> {
    assert!(
        acl.default_action().unwrap().allow().is_some(),
        "lets through by default"
    );
    acl.rules()
        .iter()
        .map(|r| {
            let rate = r.statement().unwrap().rate_based_statement().unwrap();
            assert_eq!(
                rate.aggregate_key_type(),
                &RateBasedStatementAggregateKeyType::Ip
            );
            assert_eq!(rate.evaluation_window_sec(), 300);
            let block = r.action().unwrap().block().unwrap();
            let refused = block.custom_response().unwrap();
            assert_eq!(refused.response_code(), 429);
            let headers: Vec<(&str, &str)> = refused
                .response_headers()
                .iter()
                .map(|h| (h.name(), h.value()))
                .collect();
            assert_eq!(headers, [("Retry-After", "60")]);
            assert_eq!(refused.custom_response_body_key(), Some("refused"));
            let scope = scope_of(rate.scope_down_statement().unwrap());
            (r.name().to_string(), rate.limit(), scope)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_per_client_limit_guards_the_stage_follows_the_profile_and_goes_with_destroy() {
    let room = Room::new("waf", "eu-west-1", false);
    let aws = room.aws().await;
    room.ok(&["init", "--profile", "waf", "--waf", "--yes"], &[]);
    assert!(room.config_text().contains("waf_limit = 3000"));
    let out = room.deploy_json();
    let api = api_id(&out);
    let (first, token) = acl(&aws, &room).await.expect("a web ACL");
    let p = room.prefix();
    let cc = ("/client-check".to_string(), false);
    let visitors = ("/client-check".to_string(), true);
    assert_eq!(
        rules(&first),
        [
            (format!("{p}per-ip-visitors"), 3_000, visitors.clone()),
            (format!("{p}per-ip-client-check"), 30_000, cc.clone())
        ]
    );
    // A refused browser gets a page that says why and reloads itself, not an empty 429.
    let page = first.custom_response_bodies().unwrap()["refused"].content();
    assert!(
        page.contains("<h1>Room waf</h1>") && page.contains("content=\"60\""),
        "{page}"
    );
    let stage = format!("arn:aws:apigateway:eu-west-1::/restapis/{api}/stages/live");
    let on_stage = aws
        .waf()
        .get_web_acl_for_resource()
        .resource_arn(&stage)
        .send()
        .await
        .unwrap();
    assert_eq!(on_stage.web_acl().map(|a| a.arn()), Some(first.arn()));
    let tags = aws
        .waf()
        .list_tags_for_resource()
        .resource_arn(first.arn())
        .send()
        .await
        .unwrap();
    let tagged = tags.tag_info_for_resource().unwrap().tag_list();
    assert!(
        tagged
            .iter()
            .any(|t| t.key() == "beekeeper:profile" && t.value() == "waf")
    );

    let status = room.ok(&["status", "waf"], &[]);
    assert!(
        status.contains("per client      3000 requests per address per 5 min (AWS WAF)"),
        "{status}"
    );

    // A redeploy with the same limit leaves the rules alone: an update restarts AWS WAF's counting.
    room.deploy_json();
    assert_eq!(acl(&aws, &room).await.unwrap().1, token, "not updated");

    // A new limit is applied in place.
    room.ok(&["init", "--profile", "waf", "--waf", "500", "--yes"], &[]);
    let out = room.deploy_json();
    assert!(
        out["changed"].to_string().contains("now 500 requests"),
        "{out}"
    );
    let (second, _) = acl(&aws, &room).await.unwrap();
    assert_eq!(second.id(), first.id());
    let limits: Vec<i64> = rules(&second).iter().map(|r| r.1).collect();
    assert_eq!(limits, [500, 5_000]);

    // Out of bounds: refused with the rule, nothing written.
    let bad = room.run(&["init", "--profile", "waf", "--waf", "5", "--yes"], &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("between 10 and"), "{}", stderr(&bad));
    assert!(room.config_text().contains("waf_limit = 500"));

    // Turned off: the next deploy takes it off the stage and deletes it.
    room.ok(&["init", "--profile", "waf", "--no-waf", "--yes"], &[]);
    let out = room.deploy_json();
    assert!(
        out["changed"]
            .to_string()
            .contains("removed the per-client limit"),
        "{out}"
    );
    assert!(acl(&aws, &room).await.is_none());
    let status = room.ok(&["status", "waf"], &[]);
    assert!(status.contains("per client      no limit"), "{status}");

    room.ok(&["init", "--profile", "waf", "--waf", "--yes"], &[]);
    room.deploy_json();
    let limits: Vec<i64> = rules(&acl(&aws, &room).await.unwrap().0)
        .iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(
        limits,
        [3_000, 30_000],
        "off forgot the limit: --waf alone is the default again"
    );
    let text = room.destroy();
    assert!(text.contains("web ACL"), "{text}");
    assert_eq!(aws.everything_named(&p).await, Vec::<String>::new());
}
