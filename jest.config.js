/**
 * One Jest run over every package, example and cross-package suite. Tests import the packages'
 * TypeScript sources (`@silverback/*` maps to `packages/<name>/src`); the type check is
 * `npm run typecheck`, so ts-jest only transpiles.
 *
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/test', '<rootDir>/examples'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
  },
  moduleNameMapper: {
    '^@silverback/(websocket|express|fastify|koa)$': '<rootDir>/packages/$1/src/index.ts',
    '^@silverback/websocket/(.*)$': '<rootDir>/packages/websocket/src/$1.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testTimeout: 30000,
};
