// Just enough of a TextMate tokenizer to test a grammar without an editor: `match` rules,
// `begin`/`end` rules (a stack that carries over lines, so block comments span them),
// `include` of repository entries, capture names, and the engine's choice at each position
// (the rule whose match starts earliest wins; a tie goes to the rule listed first, the
// enclosing rule's `end` before its patterns). Regexes are JavaScript's: the grammar keeps to
// syntax both Oniguruma and JavaScript accept, which the grammar test checks by compiling them.

export interface Rule {
  readonly include?: string;
  readonly match?: string;
  readonly begin?: string;
  readonly end?: string;
  readonly name?: string;
  readonly captures?: Readonly<Record<string, { readonly name?: string }>>;
  readonly beginCaptures?: Readonly<Record<string, { readonly name?: string }>>;
  readonly endCaptures?: Readonly<Record<string, { readonly name?: string }>>;
  readonly patterns?: readonly Rule[];
}

export interface Grammar {
  readonly scopeName: string;
  readonly patterns: readonly Rule[];
  readonly repository: Readonly<Record<string, Rule>>;
}

/** A run of characters and the scopes on it, innermost last. */
export interface Token {
  readonly text: string;
  readonly start: number;
  readonly scopes: readonly string[];
}

/** Every rule in the grammar, includes left as they are (for checks that walk them all). */
export function allRules(g: Grammar): Rule[] {
  const out: Rule[] = [];
  const walk = (rs: readonly Rule[]) => {
    for (const r of rs) {
      out.push(r);
      if (r.patterns) walk(r.patterns);
    }
  };
  walk(g.patterns);
  walk(Object.values(g.repository));
  return out;
}

function expand(g: Grammar, rules: readonly Rule[], seen = new Set<string>()): Rule[] {
  const out: Rule[] = [];
  for (const r of rules) {
    if (r.include) {
      const key = r.include.replace(/^#/, "");
      if (seen.has(key)) continue;
      const target = g.repository[key];
      if (!target) throw new Error(`include of a missing repository entry: ${r.include}`);
      // An entry with only `patterns` is a list to splice in; otherwise it is a rule itself.
      const inner = new Set(seen).add(key);
      out.push(...(target.match || target.begin ? [target] : expand(g, target.patterns ?? [], inner)));
    } else out.push(r);
  }
  return out;
}

const regexCache = new Map<string, RegExp>();
function regex(source: string): RegExp {
  let r = regexCache.get(source);
  if (!r) {
    r = new RegExp(source, "dg");
    regexCache.set(source, r);
  }
  return r;
}

interface Frame {
  readonly rule: Rule;
  readonly scopes: readonly string[];
}

/** Tokenizes lines in order, the state carried from one to the next as an editor does. */
export class Tokenizer {
  private stack: Frame[];

  constructor(private readonly g: Grammar) {
    this.stack = [{ rule: { patterns: g.patterns }, scopes: [g.scopeName] }];
  }

  line(text: string): Token[] {
    const tokens: Token[] = [];
    let pos = 0;
    let steps = 0;
    const emit = (start: number, end: number, scopes: readonly string[]) => {
      if (end > start) tokens.push({ text: text.slice(start, end), start, scopes });
    };
    while (pos <= text.length) {
      const top = this.stack[this.stack.length - 1];
      const candidates: { rule: Rule; source: string; isEnd: boolean }[] = [];
      if (top.rule.end) candidates.push({ rule: top.rule, source: top.rule.end, isEnd: true });
      for (const r of expand(this.g, top.rule.patterns ?? [])) {
        const source = r.match ?? r.begin;
        if (source) candidates.push({ rule: r, source, isEnd: false });
      }
      let best: { c: (typeof candidates)[number]; m: RegExpExecArray } | undefined;
      for (const c of candidates) {
        const re = regex(c.source);
        re.lastIndex = pos;
        const m = re.exec(text);
        if (m && (!best || m.index < best.m.index)) best = { c, m };
      }
      if (!best) break;
      const { c, m } = best;
      emit(pos, m.index, top.scopes);
      const end = m.index + m[0].length;
      if (c.isEnd) {
        this.captured(m, top.scopes, c.rule.endCaptures ?? c.rule.captures, emit);
        this.stack.pop();
      } else if (c.rule.begin) {
        const scopes = c.rule.name ? [...top.scopes, c.rule.name] : top.scopes;
        this.captured(m, scopes, c.rule.beginCaptures ?? c.rule.captures, emit);
        this.stack.push({ rule: c.rule, scopes });
      } else {
        const scopes = c.rule.name ? [...top.scopes, c.rule.name] : top.scopes;
        this.captured(m, scopes, c.rule.captures, emit);
      }
      if (end > pos || c.isEnd) pos = end;
      else if (c.rule.begin) {
        // An empty begin at the end of the line: the rest of the line is inside it.
        if (end >= text.length) break;
        pos = end;
      } else {
        // An empty match that changes nothing would repeat forever: step over a character.
        if (pos >= text.length) break;
        emit(pos, pos + 1, top.scopes);
        pos++;
      }
      if (++steps > 100_000) throw new Error("the tokenizer does not advance");
    }
    const top = this.stack[this.stack.length - 1];
    emit(pos, text.length, top.scopes);
    return tokens;
  }

  /** Emits a match's text with the capture groups' scopes on their parts. */
  private captured(
    m: RegExpExecArray,
    scopes: readonly string[],
    captures: Rule["captures"],
    emit: (start: number, end: number, scopes: readonly string[]) => void,
  ): void {
    const start = m.index;
    const end = start + m[0].length;
    const whole = captures?.["0"]?.name ? [...scopes, captures["0"].name] : scopes;
    const parts: { start: number; end: number; name: string }[] = [];
    for (let i = 1; i < m.length; i++) {
      const name = captures?.[String(i)]?.name;
      const at = m.indices?.[i];
      if (name && at) parts.push({ start: at[0], end: at[1], name: name.replace(/\$(\d)/g, (_, k: string) => m[Number(k)] ?? "") });
    }
    let pos = start;
    for (const p of parts.sort((a, b) => a.start - b.start)) {
      emit(pos, p.start, whole);
      emit(p.start, p.end, [...whole, p.name]);
      pos = Math.max(pos, p.end);
    }
    emit(pos, end, whole);
  }
}

/** The scopes on each non-blank piece of some lines, as `text: innermost scope`. */
export function tokenize(g: Grammar, text: string): Token[][] {
  const t = new Tokenizer(g);
  return text.split("\n").map((l) => t.line(l));
}
