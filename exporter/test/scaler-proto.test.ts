import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadSync, type MessageTypeDefinition, type ServiceDefinition } from "@grpc/proto-loader";
import { PROTO_PATH } from "../src/scaler/server.js";

/** KEDA's own file, copied from its Go module at the pinned version by scripts/tools.sh. */
const KEDA_PROTO = fileURLToPath(new URL("../../.tools/proto/keda/externalscaler.proto", import.meta.url));

/**
 * What goes over the wire, from the parsed descriptors: per message its fields (name, number,
 * type, label, map entries), per service its methods (path, streaming, request and response
 * types). Comments, options such as go_package and declaration order do not count.
 */
function wireContract(path: string) {
  const definition = loadSync(path, { keepCase: true });
  const messages: Record<string, unknown> = {};
  const services: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(definition)) {
    if ("format" in entry) {
      const type = (entry as MessageTypeDefinition<object, object>).type as {
        field: { name: string; number: number; type: string; label: string; typeName: string }[];
        nestedType: { name: string; field: { name: string; number: number; type: string }[] }[];
      };
      const fields = (list: { name: string; number: number; type: string; label?: string; typeName?: string }[]) =>
        list
          .map(({ name, number, type, label, typeName }) => ({ name, number, type, label, typeName }))
          .sort((a, b) => a.number - b.number);
      messages[name] = {
        fields: fields(type.field),
        nested: type.nestedType.map((nested) => ({ name: nested.name, fields: fields(nested.field) })),
      };
    } else {
      const service = entry as ServiceDefinition;
      services[name] = Object.fromEntries(
        Object.entries(service).map(([method, definition]) => [
          method,
          {
            path: definition.path,
            requestStream: definition.requestStream,
            responseStream: definition.responseStream,
            request: (definition.requestType.type as { name: string }).name,
            response: (definition.responseType.type as { name: string }).name,
          },
        ]),
      );
    }
  }
  return { messages, services };
}

const scratch = mkdtempSync(join(tmpdir(), "queuescale-proto-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("exporter/proto/externalscaler.proto", () => {
  it("has KEDA v2.21.0's wire contract: package, service, methods, messages, fields and numbers", () => {
    if (!existsSync(KEDA_PROTO)) throw new Error("KEDA's externalscaler.proto is missing: run `make tools`");
    const ours = wireContract(PROTO_PATH);
    const keda = wireContract(KEDA_PROTO);
    expect(Object.keys(ours.services)).toEqual(["externalscaler.ExternalScaler"]);
    expect(Object.keys(ours.services["externalscaler.ExternalScaler"] as object).sort()).toEqual(
      ["GetMetricSpec", "GetMetrics", "IsActive", "StreamIsActive", "StreamMetricSpec"].sort(),
    );
    expect(ours).toEqual(keda);
  });

  it("the comparison sees a changed field number, a renamed method and a dropped field", () => {
    const text = readFileSync(PROTO_PATH, "utf8");
    const variants = {
      number: text.replace("double metricValueFloat = 3;", "double metricValueFloat = 4;"),
      method: text.replace("rpc GetMetrics(", "rpc GetMetric("),
      field: text.replace("string metricName = 2;", ""),
    };
    const ours = wireContract(PROTO_PATH);
    for (const [change, variant] of Object.entries(variants)) {
      expect(variant, change).not.toBe(text);
      const path = join(scratch, `${change}.proto`);
      writeFileSync(path, variant);
      expect(wireContract(path), change).not.toEqual(ours);
    }
  });
});
