// The web app end to end in headless Chromium, against the real API, its
// database and its development identity provider: sign in, empty state,
// save, reload, replace, a refused quote, delete, sign out, a second user
// who sees only their own quote, and the API going away and coming back.
// Screenshots at desktop and phone widths, light and dark. Last, the time
// from navigation to the saved quote on screen, over ten sign-ins.
//
// Tokens live in the page's memory only, so a reload signs in again (two
// clicks with the development provider); the quote is still there.
//
// The Clerk path runs too, against a stand-in of the part of clerk-js the
// app calls (load, mountSignIn, mountUserButton, addListener,
// session.getToken, signOut), served in place of Clerk's Frontend API; its
// session tokens are development tokens the API accepts.
//
// Environment: QUOTES_URL, CHROMIUM (executable), OUT (screenshot folder),
// QUOTES_CLERK_TOKEN (a token for the stand-in's user, clerk_carol).
// The outage is asked of the caller, which runs the API: the script writes
// `web app: control stop-api` (or `start-api`) and reads `ok` from stdin.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { launch } from "./chromium.mjs";

const { QUOTES_URL: base, CHROMIUM: executablePath, OUT: out, QUOTES_CLERK_TOKEN: clerkToken } = process.env;
const TIMEOUT = 15_000;

let checks = 0;
// The page under test, for a screenshot when a step fails.
let current = null;
const consoleErrors = [];
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
  await page.getByLabel("Your favourite quote").fill(text);
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

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function shot(page, name) {
  const path = join(out, `web-app-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`web app: screenshot ${path}`);
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
    signedOut: false,
  };
  const session = { getToken: async () => { standIn.tokenCalls++; return ${JSON.stringify(token)}; } };
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
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  current = page;
  page.setDefaultTimeout(TIMEOUT);
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });

  // Signed out: what this is, and the way in.
  await page.goto(`${base}/`);
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  check(await page.getByRole("heading", { name: "Keep your favourite quote" }).isVisible(), "no heading when signed out");
  await shot(page, "signed-out-desktop-light");

  // Sign in: two clicks and a name.
  await signIn(page, "web_alice");
  check(page.url() === `${base}/`, `the address still carries the code: ${page.url()}`);
  await page.locator("#empty-state").waitFor();
  check(await page.getByText("No quote yet").isVisible(), "no empty state");
  check(await page.getByText("0 / 1000").isVisible(), "no counter");

  // Save; the counter follows the text.
  const first = "Simplicity is prerequisite for reliability.";
  await page.getByLabel("Your favourite quote").fill(first);
  check(await page.getByText(`${first.length} / 1000`).isVisible(), "the counter does not follow the text");
  await page.getByRole("button", { name: "Save quote" }).click();
  await page.locator("#current-quote", { hasText: first }).waitFor();
  check(await page.getByRole("button", { name: "Delete quote" }).isVisible(), "no delete button with a quote");
  await shot(page, "saved-desktop-light");

  // Reload: tokens were in memory, so sign in again; the quote is kept.
  await page.reload();
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  await signIn(page, "web_alice");
  await page.locator("#current-quote", { hasText: first }).waitFor();
  checks++;

  // Replace, with Enter (Shift+Enter makes a new line first).
  const textarea = page.getByLabel("Your favourite quote");
  await textarea.fill("Make it work,");
  await textarea.press("Shift+Enter");
  await textarea.pressSequentially("make it right.");
  await textarea.press("Enter");
  await page.locator("#current-quote", { hasText: "make it right." }).waitFor();
  check((await page.locator("#current-quote").innerText()).includes("Make it work,\nmake it right."), "Shift+Enter did not keep the new line");

  // 1001 characters: refused, with the API's words in role=alert.
  await save(page, "x".repeat(1001));
  const alert = page.getByRole("alert");
  await alert.waitFor();
  const refused = await alert.innerText();
  check(/1000/.test(refused), `the refusal does not say the limit: ${refused}`);
  check(await page.getByText("1001 / 1000").isVisible(), "the counter does not show 1001");
  check((await page.locator("#current-quote").innerText()).includes("make it right."), "the refused quote replaced the stored one");
  await shot(page, "refused-desktop-light");

  // Phone width, dark.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: "dark" });
  await shot(page, "refused-phone-dark");
  await page.setViewportSize({ width: 1280, height: 900 });
  await shot(page, "refused-desktop-dark");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: "light" });
  await shot(page, "refused-phone-light");
  await page.setViewportSize({ width: 1280, height: 900 });

  // Delete, after confirming.
  await page.getByRole("button", { name: "Delete quote" }).click();
  await page.getByRole("button", { name: "Keep it" }).click();
  check(await page.locator("#current-quote").isVisible(), "keeping it deleted it");
  await page.getByRole("button", { name: "Delete quote" }).click();
  await page.getByRole("button", { name: "Yes, delete it" }).click();
  await page.locator("#empty-state").waitFor();
  check(!(await page.getByRole("button", { name: "Delete quote" }).isVisible()), "a delete button without a quote");

  // Leave a quote for the isolation check, then sign out.
  await save(page, "Alice's own words.");
  await page.locator("#current-quote", { hasText: "Alice's own words." }).waitFor();
  await signOut(page);
  check(!(await page.getByText("Signed in as").isVisible()), "still signed in after signing out");

  // A second user sees only their own quote.
  await signIn(page, "web_bob");
  await page.locator("#empty-state").waitFor();
  check(!(await page.getByText("Alice's own words.").isVisible()), "bob sees alice's quote");
  await save(page, "Bob's quote.");
  await page.locator("#current-quote", { hasText: "Bob's quote." }).waitFor();
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "signed-in-phone-light");
  await page.emulateMedia({ colorScheme: "dark" });
  await shot(page, "signed-in-phone-dark");
  await page.setViewportSize({ width: 1280, height: 900 });
  await shot(page, "signed-in-desktop-dark");
  await page.emulateMedia({ colorScheme: "light" });

  // The API goes away: a readable error, nothing lost; it comes back: saving works again.
  await control("stop-api");
  await save(page, "Saved after the outage.");
  const outage = await page.getByRole("alert").innerText();
  check(/could not be reached/.test(outage), `the outage reads: ${outage}`);
  check((await page.locator("#current-quote").innerText()).includes("Bob's quote."), "the outage hid the stored quote");
  await shot(page, "api-down-desktop-light");
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
  clerkPage.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(`clerk page: ${message.text()}`);
  });
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
  const timed = await timing.newPage();
  current = timed;
  timed.setDefaultTimeout(TIMEOUT);
  const fromReturn = [];
  const fromClick = [];
  for (let run = 0; run < 10; run++) {
    await timed.goto(`${base}/`);
    const clicked = performance.now();
    await timed.getByRole("button", { name: "Sign in" }).click();
    await timed.getByLabel("User name").fill("web_alice");
    await timed.getByRole("button", { name: "Sign in", exact: true }).click();
    await timed.locator("#current-quote", { hasText: "Alice's own words." }).waitFor();
    fromClick.push(performance.now() - clicked);
    fromReturn.push(await timed.evaluate(() => window.__quoteShownAt));
  }
  check(fromReturn.every((ms) => ms > 0), `a timing was not taken: ${fromReturn}`);
  await timing.close();
  console.log(
    `web app: navigation to the saved quote on screen, median of ${fromReturn.length}: ` +
      `${median(fromReturn).toFixed(0)} ms from the return from the provider, ` +
      `${median(fromClick).toFixed(0)} ms from the click on "Sign in"`,
  );

  check(consoleErrors.every((text) => /401|Failed to load resource/.test(text)), `console errors: ${consoleErrors.join(" | ")}`);
  console.log(`web app: ${checks} checks passed`);
} catch (error) {
  console.error(`web app: ${error.message}`);
  if (consoleErrors.length > 0) console.error(`web app: console errors: ${consoleErrors.join(" | ")}`);
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
