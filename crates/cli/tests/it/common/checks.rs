//! Reads back the identity and storage of a deployed room through the SDK: exact least-privilege grants,
//! a private bucket with typed objects, the queue's redrive, the table's billing, TTL and room item.

use super::{Aws, FUNCTIONS, Room};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use std::collections::BTreeSet;

pub const ACCOUNT: &str = "123456789012";

pub async fn role_policy(aws: &Aws, role: &str) -> Value {
    let attached = aws
        .iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    assert!(
        attached.attached_policies().is_empty(),
        "{role} has managed policies"
    );
    let names = aws
        .iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    assert_eq!(
        names.policy_names(),
        ["beekeeper"],
        "{role} must have exactly one inline policy"
    );
    let doc = aws
        .iam
        .get_role_policy()
        .role_name(role)
        .policy_name("beekeeper")
        .send()
        .await
        .unwrap()
        .policy_document
        .clone();
    serde_json::from_str(&doc)
        .or_else(|_| serde_json::from_str(&urlencoding_decode(&doc)))
        .unwrap()
}

/// IAM may return policy documents percent-encoded.
pub fn urlencoding_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap(),
            );
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Every (action, resource) pair a policy grants.
pub fn grants(policy: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for st in policy["Statement"].as_array().unwrap() {
        assert_eq!(st["Effect"], "Allow");
        let list = |v: &Value| -> Vec<String> {
            match v {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
                other => panic!("unexpected {other}"),
            }
        };
        for a in list(&st["Action"]) {
            for r in list(&st["Resource"]) {
                out.insert((a.clone(), r));
            }
        }
    }
    out
}

pub async fn check_roles(room: &Room, aws: &Aws, bucket: &str) {
    let p = room.prefix();
    let r = &room.region;
    let queue = format!("arn:aws:sqs:{r}:{ACCOUNT}:{p}queue");
    let front = format!("arn:aws:sqs:{r}:{ACCOUNT}:{p}front");
    let table = format!("arn:aws:dynamodb:{r}:{ACCOUNT}:table/{p}table");
    let consumer = format!("arn:aws:lambda:{r}:{ACCOUNT}:function:{p}consumer");
    // The six `?` match exactly the random suffix Secrets Manager gives the secret's ARN.
    let pass_key = format!("arn:aws:secretsmanager:{r}:{ACCOUNT}:secret:{p}pass-key-??????");
    let expected: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "producer",
            vec![
                ("sqs:SendMessage", &queue),
                ("sqs:SendMessage", &front),
                ("dynamodb:GetItem", &table),
                ("dynamodb:BatchGetItem", &table),
                ("dynamodb:UpdateItem", &table),
                ("dynamodb:PutItem", &table),
            ],
        ),
        (
            "trigger",
            vec![
                ("dynamodb:GetItem", &table),
                ("dynamodb:UpdateItem", &table),
                ("dynamodb:BatchGetItem", &table),
                ("dynamodb:PutItem", &table),
                ("sqs:GetQueueAttributes", &queue),
                ("sqs:GetQueueAttributes", &front),
                ("lambda:InvokeFunction", &consumer),
            ],
        ),
        (
            "consumer",
            vec![
                ("sqs:ReceiveMessage", &queue),
                ("sqs:DeleteMessage", &queue),
                ("sqs:ChangeMessageVisibility", &queue),
                ("sqs:GetQueueAttributes", &queue),
                ("sqs:ReceiveMessage", &front),
                ("sqs:DeleteMessage", &front),
                ("sqs:ChangeMessageVisibility", &front),
                ("sqs:GetQueueAttributes", &front),
                ("dynamodb:GetItem", &table),
                ("dynamodb:PutItem", &table),
                ("dynamodb:UpdateItem", &table),
                ("dynamodb:BatchGetItem", &table),
                ("secretsmanager:GetSecretValue", &pass_key),
            ],
        ),
        (
            "drt",
            vec![
                ("dynamodb:GetItem", &table),
                ("dynamodb:UpdateItem", &table),
                ("dynamodb:PutItem", &table),
            ],
        ),
    ];
    // Writes confined to a few keys: the trigger's and DRT's UpdateItem to the room item (UpdateItem
    // creates what it names: unconditioned, either could write a token item, an admission), the
    // trigger's also to the canary's item, and PutItem to the room's copies; the producer's (below) to
    // the ticket counter and place records.
    let copies: Vec<String> = beekeeper_core::contract::room_copy_keys().collect();
    let room_key = vec![beekeeper_core::contract::ROOM_KEY.to_string()];
    let room_and_canary = vec![
        beekeeper_core::contract::ROOM_KEY.to_string(),
        beekeeper_core::contract::CANARY_KEY.to_string(),
    ];
    for (f, action, keys) in [
        ("trigger", "dynamodb:PutItem", &copies),
        ("drt", "dynamodb:PutItem", &copies),
        ("trigger", "dynamodb:UpdateItem", &room_and_canary),
        ("drt", "dynamodb:UpdateItem", &room_key),
    ] {
        let doc = role_policy(aws, &format!("{p}{f}-role")).await;
        let st = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|st| st["Action"].to_string().contains(action))
            .unwrap();
        assert_eq!(
            st["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"],
            serde_json::json!(keys),
            "{f}: {st}"
        );
    }
    // The producer writes place records (`#here#{token}`) and the ticket counter, never a token item (a
    // release) or the room.
    let doc = role_policy(aws, &format!("{p}producer-role")).await;
    for (action, keys) in [
        ("dynamodb:PutItem", serde_json::json!(["#here#*"])),
        (
            "dynamodb:UpdateItem",
            serde_json::json!(["#tickets", "#here#*"]),
        ),
    ] {
        let st = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|st| st["Action"].to_string().contains(action))
            .unwrap();
        assert_eq!(
            st["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"], keys,
            "producer: {st}"
        );
    }
    for (f, own) in expected {
        let role = format!("{p}{f}-role");
        let got = grants(&role_policy(aws, &role).await);
        let group = format!("arn:aws:logs:{r}:{ACCOUNT}:log-group:/aws/lambda/{p}{f}");
        let mut want: BTreeSet<(String, String)> = own
            .iter()
            .map(|(a, r)| (a.to_string(), r.to_string()))
            .collect();
        // No logs:CreateLogGroup: deploy creates the group with its retention.
        for a in ["logs:CreateLogStream", "logs:PutLogEvents"] {
            want.insert((a.into(), group.clone()));
            want.insert((a.into(), format!("{group}:*")));
        }
        assert_eq!(got, want, "{role} grants exactly what {f} uses");
        let trust = aws.iam.get_role().role_name(&role).send().await.unwrap();
        let doc = trust.role().unwrap().assume_role_policy_document().unwrap();
        assert!(doc.contains("lambda.amazonaws.com"), "{role} trust: {doc}");
        assert!(
            trust
                .role()
                .unwrap()
                .tags()
                .iter()
                .any(|t| t.key() == "beekeeper:profile" && t.value() == room.profile)
        );
    }
    let gw = grants(&role_policy(aws, &format!("{p}apigw-role")).await);
    let want: BTreeSet<(String, String)> = [
        (
            "s3:GetObject".to_string(),
            format!("arn:aws:s3:::{bucket}/room/*"),
        ),
        ("dynamodb:BatchGetItem".to_string(), table.clone()),
    ]
    .into();
    assert_eq!(gw, want);
    // No wildcard action anywhere, and no wildcard resource beyond the two scoped forms above.
    for f in FUNCTIONS
        .iter()
        .map(|f| format!("{p}{f}-role"))
        .chain([format!("{p}apigw-role")])
    {
        for (a, r) in grants(&role_policy(aws, &f).await) {
            assert!(!a.contains('*'), "{f}: wildcard action {a}");
            assert!(
                r != "*"
                    && (!r.contains('*') || r.ends_with(":*") || r.ends_with("/room/*"))
                    && (!r.contains('?') || r == pass_key),
                "{f}: {r}"
            );
        }
    }
}

pub async fn check_storage(room: &Room, aws: &Aws, bucket: &str) {
    let p = room.prefix();
    let pab = aws
        .s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let c = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            c.block_public_acls(),
            c.ignore_public_acls(),
            c.block_public_policy(),
            c.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let own = aws
        .s3
        .get_bucket_ownership_controls()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.ownership_controls().unwrap().rules()[0]
            .object_ownership()
            .as_str(),
        "BucketOwnerEnforced"
    );
    // The page is the producer's answer, not a file: without a logo nothing is under room/.
    let listed = aws
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("room/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 0, "{:?}", listed.contents());
    // The branding reaches the producer through its environment.
    let producer = aws
        .lambda
        .get_function_configuration()
        .function_name(format!("{p}producer"))
        .send()
        .await
        .unwrap();
    let vars = producer.environment().unwrap().variables().unwrap();
    assert_eq!(vars["BK_DISPLAY_NAME"], format!("Room {}", room.profile));
    assert_eq!(vars["BK_ACCENT_COLOUR"], "#c75b12");
    assert!(!vars.contains_key("BK_LOGO"));

    let dlq_url = aws
        .sqs
        .get_queue_url()
        .queue_name(format!("{p}dlq"))
        .send()
        .await
        .unwrap();
    let q_url = aws
        .sqs
        .get_queue_url()
        .queue_name(format!("{p}queue"))
        .send()
        .await
        .unwrap();
    let attrs = aws
        .sqs
        .get_queue_attributes()
        .queue_url(q_url.queue_url().unwrap())
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let a = attrs.attributes().unwrap();
    let get = |k: &str| {
        a.get(&aws_sdk_sqs::types::QueueAttributeName::from(k))
            .cloned()
            .unwrap_or_default()
    };
    let redrive: Value = serde_json::from_str(&get("RedrivePolicy")).unwrap();
    assert_eq!(
        redrive["deadLetterTargetArn"],
        format!("arn:aws:sqs:{}:{ACCOUNT}:{p}dlq", room.region)
    );
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "10"
    );
    assert_eq!(get("VisibilityTimeout"), "120");
    assert_eq!(get("MessageRetentionPeriod"), "345600");
    assert!(dlq_url.queue_url().is_some());

    let t = aws
        .ddb
        .describe_table()
        .table_name(format!("{p}table"))
        .send()
        .await
        .unwrap();
    let t = t.table().unwrap();
    assert_eq!(
        t.billing_mode_summary()
            .unwrap()
            .billing_mode()
            .unwrap()
            .as_str(),
        "PAY_PER_REQUEST"
    );
    assert_eq!(t.key_schema()[0].attribute_name(), "pk");
    let ttl = aws
        .ddb
        .describe_time_to_live()
        .table_name(format!("{p}table"))
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(
        (
            ttl.attribute_name(),
            ttl.time_to_live_status().unwrap().as_str()
        ),
        (Some("expires_at"), "ENABLED")
    );
    let item = room_item(room, aws).await;
    assert_eq!(item["open"], AttributeValue::Bool(true));
    assert_eq!(item["rate"], AttributeValue::N("300".into()));
    assert_eq!(
        item["destination"],
        AttributeValue::S("https://shop.example.com/sale".into())
    );
}

pub async fn room_item(
    room: &Room,
    aws: &Aws,
) -> std::collections::HashMap<String, AttributeValue> {
    table_item(room, aws, "#room").await.unwrap()
}

/// The room's table item `pk`, if there is one.
pub async fn table_item(
    room: &Room,
    aws: &Aws,
    pk: &str,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    aws.ddb
        .get_item()
        .table_name(format!("{}table", room.prefix()))
        .key("pk", AttributeValue::S(pk.into()))
        .send()
        .await
        .unwrap()
        .item
}

/// Every copy of the room item that `/poll` and `/client-check` read holds exactly what the room item
/// holds (its version included).
pub async fn assert_room_copies_match(room: &Room, aws: &Aws) {
    let mut want = room_item(room, aws).await;
    want.remove("pk");
    for key in beekeeper_core::contract::room_copy_keys() {
        let mut got = aws
            .ddb
            .get_item()
            .table_name(format!("{}table", room.prefix()))
            .key("pk", AttributeValue::S(key.clone()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap_or_else(|| panic!("{key} missing"));
        got.remove("pk");
        assert_eq!(got, want, "{key}");
    }
}
