// The outcome of reading something we do not trust (a weights file, an input array, a
// kernel request): either the value or one clear, lowercase message. Readers return this
// instead of throwing, so hostile bytes can never crash the compiler or the CLI; callers
// decide how to report the message (a diagnostic, a CLI error line).

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

export function fail(error: string): { readonly ok: false; readonly error: string } {
  return { ok: false, error };
}

/**
 * A string from a file made safe to quote in a one-line message: control characters escaped,
 * long strings cut (a hostile file can hold a megabyte-long tensor name).
 */
export function printable(s: string, max = 64): string {
  const cut = s.length > max ? `${s.slice(0, max)}...` : s;
  // eslint-disable-next-line no-control-regex
  return cut.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
