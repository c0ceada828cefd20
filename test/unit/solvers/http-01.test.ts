// The HTTP-01 solver and its registry: what present() registers, what cleanup() removes, and what it
// refuses (wildcards, other challenge types, tokens outside the base64url alphabet).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Http01Solver, HttpChallenges, isValidHttpChallengeToken } from '../../../src/solvers/http-01.js';
import type { PendingChallenge } from '../../../src/solvers/solver.js';

const signal = AbortSignal.timeout(10_000);

function challenge(token: string, thumbprint = 'thumbprint'): PendingChallenge {
  return {
    type: 'http-01',
    domain: 'a.example.test',
    wildcard: false,
    token,
    keyAuthorization: `${token}.${thumbprint}`,
  };
}

describe('the HTTP-01 registry', () => {
  it('finds an answer by its exact token only', () => {
    const challenges = new HttpChallenges();
    challenges.set('AbC-_09', 'AbC-_09.thumb');
    assert.equal(challenges.get('AbC-_09'), 'AbC-_09.thumb');
    assert.equal(challenges.get('abc-_09'), undefined, 'tokens are case-exact');
    assert.equal(challenges.get('AbC-_09 '), undefined);
    assert.equal(challenges.get('AbC'), undefined);
    assert.ok(challenges.has('AbC-_09'));
    assert.deepEqual(challenges.tokens(), ['AbC-_09']);
  });

  it('removes with a key authorization only the matching entry', () => {
    const challenges = new HttpChallenges();
    challenges.set('tok', 'tok.new');
    assert.equal(challenges.delete('tok', 'tok.old'), false);
    assert.equal(challenges.get('tok'), 'tok.new');
    assert.equal(challenges.delete('tok', 'tok.new'), true);
    assert.equal(challenges.size, 0);
    assert.equal(challenges.delete('tok'), false, 'deleting nothing is not an error');
  });

  it('refuses to register a token outside the base64url alphabet', () => {
    assert.throws(() => new HttpChallenges().set('a/b', 'a/b.x'), TypeError);
  });

  it('holds many tokens at once, each looked up in one step', () => {
    const challenges = new HttpChallenges();
    for (let i = 0; i < 10_000; i++) challenges.set(`t${i}`, `t${i}.k`);
    assert.equal(challenges.size, 10_000);
    assert.equal(challenges.get('t9999'), 't9999.k');
  });
});

describe('base64url token validation', () => {
  it('accepts the base64url alphabet and nothing else', () => {
    assert.ok(isValidHttpChallengeToken('evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA'));
    for (const bad of [
      '',
      '.',
      '..',
      'a.b',
      'a/b',
      'a\\b',
      '%2e%2e',
      'a b',
      'a=',
      'a+b',
      'ä',
      'a\n',
      'a?b',
    ]) {
      assert.equal(isValidHttpChallengeToken(bad), false, JSON.stringify(bad));
    }
  });
});

describe('the HTTP-01 solver', () => {
  it('has the type http-01', () => {
    assert.equal(new Http01Solver(new HttpChallenges()).type, 'http-01');
  });

  it('registers the key authorization under the token on present, and removes it on cleanup', async () => {
    const challenges = new HttpChallenges();
    const solver = new Http01Solver(challenges);
    const ch = challenge('tok1');
    await solver.present(ch, signal);
    assert.equal(challenges.get('tok1'), 'tok1.thumbprint');
    await solver.cleanup(ch, signal);
    assert.equal(challenges.get('tok1'), undefined);
    assert.equal(challenges.size, 0);
  });

  it('keeps several challenges in flight and cleans up only its own', async () => {
    const challenges = new HttpChallenges();
    const solver = new Http01Solver(challenges);
    const a = challenge('tokA');
    const b = { ...challenge('tokB'), domain: 'b.example.test' };
    await Promise.all([solver.present(a, signal), solver.present(b, signal)]);
    await solver.cleanup(a, signal);
    assert.deepEqual(challenges.tokens(), ['tokB']);
  });

  it('does not let a late cleanup of an older answer remove a newer one for the same token', async () => {
    const challenges = new HttpChallenges();
    const solver = new Http01Solver(challenges);
    const older = challenge('tok', 'old');
    const newer = challenge('tok', 'new');
    await solver.present(older, signal);
    await solver.present(newer, signal);
    await solver.cleanup(older, signal);
    assert.equal(challenges.get('tok'), 'tok.new');
  });

  it('tolerates cleanup with nothing to remove, even when the signal has already fired', async () => {
    await new Http01Solver(new HttpChallenges()).cleanup(challenge('never'), AbortSignal.abort());
  });

  it('refuses wildcard names with a message pointing at dns-01', async () => {
    const challenges = new HttpChallenges();
    await assert.rejects(
      new Http01Solver(challenges).present({ ...challenge('tok'), wildcard: true }, signal),
      (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /\*\.a\.example\.test/);
        assert.match(error.message, /dns-01/);
        return true;
      },
    );
    assert.equal(challenges.size, 0);
  });

  it('refuses other challenge types', async () => {
    const challenges = new HttpChallenges();
    await assert.rejects(
      new Http01Solver(challenges).present({ ...challenge('tok'), type: 'tls-alpn-01' }, signal),
      TypeError,
    );
    assert.equal(challenges.size, 0);
  });

  it('refuses tokens that are not base64url, registering nothing', async () => {
    const challenges = new HttpChallenges();
    const solver = new Http01Solver(challenges);
    for (const token of ['', '..', '../etc', 'a/b', '%2e%2e', 'a.b', 'tok\r\n', 'tök']) {
      await assert.rejects(solver.present(challenge(token), signal), TypeError, JSON.stringify(token));
    }
    assert.equal(challenges.size, 0);
  });

  it('refuses a key authorization that does not belong to the token', async () => {
    const challenges = new HttpChallenges();
    await assert.rejects(
      new Http01Solver(challenges).present({ ...challenge('tok'), keyAuthorization: 'other.thumb' }, signal),
      TypeError,
    );
    assert.equal(challenges.size, 0);
  });

  it('does not present when the signal has already fired', async () => {
    const challenges = new HttpChallenges();
    await assert.rejects(new Http01Solver(challenges).present(challenge('tok'), AbortSignal.abort()));
    assert.equal(challenges.size, 0);
  });
});
