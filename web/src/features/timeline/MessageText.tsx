import { useSyncExternalStore, type ReactNode } from 'react';
import { isEmojiOnly, mayHaveShortcodes, replaceShortcodes } from '../../lib/emojiText';
import { linkify } from '../../lib/linkify';
import { highlightMentions } from '../../lib/mentions';
import type * as RichText from '../../lib/richText';
import type { RichTextOptions } from '../../lib/richText';
import { useEmojiData } from '../emoji/emojiData';

/*
 * The Markdown renderer (markdown-it, ≈ 42 KB gzipped) is a chunk of its own, asked for as soon as the app starts:
 * it arrives while the session and the first messages load, and the entry bundle stays as small as before.
 * Until it is there (or if it cannot be fetched) a message shows as plain text with its links and mentions.
 */
let richText: typeof RichText | null = null;
const listeners = new Set<() => void>();
import('../../lib/richText').then(
  (m) => {
    richText = m;
    listeners.forEach((l) => l());
  },
  () => undefined,
);
const subscribe = (l: () => void) => {
  listeners.add(l);
  return () => listeners.delete(l);
};

/**
 * A message's text, formatted (lib/richText.tsx). `:shortcodes:` show as typed until the emoji data has loaded,
 * which only a message that has one asks for. A message of a few emoji and nothing else is shown larger.
 */
export function MessageText({
  text,
  id,
  mentions,
  trailer,
}: {
  text: string;
  id?: string;
  mentions?: RichTextOptions['mentions'];
  trailer?: ReactNode;
}) {
  const renderer = useSyncExternalStore(subscribe, () => richText);
  const wantsEmoji = mayHaveShortcodes(text);
  const data = useEmojiData(wantsEmoji);
  const shortcodes = wantsEmoji ? (data?.byShortcode ?? null) : null;
  const jumbo = isEmojiOnly(shortcodes ? replaceShortcodes(text, shortcodes) : text);
  return (
    <div className={`message-text${jumbo ? ' emoji-only' : ''}${renderer ? '' : ' plain'}`} id={id}>
      {renderer ? (
        renderer.renderRichText(text, { mentions, shortcodes, trailer })
      ) : (
        <>
          {mentions ? highlightMentions(linkify(text), mentions) : linkify(text)}
          {trailer}
        </>
      )}
    </div>
  );
}
