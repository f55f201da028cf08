// A relying party built only on openid-client (v6), driven by pytest over
// stdin/stdout, one JSON object per line.
//
//   argv[2]   JSON: {issuer, client_id, client_secret|null, redirect_uri,
//                    post_logout_redirect_uri|null, scope}
//   stdout    {"step": "authorize", "url", "state", "nonce"}
//   stdin     {"callback": "<redirect_uri>?code=…&state=…&iss=…"}
//   stdout    {"step": "tokens", …}, {"step": "userinfo", …}, {"step": "refresh", …},
//             {"step": "replay", …}, {"step": "logout", "url"}
//   on error  {"step": "error", "where", "name", "message", "code", "error", "error_description"}
//             and exit status 1.
//
// Every protocol check is the library's own: discovery issuer match, state,
// RFC 9207 `iss`, PKCE, ID token signature/iss/aud/nonce/exp, userinfo `sub`.

import * as readline from 'node:readline';
import * as client from 'openid-client';

const settings = JSON.parse(process.argv[2]);
const lines = readline.createInterface({ input: process.stdin, terminal: false })[Symbol.asyncIterator]();
let where = 'start';

function say(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function ask() {
  const { value, done } = await lines.next();
  if (done) throw new Error('stdin closed while waiting for the callback URL');
  return JSON.parse(value);
}

function describe(err) {
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

async function main() {
  const insecure = new URL(settings.issuer).protocol === 'http:';
  const auth = settings.client_secret
    ? client.ClientSecretBasic(settings.client_secret)
    : client.None();

  where = 'discovery';
  const config = await client.discovery(
    new URL(settings.issuer),
    settings.client_id,
    settings.client_secret ? { client_secret: settings.client_secret } : {},
    auth,
    insecure ? { execute: [client.allowInsecureRequests] } : undefined,
  );
  const meta = config.serverMetadata();

  where = 'authorize';
  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: settings.redirect_uri,
    scope: settings.scope,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  say({ step: 'authorize', url: url.href, state, nonce, issuer: meta.issuer,
        iss_parameter_supported: meta.authorization_response_iss_parameter_supported === true });

  const { callback } = await ask();

  where = 'authorizationCodeGrant';
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  say({
    step: 'tokens',
    token_type: tokens.token_type,
    expires_in: tokens.expiresIn(),
    scope: tokens.scope,
    access_token: tokens.access_token,
    id_token: tokens.id_token,
    has_refresh_token: typeof tokens.refresh_token === 'string',
    claims,
  });

  where = 'fetchUserInfo';
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  say({ step: 'userinfo', userinfo });

  where = 'refreshTokenGrant';
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const refreshedInfo = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
  say({
    step: 'refresh',
    token_type: refreshed.token_type,
    access_token: refreshed.access_token,
    rotated: typeof refreshed.refresh_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
    access_token_changed: refreshed.access_token !== tokens.access_token,
    userinfo_sub: refreshedInfo.sub,
  });

  // Spending the old refresh token again must fail (RFC 9700 §4.14.2).
  where = 'replay';
  let replay;
  try {
    await client.refreshTokenGrant(config, tokens.refresh_token);
    replay = { refused: false };
  } catch (err) {
    replay = { refused: true, ...describe(err), step: undefined };
  }
  say({ step: 'replay', ...replay, step: 'replay' });

  where = 'buildEndSessionUrl';
  const params = { id_token_hint: tokens.id_token, state: client.randomState() };
  if (settings.post_logout_redirect_uri) {
    params.post_logout_redirect_uri = settings.post_logout_redirect_uri;
  }
  const logout = client.buildEndSessionUrl(config, params);
  say({ step: 'logout', url: logout.href, state: params.state });
}

main().then(
  () => process.exit(0),
  (err) => {
    say(describe(err));
    process.exit(1);
  },
);
