// Entry point: the login page or the messenger, routing by #/chats/{id}, and the views wired together.

import { Api } from './api.js';
import { Messenger } from './messenger.js';
import { state, reset, totalUnread } from './state.js';
import { Session } from './session.js';
import { byId, avatar, toast } from './dom.js';
import { createAuthView } from './auth-view.js';
import { createChatList } from './chat-list.js';
import { createConversationView } from './conversation.js';
import { setupDialogs } from './dialogs.js';

const messengerView = byId('messenger-view');
const connectionStatus = byId('connection-status');
const CONNECTION_TEXT = {
  connecting: () => 'Connecting…',
  syncing: () => 'Catching up…',
  online: () => 'Online',
  offline: (retryInMs) => `Offline · retrying in ${Math.max(1, Math.round(retryInMs / 1000))} s`,
};

let messenger = null;
let retryStartTimer;

const session = new Session({
  exchange: (refreshToken) => api.refreshTokens(refreshToken),
  onRenewed: () => messenger?.tokenRenewed(),
  onEnded: (message) => endSession(message),
});
const api = new Api(session);
const auth = createAuthView({
  api,
  onLoggedIn(tokens) {
    session.save(tokens);
    startMessenger();
  },
});
const chatList = createChatList({ onOpen: navigate });
const dialogs = setupDialogs({ api, messenger: () => messenger, navigate });
const conversation = createConversationView({
  onSend: (text) => messenger?.send(text) ?? false,
  onTyping: () => messenger?.typing(),
  onLoadOlder: () => messenger?.loadOlder(),
  onMarkRead: (chatId, messageId) => messenger?.markRead(chatId, messageId),
  onRetry: (clientMessageId) => messenger?.retry(clientMessageId),
  onDiscard: (clientMessageId) => messenger?.discard(clientMessageId),
  onEdit: (messageId, text) => messenger?.edit(messageId, text) ?? false,
  onDelete: (messageId) => dialogs.deleteMessage(messageId),
  onBack: () => navigate(null),
  onLeave: () => dialogs.leave(),
  onAddMember: () => dialogs.addMember(),
});

byId('logout-button').addEventListener('click', logOut);
window.addEventListener('hashchange', route);

function navigate(chatId) {
  const hash = chatId ? `#/chats/${chatId}` : '#/';
  if (location.hash === hash) route();
  else location.hash = hash;
}

function route() {
  if (!messenger) return;
  const match = /^#\/chats\/(\d+)$/.exec(location.hash);
  if (match) messenger.openChat(Number(match[1]));
  else messenger.closeChat();
}

function render(flags) {
  if (flags.error) toast(flags.error);
  if (!state.me) return;
  chatList.render();
  const open = state.openChatId !== null && state.chats.has(state.openChatId);
  if (open) conversation.render(flags);
  else conversation.hide();
  messengerView.dataset.pane = open ? 'conversation' : 'list';
  const unread = totalUnread();
  document.title = unread > 0 ? `(${unread}) WinDi` : 'WinDi';
}

function showConnection(connectionState, retryInMs = 0) {
  connectionStatus.dataset.state = connectionState;
  connectionStatus.textContent = CONNECTION_TEXT[connectionState](retryInMs);
  if (connectionState === 'online') conversation.maybeMarkRead();
}

async function startMessenger() {
  clearTimeout(retryStartTimer);
  auth.hide();
  messengerView.hidden = false;
  const current = new Messenger(api, { onChange: render, onConnectionState: showConnection });
  messenger = current;
  showConnection('connecting');
  try {
    await current.start();
  } catch (failure) {
    if (messenger !== current) return; // the session ended meanwhile (a 401)
    current.stop();
    showConnection('offline', 5000);
    toast(failure.message);
    retryStartTimer = setTimeout(startMessenger, 5000);
    return;
  }
  if (messenger !== current) return;
  byId('me-name').textContent = state.me.name;
  avatar(state.me.name, byId('me-avatar'));
  route();
}

/** Log out: the server ends this session (POST /logout, a few seconds at most), then the page forgets it. */
async function logOut() {
  const button = byId('logout-button');
  button.disabled = true;
  messenger?.stop();
  await Promise.race([api.logout().catch(() => {}), new Promise((resolve) => { setTimeout(resolve, 3000); })]);
  button.disabled = false;
  endSession('');
}

function endSession(message) {
  clearTimeout(retryStartTimer);
  messenger?.stop();
  messenger = null;
  session.forget();
  reset();
  dialogs.closeAll();
  chatList.clear();
  conversation.hide();
  messengerView.hidden = true;
  history.replaceState(null, '', location.pathname);
  document.title = 'WinDi';
  auth.show(message);
}

if (session.active) {
  session.resume();
  startMessenger();
} else {
  auth.show();
}
