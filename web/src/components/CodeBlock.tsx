import { useEffect, useRef, useState } from 'react';

type CopyState = 'idle' | 'copied' | 'failed';

/**
 * A fenced code block of a message: monospace, scrolled sideways rather than wrapped (code keeps its lines), with
 * a Copy button. The <pre> is focusable so that a keyboard can scroll it too. Where the clipboard is refused, the
 * code is selected instead, ready for Ctrl+C.
 */
export function CodeBlock({ code, language }: { code: string; language: string }) {
  const [state, setState] = useState<CopyState>('idle');
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    if (state === 'idle') return;
    const t = setTimeout(() => setState('idle'), 2500);
    return () => clearTimeout(t);
  }, [state]);
  const copy = () => {
    navigator.clipboard.writeText(code).then(
      () => setState('copied'),
      () => {
        if (pre.current) window.getSelection()?.selectAllChildren(pre.current);
        setState('failed');
      },
    );
  };
  return (
    <div className="code-block">
      <pre ref={pre} tabIndex={0} data-language={language || undefined}>
        <code>{code}</code>
      </pre>
      <button type="button" className="button tiny code-copy" onClick={copy}>
        {state === 'copied' ? 'Copied' : 'Copy'}
      </button>
      <span className="sr-only" role="status">
        {state === 'copied'
          ? 'Code copied'
          : state === 'failed'
            ? 'Could not copy: the code is selected'
            : ''}
      </span>
    </div>
  );
}
