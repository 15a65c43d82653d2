// @ts-check
// The page's side of the agent's WebSocket stream (/v1/stream). One socket per
// subscription: a new filter closes the old socket and opens a new one, so no
// record of the old filter can arrive after the new one applies. A lost
// connection is retried with backoff, and the state is shown to the user.

/**
 * @typedef {object} Subscription
 * @property {string[]} kinds
 * @property {Record<string, string[]>} filter
 * @property {number} last
 */
/**
 * @typedef {'connecting' | 'live' | 'retrying' | 'closed'} StreamState
 */

export class StreamClient {
  /** @type {WebSocket | undefined} */
  #socket;
  /** @type {Subscription | undefined} */
  #subscription;
  #retryMs = 500;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #retryTimer;
  #url;
  #onMessage;
  #onState;

  /**
   * @param {string} url
   * @param {(message: Record<string, unknown>) => void} onMessage
   * @param {(state: StreamState, detail: string) => void} onState
   */
  constructor(url, onMessage, onState) {
    this.#url = url;
    this.#onMessage = onMessage;
    this.#onState = onState;
  }

  /** (Re)subscribes on a fresh socket. @param {Subscription} subscription */
  subscribe(subscription) {
    this.#subscription = subscription;
    this.#retryMs = 500;
    this.#open();
  }

  close() {
    this.#subscription = undefined;
    clearTimeout(this.#retryTimer);
    this.#drop();
    this.#onState('closed', '');
  }

  #drop() {
    const old = this.#socket;
    this.#socket = undefined;
    if (old) {
      old.onopen = old.onmessage = old.onclose = old.onerror = null;
      old.close();
    }
  }

  #open() {
    clearTimeout(this.#retryTimer);
    this.#drop();
    const subscription = this.#subscription;
    if (!subscription) return;
    this.#onState('connecting', this.#url);
    const socket = new WebSocket(this.#url);
    this.#socket = socket;
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: 'subscribe', kinds: subscription.kinds, filter: subscription.filter, last: subscription.last, format: 'json' }));
    };
    socket.onmessage = (event) => {
      if (typeof event.data !== 'string') return;
      // One record per frame; several newline-separated ones are read as well.
      for (const line of event.data.split('\n')) {
        if (line.trim() === '') continue;
        /** @type {unknown} */
        let message;
        try {
          message = JSON.parse(line);
        } catch {
          continue;
        }
        if (!message || typeof message !== 'object') continue;
        const record = /** @type {Record<string, unknown>} */ (message);
        if (record.type === 'subscribed') {
          this.#retryMs = 500;
          this.#onState('live', '');
        }
        this.#onMessage(record);
      }
    };
    socket.onclose = (event) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      const wait = this.#retryMs;
      this.#retryMs = Math.min(this.#retryMs * 2, 10_000);
      this.#onState('retrying', `connection lost${event.reason ? ` (${event.reason})` : ''}; retrying in ${Math.round(wait / 1000) || 1}s`);
      this.#retryTimer = setTimeout(() => this.#open(), wait);
    };
  }
}
