// A company's identity provider for the corporate-SSO tests: node-oidc-provider (v9, from
// the npm registry) with its own development sign-in pages, which accept any login.
//
//   argv[2]   JSON: {port, client_id, client_secret, redirect_uri} and, for a client that
//             authenticates by private_key_jwt (RFC 7523) instead of its secret,
//             token_endpoint_auth_method: "private_key_jwt" with jwks_uri (CodeB's
//             /signin/oidc/jwks) or jwks (a key set given inline) and no client_secret
//   stdout    {"ready": true, "issuer", "version"} once it listens on 127.0.0.1:<port>
//   stdin     closed by the test to stop it (./serve-op.mjs)
//
// The account with login L has the email L@corp.example, verified unless L starts with
// "unverified", and the name "L of Corp". Claims follow the scopes (openid email profile);
// as the library conforms ID tokens to the spec by default, email and name reach CodeB
// through the userinfo endpoint, not the ID token.

import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';

import { serve } from './serve-op.mjs';

const settings = JSON.parse(process.argv[2]);

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'corp-1', use: 'sig', alg: 'RS256' };
}

const issuer = `http://127.0.0.1:${settings.port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: settings.client_id,
    ...(settings.client_secret ? { client_secret: settings.client_secret } : {}),
    redirect_uris: [settings.redirect_uri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: settings.token_endpoint_auth_method ?? 'client_secret_basic',
    ...(settings.jwks_uri ? { jwks_uri: settings.jwks_uri } : {}),
    ...(settings.jwks ? { jwks: settings.jwks } : {}),
  }],
  jwks: { keys: [signingKey()] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  scopes: ['openid', 'email', 'profile'],
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@corp.example`, email_verified: !id.startsWith('unverified'),
                 name: `${id} of Corp` };
      },
    };
  },
  features: { devInteractions: { enabled: true } },
  // The library guards its own requests (here: a client's jwks_uri) against special-use
  // addresses such as loopback, where CodeB runs in the tests: only this peer goes without.
  fetch: (url, { dispatcher, ...options }) => globalThis.fetch(url, options),
});

serve(provider, settings.port, issuer);
