/** An error with a stable code; the app's error handler turns it into a JSON answer. */
export class TenantError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export const errors = {
  secretMissing: () => new TenantError('TENANT_ERR_SECRET_INVALID', 401, 'requests must come through the platform'),
  notFound: (what = 'not found') => new TenantError('TENANT_ERR_NOT_FOUND', 404, what),
  badRequest: (message: string) => new TenantError('TENANT_ERR_REQUEST_INVALID', 400, message),
  pathInvalid: (message = 'invalid file path') => new TenantError('TENANT_ERR_PATH_INVALID', 400, message),
  fileTooLarge: (limit: number) =>
    new TenantError('TENANT_ERR_FILE_TOO_LARGE', 413, `files are limited to ${limit} bytes`),
  quotaExceeded: () => new TenantError('TENANT_ERR_QUOTA_EXCEEDED', 507, 'the files area is full'),
  modelUnavailable: (message: string) => new TenantError('TENANT_ERR_MODEL_UNAVAILABLE', 502, message),
  isDirectory: () => new TenantError('TENANT_ERR_IS_DIRECTORY', 409, 'that path is a folder'),
} as const;
