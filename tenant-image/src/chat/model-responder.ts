import { errors, TenantError } from '../errors.js';
import type { Responder } from './responder.js';

/** Where the model lives: any server speaking OpenAI's chat completions API. */
export interface ModelSettings {
  /** Base URL including the version path, e.g. https://api.openai.com/v1 (LLM_BASE_URL). */
  baseUrl: string;
  /** Bearer key, if the server wants one (LLM_API_KEY). Never logged. */
  apiKey?: string;
  /** Model name (LLM_MODEL). */
  model: string;
  /** Longest a whole answer may take, ms (LLM_TIMEOUT). */
  timeoutMs: number;
}

const SYSTEM_PROMPT = 'You are the assistant inside a user’s own private workspace. Answer briefly and helpfully.';

/**
 * A responder backed by an OpenAI-compatible chat completions endpoint. It streams (`stream:
 * true`), hands each piece to `onDelta` as it arrives, and asks for the usage figures in the last
 * chunk so the tokens spent are recorded with the reply. Hand-written over fetch rather than the
 * OpenAI SDK: one request shape and one stream format, and the image stays small.
 */
export function createModelResponder(settings: ModelSettings): Responder {
  const url = `${settings.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  return {
    async reply(message, context, onDelta) {
      const messages = [
        { role: 'system', content: SYSTEM_PROMPT },
        ...context.recent(),
        { role: 'user', content: message },
      ];
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'text/event-stream',
            ...(settings.apiKey ? { authorization: `Bearer ${settings.apiKey}` } : {}),
          },
          body: JSON.stringify({
            model: settings.model,
            messages,
            stream: true,
            stream_options: { include_usage: true },
          }),
          signal: AbortSignal.timeout(settings.timeoutMs),
        });
      } catch (err) {
        throw errors.modelUnavailable(`the model could not be reached (${(err as Error).name})`);
      }
      if (!res.ok || !res.body) {
        await res.body?.cancel();
        throw errors.modelUnavailable(`the model answered ${res.status}`);
      }

      let text = '';
      let tokens = 0;
      try {
        for await (const data of serverSentData(res.body)) {
          if (data === '[DONE]') break;
          const chunk = parseChunk(data);
          const piece = chunk.choices?.[0]?.delta?.content;
          if (typeof piece === 'string' && piece !== '') {
            text += piece;
            onDelta?.(piece);
          }
          if (typeof chunk.usage?.total_tokens === 'number') tokens = chunk.usage.total_tokens;
        }
      } catch (err) {
        if (err instanceof TenantError) throw err;
        throw errors.modelUnavailable(`the model's answer broke off (${(err as Error).name})`);
      }
      return { text, tokens };
    },
  };
}

interface CompletionChunk {
  choices?: { delta?: { content?: unknown } }[];
  usage?: { total_tokens?: unknown };
}

function parseChunk(data: string): CompletionChunk {
  try {
    const chunk = JSON.parse(data) as unknown;
    if (chunk && typeof chunk === 'object') return chunk as CompletionChunk;
  } catch {
    // reported below
  }
  throw errors.modelUnavailable('the model sent something that is not a completion chunk');
}

/**
 * The `data:` payloads of a Server-Sent Events body, one per event, in order. The services have
 * the same reader in @tenancy/shared; the tenant app is a standalone package built from its own
 * folder, so it keeps this small copy rather than depend on the platform's workspace.
 */
export async function* serverSentData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  for await (const bytes of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    let newline = buffer.indexOf('\n');
    while (newline !== -1) {
      const line = buffer.slice(0, newline).replace(/\r$/, '');
      buffer = buffer.slice(newline + 1);
      if (line === '') {
        if (data.length > 0) yield data.join('\n');
        data = [];
      } else if (line.startsWith('data:')) {
        data.push(line.slice(5).replace(/^ /, ''));
      }
      newline = buffer.indexOf('\n');
    }
  }
  if (data.length > 0) yield data.join('\n');
}
