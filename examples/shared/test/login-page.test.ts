/**
 * The framework chats' sign-in page: one template, each chat's title, and a form id for the chat
 * whose tests look the form up by it.
 */
import { loginPage } from '../src/login-page';

test('renders the form that posts a name to /login, under the given title', () => {
  const page = loginPage({ title: 'silverback chat (Fastify): sign in' });
  expect(page).toMatch(/^<!doctype html>/);
  expect(page).toContain('<title>silverback chat (Fastify): sign in</title>');
  expect(page).toContain('<form method="post" action="/login">');
  expect(page).toContain('<input id="name" name="name" maxlength="32"');
  expect(page).toContain('<button type="submit">');
  expect(page).not.toContain('{{');
});

test('gives the form an id when asked, and escapes what it fills in', () => {
  const page = loginPage({ title: 'Koa & <friends>', formId: 'login' });
  expect(page).toContain('<title>Koa &#38; &#60;friends&#62;</title>');
  expect(page).toContain('<form id="login" method="post" action="/login">');
});
