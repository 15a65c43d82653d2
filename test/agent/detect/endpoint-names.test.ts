// EndpointNames remembers the templated endpoint of (method, path): what it
// returns must be what templating gives, before and after it starts over.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRoute, templatePath } from '../../../agent/baseline/path-template.js';
import { EndpointNames } from '../../../agent/detect/endpoint-names.js';

const segment = fc.oneof(fc.constantFrom('api', 'users', 'orders', 'v1', 'files', ''), fc.nat().map(String), fc.uuid(),
  fc.hexaString({ minLength: 16, maxLength: 40 }), fc.string({ maxLength: 10 }));
const path = fc.array(segment, { maxLength: 6 }).chain((parts) => fc.constantFrom('', '?q=1', '#top').map((tail) => `/${parts.join('/')}${tail}`));

describe('EndpointNames', () => {
  it('names each (method, path) as templatePath does, whether remembered or not', () => {
    const routes = ['/api/orders/:orderId', '/files/{name}/*'].map(compileRoute);
    const names = new EndpointNames(routes, 16);
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('GET', 'POST', 'PATCH'), path), { maxLength: 40 }), (calls) => {
      for (const [method, p] of [...calls, ...calls]) {
        const expected = templatePath(p, routes);
        expect(names.of(method, p)).toEqual({ name: `${method} ${expected.template}`, params: expected.params });
      }
    }), { numRuns: 200 });
  });

  it('does not keep long paths or methods', () => {
    const names = new EndpointNames([], 16);
    const long = `/a/${'x'.repeat(600)}`;
    expect(names.of('GET', long)).not.toBe(names.of('GET', long));
    expect(names.of('GET', '/a/1')).toBe(names.of('GET', '/a/1'));
    expect(names.of('M'.repeat(40), '/a')).not.toBe(names.of('M'.repeat(40), '/a'));
  });
});
