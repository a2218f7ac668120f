"""GFLOP/s of the student's hidden-layer matmul shapes against a 2048x2048 matmul.

    python bench/matmul_shapes.py

"hidden": [2048, 400] x [400, 400] (8 tasks x 256 rows through one shared layer);
"per-task": [8, 256, 400] x [8, 400, 400] (8 teachers, one each); "square": 2048^3.
"""
import time

import jax
import jax.numpy as jnp


def seconds(fn, *args, repeats=50):
    fn(*args).block_until_ready()
    t0 = time.perf_counter()
    for _ in range(repeats):
        out = fn(*args)
    out.block_until_ready()
    return (time.perf_counter() - t0) / repeats


def main():
    cases = [
        ("hidden", lambda x, w: x @ w, ((2048, 400), (400, 400)), 2 * 2048 * 400 * 400),
        ("per-task", lambda x, w: jnp.einsum("kni,kio->kno", x, w),
         ((8, 256, 400), (8, 400, 400)), 2 * 2048 * 400 * 400),
        ("square", lambda x, w: x @ w, ((2048, 2048), (2048, 2048)), 2 * 2048 ** 3),
    ]
    for name, fn, shapes, flops in cases:
        args = [jnp.ones(s, jnp.float32) for s in shapes]
        print(f"{name}: {flops / seconds(jax.jit(fn), *args) / 1e9:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
