// The one place that talks HTTP to keel-fleet. Every failure becomes an ApiError with a message a
// person can act on: the server's own error shape ({"error": {"code", "message", "field"}}) when it
// sent one, and a plain-language description when it did not (network down, proxy error page,
// timeout), so no page ever shows "undefined" or a raw stack.

export interface ApiErrorBody {
  code: string;
  message: string;
  field?: string | null;
}

// One error of a refused device import (400 import_invalid): where in the file (CSV line, or
// index in the JSON document's devices), the field, and what is wrong.
export interface RowError {
  line: number | null;
  index: number | null;
  field: string | null;
  code: string;
  message: string;
}

export class ApiError extends Error {
  readonly status: number; // HTTP status; 0 when no response arrived
  readonly code: string;
  readonly field: string | null;
  // A refused import: its listed errors (the first 100) and how many there were in all.
  rows: RowError[] = [];
  rowCount = 0;

  constructor(status: number, code: string, message: string, field: string | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
  }

  get isUnauthenticated(): boolean {
    return this.status === 401;
  }
  get isForbidden(): boolean {
    return this.status === 403;
  }
  get isNotFound(): boolean {
    return this.status === 404;
  }
}

// What to say when the server gave no usable error body.
export function describeStatus(status: number): string {
  if (status === 400) return 'The server could not accept this request.';
  if (status === 401) return 'Your session has ended. Please sign in again.';
  if (status === 403) return 'You do not have permission to do this.';
  if (status === 404) return 'This item does not exist (it may have been deleted).';
  if (status === 409) return 'This conflicts with something that already exists.';
  if (status === 413) return 'The upload is too large for the server.';
  if (status === 429) return 'Too many attempts. Wait a minute and try again.';
  if (status >= 500) return `The Fleet server had an internal problem (HTTP ${status}). Try again; if it persists, check the server log.`;
  return `Unexpected answer from the Fleet server (HTTP ${status}).`;
}

function isErrorBody(v: unknown): v is { error: ApiErrorBody } {
  if (typeof v !== 'object' || v === null) return false;
  const e = (v as { error?: unknown }).error;
  return typeof e === 'object' && e !== null && typeof (e as ApiErrorBody).message === 'string';
}

// Turns a non-2xx response body (already read as text) into an ApiError.
export function errorFromResponse(status: number, bodyText: string): ApiError {
  let parsed: unknown = undefined;
  try {
    parsed = bodyText ? JSON.parse(bodyText) : undefined;
  } catch {
    parsed = undefined;
  }
  if (isErrorBody(parsed)) {
    const e = parsed.error;
    const code = typeof e.code === 'string' && e.code ? e.code : `http_${status}`;
    const msg = e.message.trim() || describeStatus(status);
    const field = typeof e.field === 'string' && e.field ? e.field : null;
    const err = new ApiError(status, code, msg, field);
    const rows = (e as { errors?: unknown }).errors;
    if (Array.isArray(rows)) {
      const num = (v: unknown) => (typeof v === 'number' ? v : null);
      err.rows = rows
        .filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null)
        .map((r) => ({
          line: num(r.line),
          index: num(r.index),
          field: typeof r.field === 'string' ? r.field : null,
          code: typeof r.code === 'string' ? r.code : '',
          message: typeof r.message === 'string' ? r.message : '',
        }));
      const count = (e as { error_count?: unknown }).error_count;
      err.rowCount = typeof count === 'number' ? count : err.rows.length;
    }
    return err;
  }
  return new ApiError(status, `http_${status}`, describeStatus(status));
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export function buildUrl(base: string, path: string, query?: Query): string {
  let url = base.replace(/\/+$/, '') + path;
  if (query) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null || v === '') continue;
      qs.set(k, String(v));
    }
    const s = qs.toString();
    if (s) url += (url.includes('?') ? '&' : '?') + s;
  }
  return url;
}

export interface RequestOptions {
  query?: Query;
  body?: unknown; // JSON-encoded unless it is a Blob/ArrayBuffer/Uint8Array (sent as octet-stream)
  headers?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
  // A 401 here is an expected answer (login form, session probe), not an expired session.
  quiet401?: boolean;
}

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export class ApiClient {
  private csrf: string | null = null;
  onUnauthenticated: (() => void) | null = null;

  constructor(
    readonly base = '/api/v1',
    private readonly fetchFn: FetchLike = (i, r) => fetch(i, r),
    readonly defaultTimeoutMs = 30_000,
  ) {}

  csrfToken(): string | null {
    return this.csrf;
  }

  setCsrfToken(token: string | null): void {
    this.csrf = token;
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
    let body: BodyInit | undefined;
    if (opts.body instanceof Blob || opts.body instanceof ArrayBuffer || opts.body instanceof Uint8Array) {
      headers['Content-Type'] ??= 'application/octet-stream';
      body = opts.body as BodyInit;
    } else if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    if (UNSAFE.has(method) && this.csrf) headers['X-CSRF-Token'] = this.csrf;

    const ctl = new AbortController();
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, timeoutMs);
    const onOuterAbort = () => ctl.abort();
    opts.signal?.addEventListener('abort', onOuterAbort);

    let res: Response;
    try {
      res = await this.fetchFn(buildUrl(this.base, path, opts.query), {
        method,
        headers,
        body,
        credentials: 'same-origin',
        signal: ctl.signal,
      });
    } catch (e) {
      if (timedOut) {
        throw new ApiError(0, 'timeout', `The Fleet server did not answer within ${Math.round(timeoutMs / 1000)} seconds.`);
      }
      if (opts.signal?.aborted) throw new ApiError(0, 'aborted', 'The request was cancelled.');
      throw new ApiError(0, 'network', 'Cannot reach the Fleet server. Check your network connection and that the server is running.');
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onOuterAbort);
    }

    const text = await res.text().catch(() => '');
    if (!res.ok) {
      const err = errorFromResponse(res.status, text);
      if (err.isUnauthenticated && !opts.quiet401 && this.onUnauthenticated) this.onUnauthenticated();
      throw err;
    }
    if (res.status === 204 || text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(res.status, 'bad_response', 'The Fleet server sent an answer this page cannot read (not JSON). Is the server the same version as the UI?');
    }
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, { query });
  }
  post<T>(path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('POST', path, { ...opts, body });
  }
  patch<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('PATCH', path, { body });
  }
  put<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('PUT', path, { body });
  }
  delete<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('DELETE', path, { body });
  }
}

// "field 'name' must not contain '/'" shown under the Name box reads better as
// "Must not contain '/'": the box already says which field it is.
export function fieldMessage(message: string, field: string): string {
  const prefix = `field '${field}' `;
  const m = message.startsWith(prefix) ? message.slice(prefix.length) : message;
  return m.charAt(0).toUpperCase() + m.slice(1);
}
