// The list of chats, most recent activity first, with the last message (or who is typing), an unread
// badge, and a dot on a private chat whose other person is online.

import { state } from './state.js';
import { el, byId, reconcile, avatar } from './dom.js';
import { formatShort } from './format.js';
import { isOnline, typingText } from './presence.js';

export function createChatList({ onOpen }) {
  const list = byId('chat-list');
  const empty = byId('chat-list-empty');
  const items = new Map(); // chat id -> <li>

  list.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-chat-id]');
    if (button) onOpen(Number(button.dataset.chatId));
  });

  // Each item is built once and then updated in place, so that a focused item keeps its focus.
  function itemFor(chat) {
    let item = items.get(chat.id);
    if (!item) {
      item = {
        li: el('li'),
        button: el('button', { type: 'button', class: 'chat-item', 'data-chat-id': chat.id }),
        avatar: el('span', { class: 'avatar', 'aria-hidden': 'true' }),
        name: el('span', { class: 'chat-name' }),
        preview: el('span', { class: 'chat-preview' }),
        time: el('time', { class: 'chat-time' }),
        badge: el('span', { class: 'badge' }),
        unreadLabel: el('span', { class: 'visually-hidden' }, ' unread'),
        onlineLabel: el('span', { class: 'visually-hidden' }, ', online'),
      };
      item.button.append(item.avatar, item.onlineLabel,
        el('span', { class: 'chat-main' }, item.name, item.preview),
        el('span', { class: 'chat-side' }, item.time, item.badge, item.unreadLabel));
      item.li.append(item.button);
      items.set(chat.id, item);
    }
    const name = chatName(chat);
    const last = chat.last_message;
    avatar(name, item.avatar);
    const online = !chat.is_group && isOnline(chat.peer?.id);
    item.avatar.classList.toggle('online', online);
    item.onlineLabel.hidden = !online;
    item.name.textContent = name;
    const typing = typingText(chat);
    item.preview.classList.toggle('typing', Boolean(typing));
    item.preview.textContent = typing || (last
      ? `${last.sender_id === state.me.id ? 'You: ' : ''}${last.text}`
      : (chat.is_group ? 'No messages yet' : 'Say hello!'));
    item.time.textContent = last ? formatShort(last.timestamp) : '';
    item.badge.textContent = String(chat.unread_count);
    item.badge.hidden = item.unreadLabel.hidden = chat.unread_count === 0;
    if (chat.id === state.openChatId) item.button.setAttribute('aria-current', 'true');
    else item.button.removeAttribute('aria-current');
    return item.li;
  }

  return {
    render() {
      const chats = state.order.map((id) => state.chats.get(id)).filter(Boolean);
      for (const id of items.keys()) if (!state.chats.has(id)) items.delete(id);
      reconcile(list, chats.map(itemFor));
      empty.hidden = chats.length > 0;
    },
    clear() {
      items.clear();
      list.replaceChildren();
    },
  };
}

export function chatName(chat) {
  return chat.name || (chat.is_group ? 'Unnamed group' : `Chat ${chat.id}`);
}
