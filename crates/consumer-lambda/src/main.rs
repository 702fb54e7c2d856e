//! The consumer Lambda (invoked asynchronously by the trigger with one `ConsumerTask`): wiring only. The
//! release loop, pacing and retries live in `beekeeper_room::consumer`.

use beekeeper_core::plan::ConsumerTask;
use beekeeper_room::aws::{DynamoTable, SecretKeys, SqsQueue};
use beekeeper_room::consumer::Consumer;
use beekeeper_room::env::{ConsumerEnv, process_env};
use beekeeper_room::startup::{emit_metrics, emit_waits, init_logging, or_init_error, sdk_config};
use beekeeper_room::{Clock, Lines, SystemClock};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let env = or_init_error("consumer", ConsumerEnv::read(process_env)).await?;
    let config = sdk_config().await;
    let keys = SecretKeys::new(
        aws_sdk_secretsmanager::Client::new(&config),
        env.pass_secret,
        Arc::new(SystemClock),
    );
    let sqs = aws_sdk_sqs::Client::new(&config);
    let lines = Lines {
        main: Arc::new(SqsQueue::new(sqs.clone(), env.queue.queue_url)),
        front: Arc::new(SqsQueue::new(sqs, env.queue.front_queue_url)),
    };
    let table = env.queue.table.clone();
    let consumer = Consumer::new(
        lines,
        Arc::new(DynamoTable::new(
            aws_sdk_dynamodb::Client::new(&config),
            env.queue.table,
        )),
        Arc::new(SystemClock),
    )
    .with_passes(Arc::new(keys));
    let (consumer, table) = (&consumer, table.as_str());
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ConsumerTask>| async move {
            // The context's deadline is when Lambda kills this invocation; the consumer stops starting
            // batches in time to finish the one it is in.
            let report = consumer
                .run(event.payload, Some(event.context.deadline))
                .await?;
            if let Some(counts) = report.counts() {
                let now = SystemClock.now_ms();
                emit_metrics(table, "consumer", now, &counts);
                emit_waits(table, "consumer", now, &report.waits_s);
            }
            Ok::<_, Error>(report)
        },
    ))
    .await
}
