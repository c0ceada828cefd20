// The bad-configuration corpus: each file in bad/ holds exactly one mistake. Its header says the key and
// (part of) the message expected; `# <-` marks the line the problem must be reported at; `# secret:` names
// text that must appear in no message.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatProblems, loadConfig } from '../../../../src/daemon/config/index.js';
import { BAD, NOW, TEST_ENV } from './support.js';

const files = readdirSync(BAD)
  .filter((name) => name.endsWith('.toml'))
  .sort();

describe('bad configuration corpus', () => {
  it('has at least 30 files', () => {
    assert.ok(files.length >= 30, `only ${files.length} files`);
  });

  for (const name of files) {
    it(name, async () => {
      const path = join(BAD, name);
      const text = readFileSync(path, 'utf8');
      const expect = /^# expect: (\S+): (.+)$/m.exec(text);
      assert.ok(expect, `${name} has no "# expect: KEY: message" header`);
      const [, key, message] = expect;
      const line = text.split('\n').findIndex((l) => l.includes('# <-')) + 1;
      assert.ok(line > 0, `${name} has no "# <-" marker`);

      const result = await loadConfig(path, { env: TEST_ENV, now: NOW });
      const lines = formatProblems(result.problems);
      assert.equal(result.config, undefined);
      assert.equal(result.problems.length, 1, `expected one problem, got:\n${lines.join('\n')}`);
      const [problem] = result.problems;
      assert.equal(problem?.severity, 'error');
      assert.equal(problem?.key, key, lines[0]);
      assert.equal(problem?.line, line, lines[0]);
      assert.ok(
        problem?.message.includes(message!),
        `message ${JSON.stringify(problem?.message)} lacks ${message}`,
      );
      assert.ok(lines[0]?.startsWith(`${path}:${line}:`), lines[0]);
      assert.ok(lines[0]?.includes(` ${key}: `), lines[0]);

      const secret = /^# secret: (.+)$/m.exec(text)?.[1];
      if (secret !== undefined) assert.ok(!lines.join('\n').includes(secret), `secret leaked: ${lines[0]}`);
    });
  }
});
