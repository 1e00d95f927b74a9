# Operator and developer entry points. `make help` lists them.
.DEFAULT_GOAL := help
.PHONY: help test test-unit lint typecheck compile build images tenant-build bench dev up down logs backup \
	swarm-up swarm-down restore tenants tenant-logs tenant-stop

# The compose stack reads this file (./setup.sh writes it); ENV_FILE=... picks another one.
ENV_FILE ?= .env
# Compose v2 when the engine has it, else the older docker-compose.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo 'docker compose' || echo docker-compose)
DC = $(COMPOSE) --env-file $(ENV_FILE)
# The admin CLI inside the supervisor container: it already holds ADMIN_TOKEN and reaches the API.
ADMIN = $(DC) exec -T supervisor node dist/cli/admin-cli.js
# USER is also the login name in the environment: only a USER given on the command line counts.
need-user = $(if $(filter command line,$(origin USER)),,$(error name the tenant's user: make $@ USER=<user id>))

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

test: ## Run every test against a real Docker engine, Redis and nginx (sets them up itself)
	scripts/test.sh

test-unit: ## Run only the tests that need no Docker, Redis or nginx (sets nothing up; under a minute)
	scripts/test-unit.sh

lint: ## Lint and format check (Biome)
	npm run lint

typecheck: ## Type-check every workspace, tests included
	npm run typecheck

compile: ## Compile the services to dist/
	npm run build

build: ## Build every image offline: node base, tenant, gateway, supervisor, nginx, redis
	scripts/build-images.sh

images: build ## Same as build

tenant-build: ## Build only the tenant image (and its node base), offline
	scripts/build-images.sh tenant

# Which benchmarks `make bench` runs: proxy, idle, wake, edge, boot, storm, density (all by default).
BENCH ?= proxy idle wake edge boot storm density

bench: ## Run the benchmarks, figures and ratios from one run: make bench BENCH=proxy for one
	scripts/bench.sh $(BENCH)

dev: ## Host mode: supervisor, gateway and nginx as processes on this machine
	scripts/dev.sh

up: ## Start the compose stack (./setup.sh the first time)
	$(DC) up -d --remove-orphans

down: ## Stop and remove the stack's containers (volumes and tenants are kept)
	$(DC) down

swarm-up: ## Deploy (or update) the stack on a Docker Swarm: stack.yaml, images to every node (docs/operations.md)
	TENANCY_ENV_FILE=$(ENV_FILE) scripts/swarm.sh up

swarm-down: ## Remove the Swarm stack (tenant services, volumes and networks are kept)
	TENANCY_ENV_FILE=$(ENV_FILE) scripts/swarm.sh down

logs: ## Follow the stack's logs
	$(DC) logs -f --tail=100

backup: ## Online backup of the central database, copied to ./backups/
	@mkdir -p backups
	@path=$$($(ADMIN) backup --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).path))') && \
	  docker cp "$$($(DC) ps -q supervisor):$$path" backups/ && echo "backup: backups/$$(basename "$$path")"

# The supervisor stops (tenants keep running), a one-off supervisor container (the CLI, not the
# image's server entrypoint) with the backup mounted read-only replaces the database on the supervisor's volume (the one it replaces is kept
# beside it), and the supervisor starts again: it reconciles the tenants with the engine.
restore: ## Replace the central database with a backup: make restore BACKUP=backups/tenancy-<time>.db
	$(if $(BACKUP),,$(error name the backup file: make restore BACKUP=backups/tenancy-<time>.db))
	@test -f "$(BACKUP)" || { echo "restore: no file $(BACKUP)" >&2; exit 1; }
	$(DC) stop supervisor
	$(DC) run --rm --no-deps -T --entrypoint node -v "$(abspath $(BACKUP)):/restore/$(notdir $(BACKUP)):ro" supervisor \
	  dist/cli/admin-cli.js restore "/restore/$(notdir $(BACKUP))" --yes
	$(DC) up -d supervisor

tenants: ## List tenants: state, last activity, when they sleep
	$(ADMIN) list

tenant-logs: ## Last log lines of one tenant's container: make tenant-logs USER=alice
	$(need-user)
	$(ADMIN) logs "$(USER)"

tenant-stop: ## Put one tenant to sleep: make tenant-stop USER=alice
	$(need-user)
	$(ADMIN) stop "$(USER)"
