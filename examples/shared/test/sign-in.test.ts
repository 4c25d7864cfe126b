/**
 * The framework chats' sign-in rules: which names are chat names, and the in-memory sessions
 * behind the session cookie.
 */
import { NAME_RULE, SESSION_COOKIE, Sessions, chatName } from '../src/sign-in';

test.each([
  ['ann', 'ann'],
  ['  Zoë Ann  ', 'Zoë Ann'],
  ['a.b_c-d 7', 'a.b_c-d 7'],
  ['x'.repeat(32), 'x'.repeat(32)],
])('%j is the chat name %j', (given, name) => {
  expect(chatName(given)).toBe(name);
});

test.each([[''], ['   '], ['x'.repeat(33)], ['<b>'], ['a;b'], [undefined], [null], [5], [['ann']]])(
  '%j is not a chat name',
  (given) => {
    expect(chatName(given)).toBeUndefined();
  },
);

test('the rule is told as a line of text', () => {
  expect(NAME_RULE).toBe('A name is 1 to 32 letters, digits, spaces, . _ or -\n');
});

test('a session started for a name is found again by the cookie carrying its token', () => {
  const sessions = new Sessions();
  const ann = sessions.start('ann');
  const bob = sessions.start('bob');
  expect(ann).toMatch(/^[A-Za-z0-9_-]{24}$/);
  expect(bob).not.toBe(ann);
  expect(sessions.userOf(`${SESSION_COOKIE}=${ann}`)).toBe('ann');
  expect(sessions.userOf(`theme=dark; ${SESSION_COOKIE}=${bob} ; other=1`)).toBe('bob');
  expect(sessions.get(ann)).toBe('ann');
});

test('no session without the cookie, or with a token it never gave', () => {
  const sessions = new Sessions();
  sessions.start('ann');
  expect(sessions.userOf(undefined)).toBeUndefined();
  expect(sessions.userOf('')).toBeUndefined();
  expect(sessions.userOf(`${SESSION_COOKIE}=forged`)).toBeUndefined();
  expect(sessions.userOf(`not_${SESSION_COOKIE}=x; =${SESSION_COOKIE}`)).toBeUndefined();
});
