// Every error the agent reports to a person has a stable code and says how to fix it.

export const ErrorCodes = {
  BPF_OPEN: 'FLOWSCOPE_ERR_BPF_OPEN',
  BPF_LOAD: 'FLOWSCOPE_ERR_BPF_LOAD',
  BPF_ATTACH: 'FLOWSCOPE_ERR_BPF_ATTACH',
  BPF_DRAIN: 'FLOWSCOPE_ERR_BPF_DRAIN',
  NATIVE_MISSING: 'FLOWSCOPE_ERR_NATIVE_MISSING',
  NOT_ROOT: 'FLOWSCOPE_ERR_NOT_ROOT',
  BAD_FLAG: 'FLOWSCOPE_ERR_BAD_FLAG',
  OUTPUT: 'FLOWSCOPE_ERR_OUTPUT',
  SCHEMA: 'FLOWSCOPE_ERR_SCHEMA',
  BPFTRACE: 'FLOWSCOPE_ERR_BPFTRACE',
  CONFIG: 'FLOWSCOPE_ERR_CONFIG',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class FlowscopeError extends Error {
  readonly code: ErrorCode;
  /** What the person should do about it, one sentence. */
  readonly fix: string | undefined;

  constructor(code: ErrorCode, message: string, fix?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FlowscopeError';
    this.code = code;
    this.fix = fix;
  }

  /** One line for a terminal: what failed, then the fix. */
  toOneLine(): string {
    return `flowscope: ${this.message}${this.fix ? ` (fix: ${this.fix})` : ''} [${this.code}]`;
  }
}
