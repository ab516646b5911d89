import { describe, expect, it } from "vitest";
import { NAMED_KERNELS, namedKernel } from "../../compiler/tensors/kernels.js";

function kernel(name: string, args: Record<string, number>, size: number[]): number[] {
  const r = namedKernel(name, args, size);
  if (!r.ok) throw new Error(r.error);
  return Array.from(r.value);
}

function errorOf(name: string, args: Record<string, number>, size: number[]): string {
  const r = namedKernel(name, args, size);
  if (r.ok) throw new Error("expected an error");
  return r.error;
}

describe("named kernels", () => {
  it("lists the known kernels", () => {
    expect([...NAMED_KERNELS].sort()).toEqual(["box", "gabor", "gaussian", "laplacian", "sobel_x", "sobel_y"]);
  });

  it("sobel_x responds to horizontal change (cross-correlation), sobel_y is its transpose", () => {
    const sx = kernel("sobel_x", {}, [3, 3]);
    expect(sx).toEqual([-1, 0, 1, -2, 0, 2, -1, 0, 1]);
    const sy = kernel("sobel_y", {}, [3, 3]);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) expect(sy[r * 3 + c]).toBe(sx[c * 3 + r]);
    // On a ramp brightening to the right: positive for sobel_x, zero for sobel_y.
    const ramp = [0, 1, 2, 0, 1, 2, 0, 1, 2];
    const dot = (k: number[]) => k.reduce((s, v, i) => s + v * ramp[i], 0);
    expect(dot(sx)).toBe(8);
    expect(dot(sy)).toBe(0);
    expect(kernel("laplacian", {}, [3, 3])).toEqual([0, 1, 0, 1, -4, 1, 0, 1, 0]);
  });

  it("sobel and laplacian reject other sizes", () => {
    expect(errorOf("sobel_x", {}, [5, 5])).toBe("kernel 'sobel_x' is 3x3, but this layer's kernel is 5x5");
    expect(errorOf("sobel_y", {}, [3])).toBe("kernel 'sobel_y' is 3x3, but this layer's kernel is 3 (1-D)");
    expect(errorOf("laplacian", {}, [3, 3, 3])).toBe("kernel 'laplacian' is 3x3, but this layer's kernel is 3x3x3");
  });

  it("gaussian sums to 1, peaks at the centre and is symmetric, in 1-D, 2-D and 3-D", () => {
    for (const size of [[7], [5, 4], [3, 5, 3]]) {
      const g = kernel("gaussian", { sigma: 1.2 }, size);
      expect(g.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      // Row-major symmetry: reversing every axis at once reverses the flat array.
      const rev = [...g].reverse();
      g.forEach((v, i) => expect(v).toBeCloseTo(rev[i], 15));
    }
    const g = kernel("gaussian", { sigma: 1 }, [5, 5]);
    expect(Math.max(...g)).toBe(g[12]);
    expect(g[11]).toBeCloseTo(g[12] * Math.exp(-0.5), 15);
    // Separable: row r, column c is the product of the 1-D kernel's entries.
    const g1 = kernel("gaussian", { sigma: 1 }, [5]);
    for (let r = 0; r < 5; r++) for (let c = 0; c < 5; c++) expect(g[r * 5 + c]).toBeCloseTo(g1[r] * g1[c], 15);
  });

  it("box is the mean filter", () => {
    expect(kernel("box", {}, [2, 2])).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(kernel("box", {}, [4])).toEqual([0.25, 0.25, 0.25, 0.25]);
  });

  it("gabor with theta = 0 and psi = 0 is symmetric about the vertical axis, and oscillates along x", () => {
    const g = kernel("gabor", { sigma: 2, lambda: 4 }, [7, 7]);
    for (let r = 0; r < 7; r++) for (let c = 0; c < 7; c++) expect(g[r * 7 + c]).toBeCloseTo(g[r * 7 + (6 - c)], 14);
    expect(g[3 * 7 + 3]).toBe(1);
    expect(g[3 * 7 + 5]).toBeCloseTo(-Math.exp(-4 / 8), 14); // x = 2: half a wavelength
    expect(g[1 * 7 + 3]).toBeCloseTo(Math.exp(-4 / 8), 14); // y = -2: no oscillation along y
    // theta = pi/2 turns it: now the oscillation runs along y.
    const t = kernel("gabor", { sigma: 2, lambda: 4, theta: Math.PI / 2 }, [7, 7]);
    expect(t[5 * 7 + 3]).toBeCloseTo(-Math.exp(-4 / 8), 14);
    expect(t[3 * 7 + 5]).toBeCloseTo(Math.exp(-4 / 8), 14);
    // psi = pi/2 makes it odd about the vertical axis.
    const o = kernel("gabor", { sigma: 2, lambda: 4, psi: Math.PI / 2 }, [5, 5]);
    for (let r = 0; r < 5; r++) for (let c = 0; c < 5; c++) expect(o[r * 5 + c] + o[r * 5 + (4 - c)]).toBeCloseTo(0, 14);
  });

  it("reports unknown names, unknown, missing and bad arguments, and wrong ranks", () => {
    expect(errorOf("sobel", {}, [3, 3])).toBe("unknown kernel 'sobel' (known: sobel_x, sobel_y, laplacian, gaussian, box, gabor)");
    expect(errorOf("toString", {}, [3, 3])).toBe("unknown kernel 'toString' (known: sobel_x, sobel_y, laplacian, gaussian, box, gabor)");
    expect(errorOf("gaussian", {}, [3, 3])).toBe("kernel 'gaussian' needs the argument 'sigma'");
    expect(errorOf("gaussian", { sigma: 1, sgima: 2 }, [3, 3])).toBe("kernel 'gaussian' has no argument 'sgima' (it takes sigma)");
    expect(errorOf("gaussian", { sigma: 0 }, [3, 3])).toBe("kernel 'gaussian': sigma must be positive, but got 0");
    expect(errorOf("gaussian", { sigma: Infinity }, [3, 3])).toBe("kernel 'gaussian': sigma must be a finite number, but got Infinity");
    expect(errorOf("gaussian", { sigma: 1 }, [3, 3, 3, 3])).toBe("kernel 'gaussian' is 1-D, 2-D or 3-D, but this layer's kernel is 3x3x3x3");
    expect(errorOf("sobel_x", { sigma: 1 }, [3, 3])).toBe("kernel 'sobel_x' takes no arguments, but got 'sigma'");
    expect(errorOf("gabor", { sigma: 1 }, [5, 5])).toBe("kernel 'gabor' needs the argument 'lambda'");
    expect(errorOf("gabor", { sigma: 1, lambda: 3 }, [5, 5, 5])).toBe("kernel 'gabor' is 2-D, but this layer's kernel is 5x5x5");
    expect(errorOf("box", {}, [0, 3])).toBe("kernel 'box' needs a kernel size of positive integers, but got [0, 3]");
  });
});
