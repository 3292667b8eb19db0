import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

test('sources and tests type-check, and handlers are assignable to RxDB 17 and RxDB 14 types', () => {
  const result = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.test.json'], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.is(result.status, 0, `tsc reported:\n${result.stdout}${result.stderr}`);
});

test.run();
