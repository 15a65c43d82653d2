// @ts-check
// The filter bar: the CLI's filter flags as fields. Values are comma-separated
// (OR within a field), fields combine with AND, exactly like repeated flags.
// The agent validates and applies the filter; this only shapes it. The filter
// lives in the address (#status=5xx&from=web) so a reload or a shared link
// keeps it.

/** Text fields, named as the stream's filter keys (CLI flags without dashes). */
export const TEXT_KEYS = ['from', 'to', 'protocol', 'method', 'path', 'status', 'grpcStatus', 'minLatency'];

/**
 * @param {Record<string, string>} fields raw field text by key, plus `encryption` ('' | 'tls' | 'plaintext')
 * @returns {Record<string, string[]>}
 */
export function filterFromFields(fields) {
  /** @type {Record<string, string[]>} */
  const filter = {};
  for (const key of TEXT_KEYS) {
    const values = (fields[key] ?? '').split(',').map((v) => v.trim()).filter((v) => v !== '');
    if (values.length > 0) filter[key] = values;
  }
  if (fields.encryption === 'tls') filter.tls = ['true'];
  if (fields.encryption === 'plaintext') filter.plaintext = ['true'];
  return filter;
}

/** @param {Record<string, string[]>} filter */
export function fieldsFromFilter(filter) {
  /** @type {Record<string, string>} */
  const fields = {};
  for (const key of TEXT_KEYS) fields[key] = (filter[key] ?? []).join(', ');
  fields.encryption = filter.tls ? 'tls' : filter.plaintext ? 'plaintext' : '';
  return fields;
}

/** @param {Record<string, string[]>} filter */
export function filterToHash(filter) {
  const params = new URLSearchParams();
  for (const [key, values] of Object.entries(filter)) params.set(key, values.join(','));
  const text = params.toString();
  return text === '' ? '' : `#${text}`;
}

/** @param {string} hash */
export function filterFromHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  /** @type {Record<string, string>} */
  const fields = {};
  for (const key of TEXT_KEYS) fields[key] = params.get(key) ?? '';
  fields.encryption = params.has('tls') ? 'tls' : params.has('plaintext') ? 'plaintext' : '';
  return filterFromFields(fields);
}

/** The filter as the equivalent CLI command, shown under the bar. @param {Record<string, string[]>} filter */
export function cliEquivalent(filter) {
  const flags = [];
  for (const [key, values] of Object.entries(filter)) {
    const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (key === 'tls' || key === 'plaintext') flags.push(flag);
    else for (const v of values) flags.push(`${flag} ${/^[\w./:-]+$/.test(v) ? v : `'${v.replace(/'/g, "'\\''")}'`}`);
  }
  return ['flowscope flows --follow', ...flags].join(' ');
}

/**
 * The filter value that selects a graph node (see graphNodeOf): `ns/workload`
 * and `process:comm` are filter syntax already; a bare workload gets its
 * prefix; an external block is a CIDR.
 * @param {string} nodeId
 */
export function filterValueForNode(nodeId) {
  if (nodeId.startsWith('external:')) return nodeId.slice('external:'.length);
  if (nodeId.startsWith('process:') || nodeId.includes('/')) return nodeId;
  return `workload:${nodeId}`;
}
