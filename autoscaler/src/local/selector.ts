/**
 * Kubernetes label selectors (metav1.LabelSelector) as the HPA puts them on an External metric,
 * matched the way the API machinery matches them, and written as PromQL matchers the way
 * Prometheus Adapter writes `<<.LabelMatchers>>`.
 */
import { escapeRegExp } from "@queuescale/core";

export interface LabelSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** True when `labels` satisfy every requirement of the selector (an empty selector matches all). */
export function selectorMatches(
  selector: LabelSelector | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (!selector) return true;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const requirement of selector.matchExpressions ?? []) {
    const present = Object.hasOwn(labels, requirement.key);
    const value = labels[requirement.key];
    const values = requirement.values ?? [];
    switch (requirement.operator) {
      case "In":
        if (!present || !values.includes(value!)) return false;
        break;
      case "NotIn":
        if (present && values.includes(value!)) return false;
        break;
      case "Exists":
        if (!present) return false;
        break;
      case "DoesNotExist":
        if (present) return false;
        break;
    }
  }
  return true;
}

function promString(value: string): string {
  return JSON.stringify(value);
}

function regexAlternatives(values: string[]): string {
  return values.map((value) => escapeRegExp(value)).join("|");
}

/** The selector as PromQL label matchers, e.g. `queue="orders",broker=~"rabbitmq"`. */
export function selectorToPromQL(selector: LabelSelector | undefined): string {
  if (!selector) return "";
  const matchers: string[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) matchers.push(`${key}=${promString(value)}`);
  for (const requirement of selector.matchExpressions ?? []) {
    const values = requirement.values ?? [];
    switch (requirement.operator) {
      case "In":
        matchers.push(`${requirement.key}=~${promString(regexAlternatives(values))}`);
        break;
      case "NotIn":
        matchers.push(`${requirement.key}!~${promString(regexAlternatives(values))}`);
        break;
      case "Exists":
        matchers.push(`${requirement.key}!=""`);
        break;
      case "DoesNotExist":
        matchers.push(`${requirement.key}=""`);
        break;
    }
  }
  return matchers.join(",");
}
