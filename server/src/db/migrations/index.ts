import type { QueryInterface } from 'sequelize';
import * as m001 from './001-initial.js';
import * as m002 from './002-room-bans.js';
import * as m003 from './003-name-skeletons.js';
import * as m004 from './004-limits-guest-emails.js';
import * as m005 from './005-search.js';
import * as m006 from './006-mentions.js';
import * as m007 from './007-reactions-replies.js';
import * as m008 from './008-search-index-rowids.js';

type Step = (params: { context: QueryInterface }) => Promise<void>;

/** Every migration in order. Listed rather than globbed so that the built and the source trees run the same set. */
export const migrations: { name: string; up: Step; down: Step }[] = [
  { name: '001-initial', ...m001 },
  { name: '002-room-bans', ...m002 },
  { name: '003-name-skeletons', ...m003 },
  { name: '004-limits-guest-emails', ...m004 },
  { name: '005-search', ...m005 },
  { name: '006-mentions', ...m006 },
  { name: '007-reactions-replies', ...m007 },
  { name: '008-search-index-rowids', ...m008 },
];
