// The endpoint name of an HTTP flow ("GET /users/{id}") and its path
// parameters, remembered per (method, path): services call the same few paths
// over and over, and templating splits and tests every segment of the path.
// Bounded: past `max` remembered paths it starts over; long paths are not kept.
import { templatePath, type RoutePattern } from '../baseline/path-template.js';

export interface EndpointName {
  /** `GET /users/{id}`. */
  name: string;
  /** Values of the path parameters, in order. Shared by every flow on the same path: read, never change. */
  params: string[];
}

/** Paths longer than this are templated every time rather than kept. */
const MAX_REMEMBERED_PATH = 512;
const MAX_REMEMBERED_METHOD = 32;

export class EndpointNames {
  /** method → path → endpoint. */
  #byMethod = new Map<string, Map<string, EndpointName>>();
  #size = 0;

  constructor(
    readonly routes: readonly RoutePattern[],
    readonly max = 4096,
  ) {}

  /** The same as `${method} ${templatePath(path, routes).template}` with its params. */
  of(method: string, path: string): EndpointName {
    let byPath = this.#byMethod.get(method);
    const known = byPath?.get(path);
    if (known) return known;
    const templated = templatePath(path, this.routes);
    const endpoint = { name: `${method} ${templated.template}`, params: templated.params };
    if (path.length > MAX_REMEMBERED_PATH || method.length > MAX_REMEMBERED_METHOD) return endpoint;
    if (this.#size >= this.max) {
      this.#byMethod = new Map();
      this.#size = 0;
      byPath = undefined;
    }
    if (!byPath) this.#byMethod.set(method, (byPath = new Map()));
    byPath.set(path, endpoint);
    this.#size++;
    return endpoint;
  }
}
