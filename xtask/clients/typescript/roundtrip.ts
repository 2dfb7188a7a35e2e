// A client nobody here wrote: types generated from openapi.yaml by
// openapi-typescript, calls made by openapi-fetch, compiled with
// `tsc --strict`. Run by `cargo xtask test` against the live API:
//
//   node dist/roundtrip.js up     create, replace, read, refuse, delete, 405,
//                                 and a read-only token refused a write
//   node dist/roundtrip.js down   the database is gone: 503 with Retry-After
//
// Environment: QUOTES_URL, QUOTES_TOKEN, QUOTES_READ_TOKEN (the same user,
// `quotes:read` only). Prints `typescript client: N checks
// passed`, or the first failure and exits 1.

import createClient from "openapi-fetch";
import type { components, paths } from "./generated/quotes.js";

type Problem = components["schemas"]["Problem"];
type ProblemType = Problem["type"];

const base = process.env.QUOTES_URL;
const token = process.env.QUOTES_TOKEN;
const readToken = process.env.QUOTES_READ_TOKEN;
if (!base || !token || !readToken) {
  throw new Error("QUOTES_URL, QUOTES_TOKEN and QUOTES_READ_TOKEN are required");
}

const client = createClient<paths>({
  baseUrl: base,
  headers: { Authorization: `Bearer ${token}`, "X-Request-Id": "typescript-roundtrip" },
});

// The same user, with `quotes:read` only.
const reader = createClient<paths>({ baseUrl: base, headers: { Authorization: `Bearer ${readToken}` } });

let checks = 0;
function check(ok: boolean, what: string): void {
  if (!ok) {
    console.error(`typescript client: ${what}`);
    process.exit(1);
  }
  checks++;
}

/** A problem's type, as the generated types name it. */
function problemType(problem: Problem | undefined): ProblemType | undefined {
  return problem?.type;
}

async function up(): Promise<void> {
  await client.DELETE("/me/quote");

  const created = await client.PUT("/me/quote", { body: { quote: "  Typed from the description.  " } });
  check(created.response.status === 201, `create answered ${created.response.status}`);
  check(created.data?.quote === "Typed from the description.", "the stored quote is trimmed");
  check(created.response.headers.get("x-request-id") === "typescript-roundtrip", "the request id is echoed");

  const replaced = await client.PUT("/me/quote", { body: { quote: "Replaced, typed." } });
  check(replaced.response.status === 200, `replace answered ${replaced.response.status}`);
  check(replaced.data?.created_at === created.data?.created_at, "created_at survives a replacement");

  const read = await client.GET("/me/quote");
  check(read.data?.quote === "Replaced, typed.", `read ${JSON.stringify(read.data)}`);

  const refused = await client.PUT("/me/quote", { body: { quote: "x".repeat(1001) } });
  check(refused.response.status === 422, `1001 characters answered ${refused.response.status}`);
  const invalid: ProblemType = "urn:quotes:problem:invalid-quote";
  check(problemType(refused.error) === invalid, `problem type ${problemType(refused.error)}`);

  // POST is no method of /me/quote: the generated client has none, so the
  // call goes through its untyped escape hatch.
  const posted = await fetch(`${base}/me/quote`, { method: "POST", headers: { Authorization: `Bearer ${token}` } });
  check(posted.status === 405, `POST answered ${posted.status}`);
  check(posted.headers.get("allow") === "GET, HEAD, PUT, DELETE", `Allow: ${posted.headers.get("allow")}`);
  const notAllowed = (await posted.json()) as Problem;
  check(notAllowed.type === "about:blank" && notAllowed.status === 405, JSON.stringify(notAllowed));

  // A token with `quotes:read` only reads, and is told what it lacks.
  const readBack = await reader.GET("/me/quote");
  check(readBack.response.status === 200, `the read-only token read ${readBack.response.status}`);
  const forbidden = await reader.PUT("/me/quote", { body: { quote: "Not mine to write." } });
  check(forbidden.response.status === 403, `the read-only token's write answered ${forbidden.response.status}`);
  const insufficient: ProblemType = "urn:quotes:problem:insufficient-scope";
  check(problemType(forbidden.error) === insufficient, `problem type ${problemType(forbidden.error)}`);
  check(
    JSON.stringify(forbidden.error?.missing_scopes) === JSON.stringify(["quotes:write"]),
    `missing scopes ${JSON.stringify(forbidden.error?.missing_scopes)}`,
  );
  const challenge = forbidden.response.headers.get("www-authenticate") ?? "";
  check(challenge.includes('error="insufficient_scope", scope="quotes:write"'), `challenge ${challenge}`);

  const deleted = await client.DELETE("/me/quote");
  check(deleted.response.status === 204, `delete answered ${deleted.response.status}`);
  const gone = await client.GET("/me/quote");
  check(gone.response.status === 404, `read after delete answered ${gone.response.status}`);
  const notFound: ProblemType = "urn:quotes:problem:quote-not-found";
  check(problemType(gone.error) === notFound, `problem type ${problemType(gone.error)}`);
}

async function down(): Promise<void> {
  const unavailable = await client.GET("/me/quote");
  check(unavailable.response.status === 503, `with the database gone, read answered ${unavailable.response.status}`);
  const retryAfter = Number(unavailable.response.headers.get("retry-after"));
  check(Number.isInteger(retryAfter) && retryAfter > 0, `Retry-After: ${unavailable.response.headers.get("retry-after")}`);
  const unavailableType: ProblemType = "urn:quotes:problem:unavailable";
  check(problemType(unavailable.error) === unavailableType, `problem type ${problemType(unavailable.error)}`);
}

const phase = process.argv[2];
if (phase === "up") await up();
else if (phase === "down") await down();
else throw new Error(`unknown phase ${phase}; expected up or down`);
console.log(`typescript client: ${checks} checks passed`);
