// The web app end to end in headless Chromium, against the real API, its
// database and its development identity provider: sign in, empty state,
// save, reload, replace, a refused quote, delete, sign out, a second user
// who sees only their own quote, and the API going away and coming back.
// Keyboard and screen reader: where the focus goes after each action,
// Escape on the delete question, the status said politely, the counter
// quiet until the limit is near, a refusal tied to its field and gone once
// the text changes, Save off over the limit. Screenshots at desktop and
// phone widths, light and dark, each checked with axe-core (0 violations
// is a check). Last, the time from navigation to the saved quote on
// screen, over ten sign-ins, and from a reload to the quote on screen,
// over ten reloads; with the bytes on the wire of a first visit and of
// the return from the provider, which must load nothing but index.html
// and config.json again.
//
// Sessions: tokens live in the page's memory only, but a reload stays
// signed in without a click (the tab's marker in sessionStorage, then
// prompt=none at the provider, whose session cookie answers); prompt=none
// without a provider session lands on the signed-out page once; signing
// out, then reloading, stays signed out. Against a second server whose
// access tokens live 20 seconds: a minute of saving keeps working on
// renewed tokens; a refresh token presented by someone else first (so the
// app's own use is a reuse, which revokes the sign-in) makes the next save
// say "sign in again", and the text typed meanwhile is still in the
// editor after signing in again.
//
// The Clerk path runs too, against a stand-in of the part of clerk-js the
// app calls (load, mountSignIn, mountUserButton, addListener,
// session.getToken, signOut), served in place of Clerk's Frontend API; its
// session tokens are development tokens the API accepts. A token the API
// refuses as expired is replaced once, with getToken({ skipCache: true }).
//
// Environment: QUOTES_URL, QUOTES_SHORT_TOKENS_URL (the server with
// 20-second tokens), CHROMIUM (executable), OUT (screenshot folder),
// QUOTES_CLERK_TOKEN (a token for the stand-in's user, clerk_carol),
// QUOTES_DEV_IDP_KEY_FILE (the provider's key, to sign an expired token).
// The outage is asked of the caller, which runs the API: the script writes
// `web app: control stop-api` (or `start-api`) and reads `ok` from stdin.

import { createPrivateKey, sign } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import AxeBuilder from "@axe-core/playwright";
import { launch } from "./chromium.mjs";

const {
  QUOTES_URL: base,
  QUOTES_SHORT_TOKENS_URL: shortBase,
  CHROMIUM: executablePath,
  OUT: out,
  QUOTES_CLERK_TOKEN: clerkToken,
  QUOTES_DEV_IDP_KEY_FILE: keyFile,
} = process.env;
const TIMEOUT = 15_000;
// The app's sessionStorage keys (web/src/storage.rs).
const MARKER = "quotes.signed_in";
const DRAFT = "quotes.draft";

let checks = 0;
let axeScreens = 0;
// The page under test, for a screenshot when a step fails.
let current = null;
const consoleErrors = [];
// The failures the scenario provokes on purpose, each a status (or a
// refused connection) on a named request: the browser logs each one. Any
// other console error fails the check.
const EXPECTED_FAILURES = [
  "404 /me/quote", // a user with no quote yet
  "422 /me/quote", // a quote over 1000 characters
  "401 /me/quote", // the tokens the API refuses on purpose
  "400 /dev-idp/token", // a renewal the provider refuses
  "ERR_CONNECTION_REFUSED /me/quote", // the API stopped
];
function failureOf({ text, url }) {
  const status = /status of (\d{3})/.exec(text)?.[1] ?? (/ERR_[A-Z_]+/.exec(text)?.[0] ?? text);
  let path = url;
  try {
    path = new URL(url).pathname;
  } catch {}
  return `${status} ${path}`;
}
function expectedFailure(error) {
  return EXPECTED_FAILURES.includes(failureOf(error));
}
function describeErrors(errors) {
  const counts = new Map();
  for (const error of errors) counts.set(failureOf(error), (counts.get(failureOf(error)) ?? 0) + 1);
  return [...counts].map(([failure, count]) => `${failure} (${count})`).join(", ");
}
function check(condition, message) {
  if (!condition) throw new Error(message);
  checks++;
}

const stdin = createInterface({ input: process.stdin });
const replies = stdin[Symbol.asyncIterator]();
async function control(request) {
  console.log(`web app: control ${request}`);
  const { value: reply } = await replies.next();
  if (reply !== "ok") throw new Error(`${request}: ${reply ?? "no answer"}`);
}

async function signIn(page, user) {
  await page.goto(`${base}/`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("User name").fill(user);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByText(`Signed in as ${user}`).waitFor({ timeout: TIMEOUT });
}

async function save(page, text) {
  await page.getByLabel("Quote text").fill(text);
  await page.getByRole("button", { name: "Save quote" }).click();
}

// Signing out forgets the tokens at once, then leaves for the provider's
// end-session endpoint, which sends the browser back: wait for that return,
// so that the next navigation does not race it.
async function signOut(page) {
  const back = page.waitForEvent("load");
  await page.getByRole("button", { name: "Sign out" }).click();
  await back;
  await page.getByRole("button", { name: "Sign in" }).waitFor();
}

// Everything a page asks of the provider: the authorize requests (with
// their prompt) and the token grants (with the refresh token each answer
// carried), so checks can say "no sign-in page", "renewed", "one try".
function watchProvider(page, origin) {
  const seen = { authorize: [], signInForms: 0, grants: [], refused: [] };
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.origin !== origin) return;
    if (url.pathname === "/dev-idp/authorize" && request.method() === "GET") {
      seen.authorize.push(url.searchParams.get("prompt") ?? "");
    }
    if (url.pathname === "/dev-idp/authorize" && request.method() === "POST") seen.signInForms++;
  });
  page.on("response", (response) => {
    const url = new URL(response.url());
    if (url.origin !== origin) return;
    if (url.pathname === "/me/quote" && response.status() === 401) seen.refused.push(response.request().method());
    if (url.pathname !== "/dev-idp/token" || response.request().method() !== "POST") return;
    const grant = new URLSearchParams(response.request().postData() ?? "").get("grant_type");
    seen.grants.push({ grant, status: response.status(), body: response.json().catch(() => ({})) });
  });
  return seen;
}

// The app's next use of its refresh token, as the provider answers it.
function nextRenewal(page, origin, status) {
  return page.waitForResponse(
    (response) =>
      response.url() === `${origin}/dev-idp/token` &&
      new URLSearchParams(response.request().postData() ?? "").get("grant_type") === "refresh_token" &&
      response.status() === status,
    { timeout: 45_000 },
  );
}

// A development token like `token`, signed with the provider's key, that
// expired a minute ago (beyond the API's 5 s of leeway).
function expiredLike(token) {
  const [header, payload] = token.split(".");
  const claims = JSON.parse(Buffer.from(payload, "base64url"));
  const now = Math.floor(Date.now() / 1000);
  Object.assign(claims, { iat: now - 3600, nbf: now - 3600, exp: now - 60 });
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  const key = createPrivateKey(readFileSync(keyFile));
  const signature = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  return `${input}.${signature.toString("base64url")}`;
}

// The app's own files this document loaded (its navigation, then what it
// fetched; not the API's answers nor the provider's pages), with the
// bytes each took on the wire: headers and the body as sent (compressed),
// 0 for one the browser's cache answered without asking.
async function onTheWire(page) {
  const files = await page.evaluate(() =>
    [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")]
      .map((entry) => ({ path: new URL(entry.name).pathname, bytes: entry.transferSize }))
      .filter((entry) => !entry.path.includes("/me/") && !entry.path.includes("/dev-idp/"))
      .map((entry) => ({ name: entry.path.split("/").pop() || "index.html", bytes: entry.bytes })),
  );
  return { files, bytes: files.reduce((sum, file) => sum + file.bytes, 0) };
}

function kb(bytes) {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

// Every screenshot is also an accessibility check: axe-core's rules
// (WCAG 2.2 A and AA, and its best practices) on the screen as shown.
async function shot(page, name) {
  const path = join(out, `web-app-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`web app: screenshot ${path}`);
  const { violations } = await new AxeBuilder({ page }).analyze();
  const found = violations.map((v) => `${v.id} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  check(violations.length === 0, `axe-core on ${name}: ${found.join("; ")}`);
  axeScreens++;
}

// A screen at both widths, light and dark; back to desktop light after.
async function everyWay(page, name) {
  for (const [width, height, form] of [[1280, 900, "desktop"], [390, 844, "phone"]]) {
    await page.setViewportSize({ width, height });
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      await shot(page, `${name}-${form}-${scheme}`);
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.emulateMedia({ colorScheme: "light" });
}

// The focused element's id, or its text for a button.
async function focused(page) {
  return page.evaluate(() => {
    const element = document.activeElement;
    return element?.id || element?.textContent?.trim() || element?.tagName;
  });
}

// The clerk-js surface the app uses, standing in for Clerk's script.
function clerkStandIn(token) {
  return `
(() => {
  const script = document.currentScript;
  const listeners = [];
  const standIn = window.__standIn = {
    publishableKey: script && script.getAttribute("data-clerk-publishable-key"),
    tokenCalls: 0,
    // getToken({ skipCache: true }) calls; they replace the cached token.
    freshCalls: 0,
    cached: ${JSON.stringify(token)},
    signedOut: false,
  };
  const session = {
    getToken: async (options) => {
      standIn.tokenCalls++;
      if (options && options.skipCache) {
        standIn.freshCalls++;
        standIn.cached = ${JSON.stringify(token)};
      }
      return standIn.cached;
    },
  };
  const clerk = {
    user: null,
    session: null,
    async load() {},
    addListener(listener) { listeners.push(listener); },
    notify() { for (const l of listeners) l({ user: clerk.user, session: clerk.session }); },
    mountSignIn(node) {
      node.innerHTML = "<button type=button>Continue as clerk_carol</button>";
      node.querySelector("button").onclick = () => {
        clerk.user = { id: "clerk_carol", fullName: "Carol Clerk" };
        clerk.session = session;
        clerk.notify();
      };
    },
    mountUserButton(node) { node.innerHTML = "<button type=button aria-label=\\"Carol's account\\">C</button>"; },
    async signOut() { standIn.signedOut = true; clerk.user = null; clerk.session = null; clerk.notify(); },
  };
  window.Clerk = clerk;
})();
`;
}

mkdirSync(out, { recursive: true });
const browser = await launch(executablePath);
// Every page of every context reports its errors: an uncaught exception
// or a wasm panic (which the app writes to the console), and any console
// error, with the address of the request it names.
const pageErrors = [];
const newContext = browser.newContext.bind(browser);
browser.newContext = async (options) => {
  const context = await newContext(options);
  context.on("page", (opened) => {
    opened.on("pageerror", (error) => pageErrors.push(`${opened.url()}: ${error.message}`));
    opened.on("console", (message) => {
      if (message.type() === "error") {
        consoleErrors.push({ text: message.text(), url: message.location().url ?? "" });
      }
    });
  });
  return context;
};
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  current = page;
  page.setDefaultTimeout(TIMEOUT);
  const provider = watchProvider(page, base);

  // Signed out: what this is, and the way in.
  await page.goto(`${base}/`);
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  check(await page.getByRole("heading", { name: "Keep your favourite quote" }).isVisible(), "no heading when signed out");
  check(await page.title() === "Sign in · quotes", `the signed-out tab reads ${await page.title()}`);
  await everyWay(page, "signed-out");

  // Sign in: two clicks and a name.
  await signIn(page, "web_alice");
  check(page.url() === `${base}/`, `the address still carries the code: ${page.url()}`);
  await page.locator("#empty-state").waitFor();
  check(await page.getByText("No quote yet").isVisible(), "no empty state");
  check(await page.getByText("0 / 1000").isVisible(), "no counter");
  check(await page.title() === "Your quote · quotes", `the signed-in tab reads ${await page.title()}`);
  check(await page.locator("#quote-count").getAttribute("aria-live") === null, "the counter is read out at every key");
  await everyWay(page, "empty");

  // Save; the counter follows the text.
  const first = "Simplicity is prerequisite for reliability.";
  await page.getByLabel("Quote text").fill(first);
  check(await page.getByText(`${first.length} / 1000`).isVisible(), "the counter does not follow the text");
  await page.getByRole("button", { name: "Save quote" }).click();
  await page.locator("#current-quote", { hasText: first }).waitFor();
  check(await page.getByRole("button", { name: "Delete quote" }).isVisible(), "no delete button with a quote");
  // Said politely to a screen reader, and the focus back in the text.
  check(await page.getByRole("status").innerText() === "Saved.", `the status reads ${await page.getByRole("status").innerText()}`);
  check(await focused(page) === "quote-text", `after saving, the focus is on ${await focused(page)}`);
  check(await page.getByText("Saved just now").isVisible(), "the saved time is not told as a person would");
  await everyWay(page, "saved");

  // Reload: still signed in, with no click. The tab's marker (never a
  // token) sends the app to the provider with prompt=none, and the
  // provider's session answers with a code at once.
  check(await page.evaluate((key) => sessionStorage.getItem(key), MARKER) === "1", "no signed-in marker");
  const storedKeys = await page.evaluate(() => Object.keys(sessionStorage).map((key) => `${key}=${sessionStorage.getItem(key)}`));
  check(storedKeys.every((entry) => !/eyJ/.test(entry)), `a token in sessionStorage: ${storedKeys}`);
  const formsBefore = provider.signInForms;
  provider.authorize.length = 0;
  await page.reload();
  await page.locator("#current-quote", { hasText: first }).waitFor();
  check(await page.getByText("Signed in as web_alice").isVisible(), "the reload lost who is signed in");
  check(provider.authorize.join() === "none", `the reload asked the provider ${provider.authorize.length} times, prompts: ${provider.authorize}`);
  check(provider.signInForms === formsBefore, "the reload went through the sign-in page");
  check(page.url() === `${base}/`, `the address still carries the code: ${page.url()}`);

  // Replace, with Enter (Shift+Enter makes a new line first).
  const textarea = page.getByLabel("Quote text");
  await textarea.fill("Make it work,");
  await textarea.press("Shift+Enter");
  await textarea.pressSequentially("make it right.");
  await textarea.press("Enter");
  await page.locator("#current-quote", { hasText: "make it right." }).waitFor();
  check((await page.locator("#current-quote").innerText()).includes("Make it work,\nmake it right."), "Shift+Enter did not keep the new line");

  // Over the limit: the field says so and Save is off; Enter sends nothing.
  const editor = page.getByLabel("Quote text");
  const puts = [];
  page.on("request", (request) => {
    if (request.method() === "PUT") puts.push(request.url());
  });
  await editor.fill("x".repeat(1001));
  check(await page.getByText("1001 / 1000").isVisible(), "the counter does not show 1001");
  check(await page.getByRole("button", { name: "Save quote" }).isDisabled(), "Save is on over the limit");
  check(await editor.getAttribute("aria-invalid") === "true", "the field over the limit is not marked invalid");
  await editor.press("Enter");
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => setTimeout(done))));
  check(puts.length === 0, `over the limit, Enter sent ${puts.length} saves`);
  await everyWay(page, "over-limit");

  // What only the API knows to refuse (nothing visible): its words in
  // role=alert, tied to the field, and gone once the text changes.
  await editor.fill("\u200b");
  await page.getByRole("button", { name: "Save quote" }).click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  const refused = await alert.innerText();
  check(/no visible characters/.test(refused), `the refusal does not say why: ${refused}`);
  check(await editor.getAttribute("aria-invalid") === "true", "the refused field is not marked invalid");
  const describedBy = (await editor.getAttribute("aria-describedby")).split(" ");
  check(describedBy.includes(await alert.getAttribute("id")), `the alert does not describe the field: ${describedBy}`);
  check(await focused(page) === "quote-text", `after a refusal, the focus is on ${await focused(page)}`);
  check((await page.locator("#current-quote").innerText()).includes("make it right."), "the refused quote replaced the stored one");
  await everyWay(page, "refused");
  await editor.fill("Make it work, make it right, make it fast.");
  check(!(await alert.isVisible()), "the alert stayed after the text was changed");
  check(await editor.getAttribute("aria-invalid") === "false", "the changed text is still marked invalid");
  await editor.fill("Make it work,\nmake it right.");

  // Delete, after confirming. The focus goes to the safe answer, the
  // destructive one is the second Tab stop, Escape and "Keep it" close the
  // question with the focus back on "Delete quote".
  const deleteButton = page.getByRole("button", { name: "Delete quote" });
  await deleteButton.click();
  check(await focused(page) === "Keep it", `the confirmation opened with the focus on ${await focused(page)}`);
  await everyWay(page, "confirm");
  await page.keyboard.press("Tab");
  check(await focused(page) === "Yes, delete it", `the second Tab stop is ${await focused(page)}`);
  await page.keyboard.press("Escape");
  await deleteButton.waitFor();
  check(await focused(page) === "Delete quote", `Escape left the focus on ${await focused(page)}`);
  check(await page.locator("#current-quote").isVisible(), "Escape deleted it");
  await deleteButton.click();
  await page.getByRole("button", { name: "Keep it" }).click();
  check(await focused(page) === "Delete quote", `"Keep it" left the focus on ${await focused(page)}`);
  check(await page.locator("#current-quote").isVisible(), "keeping it deleted it");
  await deleteButton.click();
  await page.getByRole("button", { name: "Yes, delete it" }).click();
  await page.locator("#empty-state").waitFor();
  check(!(await deleteButton.isVisible()), "a delete button without a quote");
  check(await page.getByRole("status").innerText() === "Your quote was deleted.", "the deletion was not said");
  check(await focused(page) === "quote-text", `after deleting, the focus is on ${await focused(page)}`);

  // Leave a quote for the isolation check, then sign out.
  await save(page, "Alice's own words.");
  await page.locator("#current-quote", { hasText: "Alice's own words." }).waitFor();
  await signOut(page);
  check(!(await page.getByText("Signed in as").isVisible()), "still signed in after signing out");
  check(page.url() === `${base}/`, `signing out left ${page.url()} in the address`);

  // Signed out, a reload stays signed out: no marker, no trip to the provider.
  check(await page.evaluate((key) => sessionStorage.getItem(key), MARKER) === null, "the marker outlived sign-out");
  provider.authorize.length = 0;
  await page.reload();
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  await page.waitForLoadState("networkidle");
  check(provider.authorize.length === 0, `the reload after sign-out asked the provider: ${provider.authorize}`);
  check(!(await page.getByText("Signed in as").isVisible()), "signed in again by a reload after signing out");

  // A second user sees only their own quote.
  await signIn(page, "web_bob");
  await page.locator("#empty-state").waitFor();
  check(!(await page.getByText("Alice's own words.").isVisible()), "bob sees alice's quote");
  await save(page, "Bob's quote.");
  await page.locator("#current-quote", { hasText: "Bob's quote." }).waitFor();
  // On a phone, "Sign out" stays on the line of "Signed in as", and the
  // counter right under the field.
  await page.setViewportSize({ width: 390, height: 844 });
  const who = await page.getByText("Signed in as").boundingBox();
  const signOutBox = await page.getByRole("button", { name: "Sign out" }).boundingBox();
  check(signOutBox.y < who.y + who.height && who.y < signOutBox.y + signOutBox.height, "Sign out wrapped under the name on a phone");
  const field = await page.getByLabel("Quote text").boundingBox();
  const counter = await page.locator("#quote-count").boundingBox();
  check(counter.y - (field.y + field.height) < 24, `the counter is ${counter.y - (field.y + field.height)} px below the field`);
  await page.setViewportSize({ width: 1280, height: 900 });

  // The API goes away: a readable error, nothing lost; it comes back: saving works again.
  await control("stop-api");
  await save(page, "Saved after the outage.");
  const outage = await page.getByRole("alert").innerText();
  check(/could not be reached/.test(outage), `the outage reads: ${outage}`);
  check((await page.locator("#current-quote").innerText()).includes("Bob's quote."), "the outage hid the stored quote");
  await everyWay(page, "api-down");
  await control("start-api");
  await page.getByRole("button", { name: "Save quote" }).click();
  await page.locator("#current-quote", { hasText: "Saved after the outage." }).waitFor();
  check(!(await page.getByRole("alert").isVisible()), "the outage error stayed after recovery");

  // An expired or rejected token: back to "sign in again", no loop.
  await page.route(`${base}/me/quote`, (route) =>
    route.fulfill({
      status: 401,
      contentType: "application/problem+json",
      headers: { "www-authenticate": 'Bearer error="invalid_token"' },
      body: JSON.stringify({ type: "about:blank", title: "Unauthorized", status: 401, detail: "The token has expired." }),
    }),
  );
  await save(page, "After expiry.");
  await page.getByText("Sign in again").waitFor();
  check(await page.getByRole("button", { name: "Sign in" }).isVisible(), "no way to sign in again after a 401");
  await page.waitForTimeout(500);
  check(page.url() === `${base}/`, "the app left by itself after a 401");
  await page.unroute(`${base}/me/quote`);

  // A broken config.json: a page that says what is wrong.
  const broken = await context.newPage();
  await broken.route(`${base}/config.json`, (route) =>
    route.fulfill({ status: 200, contentType: "application/json", body: '{"api_base": 1}' }),
  );
  await broken.goto(`${base}/`);
  await broken.getByRole("heading", { name: "The app cannot start" }).waitFor();
  check((await broken.getByRole("alert").innerText()).includes("config.json"), "the config error does not name the file");
  check(await broken.title() === "The app cannot start · quotes", `the broken tab reads ${await broken.title()}`);
  await everyWay(broken, "config-error");
  await broken.close();

  // Clerk: the key names the Frontend API; the stand-in plays Clerk there.
  const clerkHost = "clerk.quotes.test";
  const publishableKey = `pk_test_${Buffer.from(`${clerkHost}$`).toString("base64")}`;
  // The server runs with its development provider, so its
  // Content-Security-Policy names that provider, not this stand-in's
  // Frontend API; the policy a Clerk-mode server sends is checked by the
  // API's own tests.
  const clerkContext = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  await clerkContext.route(`${base}/config.json`, (route) =>
    route.fulfill({
      status: 200,
      contentType: "application/json",
      body: JSON.stringify({ api_base: base, provider: { kind: "clerk", publishable_key: publishableKey } }),
    }),
  );
  const scriptUrls = [];
  await clerkContext.route(`https://${clerkHost}/**`, (route) => {
    scriptUrls.push(route.request().url());
    route.fulfill({
      status: 200,
      contentType: "text/javascript",
      headers: { "access-control-allow-origin": "*" },
      body: clerkStandIn(clerkToken),
    });
  });
  const clerkPage = await clerkContext.newPage();
  current = clerkPage;
  clerkPage.setDefaultTimeout(TIMEOUT);
  await clerkPage.goto(`${base}/`);
  await clerkPage.getByRole("button", { name: "Continue as clerk_carol" }).click();
  await clerkPage.getByText("Signed in as Carol Clerk").waitFor();
  check(scriptUrls[0] === `https://${clerkHost}/npm/@clerk/clerk-js@5/dist/clerk.browser.js`, `clerk-js from ${scriptUrls[0]}`);
  check(await clerkPage.evaluate(() => window.__standIn.publishableKey) === publishableKey, "the script lacks the publishable key");
  check(await clerkPage.getByRole("button", { name: "Carol's account" }).isVisible(), "no user button");
  await clerkPage.locator("#empty-state").waitFor();
  await save(clerkPage, "Signed in through Clerk.");
  await clerkPage.locator("#current-quote", { hasText: "Signed in through Clerk." }).waitFor();
  check(await clerkPage.evaluate(() => window.__standIn.tokenCalls) >= 2, "no fresh token per call");

  // Clerk's cached token has expired by the time the API sees it: the API
  // refuses it as expired, the app asks Clerk past its cache once and the
  // same save goes through.
  await clerkPage.evaluate((token) => { window.__standIn.cached = token; }, expiredLike(clerkToken));
  const clerkPuts = [];
  const collectPut = (response) => {
    if (response.url() === `${base}/me/quote` && response.request().method() === "PUT") clerkPuts.push(response);
  };
  clerkPage.on("response", collectPut);
  await save(clerkPage, "Saved with a replaced token.");
  await clerkPage.locator("#current-quote", { hasText: "Saved with a replaced token." }).waitFor();
  clerkPage.off("response", collectPut);
  check(await clerkPage.evaluate(() => window.__standIn.freshCalls) === 1, "getToken({ skipCache: true }) was not asked exactly once");
  const putStatuses = clerkPuts.map((response) => response.status());
  check(putStatuses.join() === "401,200", `the save's answers: ${putStatuses}`);
  const expiredType = (await clerkPuts[0].json()).type;
  check(expiredType === "urn:quotes:problem:expired-token", `the first answer's problem: ${expiredType}`);
  check(!(await clerkPage.getByText("Sign in again").isVisible()), "an expired Clerk token signed out");
  await shot(clerkPage, "clerk-signed-in-desktop-light");
  await clerkPage.getByRole("button", { name: "Sign out" }).click();
  await clerkPage.getByRole("button", { name: "Continue as clerk_carol" }).waitFor();
  check(await clerkPage.evaluate(() => window.__standIn.signedOut), "Clerk's signOut was not called");
  await clerkContext.close();

  // Navigation to the saved quote on screen, signed in: from the start of
  // the navigation that brings the browser back from the provider to the
  // quote in the page (the page's own clock), and from the first click on
  // "Sign in" (the test's clock), ten times.
  const timing = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await timing.addInitScript(() => {
    new MutationObserver((_, observer) => {
      if (document.querySelector("#current-quote")) {
        window.__quoteShownAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  });
  const fromReturn = [];
  const fromClick = [];
  let firstVisit = null;
  let returnVisit = null;
  let timed = null;
  for (let run = 0; run < 10; run++) {
    // A new tab each time: a signed-in tab would sign in by itself.
    await timed?.close();
    timed = await timing.newPage();
    current = timed;
    timed.setDefaultTimeout(TIMEOUT);
    await timed.goto(`${base}/`);
    if (run === 0) {
      // The context's cache is empty: this is a first visit.
      await timed.getByRole("button", { name: "Sign in" }).waitFor();
      firstVisit = await onTheWire(timed);
    }
    const clicked = performance.now();
    await timed.getByRole("button", { name: "Sign in" }).click();
    await timed.getByLabel("User name").fill("web_alice");
    await timed.getByRole("button", { name: "Sign in", exact: true }).click();
    await timed.locator("#current-quote", { hasText: "Alice's own words." }).waitFor();
    fromClick.push(performance.now() - clicked);
    if (run === 0) returnVisit = await onTheWire(timed);
    fromReturn.push(await timed.evaluate(() => window.__quoteShownAt));
  }
  check(fromReturn.every((ms) => ms > 0), `a timing was not taken: ${fromReturn}`);
  // The bundle's files are named by their content and cached as immutable:
  // back from the provider, only index.html and config.json (revalidated)
  // cross the wire again.
  const fetched = (visit) => visit.files.filter((file) => file.bytes > 0).map((file) => file.name);
  check(firstVisit.files.some((file) => file.name.endsWith(".wasm") && file.bytes > 0),
    `the first visit did not load the wasm: ${JSON.stringify(firstVisit.files)}`);
  const again = fetched(returnVisit).filter((name) => !["index.html", "config.json"].includes(name));
  check(again.length === 0, `back from the provider the browser loaded again: ${again.join(", ")}`);
  console.log(
    `web app: bytes on the wire: first visit ${kb(firstVisit.bytes)} ` +
      `(${fetched(firstVisit).join(", ")}); back from the provider ${kb(returnVisit.bytes)} ` +
      `(${fetched(returnVisit).join(", ")})`,
  );
  console.log(
    `web app: navigation to the saved quote on screen, median of ${fromReturn.length}: ` +
      `${median(fromReturn).toFixed(0)} ms from the return from the provider, ` +
      `${median(fromClick).toFixed(0)} ms from the click on "Sign in"`,
  );

  // A reload of the signed-in tab to the quote on screen (through the
  // provider with prompt=none and back), ten times.
  const fromReload = [];
  const reloadReturn = [];
  for (let run = 0; run < 10; run++) {
    const started = performance.now();
    await timed.reload();
    await timed.locator("#current-quote", { hasText: "Alice's own words." }).waitFor();
    fromReload.push(performance.now() - started);
    reloadReturn.push(await timed.evaluate(() => window.__quoteShownAt));
  }
  check(!(await timed.getByRole("button", { name: "Sign in" }).isVisible()), "a reload signed out");
  await timing.close();
  console.log(
    `web app: reload to the saved quote on screen, median of ${fromReload.length}: ` +
      `${median(fromReload).toFixed(0)} ms from the reload ` +
      `(${median(reloadReturn).toFixed(0)} ms from the return from the provider)`,
  );

  // prompt=none without a provider session: a tab marked signed in, in a
  // browser with no provider cookie, lands on the signed-out page once.
  const fresh = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const restoring = await fresh.newPage();
  current = restoring;
  restoring.setDefaultTimeout(TIMEOUT);
  const freshProvider = watchProvider(restoring, base);
  await restoring.goto(`${base}/config.json`);
  await restoring.evaluate((key) => sessionStorage.setItem(key, "1"), MARKER);
  await restoring.goto(`${base}/`);
  await restoring.getByRole("button", { name: "Sign in" }).waitFor();
  await restoring.waitForLoadState("networkidle");
  check(freshProvider.authorize.join() === "none", `prompt=none without a session asked: ${freshProvider.authorize}`);
  check(restoring.url() === `${base}/`, `the address still carries the answer: ${restoring.url()}`);
  check(await restoring.evaluate((key) => sessionStorage.getItem(key), MARKER) === null, "the marker outlived a failed restore");
  check(!(await restoring.getByRole("alert").isVisible()), "a quiet sign-out shows an error");
  await restoring.reload();
  await restoring.getByRole("button", { name: "Sign in" }).waitFor();
  await restoring.waitForLoadState("networkidle");
  check(freshProvider.authorize.length === 1, `the restore was tried again: ${freshProvider.authorize}`);
  await shot(restoring, "restore-refused-desktop-light");
  await fresh.close();

  // 20-second tokens: a minute of saving works on renewed tokens, with no
  // sign-in and no refused request.
  const short = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const renewing = await short.newPage();
  current = renewing;
  renewing.setDefaultTimeout(TIMEOUT);
  const shortProvider = watchProvider(renewing, shortBase);
  await renewing.goto(`${shortBase}/`);
  await renewing.getByRole("button", { name: "Sign in" }).click();
  await renewing.getByLabel("User name").fill("web_dora");
  await renewing.getByRole("button", { name: "Sign in", exact: true }).click();
  await renewing.getByText("Signed in as web_dora").waitFor();
  check(
    shortProvider.grants[0]?.grant === "authorization_code" && (await shortProvider.grants[0].body).refresh_token,
    "the sign-in's token response has no refresh token",
  );
  const minute = performance.now();
  let saves = 0;
  while (performance.now() - minute < 60_000) {
    const text = `Still signed in, save ${++saves}.`;
    await save(renewing, text);
    await renewing.locator("#current-quote", { hasText: text }).waitFor();
    // A person saving every few seconds, not a load test.
    await renewing.waitForTimeout(2_000);
  }
  const renewals = shortProvider.grants.filter((g) => g.grant === "refresh_token");
  check(renewals.length >= 4 && renewals.every((g) => g.status === 200), `renewals in a minute of 20 s tokens: ${JSON.stringify(renewals.map((g) => g.status))}`);
  check(shortProvider.refused.length === 0, `the API refused tokens: ${shortProvider.refused}`);
  check(shortProvider.authorize.length === 1 && shortProvider.signInForms === 1, "the minute needed another sign-in");
  await renewing.reload();
  await renewing.locator("#current-quote", { hasText: `save ${saves}.` }).waitFor();
  console.log(`web app: 60 s on 20 s tokens: ${saves} saves, ${renewals.length} renewals, ${shortProvider.refused.length} tokens refused`);

  // Renewal refused: someone else presents the app's refresh token first,
  // so the app's own use of it is a reuse and the provider revokes the
  // sign-in. The next save says "sign in again"; the text typed meanwhile
  // is in the editor after signing in again.
  const renewed = await nextRenewal(renewing, shortBase, 200);
  const stolen = (await renewed.json()).refresh_token;
  const theft = await fetch(`${shortBase}/dev-idp/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: stolen, client_id: "quotes-web" }),
  });
  check(theft.status === 200, `presenting the app's refresh token answered ${theft.status}`);
  const theirs = (await theft.json()).refresh_token;
  const unsaved = "Written while the session was ending.";
  await renewing.getByLabel("Quote text").fill(unsaved);
  const reuse = await nextRenewal(renewing, shortBase, 400);
  check((await reuse.json()).error === "invalid_grant", "the reuse was not refused as invalid_grant");
  // The reuse revoked the whole sign-in, the other party's new token too.
  const revoked = await fetch(`${shortBase}/dev-idp/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: theirs, client_id: "quotes-web" }),
  });
  check(revoked.status === 400, `the sign-in was not revoked by the reuse: ${revoked.status}`);
  await renewing.getByRole("button", { name: "Save quote" }).click();
  await renewing.getByText("Sign in again").waitFor();
  check(await renewing.getByRole("button", { name: "Sign in" }).isVisible(), "no way to sign in again after a refused renewal");
  await shot(renewing, "renewal-refused-desktop-light");
  await renewing.getByRole("button", { name: "Sign in" }).click();
  await renewing.getByLabel("User name").fill("web_dora");
  await renewing.getByRole("button", { name: "Sign in", exact: true }).click();
  await renewing.getByText("Signed in as web_dora").waitFor();
  await renewing.locator("#current-quote").waitFor();
  check(await renewing.getByLabel("Quote text").inputValue() === unsaved, "the typed text was lost on signing in again");
  check((await renewing.locator("#current-quote").innerText()).includes(`save ${saves}.`), "the stored quote changed without a save");
  await renewing.getByRole("button", { name: "Save quote" }).click();
  await renewing.locator("#current-quote", { hasText: unsaved }).waitFor();
  check(await renewing.evaluate((key) => sessionStorage.getItem(key), DRAFT) === null, "the draft outlived its save");
  await short.close();

  check(pageErrors.length === 0, `page errors: ${pageErrors.join(" | ")}`);
  const unexpected = consoleErrors.filter((error) => !expectedFailure(error));
  check(unexpected.length === 0, `unexpected console errors: ${describeErrors(unexpected)}`);
  console.log(`web app: ${consoleErrors.length} console errors, each a failure the scenario provokes: ${describeErrors(consoleErrors)}`);
  console.log(`web app: axe-core found 0 violations on ${axeScreens} screens`);
  console.log(`web app: ${checks} checks passed`);
} catch (error) {
  console.error(`web app: ${error.message}`);
  if (consoleErrors.length > 0) console.error(`web app: console errors: ${describeErrors(consoleErrors)}`);
  if (pageErrors.length > 0) console.error(`web app: page errors: ${pageErrors.join(" | ")}`);
  if (current) {
    const path = join(out, "web-app-failure.png");
    await current.screenshot({ path, fullPage: true }).catch(() => {});
    console.error(`web app: the page at the failure: ${path}`);
  }
  process.exitCode = 1;
} finally {
  stdin.close();
  await browser.close();
}
