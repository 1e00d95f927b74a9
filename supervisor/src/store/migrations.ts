/**
 * The central database's schema, as an ordered list of steps. Step N brings a database from
 * `user_version` N to N + 1; each runs in its own transaction. Never edit a published step:
 * add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE users (
    user_id              TEXT PRIMARY KEY,
    email                TEXT,
    plan                 TEXT NOT NULL DEFAULT 'free',
    onboarding_completed INTEGER NOT NULL DEFAULT 0,
    disabled             INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    last_login_at        INTEGER
  ) STRICT;

  CREATE TABLE tenants (
    user_id              TEXT PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    tenant_hash          TEXT NOT NULL UNIQUE,
    state                TEXT NOT NULL DEFAULT 'asleep'
                         CHECK (state IN ('asleep', 'waking', 'running', 'stopping', 'failed')),
    phase                TEXT,
    container_id         TEXT,
    network_name         TEXT,
    subnet               TEXT UNIQUE,
    endpoint_url         TEXT,
    last_activity        INTEGER,
    idle_deadline        INTEGER,
    stop_reason          TEXT,
    stop_detail          TEXT,
    wake_count           INTEGER NOT NULL DEFAULT 0,
    failure_count        INTEGER NOT NULL DEFAULT 0,
    last_wake_started_at INTEGER,
    last_wake_ready_at   INTEGER,
    last_wake_ms         INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX tenants_by_state ON tenants(state, user_id);

  CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT,
    result  TEXT NOT NULL CHECK (result IN ('ok', 'error', 'denied')),
    detail  TEXT
  ) STRICT;
  CREATE INDEX audit_by_target ON audit(target, id);
  CREATE INDEX audit_by_action ON audit(action, id);
  -- The audit log is append-only: history cannot be rewritten through SQL.
  CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
  CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;

  CREATE TABLE tenant_summaries (
    user_id       TEXT PRIMARY KEY REFERENCES tenants(user_id) ON DELETE CASCADE,
    messages      INTEGER NOT NULL,
    replies       INTEGER NOT NULL,
    tokens_used   INTEGER NOT NULL,
    bytes_stored  INTEGER NOT NULL,
    last_activity INTEGER,
    received_at   INTEGER NOT NULL
  ) STRICT;
  `,
  // Two-stage sleep: a tenant can be paused (frozen, memory kept) before it is stopped.
  `
  CREATE TABLE tenants_next (
    user_id              TEXT PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    tenant_hash          TEXT NOT NULL UNIQUE,
    state                TEXT NOT NULL DEFAULT 'asleep'
                         CHECK (state IN ('asleep', 'waking', 'running', 'paused', 'stopping', 'failed')),
    phase                TEXT,
    container_id         TEXT,
    network_name         TEXT,
    subnet               TEXT UNIQUE,
    endpoint_url         TEXT,
    last_activity        INTEGER,
    idle_deadline        INTEGER,
    paused_at            INTEGER,
    stop_reason          TEXT,
    stop_detail          TEXT,
    wake_count           INTEGER NOT NULL DEFAULT 0,
    failure_count        INTEGER NOT NULL DEFAULT 0,
    last_wake_started_at INTEGER,
    last_wake_ready_at   INTEGER,
    last_wake_ms         INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
  ) STRICT;
  INSERT INTO tenants_next (user_id, tenant_hash, state, phase, container_id, network_name, subnet, endpoint_url,
    last_activity, idle_deadline, stop_reason, stop_detail, wake_count, failure_count, last_wake_started_at,
    last_wake_ready_at, last_wake_ms, created_at, updated_at)
  SELECT user_id, tenant_hash, state, phase, container_id, network_name, subnet, endpoint_url,
    last_activity, idle_deadline, stop_reason, stop_detail, wake_count, failure_count, last_wake_started_at,
    last_wake_ready_at, last_wake_ms, created_at, updated_at
  FROM tenants;
  DROP TABLE tenants;
  ALTER TABLE tenants_next RENAME TO tenants;
  CREATE INDEX tenants_by_state ON tenants(state, user_id);
  `,
  // Named admin identities: each operator's own token, stored as a SHA-256 hash (see
  // admins/admin-tokens.ts for why not bcrypt). Rows are never deleted, so a name in the audit
  // log always means one identity: revoking stamps revoked_at.
  `
  CREATE TABLE admin_identities (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    token_hash   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    revoked_by   TEXT
  ) STRICT;
  `,
  // Data rights (docs/security.md, "Data rights"): an account whose owner asked for its deletion
  // is refused at once and erased after DELETION_GRACE. Erasing replaces the user id in the audit
  // log with a pseudonym (`erased:` and an HMAC of it): the log stays append-only for everything
  // else, so the one update it now allows is that replacement, which keeps when, who, what and
  // the outcome of every row.
  `
  ALTER TABLE users ADD COLUMN deletion_due_at INTEGER;
  CREATE INDEX users_by_deletion_due ON users(deletion_due_at) WHERE deletion_due_at IS NOT NULL;
  DROP TRIGGER audit_no_update;
  CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    WHEN NOT (NEW.target LIKE 'erased:%' AND NEW.id = OLD.id AND NEW.at = OLD.at AND NEW.actor = OLD.actor
              AND NEW.action = OLD.action AND NEW.result = OLD.result)
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
  `,
  // Personal API keys (gateway/src/api-keys/key-format.ts): only a SHA-256 of each key is kept,
  // with its public lookup id. Rows stay after revocation (revoked_at), so the listing and the
  // audit log keep meaning something; they go with their user.
  `
  CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('tenant')),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    revoked_by   TEXT
  ) STRICT;
  CREATE INDEX api_keys_by_user ON api_keys(user_id, created_at);
  `,
  // The inactivity policy (INACTIVE_TENANT_DAYS, accounts/inactive-accounts.ts): when a user was
  // warned that their account will be deleted for want of a sign-in. Cleared by their next
  // sign-in. Last sign-ins are already recorded (users.last_login_at, api_keys.last_used_at).
  `
  ALTER TABLE users ADD COLUMN inactive_warned_at INTEGER;
  `,
];
