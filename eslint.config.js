import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.local/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'bench/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      // client-node's models are plain data classes; object literals of their shape are what it expects.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      '@typescript-eslint/no-misused-spread': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'exit', message: 'Only src/main.ts and CLI entry points may exit.' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          // A named import makes esbuild keep all of zod, every locale included (+16 MB RSS, and the
          // CLI's validate over its 512 KiB budget: test/unit/bundle.test.ts).
          selector: "ImportDeclaration[source.value='zod'] > ImportSpecifier",
          message: "Import zod as a namespace: import * as z from 'zod'.",
        },
      ],
    },
  },
  {
    // The operator's code (the CLI sorts for people, and lives for one command).
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'exit', message: 'Only src/main.ts and CLI entry points may exit.' },
        {
          // Its first call builds an ICU collator: ~3 MB of ICU's data and code mapped into the
          // operator (docs/benchmark.md, "Idle", session 3).
          property: 'localeCompare',
          message: "Sort with byCodeUnit (src/api/order.ts): localeCompare loads ICU's collation data.",
        },
      ],
    },
  },
  {
    files: ['src/main.ts', 'src/cli/main.ts', 'hack/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  { files: ['*.js', 'bench/*.mjs'], extends: [tseslint.configs.disableTypeChecked] },
);
