/**
 * The framework chats' sign-in page: one form that posts a name to `/login`.
 *
 * @module
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the page's template lives; `src/` and `dist/` are both one level below it. */
export const loginTemplatePath = join(__dirname, '..', 'public', 'login.html');

/** Options of {@link loginPage}. */
export interface LoginPageOptions {
  /** The page's title, as text: it names the framework serving the chat. */
  title: string;
  /** An `id` for the form, for whoever looks the form up by it; default: none. */
  formId?: string;
}

/**
 * Renders the sign-in page: a form that posts `name` (1 to 32 characters, see
 * {@link chatName}) to `/login` as `application/x-www-form-urlencoded`.
 *
 * @throws the read error when the template cannot be read.
 */
export function loginPage(options: LoginPageOptions): string {
  const { title, formId } = options;
  const page = readFileSync(loginTemplatePath, 'utf8').replace('{{title}}', () =>
    escapeHtml(title),
  );
  if (formId === undefined) return page;
  return page.replace('<form ', () => `<form id="${escapeHtml(formId)}" `);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
