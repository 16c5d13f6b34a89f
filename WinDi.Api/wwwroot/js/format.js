// Dates and times as a person reads them: "14:05" today, "Mon" this week, "3 Mar" otherwise.

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const weekdayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short' });
const dateFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const longDateFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });

const fromUnix = (seconds) => new Date(seconds * 1000);

function startOfDay(date) {
  const copy = new Date(date);
  copy.setHours(0, 0, 0, 0);
  return copy;
}

const daysAgo = (date) => Math.round((startOfDay(new Date()) - startOfDay(date)) / 86_400_000);

export const formatTime = (seconds) => timeFormat.format(fromUnix(seconds));

/** For the chat list: the time today, the weekday within a week, else the date. */
export function formatShort(seconds) {
  const date = fromUnix(seconds);
  const days = daysAgo(date);
  if (days === 0) return timeFormat.format(date);
  if (days < 7) return weekdayFormat.format(date);
  return dateFormat.format(date);
}

/** For the separators between days in a conversation. */
export function formatDay(seconds) {
  const date = fromUnix(seconds);
  const days = daysAgo(date);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return longDateFormat.format(date);
}

export function dayKey(seconds) {
  const date = fromUnix(seconds);
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;
}

export const fullDateTime = (seconds) => fromUnix(seconds).toLocaleString();

/** "last seen just now", "… 5 minutes ago", "… 3 hours ago", "… yesterday at 14:05", "… on 3 Mar". */
export function formatLastSeen(seconds, nowMs = Date.now()) {
  const ago = Math.max(0, Math.floor(nowMs / 1000) - seconds);
  if (ago < 60) return 'last seen just now';
  if (ago < 3600) return `last seen ${plural(Math.floor(ago / 60), 'minute')} ago`;
  const date = fromUnix(seconds);
  const days = daysAgo(date);
  if (days === 0) return `last seen ${plural(Math.floor(ago / 3600), 'hour')} ago`;
  if (days === 1) return `last seen yesterday at ${timeFormat.format(date)}`;
  return `last seen on ${dateFormat.format(date)}`;
}

const plural = (count, unit) => `${count} ${unit}${count === 1 ? '' : 's'}`;
