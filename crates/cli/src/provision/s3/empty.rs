//! Removing the bucket: S3 deletes only an empty one, so every object version and delete marker goes
//! first.

use super::{bucket_exists, has_code, list_keys};
use crate::error::Result;
use crate::provision::{Ctx, build_error};
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

/// Empties the bucket (every version and delete marker) and deletes it. Returns whether it existed.
pub(crate) async fn delete_bucket(ctx: &Ctx, bucket: &str) -> Result<bool> {
    if !bucket_exists(ctx, bucket).await? {
        return Ok(false);
    }
    if !delete_versions(ctx, bucket).await? {
        return Ok(true);
    }
    // Unversioned buckets list their objects as "null" versions above; this catches any emulator that
    // does not.
    let keys = list_keys(ctx, bucket, "").await?;
    let ids = keys
        .iter()
        .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
        .collect();
    delete_objects(ctx, bucket, ids).await?;
    match ctx.aws.s3.delete_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| has_code(s, "NoSuchBucket")) =>
        {
            Ok(true)
        }
        Err(e) => Err(ctx.aws.sdk("s3", "DeleteBucket")(e)),
    }
}

/// Deletes every object version and delete marker, a listing page at a time. Returns false when the
/// bucket went away meanwhile (nothing left to empty).
async fn delete_versions(ctx: &Ctx, bucket: &str) -> Result<bool> {
    let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
    loop {
        let page = match ctx
            .aws
            .s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| has_code(s, "NoSuchBucket")) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(ctx.aws.sdk("s3", "ListObjectVersions")(e)),
        };
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page
            .delete_markers()
            .iter()
            .map(|m| (m.key(), m.version_id()));
        let ids = versions
            .chain(markers)
            .filter_map(|(k, v)| {
                ObjectIdentifier::builder()
                    .set_key(k.map(str::to_string))
                    .set_version_id(v.map(str::to_string))
                    .build()
                    .ok()
            })
            .collect();
        delete_objects(ctx, bucket, ids).await?;
        if page.is_truncated() != Some(true) {
            return Ok(true);
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
    }
}

/// DeleteObjects, 1,000 at a time (its limit per request).
async fn delete_objects(ctx: &Ctx, bucket: &str, ids: Vec<ObjectIdentifier>) -> Result<()> {
    for chunk in ids.chunks(1000) {
        ctx.aws
            .s3
            .delete_objects()
            .bucket(bucket)
            .delete(
                Delete::builder()
                    .set_objects(Some(chunk.to_vec()))
                    .quiet(true)
                    .build()
                    .map_err(build_error("S3 DeleteObjects"))?,
            )
            .send()
            .await
            .map_err(ctx.aws.sdk("s3", "DeleteObjects"))?;
    }
    Ok(())
}
