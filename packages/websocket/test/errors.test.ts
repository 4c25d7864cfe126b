import type * as errors from '../src/errors';
import {
  CloseError,
  CloseSentError,
  HandshakeError,
  isCloseError,
  isUnexpectedCloseError,
  ProtocolError,
  ReadLimitError,
  TimeoutError,
  WebSocketError,
} from '../src/errors';

describe('error classes', () => {
  // CloseError's `code` is the close code, as in gorilla; the others' is a stable string.
  test.each<[string, () => Error, string | number, string]>([
    ['CloseError', () => new CloseError(1000), 1000, 'websocket: close 1000 (normal)'],
    [
      'HandshakeError',
      () => new HandshakeError("missing 'Host' header", 400),
      'ERR_WS_HANDSHAKE',
      "websocket: missing 'Host' header",
    ],
    [
      'ProtocolError',
      () => new ProtocolError('RSV2 set, reserved opcode 3'),
      'ERR_WS_PROTOCOL',
      'websocket: RSV2 set, reserved opcode 3',
    ],
    [
      'ReadLimitError',
      () => new ReadLimitError(1024),
      'ERR_WS_READ_LIMIT',
      'websocket: read limit exceeded: a message passed readLimit, 1024 bytes (1 KiB); raise it ' +
        'with the readLimit option or conn.setReadLimit() if such messages are expected',
    ],
    ['CloseSentError', () => new CloseSentError(), 'ERR_WS_CLOSE_SENT', 'websocket: close sent'],
    ['TimeoutError', () => new TimeoutError('read'), 'ERR_WS_TIMEOUT', 'websocket: read timeout'],
  ])('%s: name, code, message, base classes', (name, make, code, message) => {
    const err = make();
    expect(err.name).toBe(name);
    expect(err.message).toBe(message);
    expect((err as { code?: unknown }).code).toBe(code);
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(WebSocketError);
    expect(String(err)).toBe(`${name}: ${message}`);
    expect(err.stack).toContain(name);
  });

  test('each class recognises only its own kind', () => {
    const all = [
      new CloseError(1000),
      new HandshakeError('x', 400),
      new ProtocolError('x'),
      new ReadLimitError(1),
      new CloseSentError(),
      new TimeoutError('write'),
    ];
    const classes = [
      CloseError,
      HandshakeError,
      ProtocolError,
      ReadLimitError,
      CloseSentError,
      TimeoutError,
    ];
    all.forEach((err, i) => {
      classes.forEach((cls, j) => expect(err instanceof cls).toBe(i === j));
    });
    expect(new Error('plain') instanceof WebSocketError).toBe(false);
    expect(Object.assign(new Error('x'), { name: 'CloseError' }) instanceof CloseError).toBe(false);
    expect((null as unknown) instanceof WebSocketError).toBe(false);
    expect({} instanceof CloseError).toBe(false);
  });

  test('protocol and read-limit errors carry the close code sent to the peer', () => {
    expect(new ProtocolError('bad')).toMatchObject({ closeCode: 1002, code: 'ERR_WS_PROTOCOL' });
    expect(new ProtocolError('utf8', 1007, 'ERR_WS_INVALID_UTF8')).toMatchObject({
      closeCode: 1007,
      code: 'ERR_WS_INVALID_UTF8',
    });
    expect(new ReadLimitError(64)).toMatchObject({ closeCode: 1009, limit: 64 });
  });

  test('a read-limit error names the option and the limit, exactly and readably', () => {
    const err = new ReadLimitError(64 * 1024 * 1024);
    expect(err.message).toContain('readLimit, 67108864 bytes (64 MiB)');
    expect(err.message).toContain('conn.setReadLimit()');
    expect(new ReadLimitError(1000).message).toContain('readLimit, 1000 bytes;');
    expect(new ReadLimitError(1536).message).toContain('readLimit, 1536 bytes;');
  });

  test('CloseSentError carries the close code this side sent and says so', () => {
    const err = new CloseSentError(1001, 'restarting');
    expect(err).toMatchObject({
      code: 'ERR_WS_CLOSE_SENT',
      closeCode: 1001,
      closeText: 'restarting',
    });
    expect(err.message).toBe(
      'websocket: close sent: this side closed the connection with 1001 (going away) "restarting"; ' +
        'nothing can be written after its close frame',
    );
    expect(new CloseSentError()).toMatchObject({ closeCode: 1005, closeText: '' });
  });

  test('a CloseError may say more than its code and reason', () => {
    const err = new CloseError(1009, 'too big', { detail: 'the peer closed the connection' });
    expect(err.message).toBe(
      'websocket: close 1009 (message too big): too big; the peer closed the connection',
    );
    expect(err).toMatchObject({ code: 1009, text: 'too big' });
  });

  test("a keepalive TimeoutError has its own code, a deadline's keeps ERR_WS_TIMEOUT", () => {
    expect(new TimeoutError('read').code).toBe('ERR_WS_TIMEOUT');
    const err = new TimeoutError('keepalive', 'ERR_WS_KEEPALIVE', 'nothing received');
    expect(err).toMatchObject({ code: 'ERR_WS_KEEPALIVE', name: 'TimeoutError' });
    expect(err.message).toBe('websocket: keepalive timeout: nothing received');
  });

  test('HandshakeError carries the status and the response', () => {
    const response = {
      status: 401,
      statusText: 'Unauthorized',
      headers: {},
      body: Buffer.from('no'),
    };
    expect(new HandshakeError('bad status', 401, response)).toMatchObject({
      status: 401,
      response,
    });
    expect(new HandshakeError('refused', 403).response).toBeUndefined();
  });

  test('cause passes through', () => {
    const cause = new Error('socket hang up');
    expect(new CloseError(1006, '', { cause }).cause).toBe(cause);
    expect(new HandshakeError('x', 0, undefined, { cause }).cause).toBe(cause);
  });
});

describe("CloseError messages use gorilla's labels", () => {
  test.each([
    [1000, 'normal'],
    [1001, 'going away'],
    [1002, 'protocol error'],
    [1003, 'unsupported data'],
    [1005, 'no status'],
    [1006, 'abnormal closure'],
    [1007, 'invalid payload data'],
    [1008, 'policy violation'],
    [1009, 'message too big'],
    [1010, 'mandatory extension missing'],
    [1011, 'internal server error'],
    [1015, 'TLS handshake error'],
  ])('%i (%s)', (code, label) => {
    expect(new CloseError(code).message).toBe(`websocket: close ${code} (${label})`);
    expect(new CloseError(code, 'bye').message).toBe(`websocket: close ${code} (${label}): bye`);
  });

  test('codes without a label show the number alone', () => {
    expect(new CloseError(4000, 'app').message).toBe('websocket: close 4000: app');
    expect(new CloseError(3001)).toMatchObject({ code: 3001, text: '' });
  });
});

describe('instanceof across two copies of the package', () => {
  let other: typeof errors;
  beforeAll(async () => {
    await jest.isolateModulesAsync(async () => {
      other = await import('../src/errors.js');
    });
  });

  test('the second copy has classes of its own', () => {
    expect(other.CloseError).not.toBe(CloseError);
  });

  test('errors of either copy are instances of the other copy’s classes', () => {
    const theirs = new other.CloseError(1001, 'away');
    expect(theirs instanceof CloseError).toBe(true);
    expect(theirs instanceof WebSocketError).toBe(true);
    expect(theirs instanceof ProtocolError).toBe(false);
    expect(new CloseError(1000) instanceof other.CloseError).toBe(true);
    expect(new ReadLimitError(1) instanceof other.WebSocketError).toBe(true);
    expect(new ReadLimitError(1) instanceof other.TimeoutError).toBe(false);
    expect(new other.TimeoutError('read') instanceof TimeoutError).toBe(true);
    expect(new other.HandshakeError('x', 400) instanceof CloseError).toBe(false);
  });

  test('the predicates accept close errors from the other copy', () => {
    const theirs = new other.CloseError(1006);
    expect(isCloseError(theirs, 1006)).toBe(true);
    expect(isUnexpectedCloseError(theirs, 1000, 1001)).toBe(true);
    expect(other.isCloseError(new CloseError(1000), 1000)).toBe(true);
  });
});

describe('isCloseError and isUnexpectedCloseError (gorilla)', () => {
  const normal = new CloseError(1000);
  const away = new CloseError(1001);
  const abnormal = new CloseError(1006);

  test('isCloseError: a close error with one of the codes', () => {
    expect(isCloseError(normal, 1000, 1001)).toBe(true);
    expect(isCloseError(away, 1000, 1001)).toBe(true);
    expect(isCloseError(abnormal, 1000, 1001)).toBe(false);
    expect(isCloseError(new ProtocolError('x'), 1002)).toBe(false);
    expect(isCloseError(new Error('close 1000'), 1000)).toBe(false);
    expect(isCloseError(undefined, 1000)).toBe(false);
  });

  test('isCloseError without codes: any close error', () => {
    expect(isCloseError(abnormal)).toBe(true);
    expect(isCloseError(new TimeoutError('read'))).toBe(false);
  });

  test('isUnexpectedCloseError: a close error with none of the expected codes', () => {
    expect(isUnexpectedCloseError(abnormal, 1000, 1001)).toBe(true);
    expect(isUnexpectedCloseError(away, 1000, 1001)).toBe(false);
    expect(isUnexpectedCloseError(normal)).toBe(true);
    expect(isUnexpectedCloseError(new ProtocolError('x'), 1000)).toBe(false);
    expect(isUnexpectedCloseError('boom')).toBe(false);
  });

  test('they narrow the type', () => {
    const err: unknown = new CloseError(4000, 'x');
    if (isCloseError(err)) expect(err.text).toBe('x');
    else throw new Error('not narrowed');
  });
});
