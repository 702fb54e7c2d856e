//! S3: the private bucket that holds the waiting-room page. Nothing in it is public: API Gateway reads it
//! with its own role. Bucket names are global, so the name carries a random suffix recorded in the
//! profile; a lost record is recovered by listing buckets with the profile's prefix and tag.

use super::{Ctx, OrAbsent, build_error};
use crate::assets;
use crate::error::{CliError, Result};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, PublicAccessBlockConfiguration, Tag, Tagging,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use beekeeper_core::config::RoomConfig;
use beekeeper_core::names::PROFILE_TAG;
use rand::Rng;
use std::collections::BTreeMap;
use std::path::PathBuf;

mod empty;
pub(crate) use empty::delete_bucket;

/// Where the page lives in the bucket; the gateway role may read nothing else.
pub(crate) const ROOM_PREFIX: &str = "room/";

const SUFFIX_LEN: usize = 8;

/// A fresh bucket-name suffix: lowercase letters and digits (bucket names allow nothing else here).
pub(crate) fn new_suffix() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..SUFFIX_LEN)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// Whether `name` is exactly this profile's bucket pattern (so `drop` never matches `drop-2`'s bucket).
fn is_our_bucket_name(ctx: &Ctx, name: &str) -> bool {
    name.strip_prefix(&ctx.names.bucket("")).is_some_and(|s| {
        s.len() == SUFFIX_LEN
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// Error codes S3 models without a typed variant on these operations.
fn has_code(e: &impl ProvideErrorMetadata, code: &str) -> bool {
    e.code() == Some(code)
}

/// The profile's buckets that exist: listed by prefix, kept only when the name fits the pattern and the
/// bucket carries the profile's tag.
pub(crate) async fn existing_buckets(ctx: &Ctx) -> Result<Vec<String>> {
    let prefix = ctx.names.bucket("");
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ctx
            .aws
            .s3
            .list_buckets()
            .prefix(&prefix)
            // A bucket in another region is another room's, and reading its tags here would redirect.
            .bucket_region(&ctx.aws.region)
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(ctx.aws.sdk("s3", "ListBuckets"))?;
        for b in page.buckets() {
            let Some(name) = b.name() else { continue };
            if is_our_bucket_name(ctx, name) && tagged_ours(ctx, name).await? {
                found.push(name.to_string());
            }
        }
        token = page.continuation_token().map(str::to_string);
        if token.is_none() {
            return Ok(found);
        }
    }
}

async fn tagged_ours(ctx: &Ctx, bucket: &str) -> Result<bool> {
    match ctx.aws.s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(t) => Ok(t
            .tag_set()
            .iter()
            .any(|t| t.key() == PROFILE_TAG && t.value() == ctx.profile)),
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                ["NoSuchTagSet", "NoSuchBucket", "PermanentRedirect"]
                    .iter()
                    .any(|c| has_code(s, c))
            }) =>
        {
            Ok(false)
        }
        Err(e) => Err(ctx.aws.sdk("s3", "GetBucketTagging")(e)),
    }
}

/// The bucket's name: its suffix recorded, else recovered from an existing bucket of the profile, else
/// new. It is recorded before the bucket exists so an interrupted deploy reuses the name.
pub(crate) async fn bucket_name(ctx: &Ctx) -> Result<String> {
    let suffix = match ctx.record.snapshot().bucket_suffix {
        Some(s) => s,
        None => {
            let prefix = ctx.names.bucket("");
            let found = existing_buckets(ctx).await?;
            let s = found
                .first()
                .and_then(|b| b.strip_prefix(&prefix))
                .map(str::to_string)
                .unwrap_or_else(new_suffix);
            ctx.record.update(|d| d.bucket_suffix = Some(s.clone()))?;
            s
        }
    };
    Ok(ctx.names.bucket(&suffix))
}

/// Creates the bucket if missing and (re)applies what keeps it private: all four public-access blocks,
/// owner-enforced object ownership (ACLs off), and the profile tag.
pub(crate) async fn upsert_bucket(ctx: &Ctx, bucket: &str) -> Result<()> {
    if !bucket_exists(ctx, bucket).await? {
        create_bucket(ctx, bucket).await?;
    }
    block_public_access(ctx, bucket).await?;
    let s3 = &ctx.aws.s3;
    s3.put_bucket_ownership_controls()
        .bucket(bucket)
        .ownership_controls(
            OwnershipControls::builder()
                .rules(
                    OwnershipControlsRule::builder()
                        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                        .build()
                        .map_err(build_error("S3 ownership rule"))?,
                )
                .build()
                .map_err(build_error("S3 ownership controls"))?,
        )
        .send()
        .await
        .map_err(ctx.aws.sdk("s3", "PutBucketOwnershipControls"))?;
    let tag = Tag::builder()
        .key(PROFILE_TAG)
        .value(ctx.tag_value())
        .build()
        .map_err(build_error("S3 tag"))?;
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(
            Tagging::builder()
                .tag_set(tag)
                .build()
                .map_err(build_error("S3 tagging"))?,
        )
        .send()
        .await
        .map_err(ctx.aws.sdk("s3", "PutBucketTagging"))?;
    Ok(())
}

/// A bucket in the room's region with ACLs off from the start.
async fn create_bucket(ctx: &Ctx, bucket: &str) -> Result<()> {
    let mut req = ctx
        .aws
        .s3
        .create_bucket()
        .bucket(bucket)
        .object_ownership(ObjectOwnership::BucketOwnerEnforced);
    // us-east-1 is the default location and AWS rejects it as an explicit constraint.
    if ctx.aws.region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(ctx.aws.region.as_str()))
                .build(),
        );
    }
    req.send()
        .await
        .or_absent(|e| e.is_bucket_already_owned_by_you())
        .map_err(ctx.aws.sdk("s3", "CreateBucket"))?;
    ctx.out.changed(format!("created bucket {bucket}"));
    Ok(())
}

/// All four public-access blocks on.
async fn block_public_access(ctx: &Ctx, bucket: &str) -> Result<()> {
    ctx.aws
        .s3
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(ctx.aws.sdk("s3", "PutPublicAccessBlock"))?;
    Ok(())
}

/// One object of the page: its key, content type and bytes.
struct Object {
    key: String,
    content_type: String,
    bytes: Vec<u8>,
    /// How a change to it is reported.
    label: &'static str,
}

fn desired_objects(config: &RoomConfig) -> Result<Vec<Object>> {
    // The page itself is answered by the producer; the logo is the one file it fetches from here.
    let mut out: Vec<Object> = Vec::new();
    if let Some(path) = &config.logo {
        if let Some(name) = assets::logo_name(path) {
            let bytes = std::fs::read(path).map_err(|source| CliError::Io {
                action: "read the logo file",
                path: PathBuf::from(path),
                source,
            })?;
            out.push(Object {
                key: format!("{ROOM_PREFIX}{name}"),
                content_type: mime_guess::from_path(&name)
                    .first_or_octet_stream()
                    .essence_str()
                    .to_string(),
                bytes,
                label: "logo",
            });
        } else {
            tracing::warn!(
                "logo {path} is not a png/jpg/gif/svg/webp file; the page shows no logo"
            );
        }
    }
    Ok(out)
}

/// Uploads every object of the page whose bytes or content type differ from what is stored, and deletes
/// any other object under `room/` (a logo that was replaced or removed).
pub(crate) async fn upload_assets(ctx: &Ctx, bucket: &str, config: &RoomConfig) -> Result<()> {
    let s3 = &ctx.aws.s3;
    let objects = desired_objects(config)?;
    let mut changed: BTreeMap<&'static str, ()> = BTreeMap::new();
    for o in &objects {
        let current = s3
            .get_object()
            .bucket(bucket)
            .key(&o.key)
            .send()
            .await
            .or_absent(|e| e.is_no_such_key())
            .map_err(ctx.aws.sdk("s3", "GetObject"))?;
        let same = match current {
            Some(cur) => {
                let ct = cur.content_type().map(str::to_string);
                let body = cur.body.collect().await.map_err(|e| CliError::BadRequest {
                    what: "S3 GetObject body",
                    detail: e.to_string(),
                })?;
                ct.as_deref() == Some(o.content_type.as_str())
                    && body.into_bytes() == o.bytes.as_slice()
            }
            None => false,
        };
        if same {
            continue;
        }
        s3.put_object()
            .bucket(bucket)
            .key(&o.key)
            .content_type(&o.content_type)
            .body(ByteStream::from(o.bytes.clone()))
            .send()
            .await
            .map_err(ctx.aws.sdk("s3", "PutObject"))?;
        changed.insert(o.label, ());
    }
    let keep: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
    for key in list_keys(ctx, bucket, ROOM_PREFIX).await? {
        if !keep.contains(&key.as_str()) {
            s3.delete_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .map_err(ctx.aws.sdk("s3", "DeleteObject"))?;
            changed.insert("stale objects removed", ());
        }
    }
    for label in changed.keys() {
        ctx.out.changed(format!("{label} uploaded"));
    }
    Ok(())
}

pub(crate) async fn list_keys(ctx: &Ctx, bucket: &str, prefix: &str) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut pages = ctx
        .aws
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(ctx.aws.sdk("s3", "ListObjectsV2"))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
    }
    Ok(keys)
}

pub(crate) async fn bucket_exists(ctx: &Ctx, bucket: &str) -> Result<bool> {
    Ok(ctx
        .aws
        .s3
        .head_bucket()
        .bucket(bucket)
        .send()
        .await
        .or_absent(|e| e.is_not_found())
        .map_err(ctx.aws.sdk("s3", "HeadBucket"))?
        .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_lowercase_alphanumeric_and_differ() {
        let a = new_suffix();
        assert_eq!(a.len(), SUFFIX_LEN);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "{a}"
        );
        assert_ne!(a, new_suffix());
    }
}
