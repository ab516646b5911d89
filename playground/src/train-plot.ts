// The train button's live plot: each step's loss (blue, scaled to the largest so far) and
// batch accuracy (green, 0 to 100%) against the step, redrawn after every step.

export interface TrainPoint {
  readonly step: number;
  readonly loss: number;
  readonly accuracy?: number;
}

export function drawTraining(canvas: HTMLCanvasElement, points: readonly TrainPoint[]): void {
  const ctx = canvas.getContext("2d")!;
  const { width: w, height: h } = canvas;
  ctx.clearRect(0, 0, w, h);
  if (points.length === 0) return;
  const pad = 6;
  const steps = Math.max(points[points.length - 1].step, 10);
  const maxLoss = Math.max(...points.map((p) => p.loss), 1e-9);
  const line = (colour: string, y: (p: TrainPoint) => number | undefined) => {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    let started = false;
    for (const p of points) {
      const v = y(p);
      if (v === undefined || !Number.isFinite(v)) continue;
      const x = pad + ((p.step - 1) / Math.max(1, steps - 1)) * (w - 2 * pad);
      const yy = h - pad - v * (h - 2 * pad);
      if (started) ctx.lineTo(x, yy);
      else ctx.moveTo(x, yy);
      started = true;
    }
    ctx.stroke();
  };
  line("#0969da", (p) => p.loss / maxLoss);
  line("#1a7f37", (p) => p.accuracy);
  ctx.fillStyle = "#57606a";
  ctx.font = "11px sans-serif";
  ctx.fillText(`loss (max ${maxLoss.toFixed(2)})`, pad + 2, 14);
  ctx.fillStyle = "#1a7f37";
  ctx.fillText("batch accuracy", pad + 2, 28);
}
