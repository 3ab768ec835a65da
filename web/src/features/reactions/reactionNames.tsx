import type { Member, Message, User } from '@parley/protocol';
import { createContext, useContext, useState, type ReactNode } from 'react';

/** A user's display name by id, or undefined for someone the client does not know. */
export type NameOf = (userId: string) => string | undefined;

/** Where the names of who reacted come from: the room's members, the authors the client holds, whoever is online. */
export interface NameSources {
  members: Member[] | undefined;
  messages: Message[] | undefined;
  online: Record<string, User>;
}

/**
 * The names behind a timeline's reaction tooltips. It keeps the last lookup it built, so every chip of the room
 * shares one until the members, the messages or the presence change (compared by identity: store snapshots).
 */
export interface ReactionNames {
  /** The lookup for these sources: the last one built when they are the same objects, else a new one. */
  lookup(sources: NameSources): NameOf;
}

/** A store of its own, for one mounted timeline (the provider's), or for one chip outside any provider. */
export function createReactionNames(): ReactionNames {
  let last: { sources: NameSources; nameOf: NameOf } | null = null;
  return {
    lookup(sources) {
      if (
        last &&
        last.sources.members === sources.members &&
        last.sources.messages === sources.messages &&
        last.sources.online === sources.online
      ) {
        return last.nameOf;
      }
      // Later sources win: a member's name over who is online, over the name a held message carries.
      const names = new Map<string, string>();
      for (const m of sources.messages ?? []) if (m.author) names.set(m.author.id, m.author.displayName);
      for (const u of Object.values(sources.online)) names.set(u.id, u.displayName);
      for (const m of sources.members ?? []) names.set(m.user.id, m.user.displayName);
      const nameOf: NameOf = (id) => names.get(id);
      last = { sources, nameOf };
      return nameOf;
    },
  };
}

const ReactionNamesContext = createContext<ReactionNames | null>(null);

/** Gives the chips below one store of reaction names, built once for as long as the provider stays mounted. */
export function ReactionNamesProvider({ children }: { children: ReactNode }) {
  const [names] = useState(createReactionNames);
  return <ReactionNamesContext.Provider value={names}>{children}</ReactionNamesContext.Provider>;
}

/**
 * The reaction names of the enclosing timeline. Outside a `ReactionNamesProvider` (a chip rendered on its own)
 * the component gets a store of its own: the lookups are the same, only not shared with other chips.
 */
export function useReactionNames(): ReactionNames {
  const provided = useContext(ReactionNamesContext);
  const [own] = useState(() => provided ?? createReactionNames());
  return provided ?? own;
}
