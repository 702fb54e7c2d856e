//! Makes one deployed API Gateway method match its [`Route`]: the method itself, its integration, its
//! method responses and its integration responses, each compared with the spec and put only when it
//! differs, so a redeploy that changes nothing calls nothing but `GetMethod`.

use super::apigw_routes::{IntegrationResponseSpec, IntegrationSpec, Route};
use super::{Ctx, OrAbsent};
use crate::error::Result;
use aws_sdk_apigateway::operation::get_method::GetMethodOutput;
use aws_sdk_apigateway::types::{Integration, IntegrationResponse, MethodResponse};
use std::collections::HashMap;

/// Makes `route.method` of `resource_id` match `route`. Returns whether anything was changed.
pub(crate) async fn upsert_method(
    ctx: &Ctx,
    api: &str,
    resource_id: &str,
    route: &Route,
) -> Result<bool> {
    let m = Method {
        ctx,
        api,
        resource_id,
        route,
    };
    let (current, mut changed) = m.ensure_method().await?;
    let integration = current.as_ref().and_then(|c| c.method_integration());
    let integration_ok = integration.is_some_and(|i| integration_matches(i, &route.integration));
    if !integration_ok {
        tracing::debug!(path = route.path, current = ?integration, "integration differs");
        m.put_integration().await?;
        changed = true;
    }
    let method_responses = current.as_ref().and_then(|c| c.method_responses());
    changed |= m.sync_method_responses(method_responses).await?;
    // PutIntegration replaced the integration's responses too: all of them are put again.
    let integration_responses = integration
        .filter(|_| integration_ok)
        .and_then(|i| i.integration_responses());
    changed |= m.sync_integration_responses(integration_responses).await?;
    Ok(changed)
}

fn same_map<V: PartialEq>(a: Option<&HashMap<String, V>>, b: &HashMap<String, V>) -> bool {
    a.map_or(b.is_empty(), |a| a == b)
}

fn integration_matches(i: &Integration, want: &IntegrationSpec) -> bool {
    i.r#type() == Some(&want.kind)
        && i.http_method() == Some(want.http_method)
        && i.uri() == Some(want.uri.as_str())
        && i.credentials() == want.credentials.as_deref()
        && same_map(i.request_parameters(), &want.request_params)
        && same_map(i.request_templates(), &want.request_templates)
        && want
            .passthrough
            .is_none_or(|p| i.passthrough_behavior() == Some(p))
}

fn integration_response_matches(ir: &IntegrationResponse, want: &IntegrationResponseSpec) -> bool {
    ir.selection_pattern() == want.selection_pattern
        && same_map(ir.response_parameters(), &want.params)
        && same_map(ir.response_templates(), &want.templates)
}

/// The method response parameters a route's header list stands for.
fn response_params(headers: &[&str]) -> HashMap<String, bool> {
    headers
        .iter()
        .map(|h| (format!("method.response.header.{h}"), false))
        .collect()
}

/// One method of one resource, and the spec it must match.
struct Method<'a> {
    ctx: &'a Ctx,
    api: &'a str,
    resource_id: &'a str,
    route: &'a Route,
}

impl Method<'_> {
    /// The method as it is, after creating it if missing. A method's request parameters cannot be changed
    /// by PutMethod, so one whose parameters differ is deleted and created again (its integration and
    /// responses are then put again by the caller). Returns it (None when just created) and whether it
    /// changed.
    async fn ensure_method(&self) -> Result<(Option<GetMethodOutput>, bool)> {
        let gw = &self.ctx.aws.apigw;
        let mut current = gw
            .get_method()
            .rest_api_id(self.api)
            .resource_id(self.resource_id)
            .http_method(self.route.method)
            .send()
            .await
            .or_absent(|e| e.is_not_found_exception())
            .map_err(self.ctx.aws.sdk("apigateway", "GetMethod"))?;
        if current
            .as_ref()
            .is_some_and(|m| !same_map(m.request_parameters(), &self.route.request_params))
        {
            gw.delete_method()
                .rest_api_id(self.api)
                .resource_id(self.resource_id)
                .http_method(self.route.method)
                .send()
                .await
                .map_err(self.ctx.aws.sdk("apigateway", "DeleteMethod"))?;
            current = None;
        }
        if current.is_some() {
            return Ok((current, false));
        }
        gw.put_method()
            .rest_api_id(self.api)
            .resource_id(self.resource_id)
            .http_method(self.route.method)
            .authorization_type("NONE")
            .set_request_parameters(Some(self.route.request_params.clone()))
            .send()
            .await
            .map_err(self.ctx.aws.sdk("apigateway", "PutMethod"))?;
        Ok((None, true))
    }

    /// PutIntegration replaces the whole integration, responses included.
    async fn put_integration(&self) -> Result<()> {
        let want = &self.route.integration;
        self.ctx
            .aws
            .apigw
            .put_integration()
            .rest_api_id(self.api)
            .resource_id(self.resource_id)
            .http_method(self.route.method)
            .r#type(want.kind.clone())
            .integration_http_method(want.http_method)
            .uri(&want.uri)
            .set_credentials(want.credentials.clone())
            .set_request_parameters(Some(want.request_params.clone()).filter(|m| !m.is_empty()))
            .set_request_templates(Some(want.request_templates.clone()).filter(|m| !m.is_empty()))
            .set_passthrough_behavior(want.passthrough.map(str::to_string))
            .send()
            .await
            .map_err(self.ctx.aws.sdk("apigateway", "PutIntegration"))?;
        Ok(())
    }

    /// Puts each method response that is missing or differs (a differing one is deleted first: its
    /// parameters cannot be patched to the spec's) and deletes those the route no longer has.
    async fn sync_method_responses(
        &self,
        existing: Option<&HashMap<String, MethodResponse>>,
    ) -> Result<bool> {
        let existing = existing.cloned().unwrap_or_default();
        let mut changed = false;
        for (status, headers) in &self.route.method_responses {
            let params = response_params(headers);
            match existing.get(*status) {
                Some(mr) if same_map(mr.response_parameters(), &params) => continue,
                Some(mr) => {
                    tracing::debug!(path = self.route.path, status, current = ?mr, "method response differs");
                    self.delete_method_response(status).await?;
                }
                None => {}
            }
            self.ctx
                .aws
                .apigw
                .put_method_response()
                .rest_api_id(self.api)
                .resource_id(self.resource_id)
                .http_method(self.route.method)
                .status_code(*status)
                .set_response_parameters(Some(params))
                .send()
                .await
                .map_err(self.ctx.aws.sdk("apigateway", "PutMethodResponse"))?;
            changed = true;
        }
        for status in existing.keys() {
            if !self.route.method_responses.iter().any(|(s, _)| s == status) {
                self.delete_method_response(status).await?;
                changed = true;
            }
        }
        Ok(changed)
    }

    async fn delete_method_response(&self, status: &str) -> Result<()> {
        self.ctx
            .aws
            .apigw
            .delete_method_response()
            .rest_api_id(self.api)
            .resource_id(self.resource_id)
            .http_method(self.route.method)
            .status_code(status)
            .send()
            .await
            .map_err(self.ctx.aws.sdk("apigateway", "DeleteMethodResponse"))?;
        Ok(())
    }

    /// Puts each integration response that is missing or differs, and deletes those the route no longer
    /// has.
    async fn sync_integration_responses(
        &self,
        existing: Option<&HashMap<String, IntegrationResponse>>,
    ) -> Result<bool> {
        let existing = existing.cloned().unwrap_or_default();
        let mut changed = false;
        for want in &self.route.integration_responses {
            let current = existing.get(want.status);
            if current.is_some_and(|ir| integration_response_matches(ir, want)) {
                continue;
            }
            tracing::debug!(
                path = self.route.path,
                status = want.status,
                ?current,
                "integration response differs"
            );
            self.put_integration_response(want).await?;
            changed = true;
        }
        for status in existing.keys() {
            if !self
                .route
                .integration_responses
                .iter()
                .any(|r| r.status == status)
            {
                self.delete_integration_response(status).await?;
                changed = true;
            }
        }
        Ok(changed)
    }

    async fn put_integration_response(&self, want: &IntegrationResponseSpec) -> Result<()> {
        self.ctx
            .aws
            .apigw
            .put_integration_response()
            .rest_api_id(self.api)
            .resource_id(self.resource_id)
            .http_method(self.route.method)
            .status_code(want.status)
            .set_selection_pattern(want.selection_pattern.map(str::to_string))
            .set_response_parameters(Some(want.params.clone()).filter(|m| !m.is_empty()))
            .set_response_templates(Some(want.templates.clone()).filter(|m| !m.is_empty()))
            .send()
            .await
            .map_err(self.ctx.aws.sdk("apigateway", "PutIntegrationResponse"))?;
        Ok(())
    }

    async fn delete_integration_response(&self, status: &str) -> Result<()> {
        self.ctx
            .aws
            .apigw
            .delete_integration_response()
            .rest_api_id(self.api)
            .resource_id(self.resource_id)
            .http_method(self.route.method)
            .status_code(status)
            .send()
            .await
            .map_err(self.ctx.aws.sdk("apigateway", "DeleteIntegrationResponse"))?;
        Ok(())
    }
}
