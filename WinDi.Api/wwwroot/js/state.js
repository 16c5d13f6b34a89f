// What the client knows: the chats, the conversations it has loaded, and the messages still on their way.

const PENDING_KEY = 'windi.pending';

/** The messages of one chat that this page holds, keyed by id (ids are the true order). */
export class Conversation {
  constructor(chatId) {
    this.chatId = chatId;
    this.messages = new Map();
    this.members = new Map(); // user id -> name
    this.loaded = false;      // the latest page has arrived
    this.hasOlder = true;
    this.loadingOlder = false;
    this.readSentUpTo = 0;    // the highest id this page has sent READ_MESSAGE for
  }

  /**
   * Adds or refreshes a message; a receipt never goes back from read to unread, an older state (a lower seq, say a
   * live frame that arrives after SYNC brought the edit) never replaces a newer one, and a deleted message stays gone.
   */
  upsert(message) {
    if (state.deletedIds.has(message.id)) return;
    const known = this.messages.get(message.id);
    if (!known) {
      this.messages.set(message.id, message);
    } else if ((message.seq ?? 0) >= (known.seq ?? 0)) {
      this.messages.set(message.id, { ...known, ...message, is_read: known.is_read || message.is_read });
    } else if (message.is_read) {
      known.is_read = true;
    }
  }

  /** MESSAGE_EDITED: the new text, unless this page already holds a later state. */
  applyEdit({ id, text, edited_at: editedAt, seq }) {
    const known = this.messages.get(id);
    if (!known || (known.seq ?? 0) > seq) return false;
    Object.assign(known, { text, edited_at: editedAt, seq });
    return true;
  }

  remove(id) {
    return this.messages.delete(id);
  }

  sorted() {
    return [...this.messages.values()].sort((a, b) => a.id - b.id);
  }

  get oldestId() {
    let oldest = null;
    for (const id of this.messages.keys()) if (oldest === null || id < oldest) oldest = id;
    return oldest;
  }

  newestFromOthers(myId) {
    let newest = null;
    for (const message of this.messages.values()) {
      if (message.sender_id !== myId && (!newest || message.id > newest.id)) newest = message;
    }
    return newest;
  }

  /** My messages up to `id` are read (a READ_MESSAGE event with is_read true). */
  markMineReadUpTo(myId, id) {
    for (const message of this.messages.values()) {
      if (message.sender_id === myId && message.id <= id) message.is_read = true;
    }
  }
}

export const state = {
  me: null,
  chats: new Map(),        // id -> Chat (README), plus `baseline`: the newest id the server's unread_count covered
  order: [],               // chat ids, most recent activity first
  conversations: new Map(),
  openChatId: null,
  seenIds: new Set(),      // message ids counted already (live and SYNC frames may overlap)
  deletedIds: new Set(),   // messages deleted while this page was open: a late frame or page never brings them back
  pending: new Map(),      // client_message_id -> { chat_id, text, client_message_id, created, error? }
  presence: new Map(),     // user id -> { online, last_seen } (README "Presence"), from the last REST answer or a TYPING
  typing: new Map(),       // chat id -> Map(user id -> when their TYPING stops showing, in ms)
};

export function reset() {
  state.me = null;
  state.chats.clear();
  state.order = [];
  state.conversations.clear();
  state.openChatId = null;
  state.seenIds.clear();
  state.deletedIds.clear();
  state.pending.clear();
  state.presence.clear();
  state.typing.clear();
}

/** Remembers the presence the server reported for these people (members, or a private chat's peer). */
export function notePresence(people) {
  for (const person of people) {
    if (person) state.presence.set(person.id, { online: person.online, last_seen: person.last_seen });
  }
}

/** The ids of the people whose TYPING in the chat still shows. */
export function typersIn(chatId, now = Date.now()) {
  const typers = state.typing.get(chatId);
  return typers ? [...typers].filter(([, until]) => until > now).map(([userId]) => userId) : [];
}

/** Replaces the chat list with the server's; keeps a newer last message this page already has. */
export function replaceChats(serverChats) {
  const next = new Map();
  for (const chat of serverChats) {
    const known = state.chats.get(chat.id);
    const baseline = chat.last_message?.id ?? 0;
    if (known?.last_message && known.last_message.id > baseline && !state.deletedIds.has(known.last_message.id)) {
      next.set(chat.id, { ...chat, last_message: known.last_message, unread_count: known.unread_count, baseline });
    } else {
      next.set(chat.id, { ...chat, baseline });
    }
  }
  state.chats = next;
  state.order = serverChats.map((chat) => chat.id);
  notePresence(serverChats.map((chat) => chat.peer));
  for (const id of [...state.conversations.keys()]) {
    if (!next.has(id)) state.conversations.delete(id);
  }
}

export function addChat(chat) {
  state.chats.set(chat.id, { ...chat, baseline: chat.last_message?.id ?? 0 });
  moveToTop(chat.id);
}

export function removeChat(chatId) {
  state.chats.delete(chatId);
  state.conversations.delete(chatId);
  state.order = state.order.filter((id) => id !== chatId);
}

export function moveToTop(chatId) {
  state.order = [chatId, ...state.order.filter((id) => id !== chatId)];
}

export function conversationFor(chatId) {
  let conversation = state.conversations.get(chatId);
  if (!conversation) {
    conversation = new Conversation(chatId);
    state.conversations.set(chatId, conversation);
  }
  return conversation;
}

export function pendingIn(chatId) {
  return [...state.pending.values()].filter((p) => p.chat_id === chatId).sort((a, b) => a.created - b.created);
}

/** Pending messages survive a reload of the tab, and are sent again then (client_message_id makes that safe). */
export function savePending() {
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ user: state.me?.id, items: [...state.pending.values()] }));
}

export function loadPending() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? 'null');
    if (saved?.user === state.me?.id) {
      for (const item of saved.items) state.pending.set(item.client_message_id, item);
    }
  } catch {
    sessionStorage.removeItem(PENDING_KEY);
  }
}

export function totalUnread() {
  let total = 0;
  for (const chat of state.chats.values()) total += chat.unread_count;
  return total;
}
