import { describe, expect, it } from 'vitest';
import { claimKey, displayNameClaim, roomNameClaim, usernameClaim } from './claims.js';
import { displayNameSkeleton, roomNameSkeleton, skeleton, usernameSkeleton } from './skeleton.js';

describe('skeleton (UTS #39)', () => {
  it('maps confusables to their prototypes, NFD before and after', () => {
    expect(skeleton('ℜ𝘂ᖯʏ')).toBe('Ruby');
    expect(skeleton('pаypal')).toBe(skeleton('paypal')); // Cyrillic а
    expect(skeleton('m')).toBe('rn');
    expect(skeleton('rn')).toBe('rn');
    expect(skeleton('0')).toBe('O');
    expect(skeleton('1')).toBe(skeleton('l'));
    expect(skeleton('I')).toBe(skeleton('l'));
    // NFD: a precomposed é and e + combining acute are one skeleton.
    expect(skeleton('caf\u00e9')).toBe(skeleton('cafe\u0301'));
  });

  it('drops default-ignorable code points (UTS #39 step 2)', () => {
    for (const c of [
      '\u200b',
      '\u00ad',
      '\u2061',
      '\u3164',
      '\ufe0f',
      '\u{e0041}',
      '\u206a',
      '\u061c',
      '\u115f',
    ])
      expect(skeleton(`gen${c}eral`)).toBe('general');
  });

  it('is idempotent', () => {
    for (const s of ['victim', 'ℜ𝘂ᖯʏ', 'Анна', 'cl0ud', '👩‍👩‍👧'])
      expect(skeleton(skeleton(s))).toBe(skeleton(s));
  });
});

describe('usernameSkeleton', () => {
  it('gives look-alikes of a name one key: separators, case, digits, rn for m, I for l', () => {
    const key = usernameSkeleton('victim');
    for (const n of [
      'victim.',
      '.victim',
      'v.i.c.t.i.m',
      'v_ictim',
      'vic-tim',
      'VICTIM',
      'vIctim',
      'vict1m',
      'victirn',
    ])
      expect(usernameSkeleton(n), n).toBe(key);
    expect(usernameSkeleton('cl0ud')).toBe(usernameSkeleton('cloud'));
    // Beyond confusables.txt, for people's names only: d → cl, w → vv.
    expect(usernameSkeleton('d0ud')).toBe(usernameSkeleton('cl0ud'));
    expect(usernameSkeleton('vvalter')).toBe(usernameSkeleton('walter'));
    expect(displayNameSkeleton('D0ud')).toBe(usernameSkeleton('cloud'));
    expect(usernameSkeleton('adm1n')).toBe(usernameSkeleton('admin'));
    expect(usernameSkeleton('admln')).toBe(usernameSkeleton('AdMIn'));
  });

  it('keeps names apart that Unicode does not call confusable', () => {
    expect(usernameSkeleton('ana')).not.toBe(usernameSkeleton('anna'));
    expect(usernameSkeleton('bob')).not.toBe(usernameSkeleton('bop'));
    // Room names are words: `dear` and `clear` are two rooms.
    expect(roomNameSkeleton('dear')).not.toBe(roomNameSkeleton('clear'));
  });
});

describe('displayNameSkeleton and roomNameSkeleton', () => {
  it('compares a display name with usernames: white space and separators do not count', () => {
    expect(displayNameSkeleton('Victim')).toBe(usernameSkeleton('victim'));
    expect(displayNameSkeleton('v i c t i m')).toBe(usernameSkeleton('victim'));
    expect(displayNameSkeleton('Vіctim')).toBe(usernameSkeleton('victim')); // Ukrainian і
    expect(displayNameSkeleton('...')).toBe('');
  });

  it('reads room names as shown: case, confusables and runs of spaces', () => {
    expect(roomNameSkeleton('General')).toBe('general');
    expect(roomNameSkeleton('gеneral')).toBe('general'); // Cyrillic е
    expect(roomNameSkeleton('𝗀𝖾𝗇𝖾𝗋𝖺𝗅')).toBe('general');
    expect(roomNameSkeleton('design  review')).toBe(roomNameSkeleton('design review'));
    expect(roomNameSkeleton('design review')).not.toBe(roomNameSkeleton('designreview'));
  });
});

describe('claim keys', () => {
  it('are fixed-size digests of the skeleton', () => {
    expect(claimKey('x'.repeat(2000))).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(usernameClaim('victim.')).toBe(usernameClaim('victim'));
    expect(roomNameClaim('gеneral')).toBe(roomNameClaim('general'));
  });

  it('a display name that reads as its own username claims nothing of its own', () => {
    expect(displayNameClaim('Ana', 'ana')).toBeNull();
    expect(displayNameClaim('a.n.a', 'ana')).toBeNull();
    expect(displayNameClaim('---', 'ana')).toBeNull();
    expect(displayNameClaim('Victim', 'ana')).toBe(usernameClaim('victim'));
  });
});
