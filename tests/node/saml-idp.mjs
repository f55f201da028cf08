// A company's SAML 2.0 identity provider for the tests of CodeB as a SAML service provider,
// built on samlify. Run as `node saml-idp.mjs '<json settings>'`:
//   {"port": 4000, "users": {"alice": {"email": ..., "name": ..., "groups": [...]}},
//    "sign": "assertion" | "response" | "both", "encrypt": false}
// It makes a fresh RSA-2048 key and self-signed certificate, serves plain http on 127.0.0.1:<port>
// with the entity id http://127.0.0.1:<port>/metadata, says so as a JSON line on stdout, and stops
// when stdin closes.
//   GET  /metadata      the IdP metadata (WantAuthnRequestsSigned, HTTP-Redirect SSO at /sso)
//   POST /sp            the SP metadata XML: registers that SP (replacing any earlier one), 204
//   GET  /sso           a signed HTTP-Redirect AuthnRequest: the sign-in page, or 400
//   POST /login         user + handle from that page: an HTTP-POST form carrying the SAMLResponse
//   POST /issue         JSON {user, in_response_to, acs, audience}: JSON {SAMLResponse}, no request
//   GET  /autosubmit.js submits that form in a browser

import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as xmllint from '@authenio/samlify-xmllint-wasm';
import samlify from 'samlify';
import { say } from './serve-op.mjs';

const { Constants, IdentityProvider, SamlLib, ServiceProvider } = samlify;
samlify.setSchemaValidator({ validate: xmllint.validate });

const version = JSON.parse(readFileSync(new URL('./node_modules/samlify/package.json', import.meta.url)))
  .version;

const settings = JSON.parse(process.argv[2]);
const { port, users } = settings;
const sign = settings.sign ?? 'assertion';
if (!['assertion', 'response', 'both'].includes(sign)) throw new Error(`unknown "sign": ${sign}`);
if (settings.encrypt) throw new Error('"encrypt": true is not supported');

const base = `http://127.0.0.1:${port}`;
const entityId = `${base}/metadata`;
const POST = Constants.namespace.binding.post;
const EMAIL = Constants.namespace.format.emailAddress;
const UNSPECIFIED = 'urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified'; // plain names (email, groups), not URIs
const PASSWORD = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';

function makeKeyAndCertificate() {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const dir = mkdtempSync(join(tmpdir(), 'saml-idp-'));
  try {
    writeFileSync(join(dir, 'key.pem'), privateKey, { mode: 0o600 });
    const certificate = execFileSync('openssl', [
      'req', '-x509', '-key', join(dir, 'key.pem'), '-subj', '/CN=127.0.0.1 SAML IdP', '-days', '2', '-sha256',
    ]).toString();
    return { privateKey, certificate };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// samlify's default response has no AuthnStatement nor AttributeStatement: this one has both.
// {Attributes} is filled in by respond() with the user's attributes, multi-valued ones too.
const RESPONSE_TEMPLATE = [
  '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"',
  ' ID="{ID}" Version="2.0" IssueInstant="{IssueInstant}" Destination="{Destination}" InResponseTo="{InResponseTo}">',
  '<saml:Issuer>{Issuer}</saml:Issuer>',
  `<samlp:Status><samlp:StatusCode Value="${Constants.StatusCode.Success}"/></samlp:Status>`,
  '<saml:Assertion xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
  ' ID="{AssertionID}" Version="2.0" IssueInstant="{IssueInstant}">',
  '<saml:Issuer>{Issuer}</saml:Issuer>',
  `<saml:Subject><saml:NameID Format="${EMAIL}">{NameID}</saml:NameID>`,
  '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">',
  '<saml:SubjectConfirmationData NotOnOrAfter="{NotOnOrAfter}" Recipient="{Destination}" InResponseTo="{InResponseTo}"/>',
  '</saml:SubjectConfirmation></saml:Subject>',
  '<saml:Conditions NotBefore="{NotBefore}" NotOnOrAfter="{NotOnOrAfter}">',
  '<saml:AudienceRestriction><saml:Audience>{Audience}</saml:Audience></saml:AudienceRestriction>',
  '</saml:Conditions>',
  '<saml:AuthnStatement AuthnInstant="{IssueInstant}" SessionIndex="{SessionIndex}">',
  `<saml:AuthnContext><saml:AuthnContextClassRef>${PASSWORD}</saml:AuthnContextClassRef></saml:AuthnContext>`,
  '</saml:AuthnStatement>',
  '<saml:AttributeStatement>{Attributes}</saml:AttributeStatement>',
  '</saml:Assertion></samlp:Response>',
].join('');

const { privateKey, certificate } = makeKeyAndCertificate();
const idp = IdentityProvider({
  entityID: entityId,
  privateKey,
  signingCert: certificate,
  wantAuthnRequestsSigned: true,
  nameIDFormat: [EMAIL],
  singleSignOnService: [{ Binding: Constants.namespace.binding.redirect, Location: `${base}/sso` }],
  requestSignatureAlgorithm: Constants.algorithms.signature.RSA_SHA256, // samlify signs responses with it too
  // samlify wants an attribute list with a custom template; ours fills its attributes itself.
  loginResponseTemplate: { context: RESPONSE_TEMPLATE, attributes: [] },
});

let sp = null; // the registered service provider, from its metadata
const pending = new Map(); // handle -> { sp, requestInfo } for each AuthnRequest shown a sign-in page

// samlify signs the assertion when the SP wants it signed, and the whole response when the SP
// wants the message signed (or not the assertion): the response is built for this view of the SP,
// which says only where it goes and what the "sign" setting asks for.
function recipient(audience, acs) {
  return ServiceProvider({
    entityID: audience,
    assertionConsumerService: [{ Binding: POST, Location: acs }],
    wantAssertionsSigned: sign !== 'response',
    wantMessageSigned: sign !== 'assertion',
  });
}

function attribute(name, values) {
  const xml = values.map((value) =>
    SamlLib.replaceTagsByValue('<saml:AttributeValue xsi:type="xs:string">{Value}</saml:AttributeValue>', { Value: value }),
  );
  return `<saml:Attribute Name="${name}" NameFormat="${UNSPECIFIED}">${xml.join('')}</saml:Attribute>`;
}

// The base64 SAMLResponse for one user, in response to the parsed request (or to none).
async function respond(user, requestInfo, acs, audience) {
  const now = Date.now();
  const at = (ms) => new Date(now + ms).toISOString();
  const fill = (template) => {
    const xml = SamlLib.replaceTagsByValue(template, {
      ID: idp.entitySetting.generateID(),
      AssertionID: idp.entitySetting.generateID(),
      SessionIndex: idp.entitySetting.generateID(),
      IssueInstant: at(0),
      NotBefore: at(-60_000),
      NotOnOrAfter: at(5 * 60_000),
      Destination: acs,
      Audience: audience,
      InResponseTo: requestInfo?.extract.request.id ?? null, // null drops the attribute
      Issuer: entityId,
      NameID: user.email,
    });
    const attributes = [
      attribute('email', [user.email]),
      attribute('displayName', [user.name]),
      attribute('groups', user.groups ?? []),
    ];
    return { context: xml.replace('{Attributes}', () => attributes.join('')) };
  };
  const { context } = await idp.createLoginResponse(recipient(audience, acs), requestInfo, 'post', user, fill);
  return context;
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escape(title)}</title></head>
<body><main>
<h1>${escape(title)}</h1>
${body}
</main></body>
</html>
`;
}

function hidden(name, value) {
  return `<input type="hidden" name="${name}" value="${escape(value)}">`;
}

function signInPage(handle, requestId, relayState) {
  const options = Object.entries(users).map(
    ([key, user]) => `<option value="${escape(key)}">${escape(user.name)} (${escape(user.email)})</option>`,
  );
  return page('Sign in to Corp', `<form method="post" action="/login">
${hidden('handle', handle)}
${hidden('request_id', requestId)}
${hidden('RelayState', relayState)}
<label for="user">User</label>
<select name="user" id="user">
${options.join('\n')}
</select>
<button type="submit" id="idp-signin">Sign in</button>
</form>`);
}

function toSpPage(acs, samlResponse, relayState) {
  return page('Signed in', `<form method="post" action="${escape(acs)}" id="to-sp">
${hidden('SAMLResponse', samlResponse)}
${hidden('RelayState', relayState)}
<button type="submit" id="idp-continue">Continue</button>
</form>
<script src="/autosubmit.js" defer></script>`);
}

// The signed part of a redirect-binding query, as sent (saml-bindings §3.4.4.1).
function octetString(rawQuery) {
  const parts = new Map(rawQuery.split('&').map((part) => [part.split('=')[0], part]));
  return ['SAMLRequest', 'RelayState', 'SigAlg'].filter((key) => parts.has(key)).map((key) => parts.get(key)).join('&');
}

// Why a verified AuthnRequest is still not one to answer, if it isn't.
function requestProblem(request, issuer) {
  if (issuer !== sp.entityMeta.getEntityID()) return 'the request is not from the registered SP';
  if (request.destination && request.destination !== `${base}/sso`) return 'the request is for another destination';
  const acs = request.assertionConsumerServiceUrl;
  if (acs && acs !== sp.entityMeta.getAssertionConsumerService('post')) return 'unknown AssertionConsumerServiceURL';
  return null;
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

const html = (res, body) => send(res, 200, 'text/html; charset=utf-8', body);
const fail = (res, status, text) => send(res, status, 'text/plain; charset=utf-8', `${text}\n`);

async function registerSp(req, res) {
  let candidate;
  try {
    candidate = ServiceProvider({ metadata: await readBody(req) });
  } catch (err) {
    return fail(res, 400, `bad SP metadata: ${err.message}`);
  }
  const meta = candidate.entityMeta;
  if (!meta.getEntityID() || !meta.getAssertionConsumerService('post') || !meta.getX509Certificate('signing')) {
    return fail(res, 400, 'the SP metadata needs an entityID, an HTTP-POST AssertionConsumerService and a signing key');
  }
  sp = candidate;
  pending.clear();
  res.writeHead(204).end();
}

async function sso(url, res) {
  if (!sp) return fail(res, 400, 'no SP registered');
  const query = Object.fromEntries(url.searchParams);
  let parsed;
  try {
    parsed = await idp.parseLoginRequest(sp, 'redirect', { query, octetString: octetString(url.search.slice(1)) });
  } catch (err) {
    return fail(res, 400, `bad AuthnRequest: ${err.message ?? err}`);
  }
  const { request, issuer } = parsed.extract;
  const problem = requestProblem(request, issuer);
  if (problem) return fail(res, 400, `bad AuthnRequest: ${problem}`);
  const handle = randomUUID();
  pending.set(handle, { sp, requestInfo: parsed });
  html(res, signInPage(handle, request.id, query.RelayState ?? ''));
}

async function login(req, res) {
  const form = new URLSearchParams(await readBody(req));
  const entry = pending.get(form.get('handle'));
  if (!entry || form.get('request_id') !== entry.requestInfo.extract.request.id) {
    return fail(res, 400, 'unknown or used sign-in handle');
  }
  const user = Object.hasOwn(users, form.get('user')) ? users[form.get('user')] : null;
  if (!user) return fail(res, 400, 'unknown user');
  pending.delete(form.get('handle'));
  const acs = entry.sp.entityMeta.getAssertionConsumerService('post');
  const samlResponse = await respond(user, entry.requestInfo, acs, entry.sp.entityMeta.getEntityID());
  html(res, toSpPage(acs, samlResponse, form.get('RelayState') ?? ''));
}

async function issue(req, res) {
  let body;
  try {
    body = JSON.parse(await readBody(req));
  } catch {
    return fail(res, 400, 'the body must be JSON');
  }
  const user = Object.hasOwn(users, body.user) ? users[body.user] : null;
  if (!user) return fail(res, 400, 'unknown user');
  if (!body.acs || !body.audience) return fail(res, 400, '"acs" and "audience" are required');
  // shaped like what parseLoginRequest gives, for a request that was never made
  const requestInfo = body.in_response_to ? { extract: { request: { id: body.in_response_to } } } : null;
  const samlResponse = await respond(user, requestInfo, body.acs, body.audience);
  send(res, 200, 'application/json', JSON.stringify({ SAMLResponse: samlResponse }));
}

async function route(req, res) {
  const url = new URL(req.url, base);
  const at = `${req.method} ${url.pathname}`;
  if (at === 'GET /metadata') return send(res, 200, 'application/samlmetadata+xml', idp.getMetadata());
  if (at === 'POST /sp') return registerSp(req, res);
  if (at === 'GET /sso') return sso(url, res);
  if (at === 'POST /login') return login(req, res);
  if (at === 'POST /issue') return issue(req, res);
  if (at === 'GET /autosubmit.js') {
    return send(res, 200, 'text/javascript', "document.getElementById('to-sp').submit();\n");
  }
  fail(res, 404, 'not found');
}

const server = createServer((req, res) => {
  route(req, res).catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    if (!res.headersSent) fail(res, 500, 'internal error');
  });
});
server.listen(port, '127.0.0.1', () => {
  say({ ready: true, entity_id: entityId, metadata_url: entityId, version });
});
process.stdin.on('end', () => {
  server.close();
  process.exit(0);
});
process.stdin.resume();
