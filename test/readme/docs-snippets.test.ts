/**
 * Every code snippet of the documentation, beyond the root README's quick starts (readme.test.ts
 * runs those): the TypeScript blocks of every README and the examples in the packages' doc
 * comments (the API reference). Each one is type-checked against the built packages, with the
 * names it uses but does not declare (`conn`, `server`, `app`...) declared for it; each call of
 * `upgrade()` must handle its rejection (a refused request must not become an unhandled rejection
 * that ends the process); and the core README's overview runs as a program and echoes.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { connectWs } from '../helpers/ws-client';

const root = join(__dirname, '..', '..');
const workDir = join(root, 'test', 'artifacts', 'docs');

/** A snippet: its code, where it comes from, and which package's names it may use undeclared. */
interface Snippet {
  where: string;
  code: string;
  pkg: 'websocket' | 'express' | 'fastify' | 'koa' | 'hub';
}

function packageOf(path: string): Snippet['pkg'] {
  for (const pkg of ['express', 'fastify', 'koa', 'hub'] as const) {
    if (path.includes(`packages/${pkg}/`) || path.includes(`examples/${pkg}-`)) return pkg;
  }
  return 'websocket';
}

function fencedBlocks(text: string): string[] {
  const blocks: string[] = [];
  const fence = /^[ \t]*```ts\n([\s\S]*?)^[ \t]*```/gm;
  for (let m = fence.exec(text); m !== null; m = fence.exec(text)) blocks.push(m[1]!);
  return blocks;
}

function files(dir: string, test: (name: string) => boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(path, test));
    else if (test(entry.name)) out.push(path);
  }
  return out;
}

/** Every snippet of the READMEs (the root README's too) and of the doc comments. */
function collectSnippets(): Snippet[] {
  const snippets: Snippet[] = [];
  const readmes = [
    join(root, 'README.md'),
    ...files(join(root, 'packages'), (n) => n === 'README.md'),
    ...files(join(root, 'examples'), (n) => n === 'README.md'),
  ];
  for (const path of readmes) {
    fencedBlocks(readFileSync(path, 'utf8')).forEach((code, i) => {
      // An example's README imports from its own folder.
      const local = code.replace(/'\.\/src\//g, `'${join(path, '..', 'src')}/`);
      snippets.push({
        where: `${relative(root, path)} block ${i + 1}`,
        code: local,
        pkg: packageOf(path),
      });
    });
  }
  const sources = [
    ...files(join(root, 'packages'), (n) => n.endsWith('.ts')),
    ...files(join(root, 'examples'), (n) => n.endsWith('.ts')),
  ].filter((path) => path.includes(`${join('', 'src')}/`));
  for (const path of sources) {
    const text = readFileSync(path, 'utf8');
    const comments = text.match(/\/\*\*[\s\S]*?\*\//g) ?? [];
    comments.forEach((comment, c) => {
      const body = comment
        .slice(3, -2)
        .split('\n')
        .map((line) => line.replace(/^\s*\* ?/, ''))
        .join('\n');
      const examples = body.split(/^@example\b.*\n/m).slice(1);
      const blocks = [
        ...fencedBlocks(body),
        ...examples.map((example) => example.split(/^@\w+/m)[0]!),
      ];
      blocks.forEach((code, i) => {
        if (code.trim() === '') return;
        snippets.push({
          where: `${relative(root, path)} comment ${c + 1} example ${i + 1}`,
          code,
          pkg: packageOf(path),
        });
      });
    });
  }
  return snippets;
}

// What a snippet may use without declaring it, per package: the names the surrounding prose
// assumes. Only the ones a snippet uses and does not declare itself are added to it.
const common: Record<string, string> = {
  createServer: "import { createServer } from 'node:http';",
  pipeline: "import { pipeline } from 'node:stream/promises';",
  subscribe: "import { subscribe } from 'node:diagnostics_channel';",
  server: "declare const server: import('node:http').Server;",
  httpsServer: "declare const httpsServer: import('node:https').Server;",
  req: "declare const req: import('node:http').IncomingMessage;",
  socket: "declare const socket: import('node:stream').Duplex;",
  head: 'declare const head: Buffer;',
  conn: "declare const conn: import('@silverback/websocket').Conn;",
  upgrader: "declare const upgrader: import('@silverback/websocket').Upgrader;",
  err: 'declare const err: unknown;',
  token: 'declare const token: string;',
  pongWait: 'declare const pongWait: number;',
  writeWait: 'declare const writeWait: number;',
  pingPeriod: 'declare const pingPeriod: number;',
  conns: "declare const conns: import('@silverback/websocket').Conn[];",
  hub: "declare const hub: { serve(conn: import('@silverback/websocket').Conn): Promise<void> };",
  auth: 'declare const auth: (...args: any[]) => any;',
  allowed: 'declare const allowed: Set<string>;',
  serve: "declare function serve(conn: import('@silverback/websocket').Conn): Promise<void>;",
  anotherServer: "declare const anotherServer: import('node:http').Server;",
  handler: 'declare const handler: (...args: any[]) => any;',
  page: 'declare const page: string;',
  liveSocket: "declare const liveSocket: (conn: import('@silverback/websocket').Conn) => void;",
  subscribers: "declare const subscribers: import('@silverback/websocket').Conn[];",
  clients: "declare const clients: import('@silverback/websocket').Conn[];",
  update: 'declare const update: string;',
  key: 'declare const key: Buffer;',
  cert: 'declare const cert: Buffer;',
  expect: 'declare const expect: (value: unknown) => any;',
  Hub: "declare class Hub { serve(conn: import('@silverback/websocket').Conn): Promise<void>; }",
};
const perPackage: Record<Snippet['pkg'], Record<string, string>> = {
  websocket: {
    inject: "import { inject } from '@silverback/websocket/adapter';",
    app: 'declare const app: object;',
  },
  hub: {},
  express: {
    express: "import express from 'express';",
    app: "declare const app: import('express').Application;",
    router: "declare const router: import('express').Router;",
  },
  fastify: {
    app: "declare const app: import('fastify').FastifyInstance;",
    websocket: "import websocket from '@silverback/fastify';",
  },
  koa: {
    Koa: "import Koa from 'koa';",
    app: "declare const app: import('koa');",
    router: "import type KoaRouter from '@koa/router';\ndeclare const router: KoaRouter;",
  },
};
const packageModule: Record<Snippet['pkg'], string> = {
  websocket: '@silverback/websocket',
  hub: '@silverback/websocket',
  express: '@silverback/express',
  fastify: '@silverback/fastify',
  koa: '@silverback/koa',
};

function exportsOf(module: string): Set<string> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return new Set(Object.keys(require(join(root, 'node_modules', module)) as object));
}

/**
 * The snippet as a module that type-checks on its own: its imports first, the names it uses from
 * the prose declared, the rest inside an async function (fragments `return` and `await`).
 */
function asModule(snippet: Snippet): string {
  const source = ts.createSourceFile('s.ts', snippet.code, ts.ScriptTarget.ES2022, true);
  const declared = new Set<string>();
  const used = new Set<string>();
  const imports: string[] = [];
  const body: string[] = [];
  for (const statement of source.statements) {
    const text = statement.getFullText(source);
    if (ts.isImportDeclaration(statement)) {
      imports.push(text);
      const clause = statement.importClause;
      if (clause?.name) declared.add(clause.name.text);
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamedImports(bindings)) {
        for (const element of bindings.elements) declared.add(element.name.text);
      } else if (bindings) declared.add(bindings.name.text);
      continue;
    }
    body.push(text.replace(/^(\s*)export (default )?/, '$1'));
  }
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node)) used.add(node.text);
    if (
      (ts.isVariableDeclaration(node) ||
        ts.isFunctionDeclaration(node) ||
        ts.isClassDeclaration(node) ||
        ts.isParameter(node)) &&
      node.name !== undefined &&
      ts.isIdentifier(node.name)
    ) {
      declared.add(node.name.text);
    }
    if (ts.isBindingElement(node) && ts.isIdentifier(node.name)) declared.add(node.name.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  const module = packageModule[snippet.pkg];
  const exported = exportsOf(module);
  const websocketExports = exportsOf('@silverback/websocket');
  const prelude: string[] = [];
  const fromPackage: string[] = [];
  const fromCore: string[] = [];
  const known = { ...common, ...perPackage[snippet.pkg] };
  for (const name of used) {
    if (declared.has(name)) continue;
    if (Object.hasOwn(known, name)) prelude.push(known[name]!);
    else if (exported.has(name)) fromPackage.push(name);
    else if (websocketExports.has(name)) fromCore.push(name);
  }
  if (fromPackage.length > 0) {
    prelude.push(`import { ${fromPackage.join(', ')} } from '${module}';`);
  }
  if (fromCore.length > 0) {
    prelude.push(`import { ${fromCore.join(', ')} } from '@silverback/websocket';`);
  }
  return `${imports.join('\n')}\n${prelude.join('\n')}\nexport async function snippet(): Promise<void> {\n${body.join('\n')}\n}\n`;
}

/** Whether an `upgrade()` call's rejection is handled: `.then(ok, failed)`, `.catch()`, try. */
function handled(call: ts.Node): boolean {
  let node = call;
  for (;;) {
    const parent = node.parent;
    if (ts.isParenthesizedExpression(parent)) {
      node = parent;
      continue;
    }
    if (ts.isPropertyAccessExpression(parent) && ts.isCallExpression(parent.parent)) {
      const method = parent.name.text;
      const args = parent.parent.arguments.length;
      if (method === 'catch' || (method === 'then' && args >= 2)) return true;
      if (method === 'then' || method === 'finally') {
        node = parent.parent;
        continue;
      }
      return false;
    }
    if (ts.isAwaitExpression(parent)) {
      for (let up: ts.Node = parent; up.parent !== undefined; up = up.parent) {
        if (ts.isTryStatement(up.parent) && up === up.parent.tryBlock) {
          return up.parent.catchClause !== undefined;
        }
        if (ts.isFunctionLike(up)) return false;
      }
      return false;
    }
    return false;
  }
}

/** The snippet's `upgrade()` calls whose rejection nothing handles, as their source text. */
function unhandledUpgrades(snippet: Snippet): string[] {
  const source = ts.createSourceFile('s.ts', snippet.code, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      ['upgrade', 'upgradeStream'].includes(node.expression.name.text) &&
      !handled(node)
    ) {
      found.push(node.getText(source));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const snippets = collectSnippets();

test('the documentation has snippets, and the upgrade examples among them', () => {
  expect(snippets.length).toBeGreaterThan(40);
  const upgrading = snippets.filter((s) => /\.upgrade\(/.test(s.code)).map((s) => s.where);
  expect(upgrading).toEqual(
    expect.arrayContaining([
      'README.md block 2',
      'packages/websocket/README.md block 1',
      expect.stringMatching(/^packages\/websocket\/src\/index\.ts comment 1/),
      expect.stringMatching(/^packages\/websocket\/src\/server\.ts comment/),
    ]),
  );
});

test("every upgrade() in the documentation handles the upgrade's rejection", () => {
  const offenders = snippets.flatMap((s) =>
    unhandledUpgrades(s).map((call) => `${s.where}: ${call}`),
  );
  expect(offenders).toEqual([]);
});

test('the handling check itself tells handled from unhandled', () => {
  const check = (code: string): string[] =>
    unhandledUpgrades({ where: 't', code, pkg: 'websocket' });
  expect(
    check('server.on("upgrade", async (req, s, h) => { const c = await u.upgrade(req, s, h); });'),
  ).toHaveLength(1);
  expect(check('u.upgrade(req, s, h).then(serve);')).toHaveLength(1);
  expect(check('u.upgrade(req, s, h).then(serve, () => {});')).toEqual([]);
  expect(check('u.upgrade(req, s, h).then(serve).catch(log);')).toEqual([]);
  expect(check('async () => { try { await u.upgrade(req, s, h); } catch { return; } };')).toEqual(
    [],
  );
  expect(
    check('async () => { try { await u.upgrade(req, s, h); } finally { x(); } };'),
  ).toHaveLength(1);
});

test('every snippet type-checks against the packages', () => {
  mkdirSync(workDir, { recursive: true });
  const names = snippets.map((snippet, i) => {
    const path = join(workDir, `snippet-${i}.mts`);
    writeFileSync(path, asModule(snippet));
    return path;
  });
  const program = ts.createProgram(names, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
  });
  const problems = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file !== undefined && names.includes(d.file.fileName))
    .map((d) => {
      const index = names.indexOf(d.file!.fileName);
      return `${snippets[index]!.where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
  expect(problems).toEqual([]);
});

test("the core README's overview runs as a program and echoes", async () => {
  mkdirSync(workDir, { recursive: true });
  const readme = readFileSync(join(root, 'packages', 'websocket', 'README.md'), 'utf8');
  const [server, serve] = fencedBlocks(readme);
  const program = `${server}\n${serve}`.replace(
    'server.listen(8080);',
    "server.listen(0, '127.0.0.1', () => process.send?.(server.address()));",
  );
  expect(program).toContain('process.send');
  const { outputText } = ts.transpileModule(program, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const script = join(workDir, 'overview.mjs');
  writeFileSync(script, outputText);
  const child = spawn(process.execPath, [script], {
    cwd: workDir,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const [address] = (await once(child, 'message')) as [{ port: number }];
    const client = await connectWs(`ws://127.0.0.1:${address.port}/echo`);
    client.ws.send('from the overview');
    expect(await client.next()).toBe('from the overview');
    // A refused upgrade (another origin: 403) does not take the server down.
    await expect(
      connectWs(`ws://127.0.0.1:${address.port}/echo`, { origin: 'http://elsewhere.example' }),
    ).rejects.toThrow(/403/);
    client.ws.send('still serving');
    expect(await client.next()).toBe('still serving');
    client.ws.close();
  } finally {
    child.kill();
    await once(child, 'exit');
  }
});
