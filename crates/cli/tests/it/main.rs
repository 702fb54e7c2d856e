//! The CLI's integration tests, one binary (as ripgrep and cargo keep theirs): each module is one suite,
//! and they share one build of the SDK-heavy library, one `moto_server`, and the helpers in `common`.
//! Run one suite with a filter: `cargo test -p beekeeper --test it localstack`.

mod canary;
mod common;
mod conventions;
mod full_stack;

mod deploy_faults;
mod deploy_moto;
mod dev_contract;
mod dev_link_fetchers;
mod dev_load;
mod embedded;
mod examples;
mod init;
mod knobs;
mod lambda_runtime;
mod localstack;
mod monitoring_moto;
mod pass_moto;
mod plan;
mod profile_guard;
mod room_control;
mod waf_moto;
mod watch;
