import { describe, expect, it } from 'vitest';
import { compileRoute, templatePath } from '../../../agent/baseline/path-template.js';

describe('templatePath', () => {
  it.each([
    ['/users/123', '/users/{id}', ['123']],
    ['/users/123/orders/77?expand=1', '/users/{id}/orders/{id}', ['123', '77']],
    ['/v1/items/3fa85f64-5717-4562-b3fc-2c963f66afa6', '/v1/items/{uuid}', ['3fa85f64-5717-4562-b3fc-2c963f66afa6']],
    ['/blobs/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', '/blobs/{hash}', ['9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08']],
    ['/reset/eyJhbGciOiJIUzI1NiJ9xyz123', '/reset/{token}', ['eyJhbGciOiJIUzI1NiJ9xyz123']],
    ['/orders/a1b2c3d4', '/orders/{id}', ['a1b2c3d4']],
    ['/api/v1/health', '/api/v1/health', []],
    ['/static/main.css', '/static/main.css', []],
    ['/', '/', []],
    ['', '/', []],
  ])('%s → %s', (path, template, params) => {
    expect(templatePath(path)).toEqual({ template, params });
  });

  it('keeps words, versions and short names as they are', () => {
    expect(templatePath('/api/v2/users/me/settings').template).toBe('/api/v2/users/me/settings');
    expect(templatePath('/images/logo2x.png').template).toBe('/images/logo2x.png');
  });

  it('lets configured routes win over the heuristic', () => {
    const routes = [compileRoute('/users/:name'), compileRoute('/files/{bucket}/*')];
    expect(templatePath('/users/alice', routes)).toEqual({ template: '/users/{name}', params: ['alice'] });
    expect(templatePath('/files/b1/a/b/c.txt', routes)).toEqual({ template: '/files/{bucket}/*', params: ['b1', 'a/b/c.txt'] });
    expect(templatePath('/users/alice/x', routes).template).toBe('/users/alice/x');
  });

  it('bounds the number of segments of hostile paths', () => {
    const long = '/a'.repeat(1000);
    expect(templatePath(long).template.split('/').length).toBeLessThanOrEqual(34);
  });
});
