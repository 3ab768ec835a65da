import type { ReactNode } from 'react';
import { MENTION, tokenNames } from './mentionText';

export { mentionQuery, tokenNames } from './mentionText';

/**
 * Message text nodes (from linkify) with each `@name` marked: `mention`, and `mention-me` for the viewer's own
 * name or an `@room` that named them. Only when the server resolved mentions for the message (`anyMention`), so
 * that `@nobody` stays plain text.
 */
export function highlightMentions(
  nodes: ReactNode[],
  opts: { anyMention: boolean; mentionsMe: boolean; myUsername: string | null },
): ReactNode[] {
  if (!opts.anyMention) return nodes;
  const out: ReactNode[] = [];
  nodes.forEach((node, n) => {
    if (typeof node !== 'string') return out.push(node);
    let last = 0;
    for (const match of node.matchAll(MENTION)) {
      const start = match.index;
      const token = match[1]!;
      const mine =
        opts.mentionsMe &&
        (tokenNames(token, 'room') || (opts.myUsername !== null && tokenNames(token, opts.myUsername)));
      if (start > last) out.push(node.slice(last, start));
      out.push(
        <mark key={`${n}-${start}`} className={`mention${mine ? ' mention-me' : ''}`}>
          {match[0]}
        </mark>,
      );
      last = start + match[0].length;
    }
    if (last < node.length) out.push(node.slice(last));
  });
  return out;
}
