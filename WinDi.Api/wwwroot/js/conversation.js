// One open chat: its messages by id (pending ones last), the composer, paging back on scroll, editing
// and deleting my own messages, and read receipts for the newest message from someone else once it is
// on screen; in the header, who is online (a private chat's peer, a group's members) and who is typing.

import { state, pendingIn } from './state.js';
import { el, byId, reconcile, avatar, colorFor } from './dom.js';
import { formatTime, formatDay, dayKey, fullDateTime } from './format.js';
import { chatName } from './chat-list.js';
import { isOnline, presenceText, typingText } from './presence.js';

const NEAR_BOTTOM_PX = 60;
const LOAD_OLDER_WITHIN_PX = 150;

export function createConversationView({ onSend, onTyping, onLoadOlder, onMarkRead, onRetry, onDiscard, onEdit, onDelete, onBack, onLeave, onAddMember }) {
  const placeholder = byId('conversation-placeholder');
  const pane = byId('conversation-pane');
  const title = byId('conversation-title');
  const subtitle = byId('conversation-subtitle');
  const headerAvatar = byId('conversation-avatar');
  const typingIndicator = byId('typing-indicator');
  const memberStrip = byId('conversation-members');
  const addMemberButton = byId('add-member-button');
  const scroller = byId('message-scroller');
  const list = byId('message-list');
  const historyStatus = byId('history-status');
  const jumpButton = byId('jump-to-latest');
  const composer = byId('composer');
  const input = byId('composer-input');

  const nodes = new Map(); // key -> <li>
  let shownChatId = null;
  let lastNode = null; // the bottom node at the last render: a different one means news at the bottom
  let editingId = null; // my message being edited in place, if any

  const isNearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_BOTTOM_PX;
  const scrollToBottom = () => { scroller.scrollTop = scroller.scrollHeight; };

  composer.addEventListener('submit', (event) => {
    event.preventDefault();
    if (onSend(input.value)) {
      input.value = '';
      fitInput();
    }
    input.focus();
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  input.addEventListener('input', () => {
    fitInput();
    if (input.value.trim()) onTyping();
  });
  scroller.addEventListener('scroll', () => {
    if (scroller.scrollTop < LOAD_OLDER_WITHIN_PX) onLoadOlder();
    if (isNearBottom()) jumpButton.hidden = true;
    maybeMarkRead();
  }, { passive: true });
  jumpButton.addEventListener('click', () => {
    scrollToBottom();
    jumpButton.hidden = true;
    input.focus();
  });
  list.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (!button) return;
    const li = button.closest('li');
    const id = Number(li.dataset.id);
    switch (button.dataset.action) {
      case 'retry': onRetry(li.dataset.clientMessageId); break;
      case 'discard': onDiscard(li.dataset.clientMessageId); break;
      case 'edit': startEditing(id); break;
      case 'delete': onDelete(id); break;
      case 'cancel-edit': stopEditing(); break;
      default: break;
    }
  });
  // Editing in place: Enter (or Save) saves, Shift+Enter adds a line, Escape (or Cancel) leaves the text as it was.
  list.addEventListener('submit', (event) => {
    event.preventDefault();
    saveEdit(event.target);
  });
  list.addEventListener('keydown', (event) => {
    if (!event.target.matches('.edit-input')) return;
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      event.target.form.requestSubmit();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      stopEditing();
    }
  });
  byId('back-button').addEventListener('click', onBack);
  byId('leave-button').addEventListener('click', onLeave);
  addMemberButton.addEventListener('click', onAddMember);

  function startEditing(id) {
    editingId = id;
    view.render({});
    const area = list.querySelector('.edit-input');
    if (area) {
      area.focus();
      area.setSelectionRange(area.value.length, area.value.length);
    }
  }

  function stopEditing() {
    editingId = null;
    view.render({});
    input.focus();
  }

  function saveEdit(form) {
    const text = form.elements.text.value;
    if (!text.trim()) return; // a message cannot be emptied; Delete removes it
    if (onEdit(Number(form.dataset.id), text)) stopEditing();
  }

  // The composer grows with its text, up to about six lines.
  function fitInput() {
    input.style.height = '';
    if (input.value && input.scrollHeight > input.clientHeight) {
      input.style.height = `${Math.min(input.scrollHeight + 2, 144)}px`;
    }
  }

  function renderHeader(chat, conversation) {
    const name = chatName(chat);
    title.textContent = name;
    avatar(name, headerAvatar);
    headerAvatar.classList.toggle('online', !chat.is_group && isOnline(chat.peer?.id));
    if (chat.is_group) {
      const count = conversation.memberCount;
      subtitle.textContent = count ? `Group · ${count} ${count === 1 ? 'member' : 'members'}` : 'Group';
    } else {
      subtitle.textContent = chat.peer ? presenceText(chat.peer.id) : 'Private chat';
    }
    // While someone types, that takes the subtitle's place.
    const typing = typingText(chat);
    typingIndicator.textContent = typing;
    typingIndicator.hidden = !typing;
    subtitle.hidden = Boolean(typing);
    renderMembers(chat, conversation);
    addMemberButton.hidden = !chat.is_group;
  }

  /** A group's other members, online first, each with a dot and "online" or "last seen …" on hover. */
  function renderMembers(chat, conversation) {
    const others = chat.is_group ? [...conversation.members].filter(([id]) => id !== state.me.id) : [];
    others.sort(([a], [b]) => Number(isOnline(b)) - Number(isOnline(a)));
    memberStrip.replaceChildren(...others.map(([id, memberName]) => {
      const online = isOnline(id);
      const status = presenceText(id);
      return el('li', { class: 'member', 'data-online': String(online), 'data-user-id': id, title: `${memberName}: ${status}` },
        el('span', { class: 'presence-dot', 'aria-hidden': 'true' }), memberName,
        el('span', { class: 'visually-hidden' }, `, ${status}`));
    }));
    memberStrip.hidden = others.length === 0;
  }

  function messageNode(item, { mine, runStart, senderName }) {
    // My messages are keyed by client_message_id, so a pending one turns into the stored one in place.
    const key = mine ? `c:${item.client_message_id}` : `m:${item.id}`;
    let node = nodes.get(key);
    if (!node) {
      node = el('li');
      nodes.set(key, node);
    }
    const status = item.id === undefined ? (item.error ? 'failed' : 'pending') : (item.is_read ? 'read' : 'sent');
    const seconds = item.timestamp ?? Math.floor(item.created / 1000);
    const stored = mine && item.id !== undefined;
    const editing = stored && item.id === editingId;
    const text = item.localText ?? item.text;
    // While it is being edited, the node is left alone (a re-render must not take the draft away).
    const signature = JSON.stringify(editing
      ? ['editing', item.id, runStart]
      : [text, status, runStart, senderName, item.error, seconds, item.edited_at ?? null, Boolean(item.localText), Boolean(item.deleting)]);
    if (node.dataset.signature === signature) return node;

    node.dataset.signature = signature;
    node.className = ['message', mine ? 'mine' : 'theirs', runStart && 'run-start', status === 'pending' && 'pending', status === 'failed' && 'failed',
      item.localText !== undefined && 'saving', item.deleting && 'deleting', editing && 'editing']
      .filter(Boolean).join(' ');
    if (item.id !== undefined) node.dataset.id = item.id;
    if (mine) node.dataset.clientMessageId = item.client_message_id;
    node.replaceChildren(el('div', { class: 'bubble' },
      senderName ? senderLabel(senderName) : null,
      editing ? editor(item) : el('p', { class: 'text' }, text),
      el('div', { class: 'meta' },
        stored && !editing && !item.deleting
          ? el('span', { class: 'message-actions' },
            el('button', { type: 'button', class: 'link', 'data-action': 'edit', 'aria-label': 'Edit message' }, 'Edit'),
            el('button', { type: 'button', class: 'link', 'data-action': 'delete', 'aria-label': 'Delete message' }, 'Delete'))
          : null,
        item.edited_at || item.localText !== undefined ? editedLabel(item) : null,
        el('time', { datetime: new Date(seconds * 1000).toISOString(), title: fullDateTime(seconds) }, formatTime(seconds)),
        mine ? ticks(status) : null),
      status === 'failed'
        ? el('div', { class: 'failure' },
          el('span', {}, `Not sent: ${item.error}`),
          el('button', { type: 'button', 'data-action': 'retry' }, 'Retry'),
          el('button', { type: 'button', 'data-action': 'discard' }, 'Discard'))
        : null));
    return node;
  }

  function daySeparator(seconds) {
    const key = `d:${dayKey(seconds)}`;
    let node = nodes.get(key);
    if (!node) {
      node = el('li', { class: 'day-separator' }, el('span', {}, formatDay(seconds)));
      nodes.set(key, node);
    }
    return node;
  }

  /** Sends READ_MESSAGE for the newest message from someone else, if this tab shows it on screen. */
  function maybeMarkRead() {
    if (shownChatId === null || document.visibilityState !== 'visible') return;
    const conversation = state.conversations.get(shownChatId);
    const newest = conversation?.newestFromOthers(state.me.id);
    if (!newest || newest.id <= conversation.readSentUpTo) return;
    const node = nodes.get(`m:${newest.id}`);
    if (!node || !onScreen(node)) return;
    onMarkRead(shownChatId, newest.id);
  }

  function onScreen(node) {
    const box = node.getBoundingClientRect();
    const view = scroller.getBoundingClientRect();
    return box.height > 0 && box.bottom > view.top + 8 && box.top < view.bottom - 8;
  }

  const view = {
    /** @param {object} flags toBottom, prepended (an older page came in) */
    render(flags) {
      const chat = state.chats.get(state.openChatId);
      const conversation = state.conversations.get(state.openChatId);
      if (!chat || !conversation) {
        this.hide();
        return;
      }
      const switched = chat.id !== shownChatId;
      if (switched) {
        nodes.clear();
        list.replaceChildren();
        shownChatId = chat.id;
        editingId = null;
        lastNode = null;
        jumpButton.hidden = true;
        input.value = '';
        fitInput();
      }
      placeholder.hidden = true;
      pane.hidden = false;
      renderHeader(chat, conversation);

      const wasNearBottom = isNearBottom();
      const heightBefore = scroller.scrollHeight;
      const topBefore = scroller.scrollTop;

      const wanted = [];
      let previousSender = null;
      let previousDay = null;
      const items = [...conversation.sorted(), ...pendingIn(chat.id)];
      if (editingId !== null && !conversation.messages.has(editingId)) editingId = null; // deleted meanwhile
      for (const item of items) {
        const seconds = item.timestamp ?? Math.floor(item.created / 1000);
        const day = dayKey(seconds);
        if (day !== previousDay) {
          wanted.push(daySeparator(seconds));
          previousDay = day;
          previousSender = null;
        }
        const mine = item.id === undefined || item.sender_id === state.me.id;
        const sender = mine ? state.me.id : item.sender_id;
        const runStart = sender !== previousSender;
        previousSender = sender;
        const senderName = chat.is_group && !mine && runStart
          ? conversation.members.get(item.sender_id) ?? 'Former member'
          : null;
        wanted.push(messageNode(item, { mine, runStart, senderName }));
      }
      const wantedSet = new Set(wanted);
      for (const [key, node] of nodes) if (!wantedSet.has(node)) nodes.delete(key);
      reconcile(list, wanted);

      historyStatus.textContent = !conversation.loaded ? 'Loading messages…'
        : conversation.loadingOlder ? 'Loading earlier messages…'
          : conversation.hasOlder ? ''
            : items.length ? 'This is the beginning of the conversation.' : 'No messages yet. Say hello!';

      const grewAtBottom = wanted.at(-1) !== lastNode;
      lastNode = wanted.at(-1);

      if (switched || flags.toBottom) {
        scrollToBottom();
        jumpButton.hidden = true;
      } else if (flags.prepended) {
        scroller.scrollTop = topBefore + (scroller.scrollHeight - heightBefore);
      } else if (wasNearBottom) {
        scrollToBottom();
      } else if (grewAtBottom) {
        jumpButton.hidden = false;
      }
      if (switched && matchMedia('(min-width: 701px)').matches) input.focus();

      // Not enough history to scroll: fetch older pages until the view fills up (or history ends).
      if (conversation.loaded && conversation.hasOlder && scroller.scrollHeight <= scroller.clientHeight + LOAD_OLDER_WITHIN_PX) {
        onLoadOlder();
      }
      maybeMarkRead();
    },

    hide() {
      shownChatId = null;
      nodes.clear();
      list.replaceChildren();
      pane.hidden = true;
      placeholder.hidden = false;
    },

    maybeMarkRead,
    focusComposer: () => input.focus(),
  };
  return view;
}

function editor(item) {
  const area = el('textarea', { class: 'edit-input', name: 'text', rows: 2, maxlength: 500, 'aria-label': 'Edit message' });
  area.value = item.localText ?? item.text;
  return el('form', { class: 'edit-form', 'data-id': item.id },
    area,
    el('div', { class: 'edit-buttons' },
      el('button', { type: 'button', 'data-action': 'cancel-edit' }, 'Cancel'),
      el('button', { type: 'submit', class: 'primary' }, 'Save')));
}

function editedLabel(item) {
  const title = item.localText !== undefined ? 'Saving the edit…' : `Edited ${fullDateTime(item.edited_at)}`;
  return el('span', { class: 'edited', title }, 'edited');
}

function senderLabel(name) {
  const label = el('div', { class: 'sender' }, name);
  label.style.setProperty('color', colorFor(name));
  return label;
}

function ticks(status) {
  const label = { pending: 'Sending', failed: 'Not sent', sent: 'Sent', read: 'Read' }[status];
  const symbol = { pending: '◷', failed: '!', sent: '✓', read: '✓✓' }[status];
  return el('span', { class: 'ticks', 'data-state': status, role: 'img', 'aria-label': label, title: label }, symbol);
}
