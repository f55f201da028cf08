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

import * as client from 'openid-client';

import { at, authorizationRequest, describe, discover, run, say, settings, tokensFromCallback } from './rp-common.mjs';

async function main() {
  const config = await discover(settings.client_secret
    ? client.ClientSecretBasic(settings.client_secret)
    : client.None());
  const meta = config.serverMetadata();

  at('authorize');
  const request = await authorizationRequest();
  const { state, nonce } = request;
  const url = client.buildAuthorizationUrl(config, request.params);
  say({ step: 'authorize', url: url.href, state, nonce, issuer: meta.issuer,
        iss_parameter_supported: meta.authorization_response_iss_parameter_supported === true });

  const tokens = await tokensFromCallback(config, request);
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

  at('fetchUserInfo');
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  say({ step: 'userinfo', userinfo });

  at('refreshTokenGrant');
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
  at('replay');
  let replay;
  try {
    await client.refreshTokenGrant(config, tokens.refresh_token);
    replay = { refused: false };
  } catch (err) {
    replay = { refused: true, ...describe(err), step: undefined };
  }
  say({ step: 'replay', ...replay, step: 'replay' });

  at('buildEndSessionUrl');
  const params = { id_token_hint: tokens.id_token, state: client.randomState() };
  if (settings.post_logout_redirect_uri) {
    params.post_logout_redirect_uri = settings.post_logout_redirect_uri;
  }
  const logout = client.buildEndSessionUrl(config, params);
  say({ step: 'logout', url: logout.href, state: params.state });
}

run(main);
