/**
 * Kubernetes resource quantities ("100", "1.5k", "250m", "2Ki", "1e3") as the controller reads
 * them: it works in milli-units (Quantity.MilliValue), rounding a finer value up.
 */

const DECIMAL_SUFFIXES: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const BINARY_SUFFIXES: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/;

/** The plain value of a quantity, or undefined when the text is not one. */
export function quantityValue(quantity: string | number): number | undefined {
  if (typeof quantity === "number") return Number.isFinite(quantity) ? quantity : undefined;
  const match = QUANTITY.exec(quantity.trim());
  if (!match) return undefined;
  const number = Number(match[1]);
  if (match[2] !== undefined) return Number(`${match[1]}${match[2]}`);
  const suffix = match[3] ?? "";
  return number * (BINARY_SUFFIXES[suffix] ?? DECIMAL_SUFFIXES[suffix] ?? 1);
}

/**
 * A plain number in milli-units, rounded up like Quantity.MilliValue. Rounding to a millionth
 * first keeps binary noise (0.1 × 1000 = 100.00000000000001) from rounding up a whole milli.
 */
export function toMilli(value: number): number {
  return Math.ceil(Math.round(value * 1e6) / 1e3);
}
