import { Fragment, type ReactNode } from 'react';
import { CodeBlock } from '../components/CodeBlock';
import { replaceShortcodes } from './emojiText';
import { linkify, safeHref } from './linkify';
import { parseMarkdown, type Token } from './markdown';
import { highlightMentions } from './mentions';

/** What a message's text is rendered with, besides the text itself. */
export interface RichTextOptions {
  /** Mention highlighting (mentions.tsx); omitted: `@names` stay plain. */
  mentions?: { anyMention: boolean; mentionsMe: boolean; myUsername: string | null };
  /** `:shortcode:` → emoji, once the emoji data has loaded; null: shortcodes show as typed. */
  shortcodes?: ReadonlyMap<string, string> | null;
  /** Inline content placed at the end of the last paragraph (such as "(edited)"), or after the last block. */
  trailer?: ReactNode;
}

/** One open element while tokens are folded into a tree. */
interface Frame {
  token: Token | null;
  children: ReactNode[];
}

/** The element a container token (`*_open` … `*_close`) becomes; unknown ones keep only their content. */
function element(token: Token, key: number, children: ReactNode[]): ReactNode {
  switch (token.type) {
    case 'paragraph_open':
      // The paragraphs of a tight list item are hidden: their text goes straight into the <li>.
      return token.hidden ? <Fragment key={key}>{children}</Fragment> : <p key={key}>{children}</p>;
    case 'blockquote_open':
      return <blockquote key={key}>{children}</blockquote>;
    case 'bullet_list_open':
      return <ul key={key}>{children}</ul>;
    case 'ordered_list_open': {
      const start = Number(token.attrGet('start') ?? 1);
      return (
        <ol key={key} start={Number.isSafeInteger(start) && start !== 1 ? start : undefined}>
          {children}
        </ol>
      );
    }
    case 'list_item_open':
      return <li key={key}>{children}</li>;
    case 'strong_open':
      return <strong key={key}>{children}</strong>;
    case 'em_open':
      return <em key={key}>{children}</em>;
    case 's_open':
      return <s key={key}>{children}</s>;
    case 'link_open': {
      // validateLink (markdown.ts) already refused other schemes; checked again here, where the href is used.
      const href = safeHref(String(token.attrGet('href') ?? ''));
      if (!href) return <Fragment key={key}>{children}</Fragment>;
      const web = !href.startsWith('mailto:');
      return (
        <a
          key={key}
          href={href}
          target={web ? '_blank' : undefined}
          rel={web ? 'noopener noreferrer' : undefined}
        >
          {children}
        </a>
      );
    }
    default:
      return <Fragment key={key}>{children}</Fragment>;
  }
}

/**
 * Folds a flat token list (markdown-it's `nesting`: 1 opens, -1 closes, 0 is a leaf) into React nodes. An
 * explicit stack, not recursion, so the work is linear in the number of tokens whatever their depth.
 */
function fold(
  tokens: Token[],
  leaf: (t: Token, key: number, inLink: boolean) => ReactNode,
  trailer?: ReactNode,
) {
  const root: Frame = { token: null, children: [] };
  const stack: Frame[] = [root];
  let links = 0;
  const last = tokens.length - 1;
  tokens.forEach((t, key) => {
    const top = stack[stack.length - 1]!;
    if (t.nesting === 1) {
      if (t.type === 'link_open') links++;
      stack.push({ token: t, children: [] });
    } else if (t.nesting === -1) {
      if (stack.length === 1) return; // an unmatched close: nothing to end
      const frame = stack.pop()!;
      if (frame.token!.type === 'link_open') links--;
      // The trailer joins the message's last paragraph, where it reads as part of the sentence.
      if (key === last && trailer !== undefined && t.type === 'paragraph_close' && !frame.token!.hidden) {
        frame.children.push(<Fragment key="trailer">{trailer}</Fragment>);
        trailer = undefined;
      }
      stack[stack.length - 1]!.children.push(element(frame.token!, key, frame.children));
    } else {
      top.children.push(leaf(t, key, links > 0));
    }
  });
  // Anything left open (markdown-it always closes what it opens) still shows.
  while (stack.length > 1) {
    const frame = stack.pop()!;
    stack[stack.length - 1]!.children.push(element(frame.token!, -stack.length, frame.children));
  }
  if (trailer !== undefined) root.children.push(<Fragment key="trailer">{trailer}</Fragment>);
  return root.children;
}

/**
 * Message text as React elements: Markdown (markdown.ts) for structure, then, in ordinary text only, emoji
 * shortcodes, bare links (links.ts) and `@mentions`. Code spans and blocks are shown exactly as typed. Every string
 * reaches the DOM as text through React; nothing is parsed as HTML and no element carries an event handler from
 * the message.
 */
export function renderRichText(text: string, opts: RichTextOptions = {}): ReactNode[] {
  const shortcodes = opts.shortcodes ?? null;
  const plain = (content: string, key: number, inLink: boolean): ReactNode => {
    const withEmoji = shortcodes ? replaceShortcodes(content, shortcodes) : content;
    // Links need a `:` or a `.`, mentions an `@`: most text tokens have neither.
    if (inLink || !/[:.@]/.test(withEmoji)) return <Fragment key={key}>{withEmoji}</Fragment>;
    const nodes = linkify(withEmoji);
    return <Fragment key={key}>{opts.mentions ? highlightMentions(nodes, opts.mentions) : nodes}</Fragment>;
  };
  const inline = (t: Token, key: number, inLink: boolean): ReactNode => {
    switch (t.type) {
      case 'text':
        return plain(t.content, key, inLink);
      case 'code_inline':
        return <code key={key}>{t.content}</code>;
      case 'softbreak':
      case 'hardbreak':
        // The newline stays in the text too (copying, textContent, screen readers); after a <br> it collapses.
        return (
          <Fragment key={key}>
            <br />
            {'\n'}
          </Fragment>
        );
      default:
        // Whatever else the parser may emit is shown as the characters it stands for.
        return <Fragment key={key}>{t.content}</Fragment>;
    }
  };
  const block = (t: Token, key: number): ReactNode => {
    switch (t.type) {
      case 'inline':
        return <Fragment key={key}>{fold(t.children ?? [], inline)}</Fragment>;
      case 'fence':
      case 'code_block':
        return (
          <CodeBlock
            key={key}
            code={t.content.replace(/\n$/, '')}
            language={t.info.trim().split(/\s/)[0] ?? ''}
          />
        );
      default:
        return <Fragment key={key}>{t.content}</Fragment>;
    }
  };
  return fold(parseMarkdown(text), block, opts.trailer);
}
