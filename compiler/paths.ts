// POSIX path arithmetic for the parts of the compiler that also run in a browser (analyse.ts):
// node:path is not there, and the compiler only ever joins a model's folder with a relative
// weights path, so normalising "." and ".." segments is all it needs.

export function isAbsolute(p: string): boolean {
  return p.startsWith("/");
}

/** "a/./b/../c" -> "a/c"; leading ".." segments stay; "" -> ".". */
export function normalize(p: string): string {
  const abs = p.startsWith("/");
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === ".." && out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else if (seg !== ".." || !abs) out.push(seg);
  }
  const body = out.join("/");
  return abs ? `/${body}` : body || ".";
}

/** The folder part: "a/b.cnn" -> "a", "b.cnn" -> ".", "/b.cnn" -> "/" (trailing slashes ignored). */
export function dirname(p: string): string {
  const q = p.replace(/(.)\/+$/, "$1");
  const i = q.lastIndexOf("/");
  if (i < 0) return ".";
  return i === 0 ? "/" : q.slice(0, i).replace(/(.)\/+$/, "$1");
}

export function join(a: string, b: string): string {
  return normalize(`${a}/${b}`);
}
