// Shared harness for the official @kinde/management-api-js flows run by tests/test_sdk_js.py.
//
// The SDK is configured exactly as its README says: init() with no arguments reads
// KINDE_DOMAIN, KINDE_MANAGEMENT_CLIENT_ID and KINDE_MANAGEMENT_CLIENT_SECRET from the
// environment (a domain without a scheme gets https:// prepended). Node trusts Kindling's
// local CA through NODE_EXTRA_CA_CERTS.
//
// The SDK sends every request (token and API) through the global fetch, so wrapping it
// records each request's method, path and status without touching the SDK. A flow is a
// list of named steps; each step records its value (or the ApiError it threw) and the
// statuses of the API requests it made. The script prints one JSON document on stdout:
//
//   {flow, inputs, steps: [{name, ok, value?, error?, requests: [{method, path, status}]}],
//    completed, token_requests, validate_token, token_claims, fatal}
//
// and always exits 0 once the document is written; tests/test_sdk_js.py asserts on it.

import { init, getToken, validateToken, jwtDecode } from "@kinde/management-api-js";

const TOKEN_PATH = "/oauth2/token";

class StepFailed extends Error {}

function describe(error) {
  if (error && typeof error === "object" && "status" in error) {
    // ApiError {url, status, statusText, body}
    return {
      kind: error.name ?? "ApiError",
      status: error.status,
      message: String(error.message ?? ""),
      body: error.body ?? null,
    };
  }
  return { kind: error?.name ?? typeof error, message: String(error?.message ?? error) };
}

function instrument() {
  const log = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input, options) => {
    const href = typeof input === "string" ? input : (input.url ?? String(input));
    const url = new URL(href);
    const entry = {
      method: (options?.method ?? input?.method ?? "GET").toUpperCase(),
      path: url.pathname,
      query: url.search,
      status: null,
    };
    log.push(entry);
    const response = await realFetch(input, options);
    entry.status = response.status;
    return response;
  };
  return log;
}

export function unique(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Page through a next_token listing until `match` finds an item (at most `limit` pages). */
export async function findInPages(fetchPage, key, match, limit = 50) {
  let nextToken;
  for (let page = 0; page < limit; page++) {
    const body = await fetchPage(nextToken);
    const found = (body?.[key] ?? []).find(match);
    if (found) return found;
    nextToken = body?.next_token;
    if (!nextToken) return null;
  }
  return null;
}

/**
 * Run `flow(step, note)`; `step(name, fn)` awaits fn(), records its result and returns it;
 * `note(key, value)` records an input (names, emails) for the test to compare against.
 * A failing step ends the flow (later steps depend on earlier ones), except steps marked
 * `{expectError: true}`, which record the error as their value and carry on.
 */
export async function runFlow(name, flow) {
  const log = instrument();
  const out = {
    flow: name,
    inputs: {},
    steps: [],
    completed: false,
    token_requests: 0,
    validate_token: null,
    token_claims: null,
    fatal: null,
  };
  const step = async (stepName, fn, { expectError = false } = {}) => {
    const before = log.length;
    const record = { name: stepName, ok: false, requests: [] };
    out.steps.push(record);
    try {
      const value = await fn();
      record.ok = !expectError;
      record.value = value ?? null;
      if (expectError) record.error = { kind: "NoError", message: "expected an ApiError" };
      return value;
    } catch (error) {
      if (expectError) {
        record.ok = true;
        record.value = describe(error);
        return record.value;
      }
      record.error = describe(error);
      throw new StepFailed(stepName);
    } finally {
      record.requests = log
        .slice(before)
        .filter((r) => r.path !== TOKEN_PATH)
        .map(({ method, path, status }) => ({ method, path, status }));
    }
  };
  try {
    init();
    await flow(step, (key, value) => {
      out.inputs[key] = value;
    });
    out.completed = true;
  } catch (error) {
    if (!(error instanceof StepFailed)) out.fatal = describe(error);
  }
  try {
    // getToken() reuses the cached token when its audience and expiry are fine, so this
    // makes no extra token request after a successful flow.
    const token = await getToken();
    out.token_requests = log.filter((r) => r.path === TOKEN_PATH).length;
    if (token) {
      const claims = jwtDecode(token);
      out.token_claims = claims
        ? { aud: claims.aud, iss: claims.iss, azp: claims.azp, gty: claims.gty }
        : null;
      out.validate_token = await validateToken(token);
    }
  } catch (error) {
    out.fatal = out.fatal ?? describe(error);
  }
  out.token_requests = log.filter((r) => r.path === TOKEN_PATH).length;
  process.stdout.write(JSON.stringify(out) + "\n");
}
