//! The limits a sale meets, read from the account when there are credentials for it — Lambda's
//! `GetAccountSettings` (through the same reader `deploy` uses) and API Gateway's `GetAccount` throttle —
//! and AWS's documented defaults otherwise. Every limit says which it is: a forecast against a default
//! is only as good as the account matching it.

use crate::aws::{check_credentials, sdk_config};
use crate::error::CliError;
use crate::provision::{apigw_guard, concurrency, sqs};
use beekeeper_core::concurrency::AWS_DEFAULT_ACCOUNT_LIMIT;
use beekeeper_core::gateway::default_account_rate;
use beekeeper_core::names::Names;
use beekeeper_room::Fault;
use beekeeper_sim::forecast::Limits;

/// The limits, and the account they were read from (`None`: defaults only).
pub(crate) struct Read {
    pub limits: Limits,
    pub account: Option<String>,
}

fn defaults(region: Option<&str>, why: &str) -> Limits {
    Limits {
        gateway_rate: default_account_rate(region),
        gateway_source: format!("AWS default ({why})"),
        lambda_limit: AWS_DEFAULT_ACCOUNT_LIMIT,
        lambda_available: AWS_DEFAULT_ACCOUNT_LIMIT,
        lambda_source: format!("AWS default ({why})"),
        queue_retention_secs: u64::from(sqs::RETENTION_SECS),
        region: region.map(str::to_string),
    }
}

/// Reads what it can; never fails: a limit it cannot read is AWS's default, and says why.
pub(crate) async fn read(region: Option<&str>, names: Option<&Names>) -> Read {
    let Some(region) = region else {
        return Read {
            limits: defaults(None, "no region given or configured"),
            account: None,
        };
    };
    let conf = sdk_config(region).await;
    let account = match check_credentials(&conf).await {
        Ok(a) => a,
        Err(e) => {
            let why = match &e {
                CliError::Aws { error, .. } if error.fault == Fault::NoCredentials => {
                    "no AWS credentials".to_string()
                }
                other => format!("could not reach the account: {other}"),
            };
            return Read {
                limits: defaults(Some(region), &why),
                account: None,
            };
        }
    };
    let mut limits = defaults(Some(region), "");
    let lambda = aws_sdk_lambda::Client::new(&conf);
    (
        limits.lambda_limit,
        limits.lambda_available,
        limits.lambda_source,
    ) = match concurrency::read_account(&conf, &lambda, names).await {
        Ok(v) if v.known => (v.limit, v.available(), "read from the account".into()),
        Ok(v) => (
            v.limit,
            v.available(),
            "AWS default (this endpoint does not implement GetAccountSettings)".into(),
        ),
        Err(e) => (
            AWS_DEFAULT_ACCOUNT_LIMIT,
            AWS_DEFAULT_ACCOUNT_LIMIT,
            format!("AWS default (could not read it: {e})"),
        ),
    };
    let apigw = aws_sdk_apigateway::Client::new(&conf);
    let quota = apigw_guard::account_quota(&conf, &apigw, region).await;
    (limits.gateway_rate, limits.gateway_source) = (quota.rate, quota.source);
    Read {
        limits,
        account: Some(account),
    }
}
