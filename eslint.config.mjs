// ESLint, run by `npm test` (scripts/setup.sh test) after the typecheck: type-aware rules that
// catch the bugs async Node code hides from tsc (a promise nobody awaits, an async callback where a
// sync one is expected, an await on a non-promise, a `return` that lets a rejection skip its catch).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'dist-tools/', 'node_modules/', 'data/', 'test-artifacts/'] },
  // A disable comment that no longer suppresses anything is an error: no stale or untrue ones.
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // `void p` marks a deliberate fire-and-forget whose errors are handled inside; anything else is awaited or caught.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      // `return promise` inside try lets its rejection skip the catch (and the finally run too early).
      '@typescript-eslint/return-await': ['error', 'error-handling-correctness-only'],
      // Off: async functions without await implement Promise-returning interfaces (sources, fakes, jest mocks);
      // a forgotten await shows up as a floating promise instead.
      '@typescript-eslint/require-await': 'off',
      // Off: String(x) on protocol data typed unknown (tags, JSON, frames) is the deliberate coercion at the boundary.
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
  {
    // Tests read JSON bodies and fixtures as `any` and check their shape with expect(): no-unsafe-* would only ask for casts.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  { files: ['**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  {
    // The pages' own scripts run in the browser, outside any tsconfig: the plain rules, with the
    // browser's globals and those of the players the page loads before them.
    files: ['src/control/public/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'script',
      globals: Object.fromEntries(['window', 'document', 'console', 'fetch', 'AbortController', 'setTimeout', 'clearTimeout', 'Hls', 'mpegts'].map((g) => [g, 'readonly'])),
    },
  },
);
