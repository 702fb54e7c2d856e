//! The trigger Lambda (EventBridge, once a minute): wiring only. It plans the minute and starts the
//! consumers, then walks the canary; all decisions live in `beekeeper_room::trigger` and
//! `beekeeper_room::canary`.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use beekeeper_room::aws::{DynamoTable, LambdaInvoker, SqsQueue};
use beekeeper_room::canary::{Canary, HttpWalk};
use beekeeper_room::env::{TriggerEnv, process_env};
use beekeeper_room::startup::{emit_metrics, init_logging, or_init_error, sdk_config};
use beekeeper_room::trigger::Trigger;
use beekeeper_room::{Clock, Lines, SystemClock};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let env = or_init_error("trigger", TriggerEnv::read(process_env)).await?;
    let config = sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let lines = Lines {
        main: Arc::new(SqsQueue::new(sqs.clone(), env.queue_url)),
        front: Arc::new(SqsQueue::new(sqs, env.front_queue_url)),
    };
    let table = env.table.clone();
    let dynamo = Arc::new(DynamoTable::new(
        aws_sdk_dynamodb::Client::new(&config),
        env.table,
    ));
    let walk = or_init_error("trigger", HttpWalk::new()).await?;
    let canary = Canary::new(dynamo.clone(), Arc::new(walk));
    let trigger = Trigger::new(
        lines,
        dynamo,
        Arc::new(LambdaInvoker::new(
            aws_sdk_lambda::Client::new(&config),
            env.consumer_function,
        )),
        env.window_ms,
    );
    let (trigger, canary, table) = (&trigger, &canary, table.as_str());
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent>| async move {
            // The report shows up in a manual test invocation; the schedule ignores it.
            let report = trigger.handle(&event.payload, SystemClock.now_ms()).await?;
            if let Some(counts) = report.counts() {
                emit_metrics(table, "trigger", SystemClock.now_ms(), &counts);
            }
            if let Some(walked) = canary.after(&report, SystemClock.now_secs()).await {
                emit_metrics(table, "trigger", SystemClock.now_ms(), &walked.counts());
            }
            Ok::<_, Error>(report)
        },
    ))
    .await
}
