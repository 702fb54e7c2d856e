//! CloudWatch: the room's alarms and dashboard, as [`beekeeper_core::monitoring`] declares them.
//! `PutMetricAlarm` and `PutDashboard` create or replace, so every deploy puts them as declared (an
//! alarm's actions included: the alert topic's, or none); `destroy` deletes what it finds by name.

use super::{Ctx, OrAbsent, apigw};
use crate::aws::sdk_error;
use crate::error::{CliError, Result};
use aws_config::SdkConfig;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric as CwMetric, MetricDataQuery, MetricStat, StateValue,
    Statistic, Tag,
};
use beekeeper_core::monitoring::{self, Alarm, AlarmSpec, Metric, Watched};
use beekeeper_core::names::{Names, PROFILE_TAG};
use serde::Serialize;

/// What CloudWatch is told an alarm does without data: an idle room writes none, and is fine.
const NOT_BREACHING: &str = "notBreaching";

fn specs(ctx: &Ctx) -> Vec<AlarmSpec> {
    monitoring::alarms(&watched(ctx))
}

fn watched(ctx: &Ctx) -> Watched<'_> {
    Watched {
        names: &ctx.names,
        stage: apigw::STAGE,
        region: &ctx.aws.region,
    }
}

fn alarm_arn(ctx: &Ctx, name: &str) -> String {
    ctx.aws.arn("cloudwatch", &format!("alarm:{name}"))
}

/// Where the operator opens the dashboard.
pub(crate) fn dashboard_url(region: &str, names: &Names) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/{}",
        names.dashboard()
    )
}

/// Puts every alarm as declared, notifying `topic` (or nobody) on alarm and on recovery.
pub(crate) async fn upsert_alarms(ctx: &Ctx, topic: Option<&str>) -> Result<String> {
    let actions: Vec<String> = topic.map(str::to_string).into_iter().collect();
    let specs = specs(ctx);
    for spec in &specs {
        put_alarm(ctx, spec, &actions).await?;
    }
    Ok(match topic {
        Some(_) => format!("{} alarms, emailing", specs.len()),
        None => format!("{} alarms", specs.len()),
    })
}

async fn put_alarm(ctx: &Ctx, spec: &AlarmSpec, actions: &[String]) -> Result<()> {
    let operator = match spec.above {
        true => ComparisonOperator::GreaterThanThreshold,
        false => ComparisonOperator::LessThanThreshold,
    };
    let mut put = ctx
        .aws
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(&spec.name)
        .alarm_description(&spec.description)
        .actions_enabled(true)
        .set_alarm_actions(Some(actions.to_vec()))
        .set_ok_actions(Some(actions.to_vec()))
        .comparison_operator(operator)
        .threshold(spec.threshold)
        .evaluation_periods(spec.periods)
        .datapoints_to_alarm(spec.datapoints)
        .treat_missing_data(NOT_BREACHING)
        .tags(
            Tag::builder()
                .key(PROFILE_TAG)
                .value(ctx.tag_value())
                .build(),
        );
    put = match (spec.expression, spec.metrics.as_slice()) {
        (None, [(_, m)]) => put
            .namespace(m.namespace)
            .metric_name(m.name)
            .set_dimensions(Some(dimensions(m)))
            .statistic(Statistic::from(m.stat))
            .period(spec.period_s),
        (Some(expression), metrics) => put.set_metrics(Some(queries(spec, expression, metrics))),
        (None, _) => {
            return Err(CliError::BadRequest {
                what: "alarm",
                detail: format!("{} reads several metrics with no expression", spec.name),
            });
        }
    };
    put.send()
        .await
        .map_err(ctx.aws.sdk("cloudwatch", "PutMetricAlarm"))?;
    Ok(())
}

/// The metric math of an alarm: each metric under its id, and the expression the alarm compares.
fn queries(
    spec: &AlarmSpec,
    expression: &str,
    metrics: &[(&'static str, Metric)],
) -> Vec<MetricDataQuery> {
    let mut out: Vec<MetricDataQuery> = metrics
        .iter()
        .map(|(id, m)| {
            MetricDataQuery::builder()
                .id(*id)
                .metric_stat(metric_stat(m, spec.period_s))
                .return_data(false)
                .build()
        })
        .collect();
    out.push(
        MetricDataQuery::builder()
            .id("value")
            .expression(expression)
            .label(&spec.name)
            .return_data(true)
            .build(),
    );
    out
}

/// `m` read `period_s` seconds a point, as an alarm's metric math and `report` query it.
pub(crate) fn metric_stat(m: &Metric, period_s: i32) -> MetricStat {
    let metric = CwMetric::builder()
        .namespace(m.namespace)
        .metric_name(m.name)
        .set_dimensions(Some(dimensions(m)))
        .build();
    MetricStat::builder()
        .metric(metric)
        .period(period_s)
        .stat(m.stat)
        .build()
}

fn dimensions(m: &Metric) -> Vec<Dimension> {
    m.dimensions
        .iter()
        .map(|(k, v)| Dimension::builder().name(*k).value(v).build())
        .collect()
}

/// Puts the dashboard; returns its name.
pub(crate) async fn upsert_dashboard(ctx: &Ctx) -> Result<String> {
    let arns: Vec<String> = specs(ctx).iter().map(|s| alarm_arn(ctx, &s.name)).collect();
    let body = monitoring::dashboard(&watched(ctx), &arns);
    let put = ctx
        .aws
        .cloudwatch
        .put_dashboard()
        .dashboard_name(ctx.names.dashboard())
        .dashboard_body(body.to_string())
        .send()
        .await
        .map_err(ctx.aws.sdk("cloudwatch", "PutDashboard"))?;
    // Only warnings come back with a saved dashboard (errors fail the call): a widget may not render.
    for m in put.dashboard_validation_messages() {
        tracing::warn!(message = m.message(), at = m.data_path(), "dashboard");
    }
    Ok(ctx.names.dashboard())
}

/// One alarm as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AlarmState {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    /// What it means and what to run (its description), shown when it fires.
    pub description: String,
}

/// The room's alarms that exist, with their state.
pub(crate) async fn states(
    client: &aws_sdk_cloudwatch::Client,
    conf: &SdkConfig,
    names: &Names,
) -> Result<Vec<AlarmState>> {
    let ours: Vec<String> = Alarm::ALL.iter().map(|a| names.alarm(a.key())).collect();
    let found = client
        .describe_alarms()
        .set_alarm_names(Some(ours))
        .send()
        .await
        .map_err(|e| sdk_error(conf, "cloudwatch", "DescribeAlarms", e))?;
    let alarms = found.metric_alarms().iter().map(|a| AlarmState {
        name: a.alarm_name().unwrap_or_default().to_string(),
        state: a
            .state_value()
            .map_or("INSUFFICIENT_DATA", StateValue::as_str)
            .to_string(),
        description: a.alarm_description().unwrap_or_default().to_string(),
    });
    Ok(alarms.collect())
}

/// The room's alarms that exist, by name.
pub(crate) async fn existing_alarms(ctx: &Ctx) -> Result<Vec<String>> {
    let found = states(&ctx.aws.cloudwatch, &ctx.aws.conf, &ctx.names).await?;
    Ok(found.into_iter().map(|a| a.name).collect())
}

/// Deletes one alarm; a missing one is done.
pub(crate) async fn delete_alarm(ctx: &Ctx, name: &str) -> Result<bool> {
    Ok(ctx
        .aws
        .cloudwatch
        .delete_alarms()
        .alarm_names(name)
        .send()
        .await
        .or_absent(|e| e.is_resource_not_found())
        .map_err(ctx.aws.sdk("cloudwatch", "DeleteAlarms"))?
        .is_some())
}

/// The dashboard's name while it exists. Listed, not got: emulators answer `GetDashboard` for a
/// missing dashboard with errors of their own, and a listing has no missing case.
pub(crate) async fn existing_dashboard(ctx: &Ctx) -> Result<Vec<String>> {
    let name = ctx.names.dashboard();
    let mut pages = ctx
        .aws
        .cloudwatch
        .list_dashboards()
        .dashboard_name_prefix(&name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(ctx.aws.sdk("cloudwatch", "ListDashboards"))?;
        let listed = page.dashboard_entries().iter();
        if listed.filter_map(|d| d.dashboard_name()).any(|d| d == name) {
            return Ok(vec![name]);
        }
    }
    Ok(Vec::new())
}

/// Deletes the dashboard. `Ok(false)` when there was none.
pub(crate) async fn delete_dashboard(ctx: &Ctx) -> Result<bool> {
    if existing_dashboard(ctx).await?.is_empty() {
        return Ok(false);
    }
    ctx.aws
        .cloudwatch
        .delete_dashboards()
        .dashboard_names(ctx.names.dashboard())
        .send()
        .await
        .map_err(ctx.aws.sdk("cloudwatch", "DeleteDashboards"))?;
    Ok(true)
}
