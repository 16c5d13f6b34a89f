// Entry point: the login page or the messenger, routing by #/chats/{id}, and the views wired together.

import { Api } from './api.js';
import { Messenger } from './messenger.js';
import { state, reset, totalUnread } from './state.js';
import { savedToken, currentToken, saveToken, forgetSession } from './session.js';
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

const api = new Api(currentToken, () => endSession('Your session has ended. Please log in again.'));
const auth = createAuthView({
  api,
  onLoggedIn(token) {
    saveToken(token);
    startMessenger();
  },
});
const chatList = createChatList({ onOpen: navigate });
const dialogs = setupDialogs({ api, messenger: () => messenger, navigate });
const conversation = createConversationView({
  onSend: (text) => messenger?.send(text) ?? false,
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

byId('logout-button').addEventListener('click', () => endSession(''));
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
  const current = new Messenger(api, { onChange: render, onConnectionState: showConnection, onSessionEnded: endSession });
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

function endSession(message) {
  clearTimeout(retryStartTimer);
  messenger?.stop();
  messenger = null;
  forgetSession();
  reset();
  dialogs.closeAll();
  chatList.clear();
  conversation.hide();
  messengerView.hidden = true;
  history.replaceState(null, '', location.pathname);
  document.title = 'WinDi';
  auth.show(message);
}

if (savedToken()) startMessenger();
else auth.show();
