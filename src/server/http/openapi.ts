import { HttpErrors } from './errors.js';

const errorRef = { $ref: '#/components/responses/Error' };
const statusSchema = (key: 'handle' | 'unique') => ({
  type: 'object',
  required: [key, 'known', 'running', 'numerator', 'denominator', 'waitingClients'],
  properties: {
    [key]: { type: 'string' },
    known: { type: 'boolean' },
    running: { type: 'boolean' },
    numerator: { type: 'integer' },
    denominator: { type: 'integer' },
    waitingClients: { type: 'integer', description: 'foreground clients waiting on the job' },
  },
});
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const gearmanHeaders = [
  { name: 'X-Gearman-Unique', in: 'header', schema: { type: 'string', maxLength: 64 }, description: "unique id; default '-' coalesces identical workloads (gearmand)" },
  { name: 'X-Gearman-Background', in: 'header', schema: { type: 'string', enum: ['true', 'false'] } },
  { name: 'X-Gearman-Priority', in: 'header', schema: { type: 'string', enum: ['high', 'normal', 'low'] } },
  { name: 'X-Gearman-Timeout', in: 'header', schema: { type: 'integer', minimum: 1 }, description: 'ms a foreground caller waits (capped by the server)' },
];
const jobResponses = {
  '200': {
    description: 'WORK_COMPLETE (the result is the body; WORK_DATA chunks come first, chunked) or, for a background job, JOB_CREATED with an empty body. With Accept: text/event-stream: an event stream.',
    headers: {
      'X-Gearman-Job-Handle': { schema: { type: 'string' } },
      'X-Gearman-Command': { schema: { type: 'string' } },
    },
    content: { 'application/octet-stream': {}, 'text/event-stream': {} },
  },
  '400': errorRef, '404': errorRef, '408': errorRef, '413': errorRef, '414': errorRef, '429': errorRef, '431': errorRef,
  '502': { description: 'WORK_FAIL (JSON error) or WORK_EXCEPTION (the exception text)', content: { 'application/json': {}, 'text/plain': {} } },
  '503': errorRef, '504': errorRef,
};

/** The OpenAPI 3.1 description of the HTTP front, served at /_gearport/openapi.json. */
export function openApiDocument(version: string) {
  return {
    openapi: '3.1.0',
    info: { title: 'Gearport HTTP front', version, description: 'gearmand-compatible job submission plus a read-only admin API under /_gearport/.' },
    paths: {
      '/{function}': {
        parameters: [{ name: 'function', in: 'path', required: true, schema: { type: 'string' }, description: 'the Gearman function: the path without leading slashes, not decoded' }],
        post: { summary: 'Submit a job; the body is the workload', parameters: gearmanHeaders, requestBody: { content: { 'application/octet-stream': {} } }, responses: jobResponses },
        put: { summary: 'Same as POST', parameters: gearmanHeaders, requestBody: { content: { 'application/octet-stream': {} } }, responses: jobResponses },
        get: { summary: 'Submit a job whose workload is the query string', parameters: gearmanHeaders, responses: jobResponses },
        head: { summary: 'Check the path; submits nothing', responses: { '200': { description: 'no body' } } },
      },
      '/_gearport/health': {
        get: { summary: 'Health check (no authentication)', responses: { '200': json({ type: 'object', properties: { status: { const: 'ok' }, version: { type: 'string' } } }), '503': { description: 'stopping' } } },
        head: { summary: 'Health check, headers only', responses: { '200': { description: 'ok' }, '503': { description: 'stopping' } } },
      },
      '/_gearport/openapi.json': {
        get: { summary: 'This document', responses: { '200': json({ type: 'object' }) } },
        head: { summary: 'This document, headers only', responses: { '200': { description: 'ok' } } },
      },
      '/_gearport/functions': {
        get: {
          summary: 'Functions with queued and running jobs and workers',
          responses: { '200': json({ type: 'object', properties: { functions: { type: 'array', items: { type: 'object', required: ['name', 'queued', 'running', 'workers'], properties: { name: { type: 'string' }, queued: { type: 'integer' }, running: { type: 'integer' }, workers: { type: 'integer' } } } } } }) },
        },
        head: { summary: 'Headers only', responses: { '200': { description: 'ok' } } },
      },
      '/_gearport/workers': {
        get: {
          summary: 'Connected workers and their functions',
          responses: { '200': json({ type: 'object', properties: { workers: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' }, address: { type: 'string' }, clientId: { type: 'string' }, functions: { type: 'array', items: { type: 'string' } }, running: { type: 'integer' } } } } } }) },
        },
        head: { summary: 'Headers only', responses: { '200': { description: 'ok' } } },
      },
      '/_gearport/metrics': {
        get: { summary: 'Prometheus metrics: jobs, queues, workers, memory and process figures', responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': {} } } } },
        head: { summary: 'Headers only', responses: { '200': { description: 'ok' } } },
      },
      '/_gearport/jobs/{handle}': {
        parameters: [{ name: 'handle', in: 'path', required: true, schema: { type: 'string' }, description: 'job handle, percent-encoded' }],
        get: { summary: 'Job status by handle', responses: { '200': json(statusSchema('handle')), '404': errorRef } },
        head: { summary: 'Job status, headers only', responses: { '200': { description: 'known' }, '404': { description: 'unknown' } } },
        delete: { summary: 'Cancel a job (loopback callers only); waiting clients hear WORK_FAIL', responses: { '200': json({ type: 'object', properties: { handle: { type: 'string' }, cancelled: { const: true } } }), '403': errorRef, '404': errorRef } },
      },
      '/_gearport/uniques/{unique}': {
        parameters: [{ name: 'unique', in: 'path', required: true, schema: { type: 'string' }, description: 'unique id, percent-encoded' }],
        get: { summary: 'Job status by unique id', responses: { '200': json(statusSchema('unique')), '404': errorRef } },
        head: { summary: 'Job status, headers only', responses: { '200': { description: 'known' }, '404': { description: 'unknown' } } },
      },
    },
    components: {
      responses: {
        Error: {
          description: 'An error from the catalogue',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['error'],
                properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string', enum: Object.values(HttpErrors).map((e) => e.code) }, message: { type: 'string' } } } },
              },
            },
          },
        },
      },
    },
  };
}
