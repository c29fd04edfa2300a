import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  NameFilter,
  listenAddressSetting,
  readSettings,
  redactCredentials,
  redactUrl,
  regexSetting,
  secondsSetting,
  countSetting,
  listSetting,
  urlListSetting,
  urlSetting,
} from "@queuescale/core";

const shape = {
  BROKER_URL: urlSetting(["amqp"]).optional(),
  NODES: urlListSetting(["http"]).optional(),
  POLL_INTERVAL_SECONDS: secondsSetting(5, { min: 0.1, max: 3600 }),
  INCLUDE: regexSetting().optional(),
  LISTEN_ADDRESS: listenAddressSetting("0.0.0.0:9422"),
};

function errorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("readSettings", () => {
  it("applies defaults and parses lists, regexes and addresses", () => {
    const settings = readSettings(shape, { env: { NODES: "http://a:15692, http://b:15692", INCLUDE: "^orders" } });
    expect(settings.POLL_INTERVAL_SECONDS).toBe(5);
    expect(settings.NODES).toEqual(["http://a:15692", "http://b:15692"]);
    expect(settings.INCLUDE?.test("orders.eu")).toBe(true);
    expect(settings.LISTEN_ADDRESS).toEqual({ host: "0.0.0.0", port: 9422 });
  });

  it("lets flags win over the environment", () => {
    const settings = readSettings(shape, {
      env: { POLL_INTERVAL_SECONDS: "5" },
      argv: ["--poll-interval-seconds", "2", "--listen-address=[::1]:0"],
    });
    expect(settings.POLL_INTERVAL_SECONDS).toBe(2);
    expect(settings.LISTEN_ADDRESS).toEqual({ host: "::1", port: 0 });
  });

  it("reads a setting from the file named by <SETTING>_FILE", () => {
    const dir = mkdtempSync(join(tmpdir(), "qs-config-"));
    try {
      writeFileSync(join(dir, "url"), "amqp://user:secret@rabbit:5672/\n");
      const settings = readSettings(shape, { env: { BROKER_URL_FILE: join(dir, "url") } });
      expect(settings.BROKER_URL).toBe("amqp://user:secret@rabbit:5672/");
      expect(errorOf(() => readSettings(shape, { env: { BROKER_URL_FILE: join(dir, "missing") } })).setting).toBe(
        "BROKER_URL_FILE",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the bad setting and never echoes its value", () => {
    const bad = errorOf(() => readSettings(shape, { env: { BROKER_URL: "http://user:hunter2@x" } }));
    expect(bad.setting).toBe("BROKER_URL");
    expect(bad.message).toMatch(/^invalid BROKER_URL: /);
    expect(bad.message).not.toContain("hunter2");
    expect(errorOf(() => readSettings(shape, { env: { POLL_INTERVAL_SECONDS: "-1" } })).setting).toBe(
      "POLL_INTERVAL_SECONDS",
    );
    expect(errorOf(() => readSettings(shape, { env: { INCLUDE: "(" } })).setting).toBe("INCLUDE");
    expect(errorOf(() => readSettings(shape, { env: { LISTEN_ADDRESS: "nope" } })).setting).toBe("LISTEN_ADDRESS");
    expect(errorOf(() => readSettings(shape, { argv: ["--nope", "1"] })).setting).toBe("--nope");
  });
});

describe("numeric ranges and lists", () => {
  const ranged = {
    POLL_INTERVAL_SECONDS: secondsSetting(5, { min: 0.1, max: 3600 }),
    CONCURRENCY: countSetting(10, { min: 1, max: 10_000 }),
    VHOSTS: listSetting().optional(),
  };

  it("refuse values outside the documented range, naming the setting and the range", () => {
    for (const value of ["3000000", "1e-9", "1e12", "Infinity", "0"]) {
      const error = errorOf(() => readSettings(ranged, { env: { POLL_INTERVAL_SECONDS: value } }));
      expect(error.setting).toBe("POLL_INTERVAL_SECONDS");
      expect(error.message).toContain("between 0.1 and 3600");
    }
    for (const value of ["100000", "0", "2.5", "-3"]) {
      expect(errorOf(() => readSettings(ranged, { env: { CONCURRENCY: value } })).message).toContain(
        "whole number between 1 and 10000",
      );
    }
    expect(readSettings(ranged, { env: { POLL_INTERVAL_SECONDS: "3600", CONCURRENCY: "10000" } })).toMatchObject({
      POLL_INTERVAL_SECONDS: 3600,
      CONCURRENCY: 10_000,
    });
  });

  it("refuse a list that names nothing", () => {
    for (const value of [",", " , ,"]) {
      expect(errorOf(() => readSettings(ranged, { env: { VHOSTS: value } })).setting).toBe("VHOSTS");
    }
    expect(readSettings(ranged, { env: { VHOSTS: "a, b," } }).VHOSTS).toEqual(["a", "b"]);
  });
});

describe("credentials", () => {
  it("are removed from URLs and from messages that contain URLs", () => {
    expect(redactUrl("http://guest:secret@host:15672/api")).toBe("http://***@host:15672/api");
    expect(redactCredentials("connect amqp://u:p@h:5672/v failed")).toBe("connect amqp://***@h:5672/v failed");
  });
});

describe("NameFilter", () => {
  it("keeps names matching include and not matching exclude", () => {
    const filter = new NameFilter(/^orders/, /\.dead$/);
    expect(filter.keeps("orders.eu")).toBe(true);
    expect(filter.keeps("orders.dead")).toBe(false);
    expect(filter.keeps("billing")).toBe(false);
    expect(filter.keeps("JOBS", "orders-worker")).toBe(true);
    expect(NameFilter.all().keeps("anything")).toBe(true);
  });

  it("asks each pattern about a name once, however often the name comes back", () => {
    const asked: string[] = [];
    const counting = (source: string) => {
      const pattern = new RegExp(source, "u");
      return { source, test: (name: string) => (asked.push(`${source} ${name}`), pattern.test(name)) };
    };
    const filter = new NameFilter(counting("^JOBS$"), counting("-dead$"));
    // One poll of three consumers of one stream, then the same poll again.
    for (let poll = 0; poll < 2; poll++) {
      expect(["a", "b-dead", "c"].map((consumer) => filter.keeps("JOBS", consumer))).toEqual([true, false, true]);
    }
    expect(asked.sort()).toEqual(["-dead$ JOBS", "-dead$ a", "-dead$ b-dead", "-dead$ c", "^JOBS$ JOBS"]);
  });
});

describe("regexSetting", () => {
  const read = (value: string) => readSettings({ INCLUDE: regexSetting() }, { env: { INCLUDE: value } }).INCLUDE;

  it("matches a pattern that makes a backtracking engine take exponential time, and answers right", () => {
    const pattern = read("(a+)+$");
    // 2^200 steps for a backtracking engine; linear for RE2.
    expect(pattern.test(`${"a".repeat(200)}!`)).toBe(false);
    expect(pattern.test(`queue-${"a".repeat(200)}`)).toBe(true);
  });

  it("reads RE2 syntax: classes, Unicode, flags, repetition", () => {
    expect(read("^orders\\.v\\d+$").test("orders.v12")).toBe(true);
    expect(read("^\\p{L}+-队列$").test("ünïcødé-队列")).toBe(true);
    expect(read("(?i)^JOBS").test("jobs.eu")).toBe(true);
    expect(read("^x{2,3}$").test("xxxx")).toBe(false);
    expect(read("^\\x{FC}$").test("ü")).toBe(true);
  });

  it.each([
    ["a backreference", "^(a)\\1$"],
    ["a lookahead", "^(?!orders)"],
    ["a lookbehind", "(?<=x)y"],
    ["a syntax error", "(unclosed"],
  ])("refuses %s, naming the setting and RE2", (_what, value) => {
    const error = errorOf(() => read(value));
    expect(error.setting).toBe("INCLUDE");
    expect(error.message).toMatch(
      /^invalid INCLUDE: not a regular expression RE2 accepts \(.+\); RE2 has no backreferences/,
    );
  });
});
