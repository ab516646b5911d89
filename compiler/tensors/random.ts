// A seeded pseudo-random generator whose stream is the same on every platform and Node
// version, so that `init: he(seed: 1)` (and the default weights seeded from a layer's name)
// give the same network everywhere. The generator is xoshiro128** 1.1 (Blackman and Vigna,
// https://prng.di.unimi.it/xoshiro128starstar.c): 128 bits of state, 32-bit outputs. Its state
// is filled by four outputs of splitmix32 (state += 0x9e3779b9; then z ^= z >>> 16,
// z *= 0x21f0aaad, z ^= z >>> 15, z *= 0x735a2d97, z ^= z >>> 15), the usual way to seed it
// from one small integer. Everything is 32-bit integer arithmetic (Math.imul, >>>), which
// JavaScript defines exactly. `normal()` is Box-Muller and uses Math.log, Math.sqrt, Math.cos
// and Math.sin: sqrt is exact by IEEE 754, and V8 computes the others with its port of fdlibm
// on every platform; callers store the results as float32, which hides any last-bit
// difference anyway.

export class Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** Box-Muller makes normals in pairs; the second waits here for the next call. */
  private spare: number | undefined;

  /**
   * Any number is a seed. Integers up to 2^53 in magnitude use their two 32-bit halves
   * (so seeds below 2^32 are simply themselves); anything else uses its float64 bits.
   */
  constructor(seed: number) {
    let lo: number;
    let hi: number;
    if (Number.isSafeInteger(seed)) {
      lo = seed >>> 0; // seed mod 2^32, also for negatives
      hi = Math.floor(seed / 4294967296) >>> 0;
    } else {
      const v = new DataView(new ArrayBuffer(8));
      v.setFloat64(0, seed, true);
      lo = v.getUint32(0, true);
      hi = v.getUint32(4, true);
    }
    let state = (lo ^ Math.imul(hi, 0x85ebca6b)) >>> 0;
    const splitmix32 = (): number => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.s0 = splitmix32();
    this.s1 = splitmix32();
    this.s2 = splitmix32();
    this.s3 = splitmix32();
    // An all-zero state would only ever give zeros; splitmix32 makes it (practically) impossible, but be sure.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
    this.spare = undefined;
  }

  /** The next 32-bit output of xoshiro128**, as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits (two outputs: the top 27 and 26 bits). */
  uniform(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Standard normal (mean 0, std 1) by Box-Muller; each pair of uniforms gives two values. */
  normal(): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return z;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: the logarithm stays finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const angle = 2 * Math.PI * u2;
    this.spare = r * Math.sin(angle);
    return r * Math.cos(angle);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
