//! The producer Lambda (`GET /` and `POST /join` behind API Gateway): wiring only. Configuration and clients are set up
//! once per container, outside the handler, so the arrival burst pays for them once, not per visitor.

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use beekeeper_core::Token;
use beekeeper_room::aws::{DynamoTable, SqsQueue};
use beekeeper_room::env::{QueueEnv, page_branding, process_env};
use beekeeper_room::producer::{Producer, ProducerSettings};
use beekeeper_room::startup::{emit_metrics, init_logging, or_init_error, sdk_config};
use beekeeper_room::{Clock, Lines, SystemClock};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    let env = or_init_error("producer", QueueEnv::read(process_env)).await?;
    let branding = or_init_error("producer", page_branding(process_env)).await?;
    let config = sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let lines = Lines {
        main: Arc::new(SqsQueue::new(sqs.clone(), env.queue_url)),
        front: Arc::new(SqsQueue::new(sqs, env.front_queue_url)),
    };
    let table = env.table.clone();
    let producer = Producer::new(
        lines,
        Arc::new(DynamoTable::new(
            aws_sdk_dynamodb::Client::new(&config),
            env.table,
        )),
        ProducerSettings {
            branding,
            ..ProducerSettings::default()
        },
    );
    let (producer, table) = (&producer, table.as_str());
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayProxyRequest>| async move {
            // Made before the first await: the thread-local CSPRNG must not be held across one.
            let fresh = Token::generate(&mut rand::rng());
            let reply = producer
                .handle(event.payload, fresh, SystemClock.now_ms())
                .await;
            // A container serves one request at a time: these are this request's counts.
            let counts = producer.take_counts();
            if !counts.is_empty() {
                emit_metrics(table, "producer", SystemClock.now_ms(), &counts);
            }
            Ok::<_, Error>(reply)
        },
    ))
    .await
}
