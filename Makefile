# The map of the project: every job a user or CI runs starts here.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
export npm_config_loglevel ?= error
export npm_config_fund := false
export npm_config_audit := false
export K6_NO_USAGE_REPORT := true
BROKER ?= rabbitmq
SCALING ?= depth

.PHONY: help install build test unit lint format demo sim bench bench-exporter bench-worker bench-upload bench-peers bench-drain loadtest e2e tools manifests images brokers clean
TAG ?= dev
SCENARIO ?= burst
E2E_SCENARIO ?= all
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

demo: build brokers ## the main job end to end on this machine (BROKER=rabbitmq|nats; SCALING=drain-time: depth-only vs drain-time HPA on a handler that gets 10x slower, through a real Prometheus)
	BROKER=$(BROKER) SCALING=$(SCALING) npx tsx scripts/demo.ts

bench: bench-exporter bench-worker bench-upload bench-peers bench-drain ## every benchmark; prints figures

bench-exporter: build brokers ## size sweep (RabbitMQ 1k/10k/50k queues, JetStream 1k/10k consumers; BENCH_RABBITMQ_QUEUES, BENCH_NATS_CONSUMERS): poll vs broker endpoint, CPU, RSS, body, scrapes as Prometheus makes them; writes its block of docs/benchmarks.md and a chart; external scaler latency for 1,000 ScaledObjects
	npm run bench -w @queuescale/exporter

bench-worker: build brokers ## worker no-op throughput vs bare client loops; producer confirmed ingest rate
	npm run bench -w @queuescale/worker
	npm run bench -w @queuescale/producer

bench-upload: build brokers ## a generated 1,000,000-row CSV (~90 MB) through POST …/upload and publish --file on both brokers: rows/s, time to last confirm, producer peak RSS
	npm run bench:upload -w @queuescale/producer

bench-peers: build brokers ## this exporter vs kbudde/rabbitmq_exporter, nats-io/prometheus-nats-exporter (from ../shared/peers or NATS_EXPORTER_TARBALL) and the brokers' own endpoints, and a 3-node cluster check; writes docs/benchmarks.md
	scripts/loadtest-tools.sh peers
	npx tsx loadtest/bench/peers.ts

bench-drain: build ## fixed-target HPA vs drain-time HPA vs oracle on a burst, steady inflow with bursts, a 10x slower handler (simulated): share of time over T, p95 wait, replica-seconds, peak
	@for scenario in burst steady-bursts slowdown; do \
	  nice npx queuescale-sim drain --hpa autoscaler/test/fixtures/hpa.yaml --scenario $$scenario --floor-target 1000 --drain-target 60 --runs 50; echo; \
	done

loadtest: build brokers tools ## k6 against the producer on the local stack (SCENARIO=burst|ramp|soak, BROKER=rabbitmq|nats)
	SCENARIO=$(SCENARIO) BROKER=$(BROKER) npx tsx loadtest/run.ts

e2e: build brokers ## real pods: images on a real node (kubelet, containerd), the real HPA and adapter, or KEDA with ENGINE=keda (root; ~8 min warm, first tool build half an hour to an hour; E2E_SCENARIO=drain-time for that scenario alone)
	scripts/e2e-tools.sh
	TAG=$(TAG) scripts/images.sh
	npx tsx e2e/run.ts --tag $(TAG) --engine $(ENGINE) --scenario $(E2E_SCENARIO)

sim: build ## a 5,000-message burst through the sample HPA vs an instant oracle (queuescale-sim)
	npx queuescale-sim burst --hpa autoscaler/test/fixtures/hpa.yaml --burst 5000@10

manifests: ## print the rendered Kustomize overlays
	@for overlay in k8s/overlays/*/; do echo "# ---- $$overlay"; kubectl kustomize "$$overlay"; done

images: ## build the exporter, worker and producer images from ./Dockerfile (Docker, else buildah/podman; TAG=dev)
	TAG=$(TAG) scripts/images.sh

clean: ## remove build output (keeps .tools/)
	rm -rf node_modules */dist */*.tsbuildinfo .tmp
