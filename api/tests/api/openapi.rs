//! The OpenAPI description: committed, served, and shown in Swagger UI.

use quotes_test_support::committed_openapi;
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn openapi_json_serves_the_committed_document() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut served: Value = response.json().await.unwrap();
    let mut committed: Value = serde_yaml_ng::from_str(&committed_openapi()).unwrap();
    // The one difference: where tokens come from. The committed document
    // names no deployment's provider; the served one names this one's,
    // an OpenID provider, by its discovery document.
    let scheme = served["components"]["securitySchemes"]["oauth2"].take();
    assert_eq!(scheme["type"], "openIdConnect", "{scheme}");
    assert_eq!(
        scheme["openIdConnectUrl"],
        format!("{}/.well-known/openid-configuration", app.idp.issuer)
    );
    let placeholder = committed["components"]["securitySchemes"]["oauth2"].take();
    assert_eq!(
        placeholder["flows"]["authorizationCode"]["authorizationUrl"],
        "https://identity-provider.example/authorize"
    );
    assert_eq!(served, committed);
}

#[tokio::test]
async fn swagger_ui_is_served_without_any_external_url() {
    let app = spawn_app().await;
    let redirect = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/docs/");

    let page = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let mut assets = vec!["/docs/swagger-initializer.js".to_owned()];
    for attribute in ["src=\"", "href=\""] {
        for part in html.split(attribute).skip(1) {
            let target = part.split('"').next().unwrap();
            assert!(!target.contains("://"), "external asset {target}");
            assets.push(format!("/docs/{}", target.trim_start_matches("./")));
        }
    }
    for asset in assets {
        let response = app.client.get(app.url(&asset)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
    }
    let initializer = app.get_text("/docs/swagger-initializer.js").await;
    assert!(initializer.contains("/openapi.json"), "{initializer}");
    assert!(
        initializer.contains("\"validatorUrl\": \"none\""),
        "{initializer}"
    );
}
