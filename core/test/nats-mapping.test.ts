import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { NameFilter, SourceError, mergeReadings, type QueueReading } from "@queuescale/core";
import {
  ageSeconds,
  consumerReading,
  exportedConsumers,
  firstUnfinishedLookups,
} from "../src/brokers/nats/consumer.js";
import { earliestMessage, parseMessageGetResponse } from "../src/brokers/nats/message.js";
import {
  joinConsumerPages,
  parseConsumerListAnswer,
  parseConsumerListPage,
  remainingPageOffsets,
  splitConsumerEntries,
  type ConsumerListPage,
} from "../src/brokers/nats/consumer-list.js";
import { groupsPay } from "../src/sources/json-array.js";
import {
  cutConsumerLists,
  DurableConsumers,
  jszReadings,
  needsServerName,
  parseJsz,
  parseJszAnswer,
  parseVarzServerName,
} from "../src/brokers/nats/jsz.js";

/** The parts of a recorded `/jsz` answer the tests change. */
interface JszFixture {
  account_details: {
    stream_detail: { name: string; consumer_detail?: Record<string, unknown>[] | null }[];
    consumer_detail?: unknown;
  }[];
}

/** Payloads recorded from nats-server 2.9.10 by fixtures/nats/record.ts, and the set-up behind them. */
const fixture = (name: string) => readFileSync(new URL(`fixtures/nats/${name}`, import.meta.url), "utf8");
const scenario = JSON.parse(fixture("scenario.json")) as {
  stream: string;
  subjectPrefix: string;
  published: number;
  worker: { name: string; maxAckPending: number; waitingPulls: number };
  retry: { name: string; published: number };
  pushBound: { name: string };
  pushUnbound: { name: string };
  halfDone: { name: string; received: number; acked: number };
  idle: { name: string; waitingPulls: number };
  cluster: { replicated: string; single: string; consumer: string; published: number; received: number };
};
const consumerListPage = parseConsumerListPage(fixture("consumer-list.json"))!;
const consumerList = consumerListPage.consumers;

/** What each durable consumer of the scenario must read as, worked out from how it was set up. */
function expectedReadings(withAge: boolean): Record<string, Omit<QueueReading, "broker" | "labels">> {
  const s = scenario;
  const age = withAge ? { oldestMessageAgeSeconds: expect.any(Number) as number } : {};
  return {
    [s.worker.name]: {
      // max_ack_pending deliveries left unacked, the rest waiting; extra pull requests wait too.
      depth: s.published,
      ready: s.published - s.worker.maxAckPending,
      unacked: s.worker.maxAckPending,
      consumers: s.worker.waitingPulls,
      redelivered: 0,
      ...age,
    },
    [s.halfDone.name]: {
      depth: s.published - s.halfDone.acked,
      ready: s.published - s.halfDone.received,
      unacked: s.halfDone.received - s.halfDone.acked,
      consumers: 0,
      redelivered: 0,
      ...age,
    },
    [s.pushBound.name]: { depth: s.published, ready: 0, unacked: s.published, consumers: 1, redelivered: 0, ...age },
    [s.pushUnbound.name]: { depth: s.published, ready: s.published, unacked: 0, consumers: 0, redelivered: 0, ...age },
    [s.retry.name]: {
      depth: s.retry.published,
      ready: 0,
      unacked: s.retry.published,
      consumers: 0,
      redelivered: s.retry.published,
      ...age,
    },
    [s.idle.name]: { depth: 0, ready: 0, unacked: 0, consumers: s.idle.waitingPulls, redelivered: 0 },
  };
}

function byConsumer(readings: readonly QueueReading[]): Record<string, Omit<QueueReading, "broker" | "labels">> {
  const result: Record<string, Omit<QueueReading, "broker" | "labels">> = {};
  for (const { broker, labels, ...numbers } of readings) {
    expect(broker).toBe("nats");
    expect(labels.stream).toBe(scenario.stream);
    result[labels.consumer!] = numbers;
  }
  return result;
}

describe("JetStream consumer mapping (recorded CONSUMER.LIST answer)", () => {
  it("exports every durable consumer with ready, unacked, depth, consumers and redelivered", () => {
    const readings = exportedConsumers(consumerList, NameFilter.all()).map((consumer) => consumerReading(consumer));
    expect(byConsumer(readings)).toEqual(expectedReadings(false));
  });

  it("leaves the ephemeral consumer out", () => {
    const ephemeral = consumerList.filter((consumer) => consumer.config?.durable_name === undefined);
    expect(ephemeral).toHaveLength(1);
    const exported = exportedConsumers(consumerList, NameFilter.all()).map((consumer) => consumer.name);
    expect(exported).not.toContain(ephemeral[0]!.name);
    expect(exported).toHaveLength(consumerList.length - 1);
  });

  it("filters on the stream name and on the consumer name", () => {
    const names = (filter: NameFilter) => exportedConsumers(consumerList, filter).map((consumer) => consumer.name);
    expect(names(new NameFilter(/^retry-/u))).toEqual([scenario.retry.name]);
    expect(names(new NameFilter(/^bestellungen-eu_west-ü$/u))).toHaveLength(consumerList.length - 1);
    expect(names(new NameFilter(undefined, /ü$/u))).toEqual([]);
    expect(names(new NameFilter(undefined, /^push-/u)).sort()).toEqual(
      [scenario.worker.name, scenario.halfDone.name, scenario.retry.name, scenario.idle.name].sort(),
    );
  });

  it("looks for the oldest unfinished message right after the ack floor, on the consumer's filter", () => {
    const halfDone = consumerList.find((consumer) => consumer.name === scenario.halfDone.name)!;
    expect(firstUnfinishedLookups(halfDone)).toEqual([
      { seq: scenario.halfDone.acked + 1, next_by_subj: `${scenario.subjectPrefix}.created` },
    ]);
    const unfiltered = { ...halfDone, config: { durable_name: "x" } };
    expect(firstUnfinishedLookups(unfiltered)).toEqual([{ seq: scenario.halfDone.acked + 1, next_by_subj: ">" }]);
    const several = { ...halfDone, config: { durable_name: "x", filter_subjects: ["a.>", "b.*"] } };
    expect(firstUnfinishedLookups(several).map((lookup) => lookup.next_by_subj)).toEqual(["a.>", "b.*"]);
  });

  it("publishes the age only when it is known", () => {
    const worker = consumerList.find((consumer) => consumer.name === scenario.worker.name)!;
    expect(consumerReading(worker)).not.toHaveProperty("oldestMessageAgeSeconds");
    expect(consumerReading(worker, 12.5).oldestMessageAgeSeconds).toBe(12.5);
  });
});

describe("JetStream consumer list pages (recorded CONSUMER.LIST answer)", () => {
  it("reads every consumer of the recorded page, and how many the stream has", () => {
    const recorded = JSON.parse(fixture("consumer-list.json")) as { total: number; consumers: { name: string }[] };
    expect(consumerListPage.total).toBe(recorded.total);
    expect(consumerListPage.limit).toBe(256);
    expect(consumerList.map((consumer) => consumer.name)).toEqual(recorded.consumers.map((consumer) => consumer.name));
    // One page held them all.
    expect(remainingPageOffsets(consumerListPage)).toEqual([]);
  });

  it("asks for the pages after the first by offset, and keeps a name that two pages show once", () => {
    const named = (names: string[]) => names.map((name) => ({ ...consumerList[0]!, name }));
    const first: ConsumerListPage = {
      total: 600,
      limit: 256,
      consumers: named(Array.from({ length: 256 }, (_unused, index) => String(index))),
    };
    expect(remainingPageOffsets(first)).toEqual([256, 512]);
    const shifted: ConsumerListPage = { total: 601, limit: 256, consumers: named(["255", "256"]) };
    expect(joinConsumerPages([first, shifted]).map((consumer) => consumer.name)).toHaveLength(257);
  });

  it("answers null for a stream deleted meanwhile, and rejects other errors and garbage with a reason", () => {
    const gone = JSON.stringify({ error: { code: 404, err_code: 10059, description: "stream not found" } });
    expect(parseConsumerListPage(gone)).toBeNull();
    const denied = JSON.stringify({ error: { code: 403, err_code: 10099, description: "not authorized" } });
    expect(() => parseConsumerListPage(denied)).toThrow(expect.objectContaining({ reason: "auth" }) as Error);
    expect(() => parseConsumerListPage("<html>")).toThrow(expect.objectContaining({ reason: "parse" }) as Error);
    const badEntry = JSON.stringify({ total: 1, offset: 0, limit: 256, consumers: [{ name: "x" }] });
    expect(() => parseConsumerListPage(badEntry)).toThrow(expect.objectContaining({ reason: "parse" }) as Error);
    expect(
      parseConsumerListPage(JSON.stringify({ total: 0, offset: 0, limit: 256, consumers: null }))!.consumers,
    ).toEqual([]);
  });
});

describe("JetStream consumer list pages read entry by entry (recorded CONSUMER.LIST answer)", () => {
  // The recorded page is pretty-printed; the server sends it without spaces, keys in this order.
  const recorded = JSON.parse(fixture("consumer-list.json")) as { consumers: Record<string, unknown>[] };
  const asSent = (page: object) => Buffer.from(JSON.stringify(page));
  const whole = (bytes: Buffer) => parseConsumerListPage(bytes.toString("utf8"));

  it("cuts the page as the server sends it into its entries, to the same consumers as parsing it whole", () => {
    const bytes = asSent(recorded);
    const split = splitConsumerEntries(bytes);
    expect(split?.entries).toEqual(recorded.consumers);
    expect(JSON.parse(split!.envelope)).toEqual({ ...recorded, consumers: [] });
    const page = parseConsumerListAnswer(bytes);
    expect(page).toEqual(whole(bytes));
    // Non-ASCII names (the recorded stream's) come through intact.
    expect(page!.consumers.map((consumer) => consumer.stream_name)).toContain(scenario.stream);
  });

  it("cuts an ASCII page with fields after the list", () => {
    const ascii = {
      ...recorded,
      consumers: recorded.consumers.map((consumer, index) => ({
        ...consumer,
        stream_name: "orders",
        name: `c${index}`,
      })),
      missing: ["gone"],
    };
    const split = splitConsumerEntries(asSent(ascii));
    expect(split?.entries).toEqual(ascii.consumers);
    expect(JSON.parse(split!.envelope)).toEqual({ ...ascii, consumers: [] });
  });

  it("reads a page with the separator also inside an entry, and parses one laid out otherwise whole", () => {
    const nested = {
      ...recorded,
      consumers: recorded.consumers.map((consumer, index) =>
        index === 1
          ? { ...consumer, cluster: { leader: "n1", extra: [{ stream_name: "a" }, { stream_name: "b" }] } }
          : consumer,
      ),
    };
    expect(splitConsumerEntries(asSent(nested))?.entries).toEqual(nested.consumers);
    expect(parseConsumerListAnswer(asSent(nested))!.consumers[1]!.cluster).toEqual({ leader: "n1" });
    const pretty = Buffer.from(fixture("consumer-list.json"));
    expect(splitConsumerEntries(pretty)).toBeUndefined();
    expect(parseConsumerListAnswer(pretty)).toEqual(whole(pretty));
  });

  it("reads a full page (256 consumers, over 128 KiB) in groups, to what parsing it whole gives", () => {
    const consumers = Array.from({ length: 256 }, (_unused, index) => ({
      ...recorded.consumers[index % recorded.consumers.length]!,
      name: `consumer-${index}`,
    }));
    const bytes = asSent({ ...recorded, total: 256, consumers });
    expect(groupsPay(bytes)).toBe(true);
    expect(splitConsumerEntries(bytes)?.entries).toEqual(consumers);
    const page = parseConsumerListAnswer(bytes)!;
    expect(page.consumers).toHaveLength(256);
    expect(page).toEqual(whole(bytes));
  });

  it("answers errors, empty lists and bad entries as parsing whole does", () => {
    const gone = asSent({ error: { code: 404, err_code: 10059, description: "stream not found" } });
    expect(parseConsumerListAnswer(gone)).toBeNull();
    const denied = asSent({ error: { code: 403, err_code: 10099, description: "not authorized" } });
    expect(() => parseConsumerListAnswer(denied)).toThrow(expect.objectContaining({ reason: "auth" }) as Error);
    expect(parseConsumerListAnswer(asSent({ ...recorded, total: 0, consumers: [] }))!.consumers).toEqual([]);
    const badEntry = asSent({ ...recorded, consumers: [...recorded.consumers, { stream_name: "x", name: "y" }] });
    expect(splitConsumerEntries(badEntry)?.entries).toHaveLength(recorded.consumers.length + 1);
    expect(() => parseConsumerListAnswer(badEntry)).toThrow(expect.objectContaining({ reason: "parse" }) as Error);
    expect(() => parseConsumerListAnswer(Buffer.from("<html>"))).toThrow(
      expect.objectContaining({ reason: "parse" }) as Error,
    );
  });
});

describe("JetStream message look-up (recorded STREAM.MSG.GET answers)", () => {
  it("reads sequence and store time of the message after the ack floor", () => {
    const body = fixture("msg-get-found.json");
    const found = parseMessageGetResponse(body);
    const recorded = (JSON.parse(body) as { message: { time: string } }).message.time;
    expect(found).toEqual({ seq: scenario.halfDone.acked + 1, storedAtMs: Date.parse(recorded) });
    expect(ageSeconds(found!.storedAtMs, found!.storedAtMs + 1500)).toBe(1.5);
    // An exporter clock behind the server's must not publish a negative age.
    expect(ageSeconds(found!.storedAtMs, found!.storedAtMs - 1000)).toBe(0);
  });

  it("answers null when no message matches", () => {
    expect(parseMessageGetResponse(fixture("msg-get-none.json"))).toBeNull();
  });

  it("takes the earliest of several look-ups", () => {
    expect(
      earliestMessage([null, { seq: 9, storedAtMs: 2 }, { seq: 4, storedAtMs: 1 }, { seq: 7, storedAtMs: 3 }]),
    ).toEqual({ seq: 4, storedAtMs: 1 });
    expect(earliestMessage([null, null])).toBeNull();
  });

  it("rejects other errors and garbage with a reason", () => {
    const denied = JSON.stringify({ error: { code: 403, err_code: 10099, description: "not authorized" } });
    expect(() => parseMessageGetResponse(denied)).toThrow(expect.objectContaining({ reason: "auth" }) as Error);
    expect(() => parseMessageGetResponse("<html>")).toThrow(expect.objectContaining({ reason: "parse" }) as Error);
    expect(() => parseMessageGetResponse('{"message":{"seq":"x"}}')).toThrow(SourceError);
  });
});

describe("/jsz mapping (recorded single server)", () => {
  const report = parseJsz(fixture("jsz-single.json"));

  it("maps the same consumers to the same numbers as the JetStream API, without age", () => {
    expect(needsServerName(report)).toBe(false);
    expect(byConsumer(jszReadings(report, undefined, NameFilter.all()))).toEqual(expectedReadings(false));
  });

  it("filters on stream and consumer names", () => {
    const readings = jszReadings(report, undefined, new NameFilter(/^wörker-1$/u));
    expect(readings.map((reading) => reading.labels.consumer)).toEqual([scenario.worker.name]);
  });

  it("fails with reason parse on a payload that is not /jsz", () => {
    expect(() => parseJsz("not json")).toThrow(expect.objectContaining({ reason: "parse" }) as Error);
    expect(() => parseJsz('{"account_details":[{"stream_detail":[{"consumer_detail":[{"name":1}]}]}]}')).toThrow(
      expect.objectContaining({ reason: "parse" }) as Error,
    );
  });
});

describe("/jsz consumer lists read in groups (recorded answers)", () => {
  const recorded = ["jsz-single.json", "jsz-single-plain.json", "jsz-cluster-0.json", "jsz-cluster-1.json"];

  it("cuts every stream's consumer list out of the server's indented answer", () => {
    for (const name of recorded) {
      const bytes = Buffer.from(fixture(name));
      const cut = cutConsumerLists(bytes);
      const report = parseJsz(fixture(name));
      expect(cut?.lists.flat(), name).toEqual(report.consumers);
      expect(cut!.envelope).not.toContain('"stream_name"');
      expect(parseJszAnswer(bytes)).toEqual(report);
    }
  });

  /** A recorded answer with `copies` times each consumer, indented as the server does (2 spaces). */
  function larger(name: string, copies: number, change: (answer: JszFixture) => JszFixture = (answer) => answer) {
    const answer = JSON.parse(fixture(name)) as JszFixture;
    for (const account of answer.account_details) {
      for (const stream of account.stream_detail) {
        const consumers = stream.consumer_detail ?? [];
        stream.consumer_detail = Array.from({ length: copies }, (_unused, copy) =>
          consumers.map((consumer) => ({ ...consumer, name: `${String(consumer.name)}-${copy}` })),
        ).flat();
      }
    }
    return Buffer.from(JSON.stringify(change(answer), null, 2));
  }

  it("reads an answer of over 128 KiB in groups, to what parsing it whole gives", () => {
    for (const [name, copies] of [
      ["jsz-single.json", 40],
      ["jsz-cluster-0.json", 150],
    ] as const) {
      const bytes = larger(name, copies);
      expect(groupsPay(bytes)).toBe(true);
      const report = parseJszAnswer(bytes);
      expect(report.consumers.length).toBeGreaterThanOrEqual(copies);
      expect(report).toEqual(parseJsz(bytes.toString("utf8")));
    }
  });

  it("reads only the streams' lists when a list stands elsewhere too, and keeps empty lists", () => {
    const [first] = (JSON.parse(fixture("jsz-single.json")) as JszFixture).account_details[0]!.stream_detail;
    const misplaced = larger("jsz-single.json", 40, (answer) => ({
      ...answer,
      account_details: answer.account_details.map((account) => ({
        ...account,
        consumer_detail: first!.consumer_detail,
      })),
    }));
    expect(groupsPay(misplaced)).toBe(true);
    expect(cutConsumerLists(misplaced)?.lists).toHaveLength(2);
    expect(parseJszAnswer(misplaced)).toEqual(parseJsz(misplaced.toString("utf8")));
    const withEmpty = larger("jsz-single.json", 40, (answer) => ({
      ...answer,
      account_details: answer.account_details.map((account) => ({
        ...account,
        stream_detail: [
          ...account.stream_detail,
          { name: "empty", consumer_detail: [] },
          { name: "none", consumer_detail: null },
        ],
      })),
    }));
    expect(cutConsumerLists(withEmpty)?.lists).toHaveLength(1);
    expect(parseJszAnswer(withEmpty)).toEqual(parseJsz(withEmpty.toString("utf8")));
    expect(cutConsumerLists(Buffer.from(JSON.stringify(JSON.parse(fixture("jsz-single.json")))))).toBeUndefined();
  });
});

describe("/jsz without consumer config (recorded single server)", () => {
  const withConfig = parseJsz(fixture("jsz-single.json"));
  const plain = parseJsz(fixture("jsz-single-plain.json"));

  it("maps like the answer with config once the consumers' kinds are known", () => {
    expect(plain.consumers.some((consumer) => consumer.config !== undefined)).toBe(false);
    const durables = new DurableConsumers();
    expect(durables.knowsAll(plain)).toBe(false);
    // Nothing known yet: nothing counts as durable.
    expect(jszReadings(plain, undefined, NameFilter.all(), durables.isDurable)).toEqual([]);
    expect(durables.learn(withConfig)).toBe(withConfig.consumers.length);
    expect(durables.learn(withConfig)).toBe(0);
    expect(durables.knowsAll(plain)).toBe(true);
    expect(byConsumer(jszReadings(plain, undefined, NameFilter.all(), durables.isDurable))).toEqual(
      expectedReadings(false),
    );
  });

  it("notices a consumer it has not seen with config, and one re-created under the same name", () => {
    const durables = new DurableConsumers();
    const [first, ...others] = withConfig.consumers;
    durables.learn({ serverName: undefined, consumers: others });
    expect(durables.knowsAll(plain)).toBe(false);
    durables.learn(withConfig);
    const recreated = { ...first!, created: "2030-01-01T00:00:00Z" };
    expect(durables.knowsAll({ serverName: undefined, consumers: [...others, recreated] })).toBe(false);
  });
});

describe("/jsz mapping (recorded 3-node cluster)", () => {
  const servers = [0, 1, 2].map((index) => ({
    report: parseJsz(fixture(`jsz-cluster-${index}.json`)),
    name: parseVarzServerName(fixture(`varz-cluster-${index}.json`)),
  }));
  const c = scenario.cluster;

  it("takes each consumer once, from the server that leads it", () => {
    expect(servers.every(({ report }) => needsServerName(report))).toBe(true);
    const perServer = servers.map(({ report, name }) => jszReadings(report, name, NameFilter.all()));
    const all = perServer.flat();
    // No consumer is reported twice, so nothing depends on how duplicates would be merged.
    expect(all).toHaveLength(2);
    expect(mergeReadings(perServer)).toHaveLength(2);
    const byStream = Object.fromEntries(all.map((reading) => [reading.labels.stream, reading]));
    expect(byStream[c.replicated]).toMatchObject({
      labels: { stream: c.replicated, consumer: c.consumer },
      ready: c.published - c.received,
      unacked: c.received,
      depth: c.published,
    });
    expect(byStream[c.single]).toMatchObject({ ready: c.published, unacked: 0, depth: c.published });
  });

  it("ignores what followers report, which lags behind the leader", () => {
    const followerCopies = servers.flatMap(({ report, name }) =>
      report.consumers.filter((consumer) => consumer.cluster?.leader !== name),
    );
    // Every server holds the replicated consumer; two of them follow.
    expect(followerCopies.length).toBeGreaterThanOrEqual(2);
    for (const { report, name } of servers) {
      const led = jszReadings(report, name, NameFilter.all()).map((reading) => reading.labels.stream);
      const leaderOf = report.consumers.filter((consumer) => consumer.cluster?.leader === name);
      expect(led.sort()).toEqual(leaderOf.map((consumer) => consumer.stream_name).sort());
    }
  });

  it("reports nothing it does not lead when its own name is unknown", () => {
    for (const { report } of servers) expect(jszReadings(report, undefined, NameFilter.all())).toEqual([]);
  });
});
