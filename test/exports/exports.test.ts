/**
 * The built packages, loaded as users load them: through each package's `exports` map, once with
 * `require` and once with `import`, in a plain Node process (not Jest's module system). Both
 * entries must offer the same names, and be one copy of the code (an error class from one is the
 * error class from the other), and every entry must have its type declarations.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = join(__dirname, '..', '..');
const entries = [
  '@silverback/websocket',
  '@silverback/websocket/adapter',
  '@silverback/express',
  '@silverback/fastify',
  '@silverback/koa',
];

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
}

function namesByRequire(entry: string): string[] {
  const script = `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(entry)})).sort()))`;
  return JSON.parse(node(['-e', script])) as string[];
}

function namesByImport(entry: string): string[] {
  const script = `const m = await import(${JSON.stringify(entry)}); console.log(JSON.stringify(Object.keys(m).filter((k) => k !== 'default' && k !== 'module.exports').sort()))`;
  return JSON.parse(node(['--input-type=module', '-e', script])) as string[];
}

describe.each(entries)('%s', (entry) => {
  test('require and import offer the same names', () => {
    const required = namesByRequire(entry).filter((name) => name !== 'default');
    expect(required.length).toBeGreaterThan(0);
    expect(namesByImport(entry)).toEqual(required);
  });

  test('the exports map points at files that exist, with declarations for both forms', () => {
    const [scope, name, ...rest] = entry.split('/');
    const pkgDir = join(root, 'node_modules', scope!, name!);
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as {
      exports: Record<string, { import: Record<string, string>; require: Record<string, string> }>;
    };
    const target = pkg.exports[rest.length === 0 ? '.' : `./${rest.join('/')}`]!;
    for (const file of [
      target.import.types,
      target.import.default,
      target.require.types,
      target.require.default,
    ]) {
      expect(existsSync(join(pkgDir, file!))).toBe(true);
    }
    expect(dirname(target.import.default!)).toBe(dirname(target.require.default!));
  });
});

test('ESM and CommonJS share one copy of the core: classes are identical across the two', () => {
  const script = [
    "import { createRequire } from 'node:module';",
    'const require = createRequire(import.meta.url);',
    "const esm = await import('@silverback/websocket');",
    "const cjs = require('@silverback/websocket');",
    'console.log(JSON.stringify([esm.CloseError === cjs.CloseError, esm.Conn === cjs.Conn,',
    '  new cjs.CloseError(1000) instanceof esm.WebSocketError]));',
  ].join('\n');
  expect(JSON.parse(node(['--input-type=module', '-e', script]))).toEqual([true, true, true]);
});
