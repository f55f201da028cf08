// A relying party built only on openid-client (v6) that pushes its authorization
// request (RFC 9126, `buildAuthorizationUrlWithPAR`), driven by pytest over
// stdin/stdout, one JSON object per line (as rp.mjs, which does the plain request).
//
//   argv[2]   JSON: {issuer, client_id, client_secret|null, private_jwk|null,
//                    dpop: bool, redirect_uri, scope}
//             client_secret: ClientSecretBasic; private_jwk (an EC P-256 private JWK
//             with its kid): PrivateKeyJwt; neither: None() (a public client).
//             dpop: the library's DPoP handle (a fresh ES256 key) on every request,
//             as FAPI 2.0 asks; it answers the server's `use_dpop_nonce` itself.
//   after userinfo: {"step": "refresh", …} (with the same DPoP key), and for DPoP
//             {"step": "bearer_replay", "refused"}: the bound token sent as Bearer.
//   stdout    {"step": "authorize", "url", "state", "nonce", "par_endpoint", …}
//   stdin     {"callback": "<redirect_uri>?code=…&state=…&iss=…"}
//   stdout    {"step": "tokens", …}, {"step": "userinfo", …}
//   on error  {"step": "error", "where", "name", "message", "code", "error", "error_description"}
//             and exit status 1.
//
// Every protocol check is the library's own: discovery issuer match, the PAR
// response (201, request_uri, expires_in), state, RFC 9207 `iss`, PKCE, the ID
// token's signature/iss/aud/nonce/exp, userinfo `sub`.

import * as client from 'openid-client';

import { at, authorizationRequest, discover, run, say, settings, tokensFromCallback } from './rp-common.mjs';

async function authentication() {
  if (settings.client_secret) return client.ClientSecretBasic(settings.client_secret);
  if (settings.private_jwk) {
    const { kid, ...jwk } = settings.private_jwk;
    const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    return client.PrivateKeyJwt({ key, kid });
  }
  return client.None();
}

async function main() {
  const config = await discover(await authentication());
  const meta = config.serverMetadata();
  const options = settings.dpop
    ? { DPoP: client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256')) }
    : undefined;

  at('buildAuthorizationUrlWithPAR');
  const request = await authorizationRequest();
  const { state, nonce, params } = request;
  const url = await client.buildAuthorizationUrlWithPAR(config, params, options);
  say({ step: 'authorize', url: url.href, state, nonce,
        par_endpoint: meta.pushed_authorization_request_endpoint,
        require_par: meta.require_pushed_authorization_requests });

  const tokens = await tokensFromCallback(config, request, options);
  const claims = tokens.claims();
  say({
    step: 'tokens',
    token_type: tokens.token_type,
    access_token: tokens.access_token,
    has_refresh_token: typeof tokens.refresh_token === 'string',
    claims,
  });

  at('fetchUserInfo');
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub, options);
  say({ step: 'userinfo', userinfo });

  // The refresh, with the same DPoP key where there is one (a public client's chain is bound to it).
  at('refreshTokenGrant');
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, options);
  const refreshedInfo = await client.fetchUserInfo(config, refreshed.access_token, claims.sub, options);
  say({
    step: 'refresh',
    token_type: refreshed.token_type,
    rotated: typeof refreshed.refresh_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
    userinfo_sub: refreshedInfo.sub,
  });

  // A DPoP-bound token sent as a plain bearer token must be refused (RFC 9449 §7.2).
  if (settings.dpop) {
    at('bearerReplay');
    let refused;
    try {
      await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
      refused = false;
    } catch (err) {
      refused = { status: err?.status ?? err?.cause?.status, name: err?.name, code: err?.code };
    }
    say({ step: 'bearer_replay', refused });
  }
}

run(main);
