// One WebSocket to /ws?access_token=, reopened with exponential backoff whenever it drops, and at once with the
// new token when the access token is renewed (a socket lives no longer than the token it was opened with).
// The owner catches up (SYNC) in onOpen and calls markHealthy() once the connection has proved itself.

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;
const PING_EVERY_MS = 20_000;
const SILENCE_LIMIT_MS = 45_000; // no frame at all (not even PONG) for this long: the connection is dead
const POLICY_VIOLATION = 1008;   // the server closes with it when the token expires or its session ends

export class RealtimeConnection {
  #socket = null;
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
   * The access token was renewed: the socket is reopened with the new one now, before the server closes it at the
   * old token's expiry. Whatever arrives in between is caught up by the SYNC of onOpen; pending sends are resent.
   */
  renew() {
    if (this.#stopped) return;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#heartbeat);
    const old = this.#socket;
    this.#socket = null; // its close event is then ignored
    old?.close(1000, 'Token renewed');
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
    this.handlers.onState('connecting');
    const url = new URL('/ws', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('access_token', this.handlers.token());
    const socket = new WebSocket(url);
    let opened = false;
    this.#socket = socket;

    socket.onopen = () => {
      opened = true;
      this.#lastFrameAt = Date.now();
      this.#startHeartbeat(socket);
      this.handlers.onState('syncing');
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
      clearInterval(this.#heartbeat);
      if (this.#stopped) return;
      if (event.code === POLICY_VIOLATION) this.handlers.onTrouble('policy');
      else if (!opened) this.handlers.onTrouble('refused');
      this.#scheduleReconnect();
    };
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
