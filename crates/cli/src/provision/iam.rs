//! IAM: one role per function and one for API Gateway, each with a single inline policy that names only
//! the actions and resource ARNs that part uses (least privilege: no wildcard actions, no managed
//! policies). The ARNs are derived from names, so roles can be created before the resources they name.

use super::graph::Part;
use super::{Ctx, OrAbsent, build_error, required};
use crate::error::Result;
use aws_sdk_iam::types::Tag;
use beekeeper_core::contract::{CANARY_KEY, HERE_PREFIX, ROOM_KEY, room_copy_keys};
use beekeeper_core::names::{Function, PROFILE_TAG};
use beekeeper_core::ticket::TICKETS_KEY;
use serde_json::{Value, json};

/// The one inline policy of each role.
pub(crate) const POLICY_NAME: &str = "beekeeper";

/// A role to create: its name, the service that assumes it and its inline policy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RoleSpec {
    /// Short key for the record and messages ("producer", "apigw").
    pub key: &'static str,
    pub name: String,
    pub service: &'static str,
    pub policy: Value,
}

/// The resource ARNs the policies name.
pub(crate) struct Arns {
    pub queue: String,
    pub front: String,
    pub table: String,
    pub bucket_room: String,
    pub consumer: String,
    pub pass_secret: String,
}

impl Arns {
    pub(crate) fn new(ctx: &Ctx, bucket: &str) -> Arns {
        Arns {
            queue: ctx.aws.arn("sqs", &ctx.names.queue()),
            front: ctx.aws.arn("sqs", &ctx.names.front_queue()),
            table: ctx
                .aws
                .arn("dynamodb", &format!("table/{}", ctx.names.table())),
            bucket_room: format!("arn:{}:s3:::{bucket}/room/*", ctx.aws.partition()),
            consumer: function_arn(ctx, Function::Consumer),
            // Secrets Manager appends six random characters to a secret's ARN; `??????` matches exactly
            // those, so a role names the secret before it exists and no other secret's name fits.
            pass_secret: ctx.aws.arn(
                "secretsmanager",
                &format!("secret:{}-??????", ctx.names.pass_secret()),
            ),
        }
    }
}

pub(crate) fn function_arn(ctx: &Ctx, f: Function) -> String {
    ctx.aws
        .arn("lambda", &format!("function:{}", ctx.names.function(f)))
}

fn statement(actions: &[&str], resources: &[&str]) -> Value {
    json!({"Effect": "Allow", "Action": actions, "Resource": resources})
}

fn policy(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

pub(crate) fn trust(service: &str) -> Value {
    policy(vec![json!({
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole"
    })])
}

/// Every role of a room with its exact policy.
pub(crate) fn specs(ctx: &Ctx, arns: &Arns) -> Vec<RoleSpec> {
    let mut out: Vec<RoleSpec> = Function::ALL
        .iter()
        .map(|&f| {
            let group = ctx.aws.arn(
                "logs",
                &format!("log-group:/aws/lambda/{}", ctx.names.function(f)),
            );
            let streams = format!("{group}:*");
            // Deploy creates the group with its retention; the function only adds streams and events.
            let logs = statement(
                &["logs:CreateLogStream", "logs:PutLogEvents"],
                &[&group, &streams],
            );
            let own = function_statements(f, arns);
            RoleSpec {
                key: f.part(),
                name: ctx.names.function_role(f),
                service: "lambda.amazonaws.com",
                policy: policy(own.into_iter().chain([logs]).collect()),
            }
        })
        .collect();
    out.push(RoleSpec {
        key: "apigw",
        name: ctx.names.gateway_role(),
        service: "apigateway.amazonaws.com",
        policy: policy(vec![
            statement(&["s3:GetObject"], &[&arns.bucket_room]),
            statement(&["dynamodb:BatchGetItem"], &[&arns.table]),
        ]),
    });
    out
}

/// What a function's own role may do, besides writing its logs.
fn function_statements(f: Function, arns: &Arns) -> Vec<serde_json::Value> {
    // The room item's copies, which every room write rewrites (PutItem) so the waiting path
    // reads them instead of the one room item; only functions that write the room get this,
    // and only on those keys.
    let copies = json!({
        "Effect": "Allow",
        "Action": ["dynamodb:PutItem"],
        "Resource": [&arns.table],
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": room_copy_keys().collect::<Vec<_>>()}}
    });
    // The room item itself. UpdateItem creates the item it names, so without this condition a role that
    // updates the room could write a token item: an admission nobody was released for.
    let room = json!({
        "Effect": "Allow",
        "Action": ["dynamodb:UpdateItem"],
        "Resource": [&arns.table],
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [ROOM_KEY]}}
    });
    match f {
        Function::Producer => vec![
            // A place goes in the line; a returning visitor whose turn passed, at its front.
            statement(&["sqs:SendMessage"], &[&arns.queue, &arns.front]),
            // The room item, a visitor's token item and place record (read together).
            statement(
                &["dynamodb:GetItem", "dynamodb:BatchGetItem"],
                &[&arns.table],
            ),
            // Tickets: the counter item; and the place records (`#here#{token}`): written with
            // the place, confirmed, marked collected or sent to the front. Nothing else.
            json!({
                "Effect": "Allow",
                "Action": ["dynamodb:UpdateItem"],
                "Resource": [&arns.table],
                "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [TICKETS_KEY, &format!("{HERE_PREFIX}*")]}}
            }),
            json!({
                "Effect": "Allow",
                "Action": ["dynamodb:PutItem"],
                "Resource": [&arns.table],
                "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [format!("{HERE_PREFIX}*")]}}
            }),
        ],
        // Publishing released_total reads the counter shards (BatchGetItem); claiming the
        // minute, the line's depth and released_total are UpdateItems on the room item, then its
        // copies; the canary's walkers go on their own item (`#canary`).
        Function::Trigger => vec![
            statement(
                &["dynamodb:GetItem", "dynamodb:BatchGetItem"],
                &[&arns.table],
            ),
            json!({
                "Effect": "Allow",
                "Action": ["dynamodb:UpdateItem"],
                "Resource": [&arns.table],
                "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [ROOM_KEY, CANARY_KEY]}}
            }),
            copies,
            statement(&["sqs:GetQueueAttributes"], &[&arns.queue, &arns.front]),
            statement(&["lambda:InvokeFunction"], &[&arns.consumer]),
        ],
        Function::Consumer => vec![
            statement(
                &[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ],
                &[&arns.queue, &arns.front],
            ),
            // A release is a TransactWriteItems of conditional Puts and a counter Update,
            // which IAM authorises as PutItem and UpdateItem; task claims are PutItems and
            // publishing reads the counter shards.
            statement(
                &[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:BatchGetItem",
                ],
                &[&arns.table],
            ),
            // Signing passes: the key ring, read once per container every five minutes.
            statement(&["secretsmanager:GetSecretValue"], &[&arns.pass_secret]),
        ],
        // DRT acts on answers from an outside URL: it may move the rate on the room item and nothing else.
        Function::Drt => vec![
            statement(&["dynamodb:GetItem"], &[&arns.table]),
            room,
            copies,
        ],
    }
}

/// Every role name a room can have (what `destroy` looks for).
pub(crate) fn role_names(ctx: &Ctx) -> Vec<String> {
    Function::ALL
        .iter()
        .map(|&f| ctx.names.function_role(f))
        .chain([ctx.names.gateway_role()])
        .collect()
}

/// IAM returns policy documents URL-encoded (RFC 3986); emulators sometimes return them as is.
pub(crate) fn decode_document(doc: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str(doc) {
        return Some(v);
    }
    let bytes = doc.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    serde_json::from_slice(&out).ok()
}

/// Creates the role if missing, then makes its trust policy, inline policy and tags what `spec` says,
/// removing any other inline or attached policy. Returns the role's ARN.
pub(crate) async fn upsert_role(ctx: &Ctx, spec: &RoleSpec) -> Result<String> {
    let iam = &ctx.aws.iam;
    let trust_doc = trust(spec.service);
    let existing = iam
        .get_role()
        .role_name(&spec.name)
        .send()
        .await
        .or_absent(|e| e.is_no_such_entity_exception())
        .map_err(ctx.aws.sdk("iam", "GetRole"))?
        .and_then(|o| o.role);
    let tag = Tag::builder()
        .key(PROFILE_TAG)
        .value(ctx.tag_value())
        .build()
        .map_err(build_error("IAM tag"))?;
    let (arn, created) = match existing {
        Some(role) => {
            let current = role.assume_role_policy_document().and_then(decode_document);
            if current.as_ref() != Some(&trust_doc) {
                iam.update_assume_role_policy()
                    .role_name(&spec.name)
                    .policy_document(trust_doc.to_string())
                    .send()
                    .await
                    .map_err(ctx.aws.sdk("iam", "UpdateAssumeRolePolicy"))?;
                ctx.out
                    .changed(format!("role {} trust policy updated", spec.name));
            }
            iam.tag_role()
                .role_name(&spec.name)
                .tags(tag)
                .send()
                .await
                .map_err(ctx.aws.sdk("iam", "TagRole"))?;
            (role.arn, false)
        }
        None => {
            let out = iam
                .create_role()
                .role_name(&spec.name)
                .assume_role_policy_document(trust_doc.to_string())
                .description(format!(
                    "Beekeeper waiting room {}: {}",
                    ctx.profile, spec.key
                ))
                .tags(tag)
                .send()
                .await
                .map_err(ctx.aws.sdk("iam", "CreateRole"))?;
            let arn = required(out.role, "iam CreateRole", "Role")?.arn;
            ctx.aws.role_created(&arn);
            ctx.out.changed(format!("created role {}", spec.name));
            (arn, true)
        }
    };
    ctx.record.set(Part::Roles, Some(spec.key), &arn)?;

    let current = iam
        .get_role_policy()
        .role_name(&spec.name)
        .policy_name(POLICY_NAME)
        .send()
        .await
        .or_absent(|e| e.is_no_such_entity_exception())
        .map_err(ctx.aws.sdk("iam", "GetRolePolicy"))?
        .and_then(|o| decode_document(o.policy_document()));
    if current.as_ref() != Some(&spec.policy) {
        iam.put_role_policy()
            .role_name(&spec.name)
            .policy_name(POLICY_NAME)
            .policy_document(spec.policy.to_string())
            .send()
            .await
            .map_err(ctx.aws.sdk("iam", "PutRolePolicy"))?;
        if !created {
            ctx.out
                .changed(format!("role {} policy updated", spec.name));
        }
    }
    strip_other_policies(ctx, &spec.name, Some(POLICY_NAME)).await?;
    Ok(arn)
}

/// Removes every inline policy but `keep` and detaches every managed policy: a role must hold only what
/// Beekeeper put there (and IAM refuses to delete a role that still has policies).
async fn strip_other_policies(ctx: &Ctx, role: &str, keep: Option<&str>) -> Result<bool> {
    let iam = &ctx.aws.iam;
    let Some(inline) = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .or_absent(|e| e.is_no_such_entity_exception())
        .map_err(ctx.aws.sdk("iam", "ListRolePolicies"))?
    else {
        return Ok(false);
    };
    for name in inline.policy_names() {
        if Some(name.as_str()) == keep {
            continue;
        }
        iam.delete_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .or_absent(|e| e.is_no_such_entity_exception())
            .map_err(ctx.aws.sdk("iam", "DeleteRolePolicy"))?;
    }
    let attached = iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .or_absent(|e| e.is_no_such_entity_exception())
        .map_err(ctx.aws.sdk("iam", "ListAttachedRolePolicies"))?;
    for p in attached.iter().flat_map(|a| a.attached_policies()) {
        if let Some(arn) = p.policy_arn() {
            iam.detach_role_policy()
                .role_name(role)
                .policy_arn(arn)
                .send()
                .await
                .or_absent(|e| e.is_no_such_entity_exception())
                .map_err(ctx.aws.sdk("iam", "DetachRolePolicy"))?;
            tracing::warn!("detached managed policy {arn} from {role}");
        }
    }
    Ok(true)
}

/// Deletes a role and its policies; a missing role is already done. Returns whether it existed.
pub(crate) async fn delete_role(ctx: &Ctx, name: &str) -> Result<bool> {
    if !strip_other_policies(ctx, name, None).await? {
        return Ok(false);
    }
    Ok(ctx
        .aws
        .iam
        .delete_role()
        .role_name(name)
        .send()
        .await
        .or_absent(|e| e.is_no_such_entity_exception())
        .map_err(ctx.aws.sdk("iam", "DeleteRole"))?
        .is_some())
}

/// The room's roles that exist, found by listing (name prefix), not by the record.
pub(crate) async fn existing_roles(ctx: &Ctx) -> Result<Vec<String>> {
    let ours = role_names(ctx);
    let mut found = Vec::new();
    let mut pages = ctx.aws.iam.list_roles().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(ctx.aws.sdk("iam", "ListRoles"))?;
        found.extend(
            page.roles()
                .iter()
                .map(|r| r.role_name().to_string())
                .filter(|n| ours.contains(n)),
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_url_encoded_and_plain_documents() {
        let v = json!({"a": "b c/d"});
        assert_eq!(decode_document(&v.to_string()), Some(v.clone()));
        assert_eq!(decode_document("%7B%22a%22%3A%22b%20c%2Fd%22%7D"), Some(v));
        assert_eq!(decode_document("%7"), None);
    }
}
