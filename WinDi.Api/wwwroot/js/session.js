// The session (README "Sessions"): the tokens live in sessionStorage, so they survive a reload of this tab and end
// with it; each tab that logs in is a session (a device) of its own. The access token is refreshed before it expires
// and whenever the server refuses it; only the server's invalid_grant (the session was ended) logs the person out.

const TOKEN_KEY = 'windi.token';
const REFRESH_KEY = 'windi.refresh';
const EXPIRES_KEY = 'windi.token.expires';   // when the access token expires, by this browser's clock (ms)
const LIFETIME_KEY = 'windi.token.lifetime'; // its lifetime as the server stated it (expires_in, in ms)

const REFRESH_AT = 0.8;            // of the access token's lifetime
const EXPIRY_MARGIN_MS = 5_000;    // a token this close to its end counts as expired
const MIN_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;

/** Thrown by `refresh` (and reported once through `onEnded`) when the server says the session is over. */
export class SessionEnded extends Error {
  constructor() {
    super('Your session has ended. Please log in again.');
    this.name = 'SessionEnded';
  }
}

export class Session {
  #exchange;
  #onRenewed;
  #onEnded;
  #refreshing = null;
  #timer;
  #retryDelay = MIN_RETRY_MS;
  #failing = false;

  /**
   * @param {object} options
   * @param {(refreshToken: string) => Promise<object>} options.exchange POST /token with the refresh grant; rejects with ApiError
   * @param {() => void} options.onRenewed a new access token is in place (reconnect what used the old one)
   * @param {(message: string) => void} options.onEnded the server ended the session
   */
  constructor({ exchange, onRenewed, onEnded }) {
    this.#exchange = exchange;
    this.#onRenewed = onRenewed;
    this.#onEnded = onEnded;
    window.addEventListener('online', () => { if (this.#failing) this.#refreshSoon(0); });
    document.addEventListener('visibilitychange', () => {
      // Timers of hidden tabs are throttled: a tab that comes back checks at once.
      if (document.visibilityState === 'visible' && sessionStorage.getItem(REFRESH_KEY) && Date.now() >= this.#refreshDue()) {
        this.#refreshSoon(0);
      }
    });
  }

  /** A session to resume: a refresh token, or (from before refresh tokens) an access token that has not expired. */
  get active() {
    return Boolean(sessionStorage.getItem(REFRESH_KEY)) || (Boolean(this.accessToken) && !this.#expired());
  }

  get accessToken() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  /** A token response from POST /token (a login or a refresh). */
  save({ access_token: access, refresh_token: refresh, expires_in: expiresIn }) {
    sessionStorage.setItem(TOKEN_KEY, access);
    if (refresh) sessionStorage.setItem(REFRESH_KEY, refresh);
    // Timed from expires_in, not from the JWT's exp: exp is the server's clock, and this browser's may differ.
    sessionStorage.setItem(EXPIRES_KEY, String(Date.now() + expiresIn * 1000));
    sessionStorage.setItem(LIFETIME_KEY, String(expiresIn * 1000));
    this.#retryDelay = MIN_RETRY_MS;
    this.#schedule();
  }

  /** After a reload: the next refresh is due when the stored token is at REFRESH_AT of its life. */
  resume() {
    this.#schedule();
  }

  /** Refreshes first if the access token has expired (a request with it would be refused). */
  async fresh() {
    if (this.#expired() && sessionStorage.getItem(REFRESH_KEY)) {
      await this.refresh().catch(() => {});
    }
  }

  /**
   * Exchanges the refresh token for new tokens. One exchange at a time: a rotated token used twice would end the
   * session (the server takes the second use for theft), so every caller shares the one in flight.
   * Resolves when the new tokens are saved; rejects with SessionEnded, or with the failure (offline, 503, 429), in
   * which case it is tried again with backoff until it works or the session turns out to be over.
   */
  refresh() {
    this.#refreshing ??= this.#exchangeOnce().finally(() => { this.#refreshing = null; });
    return this.#refreshing;
  }

  /** Forgets the tokens of this tab (after logout, or once the server ended the session). */
  forget() {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    sessionStorage.clear();
  }

  async #exchangeOnce() {
    const refreshToken = sessionStorage.getItem(REFRESH_KEY);
    if (!refreshToken) throw this.#ended();
    let tokens;
    try {
      tokens = await this.#exchange(refreshToken);
    } catch (failure) {
      if (failure.status === 400 && failure.problem?.error === 'invalid_grant') throw this.#ended();
      // Not an answer about the session (no network, the server busy or down): keep it and try again.
      this.#failing = true;
      const retryAfter = Number(failure.retryAfter) * 1000 || 0;
      this.#refreshSoon(Math.max(retryAfter, this.#retryDelay));
      this.#retryDelay = Math.min(MAX_RETRY_MS, this.#retryDelay * 2);
      throw failure;
    }
    this.#failing = false;
    if (sessionStorage.getItem(REFRESH_KEY) !== refreshToken) return; // logged out meanwhile
    this.save(tokens);
    this.#onRenewed();
  }

  #ended() {
    const ended = new SessionEnded();
    if (sessionStorage.getItem(REFRESH_KEY) || sessionStorage.getItem(TOKEN_KEY)) {
      this.forget();
      this.#onEnded(ended.message);
    }
    return ended;
  }

  #schedule() {
    if (!sessionStorage.getItem(REFRESH_KEY)) return;
    this.#refreshSoon(Math.max(0, this.#refreshDue() - Date.now()));
  }

  /** When the next refresh is due: at REFRESH_AT of the access token's life (at once if that is unknown). */
  #refreshDue() {
    const expires = Number(sessionStorage.getItem(EXPIRES_KEY));
    const lifetime = Number(sessionStorage.getItem(LIFETIME_KEY));
    return expires && lifetime ? expires - lifetime * (1 - REFRESH_AT) : 0;
  }

  #refreshSoon(delay) {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.refresh().catch(() => {}), delay);
  }

  #expired() {
    const expires = Number(sessionStorage.getItem(EXPIRES_KEY));
    if (expires) return Date.now() >= expires - EXPIRY_MARGIN_MS;
    return isExpired(this.accessToken); // a token stored by an older page, before refresh tokens
  }
}

/** True when the token's `exp` has passed (with a few seconds to spare); false if it cannot tell. */
function isExpired(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const { exp } = JSON.parse(atob(payload));
    return typeof exp === 'number' && exp * 1000 < Date.now() + EXPIRY_MARGIN_MS;
  } catch {
    return false;
  }
}
