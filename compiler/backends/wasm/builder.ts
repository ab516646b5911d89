// A small structured builder over binaryen so that kernels read like their formulas:
// `Int` is an i32 value that folds constants and can be materialised any number of times
// (binaryen's IR is a tree, so one node must never appear twice), `Fn` collects locals and
// statements and offers `for` loops with fresh labels, `View` addresses a row-major f32
// tensor in memory. Arithmetic on values is done in f64 (loads promote, stores demote): the
// reference is float64 and a long dot product accumulated in f32 would drift past 1e-5.

import { binaryen } from "./binaryen.js";

export type Expr = binaryen.ExpressionRef;
export type Module = binaryen.Module;

/** An i32 value: a constant (folded at compile time) or a recipe that builds fresh IR. */
export class Int {
  private constructor(
    private readonly m: Module,
    private readonly build: (() => Expr) | undefined,
    /** Set when the value is known at compile time. */
    readonly constant: number | undefined,
    /** Known to be >= 0 (sizes, loop indices): lets division use plain unsigned division. */
    readonly nonneg: boolean,
  ) {}

  static const(m: Module, v: number): Int {
    if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw new Error(`internal error: i32 constant out of range: ${v}`);
    return new Int(m, undefined, v, v >= 0);
  }

  static of(m: Module, build: () => Expr, nonneg = false): Int {
    return new Int(m, build, undefined, nonneg);
  }

  expr(): Expr {
    if (this.constant !== undefined) return this.m.i32.const(this.constant);
    return (this.build as () => Expr)();
  }

  private lift(b: Int | number): Int {
    return typeof b === "number" ? Int.const(this.m, b) : b;
  }

  private isConst(v: number): boolean {
    return this.constant === v;
  }

  add(other: Int | number): Int {
    const b = this.lift(other);
    if (this.constant !== undefined && b.constant !== undefined) return Int.const(this.m, this.constant + b.constant);
    if (b.isConst(0)) return this;
    if (this.isConst(0)) return b;
    return Int.of(this.m, () => this.m.i32.add(this.expr(), b.expr()), this.nonneg && b.nonneg);
  }

  sub(other: Int | number): Int {
    const b = this.lift(other);
    if (this.constant !== undefined && b.constant !== undefined) return Int.const(this.m, this.constant - b.constant);
    if (b.isConst(0)) return this;
    return Int.of(this.m, () => this.m.i32.sub(this.expr(), b.expr()));
  }

  mul(other: Int | number): Int {
    const b = this.lift(other);
    if (this.constant !== undefined && b.constant !== undefined) return Int.const(this.m, this.constant * b.constant);
    if (b.isConst(1)) return this;
    if (this.isConst(1)) return b;
    if (b.isConst(0) || this.isConst(0)) return Int.const(this.m, 0);
    return Int.of(this.m, () => this.m.i32.mul(this.expr(), b.expr()), this.nonneg && b.nonneg);
  }

  /** Floor division (rounds toward -infinity, as the Dim semantics do). */
  floorDiv(other: Int | number): Int {
    const b = this.lift(other);
    if (this.constant !== undefined && b.constant !== undefined) return Int.const(this.m, Math.floor(this.constant / b.constant));
    if (b.isConst(1)) return this;
    const m = this.m;
    if (this.nonneg && b.constant !== undefined && b.constant > 0) {
      return Int.of(m, () => m.i32.div_u(this.expr(), b.expr()), true);
    }
    // q = trunc(a / b) - 1 when the remainder is nonzero and has the sign opposite to b.
    return Int.of(m, () => {
      const q = m.i32.div_s(this.expr(), b.expr());
      const r = () => m.i32.rem_s(this.expr(), b.expr());
      const adjust = m.i32.and(m.i32.ne(r(), m.i32.const(0)), m.i32.lt_s(m.i32.xor(r(), b.expr()), m.i32.const(0)));
      return m.i32.sub(q, adjust);
    });
  }

  /** Ceiling division. */
  ceilDiv(other: Int | number): Int {
    const b = this.lift(other);
    if (this.constant !== undefined && b.constant !== undefined) return Int.const(this.m, Math.ceil(this.constant / b.constant));
    if (b.isConst(1)) return this;
    if (this.nonneg && b.constant !== undefined && b.constant > 0) return this.add(b.constant - 1).floorDiv(b);
    return Int.const(this.m, 0).sub(Int.const(this.m, 0).sub(this).floorDiv(b));
  }

  /** Remainder with the sign of the divisor (Python's %, as the Dim semantics do). */
  mod(other: Int | number): Int {
    const b = this.lift(other);
    if (this.constant !== undefined && b.constant !== undefined) {
      return Int.const(this.m, ((this.constant % b.constant) + b.constant) % b.constant);
    }
    return this.sub(this.floorDiv(b).mul(b));
  }

  min(other: Int | number): Int {
    const b = this.lift(other);
    if (this.constant !== undefined && b.constant !== undefined) return Int.const(this.m, Math.min(this.constant, b.constant));
    const m = this.m;
    return Int.of(m, () => m.select(m.i32.lt_s(this.expr(), b.expr()), this.expr(), b.expr()), this.nonneg && b.nonneg);
  }

  max(other: Int | number): Int {
    const b = this.lift(other);
    if (this.constant !== undefined && b.constant !== undefined) return Int.const(this.m, Math.max(this.constant, b.constant));
    const m = this.m;
    return Int.of(m, () => m.select(m.i32.gt_s(this.expr(), b.expr()), this.expr(), b.expr()), this.nonneg || b.nonneg);
  }

  lt(other: Int | number): Expr {
    return this.m.i32.lt_s(this.expr(), this.lift(other).expr());
  }

  gt(other: Int | number): Expr {
    return this.m.i32.gt_s(this.expr(), this.lift(other).expr());
  }
}

/** An f64 local. */
export class F64Var {
  constructor(
    private readonly m: Module,
    readonly index: number,
  ) {}

  get(): Expr {
    return this.m.local.get(this.index, binaryen.f64);
  }

  set(value: Expr): Expr {
    return this.m.local.set(this.index, value);
  }
}

/** A local of any type. */
export class Var {
  constructor(
    private readonly m: Module,
    readonly index: number,
    readonly type: binaryen.Type,
  ) {}

  get(): Expr {
    return this.m.local.get(this.index, this.type);
  }

  set(value: Expr): Expr {
    return this.m.local.set(this.index, value);
  }
}

/** One function under construction: parameters are the plan's size symbols (i32 each). */
export class Fn {
  private readonly vars: binaryen.Type[] = [];
  /** Runs first: the size expressions every loop bound depends on. */
  private readonly prologue: Expr[] = [];
  private readonly entryCache = new Map<unknown, Int>();
  private readonly scopes: Expr[][] = [[]];
  private labels = 0;
  /** Vector multiply-adds emitted (simd.ts `fmadd`): a module with none needs no relaxed-SIMD build. */
  multiplyAdds = 0;

  constructor(
    readonly m: Module,
    readonly symbols: readonly string[],
    /** Emit `f32x4.relaxed_madd` for vector multiply-adds (simd.ts `fmadd`); the plain module keeps mul + add. */
    readonly relaxed = false,
  ) {}

  /** The value of a size symbol (a parameter of the function). */
  symbol(name: string): Int {
    const index = this.symbols.indexOf(name);
    if (index < 0) throw new Error(`internal error: size symbol ${name} is not among the plan's symbols`);
    return Int.of(this.m, () => this.m.local.get(index, binaryen.i32), true);
  }

  const(v: number): Int {
    return Int.const(this.m, v);
  }

  private local(type: binaryen.Type): number {
    this.vars.push(type);
    return this.symbols.length + this.vars.length - 1;
  }

  emit(...exprs: Expr[]): void {
    this.scopes[this.scopes.length - 1].push(...exprs);
  }

  /** Computes `v` once here, into a local; the result reads the local. Constants stay constants. */
  let(v: Int): Int {
    if (v.constant !== undefined) return v;
    const index = this.local(binaryen.i32);
    this.emit(this.m.local.set(index, v.expr()));
    return Int.of(this.m, () => this.m.local.get(index, binaryen.i32), v.nonneg);
  }

  /** Computes `v` once at function entry (it may only depend on parameters), shared by key. */
  atEntry(key: unknown, v: () => Int): Int {
    const hit = this.entryCache.get(key);
    if (hit) return hit;
    const value = v();
    let result = value;
    if (value.constant === undefined) {
      const index = this.local(binaryen.i32);
      this.prologue.push(this.m.local.set(index, value.expr()));
      result = Int.of(this.m, () => this.m.local.get(index, binaryen.i32), value.nonneg);
    }
    this.entryCache.set(key, result);
    return result;
  }

  /** An f64 local set to `init` here. */
  f64(init: Expr): F64Var {
    const v = new F64Var(this.m, this.local(binaryen.f64));
    this.emit(v.set(init));
    return v;
  }

  /** A local of any type (v128 for the SIMD kernels), set to `init` here when given. */
  variable(type: binaryen.Type, init?: Expr): Var {
    const v = new Var(this.m, this.local(type), type);
    if (init !== undefined) this.emit(v.set(init));
    return v;
  }

  /** Runs `body` collecting its statements into a block. */
  block(body: () => void): Expr {
    this.scopes.push([]);
    body();
    const stmts = this.scopes.pop() as Expr[];
    if (stmts.length === 0) return this.m.nop();
    return stmts.length === 1 ? stmts[0] : this.m.block(null, stmts);
  }

  /** `for (i = from; i < to; i++) body(i)`; the trip count check is skipped when it is known. */
  for(from: Int | number, to: Int | number, body: (i: Int) => void): void {
    const lo = typeof from === "number" ? this.const(from) : from;
    const hi = typeof to === "number" ? this.const(to) : to;
    if (lo.constant !== undefined && hi.constant !== undefined && hi.constant <= lo.constant) return;
    if (lo.constant !== undefined && hi.constant === lo.constant + 1) {
      // One iteration: no loop, and the body sees a constant index.
      this.emit(this.block(() => body(lo)));
      return;
    }
    const m = this.m;
    const index = this.local(binaryen.i32);
    const i = Int.of(m, () => m.local.get(index, binaryen.i32), lo.nonneg);
    // The bound is read once into a local: it may be an expression of outer indices.
    const end = hi.constant !== undefined ? hi : this.let(hi);
    const id = this.labels++;
    const loop = m.loop(
      `L${id}`,
      m.block(null, [
        this.block(() => body(i)),
        m.local.set(index, m.i32.add(i.expr(), m.i32.const(1))),
        m.br(`L${id}`, i.lt(end)),
      ]),
    );
    this.emit(m.local.set(index, lo.expr()));
    if (lo.constant !== undefined && end.constant !== undefined) this.emit(loop);
    else this.emit(m.block(`B${id}`, [m.br(`B${id}`, m.i32.ge_s(i.expr(), end.expr())), loop]));
  }

  /** Adds the function to the module: (i32 per symbol) -> (). */
  finish(name: string): void {
    const params = binaryen.createType(this.symbols.map(() => binaryen.i32));
    if (this.scopes.length !== 1) throw new Error("internal error: unbalanced scopes");
    const body = this.m.block(null, [...this.prologue, ...this.scopes[0]]);
    this.m.addFunction(name, params, binaryen.none, this.vars, body);
  }
}

/** A row-major f32 tensor at byte address `base`. Loads give f64, stores take f64. */
export class View {
  constructor(
    private readonly fn: Fn,
    readonly base: Int,
    readonly shape: readonly Int[],
    /** Bytes added to `base`, kept out of the pointer arithmetic: it goes in the immediate. */
    readonly offset = 0,
    /** Names the tensor when `base` is not a constant (a buffer shared by input is keyed by it). */
    readonly key?: string,
  ) {}

  /** The (offset immediate, pointer) pair of an element: a constant base goes in the immediate. */
  address(flat: Int): [number, Expr] {
    const bytes = flat.mul(4);
    if (this.base.constant !== undefined) return [this.base.constant + this.offset, bytes.expr()];
    return [this.offset, this.base.add(bytes).expr()];
  }

  /** What identifies the tensor's place: its address, or its key. */
  get place(): string | number | undefined {
    return this.base.constant !== undefined ? this.base.constant + this.offset : this.key;
  }

  load(flat: Int): Expr {
    const m = this.fn.m;
    const [offset, ptr] = this.address(flat);
    return m.f64.promote(m.f32.load(offset, 4, ptr));
  }

  store(flat: Int, value: Expr): Expr {
    const m = this.fn.m;
    const [offset, ptr] = this.address(flat);
    return m.f32.store(offset, 4, ptr, m.f32.demote(value));
  }
}
