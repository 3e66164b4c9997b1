//! The OpenAPI document's frame: its title, the session cookie as its security scheme, and
//! errors described as `application/problem+json`. The routes come from the features.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::kernel::error::Problem;
use crate::kernel::session::SESSION_COOKIE;

#[derive(OpenApi)]
#[openapi(
    info(title = "Kintsugi API", description = "People and teams of an organisation. Confidential input never passes through this API."),
    modifiers(&CookieAuth),
    components(schemas(Problem))
)]
pub struct ApiDoc;

struct CookieAuth;

impl Modify for CookieAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))),
        );
    }
}

/// Errors are served as `application/problem+json` (error.rs); utoipa lists every body as
/// `application/json`, so a client checking the document would reject each error it gets.
pub fn problems_as_problem_json(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            for response in operation.responses.responses.values_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                let is_problem = matches!(
                    response.content.get("application/json"),
                    Some(RefOr::T(c)) if matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"))
                );
                if let Some(content) = is_problem
                    .then(|| response.content.shift_remove("application/json"))
                    .flatten()
                {
                    response
                        .content
                        .insert("application/problem+json".into(), content);
                }
            }
        }
    }
}
