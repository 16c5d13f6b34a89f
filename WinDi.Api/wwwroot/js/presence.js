// Who is online and who is typing, as people read it: a dot, "online" or "last seen 5 minutes ago",
// and "Ben is typing…" / "Ben and Ann are typing…".

import { state, typersIn } from './state.js';
import { formatLastSeen } from './format.js';

export const isOnline = (userId) => state.presence.get(userId)?.online === true;

/** "online", "last seen …", or "offline" for someone never seen (or not known yet). */
export function presenceText(userId) {
  const presence = state.presence.get(userId);
  if (presence?.online) return 'online';
  return presence?.last_seen ? formatLastSeen(presence.last_seen) : 'offline';
}

/** What the chat shows while others type in it ("" when nobody does). */
export function typingText(chat) {
  const names = typersIn(chat.id).map((userId) => firstName(nameIn(chat, userId)));
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length <= 3) return `${names.slice(0, -1).join(', ')} and ${names.at(-1)} are typing…`;
  return `${names.slice(0, 2).join(', ')} and ${names.length - 2} others are typing…`;
}

/** A member's name, if this page knows it: from the chat's members (once loaded), or its peer. */
function nameIn(chat, userId) {
  return state.conversations.get(chat.id)?.members.get(userId) ?? (chat.peer?.id === userId ? chat.peer.name : undefined);
}

function firstName(name) {
  return String(name ?? '').trim().split(/\s+/)[0] || 'Someone';
}
