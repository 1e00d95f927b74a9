/**
 * The error base shared by every Tenancy service.
 *
 * Domain code throws a {@link TenancyError} with a stable `code`; only the HTTP edge of a
 * service turns it into a response (see {@link toErrorBody}). Codes follow
 * `<PART>_ERR_<NOUN>_<PROBLEM>` and never change once published: clients match on them.
 */
export class TenancyError extends Error {
  /** Stable machine-readable code, for example `SUP_ERR_TENANT_NOT_FOUND`. */
  readonly code: string;
  /** HTTP status the edge answers with. */
  readonly statusCode: number;
  /** Extra fields safe to show to the caller (for example `retryAfterSeconds`). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: string,
    statusCode: number,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TenancyError';
    this.code = code;
    this.statusCode = statusCode;
    this.details = options.details;
  }
}

/** A factory for one registered error: call it to build the error, read `code` to match it. */
export interface ErrorFactory {
  (message?: string, options?: { cause?: unknown; details?: Record<string, unknown> }): TenancyError;
  readonly code: string;
  readonly statusCode: number;
  readonly defaultMessage: string;
}

/** Registers one error kind. Each service keeps all of its kinds in its own `errors.ts`. */
export function defineError(code: string, statusCode: number, defaultMessage: string): ErrorFactory {
  const factory = (message?: string, options?: { cause?: unknown; details?: Record<string, unknown> }) =>
    new TenancyError(code, statusCode, message ?? defaultMessage, options);
  return Object.assign(factory, { code, statusCode, defaultMessage });
}

/** True when `err` is a {@link TenancyError}, optionally of the given kind. */
export function isTenancyError(err: unknown, kind?: ErrorFactory): err is TenancyError {
  return err instanceof TenancyError && (kind === undefined || err.code === kind.code);
}

/** The JSON body every Tenancy service answers an error with. */
export interface ErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
  [detail: string]: unknown;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/**
 * Turns any thrown value into the public error body. 5xx errors that are not a
 * {@link TenancyError} keep their message out of the body: internals stay in the log.
 */
export function toErrorBody(err: unknown, fallbackCode: string): ErrorBody {
  if (err instanceof TenancyError) {
    return {
      ...err.details,
      statusCode: err.statusCode,
      code: err.code,
      error: STATUS_TEXT[err.statusCode] ?? 'Error',
      message: err.message,
    };
  }
  const statusCode = statusOf(err);
  const code = codeOf(err) ?? fallbackCode;
  const message = statusCode < 500 && err instanceof Error ? err.message : 'internal error';
  return { statusCode, code, error: STATUS_TEXT[statusCode] ?? 'Error', message };
}

function statusOf(err: unknown): number {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status <= 599 ? status : 500;
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code) ? code : undefined;
}
