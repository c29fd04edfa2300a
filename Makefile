# The map of the project: every job a user or CI runs starts here.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
export npm_config_loglevel ?= error
export npm_config_fund := false
export npm_config_audit := false
export K6_NO_USAGE_REPORT := true
BROKER ?= rabbitmq

.PHONY: help install build test unit lint format demo sim bench bench-exporter bench-worker bench-upload bench-peers loadtest e2e tools manifests images brokers clean
TAG ?= dev
SCENARIO ?= burst
ENGINE ?= adapter

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18

install: node_modules/.install-stamp ## npm ci (only when package-lock.json changed)
node_modules/.install-stamp: package-lock.json package.json $(wildcard */package.json)
	npm ci
	@touch $@

build: install ## compile every package (tsc -b)
	npx tsc -b

brokers: ## make sure local RabbitMQ (+ management, prometheus plugins) and NATS JetStream answer
	scripts/brokers.sh

tools: ## build pinned Go tools and install Debian packages the tests need (cached in .tools/)
	scripts/tools.sh

lint: install ## eslint + prettier --check
	npx tsc -p tsconfig.test.json
	npx tsc -p e2e/tsconfig.json
	npx eslint .
	npx prettier --check .

format: install ## prettier --write
	npx prettier --write .

test: build brokers tools lint ## everything CI runs: lint, unit and integration tests against the real brokers
	@mkdir -p .tmp && rm -f .tmp/vitest-report.json
	npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest-report.json || true
	@node scripts/test-summary.mjs .tmp/vitest-report.json

unit: build ## tests only, without lint and tool set-up
	npx vitest run

demo: build brokers ## the main job end to end on this machine (BROKER=rabbitmq|nats)
	BROKER=$(BROKER) npx tsx scripts/demo.ts

bench: bench-exporter bench-worker bench-upload bench-peers ## every benchmark; prints figures

bench-exporter: build brokers ## exporter poll time vs the brokers' own endpoints, /metrics latency, RSS; external scaler latency for 1,000 ScaledObjects
	npm run bench -w @queuescale/exporter

bench-worker: build brokers ## worker no-op throughput vs bare client loops; producer confirmed ingest rate
	npm run bench -w @queuescale/worker
	npm run bench -w @queuescale/producer

bench-upload: build brokers ## a generated 1,000,000-row CSV (~90 MB) through POST …/upload and publish --file on both brokers: rows/s, time to last confirm, producer peak RSS
	npm run bench:upload -w @queuescale/producer

bench-peers: build brokers ## this exporter vs kbudde/rabbitmq_exporter and the brokers' own endpoints; writes docs/benchmarks.md
	scripts/loadtest-tools.sh peers
	npx tsx loadtest/bench/peers.ts

loadtest: build brokers tools ## k6 against the producer on the local stack (SCENARIO=burst|ramp|soak, BROKER=rabbitmq|nats)
	SCENARIO=$(SCENARIO) BROKER=$(BROKER) npx tsx loadtest/run.ts

e2e: build brokers ## real pods: images on a real node (kubelet, containerd), the real HPA and adapter, or KEDA with ENGINE=keda (root; ~8 min warm, first tool build half an hour to an hour)
	scripts/e2e-tools.sh
	TAG=$(TAG) scripts/images.sh
	npx tsx e2e/run.ts --tag $(TAG) --engine $(ENGINE)

sim: build ## a 5,000-message burst through the sample HPA vs an instant oracle (queuescale-sim)
	npx queuescale-sim burst --hpa autoscaler/test/fixtures/hpa.yaml --burst 5000@10

manifests: ## print the rendered Kustomize overlays
	@for overlay in k8s/overlays/*/; do echo "# ---- $$overlay"; kubectl kustomize "$$overlay"; done

images: ## build the exporter, worker and producer images from ./Dockerfile (Docker, else buildah/podman; TAG=dev)
	TAG=$(TAG) scripts/images.sh

clean: ## remove build output (keeps .tools/)
	rm -rf node_modules */dist */*.tsbuildinfo .tmp
