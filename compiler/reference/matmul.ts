// matmul: per sample, a [B?, M, K] times b [B?, K, N], the plain triple loop in float64
// for each of the B (or one) products.

import { type Tensor, tensor } from "./tensor.js";

export function matmul(a: Tensor, b: Tensor): Tensor {
  const r = a.shape.length;
  const B = r === 3 ? a.shape[0] : 1;
  const [M, K] = a.shape.slice(r - 2);
  const N = b.shape[r - 1];
  const y = tensor([...a.shape.slice(0, r - 1), N]);
  for (let q = 0; q < B; q++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += a.data[(q * M + i) * K + k] * b.data[(q * K + k) * N + j];
        y.data[(q * M + i) * N + j] = acc;
      }
    }
  }
  return y;
}
