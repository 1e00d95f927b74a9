# Operator and developer entry points. `make help` lists them.
.DEFAULT_GOAL := help
.PHONY: help test test-unit lint typecheck build images

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

test: ## Run every test against a real Docker engine, Redis and nginx (sets them up itself)
	scripts/test.sh

lint: ## Lint and format check (Biome)
	npm run lint

typecheck: ## Type-check every workspace, tests included
	npm run typecheck

build: ## Compile the services to dist/
	npm run build

images: ## Build the node base and tenant images offline (no registry)
	scripts/build-images.sh
