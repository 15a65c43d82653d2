import { describe, expect, it } from 'vitest';
import { cliEquivalent, fieldsFromFilter, filterFromFields, filterFromHash, filterToHash, filterValueForNode } from '../../../agent/web/assets/filter-form.js';

describe('filter form', () => {
  it('turns comma-separated fields into OR lists and leaves empty fields out', () => {
    expect(filterFromFields({ from: 'web, api ,', status: '5xx', path: '', encryption: 'plaintext' }))
      .toEqual({ from: ['web', 'api'], status: ['5xx'], plaintext: ['true'] });
    expect(filterFromFields({ encryption: 'tls', minLatency: '100ms' })).toEqual({ minLatency: ['100ms'], tls: ['true'] });
  });

  it('round-trips through the address hash and back into the fields', () => {
    const filter = { from: ['web'], status: ['5xx', '401'], grpcStatus: ['UNAVAILABLE'], tls: ['true'] };
    const hash = filterToHash(filter);
    expect(filterFromHash(hash)).toEqual(filter);
    expect(fieldsFromFilter(filter)).toMatchObject({ from: 'web', status: '5xx, 401', encryption: 'tls' });
    expect(filterToHash({})).toBe('');
    expect(filterFromHash('#bogus=1&status=')).toEqual({});
  });

  it('shows the same filter as a CLI command, quoting what a shell would split', () => {
    expect(cliEquivalent({ from: ['web'], status: ['5xx'], minLatency: ['100ms'], plaintext: ['true'], path: ["/a b'c/"] }))
      .toBe("flowscope flows --follow --from web --status 5xx --min-latency 100ms --plaintext --path '/a b'\\''c/'");
  });
});

describe('filter values for graph nodes', () => {
  it('select the node the way the CLI filter names it', () => {
    expect(filterValueForNode('shop/api')).toBe('shop/api');
    expect(filterValueForNode('process:nginx')).toBe('process:nginx');
    expect(filterValueForNode('api')).toBe('workload:api');
    expect(filterValueForNode('external:198.18.0.0/24')).toBe('198.18.0.0/24');
  });
});
