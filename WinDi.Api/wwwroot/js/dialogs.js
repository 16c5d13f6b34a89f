// New chat, new group, add member, leave, delete a message, devices: modal <dialog>s (Escape closes them, focus returns).

import { state } from './state.js';
import { byId, el, toast } from './dom.js';
import { createUserSearch } from './user-search.js';
import { chatName } from './chat-list.js';
import { fullDateTime } from './format.js';

export function setupDialogs({ api, messenger, navigate }) {
  const newChatDialog = byId('new-chat-dialog');
  const newGroupDialog = byId('new-group-dialog');
  const addMemberDialog = byId('add-member-dialog');
  const leaveDialog = byId('leave-dialog');
  const devicesDialog = byId('devices-dialog');
  const deleteDialog = byId('delete-message-dialog');
  const all = [newChatDialog, newGroupDialog, addMemberDialog, leaveDialog, deleteDialog, devicesDialog];

  for (const dialog of all) {
    dialog.querySelectorAll('[data-close]').forEach((button) => button.addEventListener('click', () => dialog.close()));
    // Escape closes a dialog at once, even from a field that would first swallow it.
    dialog.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        dialog.close();
      }
    });
  }

  const newChatSearch = createUserSearch({
    api,
    input: byId('new-chat-search'),
    results: byId('new-chat-results'),
    error: byId('new-chat-error'),
    exclude: () => new Set([state.me.id]),
    onPick: async (user) => {
      const chatId = await messenger().startPrivateChat(user);
      newChatDialog.close();
      navigate(chatId);
    },
  });

  const addMemberSearch = createUserSearch({
    api,
    input: byId('add-member-search'),
    results: byId('add-member-results'),
    error: byId('add-member-error'),
    exclude: () => new Set([state.me.id, ...(state.conversations.get(state.openChatId)?.members.keys() ?? [])]),
    onPick: async (user) => {
      await messenger().addMember(state.openChatId, user);
      addMemberDialog.close();
      toast(`${user.name} is now in the group.`);
    },
  });

  byId('new-chat-button').addEventListener('click', () => {
    newChatSearch.reset();
    newChatDialog.showModal();
  });

  byId('new-group-button').addEventListener('click', () => {
    byId('new-group-name').value = '';
    byId('new-group-error').textContent = '';
    newGroupDialog.showModal();
  });

  byId('new-group-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = byId('new-group-name').value.trim();
    const error = byId('new-group-error');
    if (!name) {
      error.textContent = 'Give the group a name.';
      return;
    }
    const submit = event.submitter ?? event.target.querySelector('[type=submit]');
    submit.disabled = true;
    try {
      const chatId = await messenger().createGroup(name);
      newGroupDialog.close();
      navigate(chatId);
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      submit.disabled = false;
    }
  });

  byId('leave-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const chatId = Number(leaveDialog.dataset.chatId);
    const submit = event.submitter ?? event.target.querySelector('[type=submit]');
    submit.disabled = true;
    try {
      await messenger().leave(chatId);
      leaveDialog.close();
      navigate(null);
    } catch (failure) {
      byId('leave-error').textContent = failure.message;
    } finally {
      submit.disabled = false;
    }
  });

  // Devices: GET /sessions lists this person's live sessions; DELETE /sessions/{id} signs one out (its page is
  // logged out within seconds: its socket closes and its refresh token is refused).
  const deviceList = byId('device-list');
  const devicesError = byId('devices-error');
  const signOutOthers = byId('sign-out-others');
  let sessions = [];

  async function loadDevices() {
    devicesError.textContent = '';
    try {
      // This device first, then the others as the server orders them (the most recently used first).
      sessions = (await api.sessions()).sort((x, y) => Number(y.current) - Number(x.current));
    } catch (failure) {
      devicesError.textContent = failure.message;
      return;
    }
    deviceList.replaceChildren(...sessions.map((session) => el('li', { class: 'device', dataset: { current: session.current } },
      el('span', { class: 'device-text' },
        el('strong', {}, session.current ? 'This device' : 'Another device'),
        el('span', { class: 'device-times' },
          `Logged in ${fullDateTime(session.created_at)} · last active ${fullDateTime(session.last_used_at)}`)),
      session.current ? null : el('button', { type: 'button', onclick: () => endSessions([session.id]) }, 'Sign out'))));
    signOutOthers.disabled = !sessions.some((session) => !session.current);
  }

  async function endSessions(ids) {
    signOutOthers.disabled = true;
    const results = await Promise.allSettled(ids.map((id) => api.endSession(id)));
    // 404: that session had ended already, which is what was asked.
    const failed = results.find((result) => result.status === 'rejected' && result.reason.status !== 404);
    await loadDevices();
    if (failed) devicesError.textContent = failed.reason.message;
    else toast(ids.length === 1 ? 'That device is signed out.' : `${ids.length} devices are signed out.`);
  }

  byId('devices-button').addEventListener('click', () => {
    deviceList.replaceChildren();
    signOutOthers.disabled = true;
    devicesDialog.showModal();
    loadDevices();
  });

  signOutOthers.addEventListener('click', () => endSessions(sessions.filter((session) => !session.current).map((session) => session.id)));

  byId('delete-message-form').addEventListener('submit', (event) => {
    event.preventDefault();
    messenger().remove(Number(deleteDialog.dataset.messageId));
    deleteDialog.close();
  });

  return {
    /** Asks before deleting one of my messages for everyone. */
    deleteMessage(messageId) {
      deleteDialog.dataset.messageId = messageId;
      deleteDialog.showModal();
    },
    addMember() {
      addMemberSearch.reset();
      addMemberDialog.showModal();
    },
    leave() {
      const chat = state.chats.get(state.openChatId);
      if (!chat) return;
      leaveDialog.dataset.chatId = chat.id;
      byId('leave-heading').textContent = `Leave “${chatName(chat)}”?`;
      byId('leave-text').textContent = chat.is_group
        ? 'You will stop receiving this group’s messages. Someone in the group can add you again.'
        : 'The chat leaves your list. Starting a chat with this person again brings it back.';
      byId('leave-error').textContent = '';
      leaveDialog.showModal();
    },
    closeAll() {
      for (const dialog of all) if (dialog.open) dialog.close();
    },
  };
}
