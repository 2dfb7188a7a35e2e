// Swagger UI in headless Chromium: authorize with a development token,
// call GET /me/quote from the page, and check that it succeeded. Writes a
// screenshot of the result.
//
// Environment: QUOTES_URL, QUOTES_TOKEN, CHROMIUM (executable), OUT (folder).

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { launch } from "./chromium.mjs";

const { QUOTES_URL: base, QUOTES_TOKEN: token, CHROMIUM: executablePath, OUT: out } = process.env;
const quote = "Seen through Swagger UI.";

function fail(message) {
  console.error(`swagger ui: ${message}`);
  process.exit(1);
}

// Something to read: the quote is saved over plain HTTP first.
const saved = await fetch(`${base}/me/quote`, {
  method: "PUT",
  headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
  body: JSON.stringify({ quote }),
});
if (saved.status !== 201) fail(`seeding the quote answered ${saved.status}`);

const browser = await launch(executablePath);
let checks = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const external = [];
  page.on("request", (request) => {
    if (!request.url().startsWith(base)) external.push(request.url());
  });

  await page.goto(`${base}/docs/`);
  await page.getByRole("button", { name: "Authorize" }).first().click();
  await page.locator(".modal-ux input[type=text]").fill(token);
  await page.locator(".modal-ux button.authorize").click();
  await page.locator(".modal-ux button.btn-done").click();
  checks++;

  const operation = page.locator("#operations-quotes-get_quote");
  await operation.locator(".opblock-summary").click();
  // "Try it out" is on from the start (the API sets `tryItOutEnabled`).
  await operation.getByRole("button", { name: "Execute" }).click();
  const status = operation.locator(".live-responses-table tbody .response-col_status").first();
  await status.waitFor();
  const code = (await status.innerText()).trim();
  if (code !== "200") fail(`GET /me/quote answered ${code}`);
  checks++;
  const body = await operation.locator(".live-responses-table tbody .response-col_description").first().innerText();
  if (!body.includes(quote)) fail(`the response does not show the quote: ${body}`);
  checks++;
  if (external.length > 0) fail(`the page reached outside the API: ${external.join(", ")}`);
  checks++;

  mkdirSync(out, { recursive: true });
  const path = join(out, "swagger-ui-authorized-get-me-quote.png");
  await operation.locator(".live-responses-table").scrollIntoViewIfNeeded();
  await page.screenshot({ path });
  console.log(`swagger ui: screenshot ${path}`);
  console.log(`swagger ui: ${checks} checks passed`);
} finally {
  await browser.close();
}
