import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError, buildUrl, errorFromResponse, fieldMessage, type FetchLike } from './client';

function respond(status: number, body: string, headers: Record<string, string> = {}): FetchLike {
  return vi.fn(async () => new Response(status === 204 ? null : body, { status, headers }));
}

describe('errorFromResponse', () => {
  it('uses the server error shape', () => {
    const e = errorFromResponse(422, JSON.stringify({ error: { code: 'invalid', message: 'name is too long', field: 'name' } }));
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(422);
    expect(e.code).toBe('invalid');
    expect(e.message).toBe('name is too long');
    expect(e.field).toBe('name');
  });

  it('falls back to a plain-language message for HTML or empty bodies', () => {
    const e = errorFromResponse(502, '<html><body>Bad gateway</body></html>');
    expect(e.code).toBe('http_502');
    expect(e.message).toMatch(/internal problem/);
    expect(e.message).not.toMatch(/html/i);
    expect(errorFromResponse(403, '').message).toMatch(/permission/);
    expect(errorFromResponse(404, '{"error": 3}').message).toMatch(/does not exist/);
  });

  it('keeps the listed errors of a refused import, with their lines, and the total', () => {
    const body = {
      error: {
        code: 'import_invalid', message: '150 errors in the file; nothing was imported', field: null, error_count: 150,
        errors: [{ line: 3, index: null, field: 'name', code: 'duplicate_in_file', message: 'the same name as line 2' }, 7, { index: 4, field: null, code: 'x', message: 'm' }],
      },
    };
    const e = errorFromResponse(400, JSON.stringify(body));
    expect(e.code).toBe('import_invalid');
    expect(e.rows).toEqual([
      { line: 3, index: null, field: 'name', code: 'duplicate_in_file', message: 'the same name as line 2' },
      { line: null, index: 4, field: null, code: 'x', message: 'm' },
    ]);
    expect(e.rowCount).toBe(150);
    expect(errorFromResponse(400, JSON.stringify({ error: { code: 'a', message: 'b' } })).rows).toEqual([]);
  });

  it('never reports an empty message or field', () => {
    const e = errorFromResponse(400, JSON.stringify({ error: { code: '', message: '  ', field: '' } }));
    expect(e.message.length).toBeGreaterThan(0);
    expect(e.code).toBe('http_400');
    expect(e.field).toBeNull();
  });
});

describe('buildUrl', () => {
  it('drops empty query values and encodes the rest', () => {
    expect(buildUrl('/api/v1/', '/devices', { q: 'a b&c', cursor: undefined, limit: 50, x: '' })).toBe('/api/v1/devices?q=a+b%26c&limit=50');
  });
});

describe('ApiClient', () => {
  it('parses JSON and sends JSON bodies with the CSRF token on writes only', async () => {
    const f = vi.fn<FetchLike>(async () => new Response('{"id": 7}', { status: 201 }));
    const c = new ApiClient('/api/v1', f);
    c.setCsrfToken('tok');
    expect(await c.post('/orgs', { name: 'Acme' })).toEqual({ id: 7 });
    const [url, init] = f.mock.calls[0]!;
    expect(url).toBe('/api/v1/orgs');
    expect(init.method).toBe('POST');
    expect(init.body).toBe('{"name":"Acme"}');
    expect((init.headers as Record<string, string>)['X-CSRF-Token']).toBe('tok');
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    await c.get('/orgs');
    expect((f.mock.calls[1]![1].headers as Record<string, string>)['X-CSRF-Token']).toBeUndefined();
  });

  it('returns undefined for 204', async () => {
    const c = new ApiClient('/api/v1', respond(204, ''));
    expect(await c.delete('/orgs/1')).toBeUndefined();
  });

  it('throws ApiError with the server message and calls onUnauthenticated on 401', async () => {
    const c = new ApiClient('/api/v1', respond(401, '{"error":{"code":"unauthenticated","message":"Sign in first"}}'));
    const hook = vi.fn();
    c.onUnauthenticated = hook;
    await expect(c.get('/orgs')).rejects.toMatchObject({ status: 401, code: 'unauthenticated', message: 'Sign in first' });
    expect(hook).toHaveBeenCalledOnce();
  });

  it('turns a network failure into a readable error', async () => {
    const c = new ApiClient('/api/v1', async () => {
      throw new TypeError('Failed to fetch');
    });
    await expect(c.get('/x')).rejects.toMatchObject({ status: 0, code: 'network' });
  });

  it('times out a request that never answers', async () => {
    const never: FetchLike = (_u, init) =>
      new Promise((_res, rej) => init.signal!.addEventListener('abort', () => rej(new DOMException('aborted', 'AbortError'))));
    const c = new ApiClient('/api/v1', never, 30);
    await expect(c.get('/slow')).rejects.toMatchObject({ code: 'timeout' });
  });

  it('reports a non-JSON success body instead of crashing', async () => {
    const c = new ApiClient('/api/v1', respond(200, '<html>index</html>'));
    await expect(c.get('/orgs')).rejects.toMatchObject({ code: 'bad_response' });
  });

  it('sends binary bodies as octet-stream', async () => {
    const f = vi.fn<FetchLike>(async () => new Response('{}', { status: 200 }));
    const c = new ApiClient('/api/v1', f);
    await c.post('/releases', new Uint8Array([1, 2, 3]));
    const init = f.mock.calls[0]![1];
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/octet-stream');
    expect(init.body).toBeInstanceOf(Uint8Array);
  });
});

describe('fieldMessage', () => {
  it("drops the redundant field prefix and capitalises", () => {
    expect(fieldMessage("field 'name' must not contain '/' or '\\'", 'name')).toBe("Must not contain '/' or '\\'");
    expect(fieldMessage('passwords must be at least 12 characters long', 'password')).toBe('Passwords must be at least 12 characters long');
    expect(fieldMessage("field 'other' is required", 'name')).toBe("Field 'other' is required");
  });
});
