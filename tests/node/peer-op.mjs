// The benchmark's peer: node-oidc-provider (v9, from the npm registry) configured as
// CodeB is, for `make bench`'s side-by-side (bench/side_by_side.py).
//
//   argv[2]   JSON: {port, client_id, client_secret, redirect_uri}
//   stdout    {"ready": true, "issuer", "version"} once it listens on 127.0.0.1:<port>
//   stdin     {"codes": N}  ->  stdout {"codes": [[code, verifier], ...]}
//
// Configuration: RS256 (one 2048-bit key), one confidential client authenticating
// with client_secret_basic, refresh tokens rotated on every use, opaque access
// tokens, and an in-memory adapter (a Map: the library's own memory adapter is an
// LRU of 1,000 entries, which a load of a few thousand requests would evict from).
//
// Authorization codes are seeded through the provider's own models, in process: a
// Grant (openid profile offline_access) and an AuthorizationCode bound to it with a
// PKCE S256 challenge, exactly what the authorization endpoint saves after a sign-in
// and consent. The token endpoint then does all of its own work for each of them.
// Refresh tokens and access tokens come from exchanging codes over HTTP.

import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

import { say, serve } from './serve-op.mjs';

const settings = JSON.parse(process.argv[2]);
const ACCOUNT = 'bench-account';
const SCOPE = 'openid profile offline_access';

const records = new Map(); // `${model}:${id}` -> {payload, expiresAt}
const grants = new Map(); // grantId -> Set of keys

class MapAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    records.set(key, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
    if (payload.grantId) {
      if (!grants.has(payload.grantId)) grants.set(payload.grantId, new Set());
      grants.get(payload.grantId).add(key);
    }
  }

  async find(id) {
    const key = this.key(id);
    const found = records.get(key);
    if (!found) return undefined;
    if (found.expiresAt !== undefined && found.expiresAt < Date.now()) {
      records.delete(key);
      return undefined;
    }
    return found.payload;
  }

  async findByUserCode() {
    return undefined; // no device flow
  }

  async findByUid(uid) {
    for (const [key, { payload }] of records) {
      if (key.startsWith(`${this.model}:`) && payload.uid === uid) return payload;
    }
    return undefined;
  }

  async consume(id) {
    const found = records.get(this.key(id));
    if (found) found.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    records.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of grants.get(grantId) ?? []) records.delete(key);
    grants.delete(grantId);
  }
}

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'bench', use: 'sig', alg: 'RS256' };
}

const issuer = `http://localhost:${settings.port}`;
const provider = new Provider(issuer, {
  adapter: MapAdapter,
  clients: [{
    client_id: settings.client_id,
    client_secret: settings.client_secret,
    redirect_uris: [settings.redirect_uri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  }],
  jwks: { keys: [signingKey()] },
  enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
  scopes: ['openid', 'profile', 'offline_access'],
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: 'bench', preferred_username: 'bench' };
      },
    };
  },
  rotateRefreshToken: true,
  ttl: { AuthorizationCode: 600, AccessToken: 3600, IdToken: 3600, RefreshToken: 30 * 86400, Grant: 30 * 86400 },
  features: { devInteractions: { enabled: false } },
});

function pkce() {
  const verifier = randomBytes(36).toString('base64url');
  return [verifier, createHash('sha256').update(verifier).digest('base64url')];
}

async function seedCodes(n) {
  const client = await provider.Client.find(settings.client_id);
  const now = Math.floor(Date.now() / 1000);
  const codes = [];
  for (let i = 0; i < n; i += 1) {
    const grant = new provider.Grant({ accountId: ACCOUNT, clientId: client.clientId });
    grant.addOIDCScope(SCOPE);
    const grantId = await grant.save();
    const [verifier, challenge] = pkce();
    const code = new provider.AuthorizationCode({
      accountId: ACCOUNT,
      client,
      grantId,
      redirectUri: settings.redirect_uri,
      scope: SCOPE,
      nonce: 'n',
      authTime: now,
      amr: ['otp'],
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
    });
    codes.push([await code.save(), verifier]);
  }
  return codes;
}

serve(provider, settings.port, issuer, async (line) => {
  const ask = JSON.parse(line);
  say({ codes: await seedCodes(ask.codes) });
});
