/** What the chat knows about the user's own data when it answers. */
export interface ResponderContext {
  messageCount: number;
  listFiles: () => Promise<string[]>;
  /** The latest exchanges, oldest first, for a responder that needs the conversation. */
  recent: () => { role: 'user' | 'assistant'; content: string }[];
}

/**
 * Produces a reply to a message. Swappable: the local one below, or a model behind an
 * OpenAI-compatible API (openai-responder.ts). `onDelta` receives each piece of the reply as it
 * is produced, so the app can stream it; the returned text is the whole reply.
 */
export interface Responder {
  reply(
    message: string,
    context: ResponderContext,
    onDelta?: (piece: string) => void,
  ): Promise<{ text: string; tokens: number }>;
}

const HELP = [
  'I am the assistant in your own private container. Try:',
  '  help     this text',
  '  history  how many messages you have sent',
  '  files    what is in your files area',
  'Anything else I repeat back, so you can see your messages arrive.',
].join('\n');

/**
 * The default responder: deterministic and offline, so tests can assert its answers, yet useful:
 * it answers simple questions about the user's own data.
 */
export const localResponder: Responder = {
  async reply(message, context, onDelta) {
    const answer = await answerLocally(message, context);
    // Word by word, yielding between pieces, so a streamed reply arrives as a stream does.
    if (onDelta) {
      for (const piece of answer.text.split(/(\s+)/)) {
        if (!piece) continue;
        onDelta(piece);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return answer;
  },
};

async function answerLocally(message: string, context: ResponderContext): Promise<{ text: string; tokens: number }> {
  const command = message.trim().toLowerCase();
  if (command === 'help' || command === '/help') return { text: HELP, tokens: 0 };
  if (command === 'history' || command === '/history') {
    return {
      text: `You have sent ${context.messageCount} message${context.messageCount === 1 ? '' : 's'} before this one.`,
      tokens: 0,
    };
  }
  if (command === 'files' || command === '/files') {
    const files = await context.listFiles();
    return { text: files.length === 0 ? 'Your files area is empty.' : `Your files: ${files.join(', ')}`, tokens: 0 };
  }
  if (/^(hello|hi|hey)\b/.test(command)) {
    return {
      text: 'Hello! Your private container is awake and listening. Type "help" to see what I can do.',
      tokens: 0,
    };
  }
  return { text: `You said: ${message}`, tokens: 0 };
}
