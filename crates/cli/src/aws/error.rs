//! Any SDK failure, from any service, turned into an error that names the cause and the operator's fix.
//! Recognition goes by typed pieces only: the error code (`ProvideErrorMetadata::code`), the SDK's failure
//! kind (dispatch, timeout, service) and the credential provider's own error type in the source chain.

use crate::error::CliError;
use aws_config::SdkConfig;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use std::error::Error as StdError;
use std::fmt;

/// Why an AWS call failed, as far as the operator's fix is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AwsErrorKind {
    /// The credential chain found nothing (or a profile it could not use).
    NoCredentials,
    /// Credentials were sent and rejected: wrong, expired, or the region is not enabled for the account.
    InvalidCredentials,
    /// The identity lacks `action` (e.g. `sqs:CreateQueue`).
    AccessDenied {
        action: String,
    },
    /// The region's endpoint does not exist.
    UnknownRegion {
        region: String,
    },
    /// An account quota was hit; `quota` names it.
    Quota {
        quota: String,
    },
    /// Too many requests right now.
    Throttled,
    NotFound,
    /// No answer from the endpoint (network, proxy, a wrong `AWS_ENDPOINT_URL`).
    Unreachable {
        endpoint: String,
    },
    Other,
}

/// The name AWS documentation uses for a service, from its IAM prefix.
pub(crate) fn service_label(service: &str) -> &str {
    match service {
        "sts" => "STS",
        "sqs" => "SQS",
        "dynamodb" => "DynamoDB",
        "lambda" => "Lambda",
        "iam" => "IAM",
        "s3" => "S3",
        "events" => "EventBridge",
        "apigateway" => "API Gateway",
        other => other,
    }
}

/// Turns a failed SDK call into a [`CliError::Aws`]. `service` is the IAM prefix (`"sqs"`) and
/// `operation` the API name (`"CreateQueue"`), which together name the permission a denial is about.
pub(crate) fn sdk_error<E, R>(
    config: &SdkConfig,
    service: &'static str,
    operation: &'static str,
    err: SdkError<E, R>,
) -> CliError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: fmt::Debug,
{
    let region = config
        .region()
        .map(|r| r.as_ref().to_string())
        .unwrap_or_default();
    let endpoint = config.endpoint_url().map(str::to_string);
    classify(
        &Where {
            service,
            operation,
            region,
            endpoint,
        },
        &err,
    )
}

/// What the mapping knows about the call besides the error.
struct Where {
    service: &'static str,
    operation: &'static str,
    region: String,
    /// A custom endpoint (`AWS_ENDPOINT_URL`), if any.
    endpoint: Option<String>,
}

fn classify<E, R>(at: &Where, err: &SdkError<E, R>) -> CliError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: fmt::Debug,
{
    let aws = |kind, message| CliError::Aws {
        service: at.service,
        operation: at.operation,
        message,
        kind,
    };
    // The chain below the SdkError is 'static even when the raw response type is not.
    if let Some(creds) = find_source::<aws_credential_types::provider::error::CredentialsError>(
        StdError::source(err),
    ) {
        return aws(
            AwsErrorKind::NoCredentials,
            format!("no usable AWS credentials: {}", chain(creds)),
        );
    }
    match err {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
            let code = err.code().unwrap_or_default();
            let message = match (err.code(), err.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_string(),
                _ => chain(err),
            };
            aws(kind_of_code(at, code), message)
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            let detail = chain(err);
            match &at.endpoint {
                Some(endpoint) => aws(
                    AwsErrorKind::Unreachable {
                        endpoint: endpoint.clone(),
                    },
                    format!("no answer from {endpoint}: {detail}"),
                ),
                None if !is_known_region(&at.region) => aws(
                    AwsErrorKind::UnknownRegion {
                        region: at.region.clone(),
                    },
                    format!("{:?} is not a region AWS answers in: {detail}", at.region),
                ),
                None => {
                    let endpoint = format!("https://{}.{}.amazonaws.com", at.service, at.region);
                    aws(
                        AwsErrorKind::Unreachable {
                            endpoint: endpoint.clone(),
                        },
                        format!("no answer from {endpoint}: {detail}"),
                    )
                }
            }
        }
        _ => aws(AwsErrorKind::Other, chain(err)),
    }
}

/// Error codes are stable API (they are what `code()` returns and what the typed variants are built from);
/// they are shared across services, which is why one table serves every client.
fn kind_of_code(at: &Where, code: &str) -> AwsErrorKind {
    match code {
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "AuthorizationError"
        | "UnauthorizedAccess"
        | "KMSAccessDeniedException" => AwsErrorKind::AccessDenied {
            action: format!("{}:{}", at.service, at.operation),
        },
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "InvalidSignatureException"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "AuthFailure"
        | "IncompleteSignature"
        | "MissingAuthenticationToken" => AwsErrorKind::InvalidCredentials,
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "ProvisionedThroughputExceededException"
        | "RequestThrottled"
        | "SlowDown"
        | "RequestThrottledException" => AwsErrorKind::Throttled,
        "LimitExceededException"
        | "LimitExceeded"
        | "ServiceQuotaExceededException"
        | "TooManyBuckets"
        | "CodeStorageExceededException"
        | "OverLimit"
        | "QuotaExceededException" => AwsErrorKind::Quota {
            quota: quota_name(at.service, code),
        },
        "ResourceNotFoundException"
        | "NoSuchEntity"
        | "NoSuchBucket"
        | "NotFoundException"
        | "NoSuchKey"
        | "AWS.SimpleQueueService.NonExistentQueue"
        | "QueueDoesNotExist"
        | "ResourceNotFound" => AwsErrorKind::NotFound,
        _ => AwsErrorKind::Other,
    }
}

/// The Service Quotas entry an operator would search for.
fn quota_name(service: &str, code: &str) -> String {
    match (service, code) {
        ("s3", _) => "S3 general purpose buckets per account".into(),
        ("lambda", "CodeStorageExceededException") => "Lambda function and layer storage".into(),
        ("lambda", _) => "Lambda concurrent executions".into(),
        ("iam", _) => "IAM roles (or policies) per account".into(),
        ("events", _) => "EventBridge rules per event bus".into(),
        ("apigateway", _) => "API Gateway regional APIs per account".into(),
        ("dynamodb", _) => "DynamoDB tables per account (or concurrent table operations)".into(),
        ("sqs", _) => "SQS queue limits".into(),
        (other, _) => format!("{} limits", service_label(other)),
    }
}

/// Public AWS regions when this was written. Only consulted after a connection already failed, to tell
/// "mistyped region" from "network down"; a newer region missing here only changes the hint.
const KNOWN_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
];

fn is_known_region(region: &str) -> bool {
    KNOWN_REGIONS.contains(&region)
}

/// Every message in the error's source chain, outermost first, each said once ("dispatch failure: io
/// error: … Connection refused"); the SDK's own context display adds Debug dumps an operator cannot use.
fn chain(err: &dyn StdError) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if parts.last().is_none_or(|last| !last.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// The first error of type `T` in a source chain.
fn find_source<'a, T: StdError + 'static>(
    start: Option<&'a (dyn StdError + 'static)>,
) -> Option<&'a T> {
    let mut cur = start;
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        cur = e.source();
    }
    None
}

/// The fix for each kind, shown under the error.
pub(crate) fn hint(service: &str, kind: &AwsErrorKind) -> Option<String> {
    Some(match kind {
        AwsErrorKind::NoCredentials => {
            "configure credentials: `aws configure`, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
                .into()
        }
        AwsErrorKind::InvalidCredentials => "AWS rejected the credentials: check AWS_PROFILE or the access key, \
             renew expired ones (e.g. `aws sso login`), and make sure the region is enabled for the account"
            .into(),
        AwsErrorKind::AccessDenied { action } => format!(
            "your AWS identity is missing the permission `{action}`: add it to the IAM policy of the user or \
             role you run beekeeper as, or use a profile that has it (AWS_PROFILE)"
        ),
        AwsErrorKind::UnknownRegion { region } => format!(
            "{region:?} is not an AWS region: set a valid one with `beekeeper init --profile <profile> --region <region>` \
             (e.g. us-east-1)"
        ),
        AwsErrorKind::Quota { quota } => format!(
            "the account reached its {quota} quota: remove unused resources, or request an increase in the \
             Service Quotas console ({})",
            service_label(service)
        ),
        AwsErrorKind::Throttled => {
            "AWS is throttling requests: wait a minute and try again; a lasting limit can be raised in Service Quotas"
                .into()
        }
        AwsErrorKind::NotFound => {
            "the resource no longer exists: run `beekeeper deploy <profile>` to recreate it".into()
        }
        AwsErrorKind::Unreachable { endpoint } => format!(
            "could not reach {endpoint}: check the network connection and proxy settings, and AWS_ENDPOINT_URL \
             if you set it"
        ),
        AwsErrorKind::Other => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;

    fn at(endpoint: Option<&str>, region: &str) -> Where {
        Where {
            service: "sqs",
            operation: "CreateQueue",
            region: region.into(),
            endpoint: endpoint.map(str::to_string),
        }
    }

    fn service(code: &str) -> SdkError<GetCallerIdentityError, ()> {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("it says why")
            .build();
        SdkError::service_error(GetCallerIdentityError::generic(meta), ())
    }

    fn kind(err: CliError) -> AwsErrorKind {
        match err {
            CliError::Aws { kind, .. } => kind,
            other => panic!("not an AWS error: {other}"),
        }
    }

    #[test]
    fn error_codes_map_to_the_operators_fix() {
        let w = at(None, "eu-west-1");
        assert_eq!(
            kind(classify(&w, &service("AccessDeniedException"))),
            AwsErrorKind::AccessDenied {
                action: "sqs:CreateQueue".into()
            }
        );
        assert_eq!(
            kind(classify(&w, &service("AccessDenied"))),
            AwsErrorKind::AccessDenied {
                action: "sqs:CreateQueue".into()
            }
        );
        assert_eq!(
            kind(classify(&w, &service("UnrecognizedClientException"))),
            AwsErrorKind::InvalidCredentials
        );
        assert_eq!(
            kind(classify(&w, &service("ThrottlingException"))),
            AwsErrorKind::Throttled
        );
        assert!(matches!(
            kind(classify(&w, &service("LimitExceededException"))),
            AwsErrorKind::Quota { .. }
        ));
        assert_eq!(
            kind(classify(&w, &service("ResourceNotFoundException"))),
            AwsErrorKind::NotFound
        );
        assert_eq!(
            kind(classify(&w, &service("SomethingNew"))),
            AwsErrorKind::Other
        );
        let msg = classify(&w, &service("AccessDenied")).to_string();
        assert!(
            msg.contains("AccessDenied: it says why") && msg.contains("CreateQueue"),
            "{msg}"
        );
    }

    #[test]
    fn missing_credentials_are_recognised_in_the_source_chain() {
        let creds = aws_credential_types::provider::error::CredentialsError::not_loaded(
            "no providers in chain",
        );
        let err: SdkError<GetCallerIdentityError, ()> =
            SdkError::dispatch_failure(ConnectorError::other(Box::new(creds), None));
        let e = classify(&at(None, "eu-west-1"), &err);
        assert!(e.to_string().contains("no usable AWS credentials"), "{e}");
        let hint = e.hint().unwrap();
        assert!(
            hint.contains("aws configure") && hint.contains("AWS_PROFILE"),
            "{hint}"
        );
    }

    #[test]
    fn an_unanswered_call_blames_the_endpoint_or_the_region() {
        let down = || -> SdkError<GetCallerIdentityError, ()> {
            SdkError::dispatch_failure(ConnectorError::io(Box::new(std::io::Error::other("dns"))))
        };
        assert_eq!(
            kind(classify(
                &at(Some("http://127.0.0.1:9"), "eu-west-1"),
                &down()
            )),
            AwsErrorKind::Unreachable {
                endpoint: "http://127.0.0.1:9".into()
            }
        );
        assert_eq!(
            kind(classify(&at(None, "eu-wset-1"), &down())),
            AwsErrorKind::UnknownRegion {
                region: "eu-wset-1".into()
            }
        );
        assert!(matches!(
            kind(classify(&at(None, "eu-west-1"), &down())),
            AwsErrorKind::Unreachable { endpoint } if endpoint == "https://sqs.eu-west-1.amazonaws.com"
        ));
        let hint = hint(
            "sqs",
            &AwsErrorKind::UnknownRegion {
                region: "eu-wset-1".into(),
            },
        )
        .unwrap();
        assert!(
            hint.contains("beekeeper init") && hint.contains("--region"),
            "{hint}"
        );
    }

    #[test]
    fn hints_name_the_permission_and_the_quota() {
        let h = hint(
            "sqs",
            &AwsErrorKind::AccessDenied {
                action: "sqs:CreateQueue".into(),
            },
        )
        .unwrap();
        assert!(h.contains("`sqs:CreateQueue`"), "{h}");
        let h = hint(
            "s3",
            &AwsErrorKind::Quota {
                quota: quota_name("s3", "TooManyBuckets"),
            },
        )
        .unwrap();
        assert!(h.contains("buckets") && h.contains("Service Quotas"), "{h}");
        assert_eq!(hint("sqs", &AwsErrorKind::Other), None);
    }
}
