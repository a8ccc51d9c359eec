// Lint rules for hyperlm (flat config): typescript-eslint's recommended rules on src, scripts and test;
// formatting is prettier's job (.prettierrc.json), so no stylistic rules here.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'out/**', 'runs/**', 'test/fixtures/**/*.js'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // tfjs's kernel and customGrad signatures need casts through unknown and never
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
