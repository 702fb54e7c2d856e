//! The dynamic-rate-throttling Lambda (EventBridge, once a minute, only when DRT is on): wiring only. It
//! probes `BK_HEALTH_URL` when the operator set a health URL, else the destination on the room item.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use beekeeper_core::drt::Tuning;
use beekeeper_room::aws::DynamoTable;
use beekeeper_room::drt::{Drt, HttpProber};
use beekeeper_room::env::{DrtEnv, process_env};
use beekeeper_room::startup::{emit_metrics, init_logging, or_init_error, sdk_config};
use beekeeper_room::{Clock, SystemClock};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let env = or_init_error("drt", DrtEnv::read(process_env)).await?;
    let prober = or_init_error("drt", HttpProber::with_defaults()).await?;
    let config = sdk_config().await;
    let table = env.table.clone();
    let drt = Drt::new(
        Arc::new(DynamoTable::new(
            aws_sdk_dynamodb::Client::new(&config),
            env.table,
        )),
        Arc::new(prober),
        Tuning::default(),
    )
    .with_health_url(env.health_url);
    let (drt, table) = (&drt, table.as_str());
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent>| async move {
            let decision = drt.handle(&event.payload, SystemClock.now_ms()).await?;
            // A closed room decides nothing and writes no metric (an idle room costs none).
            if let Some(d) = &decision {
                emit_metrics(table, "drt", SystemClock.now_ms(), &d.counts());
            }
            Ok::<_, Error>(decision)
        },
    ))
    .await
}
