// Starts the app. A file of its own rather than an inline script, so that
// the Content-Security-Policy needs no exception for inline code.
import init from "./quotes_web.js";

init({ module_or_path: "quotes_web_bg.wasm" });
