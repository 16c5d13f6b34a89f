// Find people by name or email prefix (GET /users?search=) and pick one.

import { el, avatar, debounce } from './dom.js';

export function createUserSearch({ api, input, results, error, exclude, onPick }) {
  let generation = 0;
  let found = [];

  const search = debounce(async () => {
    const query = input.value.trim();
    const mine = ++generation;
    if (!query) {
      found = [];
      results.replaceChildren();
      return;
    }
    try {
      const users = await api.searchUsers(query);
      if (mine !== generation) return; // a newer search is under way
      const excluded = exclude();
      found = users.filter((user) => !excluded.has(user.id));
      error.textContent = '';
      results.replaceChildren(...(found.length
        ? found.map(resultItem)
        : [el('li', { class: 'user-results-note' }, `No one found for “${query}”.`)]));
    } catch (failure) {
      if (mine === generation) error.textContent = failure.message;
    }
  }, 200);

  function resultItem(user) {
    return el('li', {},
      el('button', { type: 'button', class: 'user-result', 'data-user-id': user.id },
        avatar(user.name),
        el('span', { class: 'user-result-text' },
          el('span', {}, user.name),
          el('span', { class: 'user-result-email' }, user.email))));
  }

  async function pick(user) {
    const buttons = results.querySelectorAll('button');
    buttons.forEach((button) => { button.disabled = true; });
    error.textContent = '';
    try {
      await onPick(user);
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      buttons.forEach((button) => { button.disabled = false; });
    }
  }

  input.addEventListener('input', search);
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault(); // the dialog's form would close the dialog
      if (found.length > 0) pick(found[0]);
    } else if (event.key === 'ArrowDown') {
      event.preventDefault();
      results.querySelector('button')?.focus();
    }
  });
  results.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    event.preventDefault();
    const buttons = [...results.querySelectorAll('button')];
    const index = buttons.indexOf(document.activeElement) + (event.key === 'ArrowDown' ? 1 : -1);
    (index < 0 ? input : buttons[Math.min(index, buttons.length - 1)]).focus();
  });
  results.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-user-id]');
    const user = button && found.find((candidate) => candidate.id === Number(button.dataset.userId));
    if (user) pick(user);
  });

  return {
    reset() {
      generation++;
      found = [];
      input.value = '';
      results.replaceChildren();
      error.textContent = '';
    },
  };
}
