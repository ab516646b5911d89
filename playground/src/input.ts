// The input the network sees: a canvas to draw a digit on (white on black, as MNIST), an
// uploaded image drawn onto it, or a webcam frame where the browser allows one. The canvas
// is the one source of pixels; runtime/image.ts's fromImage turns it into the network's
// [1, C, H, W] tensor (resized, luma or RGB, values in [0, 1]).

import { fromImage } from "../../runtime/image.js";
import type { TensorData } from "../../runtime/session.js";

export interface InputPanel {
  readonly canvas: HTMLCanvasElement;
  /** The canvas as a tensor of this shape [C, H, W] (batch added), or undefined when it is not an image's shape. */
  tensor(shape: readonly number[]): TensorData | undefined;
}

/** A digit-like stroke, so that the first run shows something: a 7. */
function drawSeven(ctx: CanvasRenderingContext2D, size: number): void {
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = size / 11;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(size * 0.28, size * 0.25);
  ctx.lineTo(size * 0.72, size * 0.25);
  ctx.lineTo(size * 0.45, size * 0.8);
  ctx.stroke();
}

export function createInputPanel(root: HTMLElement, changed: () => void): InputPanel {
  const canvas = root.querySelector<HTMLCanvasElement>("#draw")!;
  const ctx = canvas.getContext("2d", { willReadFrequently: true })!;
  const size = canvas.width;
  const clear = () => {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, size, size);
  };
  clear();
  drawSeven(ctx, size);

  // Drawing with the mouse, a pen or a finger.
  let last: { x: number; y: number } | undefined;
  const at = (e: PointerEvent) => {
    const r = canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * size) / r.width, y: ((e.clientY - r.top) * size) / r.height };
  };
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId);
    last = at(e);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!last) return;
    const p = at(e);
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = size / 11;
    ctx.lineCap = "round";
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    last = p;
  });
  const end = () => {
    if (last) changed();
    last = undefined;
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  root.querySelector<HTMLButtonElement>("#clear")!.addEventListener("click", () => {
    clear();
    changed();
  });

  // An uploaded image, scaled to cover the canvas.
  const drawImage = (img: CanvasImageSource, w: number, h: number) => {
    clear();
    const s = Math.max(size / w, size / h);
    ctx.drawImage(img, (size - w * s) / 2, (size - h * s) / 2, w * s, h * s);
    changed();
  };
  root.querySelector<HTMLInputElement>("#upload")!.addEventListener("change", async (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (!file) return;
    const bitmap = await createImageBitmap(file);
    drawImage(bitmap, bitmap.width, bitmap.height);
    bitmap.close();
  });

  // The webcam: a frame on each click of "snap", where getUserMedia exists and is allowed.
  const camButton = root.querySelector<HTMLButtonElement>("#webcam")!;
  const note = root.querySelector<HTMLElement>("#input-note")!;
  const video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  let stream: MediaStream | undefined;
  camButton.addEventListener("click", async () => {
    try {
      if (!navigator.mediaDevices?.getUserMedia) throw new Error("this browser has no camera access");
      stream ??= await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } });
      video.srcObject = stream;
      await video.play();
      drawImage(video, video.videoWidth, video.videoHeight);
      camButton.textContent = "Snap again";
      note.textContent = "";
    } catch (err) {
      note.textContent = `Webcam unavailable: ${(err as Error).message}`;
    }
  });

  return {
    canvas,
    tensor(shape) {
      const [C, H, W] = shape;
      if (shape.length !== 3 || (C !== 1 && C !== 3)) return undefined;
      return fromImage(canvas, { channels: C, height: H, width: W });
    },
  };
}
