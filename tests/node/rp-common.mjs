// What the two openid-client relying parties (rp.mjs, rp-par.mjs) share: their settings
// from argv[2], the JSON-lines talk with pytest over stdin/stdout, discovery, the
// authorization request's PKCE/state/nonce, and how a failure is reported.

import * as readline from 'node:readline';
import * as client from 'openid-client';

export const settings = JSON.parse(process.argv[2]);
const lines = readline.createInterface({ input: process.stdin, terminal: false })[Symbol.asyncIterator]();
let where = 'start';

// Names the step a failure is reported under.
export function at(step) {
  where = step;
}

export function say(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

export async function ask() {
  const { value, done } = await lines.next();
  if (done) throw new Error('stdin closed while waiting for the callback URL');
  return JSON.parse(value);
}

export function describe(err) {
  return {
    step: 'error',
    where,
    name: err?.name,
    message: err?.message,
    code: err?.code,
    error: err?.error,
    error_description: err?.error_description,
    status: err?.status,
    cause: err?.cause === undefined ? undefined : String(err.cause?.message ?? err.cause),
  };
}

// The library's discovery (it checks the issuer), http allowed only for a test server's http issuer.
export async function discover(auth) {
  at('discovery');
  const insecure = new URL(settings.issuer).protocol === 'http:';
  return client.discovery(
    new URL(settings.issuer),
    settings.client_id,
    settings.client_secret ? { client_secret: settings.client_secret } : {},
    auth,
    insecure ? { execute: [client.allowInsecureRequests] } : undefined,
  );
}

// A fresh PKCE verifier, state and nonce, and the authorization request's parameters.
export async function authorizationRequest() {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const params = {
    redirect_uri: settings.redirect_uri,
    scope: settings.scope,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  };
  return { codeVerifier, state, nonce, params };
}

// Waits for the callback URL pytest sends, then exchanges its code with the library's own checks
// (state, RFC 9207 `iss`, PKCE, the ID token with its nonce); `options` carries a DPoP handle.
export async function tokensFromCallback(config, { codeVerifier, state, nonce }, options) {
  const { callback } = await ask();
  at('authorizationCodeGrant');
  return client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  }, undefined, options);
}

// Runs the relying party; a failure is one {"step": "error", …} line and exit status 1.
export function run(main) {
  main().then(
    () => process.exit(0),
    (err) => {
      say(describe(err));
      process.exit(1);
    },
  );
}
