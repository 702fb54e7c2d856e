//! AWS's published list prices that a sale's cost is made of, in one place and dated: update the date
//! with the numbers. US East (N. Virginia), on-demand, no free tier, no volume tiers (a sale's requests
//! stay in the first tier of every service: API Gateway's first is 333 million a month).
//!
//! Sources: aws.amazon.com/api-gateway/pricing (REST APIs), /lambda/pricing, /sqs/pricing (standard
//! queues), /dynamodb/pricing/on-demand (after the on-demand price cut of 1 November 2024), /waf/pricing
//! (a web ACL and its rules per month, requests per million), /cloudwatch/pricing (dashboards, alarms).

use serde::Serialize;

/// When these prices were read off AWS's pricing pages.
pub const PRICES_AS_OF: &str = "2025-06-01";
pub const PRICES_REGION: &str = "us-east-1";

/// API Gateway REST API, per request (first 333 million a month).
pub const APIGW_PER_REQUEST: f64 = 3.50 / 1e6;
/// Lambda, per invocation and per GB-second (x86_64; arm64 is cheaper per GB-second).
pub const LAMBDA_PER_REQUEST: f64 = 0.20 / 1e6;
pub const LAMBDA_PER_GB_SECOND_X86: f64 = 0.000_016_666_7;
pub const LAMBDA_PER_GB_SECOND_ARM: f64 = 0.000_013_333_4;
/// SQS standard queue, per request (a batch of up to 10 messages is one request).
pub const SQS_PER_REQUEST: f64 = 0.40 / 1e6;
/// DynamoDB on-demand, per read request unit and per write request unit.
pub const DYNAMODB_PER_RRU: f64 = 0.125 / 1e6;
pub const DYNAMODB_PER_WRU: f64 = 0.625 / 1e6;
/// AWS WAF: a web ACL a month, each rule a month (the room's per-client limit has two), and per request.
pub const WAF_WEB_ACL_MONTHLY: f64 = 5.00;
pub const WAF_RULE_MONTHLY: f64 = 1.00;
pub const WAF_PER_REQUEST: f64 = 0.60 / 1e6;

/// CloudWatch: a dashboard a month (an account's first three are free), and an alarm's each metric a
/// month (standard resolution; a metric-math alarm pays for every metric its expression reads).
pub const CW_DASHBOARD_MONTHLY: f64 = 3.00;
pub const CW_ALARM_METRIC_MONTHLY: f64 = 0.10;

/// What the room's dashboard and alarms cost a month while deployed, whatever the traffic.
pub fn monitoring_monthly() -> f64 {
    CW_DASHBOARD_MONTHLY
        + CW_ALARM_METRIC_MONTHLY * beekeeper_core::monitoring::alarm_metric_count() as f64
}

/// What the per-client limit costs a month while deployed, even with no request at all.
pub fn waf_monthly() -> f64 {
    WAF_WEB_ACL_MONTHLY + WAF_RULE_MONTHLY * beekeeper_core::waf::Rule::ALL.len() as f64
}

/// What a sale uses, counted over the whole sale.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Usage {
    pub gateway_requests: f64,
    pub lambda_invocations: f64,
    pub lambda_gb_seconds: f64,
    pub sqs_requests: f64,
    pub read_units: f64,
    pub write_units: f64,
}

/// The sale's cost in USD, per service.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cost {
    pub api_gateway: f64,
    pub lambda: f64,
    pub sqs: f64,
    pub dynamodb: f64,
    /// AWS WAF's per-request price for the sale's requests (0 without the per-client limit).
    pub waf: f64,
    /// AWS WAF's fixed price a month while deployed, not in `total` (0 without the limit).
    pub waf_monthly: f64,
    /// The dashboard's and the alarms' fixed price a month while deployed, not in `total`.
    pub monitoring_monthly: f64,
    pub total: f64,
    pub prices_as_of: &'static str,
    pub prices_region: &'static str,
}

/// Prices `usage`; `arm64` when the functions run on Graviton, `waf` with the per-client limit.
pub fn cost(usage: &Usage, arm64: bool, waf: bool) -> Cost {
    let gb_second = if arm64 {
        LAMBDA_PER_GB_SECOND_ARM
    } else {
        LAMBDA_PER_GB_SECOND_X86
    };
    let api_gateway = usage.gateway_requests * APIGW_PER_REQUEST;
    let lambda =
        usage.lambda_invocations * LAMBDA_PER_REQUEST + usage.lambda_gb_seconds * gb_second;
    let sqs = usage.sqs_requests * SQS_PER_REQUEST;
    let dynamodb = usage.read_units * DYNAMODB_PER_RRU + usage.write_units * DYNAMODB_PER_WRU;
    let (waf, waf_monthly) = match waf {
        true => (usage.gateway_requests * WAF_PER_REQUEST, waf_monthly()),
        false => (0.0, 0.0),
    };
    Cost {
        api_gateway,
        lambda,
        sqs,
        dynamodb,
        waf,
        waf_monthly,
        monitoring_monthly: monitoring_monthly(),
        total: api_gateway + lambda + sqs + dynamodb + waf,
        prices_as_of: PRICES_AS_OF,
        prices_region: PRICES_REGION,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_of_each_by_hand() {
        let u = Usage {
            gateway_requests: 1e6,
            lambda_invocations: 1e6,
            lambda_gb_seconds: 1e6,
            sqs_requests: 1e6,
            read_units: 1e6,
            write_units: 1e6,
        };
        let c = cost(&u, false, false);
        assert!((c.api_gateway - 3.50).abs() < 1e-9);
        assert!((c.lambda - (0.20 + 16.6667)).abs() < 1e-6);
        assert!((c.sqs - 0.40).abs() < 1e-9);
        assert!((c.dynamodb - 0.75).abs() < 1e-9);
        assert!((c.total - 21.5167).abs() < 1e-6);
        assert!(cost(&u, true, false).lambda < c.lambda);
        // The per-client limit: $0.60 per million requests in the sale, $7 a month on top.
        let w = cost(&u, false, true);
        assert!((w.waf - 0.60).abs() < 1e-9 && (w.total - c.total - 0.60).abs() < 1e-9);
        assert!((w.waf_monthly - 7.0).abs() < 1e-9 && c.waf_monthly == 0.0);
        assert!(
            (c.monitoring_monthly - 4.30).abs() < 1e-9,
            "$3 dashboard + 13 alarm metrics"
        );
    }
}
