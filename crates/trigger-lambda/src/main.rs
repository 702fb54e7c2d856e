//! The trigger Lambda (EventBridge, once a minute): wiring only. It plans the minute and starts the
//! consumers; all decisions live in `beekeeper_room::trigger`.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use beekeeper_room::aws::{DynamoTable, LambdaInvoker, SqsQueue};
use beekeeper_room::env::{TriggerEnv, process_env};
use beekeeper_room::startup::{init_logging, or_init_error, sdk_config};
use beekeeper_room::trigger::Trigger;
use beekeeper_room::{Clock, SystemClock};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let env = or_init_error("trigger", TriggerEnv::read(process_env)).await?;
    let config = sdk_config().await;
    let trigger = Trigger::new(
        Arc::new(SqsQueue::new(
            aws_sdk_sqs::Client::new(&config),
            env.queue_url,
        )),
        Arc::new(DynamoTable::new(
            aws_sdk_dynamodb::Client::new(&config),
            env.table,
        )),
        Arc::new(LambdaInvoker::new(
            aws_sdk_lambda::Client::new(&config),
            env.consumer_function,
        )),
        env.window_ms,
    );
    let trigger = &trigger;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent>| async move {
            // The report shows up in a manual test invocation; the schedule ignores it.
            Ok::<_, Error>(trigger.handle(&event.payload, SystemClock.now_ms()).await?)
        },
    ))
    .await
}
