//! Shown when `config.json` is missing or broken: what is wrong and what
//! the file must hold.

use yew::prelude::*;

use crate::pages::use_title;

#[derive(Debug, Properties, PartialEq)]
pub struct ConfigErrorProps {
    pub message: String,
}

#[function_component]
pub fn ConfigErrorPage(props: &ConfigErrorProps) -> Html {
    use_title("The app cannot start");
    html! {
        <section class="card">
            <h1>{ "The app cannot start" }</h1>
            <p class="alert" role="alert">{ &props.message }</p>
            <p>{ "It reads config.json from the folder of index.html. The file must look like this:" }</p>
            <pre><code>{ r#"{
  "api_base": "https://api.example.com",
  "provider": {
    "kind": "oidc",
    "issuer": "https://id.example.com",
    "client_id": "quotes-web",
    "scopes": "openid profile"
  }
}"# }</code></pre>
            <p>{ "quotes-api --web-dir writes one for you from its own settings." }</p>
        </section>
    }
}
