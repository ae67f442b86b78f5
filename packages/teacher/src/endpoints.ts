/**
 * @module Teacher endpoints as the operator configures them: a name → the API root, a default model, and the
 * key sent there. Pipeline specs name an endpoint and never carry a URL, so a key only ever goes where the
 * operator put it. The keys are private fields: no log line, JSON or `inspect` of the endpoints shows them.
 */

export type TeacherEndpointConfig = {
  /** The API root, e.g. `http://localhost:8000/v1`. */
  baseUrl: string;
  /** The model of a step that names none. */
  model?: string;
  /** Sent as `Authorization: Bearer` to this endpoint only; absent sends no key. */
  apiKey?: string;
};

/** An endpoint as it may be shown: its key is only said to exist. */
export type TeacherEndpointInfo = { name: string; baseUrl: string; model?: string; hasApiKey: boolean };

/** One endpoint resolved for a client: the URL and key come from the configuration, never from a spec. */
export type TeacherTarget = { endpoint: string; baseUrl: string; model: string; apiKey: string | null };

/** The API root as compared and sent to: without trailing slashes. */
export function normalizeBaseUrl(url: string): string {
  return url.replace(/\/+$/, "");
}

export class TeacherEndpoints {
  readonly #endpoints = new Map<string, TeacherEndpointConfig>();

  constructor(endpoints: Record<string, TeacherEndpointConfig> = {}) {
    for (const [name, endpoint] of Object.entries(endpoints)) {
      let url: URL;
      try {
        url = new URL(endpoint.baseUrl);
      } catch {
        throw new TypeError(`teacher endpoint ${name}: ${JSON.stringify(endpoint.baseUrl)} is not a URL`);
      }
      if (url.protocol !== "http:" && url.protocol !== "https:")
        throw new TypeError(`teacher endpoint ${name}: ${endpoint.baseUrl} is not an http(s) URL`);
      if (url.username || url.password)
        throw new TypeError(`teacher endpoint ${name}: put credentials in its key, not in the URL`);
      this.#endpoints.set(name, {
        baseUrl: normalizeBaseUrl(endpoint.baseUrl),
        ...(endpoint.model ? { model: endpoint.model } : {}),
        ...(endpoint.apiKey ? { apiKey: endpoint.apiKey } : {}),
      });
    }
  }

  get names(): string[] {
    return [...this.#endpoints.keys()].sort();
  }

  /** The endpoint, without its key; undefined when none has that name. */
  get(name: string): TeacherEndpointInfo | undefined {
    const endpoint = this.#endpoints.get(name);
    if (!endpoint) return undefined;
    return {
      name,
      baseUrl: endpoint.baseUrl,
      ...(endpoint.model ? { model: endpoint.model } : {}),
      hasApiKey: endpoint.apiKey !== undefined,
    };
  }

  /** What a client of `model` at the named endpoint needs, its key included; undefined for an unknown name. */
  target(name: string, model: string): TeacherTarget | undefined {
    const endpoint = this.#endpoints.get(name);
    if (!endpoint) return undefined;
    return { endpoint: name, baseUrl: endpoint.baseUrl, model, apiKey: endpoint.apiKey ?? null };
  }

  toJSON(): TeacherEndpointInfo[] {
    return this.names.map((name) => this.get(name) as TeacherEndpointInfo);
  }
}
