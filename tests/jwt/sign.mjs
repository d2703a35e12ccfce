// Test-time JWT signer for tests/security/test_jwt.c: tokens made by an implementation
// independent of Bulwark's (jose), so the verifier is checked against what real issuers send.
//
// Reads one job (a JSON object) or a list of jobs (a JSON array) from stdin and prints one
// result per job, as a JSON array when given an array:
//   {"op": "keygen", "alg": "EdDSA"|"ES256"|"RS256"}
//       -> {"privateJwk": {...}, "publicJwk": {...}}
//   {"op": "sign", "alg": ..., "privateJwk": {...}, "header": {...}, "payload": {...}}
//       -> {"token": "<compact JWS>"}   (the header gets "alg"; "op" defaults to "sign")
//   {"op": "hs256", "secret": "<text>", "header": {...}, "payload": {...}}
//       -> {"token": ...}  HMAC-SHA256 made by hand (jose would not sign with a public key):
//          the algorithm-confusion attack, with a public key as the secret.
// Exits 2 with a message on stderr when jose is missing (run `npm ci --prefix tests/jwt`).
import { createHmac } from "node:crypto";

let jose;
try {
  jose = await import("jose");
} catch {
  process.stderr.write("sign.mjs: jose is missing: run `npm ci --prefix tests/jwt`\n");
  process.exit(2);
}

const b64url = (buf) => Buffer.from(buf).toString("base64url");

async function run(job) {
  const op = job.op ?? "sign";
  if (op === "keygen") {
    const { privateKey, publicKey } = await jose.generateKeyPair(job.alg, { extractable: true });
    return {
      privateJwk: await jose.exportJWK(privateKey),
      publicJwk: await jose.exportJWK(publicKey),
    };
  }
  if (op === "sign") {
    const key = await jose.importJWK(job.privateJwk, job.alg);
    const body = new TextEncoder().encode(JSON.stringify(job.payload));
    const token = await new jose.CompactSign(body)
      .setProtectedHeader({ ...job.header, alg: job.alg })
      .sign(key);
    return { token };
  }
  if (op === "hs256") {
    const input = `${b64url(JSON.stringify({ ...job.header, alg: "HS256" }))}.${b64url(
      JSON.stringify(job.payload),
    )}`;
    const mac = createHmac("sha256", job.secret).update(input).digest();
    return { token: `${input}.${b64url(mac)}` };
  }
  throw new Error(`unknown op ${op}`);
}

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const out = Array.isArray(input) ? await Promise.all(input.map(run)) : await run(input);
process.stdout.write(`${JSON.stringify(out)}\n`);
