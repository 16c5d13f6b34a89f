// The REST API (README "REST API"). Failures become ApiError with the problem document's `detail`.

export class ApiError extends Error {
  constructor(status, message, problem = null, retryAfter = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter; // seconds, from a 429's or 503's Retry-After
  }
}

export class Api {
  /**
   * @param {import('./session.js').Session} session whose access token authenticated calls carry; a 401 refreshes
   *   it once and repeats the call (the session ends only if the server refuses the refresh)
   */
  constructor(session) {
    this.session = session;
  }

  register(name, email, password) {
    return this.#request('POST', '/register', { json: { name, email, password }, anonymous: true });
  }

  login(email, password) {
    const form = new URLSearchParams({ username: email, password });
    return this.#request('POST', '/token', { form, anonymous: true });
  }

  /** The refresh grant: new tokens for the session, the given refresh token stops working. */
  refreshTokens(refreshToken) {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken });
    return this.#request('POST', '/token', { form, anonymous: true });
  }

  /** Ends this session on the server. Best effort, and quick: the page forgets its tokens whatever happens. */
  logout() {
    return this.#request('POST', '/logout', { timeoutMs: 3000 });
  }

  sessions() { return this.#request('GET', '/sessions'); }

  endSession(sessionId) { return this.#request('DELETE', `/sessions/${encodeURIComponent(sessionId)}`); }

  me() { return this.#request('GET', '/users/me'); }

  searchUsers(search, limit = 20) {
    return this.#request('GET', `/users?${new URLSearchParams({ search, limit })}`);
  }

  chats() { return this.#request('GET', '/chats'); }

  chat(chatId) { return this.#request('GET', `/chats/${chatId}`); }

  createPrivateChat(recipientId) {
    return this.#request('POST', '/chats', { json: { is_group: false, recipient_id: recipientId } });
  }

  createGroup(name) {
    return this.#request('POST', '/chats', { json: { is_group: true, name } });
  }

  addMember(chatId, userId) {
    return this.#request('POST', `/chats/${chatId}/add-user?${new URLSearchParams({ user_id: userId })}`);
  }

  leave(chatId) { return this.#request('DELETE', `/chats/${chatId}/exit`); }

  /**
   * A page of messages, oldest first: the newest page (`latest`), or the one just before `beforeId` /
   * after `afterId` (keyset paging). With none of them it is the oldest page (offset paging counts
   * from the first message), which this client never asks for.
   */
  history(chatId, { limit = 50, latest = false, beforeId, afterId } = {}) {
    const query = new URLSearchParams({ limit });
    if (latest) query.set('latest', 'true');
    if (beforeId) query.set('before_id', beforeId);
    if (afterId !== undefined) query.set('after_id', afterId);
    return this.#request('GET', `/history/${chatId}?${query}`);
  }

  async #request(method, path, { json, form, anonymous = false, timeoutMs, retry = true } = {}) {
    const session = anonymous ? null : this.session;
    if (session && retry) await session.fresh();
    const headers = { Accept: 'application/json' };
    if (session) headers.Authorization = `Bearer ${session.accessToken}`;
    let body;
    if (json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      body = form;
    }

    let response;
    try {
      response = await fetch(path, { method, headers, body, signal: timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined });
    } catch {
      throw new ApiError(0, 'Cannot reach the server. Check your connection and try again.');
    }
    if (response.ok) {
      return response.status === 204 ? null : response.json();
    }
    if (response.status === 401 && session && retry) {
      // Expired, or the session ended: a refresh tells which (it rejects, and ends the session, only for the latter).
      await session.refresh();
      return this.#request(method, path, { json, form, retry: false });
    }
    throw await problemFrom(response);
  }
}

async function problemFrom(response) {
  let problem = null;
  try {
    problem = await response.json();
  } catch {
    // Not a problem document (a proxy's error page, say): fall back to the status line.
  }
  let message = problem?.detail || problem?.title || `The server answered ${response.status} ${response.statusText}.`;
  const retryAfter = response.headers.get('Retry-After');
  if (response.status === 429 && retryAfter && !/\d/.test(message)) {
    message += ` Try again in ${retryAfter} seconds.`;
  }
  return new ApiError(response.status, message, problem, retryAfter);
}
