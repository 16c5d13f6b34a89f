// One WebSocket to /ws?access_token=, reopened with exponential backoff whenever it drops, and with the new token
// when the access token is renewed (a socket lives no longer than the token it was opened with): make before break,
// so that live frames keep coming on the old socket until the new one is open.
// The owner catches up (SYNC) in onOpen and calls markHealthy() once the connection has proved itself.

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;
const PING_EVERY_MS = 20_000;
const SILENCE_LIMIT_MS = 45_000; // no frame at all (not even PONG) for this long: the connection is dead
const POLICY_VIOLATION = 1008;   // the server closes with it when the token expires or its session ends

export class RealtimeConnection {
  #socket = null;
  #retiring = null; // the socket a renewal replaces, open until the new one is
  #attempt = 0;
  #retryTimer;
  #heartbeat;
  #lastFrameAt = 0;
  #stopped = true;

  /**
   * @param {object} handlers
   * @param {() => string} handlers.token
   * @param {() => void} handlers.onOpen
   * @param {(frame: object) => void} handlers.onFrame
   * @param {(state: 'connecting'|'syncing'|'online'|'offline', retryInMs?: number) => void} handlers.onState
   * @param {(reason: 'policy'|'refused') => void} handlers.onTrouble the server closed for policy, or refused to open
   */
  constructor(handlers) {
    this.handlers = handlers;
  }

  get isOpen() {
    return this.#socket?.readyState === WebSocket.OPEN;
  }

  start() {
    this.#stopped = false;
    this.#connect();
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#heartbeat);
    const socket = this.#socket;
    this.#socket = null;
    this.#retire();
    socket?.close(1000, 'Bye');
  }

  /** Sends one frame if the socket is open; returns whether it went out. */
  send(command, payload) {
    if (!this.isOpen) return false;
    this.#socket.send(JSON.stringify(payload === undefined ? { command } : { command, payload }));
    return true;
  }

  /** The connection works (it has caught up): the next drop starts again from the shortest delay. */
  markHealthy() {
    this.#attempt = 0;
    this.handlers.onState('online');
  }

  /**
   * The access token was renewed: a socket with the new one opens now, before the server closes the old one at its
   * token's expiry. The old one keeps delivering until then and is closed once the new one is open (the page
   * handles a frame that comes on both the same as one that comes once: by id). The new socket's SYNC catches up.
   */
  renew() {
    if (this.#stopped) return;
    clearTimeout(this.#retryTimer);
    const current = this.#socket;
    this.#socket = null; // its close event is then ignored
    if (current?.readyState === WebSocket.OPEN) {
      this.#retire();
      this.#retiring = current;
    } else {
      current?.close(1000, 'Token renewed');
    }
    this.#connect();
  }

  /** Skips the rest of the backoff wait, e.g. when the browser says the network is back. */
  reconnectNow() {
    if (!this.#stopped && !this.#socket) {
      clearTimeout(this.#retryTimer);
      this.#connect();
    }
  }

  #connect() {
    // While a renewal's old socket is still open, the page is still live: it says so.
    if (!this.#retiring) this.handlers.onState('connecting');
    const url = new URL('/ws', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('access_token', this.handlers.token());
    const socket = new WebSocket(url);
    let opened = false;
    this.#socket = socket;

    socket.onopen = () => {
      opened = true;
      const renewal = this.#retire();
      this.#lastFrameAt = Date.now();
      this.#startHeartbeat(socket);
      if (!renewal) this.handlers.onState('syncing');
      this.handlers.onOpen();
    };
    socket.onmessage = (event) => {
      this.#lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.handlers.onFrame(frame);
    };
    socket.onclose = (event) => {
      if (this.#socket !== socket) return; // replaced or stopped
      this.#socket = null;
      this.#retire(); // a renewal that failed: the old socket goes too, and the reconnect below replaces both
      clearInterval(this.#heartbeat);
      if (this.#stopped) return;
      if (event.code === POLICY_VIOLATION) this.handlers.onTrouble('policy');
      else if (!opened) this.handlers.onTrouble('refused');
      this.#scheduleReconnect();
    };
  }

  /** Closes the socket a renewal replaced; true if there was one. */
  #retire() {
    const old = this.#retiring;
    this.#retiring = null;
    old?.close(1000, 'Token renewed');
    return Boolean(old);
  }

  #scheduleReconnect() {
    if (this.#stopped) return; // onTrouble may have ended the session
    const backoff = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.#attempt);
    const delay = Math.round(backoff * (0.75 + Math.random() * 0.5)); // jitter: tabs do not reconnect in lockstep
    this.#attempt += 1;
    this.handlers.onState('offline', delay);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  #startHeartbeat(socket) {
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => {
      if (Date.now() - this.#lastFrameAt > SILENCE_LIMIT_MS) {
        socket.close(4000, 'No answer from the server');
        // A half-dead socket may never report close; treat it as closed now.
        socket.onclose?.({ code: 4000 });
      } else {
        this.send('PING');
      }
    }, PING_EVERY_MS);
  }
}
