// Small DOM helpers. User text only ever reaches the page as text nodes (never innerHTML).

export const byId = (id) => document.getElementById(id);

/** Creates an element; strings among the children become text nodes. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

/**
 * Makes container's children exactly `nodes`, in order, moving only what is out of place, so that
 * focus, selection and scroll position survive a re-render.
 */
export function reconcile(container, nodes) {
  let cursor = container.firstChild;
  for (const node of nodes) {
    if (node === cursor) {
      cursor = cursor.nextSibling;
    } else {
      container.insertBefore(node, cursor);
    }
  }
  while (cursor) {
    const next = cursor.nextSibling;
    cursor.remove();
    cursor = next;
  }
}

// Mid-dark colors: white initials on them, and names in them on a white bubble, stay readable.
const PALETTE = ['#4f7bd9', '#d0643f', '#2f9c7a', '#9a5bd0', '#c94a7a', '#2b8db3', '#b7832b', '#5f8a3a'];

/** A stable color for a name: a person gets the same one on their avatar and on their messages in groups. */
export function colorFor(name) {
  let hash = 0x811c9dc5; // FNV-1a
  for (const character of String(name)) {
    hash ^= character.codePointAt(0);
    hash = Math.imul(hash, 0x01000193);
  }
  return PALETTE[(hash >>> 0) % PALETTE.length];
}

/** A colored circle with initials. */
export function avatar(name, node = el('span', { class: 'avatar', 'aria-hidden': 'true' })) {
  node.textContent = initials(name);
  node.style.setProperty('--avatar', colorFor(name));
  return node;
}

function initials(name) {
  const words = String(name ?? '?').trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : words;
  return letters.map((word) => [...word][0].toUpperCase()).join('') || '?';
}

let toastTimer;

/** Shows a short message at the bottom of the screen (an error, usually). */
export function toast(message) {
  const node = byId('toast');
  node.textContent = message;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.hidden = true; }, 6000);
}

/** Calls fn at most once per `delay` ms, after the last call. */
export function debounce(fn, delay) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), delay);
  };
}
