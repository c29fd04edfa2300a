/**
 * `make bench-peers`: this exporter next to kbudde/rabbitmq_exporter and the brokers' own endpoints,
 * side by side in one run, written to docs/benchmarks.md (and printed). Prints figures; asserts
 * nothing about speed.
 *
 *   RabbitMQ with PEERS_RABBITMQ_QUEUES (default 1000,10000) queues, NATS with PEERS_NATS_CONSUMERS
 *   (default 1000) consumers ("0" leaves a broker out); PEERS_CALLS_SMALL / PEERS_CALLS_LARGE calls per row (30 / 10; large
 *   is 10,000 queues and up); PEERS_CLIENT_BENCHES=0 leaves out the worker and producer benchmarks
 *   (the producer's ingest and bulk-upload ones) and keeps their section of the page as it was;
 *   PEERS_NATS_CLUSTER=0 leaves out the 3-node cluster check (what each exporter reports for a
 *   replicated consumer); PEERS_REPORT writes the page elsewhere than docs/benchmarks.md. The block
 *   `make bench-exporter` wrote into the page is carried over.
 *
 * Every vhost, queue, server and process it makes is removed at the end, on failure and on Ctrl-C.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RabbitAdmin } from "@queuescale/test-support/rabbitmq/broker-admin";
import { MANAGEMENT_URL } from "@queuescale/test-support/rabbitmq/scenario";
import { ROOT } from "../../scripts/stack/index.js";
import { k6Binary } from "../k6.js";
import { EXPORTER_BLOCK, readBlock, withoutBlock } from "./doc-blocks.js";
import { KBUDDE_EXPORTER, NATS_PEER_EXPORTER, natsPeerVersion } from "./exporters.js";
import { Children, cleanUpOnExit } from "./measure.js";
import { benchNats } from "./nats.js";
import { checkNatsCluster, type ClusterCheck } from "./nats-cluster.js";
import { machineFacts } from "./proc.js";
import { benchRabbitmq } from "./rabbitmq.js";
import { CLIENT_SECTION_TITLE, renderReport, type ClientBench, type Section, type Versions } from "./report.js";

const LARGE = 10_000;
/** A comma-separated list of counts; "0" leaves that broker out. */
const numbers = (raw: string | undefined, fallback: number[]) =>
  raw
    ? raw
        .split(",")
        .map((value) => Number(value.trim()))
        .filter((count) => count > 0)
    : fallback;
const rabbitQueueCounts = numbers(process.env.PEERS_RABBITMQ_QUEUES, [1_000, 10_000]);
const natsConsumerCounts = numbers(process.env.PEERS_NATS_CONSUMERS, [1_000]);
const callsFor = (count: number) =>
  count >= LARGE ? Number(process.env.PEERS_CALLS_LARGE ?? 10) : Number(process.env.PEERS_CALLS_SMALL ?? 30);
const withClientBenches = process.env.PEERS_CLIENT_BENCHES !== "0";
const withCluster = process.env.PEERS_NATS_CLUSTER !== "0";
const REPORT = process.env.PEERS_REPORT || join(ROOT, "docs", "benchmarks.md");
const COMMAND = "make bench-peers";

const children = new Children();
const { onCleanUp, cleanUp } = cleanUpOnExit(children);

/** The module version a Go binary was built from (`go version -m`), e.g. v1.0.0. */
function goModuleVersion(binary: string): string {
  if (!existsSync(binary)) return "not built";
  const info = execFileSync("go", ["version", "-m", binary], { encoding: "utf8" });
  const main = /^\s+mod\s+(\S+)\s+(\S+)/m.exec(info);
  return main ? `${main[2]} (${main[1]})` : "unknown";
}

async function versions(): Promise<Versions> {
  const overview = (await (await new RabbitAdmin(MANAGEMENT_URL).request("GET", "/overview")).json()) as {
    rabbitmq_version: string;
    erlang_version: string;
  };
  const exporterPackage = JSON.parse(readFileSync(join(ROOT, "exporter", "package.json"), "utf8")) as {
    version: string;
  };
  return {
    rabbitmq: `${overview.rabbitmq_version} (Erlang ${overview.erlang_version})`,
    nats: "not measured",
    node: process.version,
    exporter: `${exporterPackage.version} (this tree)`,
    kbudde: existsSync(KBUDDE_EXPORTER) ? "not measured" : "not built",
    natsPeer: "not measured",
    k6: goModuleVersion(k6Binary(ROOT)),
  };
}

/**
 * PEERS_RABBITMQ_QUEUES=0: the RabbitMQ tables of the page before stay, each marked with the run
 * it comes from, rather than vanish from the page.
 */
function carriedRabbitSections(previous: string): string[] {
  const measured = /^Measured (.+?) with /m.exec(previous)?.[1] ?? "an earlier run";
  return previous
    .split(/^(?=## )/m)
    .filter((part) => part.startsWith("## RabbitMQ, "))
    .map((part) => `${part.trim()}\n- Carried over from the run of ${measured}: this run left RabbitMQ out.`);
}

/** Runs another package's benchmark as it is and keeps what it prints. */
function runClientBench(workspace: string, script = "bench"): Promise<ClientBench> {
  const command = `npm run ${script} -w ${workspace}`;
  console.log(`\n${command}`);
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "--silent", script, "-w", workspace], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve({ command, output }) : reject(new Error(`${command} exited with ${code}`)),
    );
  });
}

async function main(): Promise<void> {
  const machine = machineFacts();
  const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
  console.log(`peer comparison on ${machine.cpuModel}, ${machine.cores} cores; load average ${machine.loadAverage}`);
  const log = (line: string) => console.log(line);
  const sections: Section[] = [];
  const found = await versions();

  for (const queues of rabbitQueueCounts) {
    console.log(`\nRabbitMQ, ${queues.toLocaleString("en")} queues`);
    const run = await benchRabbitmq({ queues, calls: callsFor(queues), children, onCleanUp, log });
    found.kbudde = `${run.kbuddeVersion} (github.com/kbudde/rabbitmq_exporter)`;
    sections.push({
      title: `RabbitMQ, ${queues.toLocaleString("en")} queues`,
      reference: run.rows[0]!,
      rows: run.rows,
      notes: [
        `${run.messages.toLocaleString("en")} messages in one queue in ten; non-durable queues in a vhost of their own.`,
        "`/metrics/per-object` and kbudde's `/api/queues` cover every queue of the node " +
          `(${run.nodeQueues.toLocaleString("en")} then; kbudde filters the vhost afterwards); ` +
          "the other rows read only the benchmark's vhost.",
      ],
    });
  }
  for (const consumers of natsConsumerCounts) {
    console.log(`\nNATS JetStream, ${consumers.toLocaleString("en")} consumers`);
    const run = await benchNats({ consumers, calls: callsFor(consumers), children, onCleanUp, log });
    found.nats = run.version;
    sections.push({
      title: `NATS JetStream, ${run.consumers.toLocaleString("en")} consumers`,
      reference: run.rows[0]!,
      rows: run.rows,
      notes: [
        "A throwaway nats-server (loopback, file store in a temporary directory) holds only these consumers.",
        "prometheus-nats-exporter's depth figures are its `jetstream_consumer_num_pending` series; it also " +
          "renders the consumer's other fields (ack pending, redelivered, sequences…) and its stream and server " +
          "labels on each.",
      ],
    });
  }
  let cluster: ClusterCheck | undefined;
  const unavailable: string[] = [];
  if (withCluster && natsConsumerCounts.length > 0 && existsSync(NATS_PEER_EXPORTER)) {
    console.log("\nNATS JetStream, 3-node cluster, one R3 consumer");
    try {
      cluster = await checkNatsCluster({ children, onCleanUp, log });
    } catch (error) {
      // The tables above stand on their own: say what failed rather than lose them.
      const reason = error instanceof Error ? error.message : String(error);
      console.error(`  the cluster check failed: ${reason}`);
      unavailable.push(`the 3-node cluster check failed in this run: ${reason.split("\n")[0]}`);
    }
  }
  if (existsSync(NATS_PEER_EXPORTER) && natsConsumerCounts.length > 0) {
    found.natsPeer = `${natsPeerVersion()} (github.com/nats-io/prometheus-nats-exporter, from its source tarball)`;
  }

  const clientBenches: ClientBench[] = [];
  if (withClientBenches) {
    clientBenches.push(await runClientBench("@queuescale/worker"));
    clientBenches.push(await runClientBench("@queuescale/producer"));
    clientBenches.push(await runClientBench("@queuescale/producer", "bench:upload"));
  }
  // Read now, not at the start: make bench-exporter may have written its block meanwhile.
  const previous = existsSync(REPORT) ? readFileSync(REPORT, "utf8") : undefined;
  if (rabbitQueueCounts.length === 0 && previous) {
    found.kbudde = /^\| kbudde\/rabbitmq_exporter \| (.+) \|$/m.exec(previous)?.[1] ?? found.kbudde;
  }
  const report = renderReport({
    date,
    command: COMMAND,
    machine,
    versions: found,
    sections,
    clientBenches,
    unavailable: existsSync(NATS_PEER_EXPORTER)
      ? unavailable
      : [
          ...unavailable,
          "nats-io/prometheus-nats-exporter: not built (`scripts/loadtest-tools.sh peers` builds it from its source tarball).",
        ],
    carriedSections: rabbitQueueCounts.length === 0 && previous ? carriedRabbitSections(previous) : [],
    cluster,
    exporterBlock: previous === undefined ? undefined : readBlock(previous, EXPORTER_BLOCK),
    carriedClientSection:
      previous?.includes(CLIENT_SECTION_TITLE) === true
        ? withoutBlock(previous.slice(previous.indexOf(CLIENT_SECTION_TITLE)), EXPORTER_BLOCK)
        : undefined,
  });
  writeFileSync(REPORT, report);
  console.log(`\n${report}\nwritten to ${REPORT}`);
}

main()
  .then(
    () => cleanUp().then(() => 0),
    async (error: unknown) => {
      console.error(
        `peer benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      await cleanUp();
      return 1;
    },
  )
  .then((code) => process.exit(code));
