declare module "parse-prometheus-text-format" {
  /** Families of a Prometheus text exposition; values are kept as strings. */
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
