import { describe, expect, it } from 'vitest';
import { FlowscopeError } from '../../../agent/errors.js';
import { compileGrpcStatus, compileMethod, compilePath, compileProtocol, compileStatus } from '../../../agent/filter/http-match.js';
import type { Flow } from '../../../agent/schema/flow.js';
import { sampleFlow } from '../stream/sample-records.js';

/** The one line a person would see for a filter that fails to compile. */
function failure(compile: () => unknown): string {
  try {
    compile();
  } catch (err) {
    return (err as FlowscopeError).toOneLine();
  }
  return 'compiled';
}

function grpcFlow(status: number | undefined): Flow {
  return sampleFlow({ protocol: 'GRPC', path: '/demo.Echo/Say', method: 'POST', grpc: { service: 'demo.Echo', method: 'Say', status, requestMessages: 1, responseMessages: 1 } });
}

describe('--method', () => {
  it('matches case-insensitively and ORs values', () => {
    const p = compileMethod(['get', 'Post']);
    expect(p(sampleFlow({ method: 'GET' }))).toBe(true);
    expect(p(sampleFlow({ method: 'POST' }))).toBe(true);
    expect(p(sampleFlow({ method: 'DELETE' }))).toBe(false);
    expect(() => compileMethod(['GET /x'])).toThrow(/--method/);
  });
});

describe('--path', () => {
  it('matches a prefix', () => {
    const p = compilePath(['/api/']);
    expect(p(sampleFlow({ path: '/api/users' }))).toBe(true);
    expect(p(sampleFlow({ path: '/apiv2' }))).toBe(false);
    expect(p(sampleFlow({ path: '/v1/api/users' }))).toBe(false);
  });

  it('matches a /regex/ with RE2 semantics', () => {
    const p = compilePath(['/^/users/[0-9]+$/']);
    expect(p(sampleFlow({ path: '/users/42' }))).toBe(true);
    expect(p(sampleFlow({ path: '/users/42/orders' }))).toBe(false);
    expect(compilePath(['/orders/[0-9]/'])(sampleFlow({ path: '/v2/orders/7' }))).toBe(true);
  });

  it('runs a catastrophic-backtracking pattern in linear time', () => {
    const p = compilePath(['/^(a+)+$/']);
    const start = performance.now();
    expect(p(sampleFlow({ path: `${'a'.repeat(5000)}!` }))).toBe(false);
    expect(performance.now() - start).toBeLessThan(1000);
  });

  it('rejects an invalid regex and a relative prefix', () => {
    expect(failure(() => compilePath(['/(unclosed/']))).toMatch(/bad --path value '\/\(unclosed\/' \(fix: use a valid RE2 expression/);
    expect(failure(() => compilePath(['/a(?=b)/']))).toMatch(/--path/);
    expect(failure(() => compilePath(['api']))).toMatch(/--path value 'api' \(fix: use a path prefix starting with \//);
  });
});

describe('--status', () => {
  it('matches classes and exact codes', () => {
    const p = compileStatus(['5xx', '401']);
    expect(p(sampleFlow({ status: 503 }))).toBe(true);
    expect(p(sampleFlow({ status: 401 }))).toBe(true);
    expect(p(sampleFlow({ status: 403 }))).toBe(false);
    expect(p(sampleFlow({ status: 200 }))).toBe(false);
    expect(compileStatus(['2xx'])(sampleFlow({ status: 204 }))).toBe(true);
  });

  it('never matches a flow without a response', () => {
    expect(compileStatus(['5xx'])(sampleFlow({ status: 0 }))).toBe(false);
  });

  it('rejects other forms', () => {
    for (const bad of ['6xx', '5x', '99', 'error', '1000']) expect(() => compileStatus([bad])).toThrow(/--status/);
  });
});

describe('--grpc-status', () => {
  it('takes names in several spellings and numbers', () => {
    expect(compileGrpcStatus(['NOT_FOUND'])(grpcFlow(5))).toBe(true);
    expect(compileGrpcStatus(['not-found'])(grpcFlow(5))).toBe(true);
    expect(compileGrpcStatus(['NotFound'])(grpcFlow(5))).toBe(true);
    expect(compileGrpcStatus(['5'])(grpcFlow(5))).toBe(true);
    expect(compileGrpcStatus(['ok', 'unavailable'])(grpcFlow(14))).toBe(true);
    expect(compileGrpcStatus(['OK'])(grpcFlow(14))).toBe(false);
  });

  it('does not match a call with no status seen, nor plain HTTP', () => {
    expect(compileGrpcStatus(['OK'])(grpcFlow(undefined))).toBe(false);
    expect(compileGrpcStatus(['0'])(sampleFlow())).toBe(false);
  });

  it('rejects unknown names and numbers', () => {
    expect(() => compileGrpcStatus(['17'])).toThrow(/--grpc-status/);
    expect(() => compileGrpcStatus(['BROKEN'])).toThrow(/--grpc-status/);
  });
});

describe('--protocol', () => {
  it('normalises the usual spellings', () => {
    expect([...compileProtocol('protocol', ['http1', 'HTTP/1.1', 'h2', 'grpc'])].sort()).toEqual(['GRPC', 'HTTP1', 'HTTP2']);
    expect(failure(() => compileProtocol('protocol', ['kafka']))).toMatch(/--protocol value 'kafka' \(fix: use HTTP1, HTTP2 or GRPC\)/);
  });
});
