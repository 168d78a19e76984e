"""A very small numpy network: conv2d / dense layers with ReLU, trained with Adam.

Just enough to train the two reference models for real without a deep-learning
framework. Tensors are NCHW float64; conv weights are OIHW and dense weights
[O][I], the layouts docs/model-format.md uses, so quantisation reads them as is.
"""

import numpy as np


def conv_out(size, k, s, p0, p1):
    return (size + p0 + p1 - k) // s + 1


class Conv2d:
    def __init__(self, c, h, w, o, kernel, stride=(1, 1), padding=(0, 0, 0, 0), relu=True, rng=None):
        self.c, self.h, self.w, self.o = c, h, w, o
        self.kernel, self.stride, self.padding, self.relu = tuple(kernel), tuple(stride), tuple(padding), relu
        kh, kw = self.kernel
        top, left, bottom, right = self.padding
        self.oh = conv_out(h, kh, stride[0], top, bottom)
        self.ow = conv_out(w, kw, stride[1], left, right)
        fan_in = c * kh * kw
        self.W = rng.normal(0, np.sqrt(2.0 / fan_in), size=(o, c, kh, kw))
        self.b = np.zeros(o)
        # Gather indices: for each output position, the padded-input cells under the
        # kernel in [C][KH][KW] order (so a row dotted with W[o].ravel() is the conv).
        ph, pw = h + top + bottom, w + left + right
        ci, ki, kj = np.meshgrid(np.arange(c), np.arange(kh), np.arange(kw), indexing="ij")
        rows = []
        for y in range(self.oh):
            for x in range(self.ow):
                rows.append((ci * ph + y * stride[0] + ki) * pw + x * stride[1] + kj)
        self.idx = np.array(rows).reshape(self.oh * self.ow, -1)
        self.padded = (ph, pw)

    @property
    def out_shape(self):
        return (self.o, self.oh, self.ow)

    def params(self):
        return [self.W, self.b]

    def forward(self, x):
        n = x.shape[0]
        top, left, bottom, right = self.padding
        xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right))).reshape(n, -1)
        cols = xp[:, self.idx]  # [n, P, C*KH*KW]
        z = cols @ self.W.reshape(self.o, -1).T + self.b  # [n, P, O]
        z = z.transpose(0, 2, 1).reshape(n, self.o, self.oh, self.ow)
        self.cache = (cols, z, n)
        return np.maximum(z, 0) if self.relu else z

    def backward(self, g):
        cols, z, n = self.cache
        if self.relu:
            g = g * (z > 0)
        g = g.reshape(n, self.o, -1).transpose(0, 2, 1)  # [n, P, O]
        self.dW = np.einsum("npo,npk->ok", g, cols).reshape(self.W.shape)
        self.db = g.sum(axis=(0, 1))
        dcols = g @ self.W.reshape(self.o, -1)  # [n, P, K]
        ph, pw = self.padded
        dxp = np.zeros((n, self.c * ph * pw))
        for p in range(self.idx.shape[0]):
            np.add.at(dxp, (slice(None), self.idx[p]), dcols[:, p])
        top, left, bottom, right = self.padding
        dxp = dxp.reshape(n, self.c, ph, pw)
        return dxp[:, :, top:ph - bottom, left:pw - right]

    def grads(self):
        return [self.dW, self.db]


class Dense:
    def __init__(self, i, o, relu, rng):
        self.i, self.o, self.relu = i, o, relu
        self.W = rng.normal(0, np.sqrt(2.0 / i), size=(o, i))
        self.b = np.zeros(o)

    @property
    def out_shape(self):
        return (self.o, 1, 1)

    def params(self):
        return [self.W, self.b]

    def forward(self, x):
        self.in_shape = x.shape
        x = x.reshape(x.shape[0], -1)  # CHW flattening, as the format specifies
        z = x @ self.W.T + self.b
        self.cache = (x, z)
        return np.maximum(z, 0) if self.relu else z

    def backward(self, g):
        x, z = self.cache
        if self.relu:
            g = g * (z > 0)
        self.dW = g.T @ x
        self.db = g.sum(axis=0)
        return (g @ self.W).reshape(self.in_shape)

    def grads(self):
        return [self.dW, self.db]


class Net:
    def __init__(self, layers):
        self.layers = layers

    def forward(self, x, keep=False):
        acts = []
        for layer in self.layers:
            x = layer.forward(x)
            acts.append(x)
        return acts if keep else x

    def predict(self, x, batch=512):
        return np.concatenate([self.forward(x[i:i + batch]).reshape(min(batch, len(x) - i), -1)
                               for i in range(0, len(x), batch)]).argmax(axis=1)

    def train(self, x, y, epochs, lr, batch, weight_decay, rng, noise=0.0, log=None):
        """Adam on softmax cross-entropy with L2 on the weights (not the biases)."""
        params = [p for layer in self.layers for p in layer.params()]
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        b1, b2, eps, t = 0.9, 0.999, 1e-8, 0
        n = len(x)
        for epoch in range(epochs):
            order = rng.permutation(n)
            total = 0.0
            for s in range(0, n, batch):
                ib = order[s:s + batch]
                xb = x[ib]
                if noise:
                    xb = xb + rng.normal(0, noise, size=xb.shape)  # augmentation
                logits = self.forward(xb).reshape(len(ib), -1)
                logits = logits - logits.max(axis=1, keepdims=True)
                p = np.exp(logits)
                p /= p.sum(axis=1, keepdims=True)
                total += -np.log(p[np.arange(len(ib)), y[ib]] + 1e-12).sum()
                g = p
                g[np.arange(len(ib)), y[ib]] -= 1
                g /= len(ib)
                for layer in reversed(self.layers):
                    g = layer.backward(g)
                grads = [gr for layer in self.layers for gr in layer.grads()]
                t += 1
                for k, (pk, gk) in enumerate(zip(params, grads)):
                    if pk.ndim > 1:
                        gk = gk + weight_decay * pk
                    m[k] = b1 * m[k] + (1 - b1) * gk
                    v[k] = b2 * v[k] + (1 - b2) * gk * gk
                    pk -= lr * (m[k] / (1 - b1**t)) / (np.sqrt(v[k] / (1 - b2**t)) + eps)
            if log and (epoch + 1) % log == 0:
                print(f"    epoch {epoch + 1:5d}  loss {total / n:.4f}  train acc {np.mean(self.predict(x) == y):.4f}")
