// Verify webhook request bodies with Kinde's own decoder, @kinde/webhooks (run by
// tests/test_webhooks.py). Reads {"domain": "https://localhost:PORT", "tokens": [...]}
// on stdin; for each token calls decodeWebhook(token, domain), which fetches
// <domain>/.well-known/jwks.json (over TLS: Node trusts Kindling's local CA through
// NODE_EXTRA_CA_CERTS) and checks the signature, returning the payload or null.
// Prints one JSON document: {"results": [payload | null, ...]}.
import { decodeWebhook } from "@kinde/webhooks";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { domain, tokens } = JSON.parse(input);
const results = [];
for (const token of tokens) {
  results.push(await decodeWebhook(token, domain));
}
process.stdout.write(JSON.stringify({ results }) + "\n");
