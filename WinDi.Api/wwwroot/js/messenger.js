// The client's logic: REST for lists and history, the WebSocket for everything live, and the
// bookkeeping that keeps them consistent (SYNC after reconnects, pending sends, edits and deletes,
// receipts, unread counts), and who is typing and online.

import {
  state, conversationFor, replaceChats, addChat, removeChat, moveToTop, savePending, loadPending, notePresence,
} from './state.js';
import { RealtimeConnection } from './socket.js';

const PAGE_SIZE = 50;
const REFRESH_EVERY_MS = 30_000;
// Presence has no live frame (README "Presence"): the open chat's members are asked for again this often.
const PRESENCE_EVERY_MS = 20_000;
const TYPING_EVERY_MS = 2_000;  // the server relays at most one TYPING per person and chat in this time
const TYPING_SHOWN_MS = 5_000;  // a TYPING shows this long, unless repeated or ended by that person's message

export class Messenger {
  #api;
  #socket;
  #onChange;
  #onConnectionState;
  #flags = {};
  #renderTimer = null;
  #refreshTimer;
  #receiptTimers = new Map();
  #refreshSoonTimer;
  #presenceTimer;
  #typingSentAt = new Map(); // chat id -> when this page last sent TYPING there
  #typingTimers = new Map(); // "chat:user" -> the timer that ends that TYPING's display
  #checkingSession = false;
  #stopped = false;

  // SYNC bookkeeping: every change (a new message, an edit, a delete) with seq <= syncedSeq is known to
  // this page. Only SYNC_DONE moves it: live frames can arrive out of seq order, and after a gap (a Redis
  // outage, an overflowed queue) a live frame says nothing about the changes before it. A catch-up SYNC
  // {after_seq} every REFRESH_EVERY_MS (and when the tab comes back) fills such gaps; it brings new
  // messages as well as edits and deletes, so it is the only cursor the page needs.
  #syncedSeq = 0;
  #synced = false;
  #syncAfterConnect = false;
  #everSynced = false;
  // My edits and deletes sent and not yet confirmed (message id -> 'edit' | 'delete'), so that an ERROR
  // that answers one (it carries the id) can undo what the page shows.
  #changesInFlight = new Map();

  /**
   * @param {import('./api.js').Api} api
   * @param {object} callbacks
   * @param {(flags: object) => void} callbacks.onChange re-render; flags say what changed
   * @param {(state: string, retryInMs?: number) => void} callbacks.onConnectionState
   */
  constructor(api, { onChange, onConnectionState }) {
    this.#api = api;
    this.#onChange = onChange;
    this.#onConnectionState = onConnectionState;
  }

  async start() {
    state.me = await this.#api.me();
    loadPending();
    await this.refreshChats();
    // The chat list is the starting point; SYNC covers whatever changes after it. Every change with a
    // lower seq than the newest last message was committed before the list was read (seqs become visible
    // in order), so history loaded from now on shows it.
    for (const chat of state.chats.values()) {
      this.#syncedSeq = Math.max(this.#syncedSeq, chat.last_message?.seq ?? 0);
    }
    if (this.#stopped) return;
    this.#socket = new RealtimeConnection({
      token: () => this.#tokenNow(),
      onOpen: () => this.#onOpen(),
      onFrame: (frame) => this.#onFrame(frame),
      onState: (connectionState, retryInMs) => this.#onConnectionState(connectionState, retryInMs),
      onTrouble: () => this.#checkSession(),
    });
    this.#socket.start();
    this.#refreshTimer = setInterval(() => this.#comeBack(), REFRESH_EVERY_MS);
    this.#presenceTimer = setInterval(() => this.#refreshPresence(), PRESENCE_EVERY_MS);
    window.addEventListener('focus', this.#onFocus);
    window.addEventListener('online', this.#onOnline);
    document.addEventListener('visibilitychange', this.#onVisibility);
  }

  /** The session has a new access token: the socket moves to it. */
  tokenRenewed() {
    this.#socket?.renew();
  }

  stop() {
    this.#stopped = true;
    this.#socket?.stop();
    clearInterval(this.#refreshTimer);
    clearInterval(this.#presenceTimer);
    for (const timer of this.#typingTimers.values()) clearTimeout(timer);
    clearTimeout(this.#renderTimer);
    clearTimeout(this.#refreshSoonTimer);
    for (const timer of this.#receiptTimers.values()) clearTimeout(timer);
    window.removeEventListener('focus', this.#onFocus);
    window.removeEventListener('online', this.#onOnline);
    document.removeEventListener('visibilitychange', this.#onVisibility);
  }

  // ---- Lists and conversations (REST) ----

  async refreshChats() {
    const chats = await this.#api.chats();
    if (this.#stopped) return;
    replaceChats(chats);
    // Our last READ_MESSAGE may not have been handled when the server counted: count the open chat here.
    const open = state.chats.get(state.openChatId);
    const conversation = open && state.conversations.get(open.id);
    if (conversation?.readSentUpTo > 0) {
      open.unread_count = conversation.sorted()
        .filter((m) => m.sender_id !== state.me.id && m.id > conversation.readSentUpTo).length;
    }
    this.changed({});
  }

  /** What a returning user needs: fresh unread counts (other tabs may have read), fresh receipts. */
  async refresh() {
    try {
      await this.refreshChats();
      const open = state.chats.get(state.openChatId);
      if (open?.is_group) this.#refreshReceiptsSoon(open.id);
      if (open) await this.#loadMembers(open.id);
    } catch {
      // Offline: the next refresh or the reconnect will do.
    }
  }

  async openChat(chatId) {
    state.openChatId = chatId;
    const chat = state.chats.get(chatId);
    if (!chat) {
      this.changed({});
      return;
    }
    const conversation = conversationFor(chatId);
    this.changed({ opened: true });
    if (conversation.loaded || conversation.loading) return;
    conversation.loading = true;
    try {
      const [page] = await Promise.all([
        this.#api.history(chatId, { latest: true, limit: PAGE_SIZE }),
        this.#loadMembers(chatId), // names in groups; everyone's presence
      ]);
      for (const message of page) conversation.upsert(message);
      conversation.hasOlder = page.length === PAGE_SIZE;
      conversation.loaded = true;
      this.changed({ toBottom: true });
    } catch (error) {
      this.#chatFailed(chatId, error);
    } finally {
      conversation.loading = false;
    }
  }

  closeChat() {
    state.openChatId = null;
    this.changed({});
  }

  /** Loads the page before the oldest message held (keyset paging), for scrolling up. */
  async loadOlder() {
    const chatId = state.openChatId;
    const conversation = state.conversations.get(chatId);
    if (!conversation?.loaded || !conversation.hasOlder || conversation.loadingOlder) return;
    conversation.loadingOlder = true;
    this.changed({});
    try {
      const page = await this.#api.history(chatId, { beforeId: conversation.oldestId, limit: PAGE_SIZE });
      for (const message of page) conversation.upsert(message);
      conversation.hasOlder = page.length === PAGE_SIZE;
      this.changed({ prepended: true });
    } catch (error) {
      this.#chatFailed(chatId, error);
    } finally {
      conversation.loadingOlder = false;
    }
  }

  /** Opens the private chat with `user`, creating it unless it exists (409 names the existing one). */
  async startPrivateChat(user) {
    try {
      const chat = await this.#api.createPrivateChat(user.id);
      addChat(chat);
      this.changed({});
      return chat.id;
    } catch (error) {
      const existing = error.status === 409 ? error.problem?.chat_id : undefined;
      if (existing === undefined) throw error;
      await this.refreshChats();
      return existing;
    }
  }

  async createGroup(name) {
    const chat = await this.#api.createGroup(name);
    addChat(chat);
    this.changed({});
    return chat.id;
  }

  async addMember(chatId, user) {
    await this.#api.addMember(chatId, user.id);
    await this.#loadMembers(chatId);
  }

  async leave(chatId) {
    await this.#api.leave(chatId);
    removeChat(chatId);
    if (state.openChatId === chatId) state.openChatId = null;
    this.changed({});
  }

  // ---- Sending and reading (WebSocket) ----

  /** Shows the message as pending at once; the server's echo (same client_message_id) replaces it. */
  send(text) {
    const chatId = state.openChatId;
    const body = text.trim();
    if (!chatId || !body) return false;
    const pending = { chat_id: chatId, text: body, client_message_id: newClientMessageId(), created: Date.now() };
    state.pending.set(pending.client_message_id, pending);
    savePending();
    this.#sendPending(pending);
    this.changed({ toBottom: true });
    return true;
  }

  retry(clientMessageId) {
    const pending = state.pending.get(clientMessageId);
    if (!pending) return;
    delete pending.error;
    savePending();
    this.#sendPending(pending);
    this.changed({});
  }

  discard(clientMessageId) {
    state.pending.delete(clientMessageId);
    savePending();
    this.changed({});
  }

  /** The person is typing in the open chat: TYPING, at most every TYPING_EVERY_MS (the server drops more). */
  typing() {
    const chatId = state.openChatId;
    const now = Date.now();
    if (!chatId || now - (this.#typingSentAt.get(chatId) ?? 0) < TYPING_EVERY_MS) return;
    if (this.#socket?.send('TYPING', { chat_id: chatId })) this.#typingSentAt.set(chatId, now);
  }

  /** Replaces the text of one of my messages; the page shows it at once, and MESSAGE_EDITED confirms it. */
  edit(messageId, text) {
    const message = this.#myMessage(messageId);
    const body = text.trim();
    if (!message || !body || body === message.text) return true;
    if (!this.#socket?.send('EDIT_MESSAGE', { id: messageId, text: body })) {
      this.#onChange({ error: 'You are offline: the message was not changed. Try again once connected.' });
      return false;
    }
    message.localText = body;
    this.#changesInFlight.set(messageId, 'edit');
    this.changed({});
    return true;
  }

  /** Deletes one of my messages for everyone (the person has confirmed); MESSAGE_DELETED removes it. */
  remove(messageId) {
    const message = this.#myMessage(messageId);
    if (!message) return;
    if (!this.#socket?.send('DELETE_MESSAGE', { id: messageId })) {
      this.#onChange({ error: 'You are offline: the message was not deleted. Try again once connected.' });
      return;
    }
    message.deleting = true;
    this.#changesInFlight.set(messageId, 'delete');
    this.changed({});
  }

  #myMessage(messageId) {
    const message = state.conversations.get(state.openChatId)?.messages.get(messageId);
    return message?.sender_id === state.me.id ? message : null;
  }

  /** Marks the chat read up to `messageId` (someone else's message that is on screen). */
  markRead(chatId, messageId) {
    const conversation = state.conversations.get(chatId);
    if (!conversation || messageId <= conversation.readSentUpTo) return;
    if (!this.#socket?.send('READ_MESSAGE', { id: messageId })) return;
    conversation.readSentUpTo = messageId;
    const chat = state.chats.get(chatId);
    if (chat) chat.unread_count = 0;
    this.changed({});
  }

  /** Coalesces re-renders: a SYNC may deliver hundreds of frames in a row. */
  changed(flags) {
    for (const [name, value] of Object.entries(flags)) this.#flags[name] ||= value;
    if (this.#renderTimer !== null) return;
    this.#renderTimer = setTimeout(() => {
      this.#renderTimer = null;
      const current = this.#flags;
      this.#flags = {};
      this.#onChange(current);
    }, 0);
  }

  #sendPending(pending) {
    this.#socket?.send('SEND_MESSAGE', {
      chat_id: pending.chat_id, text: pending.text, client_message_id: pending.client_message_id,
    });
  }

  #onOpen() {
    this.#synced = false;
    this.#syncAfterConnect = true;
    // Edits and deletes in flight on the old connection may or may not have been made: SYNC says which.
    this.#forgetChangesInFlight();
    this.#socket.send('SYNC', { after_seq: this.#syncedSeq });
    // Resending is safe: for a client_message_id it already stored, the server answers with the original.
    for (const pending of state.pending.values()) {
      if (!pending.error) this.#sendPending(pending);
    }
  }

  #onFrame(frame) {
    switch (frame.command) {
      case 'NEW_MESSAGE':
        this.#receive(messageFrom(frame));
        break;
      case 'MESSAGE_EDITED':
        this.#edited(frame);
        break;
      case 'MESSAGE_DELETED':
        this.#deleted(frame);
        break;
      case 'READ_MESSAGE':
        this.#receipt(frame);
        break;
      case 'TYPING':
        this.#someoneTyping(frame);
        break;
      case 'SYNC_DONE':
        this.#syncDone(frame);
        break;
      case 'ERROR':
        this.#error(frame);
        break;
      default:
        break; // PONG, and whatever a newer server may add
    }
  }

  #syncDone({ last_seq: lastSeq, has_more: hasMore }) {
    this.#syncedSeq = Math.max(this.#syncedSeq, lastSeq);
    if (hasMore) {
      this.#socket.send('SYNC', { after_seq: lastSeq });
      return;
    }
    this.#synced = true;
    this.#socket.markHealthy();
    const afterConnect = this.#syncAfterConnect;
    this.#syncAfterConnect = false;
    if (this.#everSynced && afterConnect) {
      // Receipts and reads from other tabs are not replayed by SYNC: fetch them.
      this.refresh();
      for (const conversation of state.conversations.values()) this.#refreshReceiptsSoon(conversation.chatId);
    }
    this.#everSynced = true;
    this.changed({ online: true });
  }

  /** TYPING {chat_id, user_id}: shown for TYPING_SHOWN_MS unless repeated; it also proves that person is online. */
  #someoneTyping({ chat_id: chatId, user_id: userId }) {
    if (userId === state.me.id) return;
    let typers = state.typing.get(chatId);
    if (!typers) state.typing.set(chatId, (typers = new Map()));
    typers.set(userId, Date.now() + TYPING_SHOWN_MS);
    state.presence.set(userId, { online: true, last_seen: null });
    const key = `${chatId}:${userId}`;
    clearTimeout(this.#typingTimers.get(key));
    this.#typingTimers.set(key, setTimeout(() => this.#stopTyping(chatId, userId), TYPING_SHOWN_MS));
    this.changed({});
  }

  #stopTyping(chatId, userId) {
    const key = `${chatId}:${userId}`;
    clearTimeout(this.#typingTimers.get(key));
    this.#typingTimers.delete(key);
    if (state.typing.get(chatId)?.delete(userId)) this.changed({});
  }

  #receive(message) {
    const mine = message.sender_id === state.me.id;
    // Their message is what they were typing.
    if (!mine) this.#stopTyping(message.chat_id, message.sender_id);
    if (mine && state.pending.delete(message.client_message_id)) savePending();
    if (state.deletedIds.has(message.id)) return; // a late copy of a message deleted since
    const chat = state.chats.get(message.chat_id);
    if (!chat) {
      // A chat this page has not heard of: someone started it with us, or added us to a group.
      this.#refreshSoon();
      return;
    }
    const conversation = state.conversations.get(message.chat_id);
    conversation?.upsert(message);
    if (!chat.last_message || message.id > chat.last_message.id) {
      chat.last_message = message;
      moveToTop(chat.id);
    } else if (message.id === chat.last_message.id && (message.seq ?? 0) >= (chat.last_message.seq ?? 0)) {
      chat.last_message = message;
    }
    if (!mine && !state.seenIds.has(message.id) && message.id > chat.baseline) {
      chat.unread_count += 1;
    }
    state.seenIds.add(message.id);
    if (chat.is_group && conversation && !mine && !conversation.members.has(message.sender_id)) {
      this.#loadMembers(chat.id).catch(() => {});
    }
    this.changed({ appended: true, toBottom: mine && message.chat_id === state.openChatId });
  }

  /** MESSAGE_EDITED {id, chat_id, text, edited_at, seq}: in the conversation and the chat list, if this page holds it. */
  #edited(frame) {
    const conversation = state.conversations.get(frame.chat_id);
    const message = conversation?.messages.get(frame.id);
    if (this.#changesInFlight.get(frame.id) === 'edit') this.#changesInFlight.delete(frame.id);
    if (message) delete message.localText;
    conversation?.applyEdit(frame);
    const last = state.chats.get(frame.chat_id)?.last_message;
    if (last?.id === frame.id && (last.seq ?? 0) <= frame.seq) {
      Object.assign(last, { text: frame.text, edited_at: frame.edited_at, seq: frame.seq });
    }
    this.changed({});
  }

  /**
   * MESSAGE_DELETED {id, chat_id, seq}: gone from the conversation and for good from this page. The chat's
   * last message and unread count may have been this one: the server says what they are now. With a
   * client_message_id, it answers a pending send of mine whose message was deleted meanwhile (another device).
   */
  #deleted(frame) {
    state.deletedIds.add(frame.id);
    this.#changesInFlight.delete(frame.id);
    if (frame.client_message_id && state.pending.delete(frame.client_message_id)) savePending();
    const conversation = state.conversations.get(frame.chat_id);
    conversation?.remove(frame.id);
    const chat = state.chats.get(frame.chat_id);
    if (chat) {
      if (chat.last_message?.id === frame.id) {
        const remaining = conversation?.sorted().at(-1) ?? null;
        chat.last_message = remaining;
      }
      this.#refreshSoon();
    }
    this.changed({});
  }

  /** An edit or delete of mine was refused: show the message as it is, and say why. */
  #changeRefused(frame, kind) {
    this.#changesInFlight.delete(frame.id);
    const conversation = [...state.conversations.values()].find((c) => c.messages.has(frame.id));
    if (kind === 'delete' && frame.code === 'message_not_found') {
      // Already deleted (another device, say): it is gone either way.
      if (conversation) this.#deleted({ id: frame.id, chat_id: conversation.chatId });
      return;
    }
    this.#undoLocalChange(frame.id);
    this.#onChange({ error: `The message could not be ${kind === 'edit' ? 'edited' : 'deleted'}: ${frame.detail || frame.code}` });
    this.changed({});
  }

  #forgetChangesInFlight() {
    for (const id of this.#changesInFlight.keys()) this.#undoLocalChange(id);
    this.#changesInFlight.clear();
    this.changed({});
  }

  /** Shows the message as the server last said it was (no pending edit, not being deleted). */
  #undoLocalChange(id) {
    for (const conversation of state.conversations.values()) {
      const message = conversation.messages.get(id);
      if (message) {
        delete message.localText;
        delete message.deleting;
      }
    }
  }

  /**
   * READ_MESSAGE {id, chat_id, is_read}: with is_read true every message of ours up to id is read (in a
   * group too: every other member's marker is at or past it). With is_read false in a group, earlier
   * messages may still have become read: ask the history.
   */
  #receipt({ id, chat_id: chatId, reader_id: readerId, is_read: isRead }) {
    const chat = state.chats.get(chatId);
    if (readerId === state.me.id) {
      // I read it, in this tab or on another device: the server has the new unread count.
      this.#refreshSoon();
      return;
    }
    if (isRead) {
      state.conversations.get(chatId)?.markMineReadUpTo(state.me.id, id);
      if (chat?.last_message?.sender_id === state.me.id && chat.last_message.id <= id) chat.last_message.is_read = true;
      this.changed({});
    } else if (chat?.is_group) {
      this.#refreshReceiptsSoon(chatId);
    }
  }

  #error(frame) {
    const pending = frame.client_message_id && state.pending.get(frame.client_message_id);
    if (pending && frame.code === 'rate_limited') {
      // The per-connection send budget refills every second (a long pending queue after a reconnect
      // can exceed the burst): try again shortly, still pending. The client_message_id keeps it safe.
      setTimeout(() => { if (state.pending.has(pending.client_message_id)) this.#sendPending(pending); }, 1000);
      return;
    }
    if (pending) {
      pending.error = frame.detail || frame.code;
      savePending();
      if (frame.code === 'not_a_member' || frame.code === 'chat_not_found') this.#refreshSoon();
      this.changed({});
      return;
    }
    const change = frame.id !== undefined && this.#changesInFlight.get(frame.id);
    if (change) {
      this.#changeRefused(frame, change);
      return;
    }
    if (frame.id !== undefined) {
      return; // a refused READ_MESSAGE (the message or the chat is gone): nothing for the user to do
    }
    this.#onChange({ error: `The server refused a request: ${frame.detail || frame.code}` });
  }

  #refreshReceiptsSoon(chatId) {
    clearTimeout(this.#receiptTimers.get(chatId));
    this.#receiptTimers.set(chatId, setTimeout(() => {
      this.#receiptTimers.delete(chatId);
      this.#refreshReceipts(chatId).catch(() => {});
    }, 300));
  }

  async #refreshReceipts(chatId) {
    const conversation = state.conversations.get(chatId);
    const unread = conversation?.loaded
      ? conversation.sorted().filter((m) => m.sender_id === state.me.id && !m.is_read)
      : [];
    if (unread.length === 0) return;
    const page = await this.#api.history(chatId, { afterId: unread[0].id - 1, limit: 100 });
    for (const message of page) {
      const known = conversation.messages.get(message.id);
      if (known && message.is_read) known.is_read = true;
    }
    this.changed({});
  }

  #refreshSoon() {
    clearTimeout(this.#refreshSoonTimer);
    this.#refreshSoonTimer = setTimeout(() => this.refresh(), 200);
  }

  /** GET /chats/{id}: the members' names, and everyone's presence (the peer's too, for the chat list). */
  async #loadMembers(chatId) {
    const chat = await this.#api.chat(chatId);
    const conversation = conversationFor(chatId);
    conversation.members = new Map(chat.members.map((member) => [member.id, member.name]));
    conversation.memberCount = chat.members.length;
    notePresence([...chat.members, chat.peer]);
    const known = state.chats.get(chatId);
    if (known && chat.peer) known.peer = chat.peer;
    this.changed({});
  }

  /** Every PRESENCE_EVERY_MS while the tab is in view: the open chat's members, online or last seen. */
  #refreshPresence() {
    if (state.openChatId === null || document.visibilityState !== 'visible') return;
    this.#loadMembers(state.openChatId).catch(() => {}); // offline: the next round will do
  }

  #chatFailed(chatId, error) {
    if (error.status === 403 || error.status === 404) {
      removeChat(chatId);
      if (state.openChatId === chatId) state.openChatId = null;
      this.#onChange({ error: 'You are no longer a member of that chat.' });
    } else {
      this.#onChange({ error: error.message });
    }
    this.changed({});
  }

  /**
   * The socket closed with 1008 or would not open: the token expired, or its session ended. Any authenticated call
   * tells which: an expired token is refreshed (and the socket reopened with the new one), and only a session the
   * server has ended logs the person out (see Session).
   */
  async #checkSession() {
    if (this.#checkingSession) return;
    this.#checkingSession = true;
    try {
      await this.#api.me();
    } catch {
      // Offline (the reconnect loop and the refresh retries go on), or the session ended (the login page is up).
    } finally {
      this.#checkingSession = false;
    }
  }

  #tokenNow() {
    return this.#api.session.accessToken ?? '';
  }

  #onFocus = () => this.#comeBack();

  /** Every REFRESH_EVERY_MS, and when the person comes back to the tab: fresh counts, and any gap filled. */
  #comeBack() {
    this.refresh();
    this.#catchUp();
  }

  /** SYNC from the last point SYNC proved: whatever live delivery missed since then arrives now. */
  #catchUp() {
    if (!this.#synced) return; // a SYNC is under way already
    if (this.#socket?.send('SYNC', { after_seq: this.#syncedSeq })) this.#synced = false;
  }

  #onOnline = () => this.#socket?.reconnectNow();

  #onVisibility = () => {
    if (document.visibilityState === 'visible') {
      this.#comeBack();
      this.changed({ visible: true });
    }
  };
}

function messageFrom(frame) {
  const { command: _command, ...message } = frame;
  return message;
}

function newClientMessageId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; getRandomValues does not.
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}
