//! The API Gateway mapping templates for the routes served straight from DynamoDB (`/poll`,
//! `/client-check`, `/.well-known/jwks.json`). They live as `.vtl` files so an independent Velocity renderer can test the very text
//! that `deploy` uploads.

const TABLE_PLACEHOLDER: &str = "__TABLE__";

const POLL_REQUEST: &str = include_str!("vtl/poll-request.vtl");
const POLL_RESPONSE: &str = include_str!("vtl/poll-response.vtl");
const CLIENT_CHECK_REQUEST: &str = include_str!("vtl/client-check-request.vtl");
const CLIENT_CHECK_RESPONSE: &str = include_str!("vtl/client-check-response.vtl");
const JWKS_REQUEST: &str = include_str!("vtl/jwks-request.vtl");
const JWKS_RESPONSE: &str = include_str!("vtl/jwks-response.vtl");
/// The body (and `Retry-After`) of the 503 integration response of both routes, selected when DynamoDB
/// answers with an error status. It names no table, so it needs no filling.
pub const UNAVAILABLE_RESPONSE: &str = include_str!("vtl/unavailable-response.vtl");

/// The request and response templates of one route, with the table name filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templates {
    pub request: String,
    pub response: String,
}

fn fill(template: &str, table: &str) -> String {
    template.replace(TABLE_PLACEHOLDER, table)
}

pub fn poll(table: &str) -> Templates {
    Templates {
        request: fill(POLL_REQUEST, table),
        response: fill(POLL_RESPONSE, table),
    }
}

pub fn client_check(table: &str) -> Templates {
    Templates {
        request: fill(CLIENT_CHECK_REQUEST, table),
        response: fill(CLIENT_CHECK_RESPONSE, table),
    }
}

/// The JWKS from the table's [`crate::contract::JWKS_KEY`] item, each retired key left out once its
/// `until` has passed.
pub fn jwks(table: &str) -> Templates {
    Templates {
        request: fill(JWKS_REQUEST, table),
        response: fill(JWKS_RESPONSE, table),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_names_the_table_and_nothing_is_left_unfilled() {
        for t in [
            poll("beekeeper-x-table"),
            client_check("beekeeper-x-table"),
            jwks("beekeeper-x-table"),
        ] {
            assert!(t.request.contains("beekeeper-x-table"), "{}", t.request);
            assert!(
                !t.request.contains(TABLE_PLACEHOLDER) && !t.response.contains(TABLE_PLACEHOLDER)
            );
            assert!(!t.response.is_empty());
        }
        assert!(!UNAVAILABLE_RESPONSE.contains(TABLE_PLACEHOLDER));
    }
}
