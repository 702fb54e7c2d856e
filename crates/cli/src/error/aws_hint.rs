//! The one place the CLI chooses the operator's fix for a failed AWS call: from the room crate's
//! classification ([`Fault`]) and, at print time, the region and endpoint the call went to.

use beekeeper_room::{AwsError, Fault, service_label};

/// Where a call went: the region of its client, and `AWS_ENDPOINT_URL` if one is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    pub region: String,
    pub endpoint: Option<String>,
}

/// The fix for `error`, shown under it. `place` is `None` when the failure came through the room crate's
/// backends, which do not know their client's region; the hint then names the setting to check instead.
pub(crate) fn hint(error: &AwsError, place: Option<&Place>) -> Option<String> {
    Some(match error.fault {
        Fault::NoCredentials => {
            "configure credentials: `aws configure`, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
                .into()
        }
        Fault::BadCredentials => "AWS rejected the credentials: check AWS_PROFILE or the access key, \
             renew expired ones (e.g. `aws sso login`), and make sure the region is enabled for the account"
            .into(),
        Fault::Permission => format!(
            "your AWS identity is missing the permission `{}`: add it to the IAM policy of the user or \
             role you run beekeeper as, or use a profile that has it (AWS_PROFILE)",
            error.action()
        ),
        Fault::Quota => format!(
            "the account reached its {} quota: remove unused resources, or request an increase in the \
             Service Quotas console ({})",
            quota_name(error.service, error.code.as_deref().unwrap_or_default()),
            service_label(error.service)
        ),
        Fault::Throttled => {
            "AWS is throttling requests: wait a minute and try again; a lasting limit can be raised in Service Quotas"
                .into()
        }
        Fault::NotFound => {
            "the resource no longer exists: run `beekeeper deploy <profile>` to recreate it".into()
        }
        Fault::Unreachable => unreachable_hint(error.service, place),
        Fault::Service | Fault::Caller => return None,
    })
}

/// No answer: blame the custom endpoint if one is set, else a mistyped region, else the network.
fn unreachable_hint(service: &str, place: Option<&Place>) -> String {
    let endpoint = match place {
        Some(Place {
            endpoint: Some(endpoint),
            ..
        }) => endpoint.clone(),
        Some(Place { region, .. }) if !KNOWN_REGIONS.contains(&region.as_str()) => {
            return format!(
                "{region:?} is not an AWS region: set a valid one with `beekeeper init --profile <profile> \
                 --region <region>` (e.g. us-east-1)"
            );
        }
        Some(Place { region, .. }) => format!("https://{service}.{region}.amazonaws.com"),
        None => "AWS".into(),
    };
    format!(
        "could not reach {endpoint}: check the network connection and proxy settings, and AWS_ENDPOINT_URL \
         if you set it"
    )
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
/// "mistyped region" from "network down"; a newer region missing here only changes the hint. (The SDK
/// keeps its partition table private, so there is no list to borrow.)
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::error::{ConnectorError, ErrorMetadata, SdkError};
    use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;
    use beekeeper_room::aws::classify;

    fn at(endpoint: Option<&str>, region: &str) -> Place {
        Place {
            region: region.into(),
            endpoint: endpoint.map(str::to_string),
        }
    }

    fn service(code: &str) -> AwsError {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("it says why")
            .build();
        let err: SdkError<GetCallerIdentityError, ()> =
            SdkError::service_error(GetCallerIdentityError::generic(meta), ());
        classify("sqs", "CreateQueue", &err)
    }

    fn hint_of(code: &str) -> Option<String> {
        hint(&service(code), Some(&at(None, "eu-west-1")))
    }

    #[test]
    fn error_codes_map_to_the_operators_fix() {
        for code in ["AccessDeniedException", "AccessDenied"] {
            let h = hint_of(code).unwrap();
            assert!(
                h.contains("missing the permission `sqs:CreateQueue`"),
                "{h}"
            );
        }
        let h = hint_of("UnrecognizedClientException").unwrap();
        assert!(h.contains("AWS rejected the credentials"), "{h}");
        let h = hint_of("ThrottlingException").unwrap();
        assert!(h.contains("throttling"), "{h}");
        let h = hint_of("LimitExceededException").unwrap();
        assert!(h.contains("SQS queue limits quota"), "{h}");
        let h = hint_of("ResourceNotFoundException").unwrap();
        assert!(h.contains("no longer exists"), "{h}");
        assert_eq!(hint_of("SomethingNew"), None);
        let msg = crate::error::CliError::Aws {
            error: Box::new(service("AccessDenied")),
            place: at(None, "eu-west-1"),
        }
        .to_string();
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
        let e = crate::error::CliError::Aws {
            error: Box::new(classify("sts", "GetCallerIdentity", &err)),
            place: at(None, "eu-west-1"),
        };
        assert!(e.to_string().contains("no usable AWS credentials"), "{e}");
        let hint = e.hint().unwrap();
        assert!(
            hint.contains("aws configure") && hint.contains("AWS_PROFILE"),
            "{hint}"
        );
    }

    #[test]
    fn an_unanswered_call_blames_the_endpoint_or_the_region() {
        let err: SdkError<GetCallerIdentityError, ()> =
            SdkError::dispatch_failure(ConnectorError::io(Box::new(std::io::Error::other("dns"))));
        let down = classify("sqs", "CreateQueue", &err);
        let h = hint(&down, Some(&at(Some("http://127.0.0.1:9"), "eu-west-1"))).unwrap();
        assert!(h.contains("could not reach http://127.0.0.1:9"), "{h}");
        let h = hint(&down, Some(&at(None, "eu-wset-1"))).unwrap();
        assert!(
            h.contains("\"eu-wset-1\" is not an AWS region")
                && h.contains("beekeeper init")
                && h.contains("--region"),
            "{h}"
        );
        let h = hint(&down, Some(&at(None, "eu-west-1"))).unwrap();
        assert!(
            h.contains("could not reach https://sqs.eu-west-1.amazonaws.com"),
            "{h}"
        );
        let h = hint(&down, None).unwrap();
        assert!(h.contains("AWS_ENDPOINT_URL"), "{h}");
    }

    #[test]
    fn hints_name_the_permission_and_the_quota() {
        let mut e = AwsError::new("s3", "CreateBucket", Fault::Quota, "too many");
        e.code = Some("TooManyBuckets".into());
        let h = hint(&e, None).unwrap();
        assert!(h.contains("buckets") && h.contains("Service Quotas"), "{h}");
        let e = AwsError::new("sqs", "CreateQueue", Fault::Caller, "bad name");
        assert_eq!(hint(&e, None), None);
    }
}
