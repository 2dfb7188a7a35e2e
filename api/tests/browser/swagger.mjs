// Swagger UI in headless Chromium: Authorize signs in at the development
// provider (authorization code with PKCE, in a popup), then the page calls
// GET /me/quote; check that it succeeded, that the page's
// Content-Security-Policy blocked nothing it needs, and that the token was
// kept in memory only. Writes a screenshot of the result.
//
// Environment: QUOTES_URL, QUOTES_TOKEN (to seed the quote), QUOTES_USER
// (whom it belongs to), CHROMIUM (executable), OUT (folder).

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const {
  QUOTES_URL: base,
  QUOTES_TOKEN: token,
  QUOTES_USER: user,
  CHROMIUM: executablePath,
  OUT: out,
} = process.env;
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

// Debian's Chromium, headless, with the background networking a closed
// network would refuse turned off.
const browser = await chromium.launch({
  executablePath,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
let checks = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const external = [];
  page.on("request", (request) => {
    if (!request.url().startsWith(base)) external.push(request.url());
  });
  const refused = [];
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) refused.push(message.text());
  });

  const docs = await page.goto(`${base}/docs/`);
  const policy = docs.headers()["content-security-policy"] ?? "";
  if (!policy.includes("frame-ancestors 'none'")) fail(`/docs/ has no framing policy: ${policy}`);
  checks++;
  await page.getByRole("button", { name: "Authorize" }).first().click();
  // The OAuth scheme: its scopes, then its own Authorize.
  const oauth = page.locator(".modal-ux .auth-container").filter({ hasText: "authorizationCode" });
  await oauth.getByText("select all").click();
  const [popup] = await Promise.all([
    page.waitForEvent("popup"),
    oauth.locator("button.authorize").click(),
  ]);
  const asked = new URL(popup.url());
  if (asked.pathname !== "/dev-idp/authorize") fail(`Authorize opened ${popup.url()}`);
  for (const [name, expected] of [
    ["response_type", "code"],
    ["code_challenge_method", "S256"],
    ["resource", base],
  ]) {
    if (asked.searchParams.get(name) !== expected) {
      fail(`the authorization request has ${name}=${asked.searchParams.get(name)}`);
    }
  }
  if (!asked.searchParams.get("scope")?.includes("quotes:write")) {
    fail(`the authorization request asks for ${asked.searchParams.get("scope")}`);
  }
  checks++;
  await popup.locator("#user").fill(user);
  await Promise.all([
    popup.waitForEvent("close"),
    popup.locator("button.primary[type=submit]").click(),
  ]);
  // Signed in: the scheme says so, and offers to log out.
  await oauth.getByRole("heading", { name: "Authorized" }).waitFor();
  await oauth.getByRole("button", { name: "Remove authorization" }).waitFor();
  checks++;
  await oauth.locator("button.btn-done").click();

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
  if (refused.length > 0) fail(`the policy refused: ${refused.join(" | ")}`);
  checks++;
  const kept = await page.evaluate(() => Object.keys(window.localStorage));
  if (kept.length > 0) fail(`Swagger UI kept ${kept.join(", ")} in localStorage`);
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
